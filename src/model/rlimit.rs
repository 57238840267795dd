//! getrlimit and setrlimit for RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK and
//! RLIMIT_NOFILE.
//!
//! spec: spec/rlimits.md. getrlimit: RLIMIT-ESRCH-1, RLIMIT-GET-1.
//! setrlimit: RLIMIT-ESRCH-1, RLIMIT-EPERM-2, RLIMIT-EINVAL-1,
//! RLIMIT-EINVAL-2, RLIMIT-EPERM-1, RLIMIT-SET-2 / RLIMIT-SET-1.

use super::Model;
use crate::call::{Outcome, Value};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Pid, Resource, Rlimit, RLIM_INFINITY};

impl Model {
    fn target_pid(pid: Pid, target: Option<Pid>) -> Pid {
        match target {
            None | Some(Pid(0)) => pid,
            Some(t) => t,
        }
    }

    /// Judges getrlimit.
    pub(super) fn plan_getrlimit(&self, pid: Pid, resource: Resource, target: Option<Pid>) -> Verdict {
        match self.procs.get(&Self::target_pid(pid, target)) {
            None => Verdict::only(Outcome::Err(Errno::ESRCH), "RLIMIT-ESRCH-1"),
            Some(t) => Verdict::ok(Value::Rlimit(t.limit(resource)), "RLIMIT-GET-1"),
        }
    }

    /// The limit setrlimit would store.
    fn new_limit(&self, cur: u64, max: u64) -> Rlimit {
        if cur == RLIM_INFINITY && self.profile.infinite_cur_means_hard {
            Rlimit { cur: max, max }
        } else {
            Rlimit { cur, max }
        }
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
        let Some(t) = self.procs.get(&Self::target_pid(pid, target)) else {
            return Verdict::only(Outcome::Err(Errno::ESRCH), "RLIMIT-ESRCH-1");
        };
        let new = self.new_limit(cur, max);
        let open_fds = t.fds.keys().next_back().map_or(0, |fd| *fd as u64 + 1);
        let raising = max > t.limit(resource).max;
        let mut c = Checks::new();
        c.check(
            "RLIMIT-EPERM-2",
            Errno::EPERM,
            caller.euid != 0 && caller.euid != t.euid,
        )
        .check("RLIMIT-EINVAL-1", Errno::EINVAL, new.cur > new.max)
        .check(
            "RLIMIT-EINVAL-2",
            Errno::EINVAL,
            resource == Resource::RLIMIT_NOFILE && self.profile.raise_hard_needs_root && new.cur < open_fds,
        )
        .check(
            "RLIMIT-EPERM-1",
            Errno::EPERM,
            raising && (!self.profile.raise_hard_needs_root || caller.euid != 0),
        );
        let rule = if new.cur != cur { "RLIMIT-SET-2" } else { "RLIMIT-SET-1" };
        c.or_else(|| Verdict::ok(Value::Unit, rule))
    }

    pub(super) fn commit_setrlimit(
        &mut self,
        pid: Pid,
        resource: Resource,
        cur: u64,
        max: u64,
        target: Option<Pid>,
        outcome: &Outcome,
    ) {
        if !outcome.is_ok() {
            return;
        }
        let new = self.new_limit(cur, max);
        if let Some(t) = self.procs.get_mut(&Self::target_pid(pid, target)) {
            t.limits[resource.index()] = new;
        }
    }
}
