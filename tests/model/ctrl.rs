//! munmap, mprotect and msync (spec/munmap-mprotect.md). Each rule test is
//! named after its rule and asserts the outcome and the deciding rule in every
//! profile the rule applies to.

use crate::util::*;
use mmoracle::model::space::Counters;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, Profile, ProfileName, Value};

/// The profiles that run procnto's check lists.
pub(crate) const PROCNTO: [ProfileName; 2] = [ProfileName::Neutrino, ProfileName::Qnx4];
/// Every profile.
pub(crate) const ALL: [ProfileName; 3] = ProfileName::ALL;
const LINUX: ProfileName = ProfileName::Linux;

pub(crate) fn munmap(addr: u64, len: u64) -> Call {
    Call::Munmap {
        addr: Addr(addr),
        len: Len(len),
    }
}

pub(crate) fn mprotect(addr: u64, len: u64, prot: Prot) -> Call {
    Call::Mprotect {
        addr: Addr(addr),
        len: Len(len),
        prot,
    }
}

fn msync(addr: u64, len: u64, flags: MsyncFlags) -> Call {
    Call::Msync {
        addr: Addr(addr),
        len: Len(len),
        flags,
    }
}

pub(crate) fn mlock(addr: u64, len: u64) -> Call {
    Call::Mlock {
        addr: Addr(addr),
        len: Len(len),
    }
}

fn store(addr: u64, data: &[u8]) -> Call {
    Call::Store {
        addr: Addr(addr),
        data: data.to_vec(),
    }
}

fn load(addr: u64, len: u64) -> Call {
    Call::Load {
        addr: Addr(addr),
        len: Len(len),
    }
}

/// Private anonymous memory with `prot`, anywhere.
pub(crate) fn anon_with(len: u64, prot: Prot) -> Call {
    mmap(0, len, prot, MapFlags::PRIVATE | MapFlags::ANON, -1, 0)
}

/// Private anonymous memory with `prot`, exactly at `addr`.
pub(crate) fn anon_at(addr: u64, len: u64, prot: Prot) -> Call {
    mmap(
        addr,
        len,
        prot,
        MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED,
        -1,
        0,
    )
}

/// The protection of the page at `addr`, `None` when it is not mapped.
pub(crate) fn prot_at(m: &Model, addr: u64) -> Option<Prot> {
    m.process(P1).unwrap().space.region_at(Addr(addr)).map(|r| r.prot)
}

pub(crate) fn counters(m: &Model) -> Counters {
    m.process(P1).unwrap().space.counters()
}

pub(crate) fn region_count(m: &Model) -> usize {
    m.process(P1).unwrap().space.region_count()
}

/// A named profile with a different region limit.
pub(crate) fn with_region_limit(p: ProfileName, max_regions: usize) -> Model {
    let profile = Profile {
        max_regions,
        ..*p.profile()
    };
    Model::with_profile(Box::leak(Box::new(profile)))
}

/// Maps `pages` pages of the shared-memory object `name` through an fd opened
/// read-only: MAP_SHARED, PROT_READ, at `at` (MAP_FIXED) or anywhere (0).
/// Returns the address and the read-only fd.
pub(crate) fn read_only_shared(m: &mut Model, name: &str, pages: u64, at: u64) -> (u64, Fd) {
    let rw = opened(
        m,
        P1,
        &Call::ShmOpen {
            name: name.into(),
            oflag: OFlags::CREAT | OFlags::RDWR,
            mode: 0o600,
        },
    );
    let size = (pages * PAGE) as i64;
    assert_eq!(
        m.step(P1, &Call::Ftruncate { fd: rw, len: size }).outcome,
        Outcome::UNIT
    );
    assert_eq!(m.step(P1, &Call::Close { fd: rw }).outcome, Outcome::UNIT);
    let ro = opened(
        m,
        P1,
        &Call::ShmOpen {
            name: name.into(),
            oflag: OFlags::RDONLY,
            mode: 0,
        },
    );
    let flags = if at == 0 {
        MapFlags::SHARED
    } else {
        MapFlags::SHARED | MapFlags::FIXED
    };
    let addr = mapped(m, P1, &mmap(at, pages * PAGE, Prot::READ, flags, ro.0, 0));
    (addr, ro)
}

/// Three read-only private pages with the middle one unmapped: `[r, hole, r]`.
fn with_hole(m: &mut Model) -> u64 {
    let a = mapped(m, P1, &anon_with(3 * PAGE, Prot::READ));
    assert_ok(m, P1, &munmap(a + PAGE, PAGE), "MUNMAP-OK-1");
    a
}

// ------------------------------------------------------------------ munmap

#[test]
fn munmap_einval_1_zero_length() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(&mut m, P1, &munmap(a, 0), Errno::EINVAL, "MUNMAP-EINVAL-1");
        assert_eq!(region_count(&m), 1, "{p}: nothing unmapped");
    }
    // procnto checks the length first; Linux checks the alignment first.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(&mut m, P1, &munmap(a + 1, 0), Errno::EINVAL, "MUNMAP-EINVAL-1");
    }
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_err(&mut m, P1, &munmap(a + 1, 0), Errno::EINVAL, "MUNMAP-EINVAL-2");
}

#[test]
fn munmap_einval_2_unaligned_address() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(2 * PAGE));
    assert_err(&mut m, P1, &munmap(a + 100, PAGE), Errno::EINVAL, "MUNMAP-EINVAL-2");
    assert_eq!(counters(&m).total, 2 * PAGE);
}

#[test]
fn munmap_ok_1_procnto_widens_an_unaligned_range_to_whole_pages() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        // [a + 100, a + 4196) touches the first two pages: both go.
        assert_ok(&mut m, P1, &munmap(a + 100, PAGE), "MUNMAP-OK-1");
        assert_eq!(prot_at(&m, a), None, "{p}");
        assert_eq!(prot_at(&m, a + PAGE), None, "{p}");
        assert!(prot_at(&m, a + 2 * PAGE).is_some(), "{p}");
        assert_eq!(counters(&m).total, PAGE, "{p}");
    }
}

#[test]
fn munmap_einval_3_outside_the_user_address_space() {
    for p in ALL {
        let mut m = model(p);
        let top = m.profile().user_end;
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &munmap(top - PAGE, 2 * PAGE),
            Errno::EINVAL,
            "MUNMAP-EINVAL-3",
        );
        assert_err(&mut m, P1, &munmap(top, PAGE), Errno::EINVAL, "MUNMAP-EINVAL-3");
        // A wrapping length: procnto truncates it to the top of the address
        // space, which lies outside; Linux refuses len > TASK_SIZE - addr.
        assert_err(&mut m, P1, &munmap(a, u64::MAX), Errno::EINVAL, "MUNMAP-EINVAL-3");
        assert_eq!(counters(&m).total, PAGE, "{p}: nothing unmapped");
    }
    // Below the user range: procnto's address space starts at user_start;
    // Linux has no lower bound, so unmapping page 0 (never mapped) succeeds.
    for p in PROCNTO {
        assert_err(&mut model(p), P1, &munmap(0, PAGE), Errno::EINVAL, "MUNMAP-EINVAL-3");
    }
    assert_ok(&mut model(LINUX), P1, &munmap(0, PAGE), "MUNMAP-OK-1");
}

#[test]
fn munmap_enomem_1_splitting_a_region_at_the_region_limit() {
    for p in ALL {
        let mut m = with_region_limit(p, 3);
        let a = mapped(&mut m, P1, &anon(4 * PAGE));
        let b = mapped(&mut m, P1, &anon(PAGE));
        mapped(&mut m, P1, &anon(PAGE));
        assert_eq!(region_count(&m), 3);
        // The middle of one region would leave four regions.
        assert_err(&mut m, P1, &munmap(a + PAGE, PAGE), Errno::ENOMEM, "MUNMAP-ENOMEM-1");
        assert_eq!(counters(&m).total, 6 * PAGE, "{p}: nothing unmapped");
        // Cutting an end or removing a whole region never needs a new region.
        assert_ok(&mut m, P1, &munmap(a, PAGE), "MUNMAP-OK-1");
        assert_ok(&mut m, P1, &munmap(b, PAGE), "MUNMAP-OK-1");
        assert_eq!(region_count(&m), 2, "{p}");
        assert_eq!(counters(&m).total, 4 * PAGE, "{p}");
    }
}

#[test]
fn munmap_ok_1_splits_a_region_and_keeps_the_rest() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        for i in 0..3u8 {
            assert_eq!(
                m.step(P1, &store(a + u64::from(i) * PAGE, &[i + 1; 4])).outcome,
                Outcome::UNIT
            );
        }
        assert_ok(&mut m, P1, &mlock(a, 3 * PAGE), "LOCK-MLOCK-1");
        let before = counters(&m);
        assert_eq!(before.total, 3 * PAGE, "{p}");
        assert_eq!(
            before.data,
            3 * PAGE,
            "{p}: private writable anonymous memory is data everywhere"
        );

        assert_ok(&mut m, P1, &munmap(a + PAGE, PAGE), "MUNMAP-OK-1");
        assert_eq!(region_count(&m), 2, "{p}");
        let after = counters(&m);
        assert_eq!(
            (after.total, after.data, after.locked),
            (2 * PAGE, 2 * PAGE, 2 * PAGE),
            "{p}"
        );
        assert_eq!(
            m.step(P1, &load(a, 4)).outcome,
            Outcome::Ok(Value::Bytes(vec![1; 4])),
            "{p}"
        );
        assert_eq!(
            m.step(P1, &load(a + 2 * PAGE, 4)).outcome,
            Outcome::Ok(Value::Bytes(vec![3; 4])),
            "{p}"
        );
        assert_eq!(
            m.step(P1, &load(a + PAGE, 1)).outcome,
            Outcome::Fault(Signal::SIGSEGV),
            "{p}"
        );
        // A range over holes and nothing at all is fine.
        assert_ok(&mut m, P1, &munmap(a, 3 * PAGE), "MUNMAP-OK-1");
        assert_ok(&mut m, P1, &munmap(a, 3 * PAGE), "MUNMAP-OK-1");
        assert_eq!(counters(&m), Counters::default(), "{p}");
        m.check_invariants().unwrap();
    }
}

// ---------------------------------------------------------------- mprotect

#[test]
fn mprot_einval_1_unknown_protection_bits() {
    let unknown = Prot::from_bits_retain(0x1000);
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &mprotect(a, PAGE, Prot::READ | unknown),
            Errno::EINVAL,
            "MPROT-EINVAL-1",
        );
        assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE), "{p}");
    }
    // PROT_NOCACHE is a procnto bit; Linux has none.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_ok(&mut m, P1, &mprotect(a, PAGE, Prot::READ | Prot::NOCACHE), "MPROT-OK-1");
        // Checked first: with length 0 as well, both failures are allowed.
        let v = m.evaluate(P1, &mprotect(a, 0, unknown));
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EINVAL), "MPROT-EINVAL-1")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("MPROT-ENOMEM-1"));
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), true), None);
    }
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_err(
        &mut m,
        P1,
        &mprotect(a, PAGE, Prot::READ | Prot::NOCACHE),
        Errno::EINVAL,
        "MPROT-EINVAL-1",
    );
    // Linux checks the bits only after the length.
    assert_ok(&mut m, P1, &mprotect(a, 0, unknown), "MPROT-OK-2");
}

#[test]
fn mprot_einval_2_unaligned_address() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(2 * PAGE));
    assert_err(
        &mut m,
        P1,
        &mprotect(a + 1, PAGE, Prot::READ),
        Errno::EINVAL,
        "MPROT-EINVAL-2",
    );
    assert_err(
        &mut m,
        P1,
        &mprotect(a + 1, 0, Prot::READ),
        Errno::EINVAL,
        "MPROT-EINVAL-2",
    );
    assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE));
    // procnto widens the range to the pages it touches.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        assert_ok(&mut m, P1, &mprotect(a + 1, PAGE, Prot::READ), "MPROT-OK-1");
        assert_eq!(prot_at(&m, a), Some(Prot::READ), "{p}");
        assert_eq!(prot_at(&m, a + PAGE), Some(Prot::READ), "{p}");
        assert_eq!(prot_at(&m, a + 2 * PAGE), Some(Prot::READ | Prot::WRITE), "{p}");
    }
}

#[test]
fn mprot_enomem_1_zero_length_on_procnto() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(&mut m, P1, &mprotect(a, 0, Prot::READ), Errno::ENOMEM, "MPROT-ENOMEM-1");
        assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE), "{p}");
    }
}

#[test]
fn mprot_ok_2_zero_length_succeeds_on_linux() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &mprotect(a, 0, Prot::READ), "MPROT-OK-2");
    assert_ok(&mut m, P1, &mprotect(0, 0, Prot::NONE), "MPROT-OK-2");
    assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE));
}

#[test]
fn mprot_enomem_5_range_wraps_or_leaves_the_address_space() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        // procnto truncates and lands outside; Linux's PAGE_ALIGN wraps to 0.
        assert_err(
            &mut m,
            P1,
            &mprotect(a, u64::MAX, Prot::READ),
            Errno::ENOMEM,
            "MPROT-ENOMEM-5",
        );
        assert_err(
            &mut m,
            P1,
            &mprotect(a, u64::MAX - 2 * PAGE, Prot::READ),
            Errno::ENOMEM,
            "MPROT-ENOMEM-5",
        );
        assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE), "{p}");
    }
    // Past the top without wrapping: outside for procnto, a hole for Linux.
    for p in PROCNTO {
        let mut m = model(p);
        let top = m.profile().user_end;
        assert_err(
            &mut m,
            P1,
            &mprotect(top - PAGE, 2 * PAGE, Prot::READ),
            Errno::ENOMEM,
            "MPROT-ENOMEM-5",
        );
    }
    let mut m = model(LINUX);
    let top = m.profile().user_end;
    assert_err(
        &mut m,
        P1,
        &mprotect(top - PAGE, 2 * PAGE, Prot::READ),
        Errno::ENOMEM,
        "MPROT-ENOMEM-2",
    );
}

#[test]
fn mprot_enomem_2_a_page_is_not_mapped() {
    // procnto refuses the hole before changing anything.
    for p in PROCNTO {
        let mut m = model(p);
        let a = with_hole(&mut m);
        assert_err(
            &mut m,
            P1,
            &mprotect(a, 3 * PAGE, Prot::READ | Prot::WRITE),
            Errno::ENOMEM,
            "MPROT-ENOMEM-2",
        );
        assert_eq!(prot_at(&m, a), Some(Prot::READ), "{p}");
        assert_eq!(prot_at(&m, a + 2 * PAGE), Some(Prot::READ), "{p}");
    }
    // Linux changes the mapped prefix before the hole.
    let mut m = model(LINUX);
    let a = with_hole(&mut m);
    assert_err(
        &mut m,
        P1,
        &mprotect(a, 3 * PAGE, Prot::READ | Prot::WRITE),
        Errno::ENOMEM,
        "MPROT-ENOMEM-2",
    );
    assert_eq!(prot_at(&m, a), Some(Prot::READ | Prot::WRITE));
    assert_eq!(prot_at(&m, a + 2 * PAGE), Some(Prot::READ));
    // A range starting in the hole changes nothing.
    assert_err(
        &mut m,
        P1,
        &mprotect(a + PAGE, 2 * PAGE, Prot::NONE),
        Errno::ENOMEM,
        "MPROT-ENOMEM-2",
    );
    assert_eq!(prot_at(&m, a + 2 * PAGE), Some(Prot::READ));
    m.check_invariants().unwrap();
}

#[test]
fn mprot_enomem_4_splitting_regions_at_the_region_limit() {
    for p in ALL {
        let mut m = with_region_limit(p, 2);
        let a = mapped(&mut m, P1, &anon_with(4 * PAGE, Prot::READ));
        // The middle page needs two splits: three regions.
        assert_err(
            &mut m,
            P1,
            &mprotect(a + PAGE, PAGE, Prot::NONE),
            Errno::ENOMEM,
            "MPROT-ENOMEM-4",
        );
        assert_eq!(region_count(&m), 1, "{p}");
        assert_eq!(prot_at(&m, a + PAGE), Some(Prot::READ), "{p}");
        // The first page needs one: two regions.
        assert_ok(&mut m, P1, &mprotect(a, PAGE, Prot::NONE), "MPROT-OK-1");
        assert_eq!(region_count(&m), 2, "{p}");
    }
    // Linux does not split a region that keeps its protection; procnto's
    // check counts the splits at the bounds whatever the protection.
    for p in PROCNTO {
        let mut m = with_region_limit(p, 2);
        let a = mapped(&mut m, P1, &anon_with(4 * PAGE, Prot::READ));
        assert_err(
            &mut m,
            P1,
            &mprotect(a + PAGE, PAGE, Prot::READ),
            Errno::ENOMEM,
            "MPROT-ENOMEM-4",
        );
    }
    let mut m = with_region_limit(LINUX, 2);
    let a = mapped(&mut m, P1, &anon_with(4 * PAGE, Prot::READ));
    assert_ok(&mut m, P1, &mprotect(a + PAGE, PAGE, Prot::READ), "MPROT-OK-1");
    // On Linux the split fails in the walk: the region before keeps the change.
    let mut m = with_region_limit(LINUX, 2);
    let a = mapped(&mut m, P1, &anon_with(5 * PAGE, Prot::READ));
    mapped(&mut m, P1, &anon_at(a, PAGE, Prot::READ));
    assert_eq!(region_count(&m), 2);
    assert_err(
        &mut m,
        P1,
        &mprotect(a, 2 * PAGE, Prot::NONE),
        Errno::ENOMEM,
        "MPROT-ENOMEM-4",
    );
    assert_eq!(prot_at(&m, a), Some(Prot::NONE));
    assert_eq!(prot_at(&m, a + PAGE), Some(Prot::READ));
}

#[test]
fn mprot_eacces_1_read_only_object() {
    for p in ALL {
        let mut m = model(p);
        let (a, ro) = read_only_shared(&mut m, "/ro", 2, 0);
        assert_err(
            &mut m,
            P1,
            &mprotect(a, 2 * PAGE, Prot::READ | Prot::WRITE),
            Errno::EACCES,
            "MPROT-EACCES-1",
        );
        assert_eq!(prot_at(&m, a), Some(Prot::READ), "{p}");
        // Closing the fd does not lift it: the mapping remembers.
        assert_eq!(m.step(P1, &Call::Close { fd: ro }).outcome, Outcome::UNIT);
        assert_err(
            &mut m,
            P1,
            &mprotect(a, PAGE, Prot::WRITE),
            Errno::EACCES,
            "MPROT-EACCES-1",
        );
        // Other protections are fine.
        assert_ok(&mut m, P1, &mprotect(a, 2 * PAGE, Prot::NONE), "MPROT-OK-1");
        m.check_invariants().unwrap();
    }
}

#[test]
fn mprot_eacces_1_private_mapping_of_a_read_only_fd_may_become_writable() {
    for p in ALL {
        let mut m = model(p);
        let (_, ro) = read_only_shared(&mut m, "/ro", 1, 0);
        let a = mapped(&mut m, P1, &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, ro.0, 0));
        assert_ok(&mut m, P1, &mprotect(a, PAGE, Prot::READ | Prot::WRITE), "MPROT-OK-1");
    }
}

#[test]
fn mprot_eacces_1_is_not_atomic() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon_with(3 * PAGE, Prot::READ));
        read_only_shared(&mut m, "/ro", 1, a + PAGE);
        let rw = Prot::READ | Prot::WRITE;
        assert_err(&mut m, P1, &mprotect(a, 3 * PAGE, rw), Errno::EACCES, "MPROT-EACCES-1");
        assert_eq!(prot_at(&m, a), Some(rw), "{p}: the region before keeps the change");
        assert_eq!(prot_at(&m, a + PAGE), Some(Prot::READ), "{p}");
        assert_eq!(prot_at(&m, a + 2 * PAGE), Some(Prot::READ), "{p}: the walk stopped");
        assert_eq!(m.step(P1, &store(a, &[1])).outcome, Outcome::UNIT, "{p}");
        assert_eq!(
            m.step(P1, &store(a + 2 * PAGE, &[1])).outcome,
            Outcome::Fault(Signal::SIGSEGV),
            "{p}"
        );
        m.check_invariants().unwrap();
    }
}

#[test]
fn mprot_enomem_3_rlimit_data_when_a_private_mapping_becomes_writable() {
    let rw = Prot::READ | Prot::WRITE;
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon_with(2 * PAGE, Prot::READ));
    assert_eq!(counters(&m).data, 0, "read-only private memory is not data on Linux");
    setrlimit(&mut m, Resource::RLIMIT_DATA, PAGE, RLIM_INFINITY);
    assert_err(&mut m, P1, &mprotect(a, 2 * PAGE, rw), Errno::ENOMEM, "MPROT-ENOMEM-3");
    assert_eq!((prot_at(&m, a), counters(&m).data), (Some(Prot::READ), 0));
    // Reaching the limit exactly is fine; removing PROT_WRITE stops counting.
    assert_ok(&mut m, P1, &mprotect(a, PAGE, rw), "MPROT-OK-1");
    assert_eq!(counters(&m).data, PAGE);
    assert_ok(&mut m, P1, &mprotect(a, PAGE, Prot::READ), "MPROT-OK-1");
    assert_eq!(counters(&m).data, 0);
    m.check_invariants().unwrap();

    // The regions before the one over the limit keep the change.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon_with(3 * PAGE, Prot::READ));
    mapped(&mut m, P1, &anon_at(a, PAGE, Prot::READ));
    setrlimit(&mut m, Resource::RLIMIT_DATA, 2 * PAGE, RLIM_INFINITY);
    assert_err(&mut m, P1, &mprotect(a, 3 * PAGE, rw), Errno::ENOMEM, "MPROT-ENOMEM-3");
    assert_eq!((prot_at(&m, a), prot_at(&m, a + PAGE)), (Some(rw), Some(Prot::READ)));
    assert_eq!(counters(&m).data, PAGE);

    // MAP_STACK is not VM_GROWSDOWN: made writable, it counts as data too.
    let mut m = model(LINUX);
    let s = mapped(
        &mut m,
        P1,
        &mmap(
            0,
            PAGE,
            Prot::READ,
            MapFlags::PRIVATE | MapFlags::ANON | MapFlags::STACK,
            -1,
            0,
        ),
    );
    assert_ok(&mut m, P1, &mprotect(s, PAGE, Prot::WRITE), "MPROT-OK-1");
    assert_eq!(counters(&m).data, PAGE);
}

#[test]
fn mprot_enomem_3_exceptions_valgrind_and_rlimit_as() {
    let rw = Prot::READ | Prot::WRITE;
    // A soft limit of 0 passes while the hard limit holds.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon_with(2 * PAGE, Prot::READ));
    setrlimit(&mut m, Resource::RLIMIT_DATA, 0, RLIM_INFINITY);
    assert_ok(&mut m, P1, &mprotect(a, 2 * PAGE, rw), "MPROT-OK-1");
    let b = mapped(&mut m, P1, &anon_with(PAGE, Prot::READ));
    setrlimit(&mut m, Resource::RLIMIT_DATA, 0, 2 * PAGE);
    assert_err(&mut m, P1, &mprotect(b, PAGE, rw), Errno::ENOMEM, "MPROT-ENOMEM-3");
    // When total + pages would pass RLIMIT_AS, mprotect_fixup() lets it through.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon_with(2 * PAGE, Prot::READ));
    setrlimit(&mut m, Resource::RLIMIT_DATA, PAGE, RLIM_INFINITY);
    setrlimit(&mut m, Resource::RLIMIT_AS, 3 * PAGE, RLIM_INFINITY);
    assert_ok(&mut m, P1, &mprotect(a, 2 * PAGE, rw), "MPROT-OK-1");
}

#[test]
fn mprot_enomem_3_never_on_procnto() {
    // RLIMIT_DATA counts private anonymous memory whatever its protection.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon_with(2 * PAGE, Prot::READ));
        assert_eq!(counters(&m).data, 2 * PAGE, "{p}");
        setrlimit(&mut m, Resource::RLIMIT_DATA, PAGE, RLIM_INFINITY);
        assert_ok(
            &mut m,
            P1,
            &mprotect(a, 2 * PAGE, Prot::READ | Prot::WRITE),
            "MPROT-OK-1",
        );
        assert_eq!(counters(&m).data, 2 * PAGE, "{p}");
    }
}

#[test]
fn mprot_enomem_6_overcommit_when_a_private_mapping_becomes_writable() {
    let rw = Prot::READ | Prot::WRITE;
    let mut m = model(LINUX);
    let huge = m.profile().ram_bytes + (8 << 30);
    let a = mapped(&mut m, P1, &anon_with(huge, Prot::READ));
    assert_err(&mut m, P1, &mprotect(a, huge, rw), Errno::ENOMEM, "MPROT-ENOMEM-6");
    assert_eq!(prot_at(&m, a), Some(Prot::READ));
    assert_ok(&mut m, P1, &mprotect(a, 1 << 30, rw), "MPROT-OK-1");
    let flags = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::NORESERVE;
    let b = mapped(&mut m, P1, &mmap(0, huge, Prot::READ, flags, -1, 0));
    assert_ok(&mut m, P1, &mprotect(b, huge, rw), "MPROT-OK-1");
    // procnto commits private memory at mmap, never at mprotect: a lazy
    // mapping larger than memory becomes writable. (qnx4's 3 GiB address
    // space cannot hold one.)
    let mut m = model(ProfileName::Neutrino);
    let flags = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::LAZY;
    let huge = m.profile().ram_bytes + (8 << 30);
    let a = mapped(&mut m, P1, &mmap(0, huge, Prot::READ, flags, -1, 0));
    assert_ok(&mut m, P1, &mprotect(a, huge, rw), "MPROT-OK-1");
}

#[test]
fn mprot_ok_1_changes_the_pages_in_the_range() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon_with(3 * PAGE, Prot::READ));
        assert_eq!(
            m.step(P1, &store(a + PAGE, &[7])).outcome,
            Outcome::Fault(Signal::SIGSEGV),
            "{p}"
        );
        assert_ok(
            &mut m,
            P1,
            &mprotect(a + PAGE, PAGE, Prot::READ | Prot::WRITE),
            "MPROT-OK-1",
        );
        assert_eq!(m.step(P1, &store(a + PAGE, &[7])).outcome, Outcome::UNIT, "{p}");
        assert_eq!(
            m.step(P1, &store(a, &[7])).outcome,
            Outcome::Fault(Signal::SIGSEGV),
            "{p}"
        );
        assert_eq!(region_count(&m), 3, "{p}");
        assert_eq!(counters(&m).total, 3 * PAGE, "{p}");
        m.check_invariants().unwrap();
    }
}

// ------------------------------------------------------------------- msync

#[test]
fn msync_einval_1_unknown_flags() {
    let unknown = MsyncFlags::from_bits_retain(0x20);
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(&mut m, P1, &msync(a, PAGE, unknown), Errno::EINVAL, "MSYNC-EINVAL-1");
        assert_ok(&mut m, P1, &msync(a, PAGE, MsyncFlags::empty()), "MSYNC-OK-1");
    }
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        let qnx_only = MsyncFlags::CACHE_ONLY | MsyncFlags::INVALIDATE_ICACHE;
        assert_ok(&mut m, P1, &msync(a, PAGE, qnx_only), "MSYNC-OK-1");
    }
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_err(
        &mut m,
        P1,
        &msync(a, PAGE, MsyncFlags::CACHE_ONLY),
        Errno::EINVAL,
        "MSYNC-EINVAL-1",
    );
}

#[test]
fn msync_einval_2_sync_and_async_together() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        let both = MsyncFlags::SYNC | MsyncFlags::ASYNC;
        assert_err(&mut m, P1, &msync(a, PAGE, both), Errno::EINVAL, "MSYNC-EINVAL-2");
    }
}

#[test]
fn msync_einval_3_unaligned_address() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_err(
        &mut m,
        P1,
        &msync(a + 8, 8, MsyncFlags::SYNC),
        Errno::EINVAL,
        "MSYNC-EINVAL-3",
    );
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_ok(&mut m, P1, &msync(a + 8, 8, MsyncFlags::SYNC), "MSYNC-OK-1");
    }
}

#[test]
fn msync_enomem_1_zero_length_on_procnto() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &msync(a, 0, MsyncFlags::SYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-1",
        );
    }
}

#[test]
fn msync_ok_2_zero_length_succeeds_on_linux() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &msync(a, 0, MsyncFlags::SYNC), "MSYNC-OK-2");
    // The length rounds up to 0 in C arithmetic.
    assert_ok(&mut m, P1, &msync(a, u64::MAX, MsyncFlags::ASYNC), "MSYNC-OK-2");
}

#[test]
fn msync_enomem_3_range_wraps_or_leaves_the_address_space() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &msync(a, u64::MAX - 2 * PAGE, MsyncFlags::ASYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-3",
        );
    }
    for p in PROCNTO {
        let mut m = model(p);
        let top = m.profile().user_end;
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_err(
            &mut m,
            P1,
            &msync(a, u64::MAX, MsyncFlags::ASYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-3",
        );
        assert_err(
            &mut m,
            P1,
            &msync(top - PAGE, 2 * PAGE, MsyncFlags::ASYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-3",
        );
    }
}

#[test]
fn msync_ebusy_1_invalidate_on_locked_memory() {
    let mut m = model(LINUX);
    let a = with_hole(&mut m);
    assert_ok(&mut m, P1, &mlock(a + 2 * PAGE, PAGE), "LOCK-MLOCK-1");
    assert_ok(&mut m, P1, &msync(a + 2 * PAGE, PAGE, MsyncFlags::ASYNC), "MSYNC-OK-1");
    let inval = MsyncFlags::ASYNC | MsyncFlags::INVALIDATE;
    assert_err(
        &mut m,
        P1,
        &msync(a + 2 * PAGE, PAGE, inval),
        Errno::EBUSY,
        "MSYNC-EBUSY-1",
    );
    // Linux skips the hole before the locked page: EBUSY decides, ENOMEM is
    // also allowed.
    let v = m.evaluate(P1, &msync(a, 3 * PAGE, MsyncFlags::INVALIDATE));
    assert_eq!(
        (v.outcome.clone(), v.rule),
        (Outcome::Err(Errno::EBUSY), "MSYNC-EBUSY-1")
    );
    assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("MSYNC-ENOMEM-2"));
    assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), true), None);
    // procnto has no such check.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
        assert_ok(&mut m, P1, &msync(a, PAGE, MsyncFlags::INVALIDATE), "MSYNC-OK-1");
    }
}

#[test]
fn msync_enomem_2_a_page_is_not_mapped() {
    for p in ALL {
        let mut m = model(p);
        let a = with_hole(&mut m);
        assert_err(
            &mut m,
            P1,
            &msync(a, 3 * PAGE, MsyncFlags::ASYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-2",
        );
        assert_err(
            &mut m,
            P1,
            &msync(a + PAGE, PAGE, MsyncFlags::SYNC),
            Errno::ENOMEM,
            "MSYNC-ENOMEM-2",
        );
    }
    let mut m = model(LINUX);
    let top = m.profile().user_end;
    assert_err(
        &mut m,
        P1,
        &msync(top - PAGE, 2 * PAGE, MsyncFlags::ASYNC),
        Errno::ENOMEM,
        "MSYNC-ENOMEM-2",
    );
}

#[test]
fn msync_ok_1_synced() {
    for p in ALL {
        let mut m = model(p);
        let (a, _) = read_only_shared(&mut m, "/s", 2, 0);
        let b = mapped(&mut m, P1, &anon(PAGE));
        assert_ok(&mut m, P1, &msync(a, 2 * PAGE, MsyncFlags::SYNC), "MSYNC-OK-1");
        assert_ok(
            &mut m,
            P1,
            &msync(b, PAGE, MsyncFlags::ASYNC | MsyncFlags::INVALIDATE),
            "MSYNC-OK-1",
        );
    }
}

/// A 100-byte server file on `fs`, open read-write and mapped shared, with
/// a byte stored at 200 (past the end, in the last page).
fn file_with_tail(m: &mut Model, path: &str, fs: FileSystem) -> (u64, Fd) {
    let made = m.step(
        P1,
        &Call::ResmgrFile {
            path: path.into(),
            mode: 0o666,
            uid: 0,
            data: b"abcd".to_vec(),
            size: 100,
            readonly: false,
            fs,
            mandatory_lock: false,
            ocb_alloc_fails: false,
            mmap: "iofunc".into(),
        },
    );
    assert_eq!(made.outcome, Outcome::UNIT);
    let fd = opened(
        m,
        P1,
        &Call::Open {
            path: path.into(),
            oflag: OFlags::RDWR,
        },
    );
    let a = mapped(
        m,
        P1,
        &mmap(0, PAGE, Prot::READ | Prot::WRITE, MapFlags::SHARED, fd.0, 0),
    );
    assert_eq!(m.step(P1, &store(a + 200, &[0x58])).outcome, Outcome::UNIT);
    (a, fd)
}

#[test]
fn msync_ok_3_writeback_zeroes_a_disk_files_last_page_past_its_end() {
    let byte_at = |m: &mut Model, addr: u64| m.step(P1, &load(addr, 1)).outcome;
    for p in ALL {
        let mut m = model(p);
        let zeroes = m.profile().disk_writeback_zeroes_tail;
        let (disk, _) = file_with_tail(&mut m, "/srv/disk", FileSystem::Disk);
        let (mem, _) = file_with_tail(&mut m, "/srv/mem", FileSystem::Tmpfs);
        // MS_ASYNC writes nothing back.
        assert_ok(&mut m, P1, &msync(disk, PAGE, MsyncFlags::ASYNC), "MSYNC-OK-1");
        assert_eq!(byte_at(&mut m, disk + 200), Outcome::Ok(Value::Bytes(vec![0x58])));
        let rule = if zeroes { "MSYNC-OK-3" } else { "MSYNC-OK-1" };
        assert_ok(&mut m, P1, &msync(disk, PAGE, MsyncFlags::SYNC), rule);
        let after = if zeroes { 0 } else { 0x58 };
        assert_eq!(
            byte_at(&mut m, disk + 200),
            Outcome::Ok(Value::Bytes(vec![after])),
            "{p:?}"
        );
        // tmpfs has no writeback.
        assert_ok(&mut m, P1, &msync(mem, PAGE, MsyncFlags::SYNC), "MSYNC-OK-1");
        assert_eq!(byte_at(&mut m, mem + 200), Outcome::Ok(Value::Bytes(vec![0x58])));
    }
}

#[test]
fn msync_ok_3_linux_writes_back_before_a_hole_and_stops_at_ebusy() {
    let mut m = model(LINUX);
    let (a, _) = file_with_tail(&mut m, "/srv/f", FileSystem::Disk);
    // A locked page under MS_INVALIDATE ends the walk before its writeback.
    assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
    let busy = msync(a, PAGE, MsyncFlags::SYNC | MsyncFlags::INVALIDATE);
    assert_err(&mut m, P1, &busy, Errno::EBUSY, "MSYNC-EBUSY-1");
    assert_eq!(
        m.step(P1, &load(a + 200, 1)).outcome,
        Outcome::Ok(Value::Bytes(vec![0x58]))
    );
    // A hole before it is reported after the walk, which wrote it back.
    let over_hole = msync(a - PAGE, 2 * PAGE, MsyncFlags::SYNC);
    assert_err(&mut m, P1, &over_hole, Errno::ENOMEM, "MSYNC-ENOMEM-2");
    assert_eq!(
        m.step(P1, &load(a + 200, 1)).outcome,
        Outcome::Ok(Value::Bytes(vec![0]))
    );
}

#[test]
fn mprot_ok_1_linux_leaves_a_region_with_that_protection_unsplit() {
    // mprotect_fixup returns before splitting a region that already has the
    // protection, so a no-op mprotect in the middle of a region adds none.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(4 * PAGE));
    let regions = |m: &Model| m.process(P1).unwrap().space.region_count();
    let before = regions(&m);
    assert_ok(
        &mut m,
        P1,
        &mprotect(a + PAGE, PAGE, Prot::READ | Prot::WRITE),
        "MPROT-OK-1",
    );
    assert_eq!(regions(&m), before);
    // A change does split, on every profile.
    assert_ok(&mut m, P1, &mprotect(a + PAGE, PAGE, Prot::READ), "MPROT-OK-1");
    assert_eq!(regions(&m), before + 2);
}

#[test]
fn mprot_enomem_3_map_stack_counts_as_data_after_mprotect_as_after_mmap() {
    // D1: mmap and mprotect ask one RLIMIT_DATA predicate (DataScope::counts),
    // so a MAP_STACK mapping mprotected back to read-write counts again.
    let rw = Prot::READ | Prot::WRITE;
    let stack = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::STACK;
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &mmap(0, PAGE, rw, stack, -1, 0));
    assert_eq!(counters(&m).data, PAGE, "MMAP-ENOMEM-1's scope: MAP_STACK counts");
    assert_ok(&mut m, P1, &mprotect(a, PAGE, Prot::READ), "MPROT-OK-1");
    assert_eq!(counters(&m).data, 0);
    assert_ok(&mut m, P1, &mprotect(a, PAGE, rw), "MPROT-OK-1");
    assert_eq!(counters(&m).data, PAGE, "back in the state it was created in");
    m.check_invariants().unwrap();
    // mprotect can no longer slip a stack past RLIMIT_DATA.
    let mut m = model(LINUX);
    let b = mapped(&mut m, P1, &mmap(0, 2 * PAGE, Prot::READ, stack, -1, 0));
    setrlimit(&mut m, Resource::RLIMIT_DATA, PAGE, RLIM_INFINITY);
    assert_err(
        &mut m,
        P1,
        &mmap(0, 2 * PAGE, rw, stack, -1, 0),
        Errno::ENOMEM,
        "MMAP-ENOMEM-1",
    );
    assert_err(&mut m, P1, &mprotect(b, 2 * PAGE, rw), Errno::ENOMEM, "MPROT-ENOMEM-3");
    m.check_invariants().unwrap();
}
