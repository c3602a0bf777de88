//! Helpers shared by the binary's test files. Each test file compiles its
//! own copy and uses only some of them.
#![allow(dead_code)]

pub mod cluster;
pub mod records;

use std::io::Write;
use std::process::{Command, Stdio};

/// The `srs` binary under test, with no `SRS_*` setting leaking in from
/// the environment that runs the tests.
pub fn srs() -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_srs"));
    for (key, _) in std::env::vars() {
        if key.starts_with("SRS_") {
            cmd.env_remove(key);
        }
    }
    cmd
}

/// Runs `srs` with `args` and `stdin` piped in; returns (success, stdout, stderr).
pub fn run_with_input(args: &[std::ffi::OsString], stdin: &str) -> (bool, String, String) {
    let mut child = srs()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("srs runs");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(stdin.as_bytes())
        .expect("write stdin");
    let out = child.wait_with_output().expect("srs finishes");
    (
        out.status.success(),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `n` different ports nothing listens on right now (each listener stays
/// open until all are chosen, so no port is handed out twice).
pub fn free_ports<const N: usize>() -> [u16; N] {
    let listeners: Vec<std::net::TcpListener> = (0..N)
        .map(|_| std::net::TcpListener::bind("127.0.0.1:0").expect("a free port"))
        .collect();
    std::array::from_fn(|i| listeners[i].local_addr().expect("address").port())
}

/// A port nothing listens on right now.
pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("free port")
}
