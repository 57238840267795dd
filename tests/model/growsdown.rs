//! MAP_GROWSDOWN: stacks that grow down on a fault below them, the stack
//! guard gap, the limits growth obeys, and placement and brk keeping the gap
//! free (spec/objects-contents.md "Stacks that grow down", spec/mmap.md
//! MMAP-EINVAL-15 and MMAP-OK-3). Each rule test is named after its rule and
//! asserts the outcome, the deciding rule and the state after the call.

use crate::shm::{load, store};
use crate::util::*;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

const LINUX: ProfileName = ProfileName::Linux;
const RW: Prot = Prot::READ.union(Prot::WRITE);
const GAP: u64 = 256 * PAGE;

fn grows(addr: u64, len: u64, prot: Prot) -> Call {
    mmap(
        addr,
        len,
        prot,
        MapFlags::PRIVATE | MapFlags::ANON | MapFlags::GROWSDOWN | MapFlags::FIXED,
        -1,
        0,
    )
}

fn plain(addr: u64, len: u64, prot: Prot) -> Call {
    mmap(
        addr,
        len,
        prot,
        MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED,
        -1,
        0,
    )
}

fn assert_fault(m: &mut Model, call: &Call, rule: &str) {
    let v = m.step(P1, call);
    assert_eq!(v.outcome, Outcome::Fault(Signal::SIGSEGV), "{call:?}: {v:?}");
    assert_eq!(v.rule, rule, "{call:?}: {v:?}");
}

/// The region containing `addr` in the first process: its start and end.
fn region_of(m: &Model, addr: u64) -> Option<(u64, u64)> {
    let r = m.process(P1).unwrap().space.region_at(Addr(addr))?;
    Some((r.range.start().0, r.range.end().0))
}

fn total(m: &Model) -> u64 {
    m.process(P1).unwrap().space.counters().total
}

fn linux_stack() -> (Model, u64) {
    let mut m = model(LINUX);
    let g = LINUX.profile().arena + 0x80_0000;
    mapped(&mut m, P1, &grows(g, 4 * PAGE, RW));
    (m, g)
}

#[test]
fn access_grow_1_a_load_below_grows_the_stack_to_the_faulting_page() {
    let (mut m, g) = linux_stack();
    assert_eq!(
        assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1"),
        Value::Bytes(vec![0])
    );
    assert_eq!(
        region_of(&m, g - PAGE),
        Some((g - PAGE, g + 4 * PAGE)),
        "one page, no more"
    );
    // A store 5 bytes into the page 4 pages below grows it to that page.
    assert_ok(&mut m, P1, &store(g - 4 * PAGE + 5, &[1, 2]), "ACCESS-GROW-1");
    assert_eq!(region_of(&m, g), Some((g - 4 * PAGE, g + 4 * PAGE)));
    assert_eq!(
        assert_ok(&mut m, P1, &load(g - 4 * PAGE + 4, 4), "ACCESS-LOAD-1"),
        Value::Bytes(vec![0, 1, 2, 0])
    );
    let c = m.process(P1).unwrap().space.counters();
    assert_eq!(
        (c.total, c.data, c.locked),
        (8 * PAGE, 0, 0),
        "VmSize grows, VmData never"
    );
}

#[test]
fn access_grow_1_far_below_in_one_step_and_contents_keep_their_place() {
    let (mut m, g) = linux_stack();
    assert_ok(&mut m, P1, &store(g, &[7]), "ACCESS-STORE-1");
    assert_ok(&mut m, P1, &load(g - 500 * PAGE, 1), "ACCESS-GROW-1");
    assert_eq!(total(&m), 504 * PAGE);
    assert_eq!(
        assert_ok(&mut m, P1, &load(g, 1), "ACCESS-LOAD-1"),
        Value::Bytes(vec![7]),
        "the page stored before growth keeps its bytes"
    );
}

#[test]
fn access_grow_1_a_protected_stack_grows_and_still_faults() {
    let mut m = model(LINUX);
    let g = LINUX.profile().arena + 0x80_0000;
    mapped(&mut m, P1, &grows(g, 4 * PAGE, Prot::NONE));
    assert_fault(&mut m, &load(g - 1, 1), "ACCESS-SIGSEGV-2");
    assert_eq!(
        region_of(&m, g - PAGE),
        Some((g - PAGE, g + 4 * PAGE)),
        "the growth stays"
    );
    let r = g + 0x40_0000;
    mapped(&mut m, P1, &grows(r, 4 * PAGE, Prot::READ));
    assert_fault(&mut m, &store(r - 1, &[1]), "ACCESS-SIGSEGV-2");
    assert_ok(&mut m, P1, &load(r - 1, 1), "ACCESS-LOAD-1");
}

#[test]
fn access_sigsegv_3_no_growth_below_mmap_min_addr() {
    let mut m = model(LINUX);
    mapped(&mut m, P1, &grows(0x12000, 4 * PAGE, RW));
    assert_ok(&mut m, P1, &load(0x11000, 1), "ACCESS-GROW-1");
    assert_ok(&mut m, P1, &load(0x10000, 1), "ACCESS-GROW-1");
    assert_fault(&mut m, &load(0xF000, 1), "ACCESS-SIGSEGV-3");
    assert_eq!(region_of(&m, 0x10000), Some((0x10000, 0x16000)));
    assert_eq!(region_of(&m, 0xF000), None);
}

#[test]
fn access_sigsegv_4_the_guard_gap_to_an_accessible_mapping_below() {
    let mut m = model(LINUX);
    let a = LINUX.profile().arena;
    mapped(&mut m, P1, &plain(a, PAGE, RW));
    let g = a + PAGE + GAP + PAGE;
    mapped(&mut m, P1, &grows(g, 4 * PAGE, RW));
    assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1"); // 256 pages apart
    assert_fault(&mut m, &load(g - PAGE - 1, 1), "ACCESS-SIGSEGV-4"); // 255
    assert_eq!(region_of(&m, g - PAGE), Some((g - PAGE, g + 4 * PAGE)));
    for (prot, rule) in [(Prot::READ, "ACCESS-SIGSEGV-4"), (Prot::EXEC, "ACCESS-SIGSEGV-4")] {
        let change = Call::Mprotect {
            addr: Addr(a),
            len: Len(PAGE),
            prot,
        };
        assert_ok(&mut m, P1, &change, "MPROT-OK-1");
        assert_fault(&mut m, &load(g - PAGE - 1, 1), rule);
    }
    // A PROT_NONE mapping below keeps no gap: the stack grows right up to it.
    let none = Call::Mprotect {
        addr: Addr(a),
        len: Len(PAGE),
        prot: Prot::NONE,
    };
    assert_ok(&mut m, P1, &none, "MPROT-OK-1");
    assert_ok(&mut m, P1, &load(a + PAGE, 1), "ACCESS-GROW-1");
    assert_eq!(region_of(&m, a + PAGE), Some((a + PAGE, g + 4 * PAGE)));
}

#[test]
fn access_sigsegv_4_a_growsdown_mapping_below_keeps_no_gap() {
    let mut m = model(LINUX);
    let a = LINUX.profile().arena;
    mapped(&mut m, P1, &grows(a, PAGE, RW));
    mapped(&mut m, P1, &grows(a + 2 * PAGE, PAGE, RW));
    assert_ok(&mut m, P1, &load(a + PAGE, 1), "ACCESS-GROW-1");
    assert_eq!(region_of(&m, a + PAGE), Some((a + PAGE, a + 3 * PAGE)));
}

#[test]
fn access_sigsegv_5_growth_past_rlimit_as() {
    let (mut m, g) = linux_stack();
    setrlimit(&mut m, Resource::RLIMIT_AS, 5 * PAGE, RLIM_INFINITY);
    assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1");
    assert_fault(&mut m, &load(g - PAGE - 1, 1), "ACCESS-SIGSEGV-5");
    assert_eq!(total(&m), 5 * PAGE);
}

#[test]
fn access_sigsegv_6_growth_past_rlimit_stack() {
    let (mut m, g) = linux_stack();
    setrlimit(&mut m, Resource::RLIMIT_STACK, 5 * PAGE, RLIM_INFINITY);
    assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1");
    assert_fault(&mut m, &load(g - PAGE - 1, 1), "ACCESS-SIGSEGV-6");
    assert_eq!(region_of(&m, g), Some((g - PAGE, g + 4 * PAGE)));
    // mmap itself does not check the stack limit.
    let big = mmap(
        0,
        64 * PAGE,
        RW,
        MapFlags::PRIVATE | MapFlags::ANON | MapFlags::GROWSDOWN,
        -1,
        0,
    );
    assert_ok(&mut m, P1, &big, "MMAP-OK-1");
}

#[test]
fn access_sigsegv_7_a_locked_stack_grows_within_rlimit_memlock() {
    let mut m = model(LINUX);
    let cred = Call::Cred {
        euid: 0,
        cap_ipc_lock: false,
        egid: None,
        groups: None,
    };
    assert_ok(&mut m, P1, &cred, "PROC-CRED-1");
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 5 * PAGE, 5 * PAGE);
    let g = LINUX.profile().arena + 0x80_0000;
    let locked = mmap(
        g,
        4 * PAGE,
        RW,
        MapFlags::PRIVATE | MapFlags::ANON | MapFlags::GROWSDOWN | MapFlags::FIXED | MapFlags::LOCKED,
        -1,
        0,
    );
    mapped(&mut m, P1, &locked);
    assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1");
    assert_eq!(
        m.process(P1).unwrap().space.counters().locked,
        5 * PAGE,
        "the growth is locked"
    );
    assert_fault(&mut m, &load(g - PAGE - 1, 1), "ACCESS-SIGSEGV-7");
}

#[test]
fn access_sigsegv_8_growth_larger_than_memory_and_swap() {
    let mut m = model(LINUX);
    setrlimit(&mut m, Resource::RLIMIT_STACK, RLIM_INFINITY, RLIM_INFINITY);
    let ram = LINUX.profile().ram_bytes;
    let g = LINUX.profile().arena + ram + 0x2000;
    mapped(&mut m, P1, &grows(g, PAGE, RW));
    assert_fault(&mut m, &load(g - ram - PAGE, 1), "ACCESS-SIGSEGV-8");
    assert_eq!(total(&m), PAGE);
    assert_ok(&mut m, P1, &load(g - ram, 1), "ACCESS-GROW-1");
}

#[test]
fn access_sigsegv_1_procnto_has_no_growing_mappings() {
    for p in [ProfileName::Neutrino, ProfileName::Qnx4] {
        let mut m = model(p);
        let g = p.profile().arena + 0x10_0000;
        let flags = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::GROWSDOWN | MapFlags::FIXED;
        assert_err(
            &mut m,
            P1,
            &mmap(g, 4 * PAGE, RW, flags, -1, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-4",
        );
        mapped(&mut m, P1, &plain(g, 4 * PAGE, RW));
        assert_fault(&mut m, &load(g - 1, 1), "ACCESS-SIGSEGV-1");
        assert_eq!(total(&m), 4 * PAGE, "{p}");
    }
}

#[test]
fn mmap_einval_15_only_private_anonymous_memory_grows_down() {
    let mut m = model(LINUX);
    let shared = mmap(
        0,
        PAGE,
        RW,
        MapFlags::SHARED | MapFlags::ANON | MapFlags::GROWSDOWN,
        -1,
        0,
    );
    assert_err(&mut m, P1, &shared, Errno::EINVAL, "MMAP-EINVAL-15");
    let zero = open_dev_zero(&mut m, P1);
    for share in [MapFlags::PRIVATE, MapFlags::SHARED] {
        let file = mmap(0, PAGE, RW, share | MapFlags::GROWSDOWN, zero.0, 0);
        assert_err(&mut m, P1, &file, Errno::EINVAL, "MMAP-EINVAL-15");
    }
    assert_eq!(total(&m), 0);
}

#[test]
fn mmap_ok_3_placement_keeps_the_guard_gap_free() {
    let (mut m, g) = linux_stack();
    let hinted = |addr: u64| mmap(addr, PAGE, Prot::READ, MapFlags::PRIVATE | MapFlags::ANON, -1, 0);
    for hint in [g - PAGE, g - GAP] {
        let at = match assert_ok(&mut m, P1, &hinted(hint), "MMAP-OK-3") {
            Value::Addr(a) => a.0,
            other => panic!("{other}"),
        };
        assert!(at + PAGE <= g - GAP || at >= g + 4 * PAGE, "{at:#x} keeps the gap");
    }
    assert_eq!(
        assert_ok(&mut m, P1, &hinted(g - GAP - PAGE), "MMAP-OK-1"),
        Value::Addr(Addr(g - GAP - PAGE))
    );
    // MAP_FIXED may map inside the gap, and then the stack cannot grow.
    mapped(&mut m, P1, &plain(g - 2 * PAGE, PAGE, RW));
    assert_fault(&mut m, &load(g - 1, 1), "ACCESS-SIGSEGV-4");
}

#[test]
fn mmap_ok_3_the_top_down_search_goes_below_the_gap() {
    let mut m = model(LINUX);
    let base = LINUX.profile().map_base;
    // A stack right below the mmap base: the first fit would end at its start.
    mapped(&mut m, P1, &grows(base - 4 * PAGE, 4 * PAGE, RW));
    let at = match assert_ok(&mut m, P1, &anon(PAGE), "MMAP-OK-3") {
        Value::Addr(a) => a.0,
        other => panic!("{other}"),
    };
    assert_eq!(at, base - 4 * PAGE - GAP - PAGE);
}

#[test]
fn brk_mapped_1_brk_keeps_the_guard_gap_free() {
    let mut m = model(LINUX);
    let b = match assert_ok(&mut m, P1, &Call::Brk { addr: Addr(0) }, "BRK-BELOW-1") {
        Value::Addr(a) => a.0,
        other => panic!("{other}"),
    };
    mapped(&mut m, P1, &grows(b + 300 * PAGE, 4 * PAGE, RW));
    let to = |addr: u64| Call::Brk { addr: Addr(addr) };
    assert_eq!(
        assert_ok(&mut m, P1, &to(b + 43 * PAGE), "BRK-OK-3"),
        Value::Addr(Addr(b + 43 * PAGE))
    );
    assert_eq!(
        assert_ok(&mut m, P1, &to(b + 43 * PAGE + 1), "BRK-MAPPED-1"),
        Value::Addr(Addr(b + 43 * PAGE))
    );
}

#[test]
fn growsdown_pieces_keep_growing_after_munmap_mprotect_and_mremap() {
    let mut m = model(LINUX);
    let g = LINUX.profile().arena + 0x80_0000;
    mapped(&mut m, P1, &grows(g, 8 * PAGE, RW));
    let unmap = Call::Munmap {
        addr: Addr(g),
        len: Len(2 * PAGE),
    };
    assert_ok(&mut m, P1, &unmap, "MUNMAP-OK-1");
    assert_ok(&mut m, P1, &load(g, 1), "ACCESS-GROW-1");
    let ro = Call::Mprotect {
        addr: Addr(g + 6 * PAGE),
        len: Len(2 * PAGE),
        prot: Prot::READ,
    };
    assert_ok(&mut m, P1, &ro, "MPROT-OK-1");
    assert_ok(&mut m, P1, &load(g - 1, 1), "ACCESS-GROW-1");
    let moved = Call::Mremap {
        old_addr: Addr(g + 6 * PAGE),
        old_len: Len(2 * PAGE),
        new_len: Len(2 * PAGE),
        flags: MremapFlags::MAYMOVE | MremapFlags::FIXED,
        new_addr: Addr(g + 0x80_0000),
    };
    assert_ok(&mut m, P1, &moved, "MREMAP-OK-3");
    assert_ok(&mut m, P1, &load(g + 0x80_0000 - 1, 1), "ACCESS-GROW-1");
    assert_eq!(
        region_of(&m, g + 0x80_0000 - PAGE),
        Some((g + 0x80_0000 - PAGE, g + 0x80_0000 + 2 * PAGE))
    );
}
