//! The run's own places: a temporary directory for resource-manager files
//! and a shared-memory name prefix, both carrying the driver's pid, removed
//! when the run ends (also after a panic, which drops them) and, for runs that
//! died without cleaning up (killed, SIGKILL), by the next run once their pid is dead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where POSIX shared memory lives.
const SHM_DIR: &str = "/dev/shm";
/// The start of every name this crate puts in /dev/shm and the temp dir.
const TAG: &str = "mmoracle-";

static SEQ: AtomicU64 = AtomicU64::new(0);

/// One run's directory and shm prefix.
#[derive(Debug)]
pub struct RunDir {
    dir: PathBuf,
    prefix: String,
}

impl RunDir {
    /// Makes a fresh run directory and prefix (call [`remove_stale`] once
    /// first to remove those of dead runs).
    pub fn create() -> std::io::Result<RunDir> {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        let prefix = format!("{TAG}{pid}.{seq}.");
        let dir = std::env::temp_dir().join(format!("{TAG}{pid}.{seq}"));
        std::fs::create_dir(&dir)?;
        Ok(RunDir { dir, prefix })
    }

    /// The directory resource-manager files live in.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The prefix every shared-memory name of this run starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `path` (absolute, as the trace names it) inside the run directory:
    /// `.` and `..` are resolved lexically and `..` stops at the top, as
    /// `/..` is `/`, so no path leaves the directory.
    pub fn file(&self, path: &str) -> PathBuf {
        let mut parts: Vec<&str> = Vec::new();
        for c in path.split('/') {
            match c {
                "" | "." => {}
                ".." => {
                    parts.pop();
                }
                c => parts.push(c),
            }
        }
        let mut out = self.dir.join("root");
        out.extend(parts);
        out
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        remove_prefixed(&self.prefix);
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}

/// Unlinks every /dev/shm name starting with `prefix`.
pub fn remove_prefixed(prefix: &str) {
    let Ok(entries) = std::fs::read_dir(SHM_DIR) else {
        return;
    };
    for e in entries.flatten() {
        if e.file_name().to_str().is_some_and(|n| n.starts_with(prefix)) {
            let _ = std::fs::remove_file(e.path());
        }
    }
}

/// The pid in a name made by [`RunDir::create`], if it is one.
fn owner_pid(name: &str) -> Option<i32> {
    name.strip_prefix(TAG)?.split('.').next()?.parse().ok()
}

fn is_dead(pid: i32) -> bool {
    let Some(pid) = rustix::process::Pid::from_raw(pid) else {
        return false;
    };
    rustix::process::test_kill_process(pid) == Err(rustix::io::Errno::SRCH)
}

/// Removes the shm names and directories of runs whose process is gone.
pub fn remove_stale() {
    for dir in [PathBuf::from(SHM_DIR), std::env::temp_dir()] {
        let Ok(entries) = std::fs::read_dir(&dir) else { continue };
        for e in entries.flatten() {
            let name = e.file_name();
            let Some(pid) = name.to_str().and_then(owner_pid) else {
                continue;
            };
            if !is_dead(pid) {
                continue;
            }
            let path = e.path();
            let _ = if path.is_dir() {
                std::fs::remove_dir_all(&path)
            } else {
                std::fs::remove_file(&path)
            };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_stay_inside_the_run_directory() {
        let run = RunDir::create().unwrap();
        let root = run.dir().join("root");
        assert_eq!(run.file("/data/file"), root.join("data/file"));
        assert_eq!(run.file("/../../etc/passwd"), root.join("etc/passwd"));
        assert_eq!(run.file("/a/./b/../../../c"), root.join("c"));
        let dir = run.dir().to_path_buf();
        drop(run);
        assert!(!dir.exists());
    }

    #[test]
    fn names_carry_the_owner_pid() {
        assert_eq!(owner_pid("mmoracle-123.4.buf"), Some(123));
        assert_eq!(owner_pid("other"), None);
        assert!(!is_dead(std::process::id() as i32));
    }
}
