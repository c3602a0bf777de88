use crate::both_engines;
use crate::helpers::{
    anonymous, csrf_of, sign_in, status_of, try_sign_in, valid_student, Engine, PASSWORD,
};
use reqwest::{Client, Method};
use serde_json::{json, Value};
use sqlx::Connection;
use srs_domain::Role;

/// Who may call what: (method, path, body, least role).
fn api_routes(student: i64, department: i64) -> Vec<(Method, String, Option<Value>, Role)> {
    let s = format!("/api/v1/students/{student}");
    let d = format!("/api/v1/departments/{department}");
    vec![
        (Method::GET, "/api/v1/students".into(), None, Role::Viewer),
        (Method::GET, s.clone(), None, Role::Viewer),
        (Method::GET, format!("{s}/history"), None, Role::Viewer),
        (
            Method::GET,
            "/api/v1/departments".into(),
            None,
            Role::Viewer,
        ),
        (Method::GET, d.clone(), None, Role::Viewer),
        (
            Method::GET,
            "/api/v1/students/import-template.csv".into(),
            None,
            Role::Viewer,
        ),
        (
            Method::GET,
            "/api/v1/students/export.csv".into(),
            None,
            Role::Registrar,
        ),
        (
            Method::POST,
            "/api/v1/students".into(),
            Some(valid_student("Role Probe")),
            Role::Registrar,
        ),
        (
            Method::PATCH,
            s.clone(),
            Some(json!({"version": 999, "status": "active"})),
            Role::Registrar,
        ),
        (Method::POST, format!("{s}/restore"), None, Role::Registrar),
        (
            Method::DELETE,
            "/api/v1/students/999999".into(),
            None,
            Role::Registrar,
        ),
        (
            Method::POST,
            "/api/v1/departments".into(),
            Some(json!({"name": "Probe Department"})),
            Role::Admin,
        ),
        (
            Method::PATCH,
            d.clone(),
            Some(json!({"retired": false})),
            Role::Admin,
        ),
        (
            Method::DELETE,
            "/api/v1/departments/999999".into(),
            None,
            Role::Admin,
        ),
        (Method::GET, "/api/v1/audit".into(), None, Role::Admin),
    ]
}

async fn call(
    client: &Client,
    base: &str,
    method: &Method,
    path: &str,
    body: &Option<Value>,
) -> u16 {
    let mut request = client.request(method.clone(), format!("{base}{path}"));
    if let Some(b) = body {
        request = request.json(b);
    }
    request.send().await.expect("sent").status().as_u16()
}

async fn snapshot(app: &crate::helpers::TestApp) -> (Value, Value) {
    let students: Value = app.get_json("/api/v1/students?per_page=200").await;
    let departments: Value = app.get_json("/api/v1/departments").await;
    (students["items"].clone(), departments)
}

both_engines!(each_role_gets_exactly_the_api_routes_it_is_allowed, |app| {
    let s = app.create_student("Existing Student", None).await;
    let departments: Value = app.get_json("/api/v1/departments").await;
    let routes = api_routes(
        s["id"].as_i64().expect("id"),
        departments[0]["id"].as_i64().expect("id"),
    );
    let viewer = app.as_user("vera", Role::Viewer).await;
    let registrar = app.as_user("reggie", Role::Registrar).await;
    let before = snapshot(&app).await;
    for (method, path, body, _) in &routes {
        let status = call(&anonymous(), &app.address, method, path, body).await;
        assert_eq!(status, 401, "anonymous {method} {path}");
    }
    for (client, role) in [(&viewer, Role::Viewer), (&registrar, Role::Registrar)] {
        for (method, path, body, needed) in &routes {
            if !role.allows(*needed) {
                let status = call(client, &app.address, method, path, body).await;
                assert_eq!(status, 403, "{role} {method} {path}");
            }
        }
    }
    assert_eq!(
        snapshot(&app).await,
        before,
        "refused calls changed nothing"
    );
    for (client, role) in [
        (&viewer, Role::Viewer),
        (&registrar, Role::Registrar),
        (&app.client, Role::Admin),
    ] {
        for (method, path, body, needed) in &routes {
            if role.allows(*needed) {
                let status = call(client, &app.address, method, path, body).await;
                assert!(
                    ![401, 403].contains(&status) && status < 500,
                    "{role} {method} {path}: {status}"
                );
            }
        }
    }
});

both_engines!(each_role_gets_exactly_the_pages_it_is_allowed, |app| {
    let s = app.create_student("Page Probe", None).await;
    let id = s["id"].as_i64().expect("id");
    let pages = [
        ("/students".to_owned(), Role::Viewer),
        (format!("/students/{id}"), Role::Viewer),
        ("/departments".to_owned(), Role::Viewer),
        ("/students/new".to_owned(), Role::Registrar),
        (format!("/students/{id}/edit"), Role::Registrar),
        (format!("/students/{id}/delete"), Role::Registrar),
        ("/import".to_owned(), Role::Registrar),
        ("/admin/users".to_owned(), Role::Admin),
        ("/admin/tokens".to_owned(), Role::Admin),
        ("/admin/dr".to_owned(), Role::Admin),
    ];
    let viewer = app.as_user("vera", Role::Viewer).await;
    let registrar = app.as_user("reggie", Role::Registrar).await;
    let nobody = anonymous();
    for (path, needed) in &pages {
        let r = nobody.get(app.url(path)).send().await.expect("sent");
        assert_eq!(r.status(), 303, "anonymous {path} goes to sign-in");
        assert!(r.headers()["location"]
            .to_str()
            .unwrap_or_default()
            .starts_with("/login?next="));
        for (client, role) in [
            (&viewer, Role::Viewer),
            (&registrar, Role::Registrar),
            (&app.client, Role::Admin),
        ] {
            let status = status_of(client, app.url(path)).await.as_u16();
            let expected = if role.allows(*needed) { 200 } else { 403 };
            assert_eq!(status, expected, "{role} {path}");
        }
    }
    let html = viewer
        .get(app.url(&format!("/students/{id}")))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(
        !html.contains("id=\"edit-link\"") && !html.contains("id=\"delete-link\""),
        "viewers see no edit or delete"
    );
    let list = viewer
        .get(app.url("/students"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(!list.contains("/edit\"") && !list.contains("Add student</a>"));
    let token = csrf_of(&viewer, &app.url("/students")).await;
    let r = viewer
        .post(app.url(&format!("/students/{id}/delete")))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 403, "a viewer's forged form is refused");
    assert_eq!(
        app.get(&format!("/api/v1/students/{id}")).await.status(),
        200,
        "and nothing changed"
    );
});

both_engines!(sign_in_rotates_the_session_and_sign_out_ends_it, |app| {
    app.as_user("vera", Role::Viewer).await;
    let client = anonymous();
    // A session id planted before sign-in must not become the session.
    let planted = format!("{}/login", app.address);
    let _ = client
        .get(&planted)
        .header("cookie", "srs_session=planted-by-attacker")
        .send()
        .await;
    sign_in(&client, &app.address, "vera", PASSWORD).await;
    let fixed = Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    let r = fixed
        .get(app.url("/students"))
        .header("cookie", "srs_session=planted-by-attacker")
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303, "the planted id is not signed in");
    assert_eq!(status_of(&client, app.url("/students")).await, 200);

    let r = crate::helpers::sign_out(&client, &app.address).await;
    assert_eq!(r.status(), 303);
    assert_eq!(
        status_of(&client, app.url("/students")).await,
        303,
        "signed out"
    );
});

both_engines!(
    a_stolen_session_cookie_stops_working_after_sign_out,
    |app| {
        app.as_user("vera", Role::Viewer).await;
        let client = anonymous();
        let response = try_sign_in(&client, &app.address, "vera", PASSWORD).await;
        let cookie = response
            .headers()
            .get_all("set-cookie")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find(|c| c.starts_with("srs_session="))
            .expect("session cookie")
            .to_owned();
        assert!(
            cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
            "cookie flags: {cookie}"
        );
        let value = cookie.split(';').next().expect("value").to_owned();
        let thief = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        assert_eq!(
            thief
                .get(app.url("/students"))
                .header("cookie", &value)
                .send()
                .await
                .expect("sent")
                .status(),
            200
        );
        crate::helpers::sign_out(&client, &app.address).await;
        assert_eq!(
            thief
                .get(app.url("/students"))
                .header("cookie", &value)
                .send()
                .await
                .expect("sent")
                .status(),
            303
        );
    }
);

both_engines!(idle_sessions_expire, |app| {
    let client = app.as_user("vera", Role::Viewer).await;
    let no_token = anonymous();
    sign_in(&no_token, &app.address, "vera", PASSWORD).await;
    assert_eq!(status_of(&no_token, app.url("/students")).await, 200);
    let stale = "UPDATE sessions SET last_seen_at = '2001-01-01 00:00:00'";
    // A change made behind srs's back bumps the credential generation, as
    // srs's own changes do, or cached sessions would not see it.
    const BUMP: &str = "UPDATE auth_changes SET n = n + 1 WHERE id = 1";
    match app.engine {
        Engine::Sqlite => {
            let path = app.database_url.trim_start_matches("sqlite:");
            let _marked =
                srs_store::OutsideWrite::begin(std::path::Path::new(path)).expect("marks");
            let mut c = sqlx::SqliteConnection::connect(&app.database_url)
                .await
                .expect("db");
            sqlx::query(stale)
                .execute(&mut c)
                .await
                .expect("age sessions");
            sqlx::query(BUMP).execute(&mut c).await.expect("bump");
        }
        Engine::MariaDb => {
            let mut c = sqlx::MySqlConnection::connect(&app.database_url)
                .await
                .expect("db");
            sqlx::query(stale)
                .execute(&mut c)
                .await
                .expect("age sessions");
            sqlx::query(BUMP).execute(&mut c).await.expect("bump");
        }
    }
    assert_eq!(
        status_of(&no_token, app.url("/students")).await,
        303,
        "idle session ended"
    );
    drop(client);
});

both_engines!(revoked_tokens_and_disabled_accounts_stop_at_once, |app| {
    let registrar = app.as_user("reggie", Role::Registrar).await;
    assert_eq!(
        status_of(&registrar, app.url("/api/v1/students")).await,
        200
    );
    let tokens = app.store.list_tokens(None).await.expect("tokens");
    let reggie_token = tokens
        .iter()
        .find(|t| t.username.as_str() == "reggie")
        .expect("token");
    app.store
        .revoke_token(reggie_token.id, &srs_store::Actor::system("tests"))
        .await
        .expect("revoke");
    let r = registrar
        .post(app.url("/api/v1/students"))
        .json(&valid_student("After Revoke"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 401, "revoked token refused at once");
    assert!(r.headers().get("www-authenticate").is_some());

    let viewer = app.as_user("vera", Role::Viewer).await;
    let vera = srs_web::auth::service::find_user(&app.store, "vera")
        .await
        .expect("vera");
    app.store
        .update_user(
            vera.id,
            None,
            Some(true),
            None,
            &srs_store::Actor::system("tests"),
        )
        .await
        .expect("disable");
    assert_eq!(
        status_of(&viewer, app.url("/api/v1/students")).await,
        401,
        "disabled account's token refused"
    );
    let anon = anonymous();
    let r = try_sign_in(&anon, &app.address, "vera", PASSWORD).await;
    assert_eq!(r.status(), 401, "disabled account cannot sign in");
    let bogus = anonymous()
        .get(app.url("/api/v1/students"))
        .bearer_auth("srs_not-a-real-token")
        .send()
        .await
        .expect("sent");
    assert_eq!(bogus.status(), 401);
});

both_engines!(session_cookies_do_not_authorise_api_writes, |app| {
    app.as_user("reggie", Role::Registrar).await;
    let browser = anonymous();
    sign_in(&browser, &app.address, "reggie", PASSWORD).await;
    assert_eq!(
        status_of(&browser, app.url("/api/v1/students")).await,
        200,
        "reads work"
    );
    let r = browser
        .post(app.url("/api/v1/students"))
        .json(&valid_student("Cross Site"))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 401, "writes need a bearer token");
});

both_engines!(every_change_is_in_the_history_with_its_author, |app| {
    let registrar = app.as_user("reggie", Role::Registrar).await;
    let created: Value = registrar
        .post(app.url("/api/v1/students"))
        .json(&valid_student("Ada Lovelace"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let path = format!("/api/v1/students/{}", created["id"]);
    let r = registrar
        .patch(app.url(&path))
        .json(&json!({"version": 1, "status": "on_leave", "full_name": "Ada King"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 200);
    assert_eq!(app.delete(&path).await.status(), 204);
    assert_eq!(
        app.client
            .post(app.url(&format!("{path}/restore")))
            .send()
            .await
            .expect("sent")
            .status(),
        200
    );

    let history: Vec<Value> = app.get_json(&format!("{path}/history")).await;
    let actions: Vec<&str> = history
        .iter()
        .filter_map(|h| h["action"].as_str())
        .collect();
    assert_eq!(
        actions,
        vec![
            "student.restore",
            "student.delete",
            "student.update",
            "student.create"
        ]
    );
    assert!(history[3]["actor"]
        .as_str()
        .unwrap_or_default()
        .starts_with("reggie"));
    assert!(history[0]["actor"]
        .as_str()
        .unwrap_or_default()
        .starts_with("admin"));
    let update = &history[2];
    let fields: Vec<&str> = update["changes"]
        .as_array()
        .expect("changes")
        .iter()
        .filter_map(|c| c["field"].as_str())
        .collect();
    assert_eq!(fields, vec!["full_name", "status"]);
    assert_eq!(update["changes"][0]["before"], "Ada Lovelace");
    assert_eq!(update["changes"][0]["after"], "Ada King");
    assert!(
        update["request_id"].as_str().is_some_and(|r| !r.is_empty()),
        "request id recorded"
    );
    assert!(
        update["client_addr"].as_str().is_some(),
        "client address recorded"
    );

    let html = app
        .get(&format!("/students/{}", created["id"]))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("id=\"history\"")
            && html.contains("reggie")
            && html.contains("Ada Lovelace → Ada King")
    );

    let audit: Value = app
        .get_json("/api/v1/audit?actor=reggie&action=student.update")
        .await;
    assert_eq!(audit["total"], 1);
    let all: Value = app.get_json("/api/v1/audit?entity=user").await;
    assert!(
        all["total"].as_i64().unwrap_or_default() >= 2,
        "account creations are audited too"
    );
    assert_eq!(app.get("/api/v1/audit?since=yesterday").await.status(), 400);
    for method in [Method::DELETE, Method::PUT, Method::PATCH] {
        let status = app
            .client
            .request(method.clone(), app.url("/api/v1/audit"))
            .send()
            .await
            .expect("sent")
            .status();
        assert_eq!(status, 405, "{method} on the audit trail");
    }
});

/// A clock the test moves by hand.
struct FakeClock(std::sync::atomic::AtomicI64);

impl srs_web::auth::Clock for FakeClock {
    fn now(&self) -> chrono::DateTime<chrono::Utc> {
        chrono::DateTime::from_timestamp(self.0.load(std::sync::atomic::Ordering::SeqCst), 0)
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn one_account_s_typos_lock_that_account_only_until_unlocked_or_the_window_passes() {
    let clock = std::sync::Arc::new(FakeClock(std::sync::atomic::AtomicI64::new(1_800_000_000)));
    let app = crate::helpers::spawn_app_with_clock(clock.clone()).await;
    app.as_user("vera", Role::Viewer).await;
    app.as_user("walt", Role::Viewer).await;
    let client = anonymous();
    let mistype = |who: &'static str| {
        let (client, address) = (client.clone(), app.address.clone());
        async move {
            for attempt in 0..10 {
                let r = try_sign_in(&client, &address, who, "wrong password!").await;
                assert_eq!(r.status(), 401, "{who}: attempt {attempt}");
            }
        }
    };
    mistype("vera").await;
    let r = try_sign_in(&client, &app.address, "vera", PASSWORD).await;
    assert_eq!(r.status(), 429, "even the right password waits");
    assert!(r
        .text()
        .await
        .expect("html")
        .contains("too many failed sign-ins"));
    // A colleague behind the same address signs in as ever.
    let r = try_sign_in(&anonymous(), &app.address, "walt", PASSWORD).await;
    assert_eq!(r.status(), 303, "another account from the same address");
    let metrics = app.get("/metrics").await.text().await.expect("metrics");
    assert!(
        metrics.contains("srs_login_failures_total"),
        "counted in /metrics"
    );

    // The admin sees the lock and lifts it; the audit says who did.
    let accounts = app.get("/admin/users").await.text().await.expect("html");
    assert!(accounts.contains("Locked"), "{accounts}");
    assert!(accounts.contains("10 failed sign-ins"), "{accounts}");
    let vera = srs_web::auth::service::find_user(&app.store, "vera")
        .await
        .expect("vera");
    let token = csrf_of(&app.client, &app.url("/admin/users")).await;
    let unlocked = app
        .client
        .post(app.url(&format!("/admin/users/{}", vera.id)))
        .form(&[("csrf_token", token.as_str()), ("action", "unlock")])
        .send()
        .await
        .expect("sent");
    assert!(unlocked.status().is_redirection(), "{}", unlocked.status());
    let accounts = app.get("/admin/users").await.text().await.expect("html");
    assert!(!accounts.contains("Locked"), "{accounts}");
    let r = try_sign_in(&anonymous(), &app.address, "vera", PASSWORD).await;
    assert_eq!(r.status(), 303, "unlocked");
    let unlocks = app
        .store
        .audit_entries(
            &srs_store::AuditFilter {
                action: Some("user.unlock".into()),
                ..srs_store::AuditFilter::default()
            },
            srs_store::PageRequest {
                page: 1,
                per_page: 10,
            },
        )
        .await
        .expect("audit")
        .items;
    assert_eq!(unlocks.len(), 1, "{unlocks:?}");
    assert_eq!(unlocks[0].entity_id, Some(vera.id.get()));
    assert!(
        unlocks[0].actor.starts_with("admin"),
        "{}",
        unlocks[0].actor
    );

    // A password reset unlocks too.
    mistype("vera").await;
    let token = csrf_of(&app.client, &app.url("/admin/users")).await;
    let reset = app
        .client
        .post(app.url(&format!("/admin/users/{}", vera.id)))
        .form(&[
            ("csrf_token", token.as_str()),
            ("action", "reset_password"),
            ("password", "a brand new passphrase"),
        ])
        .send()
        .await
        .expect("sent");
    assert!(reset.status().is_redirection());
    let r = try_sign_in(&anonymous(), &app.address, "vera", "a brand new passphrase").await;
    assert_eq!(r.status(), 303, "a reset unlocks");

    // Left alone, a lock ends with its window.
    mistype("walt").await;
    let r = try_sign_in(&client, &app.address, "walt", PASSWORD).await;
    assert_eq!(r.status(), 429);
    clock
        .0
        .fetch_add(15 * 60, std::sync::atomic::Ordering::SeqCst);
    let r = try_sign_in(&client, &app.address, "walt", PASSWORD).await;
    assert_eq!(r.status(), 303, "the window passed");

    // One address is refused only at a much higher bound.
    let now =
        chrono::DateTime::from_timestamp(clock.0.load(std::sync::atomic::Ordering::SeqCst), 0)
            .expect("time");
    for _ in 0..srs_web::auth::throttle::MAX_FAILURES_PER_ADDRESS {
        app.store
            .record_login_failure(
                &["addr:127.0.0.1".to_owned()],
                now,
                now - chrono::Duration::minutes(15),
            )
            .await
            .expect("recorded");
    }
    let r = try_sign_in(&anonymous(), &app.address, "walt", PASSWORD).await;
    assert_eq!(r.status(), 429, "an address trying many accounts is held");
}

both_engines!(admins_manage_accounts_and_tokens_from_pages, |app| {
    let token = csrf_of(&app.client, &app.url("/admin/users")).await;
    let post = |path: &'static str, form: Vec<(&'static str, String)>| {
        let client = app.client.clone();
        let url = app.url(path);
        async move { client.post(url).form(&form).send().await.expect("sent") }
    };
    let r = post(
        "/admin/users",
        vec![
            ("csrf_token", token.clone()),
            ("username", "newbie".into()),
            ("role", "viewer".into()),
            ("password", "short".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 422, "weak password refused on the page");
    assert!(r.text().await.expect("html").contains("at least 12"));
    let r = post(
        "/admin/users",
        vec![
            ("csrf_token", token.clone()),
            ("username", "newbie".into()),
            ("role", "registrar".into()),
            ("password", PASSWORD.into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 303);
    let newbie = srs_web::auth::service::find_user(&app.store, "newbie")
        .await
        .expect("created");
    assert_eq!(newbie.role, Role::Registrar);
    let client = anonymous();
    sign_in(&client, &app.address, "newbie", PASSWORD).await;

    let path = format!("/admin/users/{}", newbie.id);
    let r = app
        .client
        .post(app.url(&path))
        .form(&[
            ("csrf_token", token.as_str()),
            ("action", "reset_password"),
            ("password", "another fine password"),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    assert_eq!(
        status_of(&client, app.url("/students")).await,
        303,
        "a reset ends the sessions"
    );
    sign_in(&client, &app.address, "newbie", "another fine password").await;
    let r = app
        .client
        .post(app.url(&path))
        .form(&[("csrf_token", token.as_str()), ("action", "disable")])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    assert_eq!(
        status_of(&client, app.url("/students")).await,
        303,
        "disabling ends the sessions"
    );
    let admin = srs_web::auth::service::find_user(&app.store, "admin")
        .await
        .expect("admin");
    let own = format!("/admin/users/{}", admin.id);
    app.client
        .post(app.url(&own))
        .form(&[("csrf_token", token.as_str()), ("action", "disable")])
        .send()
        .await
        .expect("sent");
    assert!(
        !srs_web::auth::service::find_user(&app.store, "admin")
            .await
            .expect("admin")
            .disabled,
        "admins cannot lock themselves out"
    );

    let r = post(
        "/admin/tokens",
        vec![
            ("csrf_token", token.clone()),
            ("user_id", admin.id.to_string()),
            ("name", "page token".into()),
            ("expires_days", "30".into()),
        ],
    )
    .await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    let start = html.find("srs_").expect("the new token is shown once");
    let secret: String = html[start..]
        .chars()
        .take_while(|c| c.is_ascii_alphanumeric() || *c == '_' || *c == '-')
        .collect();
    let fresh = anonymous()
        .get(app.url("/api/v1/students"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(fresh.status(), 200, "the page's token works");
    let listing = app.get("/admin/tokens").await.text().await.expect("html");
    assert!(!listing.contains(&secret), "never shown again");
    let tokens = app.store.list_tokens(None).await.expect("tokens");
    let page_token = tokens
        .iter()
        .find(|t| t.name == "page token")
        .expect("listed");
    assert!(page_token.last_used_at.is_some(), "last use recorded");
    let r = app
        .client
        .post(app.url(&format!("/admin/tokens/{}/revoke", page_token.id)))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 303);
    let revoked = anonymous()
        .get(app.url("/api/v1/students"))
        .bearer_auth(&secret)
        .send()
        .await
        .expect("sent");
    assert_eq!(revoked.status(), 401);
});

#[tokio::test]
async fn forwarded_addresses_count_only_from_trusted_proxies() {
    use srs_web::auth::service;
    let h = [("x-forwarded-for", "203.0.113.9")];
    for (trusted, expected) in [
        (vec![], "127.0.0.1"),
        (vec!["127.0.0.1".parse().expect("ip")], "203.0.113.9"),
    ] {
        let dir = tempfile::tempdir().expect("dir");
        let mut settings =
            srs_web::Settings::for_database(&format!("sqlite:{}", dir.path().join("db").display()));
        settings.trusted_proxies = trusted;
        let app = srs_web::Application::build(settings).await.expect("app");
        let address = format!("http://127.0.0.1:{}", app.port());
        let store = app.state().store.clone();
        tokio::spawn(app.run_until_stopped(std::future::pending()));
        let user = service::create_user(
            &store,
            "admin",
            Role::Admin,
            PASSWORD,
            &srs_store::Actor::system("t"),
        )
        .await
        .expect("user");
        let (token, _) =
            service::create_token(&store, user.id, "t", None, &srs_store::Actor::system("t"))
                .await
                .expect("token");
        let r = Client::new()
            .post(format!("{address}/api/v1/students"))
            .bearer_auth(&token)
            .header(h[0].0, h[0].1)
            .json(&valid_student("Forwarded Student"))
            .send()
            .await
            .expect("sent");
        assert_eq!(r.status(), 201);
        let s: Value = r.json().await.expect("json");
        let history: Vec<Value> = Client::new()
            .get(format!("{address}/api/v1/students/{}/history", s["id"]))
            .bearer_auth(&token)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json");
        assert_eq!(history[0]["client_addr"], expected);
    }
}
