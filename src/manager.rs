//! The one trait every backend implements.

use crate::call::{Call, Outcome};
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

    /// Executes a sequence of calls as one process, returning every outcome.
    fn execute_all<'a>(&mut self, pid: Pid, calls: impl IntoIterator<Item = &'a Call>) -> Vec<Outcome>
    where
        Self: Sized,
    {
        calls.into_iter().map(|c| self.execute(pid, c)).collect()
    }
}
