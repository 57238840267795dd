//! mmap: normalisation, the checks in each profile's order, placement, and
//! the commit that creates the region.
//!
//! spec: spec/mmap.md; its "Check order" section lists the same orders.
//!
//! procnto (MmapOrder::Procnto), memmgr_map() then vmm_mmap(): MMAP-EINVAL-1,
//! MMAP-EINVAL-14, MMAP-EINVAL-2, MMAP-EINVAL-3, MMAP-EINVAL-4, MMAP-EINVAL-5,
//! MMAP-EINVAL-6, MMAP-EPERM-1, MMAP-EINVAL-7, MMAP-EINVAL-8, MMAP-EBADF-1,
//! MMAP-ENOTSUP-1, (a server's file: the _IO_MMAP exchange instead of the next
//! four) MMAP-EACCES-1, MMAP-EACCES-2, MMAP-ENOTSUP-3, MMAP-ENXIO-2,
//! MMAP-EINVAL-9, MMAP-ENOMEM-1, MMAP-ENOMEM-2,
//! MMAP-EINVAL-10, MMAP-ENOMEM-3, MMAP-ENOMEM-4, MMAP-EINVAL-11,
//! MMAP-ENOMEM-5, MMAP-ENOMEM-7, MMAP-ENXIO-1, (a MAP_FIXED range is unmapped
//! here), MMAP-ENOMEM-6, MMAP-EAGAIN-1; success MMAP-OK-1 / MMAP-OK-2, or for
//! a server's file IOMMAP-WRITE-1 / IOMMAP-RETRY-1.
//!
//! Linux (MmapOrder::Linux), sys_mmap(), ksys_mmap_pgoff(), do_mmap(),
//! mmap_region(): MMAP-EINVAL-12, MMAP-EBADF-2, MMAP-EINVAL-2, MMAP-ENOMEM-4,
//! MMAP-ENOMEM-7, MMAP-ENOMEM-8, MMAP-ENOMEM-3, MMAP-ERRADDR-1, MMAP-ENOMEM-5, MMAP-EINVAL-13, MMAP-EPERM-4,
//! MMAP-EEXIST-1, MMAP-EPERM-3, MMAP-EAGAIN-1, MMAP-EOVERFLOW-1, MMAP-EOVERFLOW-2,
//! MMAP-EINVAL-1, MMAP-ENOTSUP-2, MMAP-EACCES-2, MMAP-EACCES-1,
//! MMAP-EPERM-5, MMAP-ENODEV-1, MMAP-EINVAL-15, MMAP-ENOMEM-2, MMAP-ENOMEM-1, MMAP-ENOMEM-6; success
//! MMAP-OK-1 / MMAP-OK-2, or MMAP-OK-3 when a stack's guard gap moved the placement.

use super::object::{ObjKind, Object};
use super::process::{FdEntry, FdTarget, Process};
use super::region::{Backing, Region};
use super::resmgr::{Exchange, FileAttr};
use super::space::Counters;
use super::{ApplyError, Model};
use crate::call::{Call, Outcome, Value};
use crate::profile::{CommitScope, DataFacts, LimitLen, LockPrivilege, MmapArgs, MmapOrder, RegionLimit};
use crate::rules::{Checks, Verdict};
use crate::types::{page_offset, Addr, AddrRange, Errno, Fd, Len, MapFlags, ObjId, Pid, Prot, Resource};
use std::cell::Cell;

/// The flags Linux's `LEGACY_MAP_MASK` knows, in QNX numbering (MAP_TYPE,
/// FIXED, ANONYMOUS, GROWSDOWN, STACK, NORESERVE, POPULATE, LOCKED; FIXED_NOREPLACE is
/// left out of the refusal, see MMAP-ENOTSUP-2).
const LINUX_KNOWN_FLAGS: u32 = MapFlags::TYPE_MASK
    | MapFlags::FIXED.bits()
    | MapFlags::ANON.bits()
    | MapFlags::GROWSDOWN.bits()
    | MapFlags::STACK.bits()
    | MapFlags::NORESERVE.bits()
    | MapFlags::POPULATE.bits()
    | MapFlags::LOCKED.bits()
    | MapFlags::FIXED_NOREPLACE.bits();

/// The procnto rules that fail after vmm_mmap() has already unmapped a
/// MAP_FIXED range (steps 14 and 15, after step 13).
const AFTER_FIXED_UNMAP: [&str; 2] = ["MMAP-ENOMEM-6", "MMAP-EAGAIN-1"];

/// What the request maps, once the fd is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Anonymous memory (MAP_ANON, NOFD on procnto, /dev/zero).
    Anon,
    /// Physical memory by address (procnto MAP_PHYS without an fd).
    Phys,
    /// An object through an fd (shm, /dev/mem).
    Object(ObjId),
    /// An fd that does not refer to anything mappable.
    Unmappable,
    /// No usable fd.
    BadFd,
}

/// An mmap request after the profile's normalisation, with every fact the
/// checks need.
#[derive(Clone, Debug)]
struct Request {
    addr: u64,
    len: u64,
    prot: Prot,
    flags: MapFlags,
    fd: Fd,
    off: u64,
    source: Source,
    /// The fd the mapping goes through (object, /dev/zero or unmappable).
    entry: Option<FdEntry>,
    shared: bool,
    /// The offset inside the first page that the returned address keeps.
    pg_off: u64,
    /// Page-rounded size of the region, `None` when it wraps.
    size: Option<u64>,
    /// The region's base for MAP_FIXED.
    fixed_base: u64,
    /// The stack guard size (procnto MAP_STACK), page-rounded, at most `size`.
    guard: u64,
    /// The placement policy's choice for a floating mapping in the target's
    /// address space, searched for once (the no-room check and the base both
    /// need it): `None` until searched for.
    placement: Cell<Option<Option<u64>>>,
}

impl Request {
    fn fixed(&self) -> bool {
        self.flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE)
    }

    fn fixed_range(&self) -> Option<AddrRange> {
        AddrRange::new(Addr(self.fixed_base), Len(self.size?))
    }

    fn lazy(&self) -> bool {
        self.flags.contains(MapFlags::LAZY)
    }

    fn writes(&self) -> bool {
        self.prot.contains(Prot::WRITE)
    }

    /// Private anonymous memory has no object behind it.
    fn private_anon(&self) -> bool {
        self.source == Source::Anon && !self.shared
    }

    fn fd_readable(&self) -> bool {
        self.entry.is_some_and(|e| e.oflags.readable())
    }

    fn fd_writable(&self) -> bool {
        self.entry.is_some_and(|e| e.oflags.writable())
    }

    /// Whether the fd's file lives on a mount that forbids executing it:
    /// a pipe (Linux's pipefs is mounted noexec; MMAP-EPERM-5).
    fn on_noexec_mount(&self) -> bool {
        self.entry.is_some_and(|e| matches!(e.target, FdTarget::Pipe { .. }))
    }

    /// The object offset of the region's first byte (page-aligned).
    fn object_offset(&self, page: u64) -> u64 {
        self.off - page_offset(self.off, page)
    }

    /// Regions the mapping adds: a stack guard smaller than the mapping is one more.
    fn regions_needed(&self) -> usize {
        1 + usize::from(self.guard != 0 && Some(self.guard) != self.size)
    }
}

/// Where a request lies in pages (see [`Request`]'s fields of the same names).
#[derive(Clone, Copy, Debug)]
struct PageLayout {
    pg_off: u64,
    size: Option<u64>,
    guard: u64,
}

/// What an mmap outcome changes (see [`Model::mmap_effect`]).
#[derive(Clone, Copy, Debug)]
enum MmapEffect {
    /// A new region over `range`, locked when `locked` (MCL_FUTURE).
    Map { range: AddrRange, locked: bool },
    /// A failure: on procnto, one after the MAP_FIXED unmap leaves the range
    /// empty.
    Failed(Errno),
    /// Nothing: a fault (mmap never gives one).
    Nothing,
}

/// What a MAP_FIXED range holds now and would give back when unmapped.
#[derive(Clone, Copy, Debug, Default)]
struct Replaced {
    counters: Counters,
    committed: u64,
}

impl Model {
    /// Judges an mmap call.
    pub(super) fn plan_mmap(&self, pid: Pid, fd_owner: Pid, call: &Call) -> Verdict {
        self.mmap_verdict(&self.procs[&pid], &self.mmap_request(&self.procs[&fd_owner], call))
    }

    /// Judges an mmap by `pid` and, when `accept` takes the verdict, applies
    /// the model's own outcome (its result into `applied`), reading the
    /// arguments once for both.
    pub(super) fn step_mmap(
        &mut self,
        pid: Pid,
        call: &Call,
        accept: impl FnOnce(&Verdict) -> bool,
        applied: impl FnOnce(Result<(), ApplyError>),
    ) -> Verdict {
        // One look-up of the caller serves the request and the checks.
        let Some(proc) = self.procs.get(&pid) else {
            return super::step_no_such_process(accept, applied);
        };
        let req = self.mmap_request(proc, call);
        let verdict = self.mmap_verdict(proc, &req);
        if accept(&verdict) {
            // The same look-up of the caller serves the outcome's judgement.
            let result = self
                .mmap_effect(proc, &req, &verdict.outcome)
                .map(|effect| self.commit_effect(pid, &req, effect));
            self.debug_check_invariants();
            applied(result);
        }
        verdict
    }

    /// The verdict on a request by `proc`: the first failing check, or the
    /// address the profile's placement chooses.
    fn mmap_verdict(&self, proc: &Process, req: &Request) -> Verdict {
        let mut checks = Checks::new();
        self.mmap_checks(proc, req, &mut checks);
        checks.or_else(|| {
            let base = self.mmap_base(proc, req).expect("the no-room check passed");
            let rule = match self.file_exchange(req) {
                Some(x) if x.retried => "IOMMAP-RETRY-1",
                Some(_) => "IOMMAP-WRITE-1",
                None if req.fixed() => "MMAP-OK-2",
                None if req
                    .size
                    .is_some_and(|size| proc.space.moved_by_stack_gap(size, req.addr, self.profile)) =>
                {
                    "MMAP-OK-3"
                }
                None => "MMAP-OK-1",
            };
            Verdict::ok(Value::Addr(Addr(base + req.pg_off)), rule)
        })
    }

    /// The server's file behind the request's fd, on a profile where procnto
    /// asks the server (under linux a server's file is a regular file).
    fn server_file(&self, r: &Request) -> Option<(&FileAttr, FdEntry)> {
        let Source::Object(id) = r.source else { return None };
        self.server_answers_mmap()
            .then(|| self.server.file(id))
            .flatten()
            .zip(r.entry)
    }

    /// How the `_IO_MMAP` exchange for the request's file ends, if it is one
    /// and the server grants it. Inlined so that a request without an object
    /// (most) is answered by one test, without a call (a plain hint left
    /// it a call).
    #[inline(always)]
    fn file_exchange(&self, r: &Request) -> Option<Exchange> {
        if !matches!(r.source, Source::Object(_)) {
            return None;
        }
        let (file, entry) = self.server_file(r)?;
        self.io_mmap_exchange(file, entry.oflags, r.prot, r.shared, &mut Checks::new())
    }

    /// Every check of the profile's order, into `c`: the caller's list is
    /// filled in place (a list returned is built here and then moved).
    fn mmap_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        match self.profile.mmap_order {
            MmapOrder::Procnto => {
                self.procnto_front_checks(proc, r, c);
                self.procnto_vmm_checks(proc, r, c);
            }
            MmapOrder::Linux => {
                self.linux_entry_checks(proc, r, c);
                self.linux_placement_checks(proc, r, c);
                self.linux_lock_checks(proc, r, c);
                self.linux_file_checks(r, c);
                self.linux_region_checks(proc, r, c);
            }
        }
    }

    /// Normalises the arguments the way the profile's front end does.
    /// `fd_owner` is the process whose fd table `fd` is looked up in: the
    /// caller, also for mmap_peer.
    /// Inlined (a plain hint leaves it a call): built in its caller's frame,
    /// a request costs some 20 instructions less per mmap.
    #[inline(always)]
    fn mmap_request(&self, fd_owner: &Process, call: &Call) -> Request {
        let Call::Mmap {
            addr,
            len,
            prot,
            flags,
            fd,
            off,
        } = *call
        else {
            unreachable!("plan_mmap is only called for mmap")
        };
        let as_given = self.profile.mmap_args == MmapArgs::KernelAsGiven;
        let (prot, flags) = if as_given {
            // Linux does not validate mmap's prot; bits it does not know are ignored.
            (prot & (Prot::READ | Prot::WRITE | Prot::EXEC), flags)
        } else {
            procnto_normalise(prot, flags, fd, self.profile.share_type_zero_private)
        };
        let (source, entry) = self.mmap_source(fd_owner, flags, fd);
        // MAP_SHARED_VALIDATE is shared; procnto rewrote type 3 to private.
        let shared = flags.share_type() == 1 || (as_given && flags.share_type() == 3);
        let pages = self.page_layout(addr.0, len.0, off, flags, source == Source::Anon && !shared);
        // Built whole where it is returned: a request filled in afterwards
        // was built on the stack and copied out (about 150 bytes).
        Request {
            addr: addr.0,
            len: len.0,
            prot,
            flags,
            fd,
            off,
            source,
            entry,
            shared,
            pg_off: pages.pg_off,
            size: pages.size,
            fixed_base: addr.0 - self.profile.page_offset(addr.0),
            guard: pages.guard,
            placement: Cell::new(None),
        }
    }

    /// What the fd (or its absence) maps.
    fn mmap_source(&self, proc: &Process, flags: MapFlags, fd: Fd) -> (Source, Option<FdEntry>) {
        // Linux ignores the fd of an anonymous mapping; procnto refuses it (MMAP-EINVAL-5).
        if flags.contains(MapFlags::ANON) {
            return (Source::Anon, None);
        }
        // procnto's MAP_PHYS never looks the fd up (MMAP-EINVAL-7 refuses one).
        if self.profile.map_phys_by_addr && flags.contains(MapFlags::PHYS) {
            return (Source::Phys, None);
        }
        match proc.fd(fd) {
            None => (Source::BadFd, None),
            Some(e) => {
                let source = match e.target {
                    FdTarget::Zero => Source::Anon,
                    FdTarget::Unmappable | FdTarget::Pipe { .. } => Source::Unmappable,
                    FdTarget::Object(id) if self.file_without_mmap(id) => Source::Unmappable,
                    FdTarget::Object(id) => Source::Object(id),
                };
                (source, Some(*e))
            }
        }
    }

    /// A server's file that the kernel maps itself (no `_IO_MMAP`) and whose
    /// server has no mmap support: no `f_op->mmap`, so ENODEV like every
    /// unmappable file (MMAP-ENODEV-1). Where procnto asks the server, the
    /// exchange answers instead (IOMMAP-ENOSYS-1).
    fn file_without_mmap(&self, id: ObjId) -> bool {
        !self.server_answers_mmap()
            && self
                .server
                .file(id)
                .is_some_and(|f| f.handler == super::resmgr::MmapHandler::Missing)
    }

    /// The sub-page offset, the page-rounded size and the stack guard of a
    /// request with these (normalised) arguments.
    fn page_layout(&self, addr: u64, len: u64, off: u64, flags: MapFlags, private_anon: bool) -> PageLayout {
        let p = self.profile;
        let stack = p.stack_guard && flags.contains(MapFlags::STACK);
        let pg_off = if p.fixed_anon_keeps_addr_offset && flags.contains(MapFlags::FIXED) && private_anon {
            // vmm_mmap: anonymous memory without an object takes addr's
            // sub-page offset, stack or not (MAP_FIXED returns addr exactly).
            p.page_offset(addr)
        } else if stack {
            // A floating MAP_STACK's offset is the guard size, not an object offset.
            0
        } else {
            p.page_offset(off)
        };
        let size = len.checked_add(pg_off).and_then(|l| p.round_up(l)).filter(|s| *s != 0);
        // MAP_FIXED forces the guard to 0; the guard lies inside the mapping.
        let guard = if stack && !flags.contains(MapFlags::FIXED) {
            p.round_up(off).unwrap_or(u64::MAX).min(size.unwrap_or(0))
        } else {
            0
        };
        PageLayout { pg_off, size, guard }
    }

    /// memmgr_map(): the share type, argument bits, then the ANON / PHYS / fd branch.
    fn procnto_front_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let anon = r.flags.contains(MapFlags::ANON);
        let phys = !anon && r.flags.contains(MapFlags::PHYS);
        let fd_path = !anon && !phys;
        let bad_flag_bits = MapFlags::RESERVED_MASK | MapFlags::PG_MASK | MapFlags::SYSRAM.bits() | Prot::MASK;
        c.check("MMAP-EINVAL-1", Errno::EINVAL, r.flags.share_type() > 3)
            .check("MMAP-EINVAL-14", Errno::EINVAL, r.flags.share_type() == 0)
            .check("MMAP-EINVAL-2", Errno::EINVAL, r.len == 0)
            .check("MMAP-EINVAL-3", Errno::EINVAL, r.prot.bits() & !Prot::MASK != 0)
            .check("MMAP-EINVAL-4", Errno::EINVAL, r.flags.bits() & bad_flag_bits != 0)
            .check("MMAP-EINVAL-5", Errno::EINVAL, anon && r.fd != Fd::NOFD)
            .check(
                "MMAP-EINVAL-6",
                Errno::EINVAL,
                anon && r.flags.contains(MapFlags::PHYS) && r.lazy(),
            )
            .check("MMAP-EPERM-1", Errno::EPERM, phys && proc.euid != 0)
            .check("MMAP-EINVAL-7", Errno::EINVAL, phys && r.fd != Fd::NOFD)
            .check("MMAP-EINVAL-8", Errno::EINVAL, phys && self.phys_out_of_range(r))
            .check("MMAP-EBADF-1", Errno::EBADF, fd_path && r.source == Source::BadFd)
            // The QNX and POSIX documents name ENODEV for an fd that cannot be mapped.
            .check_alt(
                "MMAP-ENOTSUP-1",
                self.profile.unmappable_fd,
                Some(Errno::ENODEV),
                fd_path && r.source == Source::Unmappable,
            );
        // A file of another process's server: procnto asks the server (_IO_MMAP).
        if let (true, Some((file, entry))) = (fd_path, self.server_file(r)) {
            self.io_mmap_exchange(file, entry.oflags, r.prot, r.shared, c);
            return;
        }
        // devmem_check / devzero_check: only fds procnto can map reach the access checks.
        let checked = r.entry.is_some() && r.source != Source::Unmappable;
        c.check("MMAP-EACCES-1", Errno::EACCES, checked && !r.fd_readable())
            .check(
                "MMAP-EACCES-2",
                Errno::EACCES,
                checked && r.shared && r.writes() && !r.fd_writable(),
            );
        self.physical_fd_checks(r, c);
    }

    /// QNX 4's `Physical` object: no copy-on-write of physical memory, and
    /// its range ends at the last physical address.
    fn physical_fd_checks(&self, r: &Request, c: &mut Checks) {
        let p = self.profile;
        let physical = r.source == Source::Object(self.phys);
        let private_refused = p.private_phys_errno.filter(|_| physical && !r.shared);
        c.check_alt(
            "MMAP-ENOTSUP-3",
            private_refused.unwrap_or(Errno::ENOTSUP),
            Some(Errno::EOPNOTSUPP),
            private_refused.is_some(),
        )
        .check(
            "MMAP-ENXIO-2",
            Errno::ENXIO,
            p.phys_fd_range_check && physical && self.phys_out_of_range(r),
        );
    }

    /// vmm_mmap(): limits before placement, then the object range, then
    /// (after a MAP_FIXED range is unmapped) allocation and locking.
    fn procnto_vmm_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let page = self.profile.page_size;
        let gone = self.replaced(proc, r);
        c.check(
            "MMAP-EINVAL-9",
            Errno::EINVAL,
            r.flags.contains(MapFlags::STACK) && (!r.flags.contains(MapFlags::ANON) || r.off >= r.len),
        )
        .check("MMAP-ENOMEM-1", Errno::ENOMEM, self.data_blown(proc, r))
        .check("MMAP-ENOMEM-2", Errno::ENOMEM, self.as_blown(proc, r))
        .check(
            "MMAP-EINVAL-10",
            Errno::EINVAL,
            r.flags.contains(MapFlags::FIXED)
                && !r.private_anon()
                && page_offset(r.addr, page) != page_offset(r.off, page),
        )
        .check("MMAP-ENOMEM-3", Errno::ENOMEM, self.no_room(proc, r))
        .check("MMAP-ENOMEM-4", Errno::ENOMEM, r.len != 0 && r.size.is_none())
        .check(
            "MMAP-EINVAL-11",
            Errno::EINVAL,
            r.fixed() && (r.addr < self.profile.user_start || r.addr >= self.profile.user_end),
        )
        .check("MMAP-ENOMEM-5", Errno::ENOMEM, self.fixed_past_end(r))
        // The QNX mmap documentation names EMFILE for too many mappings.
        .check_alt(
            "MMAP-ENOMEM-7",
            Errno::ENOMEM,
            Some(Errno::EMFILE),
            self.too_many_regions(proc, r),
        )
        .check("MMAP-ENXIO-1", Errno::ENXIO, self.object_range_blown(r))
        .check("MMAP-ENOMEM-6", Errno::ENOMEM, self.commit_blown(r, gone.committed))
        // ms_lock returns EAGAIN; the QNX documentation says ENOMEM.
        .check_alt(
            "MMAP-EAGAIN-1",
            Errno::EAGAIN,
            Some(Errno::ENOMEM),
            self.future_lock_blown(proc, r, gone.counters.locked),
        );
    }

    /// sys_mmap(), ksys_mmap_pgoff() and the start of do_mmap().
    fn linux_entry_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let file = !r.flags.contains(MapFlags::ANON);
        c.check("MMAP-EINVAL-12", Errno::EINVAL, self.profile.page_offset(r.off) != 0)
            .check("MMAP-EBADF-2", Errno::EBADF, file && r.source == Source::BadFd)
            .check("MMAP-EINVAL-2", Errno::EINVAL, r.len == 0)
            .check("MMAP-ENOMEM-4", Errno::ENOMEM, r.len != 0 && r.size.is_none())
            .check("MMAP-ENOMEM-7", Errno::ENOMEM, self.too_many_regions(proc, r));
    }

    /// get_unmapped_area() and MAP_FIXED_NOREPLACE.
    fn linux_placement_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let fixed = r.fixed();
        let overlaps = r.fixed_range().is_some_and(|fr| !proc.space.is_free(fr));
        // get_unmapped_area() hands a MAP_FIXED address back as it is, and
        // its caller takes a value in the last 4095 as an error number.
        let as_errno = (fixed && r.addr > u64::MAX - 4095)
            .then(|| Errno::from_linux((r.addr as i64).unsigned_abs() as i32))
            .flatten();
        let longer_than_space = r
            .size
            .is_some_and(|size| size > self.profile.user_end - self.profile.user_start);
        c.check("MMAP-ENOMEM-8", Errno::ENOMEM, longer_than_space)
            .check("MMAP-ENOMEM-3", Errno::ENOMEM, self.no_room(proc, r))
            .check("MMAP-ERRADDR-1", as_errno.unwrap_or(Errno::EINVAL), as_errno.is_some())
            .check("MMAP-ENOMEM-5", Errno::ENOMEM, self.fixed_past_end(r))
            .check(
                "MMAP-EINVAL-13",
                Errno::EINVAL,
                fixed && self.profile.page_offset(r.addr) != 0,
            )
            .check(
                "MMAP-EPERM-4",
                Errno::EPERM,
                fixed && self.below_min_addr_refused(proc, r),
            )
            .check(
                "MMAP-EEXIST-1",
                Errno::EEXIST,
                r.flags.contains(MapFlags::FIXED_NOREPLACE) && overlaps,
            );
    }

    /// security_mmap_addr(): below `mmap_min_addr` only a caller with the
    /// raw-I/O privilege (CAP_SYS_RAWIO) may map; the model's root holds it
    /// (spec/processes.md), so root gets the next check's answer.
    fn below_min_addr_refused(&self, proc: &Process, r: &Request) -> bool {
        r.addr < self.profile.mmap_min_addr && !proc.holds_raw_io()
    }

    /// MAP_LOCKED's privilege, then mlock_future_ok().
    fn linux_lock_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let can_lock = proc.cap_ipc_lock || proc.limit(Resource::RLIMIT_MEMLOCK).cur != 0;
        c.check(
            "MMAP-EPERM-3",
            Errno::EPERM,
            r.flags.contains(MapFlags::LOCKED) && !can_lock,
        )
        .check("MMAP-EAGAIN-1", Errno::EAGAIN, self.future_lock_blown(proc, r, 0));
    }

    /// do_mmap()'s switch on the share type, with the file checks inside it.
    fn linux_file_checks(&self, r: &Request, c: &mut Checks) {
        let file = !r.flags.contains(MapFlags::ANON);
        let valid_type = match r.flags.share_type() {
            1 | 2 => true,
            3 => file,
            _ => false,
        };
        let checked = file && valid_type && r.entry.is_some();
        let unknown_flags = r.flags.bits() & !LINUX_KNOWN_FLAGS != 0;
        c.check("MMAP-EOVERFLOW-1", Errno::EOVERFLOW, file && self.object_range_blown(r))
            .check("MMAP-EOVERFLOW-2", Errno::EOVERFLOW, file && self.device_range_wraps(r))
            .check("MMAP-EINVAL-1", Errno::EINVAL, !valid_type)
            // EOPNOTSUPP on Linux, the same number (95) as ENOTSUP.
            .check_alt(
                "MMAP-ENOTSUP-2",
                Errno::ENOTSUP,
                Some(Errno::EOPNOTSUPP),
                checked && r.flags.share_type() == 3 && unknown_flags,
            )
            .check(
                "MMAP-EACCES-2",
                Errno::EACCES,
                checked && r.shared && r.writes() && !r.fd_writable(),
            )
            .check("MMAP-EACCES-1", Errno::EACCES, checked && !r.fd_readable())
            .check(
                "MMAP-EPERM-5",
                Errno::EPERM,
                checked && r.prot.contains(Prot::EXEC) && r.on_noexec_mount(),
            )
            .check(
                "MMAP-ENODEV-1",
                self.profile.unmappable_fd,
                checked && r.source == Source::Unmappable,
            )
            // VM_GROWSDOWN only for private anonymous memory: the file case
            // and the shared anonymous case each refuse it.
            .check(
                "MMAP-EINVAL-15",
                Errno::EINVAL,
                valid_type && r.flags.contains(MapFlags::GROWSDOWN) && (file || r.shared),
            );
    }

    /// mmap_region(): may_expand_vm() and the overcommit check.
    fn linux_region_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        c.check("MMAP-ENOMEM-2", Errno::ENOMEM, self.as_blown(proc, r))
            .check("MMAP-ENOMEM-1", Errno::ENOMEM, self.data_blown(proc, r))
            .check(
                "MMAP-ENOMEM-6",
                Errno::ENOMEM,
                self.commit_blown(r, self.overcommit_credit(proc, r)),
            );
    }

    /// What a private MAP_FIXED mapping's overcommit charge leaves out on
    /// Linux: the charged pages it replaces (mmap_region: `charged -=
    /// vms.nr_accounted`). Shared anonymous memory is charged whole by shmem.
    fn overcommit_credit(&self, proc: &Process, r: &Request) -> u64 {
        let Some(range) = r.fixed_range().filter(|_| r.fixed() && !r.shared) else {
            return 0;
        };
        if !self.profile.fixed_replace_credit {
            return 0;
        }
        proc.space
            .overlapping(range)
            .filter(|reg| reg.overcommit_charged())
            .filter_map(|reg| reg.range.intersect(&range))
            .map(|part| part.len().0)
            .sum()
    }

    fn phys_out_of_range(&self, r: &Request) -> bool {
        let end = r.off.checked_add(r.len).and_then(|e| self.profile.round_up(e));
        end.is_none_or(|e| e == 0 || e - 1 > self.profile.last_paddr)
    }

    /// No address is forced and no hole fits.
    fn no_room(&self, proc: &Process, r: &Request) -> bool {
        !r.fixed() && r.size.is_some() && self.floating_base(proc, r).is_none()
    }

    /// Where the placement policy puts a floating mapping, if anywhere.
    fn floating_base(&self, proc: &Process, r: &Request) -> Option<u64> {
        // A Cell, not a OnceCell: OnceCell::get_or_init runs the search in
        // a #[cold] function of its own, a call on every floating mmap,
        // whose first look always searches.
        if let Some(base) = r.placement.get() {
            return base;
        }
        let base = r
            .size
            .and_then(|size| proc.space.find_free(size, r.addr, self.profile))
            .map(|a| a.0);
        r.placement.set(Some(base));
        base
    }

    /// A MAP_FIXED range ends past the user address space (or wraps).
    fn fixed_past_end(&self, r: &Request) -> bool {
        r.fixed() && r.size.is_some() && r.fixed_range().is_none_or(|fr| fr.end().0 > self.profile.user_end)
    }

    fn too_many_regions(&self, proc: &Process, r: &Request) -> bool {
        let count = proc.space.region_count();
        match self.profile.region_limit {
            RegionLimit::CountAfter => count + r.regions_needed() > self.profile.max_regions,
            // do_mmap tests map_count > max_map_count, so one more mapping fits.
            RegionLimit::CountBefore => count > self.profile.max_regions,
        }
    }

    /// What the MAP_FIXED range holds now (zero for a floating mapping).
    fn replaced(&self, proc: &Process, r: &Request) -> Replaced {
        let Some(range) = r.fixed_range().filter(|_| r.fixed()) else {
            return Replaced::default();
        };
        let committed = proc
            .space
            .overlapping(range)
            .filter(|reg| reg.committed)
            .filter_map(|reg| reg.range.intersect(&range))
            .map(|part| part.len().0)
            .sum();
        Replaced {
            counters: proc.space.counters_in(range),
            committed,
        }
    }

    /// The bytes a MAP_FIXED mapping's RLIMIT_AS/DATA checks credit: Linux
    /// gathers the old mappings first and subtracts every replaced page from
    /// both (may_expand_vm(pglen - nr_pages)); procnto checks before unmapping.
    fn limit_credit(&self, proc: &Process, r: &Request) -> u64 {
        if self.profile.fixed_replace_credit {
            self.replaced(proc, r).counters.total
        } else {
            0
        }
    }

    /// RLIMIT_DATA's scope (MMAP-ENOMEM-1), the predicate mprotect asks too.
    fn counts_data(&self, r: &Request) -> bool {
        self.profile.data_scope.counts(DataFacts {
            shared: r.shared,
            anon: r.source == Source::Anon,
            prot: r.prot,
            flags: r.flags,
        })
    }

    /// Whether `used + add - credit` blows `limit`.
    fn limit_blown(&self, used: u64, add: u64, credit: u64, limit: u64) -> bool {
        match used.checked_add(add) {
            Some(total) => self.profile.rlimit_cmp.blown(total.saturating_sub(credit), 0, limit),
            None => self.profile.rlimit_cmp.blown(u64::MAX, 1, limit),
        }
    }

    /// RLIMIT_DATA. Linux lets a soft limit of 0 fall back to the hard one
    /// (may_expand_vm's exception for Valgrind).
    fn data_blown(&self, proc: &Process, r: &Request) -> bool {
        if !self.counts_data(r) {
            return false;
        }
        let limit = proc.limit(Resource::RLIMIT_DATA);
        let cap = if self.profile.data_zero_soft_uses_hard && limit.cur == 0 {
            limit.max
        } else {
            limit.cur
        };
        let used = proc.space.counters().data;
        self.limit_blown(used, self.limit_len(r), self.limit_credit(proc, r), cap)
    }

    /// RLIMIT_AS counts every mapping.
    fn as_blown(&self, proc: &Process, r: &Request) -> bool {
        let used = proc.space.counters().total;
        let cap = proc.limit(Resource::RLIMIT_AS).cur;
        self.limit_blown(used, self.limit_len(r), self.limit_credit(proc, r), cap)
    }

    /// procnto tests the unrounded length; Linux the pages.
    fn limit_len(&self, r: &Request) -> u64 {
        match self.profile.limit_len {
            LimitLen::Unrounded => r.len,
            LimitLen::Pages => r.size.unwrap_or(u64::MAX),
        }
    }

    /// The object range check (procnto ENXIO, Linux EOVERFLOW). The object's
    /// current size is not checked: access past it is SIGBUS.
    fn object_range_blown(&self, r: &Request) -> bool {
        if !matches!(r.source, Source::Object(_) | Source::Phys) {
            return false;
        }
        let Some(size) = r.size else { return false };
        r.object_offset(self.profile.page_size)
            .checked_add(size)
            .is_none_or(|end| end > self.profile.max_object_offset)
    }

    /// Whether the mapping goes through a device or a pipe (no regular file
    /// or shared-memory object) and its offset range wraps: Linux lets such
    /// files use every unsigned offset, so only the wrap is refused.
    fn device_range_wraps(&self, r: &Request) -> bool {
        let device = r
            .entry
            .is_some_and(|e| matches!(e.target, FdTarget::Zero | FdTarget::Unmappable | FdTarget::Pipe { .. }));
        let Some(size) = r.size else { return false };
        device && r.object_offset(self.profile.page_size).checked_add(size).is_none()
    }

    /// Up-front memory the mapping needs.
    fn commit_need(&self, r: &Request) -> u64 {
        let Some(size) = r.size else { return 0 };
        let needs = match self.profile.commit_scope {
            // A shared anonymous object is allocated whole (its charge); other
            // anonymous memory and private copies of objects unless MAP_LAZY.
            CommitScope::UnlessLazy => {
                (r.source == Source::Anon && r.shared)
                    || (!r.lazy()
                        && (r.source == Source::Anon
                            || (!r.shared && matches!(r.source, Source::Object(id) if id != self.phys))))
            }
            // accountable_mapping(), and shmem's accounting of shared anonymous memory.
            CommitScope::Accountable => {
                !r.flags.contains(MapFlags::NORESERVE)
                    && ((!r.shared && r.writes()) || (r.shared && r.source == Source::Anon))
            }
        };
        if needs {
            size
        } else {
            0
        }
    }

    /// System memory: procnto allocates cumulatively (after unmapping a
    /// MAP_FIXED range, whose charge is `credit`); Linux judges one call,
    /// less the charged pages it replaces (`credit`).
    fn commit_blown(&self, r: &Request, credit: u64) -> bool {
        let need = self.commit_need(r);
        let total = if self.profile.commit_cumulative {
            self.committed.saturating_sub(credit).checked_add(need)
        } else {
            Some(need.saturating_sub(credit))
        };
        need != 0 && total.is_none_or(|t| t > self.profile.ram_bytes)
    }

    /// Whether the mapping will be locked (MCL_FUTURE, Linux MAP_LOCKED) and
    /// the lock limit forbids it; `credit` is locked memory already unmapped.
    fn future_lock_blown(&self, proc: &Process, r: &Request, credit: u64) -> bool {
        let locks = self.locks_at_mmap(proc, r);
        let Some(size) = r.size.filter(|_| locks) else {
            return false;
        };
        if self.profile.lock_privilege == LockPrivilege::CapOrLimit && proc.cap_ipc_lock {
            return false;
        }
        let locked = proc.space.counters().locked;
        self.limit_blown(locked, size, credit, proc.limit(Resource::RLIMIT_MEMLOCK).cur)
    }

    /// Whether the new mapping is locked: MCL_FUTURE, or MAP_LOCKED where it locks.
    fn locks_at_mmap(&self, proc: &Process, r: &Request) -> bool {
        proc.mcl_future || (self.profile.map_locked_locks && r.flags.contains(MapFlags::LOCKED))
    }

    /// Where the region goes: the fixed base, or the placement policy's choice.
    fn mmap_base(&self, proc: &Process, r: &Request) -> Option<u64> {
        if r.fixed() {
            return Some(r.fixed_base);
        }
        self.floating_base(proc, r)
    }

    /// Applies an mmap outcome: on success, creates the region at the
    /// returned address (adopting a different free address than the model's);
    /// on a procnto failure after the MAP_FIXED unmap, empties the range.
    pub(super) fn commit_mmap(
        &mut self,
        pid: Pid,
        fd_owner: Pid,
        call: &Call,
        outcome: &Outcome,
    ) -> Result<(), String> {
        let r = self.mmap_request(&self.procs[&fd_owner], call);
        self.commit_request(pid, &r, outcome)
    }

    /// Applies an mmap outcome to the request it answers.
    fn commit_request(&mut self, pid: Pid, r: &Request, outcome: &Outcome) -> Result<(), String> {
        let effect = self.mmap_effect(&self.procs[&pid], r, outcome)?;
        self.commit_effect(pid, r, effect);
        Ok(())
    }

    /// What an mmap outcome of a request by `proc` changes, judged before
    /// anything changes (an address the implementation was not free to
    /// choose is refused). Inlined, like [`Model::commit_effect`], so that
    /// the effect is not passed through memory on every mmap.
    #[inline]
    fn mmap_effect(&self, proc: &Process, r: &Request, outcome: &Outcome) -> Result<MmapEffect, String> {
        match outcome {
            Outcome::Ok(Value::Addr(addr)) => Ok(MmapEffect::Map {
                range: self.adoptable_range(proc, r, *addr)?,
                locked: self.locks_at_mmap(proc, r),
            }),
            Outcome::Ok(value) => Err(format!("mmap returns an address, not {value}")),
            Outcome::Err(errno) => Ok(MmapEffect::Failed(*errno)),
            Outcome::Fault(_) => Ok(MmapEffect::Nothing),
        }
    }

    /// Applies what [`Model::mmap_effect`] judged (inlined, see there).
    #[inline]
    fn commit_effect(&mut self, pid: Pid, r: &Request, effect: MmapEffect) {
        match effect {
            MmapEffect::Map { range, locked } => self.commit_mapping(pid, r, range, locked),
            MmapEffect::Failed(errno) => self.commit_failed_fixed(pid, r, errno),
            MmapEffect::Nothing => {}
        }
    }

    fn commit_mapping(&mut self, pid: Pid, r: &Request, range: AddrRange, locked: bool) {
        // Only an object can be a server's file: anonymous memory skips the look-up.
        if let Source::Object(id) = r.source {
            if let Some(x) = self.file_exchange(r) {
                self.grant_io_mmap(id, x.granted);
            }
        }
        if r.fixed() {
            self.unmap_range(pid, range);
        }
        let region = self.new_region(r, range, locked);
        self.insert_with_guard(pid, region, r.guard);
    }

    /// procnto unmaps a MAP_FIXED range (vmm_mmap step 13) before it allocates
    /// and locks; a failure there leaves the range empty. The earliest rule
    /// that gives the observed errno says how far the call got.
    fn commit_failed_fixed(&mut self, pid: Pid, r: &Request, errno: Errno) {
        if !self.profile.failed_fixed_leaves_hole || !r.fixed() {
            return;
        }
        let mut checks = Checks::new();
        self.mmap_checks(&self.procs[&pid], r, &mut checks);
        let stage = checks.hits().iter().find(|h| h.errno == errno || h.alt == Some(errno));
        if let (Some(hit), Some(range)) = (stage, r.fixed_range()) {
            if AFTER_FIXED_UNMAP.contains(&hit.rule) {
                self.unmap_range(pid, range);
            }
        }
    }

    fn unmap_range(&mut self, pid: Pid, range: AddrRange) {
        let page = self.profile.page_size;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        for region in proc.space.remove(range, page, &mut self.objects) {
            self.release_region(&region);
        }
    }

    /// Inserts the region; a procnto stack's lowest `guard` bytes become a
    /// PROT_NONE region of their own.
    fn insert_with_guard(&mut self, pid: Pid, mut region: Region, guard: u64) {
        let page = self.profile.page_size;
        if guard != 0 && guard < region.len() {
            let stack = region.split_off(Addr(region.range.start().0 + guard), page);
            if let Backing::Object(id) = stack.backing {
                self.objects.expect_mut(id).map_refs += 1;
            }
            self.procs.get_mut(&pid).expect("caller exists").space.insert(stack);
        }
        if guard != 0 {
            region.prot = Prot::NONE;
        }
        self.procs.get_mut(&pid).expect("caller exists").space.insert(region);
    }

    /// The region range for a returned address, if the implementation was
    /// free to choose it.
    fn adoptable_range(&self, proc: &Process, r: &Request, addr: Addr) -> Result<AddrRange, String> {
        let size = r.size.ok_or("the mapping size wraps")?;
        if self.profile.page_offset(addr.0) != r.pg_off {
            return Err(format!(
                "address {addr} does not keep the offset's position in the page ({:#x})",
                r.pg_off
            ));
        }
        let range = AddrRange::new(Addr(addr.0 - r.pg_off), Len(size)).ok_or("the mapping would wrap")?;
        if r.fixed() {
            return if range.start().0 == r.fixed_base {
                Ok(range)
            } else {
                Err(format!("MAP_FIXED asked for {:#x}", r.addr))
            };
        }
        // The placement the checks chose in this state is free and inside
        // the user range (it is searched for only there).
        if r.placement.get() == Some(Some(range.start().0)) {
            return Ok(range);
        }
        if !proc.space.in_user_range(range, self.profile) {
            return Err(format!("{range} is outside the user address range"));
        }
        if !proc.space.is_free(range) {
            return Err(format!("{range} overlaps an existing mapping"));
        }
        Ok(range)
    }

    /// A new shared anonymous object, charged to system memory.
    fn new_anon_object(&mut self, size: u64) -> ObjId {
        let obj = Object::new(ObjKind::Anon, size);
        self.committed += self.object_charge(&obj);
        self.objects.insert(obj)
    }

    /// Where a shared mapping of /dev/zero starts in its new object: Linux
    /// keeps the offset (the object is as long as the mapping, so pages
    /// past it are SIGBUS, ACCESS-SIGBUS-1); MAP_ANON and procnto start at 0.
    fn zero_offset(&self, r: &Request) -> u64 {
        if r.entry.is_some() && self.profile.zero_device_keeps_offset {
            r.object_offset(self.profile.page_size)
        } else {
            0
        }
    }

    /// Builds the region for a request, creating and charging objects.
    fn new_region(&mut self, r: &Request, range: AddrRange, locked: bool) -> Region {
        let (backing, offset) = match r.source {
            Source::Anon if r.shared => (
                Backing::Object(self.new_anon_object(range.len().0)),
                self.zero_offset(r),
            ),
            Source::Anon => (Backing::Zero, 0),
            Source::Phys => (Backing::Object(self.phys), r.object_offset(self.profile.page_size)),
            Source::Object(id) => (Backing::Object(id), r.object_offset(self.profile.page_size)),
            Source::Unmappable | Source::BadFd => unreachable!("checks reject unusable fds"),
        };
        if let Backing::Object(id) = backing {
            self.objects.expect_mut(id).map_refs += 1;
        }
        // Shared anonymous memory is charged through its object; private
        // non-lazy memory through the region.
        let committed = self.profile.commit_cumulative && !r.shared && self.commit_need(r) != 0;
        if committed {
            self.committed += range.len().0;
        }
        Region {
            range,
            prot: r.prot,
            flags: r.flags,
            shared: r.shared,
            backing,
            offset,
            // A shared mapping through an fd without write access can never
            // become writable (procnto IMAP_OCB_RDONLY, Linux ~VM_MAYWRITE).
            write_denied: r.shared && r.entry.is_some() && !self.may_write_later(r),
            locked,
            counts_data: self.counts_data(r),
            committed,
            private_pages: Default::default(),
        }
    }
}

impl Model {
    /// Whether a shared mapping through an fd may ever be written: the fd has
    /// write access, or for a server's file, the server granted a writable
    /// handle on the first `_IO_MMAP`.
    fn may_write_later(&self, r: &Request) -> bool {
        match self.file_exchange(r) {
            Some(x) => !x.retried,
            None => r.fd_writable(),
        }
    }
}

/// memmgr_map()'s rewriting of the arguments.
fn procnto_normalise(mut prot: Prot, mut flags: MapFlags, fd: Fd, compat: bool) -> (Prot, MapFlags) {
    // PROT_NOCACHE found among the flags moves into prot (a kludge kept for
    // old test programs).
    if flags.bits() & Prot::NOCACHE.bits() != 0 {
        flags = MapFlags::from_bits_retain(flags.bits() & !Prot::NOCACHE.bits());
        prot |= Prot::NOCACHE;
    }
    // Share type 0 means MAP_PRIVATE with backwards compatibility (on by
    // default in procnto) or MAP_ANON; otherwise it stays 0 and is refused
    // (MMAP-EINVAL-14). MAP_PRIVATEANON means MAP_PRIVATE|MAP_ANON.
    match flags.share_type() {
        0 if compat || flags.contains(MapFlags::ANON) => flags |= MapFlags::PRIVATE,
        3 => flags = (flags - MapFlags::SHARED) | MapFlags::ANON,
        _ => {}
    }
    // NOFD without MAP_PHYS is anonymous memory.
    if fd == Fd::NOFD && !flags.contains(MapFlags::PHYS) {
        flags |= MapFlags::ANON;
    }
    (prot, flags)
}
