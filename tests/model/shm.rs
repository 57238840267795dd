//! shm_open, shm_unlink, open, ftruncate and close (spec/shared-memory.md).

use crate::util::*;
use mmoracle::model::object::ObjKind;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};

const NEUTRINO: ProfileName = ProfileName::Neutrino;
const QNX4: ProfileName = ProfileName::Qnx4;
const LINUX: ProfileName = ProfileName::Linux;

/// Read-write, for the mappings these tests make.
pub(crate) const RW: Prot = Prot::READ.union(Prot::WRITE);

pub(crate) fn shm_open(name: &str, oflag: OFlags, mode: u32) -> Call {
    Call::ShmOpen {
        name: name.into(),
        oflag,
        mode,
    }
}

/// shm_open(name, O_RDWR|O_CREAT, 0666).
pub(crate) fn create(name: &str) -> Call {
    shm_open(name, OFlags::RDWR | OFlags::CREAT, 0o666)
}

pub(crate) fn shm_unlink(name: &str) -> Call {
    Call::ShmUnlink { name: name.into() }
}

pub(crate) fn open(path: &str, oflag: OFlags) -> Call {
    Call::Open {
        path: path.into(),
        oflag,
    }
}

pub(crate) fn ftruncate(fd: Fd, len: i64) -> Call {
    Call::Ftruncate { fd, len }
}

pub(crate) fn close(fd: Fd) -> Call {
    Call::Close { fd }
}

pub(crate) fn load(addr: u64, len: u64) -> Call {
    Call::Load {
        addr: Addr(addr),
        len: Len(len),
    }
}

pub(crate) fn store(addr: u64, data: &[u8]) -> Call {
    Call::Store {
        addr: Addr(addr),
        data: data.to_vec(),
    }
}

pub(crate) fn spawn(m: &mut Model, parent: Pid) -> Pid {
    match m.step(parent, &Call::Spawn {}).outcome {
        Outcome::Ok(Value::Pid(pid)) => pid,
        other => panic!("spawn failed: {other}"),
    }
}

pub(crate) fn cred(euid: u32, cap_ipc_lock: bool) -> Call {
    Call::Cred {
        euid,
        cap_ipc_lock,
        egid: None,
        groups: None,
    }
}

/// A process spawned by P1 that has dropped to `euid` (no locking privilege).
pub(crate) fn user(m: &mut Model, euid: u32) -> Pid {
    let pid = spawn(m, P1);
    assert_ok(m, pid, &cred(euid, false), "PROC-CRED-1");
    pid
}

/// `len` bytes of the object behind `fd`, shared, anywhere.
pub(crate) fn map_shared(m: &mut Model, pid: Pid, fd: Fd, len: u64, prot: Prot) -> u64 {
    mapped(m, pid, &mmap(0, len, prot, MapFlags::SHARED, fd.0, 0))
}

/// Creates `name`, sizes it to `size` and returns the fd.
pub(crate) fn sized(m: &mut Model, pid: Pid, name: &str, size: i64) -> Fd {
    let fd = opened(m, pid, &create(name));
    assert_ok(m, pid, &ftruncate(fd, size), "TRUNC-OK-1");
    fd
}

/// The bytes a load returns, or the fault it gets.
pub(crate) fn read(m: &mut Model, pid: Pid, addr: u64, len: u64) -> Result<Vec<u8>, Signal> {
    match m.step(pid, &load(addr, len)).outcome {
        Outcome::Ok(Value::Bytes(b)) => Ok(b),
        Outcome::Fault(s) => Err(s),
        other => panic!("load: {other}"),
    }
}

/// The size of the linked object at `path`.
fn size_of(m: &Model, path: &str) -> u64 {
    m.objects()
        .iter()
        .find(|(_, o)| matches!(&o.kind, ObjKind::Shm { name: Some(n), .. } if n == path))
        .map(|(_, o)| o.size)
        .unwrap_or_else(|| panic!("no object at {path}"))
}

/// Fills the fd table up to a NOFILE soft limit of 1.
fn fill_fd_table(m: &mut Model) {
    let hard = m.profile().initial_limits[Resource::RLIMIT_NOFILE.index()].max;
    setrlimit(m, Resource::RLIMIT_NOFILE, 1, hard);
    opened(m, P1, &open("/dev/zero", OFlags::RDWR));
}

#[test]
fn shm_einval_1_glibc_refuses_the_name() {
    let mut m = model(LINUX);
    let long = format!("/{}", "n".repeat(260));
    for bad in ["/a/b", "", "/", "///", long.as_str()] {
        assert_err(&mut m, P1, &create(bad), Errno::EINVAL, "SHM-EINVAL-1");
        // SHM-ENOENT-4: glibc's shm_unlink says ENOENT for what it refuses.
        assert_err(&mut m, P1, &shm_unlink(bad), Errno::ENOENT, "SHM-ENOENT-4");
    }
    // NAME_MAX (255) bytes is a valid name; 256 to 259 reach the kernel, which refuses them.
    let longest = format!("/{}", "n".repeat(255));
    assert_ok(&mut m, P1, &create(&longest), "SHM-OPEN-1");
    for n in [256, 259] {
        let over = format!("/{}", "n".repeat(n));
        assert_err(&mut m, P1, &create(&over), Errno::ENAMETOOLONG, "SHM-ENAMETOOLONG-1");
        assert_err(
            &mut m,
            P1,
            &shm_unlink(&over),
            Errno::ENAMETOOLONG,
            "SHM-ENAMETOOLONG-1",
        );
    }
    // Leading slashes are optional: all three name /dev/shm/buf.
    let fd = sized(&mut m, P1, "/buf", 4096);
    let a = map_shared(&mut m, P1, fd, 4096, RW);
    assert_ok(&mut m, P1, &store(a, b"x"), "ACCESS-SHARED-1");
    for same in ["buf", "//buf"] {
        let fd2 = opened(&mut m, P1, &shm_open(same, OFlags::RDONLY, 0));
        let b = map_shared(&mut m, P1, fd2, 4096, Prot::READ);
        assert_eq!(read(&mut m, P1, b, 1), Ok(b"x".to_vec()), "{same}");
    }
}

#[test]
fn shm_enametoolong_1_path_too_long() {
    for p in [NEUTRINO, QNX4] {
        let mut m = model(p);
        // "/dev/shmem/" (11 bytes) + 1012 = 1023 fits; one more does not.
        let fits = format!("/{}", "n".repeat(1012));
        let over = format!("/{}", "n".repeat(1013));
        assert_ok(&mut m, P1, &create(&fits), "SHM-OPEN-1");
        assert_err(&mut m, P1, &create(&over), Errno::ENAMETOOLONG, "SHM-ENAMETOOLONG-1");
        assert_err(
            &mut m,
            P1,
            &shm_unlink(&over),
            Errno::ENAMETOOLONG,
            "SHM-ENAMETOOLONG-1",
        );
    }
    // glibc refuses long names earlier, with EINVAL.
    let mut m = model(LINUX);
    let over = format!("/{}", "n".repeat(1013));
    assert_err(&mut m, P1, &create(&over), Errno::EINVAL, "SHM-EINVAL-1");
}

#[test]
fn shm_enoent_3_path_in_a_directory_the_model_lacks() {
    let mut m = model(NEUTRINO);
    for bad in ["/a/b", "a/b", "", "/"] {
        assert_err(&mut m, P1, &create(bad), Errno::ENOENT, "SHM-ENOENT-3");
        assert_err(&mut m, P1, &shm_unlink(bad), Errno::ENOENT, "SHM-ENOENT-3");
    }
    let mut m = model(QNX4);
    for bad in ["a/b", "/a/b", "", "/"] {
        assert_err(&mut m, P1, &create(bad), Errno::ENOENT, "SHM-ENOENT-3");
    }
}

#[test]
fn neutrino_names_only_slash_x_in_dev_shmem() {
    let mut m = model(NEUTRINO);
    let fd = sized(&mut m, P1, "/buf", 4096);
    assert_eq!(size_of(&m, "/dev/shmem/buf"), 4096);
    // The full path is an ordinary path that reaches the same object.
    let fd2 = opened(&mut m, P1, &shm_open("/dev/shmem/buf", OFlags::RDWR, 0));
    assert_ok(&mut m, P1, &ftruncate(fd2, 8192), "TRUNC-OK-1");
    assert_eq!(size_of(&m, "/dev/shmem/buf"), 8192);
    // A plain name is a file in the working directory, another object.
    assert_err(
        &mut m,
        P1,
        &shm_open("buf", OFlags::RDWR, 0),
        Errno::ENOENT,
        "SHM-ENOENT-1",
    );
    let cwd = sized(&mut m, P1, "buf", 100);
    assert_eq!(size_of(&m, "buf"), 100);
    assert_eq!(size_of(&m, "/dev/shmem/buf"), 8192);
    // The Gamma example names no /dev/shmem object on Neutrino.
    assert_err(
        &mut m,
        P1,
        &shm_open("Physical", OFlags::RDONLY, 0o777),
        Errno::ENOENT,
        "SHM-ENOENT-1",
    );
    for f in [fd, fd2, cwd] {
        assert_ok(&mut m, P1, &close(f), "CLOSE-OK-1");
    }
    m.check_invariants().unwrap();
}

#[test]
fn qnx4_names_are_flat_with_an_optional_slash() {
    let mut m = model(QNX4);
    sized(&mut m, P1, "buf", 4096);
    assert_eq!(size_of(&m, "/dev/shmem/buf"), 4096);
    let v = assert_ok(&mut m, P1, &shm_open("/buf", OFlags::RDONLY, 0), "SHM-OPEN-1");
    assert_eq!(v, Value::Fd(Fd(1)));
    assert_ok(&mut m, P1, &shm_unlink("/buf"), "SHM-UNLINK-1");
}

#[test]
fn shm_eexist_1_exclusive_create() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let excl = shm_open("/buf", OFlags::RDWR | OFlags::CREAT | OFlags::EXCL, 0o600);
        assert_ok(&mut m, P1, &excl, "SHM-OPEN-1");
        assert_err(&mut m, P1, &excl, Errno::EEXIST, "SHM-EEXIST-1");
        // Without O_EXCL the existing object opens.
        assert_ok(&mut m, P1, &create("/buf"), "SHM-OPEN-1");
    }
    let mut m = model(QNX4);
    let excl = shm_open("Physical", OFlags::RDONLY | OFlags::CREAT | OFlags::EXCL, 0o600);
    assert_err(&mut m, P1, &excl, Errno::EEXIST, "SHM-EEXIST-1");
}

#[test]
fn shm_eacces_1_mode_refuses_the_access() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        opened(&mut m, P1, &shm_open("/private", OFlags::RDWR | OFlags::CREAT, 0o600));
        opened(&mut m, P1, &shm_open("/public", OFlags::RDWR | OFlags::CREAT, 0o644));
        let u = user(&mut m, 1000);
        let ro = shm_open("/private", OFlags::RDONLY, 0);
        assert_err(&mut m, u, &ro, Errno::EACCES, "SHM-EACCES-1");
        assert_ok(&mut m, u, &shm_open("/public", OFlags::RDONLY, 0), "SHM-OPEN-1");
        let rw = shm_open("/public", OFlags::RDWR, 0);
        assert_err(&mut m, u, &rw, Errno::EACCES, "SHM-EACCES-1");
        // The owner is judged by the owner bits: read-only even for its creator.
        opened(&mut m, u, &shm_open("/mine", OFlags::RDONLY | OFlags::CREAT, 0o400));
        assert_err(
            &mut m,
            u,
            &shm_open("/mine", OFlags::RDWR, 0),
            Errno::EACCES,
            "SHM-EACCES-1",
        );
        // Root passes whatever the bits say.
        assert_ok(&mut m, P1, &shm_open("/mine", OFlags::RDWR, 0), "SHM-OPEN-1");
        // O_EXCL on an existing object is EEXIST first; EACCES is also allowed.
        let excl = shm_open("/private", OFlags::RDONLY | OFlags::CREAT | OFlags::EXCL, 0);
        let v = m.evaluate(u, &excl);
        assert_eq!(
            (v.outcome.clone(), v.rule),
            (Outcome::Err(Errno::EEXIST), "SHM-EEXIST-1")
        );
        assert_eq!(v.allows(&Outcome::Err(Errno::EACCES), false), Some("SHM-EACCES-1"));
    }
}

#[test]
fn shm_eacces_1_o_trunc_needs_write_only_on_linux() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = opened(&mut m, P1, &shm_open("/public", OFlags::RDWR | OFlags::CREAT, 0o644));
        assert_ok(&mut m, P1, &ftruncate(fd, 4096), "TRUNC-OK-1");
        let u = user(&mut m, 1000);
        let trunc = shm_open("/public", OFlags::RDONLY | OFlags::TRUNC, 0);
        if p == LINUX {
            assert_err(&mut m, u, &trunc, Errno::EACCES, "SHM-EACCES-1");
            assert_eq!(size_of(&m, "/dev/shm/public"), 4096);
        } else {
            // procnto does not check, and truncates through a read-only open.
            assert_ok(&mut m, u, &trunc, "SHM-OPEN-1");
            assert_eq!(size_of(&m, "/dev/shmem/public"), 0);
        }
    }
}

#[test]
fn shm_enoent_1_missing_without_o_creat() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(
            &mut m,
            P1,
            &shm_open("/nothing", OFlags::RDWR, 0),
            Errno::ENOENT,
            "SHM-ENOENT-1",
        );
        assert_eq!(m.objects().iter().count(), 1, "only physical memory");
    }
}

#[test]
fn shm_emfile_1_fd_table_full() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        fill_fd_table(&mut m);
        assert_err(&mut m, P1, &create("/buf"), Errno::EMFILE, "SHM-EMFILE-1");
        // A missing name: procnto looks it up before making the fd, Linux after.
        let missing = shm_open("/nothing", OFlags::RDWR, 0);
        if p == LINUX {
            assert_err(&mut m, P1, &missing, Errno::EMFILE, "SHM-EMFILE-1");
        } else {
            assert_err(&mut m, P1, &missing, Errno::ENOENT, "SHM-ENOENT-1");
        }
        assert!(m
            .evaluate(P1, &missing)
            .allows(&Outcome::Err(Errno::ENOENT), false)
            .is_some());
        assert!(m
            .evaluate(P1, &missing)
            .allows(&Outcome::Err(Errno::EMFILE), false)
            .is_some());
    }
}

#[test]
fn shm_open_1_creates_an_empty_object_owned_by_the_caller() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let u = user(&mut m, 1000);
        let v = assert_ok(
            &mut m,
            u,
            &shm_open("/buf", OFlags::RDWR | OFlags::CREAT, 0o7640),
            "SHM-OPEN-1",
        );
        assert_eq!(v, Value::Fd(Fd(0)));
        let (_, obj) = m
            .objects()
            .iter()
            .find(|(_, o)| matches!(o.kind, ObjKind::Shm { .. }))
            .unwrap();
        assert_eq!(obj.size, 0);
        assert!(
            matches!(
                obj.kind,
                ObjKind::Shm {
                    uid: 1000,
                    mode: 0o640,
                    ..
                }
            ),
            "{:?}",
            obj.kind
        );
        // Size 0: a mapping succeeds, and its first access is past the end.
        let a = map_shared(&mut m, u, Fd(0), 4096, RW);
        assert_eq!(read(&mut m, u, a, 1), Err(Signal::SIGBUS));
        // The next open gets the next fd.
        let v = assert_ok(&mut m, u, &shm_open("/buf", OFlags::RDONLY, 0), "SHM-OPEN-1");
        assert_eq!(v, Value::Fd(Fd(1)));
    }
}

#[test]
fn shm_physical_1_qnx4_physical_is_physical_memory() {
    let mut m = model(QNX4);
    let gamma = shm_open("Physical", OFlags::RDONLY, 0o777);
    let v = assert_ok(&mut m, P1, &gamma, "SHM-PHYSICAL-1");
    let Value::Fd(fd) = v else { panic!("{v}") };
    assert_ok(&mut m, P1, &shm_open("/Physical", OFlags::RDONLY, 0), "SHM-PHYSICAL-1");
    // The Gamma example: the first 1000 bytes of VGA memory.
    let buf = mapped(&mut m, P1, &mmap(0, 1000, Prot::READ, MapFlags::SHARED, fd.0, 0xA0000));
    assert_eq!(read(&mut m, P1, buf, 1000), Ok(vec![0; 1000]));
    // The rest of the page is mapped too.
    assert_eq!(read(&mut m, P1, buf + 4095, 1), Ok(vec![0]));
    // Physical memory cannot be resized, truncated or unlinked.
    assert_err(&mut m, P1, &ftruncate(fd, 0), Errno::EINVAL, "TRUNC-EINVAL-3");
    assert_err(&mut m, P1, &shm_unlink("Physical"), Errno::ENOENT, "SHM-ENOENT-2");
    m.check_invariants().unwrap();
}

#[test]
fn shm_physical_1_is_shared_with_dev_mem() {
    // On qnx4, Physical and /dev/mem are the same memory.
    let mut m = model(QNX4);
    let phys = opened(&mut m, P1, &shm_open("Physical", OFlags::RDWR, 0));
    let mem = opened(&mut m, P1, &open("/dev/mem", OFlags::RDWR));
    let a = mapped(&mut m, P1, &mmap(0, 4096, RW, MapFlags::SHARED, phys.0, 0xB8000));
    let b = mapped(&mut m, P1, &mmap(0, 4096, Prot::READ, MapFlags::SHARED, mem.0, 0xB8000));
    assert_ok(&mut m, P1, &store(a + 2, b"hi"), "ACCESS-SHARED-1");
    assert_eq!(read(&mut m, P1, b + 2, 2), Ok(b"hi".to_vec()));
}

#[test]
fn shm_enoent_2_unlink_of_a_missing_name() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &shm_unlink("/nothing"), Errno::ENOENT, "SHM-ENOENT-2");
        opened(&mut m, P1, &create("/buf"));
        assert_ok(&mut m, P1, &shm_unlink("/buf"), "SHM-UNLINK-1");
        assert_err(&mut m, P1, &shm_unlink("/buf"), Errno::ENOENT, "SHM-ENOENT-2");
    }
}

#[test]
fn shm_eperm_1_unlink_by_a_non_owner() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        opened(&mut m, P1, &create("/buf"));
        let u = user(&mut m, 1000);
        let (errno, other) = if p == LINUX {
            (Errno::EACCES, Errno::EPERM)
        } else {
            (Errno::EPERM, Errno::EACCES)
        };
        let v = m.evaluate(u, &shm_unlink("/buf"));
        assert_eq!(v.allows(&Outcome::Err(other), false), Some("SHM-EPERM-1"), "{p}");
        assert_eq!(v.allows(&Outcome::Err(other), true), None, "{p}");
        assert_err(&mut m, u, &shm_unlink("/buf"), errno, "SHM-EPERM-1");
        // The name is still there; the owner (or root) may remove it.
        assert_ok(&mut m, u, &shm_open("/buf", OFlags::RDONLY, 0), "SHM-OPEN-1");
        let own = opened(&mut m, u, &create("/own"));
        assert_ok(&mut m, u, &close(own), "CLOSE-OK-1");
        assert_ok(&mut m, u, &shm_unlink("/own"), "SHM-UNLINK-1");
        assert_ok(&mut m, P1, &shm_unlink("/buf"), "SHM-UNLINK-1");
    }
}

#[test]
fn shm_unlink_1_mappings_survive_close_and_unlink() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let objects_before = m.objects().iter().count();
        let fd = sized(&mut m, P1, "/buf", 8192);
        let a = map_shared(&mut m, P1, fd, 8192, RW);
        assert_ok(&mut m, P1, &store(a + 4096, b"kept"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_ok(&mut m, P1, &shm_unlink("/buf"), "SHM-UNLINK-1");
        // The name is gone, the object is not.
        assert_err(
            &mut m,
            P1,
            &shm_open("/buf", OFlags::RDWR, 0),
            Errno::ENOENT,
            "SHM-ENOENT-1",
        );
        assert_eq!(m.objects().iter().count(), objects_before + 1);
        assert_eq!(read(&mut m, P1, a + 4096, 4), Ok(b"kept".to_vec()));
        assert_ok(&mut m, P1, &store(a, b"more"), "ACCESS-SHARED-1");
        // A new object under the old name is a different object.
        let fd2 = sized(&mut m, P1, "/buf", 8192);
        let b = map_shared(&mut m, P1, fd2, 8192, RW);
        assert_eq!(read(&mut m, P1, b + 4096, 4), Ok(vec![0; 4]));
        assert_eq!(read(&mut m, P1, a + 4096, 4), Ok(b"kept".to_vec()));
        // Unmapping the last mapping frees the unlinked object.
        assert_eq!(m.objects().iter().count(), objects_before + 2);
        m.step(
            P1,
            &Call::Munmap {
                addr: Addr(a),
                len: Len(8192),
            },
        );
        assert_eq!(m.objects().iter().count(), objects_before + 1);
        m.check_invariants().unwrap();
    }
}

#[test]
fn open_enoent_1_unknown_device() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(
            &mut m,
            P1,
            &open("/dev/bogus", OFlags::RDWR),
            Errno::ENOENT,
            "OPEN-ENOENT-1",
        );
    }
    // Linux here is built without /dev/mem.
    let mut m = model(LINUX);
    assert_err(
        &mut m,
        P1,
        &open("/dev/mem", OFlags::RDWR),
        Errno::ENOENT,
        "OPEN-ENOENT-1",
    );
}

#[test]
fn open_eexist_1_exclusive_create_of_a_device() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let excl = open("/dev/zero", OFlags::RDWR | OFlags::CREAT | OFlags::EXCL);
        assert_err(&mut m, P1, &excl, Errno::EEXIST, "OPEN-EEXIST-1");
        assert_ok(
            &mut m,
            P1,
            &open("/dev/zero", OFlags::RDWR | OFlags::CREAT),
            "OPEN-OK-1",
        );
    }
}

#[test]
fn open_eperm_1_dev_mem_needs_root() {
    for p in [NEUTRINO, QNX4] {
        let mut m = model(p);
        let u = user(&mut m, 1000);
        assert_err(
            &mut m,
            u,
            &open("/dev/mem", OFlags::RDONLY),
            Errno::EPERM,
            "OPEN-EPERM-1",
        );
        assert_ok(&mut m, P1, &open("/dev/mem", OFlags::RDONLY), "OPEN-OK-1");
    }
}

#[test]
fn open_emfile_1_fd_table_full() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        fill_fd_table(&mut m);
        assert_err(
            &mut m,
            P1,
            &open("/dev/null", OFlags::RDONLY),
            Errno::EMFILE,
            "OPEN-EMFILE-1",
        );
        let bogus = open("/dev/bogus", OFlags::RDONLY);
        if p == LINUX {
            assert_err(&mut m, P1, &bogus, Errno::EMFILE, "OPEN-EMFILE-1");
        } else {
            assert_err(&mut m, P1, &bogus, Errno::ENOENT, "OPEN-ENOENT-1");
        }
        // Closing frees the fd again.
        assert_ok(&mut m, P1, &close(Fd(0)), "CLOSE-OK-1");
        assert_eq!(
            assert_ok(&mut m, P1, &open("/dev/null", OFlags::RDONLY), "OPEN-OK-1"),
            Value::Fd(Fd(0))
        );
    }
}

#[test]
fn open_ok_1_devices_and_what_mapping_them_gives() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let zero = opened(&mut m, P1, &open("/dev/zero", OFlags::RDWR));
        let null = opened(&mut m, P1, &open("/dev/null", OFlags::RDWR));
        assert_eq!((zero, null), (Fd(0), Fd(1)));
        // /dev/zero shared is anonymous shared memory, zero-filled.
        let a = map_shared(&mut m, P1, zero, 4096, RW);
        assert_eq!(read(&mut m, P1, a, 8), Ok(vec![0; 8]));
        assert_ok(&mut m, P1, &store(a, b"z"), "ACCESS-SHARED-1");
        // /dev/null cannot be mapped: ENOTSUP on procnto, ENODEV on Linux.
        let v = m.step(P1, &mmap(0, 4096, Prot::READ, MapFlags::SHARED, null.0, 0));
        assert_eq!(v.outcome, Outcome::Err(m.profile().unmappable_fd), "{p}");
        m.check_invariants().unwrap();
    }
}

#[test]
fn trunc_einval_1_negative_length_before_the_fd() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &ftruncate(Fd(7), -1), Errno::EINVAL, "TRUNC-EINVAL-1");
        let fd = opened(&mut m, P1, &create("/buf"));
        assert_err(&mut m, P1, &ftruncate(fd, i64::MIN), Errno::EINVAL, "TRUNC-EINVAL-1");
    }
}

#[test]
fn trunc_ebadf_1_fd_not_open() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &ftruncate(Fd(0), 4096), Errno::EBADF, "TRUNC-EBADF-1");
        let fd = opened(&mut m, P1, &create("/buf"));
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_err(&mut m, P1, &ftruncate(fd, 4096), Errno::EBADF, "TRUNC-EBADF-1");
    }
}

#[test]
fn trunc_einval_3_fd_is_not_an_object() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        for dev in ["/dev/zero", "/dev/null"] {
            let fd = opened(&mut m, P1, &open(dev, OFlags::RDWR));
            assert_err(&mut m, P1, &ftruncate(fd, 4096), Errno::EINVAL, "TRUNC-EINVAL-3");
        }
    }
    let mut m = model(NEUTRINO);
    let mem = opened(&mut m, P1, &open("/dev/mem", OFlags::RDWR));
    assert_err(&mut m, P1, &ftruncate(mem, 4096), Errno::EINVAL, "TRUNC-EINVAL-3");
}

#[test]
fn trunc_enomem_1_objects_stay_below_4_gib_on_qnx() {
    for p in [NEUTRINO, QNX4] {
        let mut m = model(p);
        let fd = opened(&mut m, P1, &create("/big"));
        assert_err(&mut m, P1, &ftruncate(fd, 1 << 32), Errno::ENOMEM, "TRUNC-ENOMEM-1");
        assert_ok(&mut m, P1, &ftruncate(fd, (1 << 32) - 1), "TRUNC-OK-1");
        assert_eq!(size_of(&m, "/dev/shmem/big"), (1 << 32) - 1);
        // A read-only fd: the size check comes first.
        let ro = opened(&mut m, P1, &shm_open("/big", OFlags::RDONLY, 0));
        assert_err(&mut m, P1, &ftruncate(ro, 1 << 32), Errno::ENOMEM, "TRUNC-ENOMEM-1");
    }
    // Linux objects may be far larger, and cost nothing until touched.
    let mut m = model(LINUX);
    let fd = opened(&mut m, P1, &create("/big"));
    assert_ok(&mut m, P1, &ftruncate(fd, 1 << 40), "TRUNC-OK-1");
    assert_eq!(m.committed(), 0);
}

#[test]
fn trunc_einval_2_fd_not_open_for_writing() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        opened(&mut m, P1, &create("/buf"));
        let ro = opened(&mut m, P1, &shm_open("/buf", OFlags::RDONLY, 0));
        assert_err(&mut m, P1, &ftruncate(ro, 4096), Errno::EINVAL, "TRUNC-EINVAL-2");
        assert_eq!(
            size_of(&m, if p == LINUX { "/dev/shm/buf" } else { "/dev/shmem/buf" }),
            0
        );
    }
}

#[test]
fn trunc_enomem_2_growth_is_charged_at_once_on_qnx() {
    for p in [NEUTRINO, QNX4] {
        let mut m = model(p);
        let ram = m.profile().ram_bytes;
        let chunk = (1i64 << 32) - 1; // rounds up to 4 GiB
        let count = ram / (1 << 32);
        let fds: Vec<Fd> = (0..count)
            .map(|i| sized(&mut m, P1, &format!("/o{i}"), chunk))
            .collect();
        assert_eq!(m.committed(), ram, "exactly all of RAM is allowed");
        let last = opened(&mut m, P1, &create("/last"));
        assert_err(&mut m, P1, &ftruncate(last, 1), Errno::ENOMEM, "TRUNC-ENOMEM-2");
        // Shrinking one object gives its memory back.
        assert_ok(&mut m, P1, &ftruncate(fds[0], 4096), "TRUNC-OK-1");
        assert_eq!(m.committed(), ram - (1 << 32) + 4096);
        assert_ok(&mut m, P1, &ftruncate(last, 4096), "TRUNC-OK-1");
        // Unlinking and closing frees the rest.
        for (i, fd) in fds.iter().enumerate() {
            assert_ok(&mut m, P1, &close(*fd), "CLOSE-OK-1");
            assert_ok(&mut m, P1, &shm_unlink(&format!("/o{i}")), "SHM-UNLINK-1");
        }
        assert_eq!(m.committed(), 4096);
        m.check_invariants().unwrap();
    }
    // Linux charges nothing for object growth.
    let mut m = model(LINUX);
    for i in 0..8 {
        sized(&mut m, P1, &format!("/o{i}"), 1 << 34);
    }
    assert_eq!(m.committed(), 0);
}

#[test]
fn trunc_ok_1_sets_the_exact_size_and_shrinking_means_sigbus() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/buf", 3 * 4096);
        let shared = map_shared(&mut m, P1, fd, 3 * 4096, RW);
        let private = mapped(&mut m, P1, &mmap(0, 3 * 4096, RW, MapFlags::PRIVATE, fd.0, 0));
        assert_ok(&mut m, P1, &store(shared + 4096, b"shared"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &store(private + 2 * 4096, b"copy"), "ACCESS-COW-1");
        // Shrink to 100 bytes: page 0 stays whole, pages 1 and 2 are gone everywhere.
        assert_ok(&mut m, P1, &ftruncate(fd, 100), "TRUNC-OK-1");
        for addr in [shared + 4096, shared + 2 * 4096, private + 4096, private + 2 * 4096] {
            let v = m.step(P1, &load(addr, 1));
            assert_eq!((v.outcome, v.rule), (Outcome::Fault(Signal::SIGBUS), "ACCESS-SIGBUS-1"));
        }
        assert_eq!(read(&mut m, P1, shared + 4095, 1), Ok(vec![0]));
        // A store past the size in the last page is allowed; growing the
        // object shows zeros there (linux tmpfs keeps the bytes:
        // tmpfs_grow_keeps_tail), and the old pages do not come back.
        assert_ok(&mut m, P1, &store(shared + 200, b"junk"), "ACCESS-SHARED-1");
        assert_ok(&mut m, P1, &ftruncate(fd, 3 * 4096), "TRUNC-OK-1");
        let tail = if m.profile().tmpfs_grow_keeps_tail {
            b"junk".to_vec()
        } else {
            vec![0; 4]
        };
        assert_eq!(read(&mut m, P1, shared + 200, 4), Ok(tail));
        assert_eq!(read(&mut m, P1, shared + 4096, 6), Ok(vec![0; 6]));
        assert_eq!(read(&mut m, P1, private + 2 * 4096, 4), Ok(vec![0; 4]));
        m.check_invariants().unwrap();
    }
}

#[test]
fn close_ebadf_1_fd_not_open() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        assert_err(&mut m, P1, &close(Fd(0)), Errno::EBADF, "CLOSE-EBADF-1");
        assert_err(&mut m, P1, &close(Fd(-1)), Errno::EBADF, "CLOSE-EBADF-1");
        let fd = opened(&mut m, P1, &open("/dev/zero", OFlags::RDONLY));
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_err(&mut m, P1, &close(fd), Errno::EBADF, "CLOSE-EBADF-1");
    }
}

#[test]
fn close_ok_1_keeps_the_mapping_and_frees_the_fd() {
    for p in ProfileName::ALL {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/buf", 4096);
        let a = map_shared(&mut m, P1, fd, 4096, RW);
        assert_ok(&mut m, P1, &close(fd), "CLOSE-OK-1");
        assert_ok(&mut m, P1, &store(a, b"still"), "ACCESS-SHARED-1");
        // The fd number is free again; the object is still named.
        assert_eq!(
            assert_ok(&mut m, P1, &shm_open("/buf", OFlags::RDONLY, 0), "SHM-OPEN-1"),
            Value::Fd(fd)
        );
        let b = map_shared(&mut m, P1, fd, 4096, Prot::READ);
        assert_eq!(read(&mut m, P1, b, 5), Ok(b"still".to_vec()));
        m.check_invariants().unwrap();
    }
}
