use crate::both_engines;
use serde_json::Value;

both_engines!(
    pages_add_a_student_through_the_form_and_show_the_site_banner,
    |app| {
        let token = app.csrf_token().await;
        let response = app
            .post_form(
                "/students",
                &[
                    ("csrf_token", &token),
                    ("full_name", "Ada Lovelace"),
                    ("email", "ada@example.edu"),
                    ("date_of_birth", "2001-12-10"),
                    ("department", "Computer Science"),
                    ("status", "active"),
                    ("enrolled_on", ""),
                ],
            )
            .await;
        assert_eq!(response.status(), 303);
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let html = app.get(&location).await.text().await.expect("html");
        assert!(html.contains("Ada Lovelace"));
        assert!(html.contains("added."), "flash message shown");
        assert!(
            html.contains("Served by site <strong>test-site</strong> — Standalone"),
            "site banner"
        );
        let again = app.get(&location).await.text().await.expect("html");
        assert!(!again.contains("added."), "flash is shown once");
    }
);

both_engines!(
    form_errors_keep_the_input_and_show_next_to_the_field,
    |app| {
        let token = app.csrf_token().await;
        let response = app
            .post_form(
                "/students",
                &[
                    ("csrf_token", &token),
                    ("full_name", "Kept Name"),
                    ("date_of_birth", "2020-01-01"),
                    ("department", "Arts"),
                    ("status", "active"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.expect("html");
        assert!(
            html.contains("id=\"date_of_birth-error\""),
            "error beside its field"
        );
        assert!(
            html.contains("The student must be at least 16; this date of birth makes them"),
            "the rule and the age in one sentence"
        );
        assert!(html.contains("value=\"Kept Name\""), "input kept");
        assert!(
            html.contains("<a class=\"alert-link\" href=\"#date_of_birth\">Date of birth</a>:"),
            "the summary links to the field: {html}"
        );
    }
);

both_engines!(
    forms_without_a_valid_csrf_token_get_403_and_change_nothing,
    |app| {
        let _ = app.csrf_token().await;
        for token in [
            "",
            "0000000000000000000000000000000000000000000000000000000000000000",
        ] {
            let response = app
                .post_form(
                    "/students",
                    &[
                        ("csrf_token", token),
                        ("full_name", "Mallory Evil"),
                        ("date_of_birth", "2000-01-01"),
                        ("department", "Arts"),
                    ],
                )
                .await;
            assert_eq!(response.status(), 403, "token {token:?}");
        }
        let s = app.create_student("Victim Student", None).await;
        let response = app
            .post_form(
                &format!("/students/{}/delete", s["id"]),
                &[("csrf_token", "nope")],
            )
            .await;
        assert_eq!(response.status(), 403);
        let list: Value = app.get_json("/api/v1/students").await;
        assert_eq!(list["total"], 1, "nothing changed");
    }
);

both_engines!(
    pages_escape_html_and_sql_in_every_place_they_show_it,
    |app| {
        let dept = app
            .post_json(
                "/api/v1/departments",
                &serde_json::json!({"name": "R&D (O'Neil's)"}),
            )
            .await;
        assert_eq!(dept.status(), 201);
        let mut body = crate::helpers::valid_student("O'Hara");
        body["department"] = serde_json::json!("R&D (O'Neil's)");
        body["email"] = serde_json::json!("o'hara@example.edu");
        let s: Value = app
            .post_json("/api/v1/students", &body)
            .await
            .json()
            .await
            .expect("json");
        let html = app
            .get(&format!("/students/{}", s["id"]))
            .await
            .text()
            .await
            .expect("html");
        assert!(
            html.contains("R&#38;D (O&#39;Neil&#39;s)") && !html.contains("R&D (O'Neil's)"),
            "department escaped"
        );
        let search = app
            .get("/students?q=%3Cscript%3Ealert(1)%3C%2Fscript%3E%27%3B--")
            .await;
        assert_eq!(search.status(), 200);
        let html = search.text().await.expect("html");
        assert!(
            !html.contains("<script>alert(1)</script>"),
            "query is escaped"
        );
        assert!(
            html.contains("&#60;script&#62;alert(1)&#60;"),
            "query shown escaped"
        );
    }
);

both_engines!(
    an_edit_from_an_older_form_keeps_a_colleague_s_change_and_names_real_clashes,
    |app| {
        let s = app.create_student("Original Name", None).await;
        let id = s["id"].as_i64().expect("id");
        let today = chrono::Utc::now().date_naive().to_string();
        // The form as loaded at version 1: every field, and the same values
        // again as orig_* (what the page's hidden inputs carry).
        let edit = app
            .get(&format!("/students/{id}/edit"))
            .await
            .text()
            .await
            .expect("html");
        assert!(
            edit.contains("name=\"orig_status\" value=\"active\""),
            "{edit}"
        );
        let loaded = [
            ("full_name", "Original Name"),
            ("email", ""),
            ("phone", ""),
            ("address", ""),
            ("date_of_birth", "2000-03-15"),
            ("department", "Computer Science"),
            ("status", "active"),
            ("enrolled_on", today.as_str()),
        ];
        let form = |version: &str, orig: &[(&str, &str)], changes: &[(&str, &str)]| {
            let mut f: Vec<(String, String)> = vec![("version".into(), version.into())];
            for (name, value) in loaded {
                let value = changes
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map_or(value, |(_, v)| *v);
                f.push((name.into(), value.into()));
            }
            for (name, value) in orig {
                f.push((format!("orig_{name}"), (*value).into()));
            }
            f
        };
        let post = |fields: Vec<(String, String)>| {
            let app = &app;
            async move {
                let mut fields = fields;
                fields.push(("csrf_token".into(), app.csrf_token().await));
                app.client
                    .post(app.url(&format!("/students/{id}/edit")))
                    .form(&fields)
                    .send()
                    .await
                    .expect("sent")
            }
        };
        // A colleague sets the student On leave.
        let api = app
            .patch_json(
                &format!("/api/v1/students/{id}"),
                &serde_json::json!({"version": 1, "status": "on_leave"}),
            )
            .await;
        assert_eq!(api.status(), 200);
        // The older form changes the name only: saved, the status stays.
        let saved = post(form("1", &loaded, &[("full_name", "My Edit")])).await;
        assert_eq!(saved.status(), 303);
        let now: Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(now["full_name"], "My Edit");
        assert_eq!(now["status"], "on_leave", "the colleague's change stays");
        let history = app
            .get(&format!("/students/{id}"))
            .await
            .text()
            .await
            .expect("html");
        assert!(
            !history.contains("On leave → Active"),
            "nobody set the status back: {history}"
        );

        // The same old form changing the status too: a real clash, named
        // alone, with the user's value kept.
        let clash = post(form(
            "1",
            &loaded,
            &[("full_name", "My Edit"), ("status", "graduated")],
        ))
        .await;
        assert_eq!(clash.status(), 409);
        let html = clash.text().await.expect("html");
        assert!(html.contains("id=\"conflict-clashes\""), "{html}");
        assert!(
            html.contains("<th scope=\"row\">Status</th><td class=\"note-body\" dir=\"auto\">On leave</td><td class=\"note-body\" dir=\"auto\">Graduated</td>"),
            "{html}"
        );
        assert!(
            !html.contains("<th scope=\"row\">Full name</th>")
                && !html.contains("<th scope=\"row\">Name</th>"),
            "not a clash: {html}"
        );
        assert!(html.contains("name=\"version\" value=\"3\""), "{html}");
        assert!(
            html.contains("name=\"orig_status\" value=\"on_leave\""),
            "{html}"
        );
        assert!(
            html.contains("value=\"graduated\" selected"),
            "yours kept: {html}"
        );
        let now: Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(now["status"], "on_leave", "nothing written on a clash");
        // Saving again applies the user's value, knowingly.
        let mut current = loaded;
        current[0] = ("full_name", "My Edit");
        current[6] = ("status", "on_leave");
        let again = post(form(
            "3",
            &current,
            &[("full_name", "My Edit"), ("status", "graduated")],
        ))
        .await;
        assert_eq!(again.status(), 303);
        let now: Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(now["status"], "graduated");
        assert_eq!(now["full_name"], "My Edit");
    }
);

both_engines!(
    editing_a_record_deleted_meanwhile_keeps_the_typing_and_offers_restore,
    |app| {
        let s = app.create_student("Soon Gone", None).await;
        let id = s["id"].as_i64().expect("id");
        let today = chrono::Utc::now().date_naive().to_string();
        let fields = |restore: bool| {
            let mut f = vec![
                ("version", "1".to_owned()),
                ("full_name", "Typed Name".to_owned()),
                ("orig_full_name", "Soon Gone".to_owned()),
                ("date_of_birth", "2000-03-15".to_owned()),
                ("orig_date_of_birth", "2000-03-15".to_owned()),
                ("department", "Computer Science".to_owned()),
                ("orig_department", "Computer Science".to_owned()),
                ("status", "active".to_owned()),
                ("orig_status", "active".to_owned()),
                ("enrolled_on", today.clone()),
                ("orig_enrolled_on", today.clone()),
            ];
            if restore {
                f.push(("restore_first", "true".to_owned()));
            }
            f
        };
        assert_eq!(
            app.delete(&format!("/api/v1/students/{id}")).await.status(),
            204
        );
        let post = |restore: bool| {
            let app = &app;
            let mut form = fields(restore);
            async move {
                form.push(("csrf_token", app.csrf_token().await));
                app.client
                    .post(app.url(&format!("/students/{id}/edit")))
                    .form(&form)
                    .send()
                    .await
                    .expect("sent")
            }
        };
        let refused = post(false).await;
        assert_eq!(refused.status(), 409);
        let html = refused.text().await.expect("html");
        assert!(html.contains("id=\"deleted-warning\""), "{html}");
        assert!(html.contains("deleted this record"), "{html}");
        assert!(html.contains("value=\"Typed Name\""), "typing kept: {html}");
        assert!(html.contains("id=\"restore-and-save\""), "{html}");
        assert!(!html.contains("Not Found"), "{html}");
        let saved = post(true).await;
        assert_eq!(saved.status(), 303);
        let now: Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(now["full_name"], "Typed Name", "restored, then saved");
    }
);

both_engines!(delete_page_confirms_then_flash_offers_restore, |app| {
    let s = app.create_student("Short Lived", None).await;
    let id = s["id"].as_i64().expect("id");
    let confirm = app
        .get(&format!("/students/{id}/delete"))
        .await
        .text()
        .await
        .expect("html");
    assert!(confirm.contains("Delete Short Lived?"));
    let token = app.csrf_token().await;
    let response = app
        .post_form(&format!("/students/{id}/delete"), &[("csrf_token", &token)])
        .await;
    assert_eq!(response.status(), 303);
    let list = app.get("/students").await.text().await.expect("html");
    assert!(
        list.contains(&format!("action=\"/students/{id}/restore\"")),
        "undo offered"
    );
    // The deleted student's page says so, by whom, and offers Restore;
    // the deleted list links to it and says when.
    let page = app.get(&format!("/students/{id}")).await;
    assert_eq!(page.status(), 200);
    let page = page.text().await.expect("html");
    assert!(page.contains("id=\"deleted-notice\""), "{page}");
    assert!(page.contains("This student was deleted on"));
    assert!(page.contains(" by "), "who deleted it");
    assert!(page.contains("id=\"restore-student\""));
    assert!(
        !page.contains("id=\"edit-link\""),
        "no edit of a deleted record"
    );
    let deleted = app
        .get("/students?deleted=true")
        .await
        .text()
        .await
        .expect("html");
    assert!(deleted.contains("Deleted on") && deleted.contains("Deleted by"));
    assert!(
        deleted.contains("</td><td>admin"),
        "who deleted it: {deleted}"
    );
    assert!(deleted.contains(&format!("href=\"/students/{id}\"")));
    let response = app
        .post_form(
            &format!("/students/{id}/restore"),
            &[("csrf_token", &token)],
        )
        .await;
    assert_eq!(response.status(), 303);
    assert_eq!(
        app.get(&format!("/api/v1/students/{id}")).await.status(),
        200
    );
});

both_engines!(page_for_unknown_student_is_a_404_page, |app| {
    let response = app.get("/students/123456").await;
    assert_eq!(response.status(), 404);
    let html = response.text().await.expect("html");
    assert!(html.contains("404"));
    // Error pages keep the layout: banner, menu, the signed-in account.
    for part in [
        "id=\"site-banner\"",
        "href=\"/departments\"",
        "id=\"logout\"",
    ] {
        assert!(html.contains(part), "{part} in {html}");
    }
    let unknown = app.get("/no/such/page").await;
    assert_eq!(unknown.status(), 404);
    let html = unknown.text().await.expect("html");
    assert!(html.contains("id=\"site-banner\"") && html.contains("There is no page"));
    let bad = app.get("/students/not-a-number").await;
    assert_eq!(
        bad.status(),
        404,
        "an id that is not a number names no student"
    );
    assert!(bad
        .text()
        .await
        .expect("html")
        .contains("id=\"site-banner\""));
});

both_engines!(assets_are_served_from_the_binary, |app| {
    let css = app.get("/assets/bootstrap.min.css").await;
    assert_eq!(css.status(), 200);
    assert!(css.text().await.expect("css").contains("Bootstrap"));
    let html = app.get("/students").await.text().await.expect("html");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no page loads anything from outside"
    );
    let docs = app.get("/api/docs/").await;
    assert_eq!(docs.status(), 200);
    let docs = docs.text().await.expect("html");
    assert!(
        docs.contains("<a href=\"/\" id=\"docs-back\">"),
        "the API documentation leads back to the site"
    );
    assert!(docs.contains("swagger-ui"), "and is still Swagger UI");
    assert!(
        docs.contains("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"),
        "phones render it at their own width"
    );
});

both_engines!(
    the_list_sorts_every_column_both_ways_and_pages_by_number,
    |app| {
        let html = |path: &'static str| {
            let app = &app;
            async move {
                let r = app.get(path).await;
                assert_eq!(r.status(), 200, "{path}");
                r.text().await.expect("html")
            }
        };
        // An empty list invites to add or import.
        let empty = html("/students").await;
        assert!(empty.contains("No students yet."), "{empty}");
        assert!(empty.contains("href=\"/import\">import a CSV file"));

        let mut arts = crate::helpers::valid_student("Bea Arts");
        arts["department"] = serde_json::json!("Arts");
        assert_eq!(app.post_json("/api/v1/students", &arts).await.status(), 201);
        app.create_student("Al Computing", None).await;
        app.create_student("Cy Computing", None).await;

        let by_department = html("/students?sort=-department").await;
        let (computing, art) = (
            by_department.find("Al Computing").expect("Al"),
            by_department.find("Bea Arts").expect("Bea"),
        );
        assert!(computing < art, "Computer Science before Arts, Z to A");
        assert!(
            by_department.contains(
                "aria-sort=\"descending\"><a href=\"/students?sort=department\">Department ▼"
            ),
            "the header says how it is sorted and links the other way"
        );
        assert!(by_department.contains("<a href=\"/students?sort=email\">Email</a>"));
        // Same-named students are told apart by their date of birth, and
        // the list sorts by it.
        assert!(by_department.contains("<a href=\"/students?sort=date_of_birth\">Born</a>"));
        assert!(
            by_department.contains("<td class=\"text-nowrap\">2000-03-15</td>"),
            "{by_department}"
        );
        let by_birth = html("/students?sort=-date_of_birth").await;
        assert!(by_birth.contains("Born ▼"), "{by_birth}");
        // By surname: Bea Arts, then Al and Cy Computing (by whole name).
        let by_surname = html("/students?sort=surname").await;
        let at = |name: &str| by_surname.find(name).expect(name);
        assert!(at("Bea Arts") < at("Al Computing") && at("Al Computing") < at("Cy Computing"));
        assert!(by_surname.contains("by surname ▲"), "{by_surname}");
        let by_name = html("/students?sort=name").await;
        assert!(by_name.find("Al Computing") < by_name.find("Bea Arts"));

        // A sort or page the list cannot show is a note, not an error page.
        let unknown = html("/students?sort=age").await;
        assert!(unknown.contains("id=\"list-notice\""), "{unknown}");
        assert!(unknown.contains("sort must be one of"));
        assert!(unknown.contains("Al Computing"));
        let beyond = html("/students?page=999").await;
        assert!(beyond.contains("There is no page 999: this list has 1 page."));
        assert!(!beyond.contains("Page 999 of"));
        assert!(!beyond.contains("No students match"));

        // Page numbers and a per-page choice.
        let paged = html("/students?per_page=1&page=2").await;
        assert!(paged.contains("aria-current=\"page\">2</a>"), "{paged}");
        let pager = &paged[paged.find("aria-label=\"Pages\"").expect("pager")..];
        assert!(pager.contains("page=3\">3</a>"), "{pager}");
        assert!(paged.contains("<option value=\"25\""));
    }
);

both_engines!(
    the_accounts_page_offers_no_control_that_refuses_on_ones_own_row,
    |app| {
        app.as_user("other", srs_domain::Role::Viewer).await;
        let html = app.get("/admin/users").await.text().await.expect("html");
        let own = html.find("(you)").expect("one's own row is marked");
        let row = &html[own..html[own..]
            .find("</tr>")
            .map_or(html.len(), |end| own + end)];
        assert!(
            !row.contains("name=\"role\""),
            "no role change on one's own row: {row}"
        );
        assert!(!row.contains("Disable"), "no disabling oneself: {row}");
        assert!(
            row.contains("reset_password"),
            "one's password can still be reset"
        );
        let other = html.find(">other<").expect("the other account");
        assert!(html[other..].contains("name=\"role\""));

        let icon = app.get("/favicon.ico").await;
        assert_eq!(icon.status(), 200);
        assert_eq!(icon.headers()["content-type"], "image/svg+xml");
    }
);

both_engines!(
    the_import_page_keeps_its_options_and_says_what_a_check_found,
    |app| {
        let upload = |dry_run: bool| {
            let app = &app;
            async move {
                let csv = "full_name,date_of_birth,department\nBob Young,2020-01-01,Arts\n";
                let options: &[&str] = if dry_run {
                    &["allow_duplicates", "dry_run"]
                } else {
                    &["allow_duplicates"]
                };
                let r = app.upload_csv(csv, options).await;
                assert_eq!(r.status(), 422);
                r.text().await.expect("html")
            }
        };
        let checked = upload(true).await;
        assert!(checked.contains("The check found 1 problem:"), "{checked}");
        assert!(checked.contains("name=\"dry_run\" value=\"true\" checked"));
        assert!(checked.contains("name=\"allow_duplicates\" value=\"true\" checked"));
        assert!(checked.contains("<td dir=\"auto\">Bob Young</td>"));
        let real = upload(false).await;
        assert!(
            real.contains("Nothing was imported: the file has 1 problem."),
            "{real}"
        );
        assert!(!real.contains("name=\"dry_run\" value=\"true\" checked"));

        // A duplicate names the page's own option, not the API's parameter.
        let csv = "full_name,date_of_birth,department\nAda Twice,2001-01-01,Arts\nAda Twice,2001-01-01,Arts\n";
        let html = app.upload_csv(csv, &[]).await.text().await.expect("html");
        assert!(
            html.contains("Line 2 has the same name and date of birth; to import it anyway, tick “Accept rows with the same name and date of birth as an existing student”."),
            "{html}"
        );
        assert!(!html.contains("allow_duplicates=true"), "{html}");
    }
);

both_engines!(pages_mark_the_current_menu_item_and_invalid_fields, |app| {
    let departments = app.get("/departments").await.text().await.expect("html");
    assert!(departments.contains("href=\"#main\">Skip to the content"));
    assert!(departments.contains("href=\"/departments\" aria-current=\"page\""));
    assert!(!departments.contains("href=\"/students\" aria-current"));
    let list = app.get("/students").await.text().await.expect("html");
    assert!(list.contains("href=\"/students\" aria-current=\"page\""));
    let add = app.get("/students/new").await.text().await.expect("html");
    assert!(add.contains("href=\"/students/new\" aria-current=\"page\""));
    assert!(!add.contains("href=\"/students\" aria-current"));

    // A refused form marks its fields for assistive technology.
    let token = app.csrf_token().await;
    let r = app
        .post_form(
            "/students",
            &[
                ("csrf_token", &token),
                ("full_name", "A"),
                ("date_of_birth", "2000-01-01"),
                ("department", "Arts"),
            ],
        )
        .await;
    let html = r.text().await.expect("html");
    let at = html.find("id=\"full_name\"").expect("the name field");
    let field = &html[at..at + html[at..].find('>').expect("tag end")];
    assert!(field.contains("aria-invalid=\"true\""), "{field}");
    assert!(
        field.contains("aria-describedby=\"full_name-error\""),
        "{field}"
    );
    assert!(field.contains("dir=\"auto\""), "{field}");
});

both_engines!(
    the_audit_page_filters_pages_and_shows_changes_in_words,
    |app| {
        let ada = app.create_student("Ada Lovelace", None).await;
        let id = ada["id"].as_i64().expect("id");
        let changed = app
            .patch_json(
                &format!("/api/v1/students/{id}"),
                &serde_json::json!({"status": "on_leave", "version": ada["version"]}),
            )
            .await;
        assert_eq!(changed.status(), 200);

        // Linked from the menu, for admins.
        let list = app.get("/students").await.text().await.expect("html");
        assert!(
            list.contains(r#"href="/admin/audit""#),
            "menu links the audit page"
        );
        let html = app.get("/admin/audit").await.text().await.expect("html");
        assert!(
            html.contains("<td data-label=\"What\">Student changed</td>"),
            "{html}"
        );
        assert!(
            html.contains("<strong>Status</strong>: Active → On leave"),
            "{html}"
        );
        assert!(
            html.contains(&format!(r#"href="/students/{id}""#)),
            "entries link their record"
        );

        // Filtered to creations: the initial values, no arrows.
        let html = app
            .get("/admin/audit?action=student.create&who=admin")
            .await
            .text()
            .await
            .expect("html");
        assert!(
            html.contains("<td data-label=\"What\">Student added</td>"),
            "{html}"
        );
        assert!(
            html.contains("<strong>Name</strong>: Ada Lovelace"),
            "{html}"
        );
        assert!(!html.contains("Student changed</td>"), "{html}");
        assert!(html.contains("1 entry, newest first."), "{html}");

        // A bad filter is a sentence on the page, not an error page.
        let bad = app
            .get("/admin/audit?from=yesterday&who=nobody&page=x")
            .await;
        assert_eq!(bad.status(), 200);
        let html = bad.text().await.expect("html");
        assert!(html.contains("is not a date like 2026-11-25"), "{html}");
        assert!(html.contains("There is no account named"), "{html}");
        assert!(html.contains("is not a page number"), "{html}");
        // Dates are whole days, "to" included.
        let today = chrono::Utc::now().date_naive();
        let html = app
            .get(&format!(
                "/admin/audit?from={today}&to={today}&entity=student"
            ))
            .await
            .text()
            .await
            .expect("html");
        assert!(html.contains("2 entries, newest first."), "{html}");

        // The student's own history shows what it was created with.
        let page = app
            .get(&format!("/students/{id}"))
            .await
            .text()
            .await
            .expect("html");
        assert!(
            page.contains("<strong>Name</strong>: Ada Lovelace"),
            "{page}"
        );
        assert!(
            page.contains("<strong>Status</strong>: Active → On leave"),
            "{page}"
        );

        // Editing never offers to leave the enrolment date empty (it must not be).
        let edit = app
            .get(&format!("/students/{id}/edit"))
            .await
            .text()
            .await
            .expect("html");
        assert!(!edit.contains("Leave empty for today"), "{edit}");
        assert!(edit.contains("The day the student enrolled"), "{edit}");

        // Not for registrars.
        let registrar = app.as_user("reg", srs_domain::Role::Registrar).await;
        let refused = registrar
            .get(app.url("/admin/audit"))
            .send()
            .await
            .expect("sent");
        assert_eq!(refused.status(), 403);
    }
);

both_engines!(the_import_page_can_import_only_the_good_rows, |app| {
    let csv =
        "full_name,date_of_birth,department\nGood Row,2001-01-01,Arts\nBob Young,2020-01-01,Arts\n";
    let r = app.upload_csv(csv, &["skip_invalid"]).await;
    assert_eq!(r.status(), 200);
    let html = r.text().await.expect("html");
    assert!(
        html.contains("Imported 1 student. Skipped 1 row with problems, listed below"),
        "{html}"
    );
    assert!(html.contains("id=\"skipped-heading\">Skipped rows</h2>"));
    assert!(html.contains("<td dir=\"auto\">Bob Young</td>"));
    assert!(html.contains("name=\"skip_invalid\" value=\"true\" checked"));
    assert!(
        !html.contains("id=\"import-problems\""),
        "not a failure headline"
    );
    let list: serde_json::Value = app.get_json("/api/v1/students").await;
    assert_eq!(list["total"], 1);
});

#[tokio::test]
async fn a_file_with_thousands_of_bad_rows_gets_a_short_report_and_a_csv_to_fix() {
    let app = crate::helpers::spawn_app_configured(crate::helpers::Engine::Sqlite, |s| {
        s.max_import_bytes = 4 * 1024 * 1024;
    })
    .await;
    // 3,000 rows: every third too young, every fifth in no department (a
    // row too young is reported for that alone).
    let mut csv = String::from("full_name,date_of_birth,department\n");
    for n in 0..3_000u32 {
        let born = if n % 3 == 0 {
            "2020-01-01"
        } else {
            "2001-01-01"
        };
        let department = if n % 5 == 0 { "Nowhere" } else { "Arts" };
        let letters: String = n
            .to_string()
            .chars()
            .map(|d| char::from(b'a' + d.to_digit(10).unwrap_or(0) as u8))
            .collect();
        csv.push_str(&format!("Student {letters},{born},{department}\n"));
    }
    let r = app.upload_csv(&csv, &["dry_run"]).await;
    assert_eq!(r.status(), 422);
    let html = r.text().await.expect("html");
    assert!(html.len() < 200_000, "a short page: {} bytes", html.len());
    assert_eq!(
        html.matches("<tr><td>").count(),
        100,
        "the first 100 listed"
    );
    assert!(html.contains("id=\"problems-by-column\""), "{html}");
    assert!(html.contains("<code>date_of_birth</code> 1,000"), "{html}");
    assert!(html.contains("<code>department</code> 400"), "{html}");
    assert!(html.contains("1,300 more"), "{html}");
    assert!(html.contains("Import only adds new students"));

    // The rows with problems, whole, as a CSV with a problems column.
    let download = app
        .upload_csv_to("/import/rows-with-problems.csv", &csv, &[])
        .await;
    assert_eq!(download.status(), 200);
    assert!(download.headers()["content-disposition"]
        .to_str()
        .expect("text")
        .contains("rows-with-problems.csv"));
    let body = download.text().await.expect("csv");
    let mut reader = csv::Reader::from_reader(body.as_bytes());
    assert_eq!(
        reader.headers().expect("header").iter().collect::<Vec<_>>(),
        ["full_name", "date_of_birth", "department", "problems"]
    );
    let rows: Vec<csv::StringRecord> = reader.records().map(|r| r.expect("row")).collect();
    // Rows n % 3 == 0 or n % 5 == 0: 1,000 + 600 - 200.
    assert_eq!(rows.len(), 1_400);
    assert!(rows[0]
        .get(3)
        .is_some_and(|p| p.starts_with("line 2: date_of_birth:")));
    let list: serde_json::Value = app.get_json("/api/v1/students").await;
    assert_eq!(list["total"], 0, "a check imports nothing");
}

both_engines!(
    a_bad_contact_marks_only_its_inputs_and_names_every_problem,
    |app| {
        let token = app.csrf_token().await;
        let response = app
            .post_form(
                "/students",
                &[
                    ("csrf_token", &token),
                    ("full_name", "Contact Check"),
                    ("date_of_birth", "2000-03-15"),
                    ("department", "Computer Science"),
                    ("status", "active"),
                    ("emergency_name_1", "Maria Núñez"),
                    ("emergency_relationship_1", ""),
                    ("emergency_phone_1", "12"),
                    ("emergency_name_2", "Ok Person"),
                    ("emergency_relationship_2", "father"),
                    ("emergency_phone_2", "020 7946 0958"),
                ],
            )
            .await;
        assert_eq!(response.status(), 422);
        let html = response.text().await.expect("html");
        let marked = |input: &str| {
            html.split("<input ")
                .find(|tag| tag.contains(&format!("id=\"{input}\"")))
                .is_some_and(|tag| tag.contains("is-invalid"))
        };
        assert!(marked("emergency_relationship_1"), "{html}");
        assert!(marked("emergency_phone_1"), "{html}");
        for fine in [
            "emergency_name_1",
            "emergency_name_2",
            "emergency_relationship_2",
            "emergency_phone_2",
            "emergency_name_3",
        ] {
            assert!(!marked(fine), "{fine} is fine: {html}");
        }
        assert!(
            html.contains("Contact 1, relationship: The relationship is empty"),
            "{html}"
        );
        assert!(html.contains("Contact 1, phone:"), "both at once: {html}");
    }
);

both_engines!(form_errors_read_as_sentences, |app| {
    let token = app.csrf_token().await;
    let response = app
        .post_form(
            "/students",
            &[
                ("csrf_token", &token),
                ("full_name", ""),
                ("date_of_birth", "2015-06-01"),
                ("department", "Arts"),
                ("status", "active"),
            ],
        )
        .await;
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains(">Full name is required.</div>"), "{html}");
    assert!(html.contains("The student must be at least 16; this date of birth makes them"));
    assert!(html.contains("Please correct the 2 highlighted fields."));
});
