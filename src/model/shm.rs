//! Shared-memory objects and file descriptors: shm_open, shm_unlink, open of
//! devices, ftruncate and close.
//!
//! spec: spec/shared-memory.md. A shm name first becomes a path by the
//! profile's `shm_names` rule; a name the rule refuses decides the call
//! (SHM-EINVAL-1 on glibc; SHM-ENAMETOOLONG-1, then SHM-ENOENT-3 on QNX).
//! Where `open_fd_first` (Linux) the fd check comes right after that, else
//! last (procnto makes the fd after the server replied).
//! shm_open: name, SHM-EEXIST-1, SHM-EACCES-1, SHM-ENOENT-1, and
//! SHM-EMFILE-1; success SHM-OPEN-1, or SHM-PHYSICAL-1 for QNX 4's
//! `Physical`. shm_unlink: name, SHM-ENOENT-2, SHM-EPERM-1; SHM-UNLINK-1.
//! open: OPEN-ENOENT-1, OPEN-EEXIST-1, OPEN-EPERM-1, for a file of the
//! modelled server its checks (resmgr.rs: OPEN-EROFS-1, OPEN-EACCES-1,
//! OPEN-EBUSY-1), and OPEN-EMFILE-1; OPEN-OK-1. ftruncate: TRUNC-EINVAL-1, TRUNC-EBADF-1, TRUNC-EINVAL-3,
//! TRUNC-ENOMEM-1, TRUNC-EINVAL-2, TRUNC-ENOMEM-2; TRUNC-OK-1.
//! close: CLOSE-EBADF-1, CLOSE-OK-1.

use super::object::{ObjKind, Object};
use super::process::{FdEntry, FdTarget, Process};
use super::region::Backing;
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::ShmNames;
use crate::rules::{Checks, RuleId, Verdict};
use crate::types::{Addr, Errno, Fd, FileSystem, OFlags, ObjId, Pid, Resource};

/// The longest path procnto accepts (PATH_MAX 1024, less the NUL).
const QNX_PATH_MAX: usize = 1023;
/// The kernel's NAME_MAX: a longer file name in /dev/shm is ENAMETOOLONG.
const NAME_MAX: usize = 255;
/// glibc 2.36's name buffer: a name of this many bytes or more does not fit
/// ("/dev/shm/" + name + NUL) and is EINVAL (ENOENT for shm_unlink).
const GLIBC_NAME_BUFFER: usize = 260;
/// Where QNX keeps shared-memory objects.
const DEV_SHMEM: &str = "/dev/shmem/";
/// Where glibc keeps them.
const DEV_SHM: &str = "/dev/shm/";
/// The path of QNX 4's physical-memory object.
const PHYSICAL: &str = "/dev/shmem/Physical";

/// Why a shm name cannot be used: the rule and its errno.
type Refusal = (RuleId, Errno);

fn refused((rule, errno): Refusal) -> Verdict {
    Verdict::only(Outcome::Err(errno), rule)
}

/// Zeroes the bytes from `from` to the end of its page, if that page is stored.
pub(super) fn zero_page_tail(obj: &mut Object, from: u64, page: u64) {
    let within = (from % page) as usize;
    if within != 0 {
        if let Some(p) = obj.pages.get_mut(&(from / page)) {
            p[within..].fill(0);
        }
    }
}

/// A single path component: non-empty, without a slash.
fn is_component(name: &str) -> bool {
    !name.is_empty() && !name.contains('/')
}

impl Model {
    /// The path a shm name stands for, by the profile's naming rule, for
    /// shm_open or (`unlink`) shm_unlink.
    /// spec: SHM-EINVAL-1, SHM-ENOENT-4, SHM-ENAMETOOLONG-1.
    ///
    /// Paths are joined by `concat`, not `format!`: every shm call makes
    /// its path, and `format!`'s machinery cost several times the join.
    fn shm_path(&self, name: &str, unlink: bool) -> Result<String, Refusal> {
        match self.profile.shm_names {
            ShmNames::Glibc => {
                let bare = name.trim_start_matches('/');
                if !is_component(bare) || bare.len() >= GLIBC_NAME_BUFFER {
                    // glibc's shm_unlink reports a name it refuses as ENOENT.
                    return Err(if unlink {
                        ("SHM-ENOENT-4", Errno::ENOENT)
                    } else {
                        ("SHM-EINVAL-1", Errno::EINVAL)
                    });
                }
                if bare.len() > NAME_MAX {
                    return Err(("SHM-ENAMETOOLONG-1", Errno::ENAMETOOLONG));
                }
                Ok([DEV_SHM, bare].concat())
            }
            ShmNames::SlashPrefixOnly => {
                let path = match name.strip_prefix('/') {
                    Some(x) if is_component(x) => [DEV_SHMEM, x].concat(),
                    _ => name.to_string(),
                };
                Self::qnx_path_checks(path)
            }
            ShmNames::FlatDevShmem => {
                let bare = name.strip_prefix('/').unwrap_or(name);
                Self::qnx_path_checks([DEV_SHMEM, bare].concat())
            }
        }
    }

    /// procnto's limits on a path, and the paths the model holds:
    /// objects in /dev/shmem and files in the working directory.
    fn qnx_path_checks(path: String) -> Result<String, Refusal> {
        if path.len() > QNX_PATH_MAX {
            return Err(("SHM-ENAMETOOLONG-1", Errno::ENAMETOOLONG));
        }
        let in_dev_shmem = path.strip_prefix(DEV_SHMEM).is_some_and(is_component);
        if !in_dev_shmem && !is_component(&path) {
            return Err(("SHM-ENOENT-3", Errno::ENOENT));
        }
        Ok(path)
    }

    /// Whether a path opens physical memory (QNX 4's `Physical`).
    fn is_physical(&self, path: &str) -> bool {
        self.profile.physical_shm_name && path == PHYSICAL
    }

    /// Whether the permission bits refuse `oflag` to `proc`. Root always
    /// passes; others get the owner's, the group's or the others' bits.
    fn open_denied(&self, proc: &Process, mode: u32, (uid, gid): (u32, u32), oflag: OFlags) -> bool {
        if proc.euid == 0 {
            return false;
        }
        let bits = proc.permission_bits(mode, uid, gid);
        let wants_write =
            oflag.writable() || (self.profile.trunc_needs_write_permission && oflag.contains(OFlags::TRUNC));
        (oflag.readable() && bits & 4 == 0) || (wants_write && bits & 2 == 0)
    }

    /// The fd check, which runs first or last by the profile.
    fn fd_table_full(&self, proc: &Process, rule: RuleId, first: bool, c: &mut Checks) {
        if self.profile.open_fd_first == first {
            c.check(rule, Errno::EMFILE, proc.lowest_free_fd().is_none());
        }
    }

    /// Judges shm_open.
    pub(super) fn plan_shm_open(&self, pid: Pid, name: &str, oflag: OFlags, _mode: u32) -> Verdict {
        let path = match self.shm_path(name, false) {
            Ok(path) => path,
            Err(refusal) => return refused(refusal),
        };
        let proc = &self.procs[&pid];
        let existing = self.objects.by_name(&path).map(|id| self.objects.expect(id));
        let physical = self.is_physical(&path);
        let exists = existing.is_some() || physical;
        let mut c = Checks::new();
        self.fd_table_full(proc, "SHM-EMFILE-1", true, &mut c);
        c.check(
            "SHM-EEXIST-1",
            Errno::EEXIST,
            exists && oflag.contains(OFlags::CREAT | OFlags::EXCL),
        );
        if let Some(Object {
            kind: ObjKind::Shm { mode, uid, gid, .. },
            ..
        }) = existing
        {
            c.check(
                "SHM-EACCES-1",
                Errno::EACCES,
                self.open_denied(proc, *mode, (*uid, *gid), oflag),
            );
        }
        c.check("SHM-ENOENT-1", Errno::ENOENT, !exists && !oflag.contains(OFlags::CREAT));
        self.fd_table_full(proc, "SHM-EMFILE-1", false, &mut c);
        let rule = if physical { "SHM-PHYSICAL-1" } else { "SHM-OPEN-1" };
        c.or_else(|| Verdict::ok(Value::Fd(proc.lowest_free_fd().expect("checked")), rule))
    }

    /// Applies shm_open: creates the object if needed, truncates on O_TRUNC,
    /// and installs the fd the implementation returned.
    pub(super) fn commit_shm_open(
        &mut self,
        pid: Pid,
        name: &str,
        oflag: OFlags,
        mode: u32,
        outcome: &Outcome,
    ) -> Result<(), String> {
        let Outcome::Ok(value) = outcome else {
            return Ok(());
        };
        let fd = self.adoptable_fd(pid, value)?;
        let path = self
            .shm_path(name, false)
            .map_err(|(rule, _)| format!("shm_open({name:?}) cannot succeed ({rule})"))?;
        let id = if self.is_physical(&path) {
            self.phys
        } else {
            self.objects
                .by_name(&path)
                .unwrap_or_else(|| self.create_shm(pid, path, mode))
        };
        if oflag.contains(OFlags::TRUNC) && id != self.phys {
            self.resize_object(id, 0);
        }
        self.install_fd(
            pid,
            fd,
            FdEntry {
                target: FdTarget::Object(id),
                oflags: oflag,
            },
        );
        Ok(())
    }

    /// A new, empty object owned by the caller's euid and egid, with the
    /// permission bits of `mode` less the caller's umask (SHM-OPEN-1).
    fn create_shm(&mut self, pid: Pid, path: String, mode: u32) -> ObjId {
        let p = &self.procs[&pid];
        let kind = ObjKind::Shm {
            name: Some(path),
            mode: mode & 0o777 & !p.umask,
            uid: p.euid,
            gid: p.egid,
        };
        self.objects.insert(Object::new(kind, 0))
    }

    /// The fd an implementation returned, if it is free in the caller.
    pub(super) fn adoptable_fd(&self, pid: Pid, value: &Value) -> Result<Fd, String> {
        let Value::Fd(fd) = value else {
            return Err(format!("expected an fd, got {value}"));
        };
        let proc = &self.procs[&pid];
        let limit = proc.limit(Resource::RLIMIT_NOFILE).cur;
        if fd.0 < 0 || fd.0 as u64 >= limit {
            return Err(format!("fd {fd} is outside 0..RLIMIT_NOFILE"));
        }
        if proc.fd(*fd).is_some() {
            return Err(format!("fd {fd} is already open"));
        }
        Ok(*fd)
    }

    pub(super) fn install_fd(&mut self, pid: Pid, fd: Fd, entry: FdEntry) {
        if let FdTarget::Object(id) = entry.target {
            self.objects.expect_mut(id).fd_refs += 1;
        }
        self.procs.get_mut(&pid).expect("caller exists").install(fd, entry);
    }

    /// Judges shm_unlink.
    pub(super) fn plan_shm_unlink(&self, pid: Pid, name: &str) -> Verdict {
        let path = match self.shm_path(name, true) {
            Ok(path) => path,
            Err(refusal) => return refused(refusal),
        };
        let proc = &self.procs[&pid];
        let existing = self.objects.by_name(&path).map(|id| self.objects.expect(id));
        let mut c = Checks::new();
        c.check("SHM-ENOENT-2", Errno::ENOENT, existing.is_none());
        if let Some(Object {
            kind: ObjKind::Shm { uid, .. },
            ..
        }) = existing
        {
            // The sources disagree (procnto EPERM, POSIX and glibc EACCES):
            // the profile's errno decides, the other one is allowed.
            let errno = self.profile.shm_unlink_not_owner;
            let other = if errno == Errno::EPERM {
                Errno::EACCES
            } else {
                Errno::EPERM
            };
            c.check_alt("SHM-EPERM-1", errno, Some(other), proc.euid != 0 && proc.euid != *uid);
        }
        c.or_else(|| Verdict::ok(Value::Unit, "SHM-UNLINK-1"))
    }

    /// Applies shm_unlink: the name goes; the object lives on while fds or
    /// mappings hold it.
    pub(super) fn commit_shm_unlink(&mut self, name: &str, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        let Some(id) = self
            .shm_path(name, true)
            .ok()
            .and_then(|path| self.objects.by_name(&path))
        else {
            return;
        };
        self.objects.unlink(id);
        self.release_object_if_dead(id);
    }

    /// The device an `open` path names.
    fn device(&self, path: &str) -> Option<FdTarget> {
        match path {
            "/dev/zero" => Some(FdTarget::Zero),
            "/dev/null" => Some(FdTarget::Unmappable),
            "/dev/mem" if self.profile.has_dev_mem => Some(FdTarget::Object(self.phys)),
            _ => self.server.by_path(path).map(|f| FdTarget::Object(f.object)),
        }
    }

    /// Judges open of a device.
    pub(super) fn plan_open(&self, pid: Pid, path: &str, oflag: OFlags) -> Verdict {
        let proc = &self.procs[&pid];
        let device = self.device(path);
        let mut c = Checks::new();
        self.fd_table_full(proc, "OPEN-EMFILE-1", true, &mut c);
        c.check("OPEN-ENOENT-1", Errno::ENOENT, device.is_none())
            .check(
                "OPEN-EEXIST-1",
                Errno::EEXIST,
                device.is_some() && oflag.contains(OFlags::CREAT | OFlags::EXCL),
            )
            .check(
                "OPEN-EPERM-1",
                Errno::EPERM,
                device == Some(FdTarget::Object(self.phys)) && proc.euid != 0,
            );
        if let Some(file) = self.server.by_path(path) {
            self.open_file_checks(proc, file, oflag, &mut c);
        }
        self.fd_table_full(proc, "OPEN-EMFILE-1", false, &mut c);
        c.or_else(|| Verdict::ok(Value::Fd(proc.lowest_free_fd().expect("checked")), "OPEN-OK-1"))
    }

    /// Applies open: installs the fd the implementation returned.
    pub(super) fn commit_open(&mut self, pid: Pid, path: &str, oflag: OFlags, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(value) = outcome else {
            return Ok(());
        };
        let fd = self.adoptable_fd(pid, value)?;
        let target = self
            .device(path)
            .ok_or_else(|| format!("{path} does not exist in the model"))?;
        self.install_fd(pid, fd, FdEntry { target, oflags: oflag });
        Ok(())
    }

    /// The resizable object (shm or working-directory file) an fd refers to.
    fn fd_object(&self, pid: Pid, fd: Fd) -> Option<ObjId> {
        match self.procs[&pid].fd(fd)?.target {
            FdTarget::Object(id) if id != self.phys => Some(id),
            _ => None,
        }
    }

    /// Judges ftruncate. Both systems refuse a negative length before they
    /// look at the fd (the libc on procnto, do_sys_ftruncate on Linux).
    pub(super) fn plan_ftruncate(&self, pid: Pid, fd: Fd, len: i64) -> Verdict {
        let p = self.profile;
        let entry = self.procs[&pid].fd(fd);
        let object = self.fd_object(pid, fd).map(|id| self.objects.expect(id));
        let size = u64::try_from(len).unwrap_or(0);
        let growth = object.map_or(0, |o| {
            let now = p.round_up(o.size).unwrap_or(u64::MAX);
            p.round_up(size).unwrap_or(u64::MAX).saturating_sub(now)
        });
        let mut c = Checks::new();
        c.check("TRUNC-EINVAL-1", Errno::EINVAL, len < 0)
            .check("TRUNC-EBADF-1", Errno::EBADF, entry.is_none())
            .check("TRUNC-EINVAL-3", Errno::EINVAL, entry.is_some() && object.is_none())
            .check(
                "TRUNC-ENOMEM-1",
                Errno::ENOMEM,
                object.is_some() && size > p.shm_max_size,
            )
            .check(
                "TRUNC-EINVAL-2",
                Errno::EINVAL,
                entry.is_some_and(|e| !e.oflags.writable()),
            )
            .check(
                "TRUNC-ENOMEM-2",
                Errno::ENOMEM,
                object.is_some() && p.commit_objects && self.committed.saturating_add(growth) > p.ram_bytes,
            );
        c.or_else(|| Verdict::ok(Value::Unit, "TRUNC-OK-1"))
    }

    /// Applies a successful ftruncate.
    pub(super) fn commit_ftruncate(&mut self, pid: Pid, fd: Fd, len: i64, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        if let (Some(id), Ok(size)) = (self.fd_object(pid, fd), u64::try_from(len)) {
            self.resize_object(id, size);
        }
    }

    /// Sets an object's size, keeping its charge and contents right.
    fn resize_object(&mut self, id: ObjId, size: u64) {
        let page = self.profile.page_size;
        let before = self.object_charge(self.objects.expect(id));
        let obj = self.objects.expect_mut(id);
        let old_size = obj.size;
        obj.size = size;
        obj.truncate_contents(page);
        // POSIX: the extension reads as zeros, even where a store through a
        // mapping wrote past the old end in its last page; Linux tmpfs keeps
        // those bytes (TRUNC-OK-1, profile knob tmpfs_grow_keeps_tail).
        let keeps = self.profile.tmpfs_grow_keeps_tail && obj.file_system() == Some(FileSystem::Tmpfs);
        if size > old_size && !keeps {
            zero_page_tail(obj, old_size, page);
        }
        let after = self.object_charge(self.objects.expect(id));
        self.committed = self.committed - before + after;
        if size < old_size {
            self.drop_private_copies_past(id, size);
        }
    }

    /// Shrinking removes the pages past the new end from every mapping,
    /// private copies included (procnto vmm_resize, Linux
    /// truncate_pagecache): growing the object again shows zeros there, not
    /// the old copies.
    fn drop_private_copies_past(&mut self, id: ObjId, size: u64) {
        let kept_pages = size.div_ceil(self.profile.page_size);
        for proc in self.procs.values_mut() {
            let starts: Vec<Addr> = proc
                .space
                .regions()
                .filter(|r| r.backing == Backing::Object(id) && !r.private_pages.is_empty())
                .map(|r| r.range.start())
                .collect();
            for start in starts {
                let region = proc.space.region_at_mut(start).expect("just listed");
                region.private_pages.retain(|index, _| *index < kept_pages);
            }
        }
    }

    /// Judges close.
    pub(super) fn plan_close(&self, pid: Pid, fd: Fd) -> Verdict {
        let mut c = Checks::new();
        c.check("CLOSE-EBADF-1", Errno::EBADF, self.procs[&pid].fd(fd).is_none());
        c.or_else(|| Verdict::ok(Value::Unit, "CLOSE-OK-1"))
    }

    /// Applies close: the fd goes; mappings made through it stay.
    pub(super) fn commit_close(&mut self, pid: Pid, fd: Fd, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        if let Some(entry) = self.procs.get_mut(&pid).expect("caller exists").uninstall(fd) {
            self.release_fd(entry);
        }
    }
}
