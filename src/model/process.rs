//! Processes: credentials, resource limits, the MCL_FUTURE flag, the fd table
//! and the address space. `spawn`, `exit` and `cred` live here.
//!
//! spec: spec/processes.md. Every call first: PROC-ESRCH-1 (in mod.rs).
//! spawn: PROC-EAGAIN-1, PROC-SPAWN-1. exit: PROC-EXIT-1 (always succeeds).
//! cred: PROC-EPERM-1, PROC-CRED-1.

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
    /// Limits, indexed by [`Resource::index`].
    pub limits: [Rlimit; 4],
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
    pub fn first(pid: Pid, limits: [Rlimit; 4]) -> Process {
        Process {
            pid,
            euid: 0,
            cap_ipc_lock: true,
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

impl Model {
    /// Judges spawn. spec: PROC-EAGAIN-1, then PROC-SPAWN-1.
    pub(super) fn plan_spawn(&self, _pid: Pid) -> Verdict {
        let mut c = Checks::new();
        c.check(
            "PROC-EAGAIN-1",
            Errno::EAGAIN,
            self.procs.len() >= self.profile.max_procs,
        );
        c.or_else(|| Verdict::ok(Value::Pid(Pid(self.next_pid)), "PROC-SPAWN-1"))
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
        self.procs.insert(*child, proc);
        self.next_pid = self.next_pid.max(child.0.saturating_add(1));
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
    /// spec: PROC-EPERM-1, then PROC-CRED-1.
    pub(super) fn plan_cred(&self, pid: Pid, euid: u32, cap: bool) -> Verdict {
        let p = &self.procs[&pid];
        let changes_uid_unprivileged = p.euid != 0 && euid != p.euid;
        let regains_cap = cap && !p.cap_ipc_lock;
        let mut c = Checks::new();
        c.check("PROC-EPERM-1", Errno::EPERM, changes_uid_unprivileged || regains_cap);
        c.or_else(|| Verdict::ok(Value::Unit, "PROC-CRED-1"))
    }

    /// Applies a successful cred.
    pub(super) fn commit_cred(&mut self, pid: Pid, euid: u32, cap: bool) {
        let p = self.procs.get_mut(&pid).expect("caller exists");
        p.euid = euid;
        p.cap_ipc_lock = cap;
    }

    /// Drops one fd's reference to what it refers to.
    pub(super) fn release_fd(&mut self, entry: FdEntry) {
        if let FdTarget::Object(id) = entry.target {
            self.objects.expect_mut(id).fd_refs -= 1;
            self.release_object_if_dead(id);
        }
    }
}
