use crate::both_engines;
use crate::helpers::{error_fields, expect_problem};
use serde_json::{json, Value};

fn with_contacts(name: &str) -> Value {
    json!({
        "full_name": name,
        "date_of_birth": "2000-03-15",
        "department": "Arts",
        "phone": "+1 (555) 123-4567",
        "address": "12 Rue de la Paix\n75002 Paris",
        "emergency_contacts": [
            {"name": "Maria Núñez", "relationship": "mother", "phone": "+34 600 123 456"},
            {"name": "John Smith", "relationship": "uncle", "phone": "020 7946 0958"}
        ]
    })
}

both_engines!(
    contact_details_are_stored_validated_and_searchable_by_phone,
    |app| {
        let created = app
            .post_json("/api/v1/students", &with_contacts("Contact Person"))
            .await;
        assert_eq!(created.status(), 201);
        let s: Value = created.json().await.expect("json");
        let id = s["id"].as_i64().expect("id");
        assert_eq!(s["phone"], "+1 (555) 123-4567");
        assert_eq!(s["address"], "12 Rue de la Paix\n75002 Paris");
        assert_eq!(s["emergency_contacts"][0]["name"], "Maria Núñez");
        assert_eq!(s["emergency_contacts"][1]["phone"], "020 7946 0958");
        let read: Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(
            read["emergency_contacts"], s["emergency_contacts"],
            "reads back as written"
        );

        // Search finds the student by their phone or a contact's, however written.
        app.create_student("Other Person", None).await;
        for q in [
            "555 123 4567",
            "(555) 123-45",
            "5551234567",
            "600123456",
            "7946-0958",
        ] {
            let found: Value = app
                .get_json(&format!("/api/v1/students?q={}", urlencoding(q)))
                .await;
            assert_eq!(found["total"], 1, "searching {q}: {found}");
            assert_eq!(found["items"][0]["id"], id, "searching {q}");
        }

        // Bad values: a clear error on the field, nothing stored.
        let cases = [
            (json!({"phone": "call me"}), "phone"),
            (json!({"phone": "123"}), "phone"),
            (json!({"address": "x\n".repeat(7)}), "address"),
            (
                json!({"emergency_contacts": [{"name": "Mum", "relationship": "mother"}]}),
                "emergency_contacts",
            ),
            (
                json!({"emergency_contacts": [{"name": "M", "relationship": "mother", "phone": "5551234567"}]}),
                "emergency_contacts",
            ),
            (
                json!({"emergency_contacts": "not a list"}),
                "emergency_contacts",
            ),
            (json!({"phone": 5551234567_i64}), "phone"),
        ];
        for (patch, field) in cases {
            let mut body = with_contacts("Invalid Contact");
            for (k, v) in patch.as_object().expect("object") {
                body[k] = v.clone();
            }
            let problem =
                expect_problem(app.post_json("/api/v1/students", &body).await, 422, field).await;
            assert_eq!(
                error_fields(&problem),
                vec![field.to_owned()],
                "{patch}: {problem}"
            );
        }
        let four = json!([
            {"name": "Ann Ay", "relationship": "a", "phone": "5551234567"},
            {"name": "Bob Be", "relationship": "b", "phone": "5551234567"},
            {"name": "Cid Ce", "relationship": "c", "phone": "5551234567"},
            {"name": "Dee De", "relationship": "d", "phone": "5551234567"}
        ]);
        let mut body = with_contacts("Too Many");
        body["emergency_contacts"] = four;
        let problem =
            expect_problem(app.post_json("/api/v1/students", &body).await, 422, "four").await;
        assert!(problem.to_string().contains("at most 3"), "{problem}");

        // A change clears a field with null, keeps absent ones, and is audited.
        let version = read["version"].as_i64().expect("version");
        let changed = app
            .patch_json(
                &format!("/api/v1/students/{id}"),
                &json!({"version": version, "phone": null, "emergency_contacts": []}),
            )
            .await;
        assert_eq!(changed.status(), 200);
        let changed: Value = changed.json().await.expect("json");
        assert_eq!(changed["phone"], Value::Null);
        assert_eq!(changed["emergency_contacts"], json!([]));
        assert_eq!(
            changed["address"], "12 Rue de la Paix\n75002 Paris",
            "absent stays"
        );
        let history: Vec<Value> = app
            .get_json(&format!("/api/v1/students/{id}/history"))
            .await;
        let fields: Vec<&str> = history[0]["changes"]
            .as_array()
            .expect("changes")
            .iter()
            .filter_map(|c| c["field"].as_str())
            .collect();
        assert!(
            fields.contains(&"phone") && fields.contains(&"emergency_contacts"),
            "{fields:?}"
        );
        let page = app
            .get(&format!("/students/{id}"))
            .await
            .text()
            .await
            .expect("html");
        assert!(
            page.contains("Maria Núñez (mother): +34 600 123 456"),
            "history in words"
        );
    }
);

fn urlencoding(q: &str) -> String {
    q.bytes()
        .map(|b| match b {
            b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'-' | b'.' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

both_engines!(contacts_travel_through_csv_and_the_form, |app| {
    let created = app
        .post_json("/api/v1/students", &with_contacts("Csv Person"))
        .await;
    assert_eq!(created.status(), 201);
    let export = app
        .get("/api/v1/students/export.csv")
        .await
        .text()
        .await
        .expect("csv");
    let header = export.lines().next().expect("header");
    assert!(
        header.contains("phone,address,emergency_contacts"),
        "{header}"
    );
    assert!(
        export.contains("Maria Núñez (mother): +34 600 123 456; John Smith (uncle): 020 7946 0958")
    );

    // The export imports back (as new students once the first is gone).
    let id = created.json::<Value>().await.expect("json")["id"]
        .as_i64()
        .expect("id");
    assert_eq!(
        app.delete(&format!("/api/v1/students/{id}")).await.status(),
        204
    );
    let imported = app
        .client
        .post(app.url("/api/v1/students/import?allow_duplicates=true"))
        .header("content-type", "text/csv")
        .body(export.replace(&export.lines().nth(1).expect("row")[..12], ""))
        .send()
        .await
        .expect("sent");
    let summary: Value = imported.json().await.expect("json");
    assert_eq!(summary["imported"], 1, "{summary}");
    let list: Value = app.get_json("/api/v1/students?q=Csv").await;
    assert_eq!(
        list["items"][0]["emergency_contacts"][1]["relationship"],
        "uncle"
    );
    assert_eq!(
        list["items"][0]["address"],
        "12 Rue de la Paix\n75002 Paris"
    );

    // A bad contact in a CSV row is reported with its line and value.
    let csv =
        "full_name,date_of_birth,department,emergency_contacts\nBad Row,2000-01-01,Arts,Mum: 555\n";
    let problem = expect_problem(
        app.client
            .post(app.url("/api/v1/students/import"))
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await
            .expect("sent"),
        422,
        "bad contact",
    )
    .await;
    assert_eq!(problem["row_errors"][0]["line"], 2);
    assert_eq!(problem["row_errors"][0]["field"], "emergency_contacts");
    assert_eq!(problem["row_errors"][0]["value"], "Mum: 555");

    // The form: contact rows in, errors beside them, values kept.
    let csrf = app.csrf_token().await;
    let person = |contact_phone: &'static str| {
        [
            ("csrf_token", csrf.clone()),
            ("full_name", "Form Person".into()),
            ("date_of_birth", "2001-01-01".into()),
            ("department", "Arts".into()),
            ("status", "active".into()),
            ("phone", "555 987 6543".into()),
            ("address", "1 Main St\r\nSpringfield".into()),
            ("emergency_name_1", "Anne Byron".into()),
            ("emergency_relationship_1", "mother".into()),
            ("emergency_phone_1", contact_phone.to_owned()),
        ]
    };
    let response = app
        .client
        .post(app.url("/students"))
        .form(&person("12"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 422);
    let html = response.text().await.expect("html");
    assert!(html.contains("id=\"emergency_contacts-error\""), "{html}");
    assert!(html.contains("Contact 1: phone:"));
    assert!(html.contains("value=\"Anne Byron\""), "typed values kept");
    assert!(html.contains("href=\"#emergency_contacts\">Emergency contacts</a>"));
    let response = app
        .client
        .post(app.url("/students"))
        .form(&person("555 000 1111"))
        .send()
        .await
        .expect("sent");
    assert_eq!(response.status(), 303);
    let location = response.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let page = app.get(&location).await.text().await.expect("html");
    assert!(page.contains("href=\"tel:5559876543\""), "{page}");
    assert!(page.contains("Anne Byron"));
    let edit = app
        .get(&format!("{location}/edit"))
        .await
        .text()
        .await
        .expect("html");
    assert!(
        edit.contains("name=\"emergency_phone_1\" value=\"555 000 1111\""),
        "{edit}"
    );
    assert!(edit.contains("1 Main St\nSpringfield</textarea>"));
});
