//! The `mmoracle` command line: a thin layer over the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use mmoracle::files::{self, Input, Output};
use mmoracle::gen::{generate, GenOptions};
use mmoracle::oracle::batch::{self, Partition};
use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::report::{self, FileReport, Totals};
use mmoracle::oracle::run::{judge, Backend, Mode, Options};
use mmoracle::spec::Exercised;
use mmoracle::trace::Writer;
use mmoracle::ProfileName;
use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{Duration, Instant};

const EXAMPLES: &str = "\
Examples (from the repository's root):
  mmoracle run traces/spec                          run the hand-written suite on the model
  mmoracle check tutorial/five-calls.jsonl          judge a recorded trace (one result is wrong)
  mmoracle explain MMAP-EACCES-2                    one rule in full
  mmoracle gen --seed 42 --steps 1000 --procs 3     print a random script
  mmoracle spec --coverage traces/                  which rules the traces exercise

Traces are JSON Lines, described in spec/trace-format.md.
Exit status: 0 everything conforms, 1 a divergence or an unmet expectation,
2 bad input or usage (the message names file, line and column). A pipe that
closes before the output ends (`| head`) ends the command quietly, with exit 0.";

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
  mmoracle run traces/spec
  mmoracle run traces/spec --rules                  with the table of rules exercised
  mmoracle run traces/spec/trace-format-example.jsonl -o trace.jsonl
  mmoracle check trace.jsonl
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
        #[arg(long, value_parser = profile_parser())]
        profile: Option<ProfileName>,
        /// Write the trace here (`-`: standard output; a directory when there are several
        /// inputs). Never an input: the same file as an input is refused. Written to a
        /// temporary file and renamed when complete; nothing is left after bad input.
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        batch: BatchArgs,
        #[command(flatten)]
        workers: WorkerArgs,
        /// Also print, per rule, the traces and events that exercised it.
        #[arg(long)]
        rules: bool,
    },
    /// Judge recorded traces: is every `ret` allowed by the model?
    #[command(after_help = "Examples:
  mmoracle check tutorial/five-calls.jsonl
  mmoracle check tutorial/five-calls.jsonl --strict --format json
  mmoracle check tutorial --format junit > mmoracle.xml")]
    Check {
        /// Traces, or directories searched for *.jsonl (`-`: standard input). Links
        /// are followed; each directory and file is read once (by device and inode);
        /// only regular files found in directories are read.
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The profile, overriding each header's.
        #[arg(long, value_parser = profile_parser())]
        profile: Option<ProfileName>,
        /// Accept only the model's deterministic outcome (no other failing rule, no alternative).
        #[arg(long)]
        strict: bool,
        #[command(flatten)]
        report: ReportArgs,
        #[command(flatten)]
        batch: BatchArgs,
    },
    /// Print a random script, reproducible from its seed.
    #[command(after_help = "Examples:
  mmoracle gen --seed 42 --steps 1000 --procs 3 > script.jsonl
  mmoracle gen --seed 1 --steps 10000 | mmoracle run - -o - | mmoracle check -")]
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
        #[arg(long, value_parser = profile_parser(), default_value = "neutrino")]
        profile: ProfileName,
    },
    /// Differential test: random scripts on the real kernel (the linux backend),
    /// judged strictly under the linux profile; failures are shrunk and written
    /// to traces/regressions/.
    #[command(after_help = "Examples:
  mmoracle diff --cases 300 --steps 30
  mmoracle diff --seed 7 --cases 1 --steps 200 --procs 4")]
    Diff {
        /// The number of random scripts.
        #[arg(long, default_value_t = 100)]
        cases: u64,
        /// Events per script.
        #[arg(long, default_value_t = 30)]
        steps: u64,
        /// The seed of the first script (default: from the clock); script i uses seed + i.
        #[arg(long)]
        seed: Option<u64>,
        /// The largest number of processes alive at once.
        #[arg(long, default_value_t = 2, value_parser = clap::value_parser!(u32).range(1..=64))]
        procs: u32,
        /// Where shrunk failures are written.
        #[arg(long, default_value = "traces/regressions")]
        regressions: PathBuf,
        #[command(flatten)]
        workers: WorkerArgs,
    },
    /// List the rules of spec/, or show one, and which traces exercise them.
    #[command(after_help = "Examples:
  mmoracle spec
  mmoracle spec MMAP-EACCES-2                       the same as `mmoracle explain MMAP-EACCES-2`
  mmoracle spec --coverage traces/
  mmoracle spec --coverage traces/spec --format json")]
    Spec {
        /// Show this rule in full instead of listing them all.
        rule: Option<String>,
        /// Run these traces and scripts and count, per rule, the traces that exercise it.
        #[arg(long, num_args = 1..)]
        coverage: Vec<PathBuf>,
        /// Output format.
        #[arg(long, value_enum, default_value_t = SpecFormat::Text)]
        format: SpecFormat,
    },
    /// Show one rule in full: title, condition, outcome, profiles, alternative,
    /// source, where spec/ writes it, and which shipped traces exercise it.
    #[command(after_help = "Examples:
  mmoracle explain MMAP-EACCES-2
  mmoracle explain ACCESS-SIGSEGV-2 --traces none   without looking the traces up")]
    Explain {
        /// The rule ID, as a report names it (case does not matter).
        rule: String,
        /// The traces and scripts to look the rule up in (`none`: do not).
        #[arg(long, default_value = "traces")]
        traces: PathBuf,
    },
}

/// How a report is written: shared by `run` and `check`.
#[derive(clap::Args, Debug)]
struct ReportArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    format: Format,
    /// Findings kept and shown per file; later ones are only counted.
    #[arg(long, default_value_t = report::MAX_FINDINGS, value_name = "N")]
    max_findings: usize,
    /// Colour in text reports: on a terminal only (auto, unless NO_COLOR is set), always or never.
    #[arg(long, value_enum, default_value_t = ColorArg::Auto, value_name = "WHEN")]
    color: ColorArg,
}

/// How many files are judged at once, which of them, and the memory each
/// run may hold: shared by `run` and `check`.
#[derive(clap::Args, Debug)]
struct BatchArgs {
    /// Judge this many files at once (default: one per core). Output is the same
    /// and in the same order whatever the number.
    #[arg(long, short = 'j', value_name = "N", value_parser = clap::value_parser!(u32).range(1..=1024))]
    jobs: Option<u32>,
    /// Take a deterministic share of the files: K/N takes every N-th file of the
    /// sorted list, starting with the K-th (cargo-nextest's `count:K/N`). The N
    /// partitions together judge every file once; their reports stand alone.
    #[arg(long, value_name = "K/N")]
    partition: Option<Partition>,
    /// The most memory contents (pages stored to) the models may hold, in MiB; a
    /// trace that stores more stops with exit 2 instead of exhausting memory.
    #[arg(long, value_name = "MIB", default_value_t = 256)]
    max_contents: u64,
}

impl BatchArgs {
    fn jobs(&self) -> usize {
        let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
        self.jobs.map_or(cores, |j| j as usize)
    }

    /// `--max-contents` in bytes.
    fn max_contents(&self) -> Result<u64> {
        let n = self.max_contents;
        n.checked_mul(1 << 20)
            .with_context(|| format!("--max-contents {n}: expected a number of MiB below 2^44"))
    }
}

/// How far the linux backend's workers may go: shared by `run --backend
/// linux` and `diff`.
#[derive(clap::Args, Debug)]
struct WorkerArgs {
    /// A worker that has not answered one call after this many seconds is
    /// reported hung, with the call, and killed; the run goes on.
    #[arg(long, value_name = "SECONDS", default_value_t = 2.0, value_parser = deadline_parser)]
    deadline: f64,
    /// The MiB of mappings each worker may touch (stores, locks, MAP_POPULATE);
    /// later such calls are skipped, and counted as skipped.
    #[arg(long, value_name = "MIB", default_value_t = 1024, value_parser = clap::value_parser!(u64).range(1..=1 << 20))]
    touch_budget: u64,
}

impl WorkerArgs {
    /// Makes these the limits of every worker this process starts.
    fn apply(&self) {
        #[cfg(target_os = "linux")]
        mmoracle::backend::linux::use_worker_limits(
            std::time::Duration::from_secs_f64(self.deadline),
            self.touch_budget << 20,
        );
    }
}

/// A deadline: more than 0 and at most an hour.
fn deadline_parser(text: &str) -> std::result::Result<f64, String> {
    match text.parse::<f64>() {
        Ok(s) if s > 0.0 && s <= 3600.0 => Ok(s),
        _ => Err(format!(
            "`{text}`: expected a number of seconds above 0 and at most 3600"
        )),
    }
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum ColorArg {
    /// On a terminal, unless NO_COLOR is set.
    Auto,
    /// Always.
    Always,
    /// Never.
    Never,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum SpecFormat {
    /// For people.
    Text,
    /// One JSON document.
    Json,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum BackendArg {
    /// The model itself.
    Model,
    /// Real Linux system calls in worker processes (the linux profile only).
    Linux,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum)]
enum Format {
    /// For people: trace text escaped, long values clipped (spec/report-format.md).
    Text,
    /// One JSON document, versioned (spec/report-format.md).
    Json,
    /// JUnit XML, one test case per file.
    Junit,
}

/// `--profile`: one of the profile names, listed in `--help`.
fn profile_parser() -> impl clap::builder::TypedValueParser<Value = ProfileName> {
    use clap::builder::TypedValueParser as _;
    clap::builder::PossibleValuesParser::new(ProfileName::ALL.map(ProfileName::as_str))
        .try_map(|s| s.parse::<ProfileName>())
}

fn main() -> ExitCode {
    // A worker of the real backend: this binary re-executed in worker mode.
    #[cfg(target_os = "linux")]
    mmoracle::backend::linux::worker::run_if_worker();
    let cli = Cli::parse();
    match execute(cli) {
        Ok(code) => ExitCode::from(code),
        // The reader of our output went away (`| head`): what it read was
        // accepted, and there is no one left to tell anything to.
        Err(e) if is_broken_pipe(&e) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("mmoracle: {}", report::text::message(&format!("{e:#}")));
            ExitCode::from(2)
        }
    }
}

/// Whether `e` comes from writing to a pipe whose reader has closed it.
fn is_broken_pipe(e: &anyhow::Error) -> bool {
    e.chain().any(|c| {
        c.downcast_ref::<io::Error>()
            .is_some_and(|io| io.kind() == io::ErrorKind::BrokenPipe)
    })
}

fn execute(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run {
            inputs,
            backend,
            profile,
            output,
            report,
            batch,
            workers,
            rules,
        } => {
            workers.apply();
            let backend = match backend {
                BackendArg::Model => Backend::Model,
                BackendArg::Linux => Backend::Linux,
            };
            let opts = Options {
                profile,
                max_findings: report.max_findings,
                max_contents: batch.max_contents()?,
                ..Options::new(Mode::Run(backend))
            };
            let how = How {
                command: "run",
                report: &report,
                batch: &batch,
                rule_table: rules,
            };
            judge_all(&inputs, &opts, output.as_deref(), &how)
        }
        Command::Check {
            inputs,
            profile,
            strict,
            report,
            batch,
        } => {
            let opts = Options {
                profile,
                strict,
                max_findings: report.max_findings,
                max_contents: batch.max_contents()?,
                ..Options::new(Mode::Check)
            };
            let how = How {
                command: "check",
                report: &report,
                batch: &batch,
                rule_table: false,
            };
            judge_all(&inputs, &opts, None, &how)
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
        Command::Spec {
            rule: Some(id),
            coverage,
            format,
        } => {
            if !coverage.is_empty() || format != SpecFormat::Text {
                bail!("`spec RULE-ID` shows one rule as text; --coverage and --format apply to the whole list");
            }
            explain(&id, Path::new("traces"))
        }
        Command::Spec {
            rule: None,
            coverage,
            format,
        } => spec(&coverage, format),
        Command::Explain { rule, traces } => explain(&rule, &traces),
        #[cfg(target_os = "linux")]
        Command::Diff {
            cases,
            steps,
            seed,
            procs,
            regressions,
            workers,
        } => {
            use mmoracle::backend::linux::diff::{run_diff, DiffOptions};
            workers.apply();
            if let Some(why) = Backend::Linux.missing_privilege() {
                eprintln!("mmoracle diff: SKIPPED, nothing was run: {why}");
                return Ok(0);
            }
            let opts = DiffOptions {
                cases,
                steps,
                seed: seed.unwrap_or_else(clock_seed),
                procs,
                regressions,
            };
            eprintln!(
                "mmoracle diff: seeds {} to {}",
                opts.seed,
                opts.seed.wrapping_add(cases.saturating_sub(1))
            );
            let mut progress = Progress::new();
            let summary = run_diff(&opts, &mut |done, s| {
                let failed = format!("{} failed", s.failures.len());
                progress.show(done as usize, cases as usize, &failed, 0);
            });
            progress.finish();
            print!("{}", summary.text());
            Ok(u8::from(!summary.failures.is_empty()))
        }
        #[cfg(not(target_os = "linux"))]
        Command::Diff { .. } => bail!("`diff` needs the linux backend, which runs on Linux only"),
    }
}

fn clock_seed() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as u64)
}

/// Expands the command line's paths, telling the user on standard error what
/// was skipped. Unreadable paths are returned for the caller to report.
fn find_inputs(paths: &[PathBuf]) -> (Vec<Input>, Vec<String>) {
    let walk = files::expand(paths);
    for (path, why) in &walk.skipped {
        eprintln!(
            "mmoracle: skipped {}: {why}",
            report::text::escape(&path.display().to_string())
        );
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

/// Judges the `i`-th input, writing its trace where `outputs` says; runs on
/// any thread, with coverage of its own.
fn judge_one(
    input: &Input,
    i: usize,
    outputs: &Outputs,
    opts: &Options,
    mut tick: impl FnMut(u64),
) -> Result<(FileReport, Coverage)> {
    let name = input.name();
    let mut coverage = Coverage::new();
    let reader = match input.open() {
        Err(e) => return Ok((unreadable_report(&name, opts, &e.to_string()), coverage)),
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

/// The report of an input that could not be read.
fn unreadable_report(name: &str, opts: &Options, why: &str) -> FileReport {
    let mut r = FileReport::new(name, opts.profile.unwrap_or(ProfileName::Neutrino));
    r.error = Some(if why.starts_with(name) {
        why.to_string()
    } else {
        format!("{name}: {why}")
    });
    r
}

/// Renames a finished trace into place, or removes it when its input ended
/// on bad input (so no partial trace is left for `check` to accept).
fn keep_or_discard(out: Output, report: &FileReport) -> Result<()> {
    if report.not_applicable {
        return Ok(()); // Not run: there is no trace to write.
    }
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

/// A progress bar on standard error, only when it is a terminal outside CI,
/// and only once a run has taken longer than [`Progress::AFTER`]. Files
/// judged on other threads tick it too.
struct Progress {
    enabled: bool,
    start: Instant,
    bar: std::sync::OnceLock<ProgressBar>,
}

impl Progress {
    /// Short runs finish before a bar would be worth drawing.
    const AFTER: Duration = Duration::from_secs(1);

    fn new() -> Progress {
        Progress {
            enabled: io::stderr().is_terminal() && std::env::var_os("CI").is_none(),
            start: Instant::now(),
            bar: std::sync::OnceLock::new(),
        }
    }

    fn show(&self, index: usize, total: usize, name: &str, events: u64) {
        if !self.enabled || self.start.elapsed() < Self::AFTER {
            return;
        }
        let bar = self.bar.get_or_init(|| {
            let bar = ProgressBar::with_draw_target(Some(total as u64), ProgressDrawTarget::stderr());
            if let Ok(style) = ProgressStyle::with_template("{elapsed:>4} [{bar:30}] {pos}/{len} files  {wide_msg}") {
                bar.set_style(style.progress_chars("=> "));
            }
            bar
        });
        bar.set_position(index as u64);
        bar.set_message(format!("{events} events  {}", report::text::escape(name)));
    }

    /// Runs `write` with the bar out of the way, so output and bar do not mix.
    fn suspend<T>(&self, write: impl FnOnce() -> T) -> T {
        match self.bar.get() {
            Some(bar) => bar.suspend(write),
            None => write(),
        }
    }

    fn finish(&mut self) {
        if let Some(bar) = self.bar.take() {
            bar.finish_and_clear();
        }
    }
}

/// How `run` or `check` reports.
struct How<'a> {
    /// `run` or `check`, named in the summary line.
    command: &'static str,
    /// Format, finding cap, colour.
    report: &'a ReportArgs,
    /// Jobs, partition.
    batch: &'a BatchArgs,
    /// Whether to print the table of rules exercised (`run --rules`).
    rule_table: bool,
}

/// Whether a text report written to `stream` gets colour.
fn colour_for(choice: ColorArg, stream_is_terminal: bool) -> bool {
    match choice {
        ColorArg::Always => true,
        ColorArg::Never => false,
        // https://no-color.org: set and not empty means no colour.
        ColorArg::Auto => stream_is_terminal && std::env::var_os("NO_COLOR").is_none_or(|v| v.is_empty()),
    }
}

fn judge_all(paths: &[PathBuf], opts: &Options, output: Option<&Path>, how: &How<'_>) -> Result<u8> {
    let format = how.report.format;
    let (mut inputs, unreadable) = find_inputs(paths);
    if let Some(part) = how.batch.partition {
        let mut position = 0..;
        inputs.retain(|_| part.includes(position.next().unwrap_or(0)));
    }
    let outputs = Outputs::plan(output, &inputs, format)?;
    let mut progress = Progress::new();
    let mut coverage = Coverage::new();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut totals = Totals::for_command(how.command);
    // With the trace on standard output, the text report goes to standard error.
    let (mut text_out, terminal): (Box<dyn Write>, bool) = if matches!(outputs, Outputs::Stdout) {
        (Box::new(io::stderr()), io::stderr().is_terminal())
    } else {
        (Box::new(io::stdout().lock()), io::stdout().is_terminal())
    };
    let colour = colour_for(how.report.color, terminal);
    let paint = |text: String| {
        if colour {
            report::text::colorize(&text)
        } else {
            text
        }
    };
    let mut failure = None;
    let total = inputs.len() + unreadable.len();
    let mut deliver = |index: usize, report: FileReport| -> Result<()> {
        progress.show(index + 1, total, &report.path, 0);
        totals.add(&report);
        if format == Format::Text {
            let text = paint(report::file_text(&report));
            progress.suspend(|| text_out.write_all(text.as_bytes()))?;
        } else {
            // The text report is written as it goes; the other formats need
            // the findings at the end.
            reports.push(report);
        }
        Ok(())
    };
    batch::in_order(
        inputs.len(),
        how.batch.jobs(),
        |i| {
            let name = inputs[i].name();
            let tick = |n: u64| progress.show(i, total, &name, n);
            judge_one(&inputs[i], i, &outputs, opts, tick)
        },
        |i, result| {
            let delivered = result.and_then(|(report, file_coverage)| {
                coverage.absorb(file_coverage);
                deliver(i, report)
            });
            if let Err(e) = delivered {
                failure = failure.take().or(Some(e));
            }
        },
    );
    for (i, problem) in unreadable.iter().enumerate() {
        deliver(inputs.len() + i, unreadable_report(problem, opts, problem))?;
    }
    if let Some(e) = failure {
        return Err(e);
    }
    progress.finish();
    match format {
        Format::Text => {
            if how.rule_table {
                text_out.write_all(coverage.summary_text().as_bytes())?;
            }
            text_out.write_all(paint(totals.text()).as_bytes())?;
        }
        Format::Json => {
            let mut doc = report::json_report(&reports, &totals);
            if how.rule_table {
                doc["coverage"] = coverage.json();
            }
            writeln!(text_out, "{}", serde_json::to_string_pretty(&doc)?)?;
        }
        Format::Junit => text_out.write_all(report::junit_report(&reports, &totals).as_bytes())?,
    }
    text_out.flush()?;
    Ok(totals.exit_code())
}

/// Runs `paths` (traces where they have `ret`, the model's own outcomes
/// elsewhere) and counts which rules they exercise. Files that do not pass
/// are reported on standard error.
fn coverage_of(paths: &[PathBuf]) -> Result<(Coverage, Totals)> {
    let (inputs, unreadable) = find_inputs(paths);
    let opts = Options::new(Mode::Auto);
    let mut progress = Progress::new();
    let mut coverage = Coverage::new();
    let mut totals = Totals::for_command("spec");
    for (i, input) in inputs.iter().enumerate() {
        let name = input.name();
        let mut tick = |n: u64| progress.show(i, inputs.len(), &name, n);
        let reader = input.open().with_context(|| name.clone())?;
        let r = judge::<_, io::Sink>(reader, &name, &opts, Some(&mut coverage), None, &mut tick)?;
        if !r.passed() {
            progress.suspend(|| eprint!("{}", report::file_text(&r)));
        }
        totals.add(&r);
    }
    for problem in &unreadable {
        let r = unreadable_report(problem, &opts, problem);
        progress.suspend(|| eprint!("{}", report::file_text(&r)));
        totals.add(&r);
    }
    progress.finish();
    Ok((coverage, totals))
}

fn spec(dirs: &[PathBuf], format: SpecFormat) -> Result<u8> {
    let mut stdout = io::stdout().lock();
    if dirs.is_empty() {
        let rules = mmoracle::spec::sorted();
        match format {
            SpecFormat::Json => writeln!(
                stdout,
                "{}",
                serde_json::to_string_pretty(&serde_json::json!({ "rules": rules }))?
            )?,
            SpecFormat::Text => {
                for r in &rules {
                    writeln!(
                        stdout,
                        "{:<24} {}  (spec/{}:{}; {})",
                        r.id, r.title, r.file, r.line, r.profiles
                    )?;
                }
                writeln!(
                    stdout,
                    "{} rules (`mmoracle explain RULE-ID` shows one in full)",
                    rules.len()
                )?;
            }
        }
        stdout.flush()?;
        return Ok(0);
    }
    let (coverage, totals) = coverage_of(dirs)?;
    match format {
        SpecFormat::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&coverage.json())?)?,
        SpecFormat::Text => stdout.write_all(coverage.text().as_bytes())?,
    }
    stdout.flush()?;
    Ok(if totals.bad > 0 { 2 } else { 0 })
}

/// `explain RULE-ID`: the rule in full, and the shipped traces that exercise it.
fn explain(id: &str, traces: &Path) -> Result<u8> {
    let Some(rule) = mmoracle::spec::lookup(id) else {
        eprintln!("mmoracle: {}", mmoracle::spec::unknown(id));
        return Ok(2);
    };
    let place = traces.display().to_string();
    let text = if traces.as_os_str() == "none" {
        mmoracle::spec::explain(rule, &Exercised::NotLooked("--traces none"))
    } else if !traces.exists() {
        let why = format!("no {place} here: run from the repository's root, or give --traces DIR");
        mmoracle::spec::explain(rule, &Exercised::NotLooked(&why))
    } else {
        let (coverage, _) = coverage_of(&[traces.to_path_buf()])?;
        let exercised = Exercised::By {
            traces: coverage.traces_of(&rule.id),
            of: coverage.traces().len(),
            place: &place,
        };
        mmoracle::spec::explain(rule, &exercised)
    };
    let mut stdout = io::stdout().lock();
    stdout.write_all(text.as_bytes())?;
    stdout.flush()?;
    Ok(0)
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
