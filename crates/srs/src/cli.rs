//! Command-line definitions and dispatch.

use crate::config::{self, ServeArgs, StoreArgs};
use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use srs_domain::{Role, TokenId};
use srs_store::{Actor, Store, StoreError, StoreOptions};
use srs_web::auth::service;
use srs_web::{telemetry, Application, LogFormat};
use std::io::{Read, Write};

/// srs: student records with disaster recovery built in.
#[derive(Debug, Parser)]
#[command(name = "srs", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the records web app: pages, JSON API, health and metrics.
    Serve(Box<ServeArgs>),
    /// Maintain student records.
    Students {
        #[command(subcommand)]
        command: StudentsCommand,
    },
    /// Manage accounts.
    User {
        #[command(subcommand)]
        command: UserCommand,
    },
    /// Manage API tokens.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
    /// Start a whole two-site topology on this machine (databases, app
    /// instances, edge); Ctrl-C stops it.
    Up {
        /// Where the topology, secrets, servers and logs live.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
    },
    /// Run the DR controller of a topology: wires replication, routes the
    /// edge to the primary, raises alerts, records events (srs up starts it).
    Controller {
        /// Where the topology, secrets and controller state live.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// How this controller names itself to the other candidates when
        /// the topology has a [quorum] (default: its host and process id).
        #[arg(long)]
        name: Option<String>,
    },
    /// Work with a topology's files.
    Topology {
        #[command(subcommand)]
        command: TopologyCommand,
    },
    /// Run one site of a cluster across hosts on this host: its database,
    /// site agent, controller candidate, app instances and edge.
    Site {
        /// This host's copy of the cluster directory (its topology with a
        /// [quorum], and the shared secrets.toml).
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// The site this host runs.
        #[arg(long)]
        site: srs_dr::SiteName,
    },
    /// Run a site's agent in a cluster across hosts: holds the site's lease
    /// in the quorum, hands its app instances their write lease, and sets
    /// its database read-only when the quorum is lost.
    SiteAgent {
        /// Where the topology (with its [quorum]) and secrets live.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// The site this agent serves.
        #[arg(long)]
        site: srs_dr::SiteName,
    },
    /// Run the front door, from a config file (srs up writes one) or from
    /// a topology directory.
    #[command(group(clap::ArgGroup::new("source").required(true).args(["config", "data_dir"])))]
    Edge {
        /// The edge's JSON config (srs up writes one as edge.json).
        #[arg(long)]
        config: Option<std::path::PathBuf>,
        /// Or: the topology and secrets in this directory, for an edge run
        /// on its own host in front of sites srs does not start.
        #[arg(long)]
        data_dir: Option<srs_dr::ClusterDir>,
        /// Threads serving connections, 1-64. A proxy mostly waits on
        /// sockets: one thread spends a fifth less CPU per request than
        /// two on a small machine (no cross-thread wake-ups).
        #[arg(long, default_value_t = 1, value_parser = clap::value_parser!(u16).range(1..=64))]
        worker_threads: u16,
    },
    /// Write an haproxy.cfg (and the Lua hold it loads) that puts HAProxy
    /// in front of the topology's app instances, following the primary.
    HaproxyConfig(crate::haproxy_cli::HaproxyConfigArgs),
    /// Take, list and verify backups.
    Backup {
        #[command(subcommand)]
        command: crate::backup_cli::BackupCommand,
    },
    /// Restore a backup into a new database (or, with --force, over one).
    Restore(Box<crate::backup_cli::RestoreArgs>),
    /// Show each site's database, replication, app instances and routing.
    Status {
        /// The cluster's data directory.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// Print JSON for scripts.
        #[arg(long)]
        json: bool,
        /// Refresh every two seconds until Ctrl-C.
        #[arg(long)]
        watch: bool,
    },
    /// Planned change of primary: hold requests at the edge, fence the
    /// primary, let the other site catch up, promote it, route to it.
    /// Nothing is lost; clients see a pause, not errors.
    Switchover {
        #[command(flatten)]
        target: OperatorArgs,
    },
    /// Forced promotion of the other site, for when automatic failover is
    /// off or has refused. The current primary is fenced if it answers.
    Failover {
        /// Confirm: writes the old primary acknowledged without the replica
        /// (async or bounded mode) may be lost.
        #[arg(long)]
        yes: bool,
        #[command(flatten)]
        target: OperatorArgs,
    },
    /// Bring the former primary back as a caught-up replica of the new one;
    /// if it holds transactions the primary lacks, save them to a file for
    /// review and re-seed it from the primary first. Then `srs switchover
    /// --to` it restores the roles.
    Failback {
        /// The cluster's data directory.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// Print the outcome as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Prove failover: run a client load, inject a fault, recover, verify
    /// every acknowledged write, fail back, and write a report.
    Drill(Box<crate::drill_cli::DrillArgs>),
    /// Forward TCP connections to another address with a fixed delay each
    /// way: the distance between two sites, for benchmarks and drills on
    /// one machine (whose kernel may have no netem).
    LinkDelay {
        /// Where to listen, e.g. 127.0.0.1:13306.
        #[arg(long, value_name = "ADDR")]
        listen: std::net::SocketAddr,
        /// Where each connection goes, e.g. 127.0.0.1:3306.
        #[arg(long, value_name = "ADDR")]
        to: std::net::SocketAddr,
        /// Delay in each direction, milliseconds, 0-10000 (a round trip
        /// takes twice this).
        #[arg(long, value_parser = clap::value_parser!(u64).range(0..=10_000))]
        delay_ms: u64,
    },
    /// Ask a running srs whether it is ready (exit 0) or not (exit 1): a
    /// container health check without curl.
    Healthcheck(crate::healthcheck::HealthcheckArgs),
    /// Print a shell completion script: `srs completions bash > /etc/bash_completion.d/srs`.
    Completions {
        /// bash, zsh, fish, elvish or powershell.
        shell: clap_complete::Shell,
    },
    /// Write the man pages (srs.1 and one per command) into a folder.
    Man {
        /// The folder, created if missing.
        #[arg(long, value_name = "DIR")]
        out: std::path::PathBuf,
    },
    /// Read the audit trail.
    Audit {
        #[command(subcommand)]
        command: AuditCommand,
    },
}

/// Where an operator request goes and how its outcome is printed.
#[derive(Debug, clap::Args)]
struct OperatorArgs {
    /// The site to become primary (default: the one that is not).
    #[arg(long)]
    to: Option<srs_dr::SiteName>,
    /// The cluster's data directory.
    #[arg(long, default_value = "./srs-data/cluster")]
    data_dir: srs_dr::ClusterDir,
    /// Print the outcome as JSON.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Subcommand)]
enum UserCommand {
    /// Create an account; the password is prompted for, or read from stdin.
    Add {
        /// Login name: 3-64 letters, digits, '.', '_' or '-'.
        name: String,
        /// viewer, registrar or admin.
        #[arg(long)]
        role: Role,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List accounts.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Disable an account and end its sessions.
    Disable {
        /// Login name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Enable a disabled account.
    Enable {
        /// Login name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Unlock an account held after too many failed sign-ins (audited).
    Unlock {
        /// Login name.
        name: String,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Set a new password, end the account's sessions and unlock it.
    ResetPassword {
        /// Login name.
        name: String,
        /// Read the password from standard input instead of prompting.
        #[arg(long)]
        password_stdin: bool,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TokenCommand {
    /// Create an API token; it is printed once and stored only hashed.
    Create {
        /// The account the token acts as.
        #[arg(long)]
        user: String,
        /// A label, e.g. "nightly export".
        #[arg(long)]
        name: String,
        /// Lifetime, e.g. 90d; no expiry when absent.
        #[arg(long, value_parser = config::parse_age)]
        expires: Option<chrono::Duration>,
        #[command(flatten)]
        store: StoreArgs,
    },
    /// List tokens with their last use.
    List {
        #[command(flatten)]
        store: StoreArgs,
    },
    /// Revoke a token at once.
    Revoke {
        /// The token's id, from `srs token list`.
        id: i64,
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum AuditCommand {
    /// Write the audit trail to stdout as JSON lines, oldest first.
    Export {
        #[command(flatten)]
        store: StoreArgs,
    },
}

#[derive(Debug, Subcommand)]
enum TopologyCommand {
    /// Lay out each host's files of a cluster across hosts: a folder per
    /// site (its topology and the shared secrets) and per etcd member (its
    /// command line), to copy to that host.
    Split {
        /// The cluster directory holding the topology with a [quorum] and
        /// its secrets.toml.
        #[arg(long, default_value = "./srs-data/cluster")]
        data_dir: srs_dr::ClusterDir,
        /// Where to write the hosts' folders.
        #[arg(long)]
        out: std::path::PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum StudentsCommand {
    /// Remove for good the students deleted longer ago than --older-than.
    Purge {
        /// Age of deletion to purge, e.g. 30d, 12h, 90m.
        #[arg(long, value_parser = config::parse_age)]
        older_than: chrono::Duration,
        #[command(flatten)]
        store: StoreArgs,
    },
}

impl Cli {
    /// Whether the command runs until stopped (a server), as opposed to a
    /// one-shot operator command.
    pub fn runs_until_stopped(&self) -> bool {
        matches!(
            self.command,
            Command::Serve(_)
                | Command::Up { .. }
                | Command::Controller { .. }
                | Command::SiteAgent { .. }
                | Command::Site { .. }
                | Command::Edge { .. }
                | Command::LinkDelay { .. }
        )
    }

    /// Runtime threads the command asks for; None: one per core.
    pub fn worker_threads(&self) -> Option<usize> {
        match &self.command {
            Command::Edge { worker_threads, .. } => Some(usize::from(*worker_threads)),
            // One request and out: no pool of threads for it.
            Command::Healthcheck(_) => Some(1),
            _ => None,
        }
    }
}

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(*args).await,
        Command::Students {
            command: StudentsCommand::Purge { older_than, store },
        } => purge(older_than, store).await,
        Command::User { command } => user(command).await,
        Command::Up { data_dir } => {
            telemetry::init(LogFormat::Text, "info,sqlx=warn")?;
            let exe = std::env::current_exe().context("Failed to find the srs executable")?;
            srs_dr::supervisor::up(
                srs_dr::supervisor::UpOptions { data_dir, exe },
                shutdown_signal(),
            )
            .await
        }
        Command::Controller { data_dir, name } => {
            telemetry::init(LogFormat::Json, "info,sqlx=warn")?;
            let name = name.unwrap_or_else(srs_dr::controller::default_candidate_name);
            srs_dr::controller::run(&data_dir, &name, shutdown_signal()).await
        }
        Command::Topology {
            command: TopologyCommand::Split { data_dir, out },
        } => {
            telemetry::init(LogFormat::Text, "warn")?;
            let written = srs_dr::operator::split::split(&data_dir, &out)?;
            for dir in written {
                println!("{}", dir.display());
            }
            Ok(())
        }
        Command::Site { data_dir, site } => {
            telemetry::init(LogFormat::Json, "info,sqlx=warn")?;
            let exe = std::env::current_exe().context("Failed to find the srs executable")?;
            srs_dr::supervisor::site_host::run(
                srs_dr::supervisor::UpOptions { data_dir, exe },
                &site,
                shutdown_signal(),
            )
            .await
        }
        Command::SiteAgent { data_dir, site } => {
            telemetry::init(LogFormat::Json, "info,sqlx=warn")?;
            srs_dr::supervisor::site_agent::run(&data_dir, &site, shutdown_signal()).await
        }
        Command::Edge {
            config, data_dir, ..
        } => edge(config, data_dir).await,
        Command::Status {
            data_dir,
            json,
            watch,
        } => status(&data_dir, json, watch).await,
        Command::HaproxyConfig(args) => crate::haproxy_cli::write(args),
        Command::Healthcheck(args) => crate::healthcheck::check(args).await,
        Command::LinkDelay {
            listen,
            to,
            delay_ms,
        } => link_delay(listen, to, delay_ms).await,
        Command::Completions { shell } => {
            let mut command = <Cli as clap::CommandFactory>::command();
            clap_complete::generate(shell, &mut command, "srs", &mut std::io::stdout());
            Ok(())
        }
        Command::Man { out } => write_man_pages(&out),
        Command::Backup { command } => {
            telemetry::init(LogFormat::Text, "warn")?;
            crate::backup_cli::backup(command).await
        }
        Command::Restore(args) => {
            telemetry::init(LogFormat::Text, "warn")?;
            crate::backup_cli::restore(*args).await
        }
        Command::Switchover { target } => {
            let to = srs_dr::operator::target(&target.data_dir, target.to)?;
            let request = srs_dr::operator::request::OperatorRequest::Switchover { to };
            operator(&target.data_dir, request, target.json).await
        }
        Command::Failover { yes, target } => failover(yes, target).await,
        Command::Failback { data_dir, json } => failback(&data_dir, json).await,
        Command::Drill(args) => crate::drill_cli::drill(*args).await,
        Command::Token { command } => token(command).await,
        Command::Audit {
            command: AuditCommand::Export { store },
        } => audit_export(store).await,
    }
}

/// Runs a delay proxy until SIGTERM or Ctrl-C.
async fn link_delay(
    listen: std::net::SocketAddr,
    to: std::net::SocketAddr,
    delay_ms: u64,
) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text, "warn")?;
    let delay = std::time::Duration::from_millis(delay_ms);
    let proxy = srs_dr::link_delay::LinkDelay::start(listen, to, delay).await?;
    println!("{} -> {to}, {delay_ms} ms each way", proxy.listen);
    tokio::select! {
        () = proxy.wait() => Ok(()),
        () = shutdown_signal() => Ok(()),
    }
}

/// Hands an operator request to the controller and prints its progress.
async fn operator(
    data_dir: &srs_dr::ClusterDir,
    request: srs_dr::operator::request::OperatorRequest,
    json: bool,
) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text, "warn")?;
    if !json {
        println!("asking the controller for a {request}");
    }
    let outcome = srs_dr::operator::request_and_wait(data_dir, request, |e| {
        if !json {
            let state = if e.ok { "" } else { " (FAILED, retrying)" };
            println!("{}  {}{state}", e.at, e.what);
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "done in {:.2} s: site '{}' is primary (epoch {}) and the edge routes to it",
            outcome.seconds, outcome.primary, outcome.epoch
        );
    }
    Ok(())
}

async fn open_store(args: StoreArgs) -> anyhow::Result<Store> {
    telemetry::init(LogFormat::Text, "warn")?;
    let url = config::resolve_store(args)?;
    let store = Store::connect(url.expose_secret(), &StoreOptions::default())
        .await
        .context("Failed to open the database")?;
    store
        .migrate()
        .await
        .context("Failed to apply database migrations")?;
    Ok(store)
}

/// Reads a password from stdin (one line) or prompts twice on the terminal.
fn read_password(from_stdin: bool) -> anyhow::Result<String> {
    if from_stdin {
        let mut text = String::new();
        std::io::stdin()
            .take(4096)
            .read_to_string(&mut text)
            .context("Failed to read the password from stdin")?;
        return Ok(text.trim_end_matches(['\n', '\r']).to_owned());
    }
    let first = rpassword::prompt_password("Password: ")
        .context("No terminal to ask for a password; pipe it in with --password-stdin")?;
    let second = rpassword::prompt_password("Repeat: ").context("Failed to read the password")?;
    if first != second {
        anyhow::bail!("the passwords differ");
    }
    Ok(first)
}

/// Turns store refusals into messages naming the field.
fn explain(e: StoreError) -> anyhow::Error {
    match e {
        StoreError::Invalid(v) => anyhow::anyhow!(
            "{}",
            v.0.iter()
                .map(|f| format!("{}: {}", f.field, f.message))
                .collect::<Vec<_>>()
                .join("; ")
        ),
        other => anyhow::Error::new(other),
    }
}

/// Disables or enables an account; returns its name.
async fn set_disabled(store: StoreArgs, name: &str, disabled: bool) -> anyhow::Result<String> {
    let store = open_store(store).await?;
    let user = service::find_user(&store, name).await.map_err(explain)?;
    let actor = if disabled {
        "srs user disable"
    } else {
        "srs user enable"
    };
    store
        .update_user(user.id, None, Some(disabled), None, &Actor::system(actor))
        .await
        .map_err(explain)?;
    Ok(user.username.to_string())
}

async fn user(command: UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::Add {
            name,
            role,
            password_stdin,
            store,
        } => {
            let password = read_password(password_stdin)?;
            let store = open_store(store).await?;
            let user = service::create_user(
                &store,
                &name,
                role,
                &password,
                &Actor::system("srs user add"),
            )
            .await
            .map_err(explain)?;
            println!("created account {} ({})", user.username, user.role);
        }
        UserCommand::List { store } => {
            let store = open_store(store).await?;
            print_users(&store.list_users().await?)?;
        }
        UserCommand::Disable { name, store } => {
            let user = set_disabled(store, &name, true).await?;
            println!("disabled {user}; its sessions have ended");
        }
        UserCommand::Enable { name, store } => {
            let user = set_disabled(store, &name, false).await?;
            println!("enabled {user}");
        }
        UserCommand::Unlock { name, store } => {
            let store = open_store(store).await?;
            let user = service::find_user(&store, &name).await.map_err(explain)?;
            let (user, forgotten) =
                service::unlock(&store, user.id, &Actor::system("srs user unlock"))
                    .await
                    .map_err(explain)?;
            println!(
                "unlocked {}: {forgotten} failed sign-in(s) forgotten",
                user.username
            );
        }
        UserCommand::ResetPassword {
            name,
            password_stdin,
            store,
        } => {
            let password = read_password(password_stdin)?;
            let store = open_store(store).await?;
            let user = service::find_user(&store, &name).await.map_err(explain)?;
            service::reset_password(
                &store,
                user.id,
                &password,
                &Actor::system("srs user reset-password"),
            )
            .await
            .map_err(explain)?;
            println!(
                "password of {} reset; its sessions have ended and it is unlocked",
                user.username
            );
        }
    }
    Ok(())
}

/// The accounts as a table: name, role, state, created.
fn print_users(users: &[srs_store::User]) -> anyhow::Result<()> {
    let mut out = std::io::stdout().lock();
    // Domain types print without padding: pad their text, as wide as the
    // longest name.
    let width = users
        .iter()
        .map(|u| u.username.to_string().chars().count())
        .max()
        .unwrap_or(0)
        .max(4);
    writeln!(
        out,
        "{:<width$}  {:<10} {:<9} CREATED",
        "NAME", "ROLE", "STATE"
    )?;
    for u in users {
        let state = if u.disabled { "disabled" } else { "active" };
        writeln!(
            out,
            "{:<width$}  {:<10} {:<9} {}",
            u.username.to_string(),
            u.role.to_string(),
            state,
            u.created_at.format("%Y-%m-%d")
        )?;
    }
    Ok(())
}

async fn token(command: TokenCommand) -> anyhow::Result<()> {
    match command {
        TokenCommand::Create {
            user,
            name,
            expires,
            store,
        } => {
            let store = open_store(store).await?;
            let account = service::find_user(&store, &user).await.map_err(explain)?;
            if account.disabled {
                anyhow::bail!("account {} is disabled", account.username);
            }
            let expires_at = expires.map(|d| chrono::Utc::now() + d);
            let (secret, token) = service::create_token(
                &store,
                account.id,
                &name,
                expires_at,
                &Actor::system("srs token create"),
            )
            .await
            .map_err(explain)?;
            eprintln!(
                "token {} for {} created; it is shown only now:",
                token.id, token.username
            );
            println!("{secret}");
        }
        TokenCommand::List { store } => {
            let store = open_store(store).await?;
            let mut out = std::io::stdout().lock();
            writeln!(
                out,
                "{:<6} {:<20} {:<24} {:<8} {:<11} LAST USED",
                "ID", "ACCOUNT", "NAME", "STATE", "EXPIRES"
            )?;
            for t in store.list_tokens(None).await? {
                let state = if t.revoked_at.is_some() {
                    "revoked"
                } else {
                    "active"
                };
                let expires = t
                    .expires_at
                    .map(|e| e.format("%Y-%m-%d").to_string())
                    .unwrap_or_else(|| "never".into());
                let used = t
                    .last_used_at
                    .map(|e| e.format("%Y-%m-%d %H:%M").to_string())
                    .unwrap_or_else(|| "never".into());
                writeln!(
                    out,
                    "{:<6} {:<20} {:<24} {:<8} {:<11} {}",
                    t.id, t.username, t.name, state, expires, used
                )?;
            }
        }
        TokenCommand::Revoke { id, store } => {
            let store = open_store(store).await?;
            let token = match store
                .revoke_token(TokenId::new(id), &Actor::system("srs token revoke"))
                .await
            {
                Err(StoreError::NotFound) => anyhow::bail!("there is no token with id {id}"),
                other => other?,
            };
            println!(
                "revoked token {} (\"{}\" of {})",
                token.id, token.name, token.username
            );
        }
    }
    Ok(())
}

async fn status(data_dir: &srs_dr::ClusterDir, json: bool, watch: bool) -> anyhow::Result<()> {
    loop {
        let status = srs_dr::operator::status::collect(data_dir).await?;
        let text = if json {
            serde_json::to_string_pretty(&status)?
        } else {
            srs_dr::operator::status::render(&status)
        };
        if watch {
            // Clear the screen and go home, then redraw.
            print!("\x1b[2J\x1b[H{text}");
            std::io::stdout().flush()?;
            tokio::select! {
                () = tokio::time::sleep(std::time::Duration::from_secs(2)) => {}
                () = shutdown_signal() => return Ok(()),
            }
        } else {
            println!("{text}");
            return Ok(());
        }
    }
}

async fn audit_export(args: StoreArgs) -> anyhow::Result<()> {
    let store = open_store(args).await?;
    let mut out = std::io::BufWriter::new(std::io::stdout().lock());
    let mut after = 0;
    loop {
        let batch = store.audit_batch(after, 1000).await?;
        let Some(last) = batch.last() else { break };
        after = last.id;
        for entry in &batch {
            serde_json::to_writer(&mut out, entry)?;
            out.write_all(b"\n")?;
        }
    }
    out.flush()?;
    Ok(())
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let resolved = config::resolve_serve(args)?;
    telemetry::init(resolved.log_format, "info,sqlx=warn,tower_http=warn")?;
    let app = Application::build(resolved.settings).await?;
    if let Some(dir) = resolved.cluster_dir {
        app.set_cluster_view(std::sync::Arc::new(crate::cluster_view::DataDirView(
            srs_dr::ClusterDir::new(dir),
        )));
    }
    if let Some(url) = resolved.admission_url {
        tokio::spawn(srs_web::admission_feed::follow(
            url,
            app.state().write_gate.clone(),
            app.state().standing.clone(),
        ));
    }
    service::bootstrap_admin(
        &app.state().store,
        std::env::var("SRS_BOOTSTRAP_ADMIN").ok().as_deref(),
        std::env::var("SRS_BOOTSTRAP_PASSWORD").ok().as_deref(),
    )
    .await?;
    app.run_until_stopped(shutdown_signal()).await
}

async fn purge(older_than: chrono::Duration, args: StoreArgs) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text, "warn")?;
    let url = config::resolve_store(args)?;
    let store = Store::connect(url.expose_secret(), &StoreOptions::default())
        .await
        .context("Failed to open the database")?;
    store
        .migrate()
        .await
        .context("Failed to apply database migrations")?;
    let cutoff = chrono::Utc::now() - older_than;
    let purged = store
        .purge_deleted(cutoff, &Actor::system("srs students purge"))
        .await
        .context("Failed to purge")?;
    println!(
        "purged {purged} student record(s) deleted before {}",
        cutoff.format("%Y-%m-%d %H:%M:%S UTC")
    );
    store.close().await;
    Ok(())
}

/// Set by `srs up` on its children: stop when it is gone.
const EXIT_WITH_PARENT: &str = "SRS_EXIT_WITH_PARENT";

/// Resolves when the process that started this one has gone (this one was
/// handed to another parent), for children of `srs up`: a supervisor
/// killed with SIGKILL cannot stop them, so they stop themselves.
async fn parent_gone() {
    if std::env::var_os(EXIT_WITH_PARENT).is_none() {
        return std::future::pending().await;
    }
    let parent = nix::unistd::getppid();
    loop {
        tokio::time::sleep(std::time::Duration::from_millis(500)).await;
        if nix::unistd::getppid() != parent {
            tracing::warn!(parent = %parent, "the process that started this one is gone; stopping");
            return;
        }
    }
}

/// Resolves on Ctrl-C or SIGTERM (or, for children of `srs up`, when it
/// is gone).
pub(crate) fn shutdown_signal() -> impl std::future::Future<Output = ()> {
    use tokio::signal::unix::{signal, SignalKind};
    // Registered now, not when first polled: a signal that arrives while
    // a command is still starting up is kept until it is ready to stop.
    let terminate = signal(SignalKind::terminate());
    let interrupt = signal(SignalKind::interrupt());
    async move {
        match (terminate, interrupt) {
            (Ok(mut t), Ok(mut i)) => {
                tokio::select! {
                    _ = t.recv() => {},
                    _ = i.recv() => {},
                    () = parent_gone() => {},
                }
            }
            (Err(e), _) | (_, Err(e)) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM/SIGINT; stop with SIGKILL");
                std::future::pending::<()>().await;
            }
        }
    }
}

/// srs.1 and srs-COMMAND.1 (and srs-COMMAND-SUB.1) for every command.
fn write_man_pages(out: &std::path::Path) -> anyhow::Result<()> {
    std::fs::create_dir_all(out).with_context(|| format!("Failed to create {}", out.display()))?;
    let command = <Cli as clap::CommandFactory>::command();
    clap_mangen::generate_to(command, out)
        .with_context(|| format!("Failed to write man pages into {}", out.display()))?;
    let pages = std::fs::read_dir(out)
        .with_context(|| format!("Failed to list {}", out.display()))?
        .count();
    println!("Wrote {pages} man pages into {}", out.display());
    Ok(())
}

/// `srs edge`: the front door, from its config file or a cluster directory.
async fn edge(
    config: Option<std::path::PathBuf>,
    data_dir: Option<srs_dr::ClusterDir>,
) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Json, "info")?;
    let config = match (config, data_dir) {
        (Some(file), _) => {
            let text = std::fs::read_to_string(&file)
                .with_context(|| format!("Failed to read {}", file.display()))?;
            serde_json::from_str(&text)
                .with_context(|| format!("Invalid edge config {}", file.display()))?
        }
        (None, Some(dir)) => {
            let cluster = srs_dr::Cluster::open(&dir)?;
            srs_dr::supervisor::front_door::edge_config(&cluster.topology, &cluster.secrets, &dir)?
        }
        (None, None) => anyhow::bail!("srs edge needs --config FILE or --data-dir DIR"),
    };
    let edge = srs_edge::Edge::bind(config).await?;
    edge.run_until_stopped(shutdown_signal()).await
}

/// `srs failover --yes`: a forced failover, once confirmed.
async fn failover(yes: bool, target: OperatorArgs) -> anyhow::Result<()> {
    let to = srs_dr::operator::target(&target.data_dir, target.to)?;
    anyhow::ensure!(
        yes,
        "this promotes site '{to}' now and fences the current primary if it answers; \
         in async or bounded mode writes it acknowledged without the replica may be lost. \
         Run again with --yes to go ahead"
    );
    let request = srs_dr::operator::request::OperatorRequest::Failover { to };
    operator(&target.data_dir, request, target.json).await
}

/// `srs failback`: brings the old primary back as a replica.
async fn failback(data_dir: &srs_dr::ClusterDir, json: bool) -> anyhow::Result<()> {
    telemetry::init(LogFormat::Text, "warn")?;
    let outcome = srs_dr::operator::failback::failback(data_dir, |line| {
        if !json {
            println!("{line}");
        }
    })
    .await?;
    if json {
        println!("{}", serde_json::to_string_pretty(&outcome)?);
    } else {
        println!(
            "done in {:.1} s: site '{}' replicates from site '{}' and has caught up; `srs switchover --to {}` gives it the primary role back",
            outcome.seconds, outcome.site, outcome.primary, outcome.site
        );
    }
    Ok(())
}
