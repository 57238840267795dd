//! dup and fstat: the fd calls the library layers build on.
//!
//! spec: spec/fds.md. dup: DUP-EBADF-1, DUP-EMFILE-1, DUP-OK-1.
//! fstat: FSTAT-EBADF-1, FSTAT-OK-1.

use super::process::FdTarget;
use super::Model;
use crate::call::{Outcome, Value};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Fd, Pid};

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
