//! The invariant checker: recomputes every cached number from scratch.
//!
//! Runs after every applied call in debug builds and inside the property
//! tests. It checks that regions are page-aligned, non-empty, inside the user
//! range and non-overlapping; that each address space's counters equal the
//! sums recomputed from its regions; that every object's fd and mapping
//! reference counts equal the references that exist; that no dead object is
//! kept and no region or fd refers to a missing one; and that system memory
//! charged equals what regions and objects hold; that the gap index of each
//! address space holds exactly the gaps between its regions, with every
//! subtree summary right; and that the shm name index names exactly the
//! linked shared-memory objects; and that each region's RLIMIT_DATA flag
//! is what the one data predicate says of it now; and that the slots holding
//! the regions are each used once or listed free once.

use super::object::{ObjKind, Objects};
use super::process::FdTarget;
use super::region::Backing;
use super::space::{AddressSpace, Counters};
use super::Model;
use crate::types::{AddrRange, ObjId, Pid};
use std::collections::BTreeMap;

impl Model {
    /// Checks every invariant; the error says which one broke and where.
    pub fn check_invariants(&self) -> Result<(), String> {
        let page = self.profile.page_size;
        let mut fd_refs: BTreeMap<ObjId, u64> = BTreeMap::new();
        let mut map_refs: BTreeMap<ObjId, u64> = BTreeMap::new();
        let mut committed = 0u64;
        for proc in self.procs.values() {
            let mut last_end = 0u64;
            for r in proc.space.regions() {
                let (s, e) = (r.range.start().0, r.range.end().0);
                if s % page != 0 || e % page != 0 {
                    return Err(format!("pid {}: region {} is not page-aligned", proc.pid, r.range));
                }
                if s < last_end {
                    return Err(format!(
                        "pid {}: region {} overlaps the one before it",
                        proc.pid, r.range
                    ));
                }
                if s < self.profile.user_start || e > self.profile.user_end {
                    return Err(format!("pid {}: region {} leaves the user range", proc.pid, r.range));
                }
                last_end = e;
                if let Backing::Object(id) = r.backing {
                    *map_refs.entry(id).or_default() += 1;
                }
                if r.committed {
                    committed += r.len();
                }
                // One RLIMIT_DATA predicate for mmap and mprotect (D1).
                if r.counts_data != self.profile.data_scope.counts(Model::data_facts(r)) {
                    return Err(format!(
                        "pid {}: region {} counts_data is {} but its scope says otherwise",
                        proc.pid, r.range, r.counts_data
                    ));
                }
                if let Some(k) = r
                    .private_pages
                    .keys()
                    .find(|k| **k * page < r.offset || **k * page >= r.end_offset())
                {
                    return Err(format!(
                        "pid {}: region {} holds a private page {k} outside it",
                        proc.pid, r.range
                    ));
                }
            }
            check_gaps(proc.pid, &proc.space)?;
            if proc.heap.brk(self.profile) < proc.heap.start(self.profile) {
                return Err(format!("pid {}: the break is below the heap's start", proc.pid));
            }
            let recomputed = Counters::of(proc.space.regions());
            if recomputed != proc.space.counters() {
                return Err(format!(
                    "pid {}: cached counters {:?} but regions sum to {:?}",
                    proc.pid,
                    proc.space.counters(),
                    recomputed
                ));
            }
            if proc.space.region_count() > self.profile.max_regions + 1 {
                return Err(format!(
                    "pid {}: {} regions exceed the limit",
                    proc.pid,
                    proc.space.region_count()
                ));
            }
            let scanned = (0..).find(|n| !proc.fds().contains_key(n)).map(|n| n as u64);
            if proc.lowest_free_fd().map(|fd| fd.0 as u64)
                != scanned.filter(|n| *n < proc.limit(crate::types::Resource::RLIMIT_NOFILE).cur)
            {
                return Err(format!(
                    "pid {}: the lowest free fd disagrees with the fd table",
                    proc.pid
                ));
            }
            for entry in proc.fds().values() {
                if let FdTarget::Object(id) = entry.target {
                    *fd_refs.entry(id).or_default() += 1;
                }
            }
        }
        for (id, obj) in self.objects.iter() {
            let (f, m) = (fd_refs.remove(&id).unwrap_or(0), map_refs.remove(&id).unwrap_or(0));
            if obj.fd_refs != f || obj.map_refs != m {
                return Err(format!(
                    "object {id:?}: counts fd {} map {} but {f} fds and {m} regions refer to it",
                    obj.fd_refs, obj.map_refs
                ));
            }
            if !obj.alive() {
                return Err(format!("object {id:?} is kept although nothing refers to it"));
            }
            if let Some(k) = obj.pages.keys().next_back() {
                if !matches!(obj.kind, ObjKind::Phys) && *k >= obj.size.div_ceil(page) {
                    return Err(format!("object {id:?} holds page {k} past its size {:#x}", obj.size));
                }
            }
            committed += self.object_charge(obj);
        }
        check_names(&self.objects)?;
        if let Some(id) = fd_refs.keys().chain(map_refs.keys()).next() {
            return Err(format!("object {id:?} is referred to but does not exist"));
        }
        if committed != self.committed {
            return Err(format!(
                "committed memory is {:#x} but regions and objects hold {committed:#x}",
                self.committed
            ));
        }
        Ok(())
    }
}

/// The gap index against the gaps recomputed from the regions, then its
/// summaries against the ones recomputed from its nodes.
fn check_gaps(pid: Pid, space: &AddressSpace) -> Result<(), String> {
    let ends = space.regions().map(|r| r.range.end());
    let starts = space.regions().skip(1).map(|r| r.range.start());
    let mut recomputed = ends.zip(starts).filter_map(|(e, s)| AddrRange::from_bounds(e, s));
    let mut indexed = space.gaps();
    loop {
        match (recomputed.next(), indexed.next()) {
            (None, None) => break,
            (r, i) if r == i => continue,
            (r, i) => {
                let show = |g: Option<AddrRange>| g.map_or("nothing".to_string(), |g| g.to_string());
                return Err(format!(
                    "pid {pid}: the regions leave the gap {} where the gap index holds {}",
                    show(r),
                    show(i)
                ));
            }
        }
    }
    space.check_gap_index().map_err(|e| format!("pid {pid}: {e}"))?;
    space.check_region_slots().map_err(|e| format!("pid {pid}: {e}"))
}

/// The shm name index against the names the objects hold.
fn check_names(objects: &Objects) -> Result<(), String> {
    let mut held: Vec<(&str, ObjId)> = objects
        .iter()
        .filter_map(|(id, o)| Some((o.linked_name()?, id)))
        .collect();
    held.sort_unstable();
    let indexed: Vec<(&str, ObjId)> = objects.names().collect();
    if held != indexed {
        return Err(format!(
            "the shm name index holds {indexed:?} but the linked objects are {held:?}"
        ));
    }
    Ok(())
}
