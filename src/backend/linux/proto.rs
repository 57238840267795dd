//! The worker protocol: small fixed-size binary messages over a Unix stream
//! socket (not JSON, so that the worker parses a call without allocating).
//!
//! A request is a [`REQUEST_LEN`]-byte header (the op, whether to report
//! counters, six argument words, the payload length) followed by the payload
//! (a name, a path, the bytes of a store). A reply is a [`REPLY_LEN`]-byte
//! header (ok / errno / signal, one value word, the counters, the payload
//! length) followed by the payload (the bytes of a load). A file descriptor
//! travels as SCM_RIGHTS ancillary data on the reply header's bytes. Every
//! word is little-endian.

/// The largest payload either way: one load or store of
/// [`crate::call::MAX_ACCESS`] bytes, or a name.
pub const MAX_PAYLOAD: usize = crate::call::MAX_ACCESS as usize;

/// Bytes in a request header.
pub const REQUEST_LEN: usize = 64;
/// Bytes in a reply header.
pub const REPLY_LEN: usize = 56;

/// What a request asks the worker to do.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u32)]
pub enum Op {
    /// Start a child worker (fork + exec in this worker); the reply carries
    /// the child's real pid and its socket.
    Spawn = 1,
    /// Reply, then end the process.
    Exit,
    /// setgroups/setresgid/setresuid and capset: `a[0]` euid, `a[1]` keep
    /// CAP_IPC_LOCK, `a[2]` the egid (u64::MAX: none given), `a[3]` whether
    /// groups are given; payload: the groups, 4 bytes each.
    Cred,
    /// prlimit: `a[0]` real pid (0: self), `a[1]` Linux resource, `a[2]` set?, `a[3]` cur, `a[4]` max.
    Prlimit,
    /// mmap: addr, len, prot, flags, fd, off (Linux values).
    Mmap,
    /// munmap: addr, len.
    Munmap,
    /// mprotect: addr, len, prot.
    Mprotect,
    /// mlock: addr, len.
    Mlock,
    /// munlock: addr, len.
    Munlock,
    /// mlockall: flags.
    Mlockall,
    /// munlockall.
    Munlockall,
    /// msync: addr, len, flags.
    Msync,
    /// shm_open: oflag, mode; payload: the (prefixed) name.
    ShmOpen,
    /// shm_unlink; payload: the (prefixed) name.
    ShmUnlink,
    /// open: oflag; payload: the real path.
    Open,
    /// ftruncate: fd, len (as i64).
    Ftruncate,
    /// close: fd.
    Close,
    /// A load: addr, len; the reply's payload is the bytes.
    Load,
    /// A store: addr; payload: the bytes.
    Store,
    /// dup (F_DUPFD_CLOEXEC from 0): fd.
    Dup,
    /// fstat: fd; the reply's value is st_size.
    Fstat,
    /// Only report the counters.
    Counters,
    /// The number of mappings (lines of /proc/self/maps) in the value.
    MapCount,
    /// umask: `a[0]` the new mask; the value is the old one.
    Umask,
    /// fstat in full: fd; the reply's payload is st_size (8 bytes), then
    /// st_uid, st_gid and st_mode (4 bytes each).
    FstatFull,
    /// pipe2(O_CLOEXEC); the value is the read end, with the write end in
    /// its high 32 bits.
    Pipe,
    /// fork in this worker; the child becomes a worker on a new socket,
    /// which the reply carries, and says hello there (its real pid and
    /// counters, no maps). The value is the child's real pid.
    Fork,
    /// meminfo: the counters, and in the value the lines of /proc/self/maps
    /// that are not the worker's own memory (spec/address-space.md).
    Meminfo,
    /// mlock2: addr, len, flags (Linux values).
    Mlock2,
    /// brk (the raw system call): addr; the value is the break after it.
    Brk,
    /// mremap: old addr, old len, new len, flags, new addr (Linux values).
    Mremap,
}

impl Op {
    const ALL: [Op; 31] = [
        Op::Spawn,
        Op::Exit,
        Op::Cred,
        Op::Prlimit,
        Op::Mmap,
        Op::Munmap,
        Op::Mprotect,
        Op::Mlock,
        Op::Munlock,
        Op::Mlockall,
        Op::Munlockall,
        Op::Msync,
        Op::ShmOpen,
        Op::ShmUnlink,
        Op::Open,
        Op::Ftruncate,
        Op::Close,
        Op::Load,
        Op::Store,
        Op::Dup,
        Op::Fstat,
        Op::Counters,
        Op::MapCount,
        Op::Umask,
        Op::FstatFull,
        Op::Pipe,
        Op::Fork,
        Op::Meminfo,
        Op::Mlock2,
        Op::Brk,
        Op::Mremap,
    ];

    /// Whether the call can change the worker's VmSize, VmData or VmLck, so
    /// the reply must carry fresh counters. The others leave every mapping
    /// as it was (an access faults pages in, which VmLck does not count: it
    /// counts locked mappings whole), so the driver keeps the last counters
    /// and the worker skips reading /proc/self/status. An op not listed
    /// here, such as one added later, is read after.
    pub fn may_change_counters(self) -> bool {
        !matches!(
            self,
            Op::Cred
                | Op::Prlimit
                | Op::Msync
                | Op::ShmOpen
                | Op::ShmUnlink
                | Op::Open
                | Op::Ftruncate
                | Op::Close
                | Op::Load
                | Op::Store
                | Op::Dup
                | Op::Fstat
                | Op::MapCount
        )
    }

    /// Whether the op locks memory (mlock, mlock2): it spends the touch
    /// budget, and the worker's own locked memory counts in its limit.
    pub fn locks(self) -> bool {
        matches!(self, Op::Mlock | Op::Mlock2)
    }

    /// The op with this number.
    pub fn from_u32(n: u32) -> Option<Op> {
        Op::ALL.into_iter().find(|op| *op as u32 == n)
    }
}

/// A request header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Request {
    /// The op.
    pub op: Op,
    /// Whether the reply carries the worker's counters.
    pub counters: bool,
    /// The arguments.
    pub a: [u64; 6],
    /// Payload bytes that follow.
    pub payload: u64,
}

/// How a call ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Success; `value` is the result.
    Ok,
    /// Failure with this Linux errno.
    Errno(i32),
    /// A load or store raised this signal number.
    Signal(i32),
}

/// The worker's memory counters in bytes, from /proc/self/status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counters {
    /// VmSize.
    pub vm_size: u64,
    /// VmData.
    pub vm_data: u64,
    /// VmLck.
    pub vm_lck: u64,
}

/// A reply header.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Reply {
    /// How it ended.
    pub status: Status,
    /// The value of a success.
    pub value: u64,
    /// Payload bytes that follow.
    pub payload: u64,
    /// The counters after the call (zero unless asked for).
    pub counters: Counters,
}

fn put(buf: &mut [u8], at: usize, v: u64) {
    buf[at..at + 8].copy_from_slice(&v.to_le_bytes());
}

fn get(buf: &[u8], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&buf[at..at + 8]);
    u64::from_le_bytes(w)
}

fn get32(buf: &[u8], at: usize) -> u32 {
    let mut w = [0u8; 4];
    w.copy_from_slice(&buf[at..at + 4]);
    u32::from_le_bytes(w)
}

impl Request {
    /// The wire form.
    pub fn encode(&self) -> [u8; REQUEST_LEN] {
        let mut b = [0u8; REQUEST_LEN];
        b[0..4].copy_from_slice(&(self.op as u32).to_le_bytes());
        b[4..8].copy_from_slice(&u32::from(self.counters).to_le_bytes());
        for (i, w) in self.a.iter().enumerate() {
            put(&mut b, 8 + 8 * i, *w);
        }
        put(&mut b, 56, self.payload);
        b
    }

    /// Reads the wire form; `None` for an unknown op.
    pub fn decode(b: &[u8; REQUEST_LEN]) -> Option<Request> {
        let mut a = [0u64; 6];
        for (i, w) in a.iter_mut().enumerate() {
            *w = get(b, 8 + 8 * i);
        }
        Some(Request {
            op: Op::from_u32(get32(b, 0))?,
            counters: get32(b, 4) != 0,
            a,
            payload: get(b, 56),
        })
    }
}

impl Reply {
    /// The wire form.
    pub fn encode(&self) -> [u8; REPLY_LEN] {
        let mut b = [0u8; REPLY_LEN];
        let (kind, code) = match self.status {
            Status::Ok => (0u32, 0i32),
            Status::Errno(e) => (1, e),
            Status::Signal(s) => (2, s),
        };
        b[0..4].copy_from_slice(&kind.to_le_bytes());
        b[4..8].copy_from_slice(&code.to_le_bytes());
        put(&mut b, 8, self.value);
        put(&mut b, 16, self.payload);
        put(&mut b, 24, self.counters.vm_size);
        put(&mut b, 32, self.counters.vm_data);
        put(&mut b, 40, self.counters.vm_lck);
        b
    }

    /// Reads the wire form; `None` for an unknown status kind.
    pub fn decode(b: &[u8; REPLY_LEN]) -> Option<Reply> {
        let code = get32(b, 4) as i32;
        let status = match get32(b, 0) {
            0 => Status::Ok,
            1 => Status::Errno(code),
            2 => Status::Signal(code),
            _ => return None,
        };
        Some(Reply {
            status,
            value: get(b, 8),
            payload: get(b, 16),
            counters: Counters {
                vm_size: get(b, 24),
                vm_data: get(b, 32),
                vm_lck: get(b, 40),
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let r = Request {
            op: Op::Mmap,
            counters: true,
            a: [1, 2, 3, 4, u64::MAX, 6],
            payload: 9,
        };
        assert_eq!(Request::decode(&r.encode()), Some(r));
        for status in [Status::Ok, Status::Errno(12), Status::Signal(7)] {
            let rep = Reply {
                status,
                value: 0x7f00_0000_0000,
                payload: 3,
                counters: Counters {
                    vm_size: 1,
                    vm_data: 2,
                    vm_lck: 3,
                },
            };
            assert_eq!(Reply::decode(&rep.encode()), Some(rep));
        }
        let mut bad = r.encode();
        bad[0] = 200;
        assert_eq!(Request::decode(&bad), None);
    }
}
