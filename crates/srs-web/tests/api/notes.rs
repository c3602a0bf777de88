use crate::both_engines;
use crate::helpers::{error_fields, expect_problem};
use serde_json::{json, Value};
use srs_domain::Role;

both_engines!(notes_are_dated_by_author_audited_and_validated, |app| {
    let s = app.create_student("Noted Student", None).await;
    let id = s["id"].as_i64().expect("id");
    let path = format!("/api/v1/students/{id}/notes");

    let first = app
        .post_json(&path, &json!({"body": "Called home.\nBack in May."}))
        .await;
    assert_eq!(first.status(), 201);
    let first: Value = first.json().await.expect("json");
    assert_eq!(first["body"], "Called home.\nBack in May.");
    assert_eq!(first["student_id"], id);
    assert!(first["author"]
        .as_str()
        .expect("author")
        .starts_with("admin"));
    let second = app.post_json(&path, &json!({"body": "Second note"})).await;
    assert_eq!(second.status(), 201);

    let notes: Vec<Value> = app.get_json(&path).await;
    assert_eq!(notes.len(), 2);
    assert_eq!(notes[0]["body"], "Second note", "newest first");

    // Each note is in the student's history.
    let history: Vec<Value> = app
        .get_json(&format!("/api/v1/students/{id}/history"))
        .await;
    let noted: Vec<&Value> = history
        .iter()
        .filter(|h| h["action"] == "student.note")
        .collect();
    assert_eq!(noted.len(), 2);
    assert_eq!(noted[0]["after"]["note"], "Second note");

    // Bad notes: a clear error on the field, nothing stored.
    for (body, why) in [
        (json!("   "), "empty"),
        (json!("x".repeat(2001)), "too long"),
    ] {
        let problem =
            expect_problem(app.post_json(&path, &json!({"body": body})).await, 422, why).await;
        assert_eq!(error_fields(&problem), vec!["body".to_owned()], "{why}");
    }
    expect_problem(
        app.post_json(&path, &json!({"text": "wrong field"})).await,
        422,
        "unknown field",
    )
    .await;
    let notes: Vec<Value> = app.get_json(&path).await;
    assert_eq!(notes.len(), 2);

    // Viewers read notes but do not write them.
    let viewer = app.as_user("vivi", Role::Viewer).await;
    let r = viewer.get(app.url(&path)).send().await.expect("sent");
    assert_eq!(r.status(), 200);
    let r = viewer
        .post(app.url(&path))
        .json(&json!({"body": "no"}))
        .send()
        .await
        .expect("sent");
    assert_eq!(r.status(), 403);

    // A deleted student takes no new notes; its notes are still readable.
    assert_eq!(
        app.delete(&format!("/api/v1/students/{id}")).await.status(),
        204
    );
    expect_problem(
        app.post_json(&path, &json!({"body": "late"})).await,
        404,
        "deleted",
    )
    .await;
    let notes: Vec<Value> = app.get_json(&path).await;
    assert_eq!(notes.len(), 2);
    expect_problem(
        app.get("/api/v1/students/999999/notes").await,
        404,
        "unknown student",
    )
    .await;
});

both_engines!(a_note_is_added_from_the_student_page, |app| {
    let s = app.create_student("Page Noted", None).await;
    let id = s["id"].as_i64().expect("id");
    let csrf = app.csrf_token().await;
    let page = format!("/students/{id}/notes");

    let long = "y".repeat(2001);
    let refused = app
        .post_form(&page, &[("csrf_token", &csrf), ("body", &long)])
        .await;
    assert_eq!(refused.status(), 422);
    let html = refused.text().await.expect("html");
    assert!(html.contains("a note holds at most 2000"), "{html}");
    assert!(html.contains(&long), "the text is kept to be shortened");
    assert!(html.contains("aria-describedby=\"note-body-error\""));

    let added = app
        .post_form(
            &page,
            &[("csrf_token", &csrf), ("body", "Met with <b>parents</b>")],
        )
        .await;
    assert_eq!(added.status(), 303);
    let html = app
        .get(&format!("/students/{id}"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        html.contains("Met with &#60;b&#62;parents&#60;/b&#62;"),
        "escaped: {html}"
    );
    assert!(html.contains("Note added."));
    let forged = app.post_form(&page, &[("body", "no token")]).await;
    assert_eq!(forged.status(), 403);
});
