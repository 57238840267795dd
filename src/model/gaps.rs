//! The free gaps between the regions of an address space, kept so that
//! placement is O(log n).
//!
//! The gaps live in a treap keyed by their start address; every node records
//! the widest gap in its subtree (the summary gVisor's segment set keeps as
//! "the largest gap below this node"), so "the lowest gap of at least `len`
//! at or above `from`" and "the highest gap of at least `len` below `limit`"
//! descend one path and prune every subtree whose widest gap is too narrow.
//! A node's priority is a hash of its key, so the tree's shape depends only
//! on the set of gaps, not on the order of the calls that made it.
//!
//! Nodes live in an arena (indices, no pointers): the model stays free of
//! `unsafe`, and cloning an address space is one copy of a vector.
//!
//! The gap inserted last waits outside the tree until the next insertion:
//! a mapping made and unmapped again (a temporary buffer), or made and
//! followed by the next one in the same hole, removes or cuts that gap
//! before it is ever put in the tree, and a search or a look-up asks the
//! waiting gap as well as the tree (one comparison). Without it a floating
//! map and unmap pair spent about 450 instructions in the tree, about a
//! sixth of the pair.

use crate::types::{Addr, AddrRange, Len};
use std::fmt;

/// An index into the node arena.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct NodeId(u32);

/// A child link: a node, or an empty subtree.
type Link = Option<NodeId>;

/// Where a descent goes from a node.
enum Step {
    Left,
    Right,
    /// The node is the one looked for.
    Here,
}

impl Step {
    /// Towards the gap that starts at `key`.
    fn by_key(key: Addr, gap: AddrRange) -> Step {
        match key.cmp(&gap.start()) {
            std::cmp::Ordering::Less => Step::Left,
            std::cmp::Ordering::Equal => Step::Here,
            std::cmp::Ordering::Greater => Step::Right,
        }
    }

    /// Towards the gap that contains `addr`.
    fn by_containment(addr: Addr, gap: AddrRange) -> Step {
        if addr < gap.start() {
            Step::Left
        } else if addr < gap.end() {
            Step::Here
        } else {
            Step::Right
        }
    }
}

#[derive(Clone, Debug)]
struct Node {
    gap: AddrRange,
    priority: u64,
    left: Link,
    right: Link,
    /// The widest gap in this subtree, this node's included.
    widest: Len,
}

/// A set of disjoint free ranges with O(log n) insertion, removal and
/// first-fit searches both ways.
#[derive(Clone, Default)]
pub struct Gaps {
    nodes: Vec<Node>,
    /// Arena slots of removed nodes, reused by the next insertions.
    unused: Vec<NodeId>,
    root: Link,
    /// The nodes in the tree.
    count: usize,
    /// The gap inserted last, not yet in the tree (see the module's doc).
    recent: Option<AddrRange>,
    /// Scratch space for the path of a descent (kept to save an allocation).
    path: Vec<NodeId>,
}

impl fmt::Debug for Gaps {
    /// The gaps in address order: two sets with the same gaps print the same,
    /// whatever the arena holds.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

/// splitmix64: a deterministic, well-mixed priority for a key.
fn priority(key: Addr) -> u64 {
    let mut z = key.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

impl Gaps {
    /// The number of gaps.
    pub fn len(&self) -> usize {
        self.count + usize::from(self.recent.is_some())
    }

    /// Whether there is no gap.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Adds a gap; the caller guarantees it overlaps no gap already present.
    /// It waits outside the tree, and the one that waited goes in.
    pub fn insert(&mut self, gap: AddrRange) {
        if let Some(older) = self.recent.replace(gap) {
            self.insert_node(older);
        }
    }

    /// Puts a gap in the tree.
    ///
    /// The gap goes down while the nodes on its way outrank it (their
    /// summaries only grow), and where it outranks the subtree below, it
    /// splits that subtree into its two children.
    fn insert_node(&mut self, gap: AddrRange) {
        let id = self.alloc(gap);
        let (key, priority) = (gap.start(), self.node(id).priority);
        let mut parent = None;
        let mut link = self.root;
        while let Some(at) = link.filter(|at| self.node(*at).priority >= priority) {
            let n = self.node_mut(at);
            n.widest = n.widest.max(gap.len());
            let left = key < n.gap.start();
            link = if left { n.left } else { n.right };
            parent = Some((at, left));
        }
        let (low, high) = self.split(link, key);
        let n = self.node_mut(id);
        (n.left, n.right) = (low, high);
        self.update(id);
        self.attach(parent, Some(id));
        self.count += 1;
    }

    /// Removes the gap that starts at `start`, if there is one, and says
    /// whether there was. Its children merge in its place; the summaries on
    /// the path to it are recomputed.
    pub fn remove(&mut self, start: Addr) -> bool {
        if self.recent.is_some_and(|r| r.start() == start) {
            self.recent = None;
            return true;
        }
        let (found, parent) = self.descend(|gap| Step::by_key(start, gap));
        if let Some(at) = found {
            self.unlink(at, parent);
        }
        found.is_some()
    }

    /// Moves the end of the gap that starts at `start` to `end` (later or
    /// earlier, still after `start`), and says whether there was such a gap:
    /// one descent where a removal and an insertion took two. The key stays,
    /// so the tree keeps its shape; only the summaries on the path change.
    pub fn set_end(&mut self, start: Addr, end: Addr) -> bool {
        if let Some(r) = self.recent.as_mut().filter(|r| r.start() == start) {
            *r = AddrRange::from_bounds(start, end).expect("a gap ends after its start");
            return true;
        }
        let (found, _) = self.descend(|gap| Step::by_key(start, gap));
        let Some(at) = found else { return false };
        self.node_mut(at).gap = AddrRange::from_bounds(start, end).expect("a gap ends after its start");
        self.update_path(Some(at));
        true
    }

    /// The gap that contains `addr`, removed if it starts above `floor`:
    /// one descent finds the gap and takes it out, where a look-up and a
    /// removal by key took two.
    pub fn remove_containing(&mut self, addr: Addr, floor: Addr) -> Option<AddrRange> {
        if let Some(r) = self.recent.filter(|r| r.contains(addr)) {
            if r.start() > floor {
                self.recent = None;
            }
            return Some(r);
        }
        let (found, parent) = self.descend(|gap| Step::by_containment(addr, gap));
        let at = found?;
        let gap = self.node(at).gap;
        if gap.start() > floor {
            self.unlink(at, parent);
        }
        Some(gap)
    }

    /// The gap that contains `addr`, cut to end at `addr` (removed when it
    /// starts there), as it was before the cut: one descent for what a
    /// look-up, a removal and an insertion did.
    pub fn cut_containing(&mut self, addr: Addr) -> Option<AddrRange> {
        if let Some(r) = self.recent.filter(|r| r.contains(addr)) {
            self.recent = AddrRange::from_bounds(r.start(), addr);
            return Some(r);
        }
        let (found, parent) = self.descend(|gap| Step::by_containment(addr, gap));
        let at = found?;
        let gap = self.node(at).gap;
        match AddrRange::from_bounds(gap.start(), addr) {
            Some(low) => {
                self.node_mut(at).gap = low;
                self.update_path(Some(at));
            }
            None => self.unlink(at, parent),
        }
        Some(gap)
    }

    /// The gap that contains `addr`, if any.
    pub fn containing(&self, addr: Addr) -> Option<AddrRange> {
        if let Some(r) = self.recent.filter(|r| r.contains(addr)) {
            return Some(r);
        }
        let mut link = self.root;
        while let Some(at) = link {
            let n = self.node(at);
            if addr < n.gap.start() {
                link = n.left;
            } else if addr < n.gap.end() {
                return Some(n.gap);
            } else {
                link = n.right;
            }
        }
        None
    }

    /// The lowest gap that starts at or above `from` and is at least `need` long.
    pub fn lowest_fit(&self, from: Addr, need: Len) -> Option<AddrRange> {
        let recent = self.recent.filter(|r| r.start() >= from && r.len() >= need);
        let tree = self.lowest_fit_in(self.root, from, need);
        match (recent, tree) {
            (Some(r), Some(t)) => Some(if r.start() < t.start() { r } else { t }),
            (r, t) => r.or(t),
        }
    }

    /// The highest gap that starts below `limit` and is at least `need` long.
    pub fn highest_fit(&self, limit: Addr, need: Len) -> Option<AddrRange> {
        let recent = self.recent.filter(|r| r.start() < limit && r.len() >= need);
        let tree = self.highest_fit_in(self.root, limit, need);
        match (recent, tree) {
            (Some(r), Some(t)) => Some(if r.start() > t.start() { r } else { t }),
            (r, t) => r.or(t),
        }
    }

    /// Every gap, in address order: the tree's, with the waiting one in its place.
    pub fn iter(&self) -> impl Iterator<Item = AddrRange> + '_ {
        let mut recent = self.recent;
        let mut tree = self.tree_iter().peekable();
        std::iter::from_fn(move || match (recent, tree.peek()) {
            (Some(r), Some(t)) if r.start() < t.start() => recent.take(),
            (Some(_), None) => recent.take(),
            _ => tree.next(),
        })
    }

    /// The gaps in the tree, in address order.
    fn tree_iter(&self) -> impl Iterator<Item = AddrRange> + '_ {
        let mut stack = Vec::new();
        let mut at = self.root;
        std::iter::from_fn(move || {
            while let Some(id) = at {
                stack.push(id);
                at = self.node(id).left;
            }
            let id = stack.pop()?;
            at = self.node(id).right;
            Some(self.node(id).gap)
        })
    }

    /// Checks the tree from scratch: keys in order, priorities in heap
    /// order, every widest-gap summary equal to the one recomputed from the
    /// subtree, the count right, and the waiting gap clear of the tree's.
    /// Used by the model's invariant checker.
    pub fn check_summaries(&self) -> Result<(), String> {
        let mut seen = 0;
        self.check_subtree(self.root, None, None, &mut seen)?;
        if seen != self.count {
            return Err(format!("the gap index counts {} gaps but holds {seen}", self.count));
        }
        let mut previous: Option<AddrRange> = None;
        for gap in self.iter() {
            if previous.is_some_and(|p| p.end() > gap.start()) {
                return Err(format!("gap {gap} overlaps the gap before it in the gap index"));
            }
            previous = Some(gap);
        }
        Ok(())
    }

    /// Checks one subtree whose keys must lie in `[low, high)`; returns its
    /// recomputed widest gap.
    fn check_subtree(
        &self,
        link: Link,
        low: Option<Addr>,
        high: Option<Addr>,
        seen: &mut usize,
    ) -> Result<Len, String> {
        let Some(id) = link else { return Ok(Len(0)) };
        let n = self.node(id);
        *seen += 1;
        let key = n.gap.start();
        if low.is_some_and(|l| key < l) || high.is_some_and(|h| key >= h) {
            return Err(format!("gap {} is out of order in the gap index", n.gap));
        }
        for child in [n.left, n.right].into_iter().flatten() {
            if self.node(child).priority > n.priority {
                return Err(format!(
                    "gap {} breaks the gap index's heap order",
                    self.node(child).gap
                ));
            }
        }
        let left = self.check_subtree(n.left, low, Some(key), seen)?;
        let right = self.check_subtree(n.right, Some(key), high, seen)?;
        let widest = n.gap.len().max(left).max(right);
        if widest != n.widest {
            return Err(format!(
                "gap {} records a widest gap of {:#x} below it, but its subtree's is {:#x}",
                n.gap, n.widest.0, widest.0
            ));
        }
        Ok(widest)
    }

    /// Walks down from the root as `step` says, keeping the nodes passed in
    /// `path` (scratch kept between calls, to save an allocation): the node
    /// where it stopped (`None` at an empty link) and where that node hangs.
    fn descend(&mut self, step: impl Fn(AddrRange) -> Step) -> (Link, Option<(NodeId, bool)>) {
        self.path.clear();
        let mut link = self.root;
        let mut parent = None;
        while let Some(at) = link {
            let n = self.node(at);
            let left = match step(n.gap) {
                Step::Here => break,
                Step::Left => true,
                Step::Right => false,
            };
            link = if left { n.left } else { n.right };
            parent = Some((at, left));
            self.path.push(at);
        }
        (link, parent)
    }

    /// Takes out the node `at`, found by [`Gaps::descend`] (which left the
    /// path to it): its children merge in its place.
    fn unlink(&mut self, at: NodeId, parent: Option<(NodeId, bool)>) {
        let n = self.node(at);
        let merged = self.merge(n.left, n.right);
        self.attach(parent, merged);
        self.unused.push(at);
        self.count -= 1;
        self.update_path(None);
    }

    /// Recomputes the summaries of `changed` (a node whose gap changed, if
    /// any) and of the path [`Gaps::descend`] left above it, bottom-up. A
    /// node's summary depends only on its gap and its children's summaries,
    /// so once one comes out as it was, those above it are right already.
    fn update_path(&mut self, changed: Link) {
        if changed.is_some_and(|at| !self.update(at)) {
            return;
        }
        for i in (0..self.path.len()).rev() {
            if !self.update(self.path[i]) {
                return;
            }
        }
    }

    fn node(&self, id: NodeId) -> &Node {
        &self.nodes[id.0 as usize]
    }

    fn node_mut(&mut self, id: NodeId) -> &mut Node {
        &mut self.nodes[id.0 as usize]
    }

    fn widest(&self, link: Link) -> Len {
        link.map_or(Len(0), |id| self.node(id).widest)
    }

    /// Recomputes a node's summary from its children; says whether it changed.
    fn update(&mut self, id: NodeId) -> bool {
        let n = self.node(id);
        let widest = n.gap.len().max(self.widest(n.left)).max(self.widest(n.right));
        let old = std::mem::replace(&mut self.node_mut(id).widest, widest);
        old != widest
    }

    fn alloc(&mut self, gap: AddrRange) -> NodeId {
        let node = Node {
            gap,
            priority: priority(gap.start()),
            left: None,
            right: None,
            widest: gap.len(),
        };
        match self.unused.pop() {
            Some(id) => {
                *self.node_mut(id) = node;
                id
            }
            None => {
                let id = NodeId(u32::try_from(self.nodes.len()).expect("fewer than 2^32 gaps"));
                self.nodes.push(node);
                id
            }
        }
    }

    /// Hangs `child` where the search ended: under `parent` on the side it
    /// went, or at the root.
    fn attach(&mut self, parent: Option<(NodeId, bool)>, child: Link) {
        match parent {
            None => self.root = child,
            Some((p, true)) => self.node_mut(p).left = child,
            Some((p, false)) => self.node_mut(p).right = child,
        }
    }

    /// Splits a subtree into the gaps that start below `at` and the rest.
    fn split(&mut self, link: Link, at: Addr) -> (Link, Link) {
        let Some(id) = link else { return (None, None) };
        if self.node(id).gap.start() < at {
            let (low, high) = self.split(self.node(id).right, at);
            self.node_mut(id).right = low;
            self.update(id);
            (Some(id), high)
        } else {
            let (low, high) = self.split(self.node(id).left, at);
            self.node_mut(id).left = high;
            self.update(id);
            (low, Some(id))
        }
    }

    /// Joins two subtrees, every gap of `low` lying below every gap of `high`.
    fn merge(&mut self, low: Link, high: Link) -> Link {
        let (l, h) = match (low, high) {
            (None, other) | (other, None) => return other,
            (Some(l), Some(h)) => (l, h),
        };
        if self.node(l).priority >= self.node(h).priority {
            let right = self.merge(self.node(l).right, high);
            self.node_mut(l).right = right;
            self.update(l);
            Some(l)
        } else {
            let left = self.merge(low, self.node(h).left);
            self.node_mut(h).left = left;
            self.update(h);
            Some(h)
        }
    }

    /// Only the boundary path at `from` and one path down to the answer are
    /// walked: a subtree entirely at or above `from` either has a wide enough
    /// gap (found on one path) or is pruned by its summary.
    fn lowest_fit_in(&self, link: Link, from: Addr, need: Len) -> Option<AddrRange> {
        let n = self.node(link?);
        if n.widest < need {
            return None;
        }
        if n.gap.start() < from {
            return self.lowest_fit_in(n.right, from, need);
        }
        self.lowest_fit_in(n.left, from, need)
            .or_else(|| (n.gap.len() >= need).then_some(n.gap))
            .or_else(|| self.lowest_fit_in(n.right, from, need))
    }

    /// The mirror image of [`Gaps::lowest_fit_in`].
    fn highest_fit_in(&self, link: Link, limit: Addr, need: Len) -> Option<AddrRange> {
        let n = self.node(link?);
        if n.widest < need {
            return None;
        }
        if n.gap.start() >= limit {
            return self.highest_fit_in(n.left, limit, need);
        }
        self.highest_fit_in(n.right, limit, need)
            .or_else(|| (n.gap.len() >= need).then_some(n.gap))
            .or_else(|| self.highest_fit_in(n.left, limit, need))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gap(s: u64, e: u64) -> AddrRange {
        AddrRange::from_bounds(Addr(s), Addr(e)).unwrap()
    }

    #[test]
    fn searches_find_the_nearest_wide_enough_gap() {
        let mut g = Gaps::default();
        for (s, e) in [(10, 12), (20, 30), (40, 41), (50, 60), (70, 75)] {
            g.insert(gap(s, e));
        }
        g.check_summaries().unwrap();
        assert_eq!(g.lowest_fit(Addr(0), Len(5)), Some(gap(20, 30)));
        assert_eq!(g.lowest_fit(Addr(21), Len(5)), Some(gap(50, 60)));
        assert_eq!(g.lowest_fit(Addr(51), Len(5)), Some(gap(70, 75)));
        assert_eq!(g.lowest_fit(Addr(51), Len(11)), None);
        assert_eq!(g.highest_fit(Addr(70), Len(5)), Some(gap(50, 60)));
        assert_eq!(g.highest_fit(Addr(71), Len(5)), Some(gap(70, 75)));
        assert_eq!(g.highest_fit(Addr(50), Len(2)), Some(gap(20, 30)));
        assert_eq!(g.highest_fit(Addr(10), Len(1)), None);
        assert_eq!(g.containing(Addr(20)), Some(gap(20, 30)));
        assert_eq!(g.containing(Addr(29)), Some(gap(20, 30)));
        assert_eq!(g.containing(Addr(30)), None);
        assert_eq!(g.containing(Addr(74)), Some(gap(70, 75)));
        assert_eq!(g.containing(Addr(9)), None);
        assert!(g.remove(Addr(20)) && g.remove(Addr(40)));
        assert!(!g.remove(Addr(41)));
        g.check_summaries().unwrap();
        assert_eq!(g.iter().collect::<Vec<_>>(), [gap(10, 12), gap(50, 60), gap(70, 75)]);
        for start in [50, 10, 70] {
            assert!(g.remove(Addr(start)));
            g.check_summaries().unwrap();
        }
        assert!(g.is_empty());
        g.check_summaries().unwrap();
    }

    #[test]
    fn the_waiting_gap_answers_with_the_tree() {
        let mut g = Gaps::default();
        // (40, 50) is inserted last, so it waits between the tree's gaps.
        for (s, e) in [(10, 12), (70, 75), (20, 30), (40, 50)] {
            g.insert(gap(s, e));
        }
        g.check_summaries().unwrap();
        assert_eq!(g.len(), 4);
        assert_eq!(
            g.iter().collect::<Vec<_>>(),
            [gap(10, 12), gap(20, 30), gap(40, 50), gap(70, 75)]
        );
        assert_eq!(g.lowest_fit(Addr(0), Len(5)), Some(gap(20, 30)));
        assert_eq!(g.lowest_fit(Addr(21), Len(5)), Some(gap(40, 50)));
        assert_eq!(g.highest_fit(Addr(70), Len(5)), Some(gap(40, 50)));
        assert_eq!(g.highest_fit(Addr(40), Len(5)), Some(gap(20, 30)));
        assert_eq!(g.highest_fit(Addr(80), Len(11)), None);
        assert_eq!(g.containing(Addr(45)), Some(gap(40, 50)));
        // Changed while waiting, then pushed into the tree by the next one.
        assert!(g.set_end(Addr(40), Addr(60)));
        g.insert(gap(0, 5));
        assert_eq!(g.lowest_fit(Addr(0), Len(20)), Some(gap(40, 60)));
        assert!(g.remove(Addr(0)) && g.remove(Addr(40)) && !g.remove(Addr(40)));
        g.check_summaries().unwrap();
        assert_eq!(g.iter().collect::<Vec<_>>(), [gap(10, 12), gap(20, 30), gap(70, 75)]);
    }

    #[test]
    fn one_descent_updates_keep_the_summaries() {
        let mut g = Gaps::default();
        for (s, e) in [(10, 12), (20, 30), (40, 41), (50, 60), (70, 75)] {
            g.insert(gap(s, e));
        }
        assert!(g.set_end(Addr(40), Addr(48)) && !g.set_end(Addr(41), Addr(48)));
        g.check_summaries().unwrap();
        assert_eq!(g.lowest_fit(Addr(31), Len(8)), Some(gap(40, 48)));
        assert!(g.set_end(Addr(50), Addr(52)));
        g.check_summaries().unwrap();
        assert_eq!(g.lowest_fit(Addr(41), Len(9)), None);
        // Found but kept (it starts at the floor), found and taken, missed.
        assert_eq!(g.remove_containing(Addr(25), Addr(20)), Some(gap(20, 30)));
        assert_eq!(g.remove_containing(Addr(25), Addr(19)), Some(gap(20, 30)));
        assert_eq!(g.remove_containing(Addr(25), Addr(0)), None);
        g.check_summaries().unwrap();
        // Cut in the middle, then at the start (the gap goes).
        assert_eq!(g.cut_containing(Addr(72)), Some(gap(70, 75)));
        assert_eq!(g.cut_containing(Addr(10)), Some(gap(10, 12)));
        assert_eq!(g.cut_containing(Addr(13)), None);
        g.check_summaries().unwrap();
        assert_eq!(g.iter().collect::<Vec<_>>(), [gap(40, 48), gap(50, 52), gap(70, 72)]);
    }
}
