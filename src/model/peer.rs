//! mmap_peer and munmap_peer: changing another process's address space.
//!
//! spec: spec/peer.md. PEER-ENOSYS-1, PEER-ESRCH-1, PEER-EPERM-1, then mmap's
//! (or munmap's) own checks in the target, with the fd looked up in the caller.

use super::Model;
use crate::call::{Call, Outcome};
use crate::rules::{Checks, Verdict};
use crate::types::{Errno, Pid};

impl Model {
    /// The peer header's checks; `None` when they pass.
    fn peer_verdict(&self, pid: Pid, target: Pid) -> Option<Verdict> {
        let caller = &self.procs[&pid];
        let denied = self
            .procs
            .get(&target)
            .is_some_and(|t| caller.euid != 0 && caller.euid != t.euid);
        let mut c = Checks::new();
        c.check("PEER-ENOSYS-1", Errno::ENOSYS, !self.profile.has_mmap_peer)
            .check("PEER-ESRCH-1", Errno::ESRCH, !self.procs.contains_key(&target))
            .check("PEER-EPERM-1", Errno::EPERM, denied);
        c.verdict()
    }

    /// The plain call a peer call makes in its target.
    fn peer_parts(call: &Call) -> (Pid, Call) {
        match *call {
            Call::MmapPeer {
                target,
                addr,
                len,
                prot,
                flags,
                fd,
                off,
            } => (
                target,
                Call::Mmap {
                    addr,
                    len,
                    prot,
                    flags,
                    fd,
                    off,
                },
            ),
            Call::MunmapPeer { target, addr, len } => (target, Call::Munmap { addr, len }),
            _ => unreachable!("only peer calls have peer parts"),
        }
    }

    /// Judges mmap_peer or munmap_peer.
    pub(super) fn plan_peer(&self, pid: Pid, call: &Call) -> Verdict {
        let (target, inner) = Self::peer_parts(call);
        if let Some(v) = self.peer_verdict(pid, target) {
            return v;
        }
        match inner {
            Call::Munmap { addr, len } => self.plan_munmap(target, addr, len),
            _ => self.plan_mmap(target, pid, &inner),
        }
    }

    /// Applies mmap_peer or munmap_peer in the target.
    pub(super) fn commit_peer(&mut self, pid: Pid, call: &Call, outcome: &Outcome) -> Result<(), String> {
        let (target, inner) = Self::peer_parts(call);
        if self.peer_verdict(pid, target).is_some() {
            return Ok(());
        }
        match inner {
            Call::Munmap { addr, len } => {
                self.commit_munmap(target, addr, len, outcome);
                Ok(())
            }
            _ => self.commit_mmap(target, pid, &inner, outcome),
        }
    }
}
