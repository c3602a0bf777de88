//! The `srs` binary: parses the command line and hands over to the library
//! crates. No logic lives here.

mod allocator;
mod backup_cli;
mod cli;
mod cluster_view;
mod config;
mod drill_cli;
mod drill_fault;
mod haproxy_cli;
mod healthcheck;
mod student_restore;

use clap::Parser;
use std::process::ExitCode;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if cli.runs_until_stopped() {
        allocator::bound_arenas();
    }
    let runtime = match cli.worker_threads() {
        Some(1) => tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build(),
        Some(n) => tokio::runtime::Builder::new_multi_thread()
            .worker_threads(n)
            .enable_all()
            .build(),
        None => tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build(),
    };
    let runtime = match runtime {
        Ok(r) => r,
        Err(e) => {
            eprintln!("srs: error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(cli::run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("srs: error: {e:#}");
            let disk_full = e.chain().any(|cause| {
                cause
                    .downcast_ref::<std::io::Error>()
                    .is_some_and(|io| io.kind() == std::io::ErrorKind::StorageFull)
            });
            if disk_full {
                eprintln!("srs: the disk is full: free space on it (or point --store at another disk) and run the command again");
            }
            ExitCode::FAILURE
        }
    }
}
