//! The kind of file system a resource manager's file lives on.

use serde::{Deserialize, Serialize};

/// Where a regular file lives. The two kinds differ in what becomes of the
/// bytes a program stores through a mapping past the end of the file in its
/// last page (rules RESMGR-FILE-1, MSYNC-OK-3 and TRUNC-OK-1).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FileSystem {
    /// A disk file system (ext4 on Linux, a QNX disk file system): writeback
    /// zeroes the page past the end of file, as POSIX allows. The default,
    /// which is what a `resmgr_file` without `fs` has always meant.
    #[default]
    Disk,
    /// A memory file system (Linux tmpfs): there is no writeback, so the
    /// page keeps every byte stored in it.
    Tmpfs,
}

impl FileSystem {
    /// The name a trace uses.
    pub fn name(self) -> &'static str {
        match self {
            FileSystem::Disk => "disk",
            FileSystem::Tmpfs => "tmpfs",
        }
    }

    /// Whether this is the default (so a writer can leave it out).
    pub fn is_default(&self) -> bool {
        *self == FileSystem::Disk
    }
}
