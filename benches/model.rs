//! Model throughput, and whether the cost of a call stays flat (logarithmic)
//! as an address space fills up with regions.
//!
//! `cargo bench --bench model` for full numbers, `-- --quick` for fast ones,
//! `cargo test --benches` to run each benchmark once as a smoke test.
//!
//! Groups:
//! - `mmap_munmap_pair`: a 4 KiB anonymous floating mmap and its munmap,
//!   through the model (`model`) and through the kernel (`kernel`, real
//!   syscalls), in the same run: the model should be at least 10x faster.
//! - `placement`, `lookup`, `mprotect_split`: the cost of one call with 64,
//!   1,024 and 65,530 other regions present (just under Linux's default
//!   vm.max_map_count). The regions are one page each with a one-page gap
//!   between them, so a search for a larger hole must get past every gap;
//!   with the gap index the cost at 65,530 stays within 2x of the cost at 64.
//!   `placement` is a floating 4-page mmap and its munmap; `lookup` an
//!   8-byte load from the middle region; `mprotect_split` mprotects the
//!   middle page of a 3-page mapping (splitting it in three), unmaps and
//!   maps it again.
//! - `load_max`: a load of the largest size a call may ask for (1 MiB).
//! - `mixed`: generated sequences of every call (the property test's
//!   generator), per profile.
//! - `exhaustion`: a million MAP_FIXED mmaps in one process (ENOMEM at the
//!   region cap) and a million spawns (EAGAIN at the process cap), asserted.
//! - `library_calls`: a memobj_map and memobj_unmap pair judged by the oracle
//!   with 20,000 regions present (no copy of the model: it costs what the
//!   primitive calls inside it cost).
//! - `check_throughput`: `check` of a generated trace (made once by `run`),
//!   in events per second (`events`) and bytes per second (`bytes`).

#[path = "../tests/model/state_machine/generate.rs"]
mod generate;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use mmoracle::call::MAX_ACCESS;
use mmoracle::types::{Addr, Errno, Fd, Len, MapFlags, Pid, Prot};
use mmoracle::{Call, Model, Outcome, ProfileName, Value};
use proptest::strategy::{Strategy, ValueTree};
use proptest::test_runner::TestRunner;
use proptest_state_machine::ReferenceStateMachine;
use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::Duration;

const PAGE: u64 = 4096;
const P1: Pid = Pid(1);
/// Region counts: a small program, a large one, and just under Linux's
/// default vm.max_map_count (65530). `cargo test --benches` builds with
/// debug assertions, where the model re-checks every invariant over every
/// region now and then; the smoke run uses small counts.
const REGIONS: [usize; 3] = if cfg!(debug_assertions) {
    [8, 64, 600]
} else {
    [64, 1_024, 65_530]
};
/// Calls the exhaustion benchmarks attempt (a million, but see [`REGIONS`]).
const ATTEMPTS: u64 = if cfg!(debug_assertions) { 2_000 } else { 1_000_000 };

fn anon(addr: u64, len: u64, fixed: bool) -> Call {
    let mut flags = MapFlags::PRIVATE | MapFlags::ANON;
    flags.set(MapFlags::FIXED, fixed);
    Call::Mmap {
        addr: Addr(addr),
        len: Len(len),
        prot: Prot::READ | Prot::WRITE,
        flags,
        fd: Fd::NOFD,
        off: 0,
    }
}

fn must_map(m: &mut Model, call: &Call) -> u64 {
    match m.step(P1, call).outcome {
        Outcome::Ok(Value::Addr(a)) => a.0,
        other => panic!("{call:?} gave {other}"),
    }
}

/// A neutrino model whose first process holds `n` one-page regions from
/// the map base (where hint-less placement starts) upwards, a page apart:
/// the one-page gaps between them are too small for any placement (procnto
/// wants a hole a page larger than the request), so a search must get past
/// all of them.
fn with_regions(n: usize) -> Model {
    let mut m = Model::new(ProfileName::Neutrino);
    m.set_step_checks(false);
    let base = m.profile().map_base;
    for i in 0..n as u64 {
        must_map(&mut m, &anon(base + 2 * i * PAGE, PAGE, true));
    }
    m.check_invariants().expect("a valid state");
    m.set_step_checks(true);
    m
}

/// The address of the middle one of the `n` regions.
fn middle(m: &Model, n: usize) -> u64 {
    m.profile().map_base + 2 * (n as u64 / 2) * PAGE
}

/// An address above the regions: free for a MAP_FIXED mapping.
fn above(m: &Model, n: usize) -> u64 {
    m.profile().map_base + (2 * n as u64 + 16) * PAGE
}

fn munmap(m: &mut Model, addr: u64, len: u64) {
    let call = Call::Munmap {
        addr: Addr(addr),
        len: Len(len),
    };
    assert!(m.step(P1, &call).outcome.is_ok());
}

/// The same 4 KiB anonymous map and unmap through the model and through the
/// kernel, in one run.
fn mmap_munmap_pair(c: &mut Criterion) {
    let mut g = c.benchmark_group("mmap_munmap_pair");
    g.throughput(Throughput::Elements(1));
    // The model's process holds as many regions as this one has mappings,
    // so both map into an address space of the same size.
    let mut m = Model::new(ProfileName::Neutrino);
    let arena = m.profile().arena;
    for i in 0..own_mappings() as u64 {
        must_map(&mut m, &anon(arena + 2 * i * PAGE, PAGE, true));
    }
    // The mmap's arguments are built once, as the kernel's are constants:
    // each iteration times the model's judging and applying, not the building.
    let map = anon(0, PAGE, false);
    g.bench_function("model", |b| {
        b.iter(|| {
            let a = must_map(&mut m, black_box(&map));
            munmap(&mut m, black_box(a), PAGE);
        })
    });
    #[cfg(target_os = "linux")]
    g.bench_function("kernel", |b| b.iter(kernel::map_unmap_page));
    g.finish();
}

/// How many mappings this process has (0 where /proc is missing).
fn own_mappings() -> usize {
    std::fs::read_to_string("/proc/self/maps").map_or(0, |maps| maps.lines().count())
}

/// Real syscalls, for the comparison. The crate itself has no `unsafe`
/// outside its Linux backend; the benchmark needs one raw mmap and munmap.
#[cfg(target_os = "linux")]
mod kernel {
    use rustix::mm::{mmap_anonymous, munmap, MapFlags, ProtFlags};
    use std::hint::black_box;

    const PAGE: usize = 4096;

    /// Maps a private anonymous page where the kernel chooses, and unmaps it.
    pub fn map_unmap_page() {
        // SAFETY: a new anonymous mapping at an address the kernel chooses
        // (no hint) cannot alias memory Rust owns; it is unmapped with the
        // pointer and length mmap returned, and nothing reads through it.
        unsafe {
            let p = mmap_anonymous(
                std::ptr::null_mut(),
                PAGE,
                ProtFlags::READ | ProtFlags::WRITE,
                MapFlags::PRIVATE,
            )
            .expect("a page of address space");
            munmap(black_box(p), PAGE).expect("unmaps what mmap returned");
        }
    }
}

/// A floating mmap must search past every gap.
fn placement(c: &mut Criterion) {
    let mut g = c.benchmark_group("placement");
    g.throughput(Throughput::Elements(1));
    for n in REGIONS {
        let mut m = with_regions(n);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let a = must_map(&mut m, &anon(0, 4 * PAGE, false));
                munmap(&mut m, black_box(a), 4 * PAGE);
            })
        });
    }
    g.finish();
}

/// A load finds its region.
fn lookup(c: &mut Criterion) {
    let mut g = c.benchmark_group("lookup");
    g.throughput(Throughput::Elements(1));
    for n in REGIONS {
        let mut m = with_regions(n);
        let at = Addr(middle(&m, n) + 100);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| black_box(m.step(P1, &Call::Load { addr: at, len: Len(8) })))
        });
    }
    g.finish();
}

/// mprotect of a page inside a mapping splits it in three.
fn mprotect_split(c: &mut Criterion) {
    let mut g = c.benchmark_group("mprotect_split");
    g.throughput(Throughput::Elements(1));
    for n in REGIONS {
        let mut m = with_regions(n);
        let three = above(&m, n);
        must_map(&mut m, &anon(three, 3 * PAGE, true));
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let split = Call::Mprotect {
                    addr: Addr(three + PAGE),
                    len: Len(PAGE),
                    prot: Prot::READ,
                };
                assert!(m.step(P1, &split).outcome.is_ok());
                munmap(&mut m, three, 3 * PAGE);
                must_map(&mut m, &anon(three, 3 * PAGE, true));
            })
        });
    }
    g.finish();
}

/// The largest access: a load of MAX_ACCESS bytes, among the most regions.
fn load_max(c: &mut Criterion) {
    let mut g = c.benchmark_group("load_max");
    g.throughput(Throughput::Bytes(MAX_ACCESS));
    let n = REGIONS[2];
    let mut m = with_regions(n);
    let free = above(&m, n);
    let at = must_map(&mut m, &anon(free, MAX_ACCESS, true));
    g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
        b.iter(|| {
            black_box(m.step(
                P1,
                &Call::Load {
                    addr: Addr(at),
                    len: Len(MAX_ACCESS),
                },
            ))
        })
    });
    g.finish();
}

/// Generated sequences for `profile`, as the property test generates them.
fn sequences(profile: ProfileName, count: usize) -> Vec<Vec<generate::Step>> {
    let mut runner = TestRunner::deterministic();
    let strategy = match profile {
        ProfileName::Neutrino => generate::Reference::<generate::Neutrino>::sequential_strategy(50..=80).boxed(),
        ProfileName::Qnx4 => generate::Reference::<generate::Qnx4>::sequential_strategy(50..=80).boxed(),
        ProfileName::Linux => generate::Reference::<generate::Linux>::sequential_strategy(50..=80).boxed(),
    };
    (0..count)
        .map(|_| strategy.new_tree(&mut runner).expect("generates").current().1)
        .collect()
}

/// Runs one sequence on a fresh model, resolving addresses the way the
/// property test does (against what mmap returned to the caller).
fn run_sequence(profile: ProfileName, steps: &[generate::Step]) -> Model {
    let mut m = Model::new(profile);
    let mut returned: BTreeMap<Pid, Vec<u64>> = BTreeMap::new();
    for step in steps {
        let mine = returned.get(&step.pid).filter(|r| !r.is_empty());
        let anyone = returned.values().find(|r| !r.is_empty());
        let call = step.resolve(profile, mine.or(anyone).map_or(&[][..], |r| &r[..]));
        if let Outcome::Ok(Value::Addr(a)) = m.step(step.pid, &call).outcome {
            let list = returned.entry(step.pid).or_default();
            if list.len() == generate::RECENT {
                list.remove(0);
            }
            list.push(a.0);
        }
    }
    m
}

fn mixed(c: &mut Criterion) {
    let mut g = c.benchmark_group("mixed");
    for profile in ProfileName::ALL {
        let seqs = sequences(profile, 64);
        let steps: usize = seqs.iter().map(Vec::len).sum();
        g.throughput(Throughput::Elements(steps as u64));
        g.bench_with_input(BenchmarkId::from_parameter(profile), &seqs, |b, seqs| {
            b.iter(|| {
                for s in seqs {
                    black_box(run_sequence(profile, s));
                }
            })
        });
    }
    g.finish();
}

/// A million MAP_FIXED mmaps in one process: the region cap stops them with
/// ENOMEM, and the region count stays at the cap.
fn million_mmaps(profile: ProfileName) -> usize {
    let mut m = Model::new(profile);
    let cap = m.profile().max_regions;
    let arena = m.profile().arena;
    let mut ok = 0;
    for i in 0..ATTEMPTS {
        match m.step(P1, &anon(arena + 2 * i * PAGE, PAGE, true)).outcome {
            Outcome::Ok(_) => ok += 1,
            Outcome::Err(Errno::ENOMEM) => assert_eq!(ok, cap, "{profile}: ENOMEM before the cap"),
            other => panic!("{profile}: mmap {i} gave {other}"),
        }
    }
    if ATTEMPTS as usize > cap {
        assert_eq!(ok, cap, "{profile}: the cap was never reached");
    }
    let regions = m.process(P1).expect("alive").space.region_count();
    assert_eq!(regions, ok, "{profile}: one region per mapping");
    regions
}

/// A million spawns: the process cap stops them with EAGAIN.
fn million_spawns(profile: ProfileName) -> usize {
    let mut m = Model::new(profile);
    let cap = m.profile().max_procs;
    let mut live = 1;
    for _ in 0..ATTEMPTS {
        match m.step(P1, &Call::Spawn {}).outcome {
            Outcome::Ok(_) => live += 1,
            Outcome::Err(Errno::EAGAIN) => assert_eq!(live, cap, "{profile}: EAGAIN below the cap"),
            other => panic!("{profile}: spawn gave {other}"),
        }
    }
    if ATTEMPTS as usize > cap {
        assert_eq!(live, cap, "{profile}: the cap was never reached");
    }
    assert_eq!(m.processes().count(), live);
    live
}

fn exhaustion(c: &mut Criterion) {
    let mut g = c.benchmark_group("exhaustion");
    g.sample_size(10).measurement_time(Duration::from_secs(10));
    g.throughput(Throughput::Elements(ATTEMPTS));
    g.bench_function("million_mmaps", |b| b.iter(|| million_mmaps(ProfileName::Neutrino)));
    g.bench_function("million_spawns", |b| b.iter(|| million_spawns(ProfileName::Neutrino)));
    g.finish();
}

/// Regions present for the library-call benchmark.
const LIBRARY_REGIONS: usize = if cfg!(debug_assertions) { 200 } else { 20_000 };

fn library_calls(c: &mut Criterion) {
    use mmoracle::call::Handle;
    use mmoracle::oracle::{Judgement, Oracle};
    let mut g = c.benchmark_group("library_calls");
    let mut oracle = Oracle::new(ProfileName::Neutrino, false);
    let base = oracle.model().profile().map_base;
    for i in 0..LIBRARY_REGIONS as u64 {
        let call = anon(base + 2 * i * PAGE, PAGE, true);
        let own = oracle.model().evaluate(P1, &call).outcome;
        assert!(matches!(oracle.judge(P1, &call, &own), Judgement::Allowed { .. }));
    }
    let create = Call::MemobjCreate { nbytes: PAGE };
    let Outcome::Ok(Value::Handle(h)) = oracle.step_own(P1, &create).0 else {
        panic!("memobj_create")
    };
    let h: Handle = h;
    g.throughput(Throughput::Elements(2));
    g.bench_function(BenchmarkId::new("memobj_map_unmap", LIBRARY_REGIONS), |b| {
        b.iter(|| {
            let map = Call::MemobjMap {
                obj: h,
                target: Pid(0),
                prot: Prot::READ,
                offset: 0,
                nbytes: 0,
            };
            let (addr, _) = oracle.step_own(P1, &map);
            let Outcome::Ok(Value::Addr(vaddr)) = addr else {
                panic!("memobj_map: {addr}")
            };
            let unmap = Call::MemobjUnmap {
                obj: h,
                target: Pid(0),
                vaddr,
            };
            black_box(oracle.judge(P1, &unmap, &Outcome::Ok(Value::Unit)));
        })
    });
    g.finish();
}

/// Events in the generated trace `check_throughput` judges.
const CHECK_EVENTS: u64 = if cfg!(debug_assertions) { 500 } else { 50_000 };

fn check_throughput(c: &mut Criterion) {
    use mmoracle::gen::{generate, GenOptions};
    use mmoracle::oracle::run::{judge, judge_text, Backend, Mode, Options};
    let mut script = mmoracle::trace::Writer::new(Vec::new());
    let opts = GenOptions {
        seed: 3,
        steps: CHECK_EVENTS,
        procs: 2,
        profile: ProfileName::Neutrino,
    };
    generate(&opts, &mut script).expect("a script");
    let script = script.into_inner();
    let (report, trace) = judge_text(&script, "gen", &Options::new(Mode::Run(Backend::Model)), None);
    assert!(report.passed());
    let check = Options::new(Mode::Check);
    let mut g = c.benchmark_group("check_throughput");
    g.sample_size(10);
    for (name, throughput) in [
        ("events", Throughput::Elements(report.events)),
        ("bytes", Throughput::Bytes(trace.len() as u64)),
    ] {
        g.throughput(throughput);
        g.bench_function(name, |b| {
            b.iter(|| {
                let input = std::io::Cursor::new(trace.as_bytes());
                let r = judge::<_, std::io::Sink>(input, "t", &check, None, None, &mut |_| {}).expect("judged");
                assert_eq!(r.events, report.events);
            })
        });
    }
    g.finish();
}

/// Short warm-ups: every benchmark runs thousands of calls per iteration
/// or more.
fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = mmap_munmap_pair, placement, lookup, mprotect_split, load_max, mixed, exhaustion,
        library_calls, check_throughput
}
criterion_main!(benches);
