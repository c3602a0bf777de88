//! The front door: a reverse proxy that sends every request to the healthy
//! app instances of the active site only, round robin.
//!
//! - Active health checks (`/readyz`) and passive ones (connection errors)
//!   take an instance out of rotation and put it back when healthy.
//! - The active site is set through an admin endpoint on its own loopback
//!   address with a shared secret, and remembered across restarts.
//! - While a switch is in progress, or no instance of the active site is
//!   healthy, new requests wait (bounded) instead of failing.
//! - A request that may have reached an instance is never sent again,
//!   unless it is idempotent (GET/HEAD/OPTIONS, or carries an
//!   Idempotency-Key); one refused at connect never reached it and is.
//!
//! Depends on no app crate: it speaks only HTTP.

mod admin;
mod config;
mod proxy;
mod state;

pub use config::{EdgeConfig, SiteBackends};
pub use state::EdgeState;

use anyhow::Context;
use axum::serve::ListenerExt;
use std::future::Future;
use std::sync::Arc;

/// A running edge: its public and admin listeners.
pub struct Edge {
    state: Arc<EdgeState>,
    public: tokio::net::TcpListener,
    admin: tokio::net::TcpListener,
}

impl Edge {
    /// Binds both listeners and restores the remembered active site.
    pub async fn bind(config: EdgeConfig) -> anyhow::Result<Self> {
        let public = tokio::net::TcpListener::bind(config.listen)
            .await
            .with_context(|| format!("Failed to listen on {} (is it in use?)", config.listen))?;
        let admin = tokio::net::TcpListener::bind(config.admin_listen)
            .await
            .with_context(|| {
                format!(
                    "Failed to listen on {} for the admin endpoint",
                    config.admin_listen
                )
            })?;
        let state = Arc::new(EdgeState::new(config)?);
        Ok(Self {
            state,
            public,
            admin,
        })
    }

    /// The public port (useful with port 0).
    pub fn port(&self) -> u16 {
        self.public.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The admin port.
    pub fn admin_port(&self) -> u16 {
        self.admin.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// The shared state, for tests.
    pub fn state(&self) -> Arc<EdgeState> {
        self.state.clone()
    }

    /// Serves until `shutdown` resolves; requests in flight finish first.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let checks = tokio::spawn(state::health_loop(self.state.clone()));
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let mut admin_stop = stop_rx.clone();
        let admin = axum::serve(self.admin, admin::router(self.state.clone()))
            .with_graceful_shutdown(async move {
                let _ = admin_stop.wait_for(|s| *s).await;
            });
        let mut public_stop = stop_rx;
        // Proxied bodies stream in several writes; without TCP_NODELAY,
        // Nagle's algorithm holds the last one back for the client's ACK.
        let public = axum::serve(
            self.public.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
            }),
            proxy::router(self.state.clone())
                .into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .with_graceful_shutdown(async move {
            let _ = public_stop.wait_for(|s| *s).await;
        });
        tokio::spawn(async move {
            shutdown.await;
            tracing::info!("edge shutting down");
            let _ = stop_tx.send(true);
        });
        tracing::info!(active = ?self.state.active(), "srs edge ready");
        let (a, b) = tokio::join!(admin, public);
        checks.abort();
        a.context("admin endpoint failed")?;
        b.context("proxy failed")?;
        Ok(())
    }
}
