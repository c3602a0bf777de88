use crate::both_engines;
use crate::helpers::{expect_problem, TestApp};
use serde_json::Value;

async fn import(app: &TestApp, csv: &str, query: &str) -> reqwest::Response {
    app.client
        .post(app.url(&format!("/api/v1/students/import{query}")))
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .expect("sent")
}

async fn total(app: &TestApp) -> i64 {
    let list: Value = app.get_json("/api/v1/students").await;
    list["total"].as_i64().expect("total")
}

both_engines!(import_is_all_or_nothing_and_reports_every_bad_row, |app| {
    let csv = "full_name,email,date_of_birth,department\n\
               Ada Lovelace,ada@example.edu,2001-12-10,Computer Science\n\
               <b>Bold</b>,x@example.edu,2001-01-01,Arts\n\
               Bob Young,bob@example.edu,2020-01-01,Arts\n\
               Cy Twin,ada@example.edu,1999-01-01,Nowhere\n";
    let problem = expect_problem(import(&app, csv, "").await, 422, "bad rows").await;
    let rows = problem["row_errors"].as_array().expect("row errors");
    let lines: Vec<i64> = rows.iter().filter_map(|r| r["line"].as_i64()).collect();
    assert!(
        lines.contains(&3) && lines.contains(&4) && lines.contains(&5),
        "lines {lines:?}"
    );
    assert!(!lines.contains(&2), "line 2 is fine");
    // Each error names the student and the value at fault.
    let bob = rows.iter().find(|r| r["line"] == 4).expect("Bob's row");
    assert_eq!(bob["name"], "Bob Young");
    assert_eq!(bob["value"], "2020-01-01");
    assert_eq!(total(&app).await, 0, "nothing imported");
});

both_engines!(
    import_dry_run_writes_nothing_then_import_writes_all,
    |app| {
        let csv = "student_number,full_name,email,date_of_birth,department,status,enrolled_on\n\
               S1999-000001,Ada Lovelace,ada@example.edu,2001-12-10,Computer Science,active,2025-09-01\n\
               ,Émile Zola,,1990-04-02,Arts,graduated,\n";
        let dry = import(&app, csv, "?dry_run=true").await;
        assert_eq!(dry.status(), 200);
        let summary: Value = dry.json().await.expect("json");
        assert_eq!(summary["imported"], 2);
        assert_eq!(summary["dry_run"], true);
        assert_eq!(total(&app).await, 0, "dry run wrote nothing");
        let real = import(&app, csv, "").await;
        assert_eq!(real.status(), 200);
        assert_eq!(total(&app).await, 2);
        let again = import(&app, csv, "").await;
        let problem =
            expect_problem(again, 422, "re-import collides on number and duplicates").await;
        let zola = problem["row_errors"]
            .as_array()
            .expect("rows")
            .iter()
            .find(|r| r["line"] == 3)
            .expect("Zola's row");
        assert_eq!(
            zola["message"],
            "a student already on record has the same name and date of birth (send allow_duplicates=true to import it anyway)",
            "the API says how, in its own terms"
        );
        assert_eq!(total(&app).await, 2);
        let utf8 = app
            .client
            .post(app.url("/api/v1/students/import"))
            .header("content-type", "text/csv")
            .body(b"full_name,date_of_birth,department\nAd\xff\xfea,2001-01-01,Arts\n".to_vec())
            .send()
            .await
            .expect("sent");
        let problem = expect_problem(utf8, 422, "invalid UTF-8").await;
        assert_eq!(problem["row_errors"][0]["line"], 2);
        let json_body = app
            .client
            .post(app.url("/api/v1/students/import"))
            .header("content-type", "application/json")
            .body("{}")
            .send()
            .await
            .expect("sent");
        expect_problem(json_body, 415, "wrong media type").await;
    }
);

both_engines!(export_streams_what_the_list_shows_and_imports_back, |app| {
    app.create_student("Ada Lovelace", Some("=cmd@example.edu"))
        .await;
    let mut arts = crate::helpers::valid_student("Frida Kahlo");
    arts["department"] = serde_json::json!("Arts");
    assert_eq!(app.post_json("/api/v1/students", &arts).await.status(), 201);
    let response = app.get("/api/v1/students/export.csv?department=Arts").await;
    assert_eq!(response.status(), 200);
    assert!(response.headers()["content-type"]
        .to_str()
        .unwrap_or_default()
        .starts_with("text/csv"));
    let body = response.text().await.expect("text");
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(lines.len(), 2, "header and the one Arts student: {body}");
    assert!(lines[0].starts_with("student_number,full_name,email"));
    assert!(lines[1].contains("Frida Kahlo"));
    let all = app
        .get("/api/v1/students/export.csv")
        .await
        .text()
        .await
        .expect("text");
    assert!(
        all.contains("'=cmd@example.edu"),
        "formula-like cells are neutralised: {all}"
    );
    let template = app.get("/api/v1/students/import-template.csv").await;
    assert_eq!(template.status(), 200);
    assert!(template
        .text()
        .await
        .expect("text")
        .starts_with("student_number,full_name"));
    // The export imports into another instance unchanged.
    let other = crate::helpers::spawn_app(app.engine).await;
    let imported = import(&other, &all, "").await;
    assert_eq!(imported.status(), 200, "round trip");
    let copy = other
        .get("/api/v1/students/export.csv")
        .await
        .text()
        .await
        .expect("text");
    let numbers = |s: &str| {
        s.lines()
            .skip(1)
            .map(|l| l.split(',').next().unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    assert_eq!(numbers(&copy), numbers(&all));
    assert!(copy.contains("'=cmd@example.edu"));
});

both_engines!(
    export_shows_labels_and_whole_seconds_and_can_carry_a_bom,
    |app| {
        let mut on_leave = crate::helpers::valid_student("Lea Leave");
        on_leave["status"] = serde_json::json!("on_leave");
        assert_eq!(
            app.post_json("/api/v1/students", &on_leave).await.status(),
            201
        );
        let plain = app
            .get("/api/v1/students/export.csv")
            .await
            .bytes()
            .await
            .expect("csv");
        assert!(!plain.starts_with(b"\xEF\xBB\xBF"));
        let text = String::from_utf8(plain.to_vec()).expect("utf-8");
        let row = text.lines().nth(1).expect("a row");
        assert!(row.contains(",On leave,"), "{row}");
        let stamp = row.rsplit(',').next().expect("updated_at");
        assert!(
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y-%m-%dT%H:%M:%SZ").is_ok(),
            "to the second, UTC: {stamp}"
        );
        let excel = app
            .get("/api/v1/students/export.csv?bom=true")
            .await
            .bytes()
            .await
            .expect("csv");
        assert!(excel.starts_with(b"\xEF\xBB\xBFstudent_number,"));
        // Labels import back as the status they name.
        let csv = "full_name,date_of_birth,department,status\nMo Label,2000-01-01,Arts,On leave\n";
        let r = import(&app, csv, "").await;
        assert_eq!(r.status(), 200, "{}", r.text().await.unwrap_or_default());
    }
);

both_engines!(import_can_take_the_good_rows_and_report_the_others, |app| {
    // Line 3's quoted name spans two lines (refused: its line break would
    // vanish), so Bob's row is line 5 of the file, not the third data row.
    let csv = "full_name,email,date_of_birth,department\n\
               Ada Lovelace,ada@example.edu,2001-12-10,Computer Science\n\
               \"Cy\nTwo Lines\",cy@example.edu,2001-01-01,Arts\n\
               Bob Young,bob@example.edu,2020-01-01,Arts\n\
               Dee Good,dee@example.edu,1999-01-01,Arts\n\
               Eve Twin,ada@example.edu,1999-01-01,Arts\n";
    // Without the option: nothing imported, every problem listed.
    let problem = expect_problem(import(&app, csv, "").await, 422, "bad rows").await;
    let lines: Vec<i64> = problem["row_errors"]
        .as_array()
        .expect("rows")
        .iter()
        .filter_map(|r| r["line"].as_i64())
        .collect();
    assert!(lines.contains(&3), "Cy's name over two lines: {lines:?}");
    assert!(lines.contains(&5), "Bob is on line 5: {lines:?}");
    assert!(
        lines.contains(&7),
        "Eve reuses Ada's email on line 7: {lines:?}"
    );
    assert_eq!(total(&app).await, 0);

    // A dry run with the option says what would be skipped; writes nothing.
    let dry = import(&app, csv, "?skip_invalid=true&dry_run=true").await;
    assert_eq!(dry.status(), 200);
    let summary: Value = dry.json().await.expect("json");
    assert_eq!(summary["dry_run"], true);
    assert_eq!(total(&app).await, 0);

    let real = import(&app, csv, "?skip_invalid=true").await;
    assert_eq!(real.status(), 200);
    let summary: Value = real.json().await.expect("json");
    let skipped: Vec<i64> = summary["skipped"]
        .as_array()
        .expect("skipped")
        .iter()
        .filter_map(|r| r["line"].as_i64())
        .collect();
    assert!(
        skipped.contains(&3) && skipped.contains(&5) && skipped.contains(&7),
        "{summary}"
    );
    let imported = summary["imported"].as_i64().expect("count");
    assert_eq!(total(&app).await, imported);
    let names: Value = app.get_json("/api/v1/students?per_page=50").await;
    let names: Vec<&str> = names["items"]
        .as_array()
        .expect("items")
        .iter()
        .filter_map(|s| s["full_name"].as_str())
        .collect();
    assert!(
        names.contains(&"Ada Lovelace") && names.contains(&"Dee Good"),
        "{names:?}"
    );
    assert!(!names.contains(&"Bob Young") && !names.contains(&"Eve Twin"));

    // A broken header refuses the whole file even with the option.
    let broken = "full_name,full_name,date_of_birth,department\nX Y,X Y,2000-01-01,Arts\n";
    expect_problem(
        import(&app, broken, "?skip_invalid=true").await,
        422,
        "header",
    )
    .await;
    assert_eq!(total(&app).await, imported);
});

both_engines!(
    an_excel_file_s_problems_name_the_lines_its_editor_shows,
    |app| {
        // As Excel saves it: a BOM, CRLF line ends, a blank line, a name
        // over two lines. Line 1 header, 2 Ada, 3 blank, 4-5 Cy, 6 Bob.
        let csv = "\u{feff}full_name,date_of_birth,department\r\n\
                   Ada Good,2001-01-01,Arts\r\n\
                   \r\n\
                   \"Cy\r\nTwo Lines\",2001-01-01,Arts\r\n\
                   Bob Young,2020-01-01,Arts\r\n";
        let problem = expect_problem(import(&app, csv, "").await, 422, "bad rows").await;
        let lines: Vec<(i64, String)> = problem["row_errors"]
            .as_array()
            .expect("rows")
            .iter()
            .map(|r| {
                (
                    r["line"].as_i64().unwrap_or_default(),
                    r["field"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(
            lines,
            vec![(4, "full_name".to_owned()), (6, "date_of_birth".to_owned())],
            "{problem}"
        );

        // The import page names the same lines.
        let html = app.upload_csv(csv, &[]).await.text().await.expect("html");
        assert!(html.contains("<tr><td>4</td>"), "{html}");
        assert!(
            html.contains("<tr><td>6</td><td dir=\"auto\">Bob Young</td>"),
            "{html}"
        );
        assert!(html.contains("line break"), "{html}");

        // The good row goes in, and its audit entry names its own line.
        let real = import(&app, csv, "?skip_invalid=true").await;
        assert_eq!(real.status(), 200);
        let audit: Value = app.get_json("/api/v1/audit?action=student.import").await;
        let after = &audit["items"][0]["after"];
        assert_eq!(after["full_name"], "Ada Good", "{audit}");
        assert_eq!(after["import_line"], 2, "{audit}");
    }
);
