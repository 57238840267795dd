//! Judging single events and whole traces.

use super::util::{check, check_strict, divergent_lines, header, judge_with, trace};
use mmoracle::oracle::report::{file_text, FindingKind};
use mmoracle::oracle::run::{Backend, Mode};
use mmoracle::oracle::{Judgement, Oracle};
use mmoracle::types::*;
use mmoracle::{Call, Outcome, ProfileName, Value};

const ANON_2P: &str =
    r#""call":"mmap","addr":0,"len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0"#;

fn ev(body: &str, ret: &str) -> String {
    format!(r#"{{"pid":1,{body},"ret":{ret}}}"#)
}

#[test]
fn the_deterministic_outcome_is_allowed() {
    let r = check(&trace(&[&ev(ANON_2P, r#"{"ok":"0x10000000"}"#)]));
    assert!(r.passed(), "{}", file_text(&r));
}

#[test]
fn another_failing_rule_is_allowed_unless_strict() {
    // len 0 (EINVAL, first in procnto's order) and a bad fd (EBADF) at once.
    let both = r#""call":"mmap","addr":0,"len":0,"prot":"PROT_READ","flags":"MAP_SHARED","fd":7,"off":0"#;
    let t = trace(&[&ev(both, r#"{"err":"EBADF"}"#)]);
    assert!(check(&t).passed());
    let strict = check_strict(&t);
    assert_eq!(divergent_lines(&strict), vec![2]);
    let text = file_text(&strict);
    assert!(text.contains("allowed:  error EINVAL [MMAP-EINVAL-2]"), "{text}");
    assert!(
        !text.contains("EBADF ["),
        "strict lists only the deterministic outcome: {text}"
    );
    let t = trace(&[&ev(both, r#"{"err":"ENOMEM"}"#)]);
    assert_eq!(divergent_lines(&check(&t)), vec![2]);
}

#[test]
fn a_documented_alternative_is_allowed_unless_strict() {
    // procnto answers EAGAIN over the lock limit; the QNX docs say ENOMEM.
    let t = trace(&[
        r#"{"pid":1,"call":"setrlimit","resource":"RLIMIT_MEMLOCK","cur":4096,"max":"RLIM_INFINITY","ret":{"ok":0}}"#,
        &format!(r#"{{"pid":1,{ANON_2P},"bind":"a","ret":{{"ok":"0x10000000"}}}}"#),
        r#"{"pid":1,"call":"mlock","addr":"$a","len":8192,"ret":{"err":"ENOMEM"}}"#,
    ]);
    let r = check(&t);
    assert!(r.passed(), "{}", file_text(&r));
    assert_eq!(divergent_lines(&check_strict(&t)), vec![4]);
    assert!(check(&t.replace("ENOMEM", "EAGAIN")).passed());
}

#[test]
fn a_free_address_is_adopted_and_an_occupied_one_refused() {
    let mut o = Oracle::new(ProfileName::Neutrino, false);
    let call = Call::Mmap {
        addr: Addr(0),
        len: Len(8192),
        prot: Prot::READ | Prot::WRITE,
        flags: MapFlags::PRIVATE | MapFlags::ANON,
        fd: Fd::NOFD,
        off: 0,
    };
    let elsewhere = Outcome::Ok(Value::Addr(Addr(0x5000_0000)));
    assert_eq!(
        o.judge(Pid(1), &call, &elsewhere),
        Judgement::Allowed {
            rule: "MMAP-OK-1",
            adopted: true
        }
    );
    let placed = o
        .model()
        .process(Pid(1))
        .unwrap()
        .space
        .region_at(Addr(0x5000_1000))
        .map(|r| r.range);
    assert_eq!(
        placed.map(|r| r.start()),
        Some(Addr(0x5000_0000)),
        "the model placed it there"
    );
    // The same range again is occupied now: refused, and the model goes on with its own choice.
    let Judgement::Divergence(d) = o.judge(Pid(1), &call, &elsewhere) else {
        panic!("an occupied range was accepted")
    };
    assert!(d.refused.as_deref().unwrap().contains("overlaps"), "{d:?}");
    assert!(d.free_choice);
    assert_eq!(o.model().process(Pid(1)).unwrap().space.region_count(), 2);
    // Outside the user range, or not page-aligned: refused.
    for bad in [0u64, 0x5000_0800, u64::MAX - 4095] {
        let got = o.judge(Pid(1), &call, &Outcome::Ok(Value::Addr(Addr(bad))));
        assert!(matches!(got, Judgement::Divergence(_)), "{bad:#x} was accepted");
    }
}

#[test]
fn a_free_fd_is_adopted_and_an_open_one_refused() {
    let t = trace(&[
        r#"{"pid":1,"call":"open","path":"/dev/zero","oflag":"O_RDWR","bind":"z","ret":{"ok":5}}"#,
        r#"{"pid":1,"call":"mmap","addr":0,"len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE","fd":"$z","off":0,"ret":{"ok":"0x10000000"}}"#,
        r#"{"pid":1,"call":"open","path":"/dev/zero","oflag":"O_RDWR","ret":{"ok":5}}"#,
        r#"{"pid":1,"call":"close","fd":5,"ret":{"ok":0}}"#,
        // After the divergence the model opened its own choice, fd 0; fd 1 is not open.
        r#"{"pid":1,"call":"close","fd":0,"ret":{"ok":0}}"#,
        r#"{"pid":1,"call":"close","fd":1,"ret":{"ok":0}}"#,
    ]);
    let r = check(&t);
    assert_eq!(divergent_lines(&r), vec![4, 7], "{}", file_text(&r));
}

#[test]
fn map_fixed_leaves_no_choice() {
    let t = trace(&[&ev(
        r#""call":"mmap","addr":"$ARENA","len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0"#,
        r#"{"ok":"0x50000000"}"#,
    )]);
    let r = check(&t);
    assert_eq!(divergent_lines(&r), vec![2]);
    let FindingKind::Divergence(d) = &r.findings[0].kind else {
        unreachable!()
    };
    // Not a free choice: nothing was tried, so nothing was refused.
    assert!(!d.free_choice && d.refused.is_none(), "{d:?}");
}

#[test]
fn after_a_divergence_the_model_carries_on_and_reports_the_next_ones() {
    let t = trace(&[
        // Line 2: the model maps at 0x10000000; the implementation says ENOMEM.
        &format!(r#"{{"pid":1,{ANON_2P},"bind":"a","ret":{{"err":"ENOMEM"}}}}"#),
        // The program got MAP_FAILED, so this munmap fails with EINVAL: allowed.
        r#"{"pid":1,"call":"munmap","addr":"$a","len":4096,"ret":{"err":"EINVAL"}}"#,
        // The model carried on with its own mapping: a load there succeeds.
        r#"{"pid":1,"call":"load","addr":"0x10000000","len":1,"ret":{"fault":"SIGSEGV"}}"#,
        r#"{"pid":1,"call":"load","addr":"0x10000000","len":1,"ret":{"ok":"00"}}"#,
        r#"{"pid":1,"call":"munmap","addr":"0x10000000","len":0,"ret":{"ok":0}}"#,
    ]);
    let r = check(&t);
    assert_eq!(divergent_lines(&r), vec![2, 4, 6], "{}", file_text(&r));
    assert_eq!(r.divergences, 3);
    assert_eq!(r.events, 5);
}

#[test]
fn a_divergence_report_names_line_call_outcomes_rules_and_state() {
    let t = trace(&[
        r#"{"pid":1,"call":"setrlimit","resource":"RLIMIT_AS","cur":"0x10000","max":"RLIM_INFINITY","ret":{"ok":0}}"#,
        r#"{"pid":1,"call":"mmap","addr":"$ARENA+0x2000","len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"bind":"a","ret":{"ok":"0x40002000"}}"#,
        r#"{"pid":1,"call":"mlock","addr":"$a","len":4096,"ret":{"ok":0}}"#,
        r#"{"pid":1,"call":"munmap","addr":"$a+0x1000","len":"$PAGE","ret":{"err":"EINVAL"}}"#,
    ]);
    let r = check(&t);
    let text = file_text(&r);
    let map = format!("0x3fffb000 {}Ww{} 0x4002b000", ".".repeat(7), ".".repeat(39));
    for want in [
        "t.jsonl:5: divergence: pid 1 munmap(addr=$a+0x1000=0x40003000, len=$PAGE=0x1000)",
        "observed: error EINVAL",
        "allowed:  ok 0 [MUNMAP-OK-1]",
        "continuing with: ok 0",
        "pid 1 around 0x40003000",
        // The map: one character per page from 8 pages before; W is locked and writable.
        map.as_str(),
        "[0x40002000, 0x40003000) rw- private anonymous locked",
        "[0x40003000, 0x40004000) rw- private anonymous",
        "usage: total 0x2000 of 0x10000 (hard unlimited); data 0x2000 of unlimited (hard unlimited); locked 0x1000 of unlimited",
        "fds 0 of 1000",
    ] {
        assert!(text.contains(want), "missing `{want}` in:\n{text}");
    }
    // The caret marks the page of the call (the second, unlocked one).
    let caret_line = text.lines().find(|l| l.trim_start().starts_with('^')).unwrap();
    assert_eq!(
        caret_line.find('^'),
        text.lines().find(|l| l.contains(".......Ww")).unwrap().find('w')
    );
}

#[test]
fn unmet_expectations_are_reported_apart_from_divergences() {
    let script = trace(&[
        r#"{"pid":1,"call":"munmap","addr":"$ARENA","len":4096,"expect":{"err":"EINVAL"}}"#,
        r#"{"pid":1,"call":"munmap","addr":"$ARENA","len":4096,"expect":{"any_of":[{"ok":0},{"err":"EINVAL"}]}}"#,
    ]);
    let (r, _) = judge_with(&script, Mode::Run(Backend::Model), false, None);
    assert_eq!(r.divergences, 0);
    assert_eq!(r.unmet, 1);
    let text = file_text(&r);
    assert!(
        text.contains("t.jsonl:2: unmet expectation: pid 1 munmap(addr=$ARENA=0x40000000, len=4096)"),
        "{text}"
    );
    assert!(text.contains("expected: error EINVAL"), "{text}");
    assert!(text.contains("observed: ok 0"), "{text}");
    // In a trace, expect is checked against ret, and a divergence can meet it.
    let t = trace(&[
        r#"{"pid":1,"call":"munmap","addr":"$ARENA","len":4096,"expect":{"err":"EINVAL"},"ret":{"err":"EINVAL"}}"#,
    ]);
    let r = check(&t);
    assert_eq!((r.divergences, r.unmet), (1, 0));
}

#[test]
fn the_profile_decides() {
    // Reaching RLIMIT_AS exactly: refused by procnto, allowed by Linux.
    let lines = [
        r#"{"pid":1,"call":"setrlimit","resource":"RLIMIT_AS","cur":8192,"max":"RLIM_INFINITY","ret":{"ok":0}}"#,
        r#"{"pid":1,"call":"mmap","addr":0,"len":8192,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"ret":{"err":"ENOMEM"}}"#,
    ];
    assert!(check(&trace(&lines)).passed());
    let linux = format!("{}\n{}\n{}\n", header("linux"), lines[0], lines[1]);
    assert_eq!(divergent_lines(&check(&linux)), vec![3]);
}

#[test]
fn many_divergences_are_counted_but_few_kept() {
    let bad = r#"{"pid":1,"call":"munmap","addr":"$ARENA","len":4096,"ret":{"err":"EINVAL"}}"#;
    let lines = vec![bad; 250];
    let r = check(&trace(&lines));
    assert_eq!(r.divergences, 250);
    assert_eq!(r.findings.len(), mmoracle::oracle::report::MAX_FINDINGS);
    assert!(file_text(&r).contains("... and 150 more findings"));
}

#[test]
fn reports_render_as_json_and_junit() {
    use mmoracle::oracle::report::{json_report, junit_report, Totals};
    let good = check(&trace(&[&ev(ANON_2P, r#"{"ok":"0x10000000"}"#)]));
    let bad = check(&trace(&[&ev(ANON_2P, r#"{"err":"EACCES"}"#)]));
    let broken = check("not json\n");
    let files = vec![good, bad, broken];
    let mut totals = Totals::default();
    files.iter().for_each(|f| totals.add(f));
    assert_eq!(totals.exit_code(), 2);
    let json = json_report(&files, &totals);
    assert_eq!(json["summary"]["divergences"], 1);
    assert_eq!(json["files"][1]["findings"][0]["rule"], "MMAP-OK-1");
    assert_eq!(json["files"][1]["findings"][0]["line"], 2);
    let xml = junit_report(&files, &totals);
    assert!(
        xml.contains(r#"<testsuite name="mmoracle" tests="3" failures="1" errors="1">"#),
        "{xml}"
    );
    // One failure per finding, typed by the rule that decided the model's outcome.
    assert!(
        xml.contains("<failure type=\"MMAP-OK-1\" message=\"line 2: error EACCES divergence, allowed by [MMAP-OK-1] "),
        "{xml}"
    );
    assert!(xml.contains("<error type=\"bad-input\""), "{xml}");
    assert!(xml.contains("&lt;") || !xml.contains("<0x"), "escaped");
}

/// A recording's header `ram` is the system memory it is judged with, and
/// `$RAM`: the overcommit check (MMAP-ENOMEM-6) and its placements come out
/// the same on every machine.
#[test]
fn a_header_gives_the_memory_a_recording_is_judged_with() {
    let ram = 64u64 << 20;
    let body = [
        r#"{"pid":1,"call":"mmap","addr":0,"len":"$RAM+$PAGE","prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"ret":{"err":"ENOMEM"}}"#,
        r#"{"pid":1,"call":"mmap","addr":0,"len":67108864,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"ret":{"ok":"0x7e0000000000"}}"#,
        r#"{"pid":1,"call":"mmap","addr":0,"len":67112960,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"ret":{"err":"ENOMEM"}}"#,
    ];
    let with_header = |header: &str| [header].into_iter().chain(body).collect::<Vec<_>>().join("\n") + "\n";
    let pinned = with_header(&format!(
        r#"{{"format":"mmoracle-trace","version":1,"profile":"linux","ram":{ram}}}"#
    ));
    let (r, out) = judge_with(&pinned, Mode::Check, false, None);
    assert!(r.passed(), "{}", file_text(&r));
    assert!(
        out.lines().next().unwrap().contains(&format!(r#""ram":{ram}"#)),
        "the output keeps the header: {out}"
    );
    // Without it, `$RAM` follows the machine (line 2 still ENOMEM), but the
    // machine's memory, far more than 64 MiB, lets the last call through.
    let machine = with_header(r#"{"format":"mmoracle-trace","version":1,"profile":"linux"}"#);
    let (r, _) = judge_with(&machine, Mode::Check, false, None);
    assert_eq!(divergent_lines(&r), vec![4]);
}
