//! HAProxy as the front door, beside `srs edge`: the `haproxy.cfg` of a
//! topology and the Lua hold it loads.
//!
//! HAProxy follows the primary on its own: every app instance of both sites
//! is a server, checked on `/readyz/primary`, which answers 200 only on the
//! site holding the primary epoch. During a switch the Lua action holds new
//! requests while no instance is up, and a request that met the old
//! primary's fenced database (503, nothing done) is sent again, if it is
//! safe to repeat, once the app has seen the new primary named.

use crate::topology::Topology;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::path::Path;

/// The Lua action `srs haproxy-config` writes beside the config.
pub const HOLD_LUA: &str = include_str!("haproxy/srs-hold.lua");

/// The Lua file's name beside `haproxy.cfg`.
pub const HOLD_LUA_FILE: &str = "srs-hold.lua";

/// The backend holding every app instance.
const BACKEND: &str = "srs_apps";

/// Health checks: every 500 ms while steady, every 100 ms while a server is
/// changing state or down, so a new primary is taken in within about 0.2 s.
/// A refused connection marks a server down at once (an instance stopped
/// after a switch), so a retry never goes back to it.
const CHECK: &str = "check inter 500ms fastinter 100ms downinter 100ms rise 1 fall 2 observe layer4 error-limit 1 on-error mark-down";

/// What the config is made for beyond the topology.
#[derive(Debug, Clone)]
pub struct HaproxyOptions {
    /// Where HAProxy takes clients.
    pub listen: SocketAddr,
    /// Where HAProxy serves its Prometheus metrics and stats page, if anywhere.
    pub stats_listen: Option<SocketAddr>,
    /// The hold script's path as HAProxy will read it.
    pub lua_path: String,
}

/// The `haproxy.cfg` for `topology`.
pub fn render(topology: &Topology, options: &HaproxyOptions, source: &Path) -> String {
    let hold_ms = topology.edge.hold_timeout_ms;
    // A write may wait write_timeout_secs for the replica, and a request
    // that met a fenced database waits as long for the new primary's name.
    let server_timeout = 2 * topology.write_timeout_secs + 30;
    let mut cfg = String::new();
    let _ = writeln!(
        cfg,
        "# srs front door on HAProxy, written by `srs haproxy-config` for the\n\
         # topology in {}. Write it again after changing the topology.\n",
        source.display()
    );
    let _ = writeln!(
        cfg,
        "global\n\
         \x20   lua-load {lua}\n\
         \n\
         defaults\n\
         \x20   mode http\n\
         \x20   log global\n\
         \x20   option httplog\n\
         \x20   option forwardfor\n\
         \x20   timeout connect 1s\n\
         \x20   timeout client 60s\n\
         \x20   timeout http-request 10s\n\
         \x20   timeout server {server_timeout}s\n\
         \x20   timeout check 1s\n\
         \x20   # Retried requests go to another instance each time.\n\
         \x20   retries 3\n\
         \x20   option redispatch 1\n",
        lua = options.lua_path,
    );
    let _ = writeln!(
        cfg,
        "frontend srs\n\
         \x20   bind {listen}\n\
         \x20   http-request set-header X-Forwarded-Proto http\n\
         \x20   # No instance of the primary up (a switch under way): wait up to\n\
         \x20   # hold_timeout_ms for one, as srs edge does.\n\
         \x20   http-request lua.srs_hold {BACKEND} {hold_ms}\n\
         \x20   default_backend {BACKEND}\n",
        listen = options.listen,
    );
    let _ = writeln!(
        cfg,
        "backend {BACKEND}\n\
         \x20   # Not leastconn: an idle instance may be one that just stopped.\n\
         \x20   balance roundrobin\n\
         \x20   # 200 only on the site holding the primary epoch: HAProxy follows\n\
         \x20   # every failover and switchover without being told.\n\
         \x20   option httpchk GET /readyz/primary\n\
         \x20   http-check expect status 200\n\
         \x20   # A 503 from the old primary did nothing (its database is fenced or\n\
         \x20   # gone); the app answers it once the new primary is named. Send it\n\
         \x20   # again only when repeating is safe: reads, and writes carrying an\n\
         \x20   # Idempotency-Key (the app replays the first answer).\n\
         \x20   retry-on conn-failure empty-response 503\n\
         \x20   http-request disable-l7-retry unless METH_GET || METH_HEAD || METH_OPTIONS || {{ req.hdr(idempotency-key) -m found }}\n\
         \x20   http-error status 503 content-type application/problem+json string \"{{\\\"type\\\":\\\"/problems/edge\\\",\\\"title\\\":\\\"Service Unavailable\\\",\\\"status\\\":503,\\\"detail\\\":\\\"no instance of the primary site answered in time; retry shortly\\\"}}\" hdr Retry-After 1\n\
         \x20   default-server {CHECK}"
    );
    for site in &topology.sites {
        for (n, port) in site.app_ports.iter().enumerate() {
            let _ = writeln!(
                cfg,
                "    server {}-{} {}:{port}",
                site.name,
                n + 1,
                site.app_host
            );
        }
        for (n, port) in site.standby_app_ports.iter().enumerate() {
            let _ = writeln!(
                cfg,
                "    # Standby: runs only while {} is primary.\n    server {}-standby-{} {}:{port}",
                site.name,
                site.name,
                n + 1,
                site.app_host
            );
        }
    }
    if let Some(stats) = options.stats_listen {
        let _ = writeln!(
            cfg,
            "\nfrontend stats\n\
             \x20   bind {stats}\n\
             \x20   http-request use-service prometheus-exporter if {{ path /metrics }}\n\
             \x20   stats enable\n\
             \x20   stats uri /\n\
             \x20   stats refresh 5s"
        );
    }
    cfg
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topology() -> Topology {
        toml::from_str(crate::topology::DEFAULT).expect("the default topology parses")
    }

    fn options() -> HaproxyOptions {
        HaproxyOptions {
            listen: "127.0.0.1:8090".parse().expect("addr"),
            stats_listen: None,
            lua_path: "/etc/haproxy/srs-hold.lua".into(),
        }
    }

    #[test]
    fn every_app_instance_of_both_sites_is_a_checked_server() {
        let cfg = render(&topology(), &options(), Path::new("/srv/cluster"));
        for line in [
            "server primary-1 127.0.0.1:8101",
            "server primary-2 127.0.0.1:8102",
            "server dr-standby-1 127.0.0.1:8103",
            "server dr-standby-2 127.0.0.1:8104",
            "option httpchk GET /readyz/primary",
            "bind 127.0.0.1:8090",
            "lua-load /etc/haproxy/srs-hold.lua",
            "http-request lua.srs_hold srs_apps 10000",
        ] {
            assert!(cfg.contains(line), "missing {line:?} in\n{cfg}");
        }
        assert!(!cfg.contains("frontend stats"));
    }

    #[test]
    fn only_requests_safe_to_repeat_are_retried_and_the_server_timeout_covers_a_write() {
        let cfg = render(&topology(), &options(), Path::new("/srv/cluster"));
        assert!(cfg.contains("retry-on conn-failure empty-response 503"));
        assert!(cfg.contains("disable-l7-retry unless METH_GET"));
        assert!(cfg.contains("req.hdr(idempotency-key)"));
        // write_timeout_secs = 10 in the default topology.
        assert!(cfg.contains("timeout server 50s"));
    }

    #[test]
    fn stats_are_served_only_when_asked_for() {
        let mut o = options();
        o.stats_listen = Some("127.0.0.1:8404".parse().expect("addr"));
        let cfg = render(&topology(), &o, Path::new("/srv/cluster"));
        assert!(cfg.contains("bind 127.0.0.1:8404"));
        assert!(cfg.contains("prometheus-exporter"));
    }
}
