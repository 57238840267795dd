//! brk: the program break, part of each process's state.
//!
//! spec: spec/address-space.md ("brk"). Check list, the first failing check
//! deciding: BRK-BELOW-1; BRK-DATA-1 where the profile checks the heap's new
//! size first (`brk_heap_size_limit`); BRK-OK-1 (the same page); shrinking:
//! BRK-HOLE-1, else BRK-OK-2; growing: BRK-RANGE-1, BRK-LOCK-1,
//! BRK-MAPPED-1, BRK-DATA-1 (procnto's growth check), BRK-LIMIT-1, else
//! BRK-OK-3. What a failure returns is the profile's `brk_result`: Linux's
//! system call returns the old break, QNX's C library -1 with ENOMEM.

use super::process::Process;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::{BrkResult, LockPrivilege, Profile, RegionLimit};
use crate::rules::{RuleId, Verdict};
use crate::types::{align_up, Addr, AddrRange, Errno, MapFlags, Pid, Prot, Resource};

/// A process's heap: where it starts and where the break is. `None` stands
/// for the profile's initial break, so a new process needs no profile.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Heap {
    start: Option<Addr>,
    brk: Option<Addr>,
}

impl Heap {
    /// The start of the heap (the lowest break).
    pub fn start(&self, profile: &Profile) -> Addr {
        self.start.unwrap_or(Addr(profile.initial_break))
    }

    /// The break.
    pub fn brk(&self, profile: &Profile) -> Addr {
        self.brk.unwrap_or_else(|| self.start(profile))
    }
}

/// What a brk call does when it succeeds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Change {
    /// The break moves within its page.
    Set,
    /// The pages of the range are freed.
    Shrink(AddrRange),
    /// The pages of the range are mapped.
    Grow(AddrRange),
}

/// A judged brk call: the deciding rule, and the change when it succeeds.
#[derive(Clone, Copy, Debug)]
struct Plan {
    rule: RuleId,
    change: Option<Change>,
}

impl Plan {
    fn fail(rule: RuleId) -> Plan {
        Plan { rule, change: None }
    }
}

impl Model {
    /// Judges brk. spec: spec/address-space.md, "brk".
    pub(super) fn plan_brk(&self, pid: Pid, addr: Addr) -> Verdict {
        let proc = &self.procs[&pid];
        let plan = self.brk_plan(proc, addr);
        let old = proc.heap.brk(self.profile);
        match (self.profile.brk_result, plan.change) {
            (BrkResult::NewBreak, Some(_)) => Verdict::ok(Value::Addr(addr), plan.rule),
            (BrkResult::NewBreak, None) => Verdict::ok(Value::Addr(old), plan.rule),
            (BrkResult::ZeroOrErrno, Some(_)) => Verdict::ok(Value::Addr(Addr(0)), plan.rule),
            (BrkResult::ZeroOrErrno, None) => Verdict::only(Outcome::Err(Errno::ENOMEM), plan.rule),
        }
    }

    fn brk_plan(&self, proc: &Process, addr: Addr) -> Plan {
        let p = self.profile;
        let (start, old) = (proc.heap.start(p), proc.heap.brk(p));
        if addr < start {
            return Plan::fail("BRK-BELOW-1");
        }
        let data = proc.limit(Resource::RLIMIT_DATA).cur;
        if p.brk_heap_size_limit && data != crate::types::RLIM_INFINITY && addr.0 - start.0 > data {
            return Plan::fail("BRK-DATA-1");
        }
        let (Some(new_top), Some(old_top)) = (align_up(addr.0, p.page_size), align_up(old.0, p.page_size)) else {
            return Plan::fail("BRK-RANGE-1");
        };
        if new_top == old_top {
            return Plan {
                rule: "BRK-OK-1",
                change: Some(Change::Set),
            };
        }
        if new_top < old_top {
            let range = AddrRange::from_bounds(Addr(new_top), Addr(old_top)).expect("lower");
            if proc.space.is_free(range) {
                return Plan::fail("BRK-HOLE-1");
            }
            return Plan {
                rule: "BRK-OK-2",
                change: Some(Change::Shrink(range)),
            };
        }
        let range = AddrRange::from_bounds(Addr(old_top), Addr(new_top)).expect("higher");
        match self.brk_growth_check(proc, range) {
            Some(rule) => Plan::fail(rule),
            None => Plan {
                rule: "BRK-OK-3",
                change: Some(Change::Grow(range)),
            },
        }
    }

    /// The growth checks in order; the first that fails.
    fn brk_growth_check(&self, proc: &Process, range: AddrRange) -> Option<RuleId> {
        let p = self.profile;
        let len = range.len().0;
        let cmp = p.rlimit_cmp;
        let gap = p.brk_gap_pages.saturating_mul(p.page_size);
        let counters = proc.space.counters();
        let data = proc.limit(Resource::RLIMIT_DATA);
        let data_cap = if p.data_zero_soft_uses_hard && data.cur == 0 {
            data.max
        } else {
            data.cur
        };
        let lock_limited = !(p.lock_privilege == LockPrivilege::CapOrLimit && proc.cap_ipc_lock);
        let checks: [(RuleId, bool); 7] = [
            ("BRK-RANGE-1", range.end().0 > p.user_end),
            (
                "BRK-LOCK-1",
                proc.mcl_future
                    && lock_limited
                    && cmp.blown(counters.locked, len, proc.limit(Resource::RLIMIT_MEMLOCK).cur),
            ),
            (
                "BRK-MAPPED-1",
                // A growsdown mapping above keeps its guard gap free too
                // (check_brk_limits: vm_start_gap()).
                AddrRange::from_bounds(range.start(), Addr(range.end().0.saturating_add(gap)))
                    .is_some_and(|r| !proc.space.is_free(r) || proc.space.clear_of_stack_gap(r, p).is_some()),
            ),
            (
                "BRK-LIMIT-1",
                cmp.blown(counters.total, len, proc.limit(Resource::RLIMIT_AS).cur),
            ),
            ("BRK-LIMIT-1", cmp.blown(counters.data, len, data_cap)),
            (
                "BRK-LIMIT-1",
                match p.region_limit {
                    RegionLimit::CountAfter => proc.space.region_count() + 1 > p.max_regions,
                    RegionLimit::CountBefore => proc.space.region_count() > p.max_regions,
                },
            ),
            ("BRK-LIMIT-1", self.brk_commit_blown(len)),
        ];
        checks.into_iter().find(|(_, fails)| *fails).map(|(rule, _)| rule)
    }

    /// The new pages need memory up front (private, writable, accountable):
    /// procnto counts what is already committed, Linux judges the request.
    fn brk_commit_blown(&self, len: u64) -> bool {
        let base = if self.profile.commit_cumulative {
            self.committed
        } else {
            0
        };
        base.checked_add(len).is_none_or(|t| t > self.profile.ram_bytes)
    }

    /// Applies brk: the change of a success; for `brk(0)` on an empty heap
    /// whose break the implementation placed elsewhere (Linux's random heap
    /// start), the heap moves there (a free choice, spec/trace-format.md §7).
    pub(super) fn commit_brk(&mut self, pid: Pid, addr: Addr, outcome: &Outcome) -> Result<(), String> {
        let verdict = self.plan_brk(pid, addr);
        if *outcome != verdict.outcome {
            return self.adopt_break(pid, outcome);
        }
        let proc = &self.procs[&pid];
        let Some(change) = self.brk_plan(proc, addr).change else {
            return Ok(());
        };
        let page = self.profile.page_size;
        match change {
            Change::Set => {}
            Change::Shrink(range) => {
                let space = &mut self.procs.get_mut(&pid).expect("caller exists").space;
                let removed = space.remove(range, page, &mut self.objects);
                for region in removed.iter() {
                    self.release_region(region);
                }
            }
            Change::Grow(range) => {
                let region = self.heap_region(pid, range);
                self.procs.get_mut(&pid).expect("caller exists").space.insert(region);
            }
        }
        self.procs.get_mut(&pid).expect("caller exists").heap.brk = Some(addr);
        Ok(())
    }

    /// Adopts the implementation's break as the start of an empty heap.
    fn adopt_break(&mut self, pid: Pid, outcome: &Outcome) -> Result<(), String> {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let Outcome::Ok(Value::Addr(seen)) = outcome else {
            return Err(format!("{outcome} is not what brk returns here"));
        };
        let empty = proc.heap.brk(p) == proc.heap.start(p);
        let in_user = seen.0 >= p.placement_start() && seen.0 < p.user_end;
        let free = proc.space.region_at(*seen).is_none();
        if p.brk_result != BrkResult::NewBreak || !empty || !in_user || !free {
            return Err(format!(
                "{seen} cannot be the break: only an empty heap's place is the implementation's choice, and it must be a free address of the user range"
            ));
        }
        let heap = &mut self.procs.get_mut(&pid).expect("caller exists").heap;
        heap.start = Some(*seen);
        heap.brk = Some(*seen);
        Ok(())
    }

    /// The private anonymous read-write region brk maps, charged like such
    /// a mapping and locked under MCL_FUTURE.
    fn heap_region(&mut self, pid: Pid, range: AddrRange) -> Region {
        let proc = &self.procs[&pid];
        let prot = Prot::READ | Prot::WRITE;
        let flags = MapFlags::PRIVATE | MapFlags::ANON;
        let committed = self.profile.commit_cumulative;
        if committed {
            self.committed += range.len().0;
        }
        let mut region = Region {
            range,
            prot,
            flags,
            shared: false,
            backing: Backing::Zero,
            offset: 0,
            write_denied: false,
            locked: proc.mcl_future,
            counts_data: false,
            committed,
            private_pages: Default::default(),
        };
        region.counts_data = self.profile.data_scope.counts(Model::data_facts(&region));
        region
    }
}
