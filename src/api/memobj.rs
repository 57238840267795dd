//! libmemobj (seed 000_5466d53f238d485f.txt): memory-object handles over the
//! primitive calls.
//!
//! A handle owns a file descriptor of its own (from `shm_open` for
//! `memobj_create`, from `dup` for `memobj_wrap` and `memobj_share`), so
//! closing the handle never closes the caller's wrapped fd. Mappings belong to
//! the handle that made them: identical repeated maps share one mapping and
//! are reference counted, and `memobj_close` deletes every mapping the handle
//! still has.
//!
//! spec: spec/memobj.md. memobj_map checks, in order: MEMOBJ-EBADF-1,
//! MEMOBJ-EINVAL-1, MEMOBJ-EPERM-1, MEMOBJ-EOVERFLOW-1, MEMOBJ-EBADF-3
//! (fstat), MEMOBJ-ENXIO-2, MEMOBJ-ENXIO-1, (into another process: its
//! mappings are forgotten if it has gone), MEMOBJ-REFCOUNT-1,
//! MEMOBJ-EMFILE-1, then the mmap (or mmap_peer) result mapped by
//! [`mmap_error`], MEMOBJ-MAP-1.

use super::decided;
use crate::call::{Call, Handle, Outcome, Value};
use crate::manager::MemoryManager;
use crate::rules::{Checks, RuleId, Verdict};
use crate::types::{Addr, Errno, Fd, Len, MapFlags, OFlags, Pid, Prot, Resource};
use std::collections::BTreeMap;

/// The most mappings one handle keeps (its `mapping_list`); one more is EMFILE.
pub const MAX_MAPPINGS: usize = 1024;
/// The largest `off64_t`.
const OFF64_MAX: u64 = i64::MAX as u64;
/// How many unique names `memobj_create` tries before giving up.
const NAME_TRIES: u32 = 16;

/// One mapping a handle made.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Mapping {
    target: Pid,
    vaddr: Addr,
    len: u64,
    prot: Prot,
    offset: u64,
    refs: u32,
}

/// One handle.
#[derive(Clone, Debug)]
struct HandleState {
    owner: Pid,
    fd: Fd,
    created: bool,
    mappings: Vec<Mapping>,
}

/// libmemobj's state: the live handles.
#[derive(Clone, Debug, Default)]
pub struct Memobj {
    handles: BTreeMap<u64, HandleState>,
    /// The numbers of the live handles, for the lowest free one in O(log n).
    numbers: crate::types::Runs,
    next_name: u64,
    preferred: Option<u64>,
    /// Whether the last new handle was `preferred` in place of the library's own.
    took_preferred: bool,
    /// Every process some handle may still have a mapping into (a superset):
    /// forgetting the mappings into a process that has gone walks every
    /// handle, so it is done once per process, not on every memobj_map.
    mapped_into: std::collections::BTreeSet<Pid>,
}

fn fail(errno: Errno, rule: RuleId) -> Verdict {
    Verdict::only(Outcome::Err(errno), rule)
}

/// The rule and errno memobj_map reports for an error of the underlying
/// mmap or mmap_peer. `no_peer_call` says the platform has no mmap_peer, so
/// an ENOSYS from a peer call means "no mapping into other processes" rather
/// than a file's server without an mmap handler.
pub fn mmap_error(errno: Errno, no_peer_call: bool) -> Verdict {
    let (out, rule, alt): (Errno, RuleId, &[Outcome]) = match errno {
        Errno::ESRCH => (Errno::ESRCH, "MEMOBJ-ESRCH-1", &[]),
        Errno::EPERM => (Errno::EPERM, "MEMOBJ-EPERM-2", &[]),
        Errno::EACCES => (Errno::EACCES, "MEMOBJ-EACCES-1", &[]),
        Errno::EAGAIN => (Errno::EAGAIN, "MEMOBJ-EAGAIN-1", &[Outcome::Err(Errno::ENOMEM)]),
        Errno::ENOSYS if no_peer_call => (Errno::EINVAL, "MEMOBJ-EINVAL-5", &[]),
        Errno::ENOTSUP | Errno::ENODEV | Errno::ENOSYS => (Errno::ENODEV, "MEMOBJ-ENODEV-1", &[]),
        Errno::ENOMEM => (Errno::ENOMEM, "MEMOBJ-ENOMEM-1", &[Outcome::Err(Errno::EMFILE)]),
        Errno::EBUSY => (Errno::EBUSY, "MEMOBJ-EBUSY-1", &[]),
        Errno::EBADF => (Errno::EBADF, "MEMOBJ-EBADF-3", &[]),
        Errno::ENXIO => (Errno::ENXIO, "MEMOBJ-ENXIO-1", &[]),
        // Linux's mmap checks the page-rounded end against the largest offset.
        Errno::EOVERFLOW => (Errno::EOVERFLOW, "MEMOBJ-EOVERFLOW-1", &[]),
        Errno::EINVAL => (Errno::EINVAL, "MEMOBJ-EINVAL-3", &[]),
        other => (other, "MEMOBJ-ERRNO-1", &[]),
    };
    decided(Outcome::Err(out), rule, alt)
}

impl Memobj {
    fn new_handle(&mut self, state: HandleState, rule: RuleId) -> Verdict {
        let id = match self.preferred.take() {
            Some(h) if h != 0 && !self.handles.contains_key(&h) => {
                self.took_preferred = h != self.next_free_handle();
                h
            }
            _ => self.next_free_handle(),
        };
        self.handles.insert(id, state);
        self.numbers.insert(id);
        Verdict::ok(Value::Handle(Handle(id)), rule)
    }

    /// Makes the next new handle `h` (an implementation's pointer value is
    /// its own choice; the oracle adopts it) if `h` is free and not NULL.
    pub fn prefer_handle(&mut self, h: Handle) {
        self.preferred = Some(h.0);
        self.took_preferred = false;
    }

    /// Whether the last new handle was the preferred one where the library
    /// would have chosen another; forgets a preference no call used.
    pub fn took_preference(&mut self) -> bool {
        self.preferred = None;
        std::mem::take(&mut self.took_preferred)
    }

    /// The handle the library chooses next: the lowest that is not NULL and
    /// not in use (the model's stand-in for a pointer malloc hands out).
    fn next_free_handle(&self) -> u64 {
        self.numbers.lowest_free_from(1)
    }

    /// The handle `h` if `pid` owns it.
    fn owned(&self, pid: Pid, h: Handle) -> Option<&HandleState> {
        self.handles.get(&h.0).filter(|s| s.owner == pid)
    }

    /// `memobj_create(nbytes)`.
    pub fn create<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, nbytes: u64) -> Verdict {
        if nbytes == 0 || nbytes > OFF64_MAX {
            return fail(Errno::EINVAL, "MEMOBJ-EINVAL-2");
        }
        let Some((name, fd)) = self.open_unique(mm, pid) else {
            return fail(Errno::EEXIST, "MEMOBJ-EEXIST-1");
        };
        let fd = match fd {
            Ok(fd) => fd,
            Err(Errno::EMFILE) => return fail(Errno::EMFILE, "MEMOBJ-EMFILE-2"),
            Err(e) => return fail(e, "MEMOBJ-ERRNO-1"),
        };
        let sized = mm.execute(pid, &Call::Ftruncate { fd, len: nbytes as i64 });
        mm.execute(pid, &Call::ShmUnlink { name });
        if let Outcome::Err(e) = sized {
            mm.execute(pid, &Call::Close { fd });
            let rule = if e == Errno::ENOMEM {
                "MEMOBJ-ENOMEM-2"
            } else {
                "MEMOBJ-ERRNO-1"
            };
            return fail(e, rule);
        }
        self.new_handle(
            HandleState {
                owner: pid,
                fd,
                created: true,
                mappings: Vec::new(),
            },
            "MEMOBJ-CREATE-1",
        )
    }

    /// Opens a fresh shared-memory object under a name nobody uses; `None`
    /// when every try found the name taken.
    fn open_unique<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid) -> Option<(String, Result<Fd, Errno>)> {
        for _ in 0..NAME_TRIES {
            self.next_name += 1;
            let name = format!("/memobj.{}.{}", pid.0, self.next_name);
            let oflag = OFlags::CREAT | OFlags::EXCL | OFlags::RDWR;
            match mm.execute(
                pid,
                &Call::ShmOpen {
                    name: name.clone(),
                    oflag,
                    mode: 0o600,
                },
            ) {
                Outcome::Ok(Value::Fd(fd)) => return Some((name, Ok(fd))),
                Outcome::Err(Errno::EEXIST) => continue,
                Outcome::Err(e) => return Some((name, Err(e))),
                other => return Some((name, Err(unexpected(&other)))),
            }
        }
        None
    }

    /// `memobj_wrap(fd)`.
    pub fn wrap<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, fd: Fd) -> Verdict {
        // A closed fd here is the caller's own: "the wrapped file descriptor is invalid".
        match dup(mm, pid, fd, "MEMOBJ-EBADF-2") {
            Ok(own) => {
                let state = HandleState {
                    owner: pid,
                    fd: own,
                    created: false,
                    mappings: Vec::new(),
                };
                self.new_handle(state, "MEMOBJ-WRAP-1")
            }
            Err(v) => v,
        }
    }

    /// `memobj_map(vaddr_out, obj, pid, prot, offset, nbytes)`.
    #[allow(clippy::too_many_arguments)]
    pub fn map<M: MemoryManager + ?Sized>(
        &mut self,
        mm: &mut M,
        pid: Pid,
        h: Handle,
        target: Pid,
        prot: Prot,
        offset: u64,
        nbytes: u64,
    ) -> Verdict {
        let Some(state) = self.owned(pid, h) else {
            return fail(Errno::EBADF, "MEMOBJ-EBADF-1");
        };
        let (fd, created, mapped) = (state.fd, state.created, state.mappings.len());
        if let Some(v) = argument_checks(created, prot, offset, nbytes) {
            return v;
        }
        let len = match mapped_length(mm, pid, fd, offset, nbytes) {
            Ok(len) => len,
            Err(v) => return v,
        };
        let target = if target.0 == 0 { pid } else { target };
        // MEMOBJ-ESRCH-1 in every profile, before a platform without
        // mmap_peer could say "not supported" (MEMOBJ-EINVAL-5).
        if target != pid && self.forget_if_gone(mm, pid, target) {
            return fail(Errno::ESRCH, "MEMOBJ-ESRCH-1");
        }
        if let Some(v) = self.reuse(pid, h, target, offset, len, prot) {
            return v;
        }
        if mapped >= MAX_MAPPINGS {
            return fail(Errno::EMFILE, "MEMOBJ-EMFILE-1");
        }
        let m = Mapping {
            target,
            vaddr: Addr(0),
            len,
            prot,
            offset,
            refs: 1,
        };
        self.map_new(mm, pid, h, m, fd)
    }

    /// Forgets every mapping into `target` if that process has gone (its
    /// pages went with it), so a repeat cannot count a reference to them;
    /// says whether it has gone. getrlimit of another process answers ESRCH
    /// exactly when it is gone.
    fn forget_if_gone<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, target: Pid) -> bool {
        let probe = Call::Getrlimit {
            resource: Resource::RLIMIT_AS,
            target: Some(target),
        };
        let gone = mm.execute(pid, &probe) == Outcome::Err(Errno::ESRCH);
        if gone && self.mapped_into.remove(&target) {
            for state in self.handles.values_mut() {
                state.mappings.retain(|m| m.target != target);
            }
        }
        gone
    }

    /// An identical earlier mapping of this handle, reference counted.
    fn reuse(&mut self, pid: Pid, h: Handle, target: Pid, offset: u64, len: u64, prot: Prot) -> Option<Verdict> {
        let state = self.handles.get_mut(&h.0).filter(|s| s.owner == pid)?;
        let m = state
            .mappings
            .iter_mut()
            .find(|m| m.target == target && m.offset == offset && m.len == len && m.prot == prot)?;
        m.refs += 1;
        Some(Verdict::ok(Value::Addr(m.vaddr), "MEMOBJ-REFCOUNT-1"))
    }

    fn map_new<M: MemoryManager + ?Sized>(
        &mut self,
        mm: &mut M,
        pid: Pid,
        h: Handle,
        mut m: Mapping,
        fd: Fd,
    ) -> Verdict {
        let peer = m.target != pid;
        let (addr, len, flags, off) = (Addr(0), Len(m.len), MapFlags::SHARED, m.offset);
        let call = if peer {
            Call::MmapPeer {
                target: m.target,
                addr,
                len,
                prot: m.prot,
                flags,
                fd,
                off,
            }
        } else {
            Call::Mmap {
                addr,
                len,
                prot: m.prot,
                flags,
                fd,
                off,
            }
        };
        match mm.execute(pid, &call) {
            Outcome::Ok(Value::Addr(vaddr)) => {
                m.vaddr = vaddr;
                self.mapped_into.insert(m.target);
                self.handles.get_mut(&h.0).expect("owned").mappings.push(m);
                Verdict::ok(Value::Addr(vaddr), "MEMOBJ-MAP-1")
            }
            Outcome::Err(e) => {
                let no_peer_call = peer && !mm.profile_name().profile().has_mmap_peer;
                mmap_error(e, no_peer_call)
            }
            other => fail(unexpected(&other), "MEMOBJ-ERRNO-1"),
        }
    }

    /// `memobj_unmap(obj, pid, vaddr)`.
    pub fn unmap<M: MemoryManager + ?Sized>(
        &mut self,
        mm: &mut M,
        pid: Pid,
        h: Handle,
        target: Pid,
        vaddr: Addr,
    ) -> Verdict {
        let target = if target.0 == 0 { pid } else { target };
        let Some(state) = self.handles.get_mut(&h.0).filter(|s| s.owner == pid) else {
            return fail(Errno::EBADF, "MEMOBJ-EBADF-1");
        };
        let Some(index) = state
            .mappings
            .iter()
            .position(|m| m.target == target && m.vaddr == vaddr)
        else {
            return fail(Errno::EINVAL, "MEMOBJ-EINVAL-4");
        };
        let m = &mut state.mappings[index];
        if m.refs > 1 {
            m.refs -= 1;
            return Verdict::ok(Value::Unit, "MEMOBJ-UNMAP-2");
        }
        let m = m.clone();
        match unmap_mapping(mm, pid, &m) {
            // An exited process has nothing left to unmap.
            Outcome::Ok(_) | Outcome::Err(Errno::ESRCH) => {
                self.forget(h, &m);
                Verdict::ok(Value::Unit, "MEMOBJ-UNMAP-1")
            }
            // The pages are still there, so the handle keeps the mapping.
            Outcome::Err(e) => fail(e, "MEMOBJ-ERRNO-1"),
            other => fail(unexpected(&other), "MEMOBJ-ERRNO-1"),
        }
    }

    /// Drops `m` from the handle's mapping list.
    fn forget(&mut self, h: Handle, m: &Mapping) {
        if let Some(state) = self.handles.get_mut(&h.0) {
            state.mappings.retain(|x| x != m);
        }
    }

    /// `memobj_close(obj)`.
    pub fn close<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, h: Handle) -> Verdict {
        if h.0 == 0 {
            return Verdict::ok(Value::Unit, "MEMOBJ-CLOSE-2");
        }
        if self.owned(pid, h).is_none() {
            return fail(Errno::EBADF, "MEMOBJ-EBADF-1");
        }
        let state = self.handles.remove(&h.0).expect("owned");
        self.numbers.remove(h.0);
        for m in &state.mappings {
            unmap_mapping(mm, pid, m);
        }
        mm.execute(pid, &Call::Close { fd: state.fd });
        Verdict::ok(Value::Unit, "MEMOBJ-CLOSE-1")
    }

    /// `memobj_share(obj)`: a new handle with its own fd and its own mappings.
    pub fn share<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, h: Handle) -> Verdict {
        let Some(state) = self.owned(pid, h) else {
            return fail(Errno::EBADF, "MEMOBJ-EBADF-1");
        };
        let (fd, created) = (state.fd, state.created);
        // A closed fd here is the handle's own, closed behind the library's back.
        match dup(mm, pid, fd, "MEMOBJ-EBADF-3") {
            Ok(own) => self.new_handle(
                HandleState {
                    owner: pid,
                    fd: own,
                    created,
                    mappings: Vec::new(),
                },
                "MEMOBJ-SHARE-1",
            ),
            Err(v) => v,
        }
    }

    /// The number of live handles.
    pub fn handle_count(&self) -> usize {
        self.handles.len()
    }
}

/// memobj_map's checks of its arguments, which need no system call.
fn argument_checks(created: bool, prot: Prot, offset: u64, nbytes: u64) -> Option<Verdict> {
    let mut c = Checks::new();
    c.check(
        "MEMOBJ-EINVAL-1",
        Errno::EINVAL,
        prot.bits() & !Prot::MASK != 0 || offset > OFF64_MAX,
    )
    .check("MEMOBJ-EPERM-1", Errno::EPERM, created && prot.contains(Prot::EXEC))
    .check(
        "MEMOBJ-EOVERFLOW-1",
        Errno::EOVERFLOW,
        offset.checked_add(nbytes).is_none_or(|e| e > OFF64_MAX),
    );
    c.verdict()
}

/// The length memobj_map maps, checked against the object's current size
/// (fstat of the handle's fd); nbytes 0 means up to the object's end.
fn mapped_length<M: MemoryManager + ?Sized>(
    mm: &mut M,
    pid: Pid,
    fd: Fd,
    offset: u64,
    nbytes: u64,
) -> Result<u64, Verdict> {
    let size = match mm.execute(pid, &Call::Fstat { fd }) {
        Outcome::Ok(Value::Size(size)) => size,
        _ => return Err(fail(Errno::EBADF, "MEMOBJ-EBADF-3")),
    };
    if nbytes == 0 && offset >= size {
        let alt = [Outcome::Err(Errno::EINVAL)];
        return Err(decided(Outcome::Err(Errno::ENXIO), "MEMOBJ-ENXIO-2", &alt));
    }
    let len = if nbytes == 0 { size - offset } else { nbytes };
    if offset + len > size {
        return Err(fail(Errno::ENXIO, "MEMOBJ-ENXIO-1"));
    }
    Ok(len)
}

/// `dup(fd)` for a new handle; an EBADF is decided by `bad_fd`.
fn dup<M: MemoryManager + ?Sized>(mm: &mut M, pid: Pid, fd: Fd, bad_fd: RuleId) -> Result<Fd, Verdict> {
    match mm.execute(pid, &Call::Dup { fd }) {
        Outcome::Ok(Value::Fd(own)) => Ok(own),
        Outcome::Err(Errno::EBADF) => Err(fail(Errno::EBADF, bad_fd)),
        Outcome::Err(Errno::EMFILE) => Err(fail(Errno::EMFILE, "MEMOBJ-EMFILE-3")),
        other => Err(fail(unexpected(&other), "MEMOBJ-ERRNO-1")),
    }
}

/// Removes one mapping from its process (whole pages around `vaddr`).
fn unmap_mapping<M: MemoryManager + ?Sized>(mm: &mut M, pid: Pid, m: &Mapping) -> Outcome {
    let page = mm.profile_name().profile().page_size;
    let start = m.vaddr.align_down(page);
    let len = Len(m.len + (m.vaddr.0 - start.0));
    if m.target == pid {
        mm.execute(pid, &Call::Munmap { addr: start, len })
    } else {
        mm.execute(
            pid,
            &Call::MunmapPeer {
                target: m.target,
                addr: start,
                len,
            },
        )
    }
}

/// The errno standing for a primitive result of the wrong kind.
fn unexpected(outcome: &Outcome) -> Errno {
    match outcome {
        Outcome::Err(e) => *e,
        _ => Errno::EIO,
    }
}
