//! The `mmoracle` binary: commands, exit status, output formats.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

fn bin() -> Command {
    let mut c = Command::new(env!("CARGO_BIN_EXE_mmoracle"));
    c.current_dir(env!("CARGO_MANIFEST_DIR"));
    c
}

fn run(args: &[&str]) -> Output {
    bin().args(args).output().unwrap()
}

fn run_with_input(args: &[&str], input: &str) -> Output {
    let mut child = bin()
        .args(args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
    child.wait_with_output().unwrap()
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn code(o: &Output) -> i32 {
    o.status.code().unwrap()
}

/// A scratch directory for this test.
fn scratch(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

const EXAMPLE: &str = "traces/spec/trace-format-example.jsonl";

#[test]
fn help_shows_an_example_for_each_command() {
    let top = run(&["--help"]);
    assert_eq!(code(&top), 0);
    let top = text(&top.stdout);
    for cmd in ["run", "check", "gen", "spec"] {
        assert!(
            top.contains(&format!("mmoracle {cmd} ")),
            "no example of {cmd} in --help:\n{top}"
        );
        let sub = run(&[cmd, "--help"]);
        assert_eq!(code(&sub), 0);
        let sub = text(&sub.stdout);
        assert!(
            sub.contains("Examples:") && sub.contains(&format!("mmoracle {cmd}")),
            "{cmd} --help:\n{sub}"
        );
    }
}

#[test]
fn run_the_suite_on_the_model_passes_with_a_rule_summary() {
    let o = run(&["run", "traces/spec", "--backend", "model"]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(out.contains("rules exercised"), "{out}");
    assert!(out.contains("MMAP-OK-2"), "{out}");
    assert!(
        out.contains("0 divergences, 0 unmet expectations, 0 with bad input"),
        "{out}"
    );
    assert!(
        o.stderr.is_empty(),
        "no progress when stderr is not a terminal: {}",
        text(&o.stderr)
    );
}

#[test]
fn the_linux_backend_runs_only_linux_scripts_and_counts_the_others() {
    let o = run(&["run", EXAMPLE, "traces/spec/obj-fds-linux.jsonl", "--backend", "linux"]);
    let out = text(&o.stdout);
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED the_linux_backend_runs_only_linux_scripts_and_counts_the_others: needs root");
        return;
    }
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(out.contains("NOT APPLICABLE: 1 scripts"), "{out}");
    assert!(out.contains("0 divergences, 0 unmet expectations"), "{out}");
}

#[test]
fn run_writes_a_trace_that_check_accepts_and_a_mutation_it_rejects() {
    let dir = scratch("run-check");
    let trace = dir.join("t.jsonl");
    let o = run(&["run", EXAMPLE, "-o", trace.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    let o = run(&["check", trace.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    // Change the bytes the load read (line 5 of the trace).
    let recorded = std::fs::read_to_string(&trace).unwrap();
    assert!(recorded.lines().nth(4).unwrap().contains(r#""ret":{"ok":"00cafe"}"#));
    let mutated = dir.join("m.jsonl");
    std::fs::write(
        &mutated,
        recorded.replace(r#""ret":{"ok":"00cafe"}"#, r#""ret":{"ok":"00cafd"}"#),
    )
    .unwrap();
    let o = run(&["check", mutated.to_str().unwrap()]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1, "{out}");
    assert!(
        out.contains("m.jsonl:5: divergence: pid 1 load(addr=$a+4095=0x40000fff, len=3)"),
        "{out}"
    );
    assert!(out.contains("allowed:  ok bytes 00cafe [ACCESS-LOAD-1]"), "{out}");
    // The expectation of line 5 is still met by nothing else: only the divergence is new.
    assert!(out.contains("1 divergences, 1 unmet expectations"), "{out}");
}

#[test]
fn run_of_several_inputs_writes_one_trace_each_under_the_output_directory() {
    let dir = scratch("several");
    let o = run(&["run", "traces/spec", "-o", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    let written = dir.join("traces/spec/trace-format-example.jsonl");
    let trace = std::fs::read_to_string(&written).unwrap();
    assert!(
        trace.lines().nth(2).unwrap().contains(r#""ret":{"ok":"0x40000000"}"#),
        "{trace}"
    );
    let o = run(&["check", dir.to_str().unwrap()]);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
}

#[test]
fn a_pipeline_through_standard_input_and_output() {
    let script = std::fs::read_to_string(EXAMPLE).unwrap();
    let o = run_with_input(&["run", "-", "-o", "-"], &script);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let trace = text(&o.stdout);
    assert!(trace.starts_with(r#"{"format":"mmoracle-trace","version":1,"profile":"neutrino""#));
    assert!(
        text(&o.stderr).contains("1 files (1 passed)"),
        "the report goes to stderr: {}",
        text(&o.stderr)
    );
    let o = run_with_input(&["check", "-"], &trace);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
}

#[test]
fn bad_input_exits_2_naming_file_line_and_column() {
    let dir = scratch("bad");
    let bad = dir.join("bad.jsonl");
    std::fs::write(
        &bad,
        "{\"format\":\"mmoracle-trace\",\"version\":1}\n{\"pid\":1,\"call\":\"munmap\",\"addr\":\"$nope\",\"len\":1,\"ret\":{\"ok\":0}}\n",
    )
    .unwrap();
    let o = run(&["check", bad.to_str().unwrap()]);
    assert_eq!(code(&o), 2);
    let out = text(&o.stdout);
    assert!(out.contains("bad.jsonl:2:33: `addr`: `$nope` is not bound"), "{out}");
    let o = run(&["check", "no/such/file.jsonl"]);
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stderr).contains("no/such/file.jsonl: no such file"),
        "{}",
        text(&o.stderr)
    );
    let o = run(&["check"]);
    assert_eq!(code(&o), 2, "usage errors exit 2");
    let o = run(&["check", EXAMPLE, "--format", "yaml"]);
    assert_eq!(code(&o), 2);
    let o = run_with_input(&["check", "-"], "{\"format\":\"mmoracle-trace\",\"version\":7}\n");
    assert_eq!(code(&o), 2);
    assert!(
        text(&o.stdout).contains("-:1:38: trace format version 7 is newer"),
        "{}",
        text(&o.stdout)
    );
}

#[test]
fn check_reports_as_json_and_junit() {
    let dir = scratch("formats");
    let trace = dir.join("t.jsonl");
    std::fs::write(
        &trace,
        "{\"format\":\"mmoracle-trace\",\"version\":1}\n{\"pid\":1,\"call\":\"munmap\",\"addr\":\"$ARENA\",\"len\":4096,\"ret\":{\"err\":\"EINVAL\"}}\n",
    )
    .unwrap();
    let o = run(&["check", trace.to_str().unwrap(), "--format", "json"]);
    assert_eq!(code(&o), 1);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["summary"]["divergences"], 1);
    assert_eq!(doc["summary"]["exit_code"], 1);
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["line"], 2);
    assert_eq!(f["observed"], "error EINVAL");
    assert_eq!(f["rule"], "MUNMAP-OK-1");
    let o = run(&["check", trace.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(code(&o), 1);
    let xml = text(&o.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<failure message=\"1 divergences, 0 unmet expectations\">"),
        "{xml}"
    );
    assert!(xml.trim_end().ends_with("</testsuites>"));
}

#[test]
fn strict_accepts_only_the_deterministic_outcome() {
    let dir = scratch("strict");
    let trace = dir.join("t.jsonl");
    std::fs::write(
        &trace,
        "{\"format\":\"mmoracle-trace\",\"version\":1}\n{\"pid\":1,\"call\":\"mmap\",\"addr\":0,\"len\":0,\"prot\":\"PROT_READ\",\"flags\":\"MAP_SHARED\",\"fd\":9,\"off\":0,\"ret\":{\"err\":\"EBADF\"}}\n",
    )
    .unwrap();
    assert_eq!(code(&run(&["check", trace.to_str().unwrap()])), 0);
    assert_eq!(code(&run(&["check", trace.to_str().unwrap(), "--strict"])), 1);
}

#[test]
fn gen_is_reproducible_from_its_seed() {
    let a = run(&["gen", "--seed", "99", "--steps", "50", "--procs", "3"]);
    let b = run(&["gen", "--seed", "99", "--steps", "50", "--procs", "3"]);
    assert_eq!(code(&a), 0);
    assert_eq!(a.stdout, b.stdout);
    let out = text(&a.stdout);
    assert_eq!(out.lines().count(), 51);
    assert!(out.lines().next().unwrap().contains(r#""seed":99"#));
    let c = run(&["gen", "--steps", "5"]);
    assert!(
        text(&c.stdout).lines().next().unwrap().contains(r#""seed":"#),
        "a clock seed is recorded"
    );
    assert_eq!(code(&run(&["gen", "--procs", "0"])), 2);
    let linux = run(&["gen", "--seed", "1", "--steps", "1", "--profile", "linux"]);
    assert!(text(&linux.stdout).contains(r#""profile":"linux""#));
}

#[test]
fn spec_lists_rules_and_their_coverage() {
    let o = run(&["spec"]);
    assert_eq!(code(&o), 0);
    assert!(text(&o.stdout).contains(" rules"), "{}", text(&o.stdout));
    let o = run(&["spec", "--coverage", "traces/", "--format", "json"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let rules = doc["rules"].as_array().unwrap();
    let ok = rules
        .iter()
        .find(|r| r["id"] == "MMAP-OK-1")
        .expect("MMAP-OK-1 is hit by the examples");
    assert!(ok["traces"].as_u64().unwrap() >= 1);
    assert!(rules.iter().all(|r| r["id"].is_string() && r["traces"].is_u64()));
    let o = run(&["spec", "--coverage", "traces/"]);
    let out = text(&o.stdout);
    assert!(out.contains("rules in spec/ exercised by"), "{out}");
}
