//! munmap, mprotect and msync: the calls procnto sends as `_MEM_CTRL`.
//!
//! spec: spec/munmap-mprotect.md. munmap: MUNMAP-EINVAL-1, MUNMAP-EINVAL-2,
//! MUNMAP-EINVAL-3, MUNMAP-ENOMEM-1, MUNMAP-OK-1. mprotect: MPROT-EINVAL-1,
//! MPROT-EINVAL-2, MPROT-OK-2, MPROT-ENOMEM-1, MPROT-ENOMEM-2, MPROT-ENOMEM-4,
//! MPROT-ENOMEM-3, MPROT-EACCES-1, MPROT-OK-1. msync: MSYNC-EINVAL-1,
//! MSYNC-EINVAL-3, MSYNC-EINVAL-2, MSYNC-OK-2, MSYNC-ENOMEM-1,
//! MSYNC-ENOMEM-2, MSYNC-EBUSY-1, MSYNC-OK-1.

use super::process::Process;
use super::Model;
use crate::call::{Outcome, Value};
use crate::profile::DataScope;
use crate::rules::{Checks, Verdict};
use crate::types::{Addr, AddrRange, Errno, Len, MsyncFlags, Pid, Prot, Resource};

/// The pages a ctrl call covers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Span {
    /// `len` was zero.
    Empty,
    /// The whole pages covering the request.
    Pages(AddrRange),
    /// The range wraps or leaves the user address space.
    Outside,
}

impl Model {
    /// The whole pages of `[addr, addr + len)`. procnto silently truncates a
    /// length that wraps; Linux rounds the length up and fails on a wrap.
    pub(super) fn span(&self, addr: Addr, len: Len) -> Span {
        let p = self.profile;
        if len.is_zero() {
            return Span::Empty;
        }
        let end = if p.ctrl_unaligned_einval {
            match p.round_up(len.0).and_then(|l| addr.0.checked_add(l)) {
                Some(end) => end,
                None => return Span::Outside,
            }
        } else {
            match addr.0.saturating_add(len.0).checked_add(p.page_size - 1) {
                Some(e) => e & !(p.page_size - 1),
                None => return Span::Outside,
            }
        };
        let start = addr.align_down(p.page_size);
        match AddrRange::from_bounds(start, Addr(end)) {
            Some(r) if r.start().0 >= p.user_start && r.end().0 <= p.user_end => Span::Pages(r),
            _ => Span::Outside,
        }
    }

    /// Whether the linux-style alignment rule rejects `addr`.
    fn unaligned(&self, addr: Addr) -> bool {
        self.profile.ctrl_unaligned_einval && !addr.is_aligned(self.profile.page_size)
    }

    /// Whether isolating `range` would need more regions than allowed.
    pub(super) fn split_blown(&self, proc: &Process, range: AddrRange) -> bool {
        let splits = [range.start(), range.end()]
            .iter()
            .filter(|a| proc.space.region_at(**a).is_some_and(|r| r.range.start() != **a))
            .count();
        splits > 0 && proc.space.region_count() + splits > self.profile.max_regions
    }

    /// Judges munmap.
    pub(super) fn plan_munmap(&self, pid: Pid, addr: Addr, len: Len) -> Verdict {
        let proc = &self.procs[&pid];
        let span = self.span(addr, len);
        let mut c = Checks::new();
        c.check("MUNMAP-EINVAL-1", Errno::EINVAL, len.is_zero())
            .check("MUNMAP-EINVAL-2", Errno::EINVAL, self.unaligned(addr))
            .check("MUNMAP-EINVAL-3", Errno::EINVAL, span == Span::Outside)
            .check(
                "MUNMAP-ENOMEM-1",
                Errno::ENOMEM,
                matches!(span, Span::Pages(r) if self.split_blown(proc, r)),
            );
        c.or_else(|| Verdict::ok(Value::Unit, "MUNMAP-OK-1"))
    }

    pub(super) fn commit_munmap(&mut self, pid: Pid, addr: Addr, len: Len, outcome: &Outcome) {
        let Span::Pages(range) = self.span(addr, len) else {
            return;
        };
        if !outcome.is_ok() {
            return;
        }
        let page = self.profile.page_size;
        let removed = self
            .procs
            .get_mut(&pid)
            .expect("caller exists")
            .space
            .remove(range, page);
        for region in &removed {
            self.release_region(region);
        }
    }

    /// Judges mprotect.
    pub(super) fn plan_mprotect(&self, pid: Pid, addr: Addr, len: Len, prot: Prot) -> Verdict {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let span = self.span(addr, len);
        let mut c = Checks::new();
        c.check("MPROT-EINVAL-1", Errno::EINVAL, prot.bits() & !self.known_prot() != 0)
            .check("MPROT-EINVAL-2", Errno::EINVAL, self.unaligned(addr));
        if span == Span::Empty && p.ctrl_zero_len.is_none() {
            return c.or_else(|| Verdict::ok(Value::Unit, "MPROT-OK-2"));
        }
        c.check(
            "MPROT-ENOMEM-1",
            p.ctrl_zero_len.unwrap_or(Errno::ENOMEM),
            span == Span::Empty,
        );
        let mapped = matches!(span, Span::Pages(r) if proc.space.fully_mapped(r));
        c.check("MPROT-ENOMEM-2", Errno::ENOMEM, span != Span::Empty && !mapped);
        if let Span::Pages(r) = span {
            c.check("MPROT-ENOMEM-4", Errno::ENOMEM, self.split_blown(proc, r))
                .check("MPROT-ENOMEM-3", Errno::ENOMEM, self.mprotect_data_blown(proc, r, prot))
                .check(
                    "MPROT-EACCES-1",
                    Errno::EACCES,
                    prot.contains(Prot::WRITE) && proc.space.overlapping(r).any(|reg| reg.write_denied),
                );
        }
        c.or_else(|| Verdict::ok(Value::Unit, "MPROT-OK-1"))
    }

    /// The protection bits the profile knows (Linux has no PROT_NOCACHE).
    fn known_prot(&self) -> u32 {
        if self.profile.ctrl_unaligned_einval {
            (Prot::READ | Prot::WRITE | Prot::EXEC).bits()
        } else {
            Prot::MASK
        }
    }

    /// Linux charges RLIMIT_DATA when a private mapping becomes writable.
    fn mprotect_data_blown(&self, proc: &Process, range: AddrRange, prot: Prot) -> bool {
        if self.profile.data_scope != DataScope::PrivateWritable || !prot.contains(Prot::WRITE) {
            return false;
        }
        let newly: u64 = proc
            .space
            .overlapping(range)
            .filter(|r| !r.shared && !r.counts_data && !r.flags.contains(crate::types::MapFlags::STACK))
            .filter_map(|r| r.range.intersect(&range))
            .map(|part| part.len().0)
            .sum();
        newly != 0
            && self
                .profile
                .rlimit_cmp
                .blown(proc.space.counters().data, newly, proc.limit(Resource::RLIMIT_DATA).cur)
    }

    /// Applies mprotect: all of it on success; on EACCES the regions before the
    /// refused one (and, where the profile says so, the mapped prefix before a
    /// hole on ENOMEM) keep the new protection.
    pub(super) fn commit_mprotect(&mut self, pid: Pid, addr: Addr, len: Len, prot: Prot, outcome: &Outcome) {
        let Span::Pages(range) = self.span(addr, len) else {
            return;
        };
        let partial = match outcome {
            Outcome::Ok(_) => false,
            Outcome::Err(Errno::EACCES) => true,
            Outcome::Err(Errno::ENOMEM) if self.profile.mprotect_partial_on_hole => true,
            _ => return,
        };
        let page = self.profile.page_size;
        let scope = self.profile.data_scope;
        let proc = self.procs.get_mut(&pid).expect("caller exists");
        let apply_to = if partial {
            mapped_prefix(proc, range)
        } else {
            Some(range)
        };
        let Some(apply_to) = apply_to else { return };
        proc.space.change_each(apply_to, page, |region| {
            if prot.contains(Prot::WRITE) && region.write_denied {
                return false;
            }
            region.prot = prot;
            if scope == DataScope::PrivateWritable {
                region.counts_data = !region.shared
                    && prot.contains(Prot::WRITE)
                    && !region.flags.contains(crate::types::MapFlags::STACK);
            }
            true
        });
    }

    /// Judges msync.
    pub(super) fn plan_msync(&self, pid: Pid, addr: Addr, len: Len, flags: MsyncFlags) -> Verdict {
        let p = self.profile;
        let proc = &self.procs[&pid];
        let span = self.span(addr, len);
        let known = if p.ctrl_unaligned_einval {
            (MsyncFlags::ASYNC | MsyncFlags::SYNC | MsyncFlags::INVALIDATE).bits()
        } else {
            MsyncFlags::all().bits()
        };
        let mut c = Checks::new();
        c.check("MSYNC-EINVAL-1", Errno::EINVAL, flags.bits() & !known != 0)
            .check("MSYNC-EINVAL-3", Errno::EINVAL, self.unaligned(addr))
            .check(
                "MSYNC-EINVAL-2",
                Errno::EINVAL,
                flags.contains(MsyncFlags::SYNC | MsyncFlags::ASYNC),
            );
        if span == Span::Empty && p.ctrl_zero_len.is_none() {
            return c.or_else(|| Verdict::ok(Value::Unit, "MSYNC-OK-2"));
        }
        c.check(
            "MSYNC-ENOMEM-1",
            p.ctrl_zero_len.unwrap_or(Errno::ENOMEM),
            span == Span::Empty,
        );
        let mapped = matches!(span, Span::Pages(r) if proc.space.fully_mapped(r));
        c.check("MSYNC-ENOMEM-2", Errno::ENOMEM, span != Span::Empty && !mapped);
        if let Span::Pages(r) = span {
            let locked = proc.space.overlapping(r).any(|reg| reg.locked);
            c.check(
                "MSYNC-EBUSY-1",
                Errno::EBUSY,
                p.ctrl_unaligned_einval && flags.contains(MsyncFlags::INVALIDATE) && locked,
            );
        }
        c.or_else(|| Verdict::ok(Value::Unit, "MSYNC-OK-1"))
    }
}

/// The part of `range` mapped without a hole from its start.
fn mapped_prefix(proc: &Process, range: AddrRange) -> Option<AddrRange> {
    let mut next = range.start();
    for r in proc.space.overlapping(range) {
        if r.range.start() > next {
            break;
        }
        next = r.range.end();
    }
    AddrRange::from_bounds(range.start(), next.min(range.end()))
}
