use reqwest::header::{HeaderMap, HeaderValue, AUTHORIZATION};
use reqwest::{Client, Response};
use serde_json::{json, Value};
use srs_domain::Role;
use srs_store::{Actor, Store};
use srs_web::auth::service;
use srs_web::{Application, Settings};
use std::sync::Once;
use tempfile::TempDir;

/// The engines every API test runs on.
#[derive(Debug, Clone, Copy)]
pub enum Engine {
    Sqlite,
    MariaDb,
}

/// A running app with its own fresh database, and a client for it.
pub struct TestApp {
    pub address: String,
    /// Acts as the `admin` account: a bearer token plus a signed-in session.
    pub client: Client,
    pub store: Store,
    pub database_url: String,
    pub engine: Engine,
    /// The instance's write gate, as the DR controller would narrow it.
    pub write_gate: std::sync::Arc<srs_web::admission::WriteGate>,
    _dir: TempDir,
}

static TRACING: Once = Once::new();

fn init_logs() {
    TRACING.call_once(|| {
        if std::env::var_os("TEST_LOG").is_some() {
            let _ = srs_web::telemetry::init(srs_web::LogFormat::Text, "info,sqlx=warn");
        }
    });
}

/// How to get a MariaDB server for the tests without root.
const HOW_TO_GET_MARIADB: &str =
    "run `scripts/dev-mariadb` and export the SRS_TEST_MYSQL_URL it prints, or run scripts/test";

/// The whole suite must run (scripts/test sets SRS_TEST_ALL=1): a missing
/// tool then fails its tests instead of skipping them.
fn must_run_all() -> bool {
    std::env::var_os("SRS_TEST_ALL").is_some_and(|v| v == "1")
}

/// Whether a test that needs `what` can run. In the fast loop (no
/// SRS_TEST_ALL) a missing one skips the test with a note saying `how`
/// to get it; in the whole suite it fails the test.
pub fn available(what: &str, present: bool, how: &str) -> bool {
    if present {
        return true;
    }
    assert!(!must_run_all(), "{what} is missing: {how}");
    eprintln!("skipped: this test needs {what}: {how}");
    false
}

/// A MariaDB server for the tests is known (SRS_TEST_MYSQL_URL).
pub fn mariadb_available() -> bool {
    let set = std::env::var("SRS_TEST_MYSQL_URL").is_ok_and(|url| !url.is_empty());
    available("a MariaDB server", set, HOW_TO_GET_MARIADB)
}

/// The MariaDB server scripts/test starts, e.g. mysql://root@127.0.0.1:3407
pub fn mariadb_base_url() -> String {
    match std::env::var("SRS_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => panic!("SRS_TEST_MYSQL_URL is not set: {HOW_TO_GET_MARIADB}"),
    }
}

/// The status of a GET by `client`.
pub async fn status_of(client: &Client, url: String) -> reqwest::StatusCode {
    client.get(url).send().await.expect("sent").status()
}

/// Starts an app on `engine` with an empty database of its own.
pub async fn spawn_app(engine: Engine) -> TestApp {
    spawn_app_configured(engine, |_| {}).await
}

/// Like `spawn_app`, with settings changed by `adjust`.
pub async fn spawn_app_configured(engine: Engine, adjust: impl FnOnce(&mut Settings)) -> TestApp {
    init_logs();
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = match engine {
        Engine::Sqlite => format!("sqlite:{}", dir.path().join("data/srs.db").display()),
        Engine::MariaDb => format!(
            "{}/srs_test_{}",
            mariadb_base_url(),
            uuid::Uuid::new_v4().simple()
        ),
    };
    start(engine, database_url, dir, None, adjust).await
}

/// Starts an app on SQLite whose clock the test moves.
pub async fn spawn_app_with_clock(clock: std::sync::Arc<dyn srs_web::auth::Clock>) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    let database_url = format!("sqlite:{}", dir.path().join("data/srs.db").display());
    start(Engine::Sqlite, database_url, dir, Some(clock), |_| {}).await
}

/// Starts a second app on the database `other` uses, as a second instance
/// of the same site would run.
pub async fn spawn_sibling(other: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    start(other.engine, other.database_url.clone(), dir, None, |_| {}).await
}

async fn start(
    engine: Engine,
    database_url: String,
    dir: TempDir,
    clock: Option<std::sync::Arc<dyn srs_web::auth::Clock>>,
    adjust: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings::for_database(&database_url);
    settings.site_name = srs_web::SiteName::parse("test-site").expect("valid");
    settings.max_body_bytes = 16 * 1024;
    settings.max_import_bytes = 512 * 1024;
    adjust(&mut settings);
    let app = match clock {
        Some(clock) => Application::build_with_clock(settings, clock).await,
        None => Application::build(settings).await,
    }
    .expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    let store = app.state().store.clone();
    let write_gate = app.state().write_gate.clone();
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = client_for(&store, &address, "admin", Role::Admin).await;
    TestApp {
        address,
        client,
        store,
        database_url,
        engine,
        write_gate,
        _dir: dir,
    }
}

/// The password every test account gets.
pub const PASSWORD: &str = "correct horse battery staple";

/// A client acting as `username` (created with `role` if new): a bearer
/// token for the API and a signed-in session for the pages.
pub async fn client_for(store: &Store, address: &str, username: &str, role: Role) -> Client {
    let actor = Actor::system("tests");
    let user = match service::find_user(store, username).await {
        Ok(u) => u,
        Err(_) => service::create_user(store, username, role, PASSWORD, &actor)
            .await
            .expect("account"),
    };
    let (token, _) = service::create_token(store, user.id, "tests", None, &actor)
        .await
        .expect("token");
    let mut headers = HeaderMap::new();
    headers.insert(
        AUTHORIZATION,
        HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
    );
    let client = Client::builder()
        .cookie_store(true)
        .default_headers(headers)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    sign_in(&client, address, username, PASSWORD).await;
    client
}

/// A client with no credentials at all.
pub fn anonymous() -> Client {
    Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client")
}

/// The page at `url` as `client` sees it.
pub async fn page_text(client: &Client, url: &str) -> String {
    client
        .get(url)
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html")
}

/// The CSRF token of the page at `url`, read from its first form.
pub async fn csrf_of(client: &Client, url: &str) -> String {
    let html = client
        .get(url)
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    let marker = "name=\"csrf_token\" value=\"";
    let start = html
        .find(marker)
        .expect("the page has a form with a CSRF field")
        + marker.len();
    html[start..start + 64].to_owned()
}

/// Signs `client` in through the login form; panics if it fails.
pub async fn sign_in(client: &Client, address: &str, username: &str, password: &str) {
    let status = try_sign_in(client, address, username, password)
        .await
        .status();
    assert_eq!(status, 303, "sign-in of {username}");
}

/// Posts the login form and returns the answer.
pub async fn try_sign_in(
    client: &Client,
    address: &str,
    username: &str,
    password: &str,
) -> Response {
    let token = csrf_of(client, &format!("{address}/login")).await;
    client
        .post(format!("{address}/login"))
        .form(&[
            ("csrf_token", token.as_str()),
            ("username", username),
            ("password", password),
        ])
        .send()
        .await
        .expect("sign-in request")
}

/// Signs `client` out of the app at `address` (the form's POST, with its
/// CSRF token); the answer.
pub async fn sign_out(client: &Client, address: &str) -> Response {
    let token = csrf_of(client, &format!("{address}/students")).await;
    client
        .post(format!("{address}/logout"))
        .form(&[("csrf_token", token.as_str())])
        .send()
        .await
        .expect("sent")
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    pub async fn get(&self, path: &str) -> Response {
        self.client
            .get(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// GETs `path` as this app's admin and reads the JSON answer.
    pub async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> T {
        self.get(path).await.json().await.expect("json")
    }

    pub async fn post_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .post(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn patch_json(&self, path: &str, body: &Value) -> Response {
        self.client
            .patch(self.url(path))
            .json(body)
            .send()
            .await
            .expect("request")
    }

    pub async fn delete(&self, path: &str) -> Response {
        self.client
            .delete(self.url(path))
            .send()
            .await
            .expect("request")
    }

    /// Creates a valid student and returns its JSON.
    pub async fn create_student(&self, name: &str, email: Option<&str>) -> Value {
        let mut body = valid_student(name);
        if let Some(e) = email {
            body["email"] = json!(e);
        }
        let response = self.post_json("/api/v1/students", &body).await;
        assert_eq!(response.status(), 201, "creating {name}");
        response.json().await.expect("json")
    }

    /// A client acting as a new or existing account with `role`.
    pub async fn as_user(&self, username: &str, role: Role) -> Client {
        client_for(&self.store, &self.address, username, role).await
    }

    /// Posts a page form (urlencoded) as this app's admin.
    pub async fn post_form(&self, path: &str, form: &[(&str, &str)]) -> Response {
        self.client
            .post(self.url(path))
            .form(form)
            .send()
            .await
            .expect("sent")
    }

    /// Uploads `csv` on the import page with a fresh CSRF token and the
    /// ticked `options` (e.g. `dry_run`, `skip_invalid`).
    pub async fn upload_csv(&self, csv: &str, options: &[&str]) -> Response {
        self.upload_csv_to("/import", csv, options).await
    }

    /// The import form sent to `path` (its Upload button's, or another
    /// button's formaction) with `csv` and the ticked `options`.
    pub async fn upload_csv_to(&self, path: &str, csv: &str, options: &[&str]) -> Response {
        let mut form = reqwest::multipart::Form::new()
            .text("csrf_token", self.csrf_token().await)
            .part(
                "file",
                reqwest::multipart::Part::bytes(csv.as_bytes().to_vec())
                    .file_name("students.csv")
                    .mime_str("text/csv")
                    .expect("mime"),
            );
        for option in options {
            form = form.text(option.to_string(), "true");
        }
        self.client
            .post(self.url(path))
            .multipart(form)
            .send()
            .await
            .expect("upload")
    }

    /// A fresh CSRF token: load a page, then read the hidden form field.
    pub async fn csrf_token(&self) -> String {
        csrf_of(&self.client, &self.url("/students/new")).await
    }
}

/// A student body that passes every rule.
pub fn valid_student(name: &str) -> Value {
    json!({
        "full_name": name,
        "date_of_birth": "2000-03-15",
        "department": "Computer Science",
    })
}

/// Asserts a problem+json answer with `status`, returning its body.
pub async fn expect_problem(response: Response, status: u16, context: &str) -> Value {
    assert_eq!(response.status(), status, "{context}");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json", "{context}");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status, "{context}");
    body
}

/// The field names a validation problem lists.
pub fn error_fields(problem: &Value) -> Vec<String> {
    problem["errors"]
        .as_array()
        .map(|a| {
            a.iter()
                .filter_map(|e| e["field"].as_str().map(str::to_owned))
                .collect()
        })
        .unwrap_or_default()
}

/// Defines one async test per engine: `name::sqlite` and `name::mariadb`.
#[macro_export]
macro_rules! both_engines {
    ($name:ident, |$app:ident| $body:block) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;
            async fn run($app: $crate::helpers::TestApp) $body

            #[tokio::test]
            async fn sqlite() {
                run($crate::helpers::spawn_app($crate::helpers::Engine::Sqlite).await).await;
            }

            #[tokio::test]
            async fn mariadb() {
                if $crate::helpers::mariadb_available() {
                    run($crate::helpers::spawn_app($crate::helpers::Engine::MariaDb).await).await;
                }
            }
        }
    };
}
