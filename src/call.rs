//! Every operation as data ([`Call`]) and every result as data ([`Outcome`]).
//!
//! A [`crate::MemoryManager`] executes one `Call` on behalf of one logical
//! process and returns one `Outcome`. Traces, the oracle, the generator and the
//! real backend's worker protocol all speak these two types.

use crate::types::{
    Addr, Errno, Fd, FileSystem, Len, MapFlags, MclFlags, MlockFlags, MremapFlags, MsyncFlags, OFlags, Pid, Prot,
    Resource, Rlimit, Signal,
};
use serde::{Deserialize, Serialize};
use std::fmt;

/// What (uid_t)-1 is to setresuid and setresgid: "leave it as it is", so
/// no process can have it and `cred` refuses it as an id.
const NO_ID: u32 = u32::MAX;

fn refuse_no_id<E: serde::de::Error>(id: u32) -> Result<u32, E> {
    if id == NO_ID {
        return Err(E::custom(
            "4294967295 is (uid_t)-1, which setresuid and setresgid read as \"unchanged\", not an id: expected 0 to 4294967294",
        ));
    }
    Ok(id)
}

/// A uid or gid `cred` sets.
fn cred_id<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    refuse_no_id(u32::deserialize(d)?)
}

/// `cred`'s optional egid.
fn cred_id_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u32>, D::Error> {
    Option::<u32>::deserialize(d)?.map(refuse_no_id).transpose()
}

/// `cred`'s optional supplementary groups.
fn cred_ids_or_none<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Vec<u32>>, D::Error> {
    let groups = Option::<Vec<u32>>::deserialize(d)?;
    if let Some(ids) = &groups {
        for &id in ids {
            refuse_no_id::<D::Error>(id)?;
        }
    }
    Ok(groups)
}

/// Declares [`Call`] exactly as written inside it, and beside it
/// [`CallByName`]: the same variants with the same fields and field
/// attributes, tagged from outside (`{"mmap": {...}}` in serde's terms).
///
/// Serde reads an internally tagged enum such as `Call` by buffering every
/// field into an intermediate tree before it knows the variant; the trace
/// reader's fast path hands serde the name first and reads `CallByName`
/// straight from the line's fields. A call added to `Call` is in both, with
/// no code anywhere else. Calls are struct variants (`Spawn {}` when there
/// are no arguments) or unit variants.
macro_rules! calls {
    (
        $(#[$attr:meta])*
        pub enum Call {
            $(
                $(#[$vattr:meta])*
                $variant:ident $({ $( $(#[$fattr:meta])* $field:ident : $ty:ty ),* $(,)? })?
            ),* $(,)?
        }
    ) => {
        $(#[$attr])*
        pub enum Call {
            $( $(#[$vattr])* $variant $({ $( $(#[$fattr])* $field : $ty ),* })? ),*
        }

        /// [`Call`], tagged by the call's name from outside (see `calls!`).
        #[derive(Deserialize)]
        #[serde(rename_all = "snake_case", deny_unknown_fields)]
        pub(crate) enum CallByName {
            $( $(#[$vattr])* $variant $({ $( $(#[$fattr])* $field : $ty ),* })? ),*
        }

        impl From<CallByName> for Call {
            fn from(call: CallByName) -> Call {
                match call {
                    $( CallByName::$variant $({ $($field),* })? => Call::$variant $({ $($field),* })? ),*
                }
            }
        }
    };
}

calls! {
/// One operation issued by a process.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "call", rename_all = "snake_case", deny_unknown_fields)]
pub enum Call {
    /// Create a process that inherits the caller's credentials and rlimits.
    /// Returns the new logical pid.
    Spawn {},
    /// End the calling process, releasing its mappings and fds.
    Exit {},
    /// `fork()`: a child with a copy of the caller's address space and fds.
    /// Returns the new logical pid (the child's own fork returns 0, which
    /// no trace sees).
    Fork {},
    /// Change the caller's credentials.
    Cred {
        /// The new effective uid (never (uid_t)-1, which is no uid).
        #[serde(deserialize_with = "cred_id")]
        euid: u32,
        /// Whether the process holds the memory-locking privilege
        /// (CAP_IPC_LOCK on Linux, PROCMGR_AID_MEM_LOCK on Neutrino).
        cap_ipc_lock: bool,
        /// The new effective gid; absent: the euid when the euid changes
        /// (what a cred without it always did), else unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "cred_id_or_none")]
        egid: Option<u32>,
        /// The new supplementary groups; absent: none when root changes its
        /// euid (setgroups of an empty list), else unchanged.
        #[serde(default, skip_serializing_if = "Option::is_none", deserialize_with = "cred_ids_or_none")]
        groups: Option<Vec<u32>>,
    },
    /// `umask(mask)`: sets the file mode creation mask, returns the old one.
    Umask {
        /// The new mask (only its permission bits, 0o777, are kept).
        mask: u32,
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
    /// `dup(fd)`: a new fd for the same open file. Returns an fd.
    Dup {
        /// The descriptor.
        fd: Fd,
    },
    /// `fstat(fd)`: the size of what the fd refers to. Returns a size.
    Fstat {
        /// The descriptor.
        fd: Fd,
    },
    /// `fstat(fd)` read in full: size, owner, group and mode. Returns a
    /// [`FileStatus`].
    FstatFull {
        /// The descriptor.
        fd: Fd,
    },
    /// `pipe(fds)`: a pipe's read end and write end, two new fds.
    Pipe {},
    /// `mmap_peer(target, addr, len, prot, flags, fd, off)` (QNX): map into
    /// another process, with `fd` looked up in the caller.
    MmapPeer {
        /// The process to map into.
        target: Pid,
        /// The address hint, or the exact address with MAP_FIXED.
        addr: Addr,
        /// The length in bytes.
        len: Len,
        /// Protection.
        prot: Prot,
        /// Flags.
        flags: MapFlags,
        /// The caller's file descriptor, or NOFD (-1).
        fd: Fd,
        /// The offset into the object.
        off: u64,
    },
    /// `munmap_peer(target, addr, len)` (QNX).
    MunmapPeer {
        /// The process to unmap from.
        target: Pid,
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
    },
    /// Setup, not a call a program makes: a file served by the modelled
    /// resource manager, which clients then `open`.
    ResmgrFile {
        /// The path clients open (absolute, not under /dev).
        path: String,
        /// Permission bits (default 0o644).
        #[serde(default = "default_file_mode")]
        mode: u32,
        /// The owner's uid (default 0).
        #[serde(default)]
        uid: u32,
        /// Initial contents, as hex digit pairs (default empty).
        #[serde(default, with = "hex_data")]
        data: Vec<u8>,
        /// The size, at least the contents' length (default: that length).
        #[serde(default)]
        size: u64,
        /// Whether the file system is mounted read-only.
        #[serde(default)]
        readonly: bool,
        /// The kind of file system the file lives on (default "disk").
        #[serde(default, skip_serializing_if = "FileSystem::is_default")]
        fs: FileSystem,
        /// Whether mandatory locking is active on the file.
        #[serde(default)]
        mandatory_lock: bool,
        /// Whether the server fails to allocate a new OCB (ENOMEM).
        #[serde(default)]
        ocb_alloc_fails: bool,
        /// The `_IO_MMAP` handler: "iofunc" (default), "none" (ENOSYS), or an
        /// errno name the server's own handler answers with.
        #[serde(default = "default_mmap_handler")]
        mmap: String,
    },
    /// Drive the server's `_IO_MMAP` handler (`iofunc_mmap()`) directly for
    /// the client OCB `fd`, as procnto would. Returns the 24-byte reply.
    IoMmap {
        /// The client's fd: its OCB and the file's attr are what is checked.
        fd: Fd,
        /// The message's prot.
        prot: Prot,
        /// The message's offset.
        #[serde(default)]
        offset: u64,
        /// Whether the message comes from procnto (default) or from the
        /// client itself.
        #[serde(default = "default_true")]
        from_procnto: bool,
    },
    /// libmemobj `memobj_create(nbytes)`: a handle to a new shared-memory
    /// object of `nbytes` bytes.
    MemobjCreate {
        /// The size.
        nbytes: u64,
    },
    /// libmemobj `memobj_wrap(fd)`: a handle around an existing fd.
    MemobjWrap {
        /// The wrapped descriptor.
        fd: Fd,
    },
    /// libmemobj `memobj_map(vaddr_out, obj, pid, prot, offset, nbytes)`.
    /// The `pid` argument is written `target` (0: the caller).
    MemobjMap {
        /// The handle.
        obj: Handle,
        /// The process to map into; 0 is the caller.
        #[serde(default)]
        target: Pid,
        /// Protection.
        prot: Prot,
        /// Offset into the object.
        #[serde(default)]
        offset: u64,
        /// Bytes to map; 0 maps as many as possible.
        #[serde(default)]
        nbytes: u64,
    },
    /// libmemobj `memobj_unmap(obj, pid, vaddr)`.
    MemobjUnmap {
        /// The handle.
        obj: Handle,
        /// The process it was mapped into; 0 is the caller.
        #[serde(default)]
        target: Pid,
        /// The address memobj_map returned.
        vaddr: Addr,
    },
    /// libmemobj `memobj_close(obj)`.
    MemobjClose {
        /// The handle (0 is NULL: nothing happens).
        obj: Handle,
    },
    /// libmemobj `memobj_share(obj)`: a new handle to the same object.
    MemobjShare {
        /// The handle.
        obj: Handle,
    },
    /// Gamma `shm_open(name, flags, mode[, size])`.
    GammaShmOpen {
        /// The name.
        name: String,
        /// O_* flags.
        oflag: OFlags,
        /// Permission bits.
        mode: u32,
        /// The optional size of a new object.
        #[serde(default)]
        size: Option<u64>,
    },
    /// Gamma `mmap(size, prot_flags, share_flags, shm_file, offset)`: returns
    /// the buffer (the bytes the mapping shows), or nil with errno set.
    GammaMmap {
        /// The size in bytes.
        size: u64,
        /// Protection.
        prot: Prot,
        /// MAP_SHARED or MAP_PRIVATE.
        share: MapFlags,
        /// The descriptor from shm_open.
        shm_file: Fd,
        /// Offset into the object.
        #[serde(default)]
        offset: u64,
    },
    // ---- address-space calls and counters (spec/address-space.md) ----
    /// The counters a program can read of itself (Linux: /proc/self/status
    /// and /proc/self/maps; procnto: the model's own counters).
    Meminfo {},
    /// `brk(addr)`: move the program break to `addr`.
    Brk {
        /// The new break (0 or anything below the heap only asks).
        addr: Addr,
    },
    /// `mremap(old_addr, old_len, new_len, flags, new_addr)` (Linux).
    Mremap {
        /// The mapping's start.
        old_addr: Addr,
        /// Its length (0: a shared mapping duplicated).
        old_len: Len,
        /// The new length.
        new_len: Len,
        /// MREMAP_* flags.
        flags: MremapFlags,
        /// Where to move it (MREMAP_FIXED), or a hint (MREMAP_DONTUNMAP).
        #[serde(default)]
        new_addr: Addr,
    },
    /// `mlock2(addr, len, flags)` (Linux).
    Mlock2 {
        /// Start.
        addr: Addr,
        /// Length.
        len: Len,
        /// MLOCK_* flags.
        flags: MlockFlags,
    },
}
}

fn default_file_mode() -> u32 {
    0o644
}

fn default_mmap_handler() -> String {
    "iofunc".into()
}

fn default_true() -> bool {
    true
}

/// A libmemobj handle (a `struct memobj *`); 0 is NULL.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Handle(pub u64);

impl fmt::Display for Handle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "memobj {}", self.0)
    }
}

/// The largest load or store, in bytes: accesses are checked one page at a
/// time, so this bounds the work and memory of one call.
pub const MAX_ACCESS: u64 = 1 << 20;

impl Call {
    /// Another process whose state the call changes when it succeeds
    /// (setrlimit's target, the peer calls' target, memobj_map's and
    /// memobj_unmap's pid); not the caller itself, written as 0 or its pid.
    pub fn other_process_changed(&self, caller: Pid) -> Option<Pid> {
        let target = match self {
            Call::Setrlimit { target, .. } => (*target)?,
            Call::MmapPeer { target, .. }
            | Call::MunmapPeer { target, .. }
            | Call::MemobjMap { target, .. }
            | Call::MemobjUnmap { target, .. } => *target,
            _ => return None,
        };
        (target.0 != 0 && target != caller).then_some(target)
    }

    /// The call's name as written in traces (`"mmap"`, `"shm_open"`).
    pub fn name(&self) -> &'static str {
        match self {
            Call::Spawn {} => "spawn",
            Call::Exit {} => "exit",
            Call::Fork {} => "fork",
            Call::Cred { .. } => "cred",
            Call::Umask { .. } => "umask",
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
            Call::Dup { .. } => "dup",
            Call::Fstat { .. } => "fstat",
            Call::FstatFull { .. } => "fstat_full",
            Call::Pipe {} => "pipe",
            Call::MmapPeer { .. } => "mmap_peer",
            Call::MunmapPeer { .. } => "munmap_peer",
            Call::ResmgrFile { .. } => "resmgr_file",
            Call::IoMmap { .. } => "io_mmap",
            Call::MemobjCreate { .. } => "memobj_create",
            Call::MemobjWrap { .. } => "memobj_wrap",
            Call::MemobjMap { .. } => "memobj_map",
            Call::MemobjUnmap { .. } => "memobj_unmap",
            Call::MemobjClose { .. } => "memobj_close",
            Call::MemobjShare { .. } => "memobj_share",
            Call::GammaShmOpen { .. } => "gamma_shm_open",
            Call::GammaMmap { .. } => "gamma_mmap",
            Call::Meminfo {} => "meminfo",
            Call::Mlock2 { .. } => "mlock2",
            Call::Brk { .. } => "brk",
            Call::Mremap { .. } => "mremap",
        }
    }

    /// Whether this is a library call (libmemobj, the Gamma binding), which
    /// runs as a sequence of primitive calls rather than in a backend.
    pub fn is_library(&self) -> bool {
        matches!(
            self,
            Call::MemobjCreate { .. }
                | Call::MemobjWrap { .. }
                | Call::MemobjMap { .. }
                | Call::MemobjUnmap { .. }
                | Call::MemobjClose { .. }
                | Call::MemobjShare { .. }
                | Call::GammaShmOpen { .. }
                | Call::GammaMmap { .. }
        )
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
    /// A size in bytes.
    Size,
    /// A libmemobj handle.
    Handle,
    /// Permission bits (umask's old mask).
    Mode,
    /// A file's status (fstat_full).
    Status,
    /// Two fds (pipe: the read end, then the write end).
    FdPair,
    /// The counters of [`MemInfo`].
    Meminfo,
}

impl Call {
    /// The kind of value this call returns on success.
    pub fn value_kind(&self) -> ValueKind {
        match self {
            Call::Spawn {} | Call::Fork {} => ValueKind::Pid,
            Call::Mmap { .. } | Call::MmapPeer { .. } | Call::MemobjMap { .. } => ValueKind::Addr,
            Call::ShmOpen { .. } | Call::Open { .. } | Call::Dup { .. } | Call::GammaShmOpen { .. } => ValueKind::Fd,
            Call::Getrlimit { .. } => ValueKind::Rlimit,
            Call::Load { .. } | Call::IoMmap { .. } | Call::GammaMmap { .. } => ValueKind::Bytes,
            Call::Fstat { .. } => ValueKind::Size,
            Call::Umask { .. } => ValueKind::Mode,
            Call::FstatFull { .. } => ValueKind::Status,
            Call::Pipe {} => ValueKind::FdPair,
            Call::MemobjCreate { .. } | Call::MemobjWrap { .. } | Call::MemobjShare { .. } => ValueKind::Handle,
            Call::Meminfo {} => ValueKind::Meminfo,
            Call::Brk { .. } | Call::Mremap { .. } => ValueKind::Addr,
            Call::MunmapPeer { .. } | Call::ResmgrFile { .. } | Call::MemobjUnmap { .. } | Call::MemobjClose { .. } => {
                ValueKind::Unit
            }
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
            | Call::Store { .. }
            | Call::Mlock2 { .. } => ValueKind::Unit,
        }
    }
}

impl Call {
    /// Whether the implementation chooses this call's successful result: an
    /// fd, a pid, a memobj handle, or the address of a mapping not placed
    /// with MAP_FIXED. Another free value is then adopted, not refused.
    pub fn result_is_free_choice(&self) -> bool {
        match self {
            Call::Mmap { flags, .. } | Call::MmapPeer { flags, .. } => {
                !flags.intersects(MapFlags::FIXED | MapFlags::FIXED_NOREPLACE)
            }
            // Where Linux merges VMAs depends on history the model does not
            // keep: the map count is chosen within bounds (MEMINFO-OK-1).
            Call::Meminfo {} => true,
            // brk(0) reports where the break is; while the heap is empty that
            // is the implementation's choice (Linux places the heap at random).
            Call::Brk { addr } => addr.0 == 0,
            // A mapping that may move goes where the implementation puts it
            // (the model checks that it could: MREMAP-OK-3).
            Call::Mremap { flags, .. } => flags.contains(MremapFlags::MAYMOVE) && !flags.contains(MremapFlags::FIXED),
            _ => matches!(
                self.value_kind(),
                ValueKind::Addr | ValueKind::Fd | ValueKind::FdPair | ValueKind::Pid | ValueKind::Handle
            ),
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
            Value::Size(_) => ValueKind::Size,
            Value::Handle(_) => ValueKind::Handle,
            Value::Mode(_) => ValueKind::Mode,
            Value::Status(_) => ValueKind::Status,
            Value::FdPair(..) => ValueKind::FdPair,
            Value::Meminfo(_) => ValueKind::Meminfo,
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
    let digits = text.as_bytes();
    if digits.len() % 2 == 0 {
        let mut out = Vec::with_capacity(digits.len() / 2);
        if decode_hex_pairs(digits, &mut out) {
            return Ok(out);
        }
    }
    Err(hex_bytes_error(text))
}

/// Digits decoded at a time by [`decode_hex_pairs`].
const HEX_BLOCK: usize = 64;

/// Appends to `out` the bytes of the hex digit pairs `digits`, with one check
/// for the whole string: whether every digit was hex.
fn decode_hex_pairs(digits: &[u8], out: &mut Vec<u8>) -> bool {
    let mut bad = 0;
    // A block at a time by arithmetic, in loops the compiler turns into
    // vector instructions; the rest by the table.
    let blocks = digits.chunks_exact(HEX_BLOCK);
    let rest = blocks.remainder();
    for block in blocks {
        let mut values = [0u8; HEX_BLOCK];
        for (v, &d) in values.iter_mut().zip(block) {
            *v = hex_digit_value(d);
            bad |= *v;
        }
        // A pair as a 16-bit lane, first digit low: the byte is the lane
        // shifted up a nibble, or'ed with its high half (shifts and a pack
        // in vector registers, where picking the bytes apart is shuffles).
        let mut bytes = [0u8; HEX_BLOCK / 2];
        for (b, pair) in bytes.iter_mut().zip(values.chunks_exact(2)) {
            let lane = u16::from_le_bytes([pair[0], pair[1]]);
            *b = (lane << 4 | lane >> 8) as u8;
        }
        out.extend_from_slice(&bytes);
    }
    out.extend(rest.chunks_exact(2).map(|p| {
        let (hi, lo) = (HEX_VALUES[usize::from(p[0])], HEX_VALUES[usize::from(p[1])]);
        bad |= hi | lo;
        hi << 4 | lo
    }));
    bad & 0xf0 == 0
}

/// Why `text` is not hex digit pairs: its first character that is not a hex
/// digit, or else its odd number of digits.
fn hex_bytes_error(text: &str) -> String {
    match text.char_indices().find(|(_, c)| !c.is_ascii_hexdigit()) {
        Some((at, c)) => {
            format!("`{c}` at offset {at} is not a hex digit: bytes are written as pairs of hex digits")
        }
        None => format!("{} hex digits: bytes are written as pairs of hex digits", text.len()),
    }
}

/// The value of one hex digit, or [`NOT_HEX`]: [`HEX_VALUES`] by
/// arithmetic, without a load (so that it vectorises).
fn hex_digit_value(d: u8) -> u8 {
    let digit = d.wrapping_sub(b'0');
    let letter = (d | 0x20).wrapping_sub(b'a');
    if digit < 10 {
        digit
    } else if letter < 6 {
        letter + 10
    } else {
        NOT_HEX
    }
}

const NOT_HEX: u8 = 0xff;

/// Each byte's value as a hex digit, or [`NOT_HEX`]: one load per digit, for
/// traces whose loads and stores carry megabytes of hex.
const HEX_VALUES: [u8; 256] = {
    let mut table = [NOT_HEX; 256];
    let mut i = 0;
    while i < 256 {
        table[i] = match i as u8 {
            d @ b'0'..=b'9' => d - b'0',
            d @ b'a'..=b'f' => d - b'a' + 10,
            d @ b'A'..=b'F' => d - b'A' + 10,
            _ => NOT_HEX,
        };
        i += 1;
    }
    table
};

/// The shortest byte run the writer uses instead of hex digit pairs.
const RUN_MIN_LEN: usize = 64;
/// The longest pattern the writer looks for in a run.
const RUN_MAX_PATTERN: usize = 16;

/// The shortest pattern whose repetition is `bytes`, when `bytes` is long
/// enough to be worth writing as a byte run (trace-format.md §5.1).
pub fn byte_run_pattern(bytes: &[u8]) -> Option<&[u8]> {
    if bytes.len() < RUN_MIN_LEN {
        return None;
    }
    (1..=RUN_MAX_PATTERN)
        .filter(|p| bytes.len() % p == 0)
        .find(|&p| bytes.chunks_exact(p).all(|c| c == &bytes[..p]))
        .map(|p| &bytes[..p])
}

/// The bytes of a byte run `{"repeat": pattern, "len": len}`: `pattern`
/// (hex digit pairs, not empty) repeated to exactly `len` bytes, which must
/// be a multiple of the pattern's length and at most [`MAX_ACCESS`].
pub fn byte_run(pattern: &str, len: u64) -> Result<Vec<u8>, String> {
    let unit = parse_hex_bytes(pattern)?;
    if unit.is_empty() {
        return Err("a byte run's `repeat` needs at least one byte".into());
    }
    if len > MAX_ACCESS {
        return Err(format!(
            "a byte run of {len} bytes is longer than the largest access ({MAX_ACCESS})"
        ));
    }
    if len % unit.len() as u64 != 0 {
        return Err(format!(
            "a byte run's `len` ({len}) must be a multiple of its pattern's {} bytes",
            unit.len()
        ));
    }
    Ok(unit.repeat(len as usize / unit.len()))
}

/// Bytes as a trace writes them: a byte run when they repeat a short
/// pattern at length, else hex digit pairs.
pub fn bytes_json(bytes: &[u8]) -> serde_json::Value {
    match byte_run_pattern(bytes) {
        Some(p) => serde_json::json!({"repeat": hex_bytes(p), "len": bytes.len()}),
        None => serde_json::Value::from(hex_bytes(bytes)),
    }
}

/// Serde glue for byte strings written as hex digit pairs or as a byte run.
mod hex_data {
    use serde::de::{self, MapAccess, Visitor};
    use serde::ser::SerializeMap;
    use serde::{Deserializer, Serializer};
    use std::fmt;

    pub fn serialize<S: Serializer>(data: &[u8], s: S) -> Result<S::Ok, S::Error> {
        match super::byte_run_pattern(data) {
            Some(p) => {
                let mut m = s.serialize_map(Some(2))?;
                m.serialize_entry("repeat", &super::hex_bytes(p))?;
                m.serialize_entry("len", &data.len())?;
                m.end()
            }
            None => s.serialize_str(&super::hex_bytes(data)),
        }
    }

    struct Bytes;

    impl<'de> Visitor<'de> for Bytes {
        type Value = Vec<u8>;

        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str(r#"hex digit pairs, or a byte run {"repeat":"ab","len":N}"#)
        }

        fn visit_str<E: de::Error>(self, text: &str) -> Result<Vec<u8>, E> {
            super::parse_hex_bytes(text).map_err(E::custom)
        }

        fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Vec<u8>, A::Error> {
            let (mut repeat, mut len) = (None::<String>, None::<u64>);
            while let Some(key) = map.next_key::<String>()? {
                match key.as_str() {
                    "repeat" if repeat.is_none() => repeat = Some(map.next_value()?),
                    "len" if len.is_none() => len = Some(map.next_value()?),
                    other => {
                        return Err(de::Error::custom(format!(
                            "a byte run has `repeat` and `len` once each, not `{other}`"
                        )))
                    }
                }
            }
            let repeat = repeat.ok_or_else(|| de::Error::missing_field("repeat"))?;
            let len = len.ok_or_else(|| de::Error::missing_field("len"))?;
            super::byte_run(&repeat, len).map_err(de::Error::custom)
        }
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<u8>, D::Error> {
        d.deserialize_any(Bytes)
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
    /// Bytes read (load, the Gamma buffer, an `_IO_MMAP` reply).
    Bytes(Vec<u8>),
    /// A size in bytes (fstat).
    Size(u64),
    /// A libmemobj handle (memobj_create, memobj_wrap, memobj_share).
    Handle(Handle),
    /// Permission bits (umask).
    Mode(u32),
    /// A file's status (fstat_full).
    Status(FileStatus),
    /// Two fds (pipe: the read end, then the write end).
    FdPair(Fd, Fd),
    /// A process's counters (meminfo).
    Meminfo(MemInfo),
}

/// The file type bits of `st_mode` (the same numbers on QNX and Linux).
pub mod file_type {
    /// S_IFIFO: a pipe.
    pub const FIFO: u32 = 0o010000;
    /// S_IFCHR: a character device.
    pub const CHR: u32 = 0o020000;
    /// S_IFNAM: a QNX name-space entry, what /dev/shmem objects are.
    pub const NAM: u32 = 0o050000;
    /// S_IFREG: a regular file.
    pub const REG: u32 = 0o100000;
}

/// What `fstat` reports of a file beyond its size (spec/fds.md, FSTAT-STATUS-1).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileStatus {
    /// `st_size`: the exact byte size.
    pub size: u64,
    /// `st_uid`: the owner.
    pub uid: u32,
    /// `st_gid`: the group.
    pub gid: u32,
    /// `st_mode`: the file type bits and the permission bits.
    pub mode: u32,
}

/// The counters a process can read of itself (meminfo): Linux's VmSize,
/// VmData and VmLck of /proc/self/status, in bytes, and the number of lines
/// of /proc/self/maps; the model's own counters under procnto.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemInfo {
    /// Every mapped byte (VmSize).
    pub vm_size: u64,
    /// The bytes counted against RLIMIT_DATA (VmData).
    pub vm_data: u64,
    /// The locked bytes (VmLck).
    pub vm_lck: u64,
    /// The number of mappings (VMAs on Linux, regions on procnto).
    pub map_count: u64,
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
            Value::Size(n) => write!(f, "size {n:#x}"),
            Value::Handle(h) => write!(f, "{h}"),
            Value::Mode(m) => write!(f, "mode {m:#o}"),
            Value::FdPair(r, w) => write!(f, "fds {r} and {w}"),
            Value::Status(st) => write!(
                f,
                "{{size: {:#x}, uid: {}, gid: {}, mode: {:#o}}}",
                st.size, st.uid, st.gid, st.mode
            ),
            Value::Meminfo(m) => write!(
                f,
                "{{vm_size: {:#x}, vm_data: {:#x}, vm_lck: {:#x}, map_count: {}}}",
                m.vm_size, m.vm_data, m.vm_lck, m.map_count
            ),
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

#[cfg(test)]
mod hex_tests {
    use super::*;

    #[test]
    fn the_arithmetic_digit_value_is_the_table() {
        for d in 0..=255u8 {
            assert_eq!(hex_digit_value(d), HEX_VALUES[usize::from(d)], "{d:#x}");
        }
    }

    #[test]
    fn bad_hex_is_worded_by_its_first_fault() {
        let pairs = "bytes are written as pairs of hex digits";
        assert_eq!(parse_hex_bytes("abc"), Err(format!("3 hex digits: {pairs}")));
        assert_eq!(
            parse_hex_bytes("0g1"),
            Err(format!("`g` at offset 1 is not a hex digit: {pairs}"))
        );
        assert_eq!(
            parse_hex_bytes("abz"),
            Err(format!("`z` at offset 2 is not a hex digit: {pairs}"))
        );
        assert_eq!(
            parse_hex_bytes("ab\u{e9}"),
            Err(format!("`\u{e9}` at offset 2 is not a hex digit: {pairs}"))
        );
        assert_eq!(parse_hex_bytes(""), Ok(Vec::new()));
    }

    #[test]
    fn long_hex_reads_the_same_in_blocks_and_in_the_rest() {
        let bytes: Vec<u8> = (0..200u32).map(|i| (i * 37 + 11) as u8).collect();
        for len in 0..bytes.len() {
            let lower: String = bytes[..len].iter().map(|b| format!("{b:02x}")).collect();
            assert_eq!(parse_hex_bytes(&lower).as_deref(), Ok(&bytes[..len]));
            assert_eq!(parse_hex_bytes(&lower.to_uppercase()).as_deref(), Ok(&bytes[..len]));
            for at in [0, len, len.saturating_sub(1) * 2 + 1] {
                if at < lower.len() {
                    let mut bad = lower.clone().into_bytes();
                    bad[at] = b'g';
                    assert!(parse_hex_bytes(std::str::from_utf8(&bad).unwrap()).is_err());
                }
            }
        }
    }
}
