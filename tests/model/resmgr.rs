//! The modelled resource manager (spec/iofunc_mmap.md): its files
//! (RESMGR-*), opens of them (OPEN-EROFS-1, OPEN-EACCES-1, OPEN-EBUSY-1),
//! the server side of `_IO_MMAP` driven directly by `io_mmap` (IOFUNC-*),
//! and mmap of a server's file through procnto's exchange (IOMMAP-*, and the
//! server's errors passed to the mmap caller unchanged).

use crate::shm::{close, load, open, read, spawn, store, user, RW};
use crate::util::*;
use mmoracle::iomsg::{IoMmapReply, Layout};
use mmoracle::model::resmgr::MmapOcb;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use ProfileName::{Linux, Neutrino, Qnx4};

const ALL: [ProfileName; 3] = ProfileName::ALL;
/// The profiles where procnto asks the file's server (`_IO_MMAP`).
const QNX: [ProfileName; 2] = [Neutrino, Qnx4];
const PATH: &str = "/data/file";

/// A `resmgr_file` setup call, with the defaults a trace gets.
#[derive(Clone)]
struct File {
    path: &'static str,
    mode: u32,
    uid: u32,
    data: Vec<u8>,
    size: u64,
    readonly: bool,
    mandatory_lock: bool,
    ocb_alloc_fails: bool,
    mmap: &'static str,
}

impl File {
    /// One page holding "contents", mode 0644, owned by root, served by iofunc_mmap.
    fn new() -> File {
        File {
            path: PATH,
            mode: 0o644,
            uid: 0,
            data: b"contents".to_vec(),
            size: PAGE,
            readonly: false,
            mandatory_lock: false,
            ocb_alloc_fails: false,
            mmap: "iofunc",
        }
    }

    fn call(&self) -> Call {
        Call::ResmgrFile {
            path: self.path.into(),
            mode: self.mode,
            uid: self.uid,
            data: self.data.clone(),
            size: self.size,
            readonly: self.readonly,
            fs: mmoracle::types::FileSystem::Disk,
            mandatory_lock: self.mandatory_lock,
            ocb_alloc_fails: self.ocb_alloc_fails,
            mmap: self.mmap.into(),
        }
    }
}

/// A model under `p` whose server has `file`.
fn serving(p: ProfileName, file: &File) -> Model {
    let mut m = model(p);
    assert_ok(&mut m, P1, &file.call(), "RESMGR-FILE-1");
    m
}

fn open_file(m: &mut Model, pid: Pid, oflag: OFlags) -> Fd {
    opened(m, pid, &open(PATH, oflag))
}

fn io_mmap(fd: Fd, prot: Prot) -> Call {
    Call::IoMmap {
        fd,
        prot,
        offset: 0,
        from_procnto: true,
    }
}

fn map(fd: Fd, prot: Prot, flags: MapFlags) -> Call {
    mmap(0, PAGE, prot, flags, fd.0, 0)
}

fn mmap_ocb(m: &Model) -> Option<MmapOcb> {
    m.server().by_path(PATH).unwrap().mmap_ocb
}

fn coid(m: &Model, path: &str) -> i32 {
    m.server().by_path(path).unwrap().coid
}

fn reply(value: Value) -> IoMmapReply {
    let Value::Bytes(bytes) = value else {
        panic!("io_mmap returns the reply's bytes, not {value}")
    };
    assert_eq!(bytes.len(), IoMmapReply::SIZE);
    IoMmapReply::decode(&bytes, Layout::Neutrino64).unwrap()
}

// ---- resmgr_file ----

#[test]
fn resmgr_einval_1_bad_file() {
    let too_long: &'static str = Box::leak(format!("/{}", "f".repeat(1023)).into_boxed_str());
    for p in ALL {
        let mut m = model(p);
        for path in ["relative", "/dev/thing", too_long] {
            let call = File { path, ..File::new() }.call();
            assert_err(&mut m, P1, &call, Errno::EINVAL, "RESMGR-EINVAL-1");
        }
        let huge = File {
            size: m.profile().max_object_offset + 1,
            ..File::new()
        };
        assert_err(&mut m, P1, &huge.call(), Errno::EINVAL, "RESMGR-EINVAL-1");
        let unknown = File {
            mmap: "EWHATEVER",
            ..File::new()
        };
        assert_err(&mut m, P1, &unknown.call(), Errno::EINVAL, "RESMGR-EINVAL-1");
        assert!(m.server().by_path(PATH).is_none());
    }
}

#[test]
fn resmgr_eexist_1_file_exists() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let other = File {
            mode: 0o600,
            ..File::new()
        };
        assert_err(&mut m, P1, &other.call(), Errno::EEXIST, "RESMGR-EEXIST-1");
        assert_eq!(m.server().by_path(PATH).unwrap().mode, 0o644);
    }
}

#[test]
fn resmgr_file_1_the_file_and_its_contents() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        assert_eq!(m.step(P1, &Call::Fstat { fd }).outcome, Outcome::Ok(Value::Size(PAGE)));
        let a = mapped(&mut m, P1, &map(fd, Prot::READ, MapFlags::SHARED));
        assert_eq!(read(&mut m, P1, a, 10), Ok(b"contents\0\0".to_vec()));
        // The size is at least the contents' length.
        let short = File {
            path: "/data/short",
            size: 2,
            ..File::new()
        };
        assert_ok(&mut m, P1, &short.call(), "RESMGR-FILE-1");
        let fd = opened(&mut m, P1, &open("/data/short", OFlags::RDONLY));
        assert_eq!(m.step(P1, &Call::Fstat { fd }).outcome, Outcome::Ok(Value::Size(8)));
    }
}

// ---- opens of a server's files ----

#[test]
fn open_erofs_1_write_open_on_a_read_only_mount() {
    for p in ALL {
        let mut m = serving(
            p,
            &File {
                readonly: true,
                ..File::new()
            },
        );
        for oflag in [OFlags::WRONLY, OFlags::RDWR] {
            assert_err(&mut m, P1, &open(PATH, oflag), Errno::EROFS, "OPEN-EROFS-1");
        }
        assert_ok(&mut m, P1, &open(PATH, OFlags::RDONLY), "OPEN-OK-1");
    }
}

#[test]
fn open_eacces_1_permission_bits() {
    for p in ALL {
        let file = File {
            mode: 0o604,
            uid: 100,
            ..File::new()
        };
        let mut m = serving(p, &file);
        let owner = user(&mut m, 100);
        let other = user(&mut m, 200);
        // The owner's bits (rw-) for the owner, the others' bits (r--) for everyone else.
        assert_ok(&mut m, owner, &open(PATH, OFlags::RDWR), "OPEN-OK-1");
        assert_ok(&mut m, other, &open(PATH, OFlags::RDONLY), "OPEN-OK-1");
        assert_err(&mut m, other, &open(PATH, OFlags::RDWR), Errno::EACCES, "OPEN-EACCES-1");
        assert_err(
            &mut m,
            other,
            &open(PATH, OFlags::WRONLY),
            Errno::EACCES,
            "OPEN-EACCES-1",
        );
        let mut m = serving(
            p,
            &File {
                mode: 0o200,
                uid: 100,
                ..File::new()
            },
        );
        let owner = user(&mut m, 100);
        assert_err(
            &mut m,
            owner,
            &open(PATH, OFlags::RDONLY),
            Errno::EACCES,
            "OPEN-EACCES-1",
        );
        assert_ok(&mut m, owner, &open(PATH, OFlags::WRONLY), "OPEN-OK-1");
        // Root always passes.
        assert_ok(&mut m, P1, &open(PATH, OFlags::RDWR), "OPEN-OK-1");
    }
}

#[test]
fn open_ebusy_1_write_open_while_procnto_maps_the_file() {
    for p in QNX {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let a = mapped(&mut m, P1, &map(fd, RW, MapFlags::SHARED));
        let b = mapped(&mut m, P1, &map(fd, Prot::READ, MapFlags::PRIVATE));
        for oflag in [OFlags::WRONLY, OFlags::RDWR] {
            assert_err(&mut m, P1, &open(PATH, oflag), Errno::EBUSY, "OPEN-EBUSY-1");
        }
        // Reading is still allowed, and another process is refused the same way.
        assert_ok(&mut m, P1, &open(PATH, OFlags::RDONLY), "OPEN-OK-1");
        let p2 = spawn(&mut m, P1);
        assert_err(&mut m, p2, &open(PATH, OFlags::RDWR), Errno::EBUSY, "OPEN-EBUSY-1");
        // Closing the fd does not release it; the last mapping going does.
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_ok(&mut m, P1, &munmap(a), "MUNMAP-OK-1");
        assert_err(&mut m, P1, &open(PATH, OFlags::RDWR), Errno::EBUSY, "OPEN-EBUSY-1");
        assert_ok(&mut m, P1, &munmap(b), "MUNMAP-OK-1");
        assert_eq!(mmap_ocb(&m), None);
        assert_ok(&mut m, P1, &open(PATH, OFlags::RDWR), "OPEN-OK-1");
    }
    // Under linux the kernel maps a server's file as a regular file: no lock.
    let mut m = serving(Linux, &File::new());
    let fd = open_file(&mut m, P1, OFlags::RDWR);
    assert_ok(&mut m, P1, &map(fd, RW, MapFlags::SHARED), "MMAP-OK-1");
    assert_ok(&mut m, P1, &open(PATH, OFlags::RDWR), "OPEN-OK-1");
    // Not even after the server's handler was driven directly.
    assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-1");
    assert_ok(&mut m, P1, &open(PATH, OFlags::WRONLY), "OPEN-OK-1");
}

fn munmap(addr: u64) -> Call {
    Call::Munmap {
        addr: Addr(addr),
        len: Len(PAGE),
    }
}

// ---- io_mmap: the resource-manager library's dispatch, then the handler ----

#[test]
fn iofunc_enosys_2_not_from_procnto() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let from_client = Call::IoMmap {
            fd,
            prot: Prot::READ,
            offset: 0,
            from_procnto: false,
        };
        assert_err(&mut m, P1, &from_client, Errno::ENOSYS, "IOFUNC-ENOSYS-2");
        assert_eq!(mmap_ocb(&m), None);
        // Checked before the OCB is looked up.
        let nobody = Call::IoMmap {
            fd: Fd(9),
            prot: Prot::READ,
            offset: 0,
            from_procnto: false,
        };
        let v = m.evaluate(P1, &nobody);
        assert_eq!(v.rule, "IOFUNC-ENOSYS-2");
        assert_eq!(v.allows(&Outcome::Err(Errno::EBADF), false), Some("IOFUNC-EBADF-1"));
    }
}

#[test]
fn iofunc_ebadf_1_no_such_ocb() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        assert_err(&mut m, P1, &io_mmap(Fd(4), Prot::READ), Errno::EBADF, "IOFUNC-EBADF-1");
        // An fd of something else than the server's files has no OCB there.
        let zero = opened(&mut m, P1, &open("/dev/zero", OFlags::RDWR));
        assert_err(&mut m, P1, &io_mmap(zero, Prot::READ), Errno::EBADF, "IOFUNC-EBADF-1");
    }
}

#[test]
fn iofunc_enosys_1_no_mmap_handler() {
    let file = File {
        mmap: "none",
        ..File::new()
    };
    for p in ALL {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        assert_err(&mut m, P1, &io_mmap(fd, Prot::READ), Errno::ENOSYS, "IOFUNC-ENOSYS-1");
    }
    // procnto passes the ENOSYS to the mmap caller unchanged.
    for p in QNX {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        for flags in [MapFlags::SHARED, MapFlags::PRIVATE] {
            assert_err(
                &mut m,
                P1,
                &map(fd, Prot::READ, flags),
                Errno::ENOSYS,
                "IOFUNC-ENOSYS-1",
            );
        }
        assert_eq!(mmap_ocb(&m), None);
    }
}

#[test]
fn mmap_enodev_1_linux_server_file_without_mmap_support() {
    // Under linux the kernel maps a server's file itself; one whose server
    // has no mmap support has no f_op->mmap: ENODEV, as every unmappable file.
    let file = File {
        mmap: "none",
        ..File::new()
    };
    let mut m = serving(Linux, &file);
    let fd = open_file(&mut m, P1, OFlags::RDWR);
    for flags in [MapFlags::SHARED, MapFlags::PRIVATE] {
        assert_err(&mut m, P1, &map(fd, Prot::READ, flags), Errno::ENODEV, "MMAP-ENODEV-1");
    }
    // The access checks still come first (do_mmap's order).
    let wronly = open_file(&mut m, P1, OFlags::WRONLY);
    assert_err(
        &mut m,
        P1,
        &map(wronly, Prot::READ, MapFlags::SHARED),
        Errno::EACCES,
        "MMAP-EACCES-1",
    );
    // A file with mmap support maps.
    let mut m = serving(Linux, &File::new());
    let fd = open_file(&mut m, P1, OFlags::RDWR);
    assert_ok(&mut m, P1, &map(fd, Prot::READ, MapFlags::SHARED), "MMAP-OK-1");
}

#[test]
fn iofunc_refuse_1_the_servers_own_handler_refuses() {
    for p in ALL {
        let file = File {
            mmap: "EBUSY",
            ..File::new()
        };
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        assert_err(&mut m, P1, &io_mmap(fd, Prot::READ), Errno::EBUSY, "IOFUNC-REFUSE-1");
    }
    for p in QNX {
        let mut m = serving(
            p,
            &File {
                mmap: "EBUSY",
                ..File::new()
            },
        );
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        assert_err(
            &mut m,
            P1,
            &map(fd, RW, MapFlags::SHARED),
            Errno::EBUSY,
            "IOFUNC-REFUSE-1",
        );
        // A handler that answers EACCES is asked again without PROT_WRITE, and
        // its second answer stands.
        let mut m = serving(
            p,
            &File {
                mmap: "EACCES",
                ..File::new()
            },
        );
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let call = map(fd, Prot::READ, MapFlags::SHARED);
        assert_err(&mut m, P1, &call, Errno::EACCES, "IOFUNC-REFUSE-1");
    }
}

#[test]
fn iofunc_erofs_1_prot_write_on_a_read_only_mount() {
    let file = File {
        readonly: true,
        ..File::new()
    };
    for p in ALL {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        assert_err(&mut m, P1, &io_mmap(fd, RW), Errno::EROFS, "IOFUNC-EROFS-1");
        // The read-only mount is checked first: the open mode's EACCES is
        // only an alternative.
        let v = m.evaluate(P1, &io_mmap(fd, RW));
        assert_eq!(v.allows(&Outcome::Err(Errno::EACCES), false), Some("IOFUNC-EACCES-1"));
        assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-1");
    }
    // mmap: a shared writable mapping gets EROFS (there is no retry: the
    // final prot has PROT_WRITE); a shared read-only one succeeds on the retry.
    for p in QNX {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        assert_err(
            &mut m,
            P1,
            &map(fd, RW, MapFlags::SHARED),
            Errno::EROFS,
            "IOFUNC-EROFS-1",
        );
        assert_ok(&mut m, P1, &map(fd, Prot::READ, MapFlags::SHARED), "IOMMAP-RETRY-1");
    }
    // Linux: the fd is read-only (the mount refused a write open), so EACCES.
    let mut m = serving(Linux, &file);
    let fd = open_file(&mut m, P1, OFlags::RDONLY);
    assert_err(
        &mut m,
        P1,
        &map(fd, RW, MapFlags::SHARED),
        Errno::EACCES,
        "MMAP-EACCES-2",
    );
}

#[test]
fn iofunc_eagain_1_mandatory_locks() {
    let file = File {
        mandatory_lock: true,
        ..File::new()
    };
    for p in ALL {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        assert_err(&mut m, P1, &io_mmap(fd, Prot::READ), Errno::EAGAIN, "IOFUNC-EAGAIN-1");
    }
    // The server's EAGAIN reaches the mmap caller unchanged, whatever the flags.
    for p in QNX {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        for flags in [MapFlags::SHARED, MapFlags::PRIVATE] {
            assert_err(
                &mut m,
                P1,
                &map(fd, Prot::READ, flags),
                Errno::EAGAIN,
                "IOFUNC-EAGAIN-1",
            );
        }
    }
}

#[test]
fn iofunc_eacces_1_the_clients_open_mode_lacks_what_prot_needs() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let ro = open_file(&mut m, P1, OFlags::RDONLY);
        let wo = open_file(&mut m, P1, OFlags::WRONLY);
        assert_err(&mut m, P1, &io_mmap(ro, RW), Errno::EACCES, "IOFUNC-EACCES-1");
        // Read access is needed even for PROT_NONE.
        assert_err(&mut m, P1, &io_mmap(wo, Prot::NONE), Errno::EACCES, "IOFUNC-EACCES-1");
        assert_err(&mut m, P1, &io_mmap(wo, Prot::WRITE), Errno::EACCES, "IOFUNC-EACCES-1");
        assert_ok(&mut m, P1, &io_mmap(ro, Prot::READ), "IOFUNC-OK-1");
    }
    for p in QNX {
        let mut m = serving(p, &File::new());
        let ro = open_file(&mut m, P1, OFlags::RDONLY);
        let wo = open_file(&mut m, P1, OFlags::WRONLY);
        // MAP_SHARED|PROT_WRITE on a read-only open: no retry, EACCES.
        assert_err(
            &mut m,
            P1,
            &map(ro, RW, MapFlags::SHARED),
            Errno::EACCES,
            "IOFUNC-EACCES-1",
        );
        // A write-only open fails both requests.
        for flags in [MapFlags::SHARED, MapFlags::PRIVATE] {
            assert_err(
                &mut m,
                P1,
                &map(wo, Prot::READ, flags),
                Errno::EACCES,
                "IOFUNC-EACCES-1",
            );
        }
        assert_eq!(mmap_ocb(&m), None);
    }
}

#[test]
fn iofunc_enomem_1_no_memory_for_the_mmap_ocb() {
    let file = File {
        ocb_alloc_fails: true,
        ..File::new()
    };
    for p in ALL {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        assert_err(&mut m, P1, &io_mmap(fd, Prot::READ), Errno::ENOMEM, "IOFUNC-ENOMEM-1");
        // The client's own failing access check comes first.
        let wo = open_file(&mut m, P1, OFlags::WRONLY);
        assert_err(&mut m, P1, &io_mmap(wo, Prot::READ), Errno::EACCES, "IOFUNC-EACCES-1");
    }
    for p in QNX {
        let mut m = serving(p, &file);
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let call = map(fd, Prot::READ, MapFlags::SHARED);
        assert_err(&mut m, P1, &call, Errno::ENOMEM, "IOFUNC-ENOMEM-1");
        assert_eq!(m.process(P1).unwrap().space.region_count(), 0);
    }
}

#[test]
fn iofunc_ok_1_a_new_mmap_ocb_and_the_24_byte_reply() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let other = File {
            path: "/data/other",
            ..File::new()
        };
        assert_ok(&mut m, P1, &other.call(), "RESMGR-FILE-1");
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        let r = reply(assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-1"));
        assert_eq!(r, IoMmapReply::new(Layout::Neutrino64, coid(&m, PATH)));
        assert_eq!((r.zero, r.flags, r.offset, r.fd), (0, 0, 0, 0));
        // Each file has a connection of its own.
        assert_ne!(coid(&m, PATH), coid(&m, "/data/other"));
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: false }));
        assert_eq!(m.server().by_path(PATH).unwrap().wlocks(), 1);
        // The offset is not checked.
        let far = Call::IoMmap {
            fd,
            prot: Prot::READ,
            offset: u64::MAX,
            from_procnto: true,
        };
        assert_ok(&mut m, P1, &far, "IOFUNC-OK-2");
    }
    // The OCB holds SH_DENYWR where procnto asks the server.
    for p in QNX {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-1");
        assert_err(&mut m, P1, &open(PATH, OFlags::RDWR), Errno::EBUSY, "OPEN-EBUSY-1");
    }
}

#[test]
fn iofunc_ok_2_procntos_mmap_ocb_reused_and_upgraded() {
    for p in ALL {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let first = reply(assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-1"));
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: false }));
        let second = reply(assert_ok(&mut m, P1, &io_mmap(fd, RW), "IOFUNC-OK-2"));
        assert_eq!(first.coid, second.coid);
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: true }));
        // Write access, once granted, stays.
        assert_ok(&mut m, P1, &io_mmap(fd, Prot::READ), "IOFUNC-OK-2");
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: true }));
    }
}

// ---- mmap of a server's file: procnto's _IO_MMAP exchange ----

#[test]
fn iommap_write_1_a_writable_handle_and_one_object_per_file() {
    for p in QNX {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        // The first request adds PROT_WRITE and the read-write open allows it,
        // so even a read-only shared mapping can be made writable later.
        let a = mapped(&mut m, P1, &map(fd, Prot::READ, MapFlags::SHARED));
        assert_eq!(
            m.evaluate(P1, &map(fd, Prot::READ, MapFlags::SHARED)).rule,
            "IOMMAP-WRITE-1"
        );
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: true }));
        let up = Call::Mprotect {
            addr: Addr(a),
            len: Len(PAGE),
            prot: RW,
        };
        assert_ok(&mut m, P1, &up, "MPROT-OK-1");
        assert_ok(&mut m, P1, &store(a, b"CHANGED"), "ACCESS-SHARED-1");
        // Another process's mapping of the file shows the store: one object.
        let p2 = spawn(&mut m, P1);
        let fd2 = open_file(&mut m, p2, OFlags::RDONLY);
        let b = mapped(&mut m, p2, &map(fd2, Prot::READ, MapFlags::SHARED));
        assert_eq!(read(&mut m, p2, b, 8), Ok(b"CHANGEDs".to_vec()));
        let region = |m: &Model, pid, addr| m.process(pid).unwrap().space.region_at(Addr(addr)).unwrap().backing;
        assert_eq!(region(&m, P1, a), region(&m, p2, b));
        // A store through p2's private writable mapping stays private.
        let c = mapped(&mut m, p2, &map(fd2, RW, MapFlags::PRIVATE));
        assert_ok(&mut m, p2, &store(c, b"mine"), "ACCESS-COW-1");
        assert_eq!(read(&mut m, P1, a, 7), Ok(b"CHANGED".to_vec()));
    }
}

#[test]
fn iommap_retry_1_mapped_after_the_retry_without_prot_write() {
    for p in QNX {
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDONLY);
        // Shared: the retry grants a read-only handle, for good.
        let shared = map(fd, Prot::READ, MapFlags::SHARED);
        let a = match assert_ok(&mut m, P1, &shared, "IOMMAP-RETRY-1") {
            Value::Addr(a) => a.0,
            other => panic!("{other}"),
        };
        assert_eq!(mmap_ocb(&m), Some(MmapOcb { write: false }));
        let up = Call::Mprotect {
            addr: Addr(a),
            len: Len(PAGE),
            prot: RW,
        };
        assert_err(&mut m, P1, &up, Errno::EACCES, "MPROT-EACCES-1");
        assert_eq!(m.step(P1, &store(a, b"x")).outcome, Outcome::Fault(Signal::SIGSEGV));
        // Private and writable: PROT_WRITE is stripped for the retry, and the
        // mapping is copy-on-write.
        let private = map(fd, RW, MapFlags::PRIVATE);
        let b = match assert_ok(&mut m, P1, &private, "IOMMAP-RETRY-1") {
            Value::Addr(b) => b.0,
            other => panic!("{other}"),
        };
        assert_ok(&mut m, P1, &store(b, b"PRIVATE!"), "ACCESS-COW-1");
        assert_eq!(read(&mut m, P1, b, 8), Ok(b"PRIVATE!".to_vec()));
        assert_eq!(read(&mut m, P1, a, 8), Ok(b"contents".to_vec()));
        // The file itself is unchanged for a new reader.
        let p2 = spawn(&mut m, P1);
        let fd2 = open_file(&mut m, p2, OFlags::RDONLY);
        let c = mapped(&mut m, p2, &map(fd2, Prot::READ, MapFlags::SHARED));
        assert_eq!(read(&mut m, p2, c, 8), Ok(b"contents".to_vec()));
    }
    // Linux maps the file without asking a server.
    let mut m = serving(Linux, &File::new());
    let fd = open_file(&mut m, P1, OFlags::RDONLY);
    assert_ok(&mut m, P1, &map(fd, RW, MapFlags::PRIVATE), "MMAP-OK-1");
}

#[test]
fn procntos_own_checks_come_before_the_exchange() {
    for p in QNX {
        let mut m = serving(
            p,
            &File {
                mmap: "none",
                ..File::new()
            },
        );
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        // A zero length is refused before procnto talks to the server; the
        // server's answer is still an allowed outcome.
        let zero = mmap(0, 0, Prot::READ, MapFlags::SHARED, fd.0, 0);
        let v = m.evaluate(P1, &zero);
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EINVAL), "MMAP-EINVAL-2")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::ENOSYS), false), Some("IOFUNC-ENOSYS-1"));
        // A mapping past the object's end succeeds and faults on access.
        let mut m = serving(p, &File::new());
        let fd = open_file(&mut m, P1, OFlags::RDWR);
        let two = mapped(&mut m, P1, &mmap(0, 2 * PAGE, Prot::READ, MapFlags::SHARED, fd.0, 0));
        assert_eq!(m.step(P1, &load(two + PAGE, 1)).outcome, Outcome::Fault(Signal::SIGBUS));
    }
}
