//! Writing and reading back.

use super::util::{run, trace};
use mmoracle::trace::writer::raw_event;
use mmoracle::trace::{Bindings, Header, Item, Reader, Writer};
use mmoracle::types::*;
use mmoracle::{Call, Outcome, ProfileName, Value};
use std::io::Cursor;

/// One of every call, with awkward values.
fn every_call() -> Vec<Call> {
    vec![
        Call::Spawn {},
        Call::Exit {},
        Call::Fork {},
        Call::Cred {
            euid: 1000,
            cap_ipc_lock: false,
            egid: None,
            groups: None,
        },
        Call::Cred {
            euid: 0,
            cap_ipc_lock: true,
            egid: Some(100),
            groups: Some(vec![0, 200]),
        },
        Call::Umask { mask: 0o022 },
        Call::FstatFull { fd: Fd(3) },
        Call::Pipe {},
        Call::Getrlimit {
            resource: Resource::RLIMIT_NOFILE,
            target: Some(Pid(3)),
        },
        Call::Setrlimit {
            resource: Resource::RLIMIT_MEMLOCK,
            cur: 0,
            max: RLIM_INFINITY,
            target: None,
        },
        Call::Mmap {
            addr: Addr(u64::MAX),
            len: Len(u64::MAX),
            prot: Prot::from_bits_retain(0xffff_ffff),
            flags: MapFlags::from_bits_retain(0x8000_0003),
            fd: Fd(i32::MIN),
            off: u64::MAX,
        },
        Call::Munmap {
            addr: Addr(1),
            len: Len(0),
        },
        Call::Mprotect {
            addr: Addr(0x1000),
            len: Len(1),
            prot: Prot::NONE,
        },
        Call::Mlock {
            addr: Addr(0),
            len: Len(4096),
        },
        Call::Munlock {
            addr: Addr(0),
            len: Len(4096),
        },
        Call::Mlockall {
            flags: MclFlags::from_bits_retain(7),
        },
        Call::Munlockall {},
        Call::Msync {
            addr: Addr(0),
            len: Len(1),
            flags: MsyncFlags::SYNC | MsyncFlags::INVALIDATE,
        },
        Call::ShmOpen {
            name: "/with \"quotes\" and ünicode".into(),
            oflag: OFlags::RDWR | OFlags::CREAT | OFlags::EXCL,
            mode: 0o644,
        },
        Call::ShmUnlink { name: String::new() },
        Call::Open {
            path: "/dev/zero".into(),
            oflag: OFlags::RDONLY,
        },
        Call::Ftruncate {
            fd: Fd(-1),
            len: i64::MIN,
        },
        Call::Close { fd: Fd(0) },
        Call::Load {
            addr: Addr(0x4000_0000),
            len: Len(0),
        },
        Call::Store {
            addr: Addr(0x4000_0000),
            data: (0..=255).collect(),
        },
        Call::Meminfo {},
        Call::Brk { addr: Addr(u64::MAX) },
        Call::Mremap {
            old_addr: Addr(0x4000_0000),
            old_len: Len(0),
            new_len: Len(u64::MAX),
            flags: MremapFlags::MAYMOVE | MremapFlags::from_bits_retain(0x40),
            new_addr: Addr(1),
        },
        Call::Mlock2 {
            addr: Addr(0x4000_0001),
            len: Len(u64::MAX),
            flags: MlockFlags::ONFAULT | MlockFlags::from_bits_retain(0x10),
        },
    ]
}

#[test]
fn every_call_writes_and_reads_back() {
    let mut w = Writer::new(Vec::new());
    w.header(&Header {
        profile: Some(ProfileName::Qnx4),
        seed: Some(1),
        ram: Some(25_275_990_016),
        comment: Some("round trip".into()),
    })
    .unwrap();
    let calls = every_call();
    for call in &calls {
        w.event(&raw_event(serde_json::json!(1), call, None), None).unwrap();
    }
    let text = String::from_utf8(w.into_inner()).unwrap();
    let mut r = Reader::new(Cursor::new(text.as_bytes()), "t").unwrap();
    assert_eq!(r.header().profile, Some(ProfileName::Qnx4));
    let env = Bindings::new(ProfileName::Qnx4.profile());
    let mut read = Vec::new();
    while let Some(Item::Event(raw)) = r.next_item().unwrap() {
        read.push(r.resolve(&raw, &env).unwrap().call);
    }
    assert_eq!(read, calls);
    assert!(
        text.contains(r#""addr":"0xffffffffffffffff""#),
        "addresses are written as hex"
    );
}

#[test]
fn run_writes_ret_and_keeps_expressions_and_comments() {
    let script = trace(&[
        "# a comment",
        r#"{"pid":1,"call":"mmap","addr":"$ARENA","len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"bind":"a","expect":{"ok":"*"}}"#,
        "",
        r#"{"pid":1,"call":"load","addr":"$a","len":2}"#,
        r#"{"pid":1,"call":"getrlimit","resource":"RLIMIT_AS"}"#,
    ]);
    let (report, written) = run(&script);
    assert!(report.passed(), "{report:?}");
    let lines: Vec<&str> = written.lines().collect();
    assert_eq!(
        lines[0],
        r#"{"format":"mmoracle-trace","version":1,"profile":"neutrino"}"#
    );
    assert_eq!(lines[1], "# a comment");
    assert_eq!(
        lines[2],
        r#"{"pid":1,"call":"mmap","addr":"$ARENA","len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"bind":"a","expect":{"ok":"*"},"ret":{"ok":"0x40000000"}}"#
    );
    assert_eq!(lines[3], "");
    assert_eq!(
        lines[4],
        r#"{"pid":1,"call":"load","addr":"$a","len":2,"ret":{"ok":"0000"}}"#
    );
    assert_eq!(
        lines[5],
        r#"{"pid":1,"call":"getrlimit","resource":"RLIMIT_AS","ret":{"ok":{"cur":"RLIM_INFINITY","max":"RLIM_INFINITY"}}}"#
    );
    // The trace written is itself a valid trace that conforms.
    let checked = super::util::check(&written);
    assert!(checked.passed(), "{checked:?}");
    assert_eq!(checked.events, 3);
}

#[test]
fn outcomes_of_every_kind_write_as_they_read() {
    use mmoracle::trace::value::{outcome_json, parse_outcome};
    let env = Bindings::new(ProfileName::Linux.profile());
    for call in every_call() {
        let ok = match call.value_kind() {
            mmoracle::ValueKind::Unit => Value::Unit,
            mmoracle::ValueKind::Addr => Value::Addr(Addr(0x7fff_0000_0000)),
            mmoracle::ValueKind::Fd => Value::Fd(Fd(5)),
            mmoracle::ValueKind::Pid => Value::Pid(Pid(9)),
            mmoracle::ValueKind::Rlimit => Value::Rlimit(Rlimit {
                cur: 1,
                max: RLIM_INFINITY,
            }),
            mmoracle::ValueKind::Bytes => Value::Bytes(vec![1, 2, 254]),
            mmoracle::ValueKind::Size => Value::Size(0x1234),
            mmoracle::ValueKind::Handle => Value::Handle(mmoracle::call::Handle(7)),
            mmoracle::ValueKind::Mode => Value::Mode(0o777),
            mmoracle::ValueKind::FdPair => Value::FdPair(Fd(0), Fd(9)),
            mmoracle::ValueKind::Status => Value::Status(mmoracle::call::FileStatus {
                size: u64::MAX,
                uid: 1000,
                gid: u32::MAX,
                mode: 0o100644,
            }),
            mmoracle::ValueKind::Meminfo => Value::Meminfo(mmoracle::call::MemInfo {
                vm_size: 0x3000,
                vm_data: 0x1000,
                vm_lck: 0,
                map_count: 2,
            }),
        };
        for o in [
            Outcome::Ok(ok),
            Outcome::Err(Errno::EOVERFLOW),
            Outcome::Fault(Signal::SIGBUS),
        ] {
            assert_eq!(parse_outcome(&outcome_json(&o), call.value_kind(), &env), Ok(o));
        }
    }
}

#[test]
fn byte_runs_read_as_their_bytes_and_long_repeats_are_written_as_runs() {
    use mmoracle::call::{byte_run, byte_run_pattern, bytes_json};
    assert_eq!(byte_run("ab", 4).unwrap(), vec![0xab; 4]);
    assert_eq!(byte_run("0102", 4).unwrap(), vec![1, 2, 1, 2]);
    assert!(byte_run("0102", 3).is_err());
    // Short or irregular bytes stay hex pairs; a long repeat becomes a run.
    assert_eq!(bytes_json(&[0xab; 63]), serde_json::json!("ab".repeat(63)));
    assert_eq!(bytes_json(&[0xab; 64]), serde_json::json!({"repeat":"ab","len":64}));
    let mut odd = vec![0u8; 4096];
    odd[4095] = 1;
    assert_eq!(byte_run_pattern(&odd), None);
    let pattern: Vec<u8> = (0..16).collect();
    let long = pattern.repeat(1 << 16);
    assert_eq!(byte_run_pattern(&long), Some(&pattern[..]));
    // A store written with a run reads back as the same call.
    let call = Call::Store {
        addr: Addr(0x1000),
        data: long.clone(),
    };
    let text = serde_json::to_string(&call).unwrap();
    assert!(text.len() < 200, "{text}");
    assert_eq!(serde_json::from_str::<Call>(&text).unwrap(), call);
}

#[test]
fn a_byte_run_is_judged_byte_for_byte() {
    let map = r#"{"pid":1,"call":"mmap","addr":0,"len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"bind":"a","ret":{"ok":"0x10000000"}}"#;
    let store = r#"{"pid":1,"call":"store","addr":"$a","data":{"repeat":"ab","len":8192},"ret":{"ok":0}}"#;
    let poke = r#"{"pid":1,"call":"store","addr":"$a+8191","data":"00","ret":{"ok":0}}"#;
    let load = r#"{"pid":1,"call":"load","addr":"$a","len":8192,"ret":{"ok":{"repeat":"ab","len":8192}}}"#;
    let right = super::util::check(&trace(&[map, store, load]));
    assert_eq!((right.error.clone(), right.divergences), (None, 0));
    // One byte of 8192 differs: the run no longer describes the memory.
    let wrong = super::util::check(&trace(&[map, store, poke, load]));
    assert_eq!((wrong.error.clone(), wrong.divergences), (None, 1));
}
