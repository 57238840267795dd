//! Constant memory: reading, running and checking a trace ten times longer
//! must not raise the peak of heap memory. A counting allocator measures the
//! heap; everything runs in one test so that nothing else allocates meanwhile.

use mmoracle::gen::{GenOptions, Script};
use mmoracle::oracle::coverage::Coverage;
use mmoracle::oracle::run::{judge, Backend, Mode, Options};
use mmoracle::trace::{Bindings, Item, RawEvent, Reader, Writer};
use mmoracle::{Outcome, ProfileName, Value};
use std::alloc::{GlobalAlloc, Layout, System};
use std::io::{BufReader, Read};
use std::sync::atomic::{AtomicUsize, Ordering};

struct Counting;

static CURRENT: AtomicUsize = AtomicUsize::new(0);
static PEAK: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; the
// counters only observe sizes.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            let now = CURRENT.fetch_add(layout.size(), Ordering::Relaxed) + layout.size();
            PEAK.fetch_max(now, Ordering::Relaxed);
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        CURRENT.fetch_sub(layout.size(), Ordering::Relaxed);
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// The peak heap use while `f` runs, above what was in use when it started.
fn peak_of(f: impl FnOnce()) -> usize {
    let base = CURRENT.load(Ordering::Relaxed);
    PEAK.store(base, Ordering::Relaxed);
    f();
    PEAK.load(Ordering::Relaxed) - base
}

/// Lines made on demand, read as one stream: nothing is held but the current line.
struct Lines<I> {
    lines: I,
    buf: Vec<u8>,
    pos: usize,
}

impl<I: Iterator<Item = String>> Lines<I> {
    fn new(lines: I) -> BufReader<Lines<I>> {
        BufReader::new(Lines {
            lines,
            buf: Vec::new(),
            pos: 0,
        })
    }
}

impl<I: Iterator<Item = String>> Read for Lines<I> {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        if self.pos == self.buf.len() {
            let Some(line) = self.lines.next() else { return Ok(0) };
            self.buf = line.into_bytes();
            self.buf.push(b'\n');
            self.pos = 0;
        }
        let n = out.len().min(self.buf.len() - self.pos);
        out[..n].copy_from_slice(&self.buf[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

fn event_line(ev: &RawEvent) -> String {
    let mut w = Writer::new(Vec::new());
    w.event(ev, None).unwrap();
    String::from_utf8(w.into_inner()).unwrap().trim_end().to_string()
}

/// Reads a generated script of `steps` events through the reader, binding
/// every result, and returns the number of events.
fn read_generated(steps: u64) -> u64 {
    let opts = GenOptions {
        seed: 3,
        steps,
        procs: 4,
        profile: ProfileName::Neutrino,
    };
    let script = Script::new(&opts);
    let mut header = Writer::new(Vec::new());
    header.header(script.header()).unwrap();
    let header = String::from_utf8(header.into_inner()).unwrap().trim_end().to_string();
    let lines = std::iter::once(header).chain(script.map(|ev| event_line(&ev)));
    let mut reader = Reader::new(Lines::new(lines), "gen").unwrap();
    let mut env = Bindings::new(ProfileName::Neutrino.profile());
    let mut n = 0;
    while let Some(item) = reader.next_item().unwrap() {
        let Item::Event(raw) = item else { continue };
        let ev = reader.resolve(&raw, &env).unwrap();
        if let Some(name) = &ev.bind {
            let ok = match ev.call.value_kind() {
                mmoracle::ValueKind::Addr => Outcome::Ok(Value::Addr(mmoracle::types::Addr(0x4000_0000))),
                mmoracle::ValueKind::Fd => Outcome::Ok(Value::Fd(mmoracle::types::Fd(3))),
                _ => Outcome::Ok(Value::Pid(mmoracle::types::Pid(2))),
            };
            env.bind(name, ev.call.value_kind(), &ok, ev.line);
        }
        n += 1;
    }
    n
}

const HEADER: &str = r#"{"format":"mmoracle-trace","version":1,"profile":"neutrino"}"#;

/// One cycle of calls that leaves the system as it found it.
const CYCLE: &[&str] = &[
    r#"{"pid":1,"call":"mmap","addr":"$ARENA","len":"0x4000","prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON|MAP_FIXED","fd":-1,"off":0,"bind":"a"}"#,
    r#"{"pid":1,"call":"store","addr":"$a+0x1000","data":"0102"}"#,
    r#"{"pid":1,"call":"load","addr":"$a+0xfff","len":3}"#,
    r#"{"pid":1,"call":"mprotect","addr":"$a","len":"0x1000","prot":"PROT_READ"}"#,
    r#"{"pid":1,"call":"mlock","addr":"$a+0x2000","len":"0x2000"}"#,
    r#"{"pid":1,"call":"shm_open","name":"/m","oflag":"O_RDWR|O_CREAT","mode":384,"bind":"fd"}"#,
    r#"{"pid":1,"call":"ftruncate","fd":"$fd","len":8192}"#,
    r#"{"pid":1,"call":"mmap","addr":0,"len":8192,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_SHARED","fd":"$fd","off":0,"bind":"s"}"#,
    r#"{"pid":1,"call":"store","addr":"$s","data":"aa"}"#,
    r#"{"pid":1,"call":"load","addr":"$s+4096","len":1}"#,
    r#"{"pid":1,"call":"munmap","addr":"$s","len":8192}"#,
    r#"{"pid":1,"call":"close","fd":"$fd"}"#,
    r#"{"pid":1,"call":"shm_unlink","name":"/m"}"#,
    r#"{"pid":1,"call":"munmap","addr":"$a","len":"0x4000"}"#,
    r#"{"pid":1,"call":"munmap","addr":"$a","len":"0x4000"}"#,
    r#"{"pid":1,"call":"spawn","bind":"p"}"#,
    r#"{"pid":"$p","call":"mmap","addr":0,"len":4096,"prot":"PROT_READ","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0}"#,
    r#"{"pid":"$p","call":"exit"}"#,
];

fn judge_stream(lines: impl Iterator<Item = String>, mode: Mode) -> mmoracle::oracle::report::FileReport {
    let opts = Options {
        mode,
        profile: None,
        strict: false,
        max_findings: mmoracle::oracle::report::MAX_FINDINGS,
    };
    let mut coverage = Coverage::new();
    let mut progress = |_: u64| {};
    judge::<_, std::io::Sink>(
        Lines::new(lines),
        "cycle",
        &opts,
        Some(&mut coverage),
        None,
        &mut progress,
    )
    .unwrap()
}

/// The script repeated `cycles` times.
fn script(cycles: usize) -> impl Iterator<Item = String> {
    std::iter::once(HEADER.to_string()).chain(std::iter::repeat_n(CYCLE, cycles).flatten().map(|l| l.to_string()))
}

/// The recorded trace of the cycle without spawn/exit (whose pids change from
/// cycle to cycle), repeated `cycles` times.
fn trace(cycles: usize, one_cycle: &[String]) -> impl Iterator<Item = String> + '_ {
    std::iter::once(HEADER.to_string()).chain(std::iter::repeat_n(one_cycle, cycles).flatten().cloned())
}

#[test]
fn long_traces_run_in_constant_memory() {
    const KIB: usize = 1024;
    // The reader alone, over a generated script.
    let short = peak_of(|| assert_eq!(read_generated(20_000), 20_000));
    let long = peak_of(|| assert_eq!(read_generated(200_000), 200_000));
    println!(
        "reader: peak {} KiB for 20k events, {} KiB for 200k",
        short / KIB,
        long / KIB
    );
    assert!(
        long <= short + 64 * KIB,
        "reading grew with the trace: {short} -> {long} bytes"
    );

    // run: reader, backend, oracle and coverage over a script.
    let cycle = CYCLE.len();
    let short = peak_of(|| {
        assert_eq!(
            judge_stream(script(1_000), Mode::Run(Backend::Model)).events,
            1_000 * cycle as u64
        )
    });
    let long = peak_of(|| {
        let r = judge_stream(script(10_000), Mode::Run(Backend::Model));
        assert!(r.passed(), "{:?}", r.findings.first());
        assert_eq!(r.events, 10_000 * cycle as u64);
    });
    println!(
        "run: peak {} KiB for {} events, {} KiB for {}",
        short / KIB,
        1_000 * cycle,
        long / KIB,
        10_000 * cycle
    );
    assert!(
        long <= short + 64 * KIB,
        "running grew with the trace: {short} -> {long} bytes"
    );

    // check: a recorded trace, with one divergence per cycle (kept up to the cap, then counted).
    let mut recorded = Writer::new(Vec::new());
    let opts = Options {
        mode: Mode::Run(Backend::Model),
        profile: None,
        strict: false,
        max_findings: mmoracle::oracle::report::MAX_FINDINGS,
    };
    let text = script(1).collect::<Vec<_>>().join("\n");
    judge(text.as_bytes(), "one", &opts, None, Some(&mut recorded), &mut |_| {}).unwrap();
    let recorded = String::from_utf8(recorded.into_inner()).unwrap();
    let one_cycle: Vec<String> = recorded
        .lines()
        .skip(1)
        .take(cycle - 3)
        .map(|l| l.replace(r#""len":1,"ret":{"ok":"00"}"#, r#""len":1,"ret":{"ok":"01"}"#))
        .collect();
    let short = peak_of(|| assert_eq!(judge_stream(trace(1_000, &one_cycle), Mode::Check).divergences, 1_000));
    let long = peak_of(|| assert_eq!(judge_stream(trace(10_000, &one_cycle), Mode::Check).divergences, 10_000));
    println!(
        "check: peak {} KiB for {} events, {} KiB for {}",
        short / KIB,
        1_000 * (cycle - 3),
        long / KIB,
        10_000 * (cycle - 3)
    );
    assert!(
        long <= short + 64 * KIB,
        "checking grew with the trace: {short} -> {long} bytes"
    );
}
