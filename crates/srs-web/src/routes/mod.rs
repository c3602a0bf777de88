//! Routes, one module a resource; each exposes `router()`.

pub mod api;
pub mod assets;
pub mod health;
pub mod pages;

/// Health checks, metrics and static assets: public, about the instance
/// rather than the records, so they need no credential and are answered
/// by any instance, whatever its site's standing.
pub(crate) fn is_infrastructure(path: &str) -> bool {
    path.starts_with("/assets/")
        || matches!(
            path,
            "/healthz" | "/readyz" | "/readyz/primary" | "/metrics" | "/favicon.ico"
        )
}
