//! Static files embedded in the binary: nothing loads from outside the server.

use crate::state::AppState;
use axum::http::header;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;

const BOOTSTRAP_CSS: &[u8] = include_bytes!("../../assets/bootstrap.min.css");
const APP_CSS: &str = include_str!("../../assets/app.css");
const FAVICON: &str = include_str!("../../assets/favicon.svg");
const APP_JS: &str = include_str!("../../assets/app.js");

/// Routes for embedded assets.
pub fn router() -> Router<AppState> {
    Router::new()
        .route(
            "/assets/bootstrap.min.css",
            get(|| async { css(BOOTSTRAP_CSS) }),
        )
        .route("/assets/app.css", get(|| async { css(APP_CSS.as_bytes()) }))
        .route(
            "/assets/app.js",
            get(|| async {
                (
                    [
                        (header::CONTENT_TYPE, "text/javascript; charset=utf-8"),
                        (header::CACHE_CONTROL, "public, max-age=86400"),
                    ],
                    APP_JS,
                )
            }),
        )
        // Browsers ask for /favicon.ico whatever the page links.
        .route("/assets/favicon.svg", get(|| async { icon() }))
        .route("/favicon.ico", get(|| async { icon() }))
}

fn icon() -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        FAVICON,
    )
}

fn css(body: &'static [u8]) -> impl IntoResponse {
    (
        [
            (header::CONTENT_TYPE, "text/css; charset=utf-8"),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
}
