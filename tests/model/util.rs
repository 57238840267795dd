//! Helpers for building calls and asserting outcomes in model tests.
#![allow(dead_code)]

use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

/// The first process.
pub const P1: Pid = Pid(1);
/// One page.
pub const PAGE: u64 = 4096;

/// A fresh model.
pub fn model(p: ProfileName) -> Model {
    Model::new(p)
}

/// `mmap(addr, len, prot, flags, fd, off)`.
pub fn mmap(addr: u64, len: u64, prot: Prot, flags: MapFlags, fd: i32, off: u64) -> Call {
    Call::Mmap {
        addr: Addr(addr),
        len: Len(len),
        prot,
        flags,
        fd: Fd(fd),
        off,
    }
}

/// An anonymous private read-write mapping of `len` bytes anywhere.
pub fn anon(len: u64) -> Call {
    mmap(
        0,
        len,
        Prot::READ | Prot::WRITE,
        MapFlags::PRIVATE | MapFlags::ANON,
        -1,
        0,
    )
}

/// Runs `call` as `pid` and returns the address it mapped, panicking otherwise.
pub fn mapped(m: &mut Model, pid: Pid, call: &Call) -> u64 {
    match m.step(pid, call).outcome {
        Outcome::Ok(Value::Addr(a)) => a.0,
        other => panic!("expected a mapping from {call:?}, got {other}"),
    }
}

/// Runs `call` as `pid` and returns the fd it opened, panicking otherwise.
pub fn opened(m: &mut Model, pid: Pid, call: &Call) -> Fd {
    match m.step(pid, call).outcome {
        Outcome::Ok(Value::Fd(fd)) => fd,
        other => panic!("expected an fd from {call:?}, got {other}"),
    }
}

/// Opens /dev/zero read-write as `pid` and returns the fd.
pub fn open_dev_zero(m: &mut Model, pid: Pid) -> Fd {
    let open = Call::Open {
        path: "/dev/zero".into(),
        oflag: mmoracle::types::OFlags::RDWR,
    };
    opened(m, pid, &open)
}

/// Asserts that `call` fails with `errno`, decided by `rule`.
pub fn assert_err(m: &mut Model, pid: Pid, call: &Call, errno: Errno, rule: &str) {
    let v = m.step(pid, call);
    assert_eq!(v.outcome, Outcome::Err(errno), "{call:?}: {v:?}");
    assert_eq!(v.rule, rule, "{call:?}: {v:?}");
}

/// Asserts that `call` succeeds, decided by `rule`, and returns the value.
pub fn assert_ok(m: &mut Model, pid: Pid, call: &Call, rule: &str) -> Value {
    let v = m.step(pid, call);
    assert_eq!(v.rule, rule, "{call:?}: {v:?}");
    match v.outcome {
        Outcome::Ok(value) => value,
        other => panic!("{call:?}: expected success, got {other}"),
    }
}

/// Sets a soft and hard limit on the first process.
pub fn setrlimit(m: &mut Model, resource: Resource, cur: u64, max: u64) {
    let v = m.step(
        P1,
        &Call::Setrlimit {
            resource,
            cur,
            max,
            target: None,
        },
    );
    assert!(v.outcome.is_ok(), "setrlimit {resource} failed: {v:?}");
}
