//! What every HTML page shares: the site banner, flash messages, the CSRF
//! token, rendering and the error page.

use crate::error::ApiError;
use crate::state::AppState;
use askama::Template;
use axum::extract::{FromRequestParts, Request};
use axum::http::{header, request::Parts, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum_extra::extract::cookie::{Cookie, CookieJar, SameSite};
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use rand::RngCore;

const CSRF_COOKIE: &str = "srs_csrf";
const FLASH_COOKIE: &str = "srs_flash";

/// The kind of a flash message, as a Bootstrap alert colour.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FlashKind {
    /// Green.
    Success,
    /// Red.
    Danger,
}

impl FlashKind {
    /// The Bootstrap class suffix.
    pub fn css(self) -> &'static str {
        match self {
            FlashKind::Success => "success",
            FlashKind::Danger => "danger",
        }
    }
}

/// A one-time message shown on the next page, optionally with an undo
/// (restore) button for a deleted student.
#[derive(Debug, Clone)]
pub struct Flash {
    /// Colour.
    pub kind: FlashKind,
    /// Text, escaped when shown.
    pub message: String,
    /// A deleted student the message offers to restore.
    pub restore_id: Option<i64>,
}

impl Flash {
    /// A success message.
    pub fn success(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Success,
            message: message.into(),
            restore_id: None,
        }
    }

    /// An error message.
    pub fn danger(message: impl Into<String>) -> Self {
        Self {
            kind: FlashKind::Danger,
            message: message.into(),
            restore_id: None,
        }
    }

    fn encode(&self) -> String {
        let kind = match self.kind {
            FlashKind::Success => "s",
            FlashKind::Danger => "d",
        };
        let restore = self.restore_id.map(|i| i.to_string()).unwrap_or_default();
        URL_SAFE_NO_PAD.encode(format!("{kind}|{restore}|{}", self.message))
    }

    fn decode(raw: &str) -> Option<Self> {
        let bytes = URL_SAFE_NO_PAD.decode(raw).ok()?;
        let text = String::from_utf8(bytes).ok()?;
        let mut parts = text.splitn(3, '|');
        let kind = match parts.next()? {
            "s" => FlashKind::Success,
            "d" => FlashKind::Danger,
            _ => return None,
        };
        let restore_id = parts.next()?.parse().ok();
        let message: String = parts.next()?.chars().take(500).collect();
        Some(Self {
            kind,
            message,
            restore_id,
        })
    }
}

/// Cookies the page middleware read, for the handlers.
#[derive(Debug, Clone)]
struct PageCookies {
    csrf: String,
    flash: Option<Flash>,
}

fn new_token() -> String {
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Gives every page request a CSRF token (a cookie, double-submitted in
/// forms) and its pending flash message, and clears the flash once shown.
pub(crate) async fn page_session(
    axum::extract::State(state): axum::extract::State<AppState>,
    mut req: Request,
    next: Next,
) -> Response {
    let jar = CookieJar::from_headers(req.headers());
    let existing = jar
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .filter(|v| v.len() == 64 && v.chars().all(|c| c.is_ascii_hexdigit()));
    let fresh = existing.is_none();
    let csrf = existing.unwrap_or_else(new_token);
    let flash = jar.get(FLASH_COOKIE).and_then(|c| Flash::decode(c.value()));
    let had_flash = jar.get(FLASH_COOKIE).is_some();
    req.extensions_mut().insert(PageCookies {
        csrf: csrf.clone(),
        flash,
    });
    let mut response = next.run(req).await;
    if fresh {
        let cookie = Cookie::build((CSRF_COOKIE, csrf))
            .path("/")
            .http_only(true)
            .secure(state.settings.secure_cookies)
            .same_site(SameSite::Strict)
            .build();
        append_cookie(&mut response, &cookie);
    }
    let sets_flash = response
        .headers()
        .get_all(header::SET_COOKIE)
        .iter()
        .any(|v| {
            v.to_str()
                .map(|s| s.starts_with(FLASH_COOKIE))
                .unwrap_or(false)
        });
    if had_flash && !sets_flash && response.status().is_success() {
        let mut gone = Cookie::build((FLASH_COOKIE, "")).path("/").build();
        gone.make_removal();
        append_cookie(&mut response, &gone);
    }
    response
}

pub(crate) fn append_cookie(response: &mut Response, cookie: &Cookie<'_>) {
    if let Ok(v) = HeaderValue::from_str(&cookie.to_string()) {
        response.headers_mut().append(header::SET_COOKIE, v);
    }
}

/// Redirects (303) to `to`, showing `flash` on the page there.
pub fn redirect_with_flash(to: &str, flash: Flash) -> Response {
    let response = Redirect::to(to).into_response();
    with_flash(response, flash)
}

/// Adds a flash message to any response.
pub fn with_flash(mut response: Response, flash: Flash) -> Response {
    let cookie = Cookie::build((FLASH_COOKIE, flash.encode()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Lax)
        .build();
    append_cookie(&mut response, &cookie);
    response
}

/// What every page template shows: the serving site, the flash, the token.
#[derive(Debug, Clone)]
pub struct PageCtx {
    /// The site serving this page.
    pub site_name: srs_domain::SiteName,
    /// Its role, as shown.
    pub site_role: &'static str,
    /// The CSRF token to put in every form.
    pub csrf: String,
    /// A one-time message.
    pub flash: Option<Flash>,
    /// The signed-in account's name, if any.
    pub username: Option<String>,
    /// Its role.
    pub role: Option<srs_domain::Role>,
    /// The page's path, to mark the current menu item.
    pub path: String,
}

impl PageCtx {
    /// Whether to offer changes to records (registrars and admins).
    pub fn can_edit(&self) -> bool {
        self.role
            .is_some_and(|r| r.allows(srs_domain::Role::Registrar))
    }

    /// `aria-current="page"` when the menu item for `prefix` is the page
    /// shown (or a page under it).
    pub fn current(&self, prefix: &str) -> &'static str {
        let here = self.path == prefix
            || (prefix != "/students"
                && self.path.starts_with(prefix)
                && self.path[prefix.len()..].starts_with('/'))
            || (prefix == "/students"
                && self.path.starts_with("/students")
                && self.path != "/students/new");
        if here {
            " aria-current=\"page\""
        } else {
            ""
        }
    }

    /// Whether to offer administration (admins).
    pub fn is_admin(&self) -> bool {
        self.role.is_some_and(|r| r.allows(srs_domain::Role::Admin))
    }

    /// Refuses a form whose token does not match the cookie's.
    pub fn check_csrf(&self, submitted: &str) -> Result<(), PageError> {
        let a = self.csrf.as_bytes();
        let b = submitted.as_bytes();
        let same =
            a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0;
        if same {
            Ok(())
        } else {
            tracing::warn!("form rejected: CSRF token missing or wrong");
            Err(PageError::new(
                StatusCode::FORBIDDEN,
                "This form has expired or did not come from this site. Go back, reload the page and try again.",
            ))
        }
    }
}

impl FromRequestParts<AppState> for PageCtx {
    type Rejection = PageError;

    async fn from_request_parts(
        parts: &mut Parts,
        state: &AppState,
    ) -> Result<Self, Self::Rejection> {
        let cookies = parts.extensions.get::<PageCookies>().cloned();
        let (csrf, flash) = match cookies {
            Some(c) => (c.csrf, c.flash),
            None => (String::new(), None),
        };
        let user = crate::auth::extract::current(parts);
        Ok(Self {
            site_name: state.settings.site_name.clone(),
            site_role: state.standing.role().label(),
            csrf,
            flash,
            username: user.as_ref().map(|u| u.user.username.to_string()),
            role: user.map(|u| u.user.role),
            path: parts.uri.path().to_owned(),
        })
    }
}

/// A page that failed: rendered as an error page with the right status.
#[derive(Debug)]
pub struct PageError {
    status: StatusCode,
    message: String,
}

impl PageError {
    /// An error page with this status and message.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        Self {
            status,
            message: message.into(),
        }
    }
}

impl From<ApiError> for PageError {
    fn from(e: ApiError) -> Self {
        e.log();
        let problem = e.problem();
        // The API's details are lower-case clauses; a page shows sentences.
        Self {
            status: e.status(),
            message: sentence(&problem.detail),
        }
    }
}

impl From<srs_store::StoreError> for PageError {
    fn from(e: srs_store::StoreError) -> Self {
        ApiError::from(e).into()
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage<'a> {
    ctx: PageCtx,
    status: u16,
    reason: &'a str,
    message: &'a str,
}

/// An error page's message, left on the response for [`page_errors`] to
/// show inside the layout (the error itself does not know who asked).
#[derive(Debug, Clone)]
struct ErrorShown(String);

impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = (self.status, self.message.clone()).into_response();
        response.extensions_mut().insert(ErrorShown(self.message));
        response
    }
}

/// Shows page errors (400/403/404/405/500...) inside the layout, with the
/// menu, the signed-in account and the site banner, like any page.
pub(crate) async fn page_errors(
    axum::extract::State(state): axum::extract::State<AppState>,
    req: Request,
    next: Next,
) -> Response {
    if req.uri().path().starts_with("/api/") {
        // The API answers in JSON: nothing here to prepare for it.
        return next.run(req).await;
    }
    let (parts, body) = req.into_parts();
    let user = crate::auth::extract::current(&parts);
    let path = parts.uri.path().to_owned();
    let csrf = CookieJar::from_headers(&parts.headers)
        .get(CSRF_COOKIE)
        .map(|c| c.value().to_owned())
        .unwrap_or_default();
    let mut response = next.run(Request::from_parts(parts, body)).await;
    let Some(ErrorShown(message)) = response.extensions_mut().remove::<ErrorShown>() else {
        return response;
    };
    let status = response.status();
    let page = ErrorPage {
        ctx: PageCtx {
            site_name: state.settings.site_name.clone(),
            site_role: state.standing.role().label(),
            csrf,
            flash: None,
            username: user.as_ref().map(|u| u.user.username.to_string()),
            role: user.map(|u| u.user.role),
            path,
        },
        status: status.as_u16(),
        reason: status.canonical_reason().unwrap_or("Error"),
        message: &message,
    };
    let Ok(html) = page.render() else {
        return response;
    };
    let (mut head, _) = response.into_parts();
    head.headers.remove(header::CONTENT_LENGTH);
    head.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/html; charset=utf-8"),
    );
    Response::from_parts(head, axum::body::Body::from(Html(html).0))
}

/// Renders a template, or a 500 page if the template fails.
pub fn render<T: Template>(template: &T) -> Response {
    match template.render() {
        Ok(html) => Html(html).into_response(),
        Err(e) => {
            tracing::error!(error = %e, "template failed to render");
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                "This page could not be shown; the error has been logged.",
            )
            .into_response()
        }
    }
}

/// Shorthand for page handler results.
pub type PageResult = Result<Response, PageError>;

/// A count as people read it: 112600 as "112,600".
pub fn thousands(n: impl std::fmt::Display) -> String {
    let text = n.to_string();
    let (sign, digits) = match text.strip_prefix('-') {
        Some(rest) => ("-", rest),
        None => ("", text.as_str()),
    };
    let mut out = String::with_capacity(text.len() + digits.len() / 3);
    out.push_str(sign);
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

/// How much of a moment a page shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shown {
    /// The day only.
    Date,
    /// Day, hour and minute.
    Minute,
    /// Day and time to the second.
    Second,
}

/// A moment as pages show it: in UTC as sent, which the page's script
/// rewrites into the reader's own time zone (exports and the API stay in
/// UTC). The HTML is built here, so templates print it with `|safe`.
pub fn moment(at: &chrono::DateTime<chrono::Utc>, shown: Shown) -> String {
    let (text, kind) = match shown {
        Shown::Date => (at.format("%Y-%m-%d").to_string(), "date"),
        Shown::Minute => (at.format("%Y-%m-%d %H:%M UTC").to_string(), "minute"),
        Shown::Second => (at.format("%Y-%m-%d %H:%M:%S UTC").to_string(), "second"),
    };
    format!(
        "<time datetime=\"{}\" data-local=\"{kind}\">{text}</time>",
        at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    )
}

/// `text` with a capital first letter.
pub fn capitalised(text: &str) -> String {
    let mut chars = text.chars();
    match chars.next() {
        Some(first) => first.to_uppercase().chain(chars).collect(),
        None => String::new(),
    }
}

/// A message as a sentence: a capital first letter and a closing full
/// stop. The API's messages are terse fragments ("full name is
/// required"); a page shows "Full name is required."
pub fn sentence(message: &str) -> String {
    let mut out = capitalised(message.trim());
    if !out.is_empty() && !out.ends_with(['.', '!', '?']) {
        out.push('.');
    }
    out
}

#[cfg(test)]
mod sentence_tests {
    use super::sentence;

    #[test]
    fn fragments_become_sentences_and_sentences_stay() {
        assert_eq!(sentence("full name is required"), "Full name is required.");
        assert_eq!(
            sentence("The student must be at least 16; this date of birth makes them 11."),
            "The student must be at least 16; this date of birth makes them 11."
        );
        assert_eq!(sentence("émile?"), "Émile?");
        assert_eq!(sentence("  "), "");
    }

    #[test]
    fn counts_get_thousands_separators() {
        assert_eq!(super::thousands(0), "0");
        assert_eq!(super::thousands(999), "999");
        assert_eq!(super::thousands(1_000), "1,000");
        assert_eq!(super::thousands(112_600), "112,600");
        assert_eq!(super::thousands(1_234_567), "1,234,567");
        assert_eq!(super::thousands(-56_000i64), "-56,000");
    }
}
