//! How srs reaches each site's database: over the socket of a server it
//! runs itself, over TCP with an administrative account otherwise.

use crate::cluster_dir::ClusterDir;
use crate::secrets::Secrets;
use crate::topology::{Site, Topology};
use srs_mariadb::{Admin, Credentials, ServerConfig};

/// The settings of the server srs runs for a local `site` under `data_dir`.
pub fn server_config(
    topology: &Topology,
    secrets: &Secrets,
    data_dir: &ClusterDir,
    site: &Site,
) -> ServerConfig {
    let index = topology
        .sites
        .iter()
        .position(|s| s.name == site.name)
        .and_then(|i| u32::try_from(i).ok())
        .unwrap_or(0);
    ServerConfig {
        name: site.name.to_string(),
        // Absolute, as `srs up` starts it: the pid file and the command line
        // that identify the running server name this path.
        dir: {
            let dir = data_dir.site_db(&site.name);
            std::path::absolute(&dir).unwrap_or(dir)
        },
        port: site.db_port,
        server_id: index + 1,
        buffer_pool_mb: topology.buffer_pool_mb,
        parallel_threads: topology.parallel_apply_threads,
        sync_mode: topology.sync_mode(),
        root_password: secrets.root_password.clone(),
        // Across hosts the other site's controller administers it.
        network: topology.quorum.as_ref().map(|_| srs_mariadb::Network {
            bind_address: site.db_host.clone(),
            admin_user: site.admin_user.clone(),
        }),
    }
}

/// An administrative connection to `site`'s database.
pub async fn connect_admin(
    topology: &Topology,
    secrets: &Secrets,
    data_dir: &ClusterDir,
    site: &Site,
) -> srs_mariadb::Result<Admin> {
    // Across hosts the leader may run anywhere: always over the network.
    if site.is_local() && topology.quorum.is_none() {
        // Over TCP, as a controller on another host would, so that a cut
        // network is seen as one; a server started before root could log
        // in over TCP (srs of an earlier version) is reached over its socket.
        let root = Credentials {
            user: "root".into(),
            password: secrets.root_password.clone(),
        };
        // Through the link's delay when the topology sets one: the
        // controller stands apart from both sites.
        let (_, port) = topology.db_reach(site);
        match Admin::connect_tcp("127.0.0.1", port, &root).await {
            Err(e) if e.is_access_denied() => {
                Admin::connect_socket(&server_config(topology, secrets, data_dir, site)).await
            }
            reached => reached,
        }
    } else {
        let admin = Credentials {
            user: site.admin_user.clone(),
            password: secrets.root_password.clone(),
        };
        Admin::connect_tcp(&site.db_host, site.db_port, &admin).await
    }
}
