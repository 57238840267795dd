//! Rule coverage: which traces exercise which rules.

use super::util::{jsonl_files, judge_with, traces_dir};
use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::run::Mode;

/// Runs every shipped trace and script the way `spec --coverage` does.
fn shipped_coverage() -> Coverage {
    let mut c = Coverage::new();
    for path in jsonl_files(&traces_dir()) {
        let text = std::fs::read_to_string(&path).unwrap();
        let (r, _) = judge_with(&text, Mode::Auto, false, Some(&mut c));
        assert!(r.error.is_none(), "{}: {:?}", path.display(), r.error);
    }
    c
}

#[test]
fn coverage_counts_traces_per_rule() {
    let c = shipped_coverage();
    let ok = c.hits("MMAP-OK-1").expect("the examples map memory");
    assert!(!ok.traces.is_empty() && ok.events >= ok.traces.len() as u64);
    assert!(c.traces().len() >= 5);
    let json = c.json();
    let rules = json["rules"].as_array().unwrap();
    assert!(rules.iter().all(|r| r["id"].is_string() && r["traces"].is_u64()));
}

/// Every rule written in spec/ must be exercised by at least one shipped trace.
#[test]
fn every_rule_in_spec_is_exercised_by_a_trace() {
    let c = shipped_coverage();
    let missing: Vec<&str> = c.uncovered().iter().map(|r| r.id.as_str()).collect();
    assert!(
        missing.is_empty(),
        "{} rules in spec/ have no trace in traces/: {missing:?}",
        missing.len()
    );
}

/// traces/observed: kernel recordings the model allows only as a free
/// choice of outcome; each passes `check --strict` through such a rule.
#[test]
fn observed_traces() {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/observed");
    let mut seen = 0;
    for entry in std::fs::read_dir(&dir).expect("traces/observed").flatten() {
        let path = entry.path();
        if path.extension().is_none_or(|x| x != "jsonl") {
            continue;
        }
        seen += 1;
        let text = std::fs::read(&path).expect("readable");
        let name = path.display().to_string();
        let opts = mmoracle::oracle::run::Options {
            strict: true,
            ..mmoracle::oracle::run::Options::new(mmoracle::oracle::run::Mode::Check)
        };
        let mut coverage = mmoracle::oracle::coverage::Coverage::new();
        let (report, _) = mmoracle::oracle::run::judge_text(&text, &name, &opts, Some(&mut coverage));
        assert!(report.passed(), "{}", mmoracle::oracle::report::file_text(&report));
        let chosen = mmoracle::rules::CHOSEN_BY_HISTORY;
        assert!(
            chosen.iter().any(|rule| coverage.hits(rule).is_some()),
            "{name} takes no free choice of outcome ({chosen:?})"
        );
    }
    assert!(seen > 0, "no traces in {}", dir.display());
}
