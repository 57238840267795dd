//! Helpers shared by the trace tests.
#![allow(dead_code)]

use mmoracle::oracle::report::FileReport;
use mmoracle::oracle::run::{Backend, Mode, Options};

/// The header of a neutrino trace.
pub const HEADER: &str = r#"{"format":"mmoracle-trace","version":1,"profile":"neutrino"}"#;

/// A trace made of the header and `lines`.
pub fn trace(lines: &[&str]) -> String {
    let mut text = String::from(HEADER);
    for l in lines {
        text.push('\n');
        text.push_str(l);
    }
    text.push('\n');
    text
}

/// Judges `text` in `mode`; returns the report and the trace written.
pub fn judge_text(text: &str, mode: Mode) -> (FileReport, String) {
    let opts = Options {
        mode,
        profile: None,
        strict: false,
        max_findings: mmoracle::oracle::report::MAX_FINDINGS,
    };
    mmoracle::oracle::run::judge_text(text.as_bytes(), "t.jsonl", &opts, None)
}

/// Runs a script on the model.
pub fn run(text: &str) -> (FileReport, String) {
    judge_text(text, Mode::Run(Backend::Model))
}

/// Checks a trace.
pub fn check(text: &str) -> FileReport {
    judge_text(text, Mode::Check).0
}
