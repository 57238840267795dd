//! The regions of an address space, ordered by start address.
//!
//! A B-tree keyed by start address holds a small slot number per region; the
//! regions themselves live in a slot vector. Inserting into or removing from
//! a B-tree leaf shifts every value after the position, and a new mapping
//! often lands at the front of a leaf: with the region (80 bytes) as the
//! value, that shift was the largest single cost of a map-and-unmap. A slot
//! number is 4 bytes, and a region is written once and moved out once.

use super::region::Region;
use crate::types::Addr;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeBounds;

/// An index into the slot vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot(u32);

/// Regions by start address: `index` maps each start to the slot that holds
/// the region starting there; `free` lists the empty slots, reused first.
#[derive(Clone, Default)]
pub struct RegionMap {
    index: BTreeMap<Addr, Slot>,
    slots: Vec<Option<Region>>,
    free: Vec<Slot>,
    /// The first and the last entry of `index`: every placement, insertion
    /// and removal asks for the ends of the map, and each end read from the
    /// tree is a descent to a leaf (about 20 instructions; four a pair).
    first: Option<(Addr, Slot)>,
    last: Option<(Addr, Slot)>,
}

impl fmt::Debug for RegionMap {
    /// The regions by start address, as the map of them prints: two maps
    /// with the same regions print the same, whatever slots they use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.index.iter().map(|(k, s)| (k, self.slot(*s))))
            .finish()
    }
}

impl RegionMap {
    /// The number of regions.
    pub fn len(&self) -> usize {
        self.index.len()
    }

    /// Every region, in address order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Region> {
        self.index.values().map(|s| self.slot(*s))
    }

    /// The regions whose start lies in `starts`, in address order.
    pub fn range(&self, starts: impl RangeBounds<Addr>) -> impl DoubleEndedIterator<Item = &Region> {
        self.index.range(starts).map(|(_, s)| self.slot(*s))
    }

    /// The starts of the regions whose start lies in `starts`, in order.
    pub fn keys_in(&self, starts: impl RangeBounds<Addr>) -> impl DoubleEndedIterator<Item = Addr> + '_ {
        self.index.range(starts).map(|(k, _)| *k)
    }

    /// The last region whose start lies in `starts`, mutably.
    pub fn last_in_mut(&mut self, starts: impl RangeBounds<Addr>) -> Option<&mut Region> {
        let (_, &slot) = self.index.range(starts).next_back()?;
        Some(self.slot_mut(slot))
    }

    /// The region that starts at `start`, mutably.
    pub fn get_mut(&mut self, start: Addr) -> Option<&mut Region> {
        let slot = *self.index.get(&start)?;
        Some(self.slot_mut(slot))
    }

    /// Whether a region starts at `start`.
    pub fn contains_key(&self, start: Addr) -> bool {
        self.index.contains_key(&start)
    }

    /// The start of the first region.
    pub fn first_start(&self) -> Option<Addr> {
        self.first.map(|(k, _)| k)
    }

    /// The last region.
    pub fn last(&self) -> Option<&Region> {
        self.last.map(|(_, s)| self.slot(s))
    }

    /// Adds `region` under its start; the caller guarantees no region starts there.
    pub fn insert(&mut self, region: Region) {
        let start = region.range.start();
        let slot = match self.free.pop() {
            Some(slot) => {
                self.slots[slot.0 as usize] = Some(region);
                slot
            }
            None => {
                let slot = Slot(u32::try_from(self.slots.len()).expect("fewer than 2^32 regions"));
                self.slots.push(Some(region));
                slot
            }
        };
        let old = self.index.insert(start, slot);
        debug_assert!(old.is_none(), "no region started at {start}");
        if self.first.is_none_or(|(k, _)| start < k) {
            self.first = Some((start, slot));
        }
        if self.last.is_none_or(|(k, _)| start > k) {
            self.last = Some((start, slot));
        }
    }

    /// Takes out the region that starts at `start`, if there is one.
    pub fn remove(&mut self, start: Addr) -> Option<Region> {
        let slot = self.index.remove(&start)?;
        self.free.push(slot);
        // Only the removal of an end reads the new end from the tree.
        if self.first.is_some_and(|(k, _)| k == start) {
            self.first = self.index.first_key_value().map(|(k, s)| (*k, *s));
        }
        if self.last.is_some_and(|(k, _)| k == start) {
            self.last = self.index.last_key_value().map(|(k, s)| (*k, *s));
        }
        self.slots[slot.0 as usize].take()
    }

    /// Takes out every region, in address order.
    pub fn take_all(&mut self) -> Vec<Region> {
        let mut slots = std::mem::take(&mut self.slots);
        let index = std::mem::take(&mut self.index);
        self.free.clear();
        (self.first, self.last) = (None, None);
        index
            .into_values()
            .map(|s| slots[s.0 as usize].take().expect("an indexed slot holds a region"))
            .collect()
    }

    /// Checks the slots from scratch: every start names a full slot of its
    /// own holding the region that starts there, and every other slot is
    /// empty and listed free exactly once; the cached ends are the tree's.
    /// Used by the invariant checker.
    pub fn check_slots(&self) -> Result<(), String> {
        let ends = (self.index.first_key_value(), self.index.last_key_value());
        let entry = |e: Option<(&Addr, &Slot)>| e.map(|(k, s)| (*k, *s));
        if (entry(ends.0), entry(ends.1)) != (self.first, self.last) {
            return Err(format!(
                "the region map caches its ends as {:?} and {:?}, but they are {:?} and {:?}",
                self.first, self.last, ends.0, ends.1
            ));
        }
        let mut seen = vec![false; self.slots.len()];
        let mut claim = |slot: Slot| -> Result<(), String> {
            match seen.get_mut(slot.0 as usize) {
                Some(seen) if !*seen => {
                    *seen = true;
                    Ok(())
                }
                Some(_) => Err(format!("region slot {} is used twice", slot.0)),
                None => Err(format!("region slot {} is past the slots", slot.0)),
            }
        };
        for (start, &slot) in &self.index {
            claim(slot)?;
            match &self.slots[slot.0 as usize] {
                Some(r) if r.range.start() == *start => {}
                Some(r) => return Err(format!("the region at {start} is filed as {}", r.range)),
                None => return Err(format!("the region at {start} names an empty slot")),
            }
        }
        for &slot in &self.free {
            claim(slot)?;
            if self.slots[slot.0 as usize].is_some() {
                return Err(format!("free region slot {} holds a region", slot.0));
            }
        }
        match seen.iter().position(|s| !s) {
            Some(lost) => Err(format!("region slot {lost} is neither used nor free")),
            None => Ok(()),
        }
    }

    fn slot(&self, slot: Slot) -> &Region {
        self.slots[slot.0 as usize]
            .as_ref()
            .expect("an indexed slot holds a region")
    }

    fn slot_mut(&mut self, slot: Slot) -> &mut Region {
        self.slots[slot.0 as usize]
            .as_mut()
            .expect("an indexed slot holds a region")
    }
}
