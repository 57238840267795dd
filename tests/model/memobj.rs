//! libmemobj (spec/memobj.md): one test per rule, named after it, in every
//! profile the rule applies to; handles, reference-counted mappings, mapping
//! into another process, and how the model judges and applies library calls.

use crate::shm::{close, load, open, read, shm_open, sized, spawn, store, user, RW};
use crate::util::*;
use mmoracle::call::Handle;
use mmoracle::model::object::ObjKind;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use ProfileName::{Linux, Neutrino, Qnx4};

const ALL: [ProfileName; 3] = ProfileName::ALL;
const QNX: [ProfileName; 2] = [Neutrino, Qnx4];
const OFF64_MAX: u64 = i64::MAX as u64;

// ---- helpers ----

fn memobj_create(nbytes: u64) -> Call {
    Call::MemobjCreate { nbytes }
}

fn memobj_map(obj: Handle, target: Pid, prot: Prot, offset: u64, nbytes: u64) -> Call {
    Call::MemobjMap {
        obj,
        target,
        prot,
        offset,
        nbytes,
    }
}

/// memobj_map into the caller (pid 0).
fn map_here(obj: Handle, prot: Prot, offset: u64, nbytes: u64) -> Call {
    memobj_map(obj, Pid(0), prot, offset, nbytes)
}

fn memobj_unmap(obj: Handle, target: Pid, vaddr: u64) -> Call {
    Call::MemobjUnmap {
        obj,
        target,
        vaddr: Addr(vaddr),
    }
}

fn handle(m: &mut Model, pid: Pid, call: &Call, rule: &str) -> Handle {
    match assert_ok(m, pid, call, rule) {
        Value::Handle(h) => h,
        other => panic!("{call:?}: expected a handle, got {other}"),
    }
}

/// A new object of `nbytes` bytes.
fn created(m: &mut Model, pid: Pid, nbytes: u64) -> Handle {
    handle(m, pid, &memobj_create(nbytes), "MEMOBJ-CREATE-1")
}

/// A handle around `fd`.
fn wrapped(m: &mut Model, pid: Pid, fd: Fd) -> Handle {
    handle(m, pid, &Call::MemobjWrap { fd }, "MEMOBJ-WRAP-1")
}

/// The address memobj_map returned, asserting the rule.
fn map_at(m: &mut Model, pid: Pid, call: &Call, rule: &str) -> u64 {
    match assert_ok(m, pid, call, rule) {
        Value::Addr(a) => a.0,
        other => panic!("{call:?}: expected an address, got {other}"),
    }
}

fn fd_count(m: &Model, pid: Pid) -> usize {
    m.process(pid).unwrap().fds().len()
}

fn region_count(m: &Model, pid: Pid) -> usize {
    m.process(pid).unwrap().space.region_count()
}

/// Fills the fd table of P1 up to a NOFILE soft limit of `n`.
fn fds_up_to(m: &mut Model, n: u64) {
    let hard = m.profile().initial_limits[Resource::RLIMIT_NOFILE.index()].max;
    setrlimit(m, Resource::RLIMIT_NOFILE, n, hard);
    while (fd_count(m, P1) as u64) < n {
        opened(m, P1, &open("/dev/zero", OFlags::RDWR));
    }
}

// ---- memobj_create ----

#[test]
fn memobj_create_1_an_unnamed_object_of_nbytes() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 3 * PAGE);
        // One fd (the handle's own), and no name left behind.
        assert_eq!(fd_count(&m, P1), 1);
        assert!(!m
            .objects()
            .iter()
            .any(|(_, o)| matches!(&o.kind, ObjKind::Shm { name: Some(_), .. })));
        let a = map_at(&mut m, P1, &map_here(h, RW, 0, 0), "MEMOBJ-MAP-1");
        assert_ok(&mut m, P1, &store(a + 3 * PAGE - 1, &[7]), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, a + 3 * PAGE - 1, 1), Ok(vec![7]));
        m.check_invariants().unwrap();
    }
}

#[test]
fn memobj_einval_2_bad_size_for_memobj_create() {
    for p in ALL {
        let mut m = model(p);
        for nbytes in [0, OFF64_MAX + 1, u64::MAX] {
            assert_err(&mut m, P1, &memobj_create(nbytes), Errno::EINVAL, "MEMOBJ-EINVAL-2");
        }
        assert_eq!(fd_count(&m, P1), 0);
    }
}

#[test]
fn memobj_eexist_1_no_unique_name_left() {
    for p in ALL {
        let mut m = model(p);
        // Take the 16 names the library tries first (`/memobj.<pid>.<n>`).
        for n in 1..=16 {
            let name = format!("/memobj.1.{n}");
            opened(&mut m, P1, &shm_open(&name, OFlags::RDWR | OFlags::CREAT, 0o600));
        }
        assert_err(&mut m, P1, &memobj_create(PAGE), Errno::EEXIST, "MEMOBJ-EEXIST-1");
        assert_eq!(fd_count(&m, P1), 16);
        // The next call moves on to fresh names.
        created(&mut m, P1, PAGE);
    }
}

#[test]
fn memobj_emfile_2_no_fd_for_a_new_object() {
    for p in ALL {
        let mut m = model(p);
        fds_up_to(&mut m, 1);
        assert_err(&mut m, P1, &memobj_create(PAGE), Errno::EMFILE, "MEMOBJ-EMFILE-2");
        let shm_objects = m
            .objects()
            .iter()
            .filter(|(_, o)| matches!(o.kind, ObjKind::Shm { .. }));
        assert_eq!(shm_objects.count(), 0);
    }
}

#[test]
fn memobj_enomem_2_no_memory_for_a_new_object() {
    // procnto allocates the object when ftruncate sizes it.
    for p in QNX {
        let mut m = model(p);
        assert_err(&mut m, P1, &memobj_create(5 << 30), Errno::ENOMEM, "MEMOBJ-ENOMEM-2");
        // The fd is closed again and the unlinked object is gone.
        assert_eq!(fd_count(&m, P1), 0);
        assert_eq!(
            m.objects()
                .iter()
                .filter(|(_, o)| matches!(o.kind, ObjKind::Shm { .. }))
                .count(),
            0
        );
        assert_eq!(m.committed(), 0);
    }
    // Linux sizes shared memory lazily.
    let mut m = model(Linux);
    created(&mut m, P1, 5 << 30);
}

// ---- memobj_wrap and memobj_share ----

#[test]
fn memobj_wrap_1_a_handle_around_the_callers_fd() {
    for p in ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/wrapped", PAGE as i64);
        let h = wrapped(&mut m, P1, fd);
        // The handle has an fd of its own: closing the caller's changes nothing.
        assert_eq!(fd_count(&m, P1), 2);
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        let a = map_at(&mut m, P1, &map_here(h, RW, 0, 0), "MEMOBJ-MAP-1");
        assert_ok(&mut m, P1, &store(a, b"wrap"), "ACCESS-SHARED-1");
        // It maps the wrapped object itself.
        let again = opened(&mut m, P1, &shm_open("/wrapped", OFlags::RDONLY, 0));
        let b = mapped(&mut m, P1, &mmap(0, PAGE, Prot::READ, MapFlags::SHARED, again.0, 0));
        assert_eq!(read(&mut m, P1, b, 4), Ok(b"wrap".to_vec()));
    }
}

#[test]
fn memobj_ebadf_2_wrapping_a_closed_fd() {
    for p in ALL {
        let mut m = model(p);
        for fd in [Fd(9), Fd::NOFD] {
            assert_err(&mut m, P1, &Call::MemobjWrap { fd }, Errno::EBADF, "MEMOBJ-EBADF-2");
        }
    }
}

#[test]
fn memobj_emfile_3_no_fd_for_a_wrapped_or_shared_handle() {
    for p in ALL {
        let mut m = model(p);
        fds_up_to(&mut m, 1);
        let wrap = Call::MemobjWrap { fd: Fd(0) };
        assert_err(&mut m, P1, &wrap, Errno::EMFILE, "MEMOBJ-EMFILE-3");
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        fds_up_to(&mut m, 2);
        let share = Call::MemobjShare { obj: h };
        assert_err(&mut m, P1, &share, Errno::EMFILE, "MEMOBJ-EMFILE-3");
    }
}

#[test]
fn memobj_share_1_a_second_handle_with_its_own_mappings() {
    for p in ALL {
        let mut m = model(p);
        let h1 = created(&mut m, P1, PAGE);
        let h2 = handle(&mut m, P1, &Call::MemobjShare { obj: h1 }, "MEMOBJ-SHARE-1");
        assert_ne!(h1, h2);
        // The same arguments through each handle are two mappings, not one
        // with two references.
        let a = map_at(&mut m, P1, &map_here(h1, RW, 0, 0), "MEMOBJ-MAP-1");
        let b = map_at(&mut m, P1, &map_here(h2, RW, 0, 0), "MEMOBJ-MAP-1");
        assert_ne!(a, b);
        assert_err(
            &mut m,
            P1,
            &memobj_unmap(h2, Pid(0), a),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-4",
        );
        // Both map the same object.
        assert_ok(&mut m, P1, &store(a, b"one object"), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, b, 10), Ok(b"one object".to_vec()));
        // Closing one handle deletes its mappings only.
        assert_ok(&mut m, P1, &Call::MemobjClose { obj: h1 }, "MEMOBJ-CLOSE-1");
        assert_eq!(read(&mut m, P1, a, 1), Err(Signal::SIGSEGV));
        assert_eq!(read(&mut m, P1, b, 10), Ok(b"one object".to_vec()));
        assert_ok(&mut m, P1, &memobj_unmap(h2, Pid(0), b), "MEMOBJ-UNMAP-1");
    }
}

// ---- memobj_map: the library's own checks ----

#[test]
fn memobj_ebadf_1_invalid_handle() {
    for p in ALL {
        let mut m = model(p);
        let nobody = Handle(77);
        let calls = |h: Handle| {
            [
                map_here(h, Prot::READ, 0, 0),
                memobj_unmap(h, Pid(0), 0x1000_0000),
                Call::MemobjShare { obj: h },
                Call::MemobjClose { obj: h },
            ]
        };
        for call in calls(nobody) {
            assert_err(&mut m, P1, &call, Errno::EBADF, "MEMOBJ-EBADF-1");
        }
        // Another process's handle is not the caller's.
        let h = created(&mut m, P1, PAGE);
        let p2 = spawn(&mut m, P1);
        for call in calls(h) {
            assert_err(&mut m, p2, &call, Errno::EBADF, "MEMOBJ-EBADF-1");
        }
        // A closed handle is gone.
        assert_ok(&mut m, P1, &Call::MemobjClose { obj: h }, "MEMOBJ-CLOSE-1");
        for call in calls(h) {
            assert_err(&mut m, P1, &call, Errno::EBADF, "MEMOBJ-EBADF-1");
        }
    }
}

#[test]
fn memobj_ebadf_3_the_handles_fd_was_closed_behind_its_back() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        // The handle's fd is the only one: 0.
        assert_ok(&mut m, P1, &close(Fd(0)), "CLOSE-OK-1");
        let call = map_here(h, Prot::READ, 0, 0);
        assert_err(&mut m, P1, &call, Errno::EBADF, "MEMOBJ-EBADF-3");
        assert_err(
            &mut m,
            P1,
            &Call::MemobjShare { obj: h },
            Errno::EBADF,
            "MEMOBJ-EBADF-3",
        );
        // The argument checks come first.
        let exec = map_here(h, Prot::EXEC, 0, 0);
        assert_err(&mut m, P1, &exec, Errno::EPERM, "MEMOBJ-EPERM-1");
    }
}

#[test]
fn memobj_einval_1_bad_prot_or_offset() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let unknown_bit = Prot::READ | Prot::from_bits_retain(0x1000);
        assert_err(
            &mut m,
            P1,
            &map_here(h, unknown_bit, 0, 0),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-1",
        );
        let negative = map_here(h, Prot::READ, OFF64_MAX + 1, 0);
        assert_err(&mut m, P1, &negative, Errno::EINVAL, "MEMOBJ-EINVAL-1");
        // PROT_NOCACHE is a protection bit.
        let nocache = map_here(h, Prot::READ | Prot::NOCACHE, 0, 0);
        assert_ok(&mut m, P1, &nocache, "MEMOBJ-MAP-1");
    }
}

#[test]
fn memobj_eperm_1_prot_exec_on_graphics_memory() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let exec = |h| map_here(h, Prot::READ | Prot::EXEC, 0, 0);
        assert_err(&mut m, P1, &exec(h), Errno::EPERM, "MEMOBJ-EPERM-1");
        let shared = handle(&mut m, P1, &Call::MemobjShare { obj: h }, "MEMOBJ-SHARE-1");
        assert_err(&mut m, P1, &exec(shared), Errno::EPERM, "MEMOBJ-EPERM-1");
        // A wrapped fd passes PROT_EXEC on to mmap.
        let fd = sized(&mut m, P1, "/code", PAGE as i64);
        let w = wrapped(&mut m, P1, fd);
        assert_ok(&mut m, P1, &exec(w), "MEMOBJ-MAP-1");
    }
}

#[test]
fn memobj_eoverflow_1_past_the_largest_offset() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let cases = [(OFF64_MAX, 1), (1, u64::MAX), (OFF64_MAX - 10, 11)];
        for (offset, nbytes) in cases {
            let call = map_here(h, Prot::READ, offset, nbytes);
            assert_err(&mut m, P1, &call, Errno::EOVERFLOW, "MEMOBJ-EOVERFLOW-1");
        }
        // Exactly the largest offset is not past it (the object's range decides).
        let call = map_here(h, Prot::READ, OFF64_MAX - 10, 10);
        assert_err(&mut m, P1, &call, Errno::ENXIO, "MEMOBJ-ENXIO-1");
    }
    // Linux's mmap checks the page-rounded end: an object of the largest
    // size mapped in its last page reaches past it.
    let mut m = model(Linux);
    let h = created(&mut m, P1, OFF64_MAX);
    let last_page = map_here(h, Prot::READ, OFF64_MAX + 1 - PAGE, 1);
    assert_err(&mut m, P1, &last_page, Errno::EOVERFLOW, "MEMOBJ-EOVERFLOW-1");
    assert_ok(&mut m, P1, &map_here(h, Prot::READ, 0, PAGE), "MEMOBJ-MAP-1");
}

#[test]
fn memobj_enxio_1_past_the_objects_valid_range() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 2 * PAGE);
        for (offset, nbytes) in [(PAGE, 2 * PAGE), (0, 2 * PAGE + 1), (3 * PAGE, 1)] {
            let call = map_here(h, Prot::READ, offset, nbytes);
            assert_err(&mut m, P1, &call, Errno::ENXIO, "MEMOBJ-ENXIO-1");
        }
        assert_ok(&mut m, P1, &map_here(h, Prot::READ, PAGE, PAGE), "MEMOBJ-MAP-1");
        // A device without a size has no valid range at all.
        let null = opened(&mut m, P1, &open("/dev/null", OFlags::RDWR));
        let w = wrapped(&mut m, P1, null);
        let call = map_here(w, Prot::READ, 0, PAGE);
        assert_err(&mut m, P1, &call, Errno::ENXIO, "MEMOBJ-ENXIO-1");
        assert_eq!(m.evaluate(P1, &call).allows(&Outcome::Err(Errno::ENODEV), false), None);
    }
}

#[test]
fn memobj_enxio_2_nbytes_zero_past_the_end() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        for offset in [PAGE, 5 * PAGE] {
            let call = map_here(h, Prot::READ, offset, 0);
            let v = m.evaluate(P1, &call);
            // The alternative reading, "a parameter is invalid", is allowed.
            assert_eq!(v.allows(&Outcome::Err(Errno::EINVAL), false), Some("MEMOBJ-ENXIO-2"));
            assert_err(&mut m, P1, &call, Errno::ENXIO, "MEMOBJ-ENXIO-2");
        }
        let empty = opened(&mut m, P1, &shm_open("/empty", OFlags::RDWR | OFlags::CREAT, 0o600));
        let w = wrapped(&mut m, P1, empty);
        assert_err(
            &mut m,
            P1,
            &map_here(w, Prot::READ, 0, 0),
            Errno::ENXIO,
            "MEMOBJ-ENXIO-2",
        );
    }
}

#[test]
fn memobj_map_1_nbytes_zero_maps_from_offset_to_the_end() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 3 * PAGE + 100);
        let a = map_at(&mut m, P1, &map_here(h, RW, PAGE, 0), "MEMOBJ-MAP-1");
        let region = m.process(P1).unwrap().space.region_at(Addr(a)).unwrap();
        // 2 pages + 100 bytes, in whole pages.
        assert_eq!(region.len(), 3 * PAGE);
        assert_eq!(region.offset, PAGE);
        assert_ok(&mut m, P1, &store(a + 2 * PAGE + 99, &[1]), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, a + 3 * PAGE, 1), Err(Signal::SIGSEGV));
        // The object need not be locked, and the caller is pid 0 or its own pid.
        assert_eq!(m.process(P1).unwrap().space.counters().locked, 0);
        let own = memobj_map(h, P1, Prot::READ, 0, PAGE);
        let b = map_at(&mut m, P1, &own, "MEMOBJ-MAP-1");
        assert_eq!(region_count(&m, P1), 2);
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), b), "MEMOBJ-UNMAP-1");
    }
}

#[test]
fn memobj_einval_3_linux_refuses_a_sub_page_offset() {
    let mut m = model(Linux);
    let h = created(&mut m, P1, 2 * PAGE);
    let call = map_here(h, Prot::READ, 100, 100);
    assert_err(&mut m, P1, &call, Errno::EINVAL, "MEMOBJ-EINVAL-3");
    // procnto keeps the offset's position in the page.
    for p in QNX {
        let mut m = model(p);
        let h = created(&mut m, P1, 2 * PAGE);
        let a = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
        assert_eq!(a % PAGE, 100);
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), a), "MEMOBJ-UNMAP-1");
        assert_eq!(region_count(&m, P1), 0);
    }
}

// ---- reference counting, unmap and close ----

#[test]
fn memobj_refcount_1_the_same_mapping_again() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 2 * PAGE);
        let call = map_here(h, RW, 0, PAGE);
        let a = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
        assert_eq!(map_at(&mut m, P1, &call, "MEMOBJ-REFCOUNT-1"), a);
        assert_eq!(region_count(&m, P1), 1);
        // Any other argument makes another mapping.
        for other in [
            map_here(h, Prot::READ, 0, PAGE),
            map_here(h, RW, PAGE, PAGE),
            map_here(h, RW, 0, 0),
        ] {
            assert_ne!(map_at(&mut m, P1, &other, "MEMOBJ-MAP-1"), a);
        }
    }
}

#[test]
fn memobj_unmap_2_a_reference_dropped_and_unmap_1_the_last() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let call = map_here(h, RW, 0, 0);
        let a = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
        map_at(&mut m, P1, &call, "MEMOBJ-REFCOUNT-1");
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), a), "MEMOBJ-UNMAP-2");
        assert_ok(&mut m, P1, &store(a, b"kept"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), a), "MEMOBJ-UNMAP-1");
        assert_eq!(m.step(P1, &load(a, 1)).outcome, Outcome::Fault(Signal::SIGSEGV));
        assert_err(
            &mut m,
            P1,
            &memobj_unmap(h, Pid(0), a),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-4",
        );
        // Mapped again, the contents are still there: the handle keeps the object.
        let b = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
        assert_eq!(read(&mut m, P1, b, 4), Ok(b"kept".to_vec()));
    }
}

#[test]
fn memobj_einval_4_unmapping_what_the_handle_did_not_map() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let other = created(&mut m, P1, PAGE);
        let a = map_at(&mut m, P1, &map_here(other, RW, 0, 0), "MEMOBJ-MAP-1");
        assert_err(
            &mut m,
            P1,
            &memobj_unmap(h, Pid(0), a),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-4",
        );
        assert_err(
            &mut m,
            P1,
            &memobj_unmap(h, Pid(0), 0x1000_0000),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-4",
        );
        // A mapping by plain mmap is not the handle's either.
        let plain = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &memobj_unmap(h, Pid(0), plain),
            Errno::EINVAL,
            "MEMOBJ-EINVAL-4",
        );
        assert_eq!(read(&mut m, P1, a, 1), Ok(vec![0]));
    }
}

#[test]
fn memobj_close_1_deletes_the_mappings_but_not_the_wrapped_fd() {
    for p in ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/kept", 2 * PAGE as i64);
        let h = wrapped(&mut m, P1, fd);
        let a = map_at(&mut m, P1, &map_here(h, RW, 0, PAGE), "MEMOBJ-MAP-1");
        map_at(&mut m, P1, &map_here(h, RW, 0, PAGE), "MEMOBJ-REFCOUNT-1");
        let b = map_at(&mut m, P1, &map_here(h, RW, PAGE, PAGE), "MEMOBJ-MAP-1");
        assert_ok(&mut m, P1, &store(b, b"survives"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &Call::MemobjClose { obj: h }, "MEMOBJ-CLOSE-1");
        // Every mapping went, whatever its reference count.
        for addr in [a, b] {
            assert_eq!(read(&mut m, P1, addr, 1), Err(Signal::SIGSEGV));
        }
        // The caller's fd still works; the handle's own is closed.
        assert_eq!(fd_count(&m, P1), 1);
        let c = mapped(&mut m, P1, &mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, PAGE));
        assert_eq!(read(&mut m, P1, c, 8), Ok(b"survives".to_vec()));
        assert_err(
            &mut m,
            P1,
            &Call::MemobjClose { obj: h },
            Errno::EBADF,
            "MEMOBJ-EBADF-1",
        );
        m.check_invariants().unwrap();
    }
}

#[test]
fn memobj_close_2_closing_null() {
    for p in ALL {
        let mut m = model(p);
        created(&mut m, P1, PAGE);
        let before = format!("{m:?}");
        assert_ok(&mut m, P1, &Call::MemobjClose { obj: Handle(0) }, "MEMOBJ-CLOSE-2");
        assert_eq!(format!("{m:?}"), before);
    }
}

#[test]
fn memobj_emfile_1_the_handles_mapping_list_is_full() {
    use mmoracle::api::memobj::MAX_MAPPINGS;
    for p in ALL {
        let mut m = model(p);
        m.set_step_checks(false);
        let h = created(&mut m, P1, 2 * PAGE);
        // Distinct lengths make distinct mappings.
        for nbytes in 1..=MAX_MAPPINGS as u64 {
            map_at(&mut m, P1, &map_here(h, Prot::READ, 0, nbytes), "MEMOBJ-MAP-1");
        }
        let one_more = map_here(h, Prot::READ, 0, MAX_MAPPINGS as u64 + 1);
        assert_err(&mut m, P1, &one_more, Errno::EMFILE, "MEMOBJ-EMFILE-1");
        // A repeat is not a new mapping; another handle has its own list.
        map_at(&mut m, P1, &map_here(h, Prot::READ, 0, 1), "MEMOBJ-REFCOUNT-1");
        let h2 = handle(&mut m, P1, &Call::MemobjShare { obj: h }, "MEMOBJ-SHARE-1");
        map_at(&mut m, P1, &map_here(h2, Prot::READ, 0, 0), "MEMOBJ-MAP-1");
        // Unmapping one makes room.
        let first = map_at(&mut m, P1, &map_here(h, Prot::READ, 0, 2), "MEMOBJ-REFCOUNT-1");
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), first), "MEMOBJ-UNMAP-2");
        assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), first), "MEMOBJ-UNMAP-1");
        assert_ok(&mut m, P1, &one_more, "MEMOBJ-MAP-1");
        m.check_invariants().unwrap();
    }
}

// ---- errors of the underlying mmap ----

#[test]
fn memobj_enomem_1_no_address_space() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 4 * PAGE);
        setrlimit(&mut m, Resource::RLIMIT_AS, 2 * PAGE, 2 * PAGE);
        let call = map_here(h, RW, 0, 0);
        let v = m.evaluate(P1, &call);
        // The document ties EMFILE to RLIMIT_AS: allowed too.
        assert_eq!(v.allows(&Outcome::Err(Errno::EMFILE), false), Some("MEMOBJ-ENOMEM-1"));
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "MEMOBJ-ENOMEM-1");
        assert_eq!(region_count(&m, P1), 0);
    }
}

#[test]
fn memobj_eagain_1_mlockall_could_not_lock_the_mapping() {
    for p in ALL {
        let mut m = model(p);
        if p == Linux {
            // CAP_IPC_LOCK lifts the limit on Linux; drop it.
            assert_ok(&mut m, P1, &crate::shm::cred(0, false), "PROC-CRED-1");
        }
        setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 2 * PAGE, 2 * PAGE);
        let future = Call::Mlockall {
            flags: MclFlags::FUTURE,
        };
        assert_ok(&mut m, P1, &future, "LOCK-MLOCKALL-1");
        let h = created(&mut m, P1, 4 * PAGE);
        let call = map_here(h, RW, 0, 0);
        let v = m.evaluate(P1, &call);
        // The document also lists ENOMEM for a lock mlockall requires.
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("MEMOBJ-EAGAIN-1"));
        assert_err(&mut m, P1, &call, Errno::EAGAIN, "MEMOBJ-EAGAIN-1");
        assert_ok(&mut m, P1, &map_here(h, RW, 0, PAGE), "MEMOBJ-MAP-1");
        assert_eq!(m.process(P1).unwrap().space.counters().locked, PAGE);
    }
}

#[test]
fn memobj_eacces_1_the_wrapped_fd_is_not_usable() {
    for p in ALL {
        let mut m = model(p);
        sized(&mut m, P1, "/ro", PAGE as i64);
        let ro = opened(&mut m, P1, &shm_open("/ro", OFlags::RDONLY, 0));
        let w = wrapped(&mut m, P1, ro);
        assert_err(&mut m, P1, &map_here(w, RW, 0, 0), Errno::EACCES, "MEMOBJ-EACCES-1");
        assert_ok(&mut m, P1, &map_here(w, Prot::READ, 0, 0), "MEMOBJ-MAP-1");
    }
    // A server's file: the server refuses write access to a read-only open.
    for p in QNX {
        let mut m = model(p);
        let fd = server_file(&mut m, "iofunc", OFlags::RDONLY);
        let w = wrapped(&mut m, P1, fd);
        assert_err(&mut m, P1, &map_here(w, RW, 0, 0), Errno::EACCES, "MEMOBJ-EACCES-1");
    }
}

/// A one-page file of the modelled server whose `_IO_MMAP` handler is
/// `handler`, opened by P1 with `oflag`.
fn server_file(m: &mut Model, handler: &str, oflag: OFlags) -> Fd {
    let file = Call::ResmgrFile {
        path: "/srv/fb".into(),
        mode: 0o644,
        uid: 0,
        data: Vec::new(),
        size: PAGE,
        readonly: false,
        fs: mmoracle::types::FileSystem::Disk,
        mandatory_lock: false,
        ocb_alloc_fails: false,
        mmap: handler.into(),
    };
    assert_ok(m, P1, &file, "RESMGR-FILE-1");
    opened(m, P1, &open("/srv/fb", oflag))
}

#[test]
fn memobj_enodev_1_the_wrapped_fd_does_not_support_mmap() {
    for p in QNX {
        let mut m = model(p);
        let fd = server_file(&mut m, "none", OFlags::RDWR);
        let w = wrapped(&mut m, P1, fd);
        assert_err(&mut m, P1, &map_here(w, RW, 0, 0), Errno::ENODEV, "MEMOBJ-ENODEV-1");
    }
    // Into another process too: the server's ENOSYS is not "no peer mapping".
    let mut m = model(Neutrino);
    let fd = server_file(&mut m, "none", OFlags::RDWR);
    let w = wrapped(&mut m, P1, fd);
    let p2 = spawn(&mut m, P1);
    let call = memobj_map(w, p2, Prot::READ, 0, 0);
    assert_err(&mut m, P1, &call, Errno::ENODEV, "MEMOBJ-ENODEV-1");
}

#[test]
fn memobj_ebusy_1_the_resource_is_busy() {
    for p in QNX {
        let mut m = model(p);
        let fd = server_file(&mut m, "EBUSY", OFlags::RDWR);
        let w = wrapped(&mut m, P1, fd);
        assert_err(&mut m, P1, &map_here(w, RW, 0, 0), Errno::EBUSY, "MEMOBJ-EBUSY-1");
    }
}

// ---- mapping into another process ----

#[test]
fn memobj_map_1_into_another_process() {
    let mut m = model(Neutrino);
    let p2 = spawn(&mut m, P1);
    let h = created(&mut m, P1, PAGE);
    let mine = map_at(&mut m, P1, &map_here(h, RW, 0, 0), "MEMOBJ-MAP-1");
    assert_ok(&mut m, P1, &store(mine, b"to p2"), "ACCESS-SHARED-1");
    assert_ok(&mut m, P1, &memobj_unmap(h, Pid(0), mine), "MEMOBJ-UNMAP-1");
    let call = memobj_map(h, p2, Prot::READ, 0, 0);
    let theirs = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
    assert_eq!(read(&mut m, p2, theirs, 5), Ok(b"to p2".to_vec()));
    assert_eq!(map_at(&mut m, P1, &call, "MEMOBJ-REFCOUNT-1"), theirs);
    // The address belongs to p2: unmapping it from the caller is no match.
    assert_err(
        &mut m,
        P1,
        &memobj_unmap(h, Pid(0), theirs),
        Errno::EINVAL,
        "MEMOBJ-EINVAL-4",
    );
    assert_ok(&mut m, P1, &memobj_unmap(h, p2, theirs), "MEMOBJ-UNMAP-2");
    assert_ok(&mut m, P1, &memobj_unmap(h, p2, theirs), "MEMOBJ-UNMAP-1");
    assert_eq!(read(&mut m, p2, theirs, 1), Err(Signal::SIGSEGV));
    // Closing the handle removes its mappings in other processes too.
    let again = map_at(&mut m, P1, &call, "MEMOBJ-MAP-1");
    assert_ok(&mut m, P1, &Call::MemobjClose { obj: h }, "MEMOBJ-CLOSE-1");
    assert_eq!(read(&mut m, p2, again, 1), Err(Signal::SIGSEGV));
    assert_eq!(region_count(&m, p2), 0);
}

#[test]
fn memobj_esrch_1_no_such_process() {
    let mut m = model(Neutrino);
    let h = created(&mut m, P1, PAGE);
    let into = |pid| memobj_map(h, pid, Prot::READ, 0, 0);
    assert_err(&mut m, P1, &into(Pid(42)), Errno::ESRCH, "MEMOBJ-ESRCH-1");
    // A process that exited: its mappings went with it, so the same call
    // again is not a reference to them.
    let p2 = spawn(&mut m, P1);
    let a = map_at(&mut m, P1, &into(p2), "MEMOBJ-MAP-1");
    assert_ok(&mut m, p2, &Call::Exit {}, "PROC-EXIT-1");
    assert_err(&mut m, P1, &into(p2), Errno::ESRCH, "MEMOBJ-ESRCH-1");
    assert_err(&mut m, P1, &memobj_unmap(h, p2, a), Errno::EINVAL, "MEMOBJ-EINVAL-4");
    // Unmapping from an exited process before that has nothing left to do.
    let p3 = spawn(&mut m, P1);
    let b = map_at(&mut m, P1, &into(p3), "MEMOBJ-MAP-1");
    assert_ok(&mut m, p3, &Call::Exit {}, "PROC-EXIT-1");
    assert_ok(&mut m, P1, &memobj_unmap(h, p3, b), "MEMOBJ-UNMAP-1");
}

#[test]
fn memobj_esrch_1_comes_before_not_supported_in_every_profile() {
    // Issue 10 point 3: a pid that does not exist is ESRCH, also where
    // mmap_peer does not exist (qnx4, linux), before MEMOBJ-EINVAL-5.
    for p in ProfileName::ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let call = memobj_map(h, Pid(42), Prot::READ, 0, 0);
        assert_err(&mut m, P1, &call, Errno::ESRCH, "MEMOBJ-ESRCH-1");
        let p2 = spawn(&mut m, P1);
        assert_ok(&mut m, p2, &Call::Exit {}, "PROC-EXIT-1");
        assert_err(
            &mut m,
            P1,
            &memobj_map(h, p2, Prot::READ, 0, 0),
            Errno::ESRCH,
            "MEMOBJ-ESRCH-1",
        );
        if !p.profile().has_mmap_peer {
            let p3 = spawn(&mut m, P1);
            let call = memobj_map(h, p3, Prot::READ, 0, 0);
            assert_err(&mut m, P1, &call, Errno::EINVAL, "MEMOBJ-EINVAL-5");
        }
    }
}

#[test]
fn memobj_eperm_2_not_allowed_to_map_into_that_process() {
    let mut m = model(Neutrino);
    let alice = user(&mut m, 100);
    let bob = user(&mut m, 200);
    let h = created(&mut m, alice, PAGE);
    let call = memobj_map(h, bob, Prot::READ, 0, 0);
    assert_err(&mut m, alice, &call, Errno::EPERM, "MEMOBJ-EPERM-2");
    assert_eq!(region_count(&m, bob), 0);
    // Its own pid, written out, is the caller: a plain mmap.
    assert_ok(&mut m, alice, &memobj_map(h, alice, Prot::READ, 0, 0), "MEMOBJ-MAP-1");
    let alice2 = user(&mut m, 100);
    assert_ok(&mut m, alice, &memobj_map(h, alice2, Prot::READ, 0, 0), "MEMOBJ-MAP-1");
}

#[test]
fn memobj_einval_5_no_mapping_into_another_process_on_qnx4_or_linux() {
    for p in [Qnx4, Linux] {
        let mut m = model(p);
        let p2 = spawn(&mut m, P1);
        let h = created(&mut m, P1, PAGE);
        let call = memobj_map(h, p2, Prot::READ, 0, 0);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MEMOBJ-EINVAL-5");
        assert_eq!(region_count(&m, p2), 0);
    }
}

#[test]
fn memobj_errno_1_munmap_peer_refused_after_the_caller_dropped_root() {
    let mut m = model(Neutrino);
    let p2 = user(&mut m, 100);
    let h = created(&mut m, P1, PAGE);
    let a = map_at(&mut m, P1, &memobj_map(h, p2, Prot::READ, 0, 0), "MEMOBJ-MAP-1");
    assert_ok(&mut m, P1, &crate::shm::cred(200, false), "PROC-CRED-1");
    let unmap = memobj_unmap(h, p2, a);
    assert_err(&mut m, P1, &unmap, Errno::EPERM, "MEMOBJ-ERRNO-1");
    // The pages are still there, and the handle still has the mapping.
    assert_eq!(read(&mut m, p2, a, 1), Ok(vec![0]));
    assert_err(&mut m, P1, &unmap, Errno::EPERM, "MEMOBJ-ERRNO-1");
}

#[test]
fn memobj_errno_2_withdrawn_into_errno_1() {
    let rule = mmoracle::spec::rule("MEMOBJ-ERRNO-2").expect("IDs are never reused");
    assert!(rule.condition.starts_with("withdrawn"), "{}", rule.condition);
    let source = include_str!("../../src/api/memobj.rs");
    assert!(!source.contains(&format!("\"{}\"", "MEMOBJ-ERRNO-2")));
}

// ---- judging and applying library calls ----

#[test]
fn evaluating_a_library_call_changes_nothing() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, 2 * PAGE);
        let a = map_at(&mut m, P1, &map_here(h, RW, 0, PAGE), "MEMOBJ-MAP-1");
        let calls = [
            memobj_create(PAGE),
            Call::MemobjWrap { fd: Fd(0) },
            map_here(h, RW, PAGE, PAGE),
            map_here(h, RW, 0, PAGE),
            memobj_unmap(h, Pid(0), a),
            Call::MemobjShare { obj: h },
            Call::MemobjClose { obj: h },
        ];
        for call in &calls {
            let before = format!("{m:?}");
            let v = m.evaluate(P1, call);
            assert!(v.outcome.is_ok(), "{call:?}: {v:?}");
            assert_eq!(format!("{m:?}"), before, "{call:?}");
            m.check_invariants().unwrap();
        }
        // The same verdict twice: nothing a first evaluation did is seen by a second.
        assert_eq!(m.evaluate(P1, &calls[0]), m.evaluate(P1, &calls[0]));
    }
}

#[test]
fn apply_adopts_the_implementations_free_address_for_memobj_map() {
    for p in ALL {
        let mut m = model(p);
        let h = created(&mut m, P1, PAGE);
        let call = map_here(h, RW, 0, 0);
        let Outcome::Ok(Value::Addr(model_addr)) = m.evaluate(P1, &call).outcome else {
            panic!("memobj_map should succeed");
        };
        let chosen = Addr(p.profile().arena);
        assert_ne!(chosen, model_addr);
        assert_eq!(m.apply(P1, &call, &Outcome::Ok(Value::Addr(chosen))), Ok(()));
        assert_ok(&mut m, P1, &store(chosen.0, b"adopted"), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, chosen.0, 7), Ok(b"adopted".to_vec()));
        assert_eq!(read(&mut m, P1, model_addr.0, 1), Err(Signal::SIGSEGV));
        // The handle recorded the adopted address.
        assert_eq!(map_at(&mut m, P1, &call, "MEMOBJ-REFCOUNT-1"), chosen.0);
        // An address that is taken cannot be the implementation's choice.
        let other = map_here(h, Prot::READ, 0, 0);
        assert!(m.apply(P1, &other, &Outcome::Ok(Value::Addr(chosen))).is_err());
        m.check_invariants().unwrap();
    }
}

#[test]
fn apply_adopts_the_implementations_handle() {
    for p in ALL {
        let mut m = model(p);
        let call = memobj_create(PAGE);
        assert_eq!(m.apply(P1, &call, &Outcome::Ok(Value::Handle(Handle(500)))), Ok(()));
        assert_ok(&mut m, P1, &map_here(Handle(500), RW, 0, 0), "MEMOBJ-MAP-1");
        // An allowed error where the library would succeed changes nothing.
        let before = format!("{m:?}");
        let map = map_here(Handle(500), RW, 0, PAGE);
        assert_eq!(m.apply(P1, &map, &Outcome::Err(Errno::ENOMEM)), Ok(()));
        assert_eq!(format!("{m:?}"), before);
    }
}
