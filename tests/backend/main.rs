//! The real Linux backend: workers, fault recovery, cleanup, lost workers.
//! Every test runs real system calls in worker processes (the mmoracle
//! binary in worker mode). A test that needs root says so loudly and returns.

use mmoracle::backend::linux::{Config, LinuxBackend};
use mmoracle::call::{Call, Outcome, Value};
use mmoracle::types::{Addr, Fd, Len, MapFlags, OFlags, Pid, Prot, Signal};
use mmoracle::{Incident, MemoryManager, ProfileName};
use std::collections::BTreeSet;
use std::sync::Mutex;

/// Tests that compare /dev/shm snapshots must not overlap with each other.
static SHM: Mutex<()> = Mutex::new(());

fn config() -> Config {
    Config {
        worker_exe: env!("CARGO_BIN_EXE_mmoracle").into(),
        ..Config::default()
    }
}

fn backend() -> LinuxBackend {
    LinuxBackend::start(ProfileName::Linux, config()).expect("the backend starts")
}

fn is_root() -> bool {
    rustix::process::geteuid().is_root()
}

fn skip_unless_root(test: &str) -> bool {
    if !is_root() {
        eprintln!("SKIPPED {test}: needs root (the first process of the linux profile is root)");
    }
    !is_root()
}

const P1: Pid = Pid(1);

fn mmap_anon(b: &mut LinuxBackend, len: u64, prot: Prot) -> Addr {
    let out = b.execute(
        P1,
        &Call::Mmap {
            addr: Addr(0),
            len: Len(len),
            prot,
            flags: MapFlags::PRIVATE | MapFlags::ANON,
            fd: Fd::NOFD,
            off: 0,
        },
    );
    match out {
        Outcome::Ok(Value::Addr(a)) => a,
        other => panic!("mmap: {other}"),
    }
}

#[test]
fn ten_thousand_faults_are_recovered_in_one_worker() {
    if skip_unless_root("ten_thousand_faults_are_recovered_in_one_worker") {
        return;
    }
    let mut b = backend();
    let none = mmap_anon(&mut b, 4096, Prot::NONE);
    let rw = mmap_anon(&mut b, 4096, Prot::READ | Prot::WRITE);
    let ro = mmap_anon(&mut b, 4096, Prot::READ);
    for i in 0..10_000u32 {
        let (call, want) = match i % 3 {
            0 => (
                Call::Load {
                    addr: none,
                    len: Len(8),
                },
                Signal::SIGSEGV,
            ),
            1 => (
                Call::Store {
                    addr: none,
                    data: vec![1],
                },
                Signal::SIGSEGV,
            ),
            _ => (
                Call::Store {
                    addr: ro,
                    data: vec![1, 2],
                },
                Signal::SIGSEGV,
            ),
        };
        let got = b.execute(P1, &call);
        assert_eq!(got, Outcome::Fault(want), "fault {i}: {:?}", b.take_incident());
        assert_eq!(b.take_incident(), None);
    }
    // The worker is alive and its memory intact.
    let data = vec![7, 8, 9];
    assert_eq!(
        b.execute(
            P1,
            &Call::Store {
                addr: rw,
                data: data.clone()
            }
        ),
        Outcome::UNIT
    );
    assert_eq!(
        b.execute(P1, &Call::Load { addr: rw, len: Len(3) }),
        Outcome::Ok(Value::Bytes(data))
    );
}

#[test]
fn a_page_past_the_end_of_an_object_is_sigbus_and_a_read_only_page_sigsegv() {
    if skip_unless_root("a_page_past_the_end_of_an_object_is_sigbus_and_a_read_only_page_sigsegv") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    let mut b = backend();
    let fd = match b.execute(
        P1,
        &Call::ShmOpen {
            name: "/sigbus".into(),
            oflag: OFlags::RDWR | OFlags::CREAT,
            mode: 0o600,
        },
    ) {
        Outcome::Ok(Value::Fd(fd)) => fd,
        other => panic!("shm_open: {other}"),
    };
    assert_eq!(b.execute(P1, &Call::Ftruncate { fd, len: 4096 }), Outcome::UNIT);
    let map = |b: &mut LinuxBackend, prot| match b.execute(
        P1,
        &Call::Mmap {
            addr: Addr(0),
            len: Len(8192),
            prot,
            flags: MapFlags::SHARED,
            fd,
            off: 0,
        },
    ) {
        Outcome::Ok(Value::Addr(a)) => a,
        other => panic!("mmap: {other}"),
    };
    let a = map(&mut b, Prot::READ | Prot::WRITE);
    assert_eq!(
        b.execute(
            P1,
            &Call::Load {
                addr: Addr(a.0 + 4096),
                len: Len(1)
            }
        ),
        Outcome::Fault(Signal::SIGBUS)
    );
    let r = map(&mut b, Prot::READ);
    assert_eq!(
        b.execute(P1, &Call::Store { addr: r, data: vec![1] }),
        Outcome::Fault(Signal::SIGSEGV)
    );
    // A store that faults on its second page has written its first.
    assert_eq!(
        b.execute(
            P1,
            &Call::Store {
                addr: Addr(a.0 + 4094),
                data: vec![5, 6, 7]
            }
        ),
        Outcome::Fault(Signal::SIGBUS)
    );
    assert_eq!(
        b.execute(
            P1,
            &Call::Load {
                addr: Addr(r.0 + 4094),
                len: Len(2)
            }
        ),
        Outcome::Ok(Value::Bytes(vec![5, 6]))
    );
    assert_eq!(
        b.execute(P1, &Call::ShmUnlink { name: "/sigbus".into() }),
        Outcome::UNIT
    );
}

fn shm_names() -> BTreeSet<String> {
    std::fs::read_dir("/dev/shm")
        .map(|d| d.flatten().filter_map(|e| e.file_name().into_string().ok()).collect())
        .unwrap_or_default()
}

#[test]
fn dev_shm_holds_exactly_what_it_held_before_also_after_a_killed_worker() {
    if skip_unless_root("dev_shm_holds_exactly_what_it_held_before_also_after_a_killed_worker") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    let before = shm_names();
    {
        let mut b = backend();
        for name in ["/left-behind", "/also", "x"] {
            let out = b.execute(
                P1,
                &Call::ShmOpen {
                    name: name.into(),
                    oflag: OFlags::RDWR | OFlags::CREAT,
                    mode: 0o600,
                },
            );
            assert!(out.is_ok(), "{name}: {out}");
        }
        let during = shm_names();
        let ours: Vec<&String> = during.difference(&before).collect();
        assert_eq!(ours.len(), 3, "{ours:?}");
        assert!(ours.iter().all(|n| n.starts_with(b.shm_prefix())), "{ours:?}");
        // Kill the worker: the run's names must still go.
        let real = b.real_pid(P1).expect("pid 1 has a worker");
        rustix::process::kill_process(
            rustix::process::Pid::from_raw(real).expect("a pid"),
            rustix::process::Signal::KILL,
        )
        .expect("kill");
    }
    assert_eq!(shm_names(), before);
}

#[test]
fn a_killed_worker_is_reported_with_the_call_and_later_calls_get_esrch() {
    let mut b = backend();
    let real = b.real_pid(P1).expect("pid 1 has a worker");
    rustix::process::kill_process(
        rustix::process::Pid::from_raw(real).expect("a pid"),
        rustix::process::Signal::KILL,
    )
    .expect("kill");
    let out = b.execute(P1, &Call::Munlockall {});
    assert_eq!(out, Outcome::Err(mmoracle::types::Errno::ESRCH));
    match b.take_incident() {
        Some(Incident::WorkerLost(why)) => assert!(why.contains("pid 1") && why.contains("Munlockall"), "{why}"),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        b.execute(P1, &Call::Munlockall {}),
        Outcome::Err(mmoracle::types::Errno::ESRCH)
    );
    assert_eq!(b.take_incident(), None);
}

#[test]
fn a_hung_worker_misses_its_deadline_and_is_killed() {
    let mut b = LinuxBackend::start(
        ProfileName::Linux,
        Config {
            deadline: std::time::Duration::from_millis(300),
            ..config()
        },
    )
    .expect("starts");
    let real = b.real_pid(P1).expect("pid 1 has a worker");
    let pid = rustix::process::Pid::from_raw(real).expect("a pid");
    rustix::process::kill_process(pid, rustix::process::Signal::STOP).expect("stop");
    let started = std::time::Instant::now();
    assert_eq!(
        b.execute(P1, &Call::Munlockall {}),
        Outcome::Err(mmoracle::types::Errno::ESRCH)
    );
    assert!(started.elapsed() < std::time::Duration::from_secs(5));
    match b.take_incident() {
        Some(Incident::WorkerLost(why)) => assert!(why.contains("no reply within"), "{why}"),
        other => panic!("{other:?}"),
    }
}

#[test]
fn spawned_workers_get_logical_pids_and_inherit_limits() {
    if skip_unless_root("spawned_workers_get_logical_pids_and_inherit_limits") {
        return;
    }
    let mut b = backend();
    assert_eq!(b.execute(P1, &Call::Spawn {}), Outcome::Ok(Value::Pid(Pid(2))));
    let set = Call::Setrlimit {
        resource: mmoracle::types::Resource::RLIMIT_AS,
        cur: 1 << 30,
        max: 1 << 31,
        target: None,
    };
    assert_eq!(b.execute(Pid(2), &set), Outcome::UNIT);
    assert_eq!(b.execute(Pid(2), &Call::Spawn {}), Outcome::Ok(Value::Pid(Pid(3))));
    // The grandchild sees the limit as the model would: the worker's own
    // start-up usage is not part of it.
    let got = b.execute(
        Pid(3),
        &Call::Getrlimit {
            resource: mmoracle::types::Resource::RLIMIT_AS,
            target: None,
        },
    );
    // Every worker starts with the same padded usage, so the limit reads back exactly.
    let Outcome::Ok(Value::Rlimit(r)) = got else {
        panic!("{got}")
    };
    assert_eq!((r.cur, r.max), (1 << 30, 1 << 31));
    assert_eq!(b.execute(Pid(3), &Call::Exit {}), Outcome::UNIT);
    assert_eq!(
        b.execute(Pid(3), &Call::Munlockall {}),
        Outcome::Err(mmoracle::types::Errno::ESRCH)
    );
}

#[test]
fn calls_over_the_workers_own_memory_are_skipped_not_run() {
    let mut b = backend();
    // munmap of the whole user range unmaps the trace's mappings only.
    let out = b.execute(
        P1,
        &Call::Munmap {
            addr: Addr(0x1000),
            len: Len(0x7FFF_FFFF_E000),
        },
    );
    assert_eq!(out, Outcome::UNIT);
    assert_eq!(b.take_incident(), None);
    assert_eq!(
        b.execute(P1, &Call::Munlockall {}),
        Outcome::UNIT,
        "the worker survived"
    );
    let fixed = Call::Mmap {
        addr: Addr(0x7000_0000_0000),
        len: Len(0x0FFF_FFFF_0000),
        prot: Prot::READ,
        flags: MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED,
        fd: Fd::NOFD,
        off: 0,
    };
    let _ = b.execute(P1, &fixed);
    assert!(matches!(b.take_incident(), Some(Incident::OutOfStep(_))));
}

#[test]
fn the_suite_runs_on_the_backend_through_the_cli() {
    if skip_unless_root("the_suite_runs_on_the_backend_through_the_cli") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_mmoracle"))
        .args([
            "run",
            "traces/spec/obj-shm-linux.jsonl",
            "traces/spec/api-gamma-neutrino.jsonl",
            "--backend",
            "linux",
        ])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .expect("runs");
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("NOT APPLICABLE: 1 scripts"), "{text}");
}

#[test]
fn a_valid_shm_name_too_long_for_the_run_prefix_still_works() {
    if skip_unless_root("a_valid_shm_name_too_long_for_the_run_prefix_still_works") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    let before = shm_names();
    let mut b = backend();
    let longest = format!("/{}", "n".repeat(255));
    let open = |name: &str| Call::ShmOpen {
        name: name.into(),
        oflag: OFlags::RDWR | OFlags::CREAT,
        mode: 0o600,
    };
    assert!(b.execute(P1, &open(&longest)).is_ok());
    assert_eq!(b.take_incident(), None);
    let over = format!("/{}", "n".repeat(256));
    assert_eq!(
        b.execute(P1, &open(&over)),
        Outcome::Err(mmoracle::types::Errno::ENAMETOOLONG)
    );
    assert_eq!(
        b.execute(P1, &Call::ShmUnlink { name: "/a/b".into() }),
        Outcome::Err(mmoracle::types::Errno::ENOENT)
    );
    assert_eq!(b.execute(P1, &Call::ShmUnlink { name: longest }), Outcome::UNIT);
    drop(b);
    assert_eq!(shm_names(), before);
}

/// Every shrunk failure `mmoracle diff` wrote stays in the suite: each one
/// runs on the kernel and is judged strictly under the linux profile.
#[test]
fn the_regressions_pass_strictly_on_the_kernel() {
    if skip_unless_root("the_regressions_pass_strictly_on_the_kernel") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    mmoracle::backend::linux::use_worker_exe(env!("CARGO_BIN_EXE_mmoracle"));
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("traces/regressions");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .expect("traces/regressions")
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "jsonl"))
        .collect();
    files.sort();
    assert!(!files.is_empty());
    let opts = mmoracle::oracle::run::Options {
        profile: Some(ProfileName::Linux),
        strict: true,
        ..mmoracle::oracle::run::Options::new(mmoracle::oracle::run::Mode::Run(mmoracle::oracle::run::Backend::Linux))
    };
    for f in files {
        let text = std::fs::read(&f).expect("readable");
        let name = f.display().to_string();
        let (report, _) = mmoracle::oracle::run::judge_text(&text, &name, &opts, None);
        assert!(
            report.passed() && report.events > 0,
            "{}",
            mmoracle::oracle::report::file_text(&report)
        );
    }
}

/// The recorded suite (traces/recorded, made by `mmoracle run
/// traces/spec/*-linux.jsonl --backend linux --profile linux -o
/// traces/recorded/`) still matches what the kernel does: each script is
/// recorded afresh and compared event by event, addresses the kernel chose
/// aside (they are free choices, different in every run).
#[test]
fn a_fresh_recording_matches_the_recorded_suite() {
    if skip_unless_root("a_fresh_recording_matches_the_recorded_suite") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    mmoracle::backend::linux::use_worker_exe(env!("CARGO_BIN_EXE_mmoracle"));
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut recorded = Vec::new();
    let mut stack = vec![root.join("traces/recorded")];
    while let Some(dir) = stack.pop() {
        for e in std::fs::read_dir(&dir).expect("traces/recorded").flatten() {
            let p = e.path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "jsonl") {
                recorded.push(p);
            }
        }
    }
    let scripts = std::fs::read_dir(root.join("traces/spec"))
        .expect("traces/spec")
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().ends_with("-linux.jsonl"))
        .count();
    assert_eq!(recorded.len(), scripts, "one recorded trace per linux script");
    let opts = mmoracle::oracle::run::Options {
        profile: Some(ProfileName::Linux),
        strict: false,
        ..mmoracle::oracle::run::Options::new(mmoracle::oracle::run::Mode::Run(mmoracle::oracle::run::Backend::Linux))
    };
    for rec in recorded {
        let script = root.join("traces/spec").join(rec.file_name().expect("a name"));
        let text = std::fs::read(&script).expect("the script of a recorded trace");
        let (report, fresh) = mmoracle::oracle::run::judge_text(&text, &script.display().to_string(), &opts, None);
        assert!(report.passed(), "{}", mmoracle::oracle::report::file_text(&report));
        let old = std::fs::read_to_string(&rec).expect("readable");
        let (old, fresh) = (normalised(&old), normalised(&fresh));
        assert_eq!(old.len(), fresh.len(), "{}: line count", rec.display());
        for (i, (a, b)) in old.iter().zip(&fresh).enumerate() {
            assert_eq!(
                a,
                b,
                "{}:{}: recorded vs fresh\n{}",
                rec.display(),
                i + 1,
                mmoracle::oracle::report::file_text(&report)
            );
        }
    }
}

/// The lines of a trace with every address a call returned replaced by `ADDR`,
/// and the header without the recording machine's memory.
/// The "not observed" notes are left out: where the worker's own mappings
/// meet vm.max_map_count depends on the binary (a debug build maps more than a
/// release one), so how many calls are skipped there differs by a line or two.
fn normalised(trace: &str) -> Vec<String> {
    trace
        .lines()
        .filter(|l| !l.starts_with("# not observed:"))
        .map(|l| {
            let Ok(mut v) = serde_json::from_str::<serde_json::Value>(l) else {
                return l.to_string();
            };
            // The header's `ram` is the memory of the machine that recorded it.
            if let Some(header) = v.as_object_mut().filter(|h| h.contains_key("format")) {
                header.remove("ram");
            }
            if let Some(ok) = v.pointer_mut("/ret/ok") {
                if ok.as_str().is_some_and(|s| s.starts_with("0x")) {
                    *ok = serde_json::Value::from("ADDR");
                }
            }
            v.to_string()
        })
        .collect()
}

/// A run interrupted by SIGTERM or SIGINT leaves no shared-memory object,
/// tmpfs file or disk run directory behind, also when it started with
/// SIGINT ignored (a shell's background job).
#[test]
fn an_interrupted_run_leaves_dev_shm_as_it_was() {
    if skip_unless_root("an_interrupted_run_leaves_dev_shm_as_it_was") {
        return;
    }
    let _lock = SHM.lock().unwrap_or_else(|e| e.into_inner());
    let dir = std::env::temp_dir().join(format!("mmoracle-test-term-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let script = dir.join("long.jsonl");
    let mut text = String::from("{\"format\":\"mmoracle-trace\",\"version\":1,\"profile\":\"linux\"}\n");
    text.push_str("{\"pid\":1,\"call\":\"resmgr_file\",\"path\":\"/srv/disk\"}\n");
    text.push_str("{\"pid\":1,\"call\":\"resmgr_file\",\"path\":\"/srv/mem\",\"fs\":\"tmpfs\"}\n");
    text.push_str("{\"pid\":1,\"call\":\"shm_open\",\"name\":\"/held\",\"oflag\":\"O_RDWR|O_CREAT\",\"mode\":384}\n");
    for _ in 0..200_000 {
        text.push_str("{\"pid\":1,\"call\":\"munlockall\"}\n");
    }
    std::fs::write(&script, text).unwrap();
    let before = shm_names();
    let disk = mmoracle::backend::linux::rundir::disk_base();
    if disk.is_none() {
        eprintln!("SKIPPED the disk half of an_interrupted_run_leaves_dev_shm_as_it_was: no disk file system for temporary files here");
    }
    let run_dirs = |ours: &str| -> Vec<String> {
        let Some(base) = &disk else { return Vec::new() };
        std::fs::read_dir(base)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.starts_with(ours))
            .collect()
    };
    for sig in [rustix::process::Signal::TERM, rustix::process::Signal::INT] {
        let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_mmoracle"))
            .args(["run", script.to_str().unwrap(), "--backend", "linux"])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .expect("starts");
        let ours = format!("mmoracle-{}.", child.id());
        // Wait until the run's object exists, then interrupt it.
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
        let all_made = || {
            let names = shm_names();
            let made = |kind: &str| names.iter().any(|n| n.starts_with(&ours) && n.contains(kind));
            made(".s.held") && made(".f.srv%2Fmem") && (disk.is_none() || !run_dirs(&ours).is_empty())
        };
        while !all_made() {
            assert!(std::time::Instant::now() < deadline, "the run never created its object");
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let pid = rustix::process::Pid::from_raw(child.id() as i32).unwrap();
        rustix::process::kill_process(pid, sig).unwrap();
        let status = child.wait().unwrap();
        assert!(!status.success(), "{sig:?} ended the run");
        assert!(
            !shm_names().iter().any(|n| n.starts_with(&ours)),
            "{sig:?}: objects left"
        );
        assert_eq!(run_dirs(&ours), Vec::<String>::new(), "{sig:?}: run directories left");
    }
    let after = shm_names();
    assert_eq!(
        after,
        before,
        "new: {:?}, gone: {:?}",
        after.difference(&before).collect::<Vec<_>>(),
        before.difference(&after).collect::<Vec<_>>()
    );
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn stores_over_the_touch_budget_are_skipped() {
    let mut b = LinuxBackend::start(
        ProfileName::Linux,
        Config {
            touch_budget: 8192,
            ..config()
        },
    )
    .expect("starts");
    let a = mmap_anon(&mut b, 4 * 4096, Prot::READ | Prot::WRITE);
    for page in 0..2 {
        let store = Call::Store {
            addr: Addr(a.0 + page * 4096),
            data: vec![1; 4096],
        };
        assert_eq!(b.execute(P1, &store), Outcome::UNIT);
        assert_eq!(b.take_incident(), None);
    }
    let over = Call::Store {
        addr: Addr(a.0 + 2 * 4096),
        data: vec![1],
    };
    let _ = b.execute(P1, &over);
    match b.take_incident() {
        Some(Incident::OutOfStep(why)) => assert!(why.contains("touch budget"), "{why}"),
        other => panic!("{other:?}"),
    }
}

/// As an ordinary user the linux backend runs nothing, and says so.
#[test]
fn an_ordinary_user_run_is_skipped_loudly() {
    if skip_unless_root("an_ordinary_user_run_is_skipped_loudly (it drops to nobody with setpriv)") {
        return;
    }
    let root = env!("CARGO_MANIFEST_DIR");
    let out = std::process::Command::new("setpriv")
        .args([
            "--reuid=65534",
            "--regid=65534",
            "--clear-groups",
            env!("CARGO_BIN_EXE_mmoracle"),
        ])
        .args(["run", "traces/spec/obj-fds-linux.jsonl", "--backend", "linux"])
        .current_dir(root)
        .output();
    let Ok(out) = out else {
        eprintln!("SKIPPED an_ordinary_user_run_is_skipped_loudly: setpriv is not installed");
        return;
    };
    let text = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "{text}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(
        text.contains("SKIPPED: the linux profile's first process is root"),
        "{text}"
    );
    assert!(
        text.contains("1 files (0 passed)") && text.contains("NOT APPLICABLE: 1 scripts"),
        "{text}"
    );
}

/// A `readonly` server file is a real file on a read-only bind mount in the
/// first worker's mount namespace: opening it for writing is the kernel's
/// EROFS (not skipped), reading it works, a spawned child sees the same
/// mount, and the directory is gone when the backend is.
#[test]
fn a_read_only_file_is_on_a_read_only_mount_in_the_workers_namespace() {
    if skip_unless_root("a_read_only_file_is_on_a_read_only_mount_in_the_workers_namespace") {
        return;
    }
    if mmoracle::backend::linux::rundir::disk_base().is_none() {
        eprintln!("SKIPPED a_read_only_file_is_on_a_read_only_mount_in_the_workers_namespace: no disk file system for temporary files here");
        return;
    }
    let mut b = backend();
    let dir = b
        .read_only_dir()
        .expect("as root, the first worker makes its read-only mount")
        .to_path_buf();
    let file = Call::ResmgrFile {
        path: "/ro/file".into(),
        mode: 0o666,
        uid: 0,
        data: b"read only".to_vec(),
        size: 4096,
        readonly: true,
        fs: mmoracle::types::FileSystem::Disk,
        mandatory_lock: false,
        ocb_alloc_fails: false,
        mmap: "iofunc".into(),
    };
    assert_eq!(b.execute(P1, &file), Outcome::UNIT);
    assert_eq!(b.take_incident(), None, "made for real, not skipped");
    let open = |oflag| Call::Open {
        path: "/ro/file".into(),
        oflag,
    };
    let Outcome::Ok(Value::Pid(child)) = b.execute(P1, &Call::Spawn {}) else {
        panic!("spawn failed")
    };
    for pid in [P1, child] {
        assert_eq!(
            b.execute(pid, &open(OFlags::RDWR)),
            Outcome::Err(mmoracle::types::Errno::EROFS)
        );
        assert_eq!(b.take_incident(), None, "pid {pid}: run, not skipped");
        assert!(b.execute(pid, &open(OFlags::RDONLY)).is_ok(), "pid {pid}");
    }
    drop(b);
    assert!(!dir.exists(), "{} left behind", dir.display());
}

/// An O_CREAT open of a device path that does not exist is ENOENT, as in the
/// model, and creates nothing in the machine's /dev (found by the
/// differential fuzz target, when it did).
#[test]
fn an_o_creat_open_of_a_missing_device_creates_nothing() {
    if skip_unless_root("an_o_creat_open_of_a_missing_device_creates_nothing") {
        return;
    }
    let path = format!("/dev/mmoracle-test-{}", std::process::id());
    let mut b = backend();
    let open = Call::Open {
        path: path.clone(),
        oflag: OFlags::RDWR | OFlags::CREAT | OFlags::TRUNC,
    };
    assert_eq!(b.execute(P1, &open), Outcome::Err(mmoracle::types::Errno::ENOENT));
    assert!(!std::path::Path::new(&path).exists(), "{path} was created");
}
