//! Every call whose result the implementation chooses (an fd, a pid, an
//! address without MAP_FIXED, a memobj handle), library calls included, has
//! a different free value adopted: the call is allowed and later calls see
//! the value the implementation chose. The list of such calls is read from
//! spec/trace-format.md §4, so a new one cannot be forgotten here.

use super::util::{check, header, trace};
use mmoracle::oracle::report::{file_text, FindingKind};
use std::collections::BTreeSet;

const SHM: &str = r#"{"call":"shm_open","name":"/fc","oflag":"O_RDWR|O_CREAT","mode":384,"bind":"s","ret":{"ok":3}}"#;
const SIZE: &str = r#"{"call":"ftruncate","fd":"$s","len":8192,"ret":{"ok":0}}"#;

/// For each call: the events before it, the call with a result the model
/// would not choose, and an event that only succeeds if that result was
/// adopted.
fn scenario(call: &str) -> Vec<String> {
    let anon = r#""len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0"#;
    let lines: Vec<String> = match call {
        "spawn" => vec![
            r#"{"call":"spawn","ret":{"ok":9}}"#.into(),
            r#"{"pid":9,"call":"getrlimit","resource":"RLIMIT_AS","ret":{"ok":{"cur":"RLIM_INFINITY","max":"RLIM_INFINITY"}}}"#.into(),
        ],
        "mmap" => vec![
            format!(r#"{{"call":"mmap","addr":0,{anon},"ret":{{"ok":"0x48000000"}}}}"#),
            r#"{"call":"store","addr":"0x48001000","data":"ab","ret":{"ok":0}}"#.into(),
        ],
        "mmap_peer" => vec![
            r#"{"call":"spawn","bind":"p","ret":{"ok":2}}"#.into(),
            format!(r#"{{"call":"mmap_peer","target":"$p","addr":0,{anon},"ret":{{"ok":"0x48000000"}}}}"#),
            r#"{"pid":"$p","call":"store","addr":"0x48001000","data":"ab","ret":{"ok":0}}"#.into(),
        ],
        "shm_open" => vec![
            r#"{"call":"shm_open","name":"/fc","oflag":"O_RDWR|O_CREAT","mode":384,"ret":{"ok":7}}"#.into(),
            r#"{"call":"ftruncate","fd":7,"len":4096,"ret":{"ok":0}}"#.into(),
        ],
        "open" => vec![
            r#"{"call":"open","path":"/dev/zero","oflag":"O_RDWR","ret":{"ok":7}}"#.into(),
            r#"{"call":"close","fd":7,"ret":{"ok":0}}"#.into(),
        ],
        "dup" => vec![
            SHM.into(),
            r#"{"call":"dup","fd":"$s","ret":{"ok":7}}"#.into(),
            r#"{"call":"close","fd":7,"ret":{"ok":0}}"#.into(),
        ],
        "memobj_create" => vec![
            r#"{"call":"memobj_create","nbytes":8192,"ret":{"ok":77}}"#.into(),
            r#"{"call":"memobj_close","obj":77,"ret":{"ok":0}}"#.into(),
        ],
        "memobj_wrap" => vec![
            SHM.into(),
            SIZE.into(),
            r#"{"call":"memobj_wrap","fd":"$s","ret":{"ok":77}}"#.into(),
            r#"{"call":"memobj_close","obj":77,"ret":{"ok":0}}"#.into(),
        ],
        "memobj_share" => vec![
            r#"{"call":"memobj_create","nbytes":8192,"bind":"h","ret":{"ok":1}}"#.into(),
            r#"{"call":"memobj_share","obj":"$h","ret":{"ok":77}}"#.into(),
            r#"{"call":"memobj_close","obj":77,"ret":{"ok":0}}"#.into(),
        ],
        "memobj_map" => vec![
            r#"{"call":"memobj_create","nbytes":8192,"bind":"h","ret":{"ok":1}}"#.into(),
            r#"{"call":"memobj_map","obj":"$h","prot":"PROT_READ|PROT_WRITE","ret":{"ok":"0x48000000"}}"#.into(),
            r#"{"call":"store","addr":"0x48001000","data":"ab","ret":{"ok":0}}"#.into(),
        ],
        "gamma_shm_open" => vec![
            r#"{"call":"gamma_shm_open","name":"/fc","oflag":"O_RDWR|O_CREAT","mode":384,"size":4096,"ret":{"ok":7}}"#.into(),
            r#"{"call":"close","fd":7,"ret":{"ok":0}}"#.into(),
        ],
        "fork" => vec![
            SHM.into(),
            r#"{"call":"fork","ret":{"ok":9}}"#.into(),
            r#"{"pid":9,"call":"close","fd":"$s","ret":{"ok":0}}"#.into(),
        ],
        "pipe" => vec![
            r#"{"call":"pipe","bind":["r","w"],"ret":{"ok":[7,5]}}"#.into(),
            r#"{"call":"close","fd":"$r","ret":{"ok":0}}"#.into(),
            r#"{"call":"close","fd":5,"ret":{"ok":0}}"#.into(),
        ],
        // linux: where an empty heap lies is the kernel's choice; growing it
        // from there succeeds only if that was adopted.
        "brk" => vec![
            r#"{"call":"brk","addr":0,"ret":{"ok":"0x560000000000"}}"#.into(),
            r#"{"call":"brk","addr":"0x560000001000","ret":{"ok":"0x560000001000"}}"#.into(),
            r#"{"call":"store","addr":"0x560000000ff0","data":"ab","ret":{"ok":0}}"#.into(),
        ],
        // linux: a mapping that may move goes where the kernel puts it.
        "mremap" => vec![
            r#"{"call":"mmap","addr":"0x200000000000","len":4096,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"ret":{"ok":"0x200000000000"}}"#.into(),
            r#"{"call":"mmap","addr":"0x200000001000","len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"ret":{"ok":"0x200000001000"}}"#.into(),
            r#"{"call":"mremap","old_addr":"0x200000000000","old_len":4096,"new_len":8192,"flags":"MREMAP_MAYMOVE","ret":{"ok":"0x300000000000"}}"#.into(),
            r#"{"call":"store","addr":"0x300000001000","data":"ab","ret":{"ok":0}}"#.into(),
        ],
        other => panic!("no scenario for `{other}`, whose result is a free choice: add one"),
    };
    lines
}

/// The calls of §4 whose result is an fd, a pid, an address or a handle.
fn free_choice_calls() -> BTreeSet<String> {
    let spec = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/spec/trace-format.md")).unwrap();
    let section = spec
        .split("## 4. Calls")
        .nth(1)
        .unwrap()
        .split("\n## 5.")
        .next()
        .unwrap();
    section
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let (name, result) = (cells.get(1)?, cells.get(3)?);
            let chosen = ["a pid", "an fd", "an address", "a handle"]
                .iter()
                .any(|k| result.starts_with(k));
            (chosen && name.starts_with('`')).then(|| name.trim_matches('`').to_string())
        })
        .collect()
}

#[test]
fn every_free_choice_of_every_call_is_adopted() {
    let calls = free_choice_calls();
    assert!(calls.len() >= 10, "the §4 table was not read: {calls:?}");
    for call in &calls {
        let lines = scenario(call);
        let mut text = trace(&lines.iter().map(String::as_str).collect::<Vec<_>>());
        if call == "brk" || call == "mremap" {
            // Only linux has brk's break and mremap.
            text = text.replacen(&header("neutrino"), &header("linux"), 1);
        }
        let report = check(&text);
        assert!(
            report.passed(),
            "`{call}` with a different free result is not adopted:\n{text}\n{}",
            file_text(&report)
        );
    }
}

#[test]
fn a_map_fixed_result_is_not_a_free_choice() {
    let text = trace(&[
        r#"{"call":"mmap","addr":"$ARENA","len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"ret":{"ok":"0x48000000"}}"#,
    ]);
    let report = check(&text);
    assert_eq!(report.findings.len(), 1, "{}", file_text(&report));
    let FindingKind::Divergence(d) = &report.findings[0].kind else {
        panic!("a divergence")
    };
    assert!(!d.free_choice, "MAP_FIXED places the mapping exactly at addr");
    assert!(!file_text(&report).contains("free choice"), "{}", file_text(&report));
}
