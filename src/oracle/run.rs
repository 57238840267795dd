//! Drives a trace or script through the oracle: read an event, get the
//! observed outcome (recorded, or from a backend), judge it, check `expect`,
//! bind the result, write the event out. One event in memory at a time.

use super::coverage::Coverage;
use super::report::{text::clip, FileReport, Finding, FindingKind};
use super::{Judgement, Oracle};
use crate::call::Outcome;
use crate::error::{Error, TraceError};
use crate::manager::{Incident, MemoryManager};
use crate::model::Model;
use crate::profile::{ProfileName, MAX_RAM_VARIANTS};
use crate::trace::{Bindings, Event, Header, Next, RawEvent, Reader, Writer};
use std::io::{BufRead, Write};

/// Where observed outcomes come from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Mode {
    /// From each event's `ret` (`mmoracle check`); an event without one is bad input.
    Check,
    /// From a backend executing each call (`mmoracle run`); `ret` is ignored.
    Run(Backend),
    /// From `ret` where present, else the model's own outcome (coverage of a
    /// directory holding both scripts and traces).
    Auto,
}

/// An implementation that executes scripts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backend {
    /// The model itself.
    Model,
    /// Real Linux system calls in worker processes (src/backend/linux).
    Linux,
}

impl Backend {
    /// A fresh backend standing for `profile`.
    pub fn start(self, profile: ProfileName) -> Result<Box<dyn MemoryManager>, Error> {
        match self {
            Backend::Model => Ok(Box::new(Model::new(profile))),
            #[cfg(target_os = "linux")]
            Backend::Linux => crate::backend::linux::LinuxBackend::start(profile, Default::default())
                .map(|b| Box::new(b) as Box<dyn MemoryManager>)
                .map_err(|e| Error::Usage(e.to_string())),
            #[cfg(not(target_os = "linux"))]
            Backend::Linux => Err(Error::Usage("the linux backend runs on Linux only".into())),
        }
    }

    /// Why this backend cannot run the linux profile's first process here,
    /// if it cannot: that process is root (spec/processes.md).
    pub fn missing_privilege(self) -> Option<String> {
        #[cfg(target_os = "linux")]
        if self == Backend::Linux && !rustix::process::geteuid().is_root() {
            return Some("the linux profile's first process is root, and this run is not: scripts are not run".into());
        }
        None
    }

    /// The one profile this backend stands for, if it is not every profile.
    pub fn only_profile(self) -> Option<ProfileName> {
        match self {
            Backend::Model => None,
            Backend::Linux => Some(ProfileName::Linux),
        }
    }
}

/// How to judge.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Options {
    /// Where outcomes come from.
    pub mode: Mode,
    /// The profile, overriding the header's.
    pub profile: Option<ProfileName>,
    /// Accept only the deterministic outcome.
    pub strict: bool,
    /// The most bytes of memory contents the models of this process may hold
    /// at once (`--max-contents`); a trace that stores more stops, as bad input.
    pub max_contents: u64,
    /// The findings kept per file (`--max-findings`; later ones are counted).
    pub max_findings: usize,
}

/// The default contents budget: 256 MiB of stored pages.
pub const DEFAULT_MAX_CONTENTS: u64 = 256 << 20;

impl Options {
    /// Judging in `mode`, with the header's profile, not strict, the default
    /// contents budget and the default number of findings kept.
    pub fn new(mode: Mode) -> Options {
        Options {
            mode,
            profile: None,
            strict: false,
            max_contents: DEFAULT_MAX_CONTENTS,
            max_findings: super::report::MAX_FINDINGS,
        }
    }
}

/// Called with the number of events judged so far, every [`PROGRESS_EVERY`] events.
pub type Progress<'a> = &'a mut dyn FnMut(u64);

/// How often progress is reported, in events.
pub const PROGRESS_EVERY: u64 = 1 << 14;

/// Judges a whole trace held in memory and returns the report with the
/// trace written (every `ret` filled in): for tests, fuzzing and tools.
pub fn judge_text(text: &[u8], name: &str, opts: &Options, coverage: Option<&mut Coverage>) -> (FileReport, String) {
    let mut out = Writer::new(Vec::new());
    let mut progress = |_: u64| {};
    let report = judge(
        std::io::Cursor::new(text),
        name,
        opts,
        coverage,
        Some(&mut out),
        &mut progress,
    )
    .expect("writing to memory cannot fail");
    (report, String::from_utf8_lossy(&out.into_inner()).into_owned())
}

/// Judges one trace or script read from `input` (named `name` in messages).
/// Bad input ends the file and is recorded in the report; only a failure to
/// write `out` is an `Err`.
pub fn judge<R: BufRead, W: Write>(
    input: R,
    name: &str,
    opts: &Options,
    coverage: Option<&mut Coverage>,
    out: Option<&mut Writer<W>>,
    progress: Progress<'_>,
) -> Result<FileReport, Error> {
    let mut reader = match Reader::new(input, name) {
        Ok(r) => r,
        Err(Error::Trace(e)) => return Ok(bad_file(name, opts, e.to_string())),
        Err(e) => return Ok(bad_file(name, opts, e.to_string())),
    };
    let profile = opts
        .profile
        .or(reader.header().profile)
        .unwrap_or(ProfileName::Neutrino);
    if let Mode::Run(b) = opts.mode {
        let written_for = reader.header().profile.unwrap_or(ProfileName::Neutrino);
        if b.only_profile().is_some_and(|p| p != written_for) {
            let mut r = FileReport::new(name, written_for);
            r.not_applicable = true;
            return Ok(r);
        }
        if let Some(why) = b.missing_privilege() {
            let mut r = FileReport::new(name, written_for);
            r.not_applicable = true;
            r.findings.push(Finding {
                line: 0,
                pid: crate::types::Pid(1),
                call: "(the whole script)".into(),
                resolved: None,
                kind: FindingKind::Backend {
                    note: format!("SKIPPED: {why}"),
                    failure: false,
                },
            });
            return Ok(r);
        }
    }
    // A real kernel has this machine's memory, whatever a recording's header
    // says, and the recording made now says so in its own header.
    let on_kernel = matches!(opts.mode, Mode::Run(b) if b != Backend::Model);
    let knobs = if on_kernel {
        Some(profile.profile())
    } else {
        reader.header().knobs(profile)
    };
    let Some(knobs) = knobs else {
        let why = format!(
            "{name}: header `ram`: this run has met more than {MAX_RAM_VARIANTS} different values; judge fewer files at once"
        );
        return Ok(bad_file(name, opts, why));
    };
    let mut run = FileRun {
        oracle: Oracle::with_profile(knobs, opts.strict),
        env: Bindings::new(knobs),
        // The model as a backend is the oracle's own model: a second copy
        // would make the same choices at twice the cost in time and memory.
        backend: match opts.mode {
            Mode::Run(b) if b != Backend::Model => Some(b.start(profile)?),
            _ => None,
        },
        report: FileReport {
            max_findings: opts.max_findings,
            ..FileReport::new(name, profile)
        },
        mode: opts.mode,
        trace_index: 0,
        stopped: false,
        out_of_step: Default::default(),
        quiet: Default::default(),
        not_observed: None,
    };
    let mut coverage = coverage;
    if let Some(c) = coverage.as_deref_mut() {
        run.trace_index = c.add_trace(name);
    }
    let mut out = out;
    if let Some(w) = out.as_deref_mut() {
        let header = Header {
            profile: Some(profile),
            ram: if on_kernel {
                Some(knobs.ram_bytes)
            } else {
                reader.header().ram
            },
            ..reader.header().clone()
        };
        let path = || name.to_string();
        w.header(&header).map_err(|e| io_error(path(), e))?;
        for c in reader.take_leading_comments() {
            w.comment(&c).map_err(|e| io_error(path(), e))?;
        }
    }
    loop {
        let item = match reader.next_event(&run.env) {
            Ok(Some(item)) => item,
            Ok(None) => break,
            Err(e) => {
                run.report.error = Some(e.to_string());
                break;
            }
        };
        let written = match item {
            Next::Comment(text) => out.as_deref_mut().map(|w| w.comment(&text)),
            Next::Event { mut event, raw } => {
                let line = event.line;
                let raw = LazyRaw::new(&reader, raw);
                // By reference: an event is 200 bytes, and moving it cost 2% of a check.
                let observed = match run.event(&raw, &mut event, coverage.as_deref_mut()) {
                    Ok(o) => o,
                    Err(e) => {
                        run.report.error = Some(e.to_string());
                        break;
                    }
                };
                if run.report.events % PROGRESS_EVERY == 0 {
                    progress(run.report.events);
                }
                if let Some(e) = over_budget(&reader, line, opts.max_contents) {
                    run.report.error = Some(e.to_string());
                    break;
                }
                let note = run.not_observed.take();
                out.as_deref_mut().map(|w| {
                    // A `ret` the backend did not produce says so, in a comment before it.
                    if let Some(note) = note {
                        let text = note.replace(['\n', '\r'], " ");
                        w.comment(&format!(
                            "# not observed: the backend {text}; ret is the model's outcome"
                        ))?;
                    }
                    w.event(raw.get(), Some(&observed))
                })
            }
        };
        if let Some(Err(e)) = written {
            return Err(io_error(name.to_string(), e));
        }
        if run.stopped {
            break;
        }
    }
    if let Some(w) = out {
        w.flush().map_err(|e| io_error(name.to_string(), e))?;
    }
    Ok(run.report)
}

/// The error that stops a trace once the models hold more contents than
/// `budget` bytes: memory stays bounded instead of running out.
fn over_budget<R: BufRead>(reader: &Reader<R>, line: u64, budget: u64) -> Option<TraceError> {
    let stored = crate::model::contents::stored_bytes();
    (stored > budget).then(|| {
        let msg = format!(
            "memory contents over budget: the stores so far hold {} KiB of pages, more than the budget of {} KiB; \
             raise it with --max-contents (in MiB) if the machine has the memory",
            stored >> 10,
            budget >> 10
        );
        reader.error(line, 0, msg)
    })
}

fn io_error(path: String, source: std::io::Error) -> Error {
    Error::Io {
        path: path.into(),
        source,
    }
}

fn bad_file(name: &str, opts: &Options, error: String) -> FileReport {
    let mut r = FileReport::new(name, opts.profile.unwrap_or(ProfileName::Neutrino));
    r.error = Some(error);
    r
}

/// The current line's event as written, read from the line only when a
/// finding or the output needs it (the reader's fast path does not build it).
struct LazyRaw<'r, R> {
    reader: &'r Reader<R>,
    raw: std::cell::OnceCell<Box<RawEvent>>,
}

impl<'r, R: BufRead> LazyRaw<'r, R> {
    /// The current line's event, with its written form if the reader built it.
    fn new(reader: &'r Reader<R>, raw: Option<Box<RawEvent>>) -> LazyRaw<'r, R> {
        LazyRaw {
            reader,
            raw: raw.map_or_else(std::cell::OnceCell::new, std::cell::OnceCell::from),
        }
    }

    /// The event as written.
    fn get(&self) -> &RawEvent {
        self.raw.get_or_init(|| {
            // The fast path reads only lines the slow path reads too (debug
            // builds check each one).
            Box::new(
                self.reader
                    .current_raw()
                    .expect("a line the fast path read is a valid event"),
            )
        })
    }
}

/// The state of one file's run.
struct FileRun {
    oracle: Oracle,
    env: Bindings,
    backend: Option<Box<dyn MemoryManager>>,
    report: FileReport,
    mode: Mode,
    trace_index: u32,
    /// A backend's worker was lost: the rest of the file cannot run.
    stopped: bool,
    /// Processes whose kernel state went apart from the model's, and the line where.
    out_of_step: std::collections::BTreeMap<crate::types::Pid, u64>,
    /// Out-of-step processes whose "not judged" finding has been reported once.
    quiet: std::collections::BTreeSet<crate::types::Pid>,
    /// Why the last event's outcome is the model's, not the backend's.
    not_observed: Option<String>,
}

impl FileRun {
    /// A process the model made (spawn, fork) for a caller out of step with
    /// it: the implementation made none, or one from a state that differs
    /// (a fork copies the caller), so the child is out of step too.
    fn child_out_of_step(&mut self, outcome: &Outcome, line: u64) {
        if let Outcome::Ok(crate::call::Value::Pid(child)) = outcome {
            self.out_of_step.entry(*child).or_insert(line);
        }
    }

    /// A call the implementation did not run, which the model applied to
    /// another process (setrlimit of a target, a peer mapping): that
    /// process's kernel state is now apart from the model's too.
    fn target_out_of_step(&mut self, event: &Event, outcome: &Outcome) {
        if !matches!(outcome, Outcome::Ok(_)) {
            return;
        }
        if let Some(other) = event.call.other_process_changed(event.pid) {
            self.out_of_step.entry(other).or_insert(event.line);
        }
        // A name, a file or shared bytes the kernel did not get: every
        // process may see the difference.
        if self.oracle.model().changes_what_others_see(event.pid, &event.call) {
            let pids: Vec<_> = self.oracle.model().processes().map(|p| p.pid).collect();
            for pid in pids {
                self.out_of_step.entry(pid).or_insert(event.line);
            }
        }
    }

    /// Judges one event and returns the observed outcome.
    fn event<R: BufRead>(
        &mut self,
        raw: &LazyRaw<'_, R>,
        event: &mut Event,
        coverage: Option<&mut Coverage>,
    ) -> Result<Outcome, TraceError> {
        let reader = raw.reader;
        if self.model_is_the_implementation(event) {
            let (observed, judgement) = self.oracle.step_own(event.pid, &event.call);
            return Ok(self.record(raw, event, observed, judgement, false, coverage));
        }
        let mut observed = self.observe(reader, event)?;
        let mut incident = self.backend.as_mut().and_then(|b| b.take_incident());
        if let (None, Some(since)) = (&incident, self.out_of_step.get(&event.pid)) {
            // The kernel and the model went apart for this process earlier.
            incident = Some(Incident::Skipped(format!(
                "pid {} is out of step with the model since line {since}: not judged",
                event.pid
            )));
            if self.quiet.contains(&event.pid) {
                self.not_observed = incident.as_ref().map(|i| i.to_string());
                observed = self.oracle.model().evaluate(event.pid, &event.call).outcome;
                self.child_out_of_step(&observed, event.line);
                self.target_out_of_step(event, &observed);
                self.report.skipped += 1;
                self.oracle.judge(event.pid, &event.call, &observed);
                self.report.events += 1;
                if let Some(name) = &event.bind {
                    self.env.bind(name, event.call.value_kind(), &observed, event.line);
                }
                return Ok(observed);
            }
            self.quiet.insert(event.pid);
        }
        if let Some(incident) = &incident {
            // Not run (or not to the end): the model's own outcome keeps the run in step.
            observed = self.oracle.model().evaluate(event.pid, &event.call).outcome;
            self.not_observed = Some(incident.to_string());
            let caller_apart = self.out_of_step.contains_key(&event.pid);
            if let Incident::OutOfStep(_) = incident {
                self.out_of_step.entry(event.pid).or_insert(event.line);
            }
            if caller_apart || matches!(incident, Incident::OutOfStep(_)) {
                self.child_out_of_step(&observed, event.line);
            }
            self.target_out_of_step(event, &observed);
            self.stopped = matches!(incident, Incident::WorkerLost(_));
            self.report.add(Finding {
                line: event.line,
                pid: event.pid,
                call: describe(raw.get(), &self.env),
                resolved: Some(event.call.clone()),
                kind: FindingKind::Backend {
                    note: incident.to_string(),
                    failure: self.stopped,
                },
            });
        }
        let judgement = self.oracle.judge(event.pid, &event.call, &observed);
        if incident.is_none() {
            self.compare_counters(event, raw);
        }
        let skipped = matches!(incident, Some(Incident::Skipped(_) | Incident::OutOfStep(_)));
        Ok(self.record(raw, event, observed, judgement, skipped, coverage))
    }

    /// Records an event's judgement, checks its `expect` (unless the backend
    /// skipped it) and binds its result; returns the observed outcome.
    fn record<R: BufRead>(
        &mut self,
        raw: &LazyRaw<'_, R>,
        event: &Event,
        observed: Outcome,
        judgement: Judgement,
        skipped: bool,
        coverage: Option<&mut Coverage>,
    ) -> Outcome {
        let describe = || describe(raw.get(), &self.env);
        match judgement {
            Judgement::Allowed { rule, .. } => {
                if let Some(c) = coverage {
                    c.record(self.trace_index, rule);
                }
            }
            Judgement::Divergence(d) => self.report.add(Finding {
                line: event.line,
                pid: event.pid,
                call: describe(),
                resolved: Some(event.call.clone()),
                kind: FindingKind::Divergence(d),
            }),
        }
        if let Some(expect) = event.expect.as_ref().filter(|x| !skipped && !x.met_by(&observed)) {
            self.report.add(Finding {
                line: event.line,
                pid: event.pid,
                call: describe(),
                resolved: Some(event.call.clone()),
                kind: FindingKind::Unmet {
                    expected: expect.clone(),
                    observed: observed.clone(),
                },
            });
        }
        if let Some(name) = &event.bind {
            self.env.bind(name, event.call.value_kind(), &observed, event.line);
        }
        self.report.events += 1;
        observed
    }

    /// Whether the outcome is the model's own: `run` on the model, or a
    /// script's event in a coverage run. The oracle's model then executes the
    /// call itself, once; a second model would only make the same choices.
    fn model_is_the_implementation(&self, event: &Event) -> bool {
        match self.mode {
            Mode::Run(backend) => backend == Backend::Model,
            Mode::Auto => event.ret.is_none(),
            Mode::Check => false,
        }
    }

    /// Reports a difference between the backend's measured counters and the
    /// model's, after the call (like an outcome divergence).
    fn compare_counters<R: BufRead>(&mut self, event: &Event, raw: &LazyRaw<'_, R>) {
        let (pid, line) = (event.pid, event.line);
        let Some(real) = self.backend.as_ref().and_then(|b| b.counters(pid)) else {
            return;
        };
        let Some(model) = self.oracle.model().process(pid).map(|p| p.space.counters()) else {
            return;
        };
        if real == model {
            return;
        }
        let note = format!(
            "counters after the call: the kernel has VmSize {:#x}, VmData {:#x}, VmLck {:#x} \
             (start-up usage subtracted); the model has total {:#x}, data {:#x}, locked {:#x}",
            real.total, real.data, real.locked, model.total, model.data, model.locked
        );
        self.report.add(Finding {
            line,
            pid,
            call: describe(raw.get(), &self.env),
            resolved: Some(event.call.clone()),
            kind: FindingKind::Backend { note, failure: true },
        });
    }

    /// The observed outcome: the backend's, or the event's `ret` (moved out:
    /// nothing after this reads it).
    fn observe<R: BufRead>(&mut self, reader: &Reader<R>, event: &mut Event) -> Result<Outcome, TraceError> {
        match (self.mode, event.ret.take(), self.backend.as_mut()) {
            (Mode::Run(_), _, Some(backend)) => Ok(backend.execute(event.pid, &event.call)),
            (Mode::Check | Mode::Auto, Some(ret), _) => Ok(ret),
            _ => Err(reader.error(
                event.line,
                0,
                "event has no \"ret\": `check` judges traces that record what an implementation did; use `run` to execute a script",
            )),
        }
    }
}

/// The call as written, with each expression followed by its value:
/// `mmap(addr=$a+4096=0x40001000, len=4096, ...)`. Long arguments (a 1 MiB
/// store's data, a huge expression) are clipped with their length given.
pub fn describe(raw: &RawEvent, env: &Bindings) -> String {
    let args: Vec<String> = raw
        .args
        .iter()
        .map(|f| match f.value.as_str() {
            Some(s) if crate::trace::value::is_expression(s) => match env.eval(s) {
                Ok(v) if v < 0 => format!("{}={}={v}", f.name, clip(s)),
                Ok(v) => format!("{}={}={v:#x}", f.name, clip(s)),
                Err(_) => format!("{}={}", f.name, clip(s)),
            },
            Some(s) => format!("{}={}", f.name, clip(s)),
            None => format!("{}={}", f.name, clip(&f.value.to_string())),
        })
        .collect();
    format!("{}({})", raw.call.value.as_str().unwrap_or("?"), args.join(", "))
}
