//! The real Linux backend: every call executed by real system calls in a
//! worker process per logical process (see DESIGN.md, "The real backend").
//!
//! [`LinuxBackend`] is the driver. It starts the first worker (this crate's
//! binary re-executed in worker mode, [`worker`]), asks it to spawn the
//! others, and translates at the boundary: QNX flag numbers to Linux ones,
//! logical pids to real ones, shm names to the run's prefixed names, trace
//! paths to files in the run's directory, and RLIMIT_AS / RLIMIT_DATA values
//! by the worker's own start-up usage (its baseline), so a limit means in the
//! worker what it means in the model's empty process.
//!
//! What it cannot do faithfully it does not do: a call that would touch the
//! worker's own memory, a resource-manager feature Linux has no counterpart
//! for, a call over the touch budget. Such a call is reported as an
//! [`Incident`] (skipped, loudly), as is a worker that crashed or missed its
//! deadline.

pub mod diff;
pub mod proto;
pub mod rundir;
mod sys;
pub mod worker;

use crate::api::Libraries;
use crate::call::{Call, Outcome, Value, MAX_ACCESS};
use crate::manager::{Incident, MemoryManager};
use crate::profile::{Profile, ProfileName};
use crate::types::linux;
use crate::types::{Addr, Errno, Fd, Len, MapFlags, MremapFlags, Pid, Prot, Resource, Rlimit, Signal, RLIM_INFINITY};
use proto::{Counters, Op, Reply, Request, Status, REPLY_LEN};
use rundir::RunDir;
use rustix::fd::OwnedFd;
use rustix::net::{RecvAncillaryBuffer, RecvAncillaryMessage, RecvFlags};
use std::collections::BTreeMap;
use std::io::{IoSlice, IoSliceMut, Read, Write};
use std::os::unix::net::UnixStream;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// How the backend runs.
#[derive(Clone, Debug)]
pub struct Config {
    /// The binary started in worker mode (default: `MMORACLE_WORKER_EXE`, else this executable).
    pub worker_exe: PathBuf,
    /// How long a worker may take over one call before it is reported hung and killed.
    pub deadline: Duration,
    /// The bytes of mappings a worker may touch (stores, locking, MAP_POPULATE)
    /// before further such calls are skipped.
    pub touch_budget: u64,
}

/// The worker binary a program chose with [`use_worker_exe`].
static WORKER_EXE: std::sync::OnceLock<PathBuf> = std::sync::OnceLock::new();

/// Makes every later default [`Config`] start this binary as the worker (a
/// test harness is not the mmoracle binary, so it names it here). The first
/// call wins.
pub fn use_worker_exe(path: impl Into<PathBuf>) {
    let _ = WORKER_EXE.set(path.into());
}

/// The deadline and touch budget a program chose with [`use_worker_limits`].
static WORKER_LIMITS: std::sync::OnceLock<(Duration, u64)> = std::sync::OnceLock::new();

/// Makes every later default [`Config`] use this deadline per call and this
/// touch budget in bytes (the command line's `--deadline` and
/// `--touch-budget`). The first call wins.
pub fn use_worker_limits(deadline: Duration, touch_budget: u64) {
    let _ = WORKER_LIMITS.set((deadline, touch_budget));
}

impl Default for Config {
    fn default() -> Config {
        let worker_exe = WORKER_EXE
            .get()
            .cloned()
            .or_else(|| std::env::var_os("MMORACLE_WORKER_EXE").map(PathBuf::from))
            .or_else(|| std::env::current_exe().ok())
            .unwrap_or_else(|| PathBuf::from("mmoracle"));
        let (deadline, touch_budget) = WORKER_LIMITS
            .get()
            .copied()
            .unwrap_or((Duration::from_secs(2), 1 << 30));
        Config {
            worker_exe,
            deadline,
            touch_budget,
        }
    }
}

/// The counters the model keeps, as a worker reports them (its baseline subtracted).
pub type WorkerCounters = Counters;

/// A half-open range of the worker's own memory.
type OwnRange = (u64, u64);

struct Worker {
    sock: UnixStream,
    real_pid: i32,
    baseline: Counters,
    own: Vec<OwnRange>,
    /// The PROT_NONE guard below the worker's memory: an access to it faults
    /// as an access to unmapped memory does, so loads and stores may reach it.
    guard: Option<OwnRange>,
    /// Whether an mlockall(MCL_CURRENT) locked the worker's own memory too
    /// (until munlockall): VmLck then counts it.
    own_locked: bool,
    /// The bytes of the worker's own memory mlockall(MCL_CURRENT) locks
    /// (everything but the kernel's special mappings).
    own_lockable: u64,
    /// Whether the process holds CAP_IPC_LOCK (as its cred calls left it).
    cap_ipc_lock: bool,
    /// Whether mlockall(MCL_FUTURE) is in force.
    mcl_future: bool,
    /// The uid (real, effective and saved: cred sets all three).
    euid: u32,
    touched: u64,
    last: Counters,
    /// The start of the worker's own heap (its `[heap]` mapping at hello).
    heap_start: Option<u64>,
    /// The worker's own stack (its `[stack]` mapping at hello), which grows
    /// down like a trace's MAP_GROWSDOWN mapping.
    own_stack: Option<OwnRange>,
    /// Whether the trace made a MAP_GROWSDOWN mapping in this process (or
    /// its parent before a fork): then a load or store may grow it, and
    /// the counters are read after each one.
    stacks: bool,
    /// The break when the trace first asked for it: the worker's own heap
    /// lies below it.
    first_break: Option<u64>,
}

/// The Linux backend.
pub struct LinuxBackend {
    profile: &'static Profile,
    config: Config,
    run: RunDir,
    first: Option<Child>,
    workers: BTreeMap<Pid, Worker>,
    next_pid: u32,
    libs: Libraries,
    incident: Option<Incident>,
    payload: Vec<u8>,
    /// vm.max_map_count.
    max_map_count: u64,
    /// Files made for resmgr_file calls that asked for a read-only mount.
    read_only: std::collections::BTreeSet<PathBuf>,
    /// Files of a server without mmap support (`"mmap":"none"`), and the fds
    /// open on them: Linux has no such file, so mmap of one is skipped.
    unmappable: std::collections::BTreeSet<PathBuf>,
    unmappable_fds: std::collections::BTreeSet<(Pid, i32)>,
    /// Whether a trace set RLIMIT_STACK (then how far the worker's own stack
    /// may grow is read from the worker).
    stack_limit_set: bool,
    /// Pids the model has and this backend made no worker for (a spawn or
    /// fork it could not run faithfully): numbered in step with the model.
    phantoms: std::collections::BTreeSet<Pid>,
}

/// Why the backend could not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// Only the linux profile describes this kernel.
    #[error("the linux backend runs the linux profile only, not {0}")]
    Profile(ProfileName),
    /// The worker could not be started or did not say hello.
    #[error("cannot start a worker ({exe}): {why}")]
    Worker {
        /// The binary.
        exe: String,
        /// What went wrong.
        why: String,
    },
}

const TASK_SIZE: u64 = 0x7FFF_FFFF_F000;
/// Linux's MAP_DROPPABLE share type (6.11).
const DROPPABLE: u32 = 0x8;
const PAGE: u64 = 4096;

impl LinuxBackend {
    /// Starts the first worker: root as this process is, with the profile's initial limits.
    pub fn start(profile: ProfileName, config: Config) -> Result<LinuxBackend, StartError> {
        if !profile.profile().is_this_kernel {
            return Err(StartError::Profile(profile));
        }
        static ONCE: std::sync::Once = std::sync::Once::new();
        ONCE.call_once(|| {
            sys::clean_shm_on_termination();
            sys::at_exit(stop_spare_at_exit);
            rundir::remove_stale();
        });
        reap_dead();
        let run = RunDir::create();
        let exe = config.worker_exe.display().to_string();
        let fail = |why: String| StartError::Worker { exe: exe.clone(), why };
        let limits = initial_limits_env(profile.profile()).map_err(fail)?;
        let first = take_spare(&config.worker_exe, &limits)
            .map_or_else(|| start_first(&config.worker_exe, &limits), Ok)
            .map_err(|e| fail(e.to_string()))?;
        let mut run = run;
        if let Some(dir) = first.read_only {
            // The run owns it from here (and removes it), made or not.
            run.adopt_read_only_dir(dir);
        }
        let (child, ours) = (first.child, first.sock);
        let mut backend = LinuxBackend {
            profile: profile.profile(),
            config,
            run,
            first: Some(child),
            workers: BTreeMap::new(),
            next_pid: 2,
            libs: Libraries::default(),
            incident: None,
            payload: vec![0; proto::MAX_PAYLOAD],
            read_only: Default::default(),
            unmappable: Default::default(),
            unmappable_fds: Default::default(),
            stack_limit_set: false,
            phantoms: Default::default(),
            max_map_count: std::fs::read_to_string("/proc/sys/vm/max_map_count")
                .ok()
                .and_then(|t| t.trim().parse().ok())
                .unwrap_or(65530),
        };
        let w = backend.hello(ours).map_err(|why| {
            fail(format!(
                "{why} (it sets the linux profile's initial limits first; see its message above)"
            ))
        })?;
        backend.workers.insert(Pid(1), w);
        // The next backend's first worker starts while this one runs.
        put_spare(&backend.config.worker_exe, &limits);
        Ok(backend)
    }

    /// The counters of `pid`'s worker after its last call, baseline subtracted.
    pub fn worker_counters(&self, pid: Pid) -> Option<WorkerCounters> {
        let w = self.workers.get(&pid)?;
        Some(Counters {
            vm_size: w.last.vm_size.saturating_sub(w.baseline.vm_size),
            vm_data: w.last.vm_data.saturating_sub(w.baseline.vm_data),
            vm_lck: w.last.vm_lck.saturating_sub(if w.own_locked {
                w.own_lockable
            } else {
                w.baseline.vm_lck
            }),
        })
    }

    /// The real pid of `pid`'s worker.
    pub fn real_pid(&self, pid: Pid) -> Option<i32> {
        self.workers.get(&pid).map(|w| w.real_pid)
    }

    /// The first worker's read-only directory (a read-only bind mount in its
    /// mount namespace), if the machine let it make one.
    pub fn read_only_dir(&self) -> Option<&std::path::Path> {
        self.run.read_only_dir()
    }

    /// The run's shared-memory name prefix.
    pub fn shm_prefix(&self) -> &str {
        self.run.prefix()
    }

    fn hello(&mut self, sock: UnixStream) -> Result<Worker, String> {
        sock.set_read_timeout(Some(self.config.deadline))
            .map_err(|e| e.to_string())?;
        let (reply, _) = receive(&sock, &mut self.payload).map_err(|e| format!("no hello: {e}"))?;
        let maps = String::from_utf8_lossy(&self.payload[..reply.payload as usize]);
        let own = own_ranges(&maps);
        let guard = guard_range(&maps);
        let arena = self.profile.arena;
        if own.iter().any(|&(s, e)| s < arena + (1 << 40) && e > arena) {
            return Err(format!("$ARENA ({arena:#x}) is not free in the worker"));
        }
        Ok(Worker {
            sock,
            real_pid: reply.value as i32,
            baseline: reply.counters,
            own,
            guard,
            own_locked: false,
            own_lockable: lockable_size(&maps),
            cap_ipc_lock: true,
            mcl_future: false,
            euid: 0,
            touched: 0,
            last: reply.counters,
            heap_start: maps
                .lines()
                .find(|l| l.ends_with("[heap]"))
                .and_then(|l| u64::from_str_radix(l.split('-').next()?, 16).ok()),
            first_break: None,
            own_stack: maps.lines().find(|l| l.ends_with("[stack]")).and_then(|l| {
                let (s, e) = l.split_whitespace().next()?.split_once('-')?;
                Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
            }),
            stacks: false,
        })
    }

    /// Reports a call that could not be run faithfully and left the kernel
    /// and the model apart (the caller's later calls cannot be judged).
    fn apart(&mut self, why: impl Into<String>) -> Outcome {
        self.incident = Some(Incident::OutOfStep(why.into()));
        Outcome::Err(Errno::ENOSYS)
    }

    /// Reports a call that was not run and changes nothing the model tracks.
    fn skip(&mut self, why: impl Into<String>) -> Outcome {
        self.incident = Some(Incident::Skipped(why.into()));
        Outcome::Err(Errno::ENOSYS)
    }

    /// Sends one request to `pid`'s worker and waits for the reply.
    fn call(&mut self, pid: Pid, op: Op, a: [u64; 6], payload: &[u8]) -> Result<(Reply, Option<OwnedFd>), Outcome> {
        let Some(w) = self.workers.get_mut(&pid) else {
            return Err(Outcome::Err(Errno::ESRCH));
        };
        // A load or store may grow a MAP_GROWSDOWN mapping (ACCESS-GROW-1).
        let grows = w.stacks && matches!(op, Op::Load | Op::Store);
        let req = Request {
            op,
            counters: op.may_change_counters() || grows,
            a,
            payload: payload.len() as u64,
        };
        let header = req.encode();
        let sent = (&w.sock).write_all_vectored_compat(&header, payload);
        let got = sent.and_then(|()| receive(&w.sock, &mut self.payload));
        match got {
            Ok((reply, fd)) => {
                if req.counters {
                    w.last = reply.counters;
                }
                Ok((reply, fd))
            }
            Err(e) => {
                let w = self.workers.remove(&pid).expect("looked up above");
                if let Some(p) = rustix::process::Pid::from_raw(w.real_pid) {
                    let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                }
                let what = if e.kind() == std::io::ErrorKind::WouldBlock {
                    format!("no reply within {:?}; killed", self.config.deadline)
                } else {
                    format!("it died ({e})")
                };
                self.incident = Some(Incident::WorkerLost(format!(
                    "the worker of pid {pid} (real pid {}) during {op:?}: {what}",
                    w.real_pid
                )));
                Err(Outcome::Err(Errno::ESRCH))
            }
        }
    }

    fn simple(&mut self, pid: Pid, op: Op, a: [u64; 6], payload: &[u8], ok: impl FnOnce(u64) -> Value) -> Outcome {
        match self.call(pid, op, a, payload) {
            Ok((reply, _)) => match reply.status {
                Status::Ok => Outcome::Ok(ok(reply.value)),
                Status::Errno(e) => self.errno(e),
                Status::Signal(s) => self.signal(s),
            },
            Err(o) => o,
        }
    }

    fn errno(&mut self, raw: i32) -> Outcome {
        match Errno::from_linux(raw) {
            Some(e) => Outcome::Err(e),
            None => self.apart(format!(
                "the kernel returned errno {raw}, which the model does not know"
            )),
        }
    }

    fn signal(&mut self, raw: i32) -> Outcome {
        match raw {
            11 => Outcome::Fault(Signal::SIGSEGV),
            7 => Outcome::Fault(Signal::SIGBUS),
            _ => self.skip(format!("loads and stores are not supported here (signal {raw})")),
        }
    }

    /// Whether `[addr, addr+len)` (page-rounded) touches `pid`'s worker's own memory.
    fn touches_own(&self, pid: Pid, addr: u64, len: u64) -> bool {
        self.touches(pid, addr, len, true)
    }

    /// Whether an access to `[addr, addr+len)` could reach the worker's own
    /// memory other than its guard: the first non-guard own range after addr
    /// starts before the end.
    fn access_touches_own(&self, pid: Pid, addr: u64, len: u64) -> bool {
        self.touches(pid, addr, len, false)
    }

    fn touches(&self, pid: Pid, addr: u64, len: u64, guard_too: bool) -> bool {
        let Some(w) = self.workers.get(&pid) else { return false };
        let start = addr & !(PAGE - 1);
        // A range whose page-rounded end wraps past 2^64 is refused (or
        // rounded to nothing) by the kernel before it touches anything.
        let Some(end) = addr
            .checked_add(len.max(1))
            .and_then(|e| crate::types::align_up(e, PAGE))
        else {
            return false;
        };
        w.own
            .iter()
            .filter(|r| guard_too || Some(**r) != w.guard)
            .any(|&(s, e)| s < end && e > start)
    }

    /// Why an access at `addr` cannot be judged where a stack may grow
    /// (ACCESS-GROW-1), or `None`: the hole it lies in ends at the worker's
    /// own stack, which the kernel would grow and the model does not know;
    /// or the worker's own memory (other than its PROT_NONE guard) lies
    /// within the stack guard gap below it, which the kernel counts against a
    /// trace stack's growth (ACCESS-SIGSEGV-4) and the model does not.
    fn growth_near_own(&mut self, pid: Pid, addr: u64) -> Option<&'static str> {
        let page = addr & !(PAGE - 1);
        let stack = self.workers.get(&pid)?.own_stack;
        if let Some((start, end)) = stack.filter(|&(start, _)| page < start) {
            // The stack grows to a page only within RLIMIT_STACK: 8 MiB
            // unless a trace set the limit, then read it.
            let limit = match self.stack_limit_set {
                false => 8 << 20,
                true => self.soft_limit(pid, Resource::RLIMIT_STACK).unwrap_or(u64::MAX),
            };
            let w = self.workers.get(&pid)?;
            let above = w.own.iter().filter(|&&(s, _)| s > page).min_by_key(|&&(s, _)| s);
            if above == Some(&(start, end)) && end - page <= limit {
                return Some("an access in the hole below the worker's own stack, within reach of its growth");
            }
        }
        let w = self.workers.get(&pid)?;
        let gap = self.profile.stack_growth?.guard_gap.0;
        let near = w
            .own
            .iter()
            .filter(|r| Some(**r) != w.guard)
            .any(|&(_, e)| e <= page && page - e < gap);
        (w.stacks && near)
            .then_some("an access where a stack may grow within the guard gap above the worker's own memory")
    }

    fn set_own_locked(&mut self, pid: Pid, on: bool) {
        if let Some(w) = self.workers.get_mut(&pid) {
            w.own_locked = on;
        }
    }

    fn spend(&mut self, pid: Pid, bytes: u64) -> bool {
        let budget = self.config.touch_budget;
        match self.workers.get_mut(&pid) {
            Some(w) if w.touched.saturating_add(bytes) <= budget => {
                w.touched += bytes;
                true
            }
            _ => false,
        }
    }

    /// The usage a limit on `resource` is shifted by in `pid`'s worker.
    fn limit_base(&self, pid: Pid, resource: Resource) -> u64 {
        let Some(w) = self.workers.get(&pid) else { return 0 };
        match resource {
            Resource::RLIMIT_AS => w.baseline.vm_size,
            Resource::RLIMIT_DATA => w.baseline.vm_data,
            _ => 0,
        }
    }

    fn target(&self, pid: Pid, target: Option<Pid>) -> Result<(Pid, u64), Outcome> {
        match target.filter(|t| t.0 != 0 && *t != pid) {
            None => Ok((pid, 0)),
            Some(t) => match self.workers.get(&t) {
                Some(w) => Ok((t, w.real_pid as u64)),
                None => Err(Outcome::Err(Errno::ESRCH)),
            },
        }
    }

    fn rlimit(&mut self, pid: Pid, resource: Resource, set: Option<(u64, u64)>, target: Option<Pid>) -> Outcome {
        let (whose, real) = match self.target(pid, target) {
            Ok(t) => t,
            Err(o) => return o,
        };
        let base = self.limit_base(whose, resource);
        // RLIMIT_DATA's soft limit 0 means "the hard limit" to Linux (the
        // Valgrind exception, MMAP-ENOMEM-1), so 0 stays 0.
        let zero_stays = resource == Resource::RLIMIT_DATA;
        let shift = |v: u64| match v {
            RLIM_INFINITY => v,
            0 if zero_stays => 0,
            v => v.saturating_add(base).min(RLIM_INFINITY - 1),
        };
        let unshift = |v: u64| if v == RLIM_INFINITY { v } else { v.saturating_sub(base) };
        // A finite limit within the worker's own usage of RLIM_INFINITY has
        // no shifted value the kernel could hold and give back.
        let unshiftable = |v: u64| v != RLIM_INFINITY && v.checked_add(base).is_none_or(|s| s == RLIM_INFINITY);
        if let Some((c, m)) = set.filter(|&(c, m)| base != 0 && (unshiftable(c) || unshiftable(m))) {
            return self.apart(format!(
                "a limit of {c:#x}/{m:#x} is within the worker's own usage ({base:#x}) of RLIM_INFINITY, which the kernel cannot hold shifted"
            ));
        }
        let (flag, cur, max) = match set {
            Some((c, m)) => (1, shift(c), shift(m)),
            None => (0, 0, 0),
        };
        let a = [real, resource.linux() as u64, flag, cur, max, 0];
        match self.call(pid, Op::Prlimit, a, &[]) {
            Ok((reply, _)) => match reply.status {
                Status::Ok if set.is_some() => Outcome::UNIT,
                Status::Ok => {
                    let word = |i: usize| u64::from_le_bytes(self.payload[i..i + 8].try_into().expect("8 bytes"));
                    Outcome::Ok(Value::Rlimit(Rlimit {
                        cur: unshift(word(0)),
                        max: unshift(word(8)),
                    }))
                }
                Status::Errno(e) => self.errno(e),
                Status::Signal(s) => self.signal(s),
            },
            Err(o) => o,
        }
    }

    /// Takes the next pid for a child the model makes and this backend does not.
    fn phantom_child(&mut self) {
        self.phantoms.insert(Pid(self.next_pid));
        self.next_pid += 1;
    }

    /// The soft limit of `resource` in `pid`'s worker.
    fn soft_limit(&mut self, pid: Pid, resource: Resource) -> Option<u64> {
        self.limit_pair(pid, resource).map(|(cur, _)| cur)
    }

    /// The soft and hard limit of `resource` in `pid`'s worker.
    fn limit_pair(&mut self, pid: Pid, resource: Resource) -> Option<(u64, u64)> {
        let a = [0, resource.linux() as u64, 0, 0, 0, 0];
        match self.call(pid, Op::Prlimit, a, &[]) {
            Ok((reply, _)) if reply.status == Status::Ok => {
                let word = |i: usize| u64::from_le_bytes(self.payload[i..i + 8].try_into().expect("8 bytes"));
                Some((word(0), word(8)))
            }
            _ => None,
        }
    }

    /// Whether a new process of `pid` is refused under RLIMIT_NPROC
    /// (PROC-EAGAIN-2), or why that cannot be judged here: the kernel counts
    /// every process of the uid on the machine, the model only this run's.
    /// A child that execs (`exec`: spawn) under an odd RLIMIT_STACK gets
    /// another memory layout, or does not start, and cannot be judged either.
    fn new_process_limits(&mut self, pid: Pid, exec: bool) -> Result<bool, String> {
        let uid = self.workers.get(&pid).map_or(0, |w| w.euid);
        let stack = match exec {
            true => self
                .soft_limit(pid, Resource::RLIMIT_STACK)
                .ok_or("RLIMIT_STACK could not be read")?,
            false => 8 << 20, // a forked child keeps its parent's layout
        };
        if !(1 << 20..=1 << 30).contains(&stack) {
            return Err(format!(
                "a child under a soft RLIMIT_STACK of {stack:#x} starts with another memory layout, or not at all"
            ));
        }
        if exec {
            // A new worker keeps its own fds at the top of the fd range, at
            // least at fd 64, and may use up to the hard limit.
            let (_, nofile) = self
                .limit_pair(pid, Resource::RLIMIT_NOFILE)
                .ok_or("RLIMIT_NOFILE could not be read")?;
            if nofile < worker::MIN_FDS {
                return Err(format!(
                    "a child under a hard RLIMIT_NOFILE of {nofile} has no room for the worker's own fds"
                ));
            }
        }
        if uid == 0 {
            return Ok(false); // the root user is never limited
        }
        let limit = self
            .soft_limit(pid, Resource::RLIMIT_NPROC)
            .ok_or("RLIMIT_NPROC could not be read")?;
        let ours = self.workers.values().filter(|w| w.euid == uid).count() as u64;
        if ours >= limit {
            return Ok(true);
        }
        let machine = settled_processes_of_uid(uid, ours) as u64;
        if machine >= limit {
            return Err(format!(
                "{machine} processes of uid {uid} run on this machine, {ours} of them this run's: RLIMIT_NPROC ({limit}) counts them all"
            ));
        }
        Ok(false)
    }

    fn spawn(&mut self, pid: Pid) -> Outcome {
        if self.workers.len() >= self.profile.max_procs {
            return Outcome::Err(Errno::EAGAIN); // PROC-EAGAIN-1: the worker pool's bound
        }
        let nproc_reached = match self.new_process_limits(pid, true) {
            Ok(reached) => reached,
            Err(why) => {
                self.phantom_child(); // the model's spawn takes the next pid
                return self.apart(why);
            }
        };
        match self.call(pid, Op::Spawn, [0; 6], &[]) {
            // PROC-EAGAIN-2: the kernel refused the fork under RLIMIT_NPROC.
            Ok((reply, _)) if nproc_reached && reply.status == Status::Errno(Errno::EAGAIN.linux()) => {
                Outcome::Err(Errno::EAGAIN)
            }
            Ok((reply, fd)) => match (reply.status, fd) {
                (Status::Ok, Some(fd)) => match self.hello(UnixStream::from(fd)) {
                    Ok(mut w) => {
                        w.cap_ipc_lock = self.workers.get(&pid).is_some_and(|p| p.cap_ipc_lock);
                        w.euid = self.workers.get(&pid).map_or(0, |p| p.euid);
                        let child = Pid(self.next_pid);
                        self.next_pid += 1;
                        self.workers.insert(child, w);
                        Outcome::Ok(Value::Pid(child))
                    }
                    Err(why) => {
                        self.incident = Some(Incident::WorkerLost(format!(
                            "the child of pid {pid} did not start: {why}"
                        )));
                        Outcome::Err(Errno::EAGAIN)
                    }
                },
                (Status::Errno(e), _) => {
                    // The model's spawn took the next pid; keep the numbering in step.
                    self.phantom_child();
                    self.apart(format!(
                    "the worker could not start a child worker (errno {e}; under its limits or its MCL_FUTURE lock limit)"
                    ))
                }
                _ => self.apart("spawn replied without a socket"),
            },
            Err(o) => o,
        }
    }

    fn fstat_full(&mut self, pid: Pid, fd: Fd) -> Outcome {
        match self.call(pid, Op::FstatFull, [fd.0 as i64 as u64, 0, 0, 0, 0, 0], &[]) {
            Ok((reply, _)) => match reply.status {
                Status::Ok => {
                    let p = &self.payload;
                    let word = |at: usize| u32::from_le_bytes(p[at..at + 4].try_into().expect("4 bytes"));
                    Outcome::Ok(Value::Status(crate::call::FileStatus {
                        size: u64::from_le_bytes(p[..8].try_into().expect("8 bytes")),
                        uid: word(8),
                        gid: word(12),
                        mode: word(16),
                    }))
                }
                Status::Errno(e) => self.errno(e),
                Status::Signal(s) => self.signal(s),
            },
            Err(o) => o,
        }
    }

    /// fork: a real fork() in `pid`'s worker, whose child serves on a new
    /// socket with the parent's memory layout (so the driver's view of the
    /// worker's own memory is the parent's).
    fn fork(&mut self, pid: Pid) -> Outcome {
        if self.workers.len() >= self.profile.max_procs {
            return Outcome::Err(Errno::EAGAIN); // PROC-EAGAIN-1: the worker pool's bound
        }
        let nproc_reached = match self.new_process_limits(pid, false) {
            Ok(reached) => reached,
            Err(why) => {
                self.phantom_child(); // the model's fork takes the next pid
                return self.apart(why);
            }
        };
        let (reply, fd) = match self.call(pid, Op::Fork, [0; 6], &[]) {
            Ok(got) => got,
            Err(o) => return o,
        };
        match (reply.status, fd) {
            // PROC-EAGAIN-2: the kernel refused the fork under RLIMIT_NPROC.
            (Status::Errno(e), _) if nproc_reached && e == Errno::EAGAIN.linux() => Outcome::Err(Errno::EAGAIN),
            (Status::Ok, Some(fd)) => self.forked(pid, UnixStream::from(fd)),
            (Status::Errno(e), _) => {
                self.phantom_child(); // the model's fork took the next pid
                self.apart(format!("the worker could not fork (errno {e})"))
            }
            _ => self.apart("fork replied without a socket"),
        }
    }

    /// The forked child of `parent`, once it said hello on `sock`.
    fn forked(&mut self, parent: Pid, sock: UnixStream) -> Outcome {
        let hello = sock
            .set_read_timeout(Some(self.config.deadline))
            .and_then(|()| receive(&sock, &mut self.payload));
        let hello = match hello {
            Ok((reply, _)) => reply,
            Err(e) => {
                self.incident = Some(Incident::WorkerLost(format!(
                    "the forked child of pid {parent} said no hello: {e}"
                )));
                return Outcome::Err(Errno::EAGAIN);
            }
        };
        let p = &self.workers[&parent];
        let w = Worker {
            sock,
            real_pid: hello.value as i32,
            baseline: p.baseline,
            own: p.own.clone(),
            guard: p.guard,
            own_locked: false, // no lock survives a fork
            own_lockable: p.own_lockable,
            cap_ipc_lock: p.cap_ipc_lock,
            mcl_future: false,
            euid: p.euid,
            touched: 0,
            last: hello.counters,
            // The child's heap and break are the parent's.
            heap_start: p.heap_start,
            first_break: p.first_break,
            own_stack: p.own_stack,
            stacks: p.stacks,
        };
        let child = Pid(self.next_pid);
        self.next_pid += 1;
        self.workers.insert(child, w);
        let inherited: Vec<(Pid, i32)> = self
            .unmappable_fds
            .iter()
            .filter(|(p, _)| *p == parent)
            .map(|(_, fd)| (child, *fd))
            .collect();
        self.unmappable_fds.extend(inherited);
        Outcome::Ok(Value::Pid(child))
    }

    fn exit(&mut self, pid: Pid) -> Outcome {
        let out = self.simple(pid, Op::Exit, [0; 6], &[], |_| Value::Unit);
        // Gone before the next call: its parent reaps it, and it no longer
        // counts against its uid's RLIMIT_NPROC (nor is left to init, as it
        // would be if its parent ended first).
        // Root is never limited, so only other uids wait.
        if let Some(w) = self.workers.remove(&pid).filter(|w| w.euid != 0) {
            if let Some(p) = rustix::process::Pid::from_raw(w.real_pid) {
                wait_gone(p, Duration::from_millis(200));
            }
        }
        self.unmappable_fds.retain(|(p, _)| *p != pid);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn mmap(&mut self, pid: Pid, addr: Addr, len: Len, prot: Prot, flags: MapFlags, fd: Fd, off: u64) -> Outcome {
        if flags.share_type() == DROPPABLE {
            return self.skip("share type 8 is Linux's MAP_DROPPABLE, which the model does not know");
        }
        if !flags.contains(MapFlags::ANON) && self.unmappable_fds.contains(&(pid, fd.0)) {
            return self.skip("mmap of a file whose server has no mmap support: Linux has no such file");
        }
        let fixed = flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE);
        if fixed && self.touches_own(pid, addr.0, len.0) {
            return self.apart("a MAP_FIXED mapping over the worker's own memory");
        }
        let w = &self.workers[&pid];
        let populates = flags.intersects(MapFlags::POPULATE | MapFlags::LOCKED) || (w.mcl_future && w.cap_ipc_lock);
        let locks = flags.contains(MapFlags::LOCKED) || w.mcl_future;
        if populates && !self.spend(pid, len.0) {
            return self
                .apart("a mapping that is populated (MAP_POPULATE, MAP_LOCKED, MCL_FUTURE) over the touch budget");
        }
        let a = [
            addr.0,
            len.0,
            linux_prot(prot),
            linux_map_flags(flags),
            fd.0 as i64 as u64,
            off,
        ];
        let out = self.simple(pid, Op::Mmap, a, &[], |v| Value::Addr(Addr(v)));
        if flags.contains(MapFlags::GROWSDOWN) && out.is_ok() {
            if let Some(w) = self.workers.get_mut(&pid) {
                w.stacks = true;
            }
        }
        if out == Outcome::Err(Errno::ENOMEM) && !fixed && self.longer_than_any_hole(pid, len.0) {
            return self.apart("no room for this mapping beside the worker's own memory");
        }
        if locks && out == Outcome::Err(Errno::EAGAIN) {
            return self.own_lock_effect(pid, out);
        }
        self.map_count_effect(pid, out)
    }

    /// Whether `len` bytes fit in no hole the worker's own memory leaves
    /// (asked only once the kernel refused a floating mapping).
    fn longer_than_any_hole(&self, pid: Pid, len: u64) -> bool {
        let w = &self.workers[&pid];
        len > largest_hole(w.own.iter().chain(&w.guard), self.profile.user_start, TASK_SIZE)
    }

    /// A lock-limit failure that the worker's own locked memory may have
    /// caused (it counts in the kernel, not in the model) is skipped.
    fn own_lock_effect(&mut self, pid: Pid, out: Outcome) -> Outcome {
        let w = &self.workers[&pid];
        if !w.cap_ipc_lock && w.own_locked {
            return self
                .apart("the worker's own memory, locked by mlockall(MCL_CURRENT), counts against the lock limit here");
        }
        out
    }

    /// An ENOMEM that the worker's own mappings may have caused by counting
    /// against vm.max_map_count is skipped.
    fn map_count_effect(&mut self, pid: Pid, out: Outcome) -> Outcome {
        if out != Outcome::Err(Errno::ENOMEM) {
            return out;
        }
        let own = self.workers[&pid].own.len() as u64;
        match self.call(pid, Op::MapCount, [0; 6], &[]) {
            Ok((reply, _)) if reply.value + own + 2 >= self.max_map_count => {
                self.apart("the worker's own mappings count against vm.max_map_count here")
            }
            Ok(_) => out,
            Err(o) => o,
        }
    }

    /// meminfo: the counters less the worker's baseline, and the map count
    /// less the worker's own mappings (the worker leaves them out).
    fn meminfo(&mut self, pid: Pid) -> Outcome {
        match self.call(pid, Op::Meminfo, [0; 6], &[]) {
            Ok((reply, _)) => {
                let c = self.worker_counters(pid).unwrap_or_default();
                Outcome::Ok(Value::Meminfo(crate::call::MemInfo {
                    vm_size: c.vm_size,
                    vm_data: c.vm_data,
                    vm_lck: c.vm_lck,
                    map_count: reply.value,
                }))
            }
            Err(o) => o,
        }
    }

    /// brk, kept off the worker's own heap. What the kernel would judge by
    /// the worker's own memory rather than the trace's is skipped: a break
    /// below the one the worker started with, a heap over RLIMIT_DATA that
    /// does not grow (check_data_rlimit() counts the worker's data segment
    /// and heap, which the limit's shift does not cover), growth next to the
    /// worker's memory, and a refused growth its own locked memory or
    /// mappings may have caused.
    fn brk(&mut self, pid: Pid, addr: Addr) -> Outcome {
        let now = match self.call(pid, Op::Brk, [0; 6], &[]) {
            Ok((reply, _)) => reply.value,
            Err(o) => return o,
        };
        let w = self.workers.get_mut(&pid).expect("it just answered");
        let first = *w.first_break.get_or_insert(now);
        if addr.0 < first && addr.0 >= w.heap_start.unwrap_or(first) {
            return self.apart("brk below the break the worker started with would free the worker's own heap");
        }
        let top = |v: u64| crate::types::align_up(v, PAGE);
        let growth = top(addr.0).zip(top(now)).filter(|(new, old)| new > old);
        if growth.is_none() && addr.0 >= first {
            if let Outcome::Ok(Value::Rlimit(data)) = self.rlimit(pid, Resource::RLIMIT_DATA, None, None) {
                if data.cur != RLIM_INFINITY && data.cur != 0 && addr.0 - first > data.cur {
                    return self
                        .apart("brk with the heap over RLIMIT_DATA: the kernel counts the worker's own data there");
                }
            }
        }
        if let Some((new, old)) = growth {
            if self.touches_own(pid, old, (new - old).saturating_add(PAGE)) {
                return self.apart("brk growth next to the worker's own memory");
            }
            if self.workers[&pid].mcl_future && !self.spend(pid, new - old) {
                return self.apart("brk under MCL_FUTURE over the touch budget");
            }
        }
        let out = self.simple(pid, Op::Brk, [addr.0, 0, 0, 0, 0, 0], &[], |v| Value::Addr(Addr(v)));
        if growth.is_some() && out == Outcome::Ok(Value::Addr(Addr(now))) {
            let w = &self.workers[&pid];
            if w.mcl_future && !w.cap_ipc_lock && w.own_locked {
                return self.apart(
                    "the worker's own memory, locked by mlockall(MCL_CURRENT), counts against the lock limit here",
                );
            }
            let checked = self.map_count_effect(pid, Outcome::Err(Errno::ENOMEM));
            if self.incident.is_some() {
                return checked;
            }
        }
        out
    }

    /// mremap, kept off the worker's own memory; what the worker's own
    /// memory may have decided (no room beside it, its locked memory, its
    /// mappings' count) is skipped.
    fn mremap(&mut self, pid: Pid, old: Addr, old_len: Len, new_len: Len, flags: MremapFlags, to: Addr) -> Outcome {
        let fixed = flags.contains(MremapFlags::FIXED);
        if self.touches_own(pid, old.0, old_len.0.max(1)) {
            return self.apart("mremap of the worker's own memory");
        }
        if fixed && self.touches_own(pid, to.0, new_len.0) {
            return self.apart("an MREMAP_FIXED move over the worker's own memory");
        }
        // Growth in place would meet the worker's own memory, which the
        // model does not know is there.
        let grows_into = old.0.checked_add(old_len.0).filter(|_| new_len.0 > old_len.0);
        if grows_into.is_some_and(|end| self.touches_own(pid, end, new_len.0 - old_len.0)) {
            return self.apart("mremap growth next to the worker's own memory");
        }
        // A locked mapping that grows is populated (a new length past the
        // address space is refused before anything is).
        let growth = if new_len.0 <= TASK_SIZE {
            new_len.0.saturating_sub(old_len.0)
        } else {
            0
        };
        if !self.spend(pid, growth) {
            return self.apart("mremap growth over the touch budget");
        }
        let a = [old.0, old_len.0, new_len.0, u64::from(linux::mremap(flags)), to.0, 0];
        let locked_before = self.workers[&pid].last.vm_lck;
        let out = self.simple(pid, Op::Mremap, a, &[], |v| Value::Addr(Addr(v)));
        if flags.contains(MremapFlags::DONTUNMAP) && out.is_ok() && self.workers[&pid].last.vm_lck > locked_before {
            return self.apart(
                "MREMAP_DONTUNMAP of locked memory: the kernel unlocks the old range but keeps it counted in VmLck",
            );
        }
        let refused = out == Outcome::Err(Errno::ENOMEM) && flags.contains(MremapFlags::MAYMOVE) && !fixed;
        if refused && self.longer_than_any_hole(pid, new_len.0) {
            return self.apart("no room for this mapping beside the worker's own memory");
        }
        if out == Outcome::Err(Errno::EAGAIN) {
            return self.own_lock_effect(pid, out);
        }
        self.map_count_effect(pid, out)
    }

    /// munmap, leaving out the worker's own memory: unmapping a range that
    /// covers it unmaps the trace's mappings in the range and nothing else.
    fn munmap(&mut self, pid: Pid, addr: Addr, len: Len) -> Outcome {
        let valid = addr.0 % PAGE == 0
            && len.0 != 0
            && crate::types::align_up(len.0, PAGE)
                .is_some_and(|l| addr.0.checked_add(l).is_some_and(|e| e <= TASK_SIZE));
        if !valid || !self.touches_own(pid, addr.0, len.0) {
            let out = self.simple(pid, Op::Munmap, [addr.0, len.0, 0, 0, 0, 0], &[], |_| Value::Unit);
            return self.map_count_effect(pid, out);
        }
        let end = addr.0 + crate::types::align_up(len.0, PAGE).expect("checked");
        let own = self.workers[&pid].own.clone();
        let mut at = addr.0;
        for (s, e) in own.into_iter().filter(|&(s, e)| s < end && e > addr.0) {
            if s > at {
                let out = self.simple(pid, Op::Munmap, [at, s - at, 0, 0, 0, 0], &[], |_| Value::Unit);
                if out != Outcome::UNIT {
                    return out;
                }
            }
            at = at.max(e);
        }
        if at < end {
            return self.simple(pid, Op::Munmap, [at, end - at, 0, 0, 0, 0], &[], |_| Value::Unit);
        }
        Outcome::UNIT
    }

    fn ranged(&mut self, pid: Pid, op: Op, addr: Addr, len: Len, arg: u64) -> Outcome {
        if self.touches_own(pid, addr.0, len.0) {
            return match self.below_guard(pid, addr.0) {
                Some(room) => self.up_to_guard(pid, op, addr, room, arg),
                None => self.apart(format!("{op:?} over the worker's own memory")),
            };
        }
        // mlock can lock no more than is mapped.
        let mapped = self.worker_counters(pid).map_or(0, |c| c.vm_size);
        if op.locks() && !self.spend(pid, len.0.min(mapped)) {
            return self.apart("mlock over the touch budget");
        }
        let out = self.simple(pid, op, [addr.0, len.0, arg, 0, 0, 0], &[], |_| Value::Unit);
        let out = if op.locks() && out == Outcome::Err(Errno::ENOMEM) {
            self.own_lock_effect(pid, out)
        } else {
            out
        };
        if self.incident.is_some() {
            return out;
        }
        self.map_count_effect(pid, out)
    }

    /// The bytes from `addr` up to the worker's guard when the guard is the
    /// first of the worker's memory at or after `addr` (and `addr` is below it).
    fn below_guard(&self, pid: Pid, addr: u64) -> Option<u64> {
        let w = self.workers.get(&pid)?;
        let guard = w.guard?;
        let first_own = w.own.iter().filter(|r| r.1 > addr).min_by_key(|r| r.0)?;
        (*first_own == guard && addr < guard.0).then(|| guard.0 - (addr & !(PAGE - 1)))
    }

    /// A ranged call that runs into the guard: the model sees unmapped memory
    /// there, so the call runs on the part below the guard and a success
    /// becomes the ENOMEM of a hole (Linux changes the mapped part before a
    /// hole, and so does the linux profile: mprotect_partial_on_hole).
    fn up_to_guard(&mut self, pid: Pid, op: Op, addr: Addr, room: u64, arg: u64) -> Outcome {
        let out = self.simple(pid, op, [addr.0, room, arg, 0, 0, 0], &[], |_| Value::Unit);
        if out.is_ok() {
            Outcome::Err(Errno::ENOMEM)
        } else if op.locks() && out == Outcome::Err(Errno::ENOMEM) {
            self.own_lock_effect(pid, out)
        } else {
            out
        }
    }

    /// The real name for a trace's shm name. A name glibc or the kernel
    /// refuses (empty, an inner slash, `.` or `..`, longer than NAME_MAX) is
    /// passed as it is, so it fails as it would, creating nothing. A valid
    /// one gets the run's prefix; when the prefix would make it too long, the
    /// prefix and a hash of the name stand for it (the name was valid, so
    /// the object must be creatable).
    fn shm_name(&mut self, name: &str) -> String {
        const NAME_MAX: usize = 255;
        let bare = name.trim_start_matches('/');
        let refused = bare.is_empty() || bare.contains('/') || bare == "." || bare == ".." || bare.len() > NAME_MAX;
        if refused {
            return name.to_string();
        }
        self.run.shm_name(bare)
    }

    /// Access mode 3 (O_WRONLY|O_RDWR): Linux opens such an fd for neither
    /// reading nor writing (while checking both permissions); the model reads
    /// it as read-write. The call is run read-write, so that what it does to
    /// names and files other processes see (O_CREAT, O_TRUNC) is done, but
    /// it is not judged, and the process is out of step.
    fn with_access_mode_3(
        &mut self,
        oflag: crate::types::OFlags,
        run: impl FnOnce(&mut Self, crate::types::OFlags) -> Outcome,
    ) -> Outcome {
        if oflag.bits() & 3 != 3 {
            return run(self, oflag);
        }
        let _ = run(self, oflag - crate::types::OFlags::WRONLY);
        self.apart("access mode 3 (O_WRONLY|O_RDWR), which Linux opens for neither reading nor writing, is not in the model (the call ran read-write)")
    }

    fn shm_open(&mut self, pid: Pid, name: &str, oflag: crate::types::OFlags, mode: u32) -> Outcome {
        self.with_access_mode_3(oflag, |b, oflag| b.shm_open_as(pid, name, oflag, mode))
    }

    fn shm_open_as(&mut self, pid: Pid, name: &str, oflag: crate::types::OFlags, mode: u32) -> Outcome {
        let real = self.shm_name(name);
        let a = [linux_oflags(oflag), u64::from(mode), 0, 0, 0, 0];
        self.simple(pid, Op::ShmOpen, a, real.as_bytes(), |v| Value::Fd(Fd(v as i32)))
    }

    fn shm_unlink(&mut self, pid: Pid, name: &str) -> Outcome {
        let real = self.shm_name(name);
        self.simple(pid, Op::ShmUnlink, [0; 6], real.as_bytes(), |_| Value::Unit)
    }

    fn open(&mut self, pid: Pid, path: &str, oflag: crate::types::OFlags) -> Outcome {
        self.with_access_mode_3(oflag, |b, oflag| b.open_as(pid, path, oflag))
    }

    fn open_as(&mut self, pid: Pid, path: &str, mut oflag: crate::types::OFlags) -> Outcome {
        let real = match path {
            "/dev/zero" | "/dev/null" => PathBuf::from(path),
            "/dev/mem" => return Outcome::Err(Errno::ENOENT), // never opened; absent on this kernel
            // A device path that does not exist fails as it would (ENOENT),
            // and never creates anything in the machine's /dev: the model's
            // devices are fixed (OPEN-ENOENT-1), so O_CREAT goes.
            p if p.starts_with("/dev/") && !std::path::Path::new(p).exists() => {
                oflag.remove(crate::types::OFlags::CREAT);
                PathBuf::from(p)
            }
            p if p.starts_with("/dev/") || p == "/dev" => {
                return self.skip(format!("{p}: the backend opens no device but /dev/zero and /dev/null"))
            }
            p if !p.starts_with('/') => return self.skip(format!("{p}: a relative path")),
            p => {
                // The modelled resource manager creates no files
                // (OPEN-ENOENT-1): an O_CREAT open of a path it does not
                // hold fails as a plain open does.
                if !self.run.has_file(p) {
                    oflag.remove(crate::types::OFlags::CREAT);
                }
                self.run.file(p)
            }
        };
        if oflag.writable() && self.read_only.contains(&real) {
            if !self.run.is_read_only(&real) {
                return self.skip("opening a file of a read-only mount for writing");
            }
            if self.workers.get(&pid).is_some_and(|w| w.euid != 0) {
                // A read-only bind mount is checked after the permission
                // bits (mnt_want_write in do_dentry_open), a read-only file
                // system before them (sb_permission), which is what the
                // model's OPEN-EROFS-1 then OPEN-EACCES-1 describe.
                return self.skip("opening a file of a read-only mount for writing as a user other than root: a read-only bind mount checks permissions before read-only-ness, a read-only file system after");
            }
        }
        let Some(real) = real.to_str().map(str::to_string) else {
            return self.skip("a path that is not UTF-8");
        };
        let unmappable = self.unmappable.contains(std::path::Path::new(&real));
        let out = self.simple(
            pid,
            Op::Open,
            [linux_oflags(oflag), 0, 0, 0, 0, 0],
            real.as_bytes(),
            |v| Value::Fd(Fd(v as i32)),
        );
        if let (true, Outcome::Ok(Value::Fd(fd))) = (unmappable, &out) {
            self.unmappable_fds.insert((pid, fd.0));
        }
        out
    }

    fn load(&mut self, pid: Pid, addr: Addr, len: Len) -> Outcome {
        if len.0 > MAX_ACCESS {
            return Outcome::Err(Errno::EINVAL); // ACCESS-EINVAL-1: the trace format's bound
        }
        if self.access_touches_own(pid, addr.0, len.0) {
            return self.skip("a load from the worker's own memory");
        }
        if let Some(why) = self.growth_near_own(pid, addr.0) {
            return self.apart(why);
        }
        match self.call(pid, Op::Load, [addr.0, len.0, 0, 0, 0, 0], &[]) {
            Ok((reply, _)) => match reply.status {
                Status::Ok => Outcome::Ok(Value::Bytes(self.payload[..reply.payload as usize].to_vec())),
                Status::Errno(e) => self.errno(e),
                Status::Signal(s) => self.signal(s),
            },
            Err(o) => o,
        }
    }

    fn store(&mut self, pid: Pid, addr: Addr, data: &[u8]) -> Outcome {
        if data.len() as u64 > MAX_ACCESS {
            return Outcome::Err(Errno::EINVAL);
        }
        if self.access_touches_own(pid, addr.0, data.len() as u64) {
            return self.apart("a store into the worker's own memory");
        }
        if let Some(why) = self.growth_near_own(pid, addr.0) {
            return self.apart(why);
        }
        if !self.spend(pid, data.len() as u64) {
            return self.apart("a store over the touch budget");
        }
        self.simple(pid, Op::Store, [addr.0, 0, 0, 0, 0, 0], data, |_| Value::Unit)
    }

    /// resmgr_file: a real regular file in the run directory, with the
    /// data, size, mode and owner asked for. What a Linux file cannot be (a
    /// read-only mount, mandatory locking, a failing server) is skipped.
    fn resmgr_file(&mut self, call: &Call) -> Outcome {
        let Call::ResmgrFile {
            path,
            mode,
            uid,
            data,
            size,
            readonly,
            fs,
            mandatory_lock,
            ocb_alloc_fails,
            mmap,
        } = call
        else {
            unreachable!("resmgr_file")
        };
        // RESMGR-EINVAL-1: the set-up's own rule, the model's predicate.
        if crate::model::resmgr::resmgr_file_is_invalid(call, self.profile) {
            return Outcome::Err(Errno::EINVAL);
        }
        if self.run.has_file(path) {
            return Outcome::Err(Errno::EEXIST); // RESMGR-EEXIST-1
        }
        let real = match self.run.make_file(path, *fs, *readonly) {
            Ok(real) => real,
            Err(why) => return self.apart(why),
        };
        if mmap == "none" {
            self.unmappable.insert(real.clone());
        }
        let made = match write_file(&real, *mode, *uid, data, *size) {
            Ok(()) => Outcome::UNIT,
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => return Outcome::Err(Errno::EEXIST),
            Err(e) => return self.skip(format!("creating {}: {e}", real.display())),
        };
        if *readonly {
            self.read_only.insert(real.clone());
            if !self.run.is_read_only(&real) {
                // The file exists (writable); opens for writing are skipped, so
                // reading it runs for real and fds stay in step with the model.
                return self.skip("a file on a read-only mount: the first worker could not make a read-only bind mount in a mount namespace of its own (it needs root); opens for writing are skipped");
            }
        }
        if *mandatory_lock || *ocb_alloc_fails || mmap != "iofunc" {
            return self.skip("a server file feature Linux has no counterpart for (mandatory lock, OCB failure, own mmap handler); the file is a plain one");
        }
        made
    }
}

fn write_file(path: &std::path::Path, mode: u32, uid: u32, data: &[u8], size: u64) -> std::io::Result<()> {
    use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(path)?;
    f.write_all(data)?;
    f.set_len(size.max(data.len() as u64))?;
    std::os::unix::fs::fchown(&f, Some(uid), Some(crate::model::resmgr::SERVER_GID))?;
    f.set_permissions(std::fs::Permissions::from_mode(mode & 0o7777))?;
    Ok(())
}

/// A started first worker: the process, the driver's end of its socket, and
/// the directory made for its read-only mount (see [`start_first`]).
struct FirstWorker {
    child: Child,
    sock: UnixStream,
    read_only: Option<PathBuf>,
}

/// A first worker started ahead of time, with the binary and limits it was started for.
struct Spare {
    exe: PathBuf,
    limits: String,
    worker: FirstWorker,
}

static SPARE: std::sync::Mutex<Option<Spare>> = std::sync::Mutex::new(None);

/// Killed first workers not reaped yet.
static DYING: std::sync::Mutex<Vec<Child>> = std::sync::Mutex::new(Vec::new());

/// Waits until `pid` no longer exists (a killed worker its parent reaps), at
/// most `limit`.
fn wait_gone(pid: rustix::process::Pid, limit: Duration) {
    let deadline = std::time::Instant::now() + limit;
    while rustix::process::test_kill_process(pid).is_ok() && std::time::Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(100));
    }
}

/// The longest free range of `[start, end)` that `taken` (the worker's own
/// memory) leaves: a floating mapping longer than it fits nowhere in the
/// worker, while the model, which has no such memory, may place it.
fn largest_hole<'a>(taken: impl Iterator<Item = &'a OwnRange>, start: u64, end: u64) -> u64 {
    let mut taken: Vec<OwnRange> = taken.copied().collect();
    taken.sort_unstable();
    let (mut largest, mut from) = (0, start);
    for &(lo, hi) in &taken {
        largest = largest.max(lo.min(end).saturating_sub(from));
        from = from.max(hi);
    }
    largest.max(end.saturating_sub(from))
}

/// Reaps the killed workers that have finished dying, without waiting.
fn reap_dead() {
    DYING
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .retain_mut(|c| matches!(c.try_wait(), Ok(None)));
}

/// The first worker: the binary in worker mode, the socket as its stdin,
/// the profile's initial limits in its environment (it sets them before
/// it measures its start-up usage), and a fresh directory it makes a
/// read-only bind mount of in a mount namespace of its own (or removes,
/// where the machine does not let it). The driver makes the directory, so
/// the termination handler finds it even before the worker has started.
fn start_first(exe: &std::path::Path, limits: &str) -> std::io::Result<FirstWorker> {
    let (ours, theirs) = UnixStream::pair()?;
    let read_only = rundir::make_read_only_dir();
    let mut command = Command::new(exe);
    if let Some(dir) = &read_only {
        command.env(worker::READ_ONLY_ENV, dir);
    }
    let spawned = command
        .env(worker::WORKER_ENV, "first")
        .env(worker::LIMITS_ENV, limits)
        .stdin(Stdio::from(OwnedFd::from(theirs)))
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn();
    match spawned {
        Ok(child) => Ok(FirstWorker {
            child,
            sock: ours,
            read_only,
        }),
        Err(e) => {
            if let Some(dir) = read_only {
                let _ = std::fs::remove_dir(dir);
            }
            Err(e)
        }
    }
}

fn take_spare(exe: &std::path::Path, limits: &str) -> Option<FirstWorker> {
    let mut slot = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    match slot.take() {
        Some(s) if s.exe == exe && s.limits == limits => Some(s.worker),
        Some(other) => {
            stop_spare(other);
            None
        }
        None => None,
    }
}

/// Stops the spare first worker (started ahead for a next backend that will
/// not come) and removes its read-only directory, when the program exits.
extern "C" fn stop_spare_at_exit() {
    let spare = SPARE.lock().unwrap_or_else(|e| e.into_inner()).take();
    if let Some(s) = spare {
        stop_spare(s);
    }
}

/// Kills a spare first worker and removes its read-only directory.
fn stop_spare(mut s: Spare) {
    let _ = s.worker.child.kill();
    let _ = s.worker.child.wait();
    if let Some(dir) = s.worker.read_only {
        let _ = std::fs::remove_dir_all(dir);
    }
}

fn put_spare(exe: &std::path::Path, limits: &str) {
    let mut slot = SPARE.lock().unwrap_or_else(|e| e.into_inner());
    if slot.is_none() {
        if let Ok(worker) = start_first(exe, limits) {
            *slot = Some(Spare {
                exe: exe.to_path_buf(),
                limits: limits.to_string(),
                worker,
            });
        }
    }
}

/// The profile's initial limits as the first worker reads them
/// (`resource=cur:max,...`, Linux numbers). RLIMIT_AS and RLIMIT_DATA would
/// have to be shifted by the worker's start-up usage, which is not known
/// yet, so a profile must leave them unlimited.
fn initial_limits_env(profile: &Profile) -> Result<String, String> {
    let mut parts = Vec::new();
    for r in Resource::ALL {
        let Rlimit { cur, max } = profile.initial_limits[r.index()];
        let shifted = matches!(r, Resource::RLIMIT_AS | Resource::RLIMIT_DATA);
        if shifted && (cur, max) != (RLIM_INFINITY, RLIM_INFINITY) {
            return Err(format!(
                "the profile's initial {r} must be unlimited for the real backend"
            ));
        }
        parts.push(format!("{}={cur}:{max}", r.linux()));
    }
    Ok(parts.join(","))
}

/// How many processes of real uid `uid` run, once workers that are ending
/// (an exited or killed worker is counted until it is gone) had a moment to
/// go: waits up to 200 ms for the count to come down to `ours`.
fn settled_processes_of_uid(uid: u32, ours: u64) -> usize {
    let mut count = processes_of_uid(uid);
    for _ in 0..40 {
        if count as u64 <= ours {
            break;
        }
        std::thread::sleep(Duration::from_millis(5));
        count = processes_of_uid(uid);
    }
    count
}

/// How many processes of real uid `uid` this machine runs (/proc/*/status).
fn processes_of_uid(uid: u32) -> usize {
    let Ok(dir) = std::fs::read_dir("/proc") else { return 0 };
    dir.filter_map(|e| {
        let e = e.ok()?;
        e.file_name().to_str()?.parse::<u32>().ok()?;
        let status = std::fs::read_to_string(e.path().join("status")).ok()?;
        let line = status.lines().find(|l| l.starts_with("Uid:"))?;
        let real: u32 = line.split_whitespace().nth(1)?.parse().ok()?;
        (real == uid).then_some(())
    })
    .count()
}

/// The worker's own ranges from its /proc/self/maps.
fn own_ranges(maps: &str) -> Vec<OwnRange> {
    maps.lines()
        .filter_map(|l| {
            let range = l.split_whitespace().next()?;
            let (s, e) = range.split_once('-')?;
            Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
        })
        .filter(|&(s, _)| s < TASK_SIZE)
        .collect()
}

/// The bytes of the worker's mappings that mlockall locks: all but the
/// kernel's special mappings (VM_SPECIAL: [vvar], [vdso]).
fn lockable_size(maps: &str) -> u64 {
    maps.lines()
        .filter(|l| !(l.contains("[vvar") || l.contains("[vdso]") || l.contains("[vsyscall]")))
        .filter_map(|l| {
            let (s, e) = l.split_whitespace().next()?.split_once('-')?;
            Some(u64::from_str_radix(e, 16).ok()? - u64::from_str_radix(s, 16).ok()?)
        })
        .sum()
}

/// The worker's guard: the lowest of its ranges, PROT_NONE and [`worker::GUARD`] long.
fn guard_range(maps: &str) -> Option<OwnRange> {
    maps.lines()
        .filter(|l| l.split_whitespace().nth(1) == Some("---p"))
        .filter_map(|l| {
            let (s, e) = l.split_whitespace().next()?.split_once('-')?;
            Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
        })
        .filter(|&(s, e)| e - s >= worker::GUARD)
        .min()
}

/// QNX-numbered bits with no Linux meaning become a bit Linux does not know
/// either, so the kernel treats them as the unknown bits they are.
const UNKNOWN_PROT: u32 = 0x100;
const UNKNOWN_MAP: u32 = 0x40_0000;
const UNKNOWN_MSYNC: u32 = 0x8;

fn linux_prot(p: Prot) -> u64 {
    let known = Prot::READ | Prot::WRITE | Prot::EXEC;
    let extra = if p.bits() & !known.bits() != 0 { UNKNOWN_PROT } else { 0 };
    u64::from(linux::prot(p & known).expect("known bits convert") | extra)
}

fn linux_map_flags(f: MapFlags) -> u64 {
    let table = MapFlags::SHARED
        | MapFlags::PRIVATE
        | MapFlags::FIXED
        | MapFlags::ANON
        | MapFlags::GROWSDOWN
        | MapFlags::STACK
        | MapFlags::NORESERVE
        | MapFlags::POPULATE
        | MapFlags::LOCKED
        | MapFlags::FIXED_NOREPLACE;
    let share = f.bits() & MapFlags::TYPE_MASK;
    let rest = MapFlags::from_bits_retain(f.bits() & !MapFlags::TYPE_MASK);
    let known = rest & table;
    let extra = if rest.bits() & !table.bits() != 0 {
        UNKNOWN_MAP
    } else {
        0
    };
    u64::from(share | linux::map_flags(known).expect("known bits convert") | extra)
}

fn linux_oflags(f: crate::types::OFlags) -> u64 {
    let known = crate::types::OFlags::from_bits_truncate(f.bits());
    u64::from(linux::oflags(known).expect("known bits convert"))
}

fn linux_msync(f: crate::types::MsyncFlags) -> u64 {
    use crate::types::MsyncFlags as M;
    let table = M::ASYNC | M::SYNC | M::INVALIDATE;
    let extra = if f.bits() & !table.bits() != 0 {
        UNKNOWN_MSYNC
    } else {
        0
    };
    u64::from(linux::msync(f & table).expect("known bits convert") | extra)
}

/// Writes a header and its payload.
trait WriteBoth {
    fn write_all_vectored_compat(self, header: &[u8], payload: &[u8]) -> std::io::Result<()>;
}

impl WriteBoth for &UnixStream {
    fn write_all_vectored_compat(mut self, header: &[u8], payload: &[u8]) -> std::io::Result<()> {
        let n = loop {
            match self.write_vectored(&[IoSlice::new(header), IoSlice::new(payload)]) {
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                n => break n?,
            }
        };
        let total = header.len() + payload.len();
        if n < total {
            let rest_header = &header[n.min(header.len())..];
            self.write_all(rest_header)?;
            let from = n.saturating_sub(header.len());
            self.write_all(&payload[from..])?;
        }
        Ok(())
    }
}

/// Receives one reply: the header (with a passed fd, if any) and its payload into `payload`.
fn receive(sock: &UnixStream, payload: &mut [u8]) -> std::io::Result<(Reply, Option<OwnedFd>)> {
    let mut header = [0u8; REPLY_LEN];
    let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
    let mut control = RecvAncillaryBuffer::new(&mut space);
    let got = loop {
        let mut iov = [IoSliceMut::new(&mut header)];
        // A signal to this process (another thread's child, a terminal)
        // interrupts the wait, not the worker: wait again.
        match rustix::net::recvmsg(sock, &mut iov, &mut control, RecvFlags::CMSG_CLOEXEC) {
            Err(rustix::io::Errno::INTR) => continue,
            got => break got?.bytes,
        }
    };
    if got == 0 {
        return Err(std::io::ErrorKind::UnexpectedEof.into());
    }
    let mut fd = None;
    for msg in control.drain() {
        if let RecvAncillaryMessage::ScmRights(mut fds) = msg {
            fd = fds.next();
        }
    }
    let mut reader = sock;
    reader.read_exact(&mut header[got..])?;
    let reply = Reply::decode(&header).ok_or_else(|| std::io::Error::other("a malformed reply"))?;
    let len = reply.payload as usize;
    if len > payload.len() {
        return Err(std::io::Error::other("a reply payload too large"));
    }
    reader.read_exact(&mut payload[..len])?;
    Ok((reply, fd))
}

impl MemoryManager for LinuxBackend {
    fn profile_name(&self) -> ProfileName {
        self.profile.name
    }

    fn take_incident(&mut self) -> Option<Incident> {
        self.incident.take()
    }

    fn counters(&self, pid: Pid) -> Option<crate::model::space::Counters> {
        let c = self.worker_counters(pid)?;
        Some(crate::model::space::Counters {
            total: c.vm_size,
            data: c.vm_data,
            locked: c.vm_lck,
        })
    }

    fn execute(&mut self, pid: Pid, call: &Call) -> Outcome {
        self.incident = None;
        if !self.workers.contains_key(&pid) {
            // A process the model made and this backend did not: its
            // children take pid numbers in the model, so here too.
            if self.phantoms.contains(&pid) && matches!(call, Call::Spawn {} | Call::Fork {}) {
                self.phantom_child();
            }
            // PROC-ESRCH-1, for library calls too (before any of their own checks).
            return Outcome::Err(Errno::ESRCH);
        }
        if call.is_library() {
            let mut libs = std::mem::take(&mut self.libs);
            let verdict = libs.execute(self, pid, call).expect("a library call");
            self.libs = libs;
            return verdict.outcome;
        }
        let unit = |_| Value::Unit;
        match call {
            Call::Spawn {} => self.spawn(pid),
            Call::Exit {} => self.exit(pid),
            Call::Fork {} => self.fork(pid),
            Call::Cred {
                euid,
                cap_ipc_lock,
                egid,
                groups,
            } => {
                if groups.as_ref().is_some_and(|g| g.len() > worker::MAX_GROUPS) {
                    return self.skip(format!("cred with more than {} groups", worker::MAX_GROUPS));
                }
                let list: Vec<u8> = groups.iter().flatten().flat_map(|g| g.to_le_bytes()).collect();
                let a = [
                    u64::from(*euid),
                    u64::from(*cap_ipc_lock),
                    egid.map_or(u64::MAX, u64::from),
                    u64::from(groups.is_some()),
                    0,
                    0,
                ];
                let out = self.simple(pid, Op::Cred, a, &list, unit);
                if let (true, Some(w)) = (out.is_ok(), self.workers.get_mut(&pid)) {
                    w.cap_ipc_lock = *cap_ipc_lock;
                    w.euid = *euid;
                }
                out
            }
            Call::Getrlimit { resource, target } => self.rlimit(pid, *resource, None, *target),
            Call::Setrlimit {
                resource,
                cur,
                max,
                target,
            } => {
                self.stack_limit_set |= *resource == Resource::RLIMIT_STACK;
                self.rlimit(pid, *resource, Some((*cur, *max)), *target)
            }
            Call::Mmap {
                addr,
                len,
                prot,
                flags,
                fd,
                off,
            } => self.mmap(pid, *addr, *len, *prot, *flags, *fd, *off),
            Call::Munmap { addr, len } => self.munmap(pid, *addr, *len),
            Call::Mprotect { addr, len, prot } => self.ranged(pid, Op::Mprotect, *addr, *len, linux_prot(*prot)),
            Call::Mlock { addr, len } => self.ranged(pid, Op::Mlock, *addr, *len, 0),
            Call::Munlock { addr, len } => self.ranged(pid, Op::Munlock, *addr, *len, 0),
            Call::Msync { addr, len, flags } => self.ranged(pid, Op::Msync, *addr, *len, linux_msync(*flags)),
            Call::Mlockall { flags } => {
                let size = self.worker_counters(pid).map_or(0, |c| c.vm_size);
                if flags.contains(crate::types::MclFlags::CURRENT) && !self.spend(pid, size) {
                    return self.apart("mlockall(MCL_CURRENT) over the touch budget");
                }
                let a = [u64::from(linux::mcl(*flags)), 0, 0, 0, 0, 0];
                let out = self.simple(pid, Op::Mlockall, a, &[], unit);
                let current = flags.contains(crate::types::MclFlags::CURRENT);
                if out.is_ok() {
                    if let Some(w) = self.workers.get_mut(&pid) {
                        w.own_locked |= current;
                        w.mcl_future = flags.contains(crate::types::MclFlags::FUTURE);
                    }
                } else if current && out == Outcome::Err(Errno::ENOMEM) && !self.workers[&pid].cap_ipc_lock {
                    return self
                        .apart("mlockall(MCL_CURRENT) under a lock limit: the kernel counts the worker's own memory");
                }
                out
            }
            Call::Munlockall {} => {
                let out = self.simple(pid, Op::Munlockall, [0; 6], &[], unit);
                if out.is_ok() {
                    self.set_own_locked(pid, false);
                    if let Some(w) = self.workers.get_mut(&pid) {
                        w.mcl_future = false;
                    }
                }
                out
            }
            Call::ShmOpen { name, oflag, mode } => self.shm_open(pid, name, *oflag, *mode),
            Call::ShmUnlink { name } => self.shm_unlink(pid, name),
            Call::Open { path, oflag } => self.open(pid, path, *oflag),
            Call::Ftruncate { fd, len } => self.simple(
                pid,
                Op::Ftruncate,
                [fd.0 as i64 as u64, *len as u64, 0, 0, 0, 0],
                &[],
                unit,
            ),
            Call::Close { fd } => {
                let out = self.simple(pid, Op::Close, [fd.0 as i64 as u64, 0, 0, 0, 0, 0], &[], unit);
                if out.is_ok() {
                    self.unmappable_fds.remove(&(pid, fd.0));
                }
                out
            }
            Call::Dup { fd } => {
                let out = self.simple(pid, Op::Dup, [fd.0 as i64 as u64, 0, 0, 0, 0, 0], &[], |v| {
                    Value::Fd(Fd(v as i32))
                });
                if let Outcome::Ok(Value::Fd(new)) = out {
                    if self.unmappable_fds.contains(&(pid, fd.0)) {
                        self.unmappable_fds.insert((pid, new.0));
                    }
                }
                out
            }
            Call::Fstat { fd } => self.simple(pid, Op::Fstat, [fd.0 as i64 as u64, 0, 0, 0, 0, 0], &[], Value::Size),
            Call::Umask { mask } => self.simple(pid, Op::Umask, [u64::from(*mask), 0, 0, 0, 0, 0], &[], |old| {
                Value::Mode(old as u32)
            }),
            Call::FstatFull { fd } => self.fstat_full(pid, *fd),
            Call::Pipe {} => self.simple(pid, Op::Pipe, [0; 6], &[], |v| {
                Value::FdPair(Fd(v as u32 as i32), Fd((v >> 32) as u32 as i32))
            }),
            Call::Load { addr, len } => self.load(pid, *addr, *len),
            Call::Store { addr, data } => self.store(pid, *addr, data),
            // Linux has no call that maps into another process.
            Call::MmapPeer { .. } | Call::MunmapPeer { .. } => Outcome::Err(Errno::ENOSYS),
            Call::ResmgrFile { .. } => self.resmgr_file(call),
            Call::IoMmap { .. } => self.skip("io_mmap drives a QNX resource manager's handler; Linux has none"),
            Call::Meminfo {} => self.meminfo(pid),
            Call::Brk { addr } => self.brk(pid, *addr),
            Call::Mremap {
                old_addr,
                old_len,
                new_len,
                flags,
                new_addr,
            } => self.mremap(pid, *old_addr, *old_len, *new_len, *flags, *new_addr),
            Call::Mlock2 { addr, len, flags } => {
                let flags = u64::from(linux::mlock2(*flags));
                self.ranged(pid, Op::Mlock2, *addr, *len, flags)
            }
            _ => unreachable!("library calls are handled above"),
        }
    }
}

impl Drop for LinuxBackend {
    fn drop(&mut self) {
        // Children before their parents (a child's logical pid is always the
        // higher): a worker killed while its parent lives is reaped by it
        // (SIGCHLD ignored) instead of lingering as a zombie under init,
        // where it would go on counting against its uid's RLIMIT_NPROC
        // (PROC-EAGAIN-2) in the next run. Root is never limited, so only
        // other uids' workers are waited for (tearing down a large address
        // space takes milliseconds); the first worker is the driver's own
        // child, waited for below.
        let first = self.first.as_ref().map(|c| c.id() as i32);
        for (_, w) in std::mem::take(&mut self.workers).into_iter().rev() {
            if let Some(p) = rustix::process::Pid::from_raw(w.real_pid) {
                let _ = rustix::process::kill_process(p, rustix::process::Signal::KILL);
                if w.euid != 0 && Some(w.real_pid) != first {
                    wait_gone(p, Duration::from_millis(200));
                }
            }
        }
        if let Some(mut c) = self.first.take() {
            let _ = c.kill();
            // Tearing down a worker's address space takes milliseconds; it is
            // reaped by a later start (or at exit) instead of waited for here.
            DYING.lock().unwrap_or_else(|e| e.into_inner()).push(c);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::largest_hole;

    #[test]
    fn the_largest_hole_between_the_workers_own_ranges() {
        let own = [(0x5000, 0x6000), (0x1000, 0x2000), (0x9000, 0xa000)];
        assert_eq!(largest_hole(own.iter(), 0, 0x10000), 0x6000, "from 0xa000 to the end");
        assert_eq!(
            largest_hole(own.iter(), 0, 0xb000),
            0x3000,
            "0x2000..0x5000 and 0x6000..0x9000"
        );
        assert_eq!(largest_hole([].iter(), 0x1000, 0x4000), 0x3000);
        let overlapping = [(0x1000, 0x8000), (0x2000, 0x3000)];
        assert_eq!(largest_hole(overlapping.iter(), 0, 0x9000), 0x1000);
    }
}
