//! Every command line shown in README.md and in every `--help` runs, on a
//! copy of what a fresh clone holds, and behaves as shown: the exit status it
//! promises, no usage or input error, and for the README's marked outputs
//! exactly the text printed there.

use super::{bin, code, text};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

/// Lines of the README's `sh` blocks that are not mmoracle examples: they build,
/// test or benchmark the crate and are not re-run from inside its tests.
const NOT_RUN: [&str; 4] = ["cargo build ", "cargo test ", "cargo bench ", "cargo install "];

fn root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch directory holding what a fresh clone has that examples read.
fn fresh_clone(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join(name);
    let _ = std::fs::remove_dir_all(&dir);
    for sub in ["traces", "tutorial", "spec"] {
        copy_tree(&root().join(sub), &dir.join(sub));
    }
    dir
}

fn copy_tree(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for entry in std::fs::read_dir(from).unwrap() {
        let path = entry.unwrap().path();
        let target = to.join(path.file_name().unwrap());
        if path.is_dir() {
            copy_tree(&path, &target);
        } else {
            std::fs::copy(&path, &target).unwrap();
        }
    }
}

/// The exit status an example promises: 1 where it judges the tutorial's
/// wrong trace (the README says "exit 1"; the help says "one result is wrong"),
/// else 0.
fn promised_exit(line: &str) -> i32 {
    let wrong = line.contains("five-calls.jsonl") || line.contains("check tutorial ");
    if wrong || line.contains("exit 1") {
        1
    } else {
        0
    }
}

/// Runs `line` with `sh` in `dir`, with this build's mmoracle first on PATH.
fn shell(dir: &Path, line: &str) -> std::process::Output {
    let bin_dir = Path::new(env!("CARGO_BIN_EXE_mmoracle")).parent().unwrap();
    let path = format!("{}:{}", bin_dir.display(), std::env::var("PATH").unwrap_or_default());
    Command::new("sh")
        .arg("-c")
        .arg(line)
        .current_dir(dir)
        .env("PATH", path)
        .env_remove("NO_COLOR")
        .output()
        .unwrap()
}

fn run_example(dir: &Path, origin: &str, line: &str) {
    let o = shell(dir, line);
    let stderr = text(&o.stderr);
    assert_eq!(
        code(&o),
        promised_exit(line),
        "{origin}: `{line}` exited {}:\n{}{stderr}",
        code(&o),
        text(&o.stdout)
    );
    assert!(!stderr.contains("mmoracle:"), "{origin}: `{line}` says: {stderr}");
}

/// The example command lines of a `--help` text: the lines under
/// "Examples" that start with `mmoracle`, without their descriptions.
fn help_examples(help: &str) -> Vec<String> {
    help.lines()
        .skip_while(|l| !l.starts_with("Examples"))
        .map(str::trim)
        .filter(|l| l.starts_with("mmoracle "))
        .map(|l| l.split("   ").next().unwrap().trim().to_string())
        .collect()
}

#[test]
fn every_help_example_runs_on_a_fresh_clone() {
    let dir = fresh_clone("help-examples");
    let mut seen = BTreeSet::new();
    for cmd in ["", "run", "check", "gen", "spec", "explain"] {
        let args: Vec<&str> = if cmd.is_empty() {
            vec!["--help"]
        } else {
            vec![cmd, "--help"]
        };
        let o = bin().args(&args).output().unwrap();
        let help = text(&o.stdout);
        let examples = help_examples(&help);
        assert!(!examples.is_empty(), "`{cmd} --help` has no examples:\n{help}");
        for line in examples {
            if seen.insert(line.clone()) {
                run_example(&dir, &format!("`{cmd} --help`"), &line);
            }
        }
    }
}

/// The README's fenced blocks: (info string, the comment line before the block, lines).
fn readme_blocks() -> Vec<(String, String, Vec<String>)> {
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    let mut blocks = Vec::new();
    let mut lines = readme.lines().peekable();
    let mut before = String::new();
    while let Some(line) = lines.next() {
        if let Some(info) = line.strip_prefix("```") {
            let body: Vec<String> = lines
                .by_ref()
                .take_while(|l| !l.starts_with("```"))
                .map(String::from)
                .collect();
            blocks.push((info.to_string(), std::mem::take(&mut before), body));
        } else if !line.trim().is_empty() {
            before = line.to_string();
        }
    }
    blocks
}

#[test]
fn every_readme_example_runs_and_every_shown_output_is_real() {
    let dir = fresh_clone("readme-examples");
    let mut ran = 0;
    let mut shown = 0;
    for (info, before, body) in readme_blocks() {
        if info == "sh" {
            for line in body.iter().map(|l| l.trim()).filter(|l| !l.is_empty()) {
                if NOT_RUN.iter().any(|skip| line.starts_with(skip)) {
                    continue;
                }
                assert!(
                    line.starts_with("mmoracle "),
                    "README: `{line}` is neither an mmoracle example nor a build command this test knows"
                );
                run_example(&dir, "README.md", line);
                ran += 1;
            }
        } else if let Some(command) = before
            .strip_prefix("<!-- output of: ")
            .and_then(|c| c.strip_suffix(" -->"))
        {
            let o = shell(&dir, command);
            assert_eq!(
                text(&o.stdout).trim_end(),
                body.join("\n"),
                "README shows an output of `{command}` that it does not print"
            );
            shown += 1;
        } else if let Some(file) = before.strip_prefix("<!-- file: ").and_then(|c| c.strip_suffix(" -->")) {
            let actual = std::fs::read_to_string(root().join(file)).unwrap();
            assert_eq!(actual.trim_end(), body.join("\n"), "README shows {file} as it is not");
            shown += 1;
        }
    }
    assert!(
        ran >= 10 && shown >= 3,
        "the README has {ran} examples and {shown} shown outputs"
    );
    let readme = std::fs::read_to_string(root().join("README.md")).unwrap();
    assert!(
        readme.contains("(spec/trace-format.md)"),
        "the README links the trace format"
    );
}
