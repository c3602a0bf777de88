//! One run of the drill on one machine, in named phases: start the load,
//! inject the fault, wait for the serving site to take writes, undo the
//! fault, fail back, then judge what the load recorded against the
//! controller's events.

use super::fault::Fault;
use super::load::{self, Load, Recorded, Sample};
use super::progress::Progress;
use super::report::{Mark, Run};
use super::{
    failback, failed_run, inject, longest_pause, ms_since, offset_ms, secs, step_mark, verify,
    wait_whole, zombie_writes, DrillOptions, Injected, Target, AFTER_RECOVERY, HEALTHY_TIMEOUT,
    RECOVERY_TIMEOUT, STOP_GRACE_MS, WARM_UP,
};
use crate::controller::published::EventLog;
use crate::topology::Topology;
use nix::sys::signal::Signal;
use srs_domain::SiteName;
use std::collections::BTreeMap;
use std::time::{Duration, Instant, SystemTime};

/// What a run notes as it goes: its clock, the moments it marks on the
/// timeline and the problems it finds.
struct Journal {
    clock: Instant,
    wall0: SystemTime,
    marks: Vec<Mark>,
    problems: Vec<String>,
}

impl Journal {
    fn new() -> Self {
        Self {
            clock: Instant::now(),
            wall0: SystemTime::now(),
            marks: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Milliseconds since the run began.
    fn now_ms(&self) -> u64 {
        ms_since(self.clock)
    }

    /// Marks `what` at `at_ms`.
    fn mark_at(&mut self, what: impl Into<String>, at_ms: u64) {
        self.marks.push(Mark {
            what: what.into(),
            at_ms,
        });
    }

    /// Marks `what` now; returns when.
    fn mark(&mut self, what: impl Into<String>) -> u64 {
        let at = self.now_ms();
        self.mark_at(what, at);
        at
    }
}

/// A run whose load is running against a whole topology.
struct Started {
    original: SiteName,
    other: SiteName,
    topology: Topology,
    load: Load,
}

/// One fault, recovery and failback.
pub(super) async fn run_once(
    target: &Target,
    options: &DrillOptions,
    index: u32,
    progress: &Progress,
) -> (Run, Vec<Sample>) {
    let mut journal = Journal::new();
    let started = match start(target, options, index, journal.clock).await {
        Ok(started) => started,
        Err(failed) => return failed,
    };
    progress.say(&format!(
        "run {}: {} clients acknowledged {} creates; injecting {} on site '{}'",
        index + 1,
        options.clients,
        started.load.acknowledged(),
        options.fault,
        started.original
    ));
    let (fault_ms, recovered_ms, mut split_brain) =
        fault_phase(&mut journal, target, options, &started, index, progress).await;
    tokio::time::sleep(AFTER_RECOVERY).await;
    let fault_phase_end = journal.now_ms();
    let failback_start_ms = journal.now_ms();
    let failback_seconds = if journal.problems.is_empty() {
        progress.say(&format!(
            "run {}: waiting for site '{}' to rejoin, then switching back",
            index + 1,
            started.original
        ));
        fail_back(
            &mut journal,
            target,
            options,
            &started.original,
            &started.other,
            &mut split_brain,
        )
        .await
    } else {
        None
    };
    tokio::time::sleep(Duration::from_millis(500)).await;
    let Started {
        original: _,
        other: _,
        topology,
        load,
    } = started;
    let recorded = load.stop().await;
    let detection_ms = mark_controller_steps(&mut journal, target, fault_ms, failback_start_ms);
    let outcome = Outcome {
        fault_ms,
        recovered_ms,
        fault_phase_end,
        detection_ms,
        split_brain,
        failback_seconds,
    };
    let run = judge(journal, target, options, &topology, &recorded, outcome).await;
    (run, recorded.samples)
}

/// Injects the fault, waits for writes to succeed on the serving site,
/// and undoes the fault; returns when the fault came, when writes
/// recovered and the split-brain writes seen so far.
async fn fault_phase(
    journal: &mut Journal,
    target: &Target,
    options: &DrillOptions,
    started: &Started,
    index: u32,
    progress: &Progress,
) -> (u64, Option<u64>, u64) {
    let Started {
        original,
        other,
        topology,
        load,
    } = started;
    let fault_ms = journal.mark(format!("fault: {}", options.fault));
    let injected = match inject(options.fault, &target.dir, topology, original, other).await {
        Ok(i) => i,
        Err(e) => {
            journal.problems.push(format!("injecting the fault: {e:#}"));
            Injected::Nothing
        }
    };
    // A stopped replica: the primary goes on serving (or waits, in strict
    // mode) until the replica is resumed; nothing fails over.
    let serving = if options.fault == Fault::StopReplica {
        original.clone()
    } else {
        other.clone()
    };
    let recovery_from_ms =
        resume_stopped_replica(journal, &injected, load, topology, options, fault_ms).await;
    let recovered_ms = await_recovery(journal, load, &serving, recovery_from_ms, fault_ms).await;
    if let Some(at) = recovered_ms {
        progress.say(&format!(
            "run {}: writes succeed on site '{serving}' {:.2} s after the fault",
            index + 1,
            secs(at - fault_ms)
        ));
    }
    let split_brain = undo_fault(journal, injected, options, topology, original, target).await;
    (fault_ms, recovered_ms, split_brain)
}

/// Waits for the topology to be whole, starts the load and checks it gets
/// creates acknowledged; a run that cannot begin is failed here.
async fn start(
    target: &Target,
    options: &DrillOptions,
    index: u32,
    clock: Instant,
) -> Result<Started, (Run, Vec<Sample>)> {
    let fail = |problem: String| (failed_run(options, vec![problem]), Vec::new());
    let original = wait_whole(&target.dir, HEALTHY_TIMEOUT)
        .await
        .map_err(|e| fail(format!("before the run: {e:#}")))?;
    let topology = Topology::of(&target.dir).map_err(|e| fail(format!("{e:#}")))?;
    let other = topology
        .sites
        .iter()
        .find(|s| s.name != original)
        .map(|s| s.name.clone())
        .ok_or_else(|| fail("the topology has one site".into()))?;
    let tag = load::letters(u64::from(index) + 26 * u64::from(rand::random::<u16>()));
    let load = Load::start(
        &target.edge,
        &target.token,
        &target.department,
        options.clients,
        &tag,
        clock,
    )
    .map_err(|e| fail(format!("{e:#}")))?;
    tokio::time::sleep(WARM_UP).await;
    if load.acknowledged() == 0 {
        let why = load.first_refusal().unwrap_or_else(|| "no answer".into());
        let recorded = load.stop().await;
        let problem = format!("no create was acknowledged before the fault ({why})");
        return Err((failed_run(options, vec![problem]), recorded.samples));
    }
    Ok(Started {
        original,
        other,
        topology,
        load,
    })
}

/// A stopped replica is resumed after the outage; in strict mode nothing
/// may have been acknowledged meanwhile. Returns when recovery is counted
/// from.
async fn resume_stopped_replica(
    journal: &mut Journal,
    injected: &Injected,
    load: &Load,
    topology: &Topology,
    options: &DrillOptions,
    fault_ms: u64,
) -> u64 {
    let Injected::ReplicaStopped(pids) = injected else {
        return fault_ms;
    };
    tokio::time::sleep(options.outage.max(Duration::from_secs(3))).await;
    for pid in pids {
        let _ = super::fault::send(*pid, Signal::SIGCONT);
    }
    let resumed_ms = journal.mark("replica resumed (SIGCONT)");
    // Commits the replica had acknowledged just before it stopped may
    // still be answered in the first moments.
    let acknowledged = load.creates_between(fault_ms + STOP_GRACE_MS, resumed_ms);
    if topology.sync_mode() == srs_mariadb::SyncMode::Strict && acknowledged > 0 {
        journal.problems.push(format!(
            "strict mode acknowledged {acknowledged} create(s) while the replica was stopped"
        ));
    }
    resumed_ms
}

/// The first create the serving site acknowledged after `from_ms`, marked.
async fn await_recovery(
    journal: &mut Journal,
    load: &Load,
    serving: &SiteName,
    from_ms: u64,
    fault_ms: u64,
) -> Option<u64> {
    while journal.problems.is_empty()
        && journal.clock.elapsed() < Duration::from_millis(fault_ms) + RECOVERY_TIMEOUT
    {
        if let Some(at) = load.first_create_by(serving, from_ms) {
            journal.mark_at(format!("first create on site '{serving}'"), at);
            return Some(at);
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    journal.problems.push(format!(
        "no create succeeded on site '{serving}' within {} s",
        RECOVERY_TIMEOUT.as_secs()
    ));
    None
}

/// Resumes a paused site or heals a partition after the outage; the old
/// primary's site is then back believing it is primary and must not get
/// a write acknowledged, through the edge or directly. Returns the writes
/// it did get.
async fn undo_fault(
    journal: &mut Journal,
    injected: Injected,
    options: &DrillOptions,
    topology: &Topology,
    original: &SiteName,
    target: &Target,
) -> u64 {
    let undone = match injected {
        Injected::Nothing | Injected::ReplicaStopped(_) => return 0,
        Injected::Paused(pids) => {
            tokio::time::sleep(options.outage).await;
            for pid in &pids {
                let _ = super::fault::send(*pid, Signal::SIGCONT);
            }
            "zombie resumed (SIGCONT)"
        }
        Injected::Partitioned(cut) => {
            tokio::time::sleep(options.outage).await;
            cut.heal();
            "partition healed"
        }
    };
    journal.mark(undone);
    zombie_writes(topology, original, &target.token).await
}

/// The original site back as a replica, then a switchover to it; adds
/// the errant transactions it held to `split_brain`. Returns how long it
/// took, None when it failed.
async fn fail_back(
    journal: &mut Journal,
    target: &Target,
    options: &DrillOptions,
    original: &SiteName,
    other: &SiteName,
    split_brain: &mut u64,
) -> Option<f64> {
    let began = Instant::now();
    let back = if options.fault == Fault::StopReplica {
        // Nothing failed over: the roles are as they were once whole.
        wait_whole(&target.dir, HEALTHY_TIMEOUT).await.map(|_| 0)
    } else {
        failback(&target.dir, original, other).await
    };
    match back {
        Ok(errant_count) => {
            *split_brain += errant_count;
            journal.mark(format!("failed back to site '{original}'"));
            Some(began.elapsed().as_secs_f64())
        }
        Err(e) => {
            journal.problems.push(format!("failback: {e:#}"));
            None
        }
    }
}

/// Marks the controller's steps since the fault on the timeline; returns
/// when it first reacted (ms after the fault).
fn mark_controller_steps(
    journal: &mut Journal,
    target: &Target,
    fault_ms: u64,
    failback_start_ms: u64,
) -> Option<u64> {
    let mut detection_ms = None;
    for e in EventLog::tail(&target.dir, 200) {
        let Some(at_ms) = offset_ms(journal.wall0, &e.at) else {
            continue;
        };
        if at_ms < fault_ms {
            continue;
        }
        let Some(step) = step_mark(&e, at_ms >= failback_start_ms) else {
            continue;
        };
        if step.detects && detection_ms.is_none() {
            detection_ms = Some(at_ms.saturating_sub(fault_ms));
        }
        journal.mark_at(step.what, at_ms);
    }
    journal.marks.sort_by_key(|m| m.at_ms);
    detection_ms
}

/// What the phases found, for the verdict.
struct Outcome {
    fault_ms: u64,
    recovered_ms: Option<u64>,
    fault_phase_end: u64,
    detection_ms: Option<u64>,
    split_brain: u64,
    failback_seconds: Option<f64>,
}

/// Requests that failed after the fault, by kind and status.
fn failures_after(samples: &[Sample], fault_ms: u64) -> BTreeMap<String, u64> {
    let mut failures = BTreeMap::new();
    for s in samples.iter().filter(|s| !s.ok && s.at_ms >= fault_ms) {
        let kind = match s.kind {
            load::Kind::Create => "create",
            load::Kind::Read => "read",
        };
        *failures.entry(format!("{kind} {}", s.status)).or_insert(0) += 1;
    }
    failures
}

/// Checks every acknowledged create is there and sums the run up.
async fn judge(
    mut journal: Journal,
    target: &Target,
    options: &DrillOptions,
    topology: &Topology,
    recorded: &Recorded,
    outcome: Outcome,
) -> Run {
    let Outcome {
        fault_ms,
        recovered_ms,
        fault_phase_end,
        detection_ms,
        split_brain,
        failback_seconds,
    } = outcome;
    let lost = match verify(&target.edge, &target.token, &recorded.acknowledged).await {
        Ok(lost) => lost,
        Err(e) => {
            journal
                .problems
                .push(format!("verifying acknowledged creates: {e:#}"));
            Vec::new()
        }
    };
    let failures = failures_after(&recorded.samples, fault_ms);
    let failed_requests = failures.values().sum();
    let pause_end = recovered_ms.map_or(fault_phase_end, |r| r + 1000);
    let write_pause = longest_pause(&recorded.samples, fault_ms.saturating_sub(1000), pause_end);
    let lost_oldest = lost
        .iter()
        .map(|a| a.at_ms)
        .min()
        .map(|at| secs(fault_ms.saturating_sub(at)));
    let passed = journal.problems.is_empty()
        && lost.is_empty()
        && split_brain == 0
        && recovered_ms.is_some()
        && failback_seconds.is_some();
    for a in &lost {
        journal.problems.push(format!(
            "acknowledged create of student {} ('{}') is missing",
            a.id, a.name
        ));
    }
    Run {
        fault: options.fault.to_string(),
        sync_mode: topology.sync_mode,
        detection_seconds: detection_ms.map(secs),
        rto_seconds: recovered_ms.map(|r| secs(r - fault_ms)),
        write_pause_seconds: secs(write_pause),
        failed_requests,
        requests: recorded.samples.len() as u64,
        failures,
        acknowledged_writes: recorded.acknowledged.len() as u64,
        acknowledged_lost: lost.len() as u64,
        lost_oldest_age_seconds: lost_oldest,
        split_brain_writes: split_brain,
        failback_seconds,
        passed,
        problems: journal.problems,
        marks: journal.marks,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(at_ms: u64, ok: bool, kind: load::Kind, status: u16) -> Sample {
        Sample {
            at_ms,
            took_ms: 5,
            kind,
            ok,
            site: "b".into(),
            status,
        }
    }

    #[test]
    fn failures_are_counted_after_the_fault_by_kind_and_status() {
        let samples = [
            sample(50, false, load::Kind::Create, 503),
            sample(150, false, load::Kind::Create, 503),
            sample(160, false, load::Kind::Create, 503),
            sample(170, false, load::Kind::Read, 502),
            sample(180, true, load::Kind::Create, 201),
        ];
        let failures = failures_after(&samples, 100);
        assert_eq!(failures.get("create 503"), Some(&2));
        assert_eq!(failures.get("read 502"), Some(&1));
        assert_eq!(failures.values().sum::<u64>(), 3);
    }
}
