//! dup and fstat: the fd calls the library layers build on.
//!
//! spec: spec/fds.md. dup: DUP-EBADF-1, DUP-EMFILE-1, DUP-OK-1.
//! fstat: FSTAT-EBADF-1, FSTAT-OK-1. fstat_full: FSTAT-EBADF-1,
//! FSTAT-STATUS-1.

use super::object::ObjKind;
use super::process::{FdEntry, FdTarget};
use super::Model;
use crate::call::{file_type, FileStatus, Outcome, Value};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Fd, OFlags, Pid};

impl Model {
    /// Judges dup.
    pub(super) fn plan_dup(&self, pid: Pid, fd: Fd) -> Verdict {
        let proc = &self.procs[&pid];
        let mut c = Checks::new();
        c.check("DUP-EBADF-1", Errno::EBADF, proc.fd(fd).is_none()).check(
            "DUP-EMFILE-1",
            Errno::EMFILE,
            proc.lowest_free_fd().is_none(),
        );
        c.or_else(|| Verdict::ok(Value::Fd(proc.lowest_free_fd().expect("checked")), "DUP-OK-1"))
    }

    /// Applies dup: the new fd shares the old one's target and flags.
    pub(super) fn commit_dup(&mut self, pid: Pid, fd: Fd, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(value) = outcome else { return Ok(()) };
        let new = self.adoptable_fd(pid, value)?;
        let entry = *self.procs[&pid].fd(fd).ok_or("dup of a closed fd")?;
        self.install_fd(pid, new, entry);
        Ok(())
    }

    /// Judges fstat: the size of the object (0 for devices without one).
    pub(super) fn plan_fstat(&self, pid: Pid, fd: Fd) -> Verdict {
        let Some(entry) = self.procs[&pid].fd(fd) else {
            return Verdict::only(Outcome::Err(Errno::EBADF), "FSTAT-EBADF-1");
        };
        let size = match entry.target {
            FdTarget::Object(id) => self.objects.expect(id).size,
            _ => 0,
        };
        Verdict::ok(Value::Size(size), "FSTAT-OK-1")
    }
}

/// The devices' status: character devices of root's, readable and writable by all.
const DEVICE: FileStatus = FileStatus {
    size: 0,
    uid: 0,
    gid: 0,
    mode: file_type::CHR | 0o666,
};

impl Model {
    /// Judges fstat read in full: size, owner, group and mode of what the
    /// fd refers to. spec: FSTAT-EBADF-1, FSTAT-STATUS-1.
    pub(super) fn plan_fstat_full(&self, pid: Pid, fd: Fd) -> Verdict {
        let Some(entry) = self.procs[&pid].fd(fd) else {
            return Verdict::only(Outcome::Err(Errno::EBADF), "FSTAT-EBADF-1");
        };
        Verdict::ok(Value::Status(self.file_status(entry.target)), "FSTAT-STATUS-1")
    }

    /// What fstat reports of `target`.
    fn file_status(&self, target: FdTarget) -> FileStatus {
        let id = match target {
            FdTarget::Object(id) => id,
            FdTarget::Pipe { uid, gid } => {
                return FileStatus {
                    size: 0,
                    uid,
                    gid,
                    mode: file_type::FIFO | 0o600,
                }
            }
            FdTarget::Zero | FdTarget::Unmappable => return DEVICE,
        };
        let obj = self.objects.expect(id);
        let (uid, gid, mode) = match (&obj.kind, self.server.file(id)) {
            (ObjKind::Shm { mode, uid, gid, .. }, _) => (*uid, *gid, self.profile.shm_file_type | mode),
            (_, Some(file)) => (
                file.uid,
                super::resmgr::SERVER_GID,
                file_type::REG | (file.mode & 0o7777),
            ),
            // Physical memory (/dev/mem, QNX 4's Physical) and anonymous
            // memory: a device of root's that only root may open.
            _ => (0, 0, file_type::CHR | 0o600),
        };
        FileStatus {
            size: obj.size,
            uid,
            gid,
            mode,
        }
    }
}

impl Model {
    /// Judges pipe: the two lowest free fds, read end first.
    /// spec: PIPE-EMFILE-1, then PIPE-OK-1.
    pub(super) fn plan_pipe(&self, pid: Pid) -> Verdict {
        let Some((r, w)) = self.two_free_fds(pid) else {
            return Verdict::only(Outcome::Err(Errno::EMFILE), "PIPE-EMFILE-1");
        };
        Verdict::ok(Value::FdPair(r, w), "PIPE-OK-1")
    }

    /// The two lowest free fds below the caller's RLIMIT_NOFILE.
    fn two_free_fds(&self, pid: Pid) -> Option<(Fd, Fd)> {
        let proc = &self.procs[&pid];
        let r = proc.lowest_free_fd()?;
        let limit = proc.limit(crate::types::Resource::RLIMIT_NOFILE).cur;
        let w = (r.0 + 1..).map(Fd).find(|fd| proc.fd(*fd).is_none())?;
        (u64::try_from(w.0).ok()? < limit).then_some((r, w))
    }

    /// Applies pipe: installs the two fds the implementation returned, if
    /// both are free and different.
    pub(super) fn commit_pipe(&mut self, pid: Pid, outcome: &Outcome) -> Result<(), String> {
        let Outcome::Ok(Value::FdPair(r, w)) = outcome else {
            return Ok(());
        };
        if r == w {
            return Err(format!("both ends of the pipe are fd {r}"));
        }
        let r = self.adoptable_fd(pid, &Value::Fd(*r))?;
        let w = self.adoptable_fd(pid, &Value::Fd(*w))?;
        let p = &self.procs[&pid];
        let target = FdTarget::Pipe {
            uid: p.euid,
            gid: p.egid,
        };
        for (fd, oflags) in [(r, OFlags::RDONLY), (w, OFlags::WRONLY)] {
            self.install_fd(pid, fd, FdEntry { target, oflags });
        }
        Ok(())
    }
}
