use crate::both_engines;
use crate::helpers::{anonymous, expect_problem, valid_student};
use serde_json::{json, Value};

both_engines!(every_response_carries_the_security_headers, |app| {
    let long = format!("/api/v1/students?q={}", "a".repeat(5000));
    for path in [
        "/students",
        "/login",
        "/api/v1/students",
        "/no/such/page",
        "/assets/bootstrap.min.css",
        "/healthz",
        long.as_str(),
    ] {
        for client in [&app.client, &anonymous()] {
            let r = client.get(app.url(path)).send().await.expect("sent");
            let h = r.headers();
            let csp = h
                .get("content-security-policy")
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            assert!(
                csp.contains("script-src 'self'") && csp.contains("frame-ancestors 'none'"),
                "{path}: {csp}"
            );
            assert!(
                !csp.contains("unsafe-inline"),
                "{path}: no inline code allowed"
            );
            assert_eq!(h["x-content-type-options"], "nosniff", "{path}");
            assert_eq!(h["referrer-policy"], "same-origin", "{path}");
            assert_eq!(h["x-frame-options"], "DENY", "{path}");
        }
    }
    let docs = anonymous()
        .get(app.url("/api/docs/"))
        .send()
        .await
        .expect("sent");
    let csp = docs.headers()["content-security-policy"]
        .to_str()
        .unwrap_or_default()
        .to_owned();
    assert!(
        csp.contains("script-src 'self';"),
        "the API reference runs only our scripts: {csp}"
    );
});

both_engines!(oversized_query_strings_are_refused, |app| {
    let r = app
        .get(&format!("/api/v1/students?q={}", "a".repeat(5000)))
        .await;
    assert_eq!(r.status(), 414);
    let r = app
        .get(&format!("/api/v1/students?q={}", "a".repeat(201)))
        .await;
    expect_problem(r, 400, "q over 200 characters").await;
});

both_engines!(
    attack_payloads_are_stored_literally_or_refused_never_500,
    |app| {
        let payloads = [
            "' OR '1'='1",
            "Robert'); DROP TABLE students;--",
            "<script>alert(document.cookie)</script>",
            "<img src=x onerror=alert(1)>",
            "\" onmouseover=\"alert(1)",
            "%00%27%22",
            "${7*7}{{7*7}}",
            "../../etc/passwd",
            "\u{202e}evil\u{0000}",
        ];
        let long = "x".repeat(70_000);
        let fields = [
            "student_number",
            "full_name",
            "email",
            "date_of_birth",
            "department",
            "status",
            "enrolled_on",
        ];
        for payload in payloads.iter().copied().chain([long.as_str()]) {
            for field in fields {
                let mut body = valid_student("Attack Target");
                body[field] = json!(payload);
                body["confirm_duplicate"] = json!(true);
                let r = app.post_json("/api/v1/students", &body).await;
                let status = r.status().as_u16();
                assert!(
                    matches!(status, 201 | 413 | 422),
                    "{field} = {:.40}: {status}",
                    payload
                );
                if status == 201 {
                    let s: Value = r.json().await.expect("json");
                    let stored: Value =
                        app.get_json(&format!("/api/v1/students/{}", s["id"])).await;
                    assert_eq!(stored[field].as_str(), Some(payload), "stored literally");
                }
            }
            for param in [
                "q",
                "department",
                "status",
                "sort",
                "page",
                "per_page",
                "deleted",
            ] {
                let url = format!(
                    "/api/v1/students?{param}={}",
                    urlencode(&payload[..payload.len().min(300)])
                );
                let status = app.get(&url).await.status().as_u16();
                assert!(
                    status == 200 || status == 400,
                    "{param} = {:.40}: {status}",
                    payload
                );
                let page = app
                    .client
                    .get(app.url(&url.replace("/api/v1", "")))
                    .send()
                    .await
                    .expect("sent");
                let status = page.status().as_u16();
                assert!(status == 200 || status == 400, "page {param}: {status}");
                let html = page.text().await.expect("html");
                assert!(
                    !html.contains("<script>alert") && !html.contains("<img src=x"),
                    "escaped on the page"
                );
            }
        }
        let list: Value = app.get_json("/api/v1/students?per_page=200").await;
        assert!(list["total"].as_i64().is_some(), "the table is still there");
    }
);

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
