use crate::both_engines;
use crate::helpers::{error_fields, expect_problem, spawn_sibling, valid_student, Engine};
use serde_json::{json, Value};

both_engines!(
    create_student_returns_201_with_location_and_a_generated_number,
    |app| {
        let response = app
            .post_json("/api/v1/students", &valid_student("José Núñez-O'Brien"))
            .await;
        assert_eq!(response.status(), 201);
        let location = response.headers()["location"]
            .to_str()
            .expect("ascii")
            .to_owned();
        let student: Value = response.json().await.expect("json");
        assert_eq!(location, format!("/api/v1/students/{}", student["id"]));
        let number = student["student_number"].as_str().expect("number");
        assert!(
            number.starts_with('S') && number.len() >= 12,
            "generated number {number}"
        );
        assert_eq!(student["full_name"], "José Núñez-O'Brien");
        assert_eq!(student["status"], "active");
        assert_eq!(student["version"], 1);
        let fetched: Value = app.get_json(&location).await;
        assert_eq!(fetched, student);
    }
);

both_engines!(create_student_rejects_age_under_16, |app| {
    let mut body = valid_student("Young Person");
    let too_young = chrono::Utc::now().date_naive() - chrono::Duration::days(15 * 365);
    body["date_of_birth"] = json!(too_young.to_string());
    let problem = expect_problem(
        app.post_json("/api/v1/students", &body).await,
        422,
        "too young",
    )
    .await;
    assert_eq!(error_fields(&problem), vec!["date_of_birth"]);
    let list: Value = app.get_json("/api/v1/students").await;
    assert_eq!(list["total"], 0, "nothing was stored");
});

both_engines!(invalid_fields_are_each_reported_by_name, |app| {
    let cases = [
        (
            json!({"full_name": "<script>alert(1)</script>"}),
            "full_name",
            "markup in name",
        ),
        (json!({"full_name": "R2D2"}), "full_name", "digits in name"),
        (json!({"email": "not-an-email"}), "email", "bad email"),
        (
            json!({"date_of_birth": "1900-01-01"}),
            "date_of_birth",
            "over 100",
        ),
        (
            json!({"date_of_birth": "15/03/2000"}),
            "date_of_birth",
            "wrong date format",
        ),
        (
            json!({"department": "Astrology"}),
            "department",
            "unknown department",
        ),
        (json!({"status": "expelled"}), "status", "unknown status"),
        (
            json!({"enrolled_on": "1990-01-01"}),
            "enrolled_on",
            "enrolled before birth",
        ),
        (
            json!({"student_number": "12"}),
            "student_number",
            "bad number",
        ),
        (json!({"full_name": 42}), "full_name", "wrong type"),
        (json!({"nickname": "Ace"}), "nickname", "unknown field"),
    ];
    for (patch, field, why) in cases {
        let mut body = valid_student("Valid Name");
        for (k, v) in patch.as_object().expect("object") {
            body[k] = v.clone();
        }
        let problem =
            expect_problem(app.post_json("/api/v1/students", &body).await, 422, why).await;
        assert!(
            error_fields(&problem).contains(&field.to_owned()),
            "{why}: {problem}"
        );
    }
});

both_engines!(malformed_requests_get_clear_4xx_not_500, |app| {
    let raw = |body: &'static str, content_type: &'static str| {
        app.client
            .post(app.url("/api/v1/students"))
            .header("content-type", content_type)
            .body(body)
            .send()
    };
    expect_problem(
        raw("{\"full_name\": ", "application/json")
            .await
            .expect("sent"),
        400,
        "truncated JSON",
    )
    .await;
    expect_problem(
        raw("[]", "application/json").await.expect("sent"),
        422,
        "array body",
    )
    .await;
    expect_problem(
        raw("full_name=x", "application/x-www-form-urlencoded")
            .await
            .expect("sent"),
        415,
        "form body",
    )
    .await;
    let huge = json!({"full_name": "a".repeat(100_000)});
    expect_problem(
        app.post_json("/api/v1/students", &huge).await,
        413,
        "oversized body",
    )
    .await;
    expect_problem(app.get("/api/v1/students/999999").await, 404, "unknown id").await;
    expect_problem(app.get("/api/v1/students/abc").await, 404, "non-numeric id").await;
    expect_problem(app.get("/api/v1/students/-1").await, 404, "negative id").await;
    expect_problem(app.get("/api/v1/nothing-here").await, 404, "unknown route").await;
    let put = app
        .client
        .put(app.url("/api/v1/students"))
        .send()
        .await
        .expect("sent");
    expect_problem(put, 405, "wrong method").await;
});

both_engines!(
    idempotency_key_replays_the_first_response_and_refuses_a_different_body,
    |app| {
        let body = valid_student("Ada Lovelace");
        let send = |body: Value| {
            app.client
                .post(app.url("/api/v1/students"))
                .header("idempotency-key", "retry-123")
                .json(&body)
                .send()
        };
        let first = send(body.clone()).await.expect("sent");
        assert_eq!(first.status(), 201);
        let first_body: Value = first.json().await.expect("json");
        let second = send(body.clone()).await.expect("sent");
        assert_eq!(second.status(), 201);
        assert_eq!(second.headers()["idempotent-replayed"], "true");
        let second_body: Value = second.json().await.expect("json");
        assert_eq!(first_body, second_body);
        let list: Value = app.get_json("/api/v1/students").await;
        assert_eq!(list["total"], 1, "the retry created nothing");
        let mut other = body.clone();
        other["full_name"] = json!("Grace Hopper");
        expect_problem(
            send(other).await.expect("sent"),
            422,
            "same key, other body",
        )
        .await;
    }
);

both_engines!(
    an_edit_from_an_old_version_merges_or_names_its_clashes,
    |app| {
        let s = app
            .create_student("Alan Turing", Some("alan@example.edu"))
            .await;
        let path = format!("/api/v1/students/{}", s["id"]);
        let ok = app
            .patch_json(
                &path,
                &json!({"version": 1, "status": "on_leave", "email": null}),
            )
            .await;
        assert_eq!(ok.status(), 200);
        let updated: Value = ok.json().await.expect("json");
        assert_eq!(updated["version"], 2);
        assert_eq!(updated["status"], "on_leave");
        assert!(
            updated.get("email").is_none_or(Value::is_null),
            "email cleared: {updated}"
        );
        // From version 1, changing the status someone else changed since:
        // a real clash, named; nothing is written.
        let stale = app
            .patch_json(
                &path,
                &json!({"version": 1, "status": "graduated", "full_name": "Someone Else"}),
            )
            .await;
        let problem = expect_problem(stale, 409, "stale version").await;
        assert_eq!(problem["current"]["version"], 2);
        assert_eq!(problem["clashes"], json!(["status"]), "{problem}");
        let now: Value = app.get_json(&path).await;
        assert_eq!(now["full_name"], "Alan Turing", "nothing was overwritten");
        // From version 1, changing only fields nobody else changed: merged,
        // and the colleague's status and cleared email stay.
        let merged = app
            .patch_json(&path, &json!({"version": 1, "full_name": "Alan M. Turing"}))
            .await;
        assert_eq!(merged.status(), 200);
        let merged: Value = merged.json().await.expect("json");
        assert_eq!(merged["version"], 3);
        assert_eq!(merged["full_name"], "Alan M. Turing");
        assert_eq!(merged["status"], "on_leave", "the colleague's change stays");
        assert!(merged.get("email").is_none_or(Value::is_null), "{merged}");
        // Setting a field to what the colleague set is no clash either.
        let same = app
            .patch_json(&path, &json!({"version": 1, "status": "on_leave"}))
            .await;
        assert_eq!(same.status(), 200);
        let bad = app
            .patch_json(&path, &json!({"version": 3, "date_of_birth": "2030-01-01"}))
            .await;
        expect_problem(bad, 422, "bad patch").await;
        let future = app
            .patch_json(&path, &json!({"version": 99, "full_name": "Ahead Of Time"}))
            .await;
        expect_problem(future, 409, "a version from the future").await;
        let renumber = app
            .patch_json(&path, &json!({"version": 3, "student_number": "X-1"}))
            .await;
        expect_problem(renumber, 422, "numbers never change").await;
        let missing_version = app.patch_json(&path, &json!({"status": "active"})).await;
        expect_problem(missing_version, 422, "version is required").await;
    }
);

both_engines!(delete_is_soft_and_restore_brings_the_record_back, |app| {
    let s = app
        .create_student("Grace Hopper", Some("grace@example.edu"))
        .await;
    let path = format!("/api/v1/students/{}", s["id"]);
    assert_eq!(app.delete(&path).await.status(), 204);
    expect_problem(
        app.get(&path).await,
        404,
        "deleted record is gone from lookups",
    )
    .await;
    let live: Value = app.get_json("/api/v1/students").await;
    assert_eq!(live["total"], 0);
    let deleted: Value = app.get_json("/api/v1/students?deleted=true").await;
    assert_eq!(deleted["total"], 1);
    // Its email is free while it is deleted...
    let twin = app
        .create_student("Grace B Hopper", Some("grace@example.edu"))
        .await;
    let restore = app
        .client
        .post(app.url(&format!("{path}/restore")))
        .send()
        .await
        .expect("sent");
    expect_problem(restore, 409, "restore blocked while its email is taken").await;
    assert_eq!(
        app.delete(&format!("/api/v1/students/{}", twin["id"]))
            .await
            .status(),
        204
    );
    let restore = app
        .client
        .post(app.url(&format!("{path}/restore")))
        .send()
        .await
        .expect("sent");
    assert_eq!(restore.status(), 200);
    let back: Value = app.get_json(&path).await;
    assert_eq!(back["student_number"], s["student_number"]);
    assert_eq!(app.delete("/api/v1/students/424242").await.status(), 404);
});

both_engines!(duplicates_are_warned_and_can_be_confirmed, |app| {
    let first = app
        .create_student("Marie Curie", Some("marie@example.edu"))
        .await;
    let again = app
        .post_json("/api/v1/students", &valid_student("marie  curie"))
        .await;
    let problem = expect_problem(again, 409, "same name and birth date").await;
    assert_eq!(
        problem["duplicate_of"]["student_number"],
        first["student_number"]
    );
    assert_eq!(problem["confirmable"], true);
    let mut confirmed = valid_student("Marie Curie");
    confirmed["confirm_duplicate"] = json!(true);
    assert_eq!(
        app.post_json("/api/v1/students", &confirmed).await.status(),
        201
    );
    let mut same_email = valid_student("Pierre Curie");
    same_email["email"] = json!("MARIE@example.edu");
    same_email["confirm_duplicate"] = json!(true);
    let problem = expect_problem(
        app.post_json("/api/v1/students", &same_email).await,
        409,
        "email taken",
    )
    .await;
    assert_eq!(problem["confirmable"], false);
    assert_eq!(problem["duplicate_of"]["id"], first["id"]);
});

both_engines!(list_searches_filters_sorts_and_pages, |app| {
    app.create_student("Zed Alpha", Some("zed@example.edu"))
        .await;
    app.create_student("Amy Beta", Some("amy@uni.example.org"))
        .await;
    let mut medic = valid_student("Carl Gamma");
    medic["department"] = json!("Medicine");
    medic["status"] = json!("graduated");
    assert_eq!(
        app.post_json("/api/v1/students", &medic).await.status(),
        201
    );

    let names = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .expect("items")
            .iter()
            .map(|s| s["full_name"].as_str().unwrap_or_default().to_owned())
            .collect()
    };
    let app = &app;
    let get = |q: &'static str| async move { app.get_json(&format!("/api/v1/students?{q}")).await };
    assert_eq!(
        names(&get("sort=name").await),
        vec!["Amy Beta", "Carl Gamma", "Zed Alpha"]
    );
    assert_eq!(
        names(&get("sort=-name").await),
        vec!["Zed Alpha", "Carl Gamma", "Amy Beta"]
    );
    assert_eq!(
        names(&get("q=UNI.EXAMPLE").await),
        vec!["Amy Beta"],
        "q matches email, any case"
    );
    assert_eq!(names(&get("q=zed").await), vec!["Zed Alpha"]);
    assert_eq!(names(&get("department=medicine").await), vec!["Carl Gamma"]);
    assert_eq!(names(&get("status=graduated").await), vec!["Carl Gamma"]);
    assert_eq!(
        names(&get("q=%25").await),
        Vec::<String>::new(),
        "% is literal, not a wildcard"
    );
    let number = get("q=carl").await["items"][0]["student_number"]
        .as_str()
        .expect("number")
        .to_owned();
    assert_eq!(
        names(&app.get_json(&format!("/api/v1/students?q={number}")).await),
        vec!["Carl Gamma"]
    );
    let page2 = get("sort=name&per_page=2&page=2").await;
    assert_eq!(names(&page2), vec!["Zed Alpha"]);
    assert_eq!(page2["total"], 3);
    assert_eq!(page2["per_page"], 2);
    for (bad, why) in [
        ("per_page=201", "per_page over 200"),
        ("per_page=0", "zero per page"),
        ("page=-1", "negative page"),
        ("sort=age", "unknown sort"),
        ("status=gone", "unknown status"),
    ] {
        expect_problem(app.get(&format!("/api/v1/students?{bad}")).await, 400, why).await;
    }
});

both_engines!(
    search_sorting_and_duplicates_ignore_case_and_accents,
    |app| {
        app.create_student("Jürgen Müller", None).await;
        app.create_student("Zoë Smith", None).await;
        app.create_student("Émile Zola", None).await;
        app.create_student("Fay Ford", None).await;
        let found = |q: &'static str| names_found(&app, q);
        for q in ["muller", "Müller", "MÜLLER", "jurgen", "JÜRG"] {
            assert_eq!(found(q).await, vec!["Jürgen Müller"], "q={q}");
        }
        assert_eq!(found("zoe").await, vec!["Zoë Smith"]);
        assert_eq!(found("emile").await, vec!["Émile Zola"]);
        // É sorts with E, not after Z.
        let sorted: Value = app.get_json("/api/v1/students?sort=name").await;
        let names: Vec<&str> = sorted["items"]
            .as_array()
            .expect("items")
            .iter()
            .filter_map(|s| s["full_name"].as_str())
            .collect();
        assert_eq!(
            names,
            vec!["Émile Zola", "Fay Ford", "Jürgen Müller", "Zoë Smith"]
        );
        // The same name without its accent, born the same day: a duplicate.
        let again = app
            .post_json("/api/v1/students", &valid_student("Zoe Smith"))
            .await;
        expect_problem(again, 409, "Zoe is Zoë").await;

        // Rows written under older rules are rebuilt when an instance starts.
        let stale =
            "UPDATE students SET search_text = LOWER(full_name), name_key = LOWER(full_name); \
                 UPDATE text_folding SET version = 0";
        match app.engine {
            Engine::Sqlite => {
                let mut c =
                    <sqlx::SqliteConnection as sqlx::Connection>::connect(&app.database_url)
                        .await
                        .expect("connect");
                sqlx::Executor::execute(&mut c, sqlx::raw_sql(stale))
                    .await
                    .expect("stale");
            }
            Engine::MariaDb => {
                let mut c = <sqlx::MySqlConnection as sqlx::Connection>::connect(&app.database_url)
                    .await
                    .expect("connect");
                sqlx::Executor::execute(&mut c, sqlx::raw_sql(stale))
                    .await
                    .expect("stale");
            }
        }
        let restarted = spawn_sibling(&app).await;
        let page: Value = restarted
            .get("/api/v1/students?q=muller")
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(page["total"], 1, "{page}");
    }
);

both_engines!(hostile_text_is_stored_literally, |app| {
    let sneaky = "Robert'); DROP TABLE students;--";
    let r = app
        .get(&format!("/api/v1/students?q={}", urlencode(sneaky)))
        .await;
    assert_eq!(r.status(), 200);
    let s = app
        .create_student("O'Brien-Smith Jr.", Some("o'brien+test@example.edu"))
        .await;
    let fetched: Value = app.get_json(&format!("/api/v1/students/{}", s["id"])).await;
    assert_eq!(fetched["full_name"], "O'Brien-Smith Jr.");
    assert_eq!(fetched["email"], "o'brien+test@example.edu");
    let found: Value = app.get_json("/api/v1/students?q=o'brien").await;
    assert_eq!(found["total"], 1);
});

/// The names a search for `q` finds, in the list's order (by name).
async fn names_found(app: &crate::helpers::TestApp, q: &str) -> Vec<String> {
    let page: Value = app
        .get_json(&format!("/api/v1/students?q={}", urlencode(q)))
        .await;
    page["items"]
        .as_array()
        .expect("items")
        .iter()
        .map(|s| s["full_name"].as_str().unwrap_or_default().to_owned())
        .collect()
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

both_engines!(lists_follow_writes_made_through_another_instance, |app| {
    let other = crate::helpers::spawn_sibling(&app).await;
    let total = |app: &crate::helpers::TestApp| {
        let url = app.url("/api/v1/students?q=ada");
        let client = app.client.clone();
        async move {
            client
                .get(url)
                .send()
                .await
                .expect("sent")
                .json::<Value>()
                .await
                .expect("json")["total"]
                .clone()
        }
    };
    assert_eq!(total(&app).await, 0);
    let s = other.create_student("Ada Lovelace", None).await;
    assert_eq!(total(&app).await, 1, "a create elsewhere shows at once");
    let path = format!("/api/v1/students/{}", s["id"]);
    assert_eq!(
        other
            .patch_json(&path, &json!({"version": 1, "full_name": "Grace Hopper"}))
            .await
            .status(),
        200
    );
    assert_eq!(total(&app).await, 0, "an edit elsewhere shows at once");
    assert_eq!(
        other
            .patch_json(&path, &json!({"version": 2, "full_name": "Ada King"}))
            .await
            .status(),
        200
    );
    assert_eq!(total(&app).await, 1);
    assert_eq!(other.delete(&path).await.status(), 204);
    assert_eq!(total(&app).await, 0, "a delete elsewhere shows at once");
    let dept: Value = other
        .post_json("/api/v1/departments", &json!({"name": "Law"}))
        .await
        .json()
        .await
        .expect("json");
    let html = app.get("/students").await.text().await.expect("html");
    assert!(
        html.contains(">Law<"),
        "new department offered in the filter"
    );
    assert_eq!(
        other
            .delete(&format!("/api/v1/departments/{}", dept["id"]))
            .await
            .status(),
        204
    );
    let html = app.get("/students").await.text().await.expect("html");
    assert!(
        !html.contains(">Law<"),
        "deleted department gone from the filter"
    );
});

both_engines!(
    a_created_record_reads_back_exactly_as_it_was_answered,
    |app| {
        let mut body = crate::helpers::valid_student("Read Back");
        body["email"] = serde_json::json!("Read.Back@Example.edu");
        body["status"] = serde_json::json!("on_leave");
        let created = app.post_json("/api/v1/students", &body).await;
        assert_eq!(created.status(), 201);
        let created: serde_json::Value = created.json().await.expect("json");
        let id = created["id"].as_i64().expect("id");
        let read: serde_json::Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(
            created, read,
            "the answer to the create is the stored record"
        );
    }
);

both_engines!(
    search_takes_words_in_any_order_and_folds_punctuation,
    |app| {
        app.create_student("Ada Bz Sharma", None).await;
        app.create_student("Zoë Müller", None).await;
        app.create_student("Seán O'Brien", None).await;
        app.create_student("Anna Smith-Jones", None).await;
        app.create_student("Ada Lovelace", None).await;
        let found = |q: &'static str| names_found(&app, q);
        assert_eq!(found("Ada Sharma").await, ["Ada Bz Sharma"]);
        assert_eq!(found("sharma ada").await, ["Ada Bz Sharma"]);
        assert_eq!(found("ada").await, ["Ada Bz Sharma", "Ada Lovelace"]);
        assert_eq!(found("muller zoe").await, ["Zoë Müller"]);
        for q in ["obrien", "O'Brien", "o’brien", "brien seán"] {
            assert_eq!(found(q).await, ["Seán O'Brien"], "{q}");
        }
        for q in ["smith-jones", "Smith‐Jones", "jones anna", "smith jones"] {
            assert_eq!(found(q).await, ["Anna Smith-Jones"], "{q}");
        }
        assert!(
            found("’ -").await.is_empty(),
            "punctuation alone finds nothing"
        );
    }
);

both_engines!(every_write_path_keeps_the_search_text_in_step, |app| {
    let search = |q: String| {
        let app = &app;
        async move {
            let page: Value = app
                .get_json(&format!("/api/v1/students?q={}", urlencode(&q)))
                .await;
            page["items"]
                .as_array()
                .expect("items")
                .iter()
                .filter_map(|s| s["id"].as_i64())
                .collect::<Vec<_>>()
        }
    };
    // Create.
    let mut body = valid_student("Seán O'Brien");
    body["email"] = json!("sean.obrien@example.edu");
    let created: Value = app
        .post_json("/api/v1/students", &body)
        .await
        .json()
        .await
        .expect("json");
    let id = created["id"].as_i64().expect("id");
    let number = created["student_number"]
        .as_str()
        .expect("number")
        .to_owned();
    for q in ["obrien sean", number.as_str(), "sean.obrien@example"] {
        assert_eq!(search(q.to_owned()).await, [id], "after create: {q}");
    }
    // Update of another field, then of the name.
    let patched = app
        .patch_json(
            &format!("/api/v1/students/{id}"),
            &json!({"version": created["version"], "status": "on_leave"}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(
        search("o’brien".into()).await,
        [id],
        "after a status change"
    );
    assert_eq!(
        search(number.clone()).await,
        [id],
        "number after a status change"
    );
    // Contacts: a contact's phone is found, the old one no longer is.
    let patched = app
        .patch_json(
            &format!("/api/v1/students/{id}"),
            &json!({"version": patched["version"], "emergency_contacts": [
                {"name": "Mary O'Brien", "relationship": "mother", "phone": "020 7946 0958"}
            ]}),
        )
        .await;
    assert_eq!(patched.status(), 200);
    let patched: Value = patched.json().await.expect("json");
    assert_eq!(search("7946-0958".into()).await, [id], "a contact's phone");
    let renamed = app
        .patch_json(
            &format!("/api/v1/students/{id}"),
            &json!({"version": patched["version"], "full_name": "Seán Smith-O'Brien"}),
        )
        .await;
    assert_eq!(renamed.status(), 200);
    assert_eq!(search("smith obrien".into()).await, [id], "after a rename");
    // Bulk change through the page.
    let csrf = app.csrf_token().await;
    let bulk = app
        .client
        .post(app.url("/students/bulk"))
        .form(&[
            ("csrf_token", csrf),
            ("scope", "picked".into()),
            ("ids", id.to_string()),
            ("set_status", "graduated".into()),
        ])
        .send()
        .await
        .expect("sent");
    assert!(bulk.status().is_success() || bulk.status().is_redirection());
    assert_eq!(
        search("smith obrien".into()).await,
        [id],
        "after a bulk change"
    );
    // Delete and restore.
    assert_eq!(
        app.delete(&format!("/api/v1/students/{id}")).await.status(),
        204
    );
    assert!(search("smith obrien".into()).await.is_empty(), "deleted");
    let restored = app
        .client
        .post(app.url(&format!("/api/v1/students/{id}/restore")))
        .send()
        .await
        .expect("sent");
    assert!(restored.status().is_success(), "{}", restored.status());
    assert_eq!(search("smith obrien".into()).await, [id], "after a restore");
    // Import.
    let imported = app
        .client
        .post(app.url("/api/v1/students/import"))
        .header("content-type", "text/csv")
        .body("full_name,date_of_birth,department\n\"Zoë D’Arcy-Müller\",2001-02-03,Arts\n")
        .send()
        .await
        .expect("sent");
    let summary: Value = imported.json().await.expect("json");
    assert_eq!(summary["imported"], 1, "{summary}");
    assert_eq!(
        search("muller darcy zoe".into()).await.len(),
        1,
        "after an import"
    );
});

/// The server restarting, or the network cutting every connection srs
/// holds to MariaDB: the next read reconnects (the change counters' own
/// connection too) instead of failing.
#[tokio::test]
async fn reads_go_on_after_every_database_connection_was_cut() {
    use sqlx::Connection;
    if !crate::helpers::mariadb_available() {
        return;
    }
    let app = crate::helpers::spawn_app(Engine::MariaDb).await;
    let list = app.url("/api/v1/students");
    assert_eq!(
        crate::helpers::status_of(&app.client, list.clone()).await,
        200
    );
    let database = app
        .database_url
        .rsplit('/')
        .next()
        .expect("a database name")
        .to_owned();
    let mut admin = sqlx::MySqlConnection::connect(&crate::helpers::mariadb_base_url())
        .await
        .expect("admin connection");
    let ids: Vec<i64> = sqlx::query_scalar(
        "SELECT id FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
    )
    .bind(&database)
    .fetch_all(&mut admin)
    .await
    .expect("connections");
    assert!(!ids.is_empty(), "srs holds connections to {database}");
    for id in ids {
        sqlx::query(&format!("KILL {id}"))
            .execute(&mut admin)
            .await
            .expect("kill");
    }
    for _ in 0..3 {
        assert_eq!(
            crate::helpers::status_of(&app.client, list.clone()).await,
            200,
            "a cut connection is replaced, not reported"
        );
    }
}
