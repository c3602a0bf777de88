//! Hosts for the three-host drill: Linux network namespaces on this
//! machine, each with one veth pair into a bridge of the drill's own and an
//! address in a subnet of its own. A host can be cut off (its link taken
//! down: it still reaches itself), its processes listed, signalled, or run;
//! and a thread can be put inside it, so load clients share its network.
//! Everything is removed when the `Hosts` is dropped. Needs root.

use anyhow::Context;
use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::process::Command;

/// One host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Host {
    /// Its name in the drill (a site's name, or `witness`).
    pub name: String,
    /// Its network namespace.
    pub netns: String,
    /// The bridge side of its link (down: the host is cut off).
    pub link: String,
    /// Its address.
    pub ip: Ipv4Addr,
}

/// The drill's hosts and their bridge.
#[derive(Debug)]
pub struct Hosts {
    /// Every host.
    pub hosts: Vec<Host>,
    bridge: String,
    /// The bridge's own address: the machine outside every host.
    pub outside: Ipv4Addr,
}

fn ip(args: &[&str]) -> anyhow::Result<()> {
    let out = Command::new("ip")
        .args(args)
        .output()
        .context("Failed to run `ip` (iproute2)")?;
    anyhow::ensure!(
        out.status.success(),
        "ip {}: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr).trim()
    );
    Ok(())
}

impl Hosts {
    /// Builds hosts named `names` in a subnet of their own (chosen from this
    /// process's id, so two drills at once do not meet).
    pub fn build(names: &[&str]) -> anyhow::Result<Self> {
        anyhow::ensure!(
            nix::unistd::geteuid().is_root(),
            "the three-host drill builds network namespaces: run it as root"
        );
        // Each build of this process gets its own names: a namespace whose
        // processes are still being reaped lingers after it is deleted.
        static BUILDS: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let build = BUILDS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let id = (std::process::id() * 7 + build) % 10_000;
        let subnet = u8::try_from(id % 200 + 20).unwrap_or(20);
        let bridge = format!("srsb{id}");
        let mut hosts = Self {
            hosts: Vec::new(),
            bridge: bridge.clone(),
            outside: Ipv4Addr::new(10, 213, subnet, 254),
        };
        // A leftover of an earlier drill with this id would be in the way.
        let _ = ip(&["link", "del", &bridge]);
        ip(&["link", "add", &bridge, "type", "bridge"])?;
        ip(&[
            "addr",
            "add",
            &format!("{}/24", hosts.outside),
            "dev",
            &bridge,
        ])?;
        ip(&["link", "set", &bridge, "up"])?;
        for (i, name) in names.iter().enumerate() {
            let n = u8::try_from(i + 1).unwrap_or(1);
            let host = Host {
                name: (*name).to_owned(),
                netns: format!("srs{id}-{name}"),
                link: format!("srs{id}h{n}"),
                ip: Ipv4Addr::new(10, 213, subnet, n),
            };
            let _ = ip(&["netns", "del", &host.netns]);
            let _ = ip(&["link", "del", &host.link]);
            ip(&["netns", "add", &host.netns])?;
            hosts.hosts.push(host.clone());
            ip(&[
                "link",
                "add",
                &host.link,
                "type",
                "veth",
                "peer",
                "name",
                "eth0",
                "netns",
                &host.netns,
            ])?;
            ip(&["link", "set", &host.link, "master", &bridge])?;
            ip(&["link", "set", &host.link, "up"])?;
            ip(&[
                "-n",
                &host.netns,
                "addr",
                "add",
                &format!("{}/24", host.ip),
                "dev",
                "eth0",
            ])?;
            ip(&["-n", &host.netns, "link", "set", "eth0", "up"])?;
            ip(&["-n", &host.netns, "link", "set", "lo", "up"])?;
        }
        Ok(hosts)
    }

    /// The host named `name`.
    pub fn host(&self, name: &str) -> anyhow::Result<&Host> {
        self.hosts
            .iter()
            .find(|h| h.name == name)
            .with_context(|| format!("no host named '{name}'"))
    }

    /// Cuts `host` off from the others (and from outside), or joins it again.
    pub fn set_link(&self, host: &Host, up: bool) -> anyhow::Result<()> {
        ip(&["link", "set", &host.link, if up { "up" } else { "down" }])
    }
}

impl Host {
    /// A command run inside this host.
    pub fn command(&self, program: &std::path::Path) -> tokio::process::Command {
        let mut cmd = tokio::process::Command::new("ip");
        cmd.args(["netns", "exec", &self.netns]).arg(program);
        cmd
    }

    /// The ids of every process inside this host.
    pub fn pids(&self) -> Vec<i32> {
        Command::new("ip")
            .args(["netns", "pids", &self.netns])
            .output()
            .map(|out| {
                String::from_utf8_lossy(&out.stdout)
                    .split_whitespace()
                    .filter_map(|p| p.parse().ok())
                    .collect()
            })
            .unwrap_or_default()
    }

    /// Sends `signal` to every process inside this host; how many.
    pub fn signal_all(&self, signal: nix::sys::signal::Signal) -> usize {
        self.pids()
            .into_iter()
            .filter(|pid| nix::sys::signal::kill(nix::unistd::Pid::from_raw(*pid), signal).is_ok())
            .count()
    }

    /// The namespace's file, to enter it.
    fn netns_file(&self) -> PathBuf {
        PathBuf::from("/var/run/netns").join(&self.netns)
    }

    /// Runs `work` on a thread of its own inside this host's network, with
    /// a runtime of its own; its result when it ends.
    pub fn spawn_inside<T, F>(
        &self,
        work: F,
    ) -> anyhow::Result<std::thread::JoinHandle<anyhow::Result<T>>>
    where
        T: Send + 'static,
        F: FnOnce() -> std::pin::Pin<Box<dyn std::future::Future<Output = anyhow::Result<T>>>>
            + Send
            + 'static,
    {
        let file = std::fs::File::open(self.netns_file())
            .with_context(|| format!("Failed to open the namespace of host '{}'", self.name))?;
        let name = self.name.clone();
        Ok(std::thread::Builder::new()
            .name(format!("drill-{name}"))
            .spawn(move || {
                nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET)
                    .with_context(|| format!("Failed to enter host '{name}'"))?;
                let runtime = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()?;
                runtime.block_on(work())
            })?)
    }
}

impl Drop for Hosts {
    fn drop(&mut self) {
        for host in &self.hosts {
            host.signal_all(nix::sys::signal::Signal::SIGCONT);
            host.signal_all(nix::sys::signal::Signal::SIGKILL);
            let _ = ip(&["link", "del", &host.link]);
            let _ = ip(&["netns", "del", &host.netns]);
        }
        let _ = ip(&["link", "del", &self.bridge]);
    }
}
