//! Inputs and outputs under careless and hostile use: `run -o` never destroys
//! an input, a failed run leaves no trace behind, and directory walks end,
//! read each file once and never block.

use super::{code, scratch, text, EXAMPLE};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Runs the binary in `dir`, killing it (and failing) if it takes longer
/// than ten seconds: a walk that loops must fail the test, not hang it.
fn run_in(dir: &Path, args: &[&str]) -> Output {
    run_as(dir, args, None)
}

fn run_as(dir: &Path, args: &[&str], wrapper: Option<&[&str]>) -> Output {
    let mut cmd = match wrapper {
        Some(w) => {
            let mut c = Command::new(w[0]);
            c.args(&w[1..]).arg(env!("CARGO_BIN_EXE_mmoracle"));
            c
        }
        None => Command::new(env!("CARGO_BIN_EXE_mmoracle")),
    };
    let mut child = cmd
        .args(args)
        .current_dir(dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while child.try_wait().unwrap().is_none() {
        if Instant::now() > deadline {
            child.kill().unwrap();
            panic!("mmoracle {args:?} in {} did not finish in 10 s", dir.display());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

fn example() -> Vec<u8> {
    std::fs::read(Path::new(env!("CARGO_MANIFEST_DIR")).join(EXAMPLE)).unwrap()
}

/// A scratch directory holding `s.jsonl`, a copy of the example script.
fn with_script(name: &str) -> PathBuf {
    let dir = scratch(name);
    std::fs::write(dir.join("s.jsonl"), example()).unwrap();
    dir
}

/// Every file under `dir`, recursively, with its contents.
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            let meta = std::fs::symlink_metadata(&p).unwrap();
            if meta.is_dir() {
                stack.push(p);
            } else if meta.is_file() {
                out.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    out.sort();
    out
}

#[test]
fn run_refuses_an_output_that_is_the_same_file_as_its_input() {
    let dir = with_script("same-file");
    std::os::unix::fs::symlink("s.jsonl", dir.join("link.jsonl")).unwrap();
    std::fs::hard_link(dir.join("s.jsonl"), dir.join("hard.jsonl")).unwrap();
    std::fs::create_dir(dir.join("x")).unwrap();
    for output in ["s.jsonl", "link.jsonl", "hard.jsonl", "./x/../s.jsonl"] {
        let o = run_in(&dir, &["run", "s.jsonl", "-o", output]);
        let err = text(&o.stderr);
        assert_eq!(code(&o), 2, "-o {output}: {err}");
        assert!(
            err.contains(output) && err.contains("the input s.jsonl"),
            "-o {output}: the message names both paths: {err}"
        );
        assert_eq!(std::fs::read(dir.join("s.jsonl")).unwrap(), example(), "-o {output}");
    }
}

#[test]
fn run_of_a_directory_into_itself_writes_nothing() {
    let dir = scratch("into-itself");
    let suite = dir.join("traces/spec");
    std::fs::create_dir_all(&suite).unwrap();
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/spec");
    for name in ["trace-format-example.jsonl", "mmap-placement-neutrino.jsonl"] {
        if let Ok(bytes) = std::fs::read(shipped.join(name)) {
            std::fs::write(suite.join(name), bytes).unwrap();
        }
    }
    std::fs::write(suite.join("s.jsonl"), example()).unwrap();
    let before = snapshot(&dir);
    let o = run_in(&dir, &["run", "traces/spec", "-o", "."]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(text(&o.stderr).contains("refusing to overwrite an input"));
    assert_eq!(snapshot(&dir), before, "nothing was written or truncated");
}

#[test]
fn two_inputs_that_would_share_an_output_are_refused_before_writing() {
    let dir = scratch("shared-output");
    for base in [dir.join("p/a"), dir.join("q/p/a")] {
        std::fs::create_dir_all(&base).unwrap();
        std::fs::write(base.join("x.jsonl"), example()).unwrap();
    }
    let q = dir.join("q");
    let o = run_in(&q, &["run", "p/a/x.jsonl", "../p/a/x.jsonl", "-o", "out"]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("would both be written to"),
        "{}",
        text(&o.stderr)
    );
    assert!(!q.join("out").exists(), "nothing is written");
}

#[test]
fn a_run_that_stops_on_bad_input_leaves_no_trace_behind() {
    let dir = scratch("partial");
    let mut script = example();
    script.extend_from_slice(b"{\"call\":\"mmap\",\"len\":\n");
    std::fs::write(dir.join("bad.jsonl"), &script).unwrap();
    std::fs::write(dir.join("out.jsonl"), b"an older trace\n").unwrap();
    let o = run_in(&dir, &["run", "bad.jsonl", "-o", "out.jsonl"]);
    assert_eq!(code(&o), 2, "{}", text(&o.stderr));
    assert_eq!(
        std::fs::read(dir.join("out.jsonl")).unwrap(),
        b"an older trace\n",
        "the old output is untouched"
    );
    let o = run_in(&dir, &["run", "bad.jsonl", "-o", "fresh.jsonl"]);
    assert_eq!(code(&o), 2);
    let names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert!(
        !names.iter().any(|n| n == "fresh.jsonl" || n.ends_with(".tmp")),
        "{names:?}"
    );
    // A good run replaces the old output, through the rename.
    std::fs::write(dir.join("good.jsonl"), example()).unwrap();
    let o = run_in(&dir, &["run", "good.jsonl", "-o", "out.jsonl"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let out = text(&std::fs::read(dir.join("out.jsonl")).unwrap());
    assert!(out.contains("\"ret\""), "{out}");
}

#[test]
fn a_walk_through_symlink_loops_ends_and_reads_each_file_once() {
    let dir = scratch("loops");
    let l = dir.join("L");
    std::fs::create_dir_all(l.join("sub")).unwrap();
    std::fs::write(l.join("a.jsonl"), example()).unwrap();
    std::os::unix::fs::symlink("../L", l.join("self")).unwrap();
    std::os::unix::fs::symlink("..", l.join("sub/up")).unwrap();
    std::os::unix::fs::symlink(".", l.join("dot")).unwrap();
    let o = run_in(&dir, &["run", "L"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("1 files (1 passed)"), "{}", text(&o.stdout));
    let o = run_in(&dir, &["spec", "--coverage", "L"]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    assert!(text(&o.stdout).contains("by 1 traces"), "{}", text(&o.stdout));
    let o = run_in(&dir, &["check", "L"]);
    assert_eq!(code(&o), 2, "a script is bad input to check");
    assert!(text(&o.stdout).contains("1 files"), "{}", text(&o.stdout));
}

#[test]
fn a_fifo_inside_a_directory_is_skipped_not_opened() {
    let dir = scratch("fifo");
    std::fs::write(dir.join("a.jsonl"), example()).unwrap();
    let status = Command::new("mkfifo").arg(dir.join("pipe.jsonl")).status().unwrap();
    assert!(status.success(), "mkfifo");
    let o = run_in(&dir, &["run", "."]);
    assert_eq!(code(&o), 0, "{}", text(&o.stderr));
    let err = text(&o.stderr);
    assert!(err.contains("skipped ./pipe.jsonl: a FIFO"), "{err}");
    assert!(text(&o.stdout).contains("1 files (1 passed)"));
}

/// Whether this process runs as root (read from /proc, no unsafe needed).
fn is_root() -> bool {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    status
        .lines()
        .find(|l| l.starts_with("Uid:"))
        .and_then(|l| l.split_whitespace().nth(2))
        == Some("0")
}

#[test]
fn an_unreadable_subdirectory_is_reported_and_the_walk_goes_on() {
    // Under /tmp, which every user may enter, since the binary may run as nobody.
    let temp = tempfile::tempdir().unwrap();
    let dir = temp.path().to_path_buf();
    std::fs::create_dir_all(dir.join("U/locked")).unwrap();
    std::fs::write(dir.join("U/ok.jsonl"), example()).unwrap();
    std::fs::write(dir.join("U/locked/x.jsonl"), example()).unwrap();
    use std::os::unix::fs::PermissionsExt;
    let perms = |p: &Path, mode| std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode)).unwrap();
    perms(&dir.join("U/locked"), 0o000);
    perms(&dir, 0o755);
    perms(&dir.join("U"), 0o755);
    perms(&dir.join("U/ok.jsonl"), 0o644);
    let nobody = ["setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"];
    // Root reads any directory, so as root the binary runs as nobody.
    let o = run_as(&dir, &["run", "U"], is_root().then_some(&nobody[..]));
    perms(&dir.join("U/locked"), 0o755);
    let out = text(&o.stdout);
    assert_eq!(code(&o), 2, "{out}{}", text(&o.stderr));
    assert!(out.contains("U/locked: permission denied"), "{out}");
    assert!(out.contains("2 files (1 passed)"), "the walk went on: {out}");
}
