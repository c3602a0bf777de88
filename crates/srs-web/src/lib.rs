//! srs web app: server-rendered pages, the JSON API, health and metrics.
//!
//! Pages and the API call the same store functions; neither holds SQL.

pub mod admission;
pub mod admission_feed;
pub mod auth;
pub mod charts;
pub mod cluster;
pub mod config;
pub mod error;
pub mod extract;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod state;
pub mod telemetry;

mod csv_io;
pub mod history;
mod housekeeping;
mod http_metrics;
mod page;
mod security;
pub mod standing;
mod switch_wait;

pub use config::{LogFormat, Settings, SiteName, SiteRole, TlsFiles};
pub use startup::Application;
