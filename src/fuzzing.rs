//! Fuzz bodies, kept here as ordinary functions so that the cargo-fuzz
//! targets in `fuzz/` are one-line calls and the committed regression inputs
//! in `fuzz/regressions/` replay through the same code under `cargo test` on
//! stable, without libFuzzer.
//!
//! Every function takes raw bytes and panics when it finds a bug:
//! - [`io_mmap_wire`]: the `_IO_MMAP` codec ([`crate::iomsg`]) never panics,
//!   and whatever decodes encodes back to the same bytes.
//! - [`run_bytes`]: a byte-driven sequence of calls on a [`Model`] for every
//!   profile keeps every model invariant ([`Model::check_invariants`]).
//! - [`trace_text`]: any bytes read as a trace file are judged, or refused as
//!   bad input with a position, and never panic.
//! - [`differential`]: the calls [`run_bytes`] decodes for the linux profile,
//!   run on the real Linux backend and judged strictly by the oracle with
//!   counters, agree with the model (needs root; see the function).

use crate::call::{Call, Outcome, Value};
use crate::iomsg::{IoMmapReply, IoMmapRequest, Layout, MsgInfo};
use crate::model::Model;
use crate::profile::{Profile, ProfileName};
use crate::types::{Addr, Fd, Len, MapFlags, MclFlags, MsyncFlags, OFlags, Pid, Prot, Resource, RLIM_INFINITY};
use std::any::Any;
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Decodes `bytes` as every `_IO_MMAP` structure in both layouts; whatever
/// decodes must encode back to the bytes it came from.
pub fn io_mmap_wire(bytes: &[u8]) {
    for layout in Layout::ALL {
        if let Ok(req) = IoMmapRequest::decode(bytes, layout) {
            assert_eq!(req.encode()[..], bytes[..IoMmapRequest::SIZE], "request {req:?}");
        }
        if let Ok(rep) = IoMmapReply::decode(bytes, layout) {
            assert_eq!(rep.encode()[..], bytes[..IoMmapReply::SIZE], "reply {rep:?}");
        }
    }
    if let Ok(info) = MsgInfo::decode(bytes) {
        assert_eq!(info.encode()[..], bytes[..MsgInfo::SIZE], "info {info:?}");
    }
}

/// The most bytes [`trace_text`] reads: a trace's lines are bounded by the
/// reader, and this keeps one fuzz input's work bounded too.
pub const MAX_TRACE_BYTES: usize = 1 << 16;

/// Reads `bytes` as a trace file (run mode where an event has no `ret`, check
/// mode where it has one) through the reader and the oracle, as
/// `mmoracle check` would: bad input must end in a report, never a panic.
pub fn trace_text(bytes: &[u8]) {
    use crate::oracle::run::{judge_text, Mode, Options};
    let input = &bytes[..bytes.len().min(MAX_TRACE_BYTES)];
    let opts = Options::new(Mode::Auto);
    judge_text(input, "fuzz.jsonl", &opts, None);
}

/// The most calls one input runs, whatever its length.
pub const MAX_CALLS: usize = 256;

/// Runs the calls `bytes` describes on a fresh [`Model`] of every profile and
/// panics if an invariant breaks; [`explain`] shows the calls that led there.
///
/// The decoding is hand-written and total (missing bytes read as zero): one
/// byte picks the process, one the call, then each argument takes a byte
/// that picks its shape — addresses in a small window at the profile's
/// arena or near a recent mapping, lengths of 1–4 pages — and sometimes more
/// bytes for a hostile value (near 2^64, unaligned, unknown flag bits).
/// Nothing grows with the values decoded: at most [`MAX_CALLS`] calls,
/// stores of at most two pages, loads of at most three.
pub fn run_bytes(bytes: &[u8]) {
    for name in ProfileName::ALL {
        run_profile(name, bytes);
    }
}

/// Runs `bytes` on one profile.
fn run_profile(name: ProfileName, bytes: &[u8]) {
    let mut script = Script::new(name, bytes);
    while let Some((pid, call)) = script.next_call() {
        let verdict = script.model.step(pid, &call);
        // With debug assertions (cargo fuzz's default) `step` has just
        // checked every invariant; checking twice would halve the speed.
        let checked = if cfg!(debug_assertions) {
            Ok(())
        } else {
            script.model.check_invariants()
        };
        if let Err(e) = checked {
            let at = script.calls - 1;
            panic!("{name}: invariant broken after call {at}, pid {pid}: {call:?} -> {verdict:?}: {e}");
        }
        script.seen.record(&verdict.outcome);
    }
}

/// Runs the calls `bytes` decodes to for the linux profile (as [`run_bytes`]
/// decodes them, against a model of its own) on the real Linux backend,
/// judged strictly by the oracle with counters, as `mmoracle diff` judges a
/// case, and panics with the script when kernel and model disagree.
///
/// The linux profile's first process is root, so without root this returns
/// at once and says so on stderr (once): a replay that did not run is
/// reported as skipped by its caller, never as passed. The workers are the
/// binary [`crate::backend::linux::use_worker_exe`] named.
pub fn differential(bytes: &[u8]) {
    use crate::backend::linux::diff::{fails, judge_on_kernel};
    if !can_run_differential() {
        static SAID: std::sync::Once = std::sync::Once::new();
        SAID.call_once(|| {
            eprintln!("SKIPPED differential: the linux profile's first process is root, and this is not")
        });
        return;
    }
    let (header, events) = differential_script(bytes);
    let report = judge_on_kernel(&header, &events);
    if fails(&report) || report.error.is_some() {
        panic!(
            "the kernel and the linux model disagree ({} divergences, {} unmet, error {:?}) on:\n{header}\n{}",
            report.divergences,
            report.unmet,
            report.error,
            events.join("\n")
        );
    }
}

/// Whether [`differential`] can run here (as root).
pub fn can_run_differential() -> bool {
    rustix::process::geteuid().is_root()
}

/// The script [`differential`] runs: a linux header and one event line per
/// decoded call.
pub fn differential_script(bytes: &[u8]) -> (String, Vec<String>) {
    use crate::trace::writer::{raw_event, Writer};
    let header = r#"{"format":"mmoracle-trace","version":1,"profile":"linux"}"#.to_string();
    let mut script = Script::new(ProfileName::Linux, bytes);
    let mut events = Vec::new();
    while let Some((pid, call)) = script.next_call() {
        // A trace cannot name pid 0; another pid that never existed stands
        // for it. Pid::NONE is written -1, as a trace names it.
        let named = if pid.0 == 0 { Pid(9999) } else { pid };
        let pid_json = serde_json::to_value(named).expect("a pid serializes");
        let mut w = Writer::new(Vec::new());
        w.event(&raw_event(pid_json, &call, None), None)
            .expect("writing to memory");
        let line = String::from_utf8(w.into_inner()).expect("the writer writes UTF-8");
        events.push(line.trim_end().to_string());
        let verdict = script.model.step(pid, &call);
        script.seen.record(&verdict.outcome);
    }
    (header, events)
}

/// The calls `bytes` decodes to on profile `name`, one line each with the
/// model's verdict, ending at the first broken invariant or panic: how to
/// read a crashing input.
pub fn explain(name: ProfileName, bytes: &[u8]) -> Vec<String> {
    let mut lines = Vec::new();
    let mut script = Script::new(name, bytes);
    while let Some((pid, call)) = script.next_call() {
        let verdict = script.model.evaluate(pid, &call);
        let at = script.calls - 1;
        lines.push(format!(
            "call {at} pid {pid}: {call:?} -> {} [{}]",
            verdict.outcome, verdict.rule
        ));
        let model = &mut script.model;
        let applied = catch_unwind(AssertUnwindSafe(|| model.apply(pid, &call, &verdict.outcome)));
        let broken = match applied {
            Err(panic) => Some(format!("panicked: {}", panic_text(&*panic))),
            Ok(Err(e)) => Some(format!("could not apply: {e}")),
            Ok(Ok(())) => script
                .model
                .check_invariants()
                .err()
                .map(|e| format!("invariant broken: {e}")),
        };
        if let Some(text) = broken {
            lines.push(text);
            break;
        }
        script.seen.record(&verdict.outcome);
    }
    lines
}

fn panic_text(panic: &(dyn Any + Send)) -> &str {
    panic
        .downcast_ref::<String>()
        .map(String::as_str)
        .or_else(|| panic.downcast_ref::<&str>().copied())
        .unwrap_or("(not a string)")
}

/// A model, the input that drives it and what the calls so far returned.
struct Script<'a> {
    model: Model,
    input: Input<'a>,
    seen: Seen,
    calls: usize,
}

impl<'a> Script<'a> {
    fn new(name: ProfileName, bytes: &'a [u8]) -> Script<'a> {
        Script {
            model: Model::new(name),
            input: Input::new(bytes),
            seen: Seen::default(),
            calls: 0,
        }
    }

    /// The next call, until the input or the call budget runs out.
    fn next_call(&mut self) -> Option<(Pid, Call)> {
        if self.input.is_empty() || self.calls == MAX_CALLS {
            return None;
        }
        self.calls += 1;
        let pid = self.input.pid(&self.seen);
        Some((pid, self.input.call(self.model.profile(), &self.seen)))
    }
}

/// A few recent results that later calls refer to: mapped addresses, fds
/// and pids. Fixed-size rings, so nothing grows.
#[derive(Default)]
struct Seen {
    addrs: Ring<u64>,
    fds: Ring<i32>,
    pids: Ring<u32>,
}

impl Seen {
    fn record(&mut self, outcome: &Outcome) {
        match outcome {
            Outcome::Ok(Value::Addr(a)) => self.addrs.push(a.0),
            Outcome::Ok(Value::Fd(fd)) => self.fds.push(fd.0),
            Outcome::Ok(Value::Pid(p)) => self.pids.push(p.0),
            _ => {}
        }
    }
}

/// The last eight values pushed.
#[derive(Default)]
struct Ring<T> {
    items: [T; 8],
    len: usize,
}

impl<T: Copy + Default> Ring<T> {
    fn push(&mut self, v: T) {
        self.items[self.len % 8] = v;
        self.len += 1;
    }

    /// The item `k` picks, or `None` when the ring is empty.
    fn pick(&self, k: u8) -> Option<T> {
        (self.len > 0).then(|| self.items[usize::from(k) % self.len.min(8)])
    }
}

/// Shared-memory names: ordinary ones, QNX 4's `Physical`, and malformed ones.
const SHM_NAMES: [&str; 6] = ["/a", "/b", "Physical", "", "noslash", "/a/b"];
/// Device paths.
const PATHS: [&str; 4] = ["/dev/zero", "/dev/null", "/dev/mem", "/dev/nope"];
/// Addresses that break arithmetic: zero, page edges, the top of 2^64.
const HOSTILE_ADDRS: [u64; 7] = [0, 1, 0xFFF, 1 << 47, 0xFFFF_FFFF_F000, u64::MAX - 0xFFF, u64::MAX];
/// Lengths that break arithmetic.
const HOSTILE_LENS: [u64; 6] = [u64::MAX, u64::MAX - 0xFFE, 1 << 47, 1 << 32, 0x7FFF_FFFF_F000, 0x1001];

/// The input bytes, read front to back; reads past the end give zero.
struct Input<'a> {
    rest: &'a [u8],
}

impl<'a> Input<'a> {
    fn new(bytes: &'a [u8]) -> Input<'a> {
        Input { rest: bytes }
    }

    fn is_empty(&self) -> bool {
        self.rest.is_empty()
    }

    fn u8(&mut self) -> u8 {
        let Some((&b, rest)) = self.rest.split_first() else {
            return 0;
        };
        self.rest = rest;
        b
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes([self.u8(), self.u8(), self.u8(), self.u8()])
    }

    fn u64(&mut self) -> u64 {
        u64::from(self.u32()) | (u64::from(self.u32()) << 32)
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[usize::from(self.u8()) % items.len()]
    }

    /// Mostly pid 1 or a spawned pid; sometimes one that never existed.
    fn pid(&mut self, seen: &Seen) -> Pid {
        let b = self.u8();
        let spawned = seen.pids.pick(b >> 3);
        Pid(match b % 8 {
            0..=3 => 1,
            4..=6 => spawned.unwrap_or(1),
            _ => [0, 9999, u32::MAX][usize::from(b >> 3) % 3],
        })
    }

    /// One call of any kind.
    fn call(&mut self, p: &Profile, seen: &Seen) -> Call {
        match self.u8() % 20 {
            0 => self.mmap(p, seen),
            1 => Call::Munmap {
                addr: self.addr(p, seen),
                len: self.len(p),
            },
            2 => Call::Mprotect {
                addr: self.addr(p, seen),
                len: self.len(p),
                prot: self.prot(),
            },
            3 => Call::Mlock {
                addr: self.addr(p, seen),
                len: self.len(p),
            },
            4 => Call::Munlock {
                addr: self.addr(p, seen),
                len: self.len(p),
            },
            5 => Call::Mlockall { flags: self.mcl() },
            6 => Call::Munlockall {},
            7 => Call::Msync {
                addr: self.addr(p, seen),
                len: self.len(p),
                flags: self.msync(),
            },
            8 => self.load(p, seen),
            9 => self.store(p, seen),
            10 => Call::ShmOpen {
                name: self.pick(&SHM_NAMES).into(),
                oflag: self.oflags(),
                mode: self.pick(&[0o600, 0o400, 0o777, 0]),
            },
            11 => Call::ShmUnlink {
                name: self.pick(&SHM_NAMES).into(),
            },
            12 => Call::Open {
                path: self.pick(&PATHS).into(),
                oflag: self.oflags(),
            },
            13 => Call::Ftruncate {
                fd: self.fd(seen),
                len: self.file_len(p),
            },
            14 => Call::Close { fd: self.fd(seen) },
            15 => self.rlimit(seen),
            16 => Call::Cred {
                euid: self.pick(&[0, 1000, u32::MAX - 1]),
                cap_ipc_lock: self.u8() & 1 == 1,
                egid: None,
                groups: None,
            },
            17 => Call::Spawn {},
            18 => Call::Exit {},
            _ => self.mmap(p, seen),
        }
    }

    fn mmap(&mut self, p: &Profile, seen: &Seen) -> Call {
        Call::Mmap {
            addr: self.addr(p, seen),
            len: self.len(p),
            prot: self.prot(),
            flags: self.map_flags(),
            fd: self.fd(seen),
            off: self.offset(p),
        }
    }

    fn load(&mut self, p: &Profile, seen: &Seen) -> Call {
        let page = p.page_size;
        let len = match self.u8() % 8 {
            0..=5 => u64::from(self.u8()) + 1,
            6 => page * 3,
            _ => u64::MAX,
        };
        Call::Load {
            addr: self.addr(p, seen),
            len: Len(len),
        }
    }

    fn store(&mut self, p: &Profile, seen: &Seen) -> Call {
        let b = self.u8();
        let len = match b % 4 {
            0 | 1 => usize::from(b >> 2) + 1,
            2 => p.page_size as usize + 1,
            _ => 0,
        };
        Call::Store {
            addr: self.addr(p, seen),
            data: vec![self.u8(); len],
        }
    }

    fn rlimit(&mut self, seen: &Seen) -> Call {
        let resource = self.pick(&Resource::ALL);
        let target = match self.u8() % 4 {
            0 | 1 => None,
            2 => Some(Pid(seen.pids.pick(self.u8()).unwrap_or(1))),
            _ => Some(Pid(self.pick(&[0, 1, 9999]))),
        };
        if self.u8() % 4 == 0 {
            return Call::Getrlimit { resource, target };
        }
        Call::Setrlimit {
            resource,
            cur: self.limit(),
            max: self.limit(),
            target,
        }
    }

    fn limit(&mut self) -> u64 {
        match self.u8() % 8 {
            0..=2 => u64::from(self.u8()) << 12,
            3 => u64::from(self.u8()),
            4 | 5 => RLIM_INFINITY,
            6 => RLIM_INFINITY - 1,
            _ => self.u64(),
        }
    }

    /// An address in a 16-page window at the arena, near a recent mapping,
    /// unaligned, or hostile.
    fn addr(&mut self, p: &Profile, seen: &Seen) -> Addr {
        let b = self.u8();
        let pages = u64::from(b >> 4) * p.page_size;
        Addr(match b % 8 {
            0..=2 => p.arena + pages,
            3 | 4 => seen.addrs.pick(self.u8()).unwrap_or(p.map_base) + pages,
            5 => p.arena + pages + u64::from(self.u8()),
            6 => self.pick(&HOSTILE_ADDRS),
            _ => self.u64(),
        })
    }

    /// Mostly one to four pages; sometimes zero, unaligned or hostile.
    fn len(&mut self, p: &Profile) -> Len {
        let b = self.u8();
        Len(match b % 8 {
            0..=4 => (u64::from(b >> 3) % 4 + 1) * p.page_size,
            5 => u64::from(b >> 3) * 97 + 1,
            6 => 0,
            _ => match b >> 3 {
                0..=23 => self.pick(&HOSTILE_LENS),
                _ => self.u64(),
            },
        })
    }

    /// A length for ftruncate: pages, zero, negative or huge.
    fn file_len(&mut self, p: &Profile) -> i64 {
        let b = self.u8();
        match b % 8 {
            0..=4 => i64::from(b >> 3) * p.page_size as i64,
            5 => i64::from(b >> 3) * 97,
            6 => self.pick(&[-1, i64::MIN, i64::MAX, 1 << 40]),
            _ => self.u64() as i64,
        }
    }

    fn offset(&mut self, p: &Profile) -> u64 {
        let b = self.u8();
        match b % 8 {
            0..=4 => 0,
            5 => u64::from(b >> 3) * p.page_size,
            6 => u64::from(b >> 3) + 1,
            _ => self.u64(),
        }
    }

    /// A recent fd, NOFD, a small number, or a hostile one.
    fn fd(&mut self, seen: &Seen) -> Fd {
        let b = self.u8();
        Fd(match b % 8 {
            0..=3 => seen.fds.pick(b >> 3).unwrap_or(-1),
            4 | 5 => -1,
            6 => i32::from(b >> 3),
            _ => self.pick(&[i32::MIN, i32::MAX, -2, 1000]),
        })
    }

    fn prot(&mut self) -> Prot {
        let b = self.u8();
        if b & 0x80 != 0 && b & 0x40 != 0 {
            return Prot::from_bits_retain(self.u32());
        }
        Prot::from_bits_retain(u32::from(b & 0xF) << 8)
    }

    /// A share type, plus a few flags; sometimes a raw word.
    fn map_flags(&mut self) -> MapFlags {
        let b = self.u8();
        if b == 0xFF {
            return MapFlags::from_bits_retain(self.u32());
        }
        let share = [0x2, 0x1, 0x3, 0x0][usize::from(b & 3)];
        let extra = self.u8();
        let mut bits = share;
        for (bit, flag) in [
            (0, 0x10),
            (1, 0x80000),
            (2, 0x80),
            (3, 0x1000),
            (4, 0x2000),
            (5, 0x10000),
        ] {
            if extra & (1 << bit) != 0 {
                bits |= flag;
            }
        }
        if b & 4 != 0 {
            bits |= 0x80000; // MAP_ANON is common enough to favour.
        }
        MapFlags::from_bits_retain(bits)
    }

    fn mcl(&mut self) -> MclFlags {
        let b = self.u8();
        MclFlags::from_bits_retain(if b & 0x80 != 0 { u32::from(b) } else { u32::from(b & 3) })
    }

    fn msync(&mut self) -> MsyncFlags {
        let b = self.u8();
        MsyncFlags::from_bits_retain(if b & 0x80 != 0 { self.u32() } else { u32::from(b & 0x1F) })
    }

    fn oflags(&mut self) -> OFlags {
        let b = self.u8();
        let access = u32::from(b & 3);
        let mut bits = access;
        for (bit, flag) in [(2, 0x100), (3, 0x200), (4, 0x400), (5, 0x8)] {
            if b & (1 << bit) != 0 {
                bits |= flag;
            }
        }
        OFlags::from_bits_retain(bits)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_call_kind_is_reachable() {
        let p = ProfileName::Neutrino.profile();
        let seen = Seen::default();
        let mut inputs: Vec<[u8; 8]> = (0..20u8).map(|k| [k, 0, 0, 0, 0, 0, 0, 0]).collect();
        inputs.push([15, 0, 0, 1, 0, 0, 0, 0]); // the rlimit byte picks setrlimit
        let mut names: Vec<&str> = inputs.iter().map(|i| Input::new(i).call(p, &seen).name()).collect();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), 20, "{names:?}");
    }

    #[test]
    fn the_empty_input_and_short_inputs_run() {
        run_bytes(&[]);
        for b in 0..=255u8 {
            run_bytes(&[b]);
            run_bytes(&[0, b, b, b]);
        }
    }

    #[test]
    fn calls_are_bounded_whatever_the_input() {
        let bytes = vec![0x11; 64 * 1024];
        run_bytes(&bytes);
    }

    #[test]
    fn the_ring_keeps_the_last_eight() {
        let mut r = Ring::<u32>::default();
        assert_eq!(r.pick(0), None);
        for v in 0..20 {
            r.push(v);
        }
        let mut all: Vec<u32> = (0..8).filter_map(|k| r.pick(k)).collect();
        all.sort_unstable();
        assert_eq!(all, (12..20).collect::<Vec<_>>());
    }
}
