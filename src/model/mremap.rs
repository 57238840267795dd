//! mremap: resize or move a mapping, its contents and its locks with it.
//!
//! spec: spec/address-space.md ("mremap"). Linux's order (mm/mremap.c of
//! 6.18, probed on this machine): MREMAP-EINVAL-1 (flags), MREMAP-EINVAL-2
//! (old address), MREMAP-EINVAL-3 (new length); with MREMAP_FIXED or
//! MREMAP_DONTUNMAP, MREMAP-EINVAL-4 (the new address) and MREMAP-ENOMEM-1
//! (the map count); MREMAP-EFAULT-1 (nothing mapped at the old address);
//! MREMAP-OK-1 (the same length, nowhere to go); MREMAP-EINVAL-6 (a
//! shrink whose old range passes the user address space); MREMAP-EINVAL-5 (length 0
//! of a private mapping), MREMAP-EFAULT-1 (the old range leaves its
//! mapping); growth: MREMAP-EAGAIN-1 (the lock limit), MREMAP-ENOMEM-2
//! (RLIMIT_AS, RLIMIT_DATA); then MREMAP-OK-2 (in place), MREMAP-ENOMEM-3
//! (no room) or MREMAP-OK-3 (moved). Where the system has no mremap:
//! MREMAP-ENOSYS-1. Whatever the outcome, MREMAP-EFAULT-2 allows EFAULT
//! where the kernel may hold two VMAs the model counts as one mapping.
//!
//! A mapping here is a run of regions Linux would show as one VMA
//! ([`super::meminfo`]'s merge predicate): the kernel resizes and moves
//! VMAs, and the model splits regions where the kernel merges them.

use super::meminfo::may_merge;
use super::process::Process;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::LockPrivilege;
use crate::rules::{Allowed, Checks, RuleId, Verdict};
use crate::types::{align_up, Addr, AddrRange, Errno, Len, MremapFlags, Pid, Resource};

/// An mremap call's arguments, page-rounded.
#[derive(Clone, Copy, Debug)]
pub(super) struct Remap {
    addr: Addr,
    old: u64,
    new: u64,
    flags: MremapFlags,
    new_addr: Addr,
}

impl Remap {
    fn may_move(&self) -> bool {
        self.flags.contains(MremapFlags::MAYMOVE)
    }
    fn fixed(&self) -> bool {
        self.flags.contains(MremapFlags::FIXED)
    }
    fn dont_unmap(&self) -> bool {
        self.flags.contains(MremapFlags::DONTUNMAP)
    }
    /// MREMAP_FIXED and MREMAP_DONTUNMAP name a new address.
    fn names_new_addr(&self) -> bool {
        self.fixed() || self.dont_unmap()
    }
    /// A fixed move that keeps the length moves each mapping in the old
    /// range by itself (Linux 6.17 and later): the gaps between them are
    /// not looked at, and at the new address only where a mapping lands is
    /// unmapped.
    fn moves_each_mapping(&self) -> bool {
        self.fixed() && !self.dont_unmap() && self.old == self.new
    }
}

/// What a successful mremap does.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Plan {
    /// Nothing (the same length, nowhere to go).
    Nothing,
    /// The tail beyond the new length is unmapped.
    Shrink,
    /// The mapping grows where it is.
    GrowInPlace,
    /// The mapping moves to the address (the model's choice where free).
    Move(Addr),
}

impl Model {
    /// Judges mremap. spec: spec/address-space.md, "mremap".
    pub(super) fn plan_mremap(&self, pid: Pid, call: Remap) -> Verdict {
        let proc = &self.procs[&pid];
        let mut verdict = match self.mremap_plan(proc, call) {
            Ok((plan, rule)) => Verdict::ok(Value::Addr(self.mremap_result(call, plan)), rule),
            Err(v) => v,
        };
        let efault = Outcome::Err(Errno::EFAULT);
        if self.may_be_two_vmas(proc, call) && !verdict.allowed().any(|a| a.outcome == efault) {
            verdict.alternatives.push(Allowed {
                outcome: efault,
                rule: "MREMAP-EFAULT-2",
            });
        }
        verdict
    }

    /// MREMAP-EFAULT-2: the range the kernel checks against its VMA's end
    /// runs from the region at the old address into the next one, which the
    /// model counts as the same mapping; Linux may keep them two VMAs (each
    /// with its own anon_vma, as when mlock populated one part before the
    /// other was touched), a history the model does not keep.
    fn may_be_two_vmas(&self, proc: &Process, call: Remap) -> bool {
        let looks_at_end = call.names_new_addr() || call.new > call.old;
        let Some(region) = proc.space.region_at(call.addr) else {
            return false;
        };
        let checked = call.old.min(call.new);
        looks_at_end
            && !call.moves_each_mapping()
            && call
                .addr
                .0
                .checked_add(checked)
                .is_some_and(|end| end > region.range.end().0)
            && self.mapping_end(proc, call.addr).0 > region.range.end().0
    }

    /// The arguments as the kernel reads them: lengths page-rounded
    /// (wrapping to 0 as PAGE_ALIGN does).
    pub(super) fn remap_args(&self, addr: Addr, old: Len, new: Len, flags: MremapFlags, new_addr: Addr) -> Remap {
        let round = |l: Len| align_up(l.0, self.profile.page_size).unwrap_or(0);
        Remap {
            addr,
            old: round(old),
            new: round(new),
            flags,
            new_addr,
        }
    }

    fn mremap_result(&self, call: Remap, plan: Plan) -> Addr {
        match plan {
            Plan::Move(to) => to,
            _ => call.addr,
        }
    }

    fn mremap_plan(&self, proc: &Process, call: Remap) -> Result<(Plan, RuleId), Verdict> {
        let p = self.profile;
        let page = p.page_size;
        let mut c = Checks::new();
        c.check("MREMAP-ENOSYS-1", Errno::ENOSYS, !p.has_mremap)
            .check(
                "MREMAP-EINVAL-1",
                Errno::EINVAL,
                !(call.flags - (MremapFlags::MAYMOVE | MremapFlags::FIXED | MremapFlags::DONTUNMAP)).is_empty(),
            )
            .check("MREMAP-EINVAL-2", Errno::EINVAL, call.addr.0 % page != 0)
            .check("MREMAP-EINVAL-3", Errno::EINVAL, call.new == 0 || call.new > p.user_end);
        if let Some(v) = c.verdict() {
            return Err(v);
        }
        let old_range = AddrRange::new(call.addr, Len(call.old));
        let new_range = AddrRange::new(call.new_addr, Len(call.new));
        if call.names_new_addr() {
            let overlaps = match (old_range, new_range) {
                (Some(o), Some(n)) => o.overlaps(&n),
                _ => false,
            };
            c.check(
                "MREMAP-EINVAL-4",
                Errno::EINVAL,
                call.new_addr.0 > p.user_end - call.new
                    || call.new_addr.0 % page != 0
                    || !call.may_move()
                    || (call.dont_unmap() && call.old != call.new)
                    || overlaps,
            )
            .check(
                "MREMAP-ENOMEM-1",
                Errno::ENOMEM,
                proc.space.region_count() + 2 >= p.max_regions.saturating_sub(3),
            );
        }
        let region = proc.space.region_at(call.addr);
        c.check("MREMAP-EFAULT-1", Errno::EFAULT, region.is_none());
        if let Some(v) = c.verdict() {
            return Err(v);
        }
        let region = region.expect("checked");
        if !call.names_new_addr() && call.old == call.new {
            return Ok((Plan::Nothing, "MREMAP-OK-1"));
        }
        // A shrink unmaps its tail as munmap does, which refuses a range
        // past the user address space (an old length near 2^64 included).
        // Its start cannot overflow: a region is at `addr`, and
        // MREMAP-EINVAL-3 keeps `new` within the user address space.
        c.check(
            "MREMAP-EINVAL-6",
            Errno::EINVAL,
            call.new < call.old && self.passes_user_end(Addr(call.addr.0 + call.new), Len(call.old - call.new)),
        );
        if let Some(v) = c.verdict() {
            return Err(v);
        }
        // Shrinking where it is checks nothing more: the tail goes, whatever
        // maps it.
        if !call.names_new_addr() && call.new < call.old {
            return Ok((Plan::Shrink, "MREMAP-OK-2"));
        }
        // A shrinking move loses the tail first (whatever maps it), so only
        // the part it keeps must be one mapping.
        let moves_whole_range = call.moves_each_mapping();
        let end = self.mapping_end(proc, call.addr);
        let growth = if call.dont_unmap() {
            call.new
        } else {
            call.new.saturating_sub(call.old)
        };
        let cmp = p.rlimit_cmp;
        let counters = proc.space.counters();
        let lock_limited = !(p.lock_privilege == LockPrivilege::CapOrLimit && proc.cap_ipc_lock);
        let data = proc.limit(Resource::RLIMIT_DATA);
        let data_cap = if p.data_zero_soft_uses_hard && data.cur == 0 {
            data.max
        } else {
            data.cur
        };
        c.check("MREMAP-EINVAL-5", Errno::EINVAL, call.old == 0 && !region.shared)
            .check(
                "MREMAP-EFAULT-1",
                Errno::EFAULT,
                !moves_whole_range && call.old.min(call.new) > end.0 - call.addr.0,
            )
            .check(
                "MREMAP-EAGAIN-1",
                Errno::EAGAIN,
                growth != 0
                    && region.locked
                    && lock_limited
                    && cmp.blown(counters.locked, growth, proc.limit(Resource::RLIMIT_MEMLOCK).cur),
            )
            .check(
                "MREMAP-ENOMEM-2",
                Errno::ENOMEM,
                growth != 0
                    && (cmp.blown(counters.total, growth, proc.limit(Resource::RLIMIT_AS).cur)
                        || (region.counts_data && cmp.blown(counters.data, growth, data_cap))),
            );
        if let Some(v) = c.verdict() {
            return Err(v);
        }
        if call.names_new_addr() {
            let to = if call.fixed() {
                Some(call.new_addr)
            } else {
                self.remap_place(proc, call)
            };
            return match to {
                Some(to) => Ok((Plan::Move(to), "MREMAP-OK-3")),
                None => Err(Verdict::only(Outcome::Err(Errno::ENOMEM), "MREMAP-ENOMEM-3")),
            };
        }
        if call.addr.0 + call.old == end.0 && self.room_after(proc, end, call.new - call.old) {
            return Ok((Plan::GrowInPlace, "MREMAP-OK-2"));
        }
        match self.remap_place(proc, call).filter(|_| call.may_move()) {
            Some(to) => Ok((Plan::Move(to), "MREMAP-OK-3")),
            None => Err(Verdict::only(Outcome::Err(Errno::ENOMEM), "MREMAP-ENOMEM-3")),
        }
    }

    /// The end of the mapping (the run of regions Linux shows as one VMA)
    /// that contains `addr`.
    fn mapping_end(&self, proc: &Process, addr: Addr) -> Addr {
        let mut last: Option<&Region> = None;
        let from = proc.space.region_at(addr).map(|r| r.range.start()).unwrap_or(addr);
        for r in proc
            .space
            .overlapping(AddrRange::from_bounds(from, Addr(self.profile.user_end)).expect("in range"))
        {
            match last {
                Some(l) if !may_merge(l, r) => break,
                _ => last = Some(r),
            }
        }
        last.map_or(addr, |r| r.range.end())
    }

    /// Whether `len` bytes from `end` are free and inside the user range.
    fn room_after(&self, proc: &Process, end: Addr, len: u64) -> bool {
        !self.passes_user_end(end, Len(len)) && AddrRange::new(end, Len(len)).is_some_and(|r| proc.space.is_free(r))
    }

    /// Where a moved mapping goes: the placement policy's choice for the
    /// new length, near the hint (MREMAP_DONTUNMAP's new address).
    fn remap_place(&self, proc: &Process, call: Remap) -> Option<Addr> {
        let hint = if call.dont_unmap() { call.new_addr.0 } else { 0 };
        proc.space.find_free(call.new, hint, self.profile)
    }

    /// Applies mremap: on success, the resize or the move (to the address
    /// the implementation chose, when the model's choice was a move and the
    /// other address is free).
    pub(super) fn commit_mremap(&mut self, pid: Pid, call: Remap, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(Value::Addr(seen)) = outcome else {
            return Ok(());
        };
        let Ok((plan, _)) = self.mremap_plan(&self.procs[&pid], call) else {
            return Err("the model refuses this mremap".into());
        };
        let page = self.profile.page_size;
        if !matches!(plan, Plan::Move(_)) && *seen != call.addr {
            return Err(format!(
                "the mapping stays at {} (it can be resized in place, so it does not move)",
                call.addr
            ));
        }
        match plan {
            Plan::Nothing => Ok(()),
            Plan::Shrink => {
                let tail = AddrRange::new(Addr(call.addr.0 + call.new), Len(call.old - call.new)).expect("inside");
                self.remap_unmap(pid, tail);
                Ok(())
            }
            Plan::GrowInPlace => {
                let end = Addr(call.addr.0 + call.old);
                self.grow_after(pid, end, call.new - call.old);
                Ok(())
            }
            Plan::Move(own) => {
                let to = if *seen == own || call.fixed() {
                    own
                } else {
                    self.check_remap_choice(pid, call, *seen, page)?
                };
                self.do_move(pid, call, to);
                Ok(())
            }
        }
    }

    /// Whether the implementation's address for a move is one the model
    /// could have chosen: aligned, in the user range, and free.
    fn check_remap_choice(&self, pid: Pid, call: Remap, to: Addr, page: u64) -> Result<Addr, String> {
        let proc = &self.procs[&pid];
        let range = AddrRange::new(to, Len(call.new));
        let ok = to.0 % page == 0
            && range.is_some_and(|r| proc.space.in_user_range(r, self.profile) && proc.space.is_free(r));
        if ok {
            Ok(to)
        } else {
            Err(format!("{to} is not a free place for {:#x} bytes", call.new))
        }
    }

    /// Moves the old range (shrunk to the new length first) to `to`,
    /// unmapping what MREMAP_FIXED replaces, and grows it there; with
    /// MREMAP_DONTUNMAP the old range stays mapped, its private pages and
    /// its lock gone.
    fn do_move(&mut self, pid: Pid, call: Remap, to: Addr) {
        let page = self.profile.page_size;
        if call.moves_each_mapping() {
            self.unmap_landing_places(pid, call, to);
        } else if call.fixed() {
            self.remap_unmap(pid, AddrRange::new(to, Len(call.new)).expect("checked"));
        }
        if call.old == 0 {
            self.duplicate(pid, call, to);
            return;
        }
        let kept = call.old.min(call.new);
        if call.old > call.new {
            self.remap_unmap(
                pid,
                AddrRange::new(Addr(call.addr.0 + kept), Len(call.old - kept)).expect("inside"),
            );
        }
        let from = AddrRange::new(call.addr, Len(kept)).expect("inside");
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        let moved = proc.space.remove(from, page, &mut self.objects);
        for r in moved.iter() {
            if call.dont_unmap() {
                // The old range keeps its mapping but loses its pages and
                // its lock (the kernel clears VM_LOCKED there).
                let mut emptied = r.clone();
                emptied.private_pages = Default::default();
                emptied.locked = false;
                if let Backing::Object(id) = emptied.backing {
                    self.objects.expect_mut(id).map_refs += 1;
                }
                proc.space.insert(emptied);
            }
        }
        for mut r in moved {
            let start = Addr(r.range.start().0 - from.start().0 + to.0);
            r.range = AddrRange::new(start, r.range.len()).expect("inside");
            proc.space.insert(r);
        }
        if call.new > kept {
            self.grow_after(pid, Addr(to.0 + kept), call.new - kept);
        }
    }

    /// Unmaps, at `to`, where each mapping of the old range lands (a move
    /// of each mapping by itself: the gaps' counterparts keep what maps them).
    fn unmap_landing_places(&mut self, pid: Pid, call: Remap, to: Addr) {
        let from = AddrRange::new(call.addr, Len(call.old)).expect("checked");
        let landings: Vec<AddrRange> = self.procs[&pid]
            .space
            .overlapping(from)
            .filter_map(|r| r.range.intersect(&from))
            .filter_map(|part| AddrRange::new(Addr(part.start().0 - from.start().0 + to.0), part.len()))
            .collect();
        for landing in landings {
            self.remap_unmap(pid, landing);
        }
    }

    /// Old length 0 of a shared mapping: a second mapping of the same
    /// object from the old address on, the old one left as it is.
    fn duplicate(&mut self, pid: Pid, call: Remap, to: Addr) {
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        let template = proc.space.region_at(call.addr).expect("checked");
        let mut copy = template.clone();
        copy.range = AddrRange::new(to, Len(call.new)).expect("checked");
        copy.offset = template.offset_of(call.addr);
        copy.private_pages = Default::default();
        if let Backing::Object(id) = copy.backing {
            self.objects.expect_mut(id).map_refs += 1;
        }
        proc.space.insert(copy);
    }

    /// Adds `len` bytes after the region that ends at `end`, mapping what
    /// it maps next (zero pages, or the object's following pages).
    fn grow_after(&mut self, pid: Pid, end: Addr, len: u64) {
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        let last = proc.space.region_at(Addr(end.0 - 1)).expect("a region ends here");
        let mut grown = last.clone();
        grown.range = AddrRange::new(end, Len(len)).expect("inside");
        grown.offset = last.end_offset();
        grown.private_pages = Default::default();
        if let Backing::Object(id) = grown.backing {
            self.objects.expect_mut(id).map_refs += 1;
        }
        if grown.committed {
            self.committed += len;
        }
        proc.space.insert(grown);
    }

    /// Unmaps everything in `range`, as munmap does.
    fn remap_unmap(&mut self, pid: Pid, range: AddrRange) {
        let page = self.profile.page_size;
        let space = &mut self.procs.get_mut(&pid).expect("caller exists").space;
        let removed = space.remove(range, page, &mut self.objects);
        for region in removed.iter() {
            self.release_region(region);
        }
    }
}
