//! getrlimit and setrlimit (spec/rlimits.md).

use crate::shm::{open, spawn, user};
use crate::util::*;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

const MIB: u64 = 1 << 20;

fn set(resource: Resource, cur: u64, max: u64) -> Call {
    Call::Setrlimit {
        resource,
        cur,
        max,
        target: None,
    }
}

fn set_on(target: Pid, resource: Resource, cur: u64, max: u64) -> Call {
    Call::Setrlimit {
        resource,
        cur,
        max,
        target: Some(target),
    }
}

fn get(resource: Resource) -> Call {
    get_on(None, resource)
}

fn get_on(target: Option<Pid>, resource: Resource) -> Call {
    Call::Getrlimit { resource, target }
}

/// The limit `pid` sees for `resource`.
fn limit(m: &mut Model, pid: Pid, resource: Resource) -> Rlimit {
    match assert_ok(m, pid, &get(resource), "RLIMIT-GET-1") {
        Value::Rlimit(r) => r,
        other => panic!("getrlimit returned {other}"),
    }
}

fn rl(cur: u64, max: u64) -> Rlimit {
    Rlimit { cur, max }
}

#[test]
fn rlimit_esrch_1_no_such_target() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let ghost = Some(Pid(42));
        assert_err(
            &mut m,
            P1,
            &get_on(ghost, Resource::RLIMIT_AS),
            Errno::ESRCH,
            "RLIMIT-ESRCH-1",
        );
        let s = set_on(Pid(42), Resource::RLIMIT_AS, MIB, MIB);
        assert_err(&mut m, P1, &s, Errno::ESRCH, "RLIMIT-ESRCH-1");
        // An exited process is no target either.
        let child = spawn(&mut m, P1);
        assert_ok(&mut m, child, &Call::Exit {}, "PROC-EXIT-1");
        let s = set_on(child, Resource::RLIMIT_AS, MIB, MIB);
        assert_err(&mut m, P1, &s, Errno::ESRCH, "RLIMIT-ESRCH-1");
        // Target 0 is the caller.
        assert_ok(
            &mut m,
            P1,
            &set_on(Pid(0), Resource::RLIMIT_AS, MIB, MIB),
            "RLIMIT-SET-1",
        );
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_AS), rl(MIB, MIB));
    }
}

#[test]
fn rlimit_eperm_2_another_users_process() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let u = user(&mut m, 1000);
        // A non-root caller may not touch root's limits, nor read them.
        let s = set_on(P1, Resource::RLIMIT_AS, MIB, MIB);
        assert_err(&mut m, u, &s, Errno::EPERM, "RLIMIT-EPERM-2");
        let g = get_on(Some(P1), Resource::RLIMIT_AS);
        assert_err(&mut m, u, &g, Errno::EPERM, "RLIMIT-EPERM-2");
        // Root may on QNX; on Linux that needs CAP_SYS_RESOURCE, which nobody has.
        let s = set_on(u, Resource::RLIMIT_AS, MIB, MIB);
        let g = get_on(Some(u), Resource::RLIMIT_AS);
        if p == ProfileName::Linux {
            assert_err(&mut m, P1, &s, Errno::EPERM, "RLIMIT-EPERM-2");
            assert_err(&mut m, P1, &g, Errno::EPERM, "RLIMIT-EPERM-2");
        } else {
            assert_ok(&mut m, P1, &s, "RLIMIT-SET-1");
            assert_eq!(assert_ok(&mut m, P1, &g, "RLIMIT-GET-1"), Value::Rlimit(rl(MIB, MIB)));
        }
        // Same uid: allowed everywhere.
        let sibling = spawn(&mut m, u);
        assert_ok(
            &mut m,
            u,
            &set_on(sibling, Resource::RLIMIT_DATA, MIB, MIB),
            "RLIMIT-SET-1",
        );
        assert_eq!(limit(&mut m, sibling, Resource::RLIMIT_DATA), rl(MIB, MIB));
        // Same uid, another group (foreign_limits_match_gid): Linux refuses,
        // QNX looks at the user alone.
        let other_group = spawn(&mut m, P1);
        let cred = Call::Cred {
            euid: 1000,
            cap_ipc_lock: false,
            egid: Some(100),
            groups: None,
        };
        assert_ok(&mut m, other_group, &cred, "PROC-CRED-1");
        let s = set_on(other_group, Resource::RLIMIT_DATA, MIB, MIB);
        if m.profile().foreign_limits_match_gid {
            assert_err(&mut m, u, &s, Errno::EPERM, "RLIMIT-EPERM-2");
        } else {
            assert_ok(&mut m, u, &s, "RLIMIT-SET-1");
        }
    }
}

#[test]
fn rlimit_einval_1_soft_above_hard() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(
            &mut m,
            P1,
            &set(Resource::RLIMIT_AS, 2 * MIB, MIB),
            Errno::EINVAL,
            "RLIMIT-EINVAL-1",
        );
        assert_eq!(
            limit(&mut m, P1, Resource::RLIMIT_AS),
            Rlimit::INFINITE,
            "nothing changed"
        );
        // Checked before the hard-limit privilege: EPERM is only an alternative.
        let u = user(&mut m, 1000);
        setrlimit_as(&mut m, u, MIB, MIB);
        let bad = set(Resource::RLIMIT_AS, 4 * MIB, 2 * MIB);
        let v = m.evaluate(u, &bad);
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EINVAL), "RLIMIT-EINVAL-1")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::EPERM), false), Some("RLIMIT-EPERM-1"));
    }
    // Linux keeps an infinite soft limit, so it cannot sit under a finite hard one.
    let mut m = model(ProfileName::Linux);
    let inf_soft = set(Resource::RLIMIT_AS, RLIM_INFINITY, MIB);
    assert_err(&mut m, P1, &inf_soft, Errno::EINVAL, "RLIMIT-EINVAL-1");
}

fn setrlimit_as(m: &mut Model, pid: Pid, cur: u64, max: u64) {
    assert_ok(m, pid, &set(Resource::RLIMIT_AS, cur, max), "RLIMIT-SET-1");
}

#[test]
fn rlimit_einval_2_nofile_below_the_open_fds() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let hard = limit(&mut m, P1, Resource::RLIMIT_NOFILE).max;
        for _ in 0..3 {
            opened(&mut m, P1, &open("/dev/zero", OFlags::RDONLY));
        }
        let below = set(Resource::RLIMIT_NOFILE, 2, hard);
        if p == ProfileName::Linux {
            // Linux allows it: the fds stay, new ones get EMFILE.
            assert_ok(&mut m, P1, &below, "RLIMIT-SET-1");
            assert_err(
                &mut m,
                P1,
                &open("/dev/zero", OFlags::RDONLY),
                Errno::EMFILE,
                "OPEN-EMFILE-1",
            );
            assert_ok(&mut m, P1, &Call::Close { fd: Fd(1) }, "CLOSE-OK-1");
            let v = assert_ok(&mut m, P1, &open("/dev/zero", OFlags::RDONLY), "OPEN-OK-1");
            assert_eq!(v, Value::Fd(Fd(1)));
        } else {
            assert_err(&mut m, P1, &below, Errno::EINVAL, "RLIMIT-EINVAL-2");
            // Exactly the fds in use is fine.
            assert_ok(&mut m, P1, &set(Resource::RLIMIT_NOFILE, 3, hard), "RLIMIT-SET-1");
            assert_err(
                &mut m,
                P1,
                &open("/dev/zero", OFlags::RDONLY),
                Errno::EMFILE,
                "OPEN-EMFILE-1",
            );
        }
    }
}

#[test]
fn rlimit_eperm_1_raising_the_hard_limit() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        setrlimit_as(&mut m, P1, 64 * MIB, 64 * MIB);
        let raise = set(Resource::RLIMIT_AS, 64 * MIB, 128 * MIB);
        if p == ProfileName::Linux {
            // Even root: CAP_SYS_RESOURCE is missing on this project's machines.
            assert_err(&mut m, P1, &raise, Errno::EPERM, "RLIMIT-EPERM-1");
            assert_eq!(limit(&mut m, P1, Resource::RLIMIT_AS), rl(64 * MIB, 64 * MIB));
        } else {
            assert_ok(&mut m, P1, &raise, "RLIMIT-SET-1");
            assert_eq!(limit(&mut m, P1, Resource::RLIMIT_AS), rl(64 * MIB, 128 * MIB));
        }
        // A non-root process may lower its hard limit but never raise it.
        let u = user(&mut m, 1000);
        setrlimit_as(&mut m, u, 32 * MIB, 32 * MIB);
        let raise = set(Resource::RLIMIT_AS, 32 * MIB, 33 * MIB);
        assert_err(&mut m, u, &raise, Errno::EPERM, "RLIMIT-EPERM-1");
        // Raising only the soft limit up to the hard one is not raising.
        setrlimit_as(&mut m, u, MIB, 32 * MIB);
        setrlimit_as(&mut m, u, 32 * MIB, 32 * MIB);
    }
}

#[test]
fn rlimit_get_1_reports_the_initial_limits() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let nofile = limit(&mut m, P1, Resource::RLIMIT_NOFILE);
        let memlock = limit(&mut m, P1, Resource::RLIMIT_MEMLOCK);
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_AS), Rlimit::INFINITE);
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_DATA), Rlimit::INFINITE);
        if p == ProfileName::Linux {
            assert_eq!((nofile, memlock), (rl(20000, 20000), rl(8 * MIB, 8 * MIB)));
        } else {
            assert_eq!((nofile, memlock), (rl(1000, 1000), Rlimit::INFINITE));
        }
    }
}

#[test]
fn rlimit_set_1_lowering_below_usage_only_fails_later_calls() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        mapped(&mut m, P1, &anon(4 * MIB));
        assert_ok(
            &mut m,
            P1,
            &set(Resource::RLIMIT_AS, MIB, RLIM_INFINITY),
            "RLIMIT-SET-1",
        );
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_AS), rl(MIB, RLIM_INFINITY));
        assert_eq!(m.step(P1, &anon(4096)).outcome, Outcome::Err(Errno::ENOMEM));
        // Only the soft limit was lowered, so it can go back up.
        assert_ok(
            &mut m,
            P1,
            &set(Resource::RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY),
            "RLIMIT-SET-1",
        );
        mapped(&mut m, P1, &anon(4096));
        // RLIMIT_MEMLOCK is settable in every profile (procnto 6.4 refused it).
        assert_ok(&mut m, P1, &set(Resource::RLIMIT_MEMLOCK, MIB, 8 * MIB), "RLIMIT-SET-1");
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_MEMLOCK), rl(MIB, 8 * MIB));
    }
}

#[test]
fn rlimit_set_2_infinite_soft_limit_becomes_the_hard_one() {
    for p in [ProfileName::Neutrino, ProfileName::Qnx4] {
        let mut m = model(p);
        let v = assert_ok(
            &mut m,
            P1,
            &set(Resource::RLIMIT_DATA, RLIM_INFINITY, 16 * MIB),
            "RLIMIT-SET-2",
        );
        assert_eq!(v, Value::Unit);
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_DATA), rl(16 * MIB, 16 * MIB));
        // With an infinite hard limit the soft one stays infinite, as asked.
        let both = set(Resource::RLIMIT_AS, RLIM_INFINITY, RLIM_INFINITY);
        assert_ok(&mut m, P1, &both, "RLIMIT-SET-1");
    }
}

#[test]
fn limits_are_inherited_by_spawn() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_AS, 256 * MIB, 512 * MIB);
        setrlimit(&mut m, Resource::RLIMIT_DATA, 64 * MIB, 64 * MIB);
        let child = spawn(&mut m, P1);
        assert_eq!(limit(&mut m, child, Resource::RLIMIT_AS), rl(256 * MIB, 512 * MIB));
        assert_eq!(limit(&mut m, child, Resource::RLIMIT_DATA), rl(64 * MIB, 64 * MIB));
        // The child's own changes stay its own.
        assert_ok(&mut m, child, &set(Resource::RLIMIT_DATA, MIB, MIB), "RLIMIT-SET-1");
        assert_eq!(limit(&mut m, P1, Resource::RLIMIT_DATA), rl(64 * MIB, 64 * MIB));
        let grandchild = spawn(&mut m, child);
        assert_eq!(limit(&mut m, grandchild, Resource::RLIMIT_DATA), rl(MIB, MIB));
    }
}

#[test]
fn rlimit_einval_3_a_number_that_names_no_resource() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        for n in [16, 42, -1, 10] {
            let r = Resource::from_qnx(n).unwrap();
            assert!(r.is_unknown(), "{n}");
            assert_err(&mut m, P1, &get(r), Errno::EINVAL, "RLIMIT-EINVAL-3");
            assert_err(&mut m, P1, &set(r, 1, 1), Errno::EINVAL, "RLIMIT-EINVAL-3");
        }
        // The target is looked up first.
        let unknown = get_on(Some(Pid(77)), Resource::Unknown(42));
        assert_err(&mut m, P1, &unknown, Errno::ESRCH, "RLIMIT-ESRCH-1");
        // Known numbers are the named resources; unmodelled QNX ones are refused as input.
        assert_eq!(Resource::from_qnx(3), Ok(Resource::RLIMIT_STACK));
        assert_eq!(Resource::from_qnx(8), Ok(Resource::RLIMIT_NPROC));
        assert!(Resource::from_qnx(0).unwrap_err().contains("RLIMIT_CPU"));
    }
}

#[test]
fn rlimit_stack_and_nproc_are_read_set_and_inherited() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        for r in [Resource::RLIMIT_STACK, Resource::RLIMIT_NPROC] {
            let initial = m.profile().initial_limits[r.index()];
            assert_eq!(assert_ok(&mut m, P1, &get(r), "RLIMIT-GET-1"), Value::Rlimit(initial));
            let v = initial.max.min(3 * MIB);
            assert_ok(&mut m, P1, &set(r, v, v), "RLIMIT-SET-1");
            let child = spawn(&mut m, P1);
            let lowered = Rlimit { cur: v, max: v };
            assert_eq!(
                assert_ok(&mut m, child, &get(r), "RLIMIT-GET-1"),
                Value::Rlimit(lowered)
            );
        }
    }
}

#[test]
fn proc_eagain_2_rlimit_nproc_counts_the_uid_processes() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let u = user(&mut m, 4242);
        assert_ok(&mut m, u, &set(Resource::RLIMIT_NPROC, 2, 2), "RLIMIT-SET-1");
        let u2 = spawn(&mut m, u);
        assert_err(&mut m, u2, &Call::Spawn {}, Errno::EAGAIN, "PROC-EAGAIN-2");
        // Another uid's processes do not count, and an exit makes room.
        spawn(&mut m, P1);
        assert_ok(&mut m, u2, &Call::Exit {}, "PROC-EXIT-1");
        spawn(&mut m, u);
        // Root: exempt where the profile says so.
        assert_ok(&mut m, P1, &set(Resource::RLIMIT_NPROC, 1, 1), "RLIMIT-SET-1");
        let out = m.step(P1, &Call::Spawn {});
        if m.profile().nproc_exempts_root {
            assert_eq!(out.rule, "PROC-SPAWN-1", "{p}");
        } else {
            assert_eq!(
                (out.outcome, out.rule),
                (Outcome::Err(Errno::EAGAIN), "PROC-EAGAIN-2"),
                "{p}"
            );
        }
    }
}
