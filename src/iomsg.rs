//! The `_IO_MMAP` wire codec: `io_mmap_t` as procnto sends it to a resource
//! manager and as the resource manager replies.
//!
//! When a process maps a file served by a resource manager, procnto sends the
//! manager an `_IO_MMAP` message ([`IoMmapRequest`], 88 bytes) carrying the
//! requested protection, the offset and the client's connection information
//! ([`MsgInfo`], 48 bytes); the manager (usually `iofunc_mmap()`) answers with
//! [`IoMmapReply`] (24 bytes) whose `coid` names the connection procnto is to
//! read the file through. Everything is little-endian with fixed offsets
//! (`resmgr_endian()` swaps exactly these fields on big-endian peers).
//!
//! The 6.4 headers and the 7.x headers lay the bytes out identically and only
//! rename some fields: the last `_msg_info` word (`reserved` → `type_id`), the
//! request's first spare word (`zero[0]` → `required_prot`) and the reply's
//! second word (`flags` → `allowed_prot`). [`Layout`] picks the set of names a
//! value reports ([`IoMmapRequest::fields`]) and enables the 7.x accessors.
//!
//! Decoding never panics: any byte string either decodes or yields a
//! [`WireError`] that says what was wrong. Decoding reads the fixed-size prefix
//! and ignores trailing bytes (a combined message continues after it).

use crate::types::Prot;
use thiserror::Error;

/// `_IO_MMAP`, the message type of an mmap request (`_IO_BASE` 0x100 + 0x12).
pub const IO_MMAP: u16 = 0x112;

/// Which header generation's field names a message uses. The bytes are the
/// same in both.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Layout {
    /// QNX Neutrino 6.4 (`reserved`, `zero[6]`, reply `flags`).
    Neutrino64,
    /// QNX SDP 7.x (`type_id`, `required_prot` + `zero[5]`, reply `allowed_prot`).
    Sdp7,
}

impl Layout {
    /// Both layouts.
    pub const ALL: [Layout; 2] = [Layout::Neutrino64, Layout::Sdp7];
}

/// Why a byte string is not a valid message.
#[derive(Clone, Debug, PartialEq, Eq, Error)]
pub enum WireError {
    /// Fewer bytes than the structure needs.
    #[error("{what} too short: expected {expected} bytes, got {got}")]
    TooShort {
        /// The structure being decoded.
        what: &'static str,
        /// Its size.
        expected: usize,
        /// The bytes available.
        got: usize,
    },
    /// The `type` field is not `_IO_MMAP`.
    #[error("{what} has the wrong type: expected {expected:#x} (_IO_MMAP), got {got:#x}")]
    WrongType {
        /// The structure being decoded.
        what: &'static str,
        /// `_IO_MMAP`.
        expected: u16,
        /// The type found at offset 0.
        got: u16,
    },
}

/// One field as a layout names it: where it lives and what it holds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Field {
    /// The C name in the chosen layout (`"info.scoid"`, `"required_prot"`).
    pub name: &'static str,
    /// The byte offset from the start of the structure.
    pub offset: usize,
    /// The width in bytes (2, 4 or 8).
    pub size: usize,
    /// The raw little-endian value, zero-extended (an `i16` of -1 is 0xffff).
    pub value: u64,
}

/// `struct _msg_info` (7.x: `_msg_info32`), the 48-byte description of the
/// client connection that procnto puts in the request.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash)]
pub struct MsgInfo {
    /// Node descriptor (network-relative). @0
    pub nd: u32,
    /// Source node descriptor. @4
    pub srcnd: u32,
    /// Process id; in `_IO_MMAP`, the *client's* pid. @8
    pub pid: i32,
    /// Thread id. @12
    pub tid: i32,
    /// Channel id. @16
    pub chid: i32,
    /// Server connection id of the client's connection. @20
    pub scoid: i32,
    /// Connection id; in `_IO_MMAP`, the client's fd. @24
    pub coid: i32,
    /// Message length. @28
    pub msglen: i32,
    /// Source message length. @32
    pub srcmsglen: i32,
    /// Destination message length. @36
    pub dstmsglen: i32,
    /// Priority. @40
    pub priority: i16,
    /// Flags. @42
    pub flags: i16,
    /// `reserved` in 6.4, `type_id` in 7.x. @44
    pub reserved: u32,
}

/// `struct _io_mmap`, the 88-byte request procnto sends. The `type` field is
/// not stored: it is always [`IO_MMAP`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoMmapRequest {
    /// The field names this message reports.
    pub layout: Layout,
    /// Combined-message length; procnto sets it to 88. @2
    pub combine_len: u16,
    /// Requested protection, unknown bits kept. @4
    pub prot: Prot,
    /// Offset into the file. @8
    pub offset: u64,
    /// The client connection. @16..64
    pub info: MsgInfo,
    /// Spare words @64..88; in 7.x `zero[0]` is `required_prot`.
    pub zero: [u32; 6],
}

/// `struct _io_mmap_reply`, the 24-byte answer of the resource manager.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct IoMmapReply {
    /// The field names this message reports.
    pub layout: Layout,
    /// Spare word. @0
    pub zero: u32,
    /// `flags` (reserved) in 6.4, `allowed_prot` in 7.x. @4
    pub flags: u32,
    /// Reserved offset. @8
    pub offset: u64,
    /// The connection procnto uses to read the mapped file. @16
    pub coid: i32,
    /// Reserved fd. @20
    pub fd: i32,
}

impl MsgInfo {
    /// The encoded size.
    pub const SIZE: usize = 48;

    /// The little-endian bytes.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut w = Writer::<{ Self::SIZE }>::new();
        self.write(&mut w);
        w.finish()
    }

    /// Decodes the first 48 bytes.
    pub fn decode(bytes: &[u8]) -> Result<MsgInfo, WireError> {
        let mut r = Reader::new(prefix::<{ Self::SIZE }>("_msg_info", bytes)?);
        Ok(MsgInfo::read(&mut r))
    }

    /// The last word under its 7.x name, `type_id`; `None` in the 6.4 layout.
    pub fn type_id(&self, layout: Layout) -> Option<u32> {
        (layout == Layout::Sdp7).then_some(self.reserved)
    }

    /// Every field under `layout`'s names, offsets relative to the structure.
    pub fn fields(&self, layout: Layout) -> Vec<Field> {
        fields_of(&self.encode(), info_table(layout))
    }

    fn write<const N: usize>(&self, w: &mut Writer<N>) {
        w.u32(self.nd);
        w.u32(self.srcnd);
        for v in [self.pid, self.tid, self.chid, self.scoid, self.coid] {
            w.i32(v);
        }
        for v in [self.msglen, self.srcmsglen, self.dstmsglen] {
            w.i32(v);
        }
        w.u16(self.priority as u16);
        w.u16(self.flags as u16);
        w.u32(self.reserved);
    }

    fn read(r: &mut Reader<'_>) -> MsgInfo {
        MsgInfo {
            nd: r.u32(),
            srcnd: r.u32(),
            pid: r.i32(),
            tid: r.i32(),
            chid: r.i32(),
            scoid: r.i32(),
            coid: r.i32(),
            msglen: r.i32(),
            srcmsglen: r.i32(),
            dstmsglen: r.i32(),
            priority: r.u16() as i16,
            flags: r.u16() as i16,
            reserved: r.u32(),
        }
    }
}

impl IoMmapRequest {
    /// The encoded size.
    pub const SIZE: usize = 88;

    /// A request as procnto builds it: `combine_len` = 88, spare words zero.
    pub fn new(layout: Layout, prot: Prot, offset: u64, info: MsgInfo) -> IoMmapRequest {
        IoMmapRequest {
            layout,
            combine_len: Self::SIZE as u16,
            prot,
            offset,
            info,
            zero: [0; 6],
        }
    }

    /// The little-endian bytes, `type` = `_IO_MMAP`.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut w = Writer::<{ Self::SIZE }>::new();
        w.u16(IO_MMAP);
        w.u16(self.combine_len);
        w.u32(self.prot.bits());
        w.u64(self.offset);
        self.info.write(&mut w);
        for v in self.zero {
            w.u32(v);
        }
        w.finish()
    }

    /// Decodes the first 88 bytes; `type` must be `_IO_MMAP`.
    pub fn decode(bytes: &[u8], layout: Layout) -> Result<IoMmapRequest, WireError> {
        let mut r = Reader::new(prefix::<{ Self::SIZE }>("_io_mmap request", bytes)?);
        let kind = r.u16();
        if kind != IO_MMAP {
            return Err(WireError::WrongType {
                what: "_io_mmap request",
                expected: IO_MMAP,
                got: kind,
            });
        }
        Ok(IoMmapRequest {
            layout,
            combine_len: r.u16(),
            prot: Prot::from_bits_retain(r.u32()),
            offset: r.u64(),
            info: MsgInfo::read(&mut r),
            zero: [r.u32(), r.u32(), r.u32(), r.u32(), r.u32(), r.u32()],
        })
    }

    /// The protection the client's mapping needs (7.x `required_prot`, the
    /// word 6.4 calls `zero[0]`); `None` in the 6.4 layout.
    pub fn required_prot(&self) -> Option<Prot> {
        (self.layout == Layout::Sdp7).then(|| Prot::from_bits_retain(self.zero[0]))
    }

    /// Every field under this message's names, `info.*` included.
    pub fn fields(&self) -> Vec<Field> {
        fields_of(&self.encode(), request_table(self.layout))
    }
}

impl IoMmapReply {
    /// The encoded size.
    pub const SIZE: usize = 24;

    /// The reply `iofunc_mmap()` gives: everything zero but `coid`.
    pub fn new(layout: Layout, coid: i32) -> IoMmapReply {
        IoMmapReply {
            layout,
            zero: 0,
            flags: 0,
            offset: 0,
            coid,
            fd: 0,
        }
    }

    /// The little-endian bytes.
    pub fn encode(&self) -> [u8; Self::SIZE] {
        let mut w = Writer::<{ Self::SIZE }>::new();
        w.u32(self.zero);
        w.u32(self.flags);
        w.u64(self.offset);
        w.i32(self.coid);
        w.i32(self.fd);
        w.finish()
    }

    /// Decodes the first 24 bytes. Any 24 bytes are a reply.
    pub fn decode(bytes: &[u8], layout: Layout) -> Result<IoMmapReply, WireError> {
        let mut r = Reader::new(prefix::<{ Self::SIZE }>("_io_mmap_reply", bytes)?);
        Ok(IoMmapReply {
            layout,
            zero: r.u32(),
            flags: r.u32(),
            offset: r.u64(),
            coid: r.i32(),
            fd: r.i32(),
        })
    }

    /// The protection the manager allows (7.x `allowed_prot`, the word 6.4
    /// calls `flags`); `None` in the 6.4 layout.
    pub fn allowed_prot(&self) -> Option<Prot> {
        (self.layout == Layout::Sdp7).then(|| Prot::from_bits_retain(self.flags))
    }

    /// Every field under this message's names.
    pub fn fields(&self) -> Vec<Field> {
        fields_of(&self.encode(), reply_table(self.layout))
    }
}

/// (name, offset, size) of every field, in order.
type Table = &'static [(&'static str, usize, usize)];

fn info_table(layout: Layout) -> Table {
    match layout {
        Layout::Neutrino64 => &INFO_64,
        Layout::Sdp7 => &INFO_7,
    }
}

fn request_table(layout: Layout) -> Table {
    match layout {
        Layout::Neutrino64 => &REQUEST_64,
        Layout::Sdp7 => &REQUEST_7,
    }
}

fn reply_table(layout: Layout) -> Table {
    match layout {
        Layout::Neutrino64 => &REPLY_64,
        Layout::Sdp7 => &REPLY_7,
    }
}

const INFO_64: [(&str, usize, usize); 13] = info_fields("reserved");
const INFO_7: [(&str, usize, usize); 13] = info_fields("type_id");

/// The `_msg_info` table; `last` is the 6.4 or 7.x name of the last word.
const fn info_fields(last: &'static str) -> [(&'static str, usize, usize); 13] {
    [
        ("nd", 0, 4),
        ("srcnd", 4, 4),
        ("pid", 8, 4),
        ("tid", 12, 4),
        ("chid", 16, 4),
        ("scoid", 20, 4),
        ("coid", 24, 4),
        ("msglen", 28, 4),
        ("srcmsglen", 32, 4),
        ("dstmsglen", 36, 4),
        ("priority", 40, 2),
        ("flags", 42, 2),
        (last, 44, 4),
    ]
}

const REQUEST_64: [(&str, usize, usize); 23] = [
    ("type", 0, 2),
    ("combine_len", 2, 2),
    ("prot", 4, 4),
    ("offset", 8, 8),
    ("info.nd", 16, 4),
    ("info.srcnd", 20, 4),
    ("info.pid", 24, 4),
    ("info.tid", 28, 4),
    ("info.chid", 32, 4),
    ("info.scoid", 36, 4),
    ("info.coid", 40, 4),
    ("info.msglen", 44, 4),
    ("info.srcmsglen", 48, 4),
    ("info.dstmsglen", 52, 4),
    ("info.priority", 56, 2),
    ("info.flags", 58, 2),
    ("info.reserved", 60, 4),
    ("zero[0]", 64, 4),
    ("zero[1]", 68, 4),
    ("zero[2]", 72, 4),
    ("zero[3]", 76, 4),
    ("zero[4]", 80, 4),
    ("zero[5]", 84, 4),
];

const REQUEST_7: [(&str, usize, usize); 23] = [
    ("type", 0, 2),
    ("combine_len", 2, 2),
    ("prot", 4, 4),
    ("offset", 8, 8),
    ("info.nd", 16, 4),
    ("info.srcnd", 20, 4),
    ("info.pid", 24, 4),
    ("info.tid", 28, 4),
    ("info.chid", 32, 4),
    ("info.scoid", 36, 4),
    ("info.coid", 40, 4),
    ("info.msglen", 44, 4),
    ("info.srcmsglen", 48, 4),
    ("info.dstmsglen", 52, 4),
    ("info.priority", 56, 2),
    ("info.flags", 58, 2),
    ("info.type_id", 60, 4),
    ("required_prot", 64, 4),
    ("zero[0]", 68, 4),
    ("zero[1]", 72, 4),
    ("zero[2]", 76, 4),
    ("zero[3]", 80, 4),
    ("zero[4]", 84, 4),
];

const REPLY_64: [(&str, usize, usize); 5] = [
    ("zero", 0, 4),
    ("flags", 4, 4),
    ("offset", 8, 8),
    ("coid", 16, 4),
    ("fd", 20, 4),
];

const REPLY_7: [(&str, usize, usize); 5] = [
    ("zero", 0, 4),
    ("allowed_prot", 4, 4),
    ("offset", 8, 8),
    ("coid", 16, 4),
    ("fd", 20, 4),
];

/// Reads every field of `table` out of `bytes`.
fn fields_of(bytes: &[u8], table: Table) -> Vec<Field> {
    table
        .iter()
        .map(|&(name, offset, size)| Field {
            name,
            offset,
            size,
            value: le_value(&bytes[offset..offset + size]),
        })
        .collect()
}

/// A little-endian unsigned value of up to 8 bytes.
fn le_value(bytes: &[u8]) -> u64 {
    bytes.iter().rev().fold(0, |acc, &b| (acc << 8) | u64::from(b))
}

/// The first `N` bytes, or the error naming `what` and both lengths.
fn prefix<'a, const N: usize>(what: &'static str, bytes: &'a [u8]) -> Result<&'a [u8; N], WireError> {
    bytes.first_chunk::<N>().ok_or(WireError::TooShort {
        what,
        expected: N,
        got: bytes.len(),
    })
}

/// Sequential little-endian reads over a buffer whose length was checked.
struct Reader<'a> {
    rest: &'a [u8],
}

impl<'a> Reader<'a> {
    fn new<const N: usize>(bytes: &'a [u8; N]) -> Reader<'a> {
        Reader { rest: bytes }
    }

    fn take<const K: usize>(&mut self) -> [u8; K] {
        let (head, rest) = self
            .rest
            .split_first_chunk::<K>()
            .expect("reads stay inside the checked structure size");
        self.rest = rest;
        *head
    }

    fn u16(&mut self) -> u16 {
        u16::from_le_bytes(self.take())
    }

    fn u32(&mut self) -> u32 {
        u32::from_le_bytes(self.take())
    }

    fn i32(&mut self) -> i32 {
        i32::from_le_bytes(self.take())
    }

    fn u64(&mut self) -> u64 {
        u64::from_le_bytes(self.take())
    }
}

/// Sequential little-endian writes into an `N`-byte structure.
struct Writer<const N: usize> {
    buf: [u8; N],
    at: usize,
}

impl<const N: usize> Writer<N> {
    fn new() -> Self {
        Writer { buf: [0; N], at: 0 }
    }

    fn put(&mut self, bytes: &[u8]) {
        self.buf[self.at..self.at + bytes.len()].copy_from_slice(bytes);
        self.at += bytes.len();
    }

    fn u16(&mut self, v: u16) {
        self.put(&v.to_le_bytes());
    }

    fn u32(&mut self, v: u32) {
        self.put(&v.to_le_bytes());
    }

    fn i32(&mut self, v: i32) {
        self.put(&v.to_le_bytes());
    }

    fn u64(&mut self, v: u64) {
        self.put(&v.to_le_bytes());
    }

    fn finish(self) -> [u8; N] {
        debug_assert_eq!(self.at, N, "every byte of the structure is written");
        self.buf
    }
}

#[cfg(test)]
mod tests;
