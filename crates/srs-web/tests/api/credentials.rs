//! Credentials cached by each instance still end at once everywhere: two
//! instances on one database, a change made through one, the very next
//! request on the other. The login throttle and idempotency keys are shared
//! the same way.

use crate::both_engines;
use crate::helpers::{
    anonymous, sign_in, sign_out, spawn_sibling, status_of, try_sign_in, valid_student, Engine,
    PASSWORD,
};
use serde_json::Value;
use sqlx::Connection;
use srs_domain::Role;
use srs_store::Actor;

/// Runs `sql` on the app's database behind its back.
async fn behind_the_back(app: &crate::helpers::TestApp, sql: &str) {
    match app.engine {
        Engine::Sqlite => {
            // Marked as srs marks its own writes, or the instances' caches
            // would not look (see srs_store::OutsideWrite).
            let path = app.database_url.trim_start_matches("sqlite:");
            let _marked =
                srs_store::OutsideWrite::begin(std::path::Path::new(path)).expect("marks");
            let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("db");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
        Engine::MariaDb => {
            let mut c = sqlx::MySqlConnection::connect(&app.database_url)
                .await
                .expect("db");
            sqlx::query(sql).execute(&mut c).await.expect(sql);
        }
    }
}

both_engines!(
    revocation_disabling_and_sign_out_take_effect_on_the_next_request_on_another_instance,
    |app| {
        let other = spawn_sibling(&app).await;
        let registrar = app.as_user("reggie", Role::Registrar).await;
        // Both instances have seen (and cached) the token.
        for base in [&app, &other] {
            assert_eq!(
                status_of(&registrar, base.url("/api/v1/students")).await,
                200
            );
        }
        let token = app
            .store
            .list_tokens(None)
            .await
            .expect("tokens")
            .into_iter()
            .find(|t| t.username.as_str() == "reggie")
            .expect("reggie's token");
        app.store
            .revoke_token(token.id, &Actor::system("tests"))
            .await
            .expect("revoke");
        assert_eq!(
            status_of(&registrar, other.url("/api/v1/students")).await,
            401,
            "revoked on one instance, refused at once on the other"
        );

        let viewer = app.as_user("vera", Role::Viewer).await;
        assert_eq!(status_of(&viewer, other.url("/api/v1/students")).await, 200);
        let vera = srs_web::auth::service::find_user(&app.store, "vera")
            .await
            .expect("vera");
        app.store
            .update_user(vera.id, None, Some(true), None, &Actor::system("tests"))
            .await
            .expect("disable");
        assert_eq!(
            status_of(&viewer, other.url("/api/v1/students")).await,
            401,
            "disabled on one instance, refused at once on the other"
        );

        // A page session: signed in on one, signed out there, gone on both.
        app.as_user("sam", Role::Viewer).await;
        let browser = anonymous();
        sign_in(&browser, &app.address, "sam", PASSWORD).await;
        for base in [&app, &other] {
            assert_eq!(status_of(&browser, base.url("/students")).await, 200);
        }
        sign_out(&browser, &app.address).await;
        assert_eq!(
            status_of(&browser, other.url("/students")).await,
            303,
            "signed out on one instance, signed out on the other"
        );

        // A role changed on one instance counts at once on the other.
        let promoted = app.as_user("rita", Role::Viewer).await;
        let body = valid_student("Role Change");
        let refused = promoted
            .post(other.url("/api/v1/students"))
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(refused.status(), 403);
        let rita = srs_web::auth::service::find_user(&app.store, "rita")
            .await
            .expect("rita");
        app.store
            .update_user(
                rita.id,
                Some(Role::Registrar),
                None,
                None,
                &Actor::system("tests"),
            )
            .await
            .expect("promote");
        let allowed = promoted
            .post(other.url("/api/v1/students"))
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_eq!(allowed.status(), 201, "the new role counts at once");
    }
);

both_engines!(sign_in_failures_count_across_instances, |app| {
    let other = spawn_sibling(&app).await;
    app.as_user("vera", Role::Viewer).await;
    let client = anonymous();
    for attempt in 0..10 {
        let base = if attempt % 2 == 0 { &app } else { &other };
        let r = try_sign_in(&client, &base.address, "vera", "wrong password!").await;
        assert_eq!(r.status(), 401, "attempt {attempt}");
    }
    for base in [&app, &other] {
        let r = try_sign_in(&client, &base.address, "vera", PASSWORD).await;
        assert_eq!(
            r.status(),
            429,
            "ten failures spread over two instances lock the account on both"
        );
    }
});

/// A create under `key`: its status and body.
async fn create_with_key(
    app: &crate::helpers::TestApp,
    key: &str,
    name: &str,
) -> (reqwest::StatusCode, Value) {
    let answer = app
        .client
        .post(app.url("/api/v1/students"))
        .header("idempotency-key", key)
        .json(&valid_student(name))
        .send()
        .await
        .expect("sent");
    (answer.status(), answer.json().await.expect("json"))
}

/// Makes every stored idempotency key older than its retention (24 h).
async fn age_idempotency_keys(app: &crate::helpers::TestApp) {
    behind_the_back(
        app,
        "UPDATE idempotency_keys SET created_at = '2001-01-01 00:00:00'",
    )
    .await;
}

both_engines!(
    idempotency_keys_replay_within_their_retention_and_are_gone_after,
    |app| {
        let (status, first) = create_with_key(&app, "retention-1", "Kept Key").await;
        assert_eq!(status, 201);
        let (status, replay) = create_with_key(&app, "retention-1", "Kept Key").await;
        assert_eq!(status, 201);
        assert_eq!(replay["id"], first["id"]);

        // Past the retention the key is forgotten: reusable, and purged.
        age_idempotency_keys(&app).await;
        let (status, reused) = create_with_key(&app, "retention-1", "Another Student").await;
        assert_eq!(status, 201, "a new request, not a mismatch");
        assert_ne!(reused["id"], first["id"]);
        age_idempotency_keys(&app).await;
        assert_eq!(app.store.purge_idempotency_keys().await.expect("purge"), 1);
        assert_eq!(app.store.purge_idempotency_keys().await.expect("purge"), 0);
    }
);

both_engines!(
    concurrent_creates_with_new_idempotency_keys_all_succeed,
    |app| {
        // On MariaDB a look-up of a key that is not there locks the gap it
        // would go in; creates that did so before inserting deadlocked,
        // most often on an empty table (500 for the losers).
        let names = [
            "Ann", "Bea", "Cat", "Dot", "Eve", "Fay", "Gil", "Hal", "Ida", "Jon", "Kay", "Lee",
            "Max", "Ned", "Ola", "Pam",
        ];
        let answers = futures::future::join_all(names.iter().map(|n| {
            let app = &app;
            async move {
                create_with_key(app, &format!("concurrent-{n}"), &format!("{n} Concurrent")).await
            }
        }))
        .await;
        for (status, body) in &answers {
            assert_eq!(*status, 201, "{body}");
        }
    }
);
