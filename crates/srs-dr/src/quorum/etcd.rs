//! A client of etcd's v3 API through the JSON gateway every etcd member
//! serves next to gRPC (`/v3/kv/range`, `/v3/kv/txn`, `/v3/lease/...`): the
//! same requests and answers as etcd's gRPC API, carried by the HTTP
//! client srs already has. The gRPC client crate would need `protoc` on
//! every machine that builds srs, for the five calls used here.
//!
//! Members are tried in turn, starting with the last one that answered: a
//! member that is down or cut off from the others costs one short timeout.

use base64::Engine as _;
use serde_json::{json, Value};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// An etcd lease's id.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(transparent)]
pub struct LeaseId(pub i64);

impl std::fmt::Display for LeaseId {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{:x}", self.0)
    }
}

/// A key's value and versions, as a range read or a transaction found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValue {
    /// The value's bytes.
    pub value: Vec<u8>,
    /// The revision of its last change.
    pub mod_revision: i64,
    /// The lease it lives on, if any.
    pub lease: Option<LeaseId>,
}

/// A condition of a transaction.
#[derive(Debug, Clone)]
pub enum Compare {
    /// The key does not exist.
    Absent(String),
    /// The key was last changed at this revision.
    ModRevision(String, i64),
    /// The key lives on this lease.
    Lease(String, LeaseId),
    /// The key does not live on this lease (absent keys have none).
    NotLease(String, LeaseId),
}

/// An operation of a transaction.
#[derive(Debug, Clone)]
pub enum Op {
    /// Writes a key, on a lease or for good.
    Put {
        /// The key.
        key: String,
        /// The value.
        value: Vec<u8>,
        /// The lease it lives on (gone with it).
        lease: Option<LeaseId>,
    },
    /// Reads a key.
    Get(String),
    /// Deletes a key.
    Delete(String),
}

/// A transaction's outcome.
#[derive(Debug, Clone)]
pub struct TxnOutcome {
    /// Whether every condition held (the success operations ran).
    pub succeeded: bool,
    /// What each `Op::Get` of the branch that ran found, in order.
    pub reads: Vec<Option<KeyValue>>,
}

/// One member's own account of itself (`/v3/maintenance/status`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MemberStatus {
    /// Its id in the etcd cluster.
    pub id: u64,
    /// The id of the member it follows as raft leader (0: none known).
    pub leader: u64,
}

/// Why a call failed.
#[derive(Debug, thiserror::Error)]
pub enum EtcdError {
    /// No member answered in time, or every one that answered could not
    /// serve the request (no leader, no quorum).
    #[error("no etcd member answered ({0})")]
    Unreachable(String),
    /// A member answered with an error of etcd's own.
    #[error("etcd refused the request: {0}")]
    Refused(String),
}

/// The etcd cluster at a list of client URLs.
#[derive(Debug)]
pub struct Etcd {
    endpoints: Vec<reqwest::Url>,
    http: reqwest::Client,
    preferred: AtomicUsize,
}

fn b64(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(bytes)
}

/// The gateway writes 64-bit numbers as strings.
fn int(v: &Value) -> i64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_i64())
        .unwrap_or(0)
}

/// Member ids use the whole unsigned 64-bit range.
fn uint(v: &Value) -> u64 {
    v.as_str()
        .and_then(|s| s.parse().ok())
        .or_else(|| v.as_u64())
        .unwrap_or(0)
}

fn key_value(v: &Value) -> Option<KeyValue> {
    let value = base64::engine::general_purpose::STANDARD
        .decode(v["value"].as_str().unwrap_or(""))
        .ok()?;
    let lease = int(&v["lease"]);
    Some(KeyValue {
        value,
        mod_revision: int(&v["mod_revision"]),
        lease: (lease != 0).then_some(LeaseId(lease)),
    })
}

fn compare_json(c: &Compare) -> Value {
    match c {
        Compare::Absent(key) => {
            json!({"key": b64(key.as_bytes()), "target": "CREATE", "result": "EQUAL", "create_revision": "0"})
        }
        Compare::ModRevision(key, rev) => {
            json!({"key": b64(key.as_bytes()), "target": "MOD", "result": "EQUAL", "mod_revision": rev.to_string()})
        }
        Compare::Lease(key, lease) => {
            json!({"key": b64(key.as_bytes()), "target": "LEASE", "result": "EQUAL", "lease": lease.0.to_string()})
        }
        Compare::NotLease(key, lease) => {
            json!({"key": b64(key.as_bytes()), "target": "LEASE", "result": "NOT_EQUAL", "lease": lease.0.to_string()})
        }
    }
}

fn op_json(op: &Op) -> Value {
    match op {
        Op::Put { key, value, lease } => json!({"request_put": {
            "key": b64(key.as_bytes()),
            "value": b64(value),
            "lease": lease.map_or(0, |l| l.0).to_string(),
        }}),
        Op::Get(key) => json!({"request_range": {"key": b64(key.as_bytes())}}),
        Op::Delete(key) => json!({"request_delete_range": {"key": b64(key.as_bytes())}}),
    }
}

impl Etcd {
    /// A client of the members at `endpoints` (`http://host:port`); one
    /// call to one member may take `timeout`.
    pub fn new(endpoints: &[String], timeout: Duration) -> anyhow::Result<Self> {
        anyhow::ensure!(!endpoints.is_empty(), "no etcd endpoint given");
        let endpoints = endpoints
            .iter()
            .map(|e| {
                reqwest::Url::parse(e)
                    .map_err(|err| anyhow::anyhow!("etcd endpoint '{e}' is not a URL: {err}"))
            })
            .collect::<anyhow::Result<Vec<_>>>()?;
        let http = reqwest::Client::builder()
            .timeout(timeout)
            .connect_timeout(timeout)
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            endpoints,
            http,
            preferred: AtomicUsize::new(0),
        })
    }

    /// The members' client URLs.
    pub fn endpoints(&self) -> &[reqwest::Url] {
        &self.endpoints
    }

    /// Sends one request to the first member that serves it.
    async fn call(&self, path: &str, body: &Value) -> Result<Value, EtcdError> {
        let n = self.endpoints.len();
        let start = self.preferred.load(Ordering::Relaxed) % n;
        let mut last = String::new();
        for i in 0..n {
            let at = (start + i) % n;
            match self.call_member(at, path, body).await {
                Ok(v) => {
                    self.preferred.store(at, Ordering::Relaxed);
                    return Ok(v);
                }
                Err(EtcdError::Unreachable(why)) => last = why,
                Err(refused) => return Err(refused),
            }
        }
        Err(EtcdError::Unreachable(last))
    }

    async fn call_member(&self, at: usize, path: &str, body: &Value) -> Result<Value, EtcdError> {
        let endpoint = &self.endpoints[at];
        let url = endpoint
            .join(path)
            .map_err(|e| EtcdError::Unreachable(format!("{endpoint}: {e}")))?;
        let answer = self
            .http
            .post(url)
            .json(body)
            .send()
            .await
            .map_err(|e| EtcdError::Unreachable(format!("{endpoint}: {e}")))?;
        let status = answer.status();
        let v: Value = answer
            .json()
            .await
            .map_err(|e| EtcdError::Unreachable(format!("{endpoint}: {e}")))?;
        if status.is_success() && v.get("error").is_none() {
            return Ok(v);
        }
        let message = v["message"]
            .as_str()
            .or(v["error"].as_str())
            .unwrap_or("no message")
            .to_owned();
        // Unavailable, deadline exceeded, no leader: another member may serve it.
        let code = v["code"].as_i64().unwrap_or(0);
        if matches!(code, 4 | 14) || status.is_server_error() && code != 5 {
            return Err(EtcdError::Unreachable(format!("{endpoint}: {message}")));
        }
        Err(EtcdError::Refused(message))
    }

    /// A new lease of `ttl_secs` seconds.
    pub async fn grant(&self, ttl_secs: i64) -> Result<LeaseId, EtcdError> {
        let v = self
            .call("v3/lease/grant", &json!({"TTL": ttl_secs.to_string()}))
            .await?;
        match int(&v["ID"]) {
            0 => Err(EtcdError::Refused(format!("lease grant answered {v}"))),
            id => Ok(LeaseId(id)),
        }
    }

    /// Renews a lease; the seconds it has left, or None when it is gone.
    pub async fn keep_alive(&self, lease: LeaseId) -> Result<Option<i64>, EtcdError> {
        let v = self
            .call("v3/lease/keepalive", &json!({"ID": lease.0.to_string()}))
            .await?;
        let ttl = int(&v["result"]["TTL"]);
        Ok((ttl > 0).then_some(ttl))
    }

    /// Ends a lease now; its keys go with it. A lease already gone is fine.
    pub async fn revoke(&self, lease: LeaseId) -> Result<(), EtcdError> {
        match self
            .call("v3/lease/revoke", &json!({"ID": lease.0.to_string()}))
            .await
        {
            Ok(_) => Ok(()),
            Err(EtcdError::Refused(m)) if m.contains("not found") => Ok(()),
            Err(e) => Err(e),
        }
    }

    /// Reads a key (linearizable: a quorum confirms it is current).
    pub async fn get(&self, key: &str) -> Result<Option<KeyValue>, EtcdError> {
        let v = self
            .call("v3/kv/range", &json!({"key": b64(key.as_bytes())}))
            .await?;
        Ok(v["kvs"]
            .as_array()
            .and_then(|kvs| kvs.first())
            .and_then(key_value))
    }

    /// Runs `success` if every condition holds, else `failure`, atomically.
    pub async fn txn(
        &self,
        conditions: &[Compare],
        success: &[Op],
        failure: &[Op],
    ) -> Result<TxnOutcome, EtcdError> {
        let body = json!({
            "compare": conditions.iter().map(compare_json).collect::<Vec<_>>(),
            "success": success.iter().map(op_json).collect::<Vec<_>>(),
            "failure": failure.iter().map(op_json).collect::<Vec<_>>(),
        });
        let v = self.call("v3/kv/txn", &body).await?;
        let succeeded = v["succeeded"].as_bool().unwrap_or(false);
        let reads = v["responses"]
            .as_array()
            .map(|responses| {
                responses
                    .iter()
                    .filter_map(|r| r.get("response_range"))
                    .map(|r| {
                        r["kvs"]
                            .as_array()
                            .and_then(|kvs| kvs.first())
                            .and_then(key_value)
                    })
                    .collect()
            })
            .unwrap_or_default();
        Ok(TxnOutcome { succeeded, reads })
    }

    /// What the member at `endpoints()[at]` says of itself; asked of that
    /// member alone, never of another in its place.
    pub async fn member_status(&self, at: usize) -> Result<MemberStatus, EtcdError> {
        let v = self
            .call_member(at, "v3/maintenance/status", &json!({}))
            .await?;
        Ok(MemberStatus {
            id: uint(&v["header"]["member_id"]),
            leader: uint(&v["leader"]),
        })
    }

    /// Asks the raft leader at `endpoints()[at]` to hand leadership to the
    /// member `target` (etcd's MoveLeader; only the leader can).
    pub async fn move_leader(&self, at: usize, target: u64) -> Result<(), EtcdError> {
        self.call_member(
            at,
            "v3/maintenance/transfer-leadership",
            &json!({"targetID": target.to_string()}),
        )
        .await
        .map(drop)
    }
}
