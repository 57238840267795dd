//! Bad input: every kind is an error naming file, line and column, with what
//! was expected; none panics.

use super::util::{check, trace, HEADER};
use mmoracle::trace::{Bindings, Item, Reader};
use mmoracle::ProfileName;
use proptest::prelude::*;
use std::io::Cursor;

/// The error a trace produces: (line, column, message).
fn error_of(text: &str) -> (u64, u64, String) {
    let report = check(text);
    let e = report.error.unwrap_or_else(|| panic!("no error for {text:?}"));
    // "t.jsonl:LINE:COL: message"
    let mut parts = e.splitn(4, ':');
    assert_eq!(parts.next(), Some("t.jsonl"), "{e}");
    let line = parts.next().unwrap().parse().unwrap();
    let col = parts.next().unwrap().parse().unwrap();
    (line, col, parts.next().unwrap().trim().to_string())
}

fn assert_error(text: &str, line: u64, col: u64, words: &[&str]) {
    let (l, c, msg) = error_of(text);
    assert_eq!((l, c), (line, col), "{msg}");
    for w in words {
        assert!(msg.contains(w), "`{msg}` does not mention `{w}`");
    }
}

const MUNMAP: &str = r#"{"pid":1,"call":"munmap","addr":0,"len":4096,"ret":{"ok":0}}"#;

#[test]
fn malformed_json() {
    assert_error(
        &trace(&[MUNMAP, r#"{"pid":1,"call":"munmap",}"#]),
        3,
        26,
        &["malformed JSON"],
    );
    assert_error(&trace(&["[1,2]"]), 2, 1, &["JSON object"]);
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"addr":1,"len":1,"ret":{"ok":0}}"#]),
        2,
        40,
        &["duplicate key `addr`"],
    );
}

#[test]
fn unknown_call_or_field() {
    assert_error(
        &trace(&[r#"{"pid":1,"call":"mmapp","ret":{"ok":0}}"#]),
        2,
        17,
        &["unknown call `mmapp`", "mmap"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"len":4096,"bogus":1,"ret":{"ok":0}}"#]),
        2,
        54,
        &["unknown field `bogus`", "addr"],
    );
    assert_error(&trace(&[r#"{"pid":1,"addr":0}"#]), 2, 1, &["no \"call\""]);
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"ret":{"ok":0}}"#]),
        2,
        17,
        &["missing field `len`"],
    );
}

#[test]
fn wrong_types() {
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":"zz","len":4096,"ret":{"ok":0}}"#]),
        2,
        33,
        &["`addr`", "\"0x...\""],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"mprotect","addr":0,"len":1,"prot":"PROT_RED","ret":{"ok":0}}"#]),
        2,
        52,
        &["`prot`", "PROT_READ"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"cred","euid":"root","cap_ipc_lock":true,"ret":{"ok":0}}"#]),
        2,
        31,
        &["`euid`"],
    );
    // (uid_t)-1 is "unchanged" to setresuid, no id (found by the differential fuzzer).
    assert_error(
        &trace(&[r#"{"pid":1,"call":"cred","euid":4294967295,"cap_ipc_lock":true,"ret":{"ok":0}}"#]),
        2,
        31,
        &["`euid`", "(uid_t)-1"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"cred","euid":0,"cap_ipc_lock":true,"groups":[5,4294967295],"ret":{"ok":0}}"#]),
        2,
        62,
        &["`groups`", "(uid_t)-1"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"len":4096,"ret":{"ok":"0x5"}}"#]),
        2,
        52,
        &["`ret`", "expected 0"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"len":4096,"ret":{"err":"EWHAT"}}"#]),
        2,
        52,
        &["unknown errno"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"store","addr":0,"data":"abc","ret":{"ok":0}}"#]),
        2,
        41,
        &["`data`", "pairs"],
    );
    assert_error(
        &trace(&[r#"{"pid":"one","call":"munmap","addr":0,"len":1,"ret":{"ok":0}}"#]),
        2,
        8,
        &["logical pid"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"len":1,"bind":"x","ret":{"ok":0}}"#]),
        2,
        50,
        &["no address, fd, pid, handle or size"],
    );
}

#[test]
fn unbound_names_and_bad_expressions() {
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":"$a+4","len":4096,"ret":{"ok":0}}"#]),
        2,
        33,
        &["`$a` is not bound"],
    );
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":"$PAGE+","len":4096,"ret":{"ok":0}}"#]),
        2,
        33,
        &["expression"],
    );
    assert_error(
        &trace(&[r#"{"pid":"$child","call":"munmap","addr":0,"len":4096,"ret":{"ok":0}}"#]),
        2,
        8,
        &["`$child` is not bound"],
    );
}

#[test]
fn missing_header_or_future_version() {
    assert_error(&format!("{MUNMAP}\n"), 1, 1, &["missing header"]);
    assert_error("", 1, 1, &["empty trace"]);
    assert_error(
        "{\"format\":\"mmoracle-trace\",\"version\":2}\n",
        1,
        38,
        &["version 2 is newer", "reads version 1"],
    );
    assert_error("{\"format\":\"other\",\"version\":1}\n", 1, 11, &["mmoracle-trace"]);
    assert_error(
        "{\"format\":\"mmoracle-trace\",\"version\":1,\"profile\":\"qnx6\"}\n",
        1,
        50,
        &["unknown profile"],
    );
    assert_error(
        "{\"format\":\"mmoracle-trace\",\"version\":1,\"extra\":1}\n",
        1,
        48,
        &["unknown header field"],
    );
    assert_error(&trace(&[HEADER]), 2, 11, &["second header"]);
    for bad in ["0", "-1", "\"16G\"", "1.5"] {
        let text = format!("{{\"format\":\"mmoracle-trace\",\"version\":1,\"ram\":{bad}}}\n");
        assert_error(&text, 1, 46, &["header `ram`", "a number of bytes greater than 0"]);
    }
}

#[test]
fn a_script_is_not_a_trace() {
    assert_error(
        &trace(&[r#"{"pid":1,"call":"munmap","addr":0,"len":1}"#]),
        2,
        1,
        &["no \"ret\"", "run"],
    );
}

#[test]
fn a_huge_line_is_refused_without_reading_it_all() {
    // 64 MiB of one line: the reader stops at its 4 MiB bound.
    struct Endless(u64);
    impl std::io::Read for Endless {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = buf.len().min(self.0 as usize);
            buf[..n].fill(b'a');
            self.0 -= n as u64;
            Ok(n)
        }
    }
    let input = std::io::BufReader::new(std::io::Read::chain(
        Cursor::new(format!("{HEADER}\n")),
        Endless(64 << 20),
    ));
    let mut r = Reader::new(input, "t").unwrap();
    let e = r.next_item().unwrap_err().to_string();
    assert!(e.starts_with("t:2:4194305: line longer than 4 MiB"), "{e}");
}

#[test]
fn invalid_utf8_names_its_column() {
    let mut bytes = format!("{HEADER}\n{{\"pid\":1,").into_bytes();
    bytes.extend_from_slice(&[0xff, b'}', b'\n']);
    let mut r = Reader::new(Cursor::new(bytes), "t").unwrap();
    let e = r.next_item().unwrap_err().to_string();
    assert!(e.starts_with("t:2:10: invalid UTF-8"), "{e}");
}

/// Reads every event of `text`, resolving with whatever is bound; returns the
/// first error, never panics.
fn read_all(text: &[u8]) -> Result<usize, String> {
    let mut r = Reader::new(Cursor::new(text.to_vec()), "t").map_err(|e| e.to_string())?;
    let env = Bindings::new(ProfileName::Neutrino.profile());
    let mut n = 0;
    while let Some(item) = r.next_item().map_err(|e| e.to_string())? {
        if let Item::Event(raw) = item {
            r.resolve(&raw, &env).map_err(|e| e.to_string())?;
            n += 1;
        }
    }
    Ok(n)
}

const VALID: &str = r#"{"pid":1,"call":"mmap","addr":"$ARENA+0x1000","len":4096,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"ret":{"ok":"0x40001000"},"expect":{"any_of":[{"ok":"*"},{"err":"ENOMEM"}]}}"#;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    /// Arbitrary bytes after a header: an error or events, never a panic.
    #[test]
    fn arbitrary_bytes_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
        let mut text = format!("{HEADER}\n").into_bytes();
        text.extend(body);
        let _ = read_all(&text);
    }

    /// A valid event with a few bytes changed: an error or an event, never a panic.
    #[test]
    fn damaged_events_never_panic(edits in proptest::collection::vec((0usize..VALID.len(), any::<u8>()), 1..4)) {
        let mut line = VALID.as_bytes().to_vec();
        for (at, b) in edits {
            line[at] = b;
        }
        let mut text = format!("{HEADER}\n").into_bytes();
        text.extend(line);
        let _ = read_all(&text);
    }

    /// Arbitrary JSON-ish values in every argument position: never a panic.
    #[test]
    fn wrong_values_never_panic(v in prop_oneof![
        Just("null".to_string()), Just("true".to_string()), Just("[]".to_string()), Just("{}".to_string()),
        Just("-1".to_string()), Just("1e300".to_string()), Just("18446744073709551616".to_string()),
        Just("\"$\"".to_string()), Just("\"$a*$a\"".to_string()), Just("\"0x\"".to_string()),
        Just("\"0xfffffffffffffffff\"".to_string()), Just("\"|\"".to_string()), Just("\"RLIM_INFINITY\"".to_string()),
        any::<i64>().prop_map(|n| n.to_string()), "\"[ -~]{0,12}\"",
    ], field in 0usize..8) {
        let keys = ["pid", "addr", "len", "prot", "flags", "fd", "off", "ret"];
        let mut line = serde_json::from_str::<serde_json::Value>(VALID).unwrap();
        line[keys[field]] = serde_json::from_str(&v).unwrap_or(serde_json::Value::Null);
        let text = format!("{HEADER}\n{line}\n");
        let _ = read_all(text.as_bytes());
    }
}

#[test]
fn the_valid_line_reads() {
    assert_eq!(read_all(format!("{HEADER}\n{VALID}\n").as_bytes()), Ok(1));
}

#[test]
fn keys_repeat_nowhere_not_even_in_nested_objects() {
    // The error points at the repeated key (its closing quote).
    let dup = |line: &str, key: &str| {
        let col = line.rfind(&format!("\"{key}\"")).unwrap() + key.len() + 2;
        assert_error(&trace(&[line]), 2, col as u64, &[&format!("duplicate key `{key}`")]);
    };
    dup(r#"{"call":"munmap","addr":0,"len":1,"ret":{"ok":0,"ok":1}}"#, "ok");
    dup(
        r#"{"call":"munmap","addr":0,"len":1,"ret":{"err":"EINVAL","err":"EPERM"}}"#,
        "err",
    );
    dup(r#"{"call":"munmap","addr":0,"len":1,"expect":{"ok":0,"ok":0}}"#, "ok");
    dup(
        r#"{"call":"munmap","addr":0,"len":1,"expect":{"any_of":[{"ok":0},{"err":"EINVAL","err":"EPERM"}]}}"#,
        "err",
    );
    dup(
        r#"{"call":"getrlimit","resource":"RLIMIT_AS","ret":{"ok":{"cur":1,"max":2,"cur":3}}}"#,
        "cur",
    );
    dup(
        r#"{"call":"getrlimit","resource":"RLIMIT_AS","expect":{"any_of":[{"ok":0}],"any_of":[]}}"#,
        "any_of",
    );
}

#[test]
fn integers_out_of_range_are_named_as_integers() {
    assert_error(
        &trace(&[r#"{"call":"munmap","addr":0,"len":4096000000000000000000,"ret":{"ok":0}}"#]),
        2,
        33,
        &["4096000000000000000000 is larger than 2^64-1"],
    );
    assert_error(
        &trace(&[r#"{"call":"ftruncate","fd":3,"len":-99999999999999999999,"ret":{"ok":0}}"#]),
        2,
        34,
        &["-99999999999999999999 is smaller than -2^63"],
    );
    assert_error(
        &trace(&[r#"{"call":"munmap","addr":0,"len":1,"ret":{"ok":18446744073709551616}}"#]),
        2,
        47,
        &["18446744073709551616 is larger than 2^64-1"],
    );
    // -0 is the integer 0.
    let ok = trace(&[r#"{"call":"munmap","addr":-0,"len":4096,"ret":{"err":"EINVAL"}}"#]);
    let report = check(&ok);
    assert_eq!(report.error, None);
    assert!(report.passed(), "{report:?}");
}

#[test]
fn a_byte_order_mark_is_named() {
    let text = format!("\u{feff}{}", trace(&[MUNMAP]));
    assert_error(&text, 1, 1, &["byte order mark"]);
}

#[test]
fn bad_byte_runs_name_their_line_and_say_what_a_run_is() {
    // trace-format.md §5.1: a byte run is {"repeat": hex pairs, "len": a
    // multiple of the pattern, at most 1 MiB}; anything else is bad input.
    let store =
        |data: &str| format!(r#"{{"pid":1,"call":"store","addr":"0x10000000","data":{data},"ret":{{"ok":0}}}}"#);
    for (data, words) in [
        (r#"{"repeat":"ab","len":2097152}"#, &["largest access"][..]),
        (r#"{"repeat":"abcd","len":3}"#, &["multiple"][..]),
        (r#"{"repeat":"","len":4}"#, &["at least one byte"][..]),
        (r#"{"repeat":"zz","len":4}"#, &["hex"][..]),
        (r#"{"repeat":"ab","len":4,"x":1}"#, &["`x`"][..]),
        (r#"{"repeat":"ab"}"#, &["len"][..]),
    ] {
        let (line, _, msg) = error_of(&trace(&[&store(data)]));
        assert_eq!(line, 2, "{msg}");
        for w in words {
            assert!(msg.contains(w), "{data}: `{msg}` does not mention `{w}`");
        }
    }
    let load = |ret: &str| format!(r#"{{"pid":1,"call":"load","addr":"0x10000000","len":4,"ret":{{"ok":{ret}}}}}"#);
    let (line, _, msg) = error_of(&trace(&[&load(r#"{"repeat":"ab","len":2097152}"#)]));
    assert_eq!(line, 2, "{msg}");
    assert!(msg.contains("largest access"), "{msg}");
}
