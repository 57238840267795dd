//! The real backend's cost: one `mmoracle diff` case of 30 steps as the
//! command runs it by default (a fresh first worker, a generated linux script
//! over up to 2 processes, every call judged strictly with counters), the
//! round trip of a single call, and the start of a first worker.
//!
//! `cargo bench --bench backend`; needs root (the linux profile's first
//! process is root), and says so when it is not.

use criterion::{criterion_group, criterion_main, Criterion};
use mmoracle::backend::linux::diff::judge_on_kernel;
use mmoracle::backend::linux::{use_worker_exe, Config, LinuxBackend};
use mmoracle::gen::{generate_string, GenOptions};
use mmoracle::types::Pid;
use mmoracle::{Call, MemoryManager, ProfileName};

fn script(seed: u64) -> (String, Vec<String>) {
    let text = generate_string(&GenOptions {
        seed,
        steps: 30,
        procs: 2,
        profile: ProfileName::Linux,
    });
    let mut lines = text.lines();
    let header = lines.next().unwrap_or_default().to_string();
    (
        header,
        lines.filter(|l| l.starts_with('{')).map(str::to_string).collect(),
    )
}

fn backend(c: &mut Criterion) {
    if !rustix::process::geteuid().is_root() {
        eprintln!("SKIPPED benches/backend: needs root");
        return;
    }
    use_worker_exe(env!("CARGO_BIN_EXE_mmoracle"));
    let scripts: Vec<_> = (0..64).map(script).collect();
    // As `mmoracle diff` runs: driver and workers on one CPU.
    mmoracle::backend::linux::diff::pin_to_this_cpu();
    let mut g = c.benchmark_group("backend");
    let mut i = 0;
    g.bench_function("diff_case_30_steps", |b| {
        b.iter(|| {
            let (header, events) = &scripts[i % scripts.len()];
            i += 1;
            std::hint::black_box(judge_on_kernel(header, events))
        })
    });
    let mut lb = LinuxBackend::start(
        ProfileName::Linux,
        Config {
            worker_exe: env!("CARGO_BIN_EXE_mmoracle").into(),
            ..Config::default()
        },
    )
    .expect("starts");
    g.bench_function("call_round_trip", |b| {
        b.iter(|| std::hint::black_box(lb.execute(Pid(1), &Call::Munlockall {})))
    });
    g.bench_function("worker_start", |b| {
        b.iter(|| {
            std::hint::black_box(
                LinuxBackend::start(
                    ProfileName::Linux,
                    Config {
                        worker_exe: env!("CARGO_BIN_EXE_mmoracle").into(),
                        ..Config::default()
                    },
                )
                .expect("starts"),
            )
        })
    });
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().sample_size(30);
    targets = backend
}
criterion_main!(benches);
