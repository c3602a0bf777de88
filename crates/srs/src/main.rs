//! The `srs` binary: parses the command line and hands over to the library
//! crates. No logic lives here.

mod admission_feed;
mod cli;
mod cluster_view;
mod config;

use clap::Parser;
use std::process::ExitCode;

#[tokio::main]
async fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    match cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srs: error: {e:#}");
            ExitCode::FAILURE
        }
    }
}
