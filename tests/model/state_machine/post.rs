//! Postconditions stated from what each call means, not from how the model
//! computes it: what must hold after a call returned what it returned, and
//! what must hold in every state.
//!
//! The model is only queried (its regions, fds, objects, and `evaluate` of a
//! probing load, which changes nothing); the expectations are written here.

use mmoracle::model::region::{Backing, Region};
use mmoracle::types::{Addr, AddrRange, Errno, Len, MapFlags, MclFlags, OFlags, Pid, Prot, Signal, RLIM_INFINITY};
use mmoracle::{Call, Model, Outcome, Value};

/// What a postcondition needs to know about the state before a call.
pub struct Before {
    /// The live processes.
    pids: Vec<Pid>,
    /// The caller's mappings, if it is alive.
    space: Option<Vec<View>>,
    /// The caller's open fds, if it is alive.
    fds: Option<Vec<i32>>,
    /// System memory charged.
    committed: u64,
    /// For a store: what other mappings of the same object bytes showed.
    views: Vec<OtherView>,
}

/// The parts of a region a call may change.
#[derive(Clone, Debug, PartialEq, Eq)]
struct View {
    range: AddrRange,
    prot: Prot,
    locked: bool,
}

/// The bytes another mapping of the stored-to object shows at the same
/// object offset, and whether the store must become visible there (a
/// shared store through a shared mapping) or must not (a private store).
/// A private mapping's view of a shared store is unspecified (POSIX), so it
/// is not recorded.
struct OtherView {
    pid: Pid,
    addr: Addr,
    bytes: Vec<u8>,
    sees_store: bool,
}

impl Before {
    /// Captures what the postconditions of `call` by `pid` compare against.
    pub fn capture(m: &Model, pid: Pid, call: &Call) -> Before {
        let proc = m.process(pid);
        Before {
            pids: m.processes().map(|p| p.pid).collect(),
            space: proc.map(|p| views(p.space.regions())),
            fds: proc.map(|p| p.fds().keys().copied().collect()),
            committed: m.committed(),
            views: match call {
                Call::Store { addr, data } if proc.is_some() => other_views(m, pid, *addr, data.len() as u64),
                _ => Vec::new(),
            },
        }
    }
}

fn views<'a>(regions: impl Iterator<Item = &'a Region>) -> Vec<View> {
    regions
        .map(|r| View {
            range: r.range,
            prot: r.prot,
            locked: r.locked,
        })
        .collect()
}

/// The mapped pages and their protection, with neighbouring regions of the
/// same protection joined: what stays the same when only lock bits change
/// (a partial lock may split regions).
fn pages_and_prots(views: &[View]) -> Vec<(AddrRange, Prot)> {
    let mut out: Vec<(AddrRange, Prot)> = Vec::new();
    for v in views {
        match out.last_mut() {
            Some((r, p)) if *p == v.prot && r.end() == v.range.start() => {
                *r = AddrRange::from_bounds(r.start(), v.range.end()).expect("non-empty");
            }
            _ => out.push((v.range, v.prot)),
        }
    }
    out
}

/// Every other mapping, in any process, of the object bytes a store of
/// `len` bytes at `addr` would write, with what it shows now.
fn other_views(m: &Model, pid: Pid, addr: Addr, len: u64) -> Vec<OtherView> {
    let Some(target) = m.process(pid).and_then(|p| p.space.region_at(addr)) else {
        return Vec::new();
    };
    let Backing::Object(id) = target.backing else {
        return Vec::new();
    };
    let within = AddrRange::new(addr, Len(len)).is_some_and(|r| target.range.contains_range(&r));
    if len == 0 || !within {
        return Vec::new();
    }
    let offset = target.offset_of(addr);
    let mut out = Vec::new();
    for proc in m.processes() {
        for r in proc.space.regions() {
            let same = proc.pid == pid && r.range == target.range;
            let covers = r.offset <= offset && offset.saturating_add(len) <= r.end_offset();
            let unspecified = target.shared && !r.shared;
            if same || r.backing != Backing::Object(id) || !covers || unspecified {
                continue;
            }
            let at = Addr(r.range.start().0 + (offset - r.offset));
            if let Outcome::Ok(Value::Bytes(bytes)) = m
                .evaluate(
                    proc.pid,
                    &Call::Load {
                        addr: at,
                        len: Len(len),
                    },
                )
                .outcome
            {
                out.push(OtherView {
                    pid: proc.pid,
                    addr: at,
                    bytes,
                    sees_store: target.shared,
                });
            }
        }
    }
    out
}

/// A check that fails with a message.
fn ensure(holds: bool, what: impl FnOnce() -> String) -> Result<(), String> {
    if holds {
        Ok(())
    } else {
        Err(what())
    }
}

/// The whole pages covering `[addr, addr + len)`, or `None` when empty or
/// past 2^64.
fn pages(m: &Model, addr: Addr, len: u64) -> Option<AddrRange> {
    let page = m.profile().page_size;
    let end = addr.0.checked_add(len)?.checked_next_multiple_of(page)?;
    AddrRange::from_bounds(addr.align_down(page), Addr(end))
}

/// Whether the caller's regions cover every address of `range`.
fn covered(m: &Model, pid: Pid, range: AddrRange) -> bool {
    let Some(proc) = m.process(pid) else { return false };
    let mut next = range.start();
    for r in proc.space.regions() {
        if r.range.end() <= next {
            continue;
        }
        if r.range.start() > next {
            return false;
        }
        next = r.range.end();
        if next >= range.end() {
            return true;
        }
    }
    false
}

/// The caller's regions that overlap `range`.
fn overlapping<'a>(m: &'a Model, pid: Pid, range: AddrRange) -> impl Iterator<Item = &'a Region> + 'a {
    m.process(pid)
        .into_iter()
        .flat_map(|p| p.space.regions())
        .filter(move |r| r.range.overlaps(&range))
}

/// What a load of `len` bytes at `addr` by `pid` returns now.
fn probe(m: &Model, pid: Pid, addr: Addr, len: u64) -> Outcome {
    m.evaluate(pid, &Call::Load { addr, len: Len(len) }).outcome
}

/// Checks what must hold after `pid` issued `call` and got `outcome`.
pub fn after_call(m: &Model, before: &Before, pid: Pid, call: &Call, outcome: &Outcome) -> Result<(), String> {
    if !before.pids.contains(&pid) {
        return dead_caller(m, before, outcome);
    }
    let unchanged = || {
        let now = m.process(pid).map(|p| views(p.space.regions()));
        ensure(now == before.space, || {
            format!("a failed {} changed the caller's mappings", call.name())
        })
    };
    match (call, outcome) {
        (Call::Mmap { .. }, Outcome::Ok(Value::Addr(a))) => mapped(m, before, pid, call, *a),
        // Documented partial effects: procnto unmaps a MAP_FIXED range before
        // allocation and locking can fail (MMAP-ENOMEM-6, MMAP-EAGAIN-1).
        (Call::Mmap { flags, .. }, Outcome::Err(_)) if !flags.contains(MapFlags::FIXED) => unchanged(),
        (Call::Munmap { .. }, Outcome::Err(_)) => unchanged(),
        // mlock and munlock may leave the part before a hole or a PROT_NONE
        // region locked or unlocked (spec/locking.md): only the lock bits may change.
        (Call::Mlock { .. } | Call::Munlock { .. }, Outcome::Err(_)) => {
            let now = m.process(pid).map(|p| pages_and_prots(&views(p.space.regions())));
            ensure(now == before.space.as_deref().map(pages_and_prots), || {
                format!("a failed {} changed more than which pages are locked", call.name())
            })
        }
        (Call::Munmap { addr, len }, Outcome::Ok(_)) => unmapped(m, pid, *addr, len.0),
        (Call::Mprotect { addr, len, prot }, Outcome::Ok(_)) => protected(m, pid, *addr, len.0, *prot),
        (Call::Mlock { addr, len }, Outcome::Ok(_)) => locked_range(m, pid, *addr, len.0, true),
        (Call::Munlock { addr, len }, Outcome::Ok(_)) => locked_range(m, pid, *addr, len.0, false),
        (Call::Msync { addr, len, .. }, Outcome::Ok(_)) => mapped_span(m, pid, *addr, len.0, "msync"),
        (Call::Mlockall { flags }, Outcome::Ok(_)) => all_locked(m, pid, *flags),
        (Call::Munlockall {}, Outcome::Ok(_)) => none_locked(m, pid),
        (Call::Load { addr, len }, outcome) => loaded(m, pid, *addr, len.0, outcome),
        (Call::Store { addr, data }, Outcome::Ok(_)) => stored(m, before, pid, *addr, data),
        (Call::ShmOpen { .. } | Call::Open { .. }, Outcome::Ok(Value::Fd(fd))) => lowest_fd(m, before, pid, fd.0),
        (Call::ShmUnlink { name }, Outcome::Ok(_)) => unlinked(m, pid, name),
        (Call::Close { fd }, Outcome::Ok(_)) => closed(m, before, pid, fd.0),
        (Call::Close { fd }, Outcome::Err(Errno::EBADF)) => {
            ensure(!before.fds.as_ref().is_some_and(|f| f.contains(&fd.0)), || {
                format!("close({fd}) said EBADF but the fd was open")
            })
        }
        (Call::Ftruncate { fd, len }, Outcome::Ok(_)) => truncated(m, pid, fd.0, *len),
        (Call::Spawn {}, Outcome::Ok(Value::Pid(child))) => spawned(m, pid, *child),
        (Call::Exit {}, _) => ensure(m.process(pid).is_none(), || format!("pid {pid} survived exit")),
        (Call::Cred { euid, .. }, Outcome::Ok(_)) => ensure(m.process(pid).is_some_and(|p| p.euid == *euid), || {
            format!("cred did not set euid {euid}")
        }),
        (Call::Getrlimit { .. }, Outcome::Ok(Value::Rlimit(r))) => ensure(r.cur <= r.max, || {
            format!("getrlimit returned a soft limit above the hard one: {r:?}")
        }),
        (
            Call::Setrlimit {
                resource,
                cur,
                max,
                target,
            },
            Outcome::Ok(_),
        ) => {
            let got = m.evaluate(
                pid,
                &Call::Getrlimit {
                    resource: *resource,
                    target: *target,
                },
            );
            let Outcome::Ok(Value::Rlimit(r)) = got.outcome else {
                return Err(format!("getrlimit after a successful setrlimit gave {}", got.outcome));
            };
            ensure(
                r.max == *max && (r.cur == *cur || (*cur == RLIM_INFINITY && r.cur == r.max)),
                || format!("setrlimit({resource}, {cur:#x}, {max:#x}) but getrlimit reads {r:?}"),
            )
        }
        _ => Ok(()),
    }
}

/// A call by a process that does not exist fails with ESRCH and changes nothing.
fn dead_caller(m: &Model, before: &Before, outcome: &Outcome) -> Result<(), String> {
    ensure(*outcome == Outcome::Err(Errno::ESRCH), || {
        format!("a call by a dead process gave {outcome}, not ESRCH")
    })?;
    let pids: Vec<Pid> = m.processes().map(|p| p.pid).collect();
    ensure(pids == before.pids && m.committed() == before.committed, || {
        "a call by a dead process changed the system".into()
    })
}

/// A successful mmap: the range is mapped, inside the user range, where
/// MAP_FIXED asked, never over an existing mapping without MAP_FIXED, and new
/// anonymous memory reads as zeros.
fn mapped(m: &Model, before: &Before, pid: Pid, call: &Call, a: Addr) -> Result<(), String> {
    let Call::Mmap {
        addr, len, prot, flags, ..
    } = call
    else {
        unreachable!()
    };
    let p = m.profile();
    let range = pages(m, a, len.0).ok_or_else(|| format!("mmap returned {a} for a length that wraps"))?;
    ensure(range.start().0 >= p.user_start && range.end().0 <= p.user_end, || {
        format!("mmap placed {range} outside the user range")
    })?;
    ensure(covered(m, pid, range), || {
        format!("mmap returned {a} but {range} is not mapped")
    })?;
    let fixed = flags.intersects(mmoracle::types::MapFlags::FIXED | mmoracle::types::MapFlags::FIXED_NOREPLACE);
    if fixed {
        ensure(a == *addr, || format!("MAP_FIXED at {addr} returned {a}"))?;
    } else {
        let clash = before.space.iter().flatten().find(|v| v.range.overlaps(&range));
        ensure(clash.is_none(), || {
            format!("mmap without MAP_FIXED placed {range} over the existing {clash:?}")
        })?;
    }
    let fresh_anon = flags.contains(mmoracle::types::MapFlags::ANON)
        && !flags.contains(mmoracle::types::MapFlags::STACK)
        && prot.contains(Prot::READ);
    if fresh_anon {
        let n = len.0.min(64);
        let got = probe(m, pid, a, n);
        ensure(got == Outcome::Ok(Value::Bytes(vec![0; n as usize])), || {
            format!("new anonymous memory at {a} reads {got}, not zeros")
        })?;
    }
    Ok(())
}

/// A successful munmap leaves no mapping in the pages it covered; a load
/// there is SIGSEGV.
fn unmapped(m: &Model, pid: Pid, addr: Addr, len: u64) -> Result<(), String> {
    let Some(range) = pages(m, addr, len) else {
        return Ok(());
    };
    let left = overlapping(m, pid, range).next().map(|r| r.range);
    ensure(left.is_none(), || format!("munmap of {range} left {left:?} mapped"))?;
    // A stack right above may grow into the hole on the fault (ACCESS-GROW-1).
    let below_a_stack = m.process(pid).is_some_and(|p| {
        p.space
            .regions()
            .find(|r| r.range.start() >= range.end())
            .is_some_and(|r| r.flags.contains(mmoracle::types::MapFlags::GROWSDOWN))
    });
    let got = probe(m, pid, range.start(), 1);
    let grows = below_a_stack && matches!(got, Outcome::Ok(_));
    ensure(grows || got == Outcome::Fault(Signal::SIGSEGV), || {
        format!("a load from unmapped {} gives {got}", range.start())
    })
}

/// Every page of a successful ctrl call's span is mapped.
fn mapped_span(m: &Model, pid: Pid, addr: Addr, len: u64, what: &str) -> Result<(), String> {
    match pages(m, addr, len) {
        Some(range) if len != 0 => ensure(covered(m, pid, range), || {
            format!("{what} of {range} succeeded over a hole")
        }),
        _ => Ok(()),
    }
}

/// A successful mprotect gives every page of the span the new protection.
fn protected(m: &Model, pid: Pid, addr: Addr, len: u64, prot: Prot) -> Result<(), String> {
    mapped_span(m, pid, addr, len, "mprotect")?;
    let Some(range) = pages(m, addr, len).filter(|_| len != 0) else {
        return Ok(());
    };
    let wrong = overlapping(m, pid, range)
        .find(|r| r.prot != prot)
        .map(|r| (r.range, r.prot));
    ensure(wrong.is_none(), || {
        format!("mprotect({range}, {prot:?}) left {wrong:?}")
    })
}

/// A successful mlock locks (munlock unlocks) every page of the span.
fn locked_range(m: &Model, pid: Pid, addr: Addr, len: u64, lock: bool) -> Result<(), String> {
    let what = if lock { "mlock" } else { "munlock" };
    mapped_span(m, pid, addr, len, what)?;
    let Some(range) = pages(m, addr, len).filter(|_| len != 0) else {
        return Ok(());
    };
    let wrong = overlapping(m, pid, range).find(|r| r.locked != lock).map(|r| r.range);
    ensure(wrong.is_none(), || {
        format!("{what} of {range} left {wrong:?} as it was")
    })
}

fn all_locked(m: &Model, pid: Pid, flags: MclFlags) -> Result<(), String> {
    let proc = m.process(pid).ok_or("the caller vanished")?;
    if flags.contains(MclFlags::CURRENT) {
        let loose = proc.space.regions().find(|r| !r.locked).map(|r| r.range);
        ensure(loose.is_none(), || {
            format!("mlockall(MCL_CURRENT) left {loose:?} unlocked")
        })?;
    }
    ensure(!flags.contains(MclFlags::FUTURE) || proc.mcl_future, || {
        "mlockall(MCL_FUTURE) did not set MCL_FUTURE".into()
    })
}

fn none_locked(m: &Model, pid: Pid) -> Result<(), String> {
    let proc = m.process(pid).ok_or("the caller vanished")?;
    let still = proc.space.regions().find(|r| r.locked).map(|r| r.range);
    ensure(still.is_none() && !proc.mcl_future, || {
        format!("munlockall left {still:?} locked or MCL_FUTURE on")
    })
}

/// A load returns exactly the bytes asked for, from mapped pages.
fn loaded(m: &Model, pid: Pid, addr: Addr, len: u64, outcome: &Outcome) -> Result<(), String> {
    let Outcome::Ok(Value::Bytes(bytes)) = outcome else {
        return Ok(());
    };
    ensure(bytes.len() as u64 == len, || {
        format!("a load of {len} bytes returned {}", bytes.len())
    })?;
    mapped_span(m, pid, addr, len, "load")
}

/// A store is read back by a load of the same bytes; a shared store shows
/// through every shared mapping of the object, a private one through none.
fn stored(m: &Model, before: &Before, pid: Pid, addr: Addr, data: &[u8]) -> Result<(), String> {
    if data.is_empty() {
        return Ok(());
    }
    let got = probe(m, pid, addr, data.len() as u64);
    ensure(got == Outcome::Ok(Value::Bytes(data.to_vec())), || {
        format!("stored {data:02x?} at {addr} but a load reads {got}")
    })?;
    for v in &before.views {
        let now = probe(m, v.pid, v.addr, data.len() as u64);
        let expect = if v.sees_store { data } else { &v.bytes[..] };
        ensure(now == Outcome::Ok(Value::Bytes(expect.to_vec())), || {
            let kind = if v.sees_store { "shared" } else { "private" };
            format!(
                "after a {kind} store at {addr}, pid {} reads {now} at {} (expected {expect:02x?})",
                v.pid, v.addr
            )
        })?;
    }
    Ok(())
}

/// open and shm_open return the lowest fd that was free.
fn lowest_fd(m: &Model, before: &Before, pid: Pid, fd: i32) -> Result<(), String> {
    let was = before.fds.as_deref().unwrap_or(&[]);
    let lowest = (0..).find(|n| !was.contains(n));
    ensure(Some(fd) == lowest, || {
        format!("open returned fd {fd}, not the lowest free {lowest:?}")
    })?;
    ensure(m.process(pid).is_some_and(|p| p.fds().contains_key(&fd)), || {
        format!("fd {fd} is not in the table after open")
    })
}

/// After a successful shm_unlink the name no longer opens.
fn unlinked(m: &Model, pid: Pid, name: &str) -> Result<(), String> {
    let reopen = Call::ShmOpen {
        name: name.into(),
        oflag: OFlags::RDONLY,
        mode: 0,
    };
    // Linux takes the fd first, so EMFILE may decide; ENOENT must be allowed.
    let got = m.evaluate(pid, &reopen);
    ensure(got.allows(&Outcome::Err(Errno::ENOENT), false).is_some(), || {
        format!("shm_open({name:?}) after shm_unlink gives {}, not ENOENT", got.outcome)
    })
}

/// A successful close removes an fd that was open; closing it again is EBADF.
fn closed(m: &Model, before: &Before, pid: Pid, fd: i32) -> Result<(), String> {
    ensure(before.fds.as_ref().is_some_and(|f| f.contains(&fd)), || {
        format!("close({fd}) succeeded on a closed fd")
    })?;
    let again = m
        .evaluate(
            pid,
            &Call::Close {
                fd: mmoracle::types::Fd(fd),
            },
        )
        .outcome;
    ensure(again == Outcome::Err(Errno::EBADF), || {
        format!("a second close({fd}) gives {again}")
    })
}

/// A successful ftruncate sets the size of the object behind the fd.
fn truncated(m: &Model, pid: Pid, fd: i32, len: i64) -> Result<(), String> {
    let entry = m
        .process(pid)
        .and_then(|p| p.fds().get(&fd))
        .ok_or("ftruncate succeeded on a closed fd")?;
    let mmoracle::model::process::FdTarget::Object(id) = entry.target else {
        return Err(format!("ftruncate succeeded on fd {fd}, which is not an object"));
    };
    let size = m.objects().get(id).map(|o| o.size);
    ensure(size == u64::try_from(len).ok(), || {
        format!("ftruncate(fd {fd}, {len}) left the size at {size:?}")
    })
}

/// A spawned process exists, maps nothing and inherits the limits and uid.
fn spawned(m: &Model, parent: Pid, child: Pid) -> Result<(), String> {
    let (Some(p), Some(c)) = (m.process(parent), m.process(child)) else {
        return Err(format!("spawn returned pid {child}, which does not exist"));
    };
    ensure(
        c.space.region_count() == 0 && c.limits == p.limits && c.euid == p.euid,
        || format!("spawned pid {child} did not start empty with its parent's limits and uid"),
    )
}

/// What must hold in every state: the model's own invariant checker, and the
/// same sums restated here.
pub fn always(m: &Model, live: &[Pid]) -> Result<(), String> {
    m.check_invariants()?;
    let p = m.profile();
    for proc in m.processes() {
        let c = proc.space.counters();
        let total: u64 = proc.space.regions().map(Region::len).sum();
        let locked: u64 = proc.space.regions().filter(|r| r.locked).map(Region::len).sum();
        ensure(c.total == total && c.locked == locked, || {
            format!(
                "pid {}: counters {c:?}, regions sum to {total:#x} / locked {locked:#x}",
                proc.pid
            )
        })?;
        ensure(c.locked <= c.total && c.data <= c.total, || {
            format!("pid {}: locked or data bytes exceed the total: {c:?}", proc.pid)
        })?;
        let ranges: Vec<AddrRange> = proc.space.regions().map(|r| r.range).collect();
        let disjoint = ranges.windows(2).all(|w| w[0].end() <= w[1].start());
        ensure(disjoint && ranges.len() <= p.max_regions, || {
            format!("pid {}: regions overlap, are unsorted or too many", proc.pid)
        })?;
    }
    ensure(!p.commit_cumulative || m.committed() <= p.ram_bytes, || {
        format!("committed memory {:#x} exceeds RAM {:#x}", m.committed(), p.ram_bytes)
    })?;
    let mut pids: Vec<Pid> = m.processes().map(|p| p.pid).collect();
    let mut expected = live.to_vec();
    pids.sort();
    expected.sort();
    ensure(pids == expected, || {
        format!("live processes are {pids:?}, but spawn and exit predict {expected:?}")
    })
}
