//! Reading events: values, expressions, bindings, outcomes.

use super::util::{trace, HEADER};
use mmoracle::trace::{Bindings, Item, Pattern, Reader};
use mmoracle::types::*;
use mmoracle::{Call, Outcome, ProfileName, Value, ValueKind};
use std::io::Cursor;

fn events(text: &str) -> Vec<mmoracle::trace::Event> {
    let mut r = Reader::new(Cursor::new(text.as_bytes().to_vec()), "t").unwrap();
    let mut env = Bindings::new(ProfileName::Neutrino.profile());
    let mut out = Vec::new();
    while let Some(item) = r.next_item().unwrap() {
        if let Item::Event(raw) = item {
            let ev = r.resolve(&raw, &env).unwrap();
            if let (Some(name), Some(ret)) = (&ev.bind, &ev.ret) {
                env.bind(name, ev.call.value_kind(), ret, ev.line);
            }
            out.push(ev);
        }
    }
    out
}

#[test]
fn header_fields_are_read() {
    let text = "# leading comment\n{\"format\":\"mmoracle-trace\",\"version\":1,\"profile\":\"linux\",\"seed\":9,\"comment\":\"hi\"}\n";
    let mut r = Reader::new(Cursor::new(text), "t").unwrap();
    assert_eq!(r.header().profile, Some(ProfileName::Linux));
    assert_eq!(r.header().seed, Some(9));
    assert_eq!(r.header().comment.as_deref(), Some("hi"));
    assert_eq!(r.take_leading_comments(), vec!["# leading comment".to_string()]);
    assert!(r.next_item().unwrap().is_none());
}

#[test]
fn numbers_flags_and_defaults() {
    let evs = events(&trace(&[
        r#"{"call":"mmap","addr":"0x40000000","len":"0x2000","prot":"PROT_READ|0x1000","flags":786,"fd":-1,"off":0,"ret":{"ok":"0x40000000"}}"#,
        r#"{"pid":1,"call":"setrlimit","resource":"RLIMIT_VMEM","cur":"RLIM_INFINITY","max":18446744073709551615,"target":null,"ret":{"ok":0}}"#,
        r#"{"pid":1,"call":"store","addr":1,"data":"00FFa0","ret":{"fault":"SIGSEGV"}}"#,
        r#"{"pid":1,"call":"ftruncate","fd":3,"len":-4096,"ret":{"err":"EINVAL"}}"#,
    ]));
    assert_eq!(evs[0].pid, Pid(1), "pid defaults to 1");
    assert_eq!(
        evs[0].call,
        Call::Mmap {
            addr: Addr(0x4000_0000),
            len: Len(0x2000),
            prot: Prot::from_bits_retain(0x1100),
            flags: MapFlags::from_bits_retain(786),
            fd: Fd::NOFD,
            off: 0
        }
    );
    assert_eq!(evs[0].ret, Some(Outcome::Ok(Value::Addr(Addr(0x4000_0000)))));
    assert_eq!(
        evs[1].call,
        Call::Setrlimit {
            resource: Resource::RLIMIT_AS,
            cur: RLIM_INFINITY,
            max: RLIM_INFINITY,
            target: None
        }
    );
    assert_eq!(
        evs[2].call,
        Call::Store {
            addr: Addr(1),
            data: vec![0, 0xff, 0xa0]
        }
    );
    assert_eq!(evs[2].ret, Some(Outcome::Fault(Signal::SIGSEGV)));
    assert_eq!(evs[3].ret, Some(Outcome::Err(Errno::EINVAL)));
}

#[test]
fn bindings_and_expressions() {
    let evs = events(&trace(&[
        r#"{"call":"mmap","addr":0,"len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"bind":"a","ret":{"ok":"0x10000000"}}"#,
        r#"{"call":"munmap","addr":"$a+4096","len":"2*$PAGE","ret":{"ok":0}}"#,
        r#"{"call":"munmap","addr":"$a - 0x1000","len":"$PAGE","ret":{"ok":0}}"#,
        r#"{"call":"spawn","bind":"p","ret":{"ok":2}}"#,
        r#"{"pid":"$p","call":"shm_open","name":"/x","oflag":"O_RDWR","mode":0,"bind":"fd","ret":{"err":"ENOENT"}}"#,
        r#"{"pid":"$p","call":"close","fd":"$fd","ret":{"err":"EBADF"}}"#,
        r#"{"call":"mmap","addr":"$ARENA","len":4096,"prot":"PROT_NONE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"bind":"a","ret":{"err":"ENOMEM"}}"#,
        r#"{"call":"munmap","addr":"$a","len":1,"ret":{"err":"EINVAL"}}"#,
    ]));
    assert_eq!(
        evs[1].call,
        Call::Munmap {
            addr: Addr(0x1000_1000),
            len: Len(8192)
        }
    );
    assert_eq!(
        evs[2].call,
        Call::Munmap {
            addr: Addr(0x0FFF_F000),
            len: Len(4096)
        }
    );
    assert_eq!(evs[4].pid, Pid(2));
    assert_eq!(evs[5].call, Call::Close { fd: Fd(-1) }, "a failed shm_open binds -1");
    assert_eq!(
        evs[7].call,
        Call::Munmap {
            addr: Addr(u64::MAX),
            len: Len(1)
        },
        "a failed mmap binds MAP_FAILED, and rebinding replaces"
    );
}

#[test]
fn expectations_read_any_of_and_wildcards() {
    let evs = events(&trace(&[
        r#"{"call":"mlockall","flags":"MCL_CURRENT","expect":{"any_of":[{"err":"EAGAIN"},{"err":"ENOMEM"}]}}"#,
        r#"{"call":"mmap","addr":0,"len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"expect":{"ok":"*"}}"#,
        r#"{"call":"getrlimit","resource":"RLIMIT_NOFILE","expect":{"ok":{"cur":1000,"max":"0x3e8"}}}"#,
    ]));
    let x = evs[0].expect.as_ref().unwrap();
    assert_eq!(x.any_of.len(), 2);
    assert!(x.met_by(&Outcome::Err(Errno::ENOMEM)));
    assert_eq!(evs[1].expect.as_ref().unwrap().any_of, vec![Pattern::AnyOk]);
    assert!(evs[2]
        .expect
        .as_ref()
        .unwrap()
        .met_by(&Outcome::Ok(Value::Rlimit(Rlimit { cur: 1000, max: 1000 }))));
}

#[test]
fn every_call_has_a_value_kind_that_reads_back() {
    // The kinds a trace's `ret` is read with.
    let kinds = [
        ("spawn", ValueKind::Pid),
        ("mmap", ValueKind::Addr),
        ("shm_open", ValueKind::Fd),
        ("getrlimit", ValueKind::Rlimit),
        ("load", ValueKind::Bytes),
        ("munmap", ValueKind::Unit),
    ];
    for (name, kind) in kinds {
        let call = match name {
            "spawn" => Call::Spawn {},
            "mmap" => Call::Mmap {
                addr: Addr(0),
                len: Len(1),
                prot: Prot::NONE,
                flags: MapFlags::PRIVATE,
                fd: Fd::NOFD,
                off: 0,
            },
            "shm_open" => Call::ShmOpen {
                name: "/a".into(),
                oflag: OFlags::RDONLY,
                mode: 0,
            },
            "getrlimit" => Call::Getrlimit {
                resource: Resource::RLIMIT_AS,
                target: None,
            },
            "load" => Call::Load {
                addr: Addr(0),
                len: Len(1),
            },
            _ => Call::Munmap {
                addr: Addr(0),
                len: Len(1),
            },
        };
        assert_eq!(call.value_kind(), kind, "{name}");
    }
    let _ = HEADER;
}
