//! mlock, munlock, mlockall and munlockall, with the lock limit.
//!
//! spec: spec/locking.md. Each call runs its profile's check list
//! (`Profile::ctrl_order`); the first failing check decides.
//!
//! procnto (`CtrlOrder::Procnto`):
//! - mlock: LOCK-ENOMEM-1 (checked before the privilege), LOCK-EPERM-1,
//!   LOCK-EAGAIN-1, then region by region LOCK-ENOMEM-5; LOCK-MLOCK-1.
//! - munlock: LOCK-ENOMEM-3; LOCK-MUNLOCK-1.
//! - mlockall: LOCK-EINVAL-1, LOCK-EPERM-3, LOCK-EAGAIN-2; LOCK-MLOCKALL-1.
//!
//! Linux (`CtrlOrder::Linux`):
//! - mlock: LOCK-EPERM-2, LOCK-ENOMEM-2, LOCK-EINVAL-2, LOCK-OK-2 (length
//!   rounds to 0), then region by region LOCK-ENOMEM-1, then LOCK-ENOMEM-5;
//!   LOCK-MLOCK-1.
//! - munlock: LOCK-EINVAL-2, LOCK-OK-3 (length rounds to 0), then region by
//!   region LOCK-ENOMEM-3; LOCK-MUNLOCK-1.
//! - mlockall: LOCK-EINVAL-1, LOCK-EPERM-3, LOCK-ENOMEM-4; LOCK-MLOCKALL-1.
//!
//! munlockall has no checks in either (LOCK-MUNLOCKALL-1, decided in mod.rs).
//!
//! mlock2: LOCK-ENOSYS-1 (no mlock2: neutrino, qnx4), LOCK-EINVAL-3, then
//! mlock's list; with MLOCK_ONFAULT no LOCK-ENOMEM-5, success LOCK-ONFAULT-1.
//!
//! Locked memory is counted once per byte: locking a locked page adds
//! nothing, and munlock subtracts only what was locked. procnto's ms_lock()
//! adds a region's size on every mlock, so its count drifts with repeated
//! calls; the model does not reproduce that (spec/locking.md, "Counting
//! locked memory").

use super::ctrl::{changed_by, linux_range, page_align_wrapping, Stop};
use super::process::Process;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::{CtrlOrder, LockPrivilege, LockallLimit};
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, AddrRange, Errno, Len, MclFlags, MlockFlags, Pid, Prot, Resource};

impl Model {
    /// Whether the process may lock memory at all: procnto wants euid 0 or
    /// the memory-locking ability; Linux's can_do_mlock() wants CAP_IPC_LOCK
    /// or a non-zero lock limit.
    fn may_lock(&self, proc: &Process) -> bool {
        match self.profile.lock_privilege {
            LockPrivilege::RootOrAbility => proc.euid == 0 || proc.cap_ipc_lock,
            LockPrivilege::CapOrLimit => proc.cap_ipc_lock || proc.limit(Resource::RLIMIT_MEMLOCK).cur != 0,
        }
    }

    /// Whether the lock limit binds the process: CAP_IPC_LOCK lifts it on
    /// Linux; on procnto nobody is exempt, root included.
    fn lock_limited(&self, proc: &Process) -> bool {
        !(self.profile.lock_privilege == LockPrivilege::CapOrLimit && proc.cap_ipc_lock)
    }

    /// Whether holding `extra` more locked bytes blows the lock limit.
    fn lock_blown(&self, proc: &Process, extra: u64) -> bool {
        self.lock_limited(proc)
            && self.profile.rlimit_cmp.blown(
                proc.space.counters().locked,
                extra,
                proc.limit(Resource::RLIMIT_MEMLOCK).cur,
            )
    }

    /// The mapped bytes inside `range` that are not locked yet.
    fn unlocked_in(proc: &Process, range: AddrRange) -> u64 {
        let c = proc.space.counters_in(range);
        c.total - c.locked
    }

    /// Linux's mlock/munlock arithmetic: the start rounded down, the length
    /// grown by the start's offset in its page and page-aligned, in wrapping
    /// C arithmetic. Returns the start and the rounded length.
    fn linux_lock_span(&self, addr: Addr, len: Len) -> (Addr, u64) {
        let page = self.profile.page_size;
        let grown = len.0.wrapping_add(addr.page_offset(page));
        (addr.align_down(page), page_align_wrapping(grown, page))
    }

    // ----------------------------------------------------------------- mlock

    /// Judges mlock.
    pub(super) fn plan_mlock(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let proc = &self.procs[&pid];
        let range = match self.mlock_prelude(proc, addr, len) {
            Ok(range) => range,
            Err(v) => return v,
        };
        match self.mlock_walk(proc, range, true) {
            Some(stop) => Verdict::only(Outcome::Err(stop.errno), stop.rule),
            None => Verdict::ok(Value::Unit, "LOCK-MLOCK-1"),
        }
    }

    /// mlock's checks before the region walk: the pages to lock, or the
    /// verdict when the call is decided without walking.
    fn mlock_prelude(&self, proc: &Process, addr: Addr, len: Len) -> Result<AddrRange, Verdict> {
        match self.profile.ctrl_order {
            CtrlOrder::Procnto => self.procnto_mlock_prelude(proc, addr, len),
            CtrlOrder::Linux => self.linux_mlock_prelude(proc, addr, len),
        }
    }

    /// procnto: validate_vaddr() before the privilege test, then ms_lock()'s
    /// limit check for the whole range.
    fn procnto_mlock_prelude(&self, proc: &Process, addr: Addr, len: Len) -> Result<AddrRange, Verdict> {
        let p = self.profile;
        let range = self.procnto_pages(addr, len);
        let mut c = Checks::new();
        self.zero_len_check(&mut c, "LOCK-ENOMEM-1", len, "LOCK-OK-2")?;
        c.check("LOCK-ENOMEM-1", Errno::ENOMEM, !len.is_zero() && range.is_none())
            .check(
                "LOCK-ENOMEM-1",
                Errno::ENOMEM,
                range.is_some_and(|r| self.hole_up_front(proc, r)),
            )
            .check("LOCK-EPERM-1", Errno::EPERM, !self.may_lock(proc))
            .check_alt(
                "LOCK-EAGAIN-1",
                p.mlock_limit_errno,
                p.mlock_limit_alt,
                range.is_some_and(|r| self.lock_blown(proc, Self::unlocked_in(proc, r))),
            );
        Self::walk_or_verdict(c, range)
    }

    /// Linux do_mlock(): the privilege, then the limit, charged with the whole
    /// rounded length less what is already locked inside it (holes included),
    /// and only then the range itself.
    fn linux_mlock_prelude(&self, proc: &Process, addr: Addr, len: Len) -> Result<AddrRange, Verdict> {
        let p = self.profile;
        let (start, rounded) = self.linux_lock_span(addr, len);
        let range = linux_range(start, rounded);
        let already = range.map_or(0, |r| proc.space.counters_in(r).locked);
        let mut c = Checks::new();
        c.check("LOCK-EPERM-2", Errno::EPERM, !self.may_lock(proc))
            .check_alt(
                "LOCK-ENOMEM-2",
                p.mlock_limit_errno,
                p.mlock_limit_alt,
                self.lock_blown(proc, rounded - already),
            )
            .check("LOCK-EINVAL-2", Errno::EINVAL, rounded != 0 && range.is_none());
        self.zero_len_check(&mut c, "LOCK-ENOMEM-1", Len(rounded), "LOCK-OK-2")?;
        c.check(
            "LOCK-ENOMEM-1",
            Errno::ENOMEM,
            range.is_some_and(|r| self.hole_up_front(proc, r)),
        );
        Self::walk_or_verdict(c, range)
    }

    /// Walks the regions of `range` as the kernel locks them. A hole stops
    /// the walk with the prefix locked (Linux apply_vma_lock_flags()). A
    /// region without access cannot be faulted in: procnto faults each region
    /// as it locks it, so the regions before it stay locked; Linux populates
    /// after locking the whole range, so all of it stays locked. A lock that
    /// does not fault pages in (MLOCK_ONFAULT) stops only at a hole.
    fn mlock_walk(&self, proc: &Process, range: AddrRange, faults_in: bool) -> Option<Stop> {
        let next = self.mapped_prefix_end(proc, range);
        if next < range.end() {
            return Some(Stop {
                rule: "LOCK-ENOMEM-1",
                errno: Errno::ENOMEM,
                done: next,
            });
        }
        if !faults_in {
            return None;
        }
        // Linux locks the whole range, then faults it in: a page it cannot
        // fault in (no access, or past the end of the object a region maps)
        // fails the call with the range locked (LOCK-ENOMEM-5).
        let populates_late = self.profile.mlock_locks_before_faulting;
        let no_access = proc.space.overlapping(range).find(|r| {
            !r.prot.intersects(Prot::READ | Prot::WRITE | Prot::EXEC)
                || (populates_late && self.past_object_end(r, range))
        })?;
        let done = if populates_late {
            range.end()
        } else {
            no_access.range.start().max(range.start())
        };
        Some(Stop {
            rule: "LOCK-ENOMEM-5",
            errno: Errno::ENOMEM,
            done,
        })
    }

    /// Whether the part of `r` inside `range` reaches past the end of the
    /// object `r` maps (its last page there is not inside the object).
    fn past_object_end(&self, r: &Region, range: AddrRange) -> bool {
        let Backing::Object(id) = r.backing else { return false };
        let Some(part) = r.range.intersect(&range) else {
            return false;
        };
        let page = self.profile.page_size;
        let last = Addr(part.end().0 - page);
        !self.objects.expect(id).page_inside(r.offset_of(last) / page, page)
    }

    // --------------------------------------------------------------- munlock

    /// Judges munlock.
    pub(super) fn plan_munlock(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let proc = &self.procs[&pid];
        let range = match self.munlock_prelude(proc, addr, len) {
            Ok(range) => range,
            Err(v) => return v,
        };
        match self.munlock_walk(proc, range) {
            Some(stop) => Verdict::only(Outcome::Err(stop.errno), stop.rule),
            None => Verdict::ok(Value::Unit, "LOCK-MUNLOCK-1"),
        }
    }

    /// munlock's checks: the range (procnto validate_vaddr(); Linux the same
    /// arithmetic as mlock, without privilege or limit).
    fn munlock_prelude(&self, proc: &Process, addr: Addr, len: Len) -> Result<AddrRange, Verdict> {
        let mut c = Checks::new();
        let range = match self.profile.ctrl_order {
            CtrlOrder::Procnto => {
                let range = self.procnto_pages(addr, len);
                self.zero_len_check(&mut c, "LOCK-ENOMEM-3", len, "LOCK-OK-3")?;
                c.check("LOCK-ENOMEM-3", Errno::ENOMEM, !len.is_zero() && range.is_none());
                range
            }
            CtrlOrder::Linux => {
                let (start, rounded) = self.linux_lock_span(addr, len);
                let range = linux_range(start, rounded);
                c.check("LOCK-EINVAL-2", Errno::EINVAL, rounded != 0 && range.is_none());
                self.zero_len_check(&mut c, "LOCK-ENOMEM-3", Len(rounded), "LOCK-OK-3")?;
                range
            }
        };
        c.check(
            "LOCK-ENOMEM-3",
            Errno::ENOMEM,
            range.is_some_and(|r| self.hole_up_front(proc, r)),
        );
        Self::walk_or_verdict(c, range)
    }

    /// A hole stops munlock's walk with the prefix unlocked.
    fn munlock_walk(&self, proc: &Process, range: AddrRange) -> Option<Stop> {
        let next = self.mapped_prefix_end(proc, range);
        (next < range.end()).then_some(Stop {
            rule: "LOCK-ENOMEM-3",
            errno: Errno::ENOMEM,
            done: next,
        })
    }

    /// Applies mlock (`lock`) or munlock: the whole range on success; on a
    /// failure in the region walk, the part the kernel had reached.
    pub(super) fn commit_mlock(&mut self, pid: Pid, addr: Addr, len: Len, outcome: &Outcome, lock: bool) {
        let proc = &self.procs[&pid];
        let changed = if lock {
            changed_by(
                self.mlock_prelude(proc, addr, len),
                |r| self.mlock_walk(proc, r, true),
                outcome,
            )
        } else {
            changed_by(
                self.munlock_prelude(proc, addr, len),
                |r| self.munlock_walk(proc, r),
                outcome,
            )
        };
        if let Some(range) = changed {
            self.change_regions(pid, range, |r| r.locked = lock);
        }
    }

    // -------------------------------------------------------------- mlockall

    /// Judges mlockall.
    pub(super) fn plan_mlockall(&self, pid: Pid, flags: MclFlags) -> Verdict {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let current = flags.contains(MclFlags::CURRENT);
        let mut c = Checks::new();
        c.check("LOCK-EINVAL-1", Errno::EINVAL, !self.mlockall_flags_valid(flags))
            .check("LOCK-EPERM-3", Errno::EPERM, !self.may_lock(proc));
        match p.lockall_limit {
            LockallLimit::Unlocked => c.check_alt(
                "LOCK-EAGAIN-2",
                p.mlock_limit_errno,
                p.mlock_limit_alt,
                current && self.procnto_lockall_blown(proc),
            ),
            LockallLimit::TotalVm => c.check_alt(
                "LOCK-ENOMEM-4",
                p.mlock_limit_errno,
                p.mlock_limit_alt,
                current && self.linux_lockall_blown(proc),
            ),
        };
        c.or_else(|| Verdict::ok(Value::Unit, "LOCK-MLOCKALL-1"))
    }

    /// procnto accepts MCL_CURRENT and MCL_FUTURE; Linux also MCL_ONFAULT,
    /// but not alone. Neither accepts 0.
    fn mlockall_flags_valid(&self, flags: MclFlags) -> bool {
        let known = self.profile.mlockall_flags;
        !flags.is_empty() && flags.bits() & !known.bits() == 0 && flags != MclFlags::ONFAULT
    }

    /// procnto runs ms_lock() on every region in turn, each checking the
    /// limit: some check fails exactly when locking all that is not yet
    /// locked blows the limit (and there is a region to check).
    fn procnto_lockall_blown(&self, proc: &Process) -> bool {
        let c = proc.space.counters();
        proc.space.region_count() > 0 && self.lock_blown(proc, c.total - c.locked)
    }

    /// Linux sys_mlockall(): the whole address space (total_vm) against the
    /// limit, whatever is locked already.
    fn linux_lockall_blown(&self, proc: &Process) -> bool {
        self.lock_limited(proc)
            && self
                .profile
                .rlimit_cmp
                .blown(0, proc.space.counters().total, proc.limit(Resource::RLIMIT_MEMLOCK).cur)
    }

    /// Applies mlockall. On success: MCL_FUTURE as asked (Linux replaces the
    /// flag, so MCL_CURRENT alone clears it; procnto only sets it) and, with
    /// MCL_CURRENT, every region locked. On procnto's lock-limit failure,
    /// MCL_FUTURE stays set and the regions locked before the limit was
    /// reached stay locked.
    pub(super) fn commit_mlockall(&mut self, pid: Pid, flags: MclFlags, outcome: &Outcome) {
        let limit_failure = self.profile.lockall_partial_on_limit
            && matches!(outcome, Outcome::Err(e) if *e == self.profile.mlock_limit_errno || Some(*e) == self.profile.mlock_limit_alt);
        if !outcome.is_ok() && !limit_failure {
            return;
        }
        let replaces = self.profile.mlockall_replaces_future;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        if replaces || flags.contains(MclFlags::FUTURE) {
            proc.mcl_future = flags.contains(MclFlags::FUTURE);
        }
        if !flags.contains(MclFlags::CURRENT) {
            return;
        }
        for range in self.lockall_ranges(pid, limit_failure) {
            self.change_regions(pid, range, |r| r.locked = true);
        }
    }

    /// The regions mlockall(MCL_CURRENT) locks, in address order; with
    /// `stop_at_limit`, only those before the first one whose check fails.
    fn lockall_ranges(&self, pid: Pid, stop_at_limit: bool) -> Vec<AddrRange> {
        let proc = &self.procs[&pid];
        let cmp = self.profile.rlimit_cmp;
        let limit = proc.limit(Resource::RLIMIT_MEMLOCK).cur;
        let mut locked = proc.space.counters().locked;
        let mut ranges = Vec::new();
        for region in proc.space.regions() {
            let charge = if region.locked { 0 } else { region.len() };
            if stop_at_limit && cmp.blown(locked, charge, limit) {
                break;
            }
            locked += charge;
            if !region.locked {
                ranges.push(region.range);
            }
        }
        ranges
    }

    // ---------------------------------------------------------------- mlock2

    /// Judges mlock2: ENOSYS where there is none, then its flags, then
    /// mlock's checks; MLOCK_ONFAULT faults nothing in, so only a hole stops
    /// it. spec: LOCK-ENOSYS-1, LOCK-EINVAL-3, mlock's list, LOCK-ONFAULT-1.
    pub(super) fn plan_mlock2(&self, pid: Pid, addr: Addr, len: Len, flags: MlockFlags) -> Verdict {
        let mut c = Checks::new();
        c.check("LOCK-ENOSYS-1", Errno::ENOSYS, !self.profile.has_mlock2).check(
            "LOCK-EINVAL-3",
            Errno::EINVAL,
            !(flags - MlockFlags::ONFAULT).is_empty(),
        );
        if let Some(v) = c.verdict() {
            return v;
        }
        let proc = &self.procs[&pid];
        let range = match self.mlock_prelude(proc, addr, len) {
            Ok(range) => range,
            Err(v) => return v,
        };
        let onfault = flags.contains(MlockFlags::ONFAULT);
        match self.mlock_walk(proc, range, !onfault) {
            Some(stop) => Verdict::only(Outcome::Err(stop.errno), stop.rule),
            None if onfault => Verdict::ok(Value::Unit, "LOCK-ONFAULT-1"),
            None => Verdict::ok(Value::Unit, "LOCK-MLOCK-1"),
        }
    }

    /// Applies mlock2 as mlock: the whole range, or the part the walk reached.
    pub(super) fn commit_mlock2(&mut self, pid: Pid, addr: Addr, len: Len, flags: MlockFlags, outcome: &Outcome) {
        if !self.profile.has_mlock2 || !(flags - MlockFlags::ONFAULT).is_empty() {
            return;
        }
        let proc = &self.procs[&pid];
        let faults_in = !flags.contains(MlockFlags::ONFAULT);
        let changed = changed_by(
            self.mlock_prelude(proc, addr, len),
            |r| self.mlock_walk(proc, r, faults_in),
            outcome,
        );
        if let Some(range) = changed {
            self.change_regions(pid, range, |r| r.locked = true);
        }
    }

    /// Applies munlockall: clears MCL_FUTURE and unlocks everything.
    pub(super) fn commit_munlockall(&mut self, pid: Pid) {
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        proc.mcl_future = false;
        let ranges: Vec<AddrRange> = proc.space.regions().filter(|r| r.locked).map(|r| r.range).collect();
        for range in ranges {
            self.change_regions(pid, range, |r| r.locked = false);
        }
    }
}
