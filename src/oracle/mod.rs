//! The oracle: judges what an implementation did, call by call, against the
//! model, and carries on after a divergence.
//!
//! For each call the allowed set is the model's deterministic outcome, every
//! other outcome whose rule's condition holds, and documented alternatives
//! (`strict`: the deterministic outcome only). An implementation's free
//! choices (the address of an mmap without MAP_FIXED, the number of a new fd,
//! a new logical pid) are adopted when the model accepts them. After a
//! divergence the model applies its own outcome, so one run lists every
//! divergence, not only the first (SibylFS's "continuing execution with a
//! spec-allowed value").

pub mod batch;
pub mod coverage;
pub mod report;
pub mod run;

use crate::call::{Call, Outcome, Value};
use crate::model::Model;
use crate::profile::{Profile, ProfileName};
use crate::rules::{Allowed, RuleId, Verdict};
use crate::types::Pid;

/// The oracle's answer for one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Judgement {
    /// The observed outcome is allowed.
    Allowed {
        /// The rule that allows it.
        rule: RuleId,
        /// Whether it differs from the model's choice of address, fd or pid,
        /// and the model adopted it.
        adopted: bool,
    },
    /// The observed outcome is not allowed.
    Divergence(Box<Divergence>),
}

/// An outcome the model does not allow, and what it allowed instead.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Divergence {
    /// What the implementation did.
    pub observed: Outcome,
    /// What was allowed, deterministic outcome first, with the rules.
    pub allowed: Vec<Allowed>,
    /// Whether the deterministic outcome's value is a free choice (another
    /// free address, fd or pid would have been accepted).
    pub free_choice: bool,
    /// Why the observed address, fd or pid could not be adopted.
    pub refused: Option<String>,
    /// The outcome the model continued with.
    pub continued_with: Outcome,
    /// The calling process's state before the call, drawn for people.
    pub state: String,
    /// The same state as data, for the JSON report.
    pub summary: report::StateSummary,
}

impl Divergence {
    /// The rule that decided the model's own outcome.
    pub fn rule(&self) -> RuleId {
        self.allowed.first().map_or("", |a| a.rule)
    }
}

/// The model plus the judging policy.
#[derive(Clone, Debug)]
pub struct Oracle {
    model: Model,
    strict: bool,
}

impl Oracle {
    /// An oracle over a fresh model of `profile`.
    pub fn new(profile: ProfileName, strict: bool) -> Oracle {
        Oracle::with_profile(profile.profile(), strict)
    }

    /// An oracle over a fresh model of a profile that need not be a named
    /// one (a trace's header may give another system memory).
    pub fn with_profile(profile: &'static Profile, strict: bool) -> Oracle {
        Oracle {
            model: Model::with_profile(profile),
            strict,
        }
    }

    /// The model in its current state.
    pub fn model(&self) -> &Model {
        &self.model
    }

    /// Judges `observed` as the outcome of `call` by `pid`, and moves the model
    /// on: with the observed outcome when it is allowed, with the model's own
    /// otherwise. Nothing is copied: the model validates an adopted choice
    /// before it changes anything, and a library call runs once, for real.
    pub fn judge(&mut self, pid: Pid, call: &Call, observed: &Outcome) -> Judgement {
        if call.is_library() {
            return self.judge_library(pid, call, observed);
        }
        // The common case, the model's own outcome observed, evaluates and
        // applies in one step.
        let (verdict, own) = self.model.step_if(pid, call, |v| &v.outcome == observed);
        let mut refused = match own {
            Some(Ok(())) => {
                return Judgement::Allowed {
                    rule: verdict.rule,
                    adopted: false,
                }
            }
            Some(Err(reason)) => Some(reason),
            // The model's own outcome was not the one observed.
            None => match self.adopt_observed(pid, call, observed, &verdict) {
                Ok(judgement) => return judgement,
                Err(reason) => reason,
            },
        };
        let focus = report::focus(call, observed);
        let state = report::render_state(&self.model, pid, focus);
        let summary = report::state_summary(&self.model, pid, focus);
        if observed == &verdict.outcome {
            // The model refused its own outcome: a model bug, reported as such.
            refused = refused.map(|e| format!("the model could not apply its own outcome: {e}"));
        } else if let Err(e) = self.model.apply(pid, call, &verdict.outcome) {
            refused = Some(format!("the model could not apply its own outcome: {e}"));
        }
        let free_choice = is_free_choice(call, &verdict);
        self.divergence(observed, &verdict, free_choice, refused, (state, summary))
    }

    /// Applies `observed` when the verdict allows it, or when it is another
    /// value of a free choice (an address, an fd): the judgement then, else
    /// why the model refused to apply it (`None`: it was not allowed at all).
    fn adopt_observed(
        &mut self,
        pid: Pid,
        call: &Call,
        observed: &Outcome,
        verdict: &Verdict,
    ) -> Result<Judgement, Option<String>> {
        let allowed_by = verdict.allows(observed, self.strict);
        let other_choice = is_free_choice(call, verdict) && same_kind_of_success(&verdict.outcome, observed);
        if allowed_by.is_none() && !other_choice {
            return Err(None);
        }
        self.model.apply(pid, call, observed).map_err(Some)?;
        Ok(Judgement::Allowed {
            rule: allowed_by.unwrap_or(verdict.rule),
            adopted: allowed_by.is_none(),
        })
    }

    /// Runs the model's own outcome of `call` by `pid` (for `run` on the model
    /// and for scripts in coverage runs): one evaluation, one application.
    pub fn step_own(&mut self, pid: Pid, call: &Call) -> (Outcome, Judgement) {
        let verdict = self.model.step(pid, call);
        let judgement = Judgement::Allowed {
            rule: verdict.rule,
            adopted: false,
        };
        (verdict.outcome, judgement)
    }

    /// A library call runs once on the model, adopting the observed value.
    /// On a divergence the model keeps the library's own effects, and the
    /// state shown is the one after them (there is no copy of the state before).
    fn judge_library(&mut self, pid: Pid, call: &Call, observed: &Outcome) -> Judgement {
        let run = self
            .model
            .run_library(pid, call, Some(observed))
            .expect("a library call");
        if let Some(rule) = run.verdict.allows(observed, self.strict) {
            return Judgement::Allowed {
                rule,
                adopted: run.adopted,
            };
        }
        let free_choice = is_free_choice(call, &run.verdict);
        let refused = (free_choice && same_kind_of_success(&run.verdict.outcome, observed))
            .then(|| format!("{observed} is not free here"));
        let focus = report::focus(call, observed);
        let state = format!(
            "(after the model's own run of the library call)\n{}",
            report::render_state(&self.model, pid, focus)
        );
        let summary = report::state_summary(&self.model, pid, focus);
        self.divergence(observed, &run.verdict, free_choice, refused, (state, summary))
    }

    fn divergence(
        &self,
        observed: &Outcome,
        verdict: &Verdict,
        free_choice: bool,
        refused: Option<String>,
        (state, summary): (String, report::StateSummary),
    ) -> Judgement {
        let allowed: Vec<Allowed> = if self.strict {
            verdict.allowed().take(1).collect()
        } else {
            verdict.allowed().collect()
        };
        Judgement::Divergence(Box::new(Divergence {
            observed: observed.clone(),
            free_choice,
            allowed,
            refused,
            continued_with: verdict.outcome.clone(),
            state,
            summary,
        }))
    }
}

/// Whether the model's own outcome is a success whose value any free one
/// could have been (a placed address, the lowest free fd).
fn is_free_choice(call: &Call, verdict: &Verdict) -> bool {
    call.result_is_free_choice() && verdict.outcome.is_ok()
}

/// Whether `observed` is a success with a value of the kind the model's own
/// success has (another fd for an fd, another address for an address).
fn same_kind_of_success(own: &Outcome, observed: &Outcome) -> bool {
    match (own, observed) {
        (Outcome::Ok(a), Outcome::Ok(b)) => a.kind() == b.kind() && !matches!(b, Value::Unit),
        _ => false,
    }
}
