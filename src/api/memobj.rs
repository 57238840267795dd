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
//! (fstat), MEMOBJ-ENXIO-2, MEMOBJ-ENXIO-1, MEMOBJ-EMFILE-1,
//! MEMOBJ-REFCOUNT-1, then the mmap (or mmap_peer) result mapped by
//! [`mmap_error`], MEMOBJ-MAP-1.

use super::decided;
use crate::call::{Call, Handle, Outcome, Value};
use crate::manager::MemoryManager;
use crate::rules::{Checks, RuleId, Verdict};
use crate::types::{Addr, Errno, Fd, Len, MapFlags, OFlags, Pid, Prot};
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
    next_handle: u64,
    next_name: u64,
    preferred: Option<u64>,
}

fn fail(errno: Errno, rule: RuleId) -> Verdict {
    Verdict::only(Outcome::Err(errno), rule)
}

/// The rule and errno memobj_map reports for an error of the underlying
/// mmap or mmap_peer.
pub fn mmap_error(errno: Errno, peer: bool) -> Verdict {
    let (out, rule, alt): (Errno, RuleId, &[Outcome]) = match errno {
        Errno::ESRCH => (Errno::ESRCH, "MEMOBJ-ESRCH-1", &[]),
        Errno::EPERM => (Errno::EPERM, "MEMOBJ-EPERM-2", &[]),
        Errno::EACCES => (Errno::EACCES, "MEMOBJ-EACCES-1", &[]),
        Errno::EAGAIN => (Errno::EAGAIN, "MEMOBJ-EAGAIN-1", &[Outcome::Err(Errno::ENOMEM)]),
        Errno::ENOSYS if peer => (Errno::EINVAL, "MEMOBJ-EINVAL-5", &[]),
        Errno::ENOTSUP | Errno::ENODEV | Errno::ENOSYS => (Errno::ENODEV, "MEMOBJ-ENODEV-1", &[]),
        Errno::ENOMEM => (Errno::ENOMEM, "MEMOBJ-ENOMEM-1", &[Outcome::Err(Errno::EMFILE)]),
        Errno::EBUSY => (Errno::EBUSY, "MEMOBJ-EBUSY-1", &[]),
        Errno::EBADF => (Errno::EBADF, "MEMOBJ-EBADF-3", &[]),
        Errno::ENXIO => (Errno::ENXIO, "MEMOBJ-ENXIO-1", &[]),
        Errno::EINVAL => (Errno::EINVAL, "MEMOBJ-EINVAL-3", &[]),
        other => (other, "MEMOBJ-ERRNO-1", &[]),
    };
    decided(Outcome::Err(out), rule, alt)
}

impl Memobj {
    fn new_handle(&mut self, state: HandleState, rule: RuleId) -> Verdict {
        let id = match self.preferred.take() {
            Some(h) if h != 0 && !self.handles.contains_key(&h) => h,
            _ => {
                self.next_handle += 1;
                while self.handles.contains_key(&self.next_handle) {
                    self.next_handle += 1;
                }
                self.next_handle
            }
        };
        self.handles.insert(id, state);
        Verdict::ok(Value::Handle(Handle(id)), rule)
    }

    /// Makes the next new handle `h` (an implementation's pointer value is
    /// its own choice; the oracle adopts it) if `h` is free and not NULL.
    pub fn prefer_handle(&mut self, h: Handle) {
        self.preferred = Some(h.0);
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
            Err(e) => return fail(e, "MEMOBJ-ERRNO-2"),
        };
        let sized = mm.execute(pid, &Call::Ftruncate { fd, len: nbytes as i64 });
        mm.execute(pid, &Call::ShmUnlink { name });
        if let Outcome::Err(e) = sized {
            mm.execute(pid, &Call::Close { fd });
            let rule = if e == Errno::ENOMEM {
                "MEMOBJ-ENOMEM-2"
            } else {
                "MEMOBJ-ERRNO-2"
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
        match self.dup(mm, pid, fd) {
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

    fn dup<M: MemoryManager + ?Sized>(&self, mm: &mut M, pid: Pid, fd: Fd) -> Result<Fd, Verdict> {
        match mm.execute(pid, &Call::Dup { fd }) {
            Outcome::Ok(Value::Fd(own)) => Ok(own),
            Outcome::Err(Errno::EBADF) => Err(fail(Errno::EBADF, "MEMOBJ-EBADF-2")),
            Outcome::Err(Errno::EMFILE) => Err(fail(Errno::EMFILE, "MEMOBJ-EMFILE-3")),
            Outcome::Err(e) => Err(fail(e, "MEMOBJ-ERRNO-2")),
            other => Err(fail(unexpected(&other), "MEMOBJ-ERRNO-2")),
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
        if let Some(v) = c.verdict() {
            return v;
        }
        let size = match mm.execute(pid, &Call::Fstat { fd }) {
            Outcome::Ok(Value::Size(size)) => size,
            _ => return fail(Errno::EBADF, "MEMOBJ-EBADF-3"),
        };
        if nbytes == 0 && offset >= size {
            return decided(
                Outcome::Err(Errno::ENXIO),
                "MEMOBJ-ENXIO-2",
                &[Outcome::Err(Errno::EINVAL)],
            );
        }
        let len = if nbytes == 0 { size - offset } else { nbytes };
        if offset + len > size {
            return fail(Errno::ENXIO, "MEMOBJ-ENXIO-1");
        }
        let target = if target.0 == 0 { pid } else { target };
        if let Some(v) = self.reuse(pid, h, target, offset, len, prot) {
            return v;
        }
        if mapped >= MAX_MAPPINGS {
            return fail(Errno::EMFILE, "MEMOBJ-EMFILE-1");
        }
        self.map_new(
            mm,
            pid,
            h,
            Mapping {
                target,
                vaddr: Addr(0),
                len,
                prot,
                offset,
                refs: 1,
            },
            fd,
        )
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
                self.handles.get_mut(&h.0).expect("owned").mappings.push(m);
                Verdict::ok(Value::Addr(vaddr), "MEMOBJ-MAP-1")
            }
            Outcome::Err(e) => mmap_error(e, peer),
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
        m.refs -= 1;
        if m.refs > 0 {
            return Verdict::ok(Value::Unit, "MEMOBJ-UNMAP-2");
        }
        let m = state.mappings.remove(index);
        match unmap_mapping(mm, pid, &m) {
            Outcome::Ok(_) | Outcome::Err(Errno::ESRCH) => Verdict::ok(Value::Unit, "MEMOBJ-UNMAP-1"),
            Outcome::Err(e) => fail(e, "MEMOBJ-ERRNO-1"),
            other => fail(unexpected(&other), "MEMOBJ-ERRNO-1"),
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
        match self.dup(mm, pid, fd) {
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
