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
