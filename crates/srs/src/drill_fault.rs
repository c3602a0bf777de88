//! `srs drill --fault`: one typed value for both kinds of drill, so the
//! help, the completions and the man page list every fault with a line
//! each.

use clap::builder::PossibleValue;
use srs_dr::drill::fault::Fault;
use srs_dr::drill::three_hosts::HostFault;

/// A fault as named on the command line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DrillFault {
    /// A one-machine fault (`--hosts 1`).
    OneMachine(Fault),
    /// A three-host fault (`--hosts 3`).
    ThreeHosts(HostFault),
    /// Every three-host fault.
    All,
}

/// Every value, in the order the help lists them.
const VARIANTS: [DrillFault; 14] = [
    DrillFault::OneMachine(Fault::KillPrimaryDb),
    DrillFault::OneMachine(Fault::KillPrimarySite),
    DrillFault::OneMachine(Fault::PausePrimarySite),
    DrillFault::OneMachine(Fault::KillController),
    DrillFault::OneMachine(Fault::PartitionPrimary),
    DrillFault::OneMachine(Fault::StopReplica),
    DrillFault::OneMachine(Fault::Switchover),
    DrillFault::ThreeHosts(HostFault::PartitionHost),
    DrillFault::ThreeHosts(HostFault::KillHost),
    DrillFault::ThreeHosts(HostFault::KillLeader),
    DrillFault::ThreeHosts(HostFault::WitnessDown),
    DrillFault::ThreeHosts(HostFault::PauseHost),
    DrillFault::ThreeHosts(HostFault::EtcdDown),
    DrillFault::All,
];

impl clap::ValueEnum for DrillFault {
    fn value_variants<'a>() -> &'a [Self] {
        &VARIANTS
    }

    fn to_possible_value(&self) -> Option<PossibleValue> {
        Some(match self {
            DrillFault::OneMachine(f) => PossibleValue::new(f.name()).help(f.summary()),
            DrillFault::ThreeHosts(f) => PossibleValue::new(f.name()).help(f.summary()),
            DrillFault::All => {
                PossibleValue::new("all").help("three hosts: every fault above, in turn")
            }
        })
    }
}

/// The one-machine fault asked for (default: kill-primary-site).
pub fn one_machine(faults: &[DrillFault]) -> anyhow::Result<Fault> {
    match faults {
        [] => Ok(Fault::KillPrimarySite),
        [DrillFault::OneMachine(f)] => Ok(*f),
        [other] => anyhow::bail!(
            "--fault {}: a three-host fault; run it with --hosts 3",
            name(*other)
        ),
        _ => anyhow::bail!("--fault: one fault at a time on one machine (a list needs --hosts 3)"),
    }
}

/// The three-host faults asked for (default, or `all`: every one).
pub fn three_hosts(faults: &[DrillFault]) -> anyhow::Result<Vec<HostFault>> {
    if faults.is_empty() || faults.contains(&DrillFault::All) {
        return Ok(HostFault::ALL.to_vec());
    }
    faults
        .iter()
        .map(|f| match f {
            DrillFault::ThreeHosts(f) => Ok(*f),
            other => anyhow::bail!(
                "--fault {}: a one-machine fault; with --hosts 3 use {}",
                name(*other),
                HostFault::ALL.map(HostFault::name).join(", ")
            ),
        })
        .collect()
}

fn name(fault: DrillFault) -> String {
    clap::ValueEnum::to_possible_value(&fault)
        .map(|v| v.get_name().to_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::ValueEnum;

    #[test]
    fn every_fault_of_both_kinds_is_a_value() {
        for f in Fault::ALL {
            assert!(VARIANTS.contains(&DrillFault::OneMachine(f)), "{f}");
        }
        for f in HostFault::ALL {
            assert!(VARIANTS.contains(&DrillFault::ThreeHosts(f)), "{f}");
        }
        for v in VARIANTS {
            let value = v.to_possible_value().expect("a value");
            assert!(value.get_help().is_some(), "{}", value.get_name());
            assert_eq!(DrillFault::from_str(value.get_name(), false), Ok(v));
        }
    }

    #[test]
    fn a_fault_of_the_other_kind_is_named_with_the_way_to_run_it() {
        let err = one_machine(&[DrillFault::ThreeHosts(HostFault::KillHost)]).expect_err("refused");
        assert!(err.to_string().contains("--hosts 3"), "{err}");
        let err =
            three_hosts(&[DrillFault::OneMachine(Fault::KillPrimaryDb)]).expect_err("refused");
        assert!(err.to_string().contains("kill-primary-db"), "{err}");
        assert_eq!(one_machine(&[]).expect("default"), Fault::KillPrimarySite);
        assert_eq!(three_hosts(&[]).expect("all").len(), HostFault::ALL.len());
    }
}
