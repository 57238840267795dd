//! Loads, stores and memory contents (spec/objects-contents.md).

use crate::shm::{load, map_shared, open, read, shm_open, sized, spawn, store, RW};
use crate::util::*;
use mmoracle::call::MAX_ACCESS;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

/// Two private anonymous read-write pages at `$ARENA`, with nothing after them.
fn arena_pages(m: &mut Model) -> u64 {
    let arena = m.profile().arena;
    let fixed = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED;
    assert_eq!(mapped(m, P1, &mmap(arena, 2 * PAGE, RW, fixed, -1, 0)), arena);
    arena
}

fn assert_fault(m: &mut Model, pid: Pid, call: &Call, signal: Signal, rule: &str) {
    let v = m.step(pid, call);
    assert_eq!((v.outcome, v.rule), (Outcome::Fault(signal), rule), "{call:?}");
}

#[test]
fn access_einval_1_longer_than_the_harness_allows() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(2 * MAX_ACCESS));
        assert_err(&mut m, P1, &load(a, MAX_ACCESS + 1), Errno::EINVAL, "ACCESS-EINVAL-1");
        let big = vec![1u8; MAX_ACCESS as usize + 1];
        assert_err(&mut m, P1, &store(a, &big), Errno::EINVAL, "ACCESS-EINVAL-1");
        assert_eq!(read(&mut m, P1, a, 1), Ok(vec![0]), "a refused store writes nothing");
        // Exactly the bound is fine.
        assert_ok(&mut m, P1, &store(a, &big[1..]), "ACCESS-STORE-1");
        assert_eq!(
            read(&mut m, P1, a, MAX_ACCESS).map(|b| b.len()),
            Ok(MAX_ACCESS as usize)
        );
    }
}

#[test]
fn access_sigsegv_1_unmapped() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = arena_pages(&mut m);
        assert_fault(&mut m, P1, &load(a + 2 * PAGE, 1), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        assert_fault(&mut m, P1, &load(a - 1, 2), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        assert_fault(&mut m, P1, &store(0, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        // Running off the top of the address space.
        assert_fault(&mut m, P1, &load(u64::MAX - 1, 4), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        // After munmap the pages are gone.
        m.step(
            P1,
            &Call::Munmap {
                addr: Addr(a),
                len: Len(PAGE),
            },
        );
        assert_fault(&mut m, P1, &load(a, 1), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        assert_eq!(read(&mut m, P1, a + PAGE, 1), Ok(vec![0]));
    }
}

#[test]
fn access_sigsegv_2_protection() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let ro = mapped(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE | MapFlags::ANON, -1, 0),
        );
        let none = mapped(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::NONE, MapFlags::PRIVATE | MapFlags::ANON, -1, 0),
        );
        let wo = mapped(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::WRITE, MapFlags::PRIVATE | MapFlags::ANON, -1, 0),
        );
        assert_eq!(read(&mut m, P1, ro, 4), Ok(vec![0; 4]));
        assert_fault(&mut m, P1, &store(ro, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
        assert_fault(&mut m, P1, &load(none, 1), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
        assert_fault(&mut m, P1, &store(none, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
        // On x86 write access implies read access.
        assert_ok(&mut m, P1, &store(wo, b"w"), "ACCESS-STORE-1");
        assert_eq!(read(&mut m, P1, wo, 1), Ok(b"w".to_vec()));
        // A read-only shared mapping of an object.
        let fd = sized(&mut m, P1, "/buf", PAGE as i64);
        let shared_ro = map_shared(&mut m, P1, fd, PAGE, Prot::READ);
        assert_fault(&mut m, P1, &store(shared_ro, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
    }
}

#[test]
fn access_sigbus_1_a_shared_dev_zero_mapping_keeps_its_offset_on_linux() {
    // Three pages of /dev/zero shared at offset 2 pages: the object is three
    // pages long, so on Linux only the first page is inside it.
    for p in ProfileName::ALL {
        let mut m = model(p);
        let zero = open_dev_zero(&mut m, P1);
        let a = mapped(&mut m, P1, &mmap(0, 3 * PAGE, RW, MapFlags::SHARED, zero.0, 2 * PAGE));
        assert_eq!(m.step(P1, &store(a, b"x")).outcome, Outcome::Ok(Value::Unit));
        let past = m.step(P1, &store(a + PAGE, b"x"));
        if m.profile().zero_device_keeps_offset {
            assert_eq!(
                (past.outcome, past.rule),
                (Outcome::Fault(Signal::SIGBUS), "ACCESS-SIGBUS-1"),
                "{p}"
            );
        } else {
            assert_eq!(past.outcome, Outcome::Ok(Value::Unit), "{p}");
        }
        // MAP_ANON ignores the offset everywhere.
        let anon = mmap(0, 3 * PAGE, RW, MapFlags::SHARED | MapFlags::ANON, -1, 2 * PAGE);
        let b = mapped(&mut m, P1, &anon);
        assert_eq!(
            m.step(P1, &store(b + 2 * PAGE, b"x")).outcome,
            Outcome::Ok(Value::Unit),
            "{p}"
        );
    }
}

#[test]
fn access_sigbus_1_past_the_end_of_the_object() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/one", PAGE as i64);
        // mmap does not look at the size: three pages of a one-page object.
        let shared = map_shared(&mut m, P1, fd, 3 * PAGE, RW);
        let private = mapped(&mut m, P1, &mmap(0, 3 * PAGE, RW, MapFlags::PRIVATE, fd.0, 0));
        let ro = map_shared(&mut m, P1, fd, 3 * PAGE, Prot::READ);
        assert_eq!(read(&mut m, P1, shared + PAGE - 1, 1), Ok(vec![0]));
        for addr in [shared + PAGE, shared + 2 * PAGE, private + PAGE, ro + 2 * PAGE] {
            assert_fault(&mut m, P1, &load(addr, 1), Signal::SIGBUS, "ACCESS-SIGBUS-1");
        }
        assert_fault(
            &mut m,
            P1,
            &store(private + PAGE, b"x"),
            Signal::SIGBUS,
            "ACCESS-SIGBUS-1",
        );
        // A load across the end gets the signal, not the first bytes.
        assert_fault(
            &mut m,
            P1,
            &load(shared + PAGE - 2, 4),
            Signal::SIGBUS,
            "ACCESS-SIGBUS-1",
        );
        // The protection is checked before the object's end.
        assert_fault(&mut m, P1, &store(ro + PAGE, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
        // A mapping that starts past the end, and one of an empty object.
        let past = mapped(&mut m, P1, &mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, 8 * PAGE));
        assert_fault(&mut m, P1, &load(past, 1), Signal::SIGBUS, "ACCESS-SIGBUS-1");
        let empty = sized(&mut m, P1, "/empty", 0);
        let e = map_shared(&mut m, P1, empty, PAGE, RW);
        assert_fault(&mut m, P1, &load(e, 1), Signal::SIGBUS, "ACCESS-SIGBUS-1");
    }
}

#[test]
fn access_load_1_reads_what_was_stored_and_zeros_elsewhere() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = arena_pages(&mut m);
        let v = assert_ok(&mut m, P1, &load(a, 3), "ACCESS-LOAD-1");
        assert_eq!(v, Value::Bytes(vec![0; 3]));
        assert_ok(&mut m, P1, &store(a + PAGE - 2, b"abcd"), "ACCESS-STORE-1");
        let v = assert_ok(&mut m, P1, &load(a + PAGE - 3, 6), "ACCESS-LOAD-1");
        assert_eq!(v, Value::Bytes(b"\0abcd\0".to_vec()));
        assert_eq!(
            assert_ok(&mut m, P1, &load(a, 0), "ACCESS-LOAD-1"),
            Value::Bytes(vec![])
        );
    }
}

#[test]
fn access_store_1_private_anonymous_memory() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_ok(&mut m, P1, &store(a, b"mine"), "ACCESS-STORE-1");
        // /dev/zero mapped privately is anonymous memory too.
        let zero = opened(&mut m, P1, &open("/dev/zero", OFlags::RDWR));
        let z = mapped(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::PRIVATE, zero.0, 0));
        assert_ok(&mut m, P1, &store(z, b"z"), "ACCESS-STORE-1");
        // Another process's memory at the same address is its own.
        let child = spawn(&mut m, P1);
        assert_fault(&mut m, child, &load(a, 1), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        // An empty store touches nothing, mapped or not.
        assert_ok(&mut m, P1, &store(0, b""), "ACCESS-STORE-1");
    }
}

#[test]
fn access_shared_1_visible_in_another_process_and_to_later_mappings() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/shared", 2 * PAGE as i64);
        let parent = map_shared(&mut m, P1, fd, 2 * PAGE, RW);
        let child = spawn(&mut m, P1);
        let cfd = opened(&mut m, child, &shm_open("/shared", OFlags::RDWR, 0));
        let in_child = map_shared(&mut m, child, cfd, 2 * PAGE, RW);
        assert_ok(&mut m, P1, &store(parent + PAGE + 7, b"hello"), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, child, in_child + PAGE + 7, 5), Ok(b"hello".to_vec()));
        assert_ok(&mut m, child, &store(in_child, b"back"), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, parent, 4), Ok(b"back".to_vec()));
        // A mapping made later, at another offset, sees the same bytes.
        let later = mapped(&mut m, child, &mmap(0, PAGE, Prot::READ, MapFlags::SHARED, cfd.0, PAGE));
        assert_eq!(read(&mut m, child, later + 7, 5), Ok(b"hello".to_vec()));
        m.check_invariants().unwrap();
    }
}

#[test]
fn access_cow_1_private_stores_stay_private() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/obj", 2 * PAGE as i64);
        let shared = map_shared(&mut m, P1, fd, 2 * PAGE, RW);
        assert_ok(&mut m, P1, &store(shared, b"original"), "ACCESS-SHARED-1");
        let private = mapped(&mut m, P1, &mmap(0, 2 * PAGE, RW, MapFlags::PRIVATE, fd.0, 0));
        let other = mapped(&mut m, P1, &mmap(0, 2 * PAGE, Prot::READ, MapFlags::PRIVATE, fd.0, 0));
        assert_eq!(read(&mut m, P1, private, 8), Ok(b"original".to_vec()));
        assert_ok(&mut m, P1, &store(private, b"changed!"), "ACCESS-COW-1");
        assert_eq!(read(&mut m, P1, private, 8), Ok(b"changed!".to_vec()));
        assert_eq!(read(&mut m, P1, shared, 8), Ok(b"original".to_vec()));
        assert_eq!(read(&mut m, P1, other, 8), Ok(b"original".to_vec()));
        // The copied page no longer follows the object; an uncopied one does.
        assert_ok(&mut m, P1, &store(shared, b"newer"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &store(shared + PAGE, b"page1"), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, private, 8), Ok(b"changed!".to_vec()));
        assert_eq!(read(&mut m, P1, private + PAGE, 5), Ok(b"page1".to_vec()));
        // A read-only fd allows a writable private mapping: copy-on-write.
        let ro = opened(&mut m, P1, &shm_open("/obj", OFlags::RDONLY, 0));
        let cow = mapped(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::PRIVATE, ro.0, 0));
        assert_ok(&mut m, P1, &store(cow, b"x"), "ACCESS-COW-1");
        assert_eq!(read(&mut m, P1, shared, 1), Ok(b"n".to_vec()));
        m.check_invariants().unwrap();
    }
}

#[test]
fn a_faulting_store_writes_the_pages_before_the_fault() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = arena_pages(&mut m);
        // From the middle of page 0 into the unmapped page 2.
        let data = vec![0xAB; (2 * PAGE) as usize];
        assert_fault(&mut m, P1, &store(a + 10, &data), Signal::SIGSEGV, "ACCESS-SIGSEGV-1");
        let written = read(&mut m, P1, a, 2 * PAGE).unwrap();
        assert_eq!(&written[..10], &[0; 10]);
        assert!(written[10..].iter().all(|b| *b == 0xAB));
        // Through a shared mapping past the object's end: the object gets the
        // pages before the fault, and other mappings see them.
        let fd = sized(&mut m, P1, "/half", PAGE as i64);
        let s = map_shared(&mut m, P1, fd, 2 * PAGE, RW);
        let data = vec![0xCD; (PAGE + 1) as usize];
        assert_fault(&mut m, P1, &store(s + 1, &data), Signal::SIGBUS, "ACCESS-SIGBUS-1");
        let view = map_shared(&mut m, P1, fd, PAGE, Prot::READ);
        assert_eq!(read(&mut m, P1, view, 2), Ok(vec![0, 0xCD]));
        // A store that faults on its first page writes nothing.
        let ro = mapped(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE | MapFlags::ANON, -1, 0),
        );
        assert_fault(&mut m, P1, &store(ro, b"x"), Signal::SIGSEGV, "ACCESS-SIGSEGV-2");
        assert_eq!(read(&mut m, P1, ro, 1), Ok(vec![0]));
        m.check_invariants().unwrap();
    }
}

#[test]
fn a_terabyte_lazy_mapping_keeps_only_the_pages_stored_to() {
    // QNX's MAP_LAZY, Linux's MAP_NORESERVE: no memory is taken up front. (qnx4
    // has a 32-bit address space, too small for a terabyte.)
    for (p, lazy) in [
        (ProfileName::Neutrino, MapFlags::LAZY),
        (ProfileName::Linux, MapFlags::NORESERVE),
    ] {
        let mut m = model(p);
        let tib = 1u64 << 40;
        let flags = MapFlags::PRIVATE | MapFlags::ANON | lazy;
        let a = mapped(&mut m, P1, &mmap(0, tib, RW, flags, -1, 0));
        assert_eq!(m.committed(), 0);
        for offset in [0, tib / 2 + 123, tib - 1] {
            assert_ok(&mut m, P1, &store(a + offset, &[offset as u8 | 1]), "ACCESS-STORE-1");
        }
        // Loads never allocate.
        for offset in [PAGE, tib / 3, tib - PAGE - 1] {
            assert_eq!(read(&mut m, P1, a + offset, 16), Ok(vec![0; 16]));
        }
        assert_eq!(read(&mut m, P1, a + tib - 1, 1), Ok(vec![(tib - 1) as u8 | 1]));
        let proc = m.process(P1).unwrap();
        let region = proc.space.regions().next().unwrap();
        assert_eq!(region.len(), tib);
        assert_eq!(region.private_pages.len(), 3, "{p}");
        m.check_invariants().unwrap();
    }
}
