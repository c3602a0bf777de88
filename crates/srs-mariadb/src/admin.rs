//! Administration of one server over its socket as root: accounts,
//! replication, promotion, fencing and status.

use crate::server::ServerConfig;
use crate::{MariaDbError, Result};
use serde::{Deserialize, Serialize};
use sqlx::mysql::{MySqlConnectOptions, MySqlConnection, MySqlRow};
use sqlx::{ConnectOptions, Row};
use std::fmt;

/// How commits on the primary wait for the replica.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "mode", rename_all = "snake_case")]
pub enum SyncMode {
    /// Semi-synchronous, never falling back: no acknowledged write can
    /// exist only on the primary; a primary without replica cannot commit.
    Strict,
    /// Semi-synchronous, falling back to asynchronous after `timeout_ms`.
    Bounded {
        /// How long a commit waits for the replica before giving up on it.
        timeout_ms: u64,
    },
    /// Asynchronous: fastest, may lose the last writes in a failover.
    Async,
}

impl fmt::Display for SyncMode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncMode::Strict => f.write_str("strict"),
            SyncMode::Bounded { timeout_ms } => write!(f, "bounded ({timeout_ms} ms)"),
            SyncMode::Async => f.write_str("async"),
        }
    }
}

/// A database account's name and password.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Credentials {
    /// Account name.
    pub user: String,
    /// Its password.
    pub password: String,
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Credentials")
            .field("user", &self.user)
            .field("password", &"***")
            .finish()
    }
}

/// What `SHOW SLAVE STATUS` says, the parts srs acts on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct ReplicaStatus {
    /// The receiving (I/O) thread runs and is connected.
    pub io_running: bool,
    /// The receiving thread is (re)connecting to its source: not an error yet.
    pub io_connecting: bool,
    /// The source it replicates from, as `host:port`.
    pub source: String,
    /// The applying (SQL) thread runs.
    pub sql_running: bool,
    /// Apply lag in seconds as the server estimates it.
    pub seconds_behind: Option<u64>,
    /// GTIDs received.
    pub gtid_io_pos: String,
    /// The last receive error, if any.
    pub last_io_error: String,
    /// The last apply error, if any.
    pub last_sql_error: String,
}

/// The primary side of semi-synchronous replication.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SemiSync {
    /// Configured on (`rpl_semi_sync_master_enabled`).
    pub enabled: bool,
    /// Commits wait for an acknowledgement now; enabled but not active
    /// means it fell back to asynchronous.
    pub active: bool,
    /// Replicas connected that acknowledge.
    pub clients: u64,
}

/// Everything a controller reads of a server at each probe (see
/// [`Admin::probe`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Probe {
    /// `gtid_binlog_pos`: the last transaction it binlogged per domain.
    pub gtid_binlog_pos: String,
    /// `gtid_slave_pos`: the last transaction it applied as a replica.
    pub gtid_slave_pos: String,
    /// It refuses writes (`read_only`).
    pub read_only: bool,
    /// Its `server_id`.
    pub server_id: u32,
    /// `gtid_binlog_state`: the last GTID per domain and server id.
    pub gtid_binlog_state: String,
    /// Its replication, `None` when it replicates from nobody.
    pub replica: Option<ReplicaStatus>,
    /// Its semi-sync as a primary.
    pub semi_sync: SemiSync,
    /// Whether the account asked about exists.
    pub has_account: bool,
    /// The highest epoch recorded in `srs_dr.epochs` (0 when none is).
    pub epoch: u64,
}

/// Semi-sync's status and its switch, as `Variable_name` / `Value` rows
/// (see [`SemiSync::read_from`]).
const SEMI_SYNC_SQL: &str = "SHOW GLOBAL STATUS WHERE Variable_name IN \
     ('Rpl_semi_sync_master_status', 'Rpl_semi_sync_master_clients');\n\
     SHOW GLOBAL VARIABLES WHERE Variable_name = 'rpl_semi_sync_master_enabled'";

impl SemiSync {
    /// Takes in one row of [`SEMI_SYNC_SQL`]; other rows change nothing.
    fn read_from(&mut self, row: &MySqlRow) {
        let value = text(row, "Value");
        match text(row, "Variable_name").as_str() {
            "Rpl_semi_sync_master_status" => self.active = value == "ON",
            "Rpl_semi_sync_master_clients" => self.clients = value.parse().unwrap_or(0),
            "rpl_semi_sync_master_enabled" => self.enabled = value == "ON",
            _ => {}
        }
    }
}

/// A root connection to one server.
pub struct Admin {
    conn: MySqlConnection,
    port: u16,
}

/// The parts of a `SHOW SLAVE STATUS` row srs acts on.
fn replica_status_of(row: &MySqlRow) -> ReplicaStatus {
    ReplicaStatus {
        io_running: text(row, "Slave_IO_Running") == "Yes",
        // "Connecting" or "Preparing": on its way, not stopped.
        io_connecting: !matches!(text(row, "Slave_IO_Running").as_str(), "Yes" | "No" | ""),
        source: format!("{}:{}", text(row, "Master_Host"), text(row, "Master_Port")),
        sql_running: text(row, "Slave_SQL_Running") == "Yes",
        seconds_behind: text(row, "Seconds_Behind_Master").parse().ok(),
        gtid_io_pos: text(row, "Gtid_IO_Pos"),
        last_io_error: text(row, "Last_IO_Error"),
        last_sql_error: text(row, "Last_SQL_Error"),
    }
}

/// MariaDB's "table doesn't exist" (ER_NO_SUCH_TABLE, 1146; not 1932, a
/// table the engine lost, which shares its SQLSTATE and is an error).
fn no_such_table(e: &sqlx::Error) -> bool {
    e.as_database_error()
        .and_then(|d| d.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>())
        .is_some_and(|m| m.number() == 1146)
}

fn text(row: &MySqlRow, column: &str) -> String {
    if let Ok(v) = row.try_get::<Option<String>, _>(column) {
        return v.unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<Vec<u8>>, _>(column) {
        return v
            .map(|b| String::from_utf8_lossy(&b).into_owned())
            .unwrap_or_default();
    }
    if let Ok(v) = row.try_get::<Option<u64>, _>(column) {
        return v.map(|n| n.to_string()).unwrap_or_default();
    }
    row.try_get::<Option<i64>, _>(column)
        .ok()
        .flatten()
        .map(|n| n.to_string())
        .unwrap_or_default()
}

fn quote(s: &str) -> String {
    format!("'{}'", s.replace('\\', "\\\\").replace('\'', "\\'"))
}

/// What a promotion does with the server's own replication.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EndReplication {
    /// Forgets it altogether (waits for a stuck receiver to let go).
    Forget,
    /// Stops applying only: a receiver stuck on a vanished source would
    /// hold the promotion for seconds; `detach` clears it once writes flow.
    StopApplying,
}

/// Stops applying only: fast, the applier waits on no network.
const STOP_APPLYING_SQL: &str = "STOP SLAVE SQL_THREAD;";
/// Stops both threads and forgets the source, so that a restart of the
/// server cannot resume replicating from the old primary.
const DETACH_SQL: &str = "STOP SLAVE; RESET SLAVE ALL;";

/// The replication account, created or given its password, on this
/// server only (not binlogged).
fn replication_account_sql(repl: &Credentials) -> String {
    format!(
        "SET SESSION sql_log_bin = 0;\n\
         CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {pw};\n\
         ALTER USER {user}@'%' IDENTIFIED BY {pw};\n\
         GRANT REPLICATION SLAVE ON *.* TO {user}@'%';\n\
         SET SESSION sql_log_bin = 1;",
        user = quote(&repl.user),
        pw = quote(&repl.password),
    )
}

/// Writes opened; semi-sync waits for a replica unless `mode` is async or
/// the server is `alone`.
fn open_for_writes_sql(mode: SyncMode, alone: bool) -> String {
    let semi_sync = if mode == SyncMode::Async || alone {
        "OFF"
    } else {
        "ON"
    };
    format!("SET GLOBAL rpl_semi_sync_master_enabled = {semi_sync}; SET GLOBAL read_only = OFF;")
}

impl Admin {
    /// Connects as root over the server's unix socket.
    pub async fn connect_socket(config: &ServerConfig) -> Result<Self> {
        let conn = MySqlConnectOptions::new()
            .socket(config.socket())
            .username("root")
            .password(&config.root_password)
            .connect()
            .await
            .map_err(|source| MariaDbError::Sql {
                port: config.port,
                what: "connecting as root over the socket".into(),
                source,
            })?;
        Ok(Self {
            conn,
            port: config.port,
        })
    }

    /// Connects over TCP with an administrative account: how srs reaches a
    /// server on another host, which it does not run itself.
    pub async fn connect_tcp(host: &str, port: u16, admin: &Credentials) -> Result<Self> {
        let conn = MySqlConnectOptions::new()
            .host(host)
            .port(port)
            .username(&admin.user)
            .password(&admin.password)
            .connect()
            .await
            .map_err(|source| MariaDbError::Sql {
                port,
                what: format!("connecting to {host}:{port} as {}", admin.user),
                source,
            })?;
        Ok(Self { conn, port })
    }

    /// Runs statements over the text protocol.
    pub async fn exec(&mut self, what: &str, sql: &str) -> Result<()> {
        // Through the Executor, not RawSql::execute: the latter's future is
        // not provably Send (a higher-ranked lifetime limit of rustc).
        sqlx::Executor::execute(&mut self.conn, sqlx::raw_sql(sql))
            .await
            .map(|_| ())
            .map_err(|source| MariaDbError::Sql {
                port: self.port,
                what: what.to_owned(),
                source,
            })
    }

    async fn row(&mut self, what: &str, sql: &str) -> Result<Option<MySqlRow>> {
        // RawSql::fetch_optional returns a bare row in sqlx 0.8; take the first of all.
        Ok(self.rows(what, sql).await?.into_iter().next())
    }

    /// Every row of every statement of `sql`.
    async fn rows(&mut self, what: &str, sql: &str) -> Result<Vec<MySqlRow>> {
        sqlx::Executor::fetch_all(&mut self.conn, sqlx::raw_sql(sql))
            .await
            .map_err(|source| MariaDbError::Sql {
                port: self.port,
                what: what.to_owned(),
                source,
            })
    }

    /// Creates the replication account on this server only (not binlogged):
    /// every server gets it before replication starts, since in strict mode
    /// nothing the primary binlogs can commit until a replica is attached.
    pub async fn create_replication_account(&mut self, repl: &Credentials) -> Result<()> {
        self.exec(
            "creating the replication account",
            &replication_account_sql(repl),
        )
        .await
    }

    /// Creates the database and the application's account (no SUPER, no
    /// READ ONLY ADMIN: read_only stops it). Run on the primary once the
    /// replica is attached; the replica receives both through replication.
    pub async fn create_app_account(&mut self, database: &str, app: &Credentials) -> Result<()> {
        if database.is_empty()
            || !database
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_')
        {
            return Err(MariaDbError::DataDir {
                path: database.into(),
                reason: "database names may hold only letters, digits and '_'".into(),
            });
        }
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS `{database}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci;\n\
             CREATE USER IF NOT EXISTS {user}@'%' IDENTIFIED BY {pw};\n\
             ALTER USER {user}@'%' IDENTIFIED BY {pw};\n\
             GRANT ALL PRIVILEGES ON `{database}`.* TO {user}@'%';",
            user = quote(&app.user),
            pw = quote(&app.password),
        );
        self.exec("creating the database and the application account", &sql)
            .await
    }

    /// A promotion in one round trip (a site far away pays each one): the
    /// replication account replicas will connect with, replication ended
    /// as `replication` says, then writes opened. Semi-sync waits for a
    /// replica unless `mode` is async or `alone` (a survivor whose replica
    /// is gone: commits must not wait for nobody).
    /// The statements run in order and stop at the first that fails: the
    /// server is then still read-only, and the whole batch can be sent
    /// again (each statement may run twice); the session's sql_log_bin=0
    /// ends with the connection, which a failed step drops.
    pub async fn take_over(
        &mut self,
        repl: &Credentials,
        mode: SyncMode,
        alone: bool,
        replication: EndReplication,
    ) -> Result<()> {
        let end = match replication {
            EndReplication::Forget => DETACH_SQL,
            EndReplication::StopApplying => STOP_APPLYING_SQL,
        };
        let sql = format!(
            "{}\n{end}\n{}",
            replication_account_sql(repl),
            open_for_writes_sql(mode, alone)
        );
        self.exec("taking over as the primary", &sql).await
    }

    /// Applies again what it receives (a promotion that stopped the
    /// applier and then failed is retried on a replica that applies).
    pub async fn start_applying(&mut self) -> Result<()> {
        self.exec("starting the replica's applier", "START SLAVE SQL_THREAD;")
            .await
    }

    /// Forgets replication altogether (waits for a stuck receiver to let go).
    pub async fn detach(&mut self) -> Result<()> {
        self.exec("removing the replication settings", DETACH_SQL)
            .await
    }

    /// Turns waiting for the replica's acknowledgement on or off.
    pub async fn set_semi_sync(&mut self, on: bool) -> Result<()> {
        let value = if on { "ON" } else { "OFF" };
        self.exec(
            "switching semi-sync",
            &format!("SET GLOBAL rpl_semi_sync_master_enabled = {value};"),
        )
        .await
    }

    /// Stops receiving from the source (applying goes on), so that what
    /// was received can be applied completely before a promotion.
    pub async fn stop_receiving(&mut self) -> Result<()> {
        self.exec("stopping the replica's receiver", "STOP SLAVE IO_THREAD;")
            .await
    }

    /// Sessions waiting for a semi-sync acknowledgement now. Such a server
    /// must be stopped, never have those sessions killed: a killed waiting
    /// session reports success for a row the replica never received.
    pub async fn semi_sync_waiting(&mut self) -> Result<u64> {
        let row = self
            .row(
                "reading semi-sync waiters",
                "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync_master_wait_sessions'",
            )
            .await?;
        Ok(row
            .map(|r| text(&r, "Value").parse().unwrap_or(0))
            .unwrap_or(0))
    }

    /// Asks the server to shut down (for servers srs does not run itself).
    pub async fn shutdown(&mut self) -> Result<()> {
        self.exec("shutting the server down", "SHUTDOWN;").await
    }

    /// Closes the connection politely (an abandoned one leaves "Aborted
    /// connection" in the server's log).
    pub async fn close(self) {
        let _ = sqlx::Connection::close(self.conn).await;
    }

    /// Fences this server: no client without SUPER or READ ONLY ADMIN can
    /// write any more.
    pub async fn fence(&mut self) -> Result<()> {
        self.exec("fencing (read_only)", "SET GLOBAL read_only = ON;")
            .await
    }

    /// Makes this server a read-only replica of `host:port`, continuing from
    /// the GTIDs it already has, whether it received them as a replica or
    /// wrote them as a primary (`current_pos`: a former primary rejoins).
    pub async fn replicate_from(
        &mut self,
        host: &str,
        port: u16,
        repl: &Credentials,
    ) -> Result<()> {
        let sql = format!(
            "STOP SLAVE;\n\
             SET GLOBAL read_only = ON;\n\
             SET GLOBAL rpl_semi_sync_master_enabled = OFF;\n\
             CHANGE MASTER TO MASTER_HOST = {host}, MASTER_PORT = {port}, MASTER_USER = {user}, \
             MASTER_PASSWORD = {pw}, MASTER_USE_GTID = current_pos, MASTER_CONNECT_RETRY = 1, \
             MASTER_HEARTBEAT_PERIOD = 1;\n\
             START SLAVE;",
            host = quote(host),
            user = quote(&repl.user),
            pw = quote(&repl.password),
        );
        self.exec("starting replication", &sql).await
    }

    /// Replication status, or `None` when this server replicates from nobody.
    pub async fn replica_status(&mut self) -> Result<Option<ReplicaStatus>> {
        let Some(row) = self
            .row("reading replica status", "SHOW SLAVE STATUS")
            .await?
        else {
            return Ok(None);
        };
        Ok(Some(replica_status_of(&row)))
    }

    /// `(gtid_binlog_pos, gtid_slave_pos, read_only)`.
    pub async fn gtid_and_read_only(&mut self) -> Result<(String, String, bool)> {
        let row = self
            .row(
                "reading GTID positions",
                "SELECT @@GLOBAL.gtid_binlog_pos AS binlog_pos, @@GLOBAL.gtid_slave_pos AS slave_pos, @@GLOBAL.read_only AS ro",
            )
            .await?;
        Ok(match row {
            Some(r) => (
                text(&r, "binlog_pos"),
                text(&r, "slave_pos"),
                text(&r, "ro") == "1",
            ),
            None => (String::new(), String::new(), true),
        })
    }

    /// Waits until this replica has applied every transaction up to `gtid`
    /// (a `gtid_binlog_pos` read from the primary); false on timeout.
    pub async fn wait_for_gtid(
        &mut self,
        gtid: &str,
        timeout: std::time::Duration,
    ) -> Result<bool> {
        if !gtid
            .chars()
            .all(|c| c.is_ascii_digit() || c == '-' || c == ',')
        {
            return Ok(false);
        }
        let sql = format!(
            "SELECT MASTER_GTID_WAIT('{gtid}', {secs}) AS reached",
            secs = timeout.as_secs_f64()
        );
        let row = self
            .row("waiting for the replica to catch up", &sql)
            .await?;
        Ok(row.map(|r| text(&r, "reached") == "0").unwrap_or(false))
    }

    /// The primary side of semi-sync: configured, active, acknowledging replicas.
    pub async fn semi_sync(&mut self) -> Result<SemiSync> {
        let mut semi = SemiSync::default();
        for row in self.rows("reading semi-sync status", SEMI_SYNC_SQL).await? {
            semi.read_from(&row);
        }
        Ok(semi)
    }

    /// Everything [`Probe`] holds, in one round trip: a probe that ran its
    /// six reads one after another took six round trips, 0.4 s between
    /// sites 35 ms apart, on every one of the controller's cycles.
    pub async fn probe(&mut self, account: &str) -> Result<Probe> {
        let state = format!(
            "SELECT @@GLOBAL.gtid_binlog_pos AS binlog_pos, @@GLOBAL.gtid_slave_pos AS slave_pos, \
             @@GLOBAL.read_only AS ro, @@GLOBAL.server_id AS id, @@GLOBAL.gtid_binlog_state AS state, \
             (SELECT COUNT(*) FROM mysql.user WHERE User = {user}) AS accounts;\n\
             {SEMI_SYNC_SQL};\n\
             SHOW SLAVE STATUS",
            user = quote(account)
        );
        // The epoch table exists once a primary recorded its first epoch:
        // read with the rest, and without it only while it does not.
        let with_epoch = format!(
            "{state};\nSELECT CAST(COALESCE(MAX(epoch), 0) AS CHAR) AS epoch FROM srs_dr.epochs"
        );
        let rows = match self.rows("probing the server", &with_epoch).await {
            Err(MariaDbError::Sql { source, .. }) if no_such_table(&source) => {
                self.rows("probing the server", &state).await?
            }
            other => other?,
        };
        // Unknown until the server says otherwise: refusing writes.
        let mut probe = Probe {
            read_only: true,
            ..Probe::default()
        };
        for row in &rows {
            if row.try_column("binlog_pos").is_ok() {
                probe.gtid_binlog_pos = text(row, "binlog_pos");
                probe.gtid_slave_pos = text(row, "slave_pos");
                probe.read_only = text(row, "ro") == "1";
                probe.server_id = text(row, "id").parse().unwrap_or(0);
                probe.gtid_binlog_state = text(row, "state");
                probe.has_account = text(row, "accounts") != "0";
            } else if row.try_column("Variable_name").is_ok() {
                probe.semi_sync.read_from(row);
            } else if row.try_column("Slave_IO_Running").is_ok() {
                probe.replica = Some(replica_status_of(row));
            } else if row.try_column("epoch").is_ok() {
                probe.epoch = text(row, "epoch").parse().unwrap_or(0);
            }
        }
        Ok(probe)
    }

    /// The highest epoch this server's data records `site` primary in (0
    /// when none).
    pub async fn recorded_epoch_of(&mut self, site: &str) -> Result<u64> {
        let sql = format!(
            "SELECT CAST(COALESCE(MAX(epoch), 0) AS CHAR) AS epoch FROM srs_dr.epochs WHERE site = {}",
            quote(site)
        );
        match self.rows("reading the recorded epoch", &sql).await {
            Ok(rows) => Ok(rows
                .first()
                .map_or(0, |row| text(row, "epoch").parse().unwrap_or(0))),
            Err(MariaDbError::Sql { source, .. }) if no_such_table(&source) => Ok(0),
            Err(e) => Err(e),
        }
    }

    /// Records that this server is primary in `epoch` (binlogged: the
    /// replica holds the same history of who was primary when).
    pub async fn record_epoch(&mut self, epoch: u64, site: &str) -> Result<()> {
        let sql = format!(
            "CREATE DATABASE IF NOT EXISTS srs_dr;\n\
             CREATE TABLE IF NOT EXISTS srs_dr.epochs (epoch BIGINT UNSIGNED PRIMARY KEY, site VARCHAR(64) NOT NULL, promoted_at DATETIME(3) NOT NULL);\n\
             INSERT IGNORE INTO srs_dr.epochs (epoch, site, promoted_at) VALUES ({epoch}, {site}, UTC_TIMESTAMP(3));",
            site = quote(site)
        );
        self.exec("recording the epoch", &sql).await
    }
}
