//! Loads and stores: what a program would see, or which signal it would get.
//!
//! spec: spec/objects-contents.md. ACCESS-EINVAL-1, then page by page in
//! ascending order, for each page: ACCESS-SIGSEGV-1 (unmapped, or the access
//! runs off the top of the address space), ACCESS-SIGSEGV-2 (protection),
//! ACCESS-SIGBUS-1 (past the object's end). Success: ACCESS-LOAD-1; a store
//! is ACCESS-SHARED-1 through a shared mapping of an object (visible to every
//! mapping of it), ACCESS-COW-1 through a private one (copy-on-write), and
//! ACCESS-STORE-1 into private anonymous memory or when it writes nothing.
//! A store that faults has written the pages before the faulting one.
//!
//! Contents are sparse: a page that was never written is absent and reads as
//! zeros, so a huge lazy mapping costs only the pages stored to.

use super::object::Page;
use super::region::{Backing, Region};
use super::Model;
use crate::call::{Outcome, Value, MAX_ACCESS};
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, Errno, Len, Pid, Prot, Signal};

/// Why a page cannot be accessed.
struct Denied {
    signal: Signal,
    rule: &'static str,
}

impl Model {
    /// Checks one page for an access; `write` asks for PROT_WRITE.
    fn page_access(&self, pid: Pid, addr: Addr, write: bool) -> Result<&Region, Denied> {
        let region = self.procs[&pid].space.region_at(addr).ok_or(Denied {
            signal: Signal::SIGSEGV,
            rule: "ACCESS-SIGSEGV-1",
        })?;
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
        Ok(region)
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

    /// Judges an access: the first page (ascending) that faults decides.
    fn plan_access(&self, pid: Pid, addr: Addr, len: u64, write: bool) -> Option<Verdict> {
        let mut c = Checks::new();
        c.check("ACCESS-EINVAL-1", Errno::EINVAL, len > MAX_ACCESS);
        if let Some(v) = c.verdict() {
            return Some(v);
        }
        let Some(pages) = self.access_pages(addr, len) else {
            return Some(Verdict::fault(Signal::SIGSEGV, "ACCESS-SIGSEGV-1"));
        };
        pages
            .into_iter()
            .find_map(|p| self.page_access(pid, p, write).err())
            .map(|d| Verdict::fault(d.signal, d.rule))
    }

    /// Judges a load.
    pub(super) fn plan_load(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        if let Some(v) = self.plan_access(pid, addr, len.0, false) {
            return v;
        }
        let mut bytes = Vec::with_capacity(len.0 as usize);
        for (at, n) in page_pieces(addr, len.0, self.profile.page_size) {
            self.read_piece(pid, at, n, &mut bytes);
        }
        Verdict::ok(Value::Bytes(bytes), "ACCESS-LOAD-1")
    }

    /// Appends the `n` bytes at `addr` (all in one mapped, readable page).
    fn read_piece(&self, pid: Pid, addr: Addr, n: usize, out: &mut Vec<u8>) {
        let page = self.profile.page_size;
        let region = self.procs[&pid].space.region_at(addr).expect("checked mapped");
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
        if let Some(v) = self.plan_access(pid, addr, data.len() as u64, true) {
            return v;
        }
        let region = self.procs[&pid].space.region_at(addr).filter(|_| !data.is_empty());
        let rule = match region.map(|r| (r.shared, r.backing)) {
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

fn zero_page(page: u64) -> Page {
    Page::zeroed(page)
}
