use crate::both_engines;
use crate::helpers::{expect_problem, valid_student};
use serde_json::{json, Value};

both_engines!(
    departments_are_seeded_added_renamed_retired_and_protected,
    |app| {
        let list: Vec<Value> = app.get_json("/api/v1/departments").await;
        let names: Vec<&str> = list.iter().filter_map(|d| d["name"].as_str()).collect();
        for seeded in [
            "Computer Science",
            "Engineering",
            "Business",
            "Medicine",
            "Arts",
        ] {
            assert!(names.contains(&seeded), "{seeded} is seeded");
        }
        let created = app
            .post_json("/api/v1/departments", &json!({"name": "Law"}))
            .await;
        assert_eq!(created.status(), 201);
        let law: Value = created.json().await.expect("json");
        let dup = app
            .post_json("/api/v1/departments", &json!({"name": "LAW"}))
            .await;
        expect_problem(dup, 422, "names are unique regardless of case").await;
        expect_problem(
            app.post_json("/api/v1/departments", &json!({"name": "<b>"}))
                .await,
            422,
            "bad name",
        )
        .await;

        let path = format!("/api/v1/departments/{}", law["id"]);
        let renamed: Value = app
            .patch_json(&path, &json!({"name": "Law School"}))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(renamed["name"], "Law School");
        let mut student = valid_student("Portia Law");
        student["department"] = json!("law school");
        let created = app.post_json("/api/v1/students", &student).await;
        assert_eq!(
            created.status(),
            201,
            "department names match regardless of case"
        );
        let s: Value = created.json().await.expect("json");
        assert_eq!(s["department"], "Law School");

        let retired: Value = app
            .patch_json(&path, &json!({"retired": true}))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(retired["retired"], true);
        let mut another = valid_student("Late Applicant");
        another["department"] = json!("Law School");
        expect_problem(
            app.post_json("/api/v1/students", &another).await,
            422,
            "retired departments take no new students",
        )
        .await;
        let still: Value = app.get_json(&format!("/api/v1/students/{}", s["id"])).await;
        assert_eq!(
            still["department"], "Law School",
            "existing students keep it"
        );

        expect_problem(app.delete(&path).await, 409, "in use: cannot delete").await;
        let unused: Value = app
            .post_json("/api/v1/departments", &json!({"name": "Temporary"}))
            .await
            .json()
            .await
            .expect("json");
        assert_eq!(
            app.delete(&format!("/api/v1/departments/{}", unused["id"]))
                .await
                .status(),
            204
        );
        expect_problem(
            app.delete("/api/v1/departments/99999").await,
            404,
            "unknown department",
        )
        .await;
    }
);

both_engines!(
    a_rename_reaches_students_read_before_it_and_their_next_edit,
    |app| {
        let dept: Value = app
            .post_json("/api/v1/departments", &json!({"name": "Optics"}))
            .await
            .json()
            .await
            .expect("json");
        let mut body = valid_student("Ibn al-Haytham");
        body["department"] = json!("Optics");
        let created: Value = app
            .post_json("/api/v1/students", &body)
            .await
            .json()
            .await
            .expect("json");
        let path = format!("/api/v1/students/{}", created["id"]);
        // Read (and cached) before the rename.
        let before: Value = app.get_json(&path).await;
        assert_eq!(before["department"], "Optics");
        let listed: Value = app.get_json("/api/v1/students?q=haytham").await;
        assert_eq!(listed["items"][0]["department"], "Optics");

        let renamed = app
            .patch_json(
                &format!("/api/v1/departments/{}", dept["id"]),
                &json!({"name": "Optics and Light"}),
            )
            .await;
        assert_eq!(renamed.status(), 200);
        let after: Value = app.get_json(&path).await;
        assert_eq!(after["department"], "Optics and Light", "the record");
        let listed: Value = app.get_json("/api/v1/students?q=haytham").await;
        assert_eq!(
            listed["items"][0]["department"], "Optics and Light",
            "the list"
        );
        let edited = app
            .patch_json(
                &path,
                &json!({"version": after["version"], "phone": "+44 20 7946 0958"}),
            )
            .await;
        assert_eq!(edited.status(), 200, "an edit after the rename saves");
    }
);
