//! Shared-memory objects and file descriptors: shm_open, shm_unlink, open of
//! devices, ftruncate and close.
//!
//! spec: spec/shared-memory.md. shm_open: SHM-EINVAL-1, SHM-ENAMETOOLONG-1,
//! SHM-EEXIST-1, SHM-EACCES-1, SHM-ENOENT-1, SHM-EMFILE-1, SHM-OPEN-1,
//! SHM-PHYSICAL-1. shm_unlink: SHM-EINVAL-1, SHM-ENOENT-2, SHM-EPERM-1,
//! SHM-UNLINK-1. open: OPEN-ENOENT-1, OPEN-EPERM-1, OPEN-EMFILE-1, OPEN-OK-1.
//! ftruncate: TRUNC-EBADF-1, TRUNC-EINVAL-1, TRUNC-EINVAL-2, TRUNC-EINVAL-3,
//! TRUNC-ENOMEM-1, TRUNC-ENOMEM-2, TRUNC-OK-1. close: CLOSE-EBADF-1, CLOSE-OK-1.

use super::object::{ObjKind, Object};
use super::process::{FdEntry, FdTarget, Process};
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::MmapOrder;
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Fd, OFlags, ObjId, Pid};

/// The longest path procnto accepts (PATH_MAX - 1).
const QNX_PATH_MAX: usize = 1023;
/// glibc refuses shm names of NAME_MAX (255) bytes or more.
const LINUX_NAME_MAX: usize = 255;

impl Model {
    /// The name a shm call really uses, or `None` when the profile rejects it.
    fn shm_name<'a>(&self, name: &'a str) -> Option<&'a str> {
        if self.profile.mmap_order == MmapOrder::Linux {
            let bare = name.strip_prefix('/').unwrap_or(name);
            (!bare.is_empty() && bare.len() < LINUX_NAME_MAX && !bare.contains('/')).then_some(bare)
        } else {
            (!name.is_empty() && name.len() <= QNX_PATH_MAX).then_some(name)
        }
    }

    fn name_checks(&self, name: &str, c: &mut Checks) {
        let linux = self.profile.mmap_order == MmapOrder::Linux;
        c.check("SHM-EINVAL-1", Errno::EINVAL, linux && self.shm_name(name).is_none())
            .check(
                "SHM-ENAMETOOLONG-1",
                Errno::ENAMETOOLONG,
                !linux && name.len() > QNX_PATH_MAX,
            );
    }

    /// Whether `proc` may open `obj` with `oflag`'s access mode.
    fn access_denied(proc: &Process, mode: u32, uid: u32, oflag: OFlags) -> bool {
        if proc.euid == 0 {
            return false;
        }
        let bits = if proc.euid == uid { (mode >> 6) & 7 } else { mode & 7 };
        (oflag.readable() && bits & 4 == 0) || (oflag.writable() && bits & 2 == 0)
    }

    /// Whether the name opens physical memory (QNX 4's `Physical`).
    fn is_physical(&self, name: &str) -> bool {
        self.profile.physical_shm_name && name == "Physical"
    }

    /// Judges shm_open.
    pub(super) fn plan_shm_open(&self, pid: Pid, name: &str, oflag: OFlags, _mode: u32) -> Verdict {
        let proc = &self.procs[&pid];
        let mut c = Checks::new();
        self.name_checks(name, &mut c);
        let key = self.shm_name(name).unwrap_or(name);
        let existing = self.objects.by_name(key).and_then(|id| self.objects.get(id));
        let physical = self.is_physical(name);
        let creating = existing.is_none() && !physical;
        c.check(
            "SHM-EEXIST-1",
            Errno::EEXIST,
            !creating && oflag.contains(OFlags::CREAT | OFlags::EXCL),
        );
        if let Some(Object {
            kind: ObjKind::Shm { mode, uid, .. },
            ..
        }) = existing
        {
            c.check(
                "SHM-EACCES-1",
                Errno::EACCES,
                Self::access_denied(proc, *mode, *uid, oflag),
            );
        }
        c.check(
            "SHM-ENOENT-1",
            Errno::ENOENT,
            creating && !oflag.contains(OFlags::CREAT),
        )
        .check("SHM-EMFILE-1", Errno::EMFILE, proc.lowest_free_fd().is_none());
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
        let id = if self.is_physical(name) {
            self.phys
        } else {
            let key = self.shm_name(name).unwrap_or(name).to_string();
            match self.objects.by_name(&key) {
                Some(id) => id,
                None => {
                    let uid = self.procs[&pid].euid;
                    self.objects.insert(Object::new(
                        ObjKind::Shm {
                            name: Some(key),
                            mode: mode & 0o777,
                            uid,
                        },
                        0,
                    ))
                }
            }
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

    /// The fd an implementation returned, if it is free in the caller.
    pub(super) fn adoptable_fd(&self, pid: Pid, value: &Value) -> Result<Fd, String> {
        let Value::Fd(fd) = value else {
            return Err(format!("expected an fd, got {value}"));
        };
        let proc = &self.procs[&pid];
        let limit = proc.limit(crate::types::Resource::RLIMIT_NOFILE).cur;
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
        self.procs.get_mut(&pid).expect("caller exists").fds.insert(fd.0, entry);
    }

    /// Judges shm_unlink.
    pub(super) fn plan_shm_unlink(&self, pid: Pid, name: &str) -> Verdict {
        let proc = &self.procs[&pid];
        let mut c = Checks::new();
        self.name_checks(name, &mut c);
        let key = self.shm_name(name).unwrap_or(name);
        let existing = self.objects.by_name(key).and_then(|id| self.objects.get(id));
        c.check("SHM-ENOENT-2", Errno::ENOENT, existing.is_none());
        if let Some(Object {
            kind: ObjKind::Shm { uid, .. },
            ..
        }) = existing
        {
            let alt = if self.profile.shm_unlink_not_owner == Errno::EPERM {
                Errno::EACCES
            } else {
                Errno::EPERM
            };
            c.check_alt(
                "SHM-EPERM-1",
                self.profile.shm_unlink_not_owner,
                Some(alt),
                proc.euid != 0 && proc.euid != *uid,
            );
        }
        c.or_else(|| Verdict::ok(Value::Unit, "SHM-UNLINK-1"))
    }

    pub(super) fn commit_shm_unlink(&mut self, name: &str, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        let key = self.shm_name(name).unwrap_or(name).to_string();
        let Some(id) = self.objects.by_name(&key) else {
            return;
        };
        if let ObjKind::Shm { name, .. } = &mut self.objects.expect_mut(id).kind {
            *name = None;
        }
        self.release_object_if_dead(id);
    }

    /// The device an `open` path names.
    fn device(&self, path: &str) -> Option<FdTarget> {
        match path {
            "/dev/zero" => Some(FdTarget::Zero),
            "/dev/null" => Some(FdTarget::Unmappable),
            "/dev/mem" if self.profile.has_dev_mem => Some(FdTarget::Object(self.phys)),
            _ => None,
        }
    }

    /// Judges open of a device.
    pub(super) fn plan_open(&self, pid: Pid, path: &str, _oflag: OFlags) -> Verdict {
        let proc = &self.procs[&pid];
        let device = self.device(path);
        let mut c = Checks::new();
        c.check("OPEN-ENOENT-1", Errno::ENOENT, device.is_none())
            .check(
                "OPEN-EPERM-1",
                Errno::EPERM,
                device == Some(FdTarget::Object(self.phys)) && proc.euid != 0,
            )
            .check("OPEN-EMFILE-1", Errno::EMFILE, proc.lowest_free_fd().is_none());
        c.or_else(|| Verdict::ok(Value::Fd(proc.lowest_free_fd().expect("checked")), "OPEN-OK-1"))
    }

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

    /// The shm object an fd refers to.
    fn fd_object(&self, pid: Pid, fd: Fd) -> Option<ObjId> {
        match self.procs[&pid].fd(fd)?.target {
            FdTarget::Object(id) if id != self.phys => Some(id),
            _ => None,
        }
    }

    /// Judges ftruncate.
    pub(super) fn plan_ftruncate(&self, pid: Pid, fd: Fd, len: i64) -> Verdict {
        let p = self.profile;
        let entry = self.procs[&pid].fd(fd);
        let object = self.fd_object(pid, fd).and_then(|id| self.objects.get(id));
        let size = u64::try_from(len).unwrap_or(0);
        let growth = object.map_or(0, |o| {
            let now = p.round_up(o.size).unwrap_or(u64::MAX);
            p.round_up(size).unwrap_or(u64::MAX).saturating_sub(now)
        });
        let mut c = Checks::new();
        c.check("TRUNC-EBADF-1", Errno::EBADF, entry.is_none())
            .check("TRUNC-EINVAL-1", Errno::EINVAL, len < 0)
            .check(
                "TRUNC-EINVAL-2",
                Errno::EINVAL,
                entry.is_some_and(|e| !e.oflags.writable()),
            )
            .check("TRUNC-EINVAL-3", Errno::EINVAL, entry.is_some() && object.is_none())
            .check(
                "TRUNC-ENOMEM-1",
                Errno::ENOMEM,
                p.commit_objects && size > u64::from(u32::MAX),
            )
            .check(
                "TRUNC-ENOMEM-2",
                Errno::ENOMEM,
                p.commit_objects && self.committed.saturating_add(growth) > p.ram_bytes,
            );
        c.or_else(|| Verdict::ok(Value::Unit, "TRUNC-OK-1"))
    }

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
        obj.size = size;
        obj.truncate_contents(page);
        let after = self.object_charge(self.objects.expect(id));
        self.committed = self.committed - before + after;
    }

    /// Judges close.
    pub(super) fn plan_close(&self, pid: Pid, fd: Fd) -> Verdict {
        let mut c = Checks::new();
        c.check("CLOSE-EBADF-1", Errno::EBADF, self.procs[&pid].fd(fd).is_none());
        c.or_else(|| Verdict::ok(Value::Unit, "CLOSE-OK-1"))
    }

    pub(super) fn commit_close(&mut self, pid: Pid, fd: Fd, outcome: &Outcome) {
        if !outcome.is_ok() {
            return;
        }
        if let Some(entry) = self.procs.get_mut(&pid).expect("caller exists").fds.remove(&fd.0) {
            self.release_fd(entry);
        }
    }
}
