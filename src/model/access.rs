//! Loads and stores: what a program would see, or which signal it would get.
//!
//! spec: spec/objects-contents.md. ACCESS-EINVAL-1, then page by page in
//! ascending order, for each page: ACCESS-SIGSEGV-1 (unmapped, or the access
//! runs off the top of the address space) unless the page lies below a
//! growsdown region, which then grows down to it (ACCESS-GROW-1) unless
//! ACCESS-SIGSEGV-3 (below the growth floor), ACCESS-SIGSEGV-4 (the stack
//! guard gap), ACCESS-SIGSEGV-5 (RLIMIT_AS), ACCESS-SIGSEGV-6 (RLIMIT_STACK),
//! ACCESS-SIGSEGV-7 (RLIMIT_MEMLOCK) or ACCESS-SIGSEGV-8 (overcommit) refuses
//! it; then ACCESS-SIGSEGV-2 (protection), ACCESS-SIGBUS-1 (past the
//! object's end). Success: ACCESS-GROW-1 when the access grew a stack, else
//! ACCESS-LOAD-1; a store is ACCESS-SHARED-1 through a shared mapping of an
//! object (visible to every mapping of it), ACCESS-COW-1 through a private
//! one (copy-on-write), and ACCESS-STORE-1 into private anonymous memory or
//! when it writes nothing. A store that faults has written the pages before
//! the faulting one; an access that faults keeps the growth it made (a page
//! grown and then refused by protection stays mapped).
//!
//! Contents are sparse: a page that was never written is absent and reads as
//! zeros, so a huge lazy mapping costs only the pages stored to.

use super::object::Page;
use super::process::Process;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value, MAX_ACCESS};
use crate::profile::StackGrowth;
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, Errno, Len, MapFlags, Pid, Prot, Resource, Signal};

/// Why a page cannot be accessed.
struct Denied {
    signal: Signal,
    rule: &'static str,
}

/// A stack growth an access makes: the growsdown region that starts at
/// `start` grows down to `to` (a page base).
#[derive(Clone, Copy, Debug)]
struct Growth {
    start: Addr,
    to: Addr,
}

/// An access walked page by page: the growths made before it stopped, and
/// the fault that stopped it.
struct Walk {
    growths: Vec<Growth>,
    denied: Option<Denied>,
}

impl Model {
    /// Checks one page of `region` for an access; `write` asks for PROT_WRITE.
    fn region_access(&self, region: &Region, addr: Addr, write: bool) -> Result<(), Denied> {
        let allowed = if write {
            region.prot.contains(Prot::WRITE)
        } else {
            region.prot.intersects(Prot::READ | Prot::WRITE | Prot::EXEC)
        };
        if !allowed {
            return Err(Denied {
                signal: Signal::SIGSEGV,
                rule: "ACCESS-SIGSEGV-2",
            });
        }
        if let Backing::Object(id) = region.backing {
            let index = region.offset_of(addr) / self.profile.page_size;
            if !self.objects.expect(id).page_inside(index, self.profile.page_size) {
                return Err(Denied {
                    signal: Signal::SIGBUS,
                    rule: "ACCESS-SIGBUS-1",
                });
            }
        }
        Ok(())
    }

    /// Checks one mapped page for an access; `write` asks for PROT_WRITE.
    fn page_access(&self, pid: Pid, addr: Addr, write: bool) -> Result<&Region, Denied> {
        let region = self.procs[&pid].space.region_at(addr).ok_or(Denied {
            signal: Signal::SIGSEGV,
            rule: "ACCESS-SIGSEGV-1",
        })?;
        self.region_access(region, addr, write)?;
        Ok(region)
    }

    /// Walks an access's pages in ascending order: each unmapped page below
    /// a growsdown region grows it (expand_downwards()) or faults; the first
    /// page that faults ends the walk.
    fn walk_access(&self, pid: Pid, pages: &[Addr], write: bool) -> Walk {
        let proc = &self.procs[&pid];
        let mut walk = Walk {
            growths: Vec::new(),
            denied: None,
        };
        for &page in pages {
            let region = match proc.space.region_at(page) {
                Some(r) => r,
                None => {
                    let grown = walk
                        .growths
                        .iter()
                        .find(|g| g.to <= page && page < g.start)
                        .and_then(|g| proc.space.region_at(g.start));
                    match grown {
                        Some(r) => r,
                        None => match self.grow_for(proc, page, &walk.growths) {
                            Ok((growth, r)) => {
                                walk.growths.push(growth);
                                r
                            }
                            Err(d) => {
                                walk.denied = Some(d);
                                return walk;
                            }
                        },
                    }
                }
            };
            if let Err(d) = self.region_access(region, page, write) {
                walk.denied = Some(d);
                return walk;
            }
        }
        walk
    }

    /// The growth that maps the unmapped `page`: the first region above it,
    /// if it grows down and every check of expand_downwards() and
    /// acct_stack_growth() passes, in their order. `made` are the growths
    /// this access made before (their bytes count in the limits).
    fn grow_for<'a>(&self, proc: &'a Process, page: Addr, made: &[Growth]) -> Result<(Growth, &'a Region), Denied> {
        let unmapped = Denied {
            signal: Signal::SIGSEGV,
            rule: "ACCESS-SIGSEGV-1",
        };
        let Some(growth) = self.profile.stack_growth else {
            return Err(unmapped);
        };
        let Some(stack) = proc
            .space
            .region_above(page)
            .filter(|r| r.flags.contains(MapFlags::GROWSDOWN))
        else {
            return Err(unmapped);
        };
        let grow = Len(stack.range.start().0 - page.0);
        let made_total: u64 = made.iter().map(|g| g.start.0 - g.to.0).sum();
        let made_locked: u64 = made
            .iter()
            .filter(|g| proc.space.region_at(g.start).is_some_and(|r| r.locked))
            .map(|g| g.start.0 - g.to.0)
            .sum();
        let counters = proc.space.counters();
        let cmp = self.profile.rlimit_cmp;
        let new_size = stack.range.end().0 - page.0;
        let locked_blown = stack.locked
            && !proc.cap_ipc_lock
            && cmp.blown(
                counters.locked + made_locked,
                grow.0,
                proc.limit(Resource::RLIMIT_MEMLOCK).cur,
            );
        // In check order; the first that holds refuses the growth.
        let refusals = [
            ("ACCESS-SIGSEGV-3", page < growth.min_addr),
            ("ACCESS-SIGSEGV-4", guard_gap_blocks(proc, page, growth)),
            (
                "ACCESS-SIGSEGV-5",
                cmp.blown(counters.total + made_total, grow.0, proc.limit(Resource::RLIMIT_AS).cur),
            ),
            (
                "ACCESS-SIGSEGV-6",
                cmp.blown(new_size, 0, proc.limit(Resource::RLIMIT_STACK).cur),
            ),
            ("ACCESS-SIGSEGV-7", locked_blown),
            ("ACCESS-SIGSEGV-8", grow.0 > self.profile.ram_bytes),
        ];
        match refusals.into_iter().find(|(_, holds)| *holds).map(|(rule, _)| rule) {
            Some(rule) => Err(Denied {
                signal: Signal::SIGSEGV,
                rule,
            }),
            None => Ok((
                Growth {
                    start: stack.range.start(),
                    to: page,
                },
                stack,
            )),
        }
    }

    /// Applies the growths an access makes (whatever its outcome: a page
    /// grown and then refused stays mapped).
    fn commit_growth(&mut self, pid: Pid, addr: Addr, len: u64, write: bool) {
        if self.profile.stack_growth.is_none() {
            return;
        }
        let Some(pages) = self.access_pages(addr, len) else {
            return;
        };
        let walk = self.walk_access(pid, &pages, write);
        let page = self.profile.page_size;
        let space = &mut self.procs.get_mut(&pid).expect("caller exists").space;
        for g in walk.growths {
            space.grow_down(g.start, g.to, page);
        }
    }

    /// Applies a load: only the growth it made.
    pub(super) fn commit_load(&mut self, pid: Pid, addr: Addr, len: Len, outcome: &Outcome) {
        if !matches!(outcome, Outcome::Err(_)) {
            self.commit_growth(pid, addr, len.0, false);
        }
    }

    /// The page starts an access of `len` bytes at `addr` touches, or `None`
    /// when it runs past the top of the address space.
    fn access_pages(&self, addr: Addr, len: u64) -> Option<Vec<Addr>> {
        let page = self.profile.page_size;
        if len == 0 {
            return Some(Vec::new());
        }
        let last = addr.0.checked_add(len - 1)?;
        let first = addr.align_down(page).0;
        Some((first..=last).step_by(page as usize).map(Addr).collect())
    }

    /// Judges an access: the first page (ascending) that faults decides;
    /// `Ok(grew)` when none faults, with whether the access grew a stack.
    fn plan_access(&self, pid: Pid, addr: Addr, len: u64, write: bool) -> Result<bool, Verdict> {
        let mut c = Checks::new();
        c.check("ACCESS-EINVAL-1", Errno::EINVAL, len > MAX_ACCESS);
        if let Some(v) = c.verdict() {
            return Err(v);
        }
        let Some(pages) = self.access_pages(addr, len) else {
            return Err(Verdict::fault(Signal::SIGSEGV, "ACCESS-SIGSEGV-1"));
        };
        let walk = self.walk_access(pid, &pages, write);
        match walk.denied {
            Some(d) => Err(Verdict::fault(d.signal, d.rule)),
            None => Ok(!walk.growths.is_empty()),
        }
    }

    /// Judges a load.
    pub(super) fn plan_load(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let grew = match self.plan_access(pid, addr, len.0, false) {
            Ok(grew) => grew,
            Err(v) => return v,
        };
        let mut bytes = Vec::with_capacity(len.0 as usize);
        for (at, n) in page_pieces(addr, len.0, self.profile.page_size) {
            self.read_piece(pid, at, n, &mut bytes);
        }
        Verdict::ok(
            Value::Bytes(bytes),
            if grew { "ACCESS-GROW-1" } else { "ACCESS-LOAD-1" },
        )
    }

    /// Appends the `n` bytes at `addr` (all in one mapped, readable page,
    /// or a page a stack grows to, which reads as zeros).
    fn read_piece(&self, pid: Pid, addr: Addr, n: usize, out: &mut Vec<u8>) {
        let page = self.profile.page_size;
        let Some(region) = self.procs[&pid].space.region_at(addr) else {
            out.resize(out.len() + n, 0);
            return;
        };
        let offset = region.offset_of(addr);
        let (index, within) = (offset / page, (offset % page) as usize);
        let shown = region.private_pages.get(&index).or_else(|| match region.backing {
            Backing::Zero => None,
            Backing::Object(id) => self.objects.expect(id).pages.get(&index),
        });
        match shown {
            Some(p) => out.extend_from_slice(&p[within..within + n]),
            None => out.resize(out.len() + n, 0),
        }
    }

    /// Judges a store. The rule says where the bytes go, by the mapping of
    /// the first byte: the object (shared), a private copy of an object page
    /// (copy-on-write), or the process's own anonymous memory.
    pub(super) fn plan_store(&self, pid: Pid, addr: Addr, data: &[u8]) -> Verdict {
        let grew = match self.plan_access(pid, addr, data.len() as u64, true) {
            Ok(grew) => grew,
            Err(v) => return v,
        };
        let region = self.procs[&pid].space.region_at(addr).filter(|_| !data.is_empty());
        let rule = match region.map(|r| (r.shared, r.backing)) {
            _ if grew => "ACCESS-GROW-1",
            Some((true, Backing::Object(_))) => "ACCESS-SHARED-1",
            Some((false, Backing::Object(_))) => "ACCESS-COW-1",
            _ => "ACCESS-STORE-1",
        };
        Verdict::ok(Value::Unit, rule)
    }

    /// Applies a store: all of it on success; on a fault, the pages before the
    /// faulting one (an ascending copy writes them first).
    pub(super) fn commit_store(&mut self, pid: Pid, addr: Addr, data: &[u8], outcome: &Outcome) {
        if matches!(outcome, Outcome::Err(_)) {
            return;
        }
        self.commit_growth(pid, addr, data.len() as u64, true);
        let mut done = 0;
        for (at, n) in page_pieces(addr, data.len() as u64, self.profile.page_size) {
            if self.page_access(pid, at, true).is_err() {
                return;
            }
            self.write_piece(pid, at, &data[done..done + n]);
            done += n;
        }
    }

    /// Writes `bytes` at `addr` (all in one mapped, writable page).
    fn write_piece(&mut self, pid: Pid, addr: Addr, bytes: &[u8]) {
        let page = self.profile.page_size;
        let region = self
            .procs
            .get_mut(&pid)
            .expect("caller exists")
            .space
            .region_at_mut(addr)
            .expect("checked mapped");
        let offset = region.offset_of(addr);
        let (index, within) = (offset / page, (offset % page) as usize);
        let span = within..within + bytes.len();
        match (region.shared, region.backing) {
            (true, Backing::Object(id)) => {
                let obj = self.objects.expect_mut(id);
                obj.pages.entry(index).or_insert_with(|| zero_page(page))[span].copy_from_slice(bytes);
            }
            (_, backing) => {
                let objects = &self.objects;
                let copy = region.private_pages.entry(index).or_insert_with(|| {
                    let shown = match backing {
                        Backing::Object(id) => objects.expect(id).pages.get(&index).cloned(),
                        Backing::Zero => None,
                    };
                    shown.unwrap_or_else(|| zero_page(page))
                });
                copy[span].copy_from_slice(bytes);
            }
        }
    }
}

/// `[addr, addr + len)` cut at page boundaries: each piece's start and length.
fn page_pieces(addr: Addr, len: u64, page: u64) -> impl Iterator<Item = (Addr, usize)> {
    let end = addr.0.saturating_add(len);
    let mut at = addr.0;
    std::iter::from_fn(move || {
        if at >= end {
            return None;
        }
        let next = (at - at % page).saturating_add(page).min(end);
        let piece = (Addr(at), (next - at) as usize);
        at = next;
        Some(piece)
    })
}

/// Whether the region below `page` keeps a stack from growing down to it:
/// it is accessible, does not grow down itself, and ends less than the
/// guard gap below the page.
fn guard_gap_blocks(proc: &Process, page: Addr, growth: StackGrowth) -> bool {
    proc.space.region_below(page).is_some_and(|prev| {
        !prev.flags.contains(MapFlags::GROWSDOWN)
            && prev.prot.intersects(Prot::READ | Prot::WRITE | Prot::EXEC)
            && page.0 - prev.range.end().0 < growth.guard_gap.0
    })
}

fn zero_page(page: u64) -> Page {
    Page::zeroed(page)
}
