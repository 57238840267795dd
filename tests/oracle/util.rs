//! Helpers shared by the oracle tests.
#![allow(dead_code)]

use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::report::{FileReport, FindingKind};
use mmoracle::oracle::run::{judge_text, Mode, Options};
use std::path::{Path, PathBuf};

/// The header of a trace for `profile`.
pub fn header(profile: &str) -> String {
    format!(r#"{{"format":"mmoracle-trace","version":1,"profile":"{profile}"}}"#)
}

/// A neutrino trace made of `lines`.
pub fn trace(lines: &[&str]) -> String {
    let mut text = header("neutrino");
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    text
}

/// Judges `text`; returns the report and the trace written.
pub fn judge_with(text: &str, mode: Mode, strict: bool, coverage: Option<&mut Coverage>) -> (FileReport, String) {
    let opts = Options {
        mode,
        profile: None,
        strict,
        max_findings: mmoracle::oracle::report::MAX_FINDINGS,
    };
    judge_text(text.as_bytes(), "t.jsonl", &opts, coverage)
}

/// Checks a trace.
pub fn check(text: &str) -> FileReport {
    judge_with(text, Mode::Check, false, None).0
}

/// Checks a trace, accepting only deterministic outcomes.
pub fn check_strict(text: &str) -> FileReport {
    judge_with(text, Mode::Check, true, None).0
}

/// The lines with a divergence.
pub fn divergent_lines(r: &FileReport) -> Vec<u64> {
    r.findings
        .iter()
        .filter(|f| matches!(f.kind, FindingKind::Divergence(_)))
        .map(|f| f.line)
        .collect()
}

/// Every *.jsonl file under `dir`, sorted.
pub fn jsonl_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        let Ok(entries) = std::fs::read_dir(&d) else { continue };
        for e in entries {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

/// The repository's traces directory.
pub fn traces_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("traces")
}
