//! spawn, exit and cred (spec/processes.md).

use crate::shm::{close, create, cred, load, map_shared, read, shm_open, sized, spawn, store, user, RW};
use crate::util::*;
use mmoracle::types::*;
use mmoracle::{Call, ProfileName, Value};

#[test]
fn proc_esrch_1_no_such_process() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(&mut m, Pid(9), &anon(4096), Errno::ESRCH, "PROC-ESRCH-1");
        assert_err(&mut m, Pid(0), &Call::Spawn {}, Errno::ESRCH, "PROC-ESRCH-1");
        let child = spawn(&mut m, P1);
        assert_ok(&mut m, child, &Call::Exit {}, "PROC-EXIT-1");
        // An exited pid is gone for every call, exit included.
        assert_err(&mut m, child, &Call::Exit {}, Errno::ESRCH, "PROC-ESRCH-1");
        assert_err(&mut m, child, &load(0x1000, 1), Errno::ESRCH, "PROC-ESRCH-1");
        m.check_invariants().unwrap();
    }
}

#[test]
fn proc_eagain_1_too_many_processes() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let max = m.profile().max_procs;
        let mut last = P1;
        for _ in 1..max {
            last = spawn(&mut m, P1);
        }
        assert_eq!(m.processes().count(), max);
        assert_err(&mut m, P1, &Call::Spawn {}, Errno::EAGAIN, "PROC-EAGAIN-1");
        // One exit makes room again.
        assert_ok(&mut m, last, &Call::Exit {}, "PROC-EXIT-1");
        assert_ok(&mut m, P1, &Call::Spawn {}, "PROC-SPAWN-1");
    }
}

#[test]
fn proc_spawn_1_child_inherits_credentials_and_limits_only() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        setrlimit(&mut m, Resource::RLIMIT_AS, 1 << 30, 1 << 30);
        let fd = sized(&mut m, P1, "/buf", 4096);
        mapped(&mut m, P1, &anon(4096));
        let v = assert_ok(&mut m, P1, &Call::Spawn {}, "PROC-SPAWN-1");
        assert_eq!(v, Value::Pid(Pid(2)));
        let child = m.process(Pid(2)).unwrap();
        assert_eq!(child.limits, m.process(P1).unwrap().limits);
        assert_eq!((child.euid, child.cap_ipc_lock, child.mcl_future), (0, true, false));
        assert!(child.fds().is_empty() && child.space.region_count() == 0);
        assert_err(&mut m, Pid(2), &close(fd), Errno::EBADF, "CLOSE-EBADF-1");
        // A dropped uid is inherited too, and pids keep counting up.
        let u = user(&mut m, 1000);
        let grandchild = spawn(&mut m, u);
        assert_eq!(grandchild, Pid(4));
        let g = m.process(grandchild).unwrap();
        assert_eq!((g.euid, g.cap_ipc_lock), (1000, false));
    }
}

#[test]
fn proc_exit_1_releases_mappings_fds_and_objects() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let objects_before = m.objects().iter().count();
        let child = spawn(&mut m, P1);
        // An unlinked, mapped object; a shared anonymous mapping; a named object.
        let gone = sized(&mut m, child, "/gone", 8192);
        let a = map_shared(&mut m, child, gone, 8192, RW);
        assert_ok(&mut m, child, &store(a, b"bye"), "ACCESS-SHARED-1");
        assert_ok(&mut m, child, &Call::ShmUnlink { name: "/gone".into() }, "SHM-UNLINK-1");
        let shared_anon = mmap(0, 4096, RW, MapFlags::SHARED | MapFlags::ANON, -1, 0);
        mapped(&mut m, child, &shared_anon);
        let kept = sized(&mut m, child, "/kept", 4096);
        let k = map_shared(&mut m, child, kept, 4096, RW);
        assert_ok(&mut m, child, &store(k, b"stays"), "ACCESS-SHARED-1");
        assert_eq!(m.objects().iter().count(), objects_before + 3);
        let committed = m.committed();
        assert_ok(&mut m, child, &Call::Exit {}, "PROC-EXIT-1");
        // Only the named object is left, with its contents.
        assert_eq!(m.objects().iter().count(), objects_before + 1);
        assert!(m.process(child).is_none());
        if m.profile().commit_objects {
            assert!(m.committed() < committed, "{p}: memory returned");
            assert_eq!(m.committed(), 4096, "{p}: only /kept is charged");
        }
        let fd = opened(&mut m, P1, &shm_open("/kept", OFlags::RDONLY, 0));
        let b = map_shared(&mut m, P1, fd, 4096, Prot::READ);
        assert_eq!(read(&mut m, P1, b, 5), Ok(b"stays".to_vec()));
        m.check_invariants().unwrap();
    }
}

#[test]
fn proc_eperm_1_privileges_cannot_be_regained() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let u = user(&mut m, 1000);
        for (euid, cap) in [(0, false), (2000, false), (1000, true), (0, true)] {
            assert_err(&mut m, u, &cred(euid, cap), Errno::EPERM, "PROC-EPERM-1");
        }
        let proc = m.process(u).unwrap();
        assert_eq!((proc.euid, proc.cap_ipc_lock), (1000, false), "nothing changed");
        // Root without the locking privilege cannot take it back either.
        assert_ok(&mut m, P1, &cred(0, false), "PROC-CRED-1");
        assert_err(&mut m, P1, &cred(0, true), Errno::EPERM, "PROC-EPERM-1");
    }
}

#[test]
fn proc_cred_1_drops_privileges() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let child = spawn(&mut m, P1);
        // Root may take any uid, keeping or dropping the locking privilege.
        assert_ok(&mut m, child, &cred(500, true), "PROC-CRED-1");
        let proc = m.process(child).unwrap();
        assert_eq!((proc.euid, proc.cap_ipc_lock), (500, true));
        assert_ok(&mut m, child, &cred(500, false), "PROC-CRED-1");
        // The same credentials again is no change, and allowed.
        assert_ok(&mut m, child, &cred(500, false), "PROC-CRED-1");
        // Objects created afterwards belong to the new uid: root's are not its own.
        opened(&mut m, P1, &create("/root"));
        let not_owner = m.profile().shm_unlink_not_owner;
        let unlink_roots = Call::ShmUnlink { name: "/root".into() };
        assert_err(&mut m, child, &unlink_roots, not_owner, "SHM-EPERM-1");
        opened(&mut m, child, &create("/mine"));
        assert_ok(&mut m, child, &Call::ShmUnlink { name: "/mine".into() }, "SHM-UNLINK-1");
    }
}

/// A cred call with a gid and groups.
fn cred_groups(euid: u32, egid: Option<u32>, groups: Option<Vec<u32>>) -> Call {
    Call::Cred {
        euid,
        cap_ipc_lock: false,
        egid,
        groups,
    }
}

fn status(m: &mut mmoracle::Model, pid: Pid, fd: Fd) -> mmoracle::call::FileStatus {
    match assert_ok(m, pid, &Call::FstatFull { fd }, "FSTAT-STATUS-1") {
        Value::Status(st) => st,
        other => panic!("fstat_full returned {other}"),
    }
}

#[test]
fn proc_umask_1_returns_the_old_mask_and_masks_new_objects() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let umask = |mask| Call::Umask { mask };
        assert_eq!(assert_ok(&mut m, P1, &umask(0o1777), "PROC-UMASK-1"), Value::Mode(0));
        assert_eq!(assert_ok(&mut m, P1, &umask(0o027), "PROC-UMASK-1"), Value::Mode(0o777));
        let fd = opened(&mut m, P1, &shm_open("/um", OFlags::RDWR | OFlags::CREAT, 0o666));
        assert_eq!(status(&mut m, P1, fd).mode & 0o7777, 0o640, "{p}");
        // spawn passes it on.
        let child = spawn(&mut m, P1);
        assert_eq!(assert_ok(&mut m, child, &umask(0), "PROC-UMASK-1"), Value::Mode(0o027));
    }
}

#[test]
fn proc_eperm_2_only_root_changes_its_groups() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let child = spawn(&mut m, P1);
        assert_ok(
            &mut m,
            child,
            &cred_groups(0, Some(100), Some(vec![200])),
            "PROC-CRED-1",
        );
        let proc = m.process(child).unwrap();
        assert_eq!((proc.egid, proc.groups.clone()), (100, vec![200]));
        assert_ok(&mut m, child, &cred_groups(1000, None, Some(vec![200])), "PROC-CRED-1");
        // Not root any more: groups, even the same ones, and another gid are refused.
        let refused = [
            cred_groups(1000, None, Some(vec![200])),
            cred_groups(1000, Some(0), None),
        ];
        for call in refused {
            assert_err(&mut m, child, &call, Errno::EPERM, "PROC-EPERM-2");
        }
        // The uid change without egid took the uid as gid; naming it again is no change.
        assert_ok(&mut m, child, &cred_groups(1000, Some(1000), None), "PROC-CRED-1");
        let proc = m.process(child).unwrap();
        assert_eq!((proc.euid, proc.egid, proc.groups.clone()), (1000, 1000, vec![200]));
        // Without egid, a uid change takes the uid as gid and drops the groups.
        let other = user(&mut m, 1001);
        let proc = m.process(other).unwrap();
        assert_eq!((proc.egid, proc.groups.is_empty()), (1001, true));
    }
}

#[test]
fn fstat_status_1_owner_group_mode_and_type() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let child = spawn(&mut m, P1);
        assert_ok(&mut m, child, &cred_groups(0, Some(100), None), "PROC-CRED-1");
        let fd = opened(&mut m, child, &shm_open("/st", OFlags::RDWR | OFlags::CREAT, 0o660));
        assert_ok(&mut m, child, &Call::Ftruncate { fd, len: 10 }, "TRUNC-OK-1");
        let st = status(&mut m, child, fd);
        let shm_type = m.profile().shm_file_type;
        assert_eq!(
            (st.size, st.uid, st.gid, st.mode),
            (10, 0, 100, shm_type | 0o660),
            "{p}"
        );
        let z = open_dev_zero(&mut m, P1);
        assert_eq!(status(&mut m, P1, z).mode, 0o020666);
        assert_err(
            &mut m,
            P1,
            &Call::FstatFull { fd: Fd(77) },
            Errno::EBADF,
            "FSTAT-EBADF-1",
        );
        // SHM-EACCES-1: a process in group 100 gets the group bits.
        let u = spawn(&mut m, P1);
        assert_ok(&mut m, u, &cred_groups(1000, Some(5), Some(vec![100])), "PROC-CRED-1");
        opened(&mut m, u, &shm_open("/st", OFlags::RDWR, 0));
        let v = user(&mut m, 1002);
        assert_err(
            &mut m,
            v,
            &shm_open("/st", OFlags::RDONLY, 0),
            Errno::EACCES,
            "SHM-EACCES-1",
        );
    }
}

#[test]
fn proc_fork_1_the_child_is_a_copy_without_locks() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let a = mapped(&mut m, P1, &anon(8192));
        assert_ok(&mut m, P1, &store(a, &[1, 2]), "ACCESS-STORE-1");
        let fd = sized(&mut m, P1, "/fork", 4096);
        let s = map_shared(&mut m, P1, fd, 4096, RW);
        assert_ok(
            &mut m,
            P1,
            &Call::Mlock {
                addr: Addr(a),
                len: Len(4096),
            },
            "LOCK-MLOCK-1",
        );
        assert_ok(&mut m, P1, &Call::Umask { mask: 0o077 }, "PROC-UMASK-1");
        let before = m.process(P1).unwrap().space.counters();
        let Value::Pid(child) = assert_ok(&mut m, P1, &Call::Fork {}, "PROC-FORK-1") else {
            panic!("fork returns a pid")
        };
        let c = m.process(child).unwrap();
        assert_eq!((c.umask, c.mcl_future, c.fds().len()), (0o077, false, 1), "{p}");
        let counters = c.space.counters();
        assert_eq!(
            (counters.total, counters.data, counters.locked),
            (before.total, before.data, 0),
            "{p}"
        );
        assert_eq!(read(&mut m, child, a, 2), Ok(vec![1, 2]));
        // Private: each side's own; shared: both.
        assert_ok(&mut m, child, &store(a, &[9]), "ACCESS-STORE-1");
        assert_eq!(read(&mut m, P1, a, 1), Ok(vec![1]));
        assert_ok(&mut m, child, &store(s, &[7]), "ACCESS-SHARED-1");
        assert_eq!(read(&mut m, P1, s, 1), Ok(vec![7]));
        // The fd is the same open file: closing the parent's keeps the child's.
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_ok(&mut m, child, &Call::Fstat { fd }, "FSTAT-OK-1");
        assert_ok(&mut m, child, &Call::Exit {}, "PROC-EXIT-1");
        assert_eq!(read(&mut m, P1, s, 1), Ok(vec![7]));
        m.check_invariants().unwrap();
    }
}

#[test]
fn proc_enomem_1_fork_needs_memory_for_the_copies() {
    for p in ProfileName::ALL {
        // 1 GiB of memory, two thirds of it committed privately: a second
        // copy does not fit.
        let ram = 1 << 30;
        let small = mmoracle::profile::Profile {
            ram_bytes: ram,
            ..*p.profile()
        };
        let mut m = mmoracle::Model::with_profile(Box::leak(Box::new(small)));
        let big = (ram / 3 * 2) & !0xfff;
        let v = m.step(P1, &anon(big));
        assert!(v.outcome.is_ok(), "{p}: {v:?}");
        let fork = m.evaluate(P1, &Call::Fork {});
        if m.profile().commit_cumulative {
            assert_eq!(
                (fork.outcome.errno(), fork.rule),
                (Some(Errno::ENOMEM), "PROC-ENOMEM-1"),
                "{p}"
            );
        } else {
            assert_eq!(fork.rule, "PROC-FORK-1", "{p}");
        }
    }
}
