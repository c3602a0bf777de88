//! Command-line definitions and dispatch.

use crate::config::{self, ServeArgs, StoreArgs};
use anyhow::Context;
use clap::{Parser, Subcommand};
use secrecy::ExposeSecret;
use srs_store::{Store, StoreOptions};
use srs_web::{telemetry, Application, LogFormat};

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
    Serve(ServeArgs),
    /// Maintain student records.
    Students {
        #[command(subcommand)]
        command: StudentsCommand,
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

/// Runs the chosen command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve(args) => serve(args).await,
        Command::Students {
            command: StudentsCommand::Purge { older_than, store },
        } => purge(older_than, store).await,
    }
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let resolved = config::resolve_serve(args)?;
    telemetry::init(resolved.log_format, "info,sqlx=warn,tower_http=warn")?;
    let app = Application::build(resolved.settings).await?;
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
        .purge_deleted(cutoff)
        .await
        .context("Failed to purge")?;
    println!(
        "purged {purged} student record(s) deleted before {}",
        cutoff.format("%Y-%m-%d %H:%M:%S UTC")
    );
    store.close().await;
    Ok(())
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let ctrl_c = async {
        if let Err(e) = tokio::signal::ctrl_c().await {
            tracing::error!(error = %e, "cannot listen for Ctrl-C");
            std::future::pending::<()>().await;
        }
    };
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(e) => {
                tracing::error!(error = %e, "cannot listen for SIGTERM");
                std::future::pending::<()>().await;
            }
        }
    };
    tokio::select! {
        () = ctrl_c => {},
        () = terminate => {},
    }
}
