//! What the edge knows: the active site, each instance's health, and the
//! client it forwards with.

use crate::EdgeConfig;
use axum::body::Bytes;
use axum::http::uri::Authority;
use axum::http::HeaderValue;
use http_body_util::Full;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use metrics::Counter;
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use serde::{Deserialize, Serialize};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Mutex, RwLock};
use std::time::Duration;
use tokio::sync::Notify;

/// One app instance and whether it is in rotation.
#[derive(Debug)]
pub struct Instance {
    /// Its address.
    pub addr: SocketAddr,
    /// The address as a URI authority, made once rather than per request.
    pub(crate) authority: Authority,
    healthy: AtomicBool,
    /// A health check of it is under way (a hung one must not hold up
    /// the checks of the others).
    checking: AtomicBool,
}

/// What every response from a site carries and counts, made once.
pub(crate) struct SiteRoute {
    /// `X-Srs-Site`.
    pub(crate) header: HeaderValue,
    pub(crate) ok: Counter,
    pub(crate) server_error: Counter,
    pub(crate) instance_error: Counter,
}

/// Where one request goes: a site and one of its instances, by position.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Pick {
    site: usize,
    instance: usize,
}

impl Instance {
    /// Whether it is in rotation.
    pub fn healthy(&self) -> bool {
        self.healthy.load(Ordering::SeqCst)
    }
}

#[derive(Debug, Serialize, Deserialize)]
struct Remembered {
    active: Option<String>,
}

/// The edge's shared state.
pub struct EdgeState {
    pub(crate) config: EdgeConfig,
    active: RwLock<Option<String>>,
    switching: AtomicBool,
    pub(crate) changed: Notify,
    /// Woken when an instance leaves rotation or the active site changes:
    /// requests waiting on such an instance give up on it.
    pub(crate) lost: Notify,
    sites: Vec<(String, Vec<Instance>)>,
    routes: Vec<SiteRoute>,
    next: AtomicUsize,
    pub(crate) client: Client<HttpConnector, Full<Bytes>>,
    pub(crate) metrics: PrometheusHandle,
}

fn metrics_handle() -> anyhow::Result<PrometheusHandle> {
    // A lock, not a OnceLock: two edges starting at once must not both
    // try to install the process-wide recorder.
    static HANDLE: Mutex<Option<PrometheusHandle>> = Mutex::new(None);
    let mut slot = HANDLE
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if let Some(h) = slot.as_ref() {
        return Ok(h.clone());
    }
    let handle = PrometheusBuilder::new().install_recorder()?;
    // At zero from the start, so dashboards and rate() see the first event.
    for (name, help) in [
        (
            "srs_edge_requests_held_total",
            "Requests that waited for an instance of the active site.",
        ),
        (
            "srs_edge_requests_retried_total",
            "Requests sent again after the site answered that it did nothing.",
        ),
        (
            "srs_edge_requests_abandoned_total",
            "Requests whose instance or site failed while they were in flight.",
        ),
        ("srs_edge_switches_total", "Changes of the active site."),
    ] {
        metrics::describe_counter!(name, help);
        metrics::counter!(name).absolute(0);
    }
    // The recorder keeps histogram samples until an upkeep folds them into
    // their buckets; install_recorder starts none.
    let upkeep = handle.clone();
    if let Err(e) = std::thread::Builder::new()
        .name("metrics-upkeep".into())
        .spawn(move || loop {
            std::thread::sleep(std::time::Duration::from_secs(5));
            upkeep.run_upkeep();
        })
    {
        tracing::warn!(error = %e, "could not start the metrics upkeep");
    }
    *slot = Some(handle.clone());
    Ok(handle)
}

impl EdgeState {
    /// State from the config; the remembered active site wins over the
    /// configured initial one.
    pub fn new(config: EdgeConfig) -> anyhow::Result<Self> {
        let remembered = std::fs::read_to_string(&config.state_file)
            .ok()
            .and_then(|t| serde_json::from_str::<Remembered>(&t).ok())
            .and_then(|r| r.active);
        let active = remembered.or_else(|| config.initial_site.clone());
        // The recorder first: counters made before it would count nowhere.
        let metrics = metrics_handle()?;
        let mut sites = Vec::new();
        let mut routes = Vec::new();
        for s in &config.sites {
            let mut instances = Vec::new();
            for addr in &s.instances {
                instances.push(Instance {
                    addr: *addr,
                    authority: addr.to_string().parse()?,
                    // Optimistic until the first check: a fresh edge serves at once.
                    healthy: AtomicBool::new(true),
                    checking: AtomicBool::new(false),
                });
            }
            let counter = |outcome: &'static str| metrics::counter!("srs_edge_requests_total", "site" => s.name.clone(), "outcome" => outcome);
            routes.push(SiteRoute {
                header: HeaderValue::from_str(&s.name)?,
                ok: counter("ok"),
                server_error: counter("server_error"),
                instance_error: counter("instance_error"),
            });
            sites.push((s.name.clone(), instances));
        }
        let mut connector = HttpConnector::new();
        connector.set_connect_timeout(Some(Duration::from_secs(1)));
        connector.set_nodelay(true);
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(30))
            .build(connector);
        Ok(Self {
            config,
            active: RwLock::new(active),
            switching: AtomicBool::new(false),
            changed: Notify::new(),
            lost: Notify::new(),
            sites,
            routes,
            next: AtomicUsize::new(0),
            client,
            metrics,
        })
    }

    /// The site requests go to, if one is set.
    pub fn active(&self) -> Option<String> {
        self.active.read().map(|a| a.clone()).unwrap_or(None)
    }

    /// Whether a switch is in progress (new requests wait).
    pub fn switching(&self) -> bool {
        self.switching.load(Ordering::SeqCst)
    }

    /// Each site's instances.
    pub fn sites(&self) -> &[(String, Vec<Instance>)] {
        &self.sites
    }

    /// Whether `site` is one the edge knows.
    pub fn knows(&self, site: &str) -> bool {
        self.sites.iter().any(|(name, _)| name == site)
    }

    /// Holds new requests until [`EdgeState::finish_switch`].
    pub fn begin_switch(&self) {
        self.switching.store(true, Ordering::SeqCst);
    }

    /// Routes to `site` from now on, remembers it, and releases held requests.
    pub fn finish_switch(&self, site: &str) -> anyhow::Result<()> {
        if let Ok(mut a) = self.active.write() {
            *a = Some(site.to_owned());
        }
        let remembered = serde_json::to_string(&Remembered {
            active: Some(site.to_owned()),
        })?;
        let tmp = self.config.state_file.with_extension("tmp");
        let written = std::fs::write(&tmp, remembered)
            .and_then(|()| std::fs::rename(&tmp, &self.config.state_file));
        self.switching.store(false, Ordering::SeqCst);
        self.changed.notify_waiters();
        self.lost.notify_waiters();
        metrics::counter!("srs_edge_switches_total").increment(1);
        tracing::info!(site, "edge now routes to site");
        written.map_err(|e| {
            anyhow::anyhow!(
                "failed to remember the active site in {}: {e}",
                self.config.state_file.display()
            )
        })
    }

    /// A healthy instance of the active site, round robin; allocates
    /// nothing (it runs for every request).
    pub(crate) fn pick(&self) -> Option<Pick> {
        if self.switching() {
            return None;
        }
        let site = {
            let active = self.active.read().ok()?;
            let name = active.as_deref()?;
            self.sites.iter().position(|(n, _)| n == name)?
        };
        let instances = &self.sites.get(site)?.1;
        let healthy = instances.iter().filter(|i| i.healthy()).count();
        if healthy == 0 {
            return None;
        }
        let n = self.next.fetch_add(1, Ordering::Relaxed) % healthy;
        let (instance, _) = instances
            .iter()
            .enumerate()
            .filter(|(_, i)| i.healthy())
            .nth(n)?;
        Some(Pick { site, instance })
    }

    /// Whether a request sent by `pick` should still be waited for: its
    /// instance is in rotation and its site is the active one.
    pub(crate) fn still_wanted(&self, pick: Pick) -> bool {
        let healthy = self.instance(pick).is_some_and(Instance::healthy);
        let active = self.active.read().ok().is_some_and(|a| {
            a.as_deref()
                .is_some_and(|name| self.sites.get(pick.site).is_some_and(|(n, _)| n == name))
        });
        healthy && active
    }

    /// The instance a pick names.
    pub(crate) fn instance(&self, pick: Pick) -> Option<&Instance> {
        self.sites.get(pick.site)?.1.get(pick.instance)
    }

    /// The header and counters of a pick's site.
    pub(crate) fn route(&self, pick: Pick) -> Option<&SiteRoute> {
        self.routes.get(pick.site)
    }

    /// Takes an instance out of rotation or puts it back.
    pub(crate) fn mark(&self, addr: SocketAddr, healthy: bool) {
        for (site, instances) in &self.sites {
            for i in instances.iter().filter(|i| i.addr == addr) {
                let was = i.healthy.swap(healthy, Ordering::SeqCst);
                if was != healthy {
                    if healthy {
                        tracing::info!(%addr, site, "instance back in rotation");
                        self.changed.notify_waiters();
                    } else {
                        tracing::warn!(%addr, site, "instance out of rotation");
                        self.lost.notify_waiters();
                    }
                }
            }
        }
    }
}

/// How often an instance out of rotation is checked again: a standby
/// instance starting during a failover is in rotation as soon as it is ready.
const RECHECK_INTERVAL: Duration = Duration::from_millis(100);

/// Checks every instance's `/readyz`: those in rotation every health
/// interval, those out of it far more often.
pub(crate) async fn health_loop(state: std::sync::Arc<EdgeState>) {
    let mut tick = tokio::time::interval(RECHECK_INTERVAL.min(state.config.health_interval));
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    let mut last_full = tokio::time::Instant::now();
    loop {
        tick.tick().await;
        let full = last_full.elapsed() >= state.config.health_interval;
        if full {
            last_full = tokio::time::Instant::now();
        }
        for (site, instances) in &state.sites {
            for (i, instance) in instances.iter().enumerate() {
                let due = full || !instance.healthy();
                if !due || instance.checking.swap(true, Ordering::SeqCst) {
                    continue;
                }
                let state = state.clone();
                let site = site.clone();
                tokio::spawn(async move {
                    let Some(instance) = state
                        .sites
                        .iter()
                        .find(|(name, _)| *name == site)
                        .and_then(|(_, all)| all.get(i))
                    else {
                        return;
                    };
                    let ok = probe(&state, instance.addr).await;
                    state.mark(instance.addr, ok);
                    instance.checking.store(false, Ordering::SeqCst);
                });
            }
        }
    }
}

async fn probe(state: &EdgeState, addr: SocketAddr) -> bool {
    let Ok(uri) = format!("http://{addr}/readyz").parse::<axum::http::Uri>() else {
        return false;
    };
    let Ok(request) = axum::http::Request::get(uri).body(Full::new(Bytes::new())) else {
        return false;
    };
    matches!(
        tokio::time::timeout(Duration::from_secs(1), state.client.request(request)).await,
        Ok(Ok(r)) if r.status().is_success()
    )
}
