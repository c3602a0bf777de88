//! Plugs `srs status` into the app's /admin/dr page when an instance runs
//! inside a cluster started by `srs up`.

use srs_dr::ClusterDir;
use srs_web::cluster::{ClusterView, DrSiteView, DrView, ViewFuture};

/// Reads the cluster in a data directory.
pub struct DataDirView(pub ClusterDir);

impl ClusterView for DataDirView {
    fn view(&self) -> ViewFuture<'_> {
        let dir = self.0.clone();
        Box::pin(async move {
            let status = srs_dr::operator::status::collect(&dir).await?;
            Ok(DrView {
                sync_mode: status.sync_mode.clone(),
                edge: srs_dr::operator::status::edge_text(&status),
                controller: srs_dr::operator::status::controller_text(&status),
                quorum: srs_dr::operator::status::quorum_text(&status),
                alerts: srs_dr::operator::status::alert_texts(&status),
                last_drill: srs_dr::operator::status::drill_text(&status),
                backups: srs_dr::operator::status::backups_text(&status),
                events: status
                    .events
                    .iter()
                    .rev()
                    .map(|e| {
                        let failed = e
                            .error
                            .as_deref()
                            .map(|err| format!(" (failed: {err})"))
                            .unwrap_or_default();
                        (e.at.clone(), format!("{}{failed}", e.what))
                    })
                    .collect(),
                sites: srs_dr::operator::status::rows(&status)
                    .into_iter()
                    .map(|r| DrSiteView {
                        name: r.name,
                        role: r.role,
                        database: r.database,
                        read_only: r.read_only,
                        gtid: r.gtid,
                        threads: r.threads,
                        lag: r.lag,
                        semi_sync: r.semi_sync,
                        apps: r.apps,
                        lease: r.lease,
                        note: r.note,
                    })
                    .collect(),
            })
        })
    }
}
