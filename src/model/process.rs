//! Processes: credentials, resource limits, the MCL_FUTURE flag, the fd table
//! and the address space. `spawn`, `exit` and `cred` live here.
//!
//! spec: spec/processes.md. Every call first: PROC-ESRCH-1 (in mod.rs).
//! spawn: PROC-EAGAIN-1, PROC-SPAWN-1. exit: PROC-EXIT-1 (always succeeds).
//! cred: PROC-EPERM-1, PROC-EPERM-2, PROC-CRED-1. umask: PROC-UMASK-1.
//! fork: PROC-EAGAIN-1, PROC-EAGAIN-2, PROC-ENOMEM-1, PROC-FORK-1.

use super::space::AddressSpace;
use super::Model;
use crate::call::{Outcome, Value};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Fd, OFlags, ObjId, Pid, Resource, Rlimit, Runs};
use std::collections::BTreeMap;

/// What an fd refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FdTarget {
    /// A memory object (shm, /dev/mem).
    Object(ObjId),
    /// /dev/zero: mapping it gives anonymous memory.
    Zero,
    /// A file that cannot be mapped (/dev/null).
    Unmappable,
    /// One end of a pipe (cannot be mapped either), made by `uid` and `gid`.
    Pipe {
        /// The creator's euid.
        uid: u32,
        /// The creator's egid.
        gid: u32,
    },
}

/// One open file description.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FdEntry {
    /// What it refers to.
    pub target: FdTarget,
    /// The flags it was opened with (its access mode matters to mmap).
    pub oflags: OFlags,
}

/// One process.
#[derive(Clone, Debug)]
pub struct Process {
    /// The logical pid.
    pub pid: Pid,
    /// The effective uid (0 is root).
    pub euid: u32,
    /// The memory-locking privilege (CAP_IPC_LOCK / PROCMGR_AID_MEM_LOCK).
    pub cap_ipc_lock: bool,
    /// The effective gid (0 at the start).
    pub egid: u32,
    /// The supplementary groups (none at the start).
    pub groups: Vec<u32>,
    /// The file mode creation mask (0 at the start; PROC-UMASK-1).
    pub umask: u32,
    /// Limits, indexed by [`Resource::index`].
    pub limits: [Rlimit; Resource::COUNT],
    /// Whether mlockall(MCL_FUTURE) is in force.
    pub mcl_future: bool,
    /// Open fds (changed only through [`Process::install`] and
    /// [`Process::uninstall`], which keep `fd_numbers` beside it).
    fds: BTreeMap<i32, FdEntry>,
    /// The numbers of the open fds, for the lowest free one in O(log n).
    fd_numbers: Runs,
    /// The mappings.
    pub space: AddressSpace,
    /// The program break (spec/address-space.md, brk).
    pub heap: super::brk::Heap,
}

impl Process {
    /// The first process of a run: root, with the profile's initial limits.
    pub fn first(pid: Pid, limits: [Rlimit; Resource::COUNT]) -> Process {
        Process {
            pid,
            euid: 0,
            cap_ipc_lock: true,
            egid: 0,
            groups: Vec::new(),
            umask: 0,
            limits,
            mcl_future: false,
            fds: BTreeMap::new(),
            fd_numbers: Runs::default(),
            space: AddressSpace::default(),
            heap: Default::default(),
        }
    }

    /// Whether the process holds the raw-I/O privilege (CAP_SYS_RAWIO):
    /// exactly while its euid is 0 (PROC-CRED-1: a cred to another euid
    /// drops it, as setresuid clears the effective capabilities).
    pub fn holds_raw_io(&self) -> bool {
        self.euid == 0
    }

    /// Whether the process is in group `gid`: its egid or a supplementary group.
    pub fn in_group(&self, gid: u32) -> bool {
        self.egid == gid || self.groups.contains(&gid)
    }

    /// The three permission bits of `mode` that apply to this process for
    /// a file owned by `uid` and `gid`: the owner's, else the group's, else
    /// the others' (POSIX file access; root's override is the caller's).
    pub fn permission_bits(&self, mode: u32, uid: u32, gid: u32) -> u32 {
        if self.euid == uid {
            (mode >> 6) & 7
        } else if self.in_group(gid) {
            (mode >> 3) & 7
        } else {
            mode & 7
        }
    }

    /// The limit in force for `resource`.
    pub fn limit(&self, resource: Resource) -> Rlimit {
        self.limits[resource.index()]
    }

    /// The open fd `fd`.
    pub fn fd(&self, fd: Fd) -> Option<&FdEntry> {
        self.fds.get(&fd.0)
    }

    /// The lowest free fd, if the RLIMIT_NOFILE soft limit leaves one.
    pub fn lowest_free_fd(&self) -> Option<Fd> {
        let limit = self.limit(Resource::RLIMIT_NOFILE).cur;
        let candidate = self.fd_numbers.lowest_free_from(0);
        let fd = i32::try_from(candidate).ok()?;
        (candidate < limit).then_some(Fd(fd))
    }

    /// The open fds, by number.
    pub fn fds(&self) -> &BTreeMap<i32, FdEntry> {
        &self.fds
    }

    /// Opens `fd` (not negative) as `entry`.
    pub fn install(&mut self, fd: Fd, entry: FdEntry) {
        self.fd_numbers
            .insert(u64::try_from(fd.0).expect("an fd is not negative"));
        self.fds.insert(fd.0, entry);
    }

    /// Closes `fd`, returning what it was.
    pub fn uninstall(&mut self, fd: Fd) -> Option<FdEntry> {
        let entry = self.fds.remove(&fd.0)?;
        self.fd_numbers
            .remove(u64::try_from(fd.0).expect("an fd is not negative"));
        Some(entry)
    }

    /// Closes every fd, returning what they were.
    pub fn uninstall_all(&mut self) -> BTreeMap<i32, FdEntry> {
        self.fd_numbers = Runs::default();
        std::mem::take(&mut self.fds)
    }
}

/// A cred call's arguments.
#[derive(Clone, Copy, Debug)]
pub struct Cred<'a> {
    /// The new euid.
    pub euid: u32,
    /// Whether the locking privilege is kept.
    pub cap_ipc_lock: bool,
    /// The new egid, if given.
    pub egid: Option<u32>,
    /// The new supplementary groups, if given.
    pub groups: Option<&'a [u32]>,
}

impl Cred<'_> {
    /// The egid after the call: the one given; else the new euid when the
    /// euid changes (the backend's setresgid to the uid, which traces
    /// written before `egid` existed rely on); else unchanged.
    pub fn new_egid(&self, p: &Process) -> u32 {
        match self.egid {
            Some(g) => g,
            None if self.euid != p.euid => self.euid,
            None => p.egid,
        }
    }

    /// The supplementary groups after the call: the ones given; else none
    /// when the euid changes; else unchanged.
    pub fn new_groups(&self, p: &Process) -> Vec<u32> {
        match self.groups {
            Some(g) => g.to_vec(),
            None if self.euid != p.euid => Vec::new(),
            None => p.groups.clone(),
        }
    }

    /// Whether the call sets groups (setgroups) or another egid (setresgid),
    /// which need the privilege to change groups (PROC-EPERM-2).
    pub fn changes_groups(&self, p: &Process) -> bool {
        self.groups.is_some() || self.egid.is_some_and(|g| g != p.egid)
    }
}

impl Model {
    /// Judges spawn. spec: PROC-EAGAIN-1, PROC-EAGAIN-2, then PROC-SPAWN-1.
    pub(super) fn plan_spawn(&self, pid: Pid) -> Verdict {
        let mut c = Checks::new();
        self.new_process_checks(pid, &mut c);
        c.or_else(|| Verdict::ok(Value::Pid(Pid(self.next_pid)), "PROC-SPAWN-1"))
    }

    /// The checks every new process passes (spawn, fork): the model's bound
    /// on processes, then the caller's RLIMIT_NPROC.
    pub(super) fn new_process_checks(&self, pid: Pid, c: &mut Checks) {
        c.check(
            "PROC-EAGAIN-1",
            Errno::EAGAIN,
            self.procs.len() >= self.profile.max_procs,
        )
        .check("PROC-EAGAIN-2", Errno::EAGAIN, self.nproc_blown(&self.procs[&pid]));
    }

    /// Whether `caller` may start no process under its RLIMIT_NPROC: its
    /// uid's live processes have reached the soft limit, and the profile
    /// does not exempt root (PROC-EAGAIN-2).
    fn nproc_blown(&self, caller: &Process) -> bool {
        if self.profile.nproc_exempts_root && caller.euid == 0 {
            return false;
        }
        let same_uid = self.procs.values().filter(|p| p.euid == caller.euid).count() as u64;
        same_uid >= caller.limit(Resource::RLIMIT_NPROC).cur
    }

    /// Applies spawn: the child (at the pid the implementation chose, if it is
    /// free) inherits the parent's credentials and limits, but starts a new
    /// program: no mappings, no fds (shm_open fds are close-on-exec on both
    /// systems) and no MCL_FUTURE (neither fork nor exec keeps it).
    pub(super) fn commit_spawn(&mut self, parent: Pid, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(Value::Pid(child)) = outcome else {
            return Ok(());
        };
        if *child == Pid::NONE {
            return Err("-1 is not a pid".into());
        }
        if self.procs.contains_key(child) || child.0 == 0 {
            return Err(format!("pid {child} is already in use"));
        }
        let p = &self.procs[&parent];
        let mut proc = Process::first(*child, p.limits);
        proc.euid = p.euid;
        proc.cap_ipc_lock = p.cap_ipc_lock;
        proc.egid = p.egid;
        proc.groups = p.groups.clone();
        proc.umask = p.umask;
        self.procs.insert(*child, proc);
        self.next_pid = self.next_pid.max(child.0.saturating_add(1));
        Ok(())
    }

    /// Judges fork: a new process's checks, then the memory its private
    /// copies need where memory is committed up front.
    /// spec: PROC-EAGAIN-1, PROC-EAGAIN-2, PROC-ENOMEM-1, then PROC-FORK-1.
    pub(super) fn plan_fork(&self, pid: Pid) -> Verdict {
        let mut c = Checks::new();
        self.new_process_checks(pid, &mut c);
        let charge = Self::fork_charge(&self.procs[&pid]);
        c.check(
            "PROC-ENOMEM-1",
            Errno::ENOMEM,
            self.profile.commit_cumulative && self.committed.saturating_add(charge) > self.profile.ram_bytes,
        );
        c.or_else(|| Verdict::ok(Value::Pid(Pid(self.next_pid)), "PROC-FORK-1"))
    }

    /// The system memory a copy of `proc`'s address space is charged: its
    /// committed (private) regions, copied; shared ones are the same objects.
    fn fork_charge(proc: &Process) -> u64 {
        proc.space.regions().filter(|r| r.committed).map(|r| r.len()).sum()
    }

    /// Applies fork: the child (at the pid the implementation chose, if it
    /// is free) is a copy of the parent, whatever fields a process has:
    /// mappings (private pages copied, which the contents budget counts;
    /// shared ones the same objects), fds on the same open files, limits,
    /// credentials, umask. Memory locks and MCL_FUTURE are not inherited.
    pub(super) fn commit_fork(&mut self, parent: Pid, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(Value::Pid(child)) = outcome else {
            return Ok(());
        };
        if *child == Pid::NONE || child.0 == 0 || self.procs.contains_key(child) {
            return Err(format!("pid {child} is not free"));
        }
        let mut proc = self.procs[&parent].clone();
        proc.pid = *child;
        for region in proc.space.regions() {
            if let super::region::Backing::Object(id) = region.backing {
                self.objects.expect_mut(id).map_refs += 1;
            }
        }
        for entry in proc.fds().values() {
            if let FdTarget::Object(id) = entry.target {
                self.objects.expect_mut(id).fd_refs += 1;
            }
        }
        self.committed += Self::fork_charge(&proc);
        self.procs.insert(*child, proc);
        self.next_pid = self.next_pid.max(child.0.saturating_add(1));
        // Unlocks every region (the counters follow) and clears MCL_FUTURE.
        self.commit_munlockall(*child);
        Ok(())
    }

    /// Applies exit: every mapping and fd goes, and objects nothing else
    /// keeps alive are freed. spec: PROC-EXIT-1.
    pub(super) fn commit_exit(&mut self, pid: Pid) {
        let Some(mut proc) = self.procs.remove(&pid) else {
            return;
        };
        for region in proc.space.clear() {
            self.release_region(&region);
        }
        for (_, entry) in proc.uninstall_all() {
            self.release_fd(entry);
        }
    }

    /// Judges cred. Privileges can be dropped but never regained, as the
    /// real backend's setresuid and capset make it: only root may change its
    /// uid, and nobody may take the locking privilege back.
    /// spec: PROC-EPERM-1, PROC-EPERM-2, then PROC-CRED-1.
    pub(super) fn plan_cred(&self, pid: Pid, cred: &Cred<'_>) -> Verdict {
        let p = &self.procs[&pid];
        let changes_uid_unprivileged = p.euid != 0 && cred.euid != p.euid;
        let regains_cap = cred.cap_ipc_lock && !p.cap_ipc_lock;
        let mut c = Checks::new();
        c.check("PROC-EPERM-1", Errno::EPERM, changes_uid_unprivileged || regains_cap)
            .check("PROC-EPERM-2", Errno::EPERM, p.euid != 0 && cred.changes_groups(p));
        c.or_else(|| Verdict::ok(Value::Unit, "PROC-CRED-1"))
    }

    /// Applies a successful cred.
    pub(super) fn commit_cred(&mut self, pid: Pid, cred: &Cred<'_>) {
        let p = self.procs.get_mut(&pid).expect("caller exists");
        let (egid, groups) = (cred.new_egid(p), cred.new_groups(p));
        p.euid = cred.euid;
        p.cap_ipc_lock = cred.cap_ipc_lock;
        p.egid = egid;
        p.groups = groups;
    }

    /// umask: the old mask, and the new one's permission bits kept.
    /// spec: PROC-UMASK-1.
    pub(super) fn plan_umask(&self, pid: Pid) -> Verdict {
        Verdict::ok(Value::Mode(self.procs[&pid].umask), "PROC-UMASK-1")
    }

    /// Applies umask (it cannot fail).
    pub(super) fn commit_umask(&mut self, pid: Pid, mask: u32) {
        self.procs.get_mut(&pid).expect("caller exists").umask = mask & 0o777;
    }

    /// Drops one fd's reference to what it refers to.
    pub(super) fn release_fd(&mut self, entry: FdEntry) {
        if let FdTarget::Object(id) = entry.target {
            self.objects.expect_mut(id).fd_refs -= 1;
            self.release_object_if_dead(id);
        }
    }
}
