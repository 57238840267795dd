//! The mutation test: the oracle must catch real deviations. Every shipped
//! trace and a set of generated ones is run on the model; then one recorded
//! outcome at a time is changed (an errno to another errno, an address to an
//! occupied one, bytes read to other bytes, a fault to success, an fd to an
//! open one, a pid to one in use, a limit to another) and `check` must report
//! a divergence at that line.

use super::util::{jsonl_files, judge_with, traces_dir};
use mmoracle::gen::{generate_string, GenOptions};
use mmoracle::oracle::report::FindingKind;
use mmoracle::oracle::run::Mode;
use mmoracle::oracle::{Judgement, Oracle};
use mmoracle::trace::{Bindings, Item, Reader};
use mmoracle::types::*;
use mmoracle::{Call, Outcome, ProfileName, Value};
use serde_json::Value as Json;
use std::io::Cursor;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// One changed outcome.
struct Mutant {
    /// The line changed (1-based).
    line: u64,
    /// The new `ret`.
    ret: Outcome,
    /// What was changed, for the report of survivors.
    what: String,
}

/// Errnos tried, in order, as the replacement of a recorded one.
const ERRNOS: [Errno; 8] = [
    Errno::EINVAL,
    Errno::ENOMEM,
    Errno::EACCES,
    Errno::EBADF,
    Errno::EAGAIN,
    Errno::EPERM,
    Errno::ENXIO,
    Errno::EEXIST,
];

/// The errno a mutant reports instead of `e`: the first of [`ERRNOS`] that
/// no rule allows in this state (another failing rule's errno is not a
/// deviation, so it would be an equivalent mutant). Also says whether the
/// first candidate had to be skipped for that reason.
fn other_errno(oracle: &Oracle, pid: Pid, call: &Call, e: Errno) -> (Errno, bool) {
    let verdict = oracle.model().evaluate(pid, call);
    let mut candidates = ERRNOS.iter().copied().filter(|c| *c != e);
    let first = candidates.next().expect("several candidates");
    if verdict.allows(&Outcome::Err(first), false).is_none() {
        return (first, false);
    }
    let next = candidates
        .find(|c| verdict.allows(&Outcome::Err(*c), false).is_none())
        .expect("some errno is not allowed");
    (next, true)
}

/// A deviation from `ret` that the model's state makes wrong; counts in
/// `equivalent` the errnos skipped because they were allowed.
fn mutate(oracle: &Oracle, pid: Pid, call: &Call, ret: &Outcome, equivalent: &mut u64) -> Option<Outcome> {
    let proc = oracle.model().process(pid);
    Some(match ret {
        Outcome::Err(e) => {
            let (other, skipped) = other_errno(oracle, pid, call, *e);
            *equivalent += u64::from(skipped);
            Outcome::Err(other)
        }
        Outcome::Fault(_) => match call {
            Call::Load { len, .. } => Outcome::Ok(Value::Bytes(vec![0; len.0 as usize])),
            Call::GammaMmap { size, .. } => Outcome::Ok(Value::Bytes(vec![0; *size as usize])),
            _ => Outcome::UNIT,
        },
        Outcome::Ok(Value::Addr(a)) => {
            // An address already mapped in the process, else one outside the user range.
            let occupied = proc.and_then(|p| p.space.regions().map(|r| r.range.start()).find(|s| s != a));
            Outcome::Ok(Value::Addr(occupied.unwrap_or(Addr(0))))
        }
        Outcome::Ok(Value::Bytes(b)) => {
            let mut b = b.clone();
            match b.first_mut() {
                Some(x) => *x ^= 0xff,
                None => b.push(0),
            }
            Outcome::Ok(Value::Bytes(b))
        }
        Outcome::Ok(Value::Fd(fd)) => {
            let open = proc.and_then(|p| p.fds().keys().copied().find(|f| *f != fd.0));
            Outcome::Ok(Value::Fd(Fd(open.unwrap_or(-1))))
        }
        Outcome::Ok(Value::Pid(_)) => Outcome::Ok(Value::Pid(pid)),
        Outcome::Ok(Value::Rlimit(r)) => Outcome::Ok(Value::Rlimit(Rlimit {
            cur: r.cur ^ 1,
            max: r.max,
        })),
        Outcome::Ok(Value::Size(n)) => Outcome::Ok(Value::Size(n ^ 1)),
        Outcome::Ok(Value::Mode(m)) => Outcome::Ok(Value::Mode(m ^ 0o002)),
        // Two fds are a free choice, as one is; a mutant gives both ends one fd.
        Outcome::Ok(Value::FdPair(r, _)) => Outcome::Ok(Value::FdPair(*r, *r)),
        Outcome::Ok(Value::Status(st)) => Outcome::Ok(Value::Status(mmoracle::call::FileStatus {
            mode: st.mode ^ 0o040,
            ..*st
        })),
        // A byte counter is never a choice (MEMINFO-OK-1).
        Outcome::Ok(Value::Meminfo(info)) => Outcome::Ok(Value::Meminfo(mmoracle::call::MemInfo {
            vm_size: info.vm_size ^ 0x1000,
            ..*info
        })),
        // Handles are free choices: a mutant returns one already in use, which
        // cannot be adopted again... except that nothing tracks use outside
        // the library, so handles are not mutated.
        Outcome::Ok(Value::Unit | Value::Handle(_)) => return None,
    })
}

/// Replays a trace through an oracle and lists its mutants.
fn mutants(trace: &str, equivalent: &mut u64) -> Vec<Mutant> {
    let mut reader = Reader::new(Cursor::new(trace.as_bytes()), "t").unwrap();
    let profile = reader.header().profile.unwrap_or(ProfileName::Neutrino);
    let knobs = reader.header().knobs(profile).expect("one recording machine's memory");
    let mut oracle = Oracle::with_profile(knobs, false);
    let mut env = Bindings::new(knobs);
    let mut out = Vec::new();
    while let Some(item) = reader.next_item().unwrap() {
        let Item::Event(raw) = item else { continue };
        let ev = reader.resolve(&raw, &env).unwrap();
        let ret = ev.ret.clone().expect("a trace records every outcome");
        if let Some(m) = mutate(&oracle, ev.pid, &ev.call, &ret, equivalent) {
            out.push(Mutant {
                line: ev.line,
                what: format!("{}: {} -> {}", ev.call.name(), ret, m),
                ret: m,
            });
        }
        let j = oracle.judge(ev.pid, &ev.call, &ret);
        assert!(matches!(j, Judgement::Allowed { .. }), "the unmutated trace conforms");
        if let Some(name) = &ev.bind {
            env.bind(name, ev.call.value_kind(), &ret, ev.line);
        }
    }
    out
}

/// The trace up to and including the mutated line, with its `ret` replaced.
fn apply(trace: &str, m: &Mutant) -> String {
    let mut out = String::new();
    for (i, line) in trace.lines().enumerate() {
        let n = i as u64 + 1;
        if n == m.line {
            let mut v: Json = serde_json::from_str(line).unwrap();
            v["ret"] = mmoracle::trace::value::outcome_json(&m.ret);
            out.push_str(&v.to_string());
        } else {
            out.push_str(line);
        }
        out.push('\n');
        if n == m.line {
            break;
        }
    }
    out
}

/// Runs a script on the model and returns the trace, or `None` when the
/// model panicked (a model bug, reported by the generator's own test).
fn record(script: &str) -> Option<String> {
    catch_unwind(AssertUnwindSafe(|| {
        let (r, trace) = judge_with(script, Mode::Auto, false, None);
        assert!(r.passed(), "{:?}", r.findings.first());
        trace
    }))
    .ok()
}

/// Shipped scripts longer than this are not mutated.
const MAX_MUTATED_LINES: usize = 5_000;

/// The most mutants taken from one trace. Each mutant replays its whole trace,
/// so a trace of a thousand spawns would cost a million judged events; an
/// evenly spaced sample keeps the score meaningful and the test quick.
const MAX_MUTANTS_PER_TRACE: usize = 150;

/// At most [`MAX_MUTANTS_PER_TRACE`] of `all`, evenly spaced.
fn sample(all: Vec<Mutant>) -> Vec<Mutant> {
    let step = all.len().div_ceil(MAX_MUTANTS_PER_TRACE).max(1);
    all.into_iter().step_by(step).collect()
}

#[test]
fn the_oracle_catches_changed_outcomes() {
    let mut traces: Vec<(String, String)> = Vec::new();
    for path in jsonl_files(&traces_dir()) {
        let script = std::fs::read_to_string(&path).unwrap();
        // The region-limit scripts (tens of thousands of mprotect splits to
        // reach the limit) are left out: every mutant replays its whole
        // trace, and their few interesting events are like shorter ones'.
        if script.lines().count() > MAX_MUTATED_LINES {
            continue;
        }
        let trace = record(&script).unwrap_or_else(|| panic!("the model panicked on {}", path.display()));
        traces.push((path.display().to_string(), trace));
    }
    let shipped = traces.len();
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(|_| {}));
    let mut skipped = 0;
    for profile in ProfileName::ALL {
        for seed in 0..12 {
            let opts = GenOptions {
                seed,
                steps: 120,
                procs: 3,
                profile,
            };
            match record(&generate_string(&opts)) {
                Some(t) => traces.push((format!("gen --seed {seed} --profile {profile}"), t)),
                None => skipped += 1,
            }
        }
    }
    std::panic::set_hook(previous);

    let (mut caught, mut total, mut equivalent) = (0u64, 0u64, 0u64);
    let mut survivors = Vec::new();
    for (name, trace) in &traces {
        for m in sample(mutants(trace, &mut equivalent)) {
            total += 1;
            let (r, _) = judge_with(&apply(trace, &m), Mode::Check, false, None);
            assert!(r.error.is_none(), "{name}: {:?}", r.error);
            let hit = r
                .findings
                .iter()
                .any(|f| f.line == m.line && matches!(f.kind, FindingKind::Divergence(_)));
            if hit {
                caught += 1;
            } else {
                survivors.push(format!("{name}:{}: {}", m.line, m.what));
            }
        }
    }
    let score = caught as f64 / total.max(1) as f64;
    println!(
        "mutation score: {caught}/{total} = {:.1}% over {} traces ({shipped} shipped, {} generated; \
         {skipped} generated scripts skipped because the model panicked; \
         {equivalent} first-choice errnos replaced because another rule allowed them)",
        score * 100.0,
        traces.len(),
        traces.len() - shipped
    );
    for s in survivors.iter().take(20) {
        println!("  survived: {s}");
    }
    assert!(total >= 20, "too few mutants to mean anything: {total}");
    assert!(
        score >= 0.95,
        "mutation score {caught}/{total} below 95%:\n{}",
        survivors.join("\n")
    );
}
