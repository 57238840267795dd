//! The region map and its gap index (src/model/space.rs, src/model/gaps.rs):
//! random inserts, removals and splits against a reference that recomputes
//! every hole from scratch, for every profile's placement policy.
//!
//! Placement decides the address of every successful floating mmap
//! (MMAP-OK-1) and whether there is room at all (MMAP-ENOMEM-3); the
//! reference below is the linear search the model used before the index,
//! so the index must give exactly the same addresses.

use mmoracle::model::gaps::Gaps;
use mmoracle::model::object::{Objects, Pages};
use mmoracle::model::region::{Backing, Region};
use mmoracle::model::space::AddressSpace;
use mmoracle::profile::{Placement, Profile};
use mmoracle::types::{Addr, AddrRange, Len, MapFlags, Prot};
use mmoracle::ProfileName;
use proptest::prelude::*;

const PAGE: u64 = 4096;

fn region(range: AddrRange) -> Region {
    Region {
        range,
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

/// The holes inside the user range, recomputed from the regions.
fn holes(space: &AddressSpace, p: &Profile) -> Vec<(u64, u64)> {
    let mut holes = Vec::new();
    let mut cursor = p.user_start;
    for r in space.regions() {
        let (s, e) = (r.range.start().0, r.range.end().0);
        if s > cursor {
            holes.push((cursor, s.min(p.user_end)));
        }
        cursor = cursor.max(e);
    }
    if cursor < p.user_end {
        holes.push((cursor, p.user_end));
    }
    holes
}

/// The placement the model made before the gap index, hole by hole.
fn reference_find_free(space: &AddressSpace, len: u64, hint: u64, p: &Profile) -> Option<Addr> {
    let page = p.page_size;
    let hint = match p.placement {
        Placement::BottomUpStrict => mmoracle::types::align_up(hint, page).unwrap_or(0),
        Placement::TopDown => hint - hint % page,
    };
    if hint != 0 {
        if let Some(r) = AddrRange::new(Addr(hint), Len(len)) {
            if space.in_user_range(r, p) && space.is_free(r) {
                return Some(Addr(hint));
            }
        }
    }
    let holes = holes(space, p);
    match p.placement {
        Placement::BottomUpStrict => {
            let start = if hint != 0 { hint } else { p.map_base };
            let need = len.checked_add(page)?;
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
        Placement::TopDown => {
            let top = p.map_base;
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

/// Where the interesting edges of a profile are: the ends of the user range,
/// the map base (where searches start or end) and the arena.
fn anchors(p: &Profile) -> [u64; 4] {
    [p.user_start, p.map_base - 32 * PAGE, p.user_end - 64 * PAGE, p.arena]
}

#[derive(Clone, Debug)]
enum Op {
    /// Map pages `[at, at + pages)` of the window at an anchor, if free.
    Insert { anchor: usize, at: u64, pages: u64 },
    /// Unmap that range (splitting regions at its bounds).
    Remove { anchor: usize, at: u64, pages: u64 },
    /// Split regions at that range's bounds without changing them.
    Split { anchor: usize, at: u64, pages: u64 },
}

fn op() -> impl Strategy<Value = Op> {
    let place = (0..4usize, 0..64u64, 1..6u64);
    prop_oneof![
        4 => place.clone().prop_map(|(anchor, at, pages)| Op::Insert { anchor, at, pages }),
        2 => place.clone().prop_map(|(anchor, at, pages)| Op::Remove { anchor, at, pages }),
        1 => place.prop_map(|(anchor, at, pages)| Op::Split { anchor, at, pages }),
    ]
}

fn range_of(p: &Profile, anchor: usize, at: u64, pages: u64) -> AddrRange {
    let start = anchors(p)[anchor] + at * PAGE;
    AddrRange::new(Addr(start), Len(pages * PAGE)).unwrap()
}

fn apply(space: &mut AddressSpace, objects: &mut Objects, p: &Profile, op: &Op) {
    match *op {
        Op::Insert { anchor, at, pages } => {
            let r = range_of(p, anchor, at, pages);
            if space.is_free(r) && space.in_user_range(r, p) {
                space.insert(region(r));
            }
        }
        Op::Remove { anchor, at, pages } => {
            space.remove(range_of(p, anchor, at, pages), PAGE, objects);
        }
        Op::Split { anchor, at, pages } => {
            space.isolate(range_of(p, anchor, at, pages), PAGE, objects);
        }
    }
}

/// The index holds exactly the gaps between consecutive regions.
fn assert_gaps_match(space: &AddressSpace) {
    let regions: Vec<AddrRange> = space.regions().map(|r| r.range).collect();
    let expected: Vec<AddrRange> = regions
        .windows(2)
        .filter_map(|w| AddrRange::from_bounds(w[0].end(), w[1].start()))
        .collect();
    assert_eq!(space.gaps().collect::<Vec<_>>(), expected);
    space.check_gap_index().unwrap();
}

/// Requests that probe every hole: no hint, hints at and around each
/// anchor (aligned and not), hints past the user range, and lengths from one
/// page to more than any window holds.
fn requests(p: &Profile) -> Vec<(u64, u64)> {
    let lens = [1, 2, 3, 5, 8, 70, 1 << 20].map(|n| n * PAGE);
    let mut hints = vec![0, 1, p.user_end, p.user_end + PAGE, u64::MAX - 5];
    for a in anchors(p) {
        for k in [0, 1, 7, 31, 63, 65] {
            hints.extend([a + k * PAGE, a + k * PAGE + 123]);
        }
    }
    lens.iter().flat_map(|&l| hints.iter().map(move |&h| (l, h))).collect()
}

fn check_placement(space: &AddressSpace, p: &Profile) {
    for (len, hint) in requests(p) {
        assert_eq!(
            space.find_free(len, hint, p),
            reference_find_free(space, len, hint, p),
            "{}: find_free({len:#x}, {hint:#x}) over {:?}",
            p.name,
            space.regions().map(|r| r.range).collect::<Vec<_>>()
        );
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(if cfg!(debug_assertions) { 64 } else { 256 }))]

    #[test]
    fn placement_through_the_gap_index_matches_the_linear_search(ops in prop::collection::vec(op(), 1..60)) {
        for name in ProfileName::ALL {
            let p = name.profile();
            let mut space = AddressSpace::default();
            let mut objects = Objects::default();
            check_placement(&space, p);
            for op in &ops {
                apply(&mut space, &mut objects, p, op);
                assert_gaps_match(&space);
            }
            check_placement(&space, p);
        }
    }
}

#[test]
fn a_full_user_range_has_no_room_and_unmapping_all_of_it_restores_it() {
    // A qnx4 address space mapped wall to wall by one region: no placement
    // fits (MMAP-ENOMEM-3), and removing it leaves no gap behind.
    let p = ProfileName::Qnx4.profile();
    let user = AddrRange::from_bounds(Addr(p.user_start), Addr(p.user_end)).unwrap();
    let mut space = AddressSpace::default();
    let mut objects = Objects::default();
    space.insert(region(user));
    assert_eq!(space.find_free(PAGE, 0, p), None);
    space.isolate(AddrRange::new(Addr(p.arena), Len(PAGE)).unwrap(), PAGE, &mut objects);
    assert_eq!(space.region_count(), 3);
    assert_gaps_match(&space);
    space.remove(AddrRange::new(Addr(p.arena), Len(PAGE)).unwrap(), PAGE, &mut objects);
    assert_eq!(
        space.gaps().collect::<Vec<_>>(),
        [AddrRange::new(Addr(p.arena), Len(PAGE)).unwrap()]
    );
    // The one-page gap is exactly the request, and procnto wants a page more.
    assert_eq!(space.find_free(PAGE, 0, p), None);
    assert_eq!(reference_find_free(&space, PAGE, 0, p), None);
    space.remove(user, PAGE, &mut objects);
    assert_eq!(space.region_count(), 0);
    assert!(space.gaps().next().is_none());
    assert_eq!(space.find_free(PAGE, 0, p), Some(Addr(p.map_base)));
}

#[test]
fn the_gap_index_answers_like_a_list_under_random_churn() {
    // The index on its own, against a sorted list, with thousands of gaps.
    let mut state = 9u64;
    // splitmix64: a fixed sequence, so a failure reproduces.
    let mut below = |n: u64| {
        state = state.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = state;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        (z ^ (z >> 31)) % n
    };
    let mut gaps = Gaps::default();
    let mut list: Vec<AddrRange> = Vec::new();
    for round in 0..4000u64 {
        let slot = below(5000);
        let start = Addr(slot * 16 * PAGE);
        if list.iter().any(|g| g.start() == start) {
            assert!(gaps.remove(start));
            list.retain(|g| g.start() != start);
        } else {
            assert!(!gaps.remove(start));
            let gap = AddrRange::new(start, Len((1 + below(15)) * PAGE)).unwrap();
            gaps.insert(gap);
            list.push(gap);
            list.sort();
        }
        if round % 97 == 0 {
            gaps.check_summaries().unwrap();
            assert_eq!(gaps.iter().collect::<Vec<_>>(), list);
        }
        let from = Addr(below(5000 * 16 * PAGE));
        let need = Len((1 + below(16)) * PAGE);
        let lowest = list.iter().find(|g| g.start() >= from && g.len() >= need).copied();
        let highest = list.iter().rev().find(|g| g.start() < from && g.len() >= need).copied();
        assert_eq!(gaps.lowest_fit(from, need), lowest);
        assert_eq!(gaps.highest_fit(from, need), highest);
    }
    assert_eq!(gaps.len(), list.len());
}
