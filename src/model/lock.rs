//! mlock, munlock, mlockall and munlockall, with the lock limit.
//!
//! spec: spec/locking.md. mlock: LOCK-EPERM-2, LOCK-OK-2, LOCK-ENOMEM-1,
//! LOCK-EPERM-1, LOCK-EAGAIN-1 (Neutrino) / LOCK-ENOMEM-2 (Linux),
//! LOCK-MLOCK-1. munlock: LOCK-OK-3, LOCK-ENOMEM-3, LOCK-MUNLOCK-1.
//! mlockall: LOCK-EINVAL-1, LOCK-EPERM-3, LOCK-EAGAIN-2 (Neutrino) /
//! LOCK-ENOMEM-4 (Linux), LOCK-MLOCKALL-1. munlockall: LOCK-MUNLOCKALL-1.

use super::ctrl::Span;
use super::process::Process;
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::LockPrivilege;
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, AddrRange, Errno, Len, MclFlags, Pid, Resource};

impl Model {
    /// Whether the process may lock memory at all.
    fn may_lock(&self, proc: &Process) -> bool {
        match self.profile.lock_privilege {
            LockPrivilege::RootOrAbility => proc.euid == 0 || proc.cap_ipc_lock,
            LockPrivilege::CapOrLimit => proc.cap_ipc_lock || proc.limit(Resource::RLIMIT_MEMLOCK).cur != 0,
        }
    }

    /// Whether locking `extra` more bytes blows the lock limit.
    fn lock_blown(&self, proc: &Process, extra: u64) -> bool {
        if self.profile.lock_privilege == LockPrivilege::CapOrLimit && proc.cap_ipc_lock {
            return false;
        }
        extra != 0
            && self.profile.rlimit_cmp.blown(
                proc.space.counters().locked,
                extra,
                proc.limit(Resource::RLIMIT_MEMLOCK).cur,
            )
    }

    /// The unlocked mapped bytes inside `range`.
    fn unlocked_in(proc: &Process, range: AddrRange) -> u64 {
        let c = proc.space.counters_in(range);
        c.total - c.locked
    }

    /// Judges mlock.
    pub(super) fn plan_mlock(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let span = self.lock_span(addr, len);
        let linux = p.lock_privilege == LockPrivilege::CapOrLimit;
        let mut c = Checks::new();
        c.check("LOCK-EPERM-2", Errno::EPERM, linux && !self.may_lock(proc));
        if span == Span::Empty && p.ctrl_zero_len.is_none() {
            return c.or_else(|| Verdict::ok(Value::Unit, "LOCK-OK-2"));
        }
        let mapped = matches!(span, Span::Pages(r) if proc.space.fully_mapped(r));
        let extra = if let Span::Pages(r) = span {
            Self::unlocked_in(proc, r)
        } else {
            0
        };
        if linux {
            c.check("LOCK-ENOMEM-2", Errno::ENOMEM, self.lock_blown(proc, extra))
                .check("LOCK-ENOMEM-1", Errno::ENOMEM, !mapped);
        } else {
            c.check("LOCK-ENOMEM-1", Errno::ENOMEM, !mapped)
                .check("LOCK-EPERM-1", Errno::EPERM, !self.may_lock(proc))
                .check_alt(
                    "LOCK-EAGAIN-1",
                    p.mlock_limit_errno,
                    p.mlock_limit_alt,
                    self.lock_blown(proc, extra),
                );
        }
        c.or_else(|| Verdict::ok(Value::Unit, "LOCK-MLOCK-1"))
    }

    /// Judges munlock.
    pub(super) fn plan_munlock(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let proc = &self.procs[&pid];
        let span = self.lock_span(addr, len);
        if span == Span::Empty && self.profile.ctrl_zero_len.is_none() {
            return Verdict::ok(Value::Unit, "LOCK-OK-3");
        }
        let mapped = matches!(span, Span::Pages(r) if proc.space.fully_mapped(r));
        let mut c = Checks::new();
        c.check("LOCK-ENOMEM-3", Errno::ENOMEM, !mapped);
        c.or_else(|| Verdict::ok(Value::Unit, "LOCK-MUNLOCK-1"))
    }

    /// mlock rounds an unaligned start down on both profiles.
    fn lock_span(&self, addr: Addr, len: Len) -> Span {
        let page = self.profile.page_size;
        let widened = len.0.checked_add(addr.page_offset(page)).map(Len);
        match widened {
            Some(l) => self.span(addr.align_down(page), l),
            None => Span::Outside,
        }
    }

    /// Applies mlock (`lock`) or munlock.
    pub(super) fn commit_mlock(&mut self, pid: Pid, addr: Addr, len: Len, outcome: &Outcome, lock: bool) {
        let Span::Pages(range) = self.lock_span(addr, len) else {
            return;
        };
        if !outcome.is_ok() {
            return;
        }
        let page = self.profile.page_size;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        proc.space.change_each(range, page, |r| {
            r.locked = lock;
            true
        });
    }

    /// Judges mlockall.
    pub(super) fn plan_mlockall(&self, pid: Pid, flags: MclFlags) -> Verdict {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let current = flags.contains(MclFlags::CURRENT);
        let unlocked = proc.space.counters().total - proc.space.counters().locked;
        let mut c = Checks::new();
        c.check(
            "LOCK-EINVAL-1",
            Errno::EINVAL,
            flags.is_empty() || flags.bits() & !MclFlags::all().bits() != 0,
        )
        .check("LOCK-EPERM-3", Errno::EPERM, !self.may_lock(proc));
        match p.lock_privilege {
            LockPrivilege::RootOrAbility => {
                c.check_alt(
                    "LOCK-EAGAIN-2",
                    p.mlock_limit_errno,
                    p.mlock_limit_alt,
                    current && self.lock_blown(proc, unlocked),
                );
            }
            LockPrivilege::CapOrLimit => {
                let total = proc.space.counters().total;
                let over = !proc.cap_ipc_lock && p.rlimit_cmp.blown(0, total, proc.limit(Resource::RLIMIT_MEMLOCK).cur);
                c.check("LOCK-ENOMEM-4", Errno::ENOMEM, current && over);
            }
        }
        c.or_else(|| Verdict::ok(Value::Unit, "LOCK-MLOCKALL-1"))
    }

    /// Applies mlockall: on success everything named; on procnto's lock-limit
    /// failure, MCL_FUTURE stays set and the regions locked before the limit
    /// was reached stay locked.
    pub(super) fn commit_mlockall(&mut self, pid: Pid, flags: MclFlags, outcome: &Outcome) {
        let procnto_partial = self.profile.lock_privilege == LockPrivilege::RootOrAbility
            && matches!(outcome, Outcome::Err(e) if Some(*e) == Some(self.profile.mlock_limit_errno) || Some(*e) == self.profile.mlock_limit_alt);
        if !outcome.is_ok() && !procnto_partial {
            return;
        }
        let page = self.profile.page_size;
        let cmp = self.profile.rlimit_cmp;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        if flags.contains(MclFlags::FUTURE) {
            proc.mcl_future = true;
        }
        if !flags.contains(MclFlags::CURRENT) {
            return;
        }
        let limit = proc.limit(Resource::RLIMIT_MEMLOCK).cur;
        let bypass = !procnto_partial;
        let mut locked = proc.space.counters().locked;
        let starts: Vec<AddrRange> = proc.space.regions().filter(|r| !r.locked).map(|r| r.range).collect();
        for range in starts {
            if !bypass && cmp.blown(locked, range.len().0, limit) {
                break;
            }
            locked += range.len().0;
            proc.space.change_each(range, page, |r| {
                r.locked = true;
                true
            });
        }
    }

    /// Applies munlockall: clears MCL_FUTURE and unlocks everything.
    pub(super) fn commit_munlockall(&mut self, pid: Pid) {
        let page = self.profile.page_size;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        proc.mcl_future = false;
        let ranges: Vec<AddrRange> = proc.space.regions().filter(|r| r.locked).map(|r| r.range).collect();
        for range in ranges {
            proc.space.change_each(range, page, |r| {
                r.locked = false;
                true
            });
        }
    }
}
