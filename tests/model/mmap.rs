//! mmap (spec/mmap.md): one test per rule, named after it, in every profile
//! the rule applies to; profile variants, alternatives, normalisation,
//! placement, MAP_FIXED replacement and the counters.

use super::util::*;
use mmoracle::model::space::Counters;
use mmoracle::rules::Verdict;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use ProfileName::{Linux, Neutrino, Qnx4};

const QNX: [ProfileName; 2] = [Neutrino, Qnx4];
const ALL: [ProfileName; 3] = ProfileName::ALL;
const RW: Prot = Prot::READ.union(Prot::WRITE);
const ANON_PRIV: MapFlags = MapFlags::PRIVATE.union(MapFlags::ANON);
const ANON_SHARED: MapFlags = MapFlags::SHARED.union(MapFlags::ANON);
const GIB: u64 = 1 << 30;

// ---- helpers ----

/// A shared-memory object of `size` bytes, opened with `oflag`'s access mode.
fn shm_fd(m: &mut Model, name: &str, size: u64, oflag: OFlags) -> Fd {
    let create = Call::ShmOpen {
        name: name.into(),
        oflag: OFlags::CREAT | OFlags::RDWR,
        mode: 0o600,
    };
    let rw = opened(m, P1, &create);
    if size > 0 {
        let len = i64::try_from(size).unwrap();
        assert_eq!(m.step(P1, &Call::Ftruncate { fd: rw, len }).outcome, Outcome::UNIT);
    }
    if oflag == OFlags::RDWR {
        return rw;
    }
    let again = Call::ShmOpen {
        name: name.into(),
        oflag,
        mode: 0,
    };
    opened(m, P1, &again)
}

fn dev_fd(m: &mut Model, path: &str, oflag: OFlags) -> Fd {
    opened(
        m,
        P1,
        &Call::Open {
            path: path.into(),
            oflag,
        },
    )
}

fn counters(m: &Model) -> Counters {
    m.process(P1).unwrap().space.counters()
}

fn region_count(m: &Model) -> usize {
    m.process(P1).unwrap().space.region_count()
}

fn store(m: &mut Model, addr: u64, data: &[u8]) -> Outcome {
    m.step(
        P1,
        &Call::Store {
            addr: Addr(addr),
            data: data.to_vec(),
        },
    )
    .outcome
}

fn load(m: &mut Model, addr: u64, len: u64) -> Outcome {
    m.step(
        P1,
        &Call::Load {
            addr: Addr(addr),
            len: Len(len),
        },
    )
    .outcome
}

fn bytes(b: &[u8]) -> Outcome {
    Outcome::Ok(Value::Bytes(b.to_vec()))
}

const SEGV: Outcome = Outcome::Fault(Signal::SIGSEGV);

fn cred(m: &mut Model, euid: u32, cap_ipc_lock: bool) {
    let v = m.step(
        P1,
        &Call::Cred {
            euid,
            cap_ipc_lock,
            egid: None,
            groups: None,
        },
    );
    assert!(v.outcome.is_ok(), "{v:?}");
}

fn mlockall_future(m: &mut Model) {
    let v = m.step(
        P1,
        &Call::Mlockall {
            flags: MclFlags::FUTURE,
        },
    );
    assert!(v.outcome.is_ok(), "{v:?}");
}

fn arena(m: &Model) -> u64 {
    m.profile().arena
}

/// An anonymous private read-write MAP_FIXED mapping at `addr`.
fn anon_fixed(addr: u64, len: u64) -> Call {
    mmap(addr, len, RW, ANON_PRIV | MapFlags::FIXED, -1, 0)
}

fn addr_of(v: Value) -> u64 {
    match v {
        Value::Addr(a) => a.0,
        other => panic!("expected an address, got {other}"),
    }
}

fn err(e: Errno) -> Outcome {
    Outcome::Err(e)
}

/// Asserts the verdict allows `e` (non-strict) by `rule`, and strict does not.
fn assert_alternative(v: &Verdict, e: Errno, rule: &str) {
    assert_eq!(v.allows(&err(e), false), Some(rule), "{v:?}");
    assert_eq!(v.allows(&err(e), true), None, "{v:?}");
}

// ---- one test per rule ----

#[test]
fn mmap_einval_1_unknown_share_type() {
    for p in QNX {
        let mut m = model(p);
        for ty in [4, 7, 0xF] {
            let flags = MapFlags::from_bits_retain(ty) | MapFlags::ANON;
            assert_err(
                &mut m,
                P1,
                &mmap(0, PAGE, RW, flags, -1, 0),
                Errno::EINVAL,
                "MMAP-EINVAL-1",
            );
        }
    }
    let mut m = model(Linux);
    // Anonymous: only MAP_SHARED and MAP_PRIVATE; share type 3 is
    // MAP_SHARED_VALIDATE, which anonymous memory refuses.
    for ty in [0, 3, 4] {
        let flags = MapFlags::from_bits_retain(ty) | MapFlags::ANON;
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, flags, -1, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-1",
        );
    }
    // A file with share type 0: refused at the switch, before any access check
    // (this fd is not readable, which would otherwise be EACCES).
    let wo = shm_fd(&mut m, "/t", PAGE, OFlags::WRONLY);
    let call = mmap(0, PAGE, Prot::READ, MapFlags::empty(), wo.0, 0);
    assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-1");
}

#[test]
fn mmap_einval_2_zero_length() {
    for p in ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &anon(0), Errno::EINVAL, "MMAP-EINVAL-2");
        assert_eq!(region_count(&m), 0);
    }
}

#[test]
fn mmap_einval_3_unknown_prot_bits() {
    let prot = Prot::from_bits_retain(0x1100);
    for p in QNX {
        let mut m = model(p);
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, prot, ANON_PRIV, -1, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-3",
        );
    }
    // Linux ignores the unknown bit: the mapping is read-only.
    let mut m = model(Linux);
    let a = addr_of(assert_ok(
        &mut m,
        P1,
        &mmap(0, PAGE, prot, ANON_PRIV, -1, 0),
        "MMAP-OK-1",
    ));
    assert_eq!(load(&mut m, a, 1), bytes(&[0]));
    assert_eq!(store(&mut m, a, &[1]), SEGV);
}

#[test]
fn mmap_einval_4_flags_a_caller_may_not_pass() {
    let bad = [
        MapFlags::from_bits_retain(Prot::READ.bits()),
        MapFlags::SYSRAM,
        MapFlags::from_bits_retain(0x0010_0000),
        MapFlags::NORESERVE,
        MapFlags::LOCKED,
        MapFlags::FIXED_NOREPLACE,
    ];
    for p in QNX {
        let mut m = model(p);
        for extra in bad {
            let call = mmap(0, PAGE, RW, ANON_PRIV | extra, -1, 0);
            assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-4");
        }
    }
    // Linux knows MAP_NORESERVE and ignores bits it does not know.
    let mut m = model(Linux);
    for extra in [MapFlags::NORESERVE, MapFlags::SYSRAM] {
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, ANON_PRIV | extra, -1, 0), "MMAP-OK-1");
    }
}

#[test]
fn mmap_einval_5_anon_with_fd() {
    for p in QNX {
        let mut m = model(p);
        let fd = dev_fd(&mut m, "/dev/zero", OFlags::RDWR);
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, ANON_PRIV, fd.0, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-5",
        );
        // MAP_PRIVATEANON implies MAP_ANON.
        let privateanon = MapFlags::from_bits_retain(MapFlags::PRIVATEANON);
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, privateanon, fd.0, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-5",
        );
    }
    // Linux ignores the fd of an anonymous mapping, even a bad one.
    let mut m = model(Linux);
    assert_ok(&mut m, P1, &mmap(0, PAGE, RW, ANON_PRIV, 42, 0), "MMAP-OK-1");
}

#[test]
fn mmap_einval_6_lazy_phys_anon() {
    for p in QNX {
        let mut m = model(p);
        let flags = ANON_PRIV | MapFlags::PHYS | MapFlags::LAZY;
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, flags, -1, 0),
            Errno::EINVAL,
            "MMAP-EINVAL-6",
        );
        // Without MAP_LAZY it is physically contiguous anonymous memory, and
        // needs no privilege.
        cred(&mut m, 1000, false);
        let call = mmap(0, PAGE, RW, ANON_PRIV | MapFlags::PHYS, -1, 0);
        assert_ok(&mut m, P1, &call, "MMAP-OK-1");
    }
}

#[test]
fn mmap_eperm_1_phys_needs_root() {
    let phys = MapFlags::SHARED | MapFlags::PHYS;
    for p in QNX {
        let mut m = model(p);
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, phys, -1, 0xA0000), "MMAP-OK-1");
        cred(&mut m, 1000, false);
        assert_err(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, phys, -1, 0xA0000),
            Errno::EPERM,
            "MMAP-EPERM-1",
        );
        // EPERM comes first in the MAP_PHYS branch; the fd's EINVAL is also allowed.
        let v = m.evaluate(P1, &mmap(0, PAGE, RW, phys, 3, 0xA0000));
        assert_eq!((v.outcome.clone(), v.rule), (err(Errno::EPERM), "MMAP-EPERM-1"));
        assert_alternative(&v, Errno::EINVAL, "MMAP-EINVAL-7");
    }
}

#[test]
fn mmap_einval_7_phys_with_fd() {
    for p in QNX {
        let mut m = model(p);
        let fd = dev_fd(&mut m, "/dev/zero", OFlags::RDWR);
        let call = mmap(0, PAGE, RW, MapFlags::SHARED | MapFlags::PHYS, fd.0, 0xA0000);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-7");
    }
}

#[test]
fn mmap_einval_8_phys_range_past_last_paddr() {
    let phys = MapFlags::SHARED | MapFlags::PHYS;
    for p in QNX {
        let mut m = model(p);
        // The last page of physical memory ends exactly at 0xFFFFFFFF.
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, phys, -1, 0xFFFF_F000), "MMAP-OK-1");
        let call = mmap(0, 2 * PAGE, RW, phys, -1, 0xFFFF_F000);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-8");
        let call = mmap(0, PAGE, RW, phys, -1, u64::MAX - 10);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-8");
    }
}

#[test]
fn mmap_ebadf_1_fd_not_open() {
    for p in QNX {
        let mut m = model(p);
        for fd in [7, -2] {
            let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd, 0);
            assert_err(&mut m, P1, &call, Errno::EBADF, "MMAP-EBADF-1");
        }
    }
}

#[test]
fn mmap_enotsup_1_fd_procnto_cannot_map() {
    for p in QNX {
        let mut m = model(p);
        // Neutrino answers ENOTSUP (the source), with ENODEV allowed; QNX 4
        // answers ENODEV, as the Gamma document lists it.
        let errno = if p == Qnx4 { Errno::ENODEV } else { Errno::ENOTSUP };
        let null = dev_fd(&mut m, "/dev/null", OFlags::RDONLY);
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, null.0, 0);
        if p == Neutrino {
            assert_alternative(&m.evaluate(P1, &call), Errno::ENODEV, "MMAP-ENOTSUP-1");
        }
        assert_err(&mut m, P1, &call, errno, "MMAP-ENOTSUP-1");
        // No handler accepts the fd, so its access mode is never looked at.
        let wo = dev_fd(&mut m, "/dev/null", OFlags::WRONLY);
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, wo.0, 0);
        assert_err(&mut m, P1, &call, errno, "MMAP-ENOTSUP-1");
    }
}

#[test]
fn mmap_einval_14_share_type_0_without_backwards_compatibility() {
    // QNX 4 has no backwards-compatible share type 0: it is refused, before
    // the implicit MAP_ANON of NOFD, unless MAP_ANON is given.
    let mut m = model(Qnx4);
    let bare = mmap(0, PAGE, RW, MapFlags::empty(), -1, 0);
    assert_err(&mut m, P1, &bare, Errno::EINVAL, "MMAP-EINVAL-14");
    assert_ok(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::ANON, -1, 0), "MMAP-OK-1");
    // Neutrino's default backwards compatibility takes it as MAP_PRIVATE.
    let mut m = model(Neutrino);
    assert_ok(&mut m, P1, &bare, "MMAP-OK-1");
}

/// QNX 4's `Physical` object, opened with shm_open.
fn physical_fd(m: &mut Model, oflag: OFlags) -> Fd {
    opened(
        m,
        P1,
        &Call::ShmOpen {
            name: "Physical".into(),
            oflag,
            mode: 0o777,
        },
    )
}

#[test]
fn mmap_enotsup_3_private_physical_memory_on_qnx4() {
    let mut m = model(Qnx4);
    let fd = physical_fd(&mut m, OFlags::RDONLY);
    let call = mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, fd.0, 0xA0000);
    let v = m.evaluate(P1, &call);
    assert_alternative(&v, Errno::EOPNOTSUPP, "MMAP-ENOTSUP-3");
    assert_err(&mut m, P1, &call, Errno::ENOTSUP, "MMAP-ENOTSUP-3");
    assert_ok(
        &mut m,
        P1,
        &mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, 0xA0000),
        "MMAP-OK-1",
    );
    // Neutrino maps /dev/mem privately (copy-on-write).
    let mut m = model(Neutrino);
    let fd = dev_fd(&mut m, "/dev/mem", OFlags::RDONLY);
    assert_ok(
        &mut m,
        P1,
        &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, fd.0, 0xA0000),
        "MMAP-OK-1",
    );
}

#[test]
fn mmap_enxio_2_physical_range_through_an_fd_on_qnx4() {
    let last = ProfileName::Qnx4.profile().last_paddr;
    let mut m = model(Qnx4);
    let fd = physical_fd(&mut m, OFlags::RDONLY);
    let past = mmap(0, 2 * PAGE, Prot::READ, MapFlags::SHARED, fd.0, last + 1 - PAGE);
    assert_err(&mut m, P1, &past, Errno::ENXIO, "MMAP-ENXIO-2");
    let last_page = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, last + 1 - PAGE);
    assert_ok(&mut m, P1, &last_page, "MMAP-OK-1");
    // procnto's /dev/mem path has no last_paddr check.
    let mut m = model(Neutrino);
    let fd = dev_fd(&mut m, "/dev/mem", OFlags::RDONLY);
    let past = mmap(0, 2 * PAGE, Prot::READ, MapFlags::SHARED, fd.0, last + 1 - PAGE);
    assert_ok(&mut m, P1, &past, "MMAP-OK-1");
}

#[test]
fn mmap_enodev_1_fd_cannot_be_mapped_linux() {
    let mut m = model(Linux);
    let null = dev_fd(&mut m, "/dev/null", OFlags::RDONLY);
    let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, null.0, 0);
    assert_eq!(m.evaluate(P1, &call).allows(&err(Errno::ENOTSUP), false), None);
    assert_err(&mut m, P1, &call, Errno::ENODEV, "MMAP-ENODEV-1");
    // Linux checks read access before it asks whether the file can be mapped.
    let wo = dev_fd(&mut m, "/dev/null", OFlags::WRONLY);
    let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, wo.0, 0);
    assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-1");
}

#[test]
fn mmap_eacces_1_fd_not_readable() {
    for p in ALL {
        let mut m = model(p);
        let wo = shm_fd(&mut m, "/r", PAGE, OFlags::WRONLY);
        for (prot, flags) in [
            (Prot::READ, MapFlags::SHARED),
            (Prot::WRITE, MapFlags::SHARED),
            (Prot::NONE, MapFlags::PRIVATE),
        ] {
            let call = mmap(0, PAGE, prot, flags, wo.0, 0);
            assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-1");
        }
        // /dev/zero goes through the same check.
        let zero = dev_fd(&mut m, "/dev/zero", OFlags::WRONLY);
        let call = mmap(0, PAGE, RW, MapFlags::PRIVATE, zero.0, 0);
        assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-1");
        assert_eq!(region_count(&m), 0, "{p}");
    }
}

#[test]
fn mmap_eacces_2_shared_write_readonly_fd() {
    for p in ALL {
        let mut m = model(p);
        let ro = shm_fd(&mut m, "/w", PAGE, OFlags::RDONLY);
        let call = mmap(0, PAGE, RW, MapFlags::SHARED, ro.0, 0);
        assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-2");
        // A private copy may be written.
        let a = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, MapFlags::PRIVATE, ro.0, 0),
            "MMAP-OK-1",
        ));
        assert_eq!(store(&mut m, a, &[9]), Outcome::UNIT);
        // Shared and read-only succeeds, and can never be made writable.
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, ro.0, 0);
        let b = addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-1"));
        let up = Call::Mprotect {
            addr: Addr(b),
            len: Len(PAGE),
            prot: RW,
        };
        assert_eq!(m.step(P1, &up).outcome, err(Errno::EACCES), "{p}");
        // /dev/zero opened read-only: the same.
        let zero = dev_fd(&mut m, "/dev/zero", OFlags::RDONLY);
        let call = mmap(0, PAGE, RW, MapFlags::SHARED, zero.0, 0);
        assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-2");
    }
}

#[test]
fn mmap_einval_9_bad_map_stack() {
    let stack = ANON_PRIV | MapFlags::STACK;
    for p in QNX {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/s", 4 * PAGE, OFlags::RDWR);
        let call = mmap(0, 4 * PAGE, RW, MapFlags::PRIVATE | MapFlags::STACK, fd.0, 0);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-9");
        let call = mmap(0, 4 * PAGE, RW, stack, -1, 4 * PAGE);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-9");
        assert_ok(&mut m, P1, &mmap(0, 4 * PAGE, RW, stack, -1, 4 * PAGE - 1), "MMAP-OK-1");
    }
    // Linux: MAP_STACK is a hint.
    let mut m = model(Linux);
    assert_ok(&mut m, P1, &mmap(0, PAGE, RW, stack, -1, PAGE), "MMAP-OK-1");
}

#[test]
fn mmap_enomem_1_rlimit_data() {
    for p in QNX {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_DATA, 4 * PAGE, 4 * PAGE);
        // procnto: reaching the limit fails, and the unrounded length is tested.
        assert_err(&mut m, P1, &anon(4 * PAGE), Errno::ENOMEM, "MMAP-ENOMEM-1");
        assert_ok(&mut m, P1, &anon(4 * PAGE - 1), "MMAP-OK-1");
        assert_eq!(counters(&m).data, 4 * PAGE);
        // Read-only private anonymous memory counts too.
        let call = mmap(0, 1, Prot::READ, ANON_PRIV, -1, 0);
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-1");
        // Shared anonymous memory does not.
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, ANON_SHARED, -1, 0), "MMAP-OK-1");
    }
    let mut m = model(Linux);
    setrlimit(&mut m, Resource::RLIMIT_DATA, 4 * PAGE, 4 * PAGE);
    // Linux: only strictly over the limit fails, in whole pages.
    assert_ok(&mut m, P1, &anon(4 * PAGE), "MMAP-OK-1");
    assert_err(&mut m, P1, &anon(1), Errno::ENOMEM, "MMAP-ENOMEM-1");
    // Read-only private and shared mappings do not count.
    assert_ok(
        &mut m,
        P1,
        &mmap(0, 8 * PAGE, Prot::READ, ANON_PRIV, -1, 0),
        "MMAP-OK-1",
    );
    assert_ok(&mut m, P1, &mmap(0, 8 * PAGE, RW, ANON_SHARED, -1, 0), "MMAP-OK-1");
    // MAP_STACK is not MAP_GROWSDOWN: it counts.
    let call = mmap(0, PAGE, RW, ANON_PRIV | MapFlags::STACK, -1, 0);
    assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-1");
}

#[test]
fn mmap_enomem_1_scope_differs_per_profile() {
    // A private writable mapping of a shm object: data on Linux only.
    for p in ALL {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/d", 8 * PAGE, OFlags::RDWR);
        setrlimit(&mut m, Resource::RLIMIT_DATA, 4 * PAGE, 4 * PAGE);
        let call = mmap(0, 8 * PAGE, RW, MapFlags::PRIVATE, fd.0, 0);
        if p == Linux {
            assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-1");
        } else {
            assert_ok(&mut m, P1, &call, "MMAP-OK-1");
            assert_eq!(counters(&m).data, 0);
        }
    }
}

#[test]
fn mmap_enomem_1_linux_soft_zero_uses_hard_limit() {
    let mut m = model(Linux);
    setrlimit(&mut m, Resource::RLIMIT_DATA, 0, 4 * PAGE);
    assert_ok(&mut m, P1, &anon(4 * PAGE), "MMAP-OK-1");
    assert_err(&mut m, P1, &anon(PAGE), Errno::ENOMEM, "MMAP-ENOMEM-1");
    // procnto has no such exception: a soft limit of 0 refuses everything.
    for p in QNX {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_DATA, 0, 4 * PAGE);
        assert_err(&mut m, P1, &anon(PAGE), Errno::ENOMEM, "MMAP-ENOMEM-1");
    }
}

#[test]
fn mmap_enomem_2_rlimit_as() {
    for p in QNX {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_AS, 8 * PAGE, 8 * PAGE);
        assert_err(&mut m, P1, &anon(8 * PAGE), Errno::ENOMEM, "MMAP-ENOMEM-2");
        assert_ok(&mut m, P1, &anon(8 * PAGE - 1), "MMAP-OK-1");
        assert_eq!(counters(&m).total, 8 * PAGE);
    }
    let mut m = model(Linux);
    setrlimit(&mut m, Resource::RLIMIT_AS, 8 * PAGE, 8 * PAGE);
    // Every mapping counts: PROT_NONE and shared too.
    assert_ok(
        &mut m,
        P1,
        &mmap(0, 4 * PAGE, Prot::NONE, ANON_PRIV, -1, 0),
        "MMAP-OK-1",
    );
    assert_ok(&mut m, P1, &mmap(0, 4 * PAGE, RW, ANON_SHARED, -1, 0), "MMAP-OK-1");
    assert_err(&mut m, P1, &anon(1), Errno::ENOMEM, "MMAP-ENOMEM-2");
    assert_eq!(counters(&m).total, 8 * PAGE);
}

#[test]
fn mmap_enomem_2_map_fixed_credit_on_linux_only() {
    for p in ALL {
        let mut m = model(p);
        let a = arena(&m);
        setrlimit(&mut m, Resource::RLIMIT_AS, 8 * PAGE, 8 * PAGE);
        assert_ok(&mut m, P1, &anon_fixed(a, 6 * PAGE), "MMAP-OK-2");
        assert_eq!(store(&mut m, a, &[7]), Outcome::UNIT);
        // Re-mapping the same 6 pages: Linux credits the replaced pages;
        // procnto checks before it unmaps and needs room for all 6.
        let again = anon_fixed(a, 6 * PAGE);
        if p == Linux {
            assert_ok(&mut m, P1, &again, "MMAP-OK-2");
            assert_eq!(load(&mut m, a, 1), bytes(&[0]));
        } else {
            assert_err(&mut m, P1, &again, Errno::ENOMEM, "MMAP-ENOMEM-2");
            assert_eq!(load(&mut m, a, 1), bytes(&[7]));
        }
        assert_eq!(counters(&m).total, 6 * PAGE);
    }
}

#[test]
fn mmap_einval_10_fixed_addr_offset_disagree() {
    for p in QNX {
        let mut m = model(p);
        let a = arena(&m);
        let fd = shm_fd(&mut m, "/f", 2 * PAGE, OFlags::RDWR);
        let shared = MapFlags::SHARED | MapFlags::FIXED;
        let call = mmap(a + 0x10, PAGE, RW, shared, fd.0, 0x20);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-10");
        // Shared anonymous memory has an object too.
        let call = mmap(a + 0x10, PAGE, RW, ANON_SHARED | MapFlags::FIXED, -1, 0);
        assert_err(&mut m, P1, &call, Errno::EINVAL, "MMAP-EINVAL-10");
        // Agreeing sub-page offsets are fine, and the address keeps them.
        let call = mmap(a + 0x10, PAGE, RW, shared, fd.0, 0x10);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-2")), a + 0x10);
        // Private anonymous memory takes the address's sub-page offset.
        let call = anon_fixed(a + 4 * PAGE + 0x30, PAGE);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-2")), a + 4 * PAGE + 0x30);
    }
}

/// A mapping of `len` bytes that needs no system memory up front on any
/// profile (MAP_LAZY on procnto; PROT_NONE is not charged on Linux).
fn uncharged(len: u64) -> Call {
    mmap(0, len, Prot::NONE, ANON_PRIV | MapFlags::LAZY, -1, 0)
}

#[test]
fn mmap_enomem_3_no_room() {
    for p in ALL {
        let mut m = model(p);
        let end = m.profile().user_end;
        assert_err(&mut m, P1, &uncharged(end), Errno::ENOMEM, "MMAP-ENOMEM-3");
        assert_eq!(region_count(&m), 0);
    }
    // procnto needs a hole one page larger than the request: the whole
    // address space is one such hole, a page short.
    for p in QNX {
        let mut m = model(p);
        let space = m.profile().user_end - m.profile().user_start;
        assert_err(&mut m, P1, &uncharged(space), Errno::ENOMEM, "MMAP-ENOMEM-3");
        let got = addr_of(assert_ok(&mut m, P1, &uncharged(space - PAGE), "MMAP-OK-1"));
        assert_eq!(got, m.profile().user_start);
    }
    let mut m = model(Linux);
    let space = m.profile().user_end - m.profile().placement_start();
    let got = addr_of(assert_ok(&mut m, P1, &uncharged(space), "MMAP-OK-1"));
    assert_eq!(got, m.profile().placement_start());
}

#[test]
fn mmap_enomem_4_size_wraps() {
    for p in ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &anon(u64::MAX - 100), Errno::ENOMEM, "MMAP-ENOMEM-4");
    }
    // On procnto the sub-page offset is part of the size.
    for p in QNX {
        let mut m = model(p);
        // 2^64 - PAGE bytes: the size fits (but not the address space)...
        let call = mmap(0, u64::MAX - PAGE + 1, RW, ANON_PRIV, -1, 0);
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-3");
        // ...one byte of sub-page offset more and it wraps.
        let call = mmap(0, u64::MAX - PAGE + 1, RW, ANON_PRIV, -1, 1);
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-4");
    }
}

#[test]
fn mmap_einval_11_fixed_addr_outside() {
    for p in QNX {
        let mut m = model(p);
        let end = m.profile().user_end;
        for addr in [0, 0x800, end] {
            assert_err(&mut m, P1, &anon_fixed(addr, PAGE), Errno::EINVAL, "MMAP-EINVAL-11");
        }
        // Both the address and the range are bad: EINVAL decides, ENOMEM is allowed.
        let v = m.evaluate(P1, &anon_fixed(u64::MAX - PAGE + 1, PAGE));
        assert_eq!((v.outcome.clone(), v.rule), (err(Errno::EINVAL), "MMAP-EINVAL-11"));
        assert_alternative(&v, Errno::ENOMEM, "MMAP-ENOMEM-5");
    }
}

#[test]
fn mmap_enomem_5_fixed_range_past_end() {
    for p in ALL {
        let mut m = model(p);
        let end = m.profile().user_end;
        assert_ok(&mut m, P1, &anon_fixed(end - PAGE, PAGE), "MMAP-OK-2");
        assert_err(
            &mut m,
            P1,
            &anon_fixed(end - PAGE, 2 * PAGE),
            Errno::ENOMEM,
            "MMAP-ENOMEM-5",
        );
        assert_eq!(counters(&m).total, PAGE);
    }
    let mut m = model(Linux);
    assert_err(
        &mut m,
        P1,
        &anon_fixed(u64::MAX - PAGE + 1, PAGE),
        Errno::ENOMEM,
        "MMAP-ENOMEM-5",
    );
    // Linux checks the range before the alignment.
    let end = m.profile().user_end;
    assert_err(&mut m, P1, &anon_fixed(end + 1, PAGE), Errno::ENOMEM, "MMAP-ENOMEM-5");
}

/// Maps `n` separate single pages with MAP_FIXED from the arena upwards.
/// The per-call invariant check is O(regions), so it is off while filling and
/// run once at the end.
fn fill_regions(m: &mut Model, n: usize) {
    let a = arena(m);
    m.set_step_checks(false);
    for i in 0..n as u64 {
        // Every other page, so that no two regions touch.
        let call = mmap(a + 2 * i * PAGE, PAGE, Prot::READ, ANON_PRIV | MapFlags::FIXED, -1, 0);
        assert!(m.step(P1, &call).outcome.is_ok());
    }
    m.set_step_checks(true);
    m.check_invariants().unwrap();
    assert_eq!(region_count(m), n);
}

#[test]
fn mmap_enomem_7_too_many_mappings() {
    for p in ALL {
        let mut m = model(p);
        let max = match p {
            Linux => 65530,
            _ => 65536,
        };
        fill_regions(&mut m, max - 1);
        let stack = mmap(0, 2 * PAGE, RW, ANON_PRIV | MapFlags::STACK, -1, PAGE);
        if p == Linux {
            // Linux refuses only once the count already exceeds the limit.
            assert_ok(&mut m, P1, &anon(PAGE), "MMAP-OK-1");
            assert_ok(&mut m, P1, &anon(PAGE), "MMAP-OK-1");
            assert_eq!(region_count(&m), max + 1);
            assert_err(&mut m, P1, &anon(PAGE), Errno::ENOMEM, "MMAP-ENOMEM-7");
            assert_eq!(m.evaluate(P1, &anon(PAGE)).allows(&err(Errno::EMFILE), false), None);
        } else {
            // A stack with a guard needs two entries; one is left.
            assert_err(&mut m, P1, &stack, Errno::ENOMEM, "MMAP-ENOMEM-7");
            assert_ok(&mut m, P1, &anon(PAGE), "MMAP-OK-1");
            assert_eq!(region_count(&m), max);
            let v = m.evaluate(P1, &anon(PAGE));
            assert_alternative(&v, Errno::EMFILE, "MMAP-ENOMEM-7");
            assert_err(&mut m, P1, &anon(PAGE), Errno::ENOMEM, "MMAP-ENOMEM-7");
        }
    }
}

#[test]
fn mmap_enxio_1_object_offset_out_of_range() {
    let top = 0xFFFF_FFFFu64 << 12;
    for p in QNX {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/x", PAGE, OFlags::RDWR);
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, top);
        assert_err(&mut m, P1, &call, Errno::ENXIO, "MMAP-ENXIO-1");
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, top - PAGE);
        assert_ok(&mut m, P1, &call, "MMAP-OK-1");
        let call = mmap(0, PAGE, Prot::READ, MapFlags::SHARED, fd.0, u64::MAX - 10);
        assert_err(&mut m, P1, &call, Errno::ENXIO, "MMAP-ENXIO-1");
    }
}

#[test]
fn mmap_past_the_object_end_succeeds_and_faults() {
    // The object's current size is not checked by any profile.
    for p in ALL {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/e", PAGE, OFlags::RDWR);
        let a = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, 3 * PAGE, RW, MapFlags::SHARED, fd.0, 0),
            "MMAP-OK-1",
        ));
        assert_eq!(store(&mut m, a, &[1]), Outcome::UNIT);
        assert_eq!(load(&mut m, a + PAGE, 1), Outcome::Fault(Signal::SIGBUS));
    }
}

/// Charges (16 GiB - 4 pages) of system memory with shm objects, which need
/// no address space (qnx4's is only 3 GiB).
fn fill_memory(m: &mut Model) {
    for i in 0..4 {
        shm_fd(m, &format!("/big{i}"), 0xFFFF_F000, OFlags::RDWR);
    }
    assert_eq!(m.committed(), 16 * GIB - 4 * PAGE);
}

#[test]
fn mmap_enomem_6_not_enough_system_memory() {
    for p in QNX {
        let mut m = model(p);
        fill_memory(&mut m);
        assert_err(&mut m, P1, &anon(5 * PAGE), Errno::ENOMEM, "MMAP-ENOMEM-6");
        // MAP_LAZY allocates nothing up front; read-only private memory still does.
        let lazy = mmap(0, 5 * PAGE, RW, ANON_PRIV | MapFlags::LAZY, -1, 0);
        assert_ok(&mut m, P1, &lazy, "MMAP-OK-1");
        let ro = mmap(0, 5 * PAGE, Prot::READ, ANON_PRIV, -1, 0);
        assert_err(&mut m, P1, &ro, Errno::ENOMEM, "MMAP-ENOMEM-6");
        assert_ok(&mut m, P1, &anon(4 * PAGE), "MMAP-OK-1");
        assert_eq!(m.committed(), 16 * GIB);
        assert_err(&mut m, P1, &anon(1), Errno::ENOMEM, "MMAP-ENOMEM-6");
    }
    let mut m = model(Linux);
    let big = 24 * GIB + PAGE;
    assert_err(&mut m, P1, &anon(big), Errno::ENOMEM, "MMAP-ENOMEM-6");
    let noreserve = mmap(0, big, RW, ANON_PRIV | MapFlags::NORESERVE, -1, 0);
    assert_ok(&mut m, P1, &noreserve, "MMAP-OK-1");
    assert_ok(&mut m, P1, &mmap(0, big, Prot::READ, ANON_PRIV, -1, 0), "MMAP-OK-1");
    assert_err(
        &mut m,
        P1,
        &mmap(0, big, RW, ANON_SHARED, -1, 0),
        Errno::ENOMEM,
        "MMAP-ENOMEM-6",
    );
}

#[test]
fn mmap_enomem_6_commit_accumulates_on_procnto_only() {
    for p in [Neutrino, Linux] {
        let mut m = model(p);
        assert_ok(&mut m, P1, &anon(10 * GIB), "MMAP-OK-1");
        let second = anon(10 * GIB);
        if p == Linux {
            assert_ok(&mut m, P1, &second, "MMAP-OK-1");
            assert_eq!(m.committed(), 0);
        } else {
            assert_err(&mut m, P1, &second, Errno::ENOMEM, "MMAP-ENOMEM-6");
            assert_eq!(m.committed(), 10 * GIB);
        }
    }
}

#[test]
fn mmap_enomem_6_failed_fixed_leaves_range_empty_on_procnto() {
    for p in QNX {
        let mut m = model(p);
        let a = arena(&m);
        fill_memory(&mut m);
        assert_ok(&mut m, P1, &anon_fixed(a, PAGE), "MMAP-OK-2");
        assert_eq!(store(&mut m, a, &[5]), Outcome::UNIT);
        // The old page is given back before the allocation: 4 pages fit...
        let v = m.evaluate(P1, &anon_fixed(a, 4 * PAGE));
        assert_eq!(v.rule, "MMAP-OK-2");
        // ...5 do not, and the old page is gone with the failed call.
        assert_err(&mut m, P1, &anon_fixed(a, 5 * PAGE), Errno::ENOMEM, "MMAP-ENOMEM-6");
        assert_eq!(load(&mut m, a, 1), SEGV);
        assert_eq!(counters(&m).total, 0);
        assert_eq!(m.committed(), 16 * GIB - 4 * PAGE);
    }
    // Linux checks before it unmaps anything.
    let mut m = model(Linux);
    let a = arena(&m);
    assert_ok(&mut m, P1, &anon_fixed(a, PAGE), "MMAP-OK-2");
    assert_eq!(store(&mut m, a, &[5]), Outcome::UNIT);
    assert_err(
        &mut m,
        P1,
        &anon_fixed(a, 24 * GIB + PAGE),
        Errno::ENOMEM,
        "MMAP-ENOMEM-6",
    );
    assert_eq!(load(&mut m, a, 1), bytes(&[5]));
}

#[test]
fn mmap_eagain_1_lock_limit_under_mcl_future() {
    for p in QNX {
        let mut m = model(p);
        mlockall_future(&mut m);
        setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 4 * PAGE, 4 * PAGE);
        // procnto: reaching the limit fails; the QNX docs' ENOMEM is allowed.
        let v = m.evaluate(P1, &anon(4 * PAGE));
        assert_alternative(&v, Errno::ENOMEM, "MMAP-EAGAIN-1");
        assert_err(&mut m, P1, &anon(4 * PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
        // PROT_NONE is locked too.
        assert_ok(
            &mut m,
            P1,
            &mmap(0, 3 * PAGE, Prot::NONE, ANON_PRIV, -1, 0),
            "MMAP-OK-1",
        );
        assert_eq!(counters(&m).locked, 3 * PAGE);
        // The locking privilege does not lift the limit on procnto.
        assert!(m.process(P1).unwrap().cap_ipc_lock);
        assert_err(&mut m, P1, &anon(PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
    }
    let mut m = model(Linux);
    // CAP_IPC_LOCK lifts the limit on Linux; drop it.
    cred(&mut m, 0, false);
    mlockall_future(&mut m);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 4 * PAGE, 4 * PAGE);
    assert_ok(&mut m, P1, &anon(4 * PAGE), "MMAP-OK-1");
    assert_eq!(counters(&m).locked, 4 * PAGE);
    let v = m.evaluate(P1, &anon(PAGE));
    assert_eq!(v.allows(&err(Errno::ENOMEM), false), None);
    assert_err(&mut m, P1, &anon(PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
}

#[test]
fn mmap_eagain_1_linux_map_locked_and_zero_limit() {
    let mut m = model(Linux);
    cred(&mut m, 0, false);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 4 * PAGE, 4 * PAGE);
    let locked = |len| mmap(0, len, RW, ANON_PRIV | MapFlags::LOCKED, -1, 0);
    assert_err(&mut m, P1, &locked(5 * PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
    assert_ok(&mut m, P1, &locked(4 * PAGE), "MMAP-OK-1");
    assert_eq!(counters(&m).locked, 4 * PAGE);
    // MCL_FUTURE with the limit lowered to 0 afterwards: EAGAIN, not EPERM.
    let mut m = model(Linux);
    cred(&mut m, 0, false);
    mlockall_future(&mut m);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 0, 0);
    assert_err(&mut m, P1, &anon(PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
}

#[test]
fn mmap_eagain_1_failed_fixed_leaves_range_empty_on_procnto() {
    for p in ALL {
        let mut m = model(p);
        let a = arena(&m);
        if p == Linux {
            cred(&mut m, 0, false);
        }
        assert_ok(&mut m, P1, &anon_fixed(a, 2 * PAGE), "MMAP-OK-2");
        assert_eq!(store(&mut m, a, &[3]), Outcome::UNIT);
        mlockall_future(&mut m);
        setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, PAGE, PAGE);
        assert_err(&mut m, P1, &anon_fixed(a, 2 * PAGE), Errno::EAGAIN, "MMAP-EAGAIN-1");
        if p == Linux {
            assert_eq!(load(&mut m, a, 1), bytes(&[3]));
            assert_eq!(counters(&m).total, 2 * PAGE);
        } else {
            // procnto unmapped the old range before ms_lock failed.
            assert_eq!(load(&mut m, a, 1), SEGV);
            assert_eq!(counters(&m).total, 0);
        }
    }
}

#[test]
fn mmap_einval_12_offset_not_aligned() {
    let mut m = model(Linux);
    assert_err(
        &mut m,
        P1,
        &mmap(0, PAGE, RW, ANON_PRIV, -1, 100),
        Errno::EINVAL,
        "MMAP-EINVAL-12",
    );
    // First of all: a bad fd is only an alternative.
    let v = m.evaluate(P1, &mmap(0, PAGE, RW, MapFlags::PRIVATE, 9, 100));
    assert_eq!(v.rule, "MMAP-EINVAL-12");
    assert_alternative(&v, Errno::EBADF, "MMAP-EBADF-2");
    // procnto keeps the offset's position in the page.
    for p in QNX {
        let mut m = model(p);
        let a = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, ANON_PRIV, -1, 100),
            "MMAP-OK-1",
        ));
        assert_eq!(a % PAGE, 100);
        assert_eq!(counters(&m).total, 2 * PAGE);
    }
}

#[test]
fn mmap_subpage_offset_points_at_the_object_byte() {
    for p in QNX {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/o", 2 * PAGE, OFlags::RDWR);
        let whole = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, 2 * PAGE, RW, MapFlags::SHARED, fd.0, 0),
            "MMAP-OK-1",
        ));
        assert_eq!(store(&mut m, whole + PAGE + 0x10, &[0xAB]), Outcome::UNIT);
        let call = mmap(0, 1, Prot::READ, MapFlags::SHARED, fd.0, PAGE + 0x10);
        let a = addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-1"));
        assert_eq!(a % PAGE, 0x10);
        assert_eq!(load(&mut m, a, 1), bytes(&[0xAB]));
        // An implementation's address must keep the sub-page offset.
        let free = arena(&m);
        assert!(m.apply(P1, &call, &Outcome::Ok(Value::Addr(Addr(free)))).is_err());
        assert!(m.apply(P1, &call, &Outcome::Ok(Value::Addr(Addr(free + 0x10)))).is_ok());
    }
}

#[test]
fn mmap_ebadf_2_fd_not_open_linux() {
    let mut m = model(Linux);
    for fd in [-1, 7] {
        let call = mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, fd, 0);
        assert_err(&mut m, P1, &call, Errno::EBADF, "MMAP-EBADF-2");
    }
    // Before the length check.
    let v = m.evaluate(P1, &mmap(0, 0, Prot::READ, MapFlags::PRIVATE, 7, 0));
    assert_eq!(v.rule, "MMAP-EBADF-2");
    assert_alternative(&v, Errno::EINVAL, "MMAP-EINVAL-2");
}

#[test]
fn mmap_eoverflow_1_file_offset_too_large() {
    let mut m = model(Linux);
    let fd = shm_fd(&mut m, "/v", PAGE, OFlags::RDWR);
    let shared = |len, off| mmap(0, len, Prot::READ, MapFlags::SHARED, fd.0, off);
    assert_err(
        &mut m,
        P1,
        &shared(2 * PAGE, 0x7FFF_FFFF_FFFF_F000),
        Errno::EOVERFLOW,
        "MMAP-EOVERFLOW-1",
    );
    assert_err(
        &mut m,
        P1,
        &shared(PAGE, u64::MAX - PAGE + 1),
        Errno::EOVERFLOW,
        "MMAP-EOVERFLOW-1",
    );
    assert_ok(&mut m, P1, &shared(PAGE, 0x7FFF_FFFF_FFFF_E000), "MMAP-OK-1");
    // Anonymous memory has no file offset.
    let call = mmap(0, 2 * PAGE, RW, ANON_PRIV, -1, 0x7FFF_FFFF_FFFF_F000);
    assert_ok(&mut m, P1, &call, "MMAP-OK-1");
}

#[test]
fn mmap_eoverflow_2_device_or_pipe_offset_range_wraps() {
    let mut m = model(Linux);
    let zero = open_dev_zero(&mut m, P1);
    let at = |fd: Fd, flags, len, off| mmap(0, len, Prot::READ, flags, fd.0, off);
    let last_pages = u64::MAX - 2 * PAGE + 1;
    // The range may end at 2^64 - 4096 but not at 2^64, shared or private.
    for flags in [MapFlags::SHARED, MapFlags::PRIVATE] {
        let wraps = at(zero, flags, 2 * PAGE, last_pages);
        assert_err(&mut m, P1, &wraps, Errno::EOVERFLOW, "MMAP-EOVERFLOW-2");
    }
    assert_ok(&mut m, P1, &at(zero, MapFlags::SHARED, PAGE, last_pages), "MMAP-OK-1");
    // Unlike a file (MMAP-EOVERFLOW-1), 2^63 and beyond is no error by itself.
    assert_ok(&mut m, P1, &at(zero, MapFlags::SHARED, 2 * PAGE, 1 << 63), "MMAP-OK-1");
    // Before the access checks and the check that the fd maps at all.
    let write_only = opened(&mut m, P1, &super::shm::open("/dev/zero", OFlags::WRONLY));
    let null = opened(&mut m, P1, &super::shm::open("/dev/null", OFlags::RDONLY));
    let Value::FdPair(pipe_read, _) = assert_ok(&mut m, P1, &Call::Pipe {}, "PIPE-OK-1") else {
        panic!("a pipe gives two fds")
    };
    for fd in [write_only, null, pipe_read] {
        let wraps = at(fd, MapFlags::SHARED, PAGE, u64::MAX - PAGE + 1);
        assert_err(&mut m, P1, &wraps, Errno::EOVERFLOW, "MMAP-EOVERFLOW-2");
    }
    // procnto's /dev/zero memory starts at 0 whatever the offset.
    let mut m = model(Neutrino);
    let zero = open_dev_zero(&mut m, P1);
    assert_ok(
        &mut m,
        P1,
        &at(zero, MapFlags::SHARED, 2 * PAGE, last_pages),
        "MMAP-OK-1",
    );
}

#[test]
fn mmap_einval_13_fixed_addr_not_aligned() {
    let mut m = model(Linux);
    let a = arena(&m);
    assert_err(&mut m, P1, &anon_fixed(a + 0x10, PAGE), Errno::EINVAL, "MMAP-EINVAL-13");
    let noreplace = mmap(a + 0x10, PAGE, RW, ANON_PRIV | MapFlags::FIXED_NOREPLACE, -1, 0);
    assert_err(&mut m, P1, &noreplace, Errno::EINVAL, "MMAP-EINVAL-13");
    // procnto: private anonymous memory keeps the address's sub-page offset.
    for p in QNX {
        let mut m = model(p);
        let a = arena(&m);
        let got = addr_of(assert_ok(&mut m, P1, &anon_fixed(a + 0x10, PAGE), "MMAP-OK-2"));
        assert_eq!(got, a + 0x10);
    }
}

#[test]
fn mmap_erraddr_1_a_fixed_address_that_reads_as_an_errno() {
    let mut m = model(Linux);
    // MAP_FAILED (-1) used as an address: the kernel's IS_ERR_VALUE test makes it EPERM (1).
    assert_err(&mut m, P1, &anon_fixed(u64::MAX, PAGE), Errno::EPERM, "MMAP-ERRADDR-1");
    assert_err(
        &mut m,
        P1,
        &anon_fixed(u64::MAX - 11, PAGE),
        Errno::ENOMEM,
        "MMAP-ERRADDR-1",
    );
    // An aligned address past the end is MMAP-ENOMEM-5, as on every profile.
    assert_err(
        &mut m,
        P1,
        &anon_fixed(u64::MAX - 4095, PAGE),
        Errno::ENOMEM,
        "MMAP-ENOMEM-5",
    );
}

#[test]
fn mmap_enomem_8_longer_than_the_address_space_before_the_address() {
    // Found by the differential fuzzer: -1 with 2^47 bytes is ENOMEM, not EPERM.
    let mut m = model(Linux);
    let space = m.profile().user_end - m.profile().user_start;
    assert_err(
        &mut m,
        P1,
        &anon_fixed(u64::MAX, space + PAGE),
        Errno::ENOMEM,
        "MMAP-ENOMEM-8",
    );
    assert_err(&mut m, P1, &anon(space + PAGE), Errno::ENOMEM, "MMAP-ENOMEM-8");
    // The whole space is not longer than itself: the address decides.
    assert_err(&mut m, P1, &anon_fixed(u64::MAX, space), Errno::EPERM, "MMAP-ERRADDR-1");
}

#[test]
fn mmap_eperm_4_fixed_below_mmap_min_addr() {
    // Only a caller without CAP_SYS_RAWIO is refused; the model's root holds
    // it (spec/processes.md), so root gets the next check's answer.
    let mut m = model(Linux);
    assert_ok(&mut m, P1, &anon_fixed(0, PAGE), "MMAP-OK-2");
    assert_eq!(region_count(&m), 1);
    m.check_invariants().unwrap();
    let cred = Call::Cred {
        euid: 100,
        cap_ipc_lock: true,
        egid: None,
        groups: None,
    };
    assert_ok(&mut m, P1, &cred, "PROC-CRED-1");
    assert_err(&mut m, P1, &anon_fixed(0, PAGE), Errno::EPERM, "MMAP-EPERM-4");
    assert_eq!(region_count(&m), 1);
    // A floating mapping is never placed below mmap_min_addr, even for root.
    let mut m = model(Linux);
    let hint = mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE | MapFlags::ANON, -1, 0);
    assert!(addr_of(assert_ok(&mut m, P1, &hint, "MMAP-OK-1")) >= PAGE);
    for p in QNX {
        let mut m = model(p);
        assert_err(&mut m, P1, &anon_fixed(0, PAGE), Errno::EINVAL, "MMAP-EINVAL-11");
    }
}

#[test]
fn mmap_eexist_1_noreplace_over_a_mapping() {
    let mut m = model(Linux);
    let a = arena(&m);
    let noreplace = |addr| mmap(addr, 2 * PAGE, RW, ANON_PRIV | MapFlags::FIXED_NOREPLACE, -1, 0);
    assert_ok(&mut m, P1, &anon_fixed(a, 2 * PAGE), "MMAP-OK-2");
    assert_eq!(store(&mut m, a + PAGE, &[4]), Outcome::UNIT);
    assert_err(&mut m, P1, &noreplace(a + PAGE), Errno::EEXIST, "MMAP-EEXIST-1");
    assert_eq!(load(&mut m, a + PAGE, 1), bytes(&[4]));
    let got = addr_of(assert_ok(&mut m, P1, &noreplace(a + 2 * PAGE), "MMAP-OK-2"));
    assert_eq!(got, a + 2 * PAGE);
}

#[test]
fn mmap_eperm_3_map_locked_without_right_to_lock() {
    let mut m = model(Linux);
    cred(&mut m, 0, false);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 0, 0);
    let call = mmap(0, PAGE, RW, ANON_PRIV | MapFlags::LOCKED, -1, 0);
    let v = m.evaluate(P1, &call);
    assert_alternative(&v, Errno::EAGAIN, "MMAP-EAGAIN-1");
    assert_err(&mut m, P1, &call, Errno::EPERM, "MMAP-EPERM-3");
    // CAP_IPC_LOCK is the right to lock, whatever the limit.
    let mut m = model(Linux);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 0, 0);
    assert_ok(&mut m, P1, &call, "MMAP-OK-1");
    assert_eq!(counters(&m).locked, PAGE);
}

#[test]
fn mmap_enotsup_2_shared_validate_unknown_flag() {
    let mut m = model(Linux);
    let fd = shm_fd(&mut m, "/u", PAGE, OFlags::RDWR);
    let validate = MapFlags::from_bits_retain(3);
    let call = mmap(0, PAGE, RW, validate | MapFlags::LAZY, fd.0, 0);
    let v = m.evaluate(P1, &call);
    assert_alternative(&v, Errno::EOPNOTSUPP, "MMAP-ENOTSUP-2");
    assert_err(&mut m, P1, &call, Errno::ENOTSUP, "MMAP-ENOTSUP-2");
    // Plain MAP_SHARED ignores the flag; MAP_SHARED_VALIDATE alone is shared.
    let one = addr_of(assert_ok(
        &mut m,
        P1,
        &mmap(0, PAGE, RW, MapFlags::SHARED | MapFlags::LAZY, fd.0, 0),
        "MMAP-OK-1",
    ));
    let two = addr_of(assert_ok(
        &mut m,
        P1,
        &mmap(0, PAGE, RW, validate, fd.0, 0),
        "MMAP-OK-1",
    ));
    assert_eq!(store(&mut m, two, &[6]), Outcome::UNIT);
    assert_eq!(load(&mut m, one, 1), bytes(&[6]));
}

#[test]
fn mmap_ok_1_placed_mapping() {
    for p in ALL {
        let mut m = model(p);
        let first = addr_of(assert_ok(&mut m, P1, &anon(2 * PAGE), "MMAP-OK-1"));
        let second = addr_of(assert_ok(&mut m, P1, &anon(2 * PAGE), "MMAP-OK-1"));
        match p {
            // procnto: bottom-up from the map base.
            Neutrino | Qnx4 => assert_eq!((first, second), (0x1000_0000, 0x1000_2000)),
            // Linux: top-down below the map base.
            Linux => assert_eq!((first, second), (0x7EFF_FFFF_E000, 0x7EFF_FFFF_C000)),
        }
        let c = counters(&m);
        assert_eq!((c.total, c.data, c.locked), (4 * PAGE, 4 * PAGE, 0), "{p}");
        // Another free address is adopted; an overlapping one is refused.
        let a = arena(&m);
        assert!(m.apply(P1, &anon(PAGE), &Outcome::Ok(Value::Addr(Addr(a)))).is_ok());
        assert!(m.process(P1).unwrap().space.region_at(Addr(a)).is_some());
        let clash = Outcome::Ok(Value::Addr(Addr(first)));
        assert!(m.apply(P1, &anon(PAGE), &clash).is_err());
        assert_eq!(counters(&m).total, 5 * PAGE);
    }
}

#[test]
fn mmap_ok_2_fixed_replaces_mapping() {
    for p in ALL {
        let mut m = model(p);
        let a = arena(&m);
        assert_ok(&mut m, P1, &anon_fixed(a, 4 * PAGE), "MMAP-OK-2");
        for i in 0..4 {
            assert_eq!(store(&mut m, a + i * PAGE, &[i as u8 + 1]), Outcome::UNIT);
        }
        let call = mmap(a + PAGE, 2 * PAGE, Prot::READ, ANON_PRIV | MapFlags::FIXED, -1, 0);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-2")), a + PAGE);
        assert_eq!(load(&mut m, a, 1), bytes(&[1]));
        assert_eq!(load(&mut m, a + PAGE, 1), bytes(&[0]));
        assert_eq!(store(&mut m, a + 2 * PAGE, &[9]), SEGV);
        assert_eq!(load(&mut m, a + 3 * PAGE, 1), bytes(&[4]));
        assert_eq!(counters(&m).total, 4 * PAGE);
        assert_eq!(region_count(&m), 3);
    }
}

#[test]
fn mmap_failed_fixed_leaves_old_mapping_intact() {
    for p in ALL {
        let mut m = model(p);
        let a = arena(&m);
        assert_ok(&mut m, P1, &anon_fixed(a, 2 * PAGE), "MMAP-OK-2");
        assert_eq!(store(&mut m, a, &[1, 2, 3]), Outcome::UNIT);
        let before = counters(&m);
        let ro = shm_fd(&mut m, "/i", 2 * PAGE, OFlags::RDONLY);
        let call = mmap(a, 2 * PAGE, RW, MapFlags::SHARED | MapFlags::FIXED, ro.0, 0);
        assert_err(&mut m, P1, &call, Errno::EACCES, "MMAP-EACCES-2");
        setrlimit(&mut m, Resource::RLIMIT_AS, 3 * PAGE, 3 * PAGE);
        assert_err(&mut m, P1, &anon_fixed(a, 4 * PAGE), Errno::ENOMEM, "MMAP-ENOMEM-2");
        assert_eq!(load(&mut m, a, 3), bytes(&[1, 2, 3]));
        assert_eq!(counters(&m), before);
        assert_eq!(region_count(&m), 1);
    }
}

// ---- precedence: the first failing check decides, the others are allowed ----

#[test]
fn mmap_bad_fd_decides_before_the_limits() {
    for p in ALL {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_AS, PAGE, PAGE);
        let v = m.evaluate(P1, &mmap(0, 2 * PAGE, Prot::READ, MapFlags::SHARED, 9, 0));
        let rule = if p == Linux { "MMAP-EBADF-2" } else { "MMAP-EBADF-1" };
        assert_eq!((v.outcome.clone(), v.rule), (err(Errno::EBADF), rule), "{p}");
        assert_alternative(&v, Errno::ENOMEM, "MMAP-ENOMEM-2");
        assert_eq!(v.allows(&err(Errno::EACCES), false), None);
    }
}

#[test]
fn mmap_limits_decide_before_the_fixed_alignment_on_procnto() {
    for p in QNX {
        let mut m = model(p);
        let a = arena(&m);
        let fd = shm_fd(&mut m, "/p", 2 * PAGE, OFlags::RDWR);
        setrlimit(&mut m, Resource::RLIMIT_AS, PAGE, PAGE);
        let call = mmap(a + 0x10, PAGE, RW, MapFlags::SHARED | MapFlags::FIXED, fd.0, 0x20);
        let v = m.evaluate(P1, &call);
        assert_eq!(v.rule, "MMAP-ENOMEM-2");
        assert_alternative(&v, Errno::EINVAL, "MMAP-EINVAL-10");
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "MMAP-ENOMEM-2");
    }
}

// ---- normalisation ----

#[test]
fn mmap_share_type_0_and_nofd_mean_private_anonymous_on_procnto() {
    for p in ALL {
        let mut m = model(p);
        let bare = mmap(0, PAGE, RW, MapFlags::empty(), -1, 0);
        let privateanon = mmap(0, PAGE, RW, MapFlags::from_bits_retain(MapFlags::PRIVATEANON), -1, 0);
        let private_nofd = mmap(0, PAGE, RW, MapFlags::PRIVATE, -1, 0);
        if p == Linux {
            assert_err(&mut m, P1, &bare, Errno::EBADF, "MMAP-EBADF-2");
            assert_err(&mut m, P1, &private_nofd, Errno::EBADF, "MMAP-EBADF-2");
            let validate_anon = mmap(0, PAGE, RW, MapFlags::from_bits_retain(3) | MapFlags::ANON, -1, 0);
            assert_err(&mut m, P1, &validate_anon, Errno::EINVAL, "MMAP-EINVAL-1");
            continue;
        }
        let calls = if p == Qnx4 {
            vec![privateanon, private_nofd]
        } else {
            vec![bare, privateanon, private_nofd]
        };
        let count = calls.len() as u64;
        for call in calls {
            let a = addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-1"));
            let region = m.process(P1).unwrap().space.region_at(Addr(a)).unwrap().clone();
            assert!(!region.shared && region.counts_data, "{call:?}");
        }
        assert_eq!(counters(&m).data, count * PAGE);
    }
}

#[test]
fn mmap_prot_nocache_in_flags_moves_into_prot() {
    let flags = ANON_PRIV | MapFlags::from_bits_retain(Prot::NOCACHE.bits());
    for p in ALL {
        let mut m = model(p);
        let a = addr_of(assert_ok(&mut m, P1, &mmap(0, PAGE, RW, flags, -1, 0), "MMAP-OK-1"));
        let prot = m.process(P1).unwrap().space.region_at(Addr(a)).unwrap().prot;
        // Linux ignores the unknown flag bit.
        assert_eq!(prot.contains(Prot::NOCACHE), p != Linux, "{p}");
    }
}

#[test]
fn mmap_dev_zero_is_anonymous_memory() {
    for p in ALL {
        let mut m = model(p);
        let zero = dev_fd(&mut m, "/dev/zero", OFlags::RDWR);
        let a = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, MapFlags::PRIVATE, zero.0, 0),
            "MMAP-OK-1",
        ));
        assert_eq!(load(&mut m, a, 2), bytes(&[0, 0]));
        // Private /dev/zero is private anonymous memory: data on every profile.
        assert_eq!(counters(&m).data, PAGE, "{p}");
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::SHARED, zero.0, 0), "MMAP-OK-1");
        assert_eq!(counters(&m).data, PAGE, "{p}");
    }
}

// ---- MAP_STACK guard ----

#[test]
fn mmap_stack_guard_is_prot_none_below_the_stack() {
    let stack = ANON_PRIV | MapFlags::STACK;
    for p in QNX {
        let mut m = model(p);
        let a = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, 4 * PAGE, RW, stack, -1, 100),
            "MMAP-OK-1",
        ));
        assert_eq!(a % PAGE, 0);
        assert_eq!(load(&mut m, a, 1), SEGV);
        assert_eq!(store(&mut m, a + PAGE, &[1]), Outcome::UNIT);
        assert_eq!(region_count(&m), 2);
        let c = counters(&m);
        assert_eq!((c.total, c.data), (4 * PAGE, 0));
        // MAP_FIXED forces the guard to 0.
        let fixed = mmap(arena(&m), 2 * PAGE, RW, stack | MapFlags::FIXED, -1, PAGE);
        assert_ok(&mut m, P1, &fixed, "MMAP-OK-2");
        let a = arena(&m);
        assert_eq!(store(&mut m, a, &[1]), Outcome::UNIT);
        assert_eq!(region_count(&m), 3);
    }
    // Linux has no guard.
    let mut m = model(Linux);
    let a = addr_of(assert_ok(
        &mut m,
        P1,
        &mmap(0, 4 * PAGE, RW, stack, -1, PAGE),
        "MMAP-OK-1",
    ));
    assert_eq!(store(&mut m, a, &[1]), Outcome::UNIT);
}

// ---- placement ----

#[test]
fn mmap_placement_takes_a_free_hint() {
    for p in ALL {
        let mut m = model(p);
        let a = arena(&m);
        assert_eq!(
            addr_of(assert_ok(&mut m, P1, &mmap(a, PAGE, RW, ANON_PRIV, -1, 0), "MMAP-OK-1")),
            a
        );
        // An unaligned hint: procnto rounds it up, Linux down.
        let hint = a + 4 * PAGE + 1;
        let got = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(hint, PAGE, RW, ANON_PRIV, -1, 0),
            "MMAP-OK-1",
        ));
        let want = if p == Linux { a + 4 * PAGE } else { a + 5 * PAGE };
        assert_eq!(got, want, "{p}");
    }
}

#[test]
fn mmap_placement_procnto_skips_an_exact_size_hole() {
    for p in QNX {
        let mut m = model(p);
        let a = arena(&m);
        assert_ok(&mut m, P1, &anon_fixed(a, PAGE), "MMAP-OK-2");
        assert_ok(&mut m, P1, &anon_fixed(a + 3 * PAGE, PAGE), "MMAP-OK-2");
        // The hint is taken; the 2-page hole after it is too small for 2 pages.
        let two = mmap(a, 2 * PAGE, RW, ANON_PRIV, -1, 0);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &two, "MMAP-OK-1")), a + 4 * PAGE);
        let one = mmap(a, PAGE, RW, ANON_PRIV, -1, 0);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &one, "MMAP-OK-1")), a + PAGE);
        // Nothing fits above a hint at the very top: the last hole below it.
        let end = m.profile().user_end;
        let top = mmap(end - PAGE, 2 * PAGE, RW, ANON_PRIV, -1, 0);
        assert_eq!(addr_of(assert_ok(&mut m, P1, &top, "MMAP-OK-1")), a + 6 * PAGE);
    }
}

#[test]
fn mmap_placement_linux_is_top_down_from_the_map_base() {
    let mut m = model(Linux);
    let base = m.profile().map_base;
    // An occupied hint is ignored: the highest fit below the map base.
    let a = arena(&m);
    assert_ok(&mut m, P1, &anon_fixed(a, PAGE), "MMAP-OK-2");
    let got = addr_of(assert_ok(&mut m, P1, &mmap(a, PAGE, RW, ANON_PRIV, -1, 0), "MMAP-OK-1"));
    assert_eq!(got, base - PAGE);
}

// ---- counters and system memory ----

#[test]
fn mmap_counters_follow_each_mapping() {
    for p in ALL {
        let mut m = model(p);
        let fd = shm_fd(&mut m, "/c", PAGE, OFlags::RDWR);
        assert_ok(&mut m, P1, &anon(3 * PAGE), "MMAP-OK-1");
        assert_ok(&mut m, P1, &mmap(0, 2 * PAGE, RW, ANON_SHARED, -1, 0), "MMAP-OK-1");
        assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, fd.0, 0),
            "MMAP-OK-1",
        );
        assert_ok(&mut m, P1, &mmap(0, 1, Prot::READ, ANON_PRIV, -1, 0), "MMAP-OK-1");
        let c = counters(&m);
        // Read-only private anonymous memory is data on procnto only.
        let data = if p == Linux { 3 * PAGE } else { 4 * PAGE };
        assert_eq!((c.total, c.data, c.locked), (7 * PAGE, data, 0), "{p}");
        if p == Linux {
            // Linux charges private writable file mappings.
            assert_ok(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::PRIVATE, fd.0, 0), "MMAP-OK-1");
            assert_eq!(counters(&m).data, 4 * PAGE);
        } else {
            mlockall_future(&mut m);
            assert_ok(&mut m, P1, &anon(PAGE), "MMAP-OK-1");
            assert_eq!(counters(&m).locked, PAGE);
        }
        assert_eq!(counters(&m).total, 8 * PAGE);
    }
}

#[test]
fn mmap_commit_is_charged_and_released_on_procnto() {
    for p in QNX {
        let mut m = model(p);
        let a = addr_of(assert_ok(&mut m, P1, &anon(2 * PAGE), "MMAP-OK-1"));
        assert_eq!(m.committed(), 2 * PAGE);
        // Shared anonymous memory is charged through its object.
        let s = addr_of(assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, ANON_SHARED, -1, 0),
            "MMAP-OK-1",
        ));
        assert_eq!(m.committed(), 3 * PAGE);
        assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, RW, ANON_PRIV | MapFlags::LAZY, -1, 0),
            "MMAP-OK-1",
        );
        // A private copy of an object reserves anonymous memory.
        let fd = shm_fd(&mut m, "/m", PAGE, OFlags::RDWR);
        assert_eq!(m.committed(), 4 * PAGE);
        assert_ok(
            &mut m,
            P1,
            &mmap(0, PAGE, Prot::READ, MapFlags::PRIVATE, fd.0, 0),
            "MMAP-OK-1",
        );
        assert_eq!(m.committed(), 5 * PAGE);
        assert_ok(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::SHARED, fd.0, 0), "MMAP-OK-1");
        assert_eq!(m.committed(), 5 * PAGE);
        for (addr, len) in [(a, 2 * PAGE), (s, PAGE)] {
            let un = Call::Munmap {
                addr: Addr(addr),
                len: Len(len),
            };
            assert_eq!(m.step(P1, &un).outcome, Outcome::UNIT);
        }
        assert_eq!(m.committed(), 2 * PAGE);
    }
    let mut m = model(Linux);
    assert_ok(&mut m, P1, &anon(2 * PAGE), "MMAP-OK-1");
    assert_eq!(m.committed(), 0);
}

#[test]
fn mmap_qnx4_gamma_maps_physical_memory() {
    // 001_88d024ee21ee2ef8.txt: shm_open("Physical", O_RDONLY) and
    // mmap(1000, PROT_READ, MAP_SHARED, fd, 0xA0000).
    let mut m = model(Qnx4);
    let fd = opened(
        &mut m,
        P1,
        &Call::ShmOpen {
            name: "Physical".into(),
            oflag: OFlags::RDONLY,
            mode: 0o777,
        },
    );
    let call = mmap(0, 1000, Prot::READ, MapFlags::SHARED, fd.0, 0xA0000);
    let a = addr_of(assert_ok(&mut m, P1, &call, "MMAP-OK-1"));
    // One whole page is mapped; bytes 1000..4095 are readable too.
    assert_eq!(load(&mut m, a + 4095, 1), bytes(&[0]));
    assert_eq!(counters(&m).total, PAGE);
    let write = mmap(0, 1000, RW, MapFlags::SHARED, fd.0, 0xA0000);
    assert_err(&mut m, P1, &write, Errno::EACCES, "MMAP-EACCES-2");
}

// ---- the written check order ----

/// The MMAP rule IDs in `text`, in order.
fn mmap_ids(text: &str) -> Vec<&str> {
    text.split(|c: char| !(c.is_ascii_uppercase() || c.is_ascii_digit() || c == '-'))
        .filter(|w| w.starts_with("MMAP-") && mmoracle::spec::is_rule_id(w))
        .collect()
}

/// The part of `text` between `from` and `to`.
fn between<'a>(text: &'a str, from: &str, to: &str) -> &'a str {
    let start = text.find(from).unwrap_or_else(|| panic!("`{from}` not found"));
    let rest = &text[start..];
    &rest[..rest
        .find(to)
        .unwrap_or_else(|| panic!("`{to}` not found after `{from}`"))]
}

#[test]
fn mmap_check_order_in_spec_matches_the_code() {
    let root = env!("CARGO_MANIFEST_DIR");
    let spec = std::fs::read_to_string(format!("{root}/spec/mmap.md")).unwrap();
    let code = std::fs::read_to_string(format!("{root}/src/model/mmap.rs")).unwrap();
    let doc: String = code
        .lines()
        .take_while(|l| l.starts_with("//!"))
        .map(|l| format!("{l}\n"))
        .collect();
    let order = between(&spec, "## Check order", "## MMAP-");
    let spec_procnto = mmap_ids(between(order, "**neutrino, qnx4**", "**linux**"));
    let spec_linux = mmap_ids(&order[order.find("**linux**").unwrap()..]);
    let doc_procnto = mmap_ids(between(
        &doc,
        "procnto (MmapOrder::Procnto)",
        "Linux (MmapOrder::Linux)",
    ));
    let doc_linux = mmap_ids(&doc[doc.find("Linux (MmapOrder::Linux)").unwrap()..]);
    assert_eq!(spec_procnto, doc_procnto);
    assert_eq!(spec_linux, doc_linux);
    assert_eq!(spec_procnto.len(), 30);
    assert_eq!(spec_linux.len(), 29);
}
