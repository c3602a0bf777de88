//! A TCP proxy that delays every byte by a fixed time in each direction:
//! the distance between two sites, on one machine whose kernel has no
//! netem. Data keeps flowing while earlier data waits (each chunk waits
//! from when it arrived, not from when the one before it left), so a
//! delay costs latency, not bandwidth: one round trip through it takes two
//! delays, a stream as fast as without it.

use anyhow::Context;
use std::net::SocketAddr;
use std::time::Duration;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// How far a chunk may be ahead of the writer before the reader waits:
/// bounds what a stalled destination makes the proxy hold.
const IN_FLIGHT_CHUNKS: usize = 1024;

/// A running delay proxy: connections to `listen` reach `to`, each way
/// `delay` later.
#[derive(Debug)]
pub struct LinkDelay {
    /// Where it listens.
    pub listen: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl LinkDelay {
    /// Listens on `listen` (port 0: any free one) and forwards each
    /// connection to `to` with `delay` added in each direction.
    pub async fn start(
        listen: SocketAddr,
        to: SocketAddr,
        delay: Duration,
    ) -> anyhow::Result<Self> {
        let listener = TcpListener::bind(listen)
            .await
            .with_context(|| format!("link delay: cannot listen on {listen}"))?;
        let listen = listener.local_addr()?;
        let task = tokio::spawn(accept(listener, to, delay));
        Ok(Self { listen, task })
    }

    /// Serves until the process ends (for `srs link-delay`).
    pub async fn wait(mut self) {
        let _ = (&mut self.task).await;
    }
}

impl Drop for LinkDelay {
    fn drop(&mut self) {
        self.task.abort();
    }
}

async fn accept(listener: TcpListener, to: SocketAddr, delay: Duration) {
    loop {
        let (client, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "link delay: accept failed");
                tokio::time::sleep(Duration::from_millis(50)).await;
                continue;
            }
        };
        tokio::spawn(async move {
            // The connection itself crosses the link too: its SYN one
            // delay out, the answer one delay back.
            tokio::time::sleep(delay * 2).await;
            match TcpStream::connect(to).await {
                Ok(server) => relay(client, server, delay).await,
                Err(e) => {
                    tracing::warn!(%peer, %to, error = %e, "link delay: cannot reach the far side")
                }
            }
        });
    }
}

/// Both directions of one connection, each delayed, until both are done.
async fn relay(client: TcpStream, server: TcpStream, delay: Duration) {
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (client_read, client_write) = client.into_split();
    let (server_read, server_write) = server.into_split();
    tokio::join!(
        one_way(client_read, server_write, delay),
        one_way(server_read, client_write, delay),
    );
}

/// Reads from `from` and writes each chunk to `to` `delay` after it was
/// read; the end of the stream is passed on the same way.
async fn one_way(
    mut from: tokio::net::tcp::OwnedReadHalf,
    mut to: tokio::net::tcp::OwnedWriteHalf,
    delay: Duration,
) {
    let (chunks, mut due) = mpsc::channel::<(Instant, Vec<u8>)>(IN_FLIGHT_CHUNKS);
    let reader = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            match from.read(&mut buf).await {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    if chunks
                        .send((Instant::now() + delay, buf[..n].to_vec()))
                        .await
                        .is_err()
                    {
                        break;
                    }
                }
            }
        }
        // Dropping the sender ends the writer once it has written the rest.
    };
    let writer = async move {
        while let Some((at, chunk)) = due.recv().await {
            tokio::time::sleep_until(at).await;
            if to.write_all(&chunk).await.is_err() {
                return;
            }
        }
        tokio::time::sleep(delay).await;
        let _ = to.shutdown().await;
    };
    tokio::join!(reader, writer);
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Instant as StdInstant;

    /// An echo server on a free port.
    async fn echo() -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(async move {
            while let Ok((mut s, _)) = listener.accept().await {
                tokio::spawn(async move {
                    let (mut r, mut w) = s.split();
                    let _ = tokio::io::copy(&mut r, &mut w).await;
                });
            }
        });
        addr
    }

    #[tokio::test]
    async fn a_round_trip_takes_two_delays_and_keeps_every_byte_in_order() {
        let server = echo().await;
        let delay = Duration::from_millis(40);
        let proxy = LinkDelay::start("127.0.0.1:0".parse().expect("addr"), server, delay)
            .await
            .expect("starts");
        let mut conn = TcpStream::connect(proxy.listen).await.expect("connects");
        // The connection's own round trip first, then one for a ping.
        let began = StdInstant::now();
        conn.write_all(b"ping").await.expect("write");
        let mut back = [0u8; 4];
        conn.read_exact(&mut back).await.expect("read");
        let first = began.elapsed();
        assert_eq!(&back, b"ping");
        assert!(first >= delay * 4, "connect and echo took {first:?}");
        let began = StdInstant::now();
        conn.write_all(b"pong").await.expect("write");
        conn.read_exact(&mut back).await.expect("read");
        let second = began.elapsed();
        assert_eq!(&back, b"pong");
        assert!(
            second >= delay * 2,
            "an echo took {second:?}, under two delays"
        );
        assert!(
            second < delay * 2 + Duration::from_secs(2),
            "an echo took {second:?}"
        );
    }

    #[tokio::test]
    async fn a_stream_is_not_slowed_to_one_chunk_per_delay() {
        let server = echo().await;
        let delay = Duration::from_millis(50);
        let proxy = LinkDelay::start("127.0.0.1:0".parse().expect("addr"), server, delay)
            .await
            .expect("starts");
        let conn = TcpStream::connect(proxy.listen).await.expect("connects");
        let (mut r, mut w) = conn.into_split();
        // 4 MiB of a pattern: at one chunk per delay it would take minutes.
        let sent: Vec<u8> = (0..4 * 1024 * 1024).map(|i: u32| (i % 251) as u8).collect();
        let expected = sent.clone();
        let began = StdInstant::now();
        let writer = tokio::spawn(async move {
            w.write_all(&sent).await.expect("write");
            w.shutdown().await.expect("shutdown");
        });
        let mut got = Vec::new();
        r.read_to_end(&mut got).await.expect("read");
        writer.await.expect("writer");
        let took = began.elapsed();
        assert!(
            got == expected,
            "bytes changed or reordered ({} of {})",
            got.len(),
            expected.len()
        );
        assert!(took < Duration::from_secs(20), "4 MiB took {took:?}");
    }
}
