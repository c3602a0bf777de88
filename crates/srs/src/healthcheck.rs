//! `srs healthcheck`: asks a running srs whether it is ready, so that a
//! container's health check needs no curl (the image carries none).

use anyhow::Context;
use clap::Args;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

/// `srs healthcheck`'s flags.
#[derive(Debug, Args)]
pub struct HealthcheckArgs {
    /// The URL to ask, e.g. a controller's http://127.0.0.1:8077/healthz
    /// [default: /readyz of the `srs serve` that SRS_LISTEN names]
    #[arg(long, value_name = "URL")]
    url: Option<String>,
    /// The address `srs serve` listens on; a wildcard address is asked on
    /// loopback
    #[arg(
        long,
        env = "SRS_LISTEN",
        value_name = "ADDR",
        default_value = "127.0.0.1:8080"
    )]
    listen: SocketAddr,
    /// Seconds to wait for the answer, 1-60 (under the container's own
    /// health check timeout)
    #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u64).range(1..=60))]
    timeout_secs: u64,
}

/// The URL a health check asks.
fn url_of(args: &HealthcheckArgs) -> anyhow::Result<reqwest::Url> {
    if let Some(url) = &args.url {
        return reqwest::Url::parse(url)
            .ok()
            .filter(|u| u.scheme() == "http")
            .with_context(|| format!("--url '{url}' must be an http:// URL"));
    }
    let ip = match args.listen.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    let addr = SocketAddr::new(ip, args.listen.port());
    reqwest::Url::parse(&format!("http://{addr}/readyz")).context("the listen address")
}

/// Succeeds when the URL answers 2xx within the timeout; otherwise says
/// what it got.
pub async fn check(args: HealthcheckArgs) -> anyhow::Result<()> {
    let url = url_of(&args)?;
    // Loopback only: a proxy from the environment (containers often get
    // one) would answer for a server it cannot see.
    let client = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(args.timeout_secs))
        .build()?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("{url}: no answer"))?;
    let status = response.status();
    if !status.is_success() {
        // /readyz says why it is not ready; the first line is enough here.
        let body = response.text().await.unwrap_or_default();
        let reason: String = body
            .lines()
            .next()
            .unwrap_or_default()
            .chars()
            .take(200)
            .collect();
        anyhow::bail!("{url}: {status} {reason}");
    }
    println!("{url}: {status}");
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: HealthcheckArgs,
    }

    fn url(argv: &[&str]) -> anyhow::Result<String> {
        let cli = Cli::try_parse_from(std::iter::once("srs").chain(argv.iter().copied()))?;
        Ok(url_of(&cli.args)?.to_string())
    }

    #[test]
    fn a_wildcard_listen_address_is_asked_on_loopback() {
        assert_eq!(
            url(&["--listen", "0.0.0.0:8081"]).expect("valid"),
            "http://127.0.0.1:8081/readyz"
        );
        assert_eq!(
            url(&["--listen", "[::]:8081"]).expect("valid"),
            "http://[::1]:8081/readyz"
        );
        assert_eq!(
            url(&["--listen", "10.0.0.5:9000"]).expect("valid"),
            "http://10.0.0.5:9000/readyz"
        );
    }

    #[test]
    fn a_given_url_must_be_http() {
        assert_eq!(
            url(&["--url", "http://127.0.0.1:8077/healthz"]).expect("valid"),
            "http://127.0.0.1:8077/healthz"
        );
        let err = url(&["--url", "ftp://x"]).expect_err("refused");
        assert!(err.to_string().contains("must be an http:// URL"), "{err}");
    }
}
