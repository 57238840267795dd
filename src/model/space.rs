//! An address space: the region map, the counters each mapping changes, and
//! placement of new mappings.
//!
//! Counters are kept beside the code that changes regions ([`AddressSpace::insert`]
//! and [`AddressSpace::remove`]), so no caller can forget one; the invariant
//! checker recomputes them from the regions.
//!
//! Regions live in a B-tree keyed by start address (lookup, split and removal
//! are O(log n); see [`super::region_map`] for why it holds slot numbers,
//! not regions); the free gaps between them live in a gap index
//! ([`super::gaps`]) kept by the same two functions, so that placement
//! (MMAP-OK-1, or MMAP-ENOMEM-3 when nothing fits) is O(log n) too. The
//! invariant checker recomputes the gaps from the regions.

use super::gaps::Gaps;
use super::object::Objects;
use super::region::{Backing, Region};
use super::region_map::RegionMap;
use crate::profile::{Placement, Profile};
use crate::types::{Addr, AddrRange, Len, MapFlags};

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

/// The regions one removal took out, in address order. Nearly every munmap
/// removes one region, which is held without allocating; the rest, when
/// there are more, follow it in a vector that is not there otherwise (so
/// that dropping a one-region removal tests for it, not drops an empty one).
#[derive(Debug, Default)]
pub struct Removed {
    one: Option<Region>,
    more: Option<Vec<Region>>,
}

impl Removed {
    fn push(&mut self, region: Region) {
        match (&self.one, &mut self.more) {
            (None, _) => self.one = Some(region),
            (Some(_), Some(more)) => more.push(region),
            (Some(_), None) => self.more = Some(vec![region]),
        }
    }

    /// Whether nothing was removed.
    pub fn is_empty(&self) -> bool {
        self.one.is_none()
    }

    /// The removed regions, in address order.
    pub fn iter(&self) -> impl Iterator<Item = &Region> {
        self.one.iter().chain(self.more.iter().flatten())
    }
}

impl IntoIterator for Removed {
    type Item = Region;
    type IntoIter =
        std::iter::Chain<std::option::IntoIter<Region>, std::iter::Flatten<std::option::IntoIter<Vec<Region>>>>;

    fn into_iter(self) -> Self::IntoIter {
        self.one.into_iter().chain(self.more.into_iter().flatten())
    }
}

/// What bounds a free address: the end of the region below it and the start
/// of the region above it, `None` where there is no region on that side.
#[derive(Clone, Copy, Debug, Default)]
struct Bounds {
    before: Option<Addr>,
    after: Option<Addr>,
}

/// The mappings of one process.
#[derive(Clone, Debug, Default)]
pub struct AddressSpace {
    regions: RegionMap,
    /// The free ranges between consecutive regions, indexed for placement.
    /// Splitting a region changes no gap; inserting and removing do.
    gaps: Gaps,
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
            .filter(|r| r.range.contains(addr))
    }

    /// Whether a region starts at `addr`.
    pub fn starts_region(&self, addr: Addr) -> bool {
        self.regions.contains_key(addr)
    }

    /// The region containing `addr`, mutably.
    pub fn region_at_mut(&mut self, addr: Addr) -> Option<&mut Region> {
        self.regions.last_in_mut(..=addr).filter(|r| r.range.contains(addr))
    }

    /// The regions that overlap `range`, in address order.
    pub fn overlapping(&self, range: AddrRange) -> impl Iterator<Item = &Region> {
        let first = self
            .regions
            .range(..range.start())
            .next_back()
            .filter(|r| r.range.overlaps(&range));
        first.into_iter().chain(self.regions.range(range.start()..range.end()))
    }

    /// Whether no region overlaps `range`. Regions are disjoint and sorted,
    /// so only the last one that starts below the end can reach into it.
    pub fn is_free(&self, range: AddrRange) -> bool {
        self.end_before(range.end()).is_none_or(|end| end <= range.start())
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
        self.gaps_insert(region.range);
        self.counters.add(&region);
        self.regions.insert(region);
    }

    /// Splits regions so that none straddles the bounds of `range`. Each new
    /// piece of an object-backed region is one more mapping of the object.
    pub fn isolate(&mut self, range: AddrRange, page_size: u64, objects: &mut Objects) {
        for at in [range.start(), range.end()] {
            self.split_at(at, page_size, objects);
        }
    }

    /// Splits the region that reaches past `at` from below, if one does.
    fn split_at(&mut self, at: Addr, page_size: u64, objects: &mut Objects) {
        let Some(region) = self.regions.last_in_mut(..at) else {
            return;
        };
        if region.range.contains(at) {
            let high = region.split_off(at, page_size);
            if let Backing::Object(id) = high.backing {
                objects.expect_mut(id).map_refs += 1;
            }
            self.regions.insert(high);
        }
    }

    /// Removes everything inside `range` (splitting at its bounds) and returns
    /// the removed regions.
    pub fn remove(&mut self, range: AddrRange, page_size: u64, objects: &mut Objects) -> Removed {
        // The gap index needs the end of the region left below the range and
        // the start of the one left above.
        let before = self.bound_before(range.start(), page_size, objects);
        let (after, after_gap_taken) = self.bound_after(range, page_size, objects);
        let mut removed = Removed::default();
        // After the splits, the next piece to remove starts where the last
        // one ended unless the range has a hole there: one removal by key per
        // piece, and a search only past a hole (no list of keys to allocate).
        let mut from = range.start();
        while from < range.end() {
            if let Some(region) = self.regions.remove(from) {
                from = region.range.end();
                self.counters.sub(&region);
                removed.push(region);
                continue;
            }
            match self.start_from(from) {
                Some(key) if key < range.end() => from = key,
                _ => break,
            }
        }
        if !removed.is_empty() {
            self.gaps_remove(before, after, after_gap_taken, &removed);
        }
        debug_assert!(
            !removed.is_empty() || !after_gap_taken,
            "a gap went with nothing removed"
        );
        removed
    }

    /// The end of the region left below `start` once a removal from `start`
    /// is done. Beside a free bound the index tells it without a search of
    /// the region map; a bound inside a region is split there, and the piece
    /// left below touches it.
    fn bound_before(&mut self, start: Addr, page_size: u64, objects: &mut Objects) -> Option<Addr> {
        let below = Addr(start.0.checked_sub(1)?);
        match self.bounds_around(below) {
            Some(free) => free.before,
            None => {
                self.split_at(start, page_size, objects);
                Some(start)
            }
        }
    }

    /// The start of the region left above `range` once it is removed, and
    /// whether the gap below that start is already out of the index. A gap
    /// that holds the range's end and starts above the range's start begins
    /// at the end of a region the removal takes, so it merges away: the
    /// descent that finds it takes it out (one descent, not two). An end
    /// inside a region is split there, and the piece left above touches it.
    fn bound_after(&mut self, range: AddrRange, page_size: u64, objects: &mut Objects) -> (Option<Addr>, bool) {
        let end = range.end();
        if let Some(edge) = self.edge_bounds(end) {
            return (edge.after, false);
        }
        match self.gaps.remove_containing(end, range.start()) {
            Some(gap) => (Some(gap.end()), gap.start() > range.start()),
            None => {
                self.split_at(end, page_size, objects);
                (Some(end), false)
            }
        }
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
        let keys: Vec<Addr> = self.regions.keys_in(range.start()..range.end()).collect();
        for k in keys {
            let region = self.regions.get_mut(k).expect("key just listed");
            self.counters.sub(region);
            let range = region.range;
            let ok = change(region);
            debug_assert_eq!(
                region.range, range,
                "a change must keep the region's range (the gap index relies on it)"
            );
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
        self.gaps = Gaps::default();
        self.regions.take_all()
    }

    /// Chooses an address for `len` bytes (page-rounded) near `hint` (0: none),
    /// by the profile's placement policy, or `None` when there is no room.
    ///
    /// procnto (`map_find_va`) rounds the hint up and takes it if the range is
    /// free, else the start of the first hole above it, else the start of the
    /// last hole below it, where a hole fits only if it is at least a page
    /// larger than the request. Linux (x86 top-down) rounds the hint down and
    /// takes it if free, else the highest fit below the mmap base, else the
    /// lowest fit anywhere. Every search is O(log n) in the number of regions.
    pub fn find_free(&self, len: u64, hint: u64, profile: &Profile) -> Option<Addr> {
        self.find_free_keeping(len, hint, profile, true)
    }

    /// Whether the guard gaps below growsdown regions moved a placement
    /// (MMAP-OK-3): the search without them would choose another address.
    pub fn moved_by_stack_gap(&self, len: u64, hint: u64, profile: &Profile) -> bool {
        // A choice clear of every gap is the one the search keeping them
        // makes too (its first candidate, or the hint).
        profile.stack_growth.is_some()
            && self
                .find_free_keeping(len, hint, profile, false)
                .and_then(|at| AddrRange::new(at, Len(len)))
                .is_some_and(|r| self.clear_of_stack_gap(r, profile).is_some())
    }

    /// [`AddressSpace::find_free`], keeping the stack guard gaps free or not.
    fn find_free_keeping(&self, len: u64, hint: u64, profile: &Profile, keep_gaps: bool) -> Option<Addr> {
        let page = profile.page_size;
        let clear = |r: AddrRange| !keep_gaps || self.clear_of_stack_gap(r, profile).is_none();
        let hint = match profile.placement {
            // A hint that would wrap when rounded up is no hint.
            Placement::BottomUpStrict => crate::types::align_up(hint, page).unwrap_or(0),
            Placement::TopDown => hint - crate::types::page_offset(hint, page),
        };
        if hint != 0 {
            if let Some(r) = AddrRange::new(Addr(hint), Len(len)) {
                if self.in_user_range(r, profile) && self.is_free(r) && clear(r) {
                    return Some(Addr(hint));
                }
            }
        }
        let holes = Holes::new(self, profile)?;
        match profile.placement {
            Placement::BottomUpStrict => {
                let start = Addr(if hint != 0 { hint } else { profile.map_base });
                holes.first_above_or_last_below(start, Len(len.checked_add(page)?))
            }
            Placement::TopDown if keep_gaps => self
                .top_down_fit(&holes, Len(len), profile)
                .or_else(|| self.lowest_fit_clear(&holes, Len(len), profile)),
            Placement::TopDown => holes
                .highest_end_below(Addr(profile.map_base), Len(len))
                .or_else(|| holes.lowest_fit(Addr(0), Len(len)).map(|h| h.start())),
        }
    }

    /// The top-down search, keeping a growsdown region's guard gap free
    /// (vm_start_gap(): MMAP-OK-3): a fit that reaches into the gap is
    /// searched again below the gap. Each retry starts lower, at most once
    /// per growsdown region.
    fn top_down_fit(&self, holes: &Holes<'_>, len: Len, profile: &Profile) -> Option<Addr> {
        let mut top = Addr(profile.map_base);
        loop {
            let at = holes.highest_end_below(top, len)?;
            match self.clear_of_stack_gap(AddrRange::new(at, len)?, profile) {
                None => return Some(at),
                Some(gap_start) if gap_start < top => top = gap_start,
                Some(_) => return None,
            }
        }
    }

    /// The lowest fit anywhere, keeping a growsdown region's guard gap free.
    fn lowest_fit_clear(&self, holes: &Holes<'_>, len: Len, profile: &Profile) -> Option<Addr> {
        let mut from = Addr(0);
        loop {
            let at = holes.lowest_fit(from, len)?.start();
            let range = AddrRange::new(at, len)?;
            if self.clear_of_stack_gap(range, profile).is_none() {
                return Some(at);
            }
            // The region above ends the hole: search above it.
            from = self.regions.range(range.end()..).next().map(|r| r.range.end())?;
        }
    }

    /// `None` when the free `range` keeps clear of the guard gap below the
    /// region above it, else where that gap starts: a growsdown region's
    /// start less the profile's stack guard gap (vm_start_gap()).
    pub fn clear_of_stack_gap(&self, range: AddrRange, profile: &Profile) -> Option<Addr> {
        let growth = profile.stack_growth?;
        let above = self.regions.range(range.start()..).next()?;
        if !above.flags.contains(MapFlags::GROWSDOWN) {
            return None;
        }
        let gap_start = Addr(above.range.start().0.saturating_sub(growth.guard_gap.0));
        (range.end() > gap_start).then_some(gap_start)
    }

    /// The first region that starts above `addr`.
    pub fn region_above(&self, addr: Addr) -> Option<&Region> {
        self.regions
            .range((std::ops::Bound::Excluded(addr), std::ops::Bound::Unbounded))
            .next()
    }

    /// The last region that ends at or below `addr`.
    pub fn region_below(&self, addr: Addr) -> Option<&Region> {
        self.regions.range(..addr).next_back().filter(|r| r.range.end() <= addr)
    }

    /// Grows the region that starts at `start` down to `new_start` (a stack
    /// growing on a fault, ACCESS-GROW-1), keeping the counters and the gap
    /// index right; the caller guarantees `[new_start, start)` is free.
    pub fn grow_down(&mut self, start: Addr, new_start: Addr, page_size: u64) {
        let Some(mut region) = self.regions.remove(start) else {
            return;
        };
        self.counters.sub(&region);
        if let Some(before) = self.end_before(start) {
            // The gap below keeps its start and ends at the new start.
            let found = if before < new_start {
                self.gaps.set_end(before, new_start)
            } else {
                self.gaps.remove(before)
            };
            debug_assert!(found, "the gap index holds the gap at {before}");
        }
        let grow = start.0 - new_start.0;
        // The backing offset of the new first byte: below 0, the private
        // pages are renumbered so that the offset can be 0.
        if region.offset >= grow {
            region.offset -= grow;
        } else {
            let shift = (grow - region.offset) / page_size;
            region.private_pages = std::mem::take(&mut region.private_pages)
                .into_iter()
                .map(|(k, v)| (k + shift, v))
                .collect();
            region.offset = 0;
        }
        region.range = AddrRange::from_bounds(new_start, region.range.end()).expect("grows down");
        self.counters.add(&region);
        self.regions.insert(region);
    }

    /// The gaps between consecutive regions, in address order (the invariant
    /// checker compares them with the gaps recomputed from the regions).
    pub fn gaps(&self) -> impl Iterator<Item = AddrRange> + '_ {
        self.gaps.iter()
    }

    /// Checks the gap index's own summaries (see [`Gaps::check_summaries`]).
    pub fn check_gap_index(&self) -> Result<(), String> {
        self.gaps.check_summaries()
    }

    /// Checks the slots that hold the regions (see [`RegionMap::check_slots`]).
    pub fn check_region_slots(&self) -> Result<(), String> {
        self.regions.check_slots()
    }

    /// The end of the last region that starts below `at`.
    fn end_before(&self, at: Addr) -> Option<Addr> {
        self.regions.range(..at).next_back().map(|r| r.range.end())
    }

    /// The regions on either side of the free address `addr`, or `None` when
    /// `addr` is mapped. Below the first region and above the last only the
    /// ends of the region map are read; between two regions the gap index
    /// holds the hole (one descent instead of two searches of the map).
    fn bounds_around(&self, addr: Addr) -> Option<Bounds> {
        self.edge_bounds(addr).or_else(|| {
            self.gaps.containing(addr).map(|gap| Bounds {
                before: Some(gap.start()),
                after: Some(gap.end()),
            })
        })
    }

    /// The regions on either side of `addr` when it lies outside the span
    /// of the regions (below the first, at or past the end of the last, or
    /// there are none), read from the ends of the region map; `None` when
    /// it lies inside that span, where only the gap index can tell.
    fn edge_bounds(&self, addr: Addr) -> Option<Bounds> {
        let Some(first) = self.regions.first_start() else {
            return Some(Bounds::default());
        };
        if addr < first {
            return Some(Bounds {
                before: None,
                after: Some(first),
            });
        }
        let last_end = self.regions.last().map(|r| r.range.end());
        last_end.filter(|end| addr >= *end).map(|end| Bounds {
            before: Some(end),
            after: None,
        })
    }

    /// The start of the first region that starts at or above `at`.
    fn start_from(&self, at: Addr) -> Option<Addr> {
        self.regions.keys_in(at..).next()
    }

    /// Keeps the gap index right for a region about to take `range`, which
    /// is free: the hole around it gives way to the pieces on either side.
    fn gaps_insert(&mut self, range: AddrRange) {
        let after = match self.edge_bounds(range.start()) {
            // Past the last region the piece below is a new gap (the hole
            // there is not in the index, nor is the one below the first).
            Some(Bounds { before, after }) => {
                if let Some(low) = before.and_then(|b| AddrRange::from_bounds(b, range.start())) {
                    self.gaps.insert(low);
                }
                after
            }
            // Between two regions the gap keeps its start and is cut at the
            // range, in the descent that finds it.
            None => Some(
                self.gaps
                    .cut_containing(range.start())
                    .expect("the range is free")
                    .end(),
            ),
        };
        if let Some(high) = after.and_then(|a| AddrRange::from_bounds(range.end(), a)) {
            self.gaps.insert(high);
        }
    }

    /// Keeps the gap index right after `removed` went, with `before` the end
    /// of the region left below them and `after` the start of the one left
    /// above: the gaps between those two (each starts where the region
    /// before it ended) merge into one. `after_gap_taken` says the gap that
    /// ends at `after` is already out (see [`AddressSpace::bound_after`]).
    fn gaps_remove(&mut self, before: Option<Addr>, after: Option<Addr>, after_gap_taken: bool, removed: &Removed) {
        // Only gaps that exist are looked for: a search for a missing key
        // walks the whole depth of the index, a cache miss a level in a
        // large one.
        let mut previous_end = None;
        for r in removed.iter() {
            if let Some(e) = previous_end.filter(|e| *e < r.range.start()) {
                self.remove_gap(e);
            }
            previous_end = Some(r.range.end());
        }
        let last_end = previous_end.expect("something was removed");
        if after.is_some_and(|a| !after_gap_taken && last_end < a) {
            self.remove_gap(last_end);
        }
        let first = removed.iter().next().expect("something was removed").range.start();
        // The gap below the first removed region keeps its start and grows
        // to `after` (one descent); without one, the merged gap is new.
        match (before, after) {
            (Some(b), Some(a)) if b < first => {
                let found = self.gaps.set_end(b, a);
                debug_assert!(found, "the gap index holds the gap at {b}");
            }
            (Some(b), None) if b < first => self.remove_gap(b),
            (Some(b), Some(a)) => self
                .gaps
                .insert(AddrRange::from_bounds(b, a).expect("after lies above before")),
            _ => {}
        }
    }

    /// Removes the gap that starts at `start`, which the index holds.
    fn remove_gap(&mut self, start: Addr) {
        let found = self.gaps.remove(start);
        debug_assert!(found, "the gap index holds the gap at {start}");
    }

    /// Whether `range` lies inside the part of the user range placement may
    /// choose (above `mmap_min_addr`).
    pub fn in_user_range(&self, range: AddrRange, profile: &Profile) -> bool {
        range.start().0 >= profile.placement_start() && range.end().0 <= profile.user_end
    }
}

/// The free holes of an address space inside the user range: the gaps the
/// index keeps between regions, plus the one before the first region and the
/// one after the last (the address space does not know the user range; the
/// profile does, so these two are worked out per search, in O(log n)).
struct Holes<'a> {
    space: &'a AddressSpace,
    user: AddrRange,
}

impl<'a> Holes<'a> {
    /// `None` when the profile's user range is empty.
    fn new(space: &'a AddressSpace, profile: &Profile) -> Option<Holes<'a>> {
        let user = AddrRange::from_bounds(Addr(profile.placement_start()), Addr(profile.user_end))?;
        Some(Holes { space, user })
    }

    /// The hole below the first region (the whole user range when there is none).
    fn leading(&self) -> Option<AddrRange> {
        let first = self.space.regions.first_start();
        AddrRange::from_bounds(self.user.start(), first.unwrap_or(self.user.end()))
    }

    /// The hole above the last region.
    fn trailing(&self) -> Option<AddrRange> {
        let last = self.space.regions.last()?;
        AddrRange::from_bounds(last.range.end(), self.user.end())
    }

    /// The hole that contains `addr`.
    fn containing(&self, addr: Addr) -> Option<AddrRange> {
        if !self.user.contains(addr) {
            return None;
        }
        let Bounds { before, after } = self.space.bounds_around(addr)?;
        AddrRange::from_bounds(before.unwrap_or(self.user.start()), after.unwrap_or(self.user.end()))
    }

    /// The lowest hole that starts at or above `from` and is at least `need` long.
    fn lowest_fit(&self, from: Addr, need: Len) -> Option<AddrRange> {
        let fits = |h: &AddrRange| h.start() >= from && h.len() >= need;
        self.leading()
            .filter(fits)
            .or_else(|| self.space.gaps.lowest_fit(from, need))
            .or_else(|| self.trailing().filter(fits))
    }

    /// The highest hole that starts below `limit` and is at least `need` long.
    fn highest_fit(&self, limit: Addr, need: Len) -> Option<AddrRange> {
        let fits = |h: &AddrRange| h.start() < limit && h.len() >= need;
        self.trailing()
            .filter(fits)
            .or_else(|| self.space.gaps.highest_fit(limit, need))
            .or_else(|| self.leading().filter(fits))
    }

    /// procnto's search: the first hole from `start` upwards with `need`
    /// bytes left (the hole around `start` counts from `start`), else the
    /// start of the last hole that starts below `start` and has them.
    fn first_above_or_last_below(&self, start: Addr, need: Len) -> Option<Addr> {
        let here = self
            .containing(start)
            .filter(|h| h.end().0 - start.0 >= need.0)
            .map(|_| start);
        here.or_else(|| {
            self.lowest_fit(Addr(start.0.saturating_add(1)), need)
                .map(|h| h.start())
        })
        .or_else(|| self.highest_fit(start, need).map(|h| h.start()))
    }

    /// Linux's top-down search: the highest `len` bytes that end at or below
    /// `top` (a hole around `top` counts only up to it).
    fn highest_end_below(&self, top: Addr, len: Len) -> Option<Addr> {
        let around = top.0.checked_sub(1).and_then(|t| self.containing(Addr(t)));
        let fitting = match around {
            Some(h) if top.0 - h.start().0 >= len.0 => return Some(Addr(top.0 - len.0)),
            Some(h) => self.highest_fit(h.start(), len),
            None => self.highest_fit(top, len),
        };
        fitting.map(|h| Addr(h.end().0 - len.0))
    }
}
