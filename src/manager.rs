//! The one trait every backend implements.

use crate::call::{Call, Outcome};
use crate::model::space::Counters;
use crate::profile::ProfileName;
use crate::types::Pid;

/// A memory manager: executes one [`Call`] on behalf of one logical process
/// and returns one [`Outcome`]. The model and the real Linux backend both
/// implement it, so traces, library layers and tests run over either.
pub trait MemoryManager {
    /// The profile whose behaviour this manager stands for.
    fn profile_name(&self) -> ProfileName;

    /// Executes `call` as process `pid`.
    fn execute(&mut self, pid: Pid, call: &Call) -> Outcome;

    /// What went wrong outside the model's world with the last call (a real
    /// backend's skipped call or lost worker). The model has none.
    fn take_incident(&mut self) -> Option<Incident> {
        None
    }

    /// `pid`'s usage counters as the implementation measures them, if it does
    /// (the real backend: VmSize, VmData, VmLck less the worker's start-up usage).
    fn counters(&self, _pid: Pid) -> Option<Counters> {
        None
    }

    /// Executes a sequence of calls as one process, returning every outcome.
    fn execute_all<'a>(&mut self, pid: Pid, calls: impl IntoIterator<Item = &'a Call>) -> Vec<Outcome>
    where
        Self: Sized,
    {
        calls.into_iter().map(|c| self.execute(pid, c)).collect()
    }
}

/// Something a real backend could not do as a call asked.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Incident {
    /// The call was not executed (for safety, or because this machine or
    /// kernel cannot do it); the run goes on with the model's own outcome,
    /// and the call counts as skipped, never as passed.
    Skipped(String),
    /// The call could not be run faithfully (or not at all) in a way that
    /// leaves the implementation and the model apart: it counts as skipped,
    /// and so does every later call of the same process in the file.
    OutOfStep(String),
    /// The worker process crashed or missed its deadline and is gone; the
    /// file cannot go on.
    WorkerLost(String),
}

impl std::fmt::Display for Incident {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Incident::Skipped(why) => write!(f, "skipped: {why}"),
            Incident::OutOfStep(why) => write!(f, "skipped: {why}; later calls of this process are not judged"),
            Incident::WorkerLost(why) => write!(f, "worker lost: {why}"),
        }
    }
}
