//! Many files on every core: the same output in the same order whatever
//! `--jobs`, and `--partition K/N` shares that together judge each file once.

use super::{code, run, text};
use std::collections::BTreeSet;

#[test]
fn output_is_the_same_whatever_the_number_of_jobs() {
    let one = run(&["check", "traces/spec", "--jobs", "1"]);
    let four = run(&["check", "traces/spec", "--jobs", "4"]);
    assert_eq!(code(&one), code(&four));
    assert_eq!(text(&one.stdout), text(&four.stdout));
    let one = run(&["run", "traces/spec", "--jobs", "1", "--format", "json"]);
    let four = run(&["run", "traces/spec", "--jobs", "4", "--format", "json"]);
    assert_eq!(code(&one), 0);
    assert_eq!(text(&one.stdout), text(&four.stdout));
}

/// The names of the test cases of a JUnit report.
fn cases(xml: &str) -> Vec<String> {
    xml.split("<testcase")
        .skip(1)
        .filter_map(|c| c.split("name=\"").nth(1)?.split('"').next().map(str::to_string))
        .collect()
}

#[test]
fn partitions_judge_every_file_exactly_once() {
    let all = cases(&text(&run(&["run", "traces/spec", "--format", "junit"]).stdout));
    assert!(all.len() > 10, "{all:?}");
    let mut seen = Vec::new();
    for k in 1..=3 {
        let part = format!("{k}/3");
        let o = run(&["run", "traces/spec", "--format", "junit", "--partition", &part]);
        assert_eq!(code(&o), 0, "{}", text(&o.stderr));
        let mine = cases(&text(&o.stdout));
        assert!(!mine.is_empty(), "partition {part} is empty");
        seen.extend(mine);
    }
    assert_eq!(seen.len(), all.len(), "no file twice");
    assert_eq!(
        seen.into_iter().collect::<BTreeSet<_>>(),
        all.into_iter().collect::<BTreeSet<_>>()
    );
    let o = run(&["check", "traces/spec", "--partition", "4/3"]);
    assert_eq!(code(&o), 2, "a bad partition is a usage error");
}
