//! The real `srs` binary as an operator runs it: start-up checks, SIGTERM,
//! and the purge command.

mod common;
use common::{free_ports, srs};

use serde_json::{json, Value};
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Runs `srs` with `args` to completion and returns (success, stderr).
fn run(args: &[&str], env: &[(&str, &str)]) -> (bool, String) {
    let dir = tempfile::tempdir().expect("temp dir");
    let out = srs()
        .args(args)
        .envs(env.iter().copied())
        .current_dir(dir.path())
        .output()
        .expect("srs runs");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Arguments, environment, and the text the error must contain.
type Case<'a> = (&'a [&'a str], &'a [(&'a str, &'a str)], &'a str);

#[test]
fn bad_settings_stop_start_up_with_a_message_naming_them() {
    let cases: [Case<'_>; 8] = [
        (&["serve", "--listen", "nonsense"], &[], "--listen"),
        (&["serve", "--site-role", "boss"], &[], "--site-role"),
        (
            &["serve", "--database-url", "postgres://x/y"],
            &[],
            "unsupported scheme 'postgres'",
        ),
        (
            &["serve"],
            &[("SRS_MAX_CONNECTIONS", "0")],
            "max_connections",
        ),
        (&["serve"], &[("SRS_LOG_FORMAT", "xml")], "log-format"),
        (&["serve", "--site-name", "bad name!"], &[], "site name"),
        (
            &["students", "purge", "--older-than", "30y"],
            &[],
            "unknown unit",
        ),
        (
            &[
                "serve",
                "--database-url",
                "mysql://srs:secret@127.0.0.1:1/srs",
            ],
            &[],
            "Failed to open the database",
        ),
    ];
    for (args, env, expected) in cases {
        let (ok, stderr) = run(args, env);
        assert!(!ok, "{args:?} {env:?} should fail");
        assert!(
            !stderr.contains("secret"),
            "the password never reaches the output: {stderr}"
        );
        assert!(
            stderr.contains(expected),
            "{args:?}: expected {expected:?} in: {stderr}"
        );
    }
}

#[test]
fn the_config_file_is_read_and_checked() {
    let dir = tempfile::tempdir().expect("temp dir");
    let file = dir.path().join("srs.toml");
    std::fs::write(
        &file,
        "site_name = \"from-file\"\nlisten = \"127.0.0.1:notaport\"\n",
    )
    .expect("write");
    let (ok, stderr) = run(&["serve", "--config", file.to_str().expect("utf8")], &[]);
    assert!(!ok);
    assert!(stderr.contains("listen"), "{stderr}");
    std::fs::write(&file, "colour = \"blue\"\n").expect("write");
    let (ok, stderr) = run(&["serve", "--config", file.to_str().expect("utf8")], &[]);
    assert!(!ok);
    assert!(
        stderr.contains("colour"),
        "unknown keys are named: {stderr}"
    );
}

/// A running `srs serve` on a free port, killed if a test fails.
struct Server {
    child: Child,
    address: String,
    _dir: tempfile::TempDir,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn serve(dir: tempfile::TempDir, extra: &[&str]) -> Server {
    let mut child = srs()
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .args(extra)
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("srs serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut lines = BufReader::new(stdout).lines();
    let address = loop {
        let line = lines
            .next()
            .expect("a log line before exit")
            .expect("utf8 log");
        let Ok(event) = serde_json::from_str::<Value>(&line) else {
            continue;
        };
        if event["message"] == "srs serve listening" {
            break event["addr"].as_str().expect("addr").to_owned();
        }
    };
    // Keep draining logs so the child never blocks on a full pipe.
    std::thread::spawn(move || for _ in lines {});
    Server {
        child,
        address: format!("http://{address}"),
        _dir: dir,
    }
}

fn sigterm(child: &mut Child) -> std::process::ExitStatus {
    let pid = child.id().to_string();
    let status = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill runs");
    assert!(status.success());
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        if let Some(status) = child.try_wait().expect("wait") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "srs did not stop within 15 s of SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[tokio::test]
async fn serve_uses_sqlite_by_default_and_exits_0_on_sigterm() {
    let dir = tempfile::tempdir().expect("temp dir");
    let data = dir.path().join("srs-data/srs.db");
    let mut server = serve(dir, &["--site-name", "primary", "--site-role", "primary"]);
    let client = reqwest::Client::new();
    let ready: Value = client
        .get(format!("{}/readyz", server.address))
        .send()
        .await
        .expect("ready")
        .json()
        .await
        .expect("json");
    assert_eq!(ready["database"], "sqlite");
    assert!(data.exists(), "default database at ./srs-data/srs.db");
    let page = client
        .get(format!("{}/students", server.address))
        .send()
        .await
        .expect("page")
        .text()
        .await
        .expect("html");
    assert!(page.contains("primary</strong> — Primary"));
    let status = sigterm(&mut server.child);
    assert!(status.success(), "exit status {status:?}");
}

#[tokio::test]
async fn healthcheck_passes_on_a_ready_server_and_fails_where_none_answers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let server = serve(dir, &[]);
    let listen = server.address.trim_start_matches("http://").to_owned();
    let (ok, out) = run(&["healthcheck"], &[("SRS_LISTEN", listen.as_str())]);
    assert!(ok, "{out}");
    drop(server);
    let (ok, out) = run(
        &["healthcheck", "--timeout-secs", "1"],
        &[("SRS_LISTEN", listen.as_str())],
    );
    assert!(!ok, "a stopped server passed: {out}");
    assert!(out.contains("no answer"), "{out}");
}

/// Runs `srs` with `stdin` piped in; returns (success, stdout, stderr).
fn run_with_input(args: &[&str], stdin: &str) -> (bool, String, String) {
    let args: Vec<std::ffi::OsString> = args.iter().map(Into::into).collect();
    common::run_with_input(&args, stdin)
}

/// Creates an admin and returns a bearer token for it, both by the CLI.
fn admin_token(url: &str) -> String {
    let (ok, _, err) = run_with_input(
        &[
            "user",
            "add",
            "admin",
            "--role",
            "admin",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "correct horse battery staple\n",
    );
    assert!(ok, "{err}");
    let (ok, out, err) = run_with_input(
        &[
            "token",
            "create",
            "--user",
            "admin",
            "--name",
            "tests",
            "--database-url",
            url,
        ],
        "",
    );
    assert!(ok, "{err}");
    out.trim().to_owned()
}

#[test]
fn accounts_and_tokens_are_managed_from_the_command_line() {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite:{}", dir.path().join("srs.db").display());
    let url = url.as_str();
    let (ok, _, err) = run_with_input(
        &[
            "user",
            "add",
            "ada",
            "--role",
            "registrar",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "short\n",
    );
    assert!(
        !ok && err.contains("password") && err.contains("12"),
        "weak password refused: {err}"
    );
    assert!(
        !err.contains("short"),
        "the password is never echoed: {err}"
    );
    let (ok, out, err) = run_with_input(
        &[
            "user",
            "add",
            "Ada",
            "--role",
            "registrar",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "a long enough password\n",
    );
    assert!(ok, "{err}");
    assert!(out.contains("created account ada (registrar)"));
    let (ok, _, err) = run_with_input(
        &[
            "user",
            "add",
            "ada",
            "--role",
            "viewer",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "another long password\n",
    );
    assert!(!ok && err.contains("already exists"), "{err}");
    let (ok, _, err) = run_with_input(
        &[
            "user",
            "add",
            "bob",
            "--role",
            "superuser",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "",
    );
    assert!(!ok && err.contains("--role"), "{err}");

    let (ok, token, err) = run_with_input(
        &[
            "token",
            "create",
            "--user",
            "ada",
            "--name",
            "nightly export",
            "--expires",
            "90d",
            "--database-url",
            url,
        ],
        "",
    );
    assert!(ok, "{err}");
    assert!(
        token.trim().starts_with("srs_"),
        "token printed once: {token}"
    );
    let (_, list, _) = run_with_input(&["token", "list", "--database-url", url], "");
    assert!(
        list.contains("nightly export") && list.contains("active") && !list.contains(token.trim()),
        "{list}"
    );
    let (ok, out, _) = run_with_input(&["token", "revoke", "1", "--database-url", url], "");
    assert!(ok && out.contains("revoked"), "{out}");
    let (ok, _, err) = run_with_input(&["token", "revoke", "99", "--database-url", url], "");
    assert!(!ok && err.contains("no token with id 99"), "{err}");

    let (ok, _, _) = run_with_input(
        &[
            "user",
            "reset-password",
            "ada",
            "--password-stdin",
            "--database-url",
            url,
        ],
        "a brand new password\n",
    );
    assert!(ok);
    let (ok, out, _) = run_with_input(&["user", "unlock", "ada", "--database-url", url], "");
    assert!(
        ok && out.contains("unlocked ada: 0 failed sign-in(s) forgotten"),
        "{out}"
    );
    let (ok, _, _) = run_with_input(&["user", "disable", "ada", "--database-url", url], "");
    assert!(ok);
    let (_, users, _) = run_with_input(&["user", "list", "--database-url", url], "");
    assert!(
        users.contains("ada") && users.contains("disabled"),
        "{users}"
    );
    // Columns line up: ROLE starts at the same place on every line.
    let role_at: Vec<usize> = users
        .lines()
        .map(|l| {
            l.find("  ")
                .map(|i| i + l[i..].len() - l[i..].trim_start().len())
        })
        .map(|i| i.unwrap_or(0))
        .collect();
    assert!(role_at.windows(2).all(|w| w[0] == w[1]), "{users}");
    let (ok, _, err) = run_with_input(&["user", "disable", "nobody", "--database-url", url], "");
    assert!(!ok && err.contains("no account named 'nobody'"), "{err}");

    let (ok, audit, _) = run_with_input(&["audit", "export", "--database-url", url], "");
    assert!(ok);
    let actions: Vec<String> = audit
        .lines()
        .map(|l| {
            serde_json::from_str::<Value>(l).expect("JSON line")["action"]
                .as_str()
                .unwrap_or_default()
                .to_owned()
        })
        .collect();
    assert_eq!(
        actions,
        vec![
            "user.create",
            "token.create",
            "token.revoke",
            "user.reset_password",
            "user.unlock",
            "user.disable"
        ]
    );
    assert!(!audit.contains("argon2"), "no password hash in the trail");
}

#[tokio::test]
async fn the_first_admin_can_come_from_the_environment_on_first_start_only() {
    let dir = tempfile::tempdir().expect("temp dir");
    let mut child = srs()
        .args(["serve", "--listen", "127.0.0.1:0", "--log-format", "json"])
        .env("SRS_BOOTSTRAP_ADMIN", "root-admin")
        .env("SRS_BOOTSTRAP_PASSWORD", "bootstrap password 1")
        .current_dir(dir.path())
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("srs serve starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut logs = String::new();
    for line in BufReader::new(stdout).lines() {
        let line = line.expect("log line");
        logs.push_str(&line);
        logs.push('\n');
        if line.contains("srs serve listening") {
            break;
        }
    }
    let _ = child.kill();
    let _ = child.wait();
    assert!(logs.contains("first admin created"), "{logs}");
    assert!(
        !logs.contains("bootstrap password 1"),
        "the password is never logged"
    );
    let url = format!("sqlite:{}", dir.path().join("srs-data/srs.db").display());
    let (_, users, _) = run_with_input(&["user", "list", "--database-url", &url], "");
    assert!(
        users.contains("root-admin") && users.contains("admin"),
        "{users}"
    );
}

#[tokio::test]
async fn purge_removes_only_students_deleted_long_enough_ago() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("records.db");
    let url = format!("sqlite:{}", db.display());
    let token = admin_token(&url);
    let mut server = serve(dir, &["--database-url", &url]);
    let client = reqwest::Client::builder()
        .default_headers(
            [(
                reqwest::header::AUTHORIZATION,
                reqwest::header::HeaderValue::from_str(&format!("Bearer {token}")).expect("header"),
            )]
            .into_iter()
            .collect(),
        )
        .build()
        .expect("client");
    let mut ids = Vec::new();
    for name in ["Gone Student", "Kept Student"] {
        let s: Value = client
            .post(format!("{}/api/v1/students", server.address))
            .json(&json!({"full_name": name, "date_of_birth": "2000-01-01", "department": "Arts"}))
            .send()
            .await
            .expect("create")
            .json()
            .await
            .expect("json");
        ids.push(s["id"].clone());
    }
    let deleted = client
        .delete(format!("{}/api/v1/students/{}", server.address, ids[0]))
        .send()
        .await
        .expect("delete");
    assert_eq!(deleted.status(), 204);
    assert!(sigterm(&mut server.child).success());

    let out = srs()
        .args([
            "students",
            "purge",
            "--older-than",
            "30d",
            "--database-url",
            &url,
        ])
        .output()
        .expect("purge");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("purged 0"),
        "too recent to purge"
    );
    let out = srs()
        .args([
            "students",
            "purge",
            "--older-than",
            "0s",
            "--database-url",
            &url,
        ])
        .output()
        .expect("purge");
    assert!(out.status.success());
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("purged 1"),
        "{}",
        String::from_utf8_lossy(&out.stdout)
    );
}

#[tokio::test]
async fn serves_https_with_secure_cookies_and_strict_headers_when_given_a_certificate() {
    let dir = tempfile::tempdir().expect("temp dir");
    let (cert, key) = (dir.path().join("cert.pem"), dir.path().join("key.pem"));
    let made = Command::new("openssl")
        .args([
            "req",
            "-x509",
            "-newkey",
            "rsa:2048",
            "-nodes",
            "-days",
            "1",
            "-subj",
            "/CN=localhost",
        ])
        .arg("-keyout")
        .arg(&key)
        .arg("-out")
        .arg(&cert)
        .output()
        .expect("openssl runs (scripts/test installs it)");
    assert!(
        made.status.success(),
        "{}",
        String::from_utf8_lossy(&made.stderr)
    );
    let (cert, key) = (cert.display().to_string(), key.display().to_string());
    let mut server = serve(dir, &["--tls-cert", &cert, "--tls-key", &key]);
    let https = server.address.replacen("http://", "https://", 1);
    let out = Command::new("curl")
        .args([
            "-sk",
            "-D",
            "-",
            "-o",
            "/dev/null",
            &format!("{https}/login"),
        ])
        .output()
        .expect("curl runs");
    let headers = String::from_utf8_lossy(&out.stdout).to_lowercase();
    assert!(headers.starts_with("http/"), "HTTPS answers: {headers}");
    assert!(
        headers.contains("content-security-policy: default-src 'none'; script-src 'self'"),
        "{headers}"
    );
    assert!(headers.contains("frame-ancestors 'none'"));
    assert!(headers.contains("x-content-type-options: nosniff"));
    assert!(headers.contains("referrer-policy: same-origin"));
    let csrf_cookie = headers
        .lines()
        .find(|l| l.starts_with("set-cookie: srs_csrf="))
        .expect("csrf cookie");
    assert!(
        csrf_cookie.contains("secure") && csrf_cookie.contains("httponly"),
        "{csrf_cookie}"
    );
    let plain = Command::new("curl")
        .args([
            "-s",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            &format!("{}/login", server.address),
        ])
        .output()
        .expect("curl runs");
    assert_ne!(
        String::from_utf8_lossy(&plain.stdout),
        "200",
        "no plain HTTP on the TLS port"
    );
    assert!(sigterm(&mut server.child).success());

    let (ok, stderr) = run(
        &[
            "serve",
            "--tls-cert",
            "/nonexistent.pem",
            "--tls-key",
            "/nonexistent.pem",
        ],
        &[],
    );
    assert!(!ok && stderr.contains("tls_cert"), "{stderr}");
    let (ok, stderr) = run(&["serve", "--tls-cert", "/nonexistent.pem"], &[]);
    assert!(!ok && stderr.contains("--tls-key"), "{stderr}");
}

#[tokio::test]
async fn the_edge_runs_from_a_topology_directory_for_sites_run_elsewhere() {
    let dir = tempfile::tempdir().expect("temp dir");
    let [edge, admin, app] = free_ports::<3>();
    let topology = format!(
        "sync_mode = \"strict\"\n[edge]\nlisten = \"127.0.0.1:{edge}\"\nadmin_listen = \"127.0.0.1:{admin}\"\n\
         [[sites]]\nname = \"east\"\nrole = \"primary\"\ndb_host = \"10.0.0.1\"\ndb_port = 3306\napp_host = \"127.0.0.1\"\napp_ports = [{app}]\n\
         [[sites]]\nname = \"west\"\nrole = \"dr\"\ndb_host = \"10.0.0.2\"\ndb_port = 3307\n"
    );
    std::fs::write(dir.path().join("srs-topology.toml"), &topology).expect("topology");
    std::fs::write(
        dir.path().join("secrets.toml"),
        "root_password = \"x\"\nedge_secret = \"edge secret\"\n[app]\nuser = \"a\"\npassword = \"b\"\n[repl]\nuser = \"c\"\npassword = \"d\"\n",
    )
    .expect("secrets");

    let (ok, _, err) = run_with_input(&["edge"], "");
    assert!(!ok && err.contains("--data-dir"), "{err}");
    std::fs::write(
        dir.path().join("srs-topology.toml"),
        topology.replace("app_host = \"127.0.0.1\"", "app_host = \"apps.example\""),
    )
    .expect("topology");
    let dir_arg = dir.path().display().to_string();
    let (ok, _, err) = run_with_input(&["edge", "--data-dir", &dir_arg], "");
    assert!(!ok && err.contains("app_host 'apps.example'"), "{err}");
    std::fs::write(dir.path().join("srs-topology.toml"), &topology).expect("topology");

    let mut child = srs()
        .args(["edge", "--data-dir"])
        .arg(dir.path())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("srs edge starts");
    let client = reqwest::Client::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    let state: Value = loop {
        let answer = client
            .get(format!("http://127.0.0.1:{admin}/admin/state"))
            .bearer_auth("edge secret")
            .send()
            .await;
        if let Ok(r) = answer {
            if r.status().is_success() {
                break r.json().await.expect("json");
            }
        }
        assert!(Instant::now() < deadline, "the edge did not answer");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    assert_eq!(state["active"], "east");
    assert_eq!(
        state["sites"][0]["instances"][0]["addr"],
        format!("127.0.0.1:{app}")
    );
    assert!(sigterm(&mut child).success(), "exits 0 on SIGTERM");
}

#[test]
fn link_delay_delays_each_way_and_stops_on_sigterm() {
    use std::io::{Read, Write};
    // An echo server on a free port, on a thread of its own.
    let echo = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let echo_addr = echo.local_addr().expect("addr").to_string();
    std::thread::spawn(move || {
        for stream in echo.incoming().flatten() {
            std::thread::spawn(move || {
                let mut stream = stream;
                let mut buf = [0u8; 1024];
                while let Ok(n) = stream.read(&mut buf) {
                    if n == 0 || stream.write_all(&buf[..n]).is_err() {
                        break;
                    }
                }
            });
        }
    });
    let mut child = srs()
        .args([
            "link-delay",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &echo_addr,
            "--delay-ms",
            "30",
        ])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .expect("srs link-delay starts");
    let stdout = child.stdout.take().expect("stdout");
    let mut line = String::new();
    BufReader::new(stdout)
        .read_line(&mut line)
        .expect("its address");
    let listen = line.split(' ').next().expect("an address first").to_owned();
    let mut conn = std::net::TcpStream::connect(&listen).expect("connects");
    let mut back = [0u8; 5];
    conn.write_all(b"first").expect("write");
    conn.read_exact(&mut back).expect("read");
    let began = Instant::now();
    conn.write_all(b"again").expect("write");
    conn.read_exact(&mut back).expect("read");
    let took = began.elapsed();
    assert_eq!(&back, b"again");
    assert!(
        took >= Duration::from_millis(60),
        "a round trip took {took:?}, under 2 x 30 ms"
    );
    let status = sigterm(&mut child);
    assert!(status.success(), "exit status {status:?}");
    let (ok, out) = run(
        &[
            "link-delay",
            "--listen",
            "127.0.0.1:0",
            "--to",
            &echo_addr,
            "--delay-ms",
            "20000",
        ],
        &[],
    );
    assert!(!ok && out.contains("--delay-ms"), "{out}");
}

/// `srs serve` keeps tokens and lists in its caches; a change another
/// process makes to the SQLite file (here the CLI) counts on the server's
/// very next request, without the server reading the file's counters on
/// every request (the write marks beside the file say when to).
#[tokio::test]
async fn what_another_process_writes_counts_on_the_next_request() {
    let dir = tempfile::tempdir().expect("temp dir");
    let db = dir.path().join("records.db");
    let url = format!("sqlite:{}", db.display());
    let token = admin_token(&url);
    let server = serve(dir, &["--database-url", &url]);
    let client = reqwest::Client::new();
    let list = || async {
        client
            .get(format!("{}/api/v1/students", server.address))
            .bearer_auth(&token)
            .send()
            .await
            .expect("list")
    };
    for _ in 0..3 {
        assert_eq!(list().await.status(), 200, "token and list now cached");
    }
    let (ok, out, err) = run_with_input(&["token", "revoke", "1", "--database-url", &url], "");
    assert!(ok && out.contains("revoked"), "{out}{err}");
    assert_eq!(
        list().await.status(),
        401,
        "revoked by another process: refused on the next request"
    );
}
