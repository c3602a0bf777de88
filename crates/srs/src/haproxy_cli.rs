//! `srs haproxy-config`: HAProxy in front of a topology, as files an
//! operator installs with the distribution's package.

use anyhow::Context;
use srs_dr::supervisor::haproxy::{self, HaproxyOptions, HOLD_LUA, HOLD_LUA_FILE};
use srs_dr::{ClusterDir, ClusterFile, Topology};
use std::net::SocketAddr;
use std::path::PathBuf;

/// Where the config goes and what it listens on.
#[derive(Debug, clap::Args)]
pub struct HaproxyConfigArgs {
    /// The cluster's data directory (its topology names the app instances).
    #[arg(long, default_value = "./srs-data/cluster")]
    data_dir: ClusterDir,
    /// Where HAProxy takes clients, e.g. 0.0.0.0:80 (not the edge's
    /// address if srs edge runs on the same host).
    #[arg(long, value_name = "ADDR")]
    listen: SocketAddr,
    /// Also serve HAProxy's Prometheus metrics (/metrics) and stats page here.
    #[arg(long, value_name = "ADDR")]
    stats_listen: Option<SocketAddr>,
    /// Folder to write haproxy.cfg and srs-hold.lua into [default: DATA_DIR/haproxy].
    #[arg(long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Where HAProxy will find srs-hold.lua, when the files are copied
    /// elsewhere (e.g. /etc/haproxy/srs-hold.lua) [default: its path in --out].
    #[arg(long, value_name = "PATH")]
    lua_path: Option<String>,
}

/// Writes the two files and says where they are.
pub fn write(args: HaproxyConfigArgs) -> anyhow::Result<()> {
    let topology = Topology::of(&args.data_dir)?;
    let out = args
        .out
        .unwrap_or_else(|| args.data_dir.file(ClusterFile::Haproxy));
    std::fs::create_dir_all(&out).with_context(|| format!("Failed to create {}", out.display()))?;
    let lua_file = out.join(HOLD_LUA_FILE);
    let lua_path = match args.lua_path {
        Some(p) => p,
        None => std::path::absolute(&lua_file)
            .with_context(|| format!("Failed to resolve {}", lua_file.display()))?
            .display()
            .to_string(),
    };
    let options = HaproxyOptions {
        listen: args.listen,
        stats_listen: args.stats_listen,
        lua_path,
    };
    let cfg_file = out.join("haproxy.cfg");
    let cfg = haproxy::render(&topology, &options, args.data_dir.path());
    std::fs::write(&lua_file, HOLD_LUA)
        .with_context(|| format!("Failed to write {}", lua_file.display()))?;
    std::fs::write(&cfg_file, cfg)
        .with_context(|| format!("Failed to write {}", cfg_file.display()))?;
    println!(
        "Wrote {} and {}.\nCheck it with: haproxy -c -f {}",
        cfg_file.display(),
        lua_file.display(),
        cfg_file.display()
    );
    Ok(())
}
