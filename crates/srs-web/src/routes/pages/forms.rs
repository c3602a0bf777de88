//! Form plumbing shared by the pages: parsing bodies and keeping input.

use crate::page::PageError;
use axum::extract::rejection::FormRejection;
use axum::http::StatusCode;
use axum::Form;
use srs_domain::ValidationErrors;
use std::collections::BTreeMap;

/// Unwraps a form body or answers with a clear 400 page.
fn form_or_400<T>(form: Result<Form<T>, FormRejection>) -> Result<T, PageError> {
    form.map(|Form(v)| v).map_err(|e| {
        if e.status() == StatusCode::PAYLOAD_TOO_LARGE {
            PageError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                "The form is larger than this site accepts.",
            )
        } else {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}"),
            )
        }
    })
}

/// A form that carries nothing but its CSRF token (delete, restore,
/// revoke, sign out), which [`CsrfForm`] checks.
#[derive(Debug, Default, serde::Deserialize)]
pub(crate) struct TokenOnly {}

/// What the user typed, and what is wrong with it, for re-showing a form.
#[derive(Debug, Default)]
pub struct FormView {
    values: BTreeMap<&'static str, String>,
    /// Field errors, shown beside their fields.
    pub errors: ValidationErrors,
    /// The record's fields as the form was loaded (hidden `orig_*` inputs):
    /// what the user left alone is not sent as a change.
    pub orig: BTreeMap<&'static str, String>,
}

/// One line of a form's error summary: links to its field.
pub struct SummaryLine {
    /// The field's id on the page.
    pub field: String,
    /// The field as the page names it.
    pub label: String,
    /// What is wrong.
    pub message: String,
}

impl FormView {
    /// The error summary above the form, one line a field error.
    pub fn summary(&self) -> Vec<SummaryLine> {
        self.errors
            .0
            .iter()
            .map(|e| SummaryLine {
                field: e.field.clone(),
                label: crate::history::field_label(&e.field),
                message: crate::page::sentence(&e.message),
            })
            .collect()
    }

    /// Keeps `value` for `field`.
    pub fn set(&mut self, field: &'static str, value: impl Into<String>) {
        self.values.insert(field, value.into());
    }

    /// The value to show in `field`.
    pub fn value(&self, field: &str) -> &str {
        self.values
            .get(field)
            .map(String::as_str)
            .unwrap_or_default()
    }

    /// The error to show under `field`, as a sentence.
    pub fn error(&self, field: &str) -> Option<String> {
        self.errors.message_for(field).map(crate::page::sentence)
    }
}

/// Refuses a form, as its name-value pairs, whose CSRF token does not
/// match the page cookie's.
pub(crate) fn check_csrf_of(
    ctx: &crate::page::PageCtx,
    pairs: &[(String, String)],
) -> Result<(), PageError> {
    let token = pairs
        .iter()
        .find(|(k, _)| k == "csrf_token")
        .map(|(_, v)| v.as_str())
        .unwrap_or_default();
    ctx.check_csrf(token)
}

/// A form body whose CSRF token matched the page cookie's: a handler that
/// takes one never sees unchecked input. Also reads the page context, which
/// holds the expected token.
pub(crate) struct CsrfForm<T>(pub T);

impl<T> axum::extract::FromRequest<crate::state::AppState> for CsrfForm<T>
where
    T: serde::de::DeserializeOwned + Send,
{
    type Rejection = PageError;

    async fn from_request(
        req: axum::extract::Request,
        state: &crate::state::AppState,
    ) -> Result<Self, PageError> {
        use axum::extract::FromRequestParts as _;
        let (mut parts, body) = req.into_parts();
        let ctx = crate::page::PageCtx::from_request_parts(&mut parts, state).await?;
        let req = axum::extract::Request::from_parts(parts, body);
        let form = Form::<Vec<(String, String)>>::from_request(req, state).await;
        let pairs = form_or_400(form)?;
        check_csrf_of(&ctx, &pairs)?;
        // Decoded again into the handler's type: the pairs keep repeated
        // keys (lists of ids) that a struct reads as a sequence.
        let encoded = serde_urlencoded::to_string(&pairs).unwrap_or_default();
        let value = serde_html_form::from_str(&encoded).map_err(|e| {
            PageError::new(
                StatusCode::BAD_REQUEST,
                format!("The form could not be read: {e}"),
            )
        })?;
        Ok(Self(value))
    }
}
