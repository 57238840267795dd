//! What a run found, for people (text) and for CI systems (JSON, JUnit XML),
//! and the drawing of a process's state around a divergence.

use super::Divergence;
use crate::call::{Call, Outcome, Value};
use crate::model::object::ObjKind;
use crate::model::process::Process;
use crate::model::region::{Backing, Region};
use crate::model::Model;
use crate::profile::ProfileName;
use crate::types::{parse_hex, Pid, Prot, Resource, RLIM_INFINITY};
use serde_json::{json, Value as Json};
use std::fmt::Write as _;

/// The most findings kept per file; later ones are counted, not kept, so a
/// report's memory does not grow with the length of a trace.
pub const MAX_FINDINGS: usize = 100;

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
        expected: String,
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
    /// Divergences found (all of them, even past [`MAX_FINDINGS`]).
    pub divergences: u64,
    /// Unmet expectations found.
    pub unmet: u64,
    /// The first [`MAX_FINDINGS`] findings.
    pub findings: Vec<Finding>,
    /// Why the file could not be read to the end (bad input).
    pub error: Option<String>,
    /// Calls the backend skipped (they are neither passed nor failed).
    pub skipped: u64,
    /// The script was written for a profile the backend does not stand for; not run.
    pub not_applicable: bool,
}

impl FileReport {
    /// An empty report for `path`.
    pub fn new(path: impl Into<String>, profile: ProfileName) -> FileReport {
        FileReport {
            path: path.into(),
            profile,
            events: 0,
            divergences: 0,
            unmet: 0,
            findings: Vec::new(),
            error: None,
            skipped: 0,
            not_applicable: false,
        }
    }

    /// Records a finding (keeping at most [`MAX_FINDINGS`]).
    pub fn add(&mut self, finding: Finding) {
        match finding.kind {
            FindingKind::Divergence(_) => self.divergences += 1,
            FindingKind::Unmet { .. } => self.unmet += 1,
            FindingKind::Backend { failure: true, .. } => self.divergences += 1,
            FindingKind::Backend { failure: false, .. } => self.skipped += 1,
        }
        if self.findings.len() < MAX_FINDINGS {
            self.findings.push(finding);
        }
    }

    /// Whether every event conformed and met its expectation.
    pub fn passed(&self) -> bool {
        self.error.is_none() && !self.not_applicable && self.divergences == 0 && self.unmet == 0
    }
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
    let first = (addr / page).saturating_sub(MAP_BEFORE);
    let start = first * page;
    let end = start.saturating_add(MAP_PAGES * page);
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
    let window = crate::types::AddrRange::from_bounds(crate::types::Addr(start), crate::types::Addr(end));
    match window {
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
            Some(ObjKind::Shm { name: Some(n), .. }) => format!("shm {n} +{:#x}", r.offset),
            Some(ObjKind::Shm { name: None, .. }) => format!("shm (unlinked) +{:#x}", r.offset),
            Some(ObjKind::Phys) => format!("physical {:#x}", r.offset),
            Some(ObjKind::File) => format!("server file +{:#x}", r.offset),
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
        format_args!("fds {} of {}", proc.fds.len(), {
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

/// One finding as text.
pub fn finding_text(path: &str, f: &Finding) -> String {
    let mut out = String::new();
    match &f.kind {
        FindingKind::Divergence(d) => {
            let _ = writeln!(out, "{path}:{}: divergence: pid {} {}", f.line, f.pid, f.call);
            let _ = writeln!(out, "  observed: {}", d.observed);
            if let Some(reason) = &d.refused {
                let _ = writeln!(out, "  refused:  {reason}");
            }
            for (i, a) in d.allowed.iter().enumerate() {
                let label = if i == 0 { "allowed: " } else { "      or:" };
                let choice = if i == 0 && d.free_choice {
                    " (or another free choice of value)"
                } else {
                    ""
                };
                let _ = writeln!(out, "  {label} {} [{}]{choice}", a.outcome, a.rule);
            }
            let _ = writeln!(out, "  continuing with: {}", d.continued_with);
            for line in d.state.lines() {
                let _ = writeln!(out, "  {line}");
            }
        }
        FindingKind::Unmet { expected, observed } => {
            let _ = writeln!(out, "{path}:{}: unmet expectation: pid {} {}", f.line, f.pid, f.call);
            let _ = writeln!(out, "  expected: {expected}");
            let _ = writeln!(out, "  observed: {observed}");
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
    let kept = r.findings.len() as u64;
    if r.divergences + r.unmet > kept {
        let _ = writeln!(
            out,
            "{}: ... and {} more findings",
            r.path,
            r.divergences + r.unmet - kept
        );
    }
    if let Some(e) = &r.error {
        let _ = writeln!(out, "{e}");
    }
    if !r.passed() {
        let _ = writeln!(
            out,
            "{}: {} events, {} divergences, {} unmet expectations{}",
            r.path,
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

    /// The closing line of a text report.
    pub fn text(&self) -> String {
        let mut out = format!(
            "{} files ({} passed), {} events, {} divergences, {} unmet expectations, {} with bad input\n",
            self.files, self.passed, self.events, self.divergences, self.unmet, self.bad
        );
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
        out
    }
}

fn finding_json(f: &Finding) -> Json {
    match &f.kind {
        FindingKind::Divergence(d) => json!({
            "line": f.line,
            "kind": "divergence",
            "pid": f.pid.0,
            "call": f.call,
            "observed": d.observed.to_string(),
            "allowed": d.allowed.iter().map(|a| json!({"outcome": a.outcome.to_string(), "rule": a.rule})).collect::<Vec<_>>(),
            "rule": d.rule(),
            "free_choice": d.free_choice,
            "refused": d.refused,
            "continued_with": d.continued_with.to_string(),
            "state": d.state,
        }),
        FindingKind::Unmet { expected, observed } => json!({
            "line": f.line,
            "kind": "unmet",
            "pid": f.pid.0,
            "call": f.call,
            "expected": expected,
            "observed": observed.to_string(),
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

/// A whole run as one JSON document.
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
                "error": r.error,
                "skipped": r.skipped,
                "not_applicable": r.not_applicable,
                "findings": r.findings.iter().map(finding_json).collect::<Vec<_>>(),
            })
        })
        .collect();
    json!({
        "files": files,
        "summary": {
            "files": totals.files,
            "passed": totals.passed,
            "events": totals.events,
            "divergences": totals.divergences,
            "unmet": totals.unmet,
            "bad_input": totals.bad,
            "skipped": totals.skipped,
            "not_applicable": totals.not_applicable,
            "exit_code": totals.exit_code(),
        }
    })
}

/// A whole run as JUnit XML: one test case per file.
pub fn junit_report(files: &[FileReport], totals: &Totals) -> String {
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
        let body = xml_escape(&file_text(r));
        if let Some(e) = &r.error {
            let _ = writeln!(out, "      <error message=\"{}\">{body}</error>", xml_escape(e));
        } else {
            let message = format!("{} divergences, {} unmet expectations", r.divergences, r.unmet);
            let _ = writeln!(out, "      <failure message=\"{message}\">{body}</failure>");
        }
        out.push_str("    </testcase>\n");
    }
    out.push_str("  </testsuite>\n</testsuites>\n");
    out
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
