//! A throw-away MariaDB server in a temporary folder, for trial restores:
//! a backup is only proven by restoring it somewhere that is not
//! production.

use anyhow::Context;
use srs_mariadb::{Admin, LocalServer, ServerConfig, SyncMode};

/// The scratch server's database (the backup's own name is kept in the
/// manifest; binlog replay rewrites it).
pub const DATABASE: &str = "srs_restore";

/// A running scratch server; stopped and removed by [`Scratch::stop`] (or,
/// if that is never reached, killed when dropped).
pub struct Scratch {
    server: LocalServer,
    password: String,
    _dir: tempfile::TempDir,
}

fn free_port() -> anyhow::Result<u16> {
    let listener = std::net::TcpListener::bind(("127.0.0.1", 0))
        .context("cannot find a free port for the scratch server")?;
    Ok(listener
        .local_addr()
        .context("cannot find a free port for the scratch server")?
        .port())
}

impl Scratch {
    /// Initialises and starts a scratch server, writable, on a free port.
    pub async fn start() -> anyhow::Result<Self> {
        let dir = tempfile::Builder::new()
            .prefix("srs-trial-restore-")
            .tempdir()
            .context("cannot create a folder for the scratch server")?;
        let password = hex::encode(rand::random::<[u8; 16]>());
        let config = ServerConfig {
            name: "trial-restore".into(),
            dir: dir.path().join("server"),
            port: free_port()?,
            // Any ID that no site of a topology uses.
            server_id: 4_000_000_000,
            buffer_pool_mb: 128,
            parallel_threads: 0,
            sync_mode: SyncMode::Async,
            root_password: password.clone(),
            network: None,
        };
        let mut server = LocalServer::new(config).context("cannot set up the scratch server")?;
        server
            .prepare()
            .await
            .context("cannot initialise the scratch server")?;
        server
            .start()
            .await
            .context("cannot start the scratch server")?;
        let mut admin = Admin::connect_socket(server.config())
            .await
            .context("cannot reach the scratch server")?;
        // Every srs server starts read-only, as a replica would.
        admin
            .exec(
                "opening the scratch server for writes",
                "SET GLOBAL read_only = 0",
            )
            .await
            .context("cannot open the scratch server for writes")?;
        admin.close().await;
        Ok(Self {
            server,
            password,
            _dir: dir,
        })
    }

    /// A root URL for the scratch database.
    pub fn url(&self) -> String {
        format!(
            "mysql://root:{}@127.0.0.1:{}/{DATABASE}",
            self.password,
            self.server.config().port
        )
    }

    /// Stops the server and removes its folder.
    pub async fn stop(mut self) {
        if let Err(e) = self.server.stop().await {
            tracing::warn!(error = %e, "the scratch server did not stop cleanly");
        }
    }
}
