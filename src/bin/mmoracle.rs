//! The `mmoracle` command line: a thin layer over the library.

use anyhow::{bail, Context, Result};
use clap::{Parser, Subcommand, ValueEnum};
use mmoracle::gen::{generate, GenOptions};
use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::report::{self, FileReport, Totals};
use mmoracle::oracle::run::{judge, Backend, Mode, Options};
use mmoracle::trace::Writer;
use mmoracle::ProfileName;
use std::fs::File;
use std::io::{self, BufRead, BufReader, BufWriter, IsTerminal, Write};
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
        /// Scripts, or directories searched for *.jsonl (`-`: standard input).
        #[arg(required = true)]
        inputs: Vec<PathBuf>,
        /// The implementation that executes the calls.
        #[arg(long, value_enum, default_value_t = BackendArg::Model)]
        backend: BackendArg,
        /// The profile, overriding each header's.
        #[arg(long, value_parser = parse_profile)]
        profile: Option<ProfileName>,
        /// Write the trace here (`-`: standard output; a directory when there are several inputs).
        #[arg(short = 'o', long)]
        output: Option<PathBuf>,
        /// Report format.
        #[arg(long, value_enum, default_value_t = Format::Text)]
        format: Format,
    },
    /// Judge recorded traces: is every `ret` allowed by the model?
    #[command(after_help = "Examples:
  mmoracle check trace.jsonl
  mmoracle check traces/recorded --strict --format json
  mmoracle check traces/ --format junit > mmoracle.xml")]
    Check {
        /// Traces, or directories searched for *.jsonl (`-`: standard input).
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
    /// Real Linux system calls in worker processes (the linux profile only).
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
    // A worker of the real backend: this binary re-executed in worker mode.
    #[cfg(target_os = "linux")]
    mmoracle::backend::linux::worker::run_if_worker();
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
        } => {
            let backend = match backend {
                BackendArg::Model => Backend::Model,
                BackendArg::Linux => Backend::Linux,
            };
            let opts = Options {
                mode: Mode::Run(backend),
                profile,
                strict: false,
            };
            let dirs = inputs.iter().any(|p| p.is_dir());
            judge_all(&inputs, &opts, output.as_deref(), format, dirs)
        }
        Command::Check {
            inputs,
            profile,
            strict,
            format,
        } => {
            let opts = Options {
                mode: Mode::Check,
                profile,
                strict,
            };
            judge_all(&inputs, &opts, None, format, false)
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
        #[cfg(target_os = "linux")]
        Command::Diff {
            cases,
            steps,
            seed,
            procs,
            regressions,
        } => {
            use mmoracle::backend::linux::diff::{run_diff, DiffOptions};
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
            let progress = Progress::new();
            let summary = run_diff(&opts, &mut |done, s| {
                if progress.on {
                    eprint!("\r\x1b[K[{done}/{cases}] {} failed", s.failures.len());
                }
            });
            progress.clear();
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

/// One input: a file or standard input.
enum Input {
    Stdin,
    File(PathBuf),
}

impl Input {
    fn name(&self) -> String {
        match self {
            Input::Stdin => "-".into(),
            Input::File(p) => p.display().to_string(),
        }
    }

    fn open(&self) -> io::Result<Box<dyn BufRead>> {
        Ok(match self {
            Input::Stdin => Box::new(BufReader::new(io::stdin())),
            Input::File(p) => Box::new(BufReader::new(File::open(p)?)),
        })
    }
}

/// Files named on the command line, and the *.jsonl files under directories, sorted.
fn expand(paths: &[PathBuf]) -> Result<Vec<Input>> {
    let mut out = Vec::new();
    for p in paths {
        if p.as_os_str() == "-" {
            out.push(Input::Stdin);
        } else if p.is_dir() {
            let mut found = Vec::new();
            walk(p, &mut found).with_context(|| format!("reading directory {}", p.display()))?;
            found.sort();
            out.extend(found.into_iter().map(Input::File));
        } else if p.exists() {
            out.push(Input::File(p.clone()));
        } else {
            bail!("{}: no such file or directory", p.display());
        }
    }
    Ok(out)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            walk(&path, out)?;
        } else if path.extension().is_some_and(|e| e == "jsonl") {
            out.push(path);
        }
    }
    Ok(())
}

/// Where `run` writes the trace of one input.
fn output_for(output: Option<&Path>, input: &Input, several: bool) -> Result<Option<Box<dyn Write>>> {
    let Some(output) = output else { return Ok(None) };
    if output.as_os_str() == "-" {
        return Ok(Some(Box::new(BufWriter::new(io::stdout()))));
    }
    let path = if several {
        // The input's own path under the output directory, so that inputs
        // with the same name in different directories stay apart.
        let relative: PathBuf = match input {
            Input::Stdin => PathBuf::from("stdin.jsonl"),
            Input::File(p) => p
                .components()
                .filter(|c| matches!(c, std::path::Component::Normal(_)))
                .collect(),
        };
        let path = output.join(relative);
        let dir = path.parent().unwrap_or(output);
        std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        path
    } else {
        output.to_path_buf()
    };
    let file = File::create(&path).with_context(|| format!("creating {}", path.display()))?;
    Ok(Some(Box::new(BufWriter::new(file))))
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

fn judge_all(
    paths: &[PathBuf],
    opts: &Options,
    output: Option<&Path>,
    format: Format,
    rule_summary: bool,
) -> Result<u8> {
    let inputs = expand(paths)?;
    let to_stdout = output.is_some_and(|o| o.as_os_str() == "-");
    if to_stdout && inputs.len() > 1 {
        bail!("`-o -` writes one trace; give one input, or a directory to -o");
    }
    if to_stdout && format != Format::Text {
        bail!("`-o -` and --format {format:?} would both write to standard output");
    }
    let progress = Progress::new();
    let mut coverage = Coverage::new();
    let mut reports: Vec<FileReport> = Vec::new();
    let mut totals = Totals::default();
    // With the trace on standard output, the text report goes to standard error.
    let mut text_out: Box<dyn Write> = if to_stdout {
        Box::new(io::stderr())
    } else {
        Box::new(io::stdout().lock())
    };
    for (i, input) in inputs.iter().enumerate() {
        let name = input.name();
        progress.show(i, inputs.len(), &name, 0);
        let mut tick = |n: u64| progress.show(i, inputs.len(), &name, n);
        let report = match input.open() {
            Err(e) => {
                let mut r = FileReport::new(&name, opts.profile.unwrap_or(ProfileName::Neutrino));
                r.error = Some(format!("{name}: {e}"));
                r
            }
            Ok(reader) => {
                let out = output_for(output, input, inputs.len() > 1)?;
                let mut writer = out.map(Writer::new);
                judge(reader, &name, opts, Some(&mut coverage), writer.as_mut(), &mut tick)?
            }
        };
        progress.clear();
        totals.add(&report);
        if format == Format::Text {
            text_out.write_all(report::file_text(&report).as_bytes())?;
        }
        reports.push(report);
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
    let inputs = expand(dirs)?;
    let opts = Options {
        mode: Mode::Auto,
        profile: None,
        strict: false,
    };
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
    match format {
        Format::Json => writeln!(stdout, "{}", serde_json::to_string_pretty(&coverage.json())?)?,
        _ => stdout.write_all(coverage.text().as_bytes())?,
    }
    Ok(if totals.bad > 0 { 2 } else { 0 })
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
