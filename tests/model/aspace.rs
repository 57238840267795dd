//! meminfo and the other address-space calls (spec/address-space.md). Each
//! rule test is named after its rule and asserts the outcome, the deciding
//! rule and the state after the call.

use crate::util::*;
use mmoracle::call::MemInfo;
use mmoracle::oracle::{Judgement, Oracle};
use mmoracle::types::*;
use mmoracle::{Call, Outcome, ProfileName, Value};

const LINUX: ProfileName = ProfileName::Linux;

fn meminfo_of(m: &mut mmoracle::Model, pid: Pid) -> MemInfo {
    match assert_ok(m, pid, &Call::Meminfo {}, "MEMINFO-OK-1") {
        Value::Meminfo(info) => info,
        other => panic!("meminfo returned {other}"),
    }
}

fn fixed(addr: u64, len: u64, prot: Prot, share: MapFlags) -> Call {
    mmap(addr, len, prot, share | MapFlags::ANON | MapFlags::FIXED, -1, 0)
}

const RW: Prot = Prot::READ.union(Prot::WRITE);

#[test]
fn meminfo_ok_1_counts_bytes_and_mappings() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let base = p.profile().arena;
        assert_eq!(meminfo_of(&mut m, P1), MemInfo::default(), "{p}: an empty process");
        mapped(&mut m, P1, &fixed(base, 2 * PAGE, RW, MapFlags::PRIVATE));
        mapped(&mut m, P1, &fixed(base + 2 * PAGE, PAGE, RW, MapFlags::SHARED));
        assert_ok(
            &mut m,
            P1,
            &Call::Mlock {
                addr: Addr(base),
                len: Len(PAGE),
            },
            "LOCK-MLOCK-1",
        );
        let info = meminfo_of(&mut m, P1);
        assert_eq!(
            (info.vm_size, info.vm_data, info.vm_lck),
            (3 * PAGE, 2 * PAGE, PAGE),
            "{p}"
        );
        assert_eq!(info.map_count, 3, "{p}: locked, unlocked, shared");
    }
}

#[test]
fn meminfo_ok_1_linux_counts_merged_mappings_and_procnto_regions() {
    for (p, after_unlock) in [(LINUX, 1), (ProfileName::Neutrino, 2), (ProfileName::Qnx4, 2)] {
        let mut m = model(p);
        let base = p.profile().arena;
        mapped(&mut m, P1, &fixed(base, 2 * PAGE, RW, MapFlags::PRIVATE));
        let lock = Call::Mlock {
            addr: Addr(base),
            len: Len(PAGE),
        };
        assert_ok(&mut m, P1, &lock, "LOCK-MLOCK-1");
        let unlock = Call::Munlock {
            addr: Addr(base),
            len: Len(PAGE),
        };
        assert_ok(&mut m, P1, &unlock, "LOCK-MUNLOCK-1");
        assert_eq!(m.process(P1).unwrap().space.region_count(), 2);
        assert_eq!(meminfo_of(&mut m, P1).map_count, after_unlock, "{p}");
    }
}

/// Under linux the oracle adopts any map count between the merged count and
/// the region count (MEMINFO-OK-1), and nothing else; the byte counters are
/// never a choice.
#[test]
fn meminfo_ok_1_map_count_is_chosen_between_bounds() {
    let base = LINUX.profile().arena;
    let judge = |seen: MemInfo| {
        let mut o = Oracle::new(LINUX, true);
        for call in [
            fixed(base, PAGE, RW, MapFlags::PRIVATE),
            fixed(base + PAGE, PAGE, RW, MapFlags::PRIVATE),
        ] {
            let v = o.model().evaluate(P1, &call);
            assert!(matches!(o.judge(P1, &call, &v.outcome), Judgement::Allowed { .. }));
        }
        o.judge(P1, &Call::Meminfo {}, &Outcome::Ok(Value::Meminfo(seen)))
    };
    let two_pages = MemInfo {
        vm_size: 2 * PAGE,
        vm_data: 2 * PAGE,
        vm_lck: 0,
        map_count: 1,
    };
    for count in [1, 2] {
        let seen = MemInfo {
            map_count: count,
            ..two_pages
        };
        assert!(
            matches!(
                judge(seen),
                Judgement::Allowed {
                    rule: "MEMINFO-OK-1",
                    ..
                }
            ),
            "a map count of {count} is within the bounds"
        );
    }
    for bad in [
        MemInfo {
            map_count: 3,
            ..two_pages
        },
        MemInfo {
            map_count: 0,
            ..two_pages
        },
        MemInfo {
            vm_data: PAGE,
            ..two_pages
        },
    ] {
        assert!(matches!(judge(bad), Judgement::Divergence(_)), "{bad:?} is refused");
    }
}

#[test]
fn meminfo_ok_1_procnto_map_count_is_exact() {
    let p = ProfileName::Neutrino;
    let base = p.profile().arena;
    let mut o = Oracle::new(p, true);
    let call = fixed(base, PAGE, RW, MapFlags::PRIVATE);
    let v = o.model().evaluate(P1, &call);
    o.judge(P1, &call, &v.outcome);
    let seen = MemInfo {
        vm_size: PAGE,
        vm_data: PAGE,
        vm_lck: 0,
        map_count: 2,
    };
    assert!(matches!(
        o.judge(P1, &Call::Meminfo {}, &Outcome::Ok(Value::Meminfo(seen))),
        Judgement::Divergence(_)
    ));
}

// ---------------------------------------------------------------- mlock2

fn mlock2(addr: u64, len: u64, flags: MlockFlags) -> Call {
    Call::Mlock2 {
        addr: Addr(addr),
        len: Len(len),
        flags,
    }
}

fn locked(m: &mmoracle::Model) -> u64 {
    m.process(P1).unwrap().space.counters().locked
}

#[test]
fn lock_onfault_1_locks_the_whole_range_at_once_without_faulting() {
    let mut m = model(LINUX);
    let base = LINUX.profile().arena;
    mapped(&mut m, P1, &fixed(base, 4 * PAGE, RW, MapFlags::PRIVATE));
    mapped(
        &mut m,
        P1,
        &fixed(base + 4 * PAGE, 2 * PAGE, Prot::NONE, MapFlags::PRIVATE),
    );
    assert_ok(
        &mut m,
        P1,
        &mlock2(base, 6 * PAGE, MlockFlags::ONFAULT),
        "LOCK-ONFAULT-1",
    );
    assert_eq!(locked(&m), 6 * PAGE, "charged whole, PROT_NONE included");
    // Without the flag mlock2 is mlock: the PROT_NONE pages cannot be faulted in.
    assert_err(
        &mut m,
        P1,
        &mlock2(base + 4 * PAGE, 2 * PAGE, MlockFlags::empty()),
        Errno::ENOMEM,
        "LOCK-ENOMEM-5",
    );
    assert_ok(&mut m, P1, &mlock2(base, PAGE, MlockFlags::empty()), "LOCK-MLOCK-1");
    assert_eq!(locked(&m), 6 * PAGE);
    // A hole still stops it, with nothing locked past it.
    assert_err(
        &mut m,
        P1,
        &mlock2(base + 6 * PAGE, PAGE, MlockFlags::ONFAULT),
        Errno::ENOMEM,
        "LOCK-ENOMEM-1",
    );
}

#[test]
fn lock_einval_3_unknown_flag_is_checked_first() {
    let mut m = model(LINUX);
    assert_ok(
        &mut m,
        P1,
        &Call::Cred {
            euid: 0,
            cap_ipc_lock: false,
            egid: None,
            groups: None,
        },
        "PROC-CRED-1",
    );
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 0, 8 << 20);
    // Before the privilege (LOCK-EPERM-2) and the length.
    assert_err(
        &mut m,
        P1,
        &mlock2(0, 0, MlockFlags::from_bits_retain(2)),
        Errno::EINVAL,
        "LOCK-EINVAL-3",
    );
    assert_err(
        &mut m,
        P1,
        &mlock2(0, 0, MlockFlags::ONFAULT),
        Errno::EPERM,
        "LOCK-EPERM-2",
    );
}

#[test]
fn lock_enosys_1_procnto_has_no_mlock2() {
    for p in [ProfileName::Neutrino, ProfileName::Qnx4] {
        let mut m = model(p);
        let base = p.profile().arena;
        mapped(&mut m, P1, &fixed(base, PAGE, RW, MapFlags::PRIVATE));
        for flags in [
            MlockFlags::ONFAULT,
            MlockFlags::empty(),
            MlockFlags::from_bits_retain(2),
        ] {
            assert_err(&mut m, P1, &mlock2(base, PAGE, flags), Errno::ENOSYS, "LOCK-ENOSYS-1");
        }
        assert_eq!(locked(&m), 0, "{p}");
    }
}

// ------------------------------------------------------------------- brk

fn brk(m: &mut mmoracle::Model, pid: Pid, addr: u64) -> (Outcome, &'static str) {
    let v = m.step(pid, &Call::Brk { addr: Addr(addr) });
    (v.outcome, v.rule)
}

fn at(a: u64) -> Outcome {
    Outcome::Ok(Value::Addr(Addr(a)))
}

fn counters(m: &mmoracle::Model) -> (u64, u64, u64) {
    let c = m.process(P1).unwrap().space.counters();
    (c.total, c.data, c.locked)
}

#[test]
fn brk_below_1_brk_0_reads_the_break_on_linux_and_fails_on_procnto() {
    let mut m = model(LINUX);
    let b = LINUX.profile().initial_break;
    assert_eq!(brk(&mut m, P1, 0), (at(b), "BRK-BELOW-1"));
    assert_eq!(brk(&mut m, P1, b - 1), (at(b), "BRK-BELOW-1"));
    for p in [ProfileName::Neutrino, ProfileName::Qnx4] {
        let mut m = model(p);
        let b = p.profile().initial_break;
        assert_eq!(brk(&mut m, P1, 0), (Outcome::Err(Errno::ENOMEM), "BRK-BELOW-1"));
        assert_eq!(brk(&mut m, P1, b), (at(0), "BRK-OK-1"));
    }
}

#[test]
fn brk_ok_3_ok_1_ok_2_grow_move_within_a_page_and_shrink() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let b = p.profile().initial_break;
        let ok = |a: u64| if p == LINUX { at(a) } else { at(0) };
        assert_eq!(brk(&mut m, P1, b + 10), (ok(b + 10), "BRK-OK-3"), "{p}");
        assert_eq!(counters(&m), (PAGE, PAGE, 0), "{p}: one private read-write page");
        assert_eq!(brk(&mut m, P1, b + 3 * PAGE - 1), (ok(b + 3 * PAGE - 1), "BRK-OK-3"));
        assert_eq!(brk(&mut m, P1, b + 2 * PAGE + 1), (ok(b + 2 * PAGE + 1), "BRK-OK-1"));
        assert_eq!(counters(&m).0, 3 * PAGE, "{p}: the same page, nothing changes");
        assert_eq!(brk(&mut m, P1, b + PAGE), (ok(b + PAGE), "BRK-OK-2"));
        assert_eq!(counters(&m), (PAGE, PAGE, 0), "{p}");
        let heap = m.process(P1).unwrap().heap;
        assert_eq!(heap.brk(p.profile()), Addr(b + PAGE));
        assert_eq!(heap.start(p.profile()), Addr(b));
    }
}

#[test]
fn brk_mapped_1_growth_needs_room_above_the_new_break() {
    for (p, gap) in [(LINUX, PAGE), (ProfileName::Neutrino, 0), (ProfileName::Qnx4, 0)] {
        let mut m = model(p);
        let b = p.profile().initial_break;
        mapped(&mut m, P1, &fixed(b + 4 * PAGE, PAGE, Prot::READ, MapFlags::PRIVATE));
        let fail = |old: u64| {
            if p == LINUX {
                at(old)
            } else {
                Outcome::Err(Errno::ENOMEM)
            }
        };
        let (out, rule) = brk(&mut m, P1, b + 4 * PAGE - gap + 1);
        assert_eq!((out, rule), (fail(b), "BRK-MAPPED-1"), "{p}");
        let (out, rule) = brk(&mut m, P1, b + 4 * PAGE - gap);
        assert_eq!(rule, "BRK-OK-3", "{p}: {out}");
    }
}

#[test]
fn brk_hole_1_shrinking_where_nothing_is_mapped() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let b = p.profile().initial_break;
        brk(&mut m, P1, b + PAGE);
        assert_ok(
            &mut m,
            P1,
            &Call::Munmap {
                addr: Addr(b),
                len: Len(PAGE),
            },
            "MUNMAP-OK-1",
        );
        let (out, rule) = brk(&mut m, P1, b);
        assert_eq!(rule, "BRK-HOLE-1", "{p}: {out}");
        assert_eq!(m.process(P1).unwrap().heap.brk(p.profile()), Addr(b + PAGE));
    }
}

#[test]
fn brk_data_1_the_heaps_size_over_rlimit_data_on_linux_for_any_move() {
    let mut m = model(LINUX);
    let b = LINUX.profile().initial_break;
    setrlimit(&mut m, Resource::RLIMIT_DATA, 2 * PAGE, RLIM_INFINITY);
    assert_eq!(brk(&mut m, P1, b + 2 * PAGE), (at(b + 2 * PAGE), "BRK-OK-3"));
    assert_eq!(brk(&mut m, P1, b + 2 * PAGE + 1), (at(b + 2 * PAGE), "BRK-DATA-1"));
    setrlimit(&mut m, Resource::RLIMIT_DATA, PAGE, RLIM_INFINITY);
    // Shrinking to a heap still over the limit is refused too.
    assert_eq!(brk(&mut m, P1, b + PAGE + 1), (at(b + 2 * PAGE), "BRK-DATA-1"));
    assert_eq!(brk(&mut m, P1, b + PAGE), (at(b + PAGE), "BRK-OK-2"));
}

#[test]
fn brk_limit_1_rlimit_data_as_and_memory_on_growth() {
    // procnto: RLIMIT_DATA reached by the new pages (BRK-DATA-1 is Linux's).
    let p = ProfileName::Neutrino;
    let mut m = model(p);
    let b = p.profile().initial_break;
    setrlimit(&mut m, Resource::RLIMIT_DATA, 2 * PAGE, RLIM_INFINITY);
    assert_eq!(brk(&mut m, P1, b + PAGE), (at(0), "BRK-OK-3"));
    assert_eq!(
        brk(&mut m, P1, b + 2 * PAGE),
        (Outcome::Err(Errno::ENOMEM), "BRK-LIMIT-1")
    );
    // linux: RLIMIT_AS in pages, equal is fine; more than the RAM at once.
    let mut m = model(LINUX);
    let b = LINUX.profile().initial_break;
    setrlimit(&mut m, Resource::RLIMIT_AS, PAGE, RLIM_INFINITY);
    assert_eq!(brk(&mut m, P1, b + PAGE), (at(b + PAGE), "BRK-OK-3"));
    assert_eq!(brk(&mut m, P1, b + 2 * PAGE), (at(b + PAGE), "BRK-LIMIT-1"));
    let mut m = model(LINUX);
    let huge = LINUX.profile().ram_bytes + PAGE;
    assert_eq!(brk(&mut m, P1, b + huge), (at(b), "BRK-LIMIT-1"));
}

#[test]
fn brk_range_1_growth_past_the_user_range() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let end = p.profile().user_end;
        let (out, rule) = brk(&mut m, P1, end + 1);
        assert_eq!(rule, "BRK-RANGE-1", "{p}: {out}");
        let (_, rule) = brk(&mut m, P1, u64::MAX);
        assert_eq!(rule, "BRK-RANGE-1", "{p}: a break whose page-rounding wraps");
    }
}

#[test]
fn brk_lock_1_new_pages_are_locked_under_mcl_future() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let b = p.profile().initial_break;
        assert_ok(
            &mut m,
            P1,
            &Call::Cred {
                euid: 0,
                cap_ipc_lock: false,
                egid: None,
                groups: None,
            },
            "PROC-CRED-1",
        );
        setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 2 * PAGE, 2 * PAGE);
        assert_ok(
            &mut m,
            P1,
            &Call::Mlockall {
                flags: MclFlags::FUTURE,
            },
            "LOCK-MLOCKALL-1",
        );
        let (_, rule) = brk(&mut m, P1, b + PAGE);
        assert_eq!((rule, counters(&m).2), ("BRK-OK-3", PAGE), "{p}: locked");
        // procnto fails on reaching the limit, Linux only over it.
        let over = if p == LINUX { 2 * PAGE } else { PAGE };
        let (_, rule) = brk(&mut m, P1, b + PAGE + over);
        assert_eq!(rule, "BRK-LOCK-1", "{p}");
    }
}

/// The oracle adopts the break linux's brk(0) reports while the heap is
/// empty (the kernel places the heap at random); after that, and for any
/// other call, the break is the model's.
#[test]
fn brk_below_1_an_empty_heaps_place_is_adopted() {
    let mut o = Oracle::new(LINUX, true);
    let chosen = 0x5600_0000_0000u64;
    let read = Call::Brk { addr: Addr(0) };
    assert!(matches!(
        o.judge(P1, &read, &at(chosen)),
        Judgement::Allowed { adopted: true, .. }
    ));
    let grow = Call::Brk {
        addr: Addr(chosen + PAGE),
    };
    assert!(matches!(
        o.judge(P1, &grow, &at(chosen + PAGE)),
        Judgement::Allowed { .. }
    ));
    assert!(
        matches!(o.judge(P1, &read, &at(chosen + 7 * PAGE)), Judgement::Divergence(_)),
        "a heap with pages in it stays where it is"
    );
    let mut o = Oracle::new(LINUX, true);
    let inside = LINUX.profile().arena;
    let c = fixed(inside, PAGE, RW, MapFlags::PRIVATE);
    let v = o.model().evaluate(P1, &c);
    o.judge(P1, &c, &v.outcome);
    assert!(
        matches!(o.judge(P1, &read, &at(inside)), Judgement::Divergence(_)),
        "the break cannot be inside a mapping"
    );
}

// ---------------------------------------------------------------- mremap

fn mremap(old: u64, old_len: u64, new_len: u64, flags: MremapFlags, new_addr: u64) -> Call {
    Call::Mremap {
        old_addr: Addr(old),
        old_len: Len(old_len),
        new_len: Len(new_len),
        flags,
        new_addr: Addr(new_addr),
    }
}

const MAYMOVE: MremapFlags = MremapFlags::MAYMOVE;
const FIXED: MremapFlags = MremapFlags::MAYMOVE.union(MremapFlags::FIXED);
const DONTUNMAP: MremapFlags = MremapFlags::MAYMOVE.union(MremapFlags::DONTUNMAP);

/// A linux model with four private pages at the arena, the first written.
fn four_pages() -> (mmoracle::Model, u64) {
    let mut m = model(LINUX);
    let a = LINUX.profile().arena;
    mapped(&mut m, P1, &fixed(a, 4 * PAGE, RW, MapFlags::PRIVATE));
    assert_ok(
        &mut m,
        P1,
        &Call::Store {
            addr: Addr(a),
            data: vec![1, 2],
        },
        "ACCESS-STORE-1",
    );
    (m, a)
}

fn load(m: &mut mmoracle::Model, addr: u64, len: u64) -> Outcome {
    m.step(
        P1,
        &Call::Load {
            addr: Addr(addr),
            len: Len(len),
        },
    )
    .outcome
}

#[test]
fn mremap_enosys_1_procnto_has_no_mremap() {
    for p in [ProfileName::Neutrino, ProfileName::Qnx4] {
        let mut m = model(p);
        let a = p.profile().arena;
        mapped(&mut m, P1, &fixed(a, PAGE, RW, MapFlags::PRIVATE));
        assert_err(
            &mut m,
            P1,
            &mremap(a, PAGE, 2 * PAGE, MAYMOVE, 0),
            Errno::ENOSYS,
            "MREMAP-ENOSYS-1",
        );
        assert_err(
            &mut m,
            P1,
            &mremap(a + 1, 0, 0, MremapFlags::from_bits_retain(8), 0),
            Errno::ENOSYS,
            "MREMAP-ENOSYS-1",
        );
        assert_eq!(counters(&m).0, PAGE, "{p}");
    }
}

#[test]
fn mremap_einval_1_to_5_argument_checks_in_order() {
    let (mut m, a) = four_pages();
    let e = Errno::EINVAL;
    assert_err(
        &mut m,
        P1,
        &mremap(a + 1, PAGE, 0, MremapFlags::from_bits_retain(8), 0),
        e,
        "MREMAP-EINVAL-1",
    );
    assert_err(&mut m, P1, &mremap(a + 1, PAGE, 0, MAYMOVE, 0), e, "MREMAP-EINVAL-2");
    assert_err(&mut m, P1, &mremap(a, PAGE, 0, MAYMOVE, 1), e, "MREMAP-EINVAL-3");
    assert_err(&mut m, P1, &mremap(a, PAGE, u64::MAX, MAYMOVE, 1), e, "MREMAP-EINVAL-3");
    assert_err(&mut m, P1, &mremap(a, PAGE, 1 << 47, MAYMOVE, 1), e, "MREMAP-EINVAL-3");
    for (flags, to, len) in [
        (MremapFlags::FIXED, a + 0x10_0000, PAGE),
        (FIXED, a + 0x10_0001, PAGE),
        (FIXED, a, PAGE),
        (FIXED, LINUX.profile().user_end, PAGE),
        (DONTUNMAP, 0, 2 * PAGE),
        (MremapFlags::DONTUNMAP, 0, PAGE),
    ] {
        assert_err(&mut m, P1, &mremap(a, PAGE, len, flags, to), e, "MREMAP-EINVAL-4");
    }
    assert_err(&mut m, P1, &mremap(a, 0, PAGE, MAYMOVE, 0), e, "MREMAP-EINVAL-5");
}

#[test]
fn mremap_einval_6_a_shrink_past_the_end_of_user_space() {
    let (mut m, a) = four_pages();
    let e = Errno::EINVAL;
    let before = m.step(P1, &Call::Meminfo {}).outcome;
    let user_end = LINUX.profile().user_end;
    for (old, flags, to) in [
        // Rounds to 2^64 - 4096: the tail wraps past 2^64 (probed: EINVAL).
        (u64::MAX - 4792, MremapFlags::empty(), 0),
        (user_end - a + PAGE, MremapFlags::empty(), 0),
        (user_end - a + PAGE, MremapFlags::MAYMOVE, 0),
        (
            u64::MAX - 4792,
            MremapFlags::MAYMOVE | MremapFlags::FIXED,
            a + 0x10_0000,
        ),
    ] {
        assert_err(&mut m, P1, &mremap(a, old, 3 * PAGE, flags, to), e, "MREMAP-EINVAL-6");
    }
    assert_eq!(
        m.step(P1, &Call::Meminfo {}).outcome,
        before,
        "a refused shrink changes nothing"
    );
    // A shrink whose old range ends exactly at the end of user space is allowed.
    assert!(m
        .step(P1, &mremap(a, user_end - a, 3 * PAGE, MremapFlags::empty(), 0))
        .outcome
        .is_ok());
}

#[test]
fn mremap_efault_1_and_ok_1_the_old_range() {
    let (mut m, a) = four_pages();
    let none = MremapFlags::empty();
    assert_err(
        &mut m,
        P1,
        &mremap(a + 0x8_0000, PAGE, PAGE, none, 0),
        Errno::EFAULT,
        "MREMAP-EFAULT-1",
    );
    // The same length and nowhere to go: success without looking further.
    assert_eq!(
        assert_ok(
            &mut m,
            P1,
            &mremap(a, 8 * PAGE, 8 * PAGE, MremapFlags::empty(), 0),
            "MREMAP-OK-1"
        ),
        Value::Addr(Addr(a))
    );
    assert_err(
        &mut m,
        P1,
        &mremap(a, 8 * PAGE, 9 * PAGE, MAYMOVE, 0),
        Errno::EFAULT,
        "MREMAP-EFAULT-1",
    );
    assert_err(
        &mut m,
        P1,
        &mremap(a, 8 * PAGE, 6 * PAGE, FIXED, a + 0x10_0000),
        Errno::EFAULT,
        "MREMAP-EFAULT-1",
    );
    // A fixed move that keeps the length takes the gaps along.
    assert_ok(
        &mut m,
        P1,
        &mremap(a, 8 * PAGE, 8 * PAGE, FIXED, a + 0x10_0000),
        "MREMAP-OK-3",
    );
    assert_eq!(load(&mut m, a + 0x10_0000, 2), Outcome::Ok(Value::Bytes(vec![1, 2])));
    assert_eq!(counters(&m).0, 4 * PAGE);
}

#[test]
fn mremap_efault_1_a_shrinking_move_looks_at_the_part_it_keeps() {
    // Probed on 6.18 (found by `mmoracle diff`): the tail goes first,
    // whatever maps it, so only the kept part must be one mapping.
    let (mut m, a) = four_pages();
    mapped(&mut m, P1, &fixed(a + 5 * PAGE, PAGE, Prot::READ, MapFlags::PRIVATE));
    let to = a + 0x10_0000;
    mapped(&mut m, P1, &fixed(to, PAGE, Prot::READ, MapFlags::PRIVATE));
    // The kept part [a+3, a+5) runs past the mapping: EFAULT, nothing unmapped.
    assert_err(
        &mut m,
        P1,
        &mremap(a + 3 * PAGE, 4 * PAGE, 2 * PAGE, FIXED, to),
        Errno::EFAULT,
        "MREMAP-EFAULT-1",
    );
    assert_eq!(counters(&m).0, 6 * PAGE);
    // The kept part [a+3, a+4) fits: the tail's mapping at a+5 goes too.
    assert_eq!(
        assert_ok(
            &mut m,
            P1,
            &mremap(a + 3 * PAGE, 4 * PAGE, PAGE, FIXED, to),
            "MREMAP-OK-3"
        ),
        Value::Addr(Addr(to))
    );
    assert_eq!(counters(&m).0, 4 * PAGE, "a..a+3 and the moved page");
    assert_eq!(load(&mut m, a + 5 * PAGE, 1), Outcome::Fault(Signal::SIGSEGV));
}

#[test]
fn mremap_ok_3_a_same_length_fixed_move_replaces_only_where_mappings_land() {
    // Pages [0x3d, 0x41) mapped; [0x40, 0x43) moved onto [0x3c, 0x3f): only
    // page 0x40 lands (at 0x3c), so 0x3d and 0x3e stay (probed on 6.18).
    let mut m = model(LINUX);
    let a = LINUX.profile().arena;
    mapped(&mut m, P1, &fixed(a + 0x3d * PAGE, 4 * PAGE, RW, MapFlags::PRIVATE));
    let store = Call::Store {
        addr: Addr(a + 0x40 * PAGE),
        data: vec![7],
    };
    assert_ok(&mut m, P1, &store, "ACCESS-STORE-1");
    let call = mremap(a + 0x40 * PAGE, 3 * PAGE, 3 * PAGE, FIXED, a + 0x3c * PAGE);
    assert_ok(&mut m, P1, &call, "MREMAP-OK-3");
    assert_eq!(counters(&m).0, 4 * PAGE, "pages 0x3c to 0x3f");
    assert_eq!(load(&mut m, a + 0x3c * PAGE, 1), Outcome::Ok(Value::Bytes(vec![7])));
    assert_eq!(load(&mut m, a + 0x40 * PAGE, 1), Outcome::Fault(Signal::SIGSEGV));
}

#[test]
fn mremap_efault_1_a_file_mapping_and_anonymous_memory_are_two_mappings() {
    // A private file mapping never merges with anonymous memory after it,
    // so growing a range over both is EFAULT (found by `mmoracle diff`).
    let mut m = model(LINUX);
    let a = LINUX.profile().arena;
    let fd = match assert_ok(
        &mut m,
        P1,
        &Call::ShmOpen {
            name: "/f".into(),
            oflag: OFlags::RDWR | OFlags::CREAT,
            mode: 0o600,
        },
        "SHM-OPEN-1",
    ) {
        Value::Fd(fd) => fd,
        other => panic!("shm_open returned {other}"),
    };
    mapped(
        &mut m,
        P1,
        &mmap(a, 2 * PAGE, RW, MapFlags::PRIVATE | MapFlags::FIXED, fd.0, 0),
    );
    mapped(&mut m, P1, &fixed(a + 2 * PAGE, PAGE, RW, MapFlags::PRIVATE));
    assert_err(
        &mut m,
        P1,
        &mremap(a, 3 * PAGE, 4 * PAGE, MAYMOVE, 0),
        Errno::EFAULT,
        "MREMAP-EFAULT-1",
    );
}

#[test]
fn mremap_efault_2_two_vmas_where_the_model_sees_one_mapping() {
    // mlock of the last two pages splits the regions; after munlockall the
    // model counts them as one mapping, the kernel may not (anon_vmas).
    let (mut m, a) = four_pages();
    let lock = Call::Mlock {
        addr: Addr(a + 2 * PAGE),
        len: Len(2 * PAGE),
    };
    assert_ok(&mut m, P1, &lock, "LOCK-MLOCK-1");
    assert_ok(&mut m, P1, &Call::Munlockall {}, "LOCK-MUNLOCKALL-1");
    let grow = mremap(a + PAGE, 2 * PAGE, 4 * PAGE, MremapFlags::empty(), 0);
    let v = m.evaluate(P1, &grow);
    assert_eq!(
        (v.outcome.clone(), v.rule),
        (Outcome::Err(Errno::ENOMEM), "MREMAP-ENOMEM-3")
    );
    let efault = Outcome::Err(Errno::EFAULT);
    assert_eq!(
        v.allows(&efault, true),
        Some("MREMAP-EFAULT-2"),
        "a free choice, strict too"
    );
    // Inside one region there is no such choice.
    let inside = mremap(a, PAGE, 3 * PAGE, MremapFlags::empty(), 0);
    assert_eq!(m.evaluate(P1, &inside).allows(&efault, false), None);
}

#[test]
fn mremap_ok_2_in_place_and_enomem_3_no_room() {
    let (mut m, a) = four_pages();
    assert_ok(
        &mut m,
        P1,
        &mremap(a, 4 * PAGE, 6 * PAGE, MremapFlags::empty(), 0),
        "MREMAP-OK-2",
    );
    assert_eq!(counters(&m).0, 6 * PAGE);
    assert_eq!(load(&mut m, a + 6 * PAGE - 1, 1), Outcome::Ok(Value::Bytes(vec![0])));
    mapped(&mut m, P1, &fixed(a + 10 * PAGE, PAGE, Prot::READ, MapFlags::PRIVATE));
    let none = MremapFlags::empty();
    assert_err(
        &mut m,
        P1,
        &mremap(a, 6 * PAGE, 12 * PAGE, none, 0),
        Errno::ENOMEM,
        "MREMAP-ENOMEM-3",
    );
    assert_err(
        &mut m,
        P1,
        &mremap(a, PAGE, 2 * PAGE, none, 0),
        Errno::ENOMEM,
        "MREMAP-ENOMEM-3",
    );
    // A shrink unmaps the tail, whatever maps it.
    assert_ok(&mut m, P1, &mremap(a, 11 * PAGE, 2 * PAGE, none, 0), "MREMAP-OK-2");
    assert_eq!(counters(&m).0, 2 * PAGE, "the read-only page went too");
}

#[test]
fn mremap_ok_3_moves_contents_and_locks() {
    let (mut m, a) = four_pages();
    assert_ok(
        &mut m,
        P1,
        &Call::Mlock {
            addr: Addr(a),
            len: Len(2 * PAGE),
        },
        "LOCK-MLOCK-1",
    );
    let to = a + 0x20_0000;
    let moved = assert_ok(&mut m, P1, &mremap(a, 2 * PAGE, 3 * PAGE, FIXED, to), "MREMAP-OK-3");
    assert_eq!(moved, Value::Addr(Addr(to)));
    assert_eq!(load(&mut m, to, 2), Outcome::Ok(Value::Bytes(vec![1, 2])));
    assert_eq!(load(&mut m, a, 1), Outcome::Fault(Signal::SIGSEGV));
    assert_eq!(
        counters(&m),
        (5 * PAGE, 5 * PAGE, 3 * PAGE),
        "the lock went with it, and grew"
    );
    // DONTUNMAP: the old range stays, empty and unlocked.
    let Value::Addr(d) = assert_ok(&mut m, P1, &mremap(to, 3 * PAGE, 3 * PAGE, DONTUNMAP, 0), "MREMAP-OK-3") else {
        panic!("an address")
    };
    assert_eq!(load(&mut m, d.0, 2), Outcome::Ok(Value::Bytes(vec![1, 2])));
    assert_eq!(load(&mut m, to, 2), Outcome::Ok(Value::Bytes(vec![0, 0])));
    assert_eq!(counters(&m), (8 * PAGE, 8 * PAGE, 3 * PAGE));
    // Growth that cannot stay moves where the model places it.
    mapped(&mut m, P1, &fixed(a + 4 * PAGE, PAGE, Prot::READ, MapFlags::PRIVATE));
    let out = assert_ok(
        &mut m,
        P1,
        &mremap(a + 2 * PAGE, 2 * PAGE, 4 * PAGE, MAYMOVE, 0),
        "MREMAP-OK-3",
    );
    assert_ne!(out, Value::Addr(Addr(a + 2 * PAGE)));
}

#[test]
fn mremap_eagain_1_enomem_2_limits_on_growth() {
    let (mut m, a) = four_pages();
    assert_ok(
        &mut m,
        P1,
        &Call::Cred {
            euid: 0,
            cap_ipc_lock: false,
            egid: None,
            groups: None,
        },
        "PROC-CRED-1",
    );
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, PAGE, 8 << 20);
    assert_ok(
        &mut m,
        P1,
        &Call::Mlock {
            addr: Addr(a),
            len: Len(PAGE),
        },
        "LOCK-MLOCK-1",
    );
    assert_err(
        &mut m,
        P1,
        &mremap(a, PAGE, 2 * PAGE, MAYMOVE, 0),
        Errno::EAGAIN,
        "MREMAP-EAGAIN-1",
    );
    setrlimit(&mut m, Resource::RLIMIT_AS, 4 * PAGE, RLIM_INFINITY);
    assert_err(
        &mut m,
        P1,
        &mremap(a + PAGE, 3 * PAGE, 4 * PAGE, MAYMOVE, 0),
        Errno::ENOMEM,
        "MREMAP-ENOMEM-2",
    );
}

#[test]
fn mremap_enomem_1_moves_near_the_region_limit() {
    let mut m = model(LINUX);
    m.set_step_checks(false);
    let a = LINUX.profile().arena;
    let pages = 65528;
    mapped(&mut m, P1, &fixed(a, pages * PAGE, Prot::READ, MapFlags::PRIVATE));
    for i in 0..32762 {
        let c = Call::Mprotect {
            addr: Addr(a + (2 * i + 1) * PAGE),
            len: Len(PAGE),
            prot: RW,
        };
        assert_eq!(m.step(P1, &c).outcome, Outcome::UNIT);
    }
    assert_eq!(m.process(P1).unwrap().space.region_count(), 65525);
    assert_err(
        &mut m,
        P1,
        &mremap(a, PAGE, PAGE, FIXED, a + (1 << 32)),
        Errno::ENOMEM,
        "MREMAP-ENOMEM-1",
    );
    assert_ok(&mut m, P1, &mremap(a, PAGE, PAGE, MAYMOVE, 0), "MREMAP-OK-1");
    m.check_invariants().unwrap();
}

/// A move's address is the implementation's choice (MREMAP-OK-3), but a
/// mapping that can grow where it is does not move (MREMAP-OK-2).
#[test]
fn mremap_ok_3_a_moves_place_is_adopted_only_for_a_move() {
    let a = LINUX.profile().arena;
    let setup = |o: &mut Oracle, blocked: bool| {
        let mut calls = vec![fixed(a, PAGE, RW, MapFlags::PRIVATE)];
        if blocked {
            calls.push(fixed(a + PAGE, PAGE, Prot::READ, MapFlags::PRIVATE));
        }
        for c in calls {
            let v = o.model().evaluate(P1, &c);
            assert!(matches!(o.judge(P1, &c, &v.outcome), Judgement::Allowed { .. }));
        }
    };
    let grow = mremap(a, PAGE, 2 * PAGE, MAYMOVE, 0);
    let elsewhere = at(0x3000_0000_0000);
    let mut o = Oracle::new(LINUX, true);
    setup(&mut o, true);
    assert!(matches!(
        o.judge(P1, &grow, &elsewhere),
        Judgement::Allowed { adopted: true, .. }
    ));
    let mut o = Oracle::new(LINUX, true);
    setup(&mut o, false);
    assert!(matches!(o.judge(P1, &grow, &elsewhere), Judgement::Divergence(_)));
}
