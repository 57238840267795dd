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
    fn sigaction(sig: c_int, act: *const SigAction, old: *mut SigAction) -> c_int;
    fn sigaltstack(ss: *const StackT, old: *mut StackT) -> c_int;
}

const F_DUPFD_CLOEXEC: c_int = 1030;
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

/// dup, as F_DUPFD_CLOEXEC from 0 (the lowest free fd, like dup).
pub fn sys_dup(fd: i32) -> SysResult {
    // SAFETY: fcntl(F_DUPFD_CLOEXEC) takes an int argument.
    int_result(unsafe { fcntl(fd, F_DUPFD_CLOEXEC, 0 as c_int) })
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

/// prlimit of `pid` (0: self): sets the limit when `new` is given; returns the old one.
pub fn sys_prlimit(pid: i32, resource: i32, new: Option<(u64, u64)>) -> Result<(u64, u64), i32> {
    let mut old = RlimitC { cur: 0, max: 0 };
    let new = new.map(|(cur, max)| RlimitC { cur, max });
    let new_ptr = new.as_ref().map_or(std::ptr::null(), |n| n as *const RlimitC);
    // SAFETY: both pointers are valid for the call or null.
    int_result(unsafe { prlimit(pid, resource, new_ptr, &mut old) })?;
    Ok((old.cur, old.max))
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

/// The SIGINT/SIGTERM handler: system calls only, no allocation, no locks.
extern "C" fn on_terminate(sig: c_int) {
    remove_own_shm_names();
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

/// Unlinks `/dev/shm/mmoracle-<pid>.*`, reading the directory into a stack buffer.
fn remove_own_shm_names() {
    use rustix::fs::{AtFlags, Mode, OFlags, RawDir};
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
    let Ok(dir) = rustix::fs::open(
        c"/dev/shm",
        OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC,
        Mode::empty(),
    ) else {
        return;
    };
    let mut buf = [std::mem::MaybeUninit::<u8>::uninit(); 4096];
    let mut entries = RawDir::new(&dir, &mut buf);
    while let Some(Ok(entry)) = entries.next() {
        let name = entry.file_name();
        if name.to_bytes().starts_with(prefix) {
            let _ = rustix::fs::unlinkat(&dir, name, AtFlags::empty());
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
