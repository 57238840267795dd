//! Replays every committed fuzz input in `fuzz/regressions/<target>/` through
//! the same function the cargo-fuzz target calls, on stable and without
//! libFuzzer. A failing input is reported by its path; all of them run.
//!
//! Inputs named `known-bug-*` reproduce bugs that are reported but not fixed
//! yet: the ordinary tests skip them, and the ignored test
//! `known_bugs_still_fail` says which of them have been fixed since (rename
//! those to `crash-*`).

use std::fs;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::path::{Path, PathBuf};

/// A fuzz body: panics when it finds a bug.
type Body = fn(&[u8]);

/// Every fuzz target and its body in the main crate.
const TARGETS: [(&str, Body); 4] = [
    ("io_mmap_wire", mmoracle::fuzzing::io_mmap_wire),
    ("model_ops", mmoracle::fuzzing::run_bytes),
    ("trace_text", mmoracle::fuzzing::trace_text),
    ("differential", differential),
];

/// The differential body with this test binary's workers.
fn differential(bytes: &[u8]) {
    mmoracle::backend::linux::use_worker_exe(env!("CARGO_BIN_EXE_mmoracle"));
    mmoracle::fuzzing::differential(bytes)
}

fn regressions() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("fuzz/regressions")
}

/// The prefix of inputs that reproduce a reported, unfixed bug.
const KNOWN_BUG: &str = "known-bug-";

fn is_known_bug(path: &Path) -> bool {
    path.file_name()
        .is_some_and(|n| n.to_string_lossy().starts_with(KNOWN_BUG))
}

/// The files of one target's directory, sorted so runs are repeatable.
fn inputs(target: &str) -> Vec<PathBuf> {
    let dir = regressions().join(target);
    let entries = fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    let mut files: Vec<PathBuf> = entries
        .map(|e| e.expect("readable directory entry").path())
        .filter(|p| p.is_file())
        .collect();
    files.sort();
    files
}

/// Whether `body` panics on the bytes of `path`.
fn panics(body: Body, path: &Path) -> bool {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    catch_unwind(AssertUnwindSafe(|| body(&bytes))).is_err()
}

/// Runs every input of `target` but the known bugs, returning the paths
/// that panicked.
fn replay(target: &str, body: Body) -> Vec<String> {
    let files: Vec<PathBuf> = inputs(target).into_iter().filter(|p| !is_known_bug(p)).collect();
    assert!(!files.is_empty(), "no regression inputs for {target}");
    files
        .iter()
        .filter(|path| panics(body, path))
        .map(|path| path.display().to_string())
        .collect()
}

#[test]
fn io_mmap_wire_regressions_pass() {
    let failed = replay(TARGETS[0].0, TARGETS[0].1);
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

#[test]
fn model_ops_regressions_pass() {
    let failed = replay(TARGETS[1].0, TARGETS[1].1);
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

#[test]
fn trace_text_regressions_pass() {
    let failed = replay(TARGETS[2].0, TARGETS[2].1);
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

#[test]
fn differential_regressions_pass() {
    if !mmoracle::fuzzing::can_run_differential() {
        eprintln!("SKIPPED differential_regressions_pass: needs root (the linux profile's first process is root)");
        return;
    }
    let failed = replay(TARGETS[3].0, TARGETS[3].1);
    assert!(failed.is_empty(), "inputs that fail: {failed:#?}");
}

/// The differential inputs decode to scripts that do something: each has
/// calls, and together they reach the backend's commonest calls.
#[test]
fn differential_inputs_decode_to_scripts() {
    let mut calls = std::collections::BTreeSet::new();
    for path in inputs("differential") {
        let bytes = fs::read(&path).expect("readable input");
        let (_, events) = mmoracle::fuzzing::differential_script(&bytes);
        assert!(!events.is_empty(), "{} decodes to no calls", path.display());
        for e in &events {
            let v: serde_json::Value = serde_json::from_str(e).expect("an event is JSON");
            calls.insert(v["call"].as_str().unwrap_or_default().to_string());
        }
    }
    for call in ["mmap", "munmap", "mprotect", "store", "load", "shm_open", "spawn"] {
        assert!(
            calls.contains(call),
            "no differential input makes a {call} call: {calls:?}"
        );
    }
}

#[test]
fn every_regression_directory_names_a_target() {
    let dir = regressions();
    for entry in fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.expect("readable directory entry").path();
        if !path.is_dir() {
            continue;
        }
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        assert!(
            TARGETS.iter().any(|(t, _)| *t == name),
            "fuzz/regressions/{name} is not a fuzz target"
        );
    }
}

/// Inputs kept as known bugs still fail; one that no longer does must be
/// renamed to a regression (`crash-*`), which the tests above then replay.
#[test]
fn known_bugs_still_fail() {
    let fixed: Vec<String> = TARGETS
        .iter()
        .flat_map(|&(target, body)| inputs(target).into_iter().map(move |p| (body, p)))
        .filter(|(body, path)| is_known_bug(path) && !panics(*body, path))
        .map(|(_, path)| path.display().to_string())
        .collect();
    assert!(fixed.is_empty(), "fixed now, rename to crash-*: {fixed:#?}");
}

/// Every model_ops input decodes to calls on each profile, and `explain`
/// says what each does (`--nocapture` prints it).
#[test]
fn explain_model_ops_inputs() {
    for path in inputs("model_ops") {
        let bytes = fs::read(&path).expect("readable input");
        for profile in mmoracle::ProfileName::ALL {
            println!("== {} on {profile}", path.display());
            let lines = mmoracle::fuzzing::explain(profile, &bytes);
            assert!(!lines.is_empty(), "{} explains to nothing on {profile}", path.display());
            for line in lines {
                println!("  {line}");
            }
        }
    }
}
