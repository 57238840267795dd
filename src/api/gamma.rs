//! The Gamma (Cogent) binding (seed 001_88d024ee21ee2ef8.txt):
//! `mmap(size, prot_flags, share_flags, shm_file, offset)` returns a buffer
//! holding the bytes the mapping shows, or nil with errno set; `shm_open(name,
//! flags, mode[, size])` optionally sizes the object.
//!
//! spec: spec/gamma.md. mmap: GAMMA-ENOSYS-1, GAMMA-ENOMEM-2, then the C
//! mmap's errno mapped by [`mmap_error`], then the buffer: GAMMA-SIGSEGV-1
//! or GAMMA-SIGBUS-1 (reading it faults), or GAMMA-MMAP-1. shm_open:
//! GAMMA-SHMERR-1, GAMMA-SIZE-1, GAMMA-SHMOPEN-1.

use crate::call::{Call, Outcome, Value, MAX_ACCESS};
use crate::manager::MemoryManager;
use crate::rules::{RuleId, Verdict};
use crate::types::{Addr, Errno, Fd, Len, MapFlags, OFlags, Pid, Prot, Signal};

/// The rule for an errno the C mmap returned through the binding.
pub fn mmap_error(errno: Errno) -> Verdict {
    let rule: RuleId = match errno {
        Errno::EACCES => "GAMMA-EACCES-1",
        Errno::EAGAIN => "GAMMA-EAGAIN-1",
        Errno::EBADF => "GAMMA-EBADF-1",
        Errno::EINVAL => "GAMMA-EINVAL-1",
        Errno::ENODEV => "GAMMA-ENODEV-1",
        Errno::ENOMEM => "GAMMA-ENOMEM-1",
        Errno::ENOTSUP => "GAMMA-ENOTSUP-1",
        Errno::ENXIO => "GAMMA-ENXIO-1",
        _ => "GAMMA-ERRNO-1",
    };
    Verdict::only(Outcome::Err(errno), rule)
}

/// Gamma `mmap(size, prot_flags, share_flags, shm_file, offset)`.
pub fn mmap<M: MemoryManager + ?Sized>(
    mm: &mut M,
    pid: Pid,
    size: u64,
    prot: Prot,
    share: MapFlags,
    shm_file: Fd,
    offset: u64,
) -> Verdict {
    if !mm.profile_name().profile().has_gamma {
        return Verdict::only(Outcome::Err(Errno::ENOSYS), "GAMMA-ENOSYS-1");
    }
    if size > MAX_ACCESS {
        return Verdict::only(Outcome::Err(Errno::ENOMEM), "GAMMA-ENOMEM-2");
    }
    let call = Call::Mmap {
        addr: Addr(0),
        len: Len(size),
        prot,
        flags: share,
        fd: shm_file,
        off: offset,
    };
    let addr = match mm.execute(pid, &call) {
        Outcome::Ok(Value::Addr(addr)) => addr,
        Outcome::Err(e) => return mmap_error(e),
        other => return Verdict::only(other, "GAMMA-ERRNO-1"),
    };
    match mm.execute(pid, &Call::Load { addr, len: Len(size) }) {
        Outcome::Ok(bytes) => Verdict::ok(bytes, "GAMMA-MMAP-1"),
        Outcome::Fault(signal) => Verdict::fault(signal, buffer_fault_rule(signal)),
        Outcome::Err(e) => Verdict::only(Outcome::Err(e), "GAMMA-ERRNO-1"),
    }
}

/// The rule for the signal reading the buffer gets: PROT_NONE (or an
/// address that is not mapped) is SIGSEGV, a page past the object SIGBUS.
fn buffer_fault_rule(signal: Signal) -> RuleId {
    match signal {
        Signal::SIGSEGV => "GAMMA-SIGSEGV-1",
        Signal::SIGBUS => "GAMMA-SIGBUS-1",
    }
}

/// Gamma `shm_open(name, flags, mode[, size])`.
pub fn shm_open<M: MemoryManager + ?Sized>(
    mm: &mut M,
    pid: Pid,
    name: &str,
    oflag: OFlags,
    mode: u32,
    size: Option<u64>,
) -> Verdict {
    let fd = match mm.execute(
        pid,
        &Call::ShmOpen {
            name: name.to_string(),
            oflag,
            mode,
        },
    ) {
        Outcome::Ok(Value::Fd(fd)) => fd,
        other => return Verdict::only(other, "GAMMA-SHMERR-1"),
    };
    if let Some(size) = size {
        let len = i64::try_from(size).unwrap_or(i64::MAX);
        if let Outcome::Err(e) = mm.execute(pid, &Call::Ftruncate { fd, len }) {
            mm.execute(pid, &Call::Close { fd });
            return Verdict::only(Outcome::Err(e), "GAMMA-SIZE-1");
        }
    }
    Verdict::ok(Value::Fd(fd), "GAMMA-SHMOPEN-1")
}
