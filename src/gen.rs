//! Random scripts, reproducible from a seed, biased the way syzkaller biases
//! its arguments: addresses in a small window so that ranges overlap, lengths
//! of mostly one to four pages, now and then a random or slightly wrong flag
//! word, across several processes. Besides the primitive calls it emits the
//! library calls (memobj, Gamma), the modelled server's files (`resmgr_file`,
//! their opens, `io_mmap`), `dup`, `fstat`, the peer calls, and a few
//! requests at the edges (physical memory, sizes past RAM, odd shm names and
//! limits). Every script starts with the same short prologue: the server's
//! files, one per way `_IO_MMAP` ends, opened and driven once. 20,000 steps
//! reach at least nine tenths of the rules each profile's hand-written
//! scripts exercise (tests/trace/gen.rs).
//!
//! Scripts are written as they are generated, so memory does not grow with
//! `steps`. Names for bindings come from small fixed pools (`a0`..`a7` for
//! addresses, `f0`..`f5` for fds, `p2`.. for processes), so the reader's
//! bindings stay bounded too. The numbers come from `Xoshiro256PlusPlus`, a
//! named algorithm, through this module's own range reduction, so a seed
//! gives the same script in every build.

use crate::call::{Call, Handle};
use crate::profile::{BrkResult, ProfileName};
use crate::trace::writer::raw_event;
use crate::trace::{Header, RawEvent, Writer};
use crate::types::{
    Addr, Fd, FileSystem, Len, MapFlags, MclFlags, MlockFlags, MremapFlags, MsyncFlags, OFlags, Pid, Prot, Resource,
    RLIM_INFINITY,
};
use rand::rngs::Xoshiro256PlusPlus;
use rand::{Rng, SeedableRng};
use serde_json::Value as Json;
use std::io::{self, Write};

/// What to generate.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct GenOptions {
    /// The seed; the same seed gives the same script.
    pub seed: u64,
    /// The number of events.
    pub steps: u64,
    /// The largest number of processes alive at once (at least 1).
    pub procs: u32,
    /// The profile written in the header.
    pub profile: ProfileName,
}

/// Pages in the address window most calls aim at.
pub const WINDOW_PAGES: u64 = 64;
const ADDR_SLOTS: usize = 8;
const FD_SLOTS: usize = 6;
const SHM_NAMES: u64 = 4;
const HANDLE_SLOTS: usize = 4;
const VADDR_SLOTS: usize = 4;
/// Files of the modelled server the generator creates and opens.
const SERVER_FILES: u64 = 9;
/// A pid that is never alive (the model's process cap is far below it).
const DEAD_PID: i64 = 1000;
/// One step in this many unmaps the caller's whole address space.
const RESET_EVERY: u64 = 200;
/// Mixed into the seed for the address-space calls' stream.
const ASIDE_SEED: u64 = 0x6173_7061_6365;
/// Steps in 100 that go to the address-space calls.
const ASPACE_PER_100: u64 = 5;

/// A random script as an iterator of events, generated lazily.
pub struct Script {
    gen: Gen,
    header: Header,
    left: u64,
}

impl Script {
    /// The script `opts` describe.
    pub fn new(opts: &GenOptions) -> Script {
        let header = Header {
            profile: Some(opts.profile),
            seed: Some(opts.seed),
            ram: None,
            comment: Some(format!(
                "mmoracle gen --seed {} --steps {} --procs {} --profile {}",
                opts.seed, opts.steps, opts.procs, opts.profile
            )),
        };
        Script {
            gen: Gen::new(opts),
            header,
            left: opts.steps,
        }
    }

    /// The header to write first.
    pub fn header(&self) -> &Header {
        &self.header
    }
}

impl Iterator for Script {
    type Item = RawEvent;

    fn next(&mut self) -> Option<RawEvent> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.gen.step())
    }
}

/// Writes a random script to `out`.
pub fn generate<W: Write>(opts: &GenOptions, out: &mut Writer<W>) -> io::Result<()> {
    let script = Script::new(opts);
    out.header(script.header())?;
    for event in script {
        out.event(&event, None)?;
    }
    out.flush()
}

/// A generated script as a string (for tests and small scripts).
pub fn generate_string(opts: &GenOptions) -> String {
    let mut w = Writer::new(Vec::new());
    generate(opts, &mut w).expect("writing to memory cannot fail");
    String::from_utf8(w.into_inner()).expect("traces are UTF-8")
}

/// One live process: how events name it.
#[derive(Clone, Debug)]
struct Proc {
    pid: Json,
    slot: Option<usize>,
    /// Whether the process's break is bound (`$k<slot>`, from brk(0)).
    brk_bound: bool,
}

struct Gen {
    rng: Xoshiro256PlusPlus,
    /// The address-space calls' own random stream.
    aside: Xoshiro256PlusPlus,
    /// Where brk's heap starts when brk cannot report it (the C library's
    /// brk); `None` where brk(0) returns the break.
    brk_base: Option<u64>,
    page: u64,
    /// The user address range of the profile, for the occasional munmap of everything.
    user: (u64, u64),
    max_procs: usize,
    procs: Vec<Proc>,
    pid_slots: Vec<bool>,
    /// The owner (index into `procs`, by pid JSON) of each address binding.
    addr_slots: [Option<Json>; ADDR_SLOTS],
    fd_slots: [Option<Json>; FD_SLOTS],
    /// The profile's first limits (a lowered soft limit goes back to the
    /// hard one, which no process can raise on linux).
    initial_limits: [crate::types::Rlimit; Resource::COUNT],
    /// The owner of each memobj handle binding (`h0`..).
    handle_slots: [Option<Json>; HANDLE_SLOTS],
    /// Each memobj_map result binding (`m0`..): the handle slot, the target
    /// as written, and the caller.
    vaddr_slots: [Option<(usize, Json, Json)>; VADDR_SLOTS],
    /// Window pages used so far, one bit each.
    used: u64,
    /// An event to emit before anything new.
    pending: Option<RawEvent>,
    /// Whether the profile's MAP_GROWSDOWN mappings grow (knob
    /// `stack_growth`): then the address-space calls make some, with an
    /// access below each.
    stacks: bool,
    /// Events still to emit, last first: the server's files at the start,
    /// the second half of a two-event case.
    queued: Vec<RawEvent>,
}

impl Gen {
    fn new(opts: &GenOptions) -> Gen {
        let max_procs = opts.procs.max(1) as usize;
        Gen {
            rng: Xoshiro256PlusPlus::seed_from_u64(opts.seed),
            aside: Xoshiro256PlusPlus::seed_from_u64(opts.seed ^ ASIDE_SEED),
            page: opts.profile.profile().page_size,
            user: (opts.profile.profile().user_start, opts.profile.profile().user_end),
            max_procs,
            procs: vec![Proc {
                pid: Json::from(1),
                slot: None,
                brk_bound: false,
            }],
            brk_base: (opts.profile.profile().brk_result == BrkResult::ZeroOrErrno)
                .then_some(opts.profile.profile().initial_break),
            pid_slots: vec![false; max_procs],
            addr_slots: Default::default(),
            fd_slots: Default::default(),
            initial_limits: opts.profile.profile().initial_limits,
            handle_slots: Default::default(),
            vaddr_slots: Default::default(),
            used: 0,
            pending: None,
            stacks: opts.profile.profile().stack_growth.is_some(),
            queued: server_files(),
        }
    }

    /// A number in `0..n` (0 when `n` is 0).
    fn below(&mut self, n: u64) -> u64 {
        ((u128::from(self.rng.next_u64()) * u128::from(n)) >> 64) as u64
    }

    /// True with probability `num/den`.
    fn chance(&mut self, num: u64, den: u64) -> bool {
        self.below(den) < num
    }

    fn pick<T: Clone>(&mut self, items: &[T]) -> T {
        items[self.below(items.len() as u64) as usize].clone()
    }

    fn step(&mut self) -> RawEvent {
        if let Some(ev) = self.pending.take().or_else(|| self.queued.pop()) {
            return ev;
        }
        // The address-space calls come in between, drawn from a stream of
        // their own: the other calls keep the sequence they had before
        // these existed, only later in the script.
        std::mem::swap(&mut self.rng, &mut self.aside);
        let aspace = self.chance(ASPACE_PER_100, 100).then(|| {
            let who = self.below(self.procs.len() as u64) as usize;
            let pid = self.procs[who].pid.clone();
            self.aspace(who, &pid)
        });
        std::mem::swap(&mut self.rng, &mut self.aside);
        if let Some(ev) = aspace {
            return ev;
        }
        let who = if self.procs.len() > 1 && self.chance(1, 3) {
            self.below(self.procs.len() as u64) as usize
        } else {
            0
        };
        let pid = self.procs[who].pid.clone();
        if self.chance(1, RESET_EVERY) {
            return self.unmap_everything(&pid);
        }
        // Four steps in 13 go to the library calls, the server's files, fds
        // and other processes; the rest keep the primitive mix.
        let roll = self.below(130);
        if roll >= 100 {
            return self.extra(who, &pid);
        }
        match roll {
            0..=21 => self.mmap(&pid),
            22..=29 => self.range_call(&pid, RangeCall::Munmap),
            30..=37 => self.range_call(&pid, RangeCall::Mprotect),
            38..=41 => self.range_call(&pid, RangeCall::Mlock),
            42..=44 => self.range_call(&pid, RangeCall::Munlock),
            45..=47 => self.range_call(&pid, RangeCall::Msync),
            48..=49 => self.mlockall(&pid),
            50..=58 => self.access(&pid, false),
            59..=67 => self.access(&pid, true),
            68..=73 => self.shm_open(&pid),
            74..=77 => self.ftruncate(&pid),
            78..=80 => self.close(&pid),
            81..=82 => {
                let name = self_name(self.below(SHM_NAMES));
                self.plain(&pid, Call::ShmUnlink { name })
            }
            83..=84 => self.open(&pid),
            85..=88 => self.setrlimit(&pid),
            89..=90 => self.getrlimit(&pid),
            91..=93 => self.spawn(&pid),
            94 => self.new_process(&pid, &Call::Fork {}),
            95..=96 => self.exit(who),
            _ => self.cred(&pid),
        }
    }

    /// munmap of the whole user range. mmaps without MAP_FIXED land outside
    /// the window and would pile up over a long script (a program that
    /// leaks mappings); this keeps the state, and so the cost of each call,
    /// bounded however long the script.
    fn unmap_everything(&mut self, pid: &Json) -> RawEvent {
        let (start, end) = self.user;
        if pid == 1 {
            self.used = 0;
        }
        let call = Call::Munmap {
            addr: Addr(start),
            len: Len(end - start),
        };
        self.plain(pid, call)
    }

    fn plain(&mut self, pid: &Json, call: Call) -> RawEvent {
        raw_event(pid.clone(), &call, None)
    }

    // ---- argument domains -------------------------------------------------

    /// A page of the window: usually one used before, shifted back a little
    /// (overlap is the point), else one near the end of the window.
    fn window_page(&mut self) -> u64 {
        if self.used != 0 && !self.chance(1, 5) {
            let count = u64::from(self.used.count_ones());
            let nth = self.below(count);
            let page = (0..WINDOW_PAGES)
                .filter(|p| self.used & (1 << p) != 0)
                .nth(nth as usize)
                .unwrap_or(0);
            page.saturating_sub(self.below(3))
        } else {
            WINDOW_PAGES - 1 - self.below(8)
        }
    }

    /// An address: mostly in the window or relative to a mapping bound
    /// earlier; now and then unaligned, zero or wild. Returns the expression.
    fn addr(&mut self, pid: &Json) -> Json {
        let roll = self.below(100);
        let owned = self.owned_slot(pid, true);
        match (roll, owned) {
            (0..=64, _) | (65..=84, None) => {
                let page = self.window_page();
                arena_expr(page * self.page)
            }
            (65..=84, Some(slot)) => {
                let off = self.below(4) * self.page;
                Json::from(format!("$a{slot}+{off:#x}"))
            }
            (85..=91, _) => {
                let page = self.window_page();
                arena_expr(page * self.page + 1 + self.below(self.page - 1))
            }
            (92..=95, _) => Json::from("0x0"),
            _ => Json::from(format!("{:#x}", self.rng.next_u64())),
        }
    }

    /// Marks the window pages an address expression of the window covers.
    fn mark(&mut self, addr: &Json, len: u64) {
        let Some(off) = addr
            .as_str()
            .and_then(|s| s.strip_prefix("$ARENA+"))
            .and_then(crate::types::parse_hex)
        else {
            return;
        };
        let first = off / self.page;
        let pages = len.div_ceil(self.page).min(WINDOW_PAGES);
        for p in first..(first + pages).min(WINDOW_PAGES) {
            self.used |= 1 << p;
        }
    }

    /// A length: 1-4 pages with probability 100/106, else 1-20 pages, else a
    /// fraction of the window; one time in 50 an odd one (0, unaligned, huge).
    fn len(&mut self) -> u64 {
        if self.chance(1, 50) {
            return match self.below(4) {
                0 => 0,
                1 => 1 + self.below(self.page - 1),
                2 => u64::MAX - self.below(self.page * 2),
                _ => (1 + self.below(4)) * self.page + 1 + self.below(self.page - 1),
            };
        }
        let pages = if self.chance(100, 106) {
            1 + self.below(4)
        } else if self.chance(5, 6) {
            1 + self.below(20)
        } else {
            WINDOW_PAGES * (1 + self.below(3)) / 4
        };
        pages * self.page
    }

    /// A flag word: one time in 100 fully random, one in 50 zero, one in 20
    /// a named flag shifted by a bit, else `usual`.
    fn flags(&mut self, names: &[u32], usual: u32) -> u32 {
        match self.below(100) {
            0 => self.rng.next_u32(),
            1..=2 => 0,
            3..=7 => self.pick(names) << 1,
            _ => usual,
        }
    }

    fn prot(&mut self) -> Prot {
        let usual = match self.below(10) {
            0..=4 => Prot::READ | Prot::WRITE,
            5..=6 => Prot::READ,
            7 => Prot::NONE,
            8 => Prot::READ | Prot::EXEC,
            _ => Prot::WRITE,
        };
        let names = [0x100, 0x200, 0x400, 0x800];
        Prot::from_bits_retain(self.flags(&names, usual.bits()))
    }

    /// An address binding owned by `pid` (`bound`: only bound ones), if any.
    fn owned_slot(&mut self, pid: &Json, bound: bool) -> Option<usize> {
        let mine: Vec<usize> = (0..ADDR_SLOTS)
            .filter(|&i| self.addr_slots[i].as_ref() == Some(pid) || (!bound && self.addr_slots[i].is_none()))
            .collect();
        (!mine.is_empty()).then(|| self.pick(&mine))
    }

    /// An fd: one bound by `pid` when there is one, else -1 or a small number.
    fn fd(&mut self, pid: &Json) -> Json {
        let mine = bound_by(&self.fd_slots, pid);
        if let Some(name) = self.usually_one_of(&mine, 'f') {
            return name;
        }
        Json::from(if self.chance(1, 2) { -1 } else { self.below(8) as i64 })
    }

    /// Nine times in ten, the name (`$` `prefix` index) of one of the slots
    /// `mine`, when there are any.
    fn usually_one_of(&mut self, mine: &[usize], prefix: char) -> Option<Json> {
        if mine.is_empty() || self.chance(1, 10) {
            return None;
        }
        let slot = self.pick(mine);
        Some(Json::from(format!("${prefix}{slot}")))
    }

    // ---- calls -----------------------------------------------------------

    fn mmap(&mut self, pid: &Json) -> RawEvent {
        let anon = self.chance(3, 5);
        let mut usual = if anon {
            MapFlags::ANON | self.pick(&[MapFlags::PRIVATE, MapFlags::PRIVATE, MapFlags::SHARED])
        } else {
            self.pick(&[MapFlags::SHARED, MapFlags::SHARED, MapFlags::PRIVATE])
        };
        let fixed = self.chance(1, 2);
        if fixed {
            usual |= if self.chance(1, 20) {
                MapFlags::FIXED_NOREPLACE
            } else {
                MapFlags::FIXED
            };
        }
        if self.chance(1, 10) {
            usual |= self.pick(&[
                MapFlags::LAZY,
                MapFlags::NOINIT,
                MapFlags::STACK,
                MapFlags::PHYS,
                MapFlags::LOCKED,
                MapFlags::POPULATE,
                MapFlags::NORESERVE,
                MapFlags::ELF,
            ]);
        }
        let names: Vec<u32> = MapFlags::all().iter().map(|f| f.bits()).collect();
        let flags = MapFlags::from_bits_retain(self.flags(&names, usual.bits()));
        let len = self.len();
        let prot = self.prot();
        let addr = if fixed || self.chance(1, 4) {
            self.addr(pid)
        } else {
            Json::from("0x0")
        };
        let fd = if anon && !self.chance(1, 20) {
            Json::from(-1)
        } else {
            self.fd(pid)
        };
        let off = match self.below(40) {
            0..=31 => 0,
            32..=37 => self.below(4) * self.page,
            38 => self.below(self.page * 4),
            // The last pages below 2^64: a range that wraps, or ends just short.
            _ => u64::MAX - (1 + self.below(4)) * self.page + 1,
        };
        if fixed {
            self.mark(&addr, len);
        }
        let call = Call::Mmap {
            addr: Addr(0),
            len: Len(len),
            prot,
            flags,
            fd: Fd(-1),
            off,
        };
        let slot = self
            .owned_slot(pid, false)
            .unwrap_or_else(|| self.below(ADDR_SLOTS as u64) as usize);
        self.addr_slots[slot] = Some(pid.clone());
        let mut ev = raw_event(pid.clone(), &call, Some(&format!("a{slot}")));
        set_arg(&mut ev, "addr", addr);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    fn range_call(&mut self, pid: &Json, which: RangeCall) -> RawEvent {
        let addr = self.addr(pid);
        let len = Len(self.len());
        let call = match which {
            RangeCall::Munmap => Call::Munmap { addr: Addr(0), len },
            RangeCall::Mprotect => Call::Mprotect {
                addr: Addr(0),
                len,
                prot: self.prot(),
            },
            RangeCall::Mlock => Call::Mlock { addr: Addr(0), len },
            RangeCall::Munlock => Call::Munlock { addr: Addr(0), len },
            RangeCall::Msync => {
                let usual = self.pick(&[
                    MsyncFlags::SYNC,
                    MsyncFlags::ASYNC,
                    MsyncFlags::SYNC | MsyncFlags::INVALIDATE,
                    MsyncFlags::ASYNC | MsyncFlags::SYNC,
                ]);
                let flags = self.flags(&[1, 2, 4, 8, 0x10], usual.bits());
                Call::Msync {
                    addr: Addr(0),
                    len,
                    flags: MsyncFlags::from_bits_retain(flags),
                }
            }
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "addr", addr);
        ev
    }

    fn mlockall(&mut self, pid: &Json) -> RawEvent {
        if self.chance(1, 3) {
            return self.plain(pid, Call::Munlockall {});
        }
        let usual = self.pick(&[1, 2, 3]);
        let flags = MclFlags::from_bits_retain(self.flags(&[1, 2], usual));
        self.plain(pid, Call::Mlockall { flags })
    }

    fn access(&mut self, pid: &Json, store: bool) -> RawEvent {
        let addr = self.addr(pid);
        let len = match self.below(20) {
            0..=15 => 1 + self.below(32),
            16..=18 => self.page - 8 + self.below(16),
            _ => 0,
        };
        let call = self.store_or_load(store, len);
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "addr", addr);
        ev
    }

    /// A store of `len` random bytes, or a load of `len` bytes, at an
    /// address the caller sets.
    fn store_or_load(&mut self, store: bool, len: u64) -> Call {
        if store {
            let data = (0..len).map(|_| self.rng.next_u32() as u8).collect();
            Call::Store { addr: Addr(0), data }
        } else {
            Call::Load {
                addr: Addr(0),
                len: Len(len),
            }
        }
    }

    /// Opens an fd into a slot. A slot still holding an fd is closed first
    /// (this event closes it, the open follows), so that fds, and the
    /// objects they keep alive, do not pile up over a long script.
    fn bind_fd(&mut self, pid: &Json, call: &Call) -> RawEvent {
        let free: Vec<usize> = (0..FD_SLOTS).filter(|&i| self.fd_slots[i].is_none()).collect();
        let slot = if free.is_empty() {
            self.below(FD_SLOTS as u64) as usize
        } else {
            self.pick(&free)
        };
        let open = raw_event(pid.clone(), call, Some(&format!("f{slot}")));
        let previous = self.fd_slots[slot].replace(pid.clone());
        match previous {
            Some(owner) => {
                self.pending = Some(open);
                let mut close = raw_event(owner, &Call::Close { fd: Fd(-1) }, None);
                set_arg(&mut close, "fd", Json::from(format!("$f{slot}")));
                close
            }
            None => open,
        }
    }

    fn shm_open(&mut self, pid: &Json) -> RawEvent {
        let usual = self.pick(&[
            OFlags::RDWR | OFlags::CREAT,
            OFlags::RDWR | OFlags::CREAT,
            OFlags::RDWR,
            OFlags::RDONLY,
            OFlags::RDWR | OFlags::CREAT | OFlags::EXCL,
            OFlags::WRONLY | OFlags::CREAT,
            OFlags::RDONLY | OFlags::CREAT | OFlags::TRUNC,
        ]);
        let oflag = OFlags::from_bits_retain(self.flags(&[1, 2, 8, 0x100, 0x200, 0x400], usual.bits()));
        let call = Call::ShmOpen {
            name: self_name(self.below(SHM_NAMES)),
            oflag,
            mode: self.pick(&[0o600, 0o644, 0o400, 0o666]),
        };
        self.bind_fd(pid, &call)
    }

    fn open(&mut self, pid: &Json) -> RawEvent {
        let path = self.pick(&["/dev/zero", "/dev/zero", "/dev/null", "/dev/mem", "/dev/nonesuch"]);
        let oflag = self.pick(&[OFlags::RDWR, OFlags::RDONLY, OFlags::WRONLY]);
        let call = Call::Open {
            path: path.into(),
            oflag,
        };
        self.bind_fd(pid, &call)
    }

    fn ftruncate(&mut self, pid: &Json) -> RawEvent {
        let len = match self.below(10) {
            0..=6 => (self.below(9) * self.page) as i64,
            7..=8 => self.below(self.page * 4) as i64,
            _ => -1 - self.below(4096) as i64,
        };
        let fd = self.fd(pid);
        let mut ev = raw_event(pid.clone(), &Call::Ftruncate { fd: Fd(-1), len }, None);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    fn close(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        let mut ev = raw_event(pid.clone(), &Call::Close { fd: Fd(-1) }, None);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    /// A modelled resource, or now and then a number no system knows
    /// (RLIMIT-EINVAL-3).
    fn resource(&mut self) -> Resource {
        if self.chance(1, 16) {
            return Resource::Unknown(self.pick(&[16, 42, -1]));
        }
        self.pick(&Resource::ALL)
    }

    /// The caller of a call that restricts a process for good (a lower hard
    /// limit, dropped privileges): usually a spawned process, which exits
    /// and is replaced in time, so that long scripts do not settle into
    /// failing everything.
    fn restricted_caller(&mut self, pid: &Json) -> Json {
        if self.procs.len() > 1 && self.chance(3, 4) {
            let who = 1 + self.below(self.procs.len() as u64 - 1) as usize;
            self.procs[who].pid.clone()
        } else {
            pid.clone()
        }
    }

    fn setrlimit(&mut self, pid: &Json) -> RawEvent {
        let pid = self.restricted_caller(pid);
        let resource = self.resource();
        // Counts of fds and processes go by one, sizes by pages.
        let unit = if matches!(resource, Resource::RLIMIT_NOFILE | Resource::RLIMIT_NPROC) {
            1
        } else {
            self.page
        };
        let first = pid == 1;
        let cur = if self.chance(1, if first { 2 } else { 4 }) {
            RLIM_INFINITY
        } else {
            self.below(64) * unit
        };
        let target = self.other_pid(&pid);
        // The first process keeps an unlimited hard limit, so it can always
        // raise its soft limit again.
        let max = if cur == RLIM_INFINITY || first || target == Some(Pid(1)) || self.chance(1, 2) {
            RLIM_INFINITY
        } else {
            cur + self.below(16) * unit
        };
        self.plain(
            &pid,
            Call::Setrlimit {
                resource,
                cur,
                max,
                target,
            },
        )
    }

    fn getrlimit(&mut self, pid: &Json) -> RawEvent {
        let resource = self.resource();
        let target = self.other_pid(pid);
        self.plain(pid, Call::Getrlimit { resource, target })
    }

    /// Usually no target (the caller), sometimes pid 1 or a wrong pid.
    fn other_pid(&mut self, _pid: &Json) -> Option<Pid> {
        match self.below(20) {
            0 => Some(Pid(1)),
            1 => Some(Pid(1000)),
            _ => None,
        }
    }

    fn spawn(&mut self, pid: &Json) -> RawEvent {
        self.new_process(pid, &Call::Spawn {})
    }

    /// A spawn or a fork: the child takes a free pid slot.
    fn new_process(&mut self, pid: &Json, call: &Call) -> RawEvent {
        if self.procs.len() >= self.max_procs {
            let who = self.below(self.procs.len() as u64) as usize;
            return self.exit(who);
        }
        let Some(slot) = self.pid_slots.iter().skip(1).position(|used| !used).map(|i| i + 1) else {
            return self.exit(0);
        };
        self.pid_slots[slot] = true;
        let name = format!("p{}", slot + 1);
        self.procs.push(Proc {
            brk_bound: false,
            pid: Json::from(format!("${name}")),
            slot: Some(slot),
        });
        raw_event(pid.clone(), call, Some(&name))
    }

    fn exit(&mut self, who: usize) -> RawEvent {
        if who == 0 || self.procs.len() < 2 {
            let pid = self.procs[0].pid.clone();
            return self.plain(&pid, Call::Munlockall {});
        }
        let gone = self.procs.remove(who);
        if let Some(slot) = gone.slot {
            self.pid_slots[slot] = false;
        }
        for s in self
            .addr_slots
            .iter_mut()
            .chain(self.fd_slots.iter_mut())
            .chain(self.handle_slots.iter_mut())
        {
            if s.as_ref() == Some(&gone.pid) {
                *s = None;
            }
        }
        raw_event(gone.pid, &Call::Exit {}, None)
    }

    fn cred(&mut self, pid: &Json) -> RawEvent {
        let pid = self.restricted_caller(pid);
        // The first process stays root, so it can take back what it drops.
        let euid = if pid == 1 { 0 } else { self.pick(&[0, 0, 1000]) };
        let cap_ipc_lock = self.chance(1, 2);
        self.plain(
            &pid,
            Call::Cred {
                euid,
                cap_ipc_lock,
                egid: None,
                groups: None,
            },
        )
    }

    // ---- library calls, the server's files, fds and other processes ------

    fn extra(&mut self, who: usize, pid: &Json) -> RawEvent {
        match self.below(36) {
            0..=2 => self.memobj_create(pid),
            3 => self.memobj_wrap(pid),
            4..=7 => self.memobj_map(pid),
            8..=9 => self.memobj_unmap(pid),
            10 => self.memobj_close(pid),
            11 => self.memobj_share(pid),
            12 => self.gamma_shm_open(pid),
            13..=14 => self.gamma_mmap(pid),
            15 => self.resmgr_file(pid),
            16..=17 => self.open_server_file(pid),
            18 => self.io_mmap(pid),
            19 => self.dup(pid),
            20 => self.fstat(pid),
            21..=22 => self.mmap_peer(pid),
            23 => self.munmap_peer(pid),
            24 => self.odd_shm_name(pid),
            25 => self.huge(pid),
            26 => self.plain(&Json::from(DEAD_PID), Call::Munlockall {}),
            27 => self.odd_limit(pid),
            30 => self.umask(pid),
            31 => self.fstat_full(pid),
            32 => self.cred_groups(pid),
            33 => self.pipe(pid),
            34..=35 => self.new_process(pid, &Call::Fork {}),
            _ => self.exit_or_spawn(who, pid),
        }
    }

    /// The address-space calls (spec/address-space.md) and mlock2.
    fn aspace(&mut self, who: usize, pid: &Json) -> RawEvent {
        match self.below(7) {
            0 => self.plain(pid, Call::Meminfo {}),
            1 => self.mlock2(pid),
            2..=3 => self.brk(who),
            6 if self.stacks => self.stack(pid),
            _ => self.mremap(pid),
        }
    }

    /// A MAP_GROWSDOWN mapping in the window (1-4 pages, MAP_FIXED), and
    /// next a load or store up to 4 pages below it, which may grow it
    /// (ACCESS-GROW-1) or be refused (ACCESS-SIGSEGV-4 when a mapping lies
    /// below; one time in three a page is mapped there first). All stay
    /// inside the window, so growth is bounded by it.
    fn stack(&mut self, pid: &Json) -> RawEvent {
        let pages = 1 + self.below(4);
        let first = 4 + self.below(WINDOW_PAGES - 4 - pages);
        let prot = match self.below(8) {
            0 => Prot::NONE,
            1 => Prot::READ,
            _ => Prot::READ | Prot::WRITE,
        };
        let mut flags = MapFlags::PRIVATE | MapFlags::ANON | MapFlags::GROWSDOWN | MapFlags::FIXED;
        if self.chance(1, 8) {
            flags |= MapFlags::LOCKED;
        }
        let call = Call::Mmap {
            addr: Addr(0),
            len: Len(pages * self.page),
            prot,
            flags,
            fd: Fd::NOFD,
            off: 0,
        };
        let at = arena_expr(first * self.page);
        self.mark(&at, pages * self.page);
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "addr", at);
        let below = first * self.page - 1 - self.below(4 * self.page);
        let len = 1 + self.below(16);
        let store = self.chance(1, 2);
        let access = self.store_or_load(store, len);
        let mut next = raw_event(pid.clone(), &access, None);
        set_arg(&mut next, "addr", arena_expr(below));
        if !self.chance(1, 3) {
            self.pending = Some(next);
            return ev;
        }
        // A page mapped first a little below, inside the guard gap: the
        // access between them is refused (ACCESS-SIGSEGV-4) unless the page
        // is PROT_NONE.
        let low = first - 2 - self.below(3);
        let prot = if self.chance(1, 4) { Prot::NONE } else { Prot::READ };
        let call = Call::Mmap {
            addr: Addr(0),
            len: Len(self.page),
            prot,
            flags: MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED,
            fd: Fd::NOFD,
            off: 0,
        };
        let at = arena_expr(low * self.page);
        self.mark(&at, self.page);
        let mut plain = raw_event(pid.clone(), &call, None);
        set_arg(&mut plain, "addr", at);
        self.queued.push(next);
        self.queued.push(ev);
        plain
    }

    /// mremap of a range as the range calls choose it, to a length as mmap
    /// chooses one: usually free to move, else in place, now and then to a
    /// fixed page of the window or leaving the old range mapped.
    fn mremap(&mut self, pid: &Json) -> RawEvent {
        let old_addr = self.addr(pid);
        let old_len = Len(self.len());
        let new_len = Len(self.len());
        let (usual, new_addr) = match self.below(10) {
            0..=4 => (MremapFlags::MAYMOVE, None),
            5..=7 => (MremapFlags::empty(), None),
            8 => {
                let page = self.window_page();
                (
                    MremapFlags::MAYMOVE | MremapFlags::FIXED,
                    Some(arena_expr(page * self.page)),
                )
            }
            _ => (MremapFlags::MAYMOVE | MremapFlags::DONTUNMAP, None),
        };
        let flags = MremapFlags::from_bits_retain(self.flags(&[1, 2, 4], usual.bits()));
        let call = Call::Mremap {
            old_addr: Addr(0),
            old_len,
            new_len,
            flags,
            new_addr: Addr(0),
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "old_addr", old_addr);
        if let Some(at) = new_addr {
            set_arg(&mut ev, "new_addr", at);
        }
        ev
    }

    /// brk: a process first reads its break (brk(0), bound as `$k<slot>`)
    /// where brk returns breaks (else its heap starts at the profile's
    /// initial break), then moves it by some pages (up, or down after
    /// growing), within a page, far below the start or far up; or maps a
    /// page in its way.
    fn brk(&mut self, who: usize) -> RawEvent {
        let pid = self.procs[who].pid.clone();
        let name = format!("k{}", self.procs[who].slot.map_or(0, |s| s + 1));
        if self.brk_base.is_none() && !self.procs[who].brk_bound {
            self.procs[who].brk_bound = true;
            return raw_event(pid, &Call::Brk { addr: Addr(0) }, Some(&name));
        }
        let page = self.page as i64;
        let delta = match self.below(12) {
            0..=4 => (1 + self.below(4) as i64) * page + self.below(2) as i64 * 10,
            5 => self.below(self.page) as i64,
            6 => 0,
            // Below the heap (a real worker's own heap lies just below the
            // break it starts with, so only far below is safe to ask).
            7 => {
                return self.plain(
                    &pid,
                    Call::Brk {
                        addr: Addr(page as u64),
                    },
                )
            }
            8 => 1 << 30,
            9 => return self.plain(&pid, Call::Brk { addr: Addr(0) }),
            _ => {
                let pages = 2 + self.below(4) as i64;
                let at = self.brk_addr(&name, pages * page);
                let call = Call::Mmap {
                    addr: Addr(0),
                    len: Len(self.page),
                    prot: Prot::READ | Prot::WRITE,
                    flags: MapFlags::PRIVATE | MapFlags::ANON | MapFlags::FIXED,
                    fd: Fd::NOFD,
                    off: 0,
                };
                let mut ev = raw_event(pid, &call, None);
                set_arg(&mut ev, "addr", at);
                return ev;
            }
        };
        let at = self.brk_addr(&name, delta);
        let mut ev = raw_event(pid, &Call::Brk { addr: Addr(0) }, None);
        set_arg(&mut ev, "addr", at);
        ev
    }

    /// The address `delta` bytes from the start of a process's heap.
    fn brk_addr(&self, name: &str, delta: i64) -> Json {
        match self.brk_base {
            Some(base) => Json::from(format!("{:#x}", base.wrapping_add_signed(delta))),
            None if delta < 0 => Json::from(format!("${name}-{:#x}", delta.unsigned_abs())),
            None => Json::from(format!("${name}+{delta:#x}")),
        }
    }

    /// mlock2 over a range as the other range calls choose it, usually
    /// with MLOCK_ONFAULT.
    fn mlock2(&mut self, pid: &Json) -> RawEvent {
        let addr = self.addr(pid);
        let len = Len(self.len());
        let usual = self.pick(&[MlockFlags::ONFAULT.bits(), 0]);
        let flags = MlockFlags::from_bits_retain(self.flags(&[1], usual));
        let mut ev = raw_event(
            pid.clone(),
            &Call::Mlock2 {
                addr: Addr(0),
                len,
                flags,
            },
            None,
        );
        set_arg(&mut ev, "addr", addr);
        ev
    }

    fn exit_or_spawn(&mut self, who: usize, pid: &Json) -> RawEvent {
        if who != 0 && self.chance(1, 2) {
            self.exit(who)
        } else {
            self.spawn(pid)
        }
    }

    /// Another process as a call's target: usually a live one, else the
    /// caller itself, 0, or a pid that does not exist.
    fn target(&mut self, pid: &Json) -> Json {
        match self.below(10) {
            0..=5 if self.procs.len() > 1 => self.pick(&self.procs.clone()).pid,
            0..=6 => Json::from(0),
            7 => pid.clone(),
            8 => Json::from(1),
            _ => Json::from(DEAD_PID),
        }
    }

    /// A handle binding of `pid`, else a free slot's name (never bound: NULL
    /// or a stale value) or a small wrong number.
    fn handle(&mut self, pid: &Json) -> Json {
        let mine = bound_by(&self.handle_slots, pid);
        if let Some(name) = self.usually_one_of(&mine, 'h') {
            return name;
        }
        Json::from(self.below(4) as i64)
    }

    /// Binds a new handle to a slot, a free one where there is (never
    /// `avoid`, the handle the call reads). A slot still holding a handle
    /// is closed first by its owner (this event closes it, the call
    /// follows), so that handles, and the fds each holds, do not pile up
    /// over a long script (a fork copies them all).
    fn bind_handle(&mut self, pid: &Json, call: &Call, args: &[(&str, Json)], avoid: Option<usize>) -> RawEvent {
        let allowed: Vec<usize> = (0..HANDLE_SLOTS).filter(|&i| Some(i) != avoid).collect();
        let free: Vec<usize> = allowed
            .iter()
            .copied()
            .filter(|&i| self.handle_slots[i].is_none())
            .collect();
        let slot = if free.is_empty() {
            self.pick(&allowed)
        } else {
            self.pick(&free)
        };
        let mut ev = raw_event(pid.clone(), call, Some(&format!("h{slot}")));
        for (key, value) in args {
            set_arg(&mut ev, key, value.clone());
        }
        match self.handle_slots[slot].replace(pid.clone()) {
            Some(owner) => {
                self.forget_vaddrs_of(slot);
                self.pending = Some(ev);
                let mut close = raw_event(owner, &Call::MemobjClose { obj: Handle(0) }, None);
                set_arg(&mut close, "obj", Json::from(format!("$h{slot}")));
                close
            }
            None => ev,
        }
    }

    /// Forgets the mappings made through the handle in `slot`.
    fn forget_vaddrs_of(&mut self, slot: usize) {
        for v in self.vaddr_slots.iter_mut() {
            if v.as_ref().is_some_and(|(h, _, _)| *h == slot) {
                *v = None;
            }
        }
    }

    fn memobj_create(&mut self, pid: &Json) -> RawEvent {
        let nbytes = match self.below(20) {
            0 => 0,
            1 => u64::MAX - self.below(8),
            2 => 1 << 40,
            _ => (1 + self.below(4)) * self.page,
        };
        self.bind_handle(pid, &Call::MemobjCreate { nbytes }, &[], None)
    }

    fn memobj_wrap(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        self.bind_handle(pid, &Call::MemobjWrap { fd: Fd(-1) }, &[("fd", fd)], None)
    }

    fn memobj_map(&mut self, pid: &Json) -> RawEvent {
        let obj = self.handle(pid);
        let target = self.target(pid);
        // Mostly the same few arguments, so that repeats are reference counted.
        let prot = match self.below(5) {
            0 => self.prot(),
            1 => Prot::READ,
            _ => Prot::READ | Prot::WRITE,
        };
        let (offset, nbytes) = match self.below(12) {
            0..=7 => (0, 0),
            8 => (self.page, 0),
            9 => (1 + self.below(self.page - 1), self.page),
            10 => (u64::MAX - self.below(self.page), 0),
            _ => (i64::MAX as u64 - self.page, 2 * self.page),
        };
        let call = Call::MemobjMap {
            obj: Handle(0),
            target: Pid(0),
            prot,
            offset,
            nbytes,
        };
        let slot = self.below(VADDR_SLOTS as u64) as usize;
        let hslot = obj
            .as_str()
            .and_then(|s| s.strip_prefix("$h"))
            .and_then(|s| s.parse().ok());
        self.vaddr_slots[slot] = hslot.map(|h| (h, target.clone(), pid.clone()));
        let mut ev = raw_event(pid.clone(), &call, Some(&format!("m{slot}")));
        set_arg(&mut ev, "obj", obj);
        set_arg(&mut ev, "target", target);
        ev
    }

    fn memobj_unmap(&mut self, pid: &Json) -> RawEvent {
        let mine: Vec<usize> = (0..VADDR_SLOTS)
            .filter(|&i| self.vaddr_slots[i].as_ref().is_some_and(|(_, _, p)| p == pid))
            .collect();
        let call = Call::MemobjUnmap {
            obj: Handle(0),
            target: Pid(0),
            vaddr: Addr(0),
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        if let Some(slot) = (!mine.is_empty()).then(|| self.pick(&mine)) {
            let (h, target, _) = self.vaddr_slots[slot].clone().expect("listed");
            set_arg(&mut ev, "obj", Json::from(format!("$h{h}")));
            // Now and then the wrong process: no such mapping there.
            let target = if self.chance(1, 8) { self.target(pid) } else { target };
            set_arg(&mut ev, "target", target);
            set_arg(&mut ev, "vaddr", Json::from(format!("$m{slot}")));
        } else {
            let obj = self.handle(pid);
            set_arg(&mut ev, "obj", obj);
            let addr = self.addr(pid);
            set_arg(&mut ev, "vaddr", addr);
        }
        ev
    }

    fn memobj_close(&mut self, pid: &Json) -> RawEvent {
        let obj = self.handle(pid);
        if let Some(slot) = handle_slot(&obj) {
            self.handle_slots[slot] = None;
            self.forget_vaddrs_of(slot);
        }
        let mut ev = raw_event(pid.clone(), &Call::MemobjClose { obj: Handle(0) }, None);
        set_arg(&mut ev, "obj", obj);
        ev
    }

    fn memobj_share(&mut self, pid: &Json) -> RawEvent {
        let obj = self.handle(pid);
        let source = handle_slot(&obj);
        self.bind_handle(pid, &Call::MemobjShare { obj: Handle(0) }, &[("obj", obj)], source)
    }

    fn gamma_shm_open(&mut self, pid: &Json) -> RawEvent {
        let name = self.pick(&["Physical", "/g0", "g1", "/g2", ""]).to_string();
        let oflag = self.pick(&[
            OFlags::RDWR | OFlags::CREAT,
            OFlags::RDWR,
            OFlags::RDONLY,
            OFlags::RDWR | OFlags::CREAT | OFlags::EXCL,
        ]);
        let size = match self.below(4) {
            0 => None,
            1 => Some(1 << 40),
            _ => Some((1 + self.below(4)) * self.page),
        };
        let call = Call::GammaShmOpen {
            name,
            oflag,
            mode: self.pick(&[0o600, 0o644, 0o400]),
            size,
        };
        self.bind_fd(pid, &call)
    }

    fn gamma_mmap(&mut self, pid: &Json) -> RawEvent {
        let size = match self.below(10) {
            0 => 0,
            1 => 1 << 40,
            2 => 0xA0000,
            _ => (1 + self.below(4)) * self.page,
        };
        let share = self.pick(&[MapFlags::SHARED, MapFlags::SHARED, MapFlags::PRIVATE]);
        let offset = match self.below(6) {
            0 => 0xA0000,
            1 => u64::MAX - self.page,
            _ => 0,
        };
        let fd = self.fd(pid);
        let call = Call::GammaMmap {
            size,
            prot: self.prot(),
            share,
            shm_file: Fd(-1),
            offset,
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "shm_file", fd);
        ev
    }

    fn server_path(&mut self) -> String {
        match self.below(12) {
            0 => "relative".into(),
            1 => "/dev/g".into(),
            _ => format!("/srv/g{}", self.below(SERVER_FILES)),
        }
    }

    fn resmgr_file(&mut self, pid: &Json) -> RawEvent {
        let handler = self.pick(&["iofunc", "iofunc", "iofunc", "none", "EBUSY"]);
        let data_len = self.below(16) as usize;
        let call = Call::ResmgrFile {
            path: self.server_path(),
            mode: self.pick(&[0o644, 0o600, 0o666, 0o444, 0o2644]),
            uid: self.pick(&[0, 0, 1000]),
            data: (0..data_len).map(|_| self.rng.next_u32() as u8).collect(),
            size: if self.chance(1, 30) {
                u64::MAX
            } else {
                (1 + self.below(3)) * self.page
            },
            readonly: self.chance(1, 6),
            fs: self.pick(&[FileSystem::Disk, FileSystem::Tmpfs]),
            mandatory_lock: self.chance(1, 8),
            ocb_alloc_fails: self.chance(1, 8),
            mmap: handler.into(),
        };
        self.plain(pid, call)
    }

    fn open_server_file(&mut self, pid: &Json) -> RawEvent {
        let oflag = self.pick(&[
            OFlags::RDWR,
            OFlags::RDWR,
            OFlags::RDONLY,
            OFlags::WRONLY,
            OFlags::RDWR | OFlags::CREAT | OFlags::EXCL,
        ]);
        let call = Call::Open {
            path: self.server_path(),
            oflag,
        };
        self.bind_fd(pid, &call)
    }

    fn io_mmap(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        let call = Call::IoMmap {
            fd: Fd(-1),
            prot: self.prot(),
            offset: if self.chance(1, 5) { self.page } else { 0 },
            from_procnto: !self.chance(1, 8),
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    fn dup(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        let mut ev = self.bind_fd(pid, &Call::Dup { fd: Fd(-1) });
        // bind_fd may have queued the dup behind a close of the slot's fd.
        match self.pending.as_mut() {
            Some(open) => set_arg(open, "fd", fd),
            None => set_arg(&mut ev, "fd", fd),
        }
        ev
    }

    /// umask: usually a common mask, sometimes bits outside 0777.
    fn umask(&mut self, pid: &Json) -> RawEvent {
        let mask = match self.below(8) {
            0 => self.rng.next_u32(),
            1..=3 => 0,
            4..=5 => 0o022,
            _ => 0o077,
        };
        self.plain(pid, Call::Umask { mask })
    }

    fn fstat_full(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        let mut ev = raw_event(pid.clone(), &Call::FstatFull { fd: Fd(-1) }, None);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    /// cred with an egid and groups: root's succeeds, anyone else's is
    /// refused unless it keeps its gid (PROC-EPERM-2).
    fn cred_groups(&mut self, pid: &Json) -> RawEvent {
        let pid = self.restricted_caller(pid);
        let euid = if pid == 1 { 0 } else { self.pick(&[0, 1000]) };
        let egid = self.chance(2, 3).then(|| self.pick(&[0, 100, 1000]));
        let groups = self.chance(1, 2).then(|| match self.below(3) {
            0 => vec![],
            1 => vec![100],
            _ => vec![0, 200],
        });
        let cap_ipc_lock = pid == 1 || self.chance(1, 2);
        self.plain(
            &pid,
            Call::Cred {
                euid,
                cap_ipc_lock,
                egid,
                groups,
            },
        )
    }

    /// pipe, its ends bound to two fd slots, free ones when there are
    /// (other calls then pick them like any fd: mmap, fstat, dup, close);
    /// a slot still held is closed first, as bind_fd does.
    fn pipe(&mut self, pid: &Json) -> RawEvent {
        let mut free: Vec<usize> = (0..FD_SLOTS).filter(|&i| self.fd_slots[i].is_none()).collect();
        while free.len() < 2 {
            let any = self.below(FD_SLOTS as u64) as usize;
            if !free.contains(&any) {
                free.push(any);
            }
        }
        let (r, w) = (free[0], free[1]);
        let mut ev = raw_event(pid.clone(), &Call::Pipe {}, None);
        ev.bind = Some(crate::trace::reader::Field {
            name: "bind".into(),
            value: serde_json::json!([format!("f{r}"), format!("f{w}")]),
            column: 0,
        });
        self.queued.push(ev);
        for slot in [r, w] {
            if let Some(owner) = self.fd_slots[slot].replace(pid.clone()) {
                let mut close = raw_event(owner, &Call::Close { fd: Fd(-1) }, None);
                set_arg(&mut close, "fd", Json::from(format!("$f{slot}")));
                self.queued.push(close);
            }
        }
        self.queued.pop().expect("the pipe at least")
    }

    fn fstat(&mut self, pid: &Json) -> RawEvent {
        let fd = self.fd(pid);
        let mut ev = raw_event(pid.clone(), &Call::Fstat { fd: Fd(-1) }, None);
        set_arg(&mut ev, "fd", fd);
        ev
    }

    /// An mmap as the mmap generator makes it, sent into another process.
    fn mmap_peer(&mut self, pid: &Json) -> RawEvent {
        let target = self.target(pid);
        let mut ev = self.mmap(pid);
        ev.call.value = Json::from("mmap_peer");
        ev.args.insert(
            0,
            crate::trace::reader::Field {
                name: "target".into(),
                value: target,
                column: 0,
            },
        );
        ev
    }

    fn munmap_peer(&mut self, pid: &Json) -> RawEvent {
        let target = self.target(pid);
        let addr = self.addr(pid);
        let call = Call::MunmapPeer {
            target: Pid(0),
            addr: Addr(0),
            len: Len(self.len()),
        };
        let mut ev = raw_event(pid.clone(), &call, None);
        set_arg(&mut ev, "target", target);
        set_arg(&mut ev, "addr", addr);
        ev
    }

    /// shm names at the edges: empty, inner slashes, and names around the
    /// length limits.
    fn odd_shm_name(&mut self, pid: &Json) -> RawEvent {
        let name = match self.below(6) {
            5 => "Physical".into(),
            0 => String::new(),
            1 => "/a/b".into(),
            2 => format!("/{}", "n".repeat(253 + self.below(4) as usize)),
            3 => format!("/{}", "n".repeat(1100)),
            _ => "noslash".into(),
        };
        if self.chance(1, 3) {
            return self.plain(pid, Call::ShmUnlink { name });
        }
        let call = Call::ShmOpen {
            name,
            oflag: OFlags::RDWR | OFlags::CREAT,
            mode: 0o600,
        };
        self.bind_fd(pid, &call)
    }

    /// Requests past system memory or the access harness: a committed
    /// mapping larger than RAM, a huge object, a huge load.
    fn huge(&mut self, pid: &Json) -> RawEvent {
        let anon = MapFlags::PRIVATE | MapFlags::ANON;
        let user_end = self.user.1;
        let mmap = |addr: u64, len: u64, prot: Prot, flags: MapFlags, off: u64| Call::Mmap {
            addr: Addr(addr),
            len: Len(len),
            prot,
            flags,
            fd: Fd(-1),
            off,
        };
        let rw = Prot::READ | Prot::WRITE;
        let call = match self.below(12) {
            0 => mmap(
                0,
                1 << 40,
                rw,
                self.pick(&[MapFlags::PRIVATE, MapFlags::SHARED]) | MapFlags::ANON,
                0,
            ),
            // Physical memory: lazy, past the last address, by anyone.
            1 => mmap(0, self.page, rw, anon | MapFlags::PHYS | MapFlags::LAZY, 0),
            2 => mmap(0, 2 * self.page, rw, MapFlags::PRIVATE | MapFlags::PHYS, 0xFFFF_F000),
            3 => mmap(0, self.page, Prot::READ, MapFlags::SHARED | MapFlags::PHYS, 0xA0000),
            // MAP_FIXED past the end; no room at all.
            4 => mmap(user_end - self.page, 2 * self.page, rw, anon | MapFlags::FIXED, 0),
            5 => mmap(0, user_end, rw, anon | MapFlags::LAZY | MapFlags::NORESERVE, 0),
            // Through an fd: an offset past the object range, or share type 3
            // with a flag outside Linux's legacy set.
            6 | 7 => {
                let fd = self.fd(pid);
                let (flags, off) = if self.chance(1, 2) {
                    (MapFlags::SHARED, (i64::MAX as u64) - self.page + 1)
                } else {
                    (MapFlags::SHARED | MapFlags::PRIVATE | MapFlags::LAZY, 0)
                };
                let mut ev = raw_event(pid.clone(), &mmap(0, 2 * self.page, Prot::READ, flags, off), None);
                set_arg(&mut ev, "fd", fd);
                return ev;
            }
            // A read-only 64 GiB private mapping made writable (overcommit).
            8 => {
                let slot = self.below(ADDR_SLOTS as u64) as usize;
                self.addr_slots[slot] = Some(pid.clone());
                let protect = Call::Mprotect {
                    addr: Addr(0),
                    len: Len(1 << 36),
                    prot: rw,
                };
                let mut second = raw_event(pid.clone(), &protect, None);
                set_arg(&mut second, "addr", Json::from(format!("$a{slot}")));
                self.queued.push(second);
                let call = mmap(0, 1 << 36, Prot::READ, anon, 0);
                return raw_event(pid.clone(), &call, Some(&format!("a{slot}")));
            }
            9 => {
                let fd = self.fd(pid);
                let len = self.pick(&[1i64 << 40, i64::MAX, 0xFFFF_FFFF]);
                let mut ev = raw_event(pid.clone(), &Call::Ftruncate { fd: Fd(-1), len }, None);
                set_arg(&mut ev, "fd", fd);
                return ev;
            }
            10 => {
                let len = Len(if self.chance(1, 3) {
                    0
                } else {
                    u64::MAX - self.below(2 * self.page)
                });
                let msync = Call::Msync {
                    addr: Addr(0),
                    len,
                    flags: MsyncFlags::SYNC,
                };
                let mut ev = raw_event(pid.clone(), &msync, None);
                let addr = self.addr(pid);
                set_arg(&mut ev, "addr", addr);
                return ev;
            }
            _ => {
                let addr = self.addr(pid);
                let call = Call::Load {
                    addr: Addr(0),
                    len: Len(1 << 40),
                };
                let mut ev = raw_event(pid.clone(), &call, None);
                set_arg(&mut ev, "addr", addr);
                return ev;
            }
        };
        self.plain(pid, call)
    }

    /// With no fds left: an open, a shm_open, a dup and a pipe fail
    /// (EMFILE), then the soft limit goes back up and whatever they made is
    /// closed (the events run in this order).
    fn queue_after_no_fds(&mut self, pid: &Json) {
        let hard = self.initial_limits[Resource::RLIMIT_NOFILE.index()].max;
        let restore = Call::Setrlimit {
            resource: Resource::RLIMIT_NOFILE,
            cur: hard,
            max: hard,
            target: None,
        };
        let open = Call::Open {
            path: "/dev/zero".into(),
            oflag: OFlags::RDWR,
        };
        let shm = Call::ShmOpen {
            name: self_name(0),
            oflag: OFlags::RDWR | OFlags::CREAT,
            mode: 0o600,
        };
        let fd = self.fd(pid);
        let mut dup = raw_event(pid.clone(), &Call::Dup { fd: Fd(-1) }, Some("nf2"));
        set_arg(&mut dup, "fd", fd);
        let mut pipe = raw_event(pid.clone(), &Call::Pipe {}, None);
        pipe.bind = Some(crate::trace::reader::Field {
            name: "bind".into(),
            value: serde_json::json!(["nf3", "nf4"]),
            column: 0,
        });
        // Where the limit did not bind (the limit call failed), the fds were
        // made: closed last, so they do not pile up over a long script.
        for i in (0..5).rev() {
            let mut close = raw_event(pid.clone(), &Call::Close { fd: Fd(-1) }, None);
            set_arg(&mut close, "fd", Json::from(format!("$nf{i}")));
            self.queued.push(close);
        }
        self.queued.push(raw_event(pid.clone(), &restore, None));
        self.queued.push(pipe);
        self.queued.push(dup);
        self.queued.push(raw_event(pid.clone(), &shm, Some("nf1")));
        self.queued.push(raw_event(pid.clone(), &open, Some("nf0")));
    }

    /// setrlimit with a soft limit above the hard one, or an infinite soft
    /// limit under a finite hard one.
    fn odd_limit(&mut self, pid: &Json) -> RawEvent {
        let pid = self.restricted_caller(pid);
        let mut resource = self.resource();
        let (cur, max) = match self.below(5) {
            0 => (2 * self.page, self.page),
            1 => (RLIM_INFINITY, 64 * self.page),
            // No fds, or no locking, for a process that may have dropped privileges.
            2 => {
                resource = Resource::RLIMIT_NOFILE;
                self.queue_after_no_fds(&pid);
                (0, self.initial_limits[resource.index()].max)
            }
            // No more processes: the next spawn by it fails (PROC-EAGAIN-2,
            // where root is not spared).
            4 => {
                resource = Resource::RLIMIT_NPROC;
                let spawn = self.spawn(&pid);
                self.queued.push(spawn);
                (0, self.initial_limits[resource.index()].max)
            }
            _ => {
                resource = Resource::RLIMIT_MEMLOCK;
                let addr = self.addr(&pid);
                let mut lock = raw_event(
                    pid.clone(),
                    &Call::Mlock {
                        addr: Addr(0),
                        len: Len(self.page),
                    },
                    None,
                );
                set_arg(&mut lock, "addr", addr);
                self.queued.push(lock);
                // The first process keeps its hard limit, as in setrlimit.
                (0, if pid == 1 { RLIM_INFINITY } else { 0 })
            }
        };
        self.plain(
            &pid,
            Call::Setrlimit {
                resource,
                cur,
                max,
                target: None,
            },
        )
    }
}

#[derive(Clone, Copy)]
enum RangeCall {
    Munmap,
    Mprotect,
    Mlock,
    Munlock,
    Msync,
}

/// The server's files every script starts with, one per way `_IO_MMAP` and
/// open can end (spec/iofunc_mmap.md); later `resmgr_file` events mostly
/// find them taken (RESMGR-EEXIST-1).
fn server_files() -> Vec<RawEvent> {
    let file = |i: u64, mode: u32, readonly, mandatory_lock, ocb_alloc_fails, mmap: &str| Call::ResmgrFile {
        path: format!("/srv/g{i}"),
        mode,
        uid: 0,
        data: b"gen".to_vec(),
        size: 8192,
        readonly,
        // What these files test does not depend on the file system, and
        // tmpfs keeps the real backend off the disk.
        fs: FileSystem::Tmpfs,
        mandatory_lock,
        ocb_alloc_fails,
        mmap: mmap.into(),
    };
    let tail_file = |i: u64, fs| Call::ResmgrFile {
        path: format!("/srv/g{i}"),
        mode: 0o666,
        uid: 0,
        data: b"gen".to_vec(),
        size: 100,
        readonly: false,
        fs,
        mandatory_lock: false,
        ocb_alloc_fails: false,
        mmap: "iofunc".into(),
    };
    let files = [
        file(0, 0o644, false, false, false, "iofunc"),
        file(1, 0o600, false, false, false, "iofunc"),
        file(2, 0o644, true, false, false, "iofunc"),
        file(3, 0o644, false, true, false, "iofunc"),
        file(4, 0o644, false, false, true, "iofunc"),
        file(5, 0o644, false, false, false, "none"),
        file(6, 0o644, false, false, false, "EBUSY"),
        // Ends inside a page, on each kind of file system: what a store past
        // the end becomes after msync and growth (MSYNC-OK-3, TRUNC-OK-1).
        tail_file(7, FileSystem::Disk),
        tail_file(8, FileSystem::Tmpfs),
    ];
    let one = || Json::from(1);
    let mut events: Vec<RawEvent> = files.iter().map(|c| raw_event(one(), c, None)).collect();
    // One open of each (`s0`.. stay bound to them), then the server driven
    // directly: a new mmap OCB and its reuse, a write on a read-only mount,
    // mandatory locks, no memory for the OCB. Mapping them is left to the
    // random part, which picks these fds like any other.
    for (i, oflag) in [
        (0, OFlags::RDWR),
        (2, OFlags::RDONLY),
        (3, OFlags::RDWR),
        (4, OFlags::RDWR),
        (7, OFlags::RDWR),
        (8, OFlags::RDWR),
    ] {
        let open = Call::Open {
            path: format!("/srv/g{i}"),
            oflag,
        };
        events.push(raw_event(one(), &open, Some(&format!("s{i}"))));
    }
    for (i, prot) in [
        (0, Prot::READ),
        (0, Prot::READ),
        (2, Prot::READ | Prot::WRITE),
        (3, Prot::READ),
        (4, Prot::READ),
    ] {
        let call = Call::IoMmap {
            fd: Fd(-1),
            prot,
            offset: 0,
            from_procnto: true,
        };
        let mut ev = raw_event(one(), &call, None);
        set_arg(&mut ev, "fd", Json::from(format!("$s{i}")));
        events.push(ev);
    }
    let mut map = raw_event(
        one(),
        &Call::Mmap {
            addr: Addr(0),
            len: Len(4096),
            prot: Prot::READ | Prot::WRITE,
            flags: MapFlags::SHARED,
            fd: Fd(-1),
            off: 0,
        },
        None,
    );
    set_arg(&mut map, "fd", Json::from("$s0"));
    events.push(map.clone());
    events.push(map);
    events.extend(past_the_end(8));
    events.reverse();
    events
}

/// A store past the end of file `/srv/g{i}` (100 bytes) through a shared
/// mapping, msync(MS_SYNC), and the byte read back: zero on a disk file
/// system (MSYNC-OK-3), kept on tmpfs. Only the tmpfs file is done in every
/// script: a disk writeback costs the real backend about 0.4 ms, so the disk
/// file `/srv/g7` is left to the random part (and the recorded suite has
/// traces/spec/obj-file-tail-linux.jsonl).
fn past_the_end(i: u64) -> Vec<RawEvent> {
    let one = || Json::from(1);
    let at = |ev: &mut RawEvent, off: u64| set_arg(ev, "addr", Json::from(format!("$t{i}+{off:#x}")));
    let mut map = raw_event(
        one(),
        &Call::Mmap {
            addr: Addr(0),
            len: Len(4096),
            prot: Prot::READ | Prot::WRITE,
            flags: MapFlags::SHARED,
            fd: Fd(-1),
            off: 0,
        },
        Some(&format!("t{i}")),
    );
    set_arg(&mut map, "fd", Json::from(format!("$s{i}")));
    let mut store = raw_event(
        one(),
        &Call::Store {
            addr: Addr(0),
            data: vec![0x5a],
        },
        None,
    );
    at(&mut store, 200);
    let mut sync = raw_event(
        one(),
        &Call::Msync {
            addr: Addr(0),
            len: Len(4096),
            flags: MsyncFlags::SYNC,
        },
        None,
    );
    at(&mut sync, 0);
    let mut load = raw_event(
        one(),
        &Call::Load {
            addr: Addr(0),
            len: Len(1),
        },
        None,
    );
    at(&mut load, 200);
    let mut unmap = raw_event(
        one(),
        &Call::Munmap {
            addr: Addr(0),
            len: Len(4096),
        },
        None,
    );
    at(&mut unmap, 0);
    vec![map, store, sync, load, unmap]
}

fn self_name(i: u64) -> String {
    format!("/g{i}")
}

fn arena_expr(off: u64) -> Json {
    Json::from(format!("$ARENA+{off:#x}"))
}

/// Replaces an argument's value (by name) with an expression.
fn set_arg(ev: &mut RawEvent, name: &str, value: Json) {
    if let Some(f) = ev.args.iter_mut().find(|f| f.name == name) {
        f.value = value;
    }
}

/// The indices of the slots `pid` bound.
fn bound_by(slots: &[Option<Json>], pid: &Json) -> Vec<usize> {
    (0..slots.len()).filter(|&i| slots[i].as_ref() == Some(pid)).collect()
}

/// The slot a handle argument names (`$h2`), if it names one.
fn handle_slot(obj: &Json) -> Option<usize> {
    obj.as_str()?.strip_prefix("$h")?.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_seed_same_script() {
        let o = GenOptions {
            seed: 7,
            steps: 200,
            procs: 3,
            profile: ProfileName::Neutrino,
        };
        assert_eq!(generate_string(&o), generate_string(&o));
        let other = GenOptions { seed: 8, ..o };
        assert_ne!(generate_string(&o), generate_string(&other));
    }
}
