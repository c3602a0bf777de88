//! Builds the app from settings and runs it until told to stop.

use crate::auth::throttle::LoginThrottle;
use crate::auth::{Clock, SystemClock};
use crate::error::ApiError;
use crate::page::{page_errors, page_session, PageError};
use crate::state::AppState;
use crate::{http_metrics, openapi, routes, Settings};
use anyhow::Context;
use axum::extract::{DefaultBodyLimit, Request};
use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::middleware;
use axum::response::{IntoResponse, Response};
use axum::serve::ListenerExt;
use axum::Router;
use secrecy::ExposeSecret;
use srs_store::{Store, StoreOptions};
use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;
use tokio::net::TcpListener;
use tower_http::request_id::{
    MakeRequestId, PropagateRequestIdLayer, RequestId, SetRequestIdLayer,
};
use tower_http::set_header::SetResponseHeaderLayer;
use tower_http::trace::TraceLayer;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// A built app, bound to its port, ready to run.
pub struct Application {
    listener: TcpListener,
    router: Router,
    state: AppState,
    tls: Option<axum_server::tls_rustls::RustlsConfig>,
}

impl Application {
    /// Opens the database, applies migrations and binds the listener.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        Self::build_with_clock(settings, Arc::new(SystemClock)).await
    }

    /// As [`Application::build`], with a time source tests can move.
    pub async fn build_with_clock(
        settings: Settings,
        clock: Arc<dyn Clock>,
    ) -> anyhow::Result<Self> {
        let options = StoreOptions {
            max_connections: settings.max_connections,
            ..StoreOptions::default()
        };
        let store = Store::connect(settings.database_url.expose_secret(), &options)
            .await
            .context("Failed to open the database")?;
        store
            .migrate()
            .await
            .context("Failed to apply database migrations")?;
        let listener = TcpListener::bind(settings.listen).await.with_context(|| {
            format!(
                "Failed to listen on {} (is another process using it?)",
                settings.listen
            )
        })?;
        let standing =
            crate::standing::Standing::new(settings.site_name.clone(), settings.site_role);
        let standing = Arc::new(if settings.write_lease {
            standing.with_write_lease()
        } else {
            standing
        });
        let state = AppState::new(crate::state::Shared {
            store,
            standing,
            settings: Arc::new(settings),
            metrics: http_metrics::handle().context("Failed to set up metrics")?,
            route_metrics: http_metrics::RouteMetrics::default(),
            throttle: Arc::new(LoginThrottle::new(clock.clone())),
            clock,
            write_gate: Arc::default(),
            cluster: Arc::default(),
            dr_summary: Default::default(),
            stopping: Arc::default(),
        });
        let tls = match &state.settings.tls {
            None => None,
            Some(files) => {
                // One process-wide provider; a second install is harmless.
                let _ = rustls::crypto::ring::default_provider().install_default();
                Some(
                    axum_server::tls_rustls::RustlsConfig::from_pem_file(&files.cert, &files.key)
                        .await
                        .with_context(|| {
                            format!(
                                "Failed to load the TLS certificate {} and key {}",
                                files.cert.display(),
                                files.key.display()
                            )
                        })?,
                )
            }
        };
        let router = router(state.clone());
        Ok(Self {
            listener,
            router,
            state,
            tls,
        })
    }

    /// The port the app listens on (useful with port 0).
    pub fn port(&self) -> u16 {
        self.listener.local_addr().map(|a| a.port()).unwrap_or(0)
    }

    /// Shows `view` at /admin/dr (set once, before or while serving).
    pub fn set_cluster_view(&self, view: Arc<dyn crate::cluster::ClusterView>) {
        let _ = self.state.cluster.set(view);
    }

    /// The shared state, for tests and tools.
    pub fn state(&self) -> &AppState {
        &self.state
    }

    /// Serves until `shutdown` resolves (and, in a cluster, the drain has
    /// passed), then lets requests in flight finish
    /// (bounded by the grace period) and closes the database pool.
    pub async fn run_until_stopped(
        self,
        shutdown: impl Future<Output = ()> + Send + 'static,
    ) -> anyhow::Result<()> {
        let addr = self
            .listener
            .local_addr()
            .context("Failed to read the listening address")?;
        tracing::info!(%addr, site = %self.state.settings.site_name, role = %self.state.settings.site_role,
            database = self.state.store.backend().as_str(), "srs serve listening");
        let grace = Duration::from_secs(self.state.settings.shutdown_grace_secs);
        let shutdown = drain_first(self.state.clone(), shutdown);
        let housekeeping = tokio::spawn(crate::housekeeping::run(self.state.store.clone()));
        let _stop_housekeeping = AbortOnDrop(housekeeping);
        if let Some(tls) = self.tls {
            let handle = axum_server::Handle::new();
            let stopper = handle.clone();
            tokio::spawn(async move {
                shutdown.await;
                tracing::info!("shutting down: no new connections; finishing requests in flight");
                stopper.graceful_shutdown(Some(grace));
            });
            let listener = self
                .listener
                .into_std()
                .context("Failed to hand the listener to TLS")?;
            axum_server::from_tcp_rustls(listener, tls)
                .handle(handle)
                .serve(
                    self.router
                        .into_make_service_with_connect_info::<SocketAddr>(),
                )
                .await
                .context("The HTTPS server failed")?;
            self.state.store.close().await;
            tracing::info!("stopped");
            return Ok(());
        }
        let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
        let signal = async move {
            shutdown.await;
            tracing::info!("shutting down: no new connections; finishing requests in flight");
            let _ = stop_tx.send(true);
        };
        // Small answers go out at once rather than waiting for an ACK (Nagle).
        let serve = axum::serve(
            self.listener.tap_io(|tcp| {
                if let Err(e) = tcp.set_nodelay(true) {
                    tracing::debug!(error = %e, "TCP_NODELAY not set");
                }
            }),
            self.router
                .into_make_service_with_connect_info::<SocketAddr>(),
        )
        .with_graceful_shutdown(signal);
        let deadline = async move {
            let mut rx = stop_rx;
            while !*rx.borrow() {
                if rx.changed().await.is_err() {
                    std::future::pending::<()>().await;
                }
            }
            tokio::time::sleep(grace).await;
        };
        tokio::select! {
            result = serve => result.context("The HTTP server failed")?,
            () = deadline => tracing::warn!(grace_secs = grace.as_secs(), "requests still in flight after the grace period; stopping anyway"),
        }
        self.state.store.close().await;
        tracing::info!("stopped");
        Ok(())
    }
}

/// The link back to the site that the API documentation page (Swagger UI's
/// own HTML) gets at the top of its body.
const DOCS_WAY_BACK: &str =
    "<body>\n<p style=\"margin:.5rem 1rem;font-family:sans-serif\"><a href=\"/\" id=\"docs-back\">&larr; Back to srs</a></p>";

/// The viewport tag the documentation page lacks.
const DOCS_VIEWPORT: &str =
    "<head>\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">";

/// Adds [`DOCS_WAY_BACK`] (and a viewport tag) to the documentation's HTML page; its scripts
/// and JSON pass as they are.
async fn docs_way_back(response: axum::response::Response) -> axum::response::Response {
    let is_html = response
        .headers()
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("text/html"));
    if !is_html {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    // The page is Swagger UI's index of a few KB.
    let Ok(bytes) = axum::body::to_bytes(body, 1 << 20).await else {
        return axum::http::StatusCode::INTERNAL_SERVER_ERROR.into_response();
    };
    let mut html = String::from_utf8_lossy(&bytes).replacen("<body>", DOCS_WAY_BACK, 1);
    // Swagger UI's page has no viewport tag: phones render it 980 px wide.
    if !html.contains("name=\"viewport\"") {
        html = html.replacen("<head>", DOCS_VIEWPORT, 1);
    }
    parts.headers.remove(axum::http::header::CONTENT_LENGTH);
    axum::response::Response::from_parts(parts, axum::body::Body::from(html))
}

/// Gives each request a random UUID (v4) as its id. tower-http's
/// `MakeRequestUuid` asks the kernel for every one (a getrandom call per
/// request); this draws from the thread's own generator, seeded from the
/// kernel, which is as unpredictable for an id that only has to be unique.
#[derive(Debug, Clone, Copy)]
struct RandomRequestId;

impl MakeRequestId for RandomRequestId {
    fn make_request_id<B>(&mut self, _: &axum::http::Request<B>) -> Option<RequestId> {
        let id = uuid::Builder::from_random_bytes(rand::random()).into_uuid();
        HeaderValue::from_str(&id.to_string())
            .ok()
            .map(RequestId::new)
    }
}

/// The whole app: pages, API, docs, health, assets and the middleware.
pub fn router(state: AppState) -> Router {
    let pages = routes::pages::router(&state)
        .layer(middleware::from_fn_with_state(
            state.clone(),
            routes::pages::keep_form_of_expired_session,
        ))
        .layer(middleware::from_fn_with_state(state.clone(), page_session));
    let api = routes::api::router(&state);
    let app = Router::new()
        .merge(pages)
        .nest("/api/v1", api)
        .merge(
            Router::from(
                SwaggerUi::new("/api/docs").url("/api/v1/openapi.json", openapi::ApiDoc::openapi()),
            )
            .layer(middleware::map_response(docs_way_back)),
        )
        .merge(routes::health::router())
        .merge(routes::assets::router())
        .route_layer(middleware::from_fn_with_state(
            state.clone(),
            http_metrics::track,
        ))
        // Before the layers below, so that unknown addresses get the
        // signed-in layout too.
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(state.clone());
    // Around the whole router as one service, not through Router::layer:
    // that boxes every route anew under each layer, and each from_fn
    // layer clones what is under it per request, so each request cloned
    // the stack below every layer again (a quarter of a cached read's CPU
    // in allocations, bench/floor.sh). Here a layer clones the router
    // under it, an Arc.
    let around = tower::ServiceBuilder::new()
        .layer(SetRequestIdLayer::new(REQUEST_ID, RandomRequestId))
        .layer(TraceLayer::new_for_http().make_span_with(|req: &Request| {
            let request_id = req
                .headers()
                .get(REQUEST_ID)
                .and_then(|v| v.to_str().ok())
                .unwrap_or_default();
            tracing::info_span!("request", method = %req.method(), path = %req.uri().path(), request_id)
        }))
        .layer(PropagateRequestIdLayer::new(REQUEST_ID))
        .layer(SetResponseHeaderLayer::if_not_present(
            HeaderName::from_static("x-srs-site"),
            HeaderValue::from_str(&state.settings.site_name).unwrap_or(HeaderValue::from_static("unknown")),
        ))
        .layer(middleware::from_fn(crate::security::harden))
        .layer(DefaultBodyLimit::max(state.settings.max_body_bytes))
        .layer(middleware::from_fn_with_state(state.clone(), crate::auth::middleware::authenticate))
        .layer(middleware::from_fn_with_state(state, page_errors))
        .service(app);
    Router::new().fallback_service(around)
}

/// How long an instance of a cluster keeps serving after it was told to
/// stop, with readiness answering 503: two health-check intervals of the
/// edge (500 ms) and of HAProxy as `srs haproxy-config` sets it up, so no
/// front door sends it a request after it closes.
const DRAIN: Duration = Duration::from_millis(1_000);

/// `shutdown`, followed in a cluster by the drain.
async fn drain_first(state: AppState, shutdown: impl Future<Output = ()> + Send + 'static) {
    shutdown.await;
    if state.standing.under_controller() {
        state
            .stopping
            .store(true, std::sync::atomic::Ordering::SeqCst);
        tracing::info!(
            drain_ms = DRAIN.as_millis() as u64,
            "stopping: readiness answers 503 so the front door takes this instance out; still serving meanwhile"
        );
        tokio::time::sleep(DRAIN).await;
    }
}

async fn method_not_allowed(req: Request) -> Response {
    let message = format!("{} is not allowed on {}", req.method(), req.uri().path());
    if req.uri().path().starts_with("/api/") {
        ApiError::MethodNotAllowed(message).into_response()
    } else {
        PageError::new(StatusCode::METHOD_NOT_ALLOWED, message).into_response()
    }
}

async fn not_found(req: Request) -> Response {
    if req.uri().path().starts_with("/api/") {
        ApiError::NotFound.into_response()
    } else {
        PageError::new(StatusCode::NOT_FOUND, "There is no page at this address.").into_response()
    }
}

/// Stops a background task when the server stops.
struct AbortOnDrop(tokio::task::JoinHandle<()>);

impl Drop for AbortOnDrop {
    fn drop(&mut self) {
        self.0.abort();
    }
}
