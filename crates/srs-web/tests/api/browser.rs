//! A registrar's round trip in headless Chromium: add a student (seeing the
//! form error for an invalid age first), edit, search, delete, restore.

use crate::helpers::{spawn_app, Engine};
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// A chromedriver child process, killed when dropped.
struct Driver {
    child: Child,
    url: String,
    _profile: tempfile::TempDir,
}

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Chromium's driver is on PATH (or the fast loop skips the test).
fn chromedriver_available() -> bool {
    let present = Command::new("chromedriver")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    crate::helpers::available(
        "Chromium and its driver",
        present,
        "install Debian's chromium and chromium-driver, or run scripts/test",
    )
}

async fn start_driver() -> Driver {
    let port = free_port();
    // A zone far from UTC: pages must show times in the reader's zone.
    let child = Command::new("chromedriver")
        .env("TZ", "Asia/Kolkata")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver runs (scripts/test installs Debian's chromium-driver)");
    let driver = Driver {
        child,
        url: format!("http://127.0.0.1:{port}"),
        _profile: tempfile::tempdir().expect("profile dir"),
    };
    let client = reqwest::Client::new();
    for _ in 0..100 {
        if let Ok(r) = client.get(format!("{}/status", driver.url)).send().await {
            if r.status().is_success() {
                return driver;
            }
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not start on port {port}");
}

async fn browser(driver: &Driver) -> Client {
    let profile = driver._profile.path().display().to_string();
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        json!({
            "binary": "/usr/bin/chromium",
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update", "--disable-sync",
                "--no-first-run", "--disable-quic", "--window-size=1280,1600", format!("--user-data-dir={profile}"),
            ]
        }),
    );
    ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
        .capabilities(caps)
        .connect(&driver.url)
        .await
        .expect("a browser session")
}

async fn fill(c: &Client, id: &str, value: &str) {
    let field = c.find(Locator::Id(id)).await.expect("field");
    field.clear().await.expect("clear");
    field.send_keys(value).await.expect("type");
}

/// Date inputs take keystrokes in the browser's locale order; set the value
/// as the date picker would.
async fn set_date(c: &Client, id: &str, value: &str) {
    c.execute(
        "document.getElementById(arguments[0]).value = arguments[1];",
        vec![json!(id), json!(value)],
    )
    .await
    .expect("set date");
}

/// Clicks what `target` finds and waits until the next page has loaded:
/// the old document goes stale and the new one has its footer.
async fn click_and_load(c: &Client, target: Locator<'_>) {
    let old = c.find(Locator::Css("html")).await.expect("current page");
    let element = c.find(target).await.expect("click target");
    // Into view at once: Bootstrap makes scrolling smooth, and a click
    // WebDriver aims while the page still glides lands elsewhere.
    c.execute(
        "arguments[0].scrollIntoView({block: 'center', behavior: 'instant'});",
        vec![serde_json::to_value(&element).expect("element")],
    )
    .await
    .expect("scroll");
    element.click().await.expect("click");
    for _ in 0..200 {
        if old.prop("tagName").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    c.wait()
        .at_most(Duration::from_secs(10))
        .for_element(Locator::Css("footer"))
        .await
        .expect("the next page loads");
}

async fn text_of(c: &Client, id: &str) -> String {
    match c.find(Locator::Id(id)).await {
        Ok(element) => element.text().await.expect("text"),
        Err(e) => {
            let url = c
                .current_url()
                .await
                .map(|u| u.to_string())
                .unwrap_or_default();
            let source = c.source().await.unwrap_or_default();
            panic!("#{id} not found on {url}: {e}\n{source}");
        }
    }
}

#[tokio::test]
async fn a_registrar_adds_edits_searches_deletes_and_restores_a_student() {
    if !chromedriver_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    let driver = start_driver().await;
    let c = browser(&driver).await;

    // Sign in as a registrar.
    app.as_user("reggie", srs_domain::Role::Registrar).await;
    c.goto(&app.url("/students/new")).await.expect("goto");
    assert!(
        c.current_url()
            .await
            .expect("url")
            .path()
            .starts_with("/login"),
        "sign-in first"
    );
    fill(&c, "username", "reggie").await;
    fill(&c, "password", crate::helpers::PASSWORD).await;
    click_and_load(&c, Locator::Id("sign-in")).await;
    assert!(text_of(&c, "signed-in-as").await.contains("reggie"));

    // Add, with an age the rules refuse first.
    assert_eq!(
        c.current_url().await.expect("url").path(),
        "/students/new",
        "back where we were going"
    );
    assert!(text_of(&c, "site-banner").await.contains("test-site"));
    fill(&c, "full_name", "Ada Lovelace").await;
    fill(&c, "email", "ada@example.edu").await;
    let too_young = chrono::Utc::now().date_naive() - chrono::Duration::days(10 * 365);
    set_date(&c, "date_of_birth", &too_young.to_string()).await;
    c.find(Locator::Css("#department option[value='Computer Science']"))
        .await
        .expect("option")
        .click()
        .await
        .expect("pick");
    click_and_load(&c, Locator::Id("save")).await;
    let error = text_of(&c, "date_of_birth-error").await;
    assert!(error.contains("at least 16"), "form error shown: {error}");
    let kept = c
        .find(Locator::Id("full_name"))
        .await
        .expect("name")
        .prop("value")
        .await
        .expect("value");
    assert_eq!(kept.as_deref(), Some("Ada Lovelace"), "input kept");

    set_date(&c, "date_of_birth", "2001-12-10").await;
    // By keyboard: Enter in a field sends the form, as in any form.
    let old = c.find(Locator::Css("html")).await.expect("current page");
    c.find(Locator::Id("phone"))
        .await
        .expect("phone field")
        .send_keys("+1 555 123 4567\u{E007}")
        .await
        .expect("type and press Enter");
    for _ in 0..200 {
        if old.prop("tagName").await.is_err() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    assert!(text_of(&c, "flash").await.contains("added"));
    assert_eq!(text_of(&c, "student-phone").await, "+1 555 123 4567");
    assert!(text_of(&c, "student-name").await.contains("Ada Lovelace"));

    // Edit.
    click_and_load(&c, Locator::Id("edit-link")).await;
    fill(&c, "full_name", "Ada King").await;
    c.find(Locator::Css("#status option[value='on_leave']"))
        .await
        .expect("option")
        .click()
        .await
        .expect("pick");
    click_and_load(&c, Locator::Id("save")).await;
    assert!(text_of(&c, "flash").await.contains("saved"));
    let focused = focused_id(&c).await;
    assert_eq!(
        focused,
        json!("flash"),
        "after Save the keyboard is at the message"
    );
    assert!(text_of(&c, "student-name").await.contains("Ada King"));
    assert_eq!(text_of(&c, "student-status").await, "On leave");
    // Times are sent in UTC and shown in the browser's zone (Asia/Kolkata
    // here), with the UTC original as the tooltip.
    let shown = c
        .execute(
            "const t = document.querySelector('time[data-local=minute]'); return [t.textContent, t.title];",
            vec![],
        )
        .await
        .expect("a time");
    let (local, utc) = (
        shown[0].as_str().unwrap_or_default(),
        shown[1].as_str().unwrap_or_default(),
    );
    assert!(utc.ends_with("UTC"), "tooltip keeps UTC: {utc}");
    assert!(
        local.contains("GMT+5:30") || local.contains("IST"),
        "shown in the browser's zone: {local}"
    );

    // Search.
    app.create_student("Charles Babbage", None).await;
    c.goto(&app.url("/students")).await.expect("goto");
    // "/" anywhere on the page puts the cursor in the search box.
    let focused = c
        .execute(
            "document.body.dispatchEvent(new KeyboardEvent('keydown', {key: '/', bubbles: true, cancelable: true})); return document.activeElement.id;",
            vec![],
        )
        .await
        .expect("press /");
    assert_eq!(focused, json!("q"), "the / shortcut focuses the search box");
    fill(&c, "q", "king").await;
    click_and_load(&c, Locator::Id("search-button")).await;
    let table = text_of(&c, "students").await;
    assert!(
        table.contains("Ada King") && !table.contains("Babbage"),
        "search result: {table}"
    );
    let focused = focused_id(&c).await;
    assert_eq!(
        focused,
        json!("result-count"),
        "after a search the keyboard is at the results"
    );

    // Delete, with confirmation, then restore from the flash.
    click_and_load(&c, Locator::LinkText("Ada King")).await;
    click_and_load(&c, Locator::Id("delete-link")).await;
    click_and_load(&c, Locator::Id("confirm-delete")).await;
    assert!(text_of(&c, "flash").await.contains("deleted"));
    assert!(
        !text_of(&c, "students").await.contains("Ada King"),
        "gone from the list"
    );
    click_and_load(&c, Locator::Id("undo-delete")).await;
    assert!(text_of(&c, "flash").await.contains("restored"));
    assert!(text_of(&c, "student-name").await.contains("Ada King"));

    // A viewer sees no way to change anything.
    app.as_user("vera", srs_domain::Role::Viewer).await;
    c.find(Locator::Id("logout"))
        .await
        .expect("logout")
        .click()
        .await
        .expect("click");
    c.goto(&app.url("/login")).await.expect("goto");
    fill(&c, "username", "vera").await;
    fill(&c, "password", crate::helpers::PASSWORD).await;
    click_and_load(&c, Locator::Id("sign-in")).await;
    // Signing in lands on the overview; its menu leads to the list.
    assert!(text_of(&c, "overview-total")
        .await
        .contains("2 students on record"));
    click_and_load(&c, Locator::LinkText("Students")).await;
    let table = text_of(&c, "students").await;
    assert!(table.contains("Ada King"), "viewers can read");
    assert!(
        c.find(Locator::LinkText("Edit")).await.is_err(),
        "no edit button for a viewer"
    );
    assert!(
        c.find(Locator::LinkText("Delete")).await.is_err(),
        "no delete button for a viewer"
    );
    click_and_load(&c, Locator::LinkText("Ada King")).await;
    assert!(c.find(Locator::Id("edit-link")).await.is_err());
    assert!(
        text_of(&c, "history").await.contains("reggie"),
        "history names the author"
    );

    c.close().await.expect("close browser");
}

/// The id of the element the keyboard is on.
async fn focused_id(c: &Client) -> serde_json::Value {
    c.execute("return document.activeElement.id;", vec![])
        .await
        .expect("focus")
}

/// The page's own width against the window's, and whether "Sign out" (or
/// "Sign in") lies within the window.
async fn fits(c: &Client) -> (i64, i64, bool) {
    let v = c
        .execute(
            "const b = document.getElementById('logout') || document.querySelector('a[href=\"/login\"]');
             const r = b ? b.getBoundingClientRect() : null;
             return [document.documentElement.scrollWidth, window.innerWidth,
                     !!r && r.right <= window.innerWidth && r.left >= 0];",
            vec![],
        )
        .await
        .expect("measure");
    (
        v[0].as_i64().unwrap_or(i64::MAX),
        v[1].as_i64().unwrap_or(0),
        v[2].as_bool().unwrap_or(false),
    )
}

/// axe-core's script, which `scripts/test` installs with npm.
fn axe_path() -> String {
    std::env::var("SRS_AXE_JS").unwrap_or_else(|_| {
        concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../../target/axe/node_modules/axe-core/axe.min.js"
        )
        .to_owned()
    })
}

/// axe-core is where the accessibility check looks (or the fast loop
/// skips the test).
fn axe_available() -> bool {
    crate::helpers::available(
        "axe-core",
        std::path::Path::new(&axe_path()).exists(),
        "run `npm install --prefix target/axe axe-core@4.14.1`, or scripts/test",
    )
}

fn axe_source() -> String {
    let path = axe_path();
    std::fs::read_to_string(&path).unwrap_or_else(|e| {
        panic!(
            "axe-core is needed at {path} ({e}): scripts/test installs it, or run \
             `npm install --prefix target/axe axe-core@4.14.1`"
        )
    })
}

/// The serious and critical accessibility violations axe-core finds on
/// the page shown, one line each.
async fn accessibility_violations(c: &Client, axe: &str) -> Vec<String> {
    c.execute(axe, vec![]).await.expect("axe-core loads");
    let found = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, {resultTypes: ['violations']}).then(r => done(
               r.violations
                .filter(v => v.impact === 'serious' || v.impact === 'critical')
                .map(v => v.impact + ' ' + v.id + ': ' + v.help + ' at ' +
                     v.nodes.slice(0, 3).map(n => n.target.join(' ')).join(', '))));",
            vec![],
        )
        .await
        .expect("axe-core runs");
    found
        .as_array()
        .map(|a| {
            a.iter()
                .map(|v| v.as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default()
}

#[tokio::test]
async fn every_page_fits_a_phone_and_a_desk_without_sideways_scrolling() {
    if !chromedriver_available() || !axe_available() {
        return;
    }
    let app = spawn_app(Engine::Sqlite).await;
    let long = app
        .create_student(
            "Maximiliana Konstantinopoulou-Vanderbilt Alexandrina Wilhelmina Hohenzollern-Sigmaringen Beaumont",
            Some("maximiliana.konstantinopoulou@faculty.example.edu"),
        )
        .await;
    let id = long["id"].as_i64().expect("id");
    let gone = app.create_student("Deleted Person", None).await;
    let gone_id = gone["id"].as_i64().expect("id");
    assert_eq!(
        app.delete(&format!("/api/v1/students/{gone_id}"))
            .await
            .status(),
        204
    );
    let axe = axe_source();
    let driver = start_driver().await;
    let c = browser(&driver).await;
    app.as_user("ada", srs_domain::Role::Admin).await;
    c.goto(&app.url("/login")).await.expect("goto");
    let mut inaccessible = Vec::new();
    for v in accessibility_violations(&c, &axe).await {
        inaccessible.push(format!("/login: {v}"));
    }
    fill(&c, "username", "ada").await;
    fill(&c, "password", crate::helpers::PASSWORD).await;
    click_and_load(&c, Locator::Id("sign-in")).await;

    let pages = [
        "/".to_owned(),
        "/students".to_owned(),
        "/students?deleted=true".to_owned(),
        "/students/new".to_owned(),
        format!("/students/{id}"),
        format!("/students/{id}/edit"),
        format!("/students/{id}/delete"),
        format!("/students/{gone_id}"),
        format!("/students/bulk?scope=picked&ids={id}&set_status=graduated"),
        "/departments".to_owned(),
        "/import".to_owned(),
        "/admin/users".to_owned(),
        "/admin/tokens".to_owned(),
        "/admin/audit".to_owned(),
        "/admin/dr".to_owned(),
        "/no/such/page".to_owned(),
    ];
    for (width, height) in [(1366u32, 900u32), (390, 844)] {
        c.set_window_size(width, height).await.expect("resize");
        for page in &pages {
            c.goto(&app.url(page)).await.expect("goto");
            c.wait()
                .at_most(Duration::from_secs(10))
                .for_element(Locator::Css("footer"))
                .await
                .expect("the page loads");
            let (scroll, inner, menu) = fits(&c).await;
            if scroll > inner {
                let wide = c
                    .execute(
                        "return [...document.querySelectorAll('body *')]
                           .filter(e => e.getBoundingClientRect().right > window.innerWidth
                                     && !(e.parentElement && e.parentElement.closest('.table-responsive')))
                           .slice(0, 8)
                           .map(e => e.tagName + '#' + e.id + '.' + e.className + ' ' + Math.round(e.getBoundingClientRect().right));",
                        vec![],
                    )
                    .await
                    .expect("measure");
                panic!("{page} at {width} px is {scroll} px wide (window {inner} px): {wide}");
            }
            assert!(menu, "{page} at {width} px: Sign out is off screen");
            if width == 390 && page == "/students" {
                // The menu keeps to one row (it scrolls sideways within
                // itself) under the brand and Sign out.
                let nav = c
                    .execute(
                        "return document.querySelector('nav.navbar').getBoundingClientRect().height;",
                        vec![],
                    )
                    .await
                    .expect("measure");
                assert!(
                    nav.as_f64().is_some_and(|h| h < 110.0),
                    "the menu takes {nav} px at 390 px"
                );
            }
            if width == 390 && page.starts_with("/admin/audit") {
                // Each entry stacks: every column is on screen, none
                // hidden sideways.
                let table = c
                    .execute(
                        "const t = document.getElementById('audit').parentElement;
                         const cell = document.querySelector('#audit td[data-label=Changes]');
                         return [t.scrollWidth, t.clientWidth,
                                 !!cell && cell.getBoundingClientRect().right <= window.innerWidth];",
                        vec![],
                    )
                    .await
                    .expect("measure");
                assert!(
                    table[0].as_i64() <= table[1].as_i64() && table[2] == json!(true),
                    "the audit page scrolls sideways at 390 px: {table}"
                );
            }
            if width == 1366 && page == "/students" {
                // A 100-character name wraps in its column: the list needs
                // no sideways scrolling on a desk to reach Edit and Delete.
                let table = c
                    .execute(
                        "const t = document.getElementById('students').parentElement;
                         return [t.scrollWidth, t.clientWidth];",
                        vec![],
                    )
                    .await
                    .expect("measure");
                assert!(
                    table[0].as_i64() <= table[1].as_i64(),
                    "the student list scrolls sideways at 1366 px: {table}"
                );
            }
            for v in accessibility_violations(&c, &axe).await {
                inaccessible.push(format!("{page} at {width} px: {v}"));
            }
        }
    }
    assert!(
        inaccessible.is_empty(),
        "serious or critical accessibility violations (axe-core):\n{}",
        inaccessible.join("\n")
    );
    c.close().await.expect("close browser");
}
