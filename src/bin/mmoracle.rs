//! The `mmoracle` command line: a thin layer over the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mmoracle::files::{self, Input, Output};
use mmoracle::gen::{generate, GenOptions};
use mmoracle::oracle::batch::{self, Partition};
use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::report::{self, FileReport, Totals};
use mmoracle::oracle::run::{judge, Backend, Mode, Options};
use mmoracle::trace::Writer;
use mmoracle::ProfileName;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;

const EXAMPLES: &str = "\
Examples:
  mmoracle run traces/spec --backend model        run the hand-written suite on the model
  mmoracle check recorded.jsonl --format junit    judge a recorded trace for a CI system
  mmoracle gen --seed 42 --steps 1000 --procs 3   print a random script
  mmoracle spec --coverage traces/                which rules the traces exercise

Exit status: 0 everything conforms, 1 a divergence or an unmet expectation,
2 bad input or usage (the message names file, line and column).";

/// A simulated QNX Neutrino memory manager used as a test oracle.
#[derive(Parser, Debug)]
#[command(name = "mmoracle", version, about, after_help = EXAMPLES)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Execute scripts on a backend, check their `expect`s and judge every
    /// outcome; optionally write the trace with `ret` filled in.
    #[command(after_help = "Examples:
  mmoracle run traces/spec --backend model
  mmoracle run script.jsonl -o trace.jsonl          then: mmoracle check trace.jsonl
  mmoracle gen --steps 100 | mmoracle run - -o -    a random script, executed, as a trace")]
    Run {
        /// Scripts, or directories searched for *.jsonl (`-`: standard input). Links
        /// are followed; each directory and file is read once (by device and inode);
        /// only regular files found in directories are read.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The implementation that executes the calls.
        #[arg(long, value_enum, default_value_t = BackendArg::Model)]
        backend: BackendArg,
        /// The profile, overriding each header's.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<ProfileName>,
        /// Write the trace here (`-`: standard output; a directory when there are several
        /// inputs). Never an input: the same file as an input is refused. Written to a
        /// temporary file and renamed when complete; nothing is left after bad input.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The most memory contents (pages stored to) the model may hold, in MiB; a
        /// trace that stores more stops with exit 2 instead of exhausting memory.
        #[arg(long, value_name = "MIB", default_value_t = 256)]
        max_contents: u64,
        /// Judge this many files at once (default: one per core).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        jobs: Option<u32>,
        /// Take a deterministic share of the files: K/N takes every N-th file of the
        /// sorted list, starting with the K-th (cargo-nextest's `count:K/N`). The N
        /// partitions together judge every file once; their reports stand alone.
        #[arg(long, value_name = "K/N")]
        partition: Option<Partition>,
    },
    /// Judge recorded traces: is every `ret` allowed by the model?
    #[command(after_help = "Examples:
  mmoracle check trace.jsonl
  mmoracle check traces/recorded --strict --format json
  mmoracle check traces/ --format junit > mmoracle.xml")]
    Check {
        /// Traces, or directories searched for *.jsonl (`-`: standard input). Links
        /// are followed; each directory and file is read once (by device and inode);
        /// only regular files found in directories are read.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The profile, overriding each header's.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<ProfileName>,
        /// Accept only the model's deterministic outcome (no other failing rule, no alternative).
        #[arg(long)]
        strict: bool,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
        /// The most memory contents (pages stored to) the model may hold, in MiB; a
        /// trace that stores more stops with exit 2 instead of exhausting memory.
        #[arg(long, value_name = "MIB", default_value_t = 256)]
        max_contents: u64,
        /// Judge this many files at once (default: one per core).
        #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
        jobs: Option<u32>,
        /// Take a deterministic share of the files: K/N takes every N-th file of the
        /// sorted list, starting with the K-th (cargo-nextest's `count:K/N`). The N
        /// partitions together judge every file once; their reports stand alone.
        #[arg(long, value_name = "K/N")]
        partition: Option<Partition>,
    },
    /// Print a random script, reproducible from its seed.
    #[command(after_help = "Examples:
  mmoracle gen --seed 42 --steps 1000 --procs 3 > script.jsonl
  mmoracle gen --seed 1 --steps 1000000 | mmoracle run - -o - | mmoracle check -")]
    Gen {
        /// The seed (default: from the clock; it is written in the header).
        #[arg(long)]
        seed: Option<u64>,
        /// The number of events.
        #[arg(long, default_value_t = 100)]
        steps: u64,
        /// The largest number of processes alive at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
        procs: u32,
        /// The profile written in the header.
        #[arg(long, value_parser = parse_profile, default_value = "neutrino")]
        profile: ProfileName,
    },
    /// List the rules of spec/, and which traces exercise them.
    #[command(after_help = "Examples:
  mmoracle spec
  mmoracle spec --coverage traces/
  mmoracle spec --coverage traces/spec traces/regressions --format json")]
    Spec {
        /// Run these traces and scripts and count, per rule, the traces that exercise it.
        #[arg(long, num_args = 1..)]
        coverage: Vec<PathBuf>,
        /// Output format (text or json).
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// The model itself.
    Model,
    /// Real Linux system calls (not available yet).
    Linux,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people.
    Text,
    /// One JSON document.
    Json,
    /// JUnit XML, one test case per file.
    Junit,
}

fn parse_profile(s: &str) -> Result<ProfileName, String> {
    s.parse()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("mmoracle: {e:#}");
            ExitCode::from(2)
        }
    }
}

fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run {
            inputs,
            backend,
            profile,
            output,
            format,
            max_contents,
            jobs,
            partition,
        } => {
            let backend = match backend {
                BackendArg::Model => Backend::Model,
                BackendArg::Linux => bail!(
                    "the linux backend is not available in this build of mmoracle yet; \
                     only `--backend model` can execute scripts"
                ),
            };
            let opts = Options {
                profile,
                max_contents: mebibytes(max_contents)?,
                ..Options::new(Mode::Run(backend))
            };
            let dirs = inputs.iter().any(|p| p.is_dir());
            judge_all(&inputs, &opts, output.as_deref(), format, dirs, spread(jobs, partition))
        }
        Command::Check {
            inputs,
            profile,
            strict,
            format,
            max_contents,
            jobs,
            partition,
        } => {
            let opts = Options {
                profile,
                strict,
                max_contents: mebibytes(max_contents)?,
                ..Options::new(Mode::Check)
            };
            judge_all(&inputs, &opts, None, format, false, spread(jobs, partition))
        }
        Command::Gen {
            seed,
            steps,
            procs,
            profile,
        } => {
            let seed = seed.unwrap_or_else(clock_seed);
            let opts = GenOptions {
                seed,
                steps,
                procs,
                profile,
            };
            let mut out = Writer::new(BufWriter::new(io::stdout().lock()));
            generate(&opts, &mut out).context("writing the script")?;
            Ok(0)
        }
        Command::Spec { coverage, format } => spec(&coverage, format),
    }
}

fn spread(jobs: Option<u32>, partition: Option<Partition>) -> Spread {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    Spread {
        jobs: jobs.map_or(cores, |j| j as usize),
        partition,
    }
}

/// `n` MiB in bytes, refusing a number too large to mean anything.
fn mebibytes(n: u64) -> Result<u64> {
    n.checked_mul(1 << 20)
        .with_context(|| format!("--max-contents {n}: expected a number of MiB below 2^44"))
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Expands the command line's paths, telling the user on standard error what
/// was skipped. Unreadable paths are returned for the caller to count.
fn find_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<String>) {
    let walk = files::expand(paths);
    for (path, why) in &walk.skipped {
        eprintln!("mmoracle: skipped {}: {why}", path.display());
    }
    let errors = walk
        .errors
        .iter()
        .map(|(path, why)| format!("{}: {why}", path.display()))
        .collect();
    (walk.inputs, errors)
}

/// Where `run -o` writes each input's trace: nowhere, standard output, or one
/// file per input (planned before anything is written).
enum Outputs {
    None,
    Stdout,
    Files(Vec<PathBuf>),
}

impl Outputs {
    fn plan(output: Option<&Path>, inputs: &[Input], format: Format) -> Result<Outputs> {
        let Some(output) = output else { return Ok(Outputs::None) };
        if output.as_os_str() != "-" {
            return Ok(Outputs::Files(files::plan_outputs(inputs, output)?));
        }
        if inputs.len() > 1 {
            bail!("`-o -` writes one trace; give one input, or a directory to -o");
        }
        if format != Format::Text {
            bail!("`-o -` and --format {format:?} would both write to standard output");
        }
        Ok(Outputs::Stdout)
    }
}

/// Shows progress on standard error, only when it is a terminal.
struct Progress {
    on: bool,
}

impl Progress {
    fn new() -> Progress {
        Progress {
            on: io::stderr().is_terminal(),
        }
    }

    fn show(&self, index: usize, total: usize, name: &str, events: u64) {
        if self.on {
            eprint!("\r\x1b[K[{}/{total}] {name}: {events} events", index + 1);
        }
    }

    fn clear(&self) {
        if self.on {
            eprint!("\r\x1b[K");
        }
    }
}

/// How a run over many files is shared out.
#[derive(Clone, Copy, Debug)]
struct Spread {
    jobs: usize,
    partition: Option<Partition>,
}

fn judge_all(
    paths: &[PathBuf],
    opts: &Options,
    output: Option<&Path>,
    format: Format,
    rule_summary: bool,
    spread: Spread,
) -> Result<u8> {
    let (mut inputs, unreadable) = find_inputs(paths);
    if let Some(part) = spread.partition {
        let mut position = 0..;
        inputs.retain(|_| part.includes(position.next().unwrap_or(0)));
    }
    let outputs = Outputs::plan(output, &inputs, format)?;
    let progress = Progress::new();
    let mut coverage = Coverage::new();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut totals = Totals::default();
    // With the trace on standard output, the text report goes to standard error.
    let mut text_out: Box<dyn Write> = if matches!(outputs, Outputs::Stdout) {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout().lock())
    };
    let mut failure = None;
    batch::in_order(
        inputs.len(),
        spread.jobs,
        |i| judge_one(&inputs[i], i, &outputs, opts),
        |i, result| {
            progress.show(i, inputs.len(), &inputs[i].name(), 0);
            let (report, file_coverage) = match result {
                Ok(done) => done,
                Err(e) => return failure = failure.take().or(Some(e)),
            };
            coverage.absorb(file_coverage);
            totals.add(&report);
            if format == Format::Text {
                if let Err(e) = text_out.write_all(report::file_text(&report).as_bytes()) {
                    failure = failure.take().or(Some(e.into()));
                }
            }
            reports.push(report);
        },
    );
    progress.clear();
    if let Some(e) = failure {
        return Err(e);
    }
    for problem in &unreadable {
        let mut r = FileReport::new(problem, opts.profile.unwrap_or(ProfileName::Neutrino));
        r.error = Some(problem.clone());
        totals.add(&r);
        if format == Format::Text {
            text_out.write_all(report::file_text(&r).as_bytes())?;
        }
        reports.push(r);
    }
    match format {
        Format::Text => {
            if rule_summary {
                text_out.write_all(summary_text(&coverage).as_bytes())?;
            }
            text_out.write_all(totals.text().as_bytes())?;
        }
        Format::Json => {
            let mut doc = report::json_report(&reports, &totals);
            if rule_summary {
                doc["coverage"] = coverage.json();
            }
            writeln!(text_out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Junit => text_out.write_all(report::junit_report(&reports, &totals).as_bytes())?,
    }
    text_out.flush()?;
    Ok(totals.exit_code())
}

/// Judges the `i`-th input, writing its trace where `outputs` says; runs on
/// any thread, with coverage of its own.
fn judge_one(input: &Input, i: usize, outputs: &Outputs, opts: &Options) -> Result<(FileReport, Coverage)> {
    let name = input.name();
    let mut coverage = Coverage::new();
    let mut tick = |_: u64| {};
    let reader = match input.open() {
        Err(e) => return Ok((unreadable_report(&name, opts, &e), coverage)),
        Ok(reader) => reader,
    };
    let report = match outputs {
        Outputs::None => judge::<_, io::Sink>(reader, &name, opts, Some(&mut coverage), None, &mut tick)?,
        Outputs::Stdout => {
            let mut w = Writer::new(BufWriter::new(io::stdout()));
            judge(reader, &name, opts, Some(&mut coverage), Some(&mut w), &mut tick)?
        }
        Outputs::Files(paths) => {
            let target = &paths[i];
            let out = Output::create(target).with_context(|| format!("creating {}", target.display()))?;
            let mut w = Writer::new(out);
            let report = judge(reader, &name, opts, Some(&mut coverage), Some(&mut w), &mut tick)?;
            keep_or_discard(w.into_inner(), &report)?;
            report
        }
    };
    Ok((report, coverage))
}

fn unreadable_report(name: &str, opts: &Options, e: &io::Error) -> FileReport {
    let mut r = FileReport::new(name, opts.profile.unwrap_or(ProfileName::Neutrino));
    r.error = Some(format!("{name}: {e}"));
    r
}

/// Renames a finished trace into place, or removes it when its input ended
/// on bad input (so no partial trace is left for `check` to accept).
fn keep_or_discard(out: Output, report: &FileReport) -> Result<()> {
    if report.error.is_some() {
        eprintln!(
            "mmoracle: {} not written: its input stopped on bad input",
            out.target().display()
        );
        return Ok(());
    }
    let target = out.target().to_path_buf();
    out.commit().with_context(|| format!("writing {}", target.display()))
}

/// The per-rule summary printed after `run` of a directory.
fn summary_text(c: &Coverage) -> String {
    let mut out = String::from("rules exercised (rule: traces, events):\n");
    for (rule, hits) in c.rules() {
        let note = if mmoracle::spec::rule(rule).is_none() {
            "  (not in spec/)"
        } else {
            ""
        };
        out.push_str(&format!(
            "  {rule:<24} {:>5} {:>8}{note}\n",
            hits.traces.len(),
            hits.events
        ));
    }
    let missing: Vec<&str> = c.uncovered().iter().map(|r| r.id.as_str()).collect();
    if !missing.is_empty() {
        out.push_str(&format!(
            "rules in spec/ no trace exercises ({}): {}\n",
            missing.len(),
            missing.join(" ")
        ));
    }
    out
}

fn spec(dirs: &[PathBuf], format: Format) -> Result<u8> {
    if format == Format::Junit {
        bail!("`spec` writes text or json");
    }
    let mut stdout = io::stdout().lock();
    if dirs.is_empty() {
        let rules = mmoracle::spec::catalogue();
        match format {
            Format::Json => writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "rules": rules }))?
            )?,
            _ => {
                for r in rules {
                    writeln!(
                        stdout,
                        "{:<24} {}  ({}:{}; {})",
                        r.id, r.title, r.file, r.line, r.profiles
                    )?;
                }
                writeln!(stdout, "{} rules", rules.len())?;
            }
        }
        return Ok(0);
    }
    let (inputs, unreadable) = find_inputs(dirs);
    let opts = Options::new(Mode::Auto);
    let progress = Progress::new();
    let mut coverage = Coverage::new();
    let mut totals = Totals::default();
    for (i, input) in inputs.iter().enumerate() {
        let name = input.name();
        let mut tick = |n: u64| progress.show(i, inputs.len(), &name, n);
        let reader = input.open().with_context(|| name.clone())?;
        let r = judge::<_, io::Sink>(reader, &name, &opts, Some(&mut coverage), None, &mut tick)?;
        progress.clear();
        if !r.passed() {
            eprint!("{}", report::file_text(&r));
        }
        totals.add(&r);
    }
    for problem in &unreadable {
        eprintln!("mmoracle: {problem}");
    }
    match format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&coverage.json())?)?,
        _ => stdout.write_all(coverage.text().as_bytes())?,
    }
    Ok(if totals.bad > 0 || !unreadable.is_empty() { 2 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::CommandFactory;

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }
}
