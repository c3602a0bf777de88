use crate::both_engines;
use crate::helpers::TestApp;
use serde_json::{json, Value};
use srs_domain::Role;
use srs_store::{AuditFilter, PageRequest};

async fn add(app: &TestApp, name: &str, department: &str, status: &str) -> i64 {
    let response = app
        .post_json(
            "/api/v1/students",
            &json!({"full_name": name, "date_of_birth": "2000-01-01",
                    "department": department, "status": status}),
        )
        .await;
    assert_eq!(response.status(), 201, "creating {name}");
    let body: Value = response.json().await.expect("json");
    body["id"].as_i64().expect("id")
}

async fn student(app: &TestApp, id: i64) -> Value {
    app.get_json(&format!("/api/v1/students/{id}")).await
}

async fn updates_of(app: &TestApp, id: i64) -> usize {
    let filter = AuditFilter {
        action: Some("student.update".into()),
        entity: Some("student".into()),
        entity_id: Some(id),
        ..AuditFilter::default()
    };
    let page = PageRequest {
        page: 1,
        per_page: 200,
    };
    app.store
        .audit_entries(&filter, page)
        .await
        .expect("audit")
        .items
        .len()
}

async fn post_bulk(app: &TestApp, form: &[(&str, String)]) -> reqwest::Response {
    app.client
        .post(app.url("/students/bulk"))
        .form(form)
        .send()
        .await
        .expect("sent")
}

both_engines!(
    bulk_status_change_is_one_audited_transaction_per_student,
    |app| {
        let a = add(&app, "Ana Bulk", "Arts", "active").await;
        let b = add(&app, "Ben Bulk", "Arts", "on_leave").await;
        let c = add(&app, "Cy Bulk", "Arts", "graduated").await;
        let untouched = add(&app, "Dee Other", "Medicine", "active").await;

        // The review page says how many and names them; nothing changes yet.
        let review = app
            .get(&format!(
                "/students/bulk?scope=picked&ids={a}&ids={b}&ids={c}&set_status=graduated"
            ))
            .await;
        assert_eq!(review.status(), 200);
        let html = review.text().await.expect("html");
        assert!(
            html.contains("Set status Graduated for <strong>3</strong> students?"),
            "{html}"
        );
        assert!(html.contains("1 of them already has it"), "{html}");
        assert!(html.contains("Ana Bulk") && html.contains("Cy Bulk"));
        assert_eq!(
            student(&app, a).await["status"],
            "active",
            "a review changes nothing"
        );

        // Without the CSRF token nothing happens.
        let forged = post_bulk(
            &app,
            &[
                ("scope", "picked".into()),
                ("ids", a.to_string()),
                ("set_status", "graduated".into()),
            ],
        )
        .await;
        assert_eq!(forged.status(), 403);
        assert_eq!(student(&app, a).await["status"], "active");

        let csrf = app.csrf_token().await;
        let done = post_bulk(
            &app,
            &[
                ("csrf_token", csrf.clone()),
                ("scope", "picked".into()),
                ("ids", a.to_string()),
                ("ids", b.to_string()),
                ("ids", c.to_string()),
                ("set_status", "graduated".into()),
                ("department", "Arts".into()),
            ],
        )
        .await;
        assert_eq!(done.status(), 303);
        assert_eq!(done.headers()["location"], "/students?department=Arts");
        for id in [a, b, c] {
            let s = student(&app, id).await;
            assert_eq!(s["status"], "graduated", "{s}");
            assert_eq!(s["department"], "Arts");
        }
        assert_eq!(student(&app, untouched).await["status"], "active");
        // One audit entry for each student changed; none for the one that
        // already was graduated.
        assert_eq!(updates_of(&app, a).await, 1);
        assert_eq!(updates_of(&app, b).await, 1);
        assert_eq!(updates_of(&app, c).await, 0);
        let flash = app
            .get("/students?department=Arts")
            .await
            .text()
            .await
            .expect("html");
        assert!(
            flash.contains("Changed 2 students to status Graduated. 1 student already had it"),
            "{flash}"
        );
    }
);

both_engines!(bulk_change_is_all_or_nothing, |app| {
    let a = add(&app, "Ana Whole", "Arts", "active").await;
    let b = add(&app, "Ben Whole", "Arts", "active").await;
    let csrf = app.csrf_token().await;

    // One of the chosen students is deleted before the change: none changes.
    assert_eq!(
        app.delete(&format!("/api/v1/students/{b}")).await.status(),
        204
    );
    let refused = post_bulk(
        &app,
        &[
            ("csrf_token", csrf.clone()),
            ("scope", "picked".into()),
            ("ids", a.to_string()),
            ("ids", b.to_string()),
            ("set_status", "withdrawn".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), 409);
    let html = refused.text().await.expect("html");
    assert!(
        html.contains("1 of the 2 chosen students were deleted or changed"),
        "{html}"
    );
    assert!(html.contains("nothing was changed"));
    assert_eq!(student(&app, a).await["status"], "active");
    assert_eq!(updates_of(&app, a).await, 0);

    // A retired or unknown department: nothing changes.
    let refused = post_bulk(
        &app,
        &[
            ("csrf_token", csrf.clone()),
            ("scope", "picked".into()),
            ("ids", a.to_string()),
            ("set_department", "Astrology".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .expect("html")
        .contains("There is no department named &#39;Astrology&#39;"));
    assert_eq!(student(&app, a).await["department"], "Arts");

    // "All this list shows" was confirmed for 1 student; a second one
    // appeared since: nothing changes, and the page says why.
    let _c = add(&app, "Cy Whole", "Arts", "active").await;
    let refused = post_bulk(
        &app,
        &[
            ("csrf_token", csrf.clone()),
            ("scope", "matching".into()),
            ("department", "Arts".into()),
            ("expected", "1".into()),
            ("set_status", "withdrawn".into()),
        ],
    )
    .await;
    assert_eq!(refused.status(), 409);
    assert!(refused
        .text()
        .await
        .expect("html")
        .contains("1 students matched then, 2 match now"));
    assert_eq!(student(&app, a).await["status"], "active");

    // Nothing chosen, or no change chosen: a sentence, not an error page.
    let html = app
        .get("/students/bulk?scope=picked&set_status=withdrawn")
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("Tick at least one student"), "{html}");
    // The message names the option as the list's panel labels it, and the
    // panel, above the table, points down to it.
    let list = app.get("/students").await.text().await.expect("html");
    let option = "All this list shows";
    assert!(html.contains(option), "{html}");
    assert!(list.contains(option), "{list}");
    assert!(list.contains("The ones ticked in the list below"), "{list}");
    assert!(!list.contains("ticked above"), "{list}");
    let html = app
        .get(&format!("/students/bulk?scope=picked&ids={a}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("Choose a new status or a new department"));

    // All matching, counted on the review and confirmed.
    let html = app
        .get("/students/bulk?scope=matching&department=Arts&set_status=withdrawn")
        .await
        .text()
        .await
        .expect("html");
    assert!(html.contains("for <strong>2</strong> students?"), "{html}");
    assert!(html.contains("name=\"expected\" value=\"2\""));
    let done = post_bulk(
        &app,
        &[
            ("csrf_token", csrf.clone()),
            ("scope", "matching".into()),
            ("department", "Arts".into()),
            ("expected", "2".into()),
            ("set_status", "withdrawn".into()),
        ],
    )
    .await;
    assert_eq!(done.status(), 303);
    assert_eq!(student(&app, a).await["status"], "withdrawn");

    // Viewers may not.
    let viewer = app.as_user("vera", Role::Viewer).await;
    let response = viewer
        .get(app.url(&format!("/students/bulk?ids={a}&set_status=active")))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 403);
});

both_engines!(the_list_offers_ticking_to_editors_only, |app| {
    let a = add(&app, "Ana Tick", "Arts", "active").await;
    let html = app.get("/students").await.text().await.expect("html");
    assert!(html.contains(&format!("name=\"ids\" value=\"{a}\" form=\"bulk\"")));
    assert!(html.contains("id=\"bulk\""));
    let viewer = app.as_user("vic", Role::Viewer).await;
    let html = crate::helpers::page_text(&viewer, &app.url("/students")).await;
    assert!(!html.contains("form=\"bulk\""));
    assert!(!html.contains("id=\"bulk\""));
});
