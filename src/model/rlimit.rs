//! getrlimit and setrlimit for RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK,
//! RLIMIT_NOFILE, RLIMIT_STACK and RLIMIT_NPROC, and resource numbers no
//! system knows.
//!
//! spec: spec/rlimits.md. getrlimit: RLIMIT-ESRCH-1, RLIMIT-EPERM-2,
//! RLIMIT-EINVAL-3, RLIMIT-GET-1. setrlimit, in every profile: RLIMIT-ESRCH-1,
//! RLIMIT-EPERM-2, RLIMIT-EINVAL-3, RLIMIT-EINVAL-1, RLIMIT-EINVAL-2 (only where
//! `nofile_below_usage_einval`), RLIMIT-EPERM-1; success RLIMIT-SET-2 (the
//! soft limit became the hard one) or RLIMIT-SET-1.

use super::process::Process;
use super::Model;
use crate::call::{Outcome, Value};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Pid, Resource, Rlimit, RLIM_INFINITY};

impl Model {
    /// The process a limit call acts on: 0 or absent means the caller.
    fn limit_target(pid: Pid, target: Option<Pid>) -> Pid {
        match target {
            None | Some(Pid(0)) => pid,
            Some(t) => t,
        }
    }

    /// Whether `proc` holds the resource privilege (root on procnto;
    /// CAP_SYS_RESOURCE on Linux, which no process here holds).
    fn resource_privileged(&self, proc: &Process) -> bool {
        self.profile.raise_hard_needs_root && proc.euid == 0
    }

    /// Whether `caller` may not act on `target`'s limits: another user's
    /// process needs the resource privilege.
    fn limits_foreign(&self, caller: &Process, target: &Process) -> bool {
        let other_group = self.profile.foreign_limits_match_gid && caller.egid != target.egid;
        !self.resource_privileged(caller) && (caller.euid != target.euid || other_group)
    }

    /// Judges getrlimit.
    pub(super) fn plan_getrlimit(&self, pid: Pid, resource: Resource, target: Option<Pid>) -> Verdict {
        let caller = &self.procs[&pid];
        let Some(t) = self.procs.get(&Self::limit_target(pid, target)) else {
            return Verdict::only(Outcome::Err(Errno::ESRCH), "RLIMIT-ESRCH-1");
        };
        let mut c = Checks::new();
        c.check("RLIMIT-EPERM-2", Errno::EPERM, self.limits_foreign(caller, t))
            .check("RLIMIT-EINVAL-3", Errno::EINVAL, resource.is_unknown());
        c.or_else(|| Verdict::ok(Value::Rlimit(t.limit(resource)), "RLIMIT-GET-1"))
    }

    /// The limit setrlimit would store: procnto turns an infinite soft limit
    /// into the hard one.
    fn new_limit(&self, cur: u64, max: u64) -> Rlimit {
        if cur == RLIM_INFINITY && self.profile.infinite_cur_means_hard {
            Rlimit { cur: max, max }
        } else {
            Rlimit { cur, max }
        }
    }

    /// One more than the highest open fd: a NOFILE soft limit below it would
    /// strand an open fd.
    fn fds_in_use(proc: &Process) -> u64 {
        proc.fds().keys().next_back().map_or(0, |fd| *fd as u64 + 1)
    }

    /// Judges setrlimit.
    pub(super) fn plan_setrlimit(
        &self,
        pid: Pid,
        resource: Resource,
        cur: u64,
        max: u64,
        target: Option<Pid>,
    ) -> Verdict {
        let caller = &self.procs[&pid];
        let Some(t) = self.procs.get(&Self::limit_target(pid, target)) else {
            return Verdict::only(Outcome::Err(Errno::ESRCH), "RLIMIT-ESRCH-1");
        };
        let new = self.new_limit(cur, max);
        let below_usage = resource == Resource::RLIMIT_NOFILE && new.cur < Self::fds_in_use(t);
        // An unknown resource has no limit to raise (RLIMIT-EINVAL-3 refuses it).
        let raises_hard = !resource.is_unknown() && max > t.limit(resource).max;
        let mut c = Checks::new();
        c.check("RLIMIT-EPERM-2", Errno::EPERM, self.limits_foreign(caller, t))
            .check("RLIMIT-EINVAL-3", Errno::EINVAL, resource.is_unknown())
            .check("RLIMIT-EINVAL-1", Errno::EINVAL, new.cur > new.max)
            .check(
                "RLIMIT-EINVAL-2",
                Errno::EINVAL,
                self.profile.nofile_below_usage_einval && below_usage,
            )
            .check(
                "RLIMIT-EPERM-1",
                Errno::EPERM,
                raises_hard && !self.resource_privileged(caller),
            );
        let rule = if new.cur != cur { "RLIMIT-SET-2" } else { "RLIMIT-SET-1" };
        c.or_else(|| Verdict::ok(Value::Unit, rule))
    }

    /// Applies setrlimit: stores the new pair on success.
    pub(super) fn commit_setrlimit(
        &mut self,
        pid: Pid,
        resource: Resource,
        cur: u64,
        max: u64,
        target: Option<Pid>,
        outcome: &Outcome,
    ) {
        if !outcome.is_ok() || resource.is_unknown() {
            return;
        }
        let new = self.new_limit(cur, max);
        if let Some(t) = self.procs.get_mut(&Self::limit_target(pid, target)) {
            t.limits[resource.index()] = new;
        }
    }
}
