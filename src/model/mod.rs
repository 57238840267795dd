//! The model: a pure, deterministic procnto memory manager.
//!
//! One file per syscall family, gVisor-style: [`mmap`](self::mmap) for mmap,
//! [`ctrl`](self::ctrl) for munmap/mprotect/msync, [`lock`](self::lock) for the
//! mlock family, [`rlimit`](self::rlimit), [`shm`](self::shm) for shared-memory
//! objects and fds, [`access`](self::access) for loads and stores,
//! [`process`](self::process) for spawn/exit/cred. Each family has a pure
//! `plan_*` that runs the checks (and returns a [`Verdict`]) and a `commit_*`
//! that applies an outcome. [`invariants`](self::invariants) recomputes every
//! cached counter from scratch.

mod access;
mod adopt;
pub mod brk;
pub use adopt::LibraryRun;
pub mod contents;
mod ctrl;
mod fd;
pub mod gaps;
pub mod invariants;
mod lock;
mod meminfo;
mod mmap;
mod mremap;
pub mod object;
mod peer;
pub mod process;
pub mod region;
mod region_map;
pub mod resmgr;
mod rlimit;
mod shm;
pub mod space;

use crate::api::Libraries;
use crate::call::{Call, Outcome};
use crate::manager::MemoryManager;
use crate::profile::{Profile, ProfileName};
use crate::rules::Verdict;
use crate::types::{AddrRange, Errno, Len, ObjId, Pid};
use object::{ObjKind, Object, Objects};
use process::Process;
use region::{Backing, Region};
use std::collections::BTreeMap;

/// The model's whole state.
#[derive(Clone, Debug)]
pub struct Model {
    profile: &'static Profile,
    procs: BTreeMap<Pid, Process>,
    objects: Objects,
    phys: ObjId,
    next_pid: u32,
    committed: u64,
    server: resmgr::Server,
    libs: Libraries,
    step_checks: bool,
    /// Only debug builds check invariants, so only they count calls.
    #[cfg(debug_assertions)]
    applied: CallCount,
}

/// How many calls were applied; paces the debug invariant checks. Not part of
/// the modelled state, so its Debug output is the same whatever its value.
#[cfg(debug_assertions)]
#[derive(Clone, Copy, Default)]
struct CallCount(u64);

#[cfg(debug_assertions)]
impl std::fmt::Debug for CallCount {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CallCount")
    }
}

/// Why an observed outcome could not be applied to the model.
pub type ApplyError = String;

/// What applying a verdict gave: `None` when it was not applied.
pub type Applied = Option<Result<(), ApplyError>>;

impl Model {
    /// A fresh system with one process, pid 1.
    pub fn new(profile: ProfileName) -> Model {
        Model::with_profile(profile.profile())
    }

    /// A fresh system under a profile that need not be a named one (tests
    /// vary one knob of a named profile, such as a small region limit).
    pub fn with_profile(profile: &'static Profile) -> Model {
        let mut objects = Objects::default();
        let phys = objects.insert(Object::new(ObjKind::Phys, profile.last_paddr.saturating_add(1)));
        let mut procs = BTreeMap::new();
        procs.insert(Pid(1), Process::first(Pid(1), profile.initial_limits));
        Model {
            profile,
            procs,
            objects,
            phys,
            next_pid: 2,
            committed: 0,
            server: resmgr::Server::default(),
            libs: Libraries::default(),
            step_checks: true,
            #[cfg(debug_assertions)]
            applied: CallCount::default(),
        }
    }

    /// The profile's knobs.
    pub fn profile(&self) -> &'static Profile {
        self.profile
    }

    /// The process `pid`, if it exists.
    pub fn process(&self, pid: Pid) -> Option<&Process> {
        self.procs.get(&pid)
    }

    /// Every live process.
    pub fn processes(&self) -> impl Iterator<Item = &Process> {
        self.procs.values()
    }

    /// Every memory object.
    pub fn objects(&self) -> &Objects {
        &self.objects
    }

    /// Turns the invariant check after every applied call (debug builds) off
    /// or on. Checking is O(regions) per call, so a test that builds a state
    /// with tens of thousands of regions turns it off while building and calls
    /// [`Model::check_invariants`] itself.
    pub fn set_step_checks(&mut self, on: bool) {
        self.step_checks = on;
    }

    /// Whether `call` by `pid`, if it succeeds, changes what other processes
    /// can see: a name or file made, emptied or removed, an object's size,
    /// bytes stored through a shared mapping, a file written back. A runner
    /// whose implementation did not run such a call cannot judge any process
    /// after it. Conservative: it may say yes where nothing shows.
    pub fn changes_what_others_see(&self, pid: Pid, call: &Call) -> bool {
        use crate::types::OFlags;
        match call {
            Call::ShmOpen { oflag, .. } | Call::GammaShmOpen { oflag, .. } | Call::Open { oflag, .. } => {
                oflag.intersects(OFlags::CREAT | OFlags::TRUNC)
            }
            // A server file is set-up, made by every implementation (a
            // backend that cannot give it a feature says so and makes it).
            Call::ShmUnlink { .. } | Call::Ftruncate { .. } | Call::Msync { .. } => true,
            Call::Store { addr, data } => {
                let (Some(proc), Some(range)) = (self.procs.get(&pid), AddrRange::new(*addr, Len(data.len() as u64)))
                else {
                    return false;
                };
                proc.space.overlapping(range).any(|r| r.shared)
            }
            _ => false,
        }
    }

    /// System memory charged to non-lazy mappings and objects.
    pub fn committed(&self) -> u64 {
        self.committed
    }

    /// Judges `call` by `pid` in the current state, without changing anything.
    pub fn evaluate(&self, pid: Pid, call: &Call) -> Verdict {
        if !self.procs.contains_key(&pid) {
            return no_such_process();
        }
        match call {
            Call::Spawn {} => self.plan_spawn(pid),
            Call::Exit {} => Verdict::ok(crate::call::Value::Unit, "PROC-EXIT-1"),
            Call::Fork {} => self.plan_fork(pid),
            Call::Cred { .. } => self.plan_cred(pid, &cred_of(call)),
            Call::Umask { .. } => self.plan_umask(pid),
            Call::Getrlimit { resource, target } => self.plan_getrlimit(pid, *resource, *target),
            Call::Setrlimit {
                resource,
                cur,
                max,
                target,
            } => self.plan_setrlimit(pid, *resource, *cur, *max, *target),
            Call::Mmap { .. } => self.plan_mmap(pid, pid, call),
            Call::Munmap { addr, len } => self.plan_munmap(pid, *addr, *len),
            Call::Mprotect { addr, len, prot } => self.plan_mprotect(pid, *addr, *len, *prot),
            Call::Msync { addr, len, flags } => self.plan_msync(pid, *addr, *len, *flags),
            Call::Mlock { addr, len } => self.plan_mlock(pid, *addr, *len),
            Call::Munlock { addr, len } => self.plan_munlock(pid, *addr, *len),
            Call::Mlockall { flags } => self.plan_mlockall(pid, *flags),
            Call::Munlockall {} => Verdict::ok(crate::call::Value::Unit, "LOCK-MUNLOCKALL-1"),
            Call::ShmOpen { name, oflag, mode } => self.plan_shm_open(pid, name, *oflag, *mode),
            Call::ShmUnlink { name } => self.plan_shm_unlink(pid, name),
            Call::Open { path, oflag } => self.plan_open(pid, path, *oflag),
            Call::Ftruncate { fd, len } => self.plan_ftruncate(pid, *fd, *len),
            Call::Close { fd } => self.plan_close(pid, *fd),
            Call::Load { addr, len } => self.plan_load(pid, *addr, *len),
            Call::Store { addr, data } => self.plan_store(pid, *addr, data),
            Call::Dup { fd } => self.plan_dup(pid, *fd),
            Call::Fstat { fd } => self.plan_fstat(pid, *fd),
            Call::FstatFull { fd } => self.plan_fstat_full(pid, *fd),
            Call::Pipe {} => self.plan_pipe(pid),
            Call::MmapPeer { .. } | Call::MunmapPeer { .. } => self.plan_peer(pid, call),
            Call::ResmgrFile { .. } => self.plan_resmgr_file(call),
            Call::IoMmap {
                fd,
                prot,
                offset,
                from_procnto,
            } => self.plan_io_mmap(pid, *fd, *prot, *offset, *from_procnto),
            Call::Meminfo {} => self.plan_meminfo(pid),
            Call::Mlock2 { addr, len, flags } => self.plan_mlock2(pid, *addr, *len, *flags),
            Call::Brk { addr } => self.plan_brk(pid, *addr),
            Call::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => self.plan_mremap(pid, self.remap_args(*old_addr, *old_len, *new_len, *flags, *new_addr)),
            _ => self.plan_library(pid, call),
        }
    }

    /// Applies `outcome` of `call` by `pid`: the effects of a success (adopting
    /// the implementation's free choices: the address, the fd, the pid), or
    /// the documented partial effects of a failure. The caller has checked
    /// that the verdict allows `outcome`; free choices are checked here.
    pub fn apply(&mut self, pid: Pid, call: &Call, outcome: &Outcome) -> Result<(), ApplyError> {
        if !self.procs.contains_key(&pid) {
            return Ok(());
        }
        let result = match call {
            Call::Spawn {} => self.commit_spawn(pid, outcome),
            Call::Exit {} => {
                self.commit_exit(pid);
                Ok(())
            }
            Call::Fork {} => self.commit_fork(pid, outcome),
            Call::Cred { .. } => {
                if outcome.is_ok() {
                    self.commit_cred(pid, &cred_of(call));
                }
                Ok(())
            }
            Call::Umask { mask } => {
                self.commit_umask(pid, *mask);
                Ok(())
            }
            Call::Getrlimit { .. } => Ok(()),
            Call::Setrlimit {
                resource,
                cur,
                max,
                target,
            } => {
                self.commit_setrlimit(pid, *resource, *cur, *max, *target, outcome);
                Ok(())
            }
            Call::Mmap { .. } => self.commit_mmap(pid, pid, call, outcome),
            Call::Munmap { addr, len } => {
                self.commit_munmap(pid, *addr, *len, outcome);
                Ok(())
            }
            Call::Mprotect { addr, len, prot } => {
                self.commit_mprotect(pid, *addr, *len, *prot, outcome);
                Ok(())
            }
            Call::Msync { addr, len, flags } => {
                self.commit_msync(pid, *addr, *len, *flags);
                Ok(())
            }
            Call::Load { addr, len } => {
                self.commit_load(pid, *addr, *len, outcome);
                Ok(())
            }
            Call::Mlock { addr, len } => {
                self.commit_mlock(pid, *addr, *len, outcome, true);
                Ok(())
            }
            Call::Munlock { addr, len } => {
                self.commit_mlock(pid, *addr, *len, outcome, false);
                Ok(())
            }
            Call::Mlockall { flags } => {
                self.commit_mlockall(pid, *flags, outcome);
                Ok(())
            }
            Call::Munlockall {} => {
                self.commit_munlockall(pid);
                Ok(())
            }
            Call::ShmOpen { name, oflag, mode } => self.commit_shm_open(pid, name, *oflag, *mode, outcome),
            Call::ShmUnlink { name } => {
                self.commit_shm_unlink(name, outcome);
                Ok(())
            }
            Call::Open { path, oflag } => self.commit_open(pid, path, *oflag, outcome),
            Call::Ftruncate { fd, len } => {
                self.commit_ftruncate(pid, *fd, *len, outcome);
                Ok(())
            }
            Call::Close { fd } => {
                self.commit_close(pid, *fd, outcome);
                Ok(())
            }
            Call::Store { addr, data } => {
                self.commit_store(pid, *addr, data, outcome);
                Ok(())
            }
            Call::Dup { fd } => self.commit_dup(pid, *fd, outcome),
            Call::Fstat { .. } | Call::FstatFull { .. } => Ok(()),
            Call::Pipe {} => self.commit_pipe(pid, outcome),
            Call::MmapPeer { .. } | Call::MunmapPeer { .. } => self.commit_peer(pid, call, outcome),
            Call::ResmgrFile { .. } => {
                self.commit_resmgr_file_call(call, outcome);
                Ok(())
            }
            Call::IoMmap {
                fd, prot, from_procnto, ..
            } => {
                self.commit_io_mmap(pid, *fd, *prot, *from_procnto, outcome);
                Ok(())
            }
            Call::Meminfo {} => self.commit_meminfo(pid, outcome),
            Call::Mlock2 { addr, len, flags } => {
                self.commit_mlock2(pid, *addr, *len, *flags, outcome);
                Ok(())
            }
            Call::Brk { addr } => self.commit_brk(pid, *addr, outcome),
            Call::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => {
                let remap = self.remap_args(*old_addr, *old_len, *new_len, *flags, *new_addr);
                self.commit_mremap(pid, remap, outcome)
            }
            _ => self.commit_library(pid, call, outcome),
        };
        self.debug_check_invariants();
        result
    }

    /// Evaluates `call` and applies its deterministic outcome (a library call
    /// runs once, for real).
    pub fn step(&mut self, pid: Pid, call: &Call) -> Verdict {
        // Asked here, so that a primitive call skips run_library's set-up.
        if call.is_library() {
            if let Some(run) = self.run_library(pid, call, None) {
                return run.verdict;
            }
        }
        // The application's result is checked where it is made: checked
        // after step_into returned, the verdict is held across one more call
        // that may panic, and moved once more (80 bytes, every call).
        self.step_into(
            pid,
            call,
            |_| true,
            |result| result.expect("the model's own outcome always applies"),
        )
    }

    /// Evaluates `call` (not a library call) and, when `accept` takes the
    /// verdict, applies the model's own outcome: the result of that
    /// application, or `None` when `accept` refused. The same as
    /// [`Model::evaluate`] then [`Model::apply`], but mmap and munmap read
    /// their arguments and run their checks once for both.
    pub fn step_if(&mut self, pid: Pid, call: &Call, accept: impl FnOnce(&Verdict) -> bool) -> (Verdict, Applied) {
        let mut applied = None;
        let verdict = self.step_into(pid, call, accept, |result| applied = Some(result));
        (verdict, applied)
    }

    /// [`Model::step_if`] with the application's result handed to `applied`
    /// (not called when `accept` refused): the verdict is built where the
    /// caller keeps it, not moved out of a pair (a verdict is 80 bytes, and
    /// [`Model::step`] runs per call).
    fn step_into(
        &mut self,
        pid: Pid,
        call: &Call,
        accept: impl FnOnce(&Verdict) -> bool,
        applied: impl FnOnce(Result<(), ApplyError>),
    ) -> Verdict {
        // mmap and munmap look the process up themselves (once).
        match call {
            Call::Mmap { .. } => return self.step_mmap(pid, call, accept, applied),
            Call::Munmap { addr, len } => return self.step_munmap(pid, *addr, *len, accept, applied),
            _ => {}
        }
        let verdict = self.evaluate(pid, call);
        if accept(&verdict) {
            applied(self.apply(pid, call, &verdict.outcome));
        }
        verdict
    }

    /// Drops a removed region's references and charges.
    fn release_region(&mut self, region: &Region) {
        if region.committed {
            self.committed -= region.len();
        }
        if let Backing::Object(id) = region.backing {
            self.objects.expect_mut(id).map_refs -= 1;
            self.release_mmap_ocb_if_unmapped(id);
            self.release_object_if_dead(id);
        }
    }

    /// Frees an object nothing refers to any more, with its charge.
    fn release_object_if_dead(&mut self, id: ObjId) {
        let Some(obj) = self.objects.get(id) else {
            return;
        };
        if !obj.alive() {
            self.committed -= self.object_charge(obj);
            self.objects.collect(id);
        }
    }

    /// The system memory an object itself holds (eager-allocation profiles).
    fn object_charge(&self, obj: &Object) -> u64 {
        match (&obj.kind, self.profile.commit_objects) {
            (ObjKind::Anon | ObjKind::Shm { .. }, true) => self.profile.round_up(obj.size).unwrap_or(u64::MAX),
            _ => 0,
        }
    }

    /// In debug builds, checks every invariant after an applied call. The full
    /// check walks every region, so with many regions it runs every n-th call
    /// (n = regions / 256): a long trace stays linear, not quadratic.
    #[cfg(debug_assertions)]
    fn debug_check_invariants(&mut self) {
        if !self.step_checks {
            return;
        }
        self.applied.0 += 1;
        let regions: usize = self.procs.values().map(|p| p.space.region_count()).sum();
        if self.applied.0 % (regions as u64 / 256).max(1) != 0 {
            return;
        }
        if let Err(e) = self.check_invariants() {
            panic!("model invariant broken: {e}");
        }
    }

    #[cfg(not(debug_assertions))]
    fn debug_check_invariants(&mut self) {}
}

/// The verdict on any call by a process that does not exist (PROC-ESRCH-1).
fn no_such_process() -> Verdict {
    Verdict::only(Outcome::Err(Errno::ESRCH), "PROC-ESRCH-1")
}

/// What [`Model::step_if`] gives for a call by a process that does not
/// exist: the ESRCH verdict, whose application changes nothing.
fn step_no_such_process(
    accept: impl FnOnce(&Verdict) -> bool,
    applied: impl FnOnce(Result<(), ApplyError>),
) -> Verdict {
    let verdict = no_such_process();
    if accept(&verdict) {
        applied(Ok(()));
    }
    verdict
}

/// The arguments of a `Call::Cred`.
fn cred_of(call: &Call) -> process::Cred<'_> {
    let Call::Cred {
        euid,
        cap_ipc_lock,
        egid,
        groups,
    } = call
    else {
        unreachable!("a cred call")
    };
    process::Cred {
        euid: *euid,
        cap_ipc_lock: *cap_ipc_lock,
        egid: *egid,
        groups: groups.as_deref(),
    }
}

impl MemoryManager for Model {
    fn profile_name(&self) -> ProfileName {
        self.profile.name
    }

    fn execute(&mut self, pid: Pid, call: &Call) -> Outcome {
        self.step(pid, call).outcome
    }
}
