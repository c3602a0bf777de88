//! The drill's client load: N clients through the edge, each creating
//! students with an Idempotency-Key (retrying a failed create with the same
//! key, as a careful client does) and reading one back. Every request is
//! recorded with its outcome; every acknowledged create is kept to be
//! verified after recovery.

use serde::Serialize;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

/// How long one request may take: longer than the edge holds requests.
const REQUEST_TIMEOUT: Duration = Duration::from_secs(20);

/// Kind of request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Kind {
    /// A create.
    Create,
    /// A read.
    Read,
}

/// One finished request.
#[derive(Debug, Clone, Serialize)]
pub struct Sample {
    /// When it finished, ms since the drill's clock started.
    pub at_ms: u64,
    /// How long it took, ms.
    pub took_ms: u64,
    /// What it was.
    pub kind: Kind,
    /// It succeeded.
    pub ok: bool,
    /// The site that answered (X-Srs-Site), if any.
    pub site: String,
    /// The HTTP status (0: no answer).
    pub status: u16,
}

/// A create the client was told succeeded.
#[derive(Debug, Clone, Serialize)]
pub struct Acknowledged {
    /// The student's id.
    pub id: i64,
    /// Its name, to compare on recovery.
    pub name: String,
    /// When the answer came, ms since the drill's clock started.
    pub at_ms: u64,
    /// The site that answered it (X-Srs-Site).
    pub site: String,
}

/// What all clients recorded.
#[derive(Debug, Default)]
pub struct Recorded {
    /// Every finished request.
    pub samples: Vec<Sample>,
    /// Every acknowledged create.
    pub acknowledged: Vec<Acknowledged>,
    /// The first refusal a create got, for a load that gets nowhere.
    pub first_refusal: Option<String>,
}

/// A running load; stop it to get what it recorded.
pub struct Load {
    stop: Arc<AtomicBool>,
    recorded: Arc<Mutex<Recorded>>,
    tasks: Vec<tokio::task::JoinHandle<()>>,
}

/// A number as a word of letters (names may not hold digits).
pub fn letters(mut n: u64) -> String {
    let mut out = Vec::new();
    loop {
        out.push(b'a' + (n % 26) as u8);
        n /= 26;
        if n == 0 {
            break;
        }
    }
    out.reverse();
    let mut word = String::from_utf8(out).unwrap_or_default();
    if let Some(first) = word.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    word
}

fn since(clock: Instant) -> u64 {
    u64::try_from(clock.elapsed().as_millis()).unwrap_or(u64::MAX)
}

impl Load {
    /// Starts `clients` clients against `edge` (`http://host:port`) with
    /// `token`; `tag` makes names and keys unique to this run.
    pub fn start(
        edge: &str,
        token: &str,
        department: &str,
        clients: usize,
        tag: &str,
        clock: Instant,
    ) -> anyhow::Result<Self> {
        let stop = Arc::new(AtomicBool::new(false));
        let recorded = Arc::new(Mutex::new(Recorded::default()));
        let http = reqwest::Client::builder()
            .timeout(REQUEST_TIMEOUT)
            .pool_max_idle_per_host(clients)
            .build()?;
        let tasks = (0..clients)
            .map(|client| {
                let worker = Client {
                    http: http.clone(),
                    edge: edge.to_owned(),
                    token: token.to_owned(),
                    department: department.to_owned(),
                    prefix: format!("Drill {tag} {}", letters(client as u64)),
                    key: format!(
                        "drill-{}-{}-{client}",
                        tag.to_lowercase(),
                        std::process::id()
                    ),
                    clock,
                    recorded: recorded.clone(),
                };
                let stop = stop.clone();
                tokio::spawn(async move { worker.run(&stop).await })
            })
            .collect();
        Ok(Self {
            stop,
            recorded,
            tasks,
        })
    }

    /// Acknowledged creates so far.
    pub fn acknowledged(&self) -> usize {
        self.recorded
            .lock()
            .map(|r| r.acknowledged.len())
            .unwrap_or(0)
    }

    /// The first refusal a create got, if any.
    pub fn first_refusal(&self) -> Option<String> {
        self.recorded.lock().ok()?.first_refusal.clone()
    }

    /// Creates acknowledged from `from_ms` up to `to_ms`.
    pub fn creates_between(&self, from_ms: u64, to_ms: u64) -> usize {
        self.recorded.lock().map_or(0, |r| {
            r.acknowledged
                .iter()
                .filter(|a| a.at_ms >= from_ms && a.at_ms < to_ms)
                .count()
        })
    }

    /// The first successful create answered by `site` at or after `from_ms`.
    pub fn first_create_by(&self, site: &str, from_ms: u64) -> Option<u64> {
        let r = self.recorded.lock().ok()?;
        r.samples
            .iter()
            .filter(|s| s.kind == Kind::Create && s.ok && s.site == site && s.at_ms >= from_ms)
            .map(|s| s.at_ms)
            .min()
    }

    /// Stops every client after its request in flight; what they recorded.
    pub async fn stop(self) -> Recorded {
        self.stop.store(true, Ordering::SeqCst);
        for task in self.tasks {
            let _ = task.await;
        }
        let mut recorded =
            std::mem::take(&mut *self.recorded.lock().unwrap_or_else(|e| e.into_inner()));
        recorded.samples.sort_by_key(|s| s.at_ms);
        recorded.acknowledged.sort_by_key(|a| a.at_ms);
        recorded
    }
}

struct Client {
    http: reqwest::Client,
    edge: String,
    token: String,
    department: String,
    prefix: String,
    key: String,
    clock: Instant,
    recorded: Arc<Mutex<Recorded>>,
}

impl Client {
    async fn run(&self, stop: &AtomicBool) {
        let mut seq = 0u64;
        let mut last_id = None;
        while !stop.load(Ordering::SeqCst) {
            let name = format!("{} {}", self.prefix, letters(seq));
            let key = format!("{}-{seq}", self.key);
            if let Some(id) = self.create(&name, &key).await {
                last_id = Some(id);
                seq += 1;
            } else {
                // The same key again: exactly once, whether the first landed or not.
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            if let Some(id) = last_id {
                self.read(id).await;
            }
        }
    }

    fn record(&self, sample: Sample, acknowledged: Option<Acknowledged>) {
        if let Ok(mut r) = self.recorded.lock() {
            r.samples.push(sample);
            r.acknowledged.extend(acknowledged);
        }
    }

    async fn create(&self, name: &str, key: &str) -> Option<i64> {
        let began = Instant::now();
        let answer = self
            .http
            .post(format!("{}/api/v1/students", self.edge))
            .bearer_auth(&self.token)
            .header("idempotency-key", key)
            .json(&serde_json::json!({
                "full_name": name,
                "date_of_birth": "2000-01-01",
                "department": self.department,
            }))
            .send()
            .await;
        let (ok, site, id, code) = match answer {
            Ok(r) => {
                let site = site_of(&r);
                let ok = r.status().is_success();
                let status = r.status();
                let code = status.as_u16();
                let id = if ok {
                    r.json::<serde_json::Value>()
                        .await
                        .ok()
                        .and_then(|v| v["id"].as_i64())
                } else {
                    let body = r.text().await.unwrap_or_default();
                    if let Ok(mut rec) = self.recorded.lock() {
                        rec.first_refusal.get_or_insert_with(|| {
                            format!("{status}: {}", body.chars().take(300).collect::<String>())
                        });
                    }
                    None
                };
                (ok && id.is_some(), site, id, code)
            }
            Err(_) => (false, String::new(), None, 0),
        };
        let at_ms = since(self.clock);
        let sample = Sample {
            at_ms,
            took_ms: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
            kind: Kind::Create,
            ok,
            site,
            status: code,
        };
        let acknowledged = id.map(|id| Acknowledged {
            id,
            name: name.to_owned(),
            at_ms,
            site: sample.site.clone(),
        });
        self.record(sample, acknowledged);
        id
    }

    async fn read(&self, id: i64) {
        let began = Instant::now();
        let answer = self
            .http
            .get(format!("{}/api/v1/students/{id}", self.edge))
            .bearer_auth(&self.token)
            .send()
            .await;
        let (ok, site, status) = match answer {
            Ok(r) => (r.status().is_success(), site_of(&r), r.status().as_u16()),
            Err(_) => (false, String::new(), 0),
        };
        self.record(
            Sample {
                at_ms: since(self.clock),
                took_ms: u64::try_from(began.elapsed().as_millis()).unwrap_or(u64::MAX),
                kind: Kind::Read,
                ok,
                site,
                status,
            },
            None,
        );
    }
}

fn site_of(r: &reqwest::Response) -> String {
    r.headers()
        .get("x-srs-site")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_become_capitalised_words() {
        assert_eq!(letters(0), "A");
        assert_eq!(letters(25), "Z");
        assert_eq!(letters(26), "Ba");
        assert_eq!(letters(27 * 26), "Bba");
    }
}
