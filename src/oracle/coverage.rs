//! Which rules the traces exercise: for each rule, the traces in which it
//! allowed an observed outcome, and how many events.

use crate::rules::RuleId;
use crate::spec::{catalogue, compare_ids, RuleSpec};
use serde_json::{json, Value as Json};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// Hits of one rule.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RuleHits {
    /// Indices (into [`Coverage::traces`]) of the traces that hit the rule, ascending.
    pub traces: Vec<u32>,
    /// Events that hit it.
    pub events: u64,
}

/// Coverage of the rules by a set of traces.
#[derive(Clone, Debug, Default)]
pub struct Coverage {
    traces: Vec<String>,
    /// Each rule hit, with the index of its hits in `hits`.
    index: BTreeMap<RuleId, usize>,
    hits: Vec<RuleHits>,
    /// Recently recorded rules by where their text is: a rule ID is a
    /// `&'static str`, nearly always the same literal, so most events find
    /// their rule here without comparing strings. Slots of
    /// ([`CacheKey`], index into `hits`); empty until the first record.
    cache: Vec<(CacheKey, usize)>,
}

/// Where a rule ID's text is and how long it is: two IDs with the same key
/// are the same text.
type CacheKey = (usize, usize);

/// The slots of [`Coverage`]'s cache, as a power of two. A check's rules
/// are a few hundred literals: in 256 slots they collided on 7% of the
/// events of a generated trace (each a search of the index), in 1024 on
/// few (24 KiB, allocated once per run).
const CACHE_BITS: u32 = 10;
const CACHE_SLOTS: usize = 1 << CACHE_BITS;

impl Coverage {
    /// No traces yet.
    pub fn new() -> Coverage {
        Coverage::default()
    }

    /// Registers a trace and returns its index for [`Coverage::record`].
    pub fn add_trace(&mut self, name: impl Into<String>) -> u32 {
        self.traces.push(name.into());
        u32::try_from(self.traces.len() - 1).unwrap_or(u32::MAX)
    }

    /// Records that `rule` allowed an event of trace `trace`.
    pub fn record(&mut self, trace: u32, rule: RuleId) {
        let key = (rule.as_ptr() as usize, rule.len());
        // Fibonacci hashing: literals lie a few bytes apart, so the address's
        // low bits alone put many rules in one slot.
        let mixed = (key.0 as u64 ^ (key.1 as u64) << 48).wrapping_mul(0x9e37_79b9_7f4a_7c15);
        let slot = mixed >> (64 - CACHE_BITS);
        let slot = slot as usize;
        let at = match self.cache.get(slot) {
            Some(&(k, at)) if k == key => at,
            _ => {
                let at = self.entry(rule);
                if self.cache.is_empty() {
                    self.cache = vec![((0, 0), 0); CACHE_SLOTS];
                }
                self.cache[slot] = (key, at);
                at
            }
        };
        let hits = &mut self.hits[at];
        hits.events += 1;
        if hits.traces.last() != Some(&trace) {
            hits.traces.push(trace);
        }
    }

    /// The index in `hits` of `rule`'s hits, made empty if it has none yet.
    fn entry(&mut self, rule: RuleId) -> usize {
        let next = self.hits.len();
        let at = *self.index.entry(rule).or_insert(next);
        if at == next {
            self.hits.push(RuleHits::default());
        }
        at
    }

    /// Adds another coverage's traces and hits after this one's (the traces
    /// of a file judged on another thread).
    pub fn absorb(&mut self, other: Coverage) {
        let base = u32::try_from(self.traces.len()).unwrap_or(u32::MAX);
        self.traces.extend(other.traces);
        for (rule, at) in other.index {
            let hits = &other.hits[at];
            let mine = self.entry(rule);
            let mine = &mut self.hits[mine];
            mine.events += hits.events;
            mine.traces.extend(hits.traces.iter().map(|t| base.saturating_add(*t)));
        }
    }

    /// The registered traces, by index.
    pub fn traces(&self) -> &[String] {
        &self.traces
    }

    /// The hits of `rule`, if any.
    pub fn hits(&self, rule: &str) -> Option<&RuleHits> {
        self.index.get(rule).map(|&at| &self.hits[at])
    }

    /// Every rule hit, by family, word and number ([`crate::spec::compare_ids`]).
    pub fn rules(&self) -> impl Iterator<Item = (RuleId, &RuleHits)> {
        let mut hit: Vec<(RuleId, &RuleHits)> = self.index.iter().map(|(r, &at)| (*r, &self.hits[at])).collect();
        hit.sort_by(|(a, _), (b, _)| compare_ids(a, b));
        hit.into_iter()
    }

    /// The traces that exercise `rule`, by name.
    pub fn traces_of(&self, rule: &str) -> Vec<&str> {
        self.hits(rule).map_or_else(Vec::new, |h| {
            h.traces
                .iter()
                .filter_map(|i| self.traces.get(*i as usize))
                .map(String::as_str)
                .collect()
        })
    }

    /// The per-rule table `run --rules` prints: each rule hit with its title
    /// and counts, then the rules of spec/ nothing exercised.
    pub fn summary_text(&self) -> String {
        let mut out = String::from("rules exercised (rule, traces, events, title):\n");
        for (rule, hits) in self.rules() {
            let title = crate::spec::rule(rule).map_or("(not in spec/)", |r| r.title.as_str());
            let _ = writeln!(out, "  {rule:<24} {:>5} {:>8}  {title}", hits.traces.len(), hits.events);
        }
        let missing: Vec<&str> = self.uncovered().iter().map(|r| r.id.as_str()).collect();
        if !missing.is_empty() {
            let _ = writeln!(
                out,
                "rules in spec/ no trace exercises ({}): {}",
                missing.len(),
                missing.join(" ")
            );
        }
        out
    }

    /// The rules written in spec/ that no trace exercises, in ID order.
    pub fn uncovered(&self) -> Vec<&'static RuleSpec> {
        crate::spec::sorted()
            .into_iter()
            .filter(|r| !r.withdrawn() && !self.index.contains_key(r.id.as_str()))
            .collect()
    }

    /// Rules the model decided that spec/ does not write down.
    pub fn unwritten(&self) -> Vec<RuleId> {
        self.rules()
            .map(|(id, _)| id)
            .filter(|id| crate::spec::rule(id).is_none())
            .collect()
    }

    /// A per-rule table: every rule of spec/ with its trace and event counts,
    /// then the rules hit that spec/ does not know.
    pub fn text(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(out, "{:<24} {:>7} {:>9}  first trace", "rule", "traces", "events");
        let row = |out: &mut String, id: &str, hits: Option<&RuleHits>, note: &str| {
            let (t, e) = hits.map_or((0, 0), |h| (h.traces.len(), h.events));
            let first = hits
                .and_then(|h| h.traces.first())
                .and_then(|i| self.traces.get(*i as usize))
                .map_or("-", String::as_str);
            let first = crate::oracle::report::text::escape(first);
            let _ = writeln!(out, "{id:<24} {t:>7} {e:>9}  {first}{note}");
        };
        for r in crate::spec::sorted() {
            row(&mut out, &r.id, self.hits(&r.id), "");
        }
        for id in self.unwritten() {
            row(&mut out, id, self.hits(id), "  (not in spec/)");
        }
        let total = catalogue().len();
        let _ = writeln!(
            out,
            "{} of {total} rules in spec/ exercised by {} traces",
            total - self.uncovered().len(),
            self.traces.len()
        );
        out
    }

    /// The same table as JSON: `{"rules":[{"id","title","file","line","traces","events","files"}], ...}`.
    pub fn json(&self) -> Json {
        let entry = |id: &str, spec: Option<&RuleSpec>| {
            let hits = self.hits(id);
            json!({
                "id": id,
                "title": spec.map(|s| s.title.as_str()),
                "file": spec.map(|s| s.file),
                "line": spec.map(|s| s.line),
                "in_spec": spec.is_some(),
                "traces": hits.map_or(0, |h| h.traces.len()),
                "events": hits.map_or(0, |h| h.events),
                "files": hits.map_or_else(Vec::new, |h| h.traces.iter().filter_map(|i| self.traces.get(*i as usize)).collect()),
            })
        };
        let mut rules: Vec<Json> = crate::spec::sorted()
            .into_iter()
            .map(|r| entry(&r.id, Some(r)))
            .collect();
        rules.extend(self.unwritten().into_iter().map(|id| entry(id, None)));
        json!({
            "rules": rules,
            "traces": self.traces.len(),
            "uncovered": self.uncovered().iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_each_trace_once_per_rule() {
        let mut c = Coverage::new();
        let a = c.add_trace("a");
        let b = c.add_trace("b");
        c.record(a, "MMAP-OK-1");
        c.record(a, "MMAP-OK-1");
        c.record(b, "MMAP-OK-1");
        let h = c.hits("MMAP-OK-1").unwrap();
        assert_eq!(h.traces, vec![0, 1]);
        assert_eq!(h.events, 3);
        assert!(c.json()["rules"].is_array());
    }

    #[test]
    fn the_same_rule_in_two_places_is_one_rule() {
        // Two IDs with the same text at different addresses, as two literals
        // in different crates or a rule ID built at run time can be.
        let leaked: &'static str = String::from("MMAP-OK-1").leak();
        let mut c = Coverage::new();
        let a = c.add_trace("a");
        c.record(a, "MMAP-OK-1");
        c.record(a, leaked);
        c.record(a, "MMAP-OK-1");
        let b = c.add_trace("b");
        c.record(b, leaked);
        let h = c.hits("MMAP-OK-1").unwrap();
        assert_eq!((h.traces.clone(), h.events), (vec![0, 1], 4));
        assert_eq!(c.rules().count(), 1);
        let mut d = Coverage::new();
        let x = d.add_trace("x");
        d.record(x, "MUNMAP-OK-1");
        d.record(x, leaked);
        c.absorb(d);
        assert_eq!(c.hits("MMAP-OK-1").unwrap().traces, vec![0, 1, 2]);
        assert_eq!(c.hits("MUNMAP-OK-1").unwrap().events, 1);
    }
}
