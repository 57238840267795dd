//! What a failed call binds (trace-format.md §5.3): later calls made with the
//! name are judged as the C program's calls would be, never refused as bad input.

use super::util::{check, run, trace};

#[test]
fn every_failed_call_binds_what_the_c_program_holds() {
    let script = trace(&[
        // An address: MAP_FAILED.
        r#"{"call":"mmap","addr":0,"len":0,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"bind":"a","expect":{"err":"EINVAL"}}"#,
        r#"{"call":"munmap","addr":"$a","len":4096,"expect":{"err":"EINVAL"}}"#,
        // An fd: -1.
        r#"{"call":"shm_open","name":"/nope","oflag":"O_RDWR","mode":384,"bind":"fd","expect":{"err":"ENOENT"}}"#,
        r#"{"call":"close","fd":"$fd","expect":{"err":"EBADF"}}"#,
        r#"{"call":"dup","fd":99,"bind":"d","expect":{"err":"EBADF"}}"#,
        r#"{"call":"close","fd":"$d","expect":{"err":"EBADF"}}"#,
        r#"{"call":"open","path":"/dev/nothing","oflag":"O_RDWR","bind":"o","expect":{"err":"ENOENT"}}"#,
        r#"{"call":"close","fd":"$o","expect":{"err":"EBADF"}}"#,
        r#"{"call":"gamma_shm_open","name":"/nope","oflag":"O_RDWR","mode":384,"bind":"g","expect":{"err":"ENOENT"}}"#,
        r#"{"call":"close","fd":"$g","expect":{"err":"EBADF"}}"#,
        // A size: 0 (fstat filled nothing in).
        r#"{"call":"fstat","fd":99,"bind":"sz","expect":{"err":"EBADF"}}"#,
        r#"{"call":"mmap","addr":0,"len":"$sz","prot":"PROT_READ","flags":"MAP_SHARED|MAP_ANON","fd":-1,"off":0,"expect":{"err":"EINVAL"}}"#,
        // A handle: NULL.
        r#"{"call":"memobj_wrap","fd":99,"bind":"w","expect":{"err":"EBADF"}}"#,
        r#"{"call":"memobj_map","obj":"$w","prot":"PROT_READ","expect":{"err":"EBADF"}}"#,
        r#"{"call":"memobj_share","obj":"$w","bind":"s","expect":{"err":"EBADF"}}"#,
        r#"{"call":"memobj_close","obj":"$s","expect":{"ok":0}}"#,
        r#"{"call":"memobj_create","nbytes":"0xffffffffffffffff","bind":"h","expect":{"err":"EINVAL"}}"#,
        r#"{"call":"memobj_unmap","obj":"$h","vaddr":0,"expect":{"err":"EBADF"}}"#,
    ]);
    let (report, _) = run(&script);
    assert_eq!(report.error, None);
    assert!(report.passed(), "{report:?}");
    assert_eq!(report.events, 18);
}

#[test]
fn a_failed_spawn_binds_minus_one_a_pid_no_process_has() {
    let text = trace(&[
        // The model would succeed: one divergence, and the name is still bound.
        r#"{"call":"spawn","bind":"c","ret":{"err":"EAGAIN"}}"#,
        r#"{"call":"getrlimit","resource":"RLIMIT_AS","target":"$c","ret":{"err":"ESRCH"}}"#,
        r#"{"call":"setrlimit","resource":"RLIMIT_AS","cur":0,"max":0,"target":"$c","ret":{"err":"ESRCH"}}"#,
        r#"{"pid":"$c","call":"munmap","addr":0,"len":4096,"ret":{"err":"ESRCH"}}"#,
    ]);
    let report = check(&text);
    assert_eq!(report.error, None);
    assert_eq!(report.events, 4);
    let lines: Vec<u64> = report.findings.iter().map(|f| f.line).collect();
    assert_eq!(lines, [2], "only the spawn diverges: {report:?}");
}
