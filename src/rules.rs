//! Rule identifiers and the check lists that decide outcomes.
//!
//! Every outcome the model produces is decided by a rule written down in
//! `spec/` (IDs such as `MMAP-EACCES-2`). A syscall family evaluates its checks
//! in its profile's order into a [`Checks`] list; the first failing check is
//! the deterministic outcome, and every failing check is an allowed one (the
//! documents do not fix precedence between errors).

use crate::call::Outcome;
use crate::types::{Errno, Signal};

/// A rule ID, e.g. `"MMAP-EINVAL-1"`.
pub type RuleId = &'static str;

/// One outcome the oracle may accept, with the rule that allows it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Allowed {
    /// The outcome.
    pub outcome: Outcome,
    /// The rule that allows it.
    pub rule: RuleId,
}

/// Rules whose alternative depends on kernel history no model keeps (which
/// VMAs Linux merged, say): a free choice of outcome, which `--strict`
/// accepts too, as it accepts a free choice of value (spec/trace-format.md §6).
pub const CHOSEN_BY_HISTORY: [RuleId; 1] = ["MREMAP-EFAULT-2"];

/// The model's judgement of one call in one state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Verdict {
    /// The deterministic outcome: the first failing check in the profile's
    /// order, or the success.
    pub outcome: Outcome,
    /// The rule that decided it.
    pub rule: RuleId,
    /// Other outcomes allowed in this state: every other failing check, and
    /// documented alternatives (`--strict` ignores these).
    pub alternatives: Vec<Allowed>,
}

impl Verdict {
    /// A verdict with no alternatives.
    pub fn only(outcome: Outcome, rule: RuleId) -> Verdict {
        Verdict {
            outcome,
            rule,
            alternatives: Vec::new(),
        }
    }

    /// A successful verdict.
    pub fn ok(value: crate::call::Value, rule: RuleId) -> Verdict {
        Verdict::only(Outcome::Ok(value), rule)
    }

    /// A fault.
    pub fn fault(signal: Signal, rule: RuleId) -> Verdict {
        Verdict::only(Outcome::Fault(signal), rule)
    }

    /// Every allowed outcome, the deterministic one first.
    pub fn allowed(&self) -> impl Iterator<Item = Allowed> + '_ {
        std::iter::once(Allowed {
            outcome: self.outcome.clone(),
            rule: self.rule,
        })
        .chain(self.alternatives.iter().cloned())
    }

    /// The rule that allows `observed`, if any (`strict`: only the
    /// deterministic outcome, or an alternative of a [`CHOSEN_BY_HISTORY`] rule).
    pub fn allows(&self, observed: &Outcome, strict: bool) -> Option<RuleId> {
        if &self.outcome == observed {
            return Some(self.rule);
        }
        self.alternatives
            .iter()
            .filter(|a| !strict || CHOSEN_BY_HISTORY.contains(&a.rule))
            .find(|a| &a.outcome == observed)
            .map(|a| a.rule)
    }
}

/// A failing check.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Hit {
    /// The rule.
    pub rule: RuleId,
    /// Its errno.
    pub errno: Errno,
    /// A documented alternative errno for the same condition.
    pub alt: Option<Errno>,
}

/// How many failing checks a list holds in place. A failing call nearly
/// always fails fewer checks than this, so its list needs no allocation
/// (the allocation and its free cost more than all of a list's checks).
const HITS_IN_PLACE: usize = 4;

/// A placeholder for the unused places of [`Hits::InPlace`], never read.
const NO_HIT: Hit = Hit {
    rule: "",
    errno: Errno::EINVAL,
    alt: None,
};

/// Checks evaluated in order; records every one whose condition holds.
#[derive(Clone, Default)]
pub struct Checks {
    /// The failing checks, in order.
    hits: Hits,
}

/// Where a list keeps its failing checks.
#[derive(Clone, Default)]
enum Hits {
    /// None failed, as in nearly every call: an empty list is its tag
    /// alone, with no places to fill in (filling in the four placeholders
    /// took about 36 instructions per list, a sixth of a successful
    /// mmap's checks).
    #[default]
    None,
    /// The first `len` places of `first` hold them.
    InPlace { len: usize, first: [Hit; HITS_IN_PLACE] },
    /// More failed than `first` holds.
    Spilled(Vec<Hit>),
}

impl std::fmt::Debug for Checks {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Checks").field("hits", &self.hits()).finish()
    }
}

impl Checks {
    /// An empty list.
    pub fn new() -> Checks {
        Checks::default()
    }

    /// Records a failing check, after the others.
    fn push(&mut self, hit: Hit) {
        match &mut self.hits {
            Hits::None => {
                let mut first = [NO_HIT; HITS_IN_PLACE];
                first[0] = hit;
                self.hits = Hits::InPlace { len: 1, first };
            }
            Hits::InPlace { len, first } if *len < HITS_IN_PLACE => {
                first[*len] = hit;
                *len += 1;
            }
            Hits::InPlace { first, .. } => {
                let mut spilled = first.to_vec();
                spilled.push(hit);
                self.hits = Hits::Spilled(spilled);
            }
            Hits::Spilled(spilled) => spilled.push(hit),
        }
    }

    /// Records `rule` failing with `errno` when `holds`.
    pub fn check(&mut self, rule: RuleId, errno: Errno, holds: bool) -> &mut Checks {
        self.check_alt(rule, errno, None, holds)
    }

    /// Like [`Checks::check`], with a documented alternative errno.
    pub fn check_alt(&mut self, rule: RuleId, errno: Errno, alt: Option<Errno>, holds: bool) -> &mut Checks {
        if holds {
            self.push(Hit { rule, errno, alt });
        }
        self
    }

    /// Appends another list's failing checks after this one's.
    pub fn extend(&mut self, other: &Checks) -> &mut Checks {
        for &hit in other.hits() {
            self.push(hit);
        }
        self
    }

    /// Whether any check failed.
    pub fn failed(&self) -> bool {
        !matches!(self.hits, Hits::None)
    }

    /// The failing checks, in order.
    pub fn hits(&self) -> &[Hit] {
        match &self.hits {
            Hits::None => &[],
            Hits::InPlace { len, first } => &first[..*len],
            Hits::Spilled(spilled) => spilled,
        }
    }

    /// The verdict: the first failing check (with every other failing check and
    /// every alternative as allowed outcomes), or `None` when all passed.
    #[inline]
    pub fn verdict(&self) -> Option<Verdict> {
        // Inlined, so that a caller whose checks all passed (nearly every
        // call) only tests for a hit, without a call that returns a verdict.
        let first = self.hits().first()?;
        Some(self.verdict_from(first))
    }

    /// The verdict when `first` is the first hit.
    fn verdict_from(&self, first: &Hit) -> Verdict {
        let mut alternatives = Vec::new();
        let mut push = |outcome: Outcome, rule: RuleId| {
            if outcome != Outcome::Err(first.errno) && !alternatives.iter().any(|a: &Allowed| a.outcome == outcome) {
                alternatives.push(Allowed { outcome, rule });
            }
        };
        for hit in self.hits() {
            push(Outcome::Err(hit.errno), hit.rule);
            if let Some(alt) = hit.alt {
                push(Outcome::Err(alt), hit.rule);
            }
        }
        Verdict {
            outcome: Outcome::Err(first.errno),
            rule: first.rule,
            alternatives,
        }
    }

    /// The verdict, or `success()` when every check passed.
    pub fn or_else(&self, success: impl FnOnce() -> Verdict) -> Verdict {
        self.verdict().unwrap_or_else(success)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_hit_decides_and_every_hit_is_allowed() {
        let mut c = Checks::new();
        c.check("A-EINVAL-1", Errno::EINVAL, false)
            .check("A-EBADF-1", Errno::EBADF, true)
            .check_alt("A-EAGAIN-1", Errno::EAGAIN, Some(Errno::ENOMEM), true)
            .check("A-EBADF-2", Errno::EBADF, true);
        let v = c.verdict().unwrap();
        assert_eq!(v.outcome, Outcome::Err(Errno::EBADF));
        assert_eq!(v.rule, "A-EBADF-1");
        assert_eq!(v.allows(&Outcome::Err(Errno::EAGAIN), false), Some("A-EAGAIN-1"));
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("A-EAGAIN-1"));
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), true), None);
        assert_eq!(v.allows(&Outcome::Err(Errno::EINVAL), false), None);
        assert_eq!(v.alternatives.len(), 2);
    }

    #[test]
    fn hits_past_those_held_in_place_keep_their_order() {
        const RULES: [RuleId; 7] = ["R-1", "R-2", "R-3", "R-4", "R-5", "R-6", "R-7"];
        let mut c = Checks::new();
        for (i, rule) in RULES.into_iter().enumerate() {
            c.check(rule, Errno::EINVAL, i != 2);
        }
        let mut both = c.clone();
        both.extend(&c);
        let rules = |c: &Checks| c.hits().iter().map(|h| h.rule).collect::<Vec<_>>();
        let kept = ["R-1", "R-2", "R-4", "R-5", "R-6", "R-7"];
        assert_eq!(rules(&c), kept);
        assert_eq!(rules(&both), [kept, kept].concat());
        assert_eq!(c.verdict().map(|v| v.rule), Some("R-1"));
    }

    #[test]
    fn no_hit_means_success() {
        let c = Checks::new();
        assert!(c.verdict().is_none());
        assert_eq!(c.or_else(|| Verdict::ok(crate::call::Value::Unit, "OK-1")).rule, "OK-1");
    }
}
