//! `mmoracle diff`: random scripts (src/gen.rs) run on the real kernel and
//! judged strictly under the linux profile, counters included; a failing
//! script is shrunk to a minimal one and written to `traces/regressions/`,
//! where `mmoracle run <file> --backend linux --profile linux` reproduces it
//! and `cargo test` replays it.

use crate::gen::{generate_string, GenOptions};
use crate::oracle::report::{file_text, FileReport};
use crate::oracle::run::{judge, Backend, Mode, Options};
use crate::profile::ProfileName;
use crate::trace::{Header, Writer};
use std::io::Write;
use std::path::{Path, PathBuf};

/// What `diff` runs.
#[derive(Clone, Debug)]
pub struct DiffOptions {
    /// How many scripts.
    pub cases: u64,
    /// Events per script.
    pub steps: u64,
    /// The seed of the first script; script `i` uses `seed + i`.
    pub seed: u64,
    /// The largest number of processes alive at once.
    pub procs: u32,
    /// Where shrunk failures are written.
    pub regressions: PathBuf,
}

/// One failing script.
#[derive(Clone, Debug)]
pub struct Failure {
    /// The seed `gen` made it from.
    pub seed: u64,
    /// The shrunk script, if it could be written.
    pub path: Option<PathBuf>,
    /// The report of the shrunk script.
    pub report: String,
    /// Events left after shrinking.
    pub events: usize,
}

/// What `diff` found.
#[derive(Clone, Debug, Default)]
pub struct DiffSummary {
    /// Scripts run.
    pub cases: u64,
    /// Events judged.
    pub events: u64,
    /// Calls the backend skipped.
    pub skipped: u64,
    /// Failing scripts, shrunk.
    pub failures: Vec<Failure>,
}

impl DiffSummary {
    /// The closing text.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for f in &self.failures {
            let place = f
                .path
                .as_ref()
                .map_or("(not written)".to_string(), |p| p.display().to_string());
            out.push_str(&format!(
                "seed {}: FAILED, shrunk to {} events: {place}\n  reproduce: mmoracle run {place} --backend linux --profile linux\n{}",
                f.seed, f.events, f.report
            ));
        }
        out.push_str(&format!(
            "diff: {} cases, {} events, {} failed\n",
            self.cases,
            self.events,
            self.failures.len()
        ));
        if self.skipped > 0 {
            out.push_str(&format!(
                "SKIPPED: {} calls the backend could not run faithfully here (not judged; see `mmoracle run` of a case for which)\n",
                self.skipped
            ));
        }
        out
    }
}

/// Judges one script (a header line and event lines) on the real backend, strictly.
pub fn judge_on_kernel(header: &str, events: &[String]) -> FileReport {
    let mut text = String::with_capacity(header.len() + events.iter().map(|e| e.len() + 1).sum::<usize>());
    text.push_str(header);
    text.push('\n');
    for e in events {
        text.push_str(e);
        text.push('\n');
    }
    let opts = Options {
        profile: Some(ProfileName::Linux),
        strict: true,
        ..Options::new(Mode::Run(Backend::Linux))
    };
    let mut progress = |_: u64| {};
    match judge::<_, std::io::Sink>(std::io::Cursor::new(text), "diff", &opts, None, None, &mut progress) {
        Ok(r) => r,
        Err(e) => {
            let mut r = FileReport::new("diff", ProfileName::Linux);
            r.error = Some(e.to_string());
            r
        }
    }
}

/// Whether a report shows the kind of failure shrinking keeps.
pub fn fails(r: &FileReport) -> bool {
    r.error.is_none() && (r.divergences > 0 || r.unmet > 0)
}

/// Removes events while the script still fails: halves, then smaller
/// chunks down to single events, from the back, until nothing more goes.
pub fn shrink(header: &str, mut events: Vec<String>) -> Vec<String> {
    let mut chunk = events.len().div_ceil(2).max(1);
    loop {
        let mut removed = false;
        let mut at = events.len();
        while at > 0 {
            let from = at.saturating_sub(chunk);
            let mut candidate = events.clone();
            candidate.drain(from..at);
            if !candidate.is_empty() && fails(&judge_on_kernel(header, &candidate)) {
                events = candidate;
                removed = true;
            }
            at = from;
        }
        if chunk == 1 && !removed {
            return events;
        }
        if !removed {
            chunk = chunk.div_ceil(2);
        }
    }
}

/// Keeps this thread, and the workers it starts (they inherit the mask), on
/// the CPU it runs on: a request and its reply then cost one context switch,
/// not a wake-up of the other CPU (machine-probes.md §3: 12 µs against 55 µs).
pub fn pin_to_this_cpu() {
    let mut set = rustix::thread::CpuSet::new();
    set.set(rustix::thread::sched_getcpu());
    let _ = rustix::thread::sched_setaffinity(None, &set);
}

/// Runs `opts.cases` random scripts; `progress` is called after each.
pub fn run_diff(opts: &DiffOptions, progress: &mut dyn FnMut(u64, &DiffSummary)) -> DiffSummary {
    pin_to_this_cpu();
    let mut summary = DiffSummary::default();
    for i in 0..opts.cases {
        let seed = opts.seed.wrapping_add(i);
        let script = generate_string(&GenOptions {
            seed,
            steps: opts.steps,
            procs: opts.procs,
            profile: ProfileName::Linux,
        });
        let mut lines = script.lines();
        let header = lines.next().unwrap_or_default().to_string();
        let events: Vec<String> = lines.filter(|l| l.starts_with('{')).map(str::to_string).collect();
        let report = judge_on_kernel(&header, &events);
        summary.cases += 1;
        summary.events += report.events;
        summary.skipped += report.skipped;
        if fails(&report) {
            let small = shrink(&header, events);
            let report = judge_on_kernel(&header, &small);
            let path = write_regression(&opts.regressions, seed, opts, &small).ok();
            summary.failures.push(Failure {
                seed,
                path,
                report: file_text(&report),
                events: small.len(),
            });
        }
        progress(i + 1, &summary);
    }
    summary
}

/// Writes a shrunk script (through a temporary file, renamed into place).
fn write_regression(dir: &Path, seed: u64, opts: &DiffOptions, events: &[String]) -> std::io::Result<PathBuf> {
    std::fs::create_dir_all(dir)?;
    let path = dir.join(format!("diff-seed-{seed}.jsonl"));
    let tmp = dir.join(format!(".diff-seed-{seed}.jsonl.tmp"));
    {
        let mut w = Writer::new(std::io::BufWriter::new(std::fs::File::create(&tmp)?));
        w.header(&Header {
            profile: Some(ProfileName::Linux),
            seed: Some(seed),
            // Recorded on this machine's kernel, so judged with its memory anywhere.
            ram: Some(ProfileName::Linux.profile().ram_bytes),
            comment: Some(format!(
                "shrunk from `mmoracle gen --seed {seed} --steps {} --procs {} --profile linux` by `mmoracle diff`; \
                 reproduce: mmoracle run {} --backend linux --profile linux",
                opts.steps,
                opts.procs,
                path.display()
            )),
        })?;
        let mut out = w.into_inner();
        for e in events {
            writeln!(out, "{e}")?;
        }
        out.flush()?;
    }
    std::fs::rename(&tmp, &path)?;
    Ok(path)
}
