use crate::both_engines;
use crate::helpers::{csrf_of, sign_out, PASSWORD};
use srs_domain::Role;

/// The value of the hidden input `name` in `html`.
fn hidden(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = start + html[start..].find('"')?;
    Some(html[start..end].replace("&amp;", "&").replace("&#61;", "="))
}

both_engines!(
    an_edit_sent_after_the_session_expired_is_kept_through_sign_in,
    |app| {
        let student = app.create_student("Kept Edit", None).await;
        let id = student["id"].as_i64().expect("id");
        app.as_user("rita", Role::Registrar).await;
        // A browser: a session cookie only, no bearer token.
        let rita = crate::helpers::anonymous();
        crate::helpers::sign_in(&rita, &app.address, "rita", PASSWORD).await;
        let edit = app.url(&format!("/students/{id}/edit"));
        let csrf = csrf_of(&rita, &edit).await;

        // The session ends while the form is open (here: signed out elsewhere).
        assert_eq!(sign_out(&rita, &app.address).await.status(), 303);
        let form = [
            ("csrf_token", csrf.as_str()),
            ("version", "1"),
            ("full_name", "Kept Edit Changed"),
            ("email", ""),
            ("date_of_birth", "2000-03-15"),
            ("department", "Arts"),
            ("status", "on_leave"),
            (
                "enrolled_on",
                student["enrolled_on"].as_str().expect("date"),
            ),
        ];
        let response = rita.post(&edit).form(&form).send().await.expect("sent");
        assert_eq!(response.status(), 401);
        let html = response.text().await.expect("html");
        assert!(html.contains("Your session had expired"), "{html}");
        let resume = hidden(&html, "resume").expect("the form is kept");
        assert!(resume.contains("Kept+Edit+Changed"), "{resume}");
        assert!(
            !resume.contains("csrf_token"),
            "the old token is not carried"
        );
        assert_eq!(
            hidden(&html, "next").as_deref(),
            Some(format!("/students/{id}/edit").as_str())
        );
        assert_eq!(
            app.get(&format!("/api/v1/students/{id}"))
                .await
                .json::<serde_json::Value>()
                .await
                .expect("json")["full_name"],
            "Kept Edit",
            "nothing saved without a session"
        );

        // Signing in shows what was sent, ready to send again.
        let token = csrf_of(&rita, &app.url("/login")).await;
        let response = rita
            .post(app.url("/login"))
            .form(&[
                ("csrf_token", token.as_str()),
                ("username", "rita"),
                ("password", PASSWORD),
                ("next", &format!("/students/{id}/edit")),
                ("resume", &resume),
            ])
            .send()
            .await
            .expect("sent");
        assert_eq!(response.status(), 200);
        let html = response.text().await.expect("html");
        assert!(html.contains("nothing was saved"), "{html}");
        assert!(html.contains("Kept Edit Changed"));
        assert!(html.contains(&format!("action=\"/students/{id}/edit\"")));
        let fresh = hidden(&html, "csrf_token").expect("token");
        let mut again: Vec<(&str, &str)> = form.to_vec();
        again[0] = ("csrf_token", fresh.as_str());
        let response = rita.post(&edit).form(&again).send().await.expect("sent");
        assert_eq!(response.status(), 303, "saved once sent again");
        let saved: serde_json::Value = app.get_json(&format!("/api/v1/students/{id}")).await;
        assert_eq!(saved["full_name"], "Kept Edit Changed");
        assert_eq!(saved["status"], "on_leave");
    }
);

both_engines!(a_forged_form_is_not_kept_for_after_sign_in, |app| {
    let student = app.create_student("Not Forged", None).await;
    let id = student["id"].as_i64().expect("id");
    // Another site's form: no CSRF cookie, no token.
    let stranger = crate::helpers::anonymous();
    let response = stranger
        .post(app.url(&format!("/students/{id}/edit")))
        .form(&[("version", "1"), ("full_name", "Forged")])
        .send()
        .await
        .expect("sent");
    assert_eq!(
        response.status(),
        303,
        "sent to sign in, as any anonymous request"
    );
    let login = crate::helpers::page_text(&stranger, &app.url("/login")).await;
    assert!(!login.contains("name=\"resume\""));
});
