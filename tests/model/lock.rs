//! mlock, munlock, mlockall and munlockall (spec/locking.md). Each rule test
//! is named after its rule and asserts the outcome and the deciding rule in
//! every profile the rule applies to, with the locked counter after the call.

use crate::ctrl::{anon_with, counters, mlock, mprotect, munmap, prot_at, ALL, PROCNTO};
use crate::util::*;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName};

const LINUX: ProfileName = ProfileName::Linux;

fn munlock(addr: u64, len: u64) -> Call {
    Call::Munlock {
        addr: Addr(addr),
        len: Len(len),
    }
}

fn mlockall(flags: MclFlags) -> Call {
    Call::Mlockall { flags }
}

fn cred(m: &mut Model, euid: u32, cap_ipc_lock: bool) {
    assert_eq!(
        m.step(
            P1,
            &Call::Cred {
                euid,
                cap_ipc_lock,
                egid: None,
                groups: None,
            }
        )
        .outcome,
        Outcome::UNIT
    );
}

fn locked(m: &Model) -> u64 {
    counters(m).locked
}

fn is_locked(m: &Model, addr: u64) -> bool {
    m.process(P1).unwrap().space.region_at(Addr(addr)).unwrap().locked
}

fn future(m: &Model) -> bool {
    m.process(P1).unwrap().mcl_future
}

/// Sets the soft lock limit, keeping the hard one.
fn lock_limit(m: &mut Model, cur: u64) {
    let max = m.process(P1).unwrap().limits[Resource::RLIMIT_MEMLOCK.index()].max;
    setrlimit(m, Resource::RLIMIT_MEMLOCK, cur, max);
}

/// A Linux process without CAP_IPC_LOCK (still euid 0: the capability is
/// what matters there).
fn linux_without_cap() -> Model {
    let mut m = model(LINUX);
    cred(&mut m, 0, false);
    m
}

/// Three read-write private pages with the middle one unmapped.
fn rw_with_hole(m: &mut Model) -> u64 {
    let a = mapped(m, P1, &anon(3 * PAGE));
    assert_ok(m, P1, &munmap(a + PAGE, PAGE), "MUNMAP-OK-1");
    a
}

// ------------------------------------------------------------------- mlock

#[test]
fn lock_enomem_1_range_not_mapped() {
    for p in PROCNTO {
        let mut m = model(p);
        let top = m.profile().user_end;
        let a = rw_with_hole(&mut m);
        assert_err(&mut m, P1, &mlock(a, 0), Errno::ENOMEM, "LOCK-ENOMEM-1");
        assert_err(&mut m, P1, &mlock(a, u64::MAX), Errno::ENOMEM, "LOCK-ENOMEM-1");
        assert_err(&mut m, P1, &mlock(top - PAGE, 2 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-1");
        // A hole is refused before anything is locked.
        assert_err(&mut m, P1, &mlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-1");
        assert_eq!(locked(&m), 0, "{p}");
        // The range is checked before the privilege.
        cred(&mut m, 1000, false);
        assert_err(&mut m, P1, &mlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-1");
    }
    // Linux locks the mapped prefix before the hole.
    let mut m = model(LINUX);
    let a = rw_with_hole(&mut m);
    assert_err(&mut m, P1, &mlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-1");
    assert_eq!(locked(&m), PAGE);
    assert!(is_locked(&m, a) && !is_locked(&m, a + 2 * PAGE));
    assert_err(&mut m, P1, &mlock(a + PAGE, 2 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-1");
    assert_eq!(locked(&m), PAGE, "a range starting in a hole locks nothing");
    m.check_invariants().unwrap();
}

#[test]
fn lock_eperm_1_mlock_needs_root_or_the_ability_on_procnto() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        // Root without the ability may lock (6.4 checks euid 0).
        cred(&mut m, 0, false);
        assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
        // So may a non-root process with the ability (privileges can only be
        // dropped, so this one starts afresh).
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        cred(&mut m, 1000, true);
        assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
        cred(&mut m, 1000, false);
        assert_err(&mut m, P1, &mlock(a, PAGE), Errno::EPERM, "LOCK-EPERM-1");
        assert_eq!(locked(&m), PAGE, "{p}");
    }
}

#[test]
fn lock_eagain_1_mlock_over_the_lock_limit_on_procnto() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        lock_limit(&mut m, 2 * PAGE);
        assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
        // One page locked, one more would reach the limit: blown at equality.
        // Root (P1) is not exempt. Nothing is locked.
        let v = m.evaluate(P1, &mlock(a, 2 * PAGE));
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EAGAIN), "LOCK-EAGAIN-1")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("LOCK-EAGAIN-1"));
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), true), None);
        assert_err(&mut m, P1, &mlock(a, 2 * PAGE), Errno::EAGAIN, "LOCK-EAGAIN-1");
        assert_eq!(locked(&m), PAGE, "{p}");
        // The documented alternative changes nothing either.
        m.apply(P1, &mlock(a, 2 * PAGE), &Outcome::Err(Errno::ENOMEM)).unwrap();
        assert_eq!(locked(&m), PAGE, "{p}");
        // Locking the locked page again counts nothing (no double counting).
        assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
        assert_eq!(locked(&m), PAGE, "{p}");
        // A limit of 0 refuses every lock.
        lock_limit(&mut m, 0);
        assert_err(&mut m, P1, &mlock(a + 2 * PAGE, PAGE), Errno::EAGAIN, "LOCK-EAGAIN-1");
    }
}

#[test]
fn lock_enomem_5_mlock_of_a_region_without_access() {
    // procnto faults each region as it locks it: the ones before stay locked.
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        assert_ok(&mut m, P1, &mprotect(a + PAGE, PAGE, Prot::NONE), "MPROT-OK-1");
        assert_err(&mut m, P1, &mlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-5");
        assert_eq!(locked(&m), PAGE, "{p}");
        assert!(is_locked(&m, a) && !is_locked(&m, a + PAGE) && !is_locked(&m, a + 2 * PAGE));
        m.check_invariants().unwrap();
    }
    // Linux locks the whole range, then fails to fault it in.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(3 * PAGE));
    assert_ok(&mut m, P1, &mprotect(a + PAGE, PAGE, Prot::NONE), "MPROT-OK-1");
    assert_err(&mut m, P1, &mlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-5");
    assert_eq!(locked(&m), 3 * PAGE);
    // Linux: a shared mapping reaching past the end of its object cannot be
    // faulted in there either; the whole range stays locked (mmoracle diff).
    let mut m = model(LINUX);
    let s = past_its_object(&mut m);
    assert_ok(&mut m, P1, &mlock(s, PAGE), "LOCK-MLOCK-1");
    assert_err(&mut m, P1, &mlock(s, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-5");
    assert_eq!(locked(&m), 3 * PAGE);
    // procnto: not known for pages past the end; the model locks them.
    for p in PROCNTO {
        let mut m = model(p);
        let s = past_its_object(&mut m);
        assert_ok(&mut m, P1, &mlock(s, 3 * PAGE), "LOCK-MLOCK-1");
    }
    // mlockall never fails this way.
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon_with(PAGE, Prot::NONE));
        assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
        assert!(is_locked(&m, a), "{p}");
    }
}

#[test]
fn lock_eperm_2_mlock_without_the_right_to_lock_on_linux() {
    let mut m = linux_without_cap();
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
    lock_limit(&mut m, 0);
    assert_err(&mut m, P1, &mlock(a, PAGE), Errno::EPERM, "LOCK-EPERM-2");
    // Checked first: before the length and the range.
    assert_err(&mut m, P1, &mlock(a, 0), Errno::EPERM, "LOCK-EPERM-2");
    assert_err(&mut m, P1, &mlock(0, PAGE), Errno::EPERM, "LOCK-EPERM-2");
    // munlock needs no right.
    assert_ok(&mut m, P1, &munlock(a, PAGE), "LOCK-MUNLOCK-1");
    // CAP_IPC_LOCK gives the right whatever the limit.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    lock_limit(&mut m, 0);
    assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
}

#[test]
fn lock_enomem_2_mlock_over_the_lock_limit_on_linux() {
    let mut m = linux_without_cap();
    let a = mapped(&mut m, P1, &anon(4 * PAGE));
    lock_limit(&mut m, 2 * PAGE);
    // Reaching the limit exactly is fine, and so is locking it again.
    assert_ok(&mut m, P1, &mlock(a, 2 * PAGE), "LOCK-MLOCK-1");
    assert_ok(&mut m, P1, &mlock(a, 2 * PAGE), "LOCK-MLOCK-1");
    assert_eq!(locked(&m), 2 * PAGE);
    assert_err(&mut m, P1, &mlock(a + PAGE, 2 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-2");
    assert_eq!(locked(&m), 2 * PAGE, "nothing more is locked");
    // Checked before the range: holes are charged, and an unmapped range
    // over the limit fails on the limit.
    assert_err(&mut m, P1, &mlock(0, 4 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-2");
    // Over the limit already (lowered): even length 0 fails; munlock works.
    lock_limit(&mut m, PAGE);
    assert_err(&mut m, P1, &mlock(a, 0), Errno::ENOMEM, "LOCK-ENOMEM-2");
    assert_err(&mut m, P1, &mlock(a, PAGE), Errno::ENOMEM, "LOCK-ENOMEM-2");
    assert_ok(&mut m, P1, &munlock(a, PAGE), "LOCK-MUNLOCK-1");
    assert_eq!(locked(&m), PAGE);
    // CAP_IPC_LOCK lifts the limit.
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(4 * PAGE));
    lock_limit(&mut m, PAGE);
    assert_ok(&mut m, P1, &mlock(a, 4 * PAGE), "LOCK-MLOCK-1");
    assert_eq!(locked(&m), 4 * PAGE);
}

#[test]
fn lock_einval_2_mlock_or_munlock_range_wraps_on_linux() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_err(
        &mut m,
        P1,
        &mlock(a, u64::MAX - 2 * PAGE),
        Errno::EINVAL,
        "LOCK-EINVAL-2",
    );
    assert_err(
        &mut m,
        P1,
        &munlock(a, u64::MAX - 2 * PAGE),
        Errno::EINVAL,
        "LOCK-EINVAL-2",
    );
    assert_eq!(locked(&m), 0);
    // Without CAP_IPC_LOCK the limit check comes first.
    cred(&mut m, 0, false);
    assert_err(
        &mut m,
        P1,
        &mlock(a, u64::MAX - 2 * PAGE),
        Errno::ENOMEM,
        "LOCK-ENOMEM-2",
    );
}

#[test]
fn lock_ok_2_mlock_length_rounds_to_zero_on_linux() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(2 * PAGE));
    assert_ok(&mut m, P1, &mlock(a, 0), "LOCK-OK-2");
    assert_ok(&mut m, P1, &mlock(0, 0), "LOCK-OK-2");
    assert_ok(&mut m, P1, &mlock(a, u64::MAX), "LOCK-OK-2");
    assert_eq!(locked(&m), 0);
    // An unaligned start grows the length by its offset: one page.
    assert_ok(&mut m, P1, &mlock(a + 5, 0), "LOCK-MLOCK-1");
    assert_eq!(locked(&m), PAGE);
}

#[test]
fn lock_mlock_1_locks_the_range() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(4 * PAGE));
        assert_ok(&mut m, P1, &mlock(a + PAGE, 2 * PAGE), "LOCK-MLOCK-1");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
        assert!(!is_locked(&m, a) && is_locked(&m, a + PAGE) && !is_locked(&m, a + 3 * PAGE));
        // An unaligned start covers its page (procnto widens, Linux rounds down).
        assert_ok(&mut m, P1, &mlock(a + 100, PAGE), "LOCK-MLOCK-1");
        assert_eq!(locked(&m), 3 * PAGE, "{p}");
        assert!(is_locked(&m, a), "{p}");
        m.check_invariants().unwrap();
    }
}

// ----------------------------------------------------------------- munlock

#[test]
fn lock_enomem_3_munlock_of_a_range_not_mapped() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        assert_ok(&mut m, P1, &mlock(a, 3 * PAGE), "LOCK-MLOCK-1");
        assert_ok(&mut m, P1, &munmap(a + PAGE, PAGE), "MUNMAP-OK-1");
        assert_err(&mut m, P1, &munlock(a, 0), Errno::ENOMEM, "LOCK-ENOMEM-3");
        assert_err(&mut m, P1, &munlock(a, u64::MAX), Errno::ENOMEM, "LOCK-ENOMEM-3");
        assert_err(&mut m, P1, &munlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-3");
        assert_eq!(locked(&m), 2 * PAGE, "{p}: nothing unlocked");
    }
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(3 * PAGE));
    assert_ok(&mut m, P1, &mlock(a, 3 * PAGE), "LOCK-MLOCK-1");
    assert_ok(&mut m, P1, &munmap(a + PAGE, PAGE), "MUNMAP-OK-1");
    assert_err(&mut m, P1, &munlock(a, 3 * PAGE), Errno::ENOMEM, "LOCK-ENOMEM-3");
    assert_eq!(locked(&m), PAGE, "the prefix before the hole is unlocked");
    assert!(!is_locked(&m, a) && is_locked(&m, a + 2 * PAGE));
}

#[test]
fn lock_ok_3_munlock_length_rounds_to_zero_on_linux() {
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
    assert_ok(&mut m, P1, &munlock(a, 0), "LOCK-OK-3");
    assert_ok(&mut m, P1, &munlock(a, u64::MAX), "LOCK-OK-3");
    assert_eq!(locked(&m), PAGE);
}

#[test]
fn lock_munlock_1_unlocks_the_range_without_privilege() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(3 * PAGE));
        assert_ok(
            &mut m,
            P1,
            &mlockall(MclFlags::CURRENT | MclFlags::FUTURE),
            "LOCK-MLOCKALL-1",
        );
        assert_eq!(locked(&m), 3 * PAGE, "{p}");
        cred(&mut m, 1000, false);
        assert_ok(&mut m, P1, &munlock(a + PAGE, PAGE), "LOCK-MUNLOCK-1");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
        assert!(is_locked(&m, a) && !is_locked(&m, a + PAGE) && is_locked(&m, a + 2 * PAGE));
        assert!(future(&m), "{p}: munlock leaves MCL_FUTURE alone");
        // Unlocking what is not locked subtracts nothing.
        assert_ok(&mut m, P1, &munlock(a + PAGE, PAGE), "LOCK-MUNLOCK-1");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
        m.check_invariants().unwrap();
    }
}

// ---------------------------------------------------------------- mlockall

#[test]
fn lock_einval_1_bad_mlockall_flags() {
    for p in ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &mlockall(MclFlags::empty()), Errno::EINVAL, "LOCK-EINVAL-1");
        let unknown = MclFlags::CURRENT | MclFlags::from_bits_retain(0x40);
        assert_err(&mut m, P1, &mlockall(unknown), Errno::EINVAL, "LOCK-EINVAL-1");
        assert_err(&mut m, P1, &mlockall(MclFlags::ONFAULT), Errno::EINVAL, "LOCK-EINVAL-1");
        // Checked before the privilege.
        cred(&mut m, 1000, false);
        assert_err(&mut m, P1, &mlockall(MclFlags::empty()), Errno::EINVAL, "LOCK-EINVAL-1");
    }
    // MCL_ONFAULT is a Linux flag.
    let on_fault = MclFlags::CURRENT | MclFlags::ONFAULT;
    for p in PROCNTO {
        assert_err(&mut model(p), P1, &mlockall(on_fault), Errno::EINVAL, "LOCK-EINVAL-1");
    }
    let mut m = model(LINUX);
    let a = mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &mlockall(on_fault), "LOCK-MLOCKALL-1");
    assert!(is_locked(&m, a));
}

#[test]
fn lock_eperm_3_mlockall_without_the_privilege() {
    for p in PROCNTO {
        let mut m = model(p);
        mapped(&mut m, P1, &anon(PAGE));
        cred(&mut m, 1000, false);
        assert_err(&mut m, P1, &mlockall(MclFlags::FUTURE), Errno::EPERM, "LOCK-EPERM-3");
        assert_err(&mut m, P1, &mlockall(MclFlags::CURRENT), Errno::EPERM, "LOCK-EPERM-3");
        assert!(!future(&m) && locked(&m) == 0, "{p}");
    }
    // Linux: no CAP_IPC_LOCK and a limit of 0, whatever the flags.
    let mut m = linux_without_cap();
    lock_limit(&mut m, 0);
    assert_err(&mut m, P1, &mlockall(MclFlags::FUTURE), Errno::EPERM, "LOCK-EPERM-3");
    assert!(!future(&m));
    // A non-zero limit is the right to lock, even for a non-root process.
    let mut m = linux_without_cap();
    cred(&mut m, 1000, false);
    assert_ok(&mut m, P1, &mlockall(MclFlags::FUTURE), "LOCK-MLOCKALL-1");
}

#[test]
fn lock_eagain_2_mlockall_over_the_lock_limit_on_procnto() {
    for p in PROCNTO {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(PAGE));
        let b = mapped(&mut m, P1, &anon(2 * PAGE));
        let c = mapped(&mut m, P1, &anon(PAGE));
        lock_limit(&mut m, 3 * PAGE);
        let call = mlockall(MclFlags::CURRENT | MclFlags::FUTURE);
        let v = m.evaluate(P1, &call);
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EAGAIN), "LOCK-EAGAIN-2")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), false), Some("LOCK-EAGAIN-2"));
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOMEM), true), None);
        // Partial effects, for the errno and for its documented alternative:
        // MCL_FUTURE stays set; a is locked (1 page < 3), b would reach the
        // limit (3 pages), so b and c stay unlocked.
        let mut alt = m.clone();
        alt.apply(P1, &call, &Outcome::Err(Errno::ENOMEM)).unwrap();
        assert_err(&mut m, P1, &call, Errno::EAGAIN, "LOCK-EAGAIN-2");
        for m in [&m, &alt] {
            assert!(future(m), "{p}");
            assert_eq!(locked(m), PAGE, "{p}");
            assert!(is_locked(m, a) && !is_locked(m, b) && !is_locked(m, c), "{p}");
        }
        // MCL_FUTURE alone does not lock anything now, so it cannot fail.
        assert_ok(&mut m, P1, &mlockall(MclFlags::FUTURE), "LOCK-MLOCKALL-1");
        m.check_invariants().unwrap();
    }
}

#[test]
fn lock_eagain_2_counts_each_locked_byte_once() {
    for p in PROCNTO {
        // Everything is locked already: locking it all again charges nothing,
        // where procnto's ms_lock() would count it twice.
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(2 * PAGE));
        assert_ok(&mut m, P1, &mlock(a, 2 * PAGE), "LOCK-MLOCK-1");
        lock_limit(&mut m, 3 * PAGE);
        assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
        // With nothing mapped there is no region to check, even at limit 0.
        let mut m = model(p);
        lock_limit(&mut m, 0);
        assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
        // Lowered below what is locked: every region's check fails.
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(2 * PAGE));
        assert_ok(&mut m, P1, &mlock(a, 2 * PAGE), "LOCK-MLOCK-1");
        lock_limit(&mut m, PAGE);
        assert_err(&mut m, P1, &mlockall(MclFlags::CURRENT), Errno::EAGAIN, "LOCK-EAGAIN-2");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
    }
}

#[test]
fn lock_enomem_4_mlockall_over_the_lock_limit_on_linux() {
    let mut m = linux_without_cap();
    let a = mapped(&mut m, P1, &anon(3 * PAGE));
    lock_limit(&mut m, 3 * PAGE);
    assert_ok(&mut m, P1, &mlock(a, PAGE), "LOCK-MLOCK-1");
    // All mapped bytes count, locked or not; equality is fine.
    assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
    mapped(&mut m, P1, &anon(PAGE));
    assert_ok(&mut m, P1, &munlock(a, 3 * PAGE), "LOCK-MUNLOCK-1");
    let call = mlockall(MclFlags::CURRENT | MclFlags::FUTURE);
    assert_err(&mut m, P1, &call, Errno::ENOMEM, "LOCK-ENOMEM-4");
    assert!(!future(&m), "nothing changes, not even MCL_FUTURE");
    assert_eq!(locked(&m), 0);
    // MCL_FUTURE alone is left to later mmaps.
    assert_ok(&mut m, P1, &mlockall(MclFlags::FUTURE), "LOCK-MLOCKALL-1");
    assert!(future(&m));
    // CAP_IPC_LOCK lifts the limit.
    let mut m = model(LINUX);
    mapped(&mut m, P1, &anon(4 * PAGE));
    lock_limit(&mut m, PAGE);
    assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
    assert_eq!(locked(&m), 4 * PAGE);
}

#[test]
fn lock_mlockall_1_current_and_future() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(2 * PAGE));
        assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
        assert_eq!(locked(&m), 2 * PAGE, "{p}");
        assert!(!future(&m), "{p}");
        let b = mapped(&mut m, P1, &anon(PAGE));
        assert!(!is_locked(&m, b), "{p}: MCL_CURRENT does not lock later mappings");
        assert_ok(&mut m, P1, &mlockall(MclFlags::FUTURE), "LOCK-MLOCKALL-1");
        let c = mapped(&mut m, P1, &anon(PAGE));
        assert!(is_locked(&m, c) && !is_locked(&m, b), "{p}");
        assert_eq!(locked(&m), 3 * PAGE, "{p}");
        assert!(is_locked(&m, a));
    }
    // MCL_CURRENT alone: Linux replaces the flag (clearing MCL_FUTURE),
    // procnto only ever sets it.
    for p in ALL {
        let mut m = model(p);
        assert_ok(&mut m, P1, &mlockall(MclFlags::FUTURE), "LOCK-MLOCKALL-1");
        assert_ok(&mut m, P1, &mlockall(MclFlags::CURRENT), "LOCK-MLOCKALL-1");
        let d = mapped(&mut m, P1, &anon(PAGE));
        assert_eq!(future(&m), p != LINUX, "{p}");
        assert_eq!(is_locked(&m, d), p != LINUX, "{p}");
    }
}

#[test]
fn lock_munlockall_1_unlocks_everything_and_clears_future() {
    for p in ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(2 * PAGE));
        assert_ok(
            &mut m,
            P1,
            &mlockall(MclFlags::CURRENT | MclFlags::FUTURE),
            "LOCK-MLOCKALL-1",
        );
        mapped(&mut m, P1, &anon(PAGE));
        assert_eq!(locked(&m), 3 * PAGE, "{p}");
        cred(&mut m, 1000, false);
        assert_ok(&mut m, P1, &Call::Munlockall {}, "LOCK-MUNLOCKALL-1");
        assert_eq!(locked(&m), 0, "{p}");
        assert!(!future(&m), "{p}");
        let b = mapped(&mut m, P1, &anon(PAGE));
        assert!(!is_locked(&m, b) && !is_locked(&m, a), "{p}");
        assert_eq!(
            prot_at(&m, a),
            Some(Prot::READ | Prot::WRITE),
            "{p}: nothing else changes"
        );
        m.check_invariants().unwrap();
    }
}

/// A 3-page shared mapping of a 1-page shm object: two pages past its end.
fn past_its_object(m: &mut Model) -> u64 {
    let fd = opened(
        m,
        P1,
        &Call::ShmOpen {
            name: "/short".into(),
            oflag: OFlags::RDWR | OFlags::CREAT,
            mode: 0o600,
        },
    );
    assert_ok(m, P1, &Call::Ftruncate { fd, len: PAGE as i64 }, "TRUNC-OK-1");
    mapped(
        m,
        P1,
        &mmap(0, 3 * PAGE, Prot::READ | Prot::WRITE, MapFlags::SHARED, fd.0, 0),
    )
}
