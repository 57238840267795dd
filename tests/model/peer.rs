//! mmap_peer and munmap_peer (spec/peer.md), dup and fstat (spec/fds.md).

use crate::shm::{close, create, ftruncate, map_shared, open, read, shm_open, sized, spawn, store, user, RW};
use crate::util::*;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use ProfileName::{Linux, Neutrino, Qnx4};

const ALL: [ProfileName; 3] = ProfileName::ALL;

fn mmap_peer(target: Pid, len: u64, prot: Prot, flags: MapFlags, fd: Fd, off: u64) -> Call {
    Call::MmapPeer {
        target,
        addr: Addr(0),
        len: Len(len),
        prot,
        flags,
        fd,
        off,
    }
}

/// A private anonymous read-write page in `target`.
fn anon_peer(target: Pid) -> Call {
    mmap_peer(target, PAGE, RW, MapFlags::PRIVATE | MapFlags::ANON, Fd::NOFD, 0)
}

fn munmap_peer(target: Pid, addr: u64, len: u64) -> Call {
    Call::MunmapPeer {
        target,
        addr: Addr(addr),
        len: Len(len),
    }
}

fn dup(fd: Fd) -> Call {
    Call::Dup { fd }
}

fn fstat(fd: Fd) -> Call {
    Call::Fstat { fd }
}

fn region_count(m: &Model, pid: Pid) -> usize {
    m.process(pid).unwrap().space.region_count()
}

// ---- mmap_peer / munmap_peer ----

#[test]
fn peer_enosys_1_no_peer_calls_on_qnx4_or_linux() {
    for p in [Qnx4, Linux] {
        let mut m = model(p);
        let p2 = spawn(&mut m, P1);
        assert_err(&mut m, P1, &anon_peer(p2), Errno::ENOSYS, "PEER-ENOSYS-1");
        assert_err(
            &mut m,
            P1,
            &munmap_peer(p2, 0x1000_0000, PAGE),
            Errno::ENOSYS,
            "PEER-ENOSYS-1",
        );
        // The platform check comes before the target is looked up.
        assert_err(&mut m, P1, &anon_peer(Pid(99)), Errno::ENOSYS, "PEER-ENOSYS-1");
        assert_eq!(region_count(&m, p2), 0);
    }
}

#[test]
fn peer_esrch_1_no_such_process() {
    let mut m = model(Neutrino);
    assert_err(&mut m, P1, &anon_peer(Pid(99)), Errno::ESRCH, "PEER-ESRCH-1");
    assert_err(
        &mut m,
        P1,
        &munmap_peer(Pid(99), 0x1000_0000, PAGE),
        Errno::ESRCH,
        "PEER-ESRCH-1",
    );
    // A process that exited is gone too.
    let p2 = spawn(&mut m, P1);
    assert_ok(&mut m, p2, &Call::Exit {}, "PROC-EXIT-1");
    assert_err(&mut m, P1, &anon_peer(p2), Errno::ESRCH, "PEER-ESRCH-1");
    assert_err(
        &mut m,
        P1,
        &munmap_peer(p2, 0x1000_0000, PAGE),
        Errno::ESRCH,
        "PEER-ESRCH-1",
    );
}

#[test]
fn peer_eperm_1_another_users_process() {
    let mut m = model(Neutrino);
    let alice = user(&mut m, 100);
    let bob = user(&mut m, 200);
    assert_err(&mut m, alice, &anon_peer(bob), Errno::EPERM, "PEER-EPERM-1");
    let in_bob = mapped(&mut m, P1, &anon_peer(bob));
    assert_err(
        &mut m,
        alice,
        &munmap_peer(bob, in_bob, PAGE),
        Errno::EPERM,
        "PEER-EPERM-1",
    );
    assert_eq!(read(&mut m, bob, in_bob, 1), Ok(vec![0]));
    // The same euid may, and root may change anyone.
    let alice2 = user(&mut m, 100);
    assert_ok(&mut m, alice, &anon_peer(alice2), "MMAP-OK-1");
    assert_ok(&mut m, P1, &munmap_peer(bob, in_bob, PAGE), "MUNMAP-OK-1");
    assert_eq!(read(&mut m, bob, in_bob, 1), Err(Signal::SIGSEGV));
}

#[test]
fn a_peer_mapping_uses_the_callers_fd_and_lands_in_the_target() {
    let mut m = model(Neutrino);
    let p2 = spawn(&mut m, P1);
    let fd = sized(&mut m, P1, "/peer", PAGE as i64);
    let mine = map_shared(&mut m, P1, fd, PAGE, RW);
    assert_ok(&mut m, P1, &store(mine, b"peer"), "ACCESS-SHARED-1");
    let call = mmap_peer(p2, PAGE, Prot::READ, MapFlags::SHARED, fd, 0);
    let theirs = match assert_ok(&mut m, P1, &call, "MMAP-OK-1") {
        Value::Addr(a) => a.0,
        other => panic!("{other}"),
    };
    assert_eq!(read(&mut m, p2, theirs, 4), Ok(b"peer".to_vec()));
    assert_eq!(region_count(&m, P1), 1);
    // The fd is the caller's: the target has none.
    let own = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, 0);
    assert_err(&mut m, p2, &own, Errno::EBADF, "MMAP-EBADF-1");
    // mmap's own checks run against the target's limits.
    let limit = Call::Setrlimit {
        resource: Resource::RLIMIT_AS,
        cur: 2 * PAGE,
        max: 2 * PAGE,
        target: Some(p2),
    };
    assert!(m.step(P1, &limit).outcome.is_ok());
    assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-2");
    assert_ok(&mut m, P1, &munmap_peer(p2, theirs, PAGE), "MUNMAP-OK-1");
    assert_eq!(read(&mut m, p2, theirs, 1), Err(Signal::SIGSEGV));
    assert_eq!(read(&mut m, P1, mine, 4), Ok(b"peer".to_vec()));
}

// ---- dup ----

#[test]
fn dup_ebadf_1_not_an_open_fd() {
    for p in ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &dup(Fd(5)), Errno::EBADF, "DUP-EBADF-1");
        assert_err(&mut m, P1, &dup(Fd::NOFD), Errno::EBADF, "DUP-EBADF-1");
        let fd = opened(&mut m, P1, &open("/dev/zero", OFlags::RDWR));
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_err(&mut m, P1, &dup(fd), Errno::EBADF, "DUP-EBADF-1");
    }
}

#[test]
fn dup_emfile_1_no_fd_left() {
    for p in ALL {
        let mut m = model(p);
        let hard = m.profile().initial_limits[Resource::RLIMIT_NOFILE.index()].max;
        setrlimit(&mut m, Resource::RLIMIT_NOFILE, 2, hard);
        let fd = opened(&mut m, P1, &open("/dev/zero", OFlags::RDWR));
        assert_ok(&mut m, P1, &dup(fd), "DUP-OK-1");
        assert_err(&mut m, P1, &dup(fd), Errno::EMFILE, "DUP-EMFILE-1");
        // A bad fd is reported before the full table.
        assert_err(&mut m, P1, &dup(Fd(7)), Errno::EBADF, "DUP-EBADF-1");
    }
}

#[test]
fn dup_ok_1_the_lowest_free_fd_for_the_same_open_file() {
    for p in ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/dup", PAGE as i64);
        let rw = map_shared(&mut m, P1, fd, PAGE, RW);
        assert_ok(&mut m, P1, &store(rw, b"same"), "ACCESS-SHARED-1");
        let ro = opened(&mut m, P1, &create_ro("/dup"));
        assert_eq!(assert_ok(&mut m, P1, &dup(ro), "DUP-OK-1"), Value::Fd(Fd(2)));
        // The copy keeps the access mode: no shared writable mapping through it.
        let write = mmap(0, PAGE, RW, MapFlags::SHARED, 2, 0);
        assert_err(&mut m, P1, &write, Errno::EACCES, "MMAP-EACCES-2");
        // It outlives the original and still refers to the object.
        assert_ok(&mut m, P1, &close(ro), "CLOSE-OK-1");
        let again = map_shared(&mut m, P1, Fd(2), PAGE, Prot::READ);
        assert_eq!(read(&mut m, P1, again, 4), Ok(b"same".to_vec()));
        // The lowest free fd is reused.
        assert_eq!(assert_ok(&mut m, P1, &dup(fd), "DUP-OK-1"), Value::Fd(ro));
    }
}

fn create_ro(name: &str) -> Call {
    shm_open(name, OFlags::RDONLY, 0)
}

#[test]
fn dup_ok_1_an_implementation_may_choose_any_free_fd() {
    for p in ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/pick", PAGE as i64);
        assert_eq!(m.apply(P1, &dup(fd), &Outcome::Ok(Value::Fd(Fd(7)))), Ok(()));
        assert_ok(&mut m, P1, &fstat(Fd(7)), "FSTAT-OK-1");
        // An fd that is open already cannot be the new one.
        assert!(m.apply(P1, &dup(fd), &Outcome::Ok(Value::Fd(fd))).is_err());
        m.check_invariants().unwrap();
    }
}

// ---- fstat ----

#[test]
fn fstat_ebadf_1_not_an_open_fd() {
    for p in ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &fstat(Fd(3)), Errno::EBADF, "FSTAT-EBADF-1");
        assert_err(&mut m, P1, &fstat(Fd::NOFD), Errno::EBADF, "FSTAT-EBADF-1");
    }
}

#[test]
fn fstat_ok_1_the_exact_size() {
    for p in ALL {
        let mut m = model(p);
        // The exact byte size, not rounded to pages, and it follows ftruncate.
        let fd = sized(&mut m, P1, "/size", 100);
        assert_eq!(assert_ok(&mut m, P1, &fstat(fd), "FSTAT-OK-1"), Value::Size(100));
        assert_ok(&mut m, P1, &ftruncate(fd, 5000), "TRUNC-OK-1");
        assert_eq!(assert_ok(&mut m, P1, &fstat(fd), "FSTAT-OK-1"), Value::Size(5000));
        let empty = opened(&mut m, P1, &create("/empty"));
        assert_eq!(assert_ok(&mut m, P1, &fstat(empty), "FSTAT-OK-1"), Value::Size(0));
        // Devices without an object have size 0.
        for dev in ["/dev/zero", "/dev/null"] {
            let d = opened(&mut m, P1, &open(dev, OFlags::RDONLY));
            assert_eq!(assert_ok(&mut m, P1, &fstat(d), "FSTAT-OK-1"), Value::Size(0), "{dev}");
        }
    }
    // Physical memory's size is everything up to the last physical address.
    let mut m = model(Neutrino);
    let mem = opened(&mut m, P1, &open("/dev/mem", OFlags::RDONLY));
    let whole = Neutrino.profile().last_paddr + 1;
    assert_eq!(assert_ok(&mut m, P1, &fstat(mem), "FSTAT-OK-1"), Value::Size(whole));
}

mod pipe {
    use crate::util::*;
    use mmoracle::types::*;
    use mmoracle::{Call, ProfileName, Value};

    #[test]
    fn pipe_ok_1_two_ends_that_cannot_be_mapped() {
        for p in ProfileName::ALL {
            let mut m = model(p);
            let out = assert_ok(&mut m, P1, &Call::Pipe {}, "PIPE-OK-1");
            assert_eq!(out, Value::FdPair(Fd(0), Fd(1)));
            let proc = m.process(P1).unwrap();
            assert!(!proc.fd(Fd(0)).unwrap().oflags.writable() && proc.fd(Fd(1)).unwrap().oflags.writable());
            let map = |fd| mmap(0, 4096, Prot::READ, MapFlags::SHARED, fd, 0);
            let v = m.evaluate(P1, &map(0));
            assert_eq!(v.outcome.errno(), Some(m.profile().unmappable_fd), "{p}");
            let st = m.evaluate(P1, &Call::FstatFull { fd: Fd(1) });
            assert_eq!(st.rule, "FSTAT-STATUS-1");
            // linux: PROT_EXEC of the readable end is the noexec mount's EPERM.
            let exec = mmap(0, 4096, Prot::READ | Prot::EXEC, MapFlags::PRIVATE, 0, 0);
            let v = m.evaluate(P1, &exec);
            if p == ProfileName::Linux {
                assert_eq!((v.outcome.errno(), v.rule), (Some(Errno::EPERM), "MMAP-EPERM-5"));
            } else {
                assert_eq!(v.outcome.errno(), Some(m.profile().unmappable_fd), "{p}");
            }
            let trunc = Call::Ftruncate { fd: Fd(1), len: 0 };
            assert_err(&mut m, P1, &trunc, Errno::EINVAL, "TRUNC-EINVAL-3");
        }
    }

    #[test]
    fn pipe_emfile_1_needs_two_free_fds() {
        for p in ProfileName::ALL {
            let mut m = model(p);
            let hard = m.profile().initial_limits[Resource::RLIMIT_NOFILE.index()].max;
            let set = Call::Setrlimit {
                resource: Resource::RLIMIT_NOFILE,
                cur: 1,
                max: hard,
                target: None,
            };
            assert_ok(&mut m, P1, &set, "RLIMIT-SET-1");
            assert_err(&mut m, P1, &Call::Pipe {}, Errno::EMFILE, "PIPE-EMFILE-1");
            assert!(m.process(P1).unwrap().fds().is_empty());
        }
    }
}
