//! The Gamma binding (spec/gamma.md): `mmap(size, prot_flags, share_flags,
//! shm_file, offset)` returning the buffer, and `shm_open(name, flags, mode[,
//! size])`, with the document's video-memory example under qnx4.

use crate::shm::{open, read, shm_open, sized, store, user, RW};
use crate::util::*;
use mmoracle::call::MAX_ACCESS;
use mmoracle::types::*;
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use ProfileName::{Linux, Neutrino, Qnx4};

const ALL: [ProfileName; 3] = ProfileName::ALL;
/// The VGA memory the document's example maps.
const VGA: u64 = 0xA0000;

fn gamma_shm_open(name: &str, oflag: OFlags, mode: u32, size: Option<u64>) -> Call {
    Call::GammaShmOpen {
        name: name.into(),
        oflag,
        mode,
        size,
    }
}

fn gamma_mmap(size: u64, prot: Prot, share: MapFlags, shm_file: Fd, offset: u64) -> Call {
    Call::GammaMmap {
        size,
        prot,
        share,
        shm_file,
        offset,
    }
}

/// The buffer a Gamma mmap returned, asserting the rule.
fn buffer(m: &mut Model, call: &Call, rule: &str) -> Vec<u8> {
    match assert_ok(m, P1, call, rule) {
        Value::Bytes(b) => b,
        other => panic!("{call:?}: expected a buffer, got {other}"),
    }
}

fn fault(m: &mut Model, call: &Call, signal: Signal, rule: &str) {
    let v = m.step(P1, call);
    assert_eq!((v.outcome, v.rule), (Outcome::Fault(signal), rule), "{call:?}");
}

/// QNX 4's `Physical` object, opened by P1 with `oflag`.
fn physical(m: &mut Model, oflag: OFlags) -> Fd {
    opened(m, P1, &shm_open("Physical", oflag, 0o777))
}

fn region_count(m: &Model) -> usize {
    m.process(P1).unwrap().space.region_count()
}

fn fd_count(m: &Model) -> usize {
    m.process(P1).unwrap().fds().len()
}

// ---- mmap: the buffer ----

#[test]
fn gamma_mmap_1_the_video_memory_example() {
    let mut m = model(Qnx4);
    // Something stored at physical 0xA0000 through a shared writable mapping.
    let rw = physical(&mut m, OFlags::RDWR);
    let screen = mapped(&mut m, P1, &mmap(0, PAGE, RW, MapFlags::SHARED, rw.0, VGA));
    assert_ok(&mut m, P1, &store(screen, b"READY."), "ACCESS-SHARED-1");
    // fd = shm_open("Physical", O_RDONLY, 0o777);
    let open = gamma_shm_open("Physical", OFlags::RDONLY, 0o777, None);
    let Value::Fd(fd) = assert_ok(&mut m, P1, &open, "GAMMA-SHMOPEN-1") else {
        panic!("shm_open returns an fd")
    };
    // buf = mmap(1000, PROT_READ, MAP_SHARED, fd, 0xA0000);
    let call = gamma_mmap(1000, Prot::READ, MapFlags::SHARED, fd, VGA);
    let buf = buffer(&mut m, &call, "GAMMA-MMAP-1");
    let mut expected = b"READY.".to_vec();
    expected.resize(1000, 0);
    assert_eq!(buf, expected);
    // The mapping stays, a whole page of it.
    assert_eq!(region_count(&m), 2);
    m.check_invariants().unwrap();
}

#[test]
fn gamma_mmap_1_prot_nocache_is_honoured() {
    let mut m = model(Qnx4);
    let fd = physical(&mut m, OFlags::RDONLY);
    let call = gamma_mmap(PAGE, Prot::READ | Prot::NOCACHE, MapFlags::SHARED, fd, VGA);
    assert_eq!(buffer(&mut m, &call, "GAMMA-MMAP-1"), vec![0; PAGE as usize]);
    // Kept on the mapping (dual-ported RAM is mapped uncached).
    let region = m.process(P1).unwrap().space.regions().next().unwrap();
    assert_eq!(region.prot, Prot::READ | Prot::NOCACHE);
    // A private mapping of an ordinary object, with PROT_NOCACHE too.
    let shm = sized(&mut m, P1, "/dpram", PAGE as i64);
    let call = gamma_mmap(16, RW | Prot::NOCACHE, MapFlags::PRIVATE, shm, 0);
    assert_eq!(buffer(&mut m, &call, "GAMMA-MMAP-1"), vec![0; 16]);
}

#[test]
fn gamma_sigbus_1_the_buffer_reaches_past_the_object() {
    let mut m = model(Qnx4);
    let fd = sized(&mut m, P1, "/small", 100);
    let call = gamma_mmap(2 * PAGE, Prot::READ, MapFlags::SHARED, fd, 0);
    fault(&mut m, &call, Signal::SIGBUS, "GAMMA-SIGBUS-1");
    // The mapping was made; reading its first page works.
    assert_eq!(region_count(&m), 1);
    let a = m.process(P1).unwrap().space.regions().next().unwrap().range.start().0;
    assert_eq!(read(&mut m, P1, a + 99, 1), Ok(vec![0]));
}

#[test]
fn gamma_sigsegv_1_a_prot_none_buffer_cannot_be_read() {
    let mut m = model(Qnx4);
    let fd = sized(&mut m, P1, "/none", PAGE as i64);
    let call = gamma_mmap(PAGE, Prot::NONE, MapFlags::SHARED, fd, 0);
    fault(&mut m, &call, Signal::SIGSEGV, "GAMMA-SIGSEGV-1");
    assert_eq!(region_count(&m), 1);
}

// ---- mmap: nil with errno ----

#[test]
fn gamma_enosys_1_only_on_qnx4() {
    for p in [Neutrino, Linux] {
        let mut m = model(p);
        let fd = sized(&mut m, P1, "/buf", PAGE as i64);
        for fd in [fd, Fd(9)] {
            let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, fd, 0);
            assert_err(&mut m, P1, &call, Errno::ENOSYS, "GAMMA-ENOSYS-1");
        }
        assert_eq!(region_count(&m), 0);
    }
}

#[test]
fn gamma_enomem_2_buffer_too_large() {
    let mut m = model(Qnx4);
    let fd = sized(&mut m, P1, "/big", 2 * MAX_ACCESS as i64);
    let call = gamma_mmap(MAX_ACCESS + 1, Prot::READ, MapFlags::SHARED, fd, 0);
    assert_err(&mut m, P1, &call, Errno::ENOMEM, "GAMMA-ENOMEM-2");
    assert_eq!(region_count(&m), 0);
    let call = gamma_mmap(MAX_ACCESS, Prot::READ, MapFlags::SHARED, fd, 0);
    assert_eq!(buffer(&mut m, &call, "GAMMA-MMAP-1").len() as u64, MAX_ACCESS);
}

#[test]
fn gamma_eacces_1_fd_not_open_for_the_right_mode() {
    let mut m = model(Qnx4);
    let ro = physical(&mut m, OFlags::RDONLY);
    let call = gamma_mmap(PAGE, RW, MapFlags::SHARED, ro, VGA);
    assert_err(&mut m, P1, &call, Errno::EACCES, "GAMMA-EACCES-1");
    sized(&mut m, P1, "/wo", PAGE as i64);
    let wo = opened(&mut m, P1, &shm_open("/wo", OFlags::WRONLY, 0));
    let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, wo, 0);
    assert_err(&mut m, P1, &call, Errno::EACCES, "GAMMA-EACCES-1");
    assert_eq!(region_count(&m), 0);
}

#[test]
fn gamma_eagain_1_could_not_lock_the_mapping() {
    let mut m = model(Qnx4);
    setrlimit(&mut m, Resource::RLIMIT_MEMLOCK, 2 * PAGE, 2 * PAGE);
    let future = Call::Mlockall {
        flags: MclFlags::FUTURE,
    };
    assert_ok(&mut m, P1, &future, "LOCK-MLOCKALL-1");
    let fd = physical(&mut m, OFlags::RDONLY);
    let call = gamma_mmap(2 * PAGE, Prot::READ, MapFlags::SHARED, fd, VGA);
    assert_err(&mut m, P1, &call, Errno::EAGAIN, "GAMMA-EAGAIN-1");
    let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, fd, VGA);
    buffer(&mut m, &call, "GAMMA-MMAP-1");
}

#[test]
fn gamma_ebadf_1_bad_shm_file() {
    let mut m = model(Qnx4);
    for fd in [Fd(9), Fd(0)] {
        let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, fd, 0);
        assert_err(&mut m, P1, &call, Errno::EBADF, "GAMMA-EBADF-1");
    }
}

#[test]
fn gamma_einval_1_bad_prot_flags_or_share_flags() {
    let mut m = model(Qnx4);
    let fd = sized(&mut m, P1, "/buf", PAGE as i64);
    // Neither MAP_SHARED nor MAP_PRIVATE: QNX 4 has no default share type.
    let no_share = gamma_mmap(PAGE, Prot::READ, MapFlags::empty(), fd, 0);
    assert_err(&mut m, P1, &no_share, Errno::EINVAL, "GAMMA-EINVAL-1");
    let bad_prot = gamma_mmap(PAGE, Prot::from_bits_retain(0x1100), MapFlags::SHARED, fd, 0);
    assert_err(&mut m, P1, &bad_prot, Errno::EINVAL, "GAMMA-EINVAL-1");
    let bad_share = gamma_mmap(PAGE, Prot::READ, MapFlags::from_bits_retain(0x5), fd, 0);
    assert_err(&mut m, P1, &bad_share, Errno::EINVAL, "GAMMA-EINVAL-1");
    let empty = gamma_mmap(0, Prot::READ, MapFlags::SHARED, fd, 0);
    assert_err(&mut m, P1, &empty, Errno::EINVAL, "GAMMA-EINVAL-1");
}

#[test]
fn gamma_enodev_1_mmap_is_meaningless_for_the_fd() {
    let mut m = model(Qnx4);
    let null = opened(&mut m, P1, &open("/dev/null", OFlags::RDWR));
    let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, null, 0);
    assert_err(&mut m, P1, &call, Errno::ENODEV, "GAMMA-ENODEV-1");
}

#[test]
fn gamma_enomem_1_not_enough_memory() {
    let mut m = model(Qnx4);
    setrlimit(&mut m, Resource::RLIMIT_AS, 2 * PAGE, 2 * PAGE);
    let fd = physical(&mut m, OFlags::RDONLY);
    let call = gamma_mmap(2 * PAGE, Prot::READ, MapFlags::SHARED, fd, VGA);
    assert_err(&mut m, P1, &call, Errno::ENOMEM, "GAMMA-ENOMEM-1");
}

#[test]
fn gamma_enotsup_1_private_physical_memory() {
    let mut m = model(Qnx4);
    let fd = physical(&mut m, OFlags::RDONLY);
    let call = gamma_mmap(1000, Prot::READ, MapFlags::PRIVATE, fd, VGA);
    assert_err(&mut m, P1, &call, Errno::ENOTSUP, "GAMMA-ENOTSUP-1");
}

#[test]
fn gamma_enxio_1_bad_offset_or_size() {
    let last = Qnx4.profile().last_paddr;
    let mut m = model(Qnx4);
    let fd = physical(&mut m, OFlags::RDONLY);
    let past = gamma_mmap(2 * PAGE, Prot::READ, MapFlags::SHARED, fd, last + 1 - PAGE);
    assert_err(&mut m, P1, &past, Errno::ENXIO, "GAMMA-ENXIO-1");
    let last_page = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, fd, last + 1 - PAGE);
    buffer(&mut m, &last_page, "GAMMA-MMAP-1");
}

#[test]
fn gamma_errno_1_errors_the_document_does_not_list() {
    // MAP_PHYS among the share flags needs root.
    let mut m = model(Qnx4);
    let alice = user(&mut m, 100);
    let fd = opened(&mut m, alice, &shm_open("Physical", OFlags::RDONLY, 0));
    let phys = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED | MapFlags::PHYS, fd, VGA);
    assert_err(&mut m, alice, &phys, Errno::EPERM, "GAMMA-ERRNO-1");
    // A file's server answers through the _IO_MMAP exchange, unchanged.
    let file = |path: &str, readonly: bool, handler: &str| Call::ResmgrFile {
        path: path.into(),
        mode: 0o644,
        uid: 0,
        data: Vec::new(),
        size: PAGE,
        readonly,
        fs: mmoracle::types::FileSystem::Disk,
        mandatory_lock: false,
        ocb_alloc_fails: false,
        mmap: handler.into(),
    };
    assert_ok(&mut m, P1, &file("/ro/file", true, "iofunc"), "RESMGR-FILE-1");
    assert_ok(&mut m, P1, &file("/srv/nohandler", false, "none"), "RESMGR-FILE-1");
    let ro = opened(&mut m, P1, &open("/ro/file", OFlags::RDONLY));
    let call = gamma_mmap(PAGE, RW, MapFlags::SHARED, ro, 0);
    assert_err(&mut m, P1, &call, Errno::EROFS, "GAMMA-ERRNO-1");
    let none = opened(&mut m, P1, &open("/srv/nohandler", OFlags::RDONLY));
    let call = gamma_mmap(PAGE, Prot::READ, MapFlags::SHARED, none, 0);
    assert_err(&mut m, P1, &call, Errno::ENOSYS, "GAMMA-ERRNO-1");
}

// ---- shm_open ----

#[test]
fn gamma_shmopen_1_shm_open_with_an_optional_size() {
    for p in ALL {
        let mut m = model(p);
        let create = OFlags::RDWR | OFlags::CREAT;
        let sized_open = gamma_shm_open("/gbuf", create, 0o600, Some(3000));
        let Value::Fd(fd) = assert_ok(&mut m, P1, &sized_open, "GAMMA-SHMOPEN-1") else {
            panic!("shm_open returns an fd")
        };
        assert_eq!(m.step(P1, &Call::Fstat { fd }).outcome, Outcome::Ok(Value::Size(3000)));
        let plain = gamma_shm_open("/gbuf", OFlags::RDONLY, 0, None);
        let Value::Fd(again) = assert_ok(&mut m, P1, &plain, "GAMMA-SHMOPEN-1") else {
            panic!("shm_open returns an fd")
        };
        assert_eq!(
            m.step(P1, &Call::Fstat { fd: again }).outcome,
            Outcome::Ok(Value::Size(3000))
        );
    }
}

#[test]
fn gamma_shmerr_1_shm_open_failed() {
    for p in ALL {
        let mut m = model(p);
        let call = gamma_shm_open("/missing", OFlags::RDWR, 0, Some(PAGE));
        assert_err(&mut m, P1, &call, Errno::ENOENT, "GAMMA-SHMERR-1");
        sized(&mut m, P1, "/taken", PAGE as i64);
        let excl = gamma_shm_open("/taken", OFlags::RDWR | OFlags::CREAT | OFlags::EXCL, 0o600, None);
        assert_err(&mut m, P1, &excl, Errno::EEXIST, "GAMMA-SHMERR-1");
    }
}

#[test]
fn gamma_size_1_sizing_failed() {
    for p in ALL {
        let mut m = model(p);
        sized(&mut m, P1, "/ro", PAGE as i64);
        let before = fd_count(&m);
        // A read-only open cannot be resized; the fd is closed again.
        let call = gamma_shm_open("/ro", OFlags::RDONLY, 0, Some(2 * PAGE));
        assert_err(&mut m, P1, &call, Errno::EINVAL, "GAMMA-SIZE-1");
        assert_eq!(fd_count(&m), before);
    }
    // The document warns that a size could resize Physical; the model refuses.
    let mut m = model(Qnx4);
    let call = gamma_shm_open("Physical", OFlags::RDWR, 0o777, Some(PAGE));
    assert_err(&mut m, P1, &call, Errno::EINVAL, "GAMMA-SIZE-1");
    assert_eq!(fd_count(&m), 0);
    let fd = physical(&mut m, OFlags::RDONLY);
    let whole = Qnx4.profile().last_paddr + 1;
    assert_eq!(m.step(P1, &Call::Fstat { fd }).outcome, Outcome::Ok(Value::Size(whole)));
}

#[test]
fn evaluating_a_gamma_call_changes_nothing() {
    let mut m = model(Qnx4);
    let fd = physical(&mut m, OFlags::RDONLY);
    let calls = [
        gamma_mmap(1000, Prot::READ, MapFlags::SHARED, fd, VGA),
        gamma_shm_open("/new", OFlags::RDWR | OFlags::CREAT, 0o600, Some(PAGE)),
    ];
    for call in &calls {
        let before = format!("{m:?}");
        assert!(m.evaluate(P1, call).outcome.is_ok(), "{call:?}");
        assert_eq!(format!("{m:?}"), before, "{call:?}");
    }
}
