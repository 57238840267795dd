//! Library layers built on the trait's primitive calls: libmemobj and the
//! Gamma `mmap` binding. The same code runs over the model and over any other
//! [`MemoryManager`]: a library call is a sequence of primitive calls, and its
//! result is decided by the library's own rules (MEMOBJ-*, GAMMA-*) applied to
//! what the primitives returned.

pub mod gamma;
pub mod memobj;

use crate::call::{Call, Outcome};
use crate::manager::MemoryManager;
use crate::rules::{Allowed, RuleId, Verdict};
use crate::types::Pid;

/// The state the library layers keep between calls (libmemobj's handles).
#[derive(Clone, Debug, Default)]
pub struct Libraries {
    /// libmemobj.
    pub memobj: memobj::Memobj,
}

impl Libraries {
    /// Runs a library call over `mm`. Returns `None` for a primitive call.
    pub fn execute<M: MemoryManager + ?Sized>(&mut self, mm: &mut M, pid: Pid, call: &Call) -> Option<Verdict> {
        let m = &mut self.memobj;
        let v = match call {
            Call::MemobjCreate { nbytes } => m.create(mm, pid, *nbytes),
            Call::MemobjWrap { fd } => m.wrap(mm, pid, *fd),
            Call::MemobjMap {
                obj,
                target,
                prot,
                offset,
                nbytes,
            } => m.map(mm, pid, *obj, *target, *prot, *offset, *nbytes),
            Call::MemobjUnmap { obj, target, vaddr } => m.unmap(mm, pid, *obj, *target, *vaddr),
            Call::MemobjClose { obj } => m.close(mm, pid, *obj),
            Call::MemobjShare { obj } => m.share(mm, pid, *obj),
            Call::GammaShmOpen {
                name,
                oflag,
                mode,
                size,
            } => gamma::shm_open(mm, pid, name, *oflag, *mode, *size),
            Call::GammaMmap {
                size,
                prot,
                share,
                shm_file,
                offset,
            } => gamma::mmap(mm, pid, *size, *prot, *share, *shm_file, *offset),
            _ => return None,
        };
        Some(v)
    }
}

/// A library verdict: the outcome and the rule that decided it, with the
/// documented alternatives (`alt`) for the same condition.
pub(crate) fn decided(outcome: Outcome, rule: RuleId, alt: &[Outcome]) -> Verdict {
    let alternatives = alt
        .iter()
        .map(|o| Allowed {
            outcome: o.clone(),
            rule,
        })
        .collect();
    Verdict {
        outcome,
        rule,
        alternatives,
    }
}
