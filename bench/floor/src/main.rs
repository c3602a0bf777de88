//! `srs-floor`: answers every GET with one body held in memory, through
//! the same axum and tokio (versions and runtime) as `srs serve`, with
//! nothing else: no authentication, cache check, metrics or logging.
//! bench/floor.sh runs it beside srs on the body srs itself served, so
//! that what srs adds per request is measured against what it cannot
//! avoid.

use anyhow::Context;
use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use clap::Parser;
use std::net::SocketAddr;
use std::path::PathBuf;

/// `srs-floor`'s flags.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8099")]
    listen: SocketAddr,
    /// The file whose bytes every GET answers with (as application/json).
    #[arg(long)]
    body: PathBuf,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let args = Args::parse();
    let body = Bytes::from(
        std::fs::read(&args.body)
            .with_context(|| format!("--body {}: cannot read it", args.body.display()))?,
    );
    let answer = move || {
        let body = body.clone();
        async move { ([(CONTENT_TYPE, "application/json")], body).into_response() }
    };
    let app = Router::new().fallback(get(answer));
    let listener = tokio::net::TcpListener::bind(args.listen)
        .await
        .with_context(|| format!("--listen {}: cannot listen", args.listen))?;
    eprintln!("srs-floor listening on {}", args.listen);
    axum::serve(listener, app).await.context("serving")
}
