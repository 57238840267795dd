//! mmap: normalisation, the checks in each profile's order, placement, and
//! the commit that creates the region.
//!
//! spec: spec/mmap.md. procnto's order (MmapOrder::Procnto): MMAP-EINVAL-1,
//! MMAP-EINVAL-2, MMAP-EINVAL-3, MMAP-EINVAL-4, MMAP-EINVAL-5, MMAP-EINVAL-6,
//! MMAP-EPERM-1, MMAP-EINVAL-7, MMAP-EINVAL-8, MMAP-EBADF-1, MMAP-ENOTSUP-1,
//! MMAP-EACCES-1, MMAP-EACCES-2, MMAP-EINVAL-9, MMAP-ENOMEM-1, MMAP-ENOMEM-2,
//! MMAP-EINVAL-10, MMAP-ENOMEM-4, MMAP-ENOMEM-3, MMAP-EINVAL-11, MMAP-ENOMEM-5,
//! MMAP-ENOMEM-7, MMAP-ENXIO-1, MMAP-ENOMEM-6, MMAP-EAGAIN-1; success
//! MMAP-OK-1 / MMAP-OK-2. Linux's order (MmapOrder::Linux): MMAP-EINVAL-12,
//! MMAP-EBADF-2, MMAP-EINVAL-2, MMAP-ENOMEM-4, MMAP-EOVERFLOW-1,
//! MMAP-ENOMEM-7, MMAP-EINVAL-13, MMAP-ENOMEM-5, MMAP-ENOMEM-3,
//! MMAP-EEXIST-1, MMAP-EPERM-3, MMAP-EAGAIN-1, MMAP-EACCES-2, MMAP-EACCES-1,
//! MMAP-ENODEV-1, MMAP-EINVAL-1, MMAP-ENOMEM-2, MMAP-ENOMEM-1, MMAP-ENOMEM-6.

use super::object::{ObjKind, Object};
use super::process::{FdTarget, Process};
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Call, Outcome, Value};
use crate::profile::{DataScope, LockPrivilege, MmapOrder};
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, AddrRange, Errno, Fd, Len, MapFlags, ObjId, Pid, Prot, Resource};

/// What the request maps, once the fd is resolved.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Source {
    /// Anonymous memory (MAP_ANON, NOFD, /dev/zero).
    Anon,
    /// Physical memory by address (MAP_PHYS, /dev/mem shared).
    Phys,
    /// An object through an fd.
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
    fd_readable: bool,
    fd_writable: bool,
    shared: bool,
    /// The offset inside the first page that the returned address keeps.
    pg_off: u64,
    /// Page-rounded size of the region, `None` when it wraps.
    size: Option<u64>,
    /// The region's base for MAP_FIXED.
    fixed_base: u64,
    /// The stack guard size (MAP_STACK), page-rounded.
    guard: u64,
}

impl Request {
    fn fixed(&self) -> bool {
        self.flags.contains(MapFlags::FIXED) || self.flags.contains(MapFlags::FIXED_NOREPLACE)
    }

    fn fixed_range(&self) -> Option<AddrRange> {
        AddrRange::new(Addr(self.fixed_base), Len(self.size?))
    }

    fn lazy(&self) -> bool {
        self.flags.contains(MapFlags::LAZY)
    }

    /// The object offset of the region's first byte (page-aligned).
    fn object_offset(&self, page: u64) -> u64 {
        self.off - self.off % page
    }
}

impl Model {
    /// Judges an mmap call.
    pub(super) fn plan_mmap(&self, pid: Pid, fd_owner: Pid, call: &Call) -> Verdict {
        let req = self.mmap_request(fd_owner, call);
        let proc = &self.procs[&pid];
        let mut c = Checks::new();
        match self.profile.mmap_order {
            MmapOrder::Procnto => self.procnto_checks(proc, &req, &mut c),
            MmapOrder::Linux => self.linux_checks(proc, &req, &mut c),
        }
        c.or_else(|| {
            let base = self.mmap_base(proc, &req).expect("the no-room check passed");
            let rule = if req.fixed() { "MMAP-OK-2" } else { "MMAP-OK-1" };
            Verdict::ok(Value::Addr(Addr(base + req.pg_off)), rule)
        })
    }

    /// Normalises the arguments the way the profile's front end does.
    fn mmap_request(&self, fd_owner: Pid, call: &Call) -> Request {
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
        let page = self.profile.page_size;
        let mut prot = prot;
        let mut flags = flags;
        let linux = self.profile.mmap_order == MmapOrder::Linux;
        if !linux {
            // memmgr_map: PROT_NOCACHE found among the flags moves into prot.
            if flags.bits() & Prot::NOCACHE.bits() != 0 {
                flags = MapFlags::from_bits_retain(flags.bits() & !Prot::NOCACHE.bits());
                prot |= Prot::NOCACHE;
            }
            // Share type 0 means MAP_PRIVATE (backwards compatibility, on by
            // default); MAP_PRIVATEANON means MAP_PRIVATE|MAP_ANON.
            match flags.share_type() {
                0 => flags |= MapFlags::PRIVATE,
                3 => flags = (flags - MapFlags::SHARED) | MapFlags::ANON,
                _ => {}
            }
            if fd == Fd::NOFD && !flags.contains(MapFlags::PHYS) {
                flags |= MapFlags::ANON;
            }
        } else {
            prot = Prot::from_bits_truncate(prot.bits());
        }
        let proc = &self.procs[&fd_owner];
        let entry = if flags.contains(MapFlags::ANON) && (linux || fd == Fd::NOFD) {
            None
        } else {
            proc.fd(fd)
        };
        let source = match (flags.contains(MapFlags::ANON), entry.map(|e| e.target)) {
            (true, _) => Source::Anon,
            (false, None) if flags.contains(MapFlags::PHYS) && !linux => Source::Phys,
            (false, None) => Source::BadFd,
            (false, Some(FdTarget::Zero)) => Source::Anon,
            (false, Some(FdTarget::Unmappable)) => Source::Unmappable,
            (false, Some(FdTarget::Object(id))) => Source::Object(id),
        };
        let shared = flags.share_type() == 1 || (linux && flags.share_type() == 3);
        let stack = flags.contains(MapFlags::STACK) && !linux;
        let guard = if stack && !flags.contains(MapFlags::FIXED) {
            self.profile.round_up(off).unwrap_or(u64::MAX)
        } else {
            0
        };
        let pg_off = if stack {
            0
        } else if flags.contains(MapFlags::FIXED) && source == Source::Anon && !linux {
            addr.0 % page
        } else {
            off % page
        };
        let size = len
            .0
            .checked_add(pg_off)
            .and_then(|l| self.profile.round_up(l))
            .filter(|s| *s != 0);
        Request {
            addr: addr.0,
            len: len.0,
            prot,
            flags,
            fd,
            off,
            source,
            fd_readable: entry.is_some_and(|e| e.oflags.readable()),
            fd_writable: entry.is_some_and(|e| e.oflags.writable()),
            shared,
            pg_off,
            size,
            fixed_base: addr.0 - addr.0 % page,
            guard,
        }
    }

    /// procnto's order: memmgr_map() then vmm_mmap().
    fn procnto_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let p = self.profile;
        let anon = r.flags.contains(MapFlags::ANON);
        let phys_flag = r.flags.contains(MapFlags::PHYS);
        let fd_path = !anon && !phys_flag;
        let mappable = matches!(r.source, Source::Object(_));
        let bad_flag_bits = MapFlags::RESERVED_MASK | MapFlags::PG_MASK | MapFlags::SYSRAM.bits() | Prot::MASK;
        c.check("MMAP-EINVAL-1", Errno::EINVAL, r.flags.share_type() > 3)
            .check("MMAP-EINVAL-2", Errno::EINVAL, r.len == 0)
            .check("MMAP-EINVAL-3", Errno::EINVAL, r.prot.bits() & !Prot::MASK != 0)
            .check("MMAP-EINVAL-4", Errno::EINVAL, r.flags.bits() & bad_flag_bits != 0)
            .check("MMAP-EINVAL-5", Errno::EINVAL, anon && r.fd != Fd::NOFD)
            .check("MMAP-EINVAL-6", Errno::EINVAL, anon && phys_flag && r.lazy())
            .check("MMAP-EPERM-1", Errno::EPERM, !anon && phys_flag && proc.euid != 0)
            .check("MMAP-EINVAL-7", Errno::EINVAL, !anon && phys_flag && r.fd != Fd::NOFD)
            .check(
                "MMAP-EINVAL-8",
                Errno::EINVAL,
                !anon && phys_flag && self.phys_out_of_range(r),
            )
            .check("MMAP-EBADF-1", Errno::EBADF, fd_path && r.source == Source::BadFd)
            .check(
                "MMAP-ENOTSUP-1",
                p.unmappable_fd,
                fd_path && r.source == Source::Unmappable,
            )
            .check("MMAP-EACCES-1", Errno::EACCES, fd_path && mappable && !r.fd_readable)
            .check(
                "MMAP-EACCES-2",
                Errno::EACCES,
                fd_path && mappable && r.shared && r.prot.contains(Prot::WRITE) && !r.fd_writable,
            )
            .check(
                "MMAP-EINVAL-9",
                Errno::EINVAL,
                r.flags.contains(MapFlags::STACK) && (!anon || r.off >= r.len),
            )
            .check("MMAP-ENOMEM-1", Errno::ENOMEM, self.data_blown(proc, r))
            .check("MMAP-ENOMEM-2", Errno::ENOMEM, self.as_blown(proc, r))
            .check(
                "MMAP-EINVAL-10",
                Errno::EINVAL,
                r.flags.contains(MapFlags::FIXED)
                    && r.source != Source::Anon
                    && r.addr % p.page_size != r.off % p.page_size,
            )
            .check("MMAP-ENOMEM-4", Errno::ENOMEM, r.len != 0 && r.size.is_none());
        self.placement_checks(proc, r, c);
        c.check("MMAP-ENXIO-1", Errno::ENXIO, self.object_range_blown(r))
            .check("MMAP-ENOMEM-6", Errno::ENOMEM, self.commit_blown(r))
            .check_alt(
                "MMAP-EAGAIN-1",
                Errno::EAGAIN,
                Some(Errno::ENOMEM),
                self.future_lock_blown(proc, r),
            );
    }

    /// Linux's order: ksys_mmap_pgoff(), do_mmap(), mmap_region().
    fn linux_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let p = self.profile;
        let anon = r.source == Source::Anon && r.flags.contains(MapFlags::ANON);
        let file = !r.flags.contains(MapFlags::ANON);
        let mappable = matches!(r.source, Source::Object(_));
        c.check("MMAP-EINVAL-12", Errno::EINVAL, r.off % p.page_size != 0)
            .check("MMAP-EBADF-2", Errno::EBADF, file && r.source == Source::BadFd)
            .check("MMAP-EINVAL-2", Errno::EINVAL, r.len == 0)
            .check("MMAP-ENOMEM-4", Errno::ENOMEM, r.len != 0 && r.size.is_none())
            .check("MMAP-EOVERFLOW-1", Errno::EOVERFLOW, file && self.object_range_blown(r));
        self.placement_checks(proc, r, c);
        let wants_lock = proc.mcl_future || r.flags.contains(MapFlags::LOCKED);
        let can_lock = proc.cap_ipc_lock || proc.limit(Resource::RLIMIT_MEMLOCK).cur != 0;
        c.check("MMAP-EPERM-3", Errno::EPERM, wants_lock && !can_lock)
            .check("MMAP-EAGAIN-1", Errno::EAGAIN, self.future_lock_blown(proc, r))
            .check(
                "MMAP-EACCES-2",
                Errno::EACCES,
                file && mappable && r.shared && r.prot.contains(Prot::WRITE) && !r.fd_writable,
            )
            .check("MMAP-EACCES-1", Errno::EACCES, file && mappable && !r.fd_readable)
            .check("MMAP-ENODEV-1", p.unmappable_fd, file && r.source == Source::Unmappable)
            .check(
                "MMAP-EINVAL-1",
                Errno::EINVAL,
                !(matches!(r.flags.share_type(), 1 | 2) || file && r.flags.share_type() == 3)
                    || (anon && r.flags.share_type() == 3),
            )
            .check("MMAP-ENOMEM-2", Errno::ENOMEM, self.as_blown(proc, r))
            .check("MMAP-ENOMEM-1", Errno::ENOMEM, self.data_blown(proc, r))
            .check("MMAP-ENOMEM-6", Errno::ENOMEM, self.commit_blown(r));
    }

    /// Placement: the fixed range's bounds, or room for a floating one.
    fn placement_checks(&self, proc: &Process, r: &Request, c: &mut Checks) {
        let p = self.profile;
        let linux = p.mmap_order == MmapOrder::Linux;
        let fixed = r.fixed();
        let fixed_range = r.fixed_range();
        c.check(
            "MMAP-ENOMEM-7",
            Errno::ENOMEM,
            proc.space.region_count() + 1 + usize::from(r.guard != 0) > p.max_regions,
        );
        if linux {
            c.check("MMAP-EINVAL-13", Errno::EINVAL, fixed && r.addr % p.page_size != 0);
        } else {
            c.check(
                "MMAP-EINVAL-11",
                Errno::EINVAL,
                fixed && (r.addr < p.user_start || r.addr >= p.user_end),
            );
        }
        c.check(
            "MMAP-ENOMEM-5",
            Errno::ENOMEM,
            fixed && r.size.is_some() && fixed_range.is_none_or(|fr| fr.end().0 > p.user_end),
        )
        .check(
            "MMAP-ENOMEM-3",
            Errno::ENOMEM,
            !fixed && r.size.is_some_and(|s| proc.space.find_free(s, r.addr, p).is_none()),
        );
        if linux {
            let overlaps = fixed_range.is_some_and(|fr| !proc.space.is_free(fr));
            c.check(
                "MMAP-EEXIST-1",
                Errno::EEXIST,
                r.flags.contains(MapFlags::FIXED_NOREPLACE) && overlaps,
            );
        }
    }

    fn phys_out_of_range(&self, r: &Request) -> bool {
        let end = r.off.checked_add(r.len).and_then(|e| self.profile.round_up(e));
        end.is_none_or(|e| e == 0 || e - 1 > self.profile.last_paddr)
    }

    /// The bytes the new mapping would replace (MAP_FIXED), when the profile
    /// credits them to the limit checks.
    fn replaced(&self, proc: &Process, r: &Request) -> super::space::Counters {
        match r.fixed_range() {
            Some(fr) if r.fixed() && self.profile.fixed_replace_credit => proc.space.counters_in(fr),
            _ => super::space::Counters::default(),
        }
    }

    fn counts_data(&self, flags: MapFlags, prot: Prot, anon: bool, shared: bool) -> bool {
        let stack = flags.contains(MapFlags::STACK) || flags.contains(MapFlags::ELF);
        match self.profile.data_scope {
            DataScope::AnonPrivate => anon && !shared && !stack,
            DataScope::PrivateWritable => !shared && prot.contains(Prot::WRITE) && !flags.contains(MapFlags::STACK),
        }
    }

    /// RLIMIT_DATA: procnto tests the unrounded length; Linux the pages.
    fn data_blown(&self, proc: &Process, r: &Request) -> bool {
        if !self.counts_data(r.flags, r.prot, r.source == Source::Anon, r.shared) {
            return false;
        }
        let add = self.limit_len(r);
        let used = proc.space.counters().data.saturating_sub(self.replaced(proc, r).data);
        self.profile
            .rlimit_cmp
            .blown(used, add, proc.limit(Resource::RLIMIT_DATA).cur)
    }

    /// RLIMIT_AS counts every mapping.
    fn as_blown(&self, proc: &Process, r: &Request) -> bool {
        let used = proc.space.counters().total.saturating_sub(self.replaced(proc, r).total);
        self.profile
            .rlimit_cmp
            .blown(used, self.limit_len(r), proc.limit(Resource::RLIMIT_AS).cur)
    }

    fn limit_len(&self, r: &Request) -> u64 {
        match self.profile.mmap_order {
            MmapOrder::Procnto => r.len,
            MmapOrder::Linux => r.size.unwrap_or(u64::MAX),
        }
    }

    /// The object range check (procnto ENXIO, Linux EOVERFLOW). The object's
    /// current size is not checked: access past it is SIGBUS.
    fn object_range_blown(&self, r: &Request) -> bool {
        if r.source == Source::Anon || r.flags.contains(MapFlags::ANON) {
            return false;
        }
        match (r.size, self.profile.mmap_order) {
            (Some(size), _) => r
                .object_offset(self.profile.page_size)
                .checked_add(size)
                .is_none_or(|end| end > self.profile.max_object_offset),
            (None, MmapOrder::Linux) => false,
            (None, MmapOrder::Procnto) => true,
        }
    }

    /// Up-front memory the mapping needs (0 for lazy and shared-object mappings).
    fn commit_need(&self, r: &Request) -> u64 {
        let Some(size) = r.size else { return 0 };
        let linux = self.profile.mmap_order == MmapOrder::Linux;
        let needs = if linux {
            !r.flags.contains(MapFlags::NORESERVE)
                && ((!r.shared && r.prot.contains(Prot::WRITE)) || (r.shared && r.source == Source::Anon))
        } else {
            !r.lazy()
                && (r.source == Source::Anon
                    || (!r.shared && matches!(r.source, Source::Object(id) if id != self.phys)))
        };
        if needs {
            size
        } else {
            0
        }
    }

    fn commit_blown(&self, r: &Request) -> bool {
        let need = self.commit_need(r);
        let base = if self.profile.commit_cumulative {
            self.committed
        } else {
            0
        };
        need != 0 && base.checked_add(need).is_none_or(|t| t > self.profile.ram_bytes)
    }

    /// Whether the mapping will be locked, and the lock limit forbids it.
    fn future_lock_blown(&self, proc: &Process, r: &Request) -> bool {
        let locks =
            proc.mcl_future || (self.profile.mmap_order == MmapOrder::Linux && r.flags.contains(MapFlags::LOCKED));
        if !locks {
            return false;
        }
        let Some(size) = r.size else { return false };
        match self.profile.lock_privilege {
            LockPrivilege::CapOrLimit if proc.cap_ipc_lock => false,
            LockPrivilege::CapOrLimit => {
                proc.limit(Resource::RLIMIT_MEMLOCK).cur != 0
                    && self.profile.rlimit_cmp.blown(
                        proc.space.counters().locked,
                        size,
                        proc.limit(Resource::RLIMIT_MEMLOCK).cur,
                    )
            }
            LockPrivilege::RootOrAbility => self.profile.rlimit_cmp.blown(
                proc.space.counters().locked,
                size,
                proc.limit(Resource::RLIMIT_MEMLOCK).cur,
            ),
        }
    }

    /// Where the region goes: the fixed base, or the placement policy's choice.
    fn mmap_base(&self, proc: &Process, r: &Request) -> Option<u64> {
        if r.fixed() {
            return Some(r.fixed_base);
        }
        proc.space.find_free(r.size?, r.addr, self.profile).map(|a| a.0)
    }

    /// Applies an mmap outcome: on success, creates the region at the
    /// returned address (adopting a different free address than the model's).
    pub(super) fn commit_mmap(&mut self, pid: Pid, fd_owner: Pid, call: &Call, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(value) = outcome else {
            return Ok(());
        };
        let Value::Addr(addr) = value else {
            return Err(format!("mmap returns an address, not {value}"));
        };
        let r = self.mmap_request(fd_owner, call);
        let range = self.adoptable_range(pid, &r, *addr)?;
        let page = self.profile.page_size;
        if r.fixed() {
            let removed = self
                .procs
                .get_mut(&pid)
                .expect("caller exists")
                .space
                .remove(range, page);
            for region in &removed {
                self.release_region(region);
            }
        }
        let region = self.new_region(pid, &r, range);
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        if r.guard != 0 && r.guard < range.len().0 {
            let mut stack = region;
            let mut guard = stack.clone();
            stack = guard.split_off(Addr(range.start().0 + r.guard), page);
            guard.prot = Prot::NONE;
            if let Backing::Object(id) = guard.backing {
                self.objects.expect_mut(id).map_refs += 1;
            }
            proc.space.insert(guard);
            proc.space.insert(stack);
        } else {
            proc.space.insert(region);
        }
        Ok(())
    }

    /// The region range for a returned address, if the implementation was
    /// free to choose it.
    fn adoptable_range(&self, pid: Pid, r: &Request, addr: Addr) -> Result<AddrRange, String> {
        let proc = &self.procs[&pid];
        let size = r.size.ok_or("the mapping size wraps")?;
        if addr.0 % self.profile.page_size != r.pg_off {
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

    /// Builds the region for a request, creating and charging objects.
    fn new_region(&mut self, pid: Pid, r: &Request, range: AddrRange) -> Region {
        let proc = &self.procs[&pid];
        let linux = self.profile.mmap_order == MmapOrder::Linux;
        let locked = proc.mcl_future || (linux && r.flags.contains(MapFlags::LOCKED));
        let anon = r.source == Source::Anon;
        let counts_data = self.counts_data(r.flags, r.prot, anon, r.shared);
        let (backing, offset) = match r.source {
            Source::Anon if r.shared => (Backing::Object(self.new_anon_object(range.len().0)), 0),
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
            write_denied: r.shared && !anon && !r.fd_writable && !matches!(r.source, Source::Phys),
            locked,
            counts_data,
            committed,
            private_pages: Default::default(),
        }
    }
}
