//! Bounds glibc's malloc arenas for the long-running server commands.
//!
//! glibc gives each busy thread an arena of its own (up to eight per core),
//! and every arena keeps freed memory for reuse: with a thread per SQLite
//! connection the server's resident memory grew well past what srs holds.
//! The limit is read once, before `main`, from `MALLOC_ARENA_MAX`, so the
//! only way to set it without `unsafe` is to start again with it set.

/// How many arenas the servers run with when the operator has not chosen.
const ARENAS: &str = "2";

/// Re-executes this process with `MALLOC_ARENA_MAX` set when it is unset;
/// returns (and the process carries on as it is) if that is not possible.
#[cfg(all(target_os = "linux", target_env = "gnu"))]
pub fn bound_arenas() {
    use std::os::unix::process::CommandExt;
    if std::env::var_os("MALLOC_ARENA_MAX").is_some() {
        return;
    }
    let Ok(exe) = std::env::current_exe() else {
        return;
    };
    let mut args = std::env::args_os();
    let _program = args.next();
    // exec only returns on failure; then this process simply keeps the
    // default arenas, which costs memory, not correctness.
    let error = std::process::Command::new(exe)
        .args(args)
        .env("MALLOC_ARENA_MAX", ARENAS)
        .exec();
    eprintln!("srs: note: could not restart with MALLOC_ARENA_MAX={ARENAS} ({error}); carrying on");
}

/// Other platforms' allocators have no such setting.
#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
pub fn bound_arenas() {}
