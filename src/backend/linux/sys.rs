//! The system calls the worker makes, through glibc, with raw integer
//! arguments: the differential test must be able to pass what a C program
//! can (fd -1, a closed fd, address 0, unaligned or huge lengths), which
//! rustix's typed wrappers rightly make unrepresentable. Each wrapper returns
//! the result or the errno. Also here: the fault-recovering access routine
//! and its signal handler.

use std::ffi::{c_char, c_int, c_long, c_void};

/// A syscall's result: the value, or the Linux errno.
pub type SysResult = Result<u64, i32>;

#[repr(C)]
struct RlimitC {
    cur: u64,
    max: u64,
}

/// glibc's x86_64/aarch64 `struct stat` is 144 bytes with st_size at offset 48.
#[repr(C, align(8))]
struct StatBuf([u8; 144]);
const ST_SIZE_OFFSET: usize = 48;
/// x86_64: st_mode, st_uid and st_gid follow st_dev, st_ino and a 64-bit st_nlink.
#[cfg(target_arch = "x86_64")]
const ST_MODE_OFFSET: usize = 24;
#[cfg(target_arch = "x86_64")]
const ST_UID_OFFSET: usize = 28;
#[cfg(target_arch = "x86_64")]
const ST_GID_OFFSET: usize = 32;
/// aarch64 (the generic layout): st_mode comes before a 32-bit st_nlink.
#[cfg(not(target_arch = "x86_64"))]
const ST_MODE_OFFSET: usize = 16;
#[cfg(not(target_arch = "x86_64"))]
const ST_UID_OFFSET: usize = 24;
#[cfg(not(target_arch = "x86_64"))]
const ST_GID_OFFSET: usize = 28;

extern "C" {
    fn __errno_location() -> *mut c_int;
    fn mmap(addr: *mut c_void, len: usize, prot: c_int, flags: c_int, fd: c_int, off: c_long) -> *mut c_void;
    fn munmap(addr: *mut c_void, len: usize) -> c_int;
    fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int;
    fn mlock(addr: *const c_void, len: usize) -> c_int;
    fn munlock(addr: *const c_void, len: usize) -> c_int;
    fn mlock2(addr: *const c_void, len: usize, flags: u32) -> c_int;
    fn syscall(number: c_long, ...) -> c_long;
    fn mremap(old: *mut c_void, old_len: usize, new_len: usize, flags: c_int, ...) -> *mut c_void;
    fn mlockall(flags: c_int) -> c_int;
    fn munlockall() -> c_int;
    fn msync(addr: *mut c_void, len: usize, flags: c_int) -> c_int;
    fn shm_open(name: *const c_char, oflag: c_int, mode: u32) -> c_int;
    fn shm_unlink(name: *const c_char) -> c_int;
    fn open(path: *const c_char, oflag: c_int, ...) -> c_int;
    fn ftruncate(fd: c_int, len: i64) -> c_int;
    fn close(fd: c_int) -> c_int;
    fn fcntl(fd: c_int, cmd: c_int, ...) -> c_int;
    fn fstat(fd: c_int, buf: *mut StatBuf) -> c_int;
    fn prlimit(pid: c_int, resource: c_int, new: *const RlimitC, old: *mut RlimitC) -> c_int;
    fn setresuid(r: u32, e: u32, s: u32) -> c_int;
    fn setresgid(r: u32, e: u32, s: u32) -> c_int;
    fn setgroups(n: usize, list: *const u32) -> c_int;
    fn umask(mask: u32) -> u32;
    fn pipe2(fds: *mut c_int, flags: c_int) -> c_int;
    fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int;
    fn dup(fd: c_int) -> c_int;
    fn fork() -> c_int;
    fn sigaction(sig: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
    fn sigaltstack(ss: *const StackT, old: *mut StackT) -> c_int;
    fn unshare(flags: c_int) -> c_int;
    fn atexit(f: extern "C" fn()) -> c_int;
    fn mount(
        source: *const c_char,
        target: *const c_char,
        fstype: *const c_char,
        flags: std::ffi::c_ulong,
        data: *const c_void,
    ) -> c_int;
}

const F_DUPFD_CLOEXEC: c_int = 1030;
const F_SETFD: c_int = 2;
const FD_CLOEXEC: c_int = 1;
const O_CLOEXEC: c_int = 0o2000000;

fn errno() -> i32 {
    // SAFETY: glibc's __errno_location returns this thread's errno slot,
    // valid for the life of the thread.
    unsafe { *__errno_location() }
}

fn int_result(r: c_int) -> SysResult {
    if r < 0 {
        Err(errno())
    } else {
        Ok(r as u64)
    }
}

/// mmap with raw arguments; the address on success.
pub fn sys_mmap(addr: u64, len: u64, prot: u32, flags: u32, fd: i32, off: u64) -> SysResult {
    // SAFETY: the caller (the worker) only maps where the driver allowed: the
    // driver refuses MAP_FIXED over the worker's own memory, so no Rust
    // object is replaced. A failed mmap changes nothing.
    let p = unsafe {
        mmap(
            addr as *mut c_void,
            len as usize,
            prot as c_int,
            flags as c_int,
            fd,
            off as c_long,
        )
    };
    if p as isize == -1 {
        Err(errno())
    } else {
        Ok(p as u64)
    }
}

/// munmap.
pub fn sys_munmap(addr: u64, len: u64) -> SysResult {
    // SAFETY: the driver clips munmap ranges to exclude the worker's own
    // memory, so no live Rust object is unmapped.
    int_result(unsafe { munmap(addr as *mut c_void, len as usize) })
}

/// mprotect.
pub fn sys_mprotect(addr: u64, len: u64, prot: u32) -> SysResult {
    // SAFETY: the driver refuses ranges over the worker's own memory.
    int_result(unsafe { mprotect(addr as *mut c_void, len as usize, prot as c_int) })
}

/// mlock.
pub fn sys_mlock(addr: u64, len: u64) -> SysResult {
    // SAFETY: locking changes no memory contents or protections.
    int_result(unsafe { mlock(addr as *const c_void, len as usize) })
}

/// mlock2 (glibc 2.27 and later).
pub fn sys_mlock2(addr: u64, len: u64, flags: u32) -> SysResult {
    // SAFETY: locking changes no memory contents or protections.
    int_result(unsafe { mlock2(addr as *const c_void, len as usize, flags) })
}

/// The raw brk system call: the break after the call (the call has no
/// errno; glibc's brk() would hide the value).
pub fn sys_brk(addr: u64) -> SysResult {
    #[cfg(target_arch = "x86_64")]
    const SYS_BRK: c_long = 12;
    #[cfg(target_arch = "aarch64")]
    const SYS_BRK: c_long = 214;
    // SAFETY: brk maps or unmaps heap pages only; the driver never moves the
    // break below where the worker's own heap ended at its start, so no
    // memory the worker uses goes away.
    Ok(unsafe { syscall(SYS_BRK, addr) } as u64)
}

/// mremap (the new address is always passed; the kernel reads it only
/// with MREMAP_FIXED or MREMAP_DONTUNMAP).
pub fn sys_mremap(old: u64, old_len: u64, new_len: u64, flags: u32, new_addr: u64) -> SysResult {
    // SAFETY: the driver keeps both ranges off the worker's own memory
    // (Worker::touches_own), so only the trace's mappings move or go.
    let r = unsafe {
        mremap(
            old as *mut c_void,
            old_len as usize,
            new_len as usize,
            flags as c_int,
            new_addr as *mut c_void,
        )
    };
    if r as isize == -1 {
        Err(errno())
    } else {
        Ok(r as u64)
    }
}

/// munlock.
pub fn sys_munlock(addr: u64, len: u64) -> SysResult {
    // SAFETY: unlocking changes no memory contents or protections.
    int_result(unsafe { munlock(addr as *const c_void, len as usize) })
}

/// mlockall.
pub fn sys_mlockall(flags: u32) -> SysResult {
    // SAFETY: locking changes no memory contents or protections.
    int_result(unsafe { mlockall(flags as c_int) })
}

/// munlockall.
pub fn sys_munlockall() -> SysResult {
    // SAFETY: unlocking changes no memory contents or protections.
    int_result(unsafe { munlockall() })
}

/// msync.
pub fn sys_msync(addr: u64, len: u64, flags: u32) -> SysResult {
    // SAFETY: msync writes back or invalidates caches; MS_INVALIDATE on
    // Linux does not drop dirty private data. The driver refuses ranges
    // over the worker's own memory.
    int_result(unsafe { msync(addr as *mut c_void, len as usize, flags as c_int) })
}

/// shm_open; `name` ends with a NUL.
pub fn sys_shm_open(name: &[u8], oflag: u32, mode: u32) -> SysResult {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: `name` is NUL-terminated (checked by the caller) and lives across the call.
    int_result(unsafe { shm_open(name.as_ptr().cast(), oflag as c_int, mode) })
}

/// shm_unlink; `name` ends with a NUL.
pub fn sys_shm_unlink(name: &[u8]) -> SysResult {
    debug_assert_eq!(name.last(), Some(&0));
    // SAFETY: `name` is NUL-terminated and lives across the call.
    int_result(unsafe { shm_unlink(name.as_ptr().cast()) })
}

/// open with O_CLOEXEC added (an exec'd child must not inherit trace fds);
/// `path` ends with a NUL.
pub fn sys_open(path: &[u8], oflag: u32, mode: u32) -> SysResult {
    debug_assert_eq!(path.last(), Some(&0));
    // SAFETY: `path` is NUL-terminated; the variadic mode is a plain int.
    int_result(unsafe { open(path.as_ptr().cast(), oflag as c_int | O_CLOEXEC, mode) })
}

/// ftruncate.
pub fn sys_ftruncate(fd: i32, len: i64) -> SysResult {
    // SAFETY: no memory is involved.
    int_result(unsafe { ftruncate(fd, len) })
}

/// close.
pub fn sys_close(fd: i32) -> SysResult {
    // SAFETY: the worker's own fds sit above the trace's range and are never
    // named by the driver, so only a trace fd is closed.
    int_result(unsafe { close(fd) })
}

/// dup, then close-on-exec set on the new fd (an exec'd child must not
/// inherit trace fds). Not F_DUPFD_CLOEXEC from 0: under an RLIMIT_NOFILE
/// of 0 that is EINVAL where dup is EMFILE (DUP-EMFILE-1; found by
/// `mmoracle diff` once gen lowered the limit on linux).
pub fn sys_dup(fd: i32) -> SysResult {
    // SAFETY: no memory is involved.
    let new = int_result(unsafe { dup(fd) })?;
    // SAFETY: fcntl(F_SETFD) takes an int argument; `new` was just made.
    int_result(unsafe { fcntl(new as c_int, F_SETFD, FD_CLOEXEC) })?;
    Ok(new)
}

/// F_DUPFD_CLOEXEC to the lowest free fd at or above `min` (the worker's own fds).
pub fn sys_dup_at_least(fd: i32, min: i32) -> SysResult {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an int argument.
    int_result(unsafe { fcntl(fd, F_DUPFD_CLOEXEC, min as c_int) })
}

/// fstat: the size.
pub fn sys_fstat_size(fd: i32) -> SysResult {
    let mut buf = StatBuf([0; 144]);
    // SAFETY: `buf` is as large as glibc's struct stat on this target.
    let r = unsafe { fstat(fd, &mut buf) };
    int_result(r)?;
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf.0[ST_SIZE_OFFSET..ST_SIZE_OFFSET + 8]);
    Ok(u64::from_ne_bytes(w))
}

/// The whole of what fstat reports that the model knows: st_size, st_uid,
/// st_gid and st_mode.
pub fn sys_fstat_full(fd: i32) -> Result<(u64, u32, u32, u32), i32> {
    let mut buf = StatBuf([0; 144]);
    // SAFETY: `buf` is as large as glibc's struct stat on this target.
    let r = unsafe { fstat(fd, &mut buf) };
    int_result(r)?;
    let word = |at: usize| u32::from_ne_bytes(buf.0[at..at + 4].try_into().expect("4 bytes"));
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf.0[ST_SIZE_OFFSET..ST_SIZE_OFFSET + 8]);
    Ok((
        u64::from_ne_bytes(w),
        word(ST_UID_OFFSET),
        word(ST_GID_OFFSET),
        word(ST_MODE_OFFSET),
    ))
}

/// pipe2 with O_CLOEXEC (an exec'd child must not inherit trace fds): the
/// read end and the write end.
pub fn sys_pipe() -> Result<(i32, i32), i32> {
    let mut fds = [0 as c_int; 2];
    // SAFETY: `fds` has room for the two fds pipe2 writes.
    int_result(unsafe { pipe2(fds.as_mut_ptr(), O_CLOEXEC) })?;
    Ok((fds[0], fds[1]))
}

/// dup3(old, new, O_CLOEXEC): `new` becomes a copy of `old`.
pub fn sys_dup_onto(old: i32, new: i32) -> SysResult {
    // SAFETY: no memory is involved.
    int_result(unsafe { dup3(old, new, O_CLOEXEC) })
}

/// fork: 0 in the child, the child's pid in the parent.
///
/// Only for a single-threaded caller (the worker): the child then holds no
/// lock another thread took, and may go on as the parent would.
pub fn sys_fork() -> SysResult {
    // SAFETY: the worker is single-threaded (its module says so and it
    // starts no thread), so the child's copy of every lock and buffer is
    // consistent; both sides go on with their own copies.
    int_result(unsafe { fork() })
}

/// umask: sets the mask, returns the old one.
pub fn sys_umask(mask: u32) -> u64 {
    // SAFETY: no memory is involved; umask cannot fail.
    u64::from(unsafe { umask(mask) })
}

/// setgroups(list).
pub fn sys_setgroups(list: &[u32]) -> SysResult {
    // SAFETY: `list` is valid for its length across the call.
    int_result(unsafe { setgroups(list.len(), list.as_ptr()) })
}

/// setresgid(gid, gid, gid).
pub fn sys_setresgid(gid: u32) -> SysResult {
    // SAFETY: no memory is involved.
    int_result(unsafe { setresgid(gid, gid, gid) })
}

/// prlimit of `pid` (0: self): sets the limit when `new` is given; returns the old one.
pub fn sys_prlimit(pid: i32, resource: i32, new: Option<(u64, u64)>) -> Result<(u64, u64), i32> {
    let mut old = RlimitC { cur: 0, max: 0 };
    let new = new.map(|(cur, max)| RlimitC { cur, max });
    let new_ptr = new.as_ref().map_or(std::ptr::null(), |n| n as *const RlimitC);
    // SAFETY: both pointers are valid for the call or null.
    int_result(unsafe { prlimit(pid, resource, new_ptr, &mut old) })?;
    Ok((old.cur, old.max))
}

/// Runs `f` when the program exits (returning from main or
/// `std::process::exit`), as C's atexit does.
pub fn at_exit(f: extern "C" fn()) {
    // SAFETY: `f` is a plain function that lives as long as the program.
    unsafe { atexit(f) };
}

const CLONE_NEWNS: c_int = 0x0002_0000;
const MS_RDONLY: std::ffi::c_ulong = 1;
const MS_REMOUNT: std::ffi::c_ulong = 32;
const MS_BIND: std::ffi::c_ulong = 4096;
const MS_REC: std::ffi::c_ulong = 16384;
const MS_PRIVATE: std::ffi::c_ulong = 1 << 18;

/// Gives this process a mount namespace of its own (its children inherit
/// it), in which `dir` is a read-only bind mount of itself: the driver, in
/// the machine's namespace, writes files there, and this process and its
/// children see them on a read-only mount. Nothing outside changes: every
/// mount is made private first, so none propagates back.
pub fn sys_read_only_bind(dir: &std::ffi::CStr) -> SysResult {
    let none = std::ptr::null::<c_char>();
    // SAFETY: CLONE_NEWNS only gives this single-threaded process its own
    // copy of the mount table.
    int_result(unsafe { unshare(CLONE_NEWNS) })?;
    // SAFETY: each pointer is a NUL-terminated string that outlives the
    // call, or null where mount(2) ignores the argument for these flags.
    unsafe {
        int_result(mount(none, c"/".as_ptr(), none, MS_REC | MS_PRIVATE, std::ptr::null()))?;
        int_result(mount(dir.as_ptr(), dir.as_ptr(), none, MS_BIND, std::ptr::null()))?;
        int_result(mount(
            none,
            dir.as_ptr(),
            none,
            MS_REMOUNT | MS_BIND | MS_RDONLY,
            std::ptr::null(),
        ))
    }
}

/// setgroups([]) then setresgid(gid) then setresuid(uid), each for all three ids.
pub fn sys_become(uid: u32, gid: u32, drop_groups: bool) -> SysResult {
    if drop_groups {
        // SAFETY: an empty list.
        int_result(unsafe { setgroups(0, std::ptr::null()) })?;
        // SAFETY: no memory is involved.
        int_result(unsafe { setresgid(gid, gid, gid) })?;
    }
    // SAFETY: no memory is involved.
    int_result(unsafe { setresuid(uid, uid, uid) })
}

/// `struct sigaction` of glibc on x86_64.
#[repr(C)]
struct SigAction {
    handler: usize,
    mask: [u64; 16],
    flags: c_int,
    restorer: usize,
}

/// `stack_t`.
#[repr(C)]
struct StackT {
    sp: *mut c_void,
    flags: c_int,
    size: usize,
}

const SA_SIGINFO: c_int = 4;
const SA_ONSTACK: c_int = 0x0800_0000;
const SIG_IGN: usize = 1;
const SIG_DFL: usize = 0;

/// Sets SIGCHLD to SIG_IGN, so exited child workers are reaped by the kernel.
pub fn ignore_sigchld() -> SysResult {
    let act = SigAction {
        handler: SIG_IGN,
        mask: [0; 16],
        flags: 0,
        restorer: 0,
    };
    // SAFETY: `act` is a valid struct sigaction; the old action is not wanted.
    int_result(unsafe { sigaction(17, &act, std::ptr::null_mut()) })
}

/// Makes SIGINT and SIGTERM, where they have their default action or are
/// ignored (not where the program handles them itself),
/// first unlink this process's shared-memory names (those starting with
/// `tag` followed by the pid and a dot: every run's prefix), then end the
/// process as the signal would. The run directory is left to the next run's
/// stale-run cleanup.
pub fn clean_shm_on_termination() {
    if let Some(base) =
        super::rundir::disk_base().and_then(|b| std::ffi::CString::new(b.into_os_string().into_encoded_bytes()).ok())
    {
        let _ = DISK_BASE.set(base);
    }
    for sig in [2, 15] {
        let mut old = SigAction {
            handler: SIG_DFL,
            mask: [0; 16],
            flags: 0,
            restorer: 0,
        };
        // An inherited SIG_IGN (a shell's background job) is replaced too: the
        // terminal does not send it SIGINT, so only an explicit kill arrives,
        // and that must still leave /dev/shm clean.
        // SAFETY: reading the current action into a valid struct.
        if unsafe { sigaction(sig, std::ptr::null(), &mut old) } != 0 || !matches!(old.handler, SIG_DFL | SIG_IGN) {
            continue; // the program handles it itself
        }
        let act = SigAction {
            handler: on_terminate as *const () as usize,
            mask: [0; 16],
            flags: 0,
            restorer: 0,
        };
        // SAFETY: `act` names a plain handler that only makes async-signal-safe system calls.
        unsafe { sigaction(sig, &act, std::ptr::null_mut()) };
    }
}

extern "C" {
    fn raise(sig: c_int) -> c_int;
}

/// Where the run directories of disk files are, for [`on_terminate`] (set
/// before the handler is installed, only read by it).
static DISK_BASE: std::sync::OnceLock<std::ffi::CString> = std::sync::OnceLock::new();

/// The SIGINT/SIGTERM handler: system calls only, no allocation, no locks.
extern "C" fn on_terminate(sig: c_int) {
    remove_own_names();
    let dfl = SigAction {
        handler: SIG_DFL,
        mask: [0; 16],
        flags: 0,
        restorer: 0,
    };
    // SAFETY: restoring the default action, then raising the signal again:
    // both are async-signal-safe, and the signal is delivered on return.
    unsafe {
        sigaction(sig, &dfl, std::ptr::null_mut());
        raise(sig);
    }
}

/// Unlinks `/dev/shm/mmoracle-<pid>.*` (shm objects and tmpfs files) and
/// removes the run directories `<disk base>/mmoracle-<pid>.*` with the flat
/// files in them, reading directories into stack buffers.
fn remove_own_names() {
    let mut prefix = [0u8; 32];
    let tag = b"mmoracle-";
    prefix[..tag.len()].copy_from_slice(tag);
    let mut len = tag.len();
    let pid = rustix::process::getpid().as_raw_nonzero().get() as u32;
    let mut digits = [0u8; 10];
    let mut n = 0;
    let mut v = pid;
    loop {
        digits[n] = b'0' + (v % 10) as u8;
        n += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for d in digits[..n].iter().rev() {
        prefix[len] = *d;
        len += 1;
    }
    prefix[len] = b'.';
    len += 1;
    let prefix = &prefix[..len];
    if let Ok(shm) = open_dir(c"/dev/shm") {
        unlink_entries(&shm, Some(prefix), false);
    }
    let Some(base) = DISK_BASE.get() else { return };
    if let Ok(base) = open_dir(base) {
        unlink_entries(&base, Some(prefix), true);
    }
}

fn open_dir(path: &std::ffi::CStr) -> rustix::io::Result<rustix::fd::OwnedFd> {
    use rustix::fs::{Mode, OFlags};
    rustix::fs::open(
        path,
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    )
}

/// Unlinks the entries of `dir` that start with `prefix` (all when `None`);
/// with `dirs_too`, an entry that is a directory is emptied (one level: run
/// directories hold flat files) and removed.
fn unlink_entries(dir: &rustix::fd::OwnedFd, prefix: Option<&[u8]>, dirs_too: bool) {
    use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        let bytes = name.to_bytes();
        if bytes == b"." || bytes == b".." || prefix.is_some_and(|p| !bytes.starts_with(p)) {
            continue;
        }
        if rustix::fs::unlinkat(dir, name, AtFlags::empty()) == Err(rustix::io::Errno::ISDIR) && dirs_too {
            let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC | OFlags::NOFOLLOW;
            if let Ok(inner) = rustix::fs::openat(dir, name, flags, Mode::empty()) {
                unlink_entries(&inner, None, false);
            }
            let _ = rustix::fs::unlinkat(dir, name, AtFlags::REMOVEDIR);
        }
    }
}

pub use fault::{access, install_fault_handler};

#[cfg(target_arch = "x86_64")]
mod fault {
    //! The access routine: `mmo_copy(dst, src, len)` is one `rep movsb`, the
    //! only instruction in the worker allowed to fault. The SIGSEGV/SIGBUS
    //! handler (on an alternate stack) checks that the saved RIP is that
    //! instruction, stores the signal number in the saved RAX and moves the
    //! saved RIP to the recovery label; `mmo_copy` then returns the signal.
    //! A fault anywhere else restores the default action and returns, so the
    //! instruction faults again and the worker dies: a crash the driver reports.
    use super::*;

    std::arch::global_asm!(
        ".text",
        ".globl mmoracle_copy",
        ".type mmoracle_copy,@function",
        "mmoracle_copy:",
        "    xor eax, eax",
        "    mov rcx, rdx",
        ".globl mmoracle_copy_fault",
        "mmoracle_copy_fault:",
        "    rep movsb",
        ".globl mmoracle_copy_recover",
        "mmoracle_copy_recover:",
        "    ret",
        ".size mmoracle_copy, .-mmoracle_copy",
    );

    extern "C" {
        fn mmoracle_copy(dst: *mut u8, src: *const u8, len: usize) -> u64;
        static mmoracle_copy_fault: u8;
        static mmoracle_copy_recover: u8;
    }

    /// Offsets in glibc's x86_64 ucontext_t: uc_mcontext.gregs starts at 40;
    /// REG_RAX is 13 and REG_RIP 16.
    const GREGS: usize = 40;
    const REG_RAX: usize = 13;
    const REG_RIP: usize = 16;
    const ALT_STACK: usize = 64 * 1024;

    extern "C" fn on_fault(sig: c_int, _info: *mut c_void, ctx: *mut c_void) {
        // SAFETY: the kernel passes a valid ucontext_t as the third argument
        // of an SA_SIGINFO handler; the two registers are plain u64 slots in
        // its gregs array, and the statics are labels in our own text.
        unsafe {
            let gregs = ctx.cast::<u8>().add(GREGS).cast::<u64>();
            let rip = gregs.add(REG_RIP);
            if *rip == std::ptr::addr_of!(mmoracle_copy_fault) as u64 {
                *gregs.add(REG_RAX) = sig as u64;
                *rip = std::ptr::addr_of!(mmoracle_copy_recover) as u64;
                return;
            }
            let dfl = SigAction {
                handler: SIG_DFL,
                mask: [0; 16],
                flags: 0,
                restorer: 0,
            };
            sigaction(sig, &dfl, std::ptr::null_mut());
        }
    }

    /// Installs the SIGSEGV and SIGBUS handlers on an alternate stack mapped here.
    pub fn install_fault_handler() -> SysResult {
        let stack = sys_mmap(0, ALT_STACK as u64, 3, 0x22, -1, 0)?;
        let ss = StackT {
            sp: stack as *mut c_void,
            flags: 0,
            size: ALT_STACK,
        };
        // SAFETY: `stack` is a fresh private mapping of ALT_STACK bytes that is never unmapped.
        int_result(unsafe { sigaltstack(&ss, std::ptr::null_mut()) })?;
        let act = SigAction {
            handler: on_fault as *const () as usize,
            mask: [0; 16],
            flags: SA_SIGINFO | SA_ONSTACK,
            restorer: 0,
        };
        for sig in [11, 7] {
            // SAFETY: `act` is a valid struct sigaction naming an SA_SIGINFO handler.
            int_result(unsafe { sigaction(sig, &act, std::ptr::null_mut()) })?;
        }
        Ok(0)
    }

    /// Copies `len` bytes from `src` to `dst`, either of which may be trace
    /// memory; returns 0, or the signal number of the fault that stopped it
    /// (the bytes before the faulting one have been copied).
    pub fn access(dst: u64, src: u64, len: usize) -> u64 {
        // SAFETY: one side is the worker's own buffer of at least `len`
        // bytes; the other is trace memory, which the Rust program never
        // refers to, so writing it aliases nothing (the driver refuses stores
        // into the worker's own ranges). A fault is recovered by the handler
        // above at the one instruction that may fault.
        unsafe { mmoracle_copy(dst as *mut u8, src as *const u8, len) }
    }
}

#[cfg(not(target_arch = "x86_64"))]
mod fault {
    use super::*;

    /// Loads and stores are not supported on this architecture.
    pub fn install_fault_handler() -> SysResult {
        Ok(0)
    }

    /// Loads and stores are not supported on this architecture: reports ENOSYS-like failure.
    pub fn access(_dst: u64, _src: u64, _len: usize) -> u64 {
        u64::MAX
    }
}
