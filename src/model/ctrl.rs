//! munmap, mprotect and msync: the calls procnto sends as `_MEM_CTRL`.
//!
//! spec: spec/munmap-mprotect.md. Each call runs its profile's check list
//! (`Profile::ctrl_order`); the first failing check decides.
//!
//! procnto (`CtrlOrder::Procnto`): validate_vaddr() widens the range to whole
//! pages and checks all of it before anything changes.
//! - munmap: MUNMAP-EINVAL-1, MUNMAP-EINVAL-2, MUNMAP-EINVAL-3,
//!   MUNMAP-ENOMEM-1; MUNMAP-OK-1.
//! - mprotect: MPROT-EINVAL-1, MPROT-EINVAL-2, MPROT-ENOMEM-1, MPROT-ENOMEM-5,
//!   MPROT-ENOMEM-2, MPROT-ENOMEM-4, then region by region MPROT-EACCES-1;
//!   MPROT-OK-1.
//! - msync: MSYNC-EINVAL-1, MSYNC-EINVAL-2, MSYNC-EINVAL-3, MSYNC-ENOMEM-1,
//!   MSYNC-ENOMEM-3, MSYNC-ENOMEM-2; MSYNC-OK-1 (MSYNC-OK-3 when it writes
//!   back a disk file's last page).
//!
//! Linux (`CtrlOrder::Linux`): page-aligned starts, C arithmetic on the
//! page-rounded length, then a walk over the regions.
//! - munmap: MUNMAP-EINVAL-2, MUNMAP-EINVAL-3, MUNMAP-EINVAL-1,
//!   MUNMAP-ENOMEM-1; MUNMAP-OK-1.
//! - mprotect: MPROT-EINVAL-2, MPROT-OK-2 (len 0), MPROT-ENOMEM-5,
//!   MPROT-EINVAL-1, then region by region MPROT-ENOMEM-2, MPROT-EACCES-1,
//!   MPROT-ENOMEM-3, MPROT-ENOMEM-6, MPROT-ENOMEM-4; MPROT-OK-1.
//! - msync: MSYNC-EINVAL-1, MSYNC-EINVAL-3, MSYNC-EINVAL-2, MSYNC-ENOMEM-3,
//!   MSYNC-OK-2 (len 0), MSYNC-EBUSY-1, MSYNC-ENOMEM-2; MSYNC-OK-1 or
//!   MSYNC-OK-3.
//!
//! Partial effects: a failure in the region walk keeps the changes made to
//! the regions before the one that failed (mprotect is not atomic in either
//! system). A failure found before the walk changes nothing.

use super::process::Process;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::{CtrlOrder, DataFacts};
use crate::rules::{Checks, RuleId, Verdict};
use crate::types::{Addr, AddrRange, Errno, FileSystem, Len, MapFlags, MsyncFlags, ObjId, Pid, Prot, Resource};

/// Where a region-by-region walk stopped.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Stop {
    /// The rule that stopped it.
    pub rule: RuleId,
    /// Its errno.
    pub errno: Errno,
    /// The end of the prefix of the range that was changed before the stop.
    pub done: Addr,
}

/// Linux's length arithmetic: `PAGE_ALIGN(len)` in wrapping C arithmetic.
pub(super) fn page_align_wrapping(len: u64, page: u64) -> u64 {
    len.wrapping_add(page - 1) & !(page - 1)
}

/// The part of `range` a call changed: all of it on success; on a failure
/// found by the region walk (`walk`), the prefix before the stop. A failure
/// found before the walk (`prelude` is `Err`), or an allowed failure the walk
/// does not produce, changed nothing.
pub(super) fn changed_by(
    prelude: Result<AddrRange, Verdict>,
    walk: impl FnOnce(AddrRange) -> Option<Stop>,
    outcome: &Outcome,
) -> Option<AddrRange> {
    let range = prelude.ok()?;
    let end = match outcome {
        Outcome::Ok(_) => range.end(),
        Outcome::Err(e) => walk(range).filter(|stop| stop.errno == *e)?.done,
        Outcome::Fault(_) => return None,
    };
    AddrRange::from_bounds(range.start(), end)
}

/// `[start, start + len)`, `None` when the end wraps past 2^64 (Linux's
/// `end < start`; an end of exactly 2^64 wraps to 0 and counts too).
pub(super) fn linux_range(start: Addr, len: u64) -> Option<AddrRange> {
    AddrRange::new(start, Len(len))
}

impl Model {
    /// procnto's VV_RANGE: the whole pages covering `[addr, addr + len)`, or
    /// `None` when `len` is 0 or the range leaves the user address space. A
    /// length that wraps is first truncated to the top of the address space
    /// (the `_MEM_CTRL` prelude), which then lies outside.
    pub(super) fn procnto_pages(&self, addr: Addr, len: Len) -> Option<AddrRange> {
        let p = self.profile;
        if len.is_zero() {
            return None;
        }
        let end = p.round_up(addr.0.saturating_add(len.0))?;
        AddrRange::from_bounds(addr.align_down(p.page_size), Addr(end))
            .filter(|r| r.start().0 >= p.user_start && r.end().0 <= p.user_end)
    }

    /// Whether the profile refuses `addr` for not being page-aligned.
    fn unaligned(&self, addr: Addr) -> bool {
        self.profile.ctrl_unaligned_einval && !addr.is_aligned(self.profile.page_size)
    }

    /// Whether the profile refuses a range with a hole before changing
    /// anything (procnto's VV_MAPPED); otherwise the region walk finds it.
    pub(super) fn hole_up_front(&self, proc: &Process, range: AddrRange) -> bool {
        !self.profile.mprotect_partial_on_hole && !proc.space.fully_mapped(range)
    }

    /// The end of the part of `range` that is mapped without a hole from its
    /// start.
    pub(super) fn mapped_prefix_end(&self, proc: &Process, range: AddrRange) -> Addr {
        let mut next = range.start();
        for r in proc.space.overlapping(range) {
            if r.range.start() > next {
                break;
            }
            next = r.range.end();
        }
        next.min(range.end())
    }

    /// procnto: whether isolating `range` needs more map entries for the
    /// splits than the region limit leaves (Linux checks each split in the
    /// region walk instead).
    fn split_blown(&self, proc: &Process, range: AddrRange) -> bool {
        let splits = [range.start(), range.end()]
            .iter()
            .filter(|a| proc.space.region_at(**a).is_some_and(|r| r.range.start() != **a))
            .count();
        splits > 0 && proc.space.region_count() + splits > self.profile.max_regions
    }

    /// Applies `change` to every region piece inside `range` (splitting
    /// regions at its bounds), keeping the counters right.
    pub(super) fn change_regions(&mut self, pid: Pid, range: AddrRange, mut change: impl FnMut(&mut Region)) {
        let page = self.profile.page_size;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        proc.space.change_each(range, page, &mut self.objects, |region| {
            change(region);
            true
        });
    }

    // ---------------------------------------------------------------- munmap

    /// Judges munmap.
    pub(super) fn plan_munmap(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let mut checks = Checks::new();
        self.munmap_checks(&self.procs[&pid], addr, len, &mut checks);
        Self::munmap_verdict(&checks)
    }

    /// The verdict of munmap's checks: the first failing one, or success.
    fn munmap_verdict(checks: &Checks) -> Verdict {
        checks.or_else(|| Verdict::ok(Value::Unit, "MUNMAP-OK-1"))
    }

    /// Every check of the profile's munmap order, into `c`, and the pages
    /// to unmap when every one passed. The caller's list is filled in
    /// place: a list returned is built here and then moved.
    fn munmap_checks(&self, proc: &Process, addr: Addr, len: Len, c: &mut Checks) -> Option<AddrRange> {
        let range = match self.profile.ctrl_order {
            CtrlOrder::Procnto => self.procnto_munmap_checks(addr, len, c),
            CtrlOrder::Linux => self.linux_munmap_checks(addr, len, c),
        };
        c.check(
            "MUNMAP-ENOMEM-1",
            Errno::ENOMEM,
            range.is_some_and(|r| self.munmap_split_blown(proc, r)),
        );
        range.filter(|_| !c.failed())
    }

    fn procnto_munmap_checks(&self, addr: Addr, len: Len, c: &mut Checks) -> Option<AddrRange> {
        let range = self.procnto_pages(addr, len);
        c.check("MUNMAP-EINVAL-1", Errno::EINVAL, len.is_zero())
            .check("MUNMAP-EINVAL-2", Errno::EINVAL, self.unaligned(addr))
            .check("MUNMAP-EINVAL-3", Errno::EINVAL, !len.is_zero() && range.is_none());
        range
    }

    /// Whether `len` bytes from `addr` pass the end of the user address
    /// space (or 2^64): the bound Linux's do_vmi_munmap() refuses a range by,
    /// which also bounds mremap's shrinks and growth in place.
    pub(super) fn passes_user_end(&self, addr: Addr, len: Len) -> bool {
        let top = self.profile.user_end;
        addr.0 > top || len.0 > top - addr.0
    }

    /// Linux do_vmi_munmap(): there is no lower bound, only TASK_SIZE.
    fn linux_munmap_checks(&self, addr: Addr, len: Len, c: &mut Checks) -> Option<AddrRange> {
        let outside = self.passes_user_end(addr, len);
        let page = self.profile.page_size;
        let range = (!outside)
            .then(|| AddrRange::new(addr.align_down(page), Len(page_align_wrapping(len.0, page))))
            .flatten();
        c.check("MUNMAP-EINVAL-2", Errno::EINVAL, self.unaligned(addr))
            .check("MUNMAP-EINVAL-3", Errno::EINVAL, outside)
            .check("MUNMAP-EINVAL-1", Errno::EINVAL, len.is_zero());
        range
    }

    /// Unmapping the middle of one region leaves one region more; that needs
    /// room under the region limit. Holes and whole regions never fail.
    fn munmap_split_blown(&self, proc: &Process, range: AddrRange) -> bool {
        // The region count is read first: below the limit (nearly always)
        // no split can fail, and no region need be looked up. Most munmaps
        // start where a region starts, which no split can make; a lookup by
        // key says so more cheaply than a search for the region.
        proc.space.region_count() + 1 > self.profile.max_regions
            && !proc.space.starts_region(range.start())
            && proc
                .space
                .region_at(range.start())
                .is_some_and(|r| r.range.start() < range.start() && range.end() < r.range.end())
    }

    pub(super) fn commit_munmap(&mut self, pid: Pid, addr: Addr, len: Len, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        if let Some(range) = self.munmap_checks(&self.procs[&pid], addr, len, &mut Checks::new()) {
            self.unmap_pages(pid, range);
        }
    }

    /// Judges a munmap by `pid` and, when `accept` takes the verdict, applies
    /// the model's own outcome, with one run of the checks for both.
    pub(super) fn step_munmap(
        &mut self,
        pid: Pid,
        addr: Addr,
        len: Len,
        accept: impl FnOnce(&Verdict) -> bool,
        applied: impl FnOnce(Result<(), super::ApplyError>),
    ) -> Verdict {
        let Some(proc) = self.procs.get(&pid) else {
            return super::step_no_such_process(accept, applied);
        };
        // The verdict is built from the list, not taken out of a Result
        // (which moves it twice).
        let mut checks = Checks::new();
        let range = self.munmap_checks(proc, addr, len, &mut checks);
        let verdict = Self::munmap_verdict(&checks);
        if !accept(&verdict) {
            return verdict;
        }
        if let Some(range) = range {
            self.unmap_pages(pid, range);
        }
        self.debug_check_invariants();
        applied(Ok(()));
        verdict
    }

    /// Removes the pages of `range` that munmap's checks passed.
    fn unmap_pages(&mut self, pid: Pid, range: AddrRange) {
        let page = self.profile.page_size;
        let space = &mut self.procs.get_mut(&pid).expect("caller exists").space;
        // Read in place: moving each region out of the list copies it.
        let removed = space.remove(range, page, &mut self.objects);
        for region in removed.iter() {
            self.release_region(region);
        }
    }

    // -------------------------------------------------------------- mprotect

    /// Judges mprotect.
    pub(super) fn plan_mprotect(&self, pid: Pid, addr: Addr, len: Len, prot: Prot) -> Verdict {
        let proc = &self.procs[&pid];
        let range = match self.mprotect_prelude(proc, addr, len, prot) {
            Ok(range) => range,
            Err(v) => return v,
        };
        match self.mprotect_walk(proc, range, prot) {
            Some(stop) => Verdict::only(Outcome::Err(stop.errno), stop.rule),
            None => Verdict::ok(Value::Unit, "MPROT-OK-1"),
        }
    }

    /// mprotect's checks before the region walk: the pages to walk, or the
    /// verdict when the call is decided without walking.
    fn mprotect_prelude(&self, proc: &Process, addr: Addr, len: Len, prot: Prot) -> Result<AddrRange, Verdict> {
        match self.profile.ctrl_order {
            CtrlOrder::Procnto => self.procnto_mprotect_prelude(proc, addr, len, prot),
            CtrlOrder::Linux => self.linux_mprotect_prelude(proc, addr, len, prot),
        }
    }

    fn procnto_mprotect_prelude(&self, proc: &Process, addr: Addr, len: Len, prot: Prot) -> Result<AddrRange, Verdict> {
        let range = self.procnto_pages(addr, len);
        let mut c = Checks::new();
        c.check("MPROT-EINVAL-1", Errno::EINVAL, !self.prot_known(prot)).check(
            "MPROT-EINVAL-2",
            Errno::EINVAL,
            self.unaligned(addr),
        );
        self.zero_len_check(&mut c, "MPROT-ENOMEM-1", len, "MPROT-OK-2")?;
        c.check("MPROT-ENOMEM-5", Errno::ENOMEM, !len.is_zero() && range.is_none());
        if let Some(r) = range {
            c.check("MPROT-ENOMEM-2", Errno::ENOMEM, self.hole_up_front(proc, r))
                .check("MPROT-ENOMEM-4", Errno::ENOMEM, self.split_blown(proc, r));
        }
        Self::walk_or_verdict(c, range)
    }

    /// Linux do_mprotect_pkey(): the prot bits are checked only after the
    /// length, so `mprotect(addr, 0, bad)` succeeds.
    fn linux_mprotect_prelude(&self, proc: &Process, addr: Addr, len: Len, prot: Prot) -> Result<AddrRange, Verdict> {
        let page = self.profile.page_size;
        let mut c = Checks::new();
        c.check("MPROT-EINVAL-2", Errno::EINVAL, self.unaligned(addr));
        self.zero_len_check(&mut c, "MPROT-ENOMEM-1", len, "MPROT-OK-2")?;
        let range = linux_range(addr.align_down(page), page_align_wrapping(len.0, page));
        c.check("MPROT-ENOMEM-5", Errno::ENOMEM, range.is_none())
            .check("MPROT-EINVAL-1", Errno::EINVAL, !self.prot_known(prot))
            .check(
                "MPROT-ENOMEM-2",
                Errno::ENOMEM,
                range.is_some_and(|r| self.hole_up_front(proc, r)),
            );
        Self::walk_or_verdict(c, range)
    }

    /// The zero-length rule: the profile's errno (`ctrl_zero_len`), or an
    /// early success decided by `ok_rule` (unless an earlier check failed).
    pub(super) fn zero_len_check(
        &self,
        c: &mut Checks,
        rule: RuleId,
        len: Len,
        ok_rule: RuleId,
    ) -> Result<(), Verdict> {
        if !len.is_zero() {
            return Ok(());
        }
        match self.profile.ctrl_zero_len {
            Some(errno) => {
                c.check(rule, errno, true);
                Ok(())
            }
            None => Err(c.or_else(|| Verdict::ok(Value::Unit, ok_rule))),
        }
    }

    /// The range to act on when every check passed, else the failing verdict.
    pub(super) fn walk_or_verdict(c: Checks, range: Option<AddrRange>) -> Result<AddrRange, Verdict> {
        match (c.verdict(), range) {
            (None, Some(r)) => Ok(r),
            (Some(v), _) => Err(v),
            (None, None) => unreachable!("a range is missing only when a check failed"),
        }
    }

    /// The protection bits the profile's mprotect accepts (Linux has no
    /// PROT_NOCACHE).
    fn prot_known(&self, prot: Prot) -> bool {
        prot.bits() & !self.profile.mprotect_prot_bits.bits() == 0
    }

    /// Walks the regions of `range` in address order as the kernel changes
    /// them, and reports the first one it cannot change.
    fn mprotect_walk(&self, proc: &Process, range: AddrRange, prot: Prot) -> Option<Stop> {
        let mut next = range.start();
        let mut data = proc.space.counters().data;
        let mut regions = proc.space.region_count();
        for region in proc.space.overlapping(range) {
            let piece = region.range.intersect(&range).expect("overlapping regions intersect");
            let stop = |rule, errno| {
                Some(Stop {
                    rule,
                    errno,
                    done: next,
                })
            };
            if piece.start() > next {
                return stop("MPROT-ENOMEM-2", Errno::ENOMEM);
            }
            if prot.contains(Prot::WRITE) && region.write_denied {
                return stop("MPROT-EACCES-1", Errno::EACCES);
            }
            let becomes_data = self.becomes_data(region, prot);
            if becomes_data && self.mprotect_data_blown(proc, data, piece.len().0) {
                return stop("MPROT-ENOMEM-3", Errno::ENOMEM);
            }
            if self.mprotect_commit_blown(region, piece, prot) {
                return stop("MPROT-ENOMEM-6", Errno::ENOMEM);
            }
            let splits = self.walk_splits(region, piece, prot);
            if splits > 0 && regions + splits > self.profile.max_regions {
                return stop("MPROT-ENOMEM-4", Errno::ENOMEM);
            }
            regions += splits;
            if becomes_data {
                data += piece.len().0;
            }
            next = piece.end();
        }
        (next < range.end()).then_some(Stop {
            rule: "MPROT-ENOMEM-2",
            errno: Errno::ENOMEM,
            done: next,
        })
    }

    /// The splits Linux makes while walking to change `piece` of `region`:
    /// none when the protection stays (mprotect_fixup() returns early), else
    /// one at each bound inside the region; each split_vma() refuses at
    /// `map_count >= max_map_count`. procnto checks its splits up front.
    fn walk_splits(&self, region: &Region, piece: AddrRange, prot: Prot) -> usize {
        if !self.profile.mprotect_splits_while_walking || region.prot == prot {
            return 0;
        }
        usize::from(piece.start() > region.range.start()) + usize::from(piece.end() < region.range.end())
    }

    /// Whether `region` starts counting against RLIMIT_DATA under `prot`
    /// (MPROT-ENOMEM-3; under procnto's scope the protection never matters).
    fn becomes_data(&self, region: &Region, prot: Prot) -> bool {
        !region.counts_data && self.counts_as_data(region, prot)
    }

    /// RLIMIT_DATA's scope for `region` under `prot`: the predicate mmap asks
    /// (`DataScope::counts`).
    fn counts_as_data(&self, region: &Region, prot: Prot) -> bool {
        self.profile.data_scope.counts(DataFacts {
            prot,
            ..Self::data_facts(region)
        })
    }

    /// What RLIMIT_DATA's predicate needs of a region as it is.
    pub(super) fn data_facts(region: &Region) -> DataFacts {
        DataFacts {
            shared: region.shared,
            // Shared anonymous memory has an object, but shared never counts.
            anon: region.backing == Backing::Zero,
            prot: region.prot,
            flags: region.flags,
        }
    }

    /// Linux mprotect_fixup(): `!may_expand_vm(new) && may_expand_vm(old)`.
    /// Only RLIMIT_DATA can tell the two apart, and only while RLIMIT_AS is
    /// not exceeded by the same count; a soft limit of 0 is let through up
    /// to the hard limit (the Valgrind exception).
    fn mprotect_data_blown(&self, proc: &Process, data_used: u64, add: u64) -> bool {
        let cmp = self.profile.rlimit_cmp;
        let data = proc.limit(Resource::RLIMIT_DATA);
        let as_limit = proc.limit(Resource::RLIMIT_AS).cur;
        let valgrind = data.cur == 0 && !cmp.blown(data_used, add, data.max);
        !cmp.blown(proc.space.counters().total, add, as_limit) && cmp.blown(data_used, add, data.cur) && !valgrind
    }

    /// Linux's heuristic overcommit: a private mapping is charged when it
    /// first becomes writable (VM_ACCOUNT), and one charge larger than the
    /// system's memory fails. Profiles that commit memory at mmap
    /// (`commit_cumulative`) charge nothing here.
    fn mprotect_commit_blown(&self, region: &Region, piece: AddrRange, prot: Prot) -> bool {
        let p = self.profile;
        let charged = !p.commit_cumulative
            && prot.contains(Prot::WRITE)
            && !region.prot.contains(Prot::WRITE)
            && !region.shared
            && !region.flags.contains(MapFlags::NORESERVE);
        charged && piece.len().0 > p.ram_bytes
    }

    /// Applies mprotect: all of the range on success; on a failure in the
    /// region walk, the regions before the one that failed (see `changed_by`).
    pub(super) fn commit_mprotect(&mut self, pid: Pid, addr: Addr, len: Len, prot: Prot, outcome: &Outcome) {
        let proc = &self.procs[&pid];
        let prelude = self.mprotect_prelude(proc, addr, len, prot);
        let Some(changed) = changed_by(prelude, |r| self.mprotect_walk(proc, r, prot), outcome) else {
            return;
        };
        let scope = self.profile.data_scope;
        for part in self.parts_to_protect(pid, changed, prot) {
            self.change_regions(pid, part, |region| {
                region.prot = prot;
                region.counts_data = scope.counts(Self::data_facts(region));
            });
        }
    }

    /// The parts of `range` mprotect changes. Linux leaves a region that
    /// already has the protection alone (no split: mprotect_fixup returns
    /// early); procnto changes the whole range.
    fn parts_to_protect(&self, pid: Pid, range: AddrRange, prot: Prot) -> Vec<AddrRange> {
        if !self.profile.mprotect_splits_while_walking {
            return vec![range];
        }
        self.procs[&pid]
            .space
            .overlapping(range)
            .filter(|r| r.prot != prot)
            .filter_map(|r| r.range.intersect(&range))
            .collect()
    }

    // ----------------------------------------------------------------- msync

    /// Judges msync. It changes nothing the model keeps.
    pub(super) fn plan_msync(&self, pid: Pid, addr: Addr, len: Len, flags: MsyncFlags) -> Verdict {
        let proc = &self.procs[&pid];
        let mut c = Checks::new();
        let range = match self.msync_prelude(addr, len, flags, &mut c) {
            Ok(range) => range,
            Err(v) => return v,
        };
        if let Some(r) = range {
            c.check(
                "MSYNC-EBUSY-1",
                Errno::EBUSY,
                self.profile.msync_invalidate_locked_busy
                    && flags.contains(MsyncFlags::INVALIDATE)
                    && proc.space.overlapping(r).any(|reg| reg.locked),
            )
            .check("MSYNC-ENOMEM-2", Errno::ENOMEM, !proc.space.fully_mapped(r));
        }
        let rule = match range {
            Some(r) if !self.written_back_tails(proc, r, flags).is_empty() => "MSYNC-OK-3",
            _ => "MSYNC-OK-1",
        };
        c.or_else(|| Verdict::ok(Value::Unit, rule))
    }

    /// Applies msync: the writeback of MSYNC-OK-3, which Linux's walk does
    /// for every shared file mapping it passes, also when it then reports a
    /// hole in the range (MSYNC-ENOMEM-2); the checks before the walk change
    /// nothing when they fail.
    pub(super) fn commit_msync(&mut self, pid: Pid, addr: Addr, len: Len, flags: MsyncFlags) {
        let mut c = Checks::new();
        let checked = self.msync_prelude(addr, len, flags, &mut c);
        let (Ok(Some(range)), true) = (checked, c.hits().is_empty()) else {
            return;
        };
        let page = self.profile.page_size;
        for id in self.written_back_tails(&self.procs[&pid], range, flags) {
            let obj = self.objects.expect_mut(id);
            let size = obj.size;
            super::shm::zero_page_tail(obj, size, page);
        }
    }

    /// The disk files whose last, partial page msync writes back
    /// (MSYNC-OK-3, knob `disk_writeback_zeroes_tail`): MS_SYNC over a shared
    /// mapping of a disk file whose part in the range holds that page. The
    /// walk stops at a locked region where MS_INVALIDATE makes it EBUSY
    /// (MSYNC-EBUSY-1), as Linux's does.
    fn written_back_tails(&self, proc: &Process, range: AddrRange, flags: MsyncFlags) -> Vec<ObjId> {
        if !self.profile.disk_writeback_zeroes_tail || !flags.contains(MsyncFlags::SYNC) {
            return Vec::new();
        }
        let page = self.profile.page_size;
        let busy = self.profile.msync_invalidate_locked_busy && flags.contains(MsyncFlags::INVALIDATE);
        let mut tails = Vec::new();
        for reg in proc.space.overlapping(range) {
            if busy && reg.locked {
                break;
            }
            let (true, Backing::Object(id), Some(part)) = (reg.shared, reg.backing, reg.range.intersect(&range)) else {
                continue;
            };
            let obj = self.objects.expect(id);
            let last = obj.size / page;
            let first = reg.offset_of(part.start()) / page;
            let end = reg.offset_of(part.start()) + part.len().0;
            let holds_last = first <= last && last < end.div_ceil(page);
            if obj.file_system() == Some(FileSystem::Disk) && obj.size % page != 0 && holds_last && !tails.contains(&id)
            {
                tails.push(id);
            }
        }
        tails
    }

    /// msync's checks before the region walk, in the profile's order.
    fn msync_prelude(
        &self,
        addr: Addr,
        len: Len,
        flags: MsyncFlags,
        c: &mut Checks,
    ) -> Result<Option<AddrRange>, Verdict> {
        match self.profile.ctrl_order {
            CtrlOrder::Procnto => self.procnto_msync_checks(addr, len, flags, c),
            CtrlOrder::Linux => self.linux_msync_checks(addr, len, flags, c),
        }
    }

    /// msync's checks up to the range: the pages, `None` when a range check
    /// failed, or the verdict when the call is decided early.
    fn procnto_msync_checks(
        &self,
        addr: Addr,
        len: Len,
        flags: MsyncFlags,
        c: &mut Checks,
    ) -> Result<Option<AddrRange>, Verdict> {
        let range = self.procnto_pages(addr, len);
        c.check("MSYNC-EINVAL-1", Errno::EINVAL, !self.msync_flags_known(flags))
            .check("MSYNC-EINVAL-2", Errno::EINVAL, Self::sync_and_async(flags))
            .check("MSYNC-EINVAL-3", Errno::EINVAL, self.unaligned(addr));
        self.zero_len_check(c, "MSYNC-ENOMEM-1", len, "MSYNC-OK-2")?;
        c.check("MSYNC-ENOMEM-3", Errno::ENOMEM, !len.is_zero() && range.is_none());
        Ok(range)
    }

    /// Linux sys_msync(): the length is page-aligned in C arithmetic, so a
    /// length that rounds to 0 succeeds.
    fn linux_msync_checks(
        &self,
        addr: Addr,
        len: Len,
        flags: MsyncFlags,
        c: &mut Checks,
    ) -> Result<Option<AddrRange>, Verdict> {
        let page = self.profile.page_size;
        let rounded = page_align_wrapping(len.0, page);
        let range = linux_range(addr.align_down(page), rounded);
        c.check("MSYNC-EINVAL-1", Errno::EINVAL, !self.msync_flags_known(flags))
            .check("MSYNC-EINVAL-3", Errno::EINVAL, self.unaligned(addr))
            .check("MSYNC-EINVAL-2", Errno::EINVAL, Self::sync_and_async(flags))
            .check("MSYNC-ENOMEM-3", Errno::ENOMEM, rounded != 0 && range.is_none());
        self.zero_len_check(c, "MSYNC-ENOMEM-1", Len(rounded), "MSYNC-OK-2")?;
        Ok(range)
    }

    fn msync_flags_known(&self, flags: MsyncFlags) -> bool {
        flags.bits() & !self.profile.msync_flags.bits() == 0
    }

    fn sync_and_async(flags: MsyncFlags) -> bool {
        flags.contains(MsyncFlags::SYNC | MsyncFlags::ASYNC)
    }
}
