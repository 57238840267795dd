//! Helpers shared by the trace tests.
#![allow(dead_code)]

use mmoracle::oracle::report::FileReport;
use mmoracle::oracle::run::{judge, Backend, Mode, Options};
use mmoracle::trace::Writer;
use std::io::Cursor;

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
    };
    let mut out = Writer::new(Vec::new());
    let mut progress = |_: u64| {};
    let report = judge(
        Cursor::new(text.as_bytes()),
        "t.jsonl",
        &opts,
        None,
        Some(&mut out),
        &mut progress,
    )
    .expect("writing to memory cannot fail");
    (report, String::from_utf8(out.into_inner()).unwrap())
}

/// Runs a script on the model.
pub fn run(text: &str) -> (FileReport, String) {
    judge_text(text, Mode::Run(Backend::Model))
}

/// Checks a trace.
pub fn check(text: &str) -> FileReport {
    judge_text(text, Mode::Check).0
}
