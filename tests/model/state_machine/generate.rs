//! Generation of random call sequences, biased the way syzkaller biases its
//! arguments (oracle-anchors.md §4.1): addresses from a small window around
//! the profile's map base and arena or near addresses mmap returned earlier,
//! lengths mostly 1-4 pages, now and then zero, unaligned or huge, and flag
//! words that are sometimes a random 32-bit value or a known flag shifted by
//! one bit.
//!
//! The reference state knows only what generation needs: which pids are live
//! (spawn and exit are predictable), which have died, and how many mmaps were
//! issued. Addresses that mmap returns cannot be predicted without running the
//! model, so a step names them symbolically ([`Place::Returned`]: "near the
//! k-th most recent address mmap returned") and the test resolves the name
//! against what the model actually returned. Every step is legal to issue in
//! every state; the outcome is what the test judges.
//!
//! This file is self-contained (it depends only on mmoracle and proptest) so
//! that the benchmark can include it and replay the same kind of sequences.
#![allow(dead_code)]

use mmoracle::types::{Addr, Fd, Len, MapFlags, MclFlags, MsyncFlags, OFlags, Pid, Prot, Resource, RLIM_INFINITY};
use mmoracle::{Call, ProfileName};
use proptest::prelude::*;
use proptest::sample::select;
use proptest::strategy::{BoxedStrategy, Union};
use proptest_state_machine::ReferenceStateMachine;
use std::fmt;
use std::marker::PhantomData;
use std::sync::OnceLock;

/// How many recently returned addresses a step can refer back to.
pub const RECENT: usize = 16;

/// Where an address-taking call points, resolved when the step runs.
#[derive(Clone, Copy, PartialEq, Eq)]
pub enum Place {
    /// `page` pages from the profile's map base (where placement starts or
    /// ends), plus `sub` bytes.
    NearBase {
        /// Whole pages from the base, in a 64-page window around it.
        page: i16,
        /// Bytes past the page start.
        sub: u64,
    },
    /// `page` pages from the profile's arena (free for MAP_FIXED), plus `sub`.
    NearArena {
        /// Whole pages from the arena, in a 64-page window around it.
        page: i16,
        /// Bytes past the page start.
        sub: u64,
    },
    /// `page` pages from the `slot`-th most recent address mmap returned to
    /// the caller (to anyone if none yet), plus `sub`; the arena when
    /// nothing was returned yet.
    Returned {
        /// 0 is the most recent.
        slot: u8,
        /// Whole pages from it.
        page: i16,
        /// Bytes past it.
        sub: u64,
    },
    /// This exact value (0 for "no hint", or a hostile one near 2^64).
    Raw(u64),
}

impl Place {
    /// The concrete address, given the profile and the addresses mmap
    /// returned so far (most recent last).
    pub fn resolve(self, profile: ProfileName, returned: &[u64]) -> u64 {
        let p = profile.profile();
        let (base, page, sub) = match self {
            Place::NearBase { page, sub } => (p.map_base, page, sub),
            Place::NearArena { page, sub } => (p.arena, page, sub),
            Place::Returned { slot, page, sub } => {
                let base = returned
                    .iter()
                    .rev()
                    .nth(usize::from(slot) % returned.len().max(1))
                    .copied()
                    .unwrap_or(p.arena);
                (base, page, sub)
            }
            Place::Raw(v) => return v,
        };
        base.wrapping_add_signed(i64::from(page) * p.page_size as i64)
            .wrapping_add(sub)
    }
}

impl fmt::Debug for Place {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Place::NearBase { page, sub } => write!(f, "base{page:+}p+{sub:#x}"),
            Place::NearArena { page, sub } => write!(f, "arena{page:+}p+{sub:#x}"),
            Place::Returned { slot, page, sub } => write!(f, "returned[{slot}]{page:+}p+{sub:#x}"),
            Place::Raw(v) => write!(f, "{v:#x}"),
        }
    }
}

/// One generated step: a call, the process that issues it, and where its
/// address points (for calls that take one; the call's own address field is
/// a placeholder until [`Step::resolve`]).
#[derive(Clone)]
pub struct Step {
    /// The caller (live or dead).
    pub pid: Pid,
    /// The call, its address not yet resolved.
    pub call: Call,
    /// The address, for calls that take one.
    pub at: Option<Place>,
}

impl Step {
    /// The concrete call, with the address resolved against `returned`.
    pub fn resolve(&self, profile: ProfileName, returned: &[u64]) -> Call {
        let mut call = self.call.clone();
        if let Some(place) = self.at {
            let a = Addr(place.resolve(profile, returned));
            match &mut call {
                Call::Mmap { addr, .. }
                | Call::Munmap { addr, .. }
                | Call::Mprotect { addr, .. }
                | Call::Mlock { addr, .. }
                | Call::Munlock { addr, .. }
                | Call::Msync { addr, .. }
                | Call::Load { addr, .. }
                | Call::Store { addr, .. } => *addr = a,
                _ => {}
            }
        }
        call
    }
}

impl fmt::Debug for Step {
    /// The call as a trace line, with the symbolic address in front: shrunk
    /// sequences print readably.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let json = serde_json::to_string(&self.call).unwrap_or_else(|e| e.to_string());
        match self.at {
            Some(place) => write!(f, "pid {} @{place:?}: {json}", self.pid),
            None => write!(f, "pid {}: {json}", self.pid),
        }
    }
}

/// What generation knows about the system.
#[derive(Clone, Debug)]
pub struct RefState {
    /// The profile the sequence runs on.
    pub profile: ProfileName,
    /// Processes that are alive, as spawn and exit predict them.
    pub live: Vec<Pid>,
    /// Processes that exited.
    pub dead: Vec<Pid>,
    /// The pid the next successful spawn returns.
    pub next_pid: u32,
    /// How many mmap steps were generated (some may fail): whether a step can
    /// usefully refer to a returned address.
    pub mmaps: u32,
}

impl RefState {
    /// The state of a fresh model: one live process, pid 1.
    pub fn new(profile: ProfileName) -> RefState {
        RefState {
            profile,
            live: vec![Pid(1)],
            dead: Vec::new(),
            next_pid: 2,
            mmaps: 0,
        }
    }

    /// The state after `step`, by process semantics alone: a spawn by a live
    /// process creates the next pid, an exit by a live process removes it.
    pub fn after(mut self, step: &Step) -> RefState {
        let live = self.live.contains(&step.pid);
        match step.call {
            Call::Spawn {} if live => {
                self.live.push(Pid(self.next_pid));
                self.next_pid += 1;
            }
            Call::Exit {} if live => {
                self.live.retain(|p| *p != step.pid);
                self.dead.push(step.pid);
            }
            Call::Mmap { .. } => self.mmaps += 1,
            _ => {}
        }
        self
    }
}

/// A profile as a type, so that each profile gets its own property test.
pub trait ProfileType: 'static {
    /// The profile.
    const NAME: ProfileName;
}

/// The neutrino profile.
pub struct Neutrino;
/// The qnx4 profile.
pub struct Qnx4;
/// The linux profile.
pub struct Linux;

impl ProfileType for Neutrino {
    const NAME: ProfileName = ProfileName::Neutrino;
}
impl ProfileType for Qnx4 {
    const NAME: ProfileName = ProfileName::Qnx4;
}
impl ProfileType for Linux {
    const NAME: ProfileName = ProfileName::Linux;
}

/// The reference state machine for profile `P`.
pub struct Reference<P>(PhantomData<P>);

impl<P: ProfileType> ReferenceStateMachine for Reference<P> {
    type State = RefState;
    type Transition = Step;

    fn init_state() -> BoxedStrategy<RefState> {
        Just(RefState::new(P::NAME)).boxed()
    }

    fn transitions(state: &RefState) -> BoxedStrategy<Step> {
        step(state).boxed()
    }

    fn apply(state: RefState, step: &Step) -> RefState {
        state.after(step)
    }
}

/// A step in `state`: every call, weighted roughly by how much state it
/// touches. Weights only bias generation; every step is legal anywhere.
pub fn step(state: &RefState) -> SBoxedStrategy<Step> {
    let pid = caller(state);
    let with_pid = |calls: CallStrategy| {
        (pid.clone(), calls)
            .prop_map(|(pid, (call, at))| Step { pid, call, at })
            .sboxed()
    };
    let spawn_weight = if state.live.len() < 6 { 3 } else { 1 };
    let arms: Vec<(u32, SBoxedStrategy<Step>)> = vec![
        (COMMON_WEIGHT, with_pid(common_calls(state.profile, state.mmaps > 0))),
        (spawn_weight, with_pid(Just((Call::Spawn {}, None)).sboxed())),
        (2, exit(state)),
        (1, with_pid(getrlimit(state).prop_map(|c| (c, None)).sboxed())),
        (2, with_pid(setrlimit(state).prop_map(|c| (c, None)).sboxed())),
    ];
    Union::new_weighted(arms).sboxed()
}

/// A call with the place its address points to (for calls that take one).
type CallStrategy = SBoxedStrategy<(Call, Option<Place>)>;

/// The weight of [`common_calls`] among all steps: the sum of its arms.
const COMMON_WEIGHT: u32 = 90;

/// The calls whose arguments do not depend on which processes live: one
/// strategy per profile and per "has mmap returned anything", built once.
/// (Building every strategy afresh for each step spent ~95 us a step in
/// the allocator; the model itself needs ~5.)
fn common_calls(profile: ProfileName, returned: bool) -> CallStrategy {
    static CACHE: OnceLock<Vec<CallStrategy>> = OnceLock::new();
    let all = CACHE.get_or_init(|| {
        ProfileName::ALL
            .iter()
            .flat_map(|p| [false, true].map(|r| build_common_calls(*p, r)))
            .collect()
    });
    let index = ProfileName::ALL.iter().position(|p| *p == profile).expect("a profile") * 2 + usize::from(returned);
    all[index].clone()
}

/// The arms of [`common_calls`], most frequent first (proptest keeps a lazy
/// value tree for every arm before the one it picks).
fn build_common_calls(profile: ProfileName, returned: bool) -> CallStrategy {
    let page = profile.profile().page_size;
    let no_place = |calls: SBoxedStrategy<Call>| calls.prop_map(|c| (c, None)).sboxed();
    let arms: Vec<(u32, CallStrategy)> = vec![
        (24, mmap_call(profile, returned)),
        (10, load(profile, returned)),
        (10, store(profile, returned)),
        (8, range_call(profile, returned, RangeCall::Mprotect)),
        (7, range_call(profile, returned, RangeCall::Munmap)),
        (5, no_place(shm_open())),
        (4, range_call(profile, returned, RangeCall::Mlock)),
        (4, no_place(ftruncate(page))),
        (3, range_call(profile, returned, RangeCall::Munlock)),
        (3, range_call(profile, returned, RangeCall::Msync)),
        (3, no_place(open())),
        (3, no_place(fd().prop_map(|fd| Call::Close { fd }).sboxed())),
        (2, no_place(mlockall())),
        (
            2,
            no_place(shm_name().prop_map(|name| Call::ShmUnlink { name }).sboxed()),
        ),
        (1, no_place(Just(Call::Munlockall {}).sboxed())),
        (1, no_place(cred())),
    ];
    debug_assert_eq!(arms.iter().map(|(w, _)| w).sum::<u32>(), COMMON_WEIGHT);
    Union::new_weighted(arms).sboxed()
}

/// Mostly a live process, sometimes a dead or never-born one.
fn caller(state: &RefState) -> SBoxedStrategy<Pid> {
    let live = select(state.live.clone());
    let mut gone = state.dead.clone();
    gone.extend([Pid(0), Pid(state.next_pid + 7)]);
    prop_oneof![19 => live, 1 => select(gone)].sboxed()
}

/// An exit that never ends the last live process (a sequence where nobody is
/// left only tests ESRCH); exits by dead processes are fine.
fn exit(state: &RefState) -> SBoxedStrategy<Step> {
    let mut candidates: Vec<Pid> = if state.live.len() > 1 {
        state.live.clone()
    } else {
        Vec::new()
    };
    candidates.extend(state.dead.iter().copied());
    candidates.push(Pid(state.next_pid + 7));
    select(candidates)
        .prop_map(|pid| Step {
            pid,
            call: Call::Exit {},
            at: None,
        })
        .sboxed()
}

/// Bytes past a page start: mostly none, sometimes anywhere in the page.
fn sub_page(page: u64) -> SBoxedStrategy<u64> {
    prop_oneof![8 => Just(0u64), 1 => 1..page, 1 => Just(page - 1)].sboxed()
}

/// An address: the windows, returned addresses, or hostile raw values.
fn place(profile: ProfileName, returned: bool) -> SBoxedStrategy<Place> {
    let p = profile.profile();
    let page = p.page_size;
    let hostile = vec![
        0,
        1,
        p.placement_start() - 1,
        p.user_end - page,
        p.user_end,
        1 << 63,
        u64::MAX - page + 1,
        u64::MAX,
    ];
    let window = -32i16..32;
    let near_base = (window.clone(), sub_page(page)).prop_map(|(page, sub)| Place::NearBase { page, sub });
    let near_arena = (window, sub_page(page)).prop_map(|(page, sub)| Place::NearArena { page, sub });
    // Mostly the returned address itself or a page or two into it, so that
    // ranges overlap mappings (syzkaller reuses pages of earlier calls).
    let delta = prop_oneof![6 => Just(0i16), 3 => 0i16..4, 1 => -2i16..=4];
    let near_returned =
        (0u8..RECENT as u8, delta, sub_page(page)).prop_map(|(slot, page, sub)| Place::Returned { slot, page, sub });
    let returned_weight = if returned { 24 } else { 1 };
    prop_oneof![
        returned_weight => near_returned,
        4 => near_base,
        4 => near_arena,
        1 => select(hostile).prop_map(Place::Raw),
    ]
    .sboxed()
}

/// Where a load or store goes: mostly inside the first page of a mapping
/// the caller got back, so that accesses reach the contents.
fn access_place(profile: ProfileName, returned: bool) -> SBoxedStrategy<Place> {
    let page = profile.profile().page_size;
    let inside = (0u8..RECENT as u8, 0..page).prop_map(|(slot, sub)| Place::Returned { slot, page: 0, sub });
    prop_oneof![3 => inside, 1 => place(profile, returned)].sboxed()
}

/// An mmap hint: mostly none.
fn hint(profile: ProfileName, returned: bool) -> SBoxedStrategy<Place> {
    prop_oneof![3 => Just(Place::Raw(0)), 1 => place(profile, returned)].sboxed()
}

/// A length: mostly 1-4 pages, sometimes more, zero, unaligned or huge.
pub fn length(page: u64) -> SBoxedStrategy<u64> {
    let huge = vec![u64::MAX, u64::MAX - page + 1, u64::MAX / 2, 1 << 40, 1 << 47];
    prop_oneof![
        85 => (1u64..=4).prop_map(move |n| n * page),
        5 => (5u64..=20).prop_map(move |n| n * page),
        3 => Just(0u64),
        4 => 1..5 * page,
        3 => select(huge),
    ]
    .sboxed()
}

/// A random 32-bit word, a known flag shifted by one bit, or zero: the
/// syzkaller ways of finding flags the description misses.
fn odd_word(known: &'static [u32]) -> SBoxedStrategy<u32> {
    prop_oneof![
        2 => any::<u32>(),
        2 => (select(known), prop::bool::ANY).prop_map(|(f, up)| if up { f << 1 } else { f >> 1 }),
        1 => Just(0u32),
    ]
    .sboxed()
}

/// A protection word.
fn prot() -> SBoxedStrategy<Prot> {
    let usual = vec![
        Prot::NONE,
        Prot::READ,
        Prot::READ | Prot::WRITE,
        Prot::READ | Prot::WRITE,
        Prot::WRITE,
        Prot::READ | Prot::EXEC,
        Prot::READ | Prot::WRITE | Prot::EXEC,
        Prot::READ | Prot::NOCACHE,
    ];
    prop_oneof![
        95 => select(usual),
        5 => odd_word(&[0x100, 0x200, 0x400, 0x800]).prop_map(Prot::from_bits_retain),
    ]
    .sboxed()
}

/// An mmap flag word: a share type, usually MAP_ANON, often MAP_FIXED, now
/// and then one of the rarer flags, or an odd word.
fn map_flags() -> SBoxedStrategy<MapFlags> {
    let share = prop_oneof![
        6 => Just(MapFlags::PRIVATE),
        3 => Just(MapFlags::SHARED),
        1 => Just(MapFlags::empty()),
        1 => Just(MapFlags::from_bits_retain(MapFlags::PRIVATEANON)),
    ];
    let rare = select(vec![
        MapFlags::LAZY,
        MapFlags::STACK,
        MapFlags::PHYS,
        MapFlags::NORESERVE,
        MapFlags::LOCKED,
        MapFlags::FIXED_NOREPLACE,
        MapFlags::BELOW,
        MapFlags::NOINIT,
        MapFlags::ELF,
    ]);
    let usual = (
        share,
        prop::bool::weighted(0.85),
        prop::bool::weighted(0.3),
        prop::bool::weighted(0.1),
        prop::option::weighted(0.1, rare),
    )
        .prop_map(|(share, anon, fixed, lazy, extra)| {
            let mut f = share;
            f.set(MapFlags::ANON, anon);
            f.set(MapFlags::FIXED, fixed);
            f.set(MapFlags::LAZY, lazy);
            f | extra.unwrap_or(MapFlags::empty())
        });
    let known = &[0x1, 0x2, 0x10, 0x80, 0x1000, 0x10000, 0x80000];
    prop_oneof![
        95 => usual,
        5 => odd_word(known).prop_map(MapFlags::from_bits_retain),
    ]
    .sboxed()
}

/// A file descriptor: small ones (the lowest free fd is what open returns),
/// NOFD, or hostile values.
pub fn fd() -> SBoxedStrategy<Fd> {
    prop_oneof![
        12 => (0i32..3).prop_map(Fd),
        2 => (3i32..6).prop_map(Fd),
        2 => Just(Fd::NOFD),
        1 => select(vec![-2, i32::MIN, i32::MAX, 1000, 1 << 20]).prop_map(Fd),
    ]
    .sboxed()
}

/// An mmap offset: mostly 0 or whole pages, sometimes unaligned, physical
/// addresses, or near 2^64.
fn offset(page: u64) -> SBoxedStrategy<u64> {
    let far = vec![
        u64::MAX,
        u64::MAX - page + 1,
        1 << 63,
        0xFFFF_F000,
        0x1_0000_0000,
        0xFFFF_FFFF << 12,
    ];
    prop_oneof![
        12 => Just(0u64),
        5 => (1u64..8).prop_map(move |n| n * page),
        2 => 1..4 * page,
        1 => select(far),
    ]
    .sboxed()
}

fn mmap_call(profile: ProfileName, returned: bool) -> CallStrategy {
    let page = profile.profile().page_size;
    let anon_fd = prop_oneof![9 => Just(Fd::NOFD), 1 => fd()];
    (
        hint(profile, returned),
        place(profile, returned),
        length(page),
        prot(),
        map_flags(),
        anon_fd,
        fd(),
        offset(page),
    )
        .prop_map(|(hint, fixed_at, len, prot, flags, anon_fd, file_fd, off)| {
            let fixed = flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE);
            let anon = flags.contains(MapFlags::ANON);
            let call = Call::Mmap {
                addr: Addr(0),
                len: Len(len),
                prot,
                flags,
                fd: if anon { anon_fd } else { file_fd },
                off,
            };
            (call, Some(if fixed { fixed_at } else { hint }))
        })
        .sboxed()
}

/// The calls that take an address range and maybe a word.
#[derive(Clone, Copy, Debug)]
enum RangeCall {
    Munmap,
    Mprotect,
    Mlock,
    Munlock,
    Msync,
}

fn range_call(profile: ProfileName, returned: bool, which: RangeCall) -> CallStrategy {
    let page = profile.profile().page_size;
    let sync = prop_oneof![
        10 => select(vec![
            MsyncFlags::ASYNC,
            MsyncFlags::SYNC,
            MsyncFlags::SYNC | MsyncFlags::INVALIDATE,
            MsyncFlags::ASYNC | MsyncFlags::INVALIDATE,
            MsyncFlags::INVALIDATE,
            MsyncFlags::SYNC | MsyncFlags::ASYNC,
            MsyncFlags::CACHE_ONLY,
        ]),
        1 => odd_word(&[1, 2, 4, 8, 0x10]).prop_map(MsyncFlags::from_bits_retain),
    ];
    (place(profile, returned), length(page), prot(), sync)
        .prop_map(move |(at, len, prot, flags)| {
            let (addr, len) = (Addr(0), Len(len));
            let call = match which {
                RangeCall::Munmap => Call::Munmap { addr, len },
                RangeCall::Mprotect => Call::Mprotect { addr, len, prot },
                RangeCall::Mlock => Call::Mlock { addr, len },
                RangeCall::Munlock => Call::Munlock { addr, len },
                RangeCall::Msync => Call::Msync { addr, len, flags },
            };
            (call, Some(at))
        })
        .sboxed()
}

fn mlockall() -> SBoxedStrategy<Call> {
    prop_oneof![
        10 => select(vec![MclFlags::CURRENT, MclFlags::FUTURE, MclFlags::CURRENT | MclFlags::FUTURE]),
        1 => odd_word(&[1, 2]).prop_map(MclFlags::from_bits_retain),
    ]
    .prop_map(|flags| Call::Mlockall { flags })
    .sboxed()
}

/// A load: mostly a few bytes, sometimes across a page, zero, or too many.
fn load(profile: ProfileName, returned: bool) -> CallStrategy {
    let page = profile.profile().page_size;
    let len = prop_oneof![
        20 => 1u64..=32,
        2 => Just(2 * page),
        1 => Just(0u64),
        1 => select(vec![mmoracle::call::MAX_ACCESS + 1, u64::MAX]),
    ];
    (access_place(profile, returned), len)
        .prop_map(|(at, len)| {
            (
                Call::Load {
                    addr: Addr(0),
                    len: Len(len),
                },
                Some(at),
            )
        })
        .sboxed()
}

/// A store of a few bytes (sometimes none, sometimes across a page end).
fn store(profile: ProfileName, returned: bool) -> CallStrategy {
    let data = prop_oneof![
        20 => prop::collection::vec(any::<u8>(), 1..=16),
        1 => Just(Vec::new()),
        1 => prop::collection::vec(any::<u8>(), 64),
    ];
    (access_place(profile, returned), data)
        .prop_map(|(at, data)| (Call::Store { addr: Addr(0), data }, Some(at)))
        .sboxed()
}

/// A shared-memory name from a small set, so that names collide.
fn shm_name() -> SBoxedStrategy<String> {
    prop_oneof![
        20 => select(vec!["/a", "/b", "/c", "a", "Physical"]).prop_map(String::from),
        1 => select(vec!["", "/", "/x/y"]).prop_map(String::from),
        1 => Just(format!("/{}", "n".repeat(1100))),
    ]
    .sboxed()
}

/// An open-flag word: an access mode with O_CREAT, O_EXCL, O_TRUNC.
fn oflags() -> SBoxedStrategy<OFlags> {
    let usual = (
        select(vec![OFlags::RDONLY, OFlags::RDWR, OFlags::RDWR, OFlags::WRONLY]),
        prop::bool::weighted(0.6),
        prop::bool::weighted(0.15),
        prop::bool::weighted(0.1),
    )
        .prop_map(|(mode, creat, excl, trunc)| {
            let mut f = mode;
            f.set(OFlags::CREAT, creat);
            f.set(OFlags::EXCL, excl);
            f.set(OFlags::TRUNC, trunc);
            f
        });
    prop_oneof![
        20 => usual,
        1 => odd_word(&[1, 2, 0x100, 0x200, 0x400]).prop_map(OFlags::from_bits_retain),
    ]
    .sboxed()
}

fn shm_open() -> SBoxedStrategy<Call> {
    let mode = prop_oneof![
        10 => select(vec![0o600u32, 0o644, 0o666, 0o400, 0o000, 0o777]),
        1 => any::<u32>(),
    ];
    (shm_name(), oflags(), mode)
        .prop_map(|(name, oflag, mode)| Call::ShmOpen { name, oflag, mode })
        .sboxed()
}

fn open() -> SBoxedStrategy<Call> {
    let path = select(vec!["/dev/zero", "/dev/mem", "/dev/null", "/dev/nope"]).prop_map(String::from);
    (path, oflags())
        .prop_map(|(path, oflag)| Call::Open { path, oflag })
        .sboxed()
}

fn ftruncate(page: u64) -> SBoxedStrategy<Call> {
    let len = prop_oneof![
        10 => (0i64..=8).prop_map(move |n| n * page as i64),
        2 => 1i64..(4 * page as i64),
        1 => select(vec![-1i64, i64::MIN, i64::MAX, 1 << 32, (1 << 32) + 1]),
    ];
    (fd(), len).prop_map(|(fd, len)| Call::Ftruncate { fd, len }).sboxed()
}

fn cred() -> SBoxedStrategy<Call> {
    (select(vec![0u32, 0, 1000, 1001, u32::MAX]), prop::bool::ANY)
        .prop_map(|(euid, cap_ipc_lock)| Call::Cred {
            euid,
            cap_ipc_lock,
            egid: None,
            groups: None,
        })
        .sboxed()
}

/// A target for the rlimit calls: mostly the caller, sometimes another
/// process, 0 (the caller) or a dead one.
fn target(state: &RefState) -> SBoxedStrategy<Option<Pid>> {
    let mut others = state.live.clone();
    others.extend(state.dead.iter().copied());
    others.extend([Pid(0), Pid(state.next_pid + 7)]);
    prop_oneof![6 => Just(None), 1 => select(others).prop_map(Some)].sboxed()
}

/// Every modelled resource but RLIMIT_NPROC, which makes spawns fail
/// (PROC-EAGAIN-2) where the reference state, which knows no limits,
/// predicts a child; and a number that names no resource.
fn resource() -> SBoxedStrategy<Resource> {
    let mut all: Vec<Resource> = Resource::ALL
        .into_iter()
        .filter(|r| *r != Resource::RLIMIT_NPROC)
        .collect();
    all.push(Resource::Unknown(42));
    select(all).sboxed()
}

fn getrlimit(state: &RefState) -> SBoxedStrategy<Call> {
    (resource(), target(state))
        .prop_map(|(resource, target)| Call::Getrlimit { resource, target })
        .sboxed()
}

/// A limit value: usually generous (so that later mmaps still succeed),
/// sometimes tight, zero or infinite.
fn limit_value() -> SBoxedStrategy<u64> {
    select(vec![
        RLIM_INFINITY,
        RLIM_INFINITY,
        0,
        1,
        8,
        4096,
        16 << 12,
        64 << 12,
        1 << 20,
        1 << 30,
        1 << 40,
    ])
    .sboxed()
}

fn setrlimit(state: &RefState) -> SBoxedStrategy<Call> {
    (resource(), limit_value(), limit_value(), target(state))
        .prop_map(|(resource, cur, max, target)| Call::Setrlimit {
            resource,
            cur,
            max,
            target,
        })
        .sboxed()
}
