//! Library calls on the model: judged on a scratch copy, applied with the
//! implementation's free choices adopted.
//!
//! A library call (libmemobj, the Gamma binding) is a sequence of primitive
//! calls (src/api). To judge one without changing anything, the model runs it
//! on a copy of itself; to apply an observed outcome it runs it for real
//! through [`Adopting`], which places the call's mapping at the address the
//! implementation returned when that address was free to choose.

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
                return chosen;
            }
        }
        self.model
            .apply(pid, call, &verdict.outcome)
            .expect("the model's own outcome always applies");
        verdict.outcome
    }
}

impl Model {
    /// Judges a library call by running it on a copy of the model.
    pub(super) fn plan_library(&self, pid: Pid, call: &Call) -> Verdict {
        let mut scratch = self.clone();
        let mut libs = std::mem::take(&mut scratch.libs);
        libs.execute(&mut scratch, pid, call)
            .expect("every non-primitive call is a library call")
    }

    /// Applies a library call's outcome: runs it for real, adopting the
    /// returned address and handle. An allowed error where the library would
    /// have succeeded changes nothing.
    pub(super) fn commit_library(&mut self, pid: Pid, call: &Call, outcome: &Outcome) -> Result<(), String> {
        // Only an observed error needs the deterministic run (on a copy): an
        // allowed error where the library would have succeeded changes nothing.
        if !outcome.is_ok() && self.plan_library(pid, call).outcome.is_ok() {
            return Ok(());
        }
        let mut libs = std::mem::take(&mut self.libs);
        if let Outcome::Ok(Value::Handle(h)) = outcome {
            libs.memobj.prefer_handle(*h);
        }
        let choice = match outcome {
            Outcome::Ok(v @ (Value::Addr(_) | Value::Fd(_))) => Some(v.clone()),
            _ => None,
        };
        let verdict = libs
            .execute(&mut Adopting { model: self, choice }, pid, call)
            .expect("library call");
        self.libs = libs;
        if outcome.is_ok() && &verdict.outcome != outcome {
            return Err(format!("the library gives {} here, not {outcome}", verdict.outcome));
        }
        Ok(())
    }
}
