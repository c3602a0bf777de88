use crate::both_engines;
use serde_json::json;
use srs_domain::Role;

/// The number in the row of `table` whose first cell shows `label`.
fn count_in(html: &str, table: &str, label: &str) -> Option<i64> {
    let start = html.find(&format!("id=\"{table}\""))?;
    let body = &html[start..start + html[start..].find("</table>")?];
    let row = body
        .split("<tr>")
        .find(|row| row.contains(&format!(">{label}</")))?;
    let value = row.split("<td class=\"text-end\">").nth(1)?;
    value.split('<').next()?.trim().parse().ok()
}

both_engines!(
    overview_counts_students_by_status_and_department_and_follows_changes,
    |app| {
        let empty = app.get("/").await;
        assert_eq!(empty.status(), 200);
        let html = empty.text().await.expect("html");
        assert!(
            html.contains("<strong>0</strong> students on record"),
            "{html}"
        );
        assert!(
            html.contains("import a CSV file"),
            "an empty system invites to begin"
        );

        let mut ids = Vec::new();
        for (name, department, status) in [
            ("Ada Overview", "Computer Science", "active"),
            ("Brian Overview", "Computer Science", "on_leave"),
            ("Chen Overview", "Arts", "active"),
        ] {
            let response = app
                .post_json(
                    "/api/v1/students",
                    &json!({"full_name": name, "date_of_birth": "2000-01-01",
                        "department": department, "status": status}),
                )
                .await;
            assert_eq!(response.status(), 201, "creating {name}");
            let body: serde_json::Value = response.json().await.expect("json");
            ids.push(body["id"].as_i64().expect("id"));
        }
        let html = app.get("/").await.text().await.expect("html");
        assert!(
            html.contains("<strong>3</strong> students on record"),
            "{html}"
        );
        assert_eq!(count_in(&html, "statuses-table", "Active"), Some(2));
        assert_eq!(count_in(&html, "statuses-table", "On leave"), Some(1));
        assert_eq!(count_in(&html, "statuses-table", "Graduated"), Some(0));
        assert_eq!(
            count_in(&html, "departments-table", "Computer Science"),
            Some(2)
        );
        assert_eq!(count_in(&html, "departments-table", "Arts"), Some(1));
        assert_eq!(count_in(&html, "departments-table", "Medicine"), Some(0));
        // Enrolled today (the default): this month's row counts all three.
        let this_month = chrono::Utc::now().date_naive().format("%B %Y").to_string();
        assert_eq!(
            count_in(&html, "months-table", &this_month),
            Some(3),
            "{html}"
        );
        // Charts are SVG with a title, and every bar says its number in text.
        assert!(html.contains("role=\"img\" aria-labelledby=\"statuses-title\""));
        assert!(html.contains("<text class=\"bar-value\""));
        assert!(html.contains("<title>On leave: 1</title>"));
        // Recent changes, newest first, linked to the student.
        let recent = &html[html.find("id=\"recent-changes\"").expect("recent")..];
        let chen = recent.find("Chen Overview").expect("latest change listed");
        let ada = recent.find("Ada Overview").expect("earlier change listed");
        assert!(chen < ada, "newest first");
        assert!(recent.contains(&format!("href=\"/students/{}\"", ids[2])));
        // An admin sees the DR state; this instance runs alone.
        assert!(html.contains("id=\"overview-dr\""));
        assert!(html.contains("runs on its own"));

        // A change shows at once: the cached figures follow the data.
        let response = app.delete(&format!("/api/v1/students/{}", ids[0])).await;
        assert_eq!(response.status(), 204);
        let html = app.get("/").await.text().await.expect("html");
        assert!(html.contains("<strong>2</strong> students on record"));
        assert_eq!(count_in(&html, "statuses-table", "Active"), Some(1));
        assert_eq!(
            count_in(&html, "departments-table", "Computer Science"),
            Some(1)
        );

        // A viewer sees the figures but not the DR line.
        let viewer = app.as_user("olga", Role::Viewer).await;
        let html = crate::helpers::page_text(&viewer, &app.url("/")).await;
        assert!(html.contains("<strong>2</strong> students on record"));
        assert!(!html.contains("id=\"overview-dr\""));
        assert!(!html.contains("import a CSV file"));
    }
);

both_engines!(overview_needs_a_sign_in_and_is_where_sign_in_lands, |app| {
    let anonymous = crate::helpers::anonymous();
    let response = anonymous.get(app.url("/")).send().await.expect("sent");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"].to_str().expect("ascii");
    assert!(location.starts_with("/login"), "{location}");

    let csrf = crate::helpers::csrf_of(&anonymous, &app.url("/login")).await;
    let response = anonymous
        .post(app.url("/login"))
        .form(&[
            ("csrf_token", csrf.as_str()),
            ("username", "admin"),
            ("password", crate::helpers::PASSWORD),
        ])
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 303);
    assert_eq!(response.headers()["location"], "/");
});

both_engines!(requests_that_miss_together_all_get_the_new_figures, |app| {
    app.create_student("Before Burst", None).await;
    assert!(app
        .get("/")
        .await
        .text()
        .await
        .expect("html")
        .contains("<strong>1</strong> student on record"));
    // A write, then many views at once: they share one count, and every
    // one of them shows the write.
    app.create_student("During Burst", None).await;
    let views = (0..16).map(|_| {
        let client = app.client.clone();
        let url = app.url("/");
        tokio::spawn(async move { crate::helpers::page_text(&client, &url).await })
    });
    for view in views {
        let html = view.await.expect("request ran");
        assert!(
            html.contains("<strong>2</strong> students on record"),
            "{html}"
        );
    }
});
