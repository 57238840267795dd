//! The regions of an address space, ordered by start address.
//!
//! A B-tree keyed by start address holds a small slot number per region; the
//! regions themselves live in a slot vector. Inserting into or removing from
//! a B-tree leaf shifts every value after the position, and a new mapping
//! often lands at the front of a leaf: with the region (80 bytes) as the
//! value, that shift was the largest single cost of a map-and-unmap. A slot
//! number is 4 bytes, and a region is written once and moved out once.
//!
//! The entry inserted last waits outside the tree until the next insertion
//! (`waiting`): a mapping unmapped before anything else is mapped (a
//! map-and-unmap, the commonest pair of calls) then never enters the tree,
//! which saves an insertion and a removal, each a descent and a shift. Every
//! query asks the waiting entry too ([`Entries`] merges it in): a comparison
//! or two per entry handed out, which costs `check` of a generated trace
//! about 1.5% more instructions and the pair about 10% fewer.

use super::region::Region;
use crate::types::Addr;
use std::collections::BTreeMap;
use std::fmt;
use std::ops::RangeBounds;

/// An index into the slot vector.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot(u32);

/// Regions by start address: `index` and `waiting` map each start to the
/// slot that holds the region starting there; `free` lists the empty slots,
/// reused first.
#[derive(Clone, Default)]
pub struct RegionMap {
    index: BTreeMap<Addr, Slot>,
    /// The entry inserted last, if it is still there: it is in no other
    /// map, and goes into `index` when another entry is inserted.
    waiting: Option<(Addr, Slot)>,
    slots: Vec<Option<Region>>,
    free: Vec<Slot>,
    /// The first and the last entry of the map: every placement, insertion
    /// and removal asks for the ends of the map, and each end read from the
    /// tree is a descent to a leaf (about 20 instructions; four a pair).
    first: Option<(Addr, Slot)>,
    last: Option<(Addr, Slot)>,
}

/// The entries of a [`RegionMap`] in a range of starts, in order: the
/// tree's, with the waiting entry merged in where it falls. One search of
/// the tree serves the whole range (splitting the range at the waiting
/// entry searched it twice, and most queries ask for one entry).
///
/// The tree's entries are split three ways, in order: `front` (one taken
/// from the front of `tree` and not yet handed out), `tree`, and `back`
/// (likewise from the back).
struct Entries<'a> {
    tree: std::collections::btree_map::Range<'a, Addr, Slot>,
    /// The waiting entry, while it lies in the range and is not handed out.
    waiting: Option<(Addr, Slot)>,
    front: Option<(Addr, Slot)>,
    back: Option<(Addr, Slot)>,
}

impl Iterator for Entries<'_> {
    type Item = (Addr, Slot);

    fn next(&mut self) -> Option<(Addr, Slot)> {
        let tree = self
            .front
            .take()
            .or_else(|| self.tree.next().map(copied))
            .or_else(|| self.back.take());
        let Some(waiting) = self.waiting else { return tree };
        match tree {
            Some(entry) if entry.0 < waiting.0 => Some(entry),
            // The tree's lowest entry is handed out after the waiting one.
            entry => {
                self.front = entry;
                self.waiting = None;
                Some(waiting)
            }
        }
    }
}

impl DoubleEndedIterator for Entries<'_> {
    fn next_back(&mut self) -> Option<(Addr, Slot)> {
        let tree = self
            .back
            .take()
            .or_else(|| self.tree.next_back().map(copied))
            .or_else(|| self.front.take());
        let Some(waiting) = self.waiting else { return tree };
        match tree {
            Some(entry) if entry.0 > waiting.0 => Some(entry),
            entry => {
                self.back = entry;
                self.waiting = None;
                Some(waiting)
            }
        }
    }
}

/// An entry of the tree, copied out of it.
fn copied((start, slot): (&Addr, &Slot)) -> (Addr, Slot) {
    (*start, *slot)
}

impl fmt::Debug for RegionMap {
    /// The regions by start address, as the map of them prints: two maps
    /// with the same regions print the same, whatever slots they use.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.entries(..).map(|(k, s)| (k, self.slot(s))))
            .finish()
    }
}

impl RegionMap {
    /// The number of regions.
    pub fn len(&self) -> usize {
        self.index.len() + usize::from(self.waiting.is_some())
    }

    /// Every region, in address order.
    pub fn values(&self) -> impl DoubleEndedIterator<Item = &Region> {
        self.range(..)
    }

    /// The regions whose start lies in `starts`, in address order.
    pub fn range(&self, starts: impl RangeBounds<Addr>) -> impl DoubleEndedIterator<Item = &Region> {
        self.entries(starts).map(|(_, s)| self.slot(s))
    }

    /// The starts of the regions whose start lies in `starts`, in order.
    pub fn keys_in(&self, starts: impl RangeBounds<Addr>) -> impl DoubleEndedIterator<Item = Addr> + '_ {
        self.entries(starts).map(|(k, _)| k)
    }

    /// The last region whose start lies in `starts`, mutably.
    pub fn last_in_mut(&mut self, starts: impl RangeBounds<Addr>) -> Option<&mut Region> {
        let (_, slot) = self.entries(starts).next_back()?;
        Some(self.slot_mut(slot))
    }

    /// The region that starts at `start`, mutably.
    pub fn get_mut(&mut self, start: Addr) -> Option<&mut Region> {
        let slot = self.slot_of(start)?;
        Some(self.slot_mut(slot))
    }

    /// Whether a region starts at `start`.
    pub fn contains_key(&self, start: Addr) -> bool {
        self.slot_of(start).is_some()
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
        debug_assert!(!self.contains_key(start), "no region started at {start}");
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
        if let Some((k, s)) = self.waiting.replace((start, slot)) {
            self.index.insert(k, s);
        }
        if self.first.is_none_or(|(k, _)| start < k) {
            self.first = Some((start, slot));
        }
        if self.last.is_none_or(|(k, _)| start > k) {
            self.last = Some((start, slot));
        }
    }

    /// Takes out the region that starts at `start`, if there is one.
    pub fn remove(&mut self, start: Addr) -> Option<Region> {
        let slot = match self.waiting {
            Some((k, slot)) if k == start => {
                self.waiting = None;
                slot
            }
            _ => self.index.remove(&start)?,
        };
        self.free.push(slot);
        // Only the removal of an end reads the new end from the tree.
        if self.first.is_some_and(|(k, _)| k == start) {
            self.first = self.first_entry();
        }
        if self.last.is_some_and(|(k, _)| k == start) {
            self.last = self.last_entry();
        }
        self.slots[slot.0 as usize].take()
    }

    /// The first entry, read from the tree and the waiting entry (a full
    /// range of the tree costs several times a descent to its first leaf).
    fn first_entry(&self) -> Option<(Addr, Slot)> {
        match (self.index.first_key_value().map(copied), self.waiting) {
            (Some(tree), Some(waiting)) => Some(if waiting.0 < tree.0 { waiting } else { tree }),
            (tree, waiting) => tree.or(waiting),
        }
    }

    /// The last entry (see [`RegionMap::first_entry`]).
    fn last_entry(&self) -> Option<(Addr, Slot)> {
        match (self.index.last_key_value().map(copied), self.waiting) {
            (Some(tree), Some(waiting)) => Some(if waiting.0 > tree.0 { waiting } else { tree }),
            (tree, waiting) => tree.or(waiting),
        }
    }

    /// The slot of the region that starts at `start`.
    fn slot_of(&self, start: Addr) -> Option<Slot> {
        match self.waiting {
            Some((k, slot)) if k == start => Some(slot),
            _ => self.index.get(&start).copied(),
        }
    }

    /// The entries whose start lies in `starts`, in order, the waiting one
    /// among them (see [`Entries`]).
    fn entries(&self, starts: impl RangeBounds<Addr>) -> Entries<'_> {
        Entries {
            waiting: self.waiting.filter(|(k, _)| starts.contains(k)),
            tree: self.index.range(starts),
            front: None,
            back: None,
        }
    }

    /// Takes out every region, in address order.
    pub fn take_all(&mut self) -> Vec<Region> {
        let mut slots = std::mem::take(&mut self.slots);
        let mut index = std::mem::take(&mut self.index);
        index.extend(self.waiting.take());
        self.free.clear();
        (self.first, self.last) = (None, None);
        index
            .into_values()
            .map(|s| slots[s.0 as usize].take().expect("an indexed slot holds a region"))
            .collect()
    }

    /// Checks the slots from scratch: every start names a full slot of its
    /// own holding the region that starts there, and every other slot is
    /// empty and listed free exactly once; the waiting entry starts where
    /// no entry of the tree does; the cached ends are the map's.
    /// Used by the invariant checker.
    pub fn check_slots(&self) -> Result<(), String> {
        if let Some((start, _)) = self.waiting.filter(|(k, _)| self.index.contains_key(k)) {
            return Err(format!("the waiting region at {start} is also in the tree"));
        }
        // The ends as a walk of every entry finds them, not as the caches do.
        let ends = (self.entries(..).next(), self.entries(..).next_back());
        if ends != (self.first, self.last) {
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
        for (start, slot) in self.entries(..) {
            claim(slot)?;
            match &self.slots[slot.0 as usize] {
                Some(r) if r.range.start() == start => {}
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::object::Pages;
    use crate::model::region::Backing;
    use crate::types::{AddrRange, Len, MapFlags, Prot};
    use proptest::prelude::*;

    const PAGE: u64 = 4096;

    fn region(page: u64) -> Region {
        Region {
            range: AddrRange::new(Addr(page * PAGE), Len(PAGE)).expect("a page"),
            prot: Prot::READ,
            flags: MapFlags::PRIVATE | MapFlags::ANON,
            shared: false,
            backing: Backing::Zero,
            offset: 0,
            write_denied: false,
            locked: false,
            counts_data: true,
            committed: false,
            private_pages: Pages::new(),
        }
    }

    fn starts<'a>(regions: impl Iterator<Item = &'a Region>) -> Vec<u64> {
        regions.map(|r| r.range.start().0 / PAGE).collect()
    }

    proptest! {
        /// Whether the last insertion waits outside the tree or not, every
        /// query answers as a plain map of the same starts does.
        #[test]
        fn the_map_answers_as_a_map_of_its_starts(ops in prop::collection::vec((any::<bool>(), 0u64..24), 1..80)) {
            let mut map = RegionMap::default();
            let mut reference = std::collections::BTreeSet::new();
            for (insert, page) in ops {
                if insert && reference.insert(page) {
                    map.insert(region(page));
                } else if !insert {
                    let removed = map.remove(Addr(page * PAGE)).map(|r| r.range.start().0 / PAGE);
                    prop_assert_eq!(removed, reference.take(&page));
                }
                prop_assert_eq!(map.check_slots(), Ok(()));
                prop_assert_eq!(map.len(), reference.len());
                let all: Vec<u64> = reference.iter().copied().collect();
                prop_assert_eq!(starts(map.values()), all.clone());
                prop_assert_eq!(starts(map.values().rev()), all.iter().rev().copied().collect::<Vec<_>>());
                // Taken from both ends in turn, the regions meet in the middle.
                {
                let (mut iter, mut left) = (map.values(), std::collections::VecDeque::from(all.clone()));
                for turn in 0.. {
                    let (got, want) = if turn % 2 == 0 {
                        (iter.next(), left.pop_front())
                    } else {
                        (iter.next_back(), left.pop_back())
                    };
                    prop_assert_eq!(got.map(|r| r.range.start().0 / PAGE), want);
                    if want.is_none() {
                        break;
                    }
                }
                }
                prop_assert_eq!(map.first_start().map(|a| a.0 / PAGE), all.first().copied());
                prop_assert_eq!(map.last().map(|r| r.range.start().0 / PAGE), all.last().copied());
                for bound in [0, page, page + 1, 23] {
                    let at = Addr(bound * PAGE);
                    let below: Vec<u64> = reference.range(..bound).copied().collect();
                    prop_assert_eq!(starts(map.range(..at)), below);
                    let above: Vec<u64> = reference.range(bound..).copied().collect();
                    prop_assert_eq!(starts(map.range(at..)), above);
                    let upto = reference.range(..=bound).next_back().copied();
                    prop_assert_eq!(map.last_in_mut(..=at).map(|r| r.range.start().0 / PAGE), upto);
                    prop_assert_eq!(map.contains_key(at), reference.contains(&bound));
                    prop_assert_eq!(map.get_mut(at).is_some(), reference.contains(&bound));
                }
                let keys: Vec<u64> = map.keys_in(Addr(page * PAGE)..Addr((page + 3) * PAGE)).map(|a| a.0 / PAGE).collect();
                prop_assert_eq!(keys, reference.range(page..page + 3).copied().collect::<Vec<_>>());
            }
            let all: Vec<u64> = reference.iter().copied().collect();
            prop_assert_eq!(starts(map.take_all().iter()), all);
            prop_assert_eq!(map.len(), 0);
            prop_assert_eq!(map.check_slots(), Ok(()));
        }
    }
}
