//! An address space: the region map, the counters each mapping changes, and
//! placement of new mappings.
//!
//! Counters are kept beside the code that changes regions ([`AddressSpace::insert`]
//! and [`AddressSpace::remove`]), so no caller can forget one; the invariant
//! checker recomputes them from the regions.

use super::object::Objects;
use super::region::{Backing, Region};
use crate::profile::{Placement, Profile};
use crate::types::{Addr, AddrRange, Len};
use std::collections::BTreeMap;

/// Per-process usage counters, in bytes.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every mapped byte (RLIMIT_AS).
    pub total: u64,
    /// Bytes counted against RLIMIT_DATA.
    pub data: u64,
    /// Locked bytes (RLIMIT_MEMLOCK).
    pub locked: u64,
}

impl Counters {
    /// The counters of a set of regions, recomputed from scratch.
    pub fn of<'a>(regions: impl Iterator<Item = &'a Region>) -> Counters {
        let mut c = Counters::default();
        for r in regions {
            c.add(r);
        }
        c
    }

    fn add(&mut self, r: &Region) {
        self.total += r.len();
        self.data += if r.counts_data { r.len() } else { 0 };
        self.locked += if r.locked { r.len() } else { 0 };
    }

    fn sub(&mut self, r: &Region) {
        self.total -= r.len();
        self.data -= if r.counts_data { r.len() } else { 0 };
        self.locked -= if r.locked { r.len() } else { 0 };
    }
}

/// The mappings of one process.
#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    regions: BTreeMap<Addr, Region>,
    counters: Counters,
}

impl AddressSpace {
    /// The cached counters.
    pub fn counters(&self) -> Counters {
        self.counters
    }

    /// Every region, in address order.
    pub fn regions(&self) -> impl Iterator<Item = &Region> {
        self.regions.values()
    }

    /// The number of regions.
    pub fn region_count(&self) -> usize {
        self.regions.len()
    }

    /// The region containing `addr`.
    pub fn region_at(&self, addr: Addr) -> Option<&Region> {
        self.regions
            .range(..=addr)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| r.range.contains(addr))
    }

    /// The region containing `addr`, mutably.
    pub fn region_at_mut(&mut self, addr: Addr) -> Option<&mut Region> {
        self.regions
            .range_mut(..=addr)
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| r.range.contains(addr))
    }

    /// The regions that overlap `range`, in address order.
    pub fn overlapping(&self, range: AddrRange) -> impl Iterator<Item = &Region> {
        let first = self
            .regions
            .range(..range.start())
            .next_back()
            .map(|(_, r)| r)
            .filter(|r| r.range.overlaps(&range));
        first
            .into_iter()
            .chain(self.regions.range(range.start()..range.end()).map(|(_, r)| r))
    }

    /// Whether no region overlaps `range`.
    pub fn is_free(&self, range: AddrRange) -> bool {
        self.overlapping(range).next().is_none()
    }

    /// Whether every address of `range` is mapped.
    pub fn fully_mapped(&self, range: AddrRange) -> bool {
        let mut next = range.start();
        for r in self.overlapping(range) {
            if r.range.start() > next {
                return false;
            }
            next = r.range.end();
        }
        next >= range.end()
    }

    /// The bytes of `range` that are mapped, with their counters.
    pub fn counters_in(&self, range: AddrRange) -> Counters {
        let mut c = Counters::default();
        for r in self.overlapping(range) {
            let part = r.range.intersect(&range).map_or(0, |p| p.len().0);
            c.total += part;
            c.data += if r.counts_data { part } else { 0 };
            c.locked += if r.locked { part } else { 0 };
        }
        c
    }

    /// Adds a region; the caller guarantees its range is free.
    pub fn insert(&mut self, region: Region) {
        debug_assert!(self.is_free(region.range));
        self.counters.add(&region);
        self.regions.insert(region.range.start(), region);
    }

    /// Splits regions so that none straddles the bounds of `range`. Each new
    /// piece of an object-backed region is one more mapping of the object.
    pub fn isolate(&mut self, range: AddrRange, page_size: u64, objects: &mut Objects) {
        for at in [range.start(), range.end()] {
            let Some(key) = self.regions.range(..at).next_back().map(|(k, _)| *k) else {
                continue;
            };
            let region = self.regions.get_mut(&key).expect("key just found");
            if region.range.contains(at) && region.range.start() != at {
                let high = region.split_off(at, page_size);
                if let Backing::Object(id) = high.backing {
                    objects.expect_mut(id).map_refs += 1;
                }
                self.regions.insert(at, high);
            }
        }
    }

    /// Removes everything inside `range` (splitting at its bounds) and returns
    /// the removed regions.
    pub fn remove(&mut self, range: AddrRange, page_size: u64, objects: &mut Objects) -> Vec<Region> {
        self.isolate(range, page_size, objects);
        let keys: Vec<Addr> = self
            .regions
            .range(range.start()..range.end())
            .map(|(k, _)| *k)
            .collect();
        let removed: Vec<Region> = keys.iter().filter_map(|k| self.regions.remove(k)).collect();
        for r in &removed {
            self.counters.sub(r);
        }
        removed
    }

    /// Applies `change` to every region inside `range` (after isolating it),
    /// keeping the counters right. Stops at the first region for which
    /// `change` returns `false`, and reports whether all were changed.
    pub fn change_each(
        &mut self,
        range: AddrRange,
        page_size: u64,
        objects: &mut Objects,
        mut change: impl FnMut(&mut Region) -> bool,
    ) -> bool {
        self.isolate(range, page_size, objects);
        let keys: Vec<Addr> = self
            .regions
            .range(range.start()..range.end())
            .map(|(k, _)| *k)
            .collect();
        for k in keys {
            let region = self.regions.get_mut(&k).expect("key just listed");
            self.counters.sub(region);
            let ok = change(region);
            self.counters.add(region);
            if !ok {
                return false;
            }
        }
        true
    }

    /// Removes every region.
    pub fn clear(&mut self) -> Vec<Region> {
        self.counters = Counters::default();
        std::mem::take(&mut self.regions).into_values().collect()
    }

    /// The free holes inside the user range, in address order.
    fn holes(&self, profile: &Profile) -> Vec<(u64, u64)> {
        let mut holes = Vec::new();
        let mut cursor = profile.user_start;
        for r in self.regions.values() {
            let (s, e) = (r.range.start().0, r.range.end().0);
            if s > cursor {
                holes.push((cursor, s.min(profile.user_end)));
            }
            cursor = cursor.max(e);
        }
        if cursor < profile.user_end {
            holes.push((cursor, profile.user_end));
        }
        holes
    }

    /// Chooses an address for `len` bytes (page-rounded) near `hint` (0: none),
    /// by the profile's placement policy, or `None` when there is no room.
    ///
    /// procnto (`map_find_va`) rounds the hint up and takes it if the range is
    /// free, else the start of the first hole above it, else the start of the
    /// last hole below it, where a hole fits only if it is at least a page
    /// larger than the request. Linux (x86 top-down) rounds the hint down and
    /// takes it if free, else the highest fit below the mmap base, else the
    /// lowest fit anywhere.
    pub fn find_free(&self, len: u64, hint: u64, profile: &Profile) -> Option<Addr> {
        let page = profile.page_size;
        let hint = match profile.placement {
            // A hint that would wrap when rounded up is no hint.
            Placement::BottomUpStrict => crate::types::align_up(hint, page).unwrap_or(0),
            Placement::TopDown => hint - hint % page,
        };
        if hint != 0 {
            if let Some(r) = AddrRange::new(Addr(hint), Len(len)) {
                if self.in_user_range(r, profile) && self.is_free(r) {
                    return Some(Addr(hint));
                }
            }
        }
        let holes = self.holes(profile);
        match profile.placement {
            Placement::BottomUpStrict => {
                let start = if hint != 0 { hint } else { profile.map_base };
                first_hole_above_or_last_below(&holes, start, len.checked_add(page)?)
            }
            Placement::TopDown => {
                let top = profile.map_base;
                let below = holes.iter().rev().find_map(|&(s, e)| {
                    let end = e.min(top);
                    (end > s && end - s >= len).then(|| end - len)
                });
                below
                    .or_else(|| holes.iter().find(|&&(s, e)| e - s >= len).map(|&(s, _)| s))
                    .map(Addr)
            }
        }
    }

    /// Whether `range` lies inside the profile's user range.
    pub fn in_user_range(&self, range: AddrRange, profile: &Profile) -> bool {
        range.start().0 >= profile.user_start && range.end().0 <= profile.user_end
    }
}

/// procnto's search: the first hole (from `start` upwards) with `need` bytes
/// left, else the start of the last hole below `start` that has them.
fn first_hole_above_or_last_below(holes: &[(u64, u64)], start: u64, need: u64) -> Option<Addr> {
    let above = holes.iter().find_map(|&(s, e)| {
        let from = s.max(start);
        (e > from && e - from >= need).then_some(from)
    });
    above
        .or_else(|| {
            holes
                .iter()
                .rev()
                .find(|&&(s, e)| s < start && e - s >= need)
                .map(|&(s, _)| s)
        })
        .map(Addr)
}
