//! Every operation as data ([`Call`]) and every result as data ([`Outcome`]).
//!
//! A [`crate::MemoryManager`] executes one `Call` on behalf of one logical
//! process and returns one `Outcome`. Traces, the oracle, the generator and the
//! real backend's worker protocol all speak these two types.

use crate::types::{Addr, Errno, Fd, Len, MapFlags, MclFlags, MsyncFlags, OFlags, Pid, Prot, Resource, Rlimit, Signal};
use serde::{Deserialize, Serialize};
use std::fmt;

/// One operation issued by a process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    /// Create a process that inherits the caller's credentials and rlimits.
    /// Returns the new logical pid.
    Spawn {},
    /// End the calling process, releasing its mappings and fds.
    Exit {},
    /// Change the caller's credentials.
    Cred {
        /// The new effective uid.
        euid: u32,
        /// Whether the process holds the memory-locking privilege
        /// (CAP_IPC_LOCK on Linux, PROCMGR_AID_MEM_LOCK on Neutrino).
        cap_ipc_lock: bool,
    },
    /// Read a resource limit of `target` (0 or absent: the caller).
    Getrlimit {
        /// The resource.
        resource: Resource,
        /// The target process; `None` means the caller.
        target: Option<Pid>,
    },
    /// Set a resource limit of `target` (0 or absent: the caller).
    Setrlimit {
        /// The resource.
        resource: Resource,
        /// The new soft limit (`RLIM_INFINITY` = u64::MAX).
        cur: u64,
        /// The new hard limit.
        max: u64,
        /// The target process; `None` means the caller.
        target: Option<Pid>,
    },
    /// `mmap(addr, len, prot, flags, fd, off)`.
    Mmap {
        /// The address hint, or the exact address with MAP_FIXED.
        addr: Addr,
        /// The length in bytes.
        len: Len,
        /// Protection.
        prot: Prot,
        /// Flags.
        flags: MapFlags,
        /// The file descriptor, or NOFD (-1).
        fd: Fd,
        /// The offset into the object (a physical address with MAP_PHYS).
        off: u64,
    },
    /// `munmap(addr, len)`.
    Munmap {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
    },
    /// `mprotect(addr, len, prot)`.
    Mprotect {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
        /// The new protection.
        prot: Prot,
    },
    /// `mlock(addr, len)`.
    Mlock {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
    },
    /// `munlock(addr, len)`.
    Munlock {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
    },
    /// `mlockall(flags)`.
    Mlockall {
        /// MCL_CURRENT and/or MCL_FUTURE.
        flags: MclFlags,
    },
    /// `munlockall()`.
    Munlockall {},
    /// `msync(addr, len, flags)`.
    Msync {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
        /// MS_* flags.
        flags: MsyncFlags,
    },
    /// `shm_open(name, oflag, mode)`. Returns an fd.
    ShmOpen {
        /// The object name, e.g. "/buf".
        name: String,
        /// O_* flags.
        oflag: OFlags,
        /// Permission bits for a new object.
        mode: u32,
    },
    /// `shm_unlink(name)`.
    ShmUnlink {
        /// The object name.
        name: String,
    },
    /// `open(path, oflag)` of a device (`/dev/zero`, `/dev/mem`, `/dev/null`).
    /// Returns an fd.
    Open {
        /// The path.
        path: String,
        /// O_* flags.
        oflag: OFlags,
    },
    /// `ftruncate(fd, len)`.
    Ftruncate {
        /// The descriptor.
        fd: Fd,
        /// The new size (negative is EINVAL).
        len: i64,
    },
    /// `close(fd)`.
    Close {
        /// The descriptor.
        fd: Fd,
    },
    /// Read `len` bytes at `addr`: the bytes, or the signal the process gets.
    Load {
        /// Start.
        addr: Addr,
        /// Number of bytes (bounded by [`MAX_ACCESS`]).
        len: Len,
    },
    /// Write `data` at `addr`: success, or the signal the process gets.
    Store {
        /// Start.
        addr: Addr,
        /// The bytes (in traces: lowercase hex digit pairs, `"00ff"`).
        #[serde(with = "hex_data")]
        data: Vec<u8>,
    },
}

/// The largest load or store, in bytes: accesses are checked one page at a
/// time, so this bounds the work and memory of one call.
pub const MAX_ACCESS: u64 = 1 << 20;

impl Call {
    /// The call's name as written in traces (`"mmap"`, `"shm_open"`).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Spawn {} => "spawn",
            Call::Exit {} => "exit",
            Call::Cred { .. } => "cred",
            Call::Getrlimit { .. } => "getrlimit",
            Call::Setrlimit { .. } => "setrlimit",
            Call::Mmap { .. } => "mmap",
            Call::Munmap { .. } => "munmap",
            Call::Mprotect { .. } => "mprotect",
            Call::Mlock { .. } => "mlock",
            Call::Munlock { .. } => "munlock",
            Call::Mlockall { .. } => "mlockall",
            Call::Munlockall {} => "munlockall",
            Call::Msync { .. } => "msync",
            Call::ShmOpen { .. } => "shm_open",
            Call::ShmUnlink { .. } => "shm_unlink",
            Call::Open { .. } => "open",
            Call::Ftruncate { .. } => "ftruncate",
            Call::Close { .. } => "close",
            Call::Load { .. } => "load",
            Call::Store { .. } => "store",
        }
    }
}

/// What kind of value a call returns on success; on failure the C call
/// returns -1 (`MAP_FAILED` for an address).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ValueKind {
    /// Nothing (`0`).
    Unit,
    /// An address.
    Addr,
    /// A file descriptor.
    Fd,
    /// A logical pid.
    Pid,
    /// A limit pair.
    Rlimit,
    /// Bytes.
    Bytes,
}

impl Call {
    /// The kind of value this call returns on success.
    pub fn value_kind(&self) -> ValueKind {
        match self {
            Call::Spawn {} => ValueKind::Pid,
            Call::Mmap { .. } => ValueKind::Addr,
            Call::ShmOpen { .. } | Call::Open { .. } => ValueKind::Fd,
            Call::Getrlimit { .. } => ValueKind::Rlimit,
            Call::Load { .. } => ValueKind::Bytes,
            Call::Exit {}
            | Call::Cred { .. }
            | Call::Setrlimit { .. }
            | Call::Munmap { .. }
            | Call::Mprotect { .. }
            | Call::Mlock { .. }
            | Call::Munlock { .. }
            | Call::Mlockall { .. }
            | Call::Munlockall {}
            | Call::Msync { .. }
            | Call::ShmUnlink { .. }
            | Call::Ftruncate { .. }
            | Call::Close { .. }
            | Call::Store { .. } => ValueKind::Unit,
        }
    }
}

impl Value {
    /// The kind of this value.
    pub fn kind(&self) -> ValueKind {
        match self {
            Value::Unit => ValueKind::Unit,
            Value::Addr(_) => ValueKind::Addr,
            Value::Fd(_) => ValueKind::Fd,
            Value::Pid(_) => ValueKind::Pid,
            Value::Rlimit(_) => ValueKind::Rlimit,
            Value::Bytes(_) => ValueKind::Bytes,
        }
    }
}

/// Parses bytes written as hex digit pairs (`"00ff"`, either case).
///
/// ```
/// assert_eq!(mmoracle::call::parse_hex_bytes("00fF"), Ok(vec![0, 255]));
/// assert!(mmoracle::call::parse_hex_bytes("0").is_err());
/// assert!(mmoracle::call::parse_hex_bytes("zz").is_err());
/// ```
pub fn parse_hex_bytes(text: &str) -> Result<Vec<u8>, String> {
    if let Some((at, c)) = text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        return Err(format!(
            "`{c}` at offset {at} is not a hex digit: bytes are written as pairs of hex digits"
        ));
    }
    if text.len() % 2 != 0 {
        return Err(format!(
            "{} hex digits: bytes are written as pairs of hex digits",
            text.len()
        ));
    }
    let digit = |b: u8| char::from(b).to_digit(16).unwrap_or(0) as u8;
    Ok(text
        .as_bytes()
        .chunks(2)
        .map(|p| digit(p[0]) << 4 | digit(p[1]))
        .collect())
}

/// Serde glue for byte strings written as hex digit pairs.
mod hex_data {
    use serde::{Deserialize, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&super::hex_bytes(data))
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        let text = std::borrow::Cow::<'de, str>::deserialize(d)?;
        super::parse_hex_bytes(&text).map_err(serde::de::Error::custom)
    }
}

/// A successful result's value.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Value {
    /// Success with no value (written `0`).
    Unit,
    /// An address (mmap).
    Addr(Addr),
    /// A file descriptor (shm_open, open).
    Fd(Fd),
    /// A logical pid (spawn).
    Pid(Pid),
    /// A limit pair (getrlimit).
    Rlimit(Rlimit),
    /// Bytes read (load).
    Bytes(Vec<u8>),
}

/// What one call did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// Success, with a value.
    Ok(Value),
    /// Failure with an errno; by the model's rules nothing changed, except
    /// where a rule documents a partial effect.
    Err(Errno),
    /// A load or store raised a signal.
    Fault(Signal),
}

impl Outcome {
    /// Success without a value.
    pub const UNIT: Outcome = Outcome::Ok(Value::Unit);

    /// Whether this is a success.
    pub fn is_ok(&self) -> bool {
        matches!(self, Outcome::Ok(_))
    }

    /// The errno, if this is a failure.
    pub fn errno(&self) -> Option<Errno> {
        match self {
            Outcome::Err(e) => Some(*e),
            _ => None,
        }
    }
}

impl fmt::Display for Value {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Value::Unit => f.write_str("0"),
            Value::Addr(a) => write!(f, "{a}"),
            Value::Fd(fd) => write!(f, "fd {fd}"),
            Value::Pid(p) => write!(f, "pid {p}"),
            Value::Rlimit(r) => write!(f, "{{cur: {}, max: {}}}", limit_text(r.cur), limit_text(r.max)),
            Value::Bytes(b) => write!(f, "bytes {}", hex_bytes(b)),
        }
    }
}

impl fmt::Display for Outcome {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Outcome::Ok(v) => write!(f, "ok {v}"),
            Outcome::Err(e) => write!(f, "error {e}"),
            Outcome::Fault(s) => write!(f, "fault {s}"),
        }
    }
}

/// A limit as people read it: a number or `RLIM_INFINITY`.
pub fn limit_text(v: u64) -> String {
    if v == crate::types::RLIM_INFINITY {
        "RLIM_INFINITY".into()
    } else {
        format!("{v:#x}")
    }
}

/// Bytes as lowercase hex digit pairs, the trace format's byte syntax.
pub fn hex_bytes(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}
