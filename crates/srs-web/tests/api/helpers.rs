use reqwest::{Client, Response};
use serde_json::{json, Value};
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
    pub client: Client,
    pub database_url: String,
    pub engine: Engine,
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

/// The MariaDB server scripts/test starts, e.g. mysql://root@127.0.0.1:3407
fn mariadb_base_url() -> String {
    match std::env::var("SRS_TEST_MYSQL_URL") {
        Ok(url) if !url.is_empty() => url.trim_end_matches('/').to_owned(),
        _ => panic!(
            "SRS_TEST_MYSQL_URL is not set: run the suite with scripts/test, which starts a private MariaDB server"
        ),
    }
}

/// Starts an app on `engine` with an empty database of its own.
pub async fn spawn_app(engine: Engine) -> TestApp {
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
    start(engine, database_url, dir).await
}

/// Starts a second app on the database `other` uses, as a second instance
/// of the same site would run.
pub async fn spawn_sibling(other: &TestApp) -> TestApp {
    let dir = tempfile::tempdir().expect("temp dir");
    start(other.engine, other.database_url.clone(), dir).await
}

async fn start(engine: Engine, database_url: String, dir: TempDir) -> TestApp {
    let mut settings = Settings::for_database(&database_url);
    settings.site_name = "test-site".into();
    settings.max_body_bytes = 16 * 1024;
    settings.max_import_bytes = 512 * 1024;
    let app = Application::build(settings).await.expect("app builds");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped(std::future::pending()));
    let client = Client::builder()
        .cookie_store(true)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .expect("client");
    TestApp {
        address,
        client,
        database_url,
        engine,
        _dir: dir,
    }
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

    /// A fresh CSRF token: load a page, then read the hidden form field.
    pub async fn csrf_token(&self) -> String {
        let html = self.get("/students/new").await.text().await.expect("page");
        let marker = "name=\"csrf_token\" value=\"";
        let start = html.find(marker).expect("the form has a CSRF field") + marker.len();
        html[start..start + 64].to_owned()
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
                run($crate::helpers::spawn_app($crate::helpers::Engine::MariaDb).await).await;
            }
        }
    };
}
