//! The worker: one process per logical process, the crate's own binary
//! re-executed with [`WORKER_ENV`] set. It is single-threaded, allocates
//! nothing per call (buffers are sized at start-up), and serves requests on
//! its control socket until the driver closes it or an `exit` arrives.
//!
//! Its own fds sit at the top of the fd range, so the trace's fds are the
//! real ones from 0 up; its own memory (image, heap, stack, buffers, the
//! signal stack) is listed in the hello reply so that the driver keeps the
//! trace's calls off it.

use super::proto::{Counters, Op, Reply, Request, Status, MAX_PAYLOAD, REPLY_LEN, REQUEST_LEN};
use super::sys;
use rustix::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd};
use rustix::net::{SendAncillaryBuffer, SendAncillaryMessage, SendFlags};
use std::io::{IoSlice, Read, Write};
use std::os::unix::net::UnixStream;
use std::process::{Command, Stdio};

/// The environment variable that starts the binary as a worker ("first" for
/// the first process of a run, "child" for a spawned one).
pub const WORKER_ENV: &str = "MMORACLE_WORKER";
/// A child worker's soft limits (`resource=value,...`), put back at the end
/// of its start-up (the parent raised them to start it).
const SOFT_ENV: &str = "MMORACLE_SOFT_LIMITS";
/// The first worker's initial limits (`resource=cur:max,...`), set before anything else.
pub const LIMITS_ENV: &str = "MMORACLE_LIMITS";
/// The limits a spawn raises: Linux RLIMIT_AS, RLIMIT_DATA, RLIMIT_NOFILE, RLIMIT_MEMLOCK.
const RAISED: [i32; 4] = [9, 2, 7, 8];

/// Sets the first process's limits; a machine that cannot give them (a hard
/// limit below the profile's, without CAP_SYS_RESOURCE) is an error.
fn set_initial_limits(text: &str) -> std::io::Result<()> {
    for kv in text.split(',') {
        let parsed = kv.split_once('=').and_then(|(k, v)| {
            let (cur, max) = v.split_once(':')?;
            Some((
                k.parse::<i32>().ok()?,
                cur.parse::<u64>().ok()?,
                max.parse::<u64>().ok()?,
            ))
        });
        let Some((resource, cur, max)) = parsed else {
            return Err(std::io::Error::other(format!("bad {LIMITS_ENV} entry `{kv}`")));
        };
        sys::sys_prlimit(0, resource, Some((cur, max))).map_err(|e| {
            io_err(
                &format!("this machine cannot give the first process the linux profile's limit {resource} = {cur}/{max}; run as root with at least those hard limits"),
                e,
            )
        })?;
    }
    Ok(())
}

fn parse_soft(text: &str) -> Vec<(i32, u64)> {
    text.split(',')
        .filter_map(|kv| {
            let (k, v) = kv.split_once('=')?;
            Some((k.parse().ok()?, v.parse().ok()?))
        })
        .collect()
}
/// Linux RLIMIT_NOFILE.
const RLIMIT_NOFILE: i32 = 7;
/// Bytes of stack touched at start-up, so that the stack does not grow
/// (and change VmSize) while calls run.
const STACK_PREGROW: usize = 256 * 1024;
/// The least PROT_NONE guard below the worker's own memory, in bytes.
pub const GUARD: u64 = 16 << 20;
/// Every worker's start-up VmSize is a multiple of this.
const SIZE_ROUND: u64 = 64 << 20;
/// Every worker's start-up VmData is a multiple of this.
const DATA_ROUND: u64 = 4 << 20;

fn round_up(v: u64, to: u64) -> u64 {
    v.div_ceil(to) * to
}

/// Runs the worker if this process was started as one; returns otherwise.
/// Call it first thing in `main`.
pub fn run_if_worker() {
    if std::env::var_os(WORKER_ENV).is_none() {
        return;
    }
    let code = match Worker::start() {
        Ok(mut w) => w.serve(),
        Err(e) => {
            eprintln!("mmoracle worker: cannot start: {e}");
            3
        }
    };
    std::process::exit(code);
}

struct Worker {
    ctrl: UnixStream,
    err: OwnedFd,
    status: OwnedFd,
    maps: OwnedFd,
    /// The worker's own mappings when it said hello (sorted), which meminfo
    /// leaves out of the map count.
    own: Vec<(u64, u64)>,
    request: Vec<u8>,
    reply: Vec<u8>,
}

fn io_err(what: &str, errno: i32) -> std::io::Error {
    std::io::Error::other(format!("{what}: {}", std::io::Error::from_raw_os_error(errno)))
}

/// The lowest fd number the worker keeps for itself: near the top of the
/// soft RLIMIT_NOFILE, above anything a trace opens.
fn own_fd_base() -> i32 {
    let soft = sys::sys_prlimit(0, RLIMIT_NOFILE, None).map_or(1024, |(cur, _)| cur);
    (soft.min(1 << 20) as i32 - 16).max(64)
}

impl Worker {
    fn start() -> std::io::Result<Worker> {
        // A child starts with its parent's soft limits raised to the hard
        // ones (so that starting it needs no room under them); it puts the
        // parent's values back once it is set up.
        let soft = std::env::var(SOFT_ENV).ok().map(|v| parse_soft(&v));
        if let Ok(limits) = std::env::var(LIMITS_ENV) {
            set_initial_limits(&limits)?;
        }
        let base = own_fd_base();
        let ctrl_fd = sys::sys_dup_at_least(0, base).map_err(|e| io_err("moving the socket", e))? as i32;
        let err_fd = sys::sys_dup_at_least(2, base).map_err(|e| io_err("moving stderr", e))? as i32;
        let status_fd = sys::sys_open(b"/proc/self/status\0", 0, 0).map_err(|e| io_err("/proc/self/status", e))? as i32;
        let status_fd = {
            let high = sys::sys_dup_at_least(status_fd, base).map_err(|e| io_err("moving the status fd", e))? as i32;
            let _ = sys::sys_close(status_fd);
            high
        };
        let maps_fd = sys::sys_open(b"/proc/self/maps\0", 0, 0).map_err(|e| io_err("/proc/self/maps", e))? as i32;
        let maps_fd = {
            let high = sys::sys_dup_at_least(maps_fd, base).map_err(|e| io_err("moving the maps fd", e))? as i32;
            let _ = sys::sys_close(maps_fd);
            high
        };
        // SAFETY: the four fds were just created above and nothing else owns them.
        let (ctrl, err, status, maps) = unsafe {
            (
                UnixStream::from_raw_fd(ctrl_fd),
                OwnedFd::from_raw_fd(err_fd),
                OwnedFd::from_raw_fd(status_fd),
                OwnedFd::from_raw_fd(maps_fd),
            )
        };
        close_others(&[ctrl.as_raw_fd(), err.as_raw_fd(), status.as_raw_fd(), maps.as_raw_fd()]);
        if std::env::var(WORKER_ENV).is_ok_and(|v| v == "first") && rustix::process::geteuid().is_root() {
            drop_unmodelled_capabilities().map_err(|e| io_err("dropping capabilities", e))?;
        }
        sys::install_fault_handler().map_err(|e| io_err("signal handlers", e))?;
        sys::ignore_sigchld().map_err(|e| io_err("SIGCHLD", e))?;
        pregrow_stack();
        let worker = Worker {
            ctrl,
            err,
            status,
            maps,
            own: Vec::new(),
            request: vec![0; MAX_PAYLOAD + 4096],
            reply: vec![0; MAX_PAYLOAD],
        };
        fill_gaps().map_err(|e| io_err("filling the gaps between the worker's own mappings", e))?;
        // Pads make every worker's start-up usage the same round numbers, so
        // a limit inherited from the parent (shifted by the parent's usage)
        // means the same in the child. The data pad is private and writable
        // (counted in VmData) but never touched.
        let c = worker.counters();
        let data_pad = round_up(c.vm_data + 1, DATA_ROUND) - c.vm_data;
        sys::sys_mmap(0, data_pad, 3, 0x22 | 0x4000, -1, 0).map_err(|e| io_err("the data pad", e))?;
        // The guard: PROT_NONE below everything the worker mapped, so the
        // kernel's top-down placement puts the trace's mappings below it and
        // an access past a mapping's end faults as it does past a model
        // region, instead of reading the worker's own memory.
        let size = worker.counters().vm_size;
        let guard = round_up(size + GUARD, SIZE_ROUND) - size;
        sys::sys_mmap(0, guard, 0, 0x22 | 0x4000, -1, 0).map_err(|e| io_err("the guard", e))?;
        for (resource, cur) in soft.into_iter().flatten() {
            let (_, max) = sys::sys_prlimit(0, resource, None).map_err(|e| io_err("getrlimit", e))?;
            sys::sys_prlimit(0, resource, Some((cur.min(max), max))).map_err(|e| io_err("setrlimit", e))?;
        }
        Ok(worker)
    }

    /// Sends the hello (pid, baseline counters, /proc/self/maps), then
    /// serves requests. Returns the exit code.
    fn serve(&mut self) -> i32 {
        let maps = std::fs::read("/proc/self/maps").unwrap_or_default();
        self.own = String::from_utf8_lossy(&maps).lines().filter_map(maps_range).collect();
        self.own.sort_unstable();
        let hello = Reply {
            status: Status::Ok,
            value: u64::from(std::process::id()),
            payload: maps.len() as u64,
            counters: self.counters(),
        };
        if self.send(&hello, &maps, None).is_err() {
            return 4;
        }
        drop(maps);
        let mut header = [0u8; REQUEST_LEN];
        loop {
            if self.ctrl.read_exact(&mut header).is_err() {
                return 0; // the driver went away
            }
            let Some(req) = Request::decode(&header) else {
                self.complain("unknown op");
                return 5;
            };
            let len = req.payload as usize;
            if len > self.request.len() {
                self.complain("payload too large");
                return 5;
            }
            let mut payload = std::mem::take(&mut self.request);
            if self.ctrl.read_exact(&mut payload[..len]).is_err() {
                return 0;
            }
            let done = self.execute(&req, &payload[..len]);
            self.request = payload;
            if done {
                return 0;
            }
        }
    }

    fn complain(&self, what: &str) {
        let _ = rustix::io::write(&self.err, format!("mmoracle worker: {what}\n").as_bytes());
    }

    /// Executes one request and replies; `true` when the worker must exit.
    fn execute(&mut self, req: &Request, payload: &[u8]) -> bool {
        let a = req.a;
        let mut out_len = 0usize;
        let mut fd_out: Option<OwnedFd> = None;
        let status = match req.op {
            Op::Spawn => match self.spawn() {
                Ok((pid, fd)) => {
                    fd_out = Some(fd);
                    Ok(pid)
                }
                Err(e) => Err(e),
            },
            Op::Exit => Ok(0),
            Op::Cred => cred(a[0] as u32, a[1] != 0),
            Op::Prlimit => {
                let new = (a[2] != 0).then_some((a[3], a[4]));
                sys::sys_prlimit(a[0] as i32, a[1] as i32, new).map(|(cur, max)| {
                    self.reply[..8].copy_from_slice(&cur.to_le_bytes());
                    self.reply[8..16].copy_from_slice(&max.to_le_bytes());
                    out_len = 16;
                    0
                })
            }
            Op::Mmap => sys::sys_mmap(a[0], a[1], a[2] as u32, a[3] as u32, a[4] as i32, a[5]),
            Op::Munmap => sys::sys_munmap(a[0], a[1]),
            Op::Mprotect => sys::sys_mprotect(a[0], a[1], a[2] as u32),
            Op::Mlock => sys::sys_mlock(a[0], a[1]),
            Op::Munlock => sys::sys_munlock(a[0], a[1]),
            Op::Mlockall => sys::sys_mlockall(a[0] as u32),
            Op::Munlockall => sys::sys_munlockall(),
            Op::Msync => sys::sys_msync(a[0], a[1], a[2] as u32),
            Op::ShmOpen => with_nul(payload, |n| sys::sys_shm_open(n, a[0] as u32, a[1] as u32)),
            Op::ShmUnlink => with_nul(payload, sys::sys_shm_unlink),
            Op::Open => with_nul(payload, |p| sys::sys_open(p, a[0] as u32, a[1] as u32)),
            Op::Ftruncate => sys::sys_ftruncate(a[0] as i32, a[1] as i64),
            Op::Close => sys::sys_close(a[0] as i32),
            Op::Dup => sys::sys_dup(a[0] as i32),
            Op::Fstat => sys::sys_fstat_size(a[0] as i32),
            Op::Load => {
                let len = (a[1] as usize).min(self.reply.len());
                out_len = len;
                match sys::access(self.reply.as_mut_ptr() as u64, a[0], len) {
                    0 => Ok(0),
                    sig => return self.reply_signal(req, sig),
                }
            }
            Op::Store => match sys::access(a[0], payload.as_ptr() as u64, payload.len()) {
                0 => Ok(0),
                sig => return self.reply_signal(req, sig),
            },
            Op::Counters => Ok(0),
            Op::MapCount => Ok(self.map_count()),
            Op::Meminfo => Ok(self.trace_map_count()),
            Op::Mlock2 => sys::sys_mlock2(a[0], a[1], a[2] as u32),
            Op::Brk => sys::sys_brk(a[0]),
            Op::Mremap => sys::sys_mremap(a[0], a[1], a[2], a[3] as u32, a[4]),
        };
        let reply = Reply {
            status: match status {
                Ok(_) => Status::Ok,
                Err(e) => Status::Errno(e),
            },
            value: status.unwrap_or(0),
            payload: out_len as u64,
            counters: if req.counters {
                self.counters()
            } else {
                Counters::default()
            },
        };
        let reply_bytes = std::mem::take(&mut self.reply);
        let sent = self.send(&reply, &reply_bytes[..out_len], fd_out.as_ref().map(|f| f.as_fd()));
        self.reply = reply_bytes;
        sent.is_err() || req.op == Op::Exit
    }

    fn reply_signal(&mut self, req: &Request, sig: u64) -> bool {
        let reply = Reply {
            status: Status::Signal(sig as i32),
            value: 0,
            payload: 0,
            counters: if req.counters {
                self.counters()
            } else {
                Counters::default()
            },
        };
        self.send(&reply, &[], None).is_err()
    }

    fn send(&self, reply: &Reply, payload: &[u8], fd: Option<BorrowedFd<'_>>) -> std::io::Result<()> {
        let header = reply.encode();
        let iov = [IoSlice::new(&header)];
        let mut space = [std::mem::MaybeUninit::<u8>::uninit(); rustix::cmsg_space!(ScmRights(1))];
        let mut control = SendAncillaryBuffer::new(&mut space);
        let fds;
        if let Some(fd) = fd {
            fds = [fd];
            control.push(SendAncillaryMessage::ScmRights(&fds));
        }
        let mut sent = rustix::net::sendmsg(&self.ctrl, &iov, &mut control, SendFlags::NOSIGNAL)?;
        if sent < REPLY_LEN {
            (&self.ctrl).write_all(&header[sent..])?;
            sent = REPLY_LEN;
        }
        debug_assert_eq!(sent, REPLY_LEN);
        (&self.ctrl).write_all(payload)
    }

    /// The lines of /proc/self/maps, read in pieces into a stack buffer.
    fn map_count(&self) -> u64 {
        let mut buf = [0u8; 4096];
        let mut at = 0u64;
        let mut lines = 0u64;
        while let Ok(n) = rustix::io::pread(&self.maps, &mut buf, at) {
            if n == 0 {
                break;
            }
            lines += buf[..n].iter().filter(|b| **b == b'\n').count() as u64;
            at += n as u64;
        }
        lines
    }

    /// The lines of /proc/self/maps that are not inside one of the worker's
    /// own mappings at hello: the trace's mappings (one that grew out of the
    /// worker's, as the heap does under brk, counts as the trace's). Read in
    /// pieces into stack buffers, with no allocation.
    fn trace_map_count(&self) -> u64 {
        let mut buf = [0u8; 4096];
        let mut line = [0u8; 64];
        let (mut at, mut len, mut count) = (0u64, 0usize, 0u64);
        while let Ok(n) = rustix::io::pread(&self.maps, &mut buf, at) {
            if n == 0 {
                break;
            }
            for &b in &buf[..n] {
                if b != b'\n' {
                    // Only the range at the start of a line matters.
                    if len < line.len() {
                        line[len] = b;
                        len += 1;
                    }
                    continue;
                }
                let range = std::str::from_utf8(&line[..len]).ok().and_then(maps_range);
                let own = range.is_some_and(|(s, e)| self.own.iter().any(|&(os, oe)| os <= s && e <= oe));
                count += u64::from(!own);
                len = 0;
            }
            at += n as u64;
        }
        count
    }

    /// VmSize, VmData and VmLck from /proc/self/status, read into a stack buffer.
    fn counters(&self) -> Counters {
        let mut buf = [0u8; 4096];
        let n = rustix::io::pread(&self.status, &mut buf, 0).unwrap_or(0);
        let text = &buf[..n];
        Counters {
            vm_size: status_kb(text, b"VmSize:") * 1024,
            vm_data: status_kb(text, b"VmData:") * 1024,
            vm_lck: status_kb(text, b"VmLck:") * 1024,
        }
    }

    /// Starts a child worker: fork + exec of this binary inside this
    /// (single-threaded) worker, so the kernel passes on credentials and
    /// limits as it does for any program. The soft fd limit is raised for
    /// the socket and the exec and restored in the child.
    fn spawn(&mut self) -> Result<(u64, OwnedFd), i32> {
        let mut old = [(0i32, 0u64, 0u64); 4];
        for (slot, resource) in old.iter_mut().zip(RAISED) {
            let (cur, max) = sys::sys_prlimit(0, resource, None)?;
            *slot = (resource, cur, max);
        }
        for &(resource, _, max) in &old {
            sys::sys_prlimit(0, resource, Some((max, max)))?;
        }
        let started = self.start_child(&old);
        for &(resource, cur, max) in &old {
            sys::sys_prlimit(0, resource, Some((cur, max)))?;
        }
        started
    }

    fn start_child(&self, old: &[(i32, u64, u64); 4]) -> Result<(u64, OwnedFd), i32> {
        let soft: Vec<String> = old.iter().map(|(r, cur, _)| format!("{r}={cur}")).collect();
        let errno = |e: std::io::Error| e.raw_os_error().unwrap_or(5);
        let (ours, theirs) = UnixStream::pair().map_err(errno)?;
        let err = self.err.try_clone().map_err(errno)?;
        let child = Command::new("/proc/self/exe")
            .env(WORKER_ENV, "child")
            .env(SOFT_ENV, soft.join(","))
            .env_remove(LIMITS_ENV)
            .stdin(Stdio::from(OwnedFd::from(theirs)))
            .stdout(Stdio::null())
            .stderr(Stdio::from(err))
            .spawn()
            .map_err(errno)?;
        // Not waited for: SIGCHLD is ignored, so the kernel reaps it.
        Ok((u64::from(child.id()), OwnedFd::from(ours)))
    }
}

/// Closes every fd but `keep` (fds a test harness or cargo leaked to us).
fn close_others(keep: &[i32]) {
    let Ok(dir) = std::fs::read_dir("/proc/self/fd") else {
        return;
    };
    let fds: Vec<i32> = dir.filter_map(|e| e.ok()?.file_name().to_str()?.parse().ok()).collect();
    for fd in fds {
        if !keep.contains(&fd) {
            let _ = sys::sys_close(fd);
        }
    }
}

/// The largest gap between the worker's own mappings that is filled.
const FILL_MAX: u64 = 1 << 30;

/// Maps PROT_NONE into the gaps between the worker's own mappings near the
/// top of the address space (between libraries, below the stack), so the
/// kernel's top-down placement can put no trace mapping among them: every
/// trace mapping then lies below the guard, with nothing of the worker's
/// beside it but the guard. The walk goes down from the highest mapping
/// below the stack and stops at the first gap of [`FILL_MAX`] or more (the
/// free space the trace's mappings and `$ARENA` live in).
fn fill_gaps() -> Result<(), i32> {
    let maps = std::fs::read_to_string("/proc/self/maps").map_err(|e| e.raw_os_error().unwrap_or(5))?;
    let stack = maps
        .lines()
        .find(|l| l.ends_with("[stack]"))
        .and_then(|l| u64::from_str_radix(l.split('-').next()?, 16).ok())
        .unwrap_or(u64::MAX);
    let mut ranges: Vec<(u64, u64)> = maps
        .lines()
        .filter_map(|l| {
            let (s, e) = l.split_whitespace().next()?.split_once('-')?;
            Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
        })
        .filter(|&(s, _)| s < stack)
        .collect();
    ranges.sort_unstable();
    for pair in ranges.windows(2).rev() {
        let (below, above) = (pair[0], pair[1]);
        let gap = above.0.saturating_sub(below.1);
        if gap >= FILL_MAX {
            break;
        }
        if gap > 0 {
            // MAP_FIXED_NOREPLACE: only the free gap, never anything of ours.
            sys::sys_mmap(below.1, gap, 0, 0x22 | 0x4000 | 0x10_0000, -1, 0)?;
        }
    }
    Ok(())
}

/// Touches [`STACK_PREGROW`] bytes of stack, so the stack VMA has its final size.
#[inline(never)]
fn pregrow_stack() {
    let mut probe = [0u8; STACK_PREGROW];
    probe[0] = 1;
    std::hint::black_box(&mut probe);
}

/// cred: a root caller switching to another uid drops its groups and takes
/// the uid as its gid too (so no group permission applies); a caller that
/// keeps CAP_IPC_LOCK across the switch asks the kernel to keep its
/// capabilities, then keeps only that one. A root caller staying root that
/// drops CAP_IPC_LOCK also removes it from the bounding set, so a program it
/// starts cannot regain it.
fn cred(euid: u32, keep_lock: bool) -> sys::SysResult {
    use rustix::thread::{self as t, CapabilitySet, CapabilitySets};
    let errno = |e: rustix::io::Errno| e.raw_os_error();
    let was_root = rustix::process::geteuid().is_root();
    // Nothing changes when the call must fail (PROC-EPERM-1): asking for
    // CAP_IPC_LOCK without holding it is refused before the uid changes.
    if keep_lock
        && !t::capabilities(None)
            .map_err(errno)?
            .permitted
            .contains(CapabilitySet::IPC_LOCK)
    {
        return Err(rustix::io::Errno::PERM.raw_os_error());
    }
    if euid != rustix::process::geteuid().as_raw() {
        if keep_lock {
            t::set_keep_capabilities(true).map_err(errno)?;
        }
        sys::sys_become(euid, euid, was_root)?;
        if keep_lock {
            t::set_keep_capabilities(false).map_err(errno)?;
        }
    }
    let now = t::capabilities(None).map_err(errno)?;
    let lock = CapabilitySet::IPC_LOCK;
    let wanted = if euid == 0 {
        CapabilitySets {
            effective: if keep_lock { now.effective } else { now.effective - lock },
            permitted: if keep_lock { now.permitted } else { now.permitted - lock },
            inheritable: now.inheritable - lock,
        }
    } else {
        let keep = if keep_lock { lock } else { CapabilitySet::empty() };
        CapabilitySets {
            effective: keep,
            permitted: keep,
            inheritable: keep,
        }
    };
    if keep_lock && !now.permitted.contains(lock) {
        return Err(rustix::io::Errno::PERM.raw_os_error());
    }
    if euid == 0 && !keep_lock && t::capability_is_in_bounding_set(CapabilitySet::IPC_LOCK).unwrap_or(false) {
        t::remove_capability_from_bounding_set(CapabilitySet::IPC_LOCK).map_err(errno)?;
    }
    t::set_capabilities(None, wanted).map_err(errno)?;
    if euid != 0 && keep_lock {
        t::configure_capability_in_ambient_set(CapabilitySet::IPC_LOCK, true).map_err(errno)?;
    }
    Ok(0)
}

/// The capabilities the model's root has: changing credentials (cred),
/// overriding file permissions and ownership (shm_open and shm_unlink of
/// other users' objects), locking memory, raw I/O (CAP_SYS_RAWIO, which lets
/// root map below mmap_min_addr: spec/processes.md, MMAP-EPERM-4; setresuid
/// away from 0 clears it, as `cred` does in the model), and dropping
/// capabilities. Every other one is dropped from the bounding set too, so no
/// child regains it.
fn drop_unmodelled_capabilities() -> Result<(), i32> {
    use rustix::thread::{self as t, CapabilitySet, CapabilitySets};
    let errno = |e: rustix::io::Errno| e.raw_os_error();
    let keep = CapabilitySet::SETUID
        | CapabilitySet::SETGID
        | CapabilitySet::DAC_OVERRIDE
        | CapabilitySet::DAC_READ_SEARCH
        | CapabilitySet::FOWNER
        | CapabilitySet::IPC_LOCK
        | CapabilitySet::SYS_RAWIO
        | CapabilitySet::SETPCAP;
    for bit in 0..64 {
        let cap = CapabilitySet::from_bits_retain(1 << bit);
        if keep.contains(cap) || !t::capability_is_in_bounding_set(cap).unwrap_or(false) {
            continue;
        }
        t::remove_capability_from_bounding_set(cap).map_err(errno)?;
    }
    let now = t::capabilities(None).map_err(errno)?;
    t::set_capabilities(
        None,
        CapabilitySets {
            effective: now.effective & keep,
            permitted: now.permitted & keep,
            inheritable: CapabilitySet::empty(),
        },
    )
    .map_err(errno)
}

/// Runs `f` on `bytes` with a NUL appended in place (the payload buffer has room).
fn with_nul(bytes: &[u8], f: impl FnOnce(&[u8]) -> sys::SysResult) -> sys::SysResult {
    let mut buf = [0u8; 4097];
    if bytes.len() >= buf.len() || bytes.contains(&0) {
        return Err(rustix::io::Errno::NAMETOOLONG.raw_os_error());
    }
    buf[..bytes.len()].copy_from_slice(bytes);
    f(&buf[..=bytes.len()])
}

/// The range at the start of a /proc/self/maps line (`start-end ...`).
fn maps_range(line: &str) -> Option<(u64, u64)> {
    let (s, rest) = line.split_once('-')?;
    let e = rest.split(' ').next()?;
    Some((u64::from_str_radix(s, 16).ok()?, u64::from_str_radix(e, 16).ok()?))
}

/// Bytes in a status line's value (`VmSize:\t  1234 kB`).
fn status_kb(text: &[u8], key: &[u8]) -> u64 {
    let Some(at) = text.windows(key.len()).position(|w| w == key) else {
        return 0;
    };
    text[at + key.len()..]
        .iter()
        .skip_while(|b| !b.is_ascii_digit())
        .take_while(|b| b.is_ascii_digit())
        .fold(0, |n, b| n * 10 + u64::from(b - b'0'))
}
