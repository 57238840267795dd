//! What a run found, for people (text) and for CI systems (JSON, JUnit XML),
//! and the drawing of a process's state around a divergence.
//!
//! The JSON report is versioned and described in spec/report-format.md.

pub mod text;

use super::Divergence;
use crate::call::{Call, Outcome, Value};
use crate::model::object::ObjKind;
use crate::model::process::Process;
use crate::model::region::{Backing, Region};
use crate::model::space::Counters;
use crate::model::Model;
use crate::profile::ProfileName;
use crate::trace::value::{limit_json, outcome_json};
use crate::trace::{Expect, Pattern};
use crate::types::{parse_hex, AddrRange, Pid, Prot, Resource, Rlimit, RLIM_INFINITY};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;

/// The findings kept per file unless `--max-findings` says otherwise; later
/// ones are counted, not kept, so a report's memory does not grow with the
/// length of a trace.
pub const MAX_FINDINGS: usize = 100;

/// The `format` of the JSON report.
pub const REPORT_FORMAT: &str = "mmoracle-report";
/// The version of the JSON report this crate writes (spec/report-format.md).
pub const REPORT_VERSION: u64 = 1;

/// Pages drawn in a state map.
const MAP_PAGES: u64 = 48;
/// Pages drawn before the address of interest.
const MAP_BEFORE: u64 = 8;
/// Regions listed under a state map.
const MAP_REGIONS: usize = 8;

/// Something wrong with one event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The line of the event.
    pub line: u64,
    /// The calling process.
    pub pid: Pid,
    /// The call as written, with expressions and their values.
    pub call: String,
    /// The call with every expression evaluated (the JSON report writes it
    /// as a trace-format event); `None` for a finding about a whole script.
    pub resolved: Option<Call>,
    /// What is wrong.
    pub kind: FindingKind,
}

/// The two ways an event can fail.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum FindingKind {
    /// The outcome is not allowed by the model.
    Divergence(Box<Divergence>),
    /// The outcome does not meet the author's `expect`.
    Unmet {
        /// What `expect` accepts.
        expected: Expect,
        /// What happened.
        observed: Outcome,
    },
    /// What a real backend reported about the call: a skipped call (not a
    /// failure, counted as skipped), a lost worker or a counter divergence
    /// (failures, counted as divergences).
    Backend {
        /// What happened.
        note: String,
        /// Whether it fails the file.
        failure: bool,
    },
}

/// The result of one trace or script.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FileReport {
    /// The file as named on the command line or found in a directory.
    pub path: String,
    /// The profile it was judged against.
    pub profile: ProfileName,
    /// Events judged.
    pub events: u64,
    /// Divergences found (all of them, even past `max_findings`).
    pub divergences: u64,
    /// Unmet expectations found.
    pub unmet: u64,
    /// The first `max_findings` findings.
    pub findings: Vec<Finding>,
    /// How many findings are kept (`--max-findings`).
    pub max_findings: usize,
    /// Why the file could not be read to the end (bad input).
    pub error: Option<String>,
    /// Calls the backend skipped (they are neither passed nor failed).
    pub skipped: u64,
    /// The script was written for a profile the backend does not stand for; not run.
    pub not_applicable: bool,
}

impl FileReport {
    /// An empty report for `path`, keeping [`MAX_FINDINGS`] findings.
    pub fn new(path: impl Into<String>, profile: ProfileName) -> FileReport {
        FileReport {
            path: path.into(),
            profile,
            events: 0,
            divergences: 0,
            unmet: 0,
            findings: Vec::new(),
            max_findings: MAX_FINDINGS,
            error: None,
            skipped: 0,
            not_applicable: false,
        }
    }

    /// Records a finding (keeping at most `max_findings`).
    pub fn add(&mut self, finding: Finding) {
        match finding.kind {
            FindingKind::Divergence(_) => self.divergences += 1,
            FindingKind::Unmet { .. } => self.unmet += 1,
            FindingKind::Backend { failure: true, .. } => self.divergences += 1,
            FindingKind::Backend { failure: false, .. } => self.skipped += 1,
        }
        if self.findings.len() < self.max_findings {
            self.findings.push(finding);
        }
    }

    /// Whether every event conformed and met its expectation.
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.not_applicable && self.divergences == 0 && self.unmet == 0
    }
}

/// A process's state before a divergent call, as data: the regions around
/// the call (or its first regions), its counters, its limits.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct StateSummary {
    /// The process (`None`: it does not exist).
    pub pid: Option<Pid>,
    /// The regions shown, in address order.
    pub regions: Vec<RegionSummary>,
    /// How many regions there are in the window (or in all) shown.
    pub regions_total: usize,
    /// Bytes mapped, counted against RLIMIT_DATA, locked.
    pub counters: Counters,
    /// Every limit of the process.
    pub limits: Vec<(Resource, Rlimit)>,
    /// Open file descriptors.
    pub fds: usize,
}

/// One region as data.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RegionSummary {
    /// The addresses it covers.
    pub range: AddrRange,
    /// Its protection.
    pub prot: Prot,
    /// MAP_SHARED (else private).
    pub shared: bool,
    /// Locked in memory.
    pub locked: bool,
    /// What it maps: `anonymous`, `anonymous object`, `shm`, `physical`, `server file`.
    pub backing: &'static str,
    /// The shared-memory object's name, when it has one.
    pub name: Option<String>,
    /// The offset into the object of the region's start.
    pub offset: u64,
}

impl StateSummary {
    /// The summary as JSON (spec/report-format.md, "state").
    pub fn json(&self) -> Json {
        let mut limits = serde_json::Map::new();
        for (r, l) in &self.limits {
            limits.insert(
                r.name().to_string(),
                json!({"cur": limit_json(l.cur), "max": limit_json(l.max)}),
            );
        }
        json!({
            "pid": self.pid.map(|p| p.0),
            "regions": self.regions.iter().map(RegionSummary::json).collect::<Vec<_>>(),
            "regions_total": self.regions_total,
            "counters": {
                "total": self.counters.total,
                "data": self.counters.data,
                "locked": self.counters.locked,
            },
            "limits": limits,
            "fds": self.fds,
        })
    }
}

impl RegionSummary {
    fn of(model: &Model, r: &Region) -> RegionSummary {
        let (backing, name) = match r.backing {
            Backing::Zero => ("anonymous", None),
            Backing::Object(id) => match model.objects().get(id).map(|o| &o.kind) {
                Some(ObjKind::Anon) => ("anonymous object", None),
                Some(ObjKind::Shm { name, .. }) => ("shm", name.clone()),
                Some(ObjKind::Phys) => ("physical", None),
                Some(ObjKind::File { .. }) => ("server file", None),
                None => ("object", None),
            },
        };
        RegionSummary {
            range: r.range,
            prot: r.prot,
            shared: r.shared,
            locked: r.locked,
            backing,
            name,
            offset: r.offset,
        }
    }

    fn json(&self) -> Json {
        json!({
            "start": self.range.start().to_string(),
            "end": self.range.end().to_string(),
            "prot": serde_json::to_value(self.prot).unwrap_or(Json::Null),
            "shared": self.shared,
            "locked": self.locked,
            "backing": self.backing,
            "name": self.name,
            "offset": format!("{:#x}", self.offset),
        })
    }
}

/// `pid`'s state around `focus` as data: the same regions [`render_state`] lists.
pub fn state_summary(model: &Model, pid: Pid, focus: Option<(u64, u64)>) -> StateSummary {
    let Some(proc) = model.process(pid) else {
        return StateSummary::default();
    };
    let (regions, total): (Vec<&Region>, usize) = match focus.map(|(addr, _)| map_window(model, addr)) {
        Some(Some(w)) => (
            proc.space.overlapping(w).take(MAP_REGIONS).collect(),
            proc.space.overlapping(w).count(),
        ),
        Some(None) => (Vec::new(), 0),
        None => (
            proc.space.regions().take(MAP_REGIONS).collect(),
            proc.space.region_count(),
        ),
    };
    StateSummary {
        pid: Some(pid),
        regions: regions.into_iter().map(|r| RegionSummary::of(model, r)).collect(),
        regions_total: total,
        counters: proc.space.counters(),
        limits: Resource::ALL.iter().map(|r| (*r, proc.limit(*r))).collect(),
        fds: proc.fds().len(),
    }
}

/// The first and end address a state map around `addr` draws: [`MAP_PAGES`]
/// pages from [`MAP_BEFORE`] pages before the one holding `addr`.
fn map_bounds(page: u64, addr: u64) -> (u64, u64) {
    let start = (addr / page).saturating_sub(MAP_BEFORE) * page;
    (start, start.saturating_add(MAP_PAGES * page))
}

/// The addresses a state map around `addr` draws, as a range.
fn map_window(model: &Model, addr: u64) -> Option<AddrRange> {
    let (start, end) = map_bounds(model.profile().page_size, addr);
    AddrRange::from_bounds(crate::types::Addr(start), crate::types::Addr(end))
}

/// The address range a finding is about: the observed address of an mmap,
/// else the call's own `addr` and `len` (or the length of its `data`).
pub fn focus(call: &Call, observed: &Outcome) -> Option<(u64, u64)> {
    let args = serde_json::to_value(call).ok()?;
    let field = |k: &str| args.get(k);
    let number = |v: &Json| v.as_u64().or_else(|| v.as_str().and_then(parse_hex));
    let len = field("len")
        .and_then(number)
        .or_else(|| field("data").and_then(Json::as_str).map(|d| d.len() as u64 / 2))
        .unwrap_or(0);
    if let Outcome::Ok(Value::Addr(a)) = observed {
        return Some((a.0, len));
    }
    Some((field("addr").and_then(number)?, len))
}

/// Draws `pid`'s regions around `focus` as a small text map, lists them, and
/// sets its usage against its limits.
pub fn render_state(model: &Model, pid: Pid, focus: Option<(u64, u64)>) -> String {
    let Some(proc) = model.process(pid) else {
        return format!("pid {pid} does not exist\n");
    };
    let mut out = String::new();
    let page = model.profile().page_size;
    match focus {
        Some((addr, len)) => draw_map(&mut out, model, proc, page, addr, len),
        None => list_regions(
            &mut out,
            model,
            proc.space.regions().take(MAP_REGIONS),
            proc.space.region_count(),
        ),
    }
    usage(&mut out, proc);
    out
}

fn draw_map(out: &mut String, model: &Model, proc: &Process, page: u64, addr: u64, len: u64) {
    let (start, end) = map_bounds(page, addr);
    let mut cells = String::new();
    let mut marks = String::new();
    let target_end = addr.saturating_add(len.max(1));
    for i in 0..MAP_PAGES {
        let Some(at) = start.checked_add(i * page) else { break };
        cells.push(proc.space.region_at(crate::types::Addr(at)).map_or('.', page_char));
        let hit = at < target_end && at.saturating_add(page) > addr;
        marks.push(if hit { '^' } else { ' ' });
    }
    let _ = writeln!(
        out,
        "pid {} around {addr:#x} (a character per page: . free, - PROT_NONE, r read, w write, x exec; capital: locked):",
        proc.pid
    );
    let label = format!("{start:#x}");
    let _ = writeln!(out, "  {label} {cells} {end:#x}");
    let _ = writeln!(out, "  {:width$} {}", "", marks.trim_end(), width = label.len());
    match map_window(model, addr) {
        Some(w) => {
            let near: Vec<&Region> = proc.space.overlapping(w).collect();
            list_regions(out, model, near.iter().copied().take(MAP_REGIONS), near.len());
        }
        None => list_regions(out, model, std::iter::empty(), 0),
    }
}

fn page_char(r: &Region) -> char {
    let c = if r.prot.contains(Prot::EXEC) {
        'x'
    } else if r.prot.contains(Prot::WRITE) {
        'w'
    } else if r.prot.contains(Prot::READ) {
        'r'
    } else {
        '-'
    };
    if r.locked {
        c.to_ascii_uppercase()
    } else {
        c
    }
}

fn list_regions<'a>(out: &mut String, model: &Model, regions: impl Iterator<Item = &'a Region>, total: usize) {
    let mut shown = 0;
    for r in regions {
        shown += 1;
        let _ = writeln!(out, "  {} {}", r.range, describe_region(model, r));
    }
    if total == 0 {
        let _ = writeln!(out, "  (no regions here)");
    } else if total > shown {
        let _ = writeln!(out, "  ... {} more regions", total - shown);
    }
}

fn describe_region(model: &Model, r: &Region) -> String {
    let p = |bit: Prot, c: char| if r.prot.contains(bit) { c } else { '-' };
    let prot: String = [p(Prot::READ, 'r'), p(Prot::WRITE, 'w'), p(Prot::EXEC, 'x')]
        .iter()
        .collect();
    let share = if r.shared { "shared" } else { "private" };
    let what = match r.backing {
        Backing::Zero => "anonymous".to_string(),
        Backing::Object(id) => match model.objects().get(id).map(|o| &o.kind) {
            Some(ObjKind::Anon) => "anonymous object".to_string(),
            Some(ObjKind::Shm { name: Some(n), .. }) => format!("shm {} +{:#x}", text::escape(n), r.offset),
            Some(ObjKind::Shm { name: None, .. }) => format!("shm (unlinked) +{:#x}", r.offset),
            Some(ObjKind::Phys) => format!("physical {:#x}", r.offset),
            Some(ObjKind::File { .. }) => format!("server file +{:#x}", r.offset),
            None => format!("object {}", id.0),
        },
    };
    let locked = if r.locked { " locked" } else { "" };
    format!("{prot} {share} {what}{locked}")
}

fn usage(out: &mut String, proc: &Process) {
    let c = proc.space.counters();
    let item = |name: &str, used: u64, r: Resource| {
        let l = proc.limit(r);
        format!("{name} {} of {} (hard {})", hex(used), limit(l.cur), limit(l.max))
    };
    let _ = writeln!(
        out,
        "  usage: {}; {}; {}; {}",
        item("total", c.total, Resource::RLIMIT_AS),
        item("data", c.data, Resource::RLIMIT_DATA),
        item("locked", c.locked, Resource::RLIMIT_MEMLOCK),
        format_args!("fds {} of {}", proc.fds().len(), {
            let n = proc.limit(Resource::RLIMIT_NOFILE).cur;
            if n == RLIM_INFINITY {
                "unlimited".to_string()
            } else {
                n.to_string()
            }
        }),
    );
}

fn hex(v: u64) -> String {
    format!("{v:#x}")
}

fn limit(v: u64) -> String {
    if v == RLIM_INFINITY {
        "unlimited".into()
    } else {
        hex(v)
    }
}

/// `[RULE-ID] title`: a rule ID with the title spec/ gives it.
pub fn rule_label(id: &str) -> String {
    match crate::spec::rule(id) {
        Some(r) => format!("[{id}] {}", r.title),
        None => format!("[{id}] (not in spec/)"),
    }
}

/// The first offset where the observed bytes differ from the first allowed
/// outcome's, when both are bytes.
fn bytes_difference(d: &Divergence) -> Option<usize> {
    match (&d.observed, d.allowed.first().map(|a| &a.outcome)) {
        (Outcome::Ok(Value::Bytes(seen)), Some(Outcome::Ok(Value::Bytes(want)))) => text::first_difference(seen, want),
        _ => None,
    }
}

/// One finding as text. Everything that came from the trace is escaped
/// and long values are clipped (see [`text`]).
pub fn finding_text(path: &str, f: &Finding) -> String {
    let mut out = String::new();
    let path = text::escape(path);
    match &f.kind {
        FindingKind::Divergence(d) => {
            let _ = writeln!(
                out,
                "{path}:{}: divergence: pid {} {}",
                f.line,
                f.pid,
                text::escape(&f.call)
            );
            let at = bytes_difference(d);
            let _ = writeln!(out, "  observed: {}", text::outcome(&d.observed, at));
            if let Some(at) = at {
                let _ = writeln!(out, "  first difference at byte offset {at:#x}");
            }
            if let Some(reason) = &d.refused {
                let _ = writeln!(out, "  refused:  {}", text::escape(reason));
            }
            for (i, a) in d.allowed.iter().enumerate() {
                let label = if i == 0 { "allowed: " } else { "      or:" };
                let choice = if i == 0 && d.free_choice {
                    " (or another free choice of value)"
                } else {
                    ""
                };
                let _ = writeln!(
                    out,
                    "  {label} {} {}{choice}",
                    text::outcome(&a.outcome, at),
                    rule_label(a.rule)
                );
            }
            let _ = writeln!(out, "  continuing with: {}", text::outcome(&d.continued_with, at));
            for line in d.state.lines() {
                let _ = writeln!(out, "  {}", text::escape(line));
            }
        }
        FindingKind::Unmet { expected, observed } => {
            let _ = writeln!(
                out,
                "{path}:{}: unmet expectation: pid {} {}",
                f.line,
                f.pid,
                text::escape(&f.call)
            );
            let _ = writeln!(out, "  expected: {}", text::clip(&expected.to_string()));
            let _ = writeln!(out, "  observed: {}", text::outcome(observed, None));
        }
        FindingKind::Backend { note, failure } => {
            let kind = if *failure { "backend" } else { "skipped" };
            let _ = writeln!(out, "{path}:{}: {kind}: pid {} {}", f.line, f.pid, f.call);
            let _ = writeln!(out, "  {note}");
        }
    }
    out
}

/// A file's report as text: its findings, or nothing when it passed.
pub fn file_text(r: &FileReport) -> String {
    let mut out = String::new();
    for f in &r.findings {
        out.push_str(&finding_text(&r.path, f));
    }
    out.push_str(&file_footer(r));
    out
}

/// The lines of [`file_text`] after the findings: how many were not kept,
/// the bad input, and the file's totals when it did not pass.
pub fn file_footer(r: &FileReport) -> String {
    let mut out = String::new();
    let path = text::escape(&r.path);
    let kept = r.findings.len() as u64;
    if r.divergences + r.unmet > kept {
        let _ = writeln!(
            out,
            "{path}: ... and {} more findings (--max-findings {} keeps the first {})",
            r.divergences + r.unmet - kept,
            r.max_findings,
            r.max_findings
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "{}", text::message(e));
    }
    if !r.passed() {
        let _ = writeln!(
            out,
            "{path}: {} events, {} divergences, {} unmet expectations{}",
            r.events,
            r.divergences,
            r.unmet,
            if r.error.is_some() { ", bad input" } else { "" }
        );
    }
    out
}

/// Totals over several files.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Totals {
    /// The command that judged (`run`, `check`), named in the summary so that
    /// the summaries of `run` and `check` in one pipeline tell themselves apart.
    pub command: &'static str,
    /// Files judged.
    pub files: u64,
    /// Files that passed.
    pub passed: u64,
    /// Events judged.
    pub events: u64,
    /// Divergences.
    pub divergences: u64,
    /// Unmet expectations.
    pub unmet: u64,
    /// Files with bad input.
    pub bad: u64,
    /// Calls a backend skipped.
    pub skipped: u64,
    /// Scripts not run: written for another profile than the backend's.
    pub not_applicable: u64,
}

impl Totals {
    /// No files yet, judged by `command`.
    pub fn for_command(command: &'static str) -> Totals {
        Totals {
            command,
            ..Totals::default()
        }
    }

    /// Adds a file.
    pub fn add(&mut self, r: &FileReport) {
        self.files += 1;
        self.passed += u64::from(r.passed());
        self.events += r.events;
        self.divergences += r.divergences;
        self.unmet += r.unmet;
        self.bad += u64::from(r.error.is_some());
        self.skipped += r.skipped;
        self.not_applicable += u64::from(r.not_applicable);
    }

    /// The exit status: 2 bad input, 1 a divergence or unmet expectation, 0 conforms.
    pub fn exit_code(&self) -> u8 {
        if self.bad > 0 {
            2
        } else if self.divergences + self.unmet > 0 {
            1
        } else {
            0
        }
    }

    /// The verdict in a word or two: `conforms`, `diverges`, `bad input`.
    pub fn verdict(&self) -> &'static str {
        match self.exit_code() {
            0 => "conforms",
            1 => "diverges",
            _ => "bad input",
        }
    }

    /// The closing line of a text report, the verdict last:
    /// `check: 3 files (2 passed), ..., 0 with bad input: diverges`.
    pub fn text(&self) -> String {
        // What was skipped or not applicable comes first: the verdict is the last line.
        let mut out = String::new();
        if self.not_applicable > 0 {
            out.push_str(&format!(
                "NOT APPLICABLE: {} scripts were not run (written for another profile than the backend's, or needing a privilege this run lacks)\n",
                self.not_applicable
            ));
        }
        if self.skipped > 0 {
            out.push_str(&format!(
                "SKIPPED: {} calls the backend could not run here (see the findings); they neither passed nor failed\n",
                self.skipped
            ));
        }
        let who = if self.command.is_empty() {
            String::new()
        } else {
            format!("{}: ", self.command)
        };
        out.push_str(&format!(
            "{who}{} files ({} passed), {} events, {} divergences, {} unmet expectations, {} with bad input: {}\n",
            self.files,
            self.passed,
            self.events,
            self.divergences,
            self.unmet,
            self.bad,
            self.verdict()
        ));
        out
    }
}

/// The call as a trace-format event with every expression evaluated:
/// `{"pid":1,"call":"munmap","addr":"0x40000000","len":4096}`.
fn call_json(f: &Finding) -> Json {
    let Some(call) = &f.resolved else {
        return Json::Null;
    };
    let mut event = serde_json::Map::new();
    event.insert("pid".into(), Json::from(f.pid.0));
    if let Ok(Json::Object(fields)) = serde_json::to_value(call) {
        event.extend(fields);
    }
    Json::Object(event)
}

/// The allowed outcomes, each once, with the rules that allow it, in the
/// order the model gave them (its deterministic outcome first).
fn allowed_json(d: &Divergence) -> Vec<Json> {
    let mut grouped: Vec<(&Outcome, Vec<&str>)> = Vec::new();
    for a in &d.allowed {
        match grouped.iter_mut().find(|(o, _)| *o == &a.outcome) {
            Some((_, rules)) => rules.push(a.rule),
            None => grouped.push((&a.outcome, vec![a.rule])),
        }
    }
    grouped
        .into_iter()
        .map(|(o, rules)| json!({"outcome": outcome_json(o), "rules": rules}))
        .collect()
}

fn expect_json(e: &Expect) -> Json {
    let any_of: Vec<Json> = e
        .any_of
        .iter()
        .map(|p| match p {
            Pattern::Exact(o) => outcome_json(o),
            Pattern::AnyOk => json!({"ok": "*"}),
        })
        .collect();
    json!({ "any_of": any_of })
}

fn finding_json(f: &Finding) -> Json {
    match &f.kind {
        FindingKind::Divergence(d) => json!({
            "line": f.line,
            "kind": "divergence",
            "call": call_json(f),
            "written": f.call,
            "observed": outcome_json(&d.observed),
            "first_difference": bytes_difference(d),
            "allowed": allowed_json(d),
            "rule": d.rule(),
            "free_choice": d.free_choice,
            "refused": d.refused,
            "continued_with": outcome_json(&d.continued_with),
            "state": d.summary.json(),
        }),
        FindingKind::Unmet { expected, observed } => json!({
            "line": f.line,
            "kind": "unmet",
            "call": call_json(f),
            "written": f.call,
            "expected": expect_json(expected),
            "observed": outcome_json(observed),
        }),
        FindingKind::Backend { note, failure } => json!({
            "line": f.line,
            "kind": if *failure { "backend" } else { "skipped" },
            "pid": f.pid.0,
            "call": f.call,
            "note": note,
        }),
    }
}

/// A whole run as one JSON document, the versioned format of
/// spec/report-format.md.
pub fn json_report(files: &[FileReport], totals: &Totals) -> Json {
    let files: Vec<Json> = files
        .iter()
        .map(|r| {
            json!({
                "path": r.path,
                "profile": r.profile.as_str(),
                "passed": r.passed(),
                "events": r.events,
                "divergences": r.divergences,
                "unmet": r.unmet,
                "findings_kept": r.findings.len(),
                "error": r.error,
                "skipped": r.skipped,
                "not_applicable": r.not_applicable,
                "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "format": REPORT_FORMAT,
        "version": REPORT_VERSION,
        "command": totals.command,
        "files": files,
        "summary": {
            "files": totals.files,
            "passed": totals.passed,
            "events": totals.events,
            "divergences": totals.divergences,
            "unmet": totals.unmet,
            "bad_input": totals.bad,
            "verdict": totals.verdict(),
            "skipped": totals.skipped,
            "not_applicable": totals.not_applicable,
            "exit_code": totals.exit_code(),
        }
    })
}

/// A whole run as JUnit XML: one test case per file.
pub fn junit_report(files: &[FileReport], totals: &Totals) -> String {
    // A file fails when it has findings that are failures, and is in error
    // when its input is bad; a not-applicable one is skipped.
    let failures = files
        .iter()
        .filter(|r| r.error.is_none() && !r.not_applicable && !r.passed())
        .count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuites name=\"mmoracle\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">",
        totals.files, totals.bad
    );
    let _ = writeln!(
        out,
        "  <testsuite name=\"mmoracle\" tests=\"{}\" failures=\"{failures}\" errors=\"{}\">",
        totals.files, totals.bad
    );
    for r in files {
        let _ = write!(
            out,
            "    <testcase classname=\"mmoracle.{}\" name=\"{}\"",
            r.profile,
            xml_escape(&r.path)
        );
        if r.passed() {
            out.push_str("/>\n");
            continue;
        }
        if r.not_applicable {
            let why = xml_escape(&file_text(r));
            let _ = writeln!(
                out,
                ">\n      <skipped message=\"not applicable\">{why}</skipped>\n    </testcase>"
            );
            continue;
        }
        out.push_str(">\n");
        for f in &r.findings {
            let (kind, message) = junit_failure(f);
            let body = xml_escape(&finding_text(&r.path, f));
            // A call the backend could not run here neither passed nor failed.
            let tag = match f.kind {
                FindingKind::Backend { failure: false, .. } => "skipped",
                _ => "failure",
            };
            let _ = writeln!(
                out,
                "      <{tag} type=\"{kind}\" message=\"{}\">{body}</{tag}>",
                xml_escape(&message)
            );
        }
        if let Some(e) = &r.error {
            let _ = writeln!(
                out,
                "      <error type=\"bad-input\" message=\"{}\"/>",
                xml_escape(&text::message(e))
            );
        }
        let summary = xml_escape(&file_footer(r));
        let _ = writeln!(out, "      <system-out>{summary}</system-out>");
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
}

/// A finding's JUnit failure type (the deciding rule ID, or `unmet-expectation`)
/// and its one-line message.
fn junit_failure(f: &Finding) -> (String, String) {
    match &f.kind {
        FindingKind::Divergence(d) => (
            d.rule().to_string(),
            format!(
                "line {}: {} divergence, allowed by {}",
                f.line,
                text::outcome(&d.observed, bytes_difference(d)),
                rule_label(d.rule())
            ),
        ),
        FindingKind::Unmet { expected, observed } => (
            "unmet-expectation".to_string(),
            format!(
                "line {}: expected {}, observed {}",
                f.line,
                text::clip(&expected.to_string()),
                text::outcome(observed, None)
            ),
        ),
        FindingKind::Backend { note, failure } => (
            if *failure { "backend" } else { "skipped" }.to_string(),
            format!("line {}: {}", f.line, text::clip(note)),
        ),
    }
}

/// Escapes text for XML attributes and content, dropping characters XML 1.0
/// cannot carry.
pub fn xml_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}
