//! The lowest free number of a set of used ones (fds, memobj handles), in
//! O(log n) however many are used: the used numbers are kept as runs of
//! consecutive numbers, so the lowest free one at or above a base is the end
//! of the run that holds the base, or the base itself.

use std::collections::BTreeMap;

/// A set of used numbers, as disjoint runs `start..end` that never touch.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Runs {
    /// Start of each run, to its end (exclusive).
    runs: BTreeMap<u64, u64>,
}

impl Runs {
    /// The run holding `n`, if any.
    fn run_of(&self, n: u64) -> Option<(u64, u64)> {
        let (&start, &end) = self.runs.range(..=n).next_back()?;
        (n < end).then_some((start, end))
    }

    /// Whether `n` is used.
    pub fn contains(&self, n: u64) -> bool {
        self.run_of(n).is_some()
    }

    /// Marks `n` used (joining the runs on either side).
    pub fn insert(&mut self, n: u64) {
        if self.contains(n) {
            return;
        }
        let mut start = n;
        let mut end = n + 1;
        if let Some((&s, &e)) = self.runs.range(..n).next_back() {
            if e == n {
                start = s;
            }
        }
        if let Some(after) = self.runs.remove(&end) {
            end = after;
        }
        self.runs.insert(start, end);
    }

    /// Marks `n` free (splitting its run).
    pub fn remove(&mut self, n: u64) {
        let Some((start, end)) = self.run_of(n) else { return };
        self.runs.remove(&start);
        if start < n {
            self.runs.insert(start, n);
        }
        if n + 1 < end {
            self.runs.insert(n + 1, end);
        }
    }

    /// The lowest number at or above `base` that is not used.
    pub fn lowest_free_from(&self, base: u64) -> u64 {
        self.run_of(base).map_or(base, |(_, end)| end)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::BTreeSet;

    quickcheck::quickcheck! {
        fn matches_a_plain_set(ops: Vec<(bool, u8)>, base: u8) -> bool {
            let mut runs = Runs::default();
            let mut set = BTreeSet::new();
            for (add, n) in ops {
                let n = u64::from(n % 64);
                if add { runs.insert(n); set.insert(n); } else { runs.remove(n); set.remove(&n); }
            }
            let base = u64::from(base % 70);
            let expected = (base..).find(|n| !set.contains(n)).unwrap();
            runs.lowest_free_from(base) == expected && (0..70).all(|n| runs.contains(n) == set.contains(&n))
        }
    }
}
