//! Identifiers: logical process ids, file descriptors, object ids, resources.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

/// A logical process id. 1 is the process a trace starts with; real pids never
/// appear in traces. Written as an integer; `-1` (what a failed `spawn`
/// returns, and so what its binding holds) is [`Pid::NONE`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Pid(pub u32);

impl Pid {
    /// `-1`: no process. No process ever has this pid, so a call naming it is
    /// judged as one naming a process that does not exist.
    pub const NONE: Pid = Pid(u32::MAX);

    /// The pid written as `n` in a trace: `-1` is [`Pid::NONE`], 0 and
    /// above are themselves.
    pub fn from_written(n: i64) -> Option<Pid> {
        match n {
            -1 => Some(Pid::NONE),
            _ => u32::try_from(n).ok().filter(|p| *p != u32::MAX).map(Pid),
        }
    }
}

impl Serialize for Pid {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if *self == Pid::NONE {
            s.serialize_i64(-1)
        } else {
            s.serialize_u32(self.0)
        }
    }
}

impl<'de> Deserialize<'de> for Pid {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Pid, D::Error> {
        let n = i64::deserialize(d)?;
        Pid::from_written(n)
            .ok_or_else(|| serde::de::Error::custom(format!("{n} is not a pid: expected 0 or more, or -1 for none")))
    }
}

/// A file descriptor in a process's fd table. `Fd::NOFD` (-1) means "no file".
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Fd(pub i32);

impl Fd {
    /// `NOFD`: no file descriptor, as passed to mmap for anonymous memory.
    pub const NOFD: Fd = Fd(-1);
}

/// The id of a memory object inside the model.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct ObjId(pub u64);

impl fmt::Display for Pid {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if *self == Pid::NONE {
            f.write_str("-1")
        } else {
            write!(f, "{}", self.0)
        }
    }
}

impl fmt::Display for Fd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A resource limited by setrlimit. Read from its C name (`RLIMIT_VMEM` is
/// accepted for `RLIMIT_AS`) or from its number in QNX's numbering; a
/// number no system here knows is [`Resource::Unknown`] (RLIMIT-EINVAL-3).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(try_from = "ResourceWritten")]
#[allow(clippy::upper_case_acronyms, non_camel_case_types)]
pub enum Resource {
    /// RLIMIT_DATA (QNX 2, Linux 2).
    RLIMIT_DATA,
    /// RLIMIT_NOFILE (QNX 5, Linux 7).
    RLIMIT_NOFILE,
    /// RLIMIT_AS, alias RLIMIT_VMEM (QNX 6, Linux 9).
    RLIMIT_AS,
    /// RLIMIT_MEMLOCK (QNX 7, Linux 8).
    RLIMIT_MEMLOCK,
    /// RLIMIT_STACK (QNX 3, Linux 3).
    RLIMIT_STACK,
    /// RLIMIT_NPROC (QNX 8, Linux 6).
    RLIMIT_NPROC,
    /// A resource number that names no resource of QNX or Linux.
    Unknown(i64),
}

/// A resource as a trace writes it: a name or a number.
#[derive(Deserialize)]
#[serde(untagged)]
enum ResourceWritten {
    Name(String),
    Number(i64),
}

impl TryFrom<ResourceWritten> for Resource {
    type Error = String;
    fn try_from(w: ResourceWritten) -> Result<Resource, String> {
        match w {
            ResourceWritten::Name(s) => s.parse(),
            ResourceWritten::Number(n) => Resource::from_qnx(n),
        }
    }
}

impl Serialize for Resource {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Resource::Unknown(n) => s.serialize_i64(*n),
            r => s.serialize_str(r.name()),
        }
    }
}

/// QNX's resources the model does not keep, by number: a trace cannot name them.
const UNMODELLED: [(i64, &str); 4] = [
    (0, "RLIMIT_CPU"),
    (1, "RLIMIT_FSIZE"),
    (4, "RLIMIT_CORE"),
    (9, "RLIMIT_NTHR"),
];

impl Resource {
    /// Every modelled resource (the ones with a limit).
    pub const ALL: [Resource; 6] = [
        Resource::RLIMIT_DATA,
        Resource::RLIMIT_NOFILE,
        Resource::RLIMIT_AS,
        Resource::RLIMIT_MEMLOCK,
        Resource::RLIMIT_STACK,
        Resource::RLIMIT_NPROC,
    ];

    /// How many resources have a limit: the length of per-process limit arrays.
    pub const COUNT: usize = Resource::ALL.len();

    /// The resource with QNX number `n`: a modelled one, [`Resource::Unknown`]
    /// for a number no system here has, or an error for a QNX resource the
    /// model does not keep (RLIMIT_CPU, RLIMIT_FSIZE, RLIMIT_CORE, RLIMIT_NTHR).
    pub fn from_qnx(n: i64) -> Result<Resource, String> {
        if let Some((_, name)) = UNMODELLED.iter().find(|(k, _)| *k == n) {
            return Err(format!("resource {n} is {name}, which the model does not keep"));
        }
        let known = Resource::ALL.into_iter().find(|r| i64::from(r.qnx()) == n);
        Ok(known.unwrap_or(Resource::Unknown(n)))
    }

    /// The C name (`"unknown"` for [`Resource::Unknown`]).
    pub fn name(self) -> &'static str {
        match self {
            Resource::RLIMIT_DATA => "RLIMIT_DATA",
            Resource::RLIMIT_NOFILE => "RLIMIT_NOFILE",
            Resource::RLIMIT_AS => "RLIMIT_AS",
            Resource::RLIMIT_MEMLOCK => "RLIMIT_MEMLOCK",
            Resource::RLIMIT_STACK => "RLIMIT_STACK",
            Resource::RLIMIT_NPROC => "RLIMIT_NPROC",
            Resource::Unknown(_) => "unknown",
        }
    }

    /// Whether the number names no resource (RLIMIT-EINVAL-3).
    pub fn is_unknown(self) -> bool {
        matches!(self, Resource::Unknown(_))
    }

    /// Index into per-process limit arrays. An unknown resource has no
    /// limit: every call naming one is refused before a limit is read.
    pub fn index(self) -> usize {
        Resource::ALL
            .iter()
            .position(|r| *r == self)
            .expect("an unknown resource has no limit (RLIMIT-EINVAL-3 refuses it first)")
    }

    /// The QNX resource number.
    pub fn qnx(self) -> i32 {
        match self {
            Resource::RLIMIT_DATA => 2,
            Resource::RLIMIT_STACK => 3,
            Resource::RLIMIT_NOFILE => 5,
            Resource::RLIMIT_AS => 6,
            Resource::RLIMIT_MEMLOCK => 7,
            Resource::RLIMIT_NPROC => 8,
            Resource::Unknown(n) => i32::try_from(n).unwrap_or(-1),
        }
    }

    /// The Linux resource number; an unknown one becomes -1, which Linux
    /// refuses too (QNX numbers 10 to 15 are Linux resources).
    pub fn linux(self) -> i32 {
        match self {
            Resource::RLIMIT_DATA => 2,
            Resource::RLIMIT_STACK => 3,
            Resource::RLIMIT_NPROC => 6,
            Resource::RLIMIT_NOFILE => 7,
            Resource::RLIMIT_AS => 9,
            Resource::RLIMIT_MEMLOCK => 8,
            Resource::Unknown(_) => -1,
        }
    }
}

impl fmt::Display for Resource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Resource::Unknown(n) => write!(f, "resource {n}"),
            r => f.write_str(r.name()),
        }
    }
}

impl FromStr for Resource {
    type Err = String;
    fn from_str(s: &str) -> Result<Resource, String> {
        if s == "RLIMIT_VMEM" {
            return Ok(Resource::RLIMIT_AS);
        }
        Resource::ALL.into_iter().find(|r| r.name() == s).ok_or_else(|| {
            format!("unknown resource `{s}` (expected RLIMIT_AS, RLIMIT_DATA, RLIMIT_MEMLOCK, RLIMIT_NOFILE, RLIMIT_NPROC, RLIMIT_STACK or a number)")
        })
    }
}

impl TryFrom<String> for Resource {
    type Error = String;
    fn try_from(s: String) -> Result<Resource, String> {
        s.parse()
    }
}

/// `RLIM_INFINITY`: no limit.
pub const RLIM_INFINITY: u64 = u64::MAX;

/// A soft and a hard limit; `RLIM_INFINITY` means unlimited.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Rlimit {
    /// The soft limit, enforced.
    pub cur: u64,
    /// The hard limit, the ceiling for the soft one.
    pub max: u64,
}

impl Rlimit {
    /// No limit at all.
    pub const INFINITE: Rlimit = Rlimit {
        cur: RLIM_INFINITY,
        max: RLIM_INFINITY,
    };
}
