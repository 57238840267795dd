//! Judging many files on every core, with the results delivered in input
//! order, so output and summaries are the same whatever the number of jobs;
//! and partitions, for users with more traces than one machine holds.

use std::sync::mpsc;

/// Runs `work(i)` for every `i` in `0..count` on `jobs` threads and hands
/// each result to `deliver` in index order, as soon as it and every earlier
/// one are done. With one job everything runs on the calling thread.
pub fn in_order<T: Send>(
    count: usize,
    jobs: usize,
    work: impl Fn(usize) -> T + Sync,
    mut deliver: impl FnMut(usize, T),
) {
    if jobs <= 1 || count <= 1 {
        (0..count).for_each(|i| deliver(i, work(i)));
        return;
    }
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(jobs)
        .build()
        .expect("a thread pool");
    let (tx, rx) = mpsc::channel();
    std::thread::scope(|scope| {
        let work = &work;
        scope.spawn(move || {
            pool.scope_fifo(|s| {
                for i in 0..count {
                    let tx = tx.clone();
                    // The receiver only goes away if the caller panicked.
                    s.spawn_fifo(move |_| drop(tx.send((i, work(i)))));
                }
            });
        });
        let mut waiting = std::collections::BTreeMap::new();
        let mut next = 0;
        for (i, result) in rx.iter() {
            waiting.insert(i, result);
            while let Some(result) = waiting.remove(&next) {
                deliver(next, result);
                next += 1;
            }
            if next == count {
                break;
            }
        }
    });
}

/// A deterministic share of a list of files: `K/N` (or `count:K/N`, as
/// cargo-nextest writes it) takes the files whose index in the sorted list,
/// counted from 0, leaves remainder K-1 when divided by N. Every file is in
/// exactly one of the N partitions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Partition {
    /// K, from 1.
    pub index: u32,
    /// N.
    pub count: u32,
}

impl Partition {
    /// Whether the file at `position` of the full list is in this partition.
    pub fn includes(self, position: usize) -> bool {
        position % self.count as usize == (self.index - 1) as usize
    }
}

impl std::str::FromStr for Partition {
    type Err = String;

    fn from_str(s: &str) -> Result<Partition, String> {
        let bad = || format!("`{s}`: expected K/N with 1 <= K <= N, such as 2/5 (or count:2/5)");
        let body = s.strip_prefix("count:").unwrap_or(s);
        let (k, n) = body.split_once('/').ok_or_else(bad)?;
        let (index, count): (u32, u32) = (k.parse().map_err(|_| bad())?, n.parse().map_err(|_| bad())?);
        if index == 0 || index > count {
            return Err(bad());
        }
        Ok(Partition { index, count })
    }
}

impl std::fmt::Display for Partition {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn results_arrive_in_order_whatever_the_jobs() {
        for jobs in [1, 2, 4] {
            let mut seen = Vec::new();
            // Later items finish first.
            in_order(
                20,
                jobs,
                |i| {
                    std::thread::sleep(std::time::Duration::from_millis((20 - i as u64) % 5));
                    i * 10
                },
                |i, v| seen.push((i, v)),
            );
            assert_eq!(seen, (0..20).map(|i| (i, i * 10)).collect::<Vec<_>>(), "jobs {jobs}");
        }
    }

    #[test]
    fn partitions_split_the_list_exactly() {
        let parts: Vec<Partition> = (1..=3).map(|k| format!("{k}/3").parse().unwrap()).collect();
        for position in 0..10 {
            assert_eq!(parts.iter().filter(|p| p.includes(position)).count(), 1);
        }
        assert!(parts[0].includes(0) && parts[1].includes(1) && parts[2].includes(5));
        assert_eq!("count:2/5".parse::<Partition>(), Ok(Partition { index: 2, count: 5 }));
        for bad in ["0/3", "4/3", "1", "a/b", "1/0"] {
            assert!(bad.parse::<Partition>().is_err(), "{bad}");
        }
    }
}
