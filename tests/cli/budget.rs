//! Memory contents are bounded: a trace that stores more than the budget
//! stops with exit 2 and a message naming the line, never an abort.

use super::{code, scratch, text};
use std::process::Command;

fn script(pages: usize) -> String {
    let mut s = String::from("{\"format\":\"mmoracle-trace\",\"version\":1,\"profile\":\"neutrino\"}\n");
    s.push_str(r#"{"call":"mmap","addr":0,"len":"0x100000000","prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON|MAP_LAZY","fd":-1,"off":0,"bind":"a"}"#);
    s.push('\n');
    for i in 0..pages {
        s.push_str(&format!(
            "{{\"call\":\"store\",\"addr\":\"$a+{}\",\"data\":\"01\"}}\n",
            i * 16384
        ));
    }
    s
}

#[test]
fn a_trace_that_stores_more_than_the_budget_stops_with_exit_2() {
    let dir = scratch("budget");
    let path = dir.join("many-pages.jsonl");
    // 1,024 pages: 4 MiB of contents.
    std::fs::write(&path, script(1024)).unwrap();
    let bin = env!("CARGO_BIN_EXE_mmoracle");
    let o = Command::new(bin)
        .args(["run", path.to_str().unwrap(), "--max-contents", "1"])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert_eq!(code(&o), 2, "{out}{}", text(&o.stderr));
    // 256 pages fill 1 MiB; the 257th store (line 259) goes over.
    assert!(out.contains("many-pages.jsonl:259:"), "{out}");
    assert!(
        out.contains("memory contents over budget") && out.contains("--max-contents"),
        "{out}"
    );
    let o = Command::new(bin)
        .args(["run", path.to_str().unwrap(), "--max-contents", "8"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
    let o = Command::new(bin)
        .args([
            "run",
            path.to_str().unwrap(),
            "-o",
            dir.join("t.jsonl").to_str().unwrap(),
        ])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0);
    let o = Command::new(bin)
        .args(["check", dir.join("t.jsonl").to_str().unwrap(), "--max-contents", "1"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 2, "check keeps the budget too: {}", text(&o.stdout));
}

/// PROC-FORK-1: a fork copies the caller's private pages, and the copies
/// count against the budget like any other: 200 pages (800 KiB) fit in
/// 1 MiB, their copy does not, and the fork's line is the one named.
#[test]
fn the_private_pages_a_fork_copies_count_against_the_budget() {
    let dir = scratch("budget-fork");
    let path = dir.join("fork.jsonl");
    let mut s = script(200);
    s.push_str("{\"call\":\"fork\"}\n");
    std::fs::write(&path, s).unwrap();
    let bin = env!("CARGO_BIN_EXE_mmoracle");
    let o = Command::new(bin)
        .args(["run", path.to_str().unwrap(), "--max-contents", "1"])
        .output()
        .unwrap();
    let out = text(&o.stdout);
    assert_eq!(code(&o), 2, "{out}{}", text(&o.stderr));
    assert!(
        out.contains("fork.jsonl:203:") && out.contains("memory contents over budget"),
        "{out}"
    );
    let o = Command::new(bin)
        .args(["run", path.to_str().unwrap(), "--max-contents", "2"])
        .output()
        .unwrap();
    assert_eq!(code(&o), 0, "{}", text(&o.stdout));
}
