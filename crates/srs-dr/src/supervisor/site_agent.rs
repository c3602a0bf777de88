//! `srs site-agent`: the small process next to a site's database in a
//! cluster across hosts. It holds the site's lease in the quorum, tells the
//! site's app instances (on `/admission`) which site holds the primary
//! epoch and how much write lease they have left, and fences its own
//! database when it loses the quorum for a whole write lease: a cut-off or
//! woken-up site stops taking writes without anyone reaching it. It never
//! makes the database writable; the leader does, under the current epoch.

use crate::cluster_dir::ClusterDir;
use crate::controller::actuators::Databases;
use crate::controller::connections::AdminConnections;
use crate::controller::published::{About, EventKind, EventLog};
use crate::quorum::site_lease::{LiveGrant, SiteLease, SiteStanding};
use anyhow::Context;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use srs_domain::SiteName;
use std::future::Future;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// What the agent last found, shared with its endpoint.
#[derive(Debug, Default)]
struct View {
    standing: Option<SiteStanding>,
    /// The writes the last record read grants, following the lease live.
    grant: Option<LiveGrant>,
    fenced: bool,
}

impl View {
    fn write_lease_left(&self) -> Duration {
        self.grant
            .as_ref()
            .and_then(LiveGrant::writes_until)
            .map_or(Duration::ZERO, |until| {
                until.saturating_duration_since(Instant::now())
            })
    }

    /// The site is the primary as last known, yet takes no writes because
    /// it lost the quorum (not merely waiting for the leader's grant).
    fn refuses_writes_without_quorum(&self, site: &SiteName) -> bool {
        let Some(standing) = &self.standing else {
            return false;
        };
        let named = standing.primary.as_ref().is_some_and(|p| p.site == *site);
        named && self.write_lease_left().is_zero() && !(standing.reached && standing.holds_lease())
    }
}

type Shared = Arc<Mutex<View>>;

/// What `/admission` tells the site's app instances.
#[derive(Debug, serde::Serialize)]
struct Answer {
    site: SiteName,
    #[serde(skip_serializing_if = "Option::is_none")]
    primary_site: Option<SiteName>,
    #[serde(skip_serializing_if = "Option::is_none")]
    epoch: Option<u64>,
    /// Write lease left, ms; 0: writes are refused.
    write_lease_ms: u64,
    /// The site's lease lives (it reaches the quorum).
    holds_lease: bool,
    /// The agent set its database read-only after losing the quorum.
    fenced: bool,
}

fn answer(site: &SiteName, view: &View) -> Answer {
    let standing = view.standing.as_ref();
    let primary = standing.and_then(|s| s.primary.as_ref());
    let left = view.write_lease_left().as_millis();
    Answer {
        site: site.clone(),
        primary_site: primary.map(|p| p.site.clone()),
        epoch: primary.map(|p| p.epoch),
        write_lease_ms: u64::try_from(left).unwrap_or(u64::MAX),
        holds_lease: standing.is_some_and(SiteStanding::holds_lease),
        fenced: view.fenced,
    }
}

/// Prometheus text: what an operator alerts on when a location is cut off
/// (this agent is the one process there that knows it).
fn metrics(site: &SiteName, view: &View) -> String {
    let standing = view.standing.as_ref();
    let gauge = |name: &str, help: &str, value: f64| {
        format!("# HELP {name} {help}\n# TYPE {name} gauge\n{name}{{site=\"{site}\"}} {value}\n")
    };
    [
        gauge(
            "srs_site_agent_quorum_reached",
            "1 while the site's agent reaches the quorum and holds the site's lease.",
            f64::from(u8::from(standing.is_some_and(|s| s.reached && s.holds_lease()))),
        ),
        gauge(
            "srs_site_agent_write_lease_seconds",
            "Write lease the site's app instances have left (0: they refuse writes).",
            view.write_lease_left().as_secs_f64(),
        ),
        gauge(
            "srs_site_agent_refuses_writes_without_quorum",
            "1 while the site is primary as last known but refuses writes because it lost the quorum.",
            f64::from(u8::from(view.refuses_writes_without_quorum(site))),
        ),
        gauge(
            "srs_site_agent_fenced",
            "1 after the agent set its database read-only for losing the quorum.",
            f64::from(u8::from(view.fenced)),
        ),
    ]
    .concat()
}

/// How often the agent reads the primary record: twenty times a write
/// lease, within 100-500 ms. A new primary's site waits up to one round to
/// learn it was granted writes, so the round is part of every failover's
/// RTO (100 ms with the default 2 s lease, for one small read a round).
fn round(write_lease: Duration) -> Duration {
    (write_lease / 20).clamp(Duration::from_millis(100), Duration::from_millis(500))
}

/// Runs the agent of site `site` of the topology in `data_dir` until
/// `shutdown`.
pub async fn run(
    data_dir: &ClusterDir,
    site: &SiteName,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let cluster = crate::Cluster::open(data_dir)?;
    let section = cluster.topology.quorum.clone().with_context(|| {
        format!(
            "{}: a site agent needs a [quorum] section (etcd members); one machine needs none",
            data_dir
                .file(crate::cluster_dir::ClusterFile::Topology)
                .display()
        )
    })?;
    let own = cluster.site(site)?.clone();
    let port = own.agent_port.with_context(|| {
        format!("site '{site}': set agent_port, where its app instances ask the agent")
    })?;
    // No observer here keeps a connection fresh: each step opens its own.
    let databases = Databases::new(
        cluster.topology,
        cluster.secrets,
        data_dir,
        std::sync::Arc::new(AdminConnections::none()),
    );
    let events = EventLog::new(data_dir);
    let mut lease = SiteLease::new(&section, site)?;
    let shared = Shared::default();

    let server = serve(&own, port, site, &shared).await?;

    let every = round(Duration::from_secs(section.write_lease_secs));
    tokio::pin!(shutdown);
    let mut watch = Watch::default();
    loop {
        let standing = lease.check().await;
        let fenced = shared.lock().unwrap_or_else(|e| e.into_inner()).fenced;
        let epoch = standing.primary.as_ref().map_or(0, |p| p.epoch);
        let next = watch.after(&standing, fenced);
        if next.regained {
            events.record(
                epoch,
                about(site, EventKind::QuorumRegained),
                &format!("site agent of '{site}': the quorum is reached again; the database stays read-only until the leader promotes it"),
                None,
            );
        }
        let granted = standing.writes_until.is_some();
        {
            let mut view = shared.lock().unwrap_or_else(|e| e.into_inner());
            view.standing = Some(standing);
            view.grant = lease.grant();
            if view.fenced && granted {
                view.fenced = false;
            }
        }
        if next.fence {
            let fence = SelfFence {
                databases: &databases,
                events: &events,
                site,
                lease_secs: section.write_lease_secs,
            };
            if fence.fence(epoch).await {
                shared.lock().unwrap_or_else(|e| e.into_inner()).fenced = true;
            }
        }
        tokio::select! {
            () = &mut shutdown => break,
            () = tokio::time::sleep(every) => {}
        }
    }
    server.abort();
    Ok(())
}

/// What one round of the agent does about its lease.
#[derive(Debug, Default, PartialEq, Eq)]
struct Next {
    /// Set the database read-only.
    fence: bool,
    /// Say the quorum is reached again (the database stays fenced).
    regained: bool,
}

/// What the agent remembers of its lease between rounds.
#[derive(Debug, Default)]
struct Watch {
    held_once: bool,
    held_last: bool,
}

impl Watch {
    /// The next step after a round found `standing`, the database being
    /// `fenced` already or not. A site that held a lease and has none now,
    /// or has a new one that replaced a lease that ran out while the agent
    /// could not renew it (a pause shorter than a round would otherwise go
    /// unnoticed), fences its database.
    fn after(&mut self, standing: &SiteStanding, fenced: bool) -> Next {
        let holds = standing.holds_lease();
        self.held_once |= holds;
        let lost = !holds || standing.lost_a_lease;
        let next = Next {
            fence: self.held_once && lost && !fenced,
            regained: holds && !self.held_last && fenced,
        };
        self.held_last = holds;
        next
    }
}

/// An event about site `site`.
fn about(site: &SiteName, kind: EventKind) -> About {
    About {
        kind,
        site: Some(site.clone()),
        from: None,
    }
}

/// Sets the site's own database read-only, as an event.
struct SelfFence<'a> {
    databases: &'a Databases,
    events: &'a EventLog,
    site: &'a SiteName,
    lease_secs: u64,
}

impl SelfFence<'_> {
    /// Tries once (5 s at most); true when the database is fenced.
    async fn fence(&self, epoch: u64) -> bool {
        let site = self.site;
        let what = format!(
            "site agent of '{site}': lost the quorum for a whole write lease ({} s): database set read-only",
            self.lease_secs
        );
        let about = about(site, EventKind::SiteSelfFenced);
        match tokio::time::timeout(Duration::from_secs(5), self.databases.fence(site)).await {
            Ok(Ok(how)) => {
                self.events
                    .record(epoch, about, &format!("{what} ({how})"), None);
                true
            }
            Ok(Err(e)) => {
                self.events
                    .record(epoch, about, &what, Some(&format!("{e:#}")));
                false
            }
            Err(_) => {
                let error = "the database did not answer within 5 s";
                self.events.record(epoch, about, &what, Some(error));
                false
            }
        }
    }
}

/// Serves `/admission`, `/metrics` and `/healthz` for the site's app
/// instances and monitoring, from what the rounds share.
async fn serve(
    own: &crate::topology::Site,
    port: u16,
    site: &SiteName,
    shared: &Shared,
) -> anyhow::Result<tokio::task::JoinHandle<std::io::Result<()>>> {
    let addr = std::net::SocketAddr::new(
        own.app_host
            .parse()
            .with_context(|| format!("site '{site}': app_host must be an IP address"))?,
        port,
    );
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("site agent: cannot listen on {addr} (is it in use?)"))?;
    tracing::info!(%addr, site = %site, "site agent: /admission, /metrics, /healthz");
    let app = Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route(
            "/admission",
            get(
                |State((site, shared)): State<(SiteName, Shared)>| async move {
                    let view = shared.lock().unwrap_or_else(|e| e.into_inner());
                    axum::Json(answer(&site, &view)).into_response()
                },
            ),
        )
        .route(
            "/metrics",
            get(
                |State((site, shared)): State<(SiteName, Shared)>| async move {
                    let view = shared.lock().unwrap_or_else(|e| e.into_inner());
                    (
                        [(
                            axum::http::header::CONTENT_TYPE,
                            "text/plain; version=0.0.4",
                        )],
                        metrics(&site, &view),
                    )
                        .into_response()
                },
            ),
        )
        .fallback(|| async { (StatusCode::NOT_FOUND, "not found") })
        .with_state((site.clone(), shared.clone()));
    let server = tokio::spawn(async move { axum::serve(listener, app).await });

    Ok(server)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn standing(holds: bool, lost_a_lease: bool) -> SiteStanding {
        SiteStanding {
            primary: None,
            writes_until: None,
            lease_until: holds.then(|| Instant::now() + Duration::from_secs(2)),
            reached: holds,
            lost_a_lease,
        }
    }

    #[test]
    fn a_site_fences_once_it_lost_its_lease_and_says_when_the_quorum_is_back() {
        let mut watch = Watch::default();
        assert_eq!(
            watch.after(&standing(false, false), false),
            Next::default(),
            "never held: nothing to fence"
        );
        assert_eq!(watch.after(&standing(true, false), false), Next::default());
        let cut = watch.after(&standing(false, false), false);
        assert!(cut.fence, "held, now none: fence");
        assert_eq!(
            watch.after(&standing(false, false), true),
            Next::default(),
            "fenced already"
        );
        let back = watch.after(&standing(true, false), true);
        assert_eq!(
            back,
            Next {
                fence: false,
                regained: true
            }
        );
    }

    #[test]
    fn a_pause_that_replaced_the_lease_fences_too() {
        let mut watch = Watch::default();
        watch.after(&standing(true, false), false);
        // Woken after the lease ran out: a new lease already, in one round.
        let woke = watch.after(&standing(true, true), false);
        assert!(woke.fence, "{woke:?}");
        assert!(!woke.regained, "it never saw the quorum lost");
    }
    use crate::quorum::PrimaryRecord;

    fn name(n: &str) -> SiteName {
        SiteName::parse(n).expect("valid")
    }

    fn view(primary: &str, reached: bool, lease_left: Option<Duration>) -> View {
        View {
            standing: Some(SiteStanding {
                primary: Some(PrimaryRecord::new(name(primary), 3)),
                writes_until: None,
                lease_until: lease_left.map(|d| Instant::now() + d),
                reached,
                lost_a_lease: false,
            }),
            grant: None,
            fenced: false,
        }
    }

    #[test]
    fn a_primary_cut_off_from_the_quorum_says_it_refuses_writes() {
        let a = name("a");
        let cut_off = view("a", false, None);
        assert!(cut_off.refuses_writes_without_quorum(&a));
        let text = metrics(&a, &cut_off);
        assert!(
            text.contains("srs_site_agent_refuses_writes_without_quorum{site=\"a\"} 1"),
            "{text}"
        );
        assert!(
            text.contains("srs_site_agent_quorum_reached{site=\"a\"} 0"),
            "{text}"
        );
        assert!(
            text.contains("srs_site_agent_write_lease_seconds{site=\"a\"} 0"),
            "{text}"
        );

        // Holding its lease while the leader has yet to grant it writes is
        // not being cut off; nor is a replica that lost the quorum.
        let waiting = view("a", true, Some(Duration::from_secs(2)));
        assert!(!waiting.refuses_writes_without_quorum(&a));
        let replica = view("b", false, None);
        assert!(!replica.refuses_writes_without_quorum(&a));
        assert!(!View::default().refuses_writes_without_quorum(&a));
    }

    #[test]
    fn the_answer_without_a_grant_gives_no_write_lease() {
        let a = name("a");
        let answer = answer(&a, &view("a", true, Some(Duration::from_secs(2))));
        assert_eq!(answer.write_lease_ms, 0);
        assert!(answer.holds_lease);
        assert_eq!(answer.epoch, Some(3));
    }
}
