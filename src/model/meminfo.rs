//! meminfo: the counters a process can read of itself.
//!
//! spec: spec/address-space.md. MEMINFO-OK-1 (every profile; the call has
//! no failure but PROC-ESRCH-1, decided in mod.rs).
//!
//! The byte counters are the address space's cached counters (the invariant
//! checker recomputes them). The map count is the region count on procnto;
//! Linux merges neighbouring VMAs, and whether two merge depends on history
//! the model does not keep (anon_vma identity, VM_ACCOUNT), so the count is
//! a choice between bounds: at least the fully merged count (the model's own
//! answer), at most the region count.

use super::region::{Backing, Region};
use super::space::AddressSpace;
use super::Model;
use crate::call::{MemInfo, Outcome, Value};
use crate::profile::MapCount;
use crate::rules::Verdict;
use crate::types::{MapFlags, Pid};

impl Model {
    /// Judges meminfo. spec: MEMINFO-OK-1.
    pub(super) fn plan_meminfo(&self, pid: Pid) -> Verdict {
        let space = &self.procs[&pid].space;
        Verdict::ok(
            Value::Meminfo(self.meminfo(space, self.fewest_maps(space))),
            "MEMINFO-OK-1",
        )
    }

    /// Checks an implementation's meminfo result: the byte counters must be
    /// the model's, the map count within its bounds. Nothing changes.
    pub(super) fn commit_meminfo(&self, pid: Pid, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(Value::Meminfo(seen)) = outcome else {
            return Ok(());
        };
        let space = &self.procs[&pid].space;
        let (fewest, most) = (self.fewest_maps(space), space.region_count() as u64);
        let own = self.meminfo(space, seen.map_count);
        if *seen != own {
            return Err(format!(
                "the counters are vm_size {:#x}, vm_data {:#x}, vm_lck {:#x}",
                own.vm_size, own.vm_data, own.vm_lck
            ));
        }
        if !(fewest..=most).contains(&seen.map_count) {
            return Err(format!("the map count is between {fewest} and {most}"));
        }
        Ok(())
    }

    fn meminfo(&self, space: &AddressSpace, map_count: u64) -> MemInfo {
        let c = space.counters();
        MemInfo {
            vm_size: c.total,
            vm_data: c.data,
            vm_lck: c.locked,
            map_count,
        }
    }

    /// The fewest mappings the regions can be: the region count where the
    /// profile keeps regions apart, else the count once every pair that
    /// [`may_merge`] allows is merged.
    fn fewest_maps(&self, space: &AddressSpace) -> u64 {
        match self.profile.map_count {
            MapCount::Regions => space.region_count() as u64,
            MapCount::MergedVmas => {
                let mut count = 0;
                let mut prev: Option<&Region> = None;
                for r in space.regions() {
                    if !prev.is_some_and(|p| may_merge(p, r)) {
                        count += 1;
                    }
                    prev = Some(r);
                }
                count
            }
        }
    }
}

/// Whether Linux may show `low` and the region right after it as one VMA:
/// they touch, have the same protection, sharing and lock state, and map the
/// same object contiguously or are both private anonymous memory. Deliberately generous (it
/// ignores VMA flags the model does not keep), so it bounds the count from
/// below.
pub(super) fn may_merge(low: &Region, high: &Region) -> bool {
    // A file (or object) mapping merges only with the same object at the
    // next offset, never with anonymous memory (vm_file differs).
    let same_backing = match (low.backing, high.backing) {
        (Backing::Object(a), Backing::Object(b)) => a == b && low.end_offset() == high.offset,
        (Backing::Zero, Backing::Zero) => true,
        _ => false,
    };
    low.range.end() == high.range.start()
        && low.prot == high.prot
        && low.shared == high.shared
        && low.locked == high.locked
        // A growsdown VMA merges only with another (vm_flags differ).
        && low.flags.contains(MapFlags::GROWSDOWN) == high.flags.contains(MapFlags::GROWSDOWN)
        && same_backing
}
