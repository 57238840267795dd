//! Model throughput, and whether the cost of a call stays flat (logarithmic)
//! as an address space fills up with regions.
//!
//! `cargo bench --bench model` for full numbers, `-- --quick` for fast ones,
//! `cargo test --benches` to run each benchmark once as a smoke test.
//!
//! Groups:
//! - `mmap_munmap`: an anonymous mmap and its munmap, with 1k..60k other
//!   regions present; `floating` lets placement choose, `fixed` uses MAP_FIXED.
//! - `mprotect`: a one-page protection change (`toggle`), and a split cycle
//!   (`split`: mprotect the middle page of a 3-page mapping, which splits it
//!   in three, then unmap and map it again).
//! - `store_load`: an 8-byte store and load in a mapping among n regions;
//!   `load_max`: a load of the largest size a call may ask for (1 MiB).
//! - `mixed`: generated sequences of every call (the property test's
//!   generator), per profile.
//! - `exhaustion`: a million MAP_FIXED mmaps in one process (ENOMEM at the
//!   region cap) and a million spawns (EAGAIN at the process cap), asserted.

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
/// region after each call; the smoke run uses small counts.
const REGIONS: [usize; 3] = if cfg!(debug_assertions) {
    [10, 100, 600]
} else {
    [1_000, 10_000, 60_000]
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

/// A neutrino model whose first process holds `n` one-page regions packed
/// from the arena upwards, so that every search must get past them.
fn with_regions(n: usize) -> Model {
    let mut m = Model::new(ProfileName::Neutrino);
    let arena = m.profile().arena;
    for i in 0..n as u64 {
        must_map(&mut m, &anon(arena + i * PAGE, PAGE, true));
    }
    m
}

/// An address above the packed regions: free for a MAP_FIXED mapping.
fn above(m: &Model, n: usize) -> u64 {
    m.profile().arena + (n as u64 + 16) * PAGE
}

fn mmap_munmap(c: &mut Criterion) {
    let mut g = c.benchmark_group("mmap_munmap");
    g.throughput(Throughput::Elements(1));
    for n in REGIONS {
        let mut m = with_regions(n);
        let free = above(&m, n);
        g.bench_with_input(BenchmarkId::new("floating", n), &n, |b, _| {
            b.iter(|| {
                let a = must_map(&mut m, &anon(0, 4 * PAGE, false));
                black_box(m.step(
                    P1,
                    &Call::Munmap {
                        addr: Addr(a),
                        len: Len(4 * PAGE),
                    },
                ));
            })
        });
        g.bench_with_input(BenchmarkId::new("fixed", n), &n, |b, _| {
            b.iter(|| {
                let a = must_map(&mut m, &anon(free, 4 * PAGE, true));
                black_box(m.step(
                    P1,
                    &Call::Munmap {
                        addr: Addr(a),
                        len: Len(4 * PAGE),
                    },
                ));
            })
        });
    }
    g.finish();
}

fn mprotect(c: &mut Criterion) {
    let mut g = c.benchmark_group("mprotect");
    g.throughput(Throughput::Elements(1));
    for n in REGIONS {
        let mut m = with_regions(n);
        let middle = m.profile().arena + (n as u64 / 2) * PAGE;
        let mut write = false;
        g.bench_with_input(BenchmarkId::new("toggle", n), &n, |b, _| {
            b.iter(|| {
                write = !write;
                let prot = if write { Prot::READ | Prot::WRITE } else { Prot::READ };
                let call = Call::Mprotect {
                    addr: Addr(middle),
                    len: Len(PAGE),
                    prot,
                };
                black_box(m.step(P1, &call));
            })
        });
        let three = above(&m, n);
        must_map(&mut m, &anon(three, 3 * PAGE, true));
        g.bench_with_input(BenchmarkId::new("split", n), &n, |b, _| {
            b.iter(|| {
                let split = Call::Mprotect {
                    addr: Addr(three + PAGE),
                    len: Len(PAGE),
                    prot: Prot::READ,
                };
                assert!(m.step(P1, &split).outcome.is_ok());
                let unmap = Call::Munmap {
                    addr: Addr(three),
                    len: Len(3 * PAGE),
                };
                black_box(m.step(P1, &unmap));
                must_map(&mut m, &anon(three, 3 * PAGE, true));
            })
        });
    }
    g.finish();
}

fn store_load(c: &mut Criterion) {
    let mut g = c.benchmark_group("store_load");
    g.throughput(Throughput::Bytes(16));
    for n in REGIONS {
        let mut m = with_regions(n);
        let at = Addr(m.profile().arena + (n as u64 / 2) * PAGE + 100);
        g.bench_with_input(BenchmarkId::from_parameter(n), &n, |b, _| {
            b.iter(|| {
                let store = Call::Store {
                    addr: at,
                    data: vec![0x5a; 8],
                };
                black_box(m.step(P1, &store));
                black_box(m.step(P1, &Call::Load { addr: at, len: Len(8) }));
            })
        });
    }
    g.finish();
    // The largest access: a load of MAX_ACCESS bytes, every byte looked up.
    let mut g = c.benchmark_group("load_max");
    g.throughput(Throughput::Bytes(MAX_ACCESS));
    for n in REGIONS {
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
    }
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

/// Short warm-ups: every benchmark runs thousands of calls per iteration
/// or more.
fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_millis(500))
}

criterion_group! {
    name = benches;
    config = config();
    targets = mmap_munmap, mprotect, store_load, mixed, exhaustion
}
criterion_main!(benches);
