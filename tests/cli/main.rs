//! The `mmoracle` binary: commands, exit status, output formats.

mod budget;
mod examples;
mod files;
mod parallel;

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
    for cmd in ["run", "check", "gen", "spec", "explain"] {
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
    let o = run(&["run", "traces/spec", "--backend", "model", "--rules"]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(out.contains("rules exercised"), "{out}");
    assert!(out.contains("MMAP-OK-2"), "{out}");
    assert!(
        out.lines()
            .last()
            .unwrap()
            .ends_with("0 divergences, 0 unmet expectations, 0 with bad input: conforms"),
        "the verdict comes last:\n{out}"
    );
    assert!(
        o.stderr.is_empty(),
        "no progress when stderr is not a terminal: {}",
        text(&o.stderr)
    );
    // Rule IDs sort by family, word, then number.
    let ids: Vec<&str> = out
        .lines()
        .filter_map(|l| l.split_whitespace().next())
        .filter(|w| mmoracle::spec::is_rule_id(w))
        .collect();
    let at = |id: &str| {
        ids.iter()
            .position(|x| *x == id)
            .unwrap_or_else(|| panic!("{id} missing"))
    };
    assert!(at("MMAP-EINVAL-2") < at("MMAP-EINVAL-10"), "{ids:?}");
}

#[test]
fn run_prints_the_same_summary_for_a_directory_as_for_files() {
    let dir = run(&["run", "traces/spec"]);
    let files = run(&["run", EXAMPLE]);
    for o in [&dir, &files] {
        let out = text(&o.stdout);
        assert_eq!(code(o), 0, "{out}");
        assert_eq!(
            out.lines().count(),
            1,
            "one summary line, no table without --rules:\n{out}"
        );
        assert!(
            out.starts_with("run: ") && out.trim_end().ends_with(": conforms"),
            "{out}"
        );
    }
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

/// `--touch-budget` and `--deadline` reach the workers: a second MiB of
/// stores over a budget of one is skipped (and counted), and nonsense is refused.
#[test]
fn worker_limits_come_from_the_command_line() {
    for bad in [["--deadline", "0"], ["--deadline", "x"], ["--touch-budget", "0"]] {
        let o = run(&["run", EXAMPLE, "--backend", "linux", bad[0], bad[1]]);
        assert_eq!(code(&o), 2, "{bad:?} accepted");
        assert!(text(&o.stderr).contains(bad[0]), "{}", text(&o.stderr));
    }
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED the rest of worker_limits_come_from_the_command_line: needs root");
        return;
    }
    let dir = scratch("touch-budget");
    let script = dir.join("two-mib.jsonl");
    let mib = "00".repeat(1 << 20);
    std::fs::write(
        &script,
        format!(
            "{{\"format\":\"mmoracle-trace\",\"version\":1,\"profile\":\"linux\"}}\n\
             {{\"pid\":1,\"call\":\"mmap\",\"addr\":\"$ARENA\",\"len\":\"0x200000\",\"prot\":\"PROT_READ|PROT_WRITE\",\"flags\":\"MAP_PRIVATE|MAP_ANON|MAP_FIXED\",\"fd\":-1,\"off\":0}}\n\
             {{\"pid\":1,\"call\":\"store\",\"addr\":\"$ARENA\",\"data\":\"{mib}\"}}\n\
             {{\"pid\":1,\"call\":\"store\",\"addr\":\"$ARENA+0x100000\",\"data\":\"{mib}\"}}\n"
        ),
    )
    .unwrap();
    let path = script.to_str().unwrap();
    let o = run(&[
        "run",
        path,
        "--backend",
        "linux",
        "--touch-budget",
        "1",
        "--deadline",
        "5",
    ]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    assert!(out.contains("SKIPPED: 1 calls"), "{out}");
    let o = run(&["run", path, "--backend", "linux"]);
    assert!(!text(&o.stdout).contains("SKIPPED"), "{}", text(&o.stdout));
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
        text(&o.stderr).starts_with("run: 1 files (1 passed)"),
        "the report goes to stderr and says it is run's: {}",
        text(&o.stderr)
    );
    let o = run_with_input(&["check", "-"], &trace);
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    assert!(
        text(&o.stdout).starts_with("check: 1 files (1 passed)"),
        "{}",
        text(&o.stdout)
    );
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
        text(&o.stdout).contains("no/such/file.jsonl: no such file"),
        "a missing input is reported with the others: {}",
        text(&o.stdout)
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
    assert_eq!(doc["format"], "mmoracle-report");
    assert_eq!(doc["version"], 1);
    assert_eq!(doc["command"], "check");
    assert_eq!(doc["summary"]["divergences"], 1);
    assert_eq!(doc["summary"]["exit_code"], 1);
    assert_eq!(doc["summary"]["verdict"], "diverges");
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["line"], 2);
    assert_eq!(
        f["call"],
        serde_json::json!({"pid":1,"call":"munmap","addr":"0x40000000","len":4096})
    );
    assert_eq!(f["observed"], serde_json::json!({"err":"EINVAL"}));
    assert_eq!(
        f["allowed"],
        serde_json::json!([{"outcome":{"ok":0},"rules":["MUNMAP-OK-1"]}])
    );
    assert_eq!(f["rule"], "MUNMAP-OK-1");
    assert_eq!(f["continued_with"], serde_json::json!({"ok":0}));
    let state = &f["state"];
    assert_eq!(state["pid"], 1);
    assert_eq!(state["regions"], serde_json::json!([]));
    assert_eq!(state["counters"], serde_json::json!({"total":0,"data":0,"locked":0}));
    assert_eq!(state["limits"]["RLIMIT_NOFILE"]["cur"], 1000);
    assert_eq!(state["limits"]["RLIMIT_AS"]["max"], "RLIM_INFINITY");
    let o = run(&["check", trace.to_str().unwrap(), "--format", "junit"]);
    assert_eq!(code(&o), 1);
    let xml = text(&o.stdout);
    assert!(xml.starts_with("<?xml"), "{xml}");
    assert!(
        xml.contains("<failure type=\"MUNMAP-OK-1\" message=\"line 2: error EINVAL divergence, allowed by [MUNMAP-OK-1] unmapped\">"),
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

const HEADER: &str = "{\"format\":\"mmoracle-trace\",\"version\":1}\n";

/// The text report of `check` on `trace`, written to `dir/name`.
fn check_text(dir: &Path, name: &str, trace: &str) -> (i32, String) {
    let path = dir.join(name);
    std::fs::write(&path, trace).unwrap();
    let o = run(&["check", path.to_str().unwrap()]);
    (code(&o), text(&o.stdout))
}

#[test]
fn control_characters_from_a_trace_are_escaped_in_text_reports() {
    let dir = scratch("controls");
    // An shm name with ESC, BEL and a newline, mapped and then misjudged so the
    // name shows in the call and in the state drawn around it.
    let name = "/x\\u001b[2J\\u0007\\nforged 1 files (1 passed)";
    let trace = format!(
        "{HEADER}{{\"call\":\"shm_open\",\"name\":\"{name}\",\"oflag\":\"O_RDWR|O_CREAT\",\"mode\":384,\"bind\":\"fd\",\"ret\":{{\"ok\":3}}}}\n\
         {{\"call\":\"ftruncate\",\"fd\":\"$fd\",\"len\":4096,\"ret\":{{\"ok\":0}}}}\n\
         {{\"call\":\"mmap\",\"addr\":0,\"len\":4096,\"prot\":\"PROT_READ\",\"flags\":\"MAP_SHARED\",\"fd\":\"$fd\",\"off\":0,\"bind\":\"a\",\"ret\":{{\"ok\":\"0x10000000\"}}}}\n\
         {{\"call\":\"shm_unlink\",\"name\":\"{name}\",\"ret\":{{\"err\":\"EBADF\"}}}}\n\
         {{\"call\":\"munmap\",\"addr\":\"$a\",\"len\":4096,\"ret\":{{\"err\":\"EINVAL\"}}}}\n"
    );
    // And a file name with the same characters.
    let (rc, out) = check_text(&dir, "evil\x1b]0;title\x07\nforged: conforms.jsonl", &trace);
    assert_eq!(rc, 1, "{out}");
    for raw in ['\x1b', '\x07'] {
        assert!(!out.contains(raw), "a raw {raw:?} reached the report:\n{out:?}");
    }
    assert!(
        out.contains("\\x1b[2J\\x07\\nforged"),
        "the name is shown escaped:\n{out}"
    );
    assert!(
        out.contains("evil\\x1b]0;title\\x07\\nforged: conforms.jsonl:5: divergence"),
        "{out}"
    );
    assert!(
        out.contains("shm /dev/shmem/x\\x1b[2J"),
        "the state map escapes the name too:\n{out}"
    );
    // The newlines did not start lines of their own.
    assert!(!out.lines().any(|l| l.starts_with("forged")), "{out}");
}

#[test]
fn a_divergence_on_a_large_load_shows_the_first_difference_not_every_byte() {
    let dir = scratch("bigload");
    let mapped = "{\"call\":\"mmap\",\"addr\":0,\"len\":1048576,\"prot\":\"PROT_READ|PROT_WRITE\",\"flags\":\"MAP_PRIVATE|MAP_ANON\",\"fd\":-1,\"off\":0,\"bind\":\"a\",\"ret\":{\"ok\":\"0x10000000\"}}\n";
    let wrong = format!(
        "{{\"call\":\"load\",\"addr\":\"$a\",\"len\":1048576,\"ret\":{{\"ok\":\"{}01\"}}}}\n",
        "00".repeat(1048575)
    );
    let (rc, out) = check_text(&dir, "t.jsonl", &format!("{HEADER}{mapped}{wrong}"));
    assert_eq!(rc, 1, "{}", &out[..out.len().min(2000)]);
    assert!(out.len() < 4096, "a {} byte report for one byte wrong", out.len());
    assert!(out.contains("first difference at byte offset 0xfffff"), "{out}");
    assert!(
        out.contains("observed: ok 1048576 bytes, [0xffff7, 0x100000): …000000000000000001"),
        "{out}"
    );
    assert!(
        out.contains("allowed:  ok 1048576 bytes, [0xffff7, 0x100000): …000000000000000000 [ACCESS-LOAD-1]"),
        "{out}"
    );
}

#[test]
fn long_data_and_expressions_in_the_echoed_call_are_clipped_with_their_length() {
    let dir = scratch("bigstore");
    // One byte more than a store may hold: ACCESS-EINVAL-1, with 2 MiB of hex in the call.
    let data = "ab".repeat((1 << 20) + 1);
    let expr = format!("$ARENA{}", "+1".repeat(100_000));
    let trace = format!(
        "{HEADER}{{\"call\":\"store\",\"addr\":\"$ARENA\",\"data\":\"{data}\",\"ret\":{{\"ok\":0}}}}\n\
         {{\"call\":\"munmap\",\"addr\":\"{expr}\",\"len\":4096,\"ret\":{{\"err\":\"EBADF\"}}}}\n"
    );
    let (rc, out) = check_text(&dir, "t.jsonl", &trace);
    assert_eq!(rc, 1);
    assert!(out.len() < 8192, "a {} byte report", out.len());
    assert!(out.contains("data=abababab"), "{out}");
    assert!(out.contains("(2097154 characters)"), "{out}");
    assert!(out.contains("(200006 characters)=0x400186a0"), "{out}");
    // Bad input that echoes a long value is clipped the same way.
    let flag = format!("PROT_{}", "X".repeat(100_000));
    let bad = format!(
        "{HEADER}{{\"call\":\"mmap\",\"addr\":0,\"len\":4096,\"prot\":\"{flag}\",\"flags\":\"MAP_PRIVATE\",\"fd\":-1,\"off\":0,\"ret\":{{\"ok\":0}}}}\n"
    );
    let (rc, out) = check_text(&dir, "bad.jsonl", &bad);
    assert_eq!(rc, 2);
    assert!(out.len() < 2048, "a {} byte report", out.len());
    assert!(out.contains("bad.jsonl:2:43: `prot`: unknown flag `PROT_XXXX"), "{out}");
    assert!(out.contains("(100005 characters)`"), "{out}");
}

#[test]
fn a_closed_output_pipe_ends_quietly_with_exit_0() {
    let dir = scratch("pipe");
    let script = dir.join("s.jsonl");
    std::fs::write(&script, run(&["gen", "--seed", "2", "--steps", "100000"]).stdout).unwrap();
    let script = script.to_str().unwrap();
    for args in [
        &["gen", "--seed", "1", "--steps", "200000"][..],
        // Larger than a pipe's buffer, so the write really fails.
        &["spec", "--format", "json"][..],
        &["run", script, "-o", "-"][..],
    ] {
        let mut child = bin()
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        // Read one line, as `| head -1` would, then close the pipe.
        let mut stdout = child.stdout.take().unwrap();
        let mut first = [0u8; 64];
        std::io::Read::read_exact(&mut stdout, &mut first).unwrap();
        drop(stdout);
        let o = child.wait_with_output().unwrap();
        assert_eq!(code(&o), 0, "{args:?}: {}", text(&o.stderr));
        assert!(o.stderr.is_empty(), "{args:?} says: {}", text(&o.stderr));
    }
}

#[test]
fn explain_prints_a_rule_in_full_with_the_traces_that_exercise_it() {
    let o = run(&["explain", "MMAP-EACCES-2"]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 0, "{out}{}", text(&o.stderr));
    let rule = mmoracle::spec::rule("MMAP-EACCES-2").unwrap();
    for want in [
        format!("MMAP-EACCES-2: {}", rule.title),
        format!("written in:  spec/{}:{}", rule.file, rule.line),
        format!("condition:   {}", rule.condition),
        "outcome:     EACCES".to_string(),
        format!("profiles:    {}", rule.profiles),
        "alternative: none".to_string(),
        format!(
            "source:      {}",
            rule.source.replace("sources.md §", "spec/sources.md §")
        ),
        "traces under traces:".to_string(),
        "    traces/spec/mmap-args-neutrino.jsonl".to_string(),
    ] {
        assert!(out.contains(&want), "missing `{want}` in:\n{out}");
    }
    // `spec RULE-ID` is the same lookup, and case does not matter.
    let o = run(&["spec", "mmap-eacces-2"]);
    assert_eq!(code(&o), 0);
    assert_eq!(text(&o.stdout), out);
}

#[test]
fn an_unknown_rule_id_suggests_the_nearest() {
    let o = run(&["explain", "MMAP-EACESS-2", "--traces", "none"]);
    assert_eq!(code(&o), 2);
    let err = text(&o.stderr);
    assert!(
        err.contains("no rule `MMAP-EACESS-2` in spec/; the nearest: MMAP-EACCES-2 ("),
        "{err}"
    );
    let o = run(&["spec", "NOPE-1"]);
    assert_eq!(code(&o), 2);
    assert!(text(&o.stderr).contains("no rule `NOPE-1`"), "{}", text(&o.stderr));
}

#[test]
fn a_divergence_names_each_rule_with_its_title() {
    let o = run(&["check", "tutorial/five-calls.jsonl"]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1);
    let title = &mmoracle::spec::rule("ACCESS-SIGSEGV-2").unwrap().title;
    assert!(
        out.contains(&format!("allowed:  fault SIGSEGV [ACCESS-SIGSEGV-2] {title}")),
        "{out}"
    );
}

#[test]
fn max_findings_sets_how_many_findings_are_kept() {
    let dir = scratch("max-findings");
    let bad = "{\"call\":\"munmap\",\"addr\":\"$ARENA\",\"len\":4096,\"ret\":{\"err\":\"EINVAL\"}}\n";
    let path = dir.join("t.jsonl");
    std::fs::write(&path, format!("{HEADER}{}", bad.repeat(5))).unwrap();
    let p = path.to_str().unwrap();
    let o = run(&["check", p, "--max-findings", "2"]);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 1);
    assert_eq!(out.matches(": divergence:").count(), 2, "{out}");
    assert!(out.contains("... and 3 more findings (--max-findings 2"), "{out}");
    assert!(out.contains("5 divergences"), "{out}");
    let o = run(&["check", p, "--max-findings", "0", "--format", "json"]);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    assert_eq!(doc["files"][0]["findings_kept"], 0);
    assert_eq!(doc["files"][0]["divergences"], 5);
    let o = run(&["check", p, "--format", "junit"]);
    let xml = text(&o.stdout);
    assert_eq!(xml.matches("<failure type=\"MUNMAP-OK-1\"").count(), 5, "{xml}");
}

#[test]
fn colour_only_when_asked_or_on_a_terminal_without_no_color() {
    let tutorial = "tutorial/five-calls.jsonl";
    // A pipe is not a terminal: no colour by default.
    let plain = run(&["check", tutorial]);
    assert!(!text(&plain.stdout).contains('\x1b'), "{}", text(&plain.stdout));
    let always = run(&["check", tutorial, "--color", "always"]);
    let out = text(&always.stdout);
    assert!(out.contains("\x1b[1;31m: divergence:\x1b[0m"), "{out:?}");
    assert!(out.trim_end().ends_with("\x1b[1;31mdiverges\x1b[0m"), "{out:?}");
    let never = bin()
        .args(["check", tutorial, "--color", "never"])
        .env("NO_COLOR", "1")
        .output()
        .unwrap();
    assert_eq!(never.stdout, plain.stdout);
    assert_eq!(code(&run(&["check", tutorial, "--color", "sometimes"])), 2);
}

#[test]
fn help_lists_the_values_of_profile_and_format() {
    for cmd in ["run", "check"] {
        let help = text(&run(&[cmd, "--help"]).stdout);
        assert!(help.contains("[possible values: neutrino, qnx4, linux]"), "{help}");
        for value in ["- text:", "- json:", "- junit:", "--max-findings <N>", "--color <WHEN>"] {
            assert!(help.contains(value), "`{cmd} --help` lacks {value}:\n{help}");
        }
    }
    let spec = text(&run(&["spec", "--help"]).stdout);
    assert!(spec.contains("- json:") && !spec.contains("junit"), "{spec}");
    assert_eq!(code(&run(&["spec", "--format", "junit"])), 2);
    let gen = text(&run(&["gen", "--help"]).stdout);
    assert!(gen.contains("[possible values: neutrino, qnx4, linux]"), "{gen}");
}

/// Runs mmoracle with its standard error on a fresh pseudo-terminal (standard
/// output stays a pipe) and returns what the terminal received.
#[cfg(target_os = "linux")]
fn stderr_on_a_terminal(args: &[&str]) -> (i32, String) {
    use rustix::pty::{grantpt, openpt, ptsname, unlockpt, OpenptFlags};
    let master = openpt(OpenptFlags::RDWR | OpenptFlags::NOCTTY).expect("a pseudo-terminal");
    grantpt(&master).unwrap();
    unlockpt(&master).unwrap();
    let name = ptsname(&master, Vec::new()).unwrap();
    let slave = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(name.to_str().unwrap())
        .unwrap();
    let mut child = bin()
        .args(args)
        .env_remove("CI")
        .stdout(Stdio::piped())
        .stderr(slave)
        .spawn()
        .unwrap();
    // Read the terminal while the child writes, so it never blocks on a full buffer;
    // once the child is gone, reading the master ends with an error (EIO).
    let mut master = std::fs::File::from(master);
    let reader = std::thread::spawn(move || {
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while let Ok(n) = std::io::Read::read(&mut master, &mut buf) {
            if n == 0 {
                break;
            }
            seen.extend_from_slice(&buf[..n]);
        }
        seen
    });
    let status = child.wait().unwrap();
    (status.code().unwrap(), text(&reader.join().unwrap()))
}

#[cfg(target_os = "linux")]
#[test]
fn a_progress_bar_shows_on_a_terminal_only_for_runs_longer_than_a_second() {
    let dir = scratch("progress");
    // A run made long by its input, not by the machine's speed: the script
    // comes through a FIFO that pauses for 1.5 s halfway.
    let fifo = dir.join("slow.jsonl");
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let script = text(&run(&["gen", "--seed", "5", "--steps", "60000"]).stdout);
    let writer = {
        let fifo = fifo.clone();
        std::thread::spawn(move || {
            let mut f = std::fs::OpenOptions::new().write(true).open(&fifo).unwrap();
            let half = script.len() / 2;
            let cut = half + script[half..].find('\n').unwrap() + 1;
            f.write_all(&script.as_bytes()[..cut]).unwrap();
            f.flush().unwrap();
            std::thread::sleep(std::time::Duration::from_millis(1500));
            f.write_all(&script.as_bytes()[cut..]).unwrap();
        })
    };
    let (rc, terminal) = stderr_on_a_terminal(&["run", fifo.to_str().unwrap()]);
    writer.join().unwrap();
    assert_eq!(rc, 0);
    assert!(
        terminal.contains("/1 files"),
        "no progress bar on the terminal: {terminal:?}"
    );
    assert!(terminal.contains("events"), "{terminal:?}");
    // A short run draws nothing, and neither does a pipe (every other test).
    let (rc, terminal) = stderr_on_a_terminal(&["run", EXAMPLE]);
    assert_eq!(rc, 0);
    assert!(terminal.is_empty(), "a short run drew {terminal:?}");
}

#[test]
fn the_json_state_lists_the_regions_the_text_report_draws() {
    let o = run(&["check", "tutorial/five-calls.jsonl", "--format", "json"]);
    assert_eq!(code(&o), 1);
    let doc: serde_json::Value = serde_json::from_slice(&o.stdout).unwrap();
    let f = &doc["files"][0]["findings"][0];
    assert_eq!(f["line"], 11);
    assert_eq!(
        f["call"],
        serde_json::json!({"pid":1,"call":"store","addr":"0x10001000","data":"01"})
    );
    assert_eq!(f["written"], "store(addr=$a+4096=0x10001000, data=01)");
    assert_eq!(
        f["allowed"],
        serde_json::json!([{"outcome":{"fault":"SIGSEGV"},"rules":["ACCESS-SIGSEGV-2"]}])
    );
    let state = &f["state"];
    assert_eq!(state["regions_total"], 2);
    assert_eq!(
        state["regions"][0],
        serde_json::json!({"start":"0x10000000","end":"0x10001000","prot":"PROT_READ|PROT_WRITE",
            "shared":false,"locked":false,"backing":"anonymous","name":null,"offset":"0x0"})
    );
    assert_eq!(state["regions"][1]["prot"], "PROT_READ");
    assert_eq!(
        state["counters"],
        serde_json::json!({"total":8192,"data":8192,"locked":0})
    );
    assert_eq!(state["fds"], 0);
}
