//! The run's own places: a shared-memory name prefix, and the places for
//! resource-manager files (one flat file per trace path, in /dev/shm for a
//! tmpfs file and in a run directory on a disk file system for a disk one),
//! all carrying the driver's pid and removed when the run ends (also after a
//! panic, which drops them, and on SIGINT/SIGTERM: see
//! `sys::clean_shm_on_termination`) and, for runs that died without cleaning
//! up (SIGKILL), by the next run once their pid is dead. Nothing is made on
//! disk until a file needs it: most runs make no directory at all.

use crate::types::FileSystem;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// Where POSIX shared memory lives (tmpfs).
pub const SHM_DIR: &str = "/dev/shm";
/// The start of every name this crate puts in /dev/shm and the temp dir.
pub const TAG: &str = "mmoracle-";
/// A file name's limit (NAME_MAX).
const NAME_MAX: usize = 255;
/// statfs f_type of tmpfs (and of ramfs-like memory file systems).
const TMPFS_MAGIC: i64 = 0x0102_1994;
const RAMFS_MAGIC: i64 = 0x8584_58f6;

static SEQ: AtomicU64 = AtomicU64::new(0);

/// One run's shm prefix and file places.
#[derive(Debug)]
pub struct RunDir {
    /// `mmoracle-<pid>.<seq>.`: every /dev/shm name of the run starts with it.
    prefix: String,
    /// The run directory on a disk file system, once made.
    disk: Option<PathBuf>,
    /// Each trace path made so far (normalised) and the real file standing for it.
    files: BTreeMap<String, PathBuf>,
    /// Whether anything of the run may be in /dev/shm (else dropping skips the scan).
    used_shm: bool,
    /// The first worker's read-only directory (a read-only bind mount in
    /// its mount namespace), which the run owns and removes.
    read_only: Option<PathBuf>,
}

impl RunDir {
    /// A fresh prefix (call [`remove_stale`] once first to remove the names
    /// and directories of dead runs). Makes nothing yet.
    pub fn create() -> RunDir {
        let pid = std::process::id();
        let seq = SEQ.fetch_add(1, Ordering::Relaxed);
        RunDir {
            prefix: format!("{TAG}{pid}.{seq}."),
            disk: None,
            files: BTreeMap::new(),
            used_shm: false,
            read_only: None,
        }
    }

    /// The prefix every shared-memory name of this run starts with.
    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// The real /dev/shm name (with its leading slash) of the trace's shm
    /// object `bare` (a valid component). Names start `<prefix>s.` and
    /// files `<prefix>f.`, so neither can reach the other; a name the prefix
    /// would make too long is the prefix and a hash.
    pub fn shm_name(&mut self, bare: &str) -> String {
        self.used_shm = true;
        let name = format!("{}s.{bare}", self.prefix);
        if name.len() <= NAME_MAX {
            return format!("/{name}");
        }
        format!("/{}s~{:016x}", self.prefix, hash(bare))
    }

    /// The real file standing for the trace's absolute `path` once it was
    /// made by [`RunDir::make_file`]; otherwise a path in the run's places
    /// that does not exist, so an open of it fails as it would (ENOENT).
    pub fn file(&self, path: &str) -> PathBuf {
        let key = normalise(path);
        match self.files.get(&key) {
            Some(real) => real.clone(),
            None => Path::new(SHM_DIR).join(format!("{}f.{}", self.prefix, flat_name(&key))),
        }
    }

    /// Whether the trace's `path` names a file made in this run.
    pub fn has_file(&self, path: &str) -> bool {
        self.files.contains_key(&normalise(path))
    }

    /// The place for a new file for the trace's `path` on a file system of
    /// kind `fs`, making the run directory if it is the first disk file.
    /// `.` and `..` are resolved lexically and `..` stops at the top, as
    /// `/..` is `/`, and the result is one flat name: no path leaves the
    /// run's places, and no directory stands between the trace's files.
    /// A read-only file goes in the first worker's read-only directory when
    /// there is one (its file system does not matter: no mapping of it can
    /// be written).
    pub fn make_file(&mut self, path: &str, fs: FileSystem, read_only: bool) -> Result<PathBuf, String> {
        let key = normalise(path);
        let name = format!("{}f.{}", self.prefix, flat_name(&key));
        let real = match (self.read_only_place(), read_only, fs) {
            (Some(dir), true, _) => dir.join(name),
            (_, _, FileSystem::Tmpfs) => {
                self.used_shm = true;
                Path::new(SHM_DIR).join(name)
            }
            (_, _, FileSystem::Disk) => self.disk_dir()?.join(name),
        };
        self.files.insert(key, real.clone());
        Ok(real)
    }

    /// Takes over the first worker's read-only directory (made by
    /// [`make_read_only_dir`]), to remove it at the end. After the worker's
    /// hello it exists only if the worker made it a read-only mount.
    pub fn adopt_read_only_dir(&mut self, dir: PathBuf) {
        self.read_only = Some(dir);
    }

    /// The read-only directory, if the first worker made it a read-only mount.
    pub fn read_only_dir(&self) -> Option<&Path> {
        self.read_only.as_deref().filter(|d| d.is_dir())
    }

    /// Whether `real` is a file on the read-only mount.
    pub fn is_read_only(&self, real: &Path) -> bool {
        self.read_only.as_deref().is_some_and(|dir| real.starts_with(dir))
    }

    /// Where a new read-only file goes: the read-only mount, if there is one.
    fn read_only_place(&self) -> Option<&Path> {
        self.read_only_dir()
    }

    /// The run directory on a disk file system, made on first use: in the
    /// temporary directory, or in /var/tmp when that is a memory file system.
    fn disk_dir(&mut self) -> Result<&Path, String> {
        if self.disk.is_none() {
            let Some(base) = disk_base() else {
                return Err(format!(
                    "neither {} nor /var/tmp is on a disk file system (both are memory file systems), so a disk file cannot be made here",
                    std::env::temp_dir().display()
                ));
            };
            let dir = base.join(self.prefix.trim_end_matches('.'));
            std::fs::create_dir(&dir).map_err(|e| format!("creating {}: {e}", dir.display()))?;
            self.disk = Some(dir);
        }
        Ok(self.disk.as_deref().expect("made above"))
    }
}

impl Drop for RunDir {
    fn drop(&mut self) {
        if self.used_shm {
            remove_prefixed(&self.prefix);
        }
        for dir in [&self.disk, &self.read_only].into_iter().flatten() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

/// The directories disk files can live in: the temporary directory, else
/// /var/tmp, whichever is first on a disk (not a memory) file system.
pub fn disk_base() -> Option<PathBuf> {
    [std::env::temp_dir(), PathBuf::from("/var/tmp")]
        .into_iter()
        .find(|d| rustix::fs::statfs(d).is_ok_and(|s| !matches!(s.f_type, TMPFS_MAGIC | RAMFS_MAGIC)))
}

/// Makes a fresh directory for a first worker's read-only mount,
/// `<disk base>/mmoracle-<pid>.ro<n>`, or `None` without a disk file system
/// for it. The name carries the driver's pid, so the termination handler
/// and the next run's stale sweep remove what a run leaves behind.
pub fn make_read_only_dir() -> Option<PathBuf> {
    use std::os::unix::fs::DirBuilderExt;
    let seq = SEQ.fetch_add(1, Ordering::Relaxed);
    let dir = disk_base()?.join(format!("{TAG}{}.ro{seq}", std::process::id()));
    std::fs::DirBuilder::new().mode(0o755).create(&dir).ok()?;
    Some(dir)
}

/// `path` with `.`, `..` and repeated slashes resolved lexically.
fn normalise(path: &str) -> String {
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
    parts.join("/")
}

/// One file name for a normalised path: `/` and `%` escaped, or a hash when
/// that would be too long for the run's prefix to go in front.
fn flat_name(key: &str) -> String {
    let escaped = key.replace('%', "%25").replace('/', "%2F");
    if escaped.len() + TAG.len() + 32 <= NAME_MAX {
        escaped
    } else {
        format!("~{:016x}", hash(key))
    }
}

fn hash(text: &str) -> u64 {
    use std::hash::{Hash, Hasher};
    let mut h = std::collections::hash_map::DefaultHasher::new();
    text.hash(&mut h);
    h.finish()
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
    for dir in [PathBuf::from(SHM_DIR), std::env::temp_dir(), PathBuf::from("/var/tmp")] {
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
    fn paths_stay_inside_the_run_places() {
        let mut run = RunDir::create();
        let shm = |name: &str| Path::new(SHM_DIR).join(name);
        let p = run.prefix().to_string();
        assert_eq!(
            run.make_file("/data/file", FileSystem::Tmpfs, false).unwrap(),
            shm(&format!("{p}f.data%2Ffile"))
        );
        assert_eq!(
            run.make_file("/../../etc/passwd", FileSystem::Tmpfs, false).unwrap(),
            shm(&format!("{p}f.etc%2Fpasswd"))
        );
        assert_eq!(
            run.make_file("/a/./b/../../../c%", FileSystem::Tmpfs, false).unwrap(),
            shm(&format!("{p}f.c%25"))
        );
        assert_eq!(run.file("/data//./file"), shm(&format!("{p}f.data%2Ffile")));
        assert!(run.has_file("/etc/../etc/passwd") && !run.has_file("/etc"));
        let long = format!("/{}", "x/".repeat(200));
        let made = run.make_file(&long, FileSystem::Tmpfs, false).unwrap();
        assert!(made.file_name().unwrap().len() <= NAME_MAX, "{}", made.display());
        assert_eq!(run.shm_name("buf"), format!("/{p}s.buf"));
        assert!(run.shm_name(&"n".repeat(255)).len() <= NAME_MAX + 1);
        assert!(run.disk.is_none(), "no disk file, no directory");
        if disk_base().is_some() {
            let disk = run.make_file("/d", FileSystem::Disk, false).unwrap();
            let dir = run.disk.clone().unwrap();
            assert_eq!(disk, dir.join(format!("{p}f.d")));
            assert!(dir.is_dir());
            drop(run);
            assert!(!dir.exists());
        } else {
            eprintln!("SKIPPED the disk half of paths_stay_inside_the_run_places: no disk file system for temporary files here");
        }
    }

    #[test]
    fn names_carry_the_owner_pid() {
        assert_eq!(owner_pid("mmoracle-123.4.buf"), Some(123));
        assert_eq!(owner_pid("other"), None);
        assert!(!is_dead(std::process::id() as i32));
    }
}
