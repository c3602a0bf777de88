//! Which row of `change_counters` a MariaDB write bumps.
//!
//! A strict commit holds its row locks until the replica acknowledges it,
//! a round trip between the sites; two writes that bump the same row wait
//! that long for each other. So each write in flight holds a slot of its
//! own. A random slot collided for one create in six at 64 connections
//! and 70 ms (bench/distance.sh); the connection's id modulo the slots
//! about as often once the pool had grown past 256 connections.
//! Instances start at different places of the ring, so writes of two
//! instances meet only when both are busy.

use std::sync::{Arc, Mutex, PoisonError};

/// The rows of `change_counters` on MariaDB (migration 20261206000009).
pub(crate) const SLOTS: u16 = 256;

/// The slots not held by a write in flight.
#[derive(Debug)]
pub(crate) struct CounterSlots {
    /// Taken from the end: the most recently freed first, so a quiet
    /// instance keeps to a few slots near where it started.
    free: Mutex<Vec<u16>>,
    /// Handed out when every slot is held (more writes in flight than
    /// slots): they then share, as they would without this.
    overflow: std::sync::atomic::AtomicU16,
}

impl CounterSlots {
    /// Every slot free, the first handed out at `start`.
    pub(crate) fn starting_at(start: u16) -> Self {
        let free = (0..SLOTS).rev().map(|i| (start + i) % SLOTS).collect();
        Self {
            free: Mutex::new(free),
            overflow: Default::default(),
        }
    }

    /// A slot for one write, held until the returned lease is dropped.
    pub(crate) fn take(self: &Arc<Self>) -> SlotLease {
        let held = self
            .free
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .pop();
        match held {
            Some(slot) => SlotLease {
                slot,
                owner: Some(self.clone()),
            },
            None => SlotLease {
                slot: self
                    .overflow
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed)
                    % SLOTS,
                owner: None,
            },
        }
    }
}

impl Default for CounterSlots {
    /// Every slot free, starting at a random one.
    fn default() -> Self {
        let start = u16::from(uuid::Uuid::new_v4().as_bytes()[0]) % SLOTS;
        Self::starting_at(start)
    }
}

/// A slot held by one write; freed when dropped.
#[derive(Debug)]
pub(crate) struct SlotLease {
    slot: u16,
    /// Set when the slot came from the free list (and goes back to it).
    owner: Option<Arc<CounterSlots>>,
}

impl SlotLease {
    /// The row this write bumps.
    pub(crate) fn slot(&self) -> i64 {
        i64::from(self.slot)
    }
}

impl Drop for SlotLease {
    fn drop(&mut self) {
        if let Some(owner) = self.owner.take() {
            owner
                .free
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .push(self.slot);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn writes_in_flight_hold_different_slots_until_all_are_taken() {
        let slots = Arc::new(CounterSlots::starting_at(250));
        let held: Vec<SlotLease> = (0..SLOTS).map(|_| slots.take()).collect();
        let distinct: HashSet<i64> = held.iter().map(SlotLease::slot).collect();
        assert_eq!(distinct.len(), usize::from(SLOTS));
        assert_eq!(
            held[0].slot(),
            250,
            "the first starts where the instance does"
        );
        assert_eq!(held[6].slot(), 0, "and wraps around the ring");
        // One more than there are slots shares one, and gives nothing back.
        let extra = slots.take();
        assert!(extra.slot() < i64::from(SLOTS));
        drop(extra);
        assert!(slots.free.lock().expect("lock").is_empty());
    }

    #[test]
    fn a_freed_slot_is_the_next_one_taken() {
        let slots = Arc::new(CounterSlots::starting_at(7));
        let first = slots.take();
        let second = slots.take();
        assert_eq!((first.slot(), second.slot()), (7, 8));
        drop(first);
        let again = slots.take();
        let third = slots.take();
        assert_eq!((again.slot(), third.slot()), (7, 9));
    }
}
