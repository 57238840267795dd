//! Library calls on the model: run once, for real, with the implementation's
//! free choices adopted.
//!
//! A library call (libmemobj, the Gamma binding) is a sequence of primitive
//! calls (src/api). The oracle runs it on the model itself through
//! [`Adopting`], which gives the first primitive whose result is a free
//! choice the value the implementation returned, when that value is free:
//! nothing is copied, so judging a library call costs what the call costs.
//! Only [`Model::evaluate`], which must change nothing, runs one on a copy.

use super::Model;
use crate::call::{Call, Outcome, Value};
use crate::manager::MemoryManager;
use crate::profile::ProfileName;
use crate::rules::Verdict;
use crate::types::Pid;

/// The model as a [`MemoryManager`] that adopts one chosen value: the first
/// primitive call inside the library call whose result is a free choice of
/// the same kind (the mmap of a memobj_map, the shm_open of a Gamma
/// shm_open) gets the value the implementation returned, when it is free.
struct Adopting<'a> {
    model: &'a mut Model,
    choice: Option<Value>,
    adopted: bool,
}

impl MemoryManager for Adopting<'_> {
    fn profile_name(&self) -> ProfileName {
        self.model.profile.name
    }

    fn execute(&mut self, pid: Pid, call: &Call) -> Outcome {
        let verdict = self.model.evaluate(pid, call);
        let fits = |choice: &Value| {
            call.result_is_free_choice() && matches!(&verdict.outcome, Outcome::Ok(v) if v.kind() == choice.kind())
        };
        if let Some(choice) = self.choice.take_if(|c| fits(c)) {
            let chosen = Outcome::Ok(choice);
            if self.model.apply(pid, call, &chosen).is_ok() {
                self.adopted = chosen != verdict.outcome;
                return chosen;
            }
        }
        self.model
            .apply(pid, call, &verdict.outcome)
            .expect("the model's own outcome always applies");
        verdict.outcome
    }
}

/// What running a library call did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LibraryRun {
    /// The library's verdict, after the adoption.
    pub verdict: Verdict,
    /// Whether the implementation's value was adopted in place of the
    /// model's own choice.
    pub adopted: bool,
}

impl Model {
    /// Judges a library call without changing anything, by running it on a
    /// copy of the model. For [`Model::evaluate`]; the oracle uses
    /// [`Model::run_library`].
    pub(super) fn plan_library(&self, pid: Pid, call: &Call) -> Verdict {
        let mut scratch = self.clone();
        scratch.run_library(pid, call, None).expect("a library call").verdict
    }

    /// Runs a library call once, for real: its primitive calls change the
    /// model as they go. When `observed` is a success whose value is an
    /// address, fd or handle, the call's free choice of that kind gets it if
    /// it is free. `None` for a primitive call.
    pub fn run_library(&mut self, pid: Pid, call: &Call, observed: Option<&Outcome>) -> Option<LibraryRun> {
        if !call.is_library() {
            return None;
        }
        if self.process(pid).is_none() {
            return Some(LibraryRun {
                verdict: super::no_such_process(),
                adopted: false,
            });
        }
        let mut libs = std::mem::take(&mut self.libs);
        let mut choice = None;
        match observed {
            Some(Outcome::Ok(Value::Handle(h))) => libs.memobj.prefer_handle(*h),
            Some(Outcome::Ok(v @ (Value::Addr(_) | Value::Fd(_)))) => choice = Some(v.clone()),
            _ => {}
        }
        let mut adopting = Adopting {
            model: self,
            choice,
            adopted: false,
        };
        let verdict = libs.execute(&mut adopting, pid, call).expect("a library call");
        let adopted = adopting.adopted || libs.memobj.took_preference();
        self.libs = libs;
        self.debug_check_invariants();
        Some(LibraryRun { verdict, adopted })
    }

    /// Applies a library call's observed outcome for [`Model::apply`]: runs it
    /// once, adopting the observed value. A success the library does not give
    /// is refused (the model then holds the library's own effects). An error
    /// where the library would have succeeded changes nothing; finding that out
    /// takes a run on a copy, which is why the oracle uses
    /// [`Model::run_library`] instead.
    pub(super) fn commit_library(&mut self, pid: Pid, call: &Call, outcome: &Outcome) -> Result<(), String> {
        if !outcome.is_ok() && self.plan_library(pid, call).outcome.is_ok() {
            return Ok(());
        }
        let run = self.run_library(pid, call, Some(outcome)).expect("a library call");
        if outcome.is_ok() && &run.verdict.outcome != outcome {
            return Err(format!("the library gives {} here, not {outcome}", run.verdict.outcome));
        }
        Ok(())
    }
}
