//! Tests of the `_IO_MMAP` codec: quickcheck round trips, no panic on any
//! input, golden bytes written out by hand from the layout in
//! spec/sources.md §Q1.3, and the exact error messages.

use super::*;
use quickcheck::{Arbitrary, Gen, QuickCheck};

impl Arbitrary for Layout {
    fn arbitrary(g: &mut Gen) -> Self {
        *g.choose(&Layout::ALL).expect("non-empty")
    }
}

impl Arbitrary for MsgInfo {
    fn arbitrary(g: &mut Gen) -> Self {
        MsgInfo {
            nd: u32::arbitrary(g),
            srcnd: u32::arbitrary(g),
            pid: i32::arbitrary(g),
            tid: i32::arbitrary(g),
            chid: i32::arbitrary(g),
            scoid: i32::arbitrary(g),
            coid: i32::arbitrary(g),
            msglen: i32::arbitrary(g),
            srcmsglen: i32::arbitrary(g),
            dstmsglen: i32::arbitrary(g),
            priority: i16::arbitrary(g),
            flags: i16::arbitrary(g),
            reserved: u32::arbitrary(g),
        }
    }
}

impl Arbitrary for IoMmapRequest {
    fn arbitrary(g: &mut Gen) -> Self {
        IoMmapRequest {
            layout: Layout::arbitrary(g),
            combine_len: u16::arbitrary(g),
            prot: Prot::from_bits_retain(u32::arbitrary(g)),
            offset: u64::arbitrary(g),
            info: MsgInfo::arbitrary(g),
            zero: [0; 6].map(|_: u32| u32::arbitrary(g)),
        }
    }
}

impl Arbitrary for IoMmapReply {
    fn arbitrary(g: &mut Gen) -> Self {
        IoMmapReply {
            layout: Layout::arbitrary(g),
            zero: u32::arbitrary(g),
            flags: u32::arbitrary(g),
            offset: u64::arbitrary(g),
            coid: i32::arbitrary(g),
            fd: i32::arbitrary(g),
        }
    }
}

fn qc() -> QuickCheck {
    QuickCheck::new().tests(2000).rng(Gen::new(200))
}

// ---- round trips -----------------------------------------------------------

fn prop_info_round_trip(info: MsgInfo) -> bool {
    MsgInfo::decode(&info.encode()) == Ok(info)
}

fn prop_request_round_trip(req: IoMmapRequest) -> bool {
    IoMmapRequest::decode(&req.encode(), req.layout) == Ok(req)
}

fn prop_reply_round_trip(rep: IoMmapReply) -> bool {
    IoMmapReply::decode(&rep.encode(), rep.layout) == Ok(rep)
}

#[test]
fn msg_info_round_trips() {
    qc().quickcheck(prop_info_round_trip as fn(MsgInfo) -> bool);
}

#[test]
fn request_round_trips() {
    qc().quickcheck(prop_request_round_trip as fn(IoMmapRequest) -> bool);
}

#[test]
fn reply_round_trips() {
    qc().quickcheck(prop_reply_round_trip as fn(IoMmapReply) -> bool);
}

/// Bytes that decode re-encode to themselves (the fixed prefix of them).
fn prop_decoded_bytes_re_encode(mut bytes: Vec<u8>, layout: Layout) -> bool {
    if bytes.len() >= 2 {
        bytes[..2].copy_from_slice(&IO_MMAP.to_le_bytes());
    }
    let req_ok = IoMmapRequest::decode(&bytes, layout).is_ok_and(|r| r.encode()[..] == bytes[..IoMmapRequest::SIZE]);
    let rep_ok = IoMmapReply::decode(&bytes, layout).is_ok_and(|r| r.encode()[..] == bytes[..IoMmapReply::SIZE]);
    req_ok == (bytes.len() >= IoMmapRequest::SIZE) && rep_ok == (bytes.len() >= IoMmapReply::SIZE)
}

#[test]
fn decoded_bytes_re_encode() {
    qc().quickcheck(prop_decoded_bytes_re_encode as fn(Vec<u8>, Layout) -> bool);
}

// ---- never a panic -------------------------------------------------------

/// Decoding any byte string returns (Ok or a described error) and the error
/// matches the input: too short exactly when the buffer is short.
fn prop_decode_any_bytes(bytes: Vec<u8>, layout: Layout) -> bool {
    let short = |n: usize| bytes.len() < n;
    let req = IoMmapRequest::decode(&bytes, layout);
    let rep = IoMmapReply::decode(&bytes, layout);
    let info = MsgInfo::decode(&bytes);
    matches!(req, Err(WireError::TooShort { .. })) == short(88)
        && rep.is_err() == short(24)
        && info.is_err() == short(48)
}

#[test]
fn decoding_any_bytes_never_panics() {
    qc().quickcheck(prop_decode_any_bytes as fn(Vec<u8>, Layout) -> bool);
}

#[test]
fn decoding_every_length_up_to_twice_the_size_is_total() {
    let bytes: Vec<u8> = (0..=200u8).collect();
    for n in 0..bytes.len() {
        for layout in Layout::ALL {
            let _ = IoMmapRequest::decode(&bytes[..n], layout);
            let _ = IoMmapReply::decode(&bytes[..n], layout);
            let _ = MsgInfo::decode(&bytes[..n]);
        }
    }
}

// ---- golden bytes ----------------------------------------------------------

/// A request written out byte by byte, little-endian, from the layout.
#[rustfmt::skip]
const GOLDEN_REQUEST: [u8; 88] = [
    0x12, 0x01,                                     // @0  type = _IO_MMAP 0x112
    0x58, 0x00,                                     // @2  combine_len = 88
    0x00, 0x03, 0x00, 0x00,                         // @4  prot = PROT_READ|PROT_WRITE 0x300
    0x00, 0x60, 0x45, 0x23, 0x01, 0x00, 0x00, 0x00, // @8  offset = 0x1_2345_6000
    0x01, 0x00, 0x00, 0x00,                         // @16 info.nd = 1
    0x02, 0x00, 0x00, 0x00,                         // @20 info.srcnd = 2
    0x34, 0x12, 0x00, 0x00,                         // @24 info.pid = 0x1234
    0x05, 0x00, 0x00, 0x00,                         // @28 info.tid = 5
    0x06, 0x00, 0x00, 0x00,                         // @32 info.chid = 6
    0x02, 0x01, 0x00, 0x40,                         // @36 info.scoid = 0x4000_0102
    0x03, 0x00, 0x00, 0x00,                         // @40 info.coid = 3 (the client's fd)
    0x58, 0x00, 0x00, 0x00,                         // @44 info.msglen = 88
    0x59, 0x00, 0x00, 0x00,                         // @48 info.srcmsglen = 89
    0x18, 0x00, 0x00, 0x00,                         // @52 info.dstmsglen = 24
    0x0a, 0x00,                                     // @56 info.priority = 10
    0xff, 0xff,                                     // @58 info.flags = -1
    0xef, 0xbe, 0xad, 0xde,                         // @60 info.reserved / type_id = 0xdeadbeef
    0x00, 0x01, 0x00, 0x00,                         // @64 zero[0] / required_prot = PROT_READ
    0x00, 0x00, 0x00, 0x00,                         // @68 zero[1]
    0x00, 0x00, 0x00, 0x00,                         // @72 zero[2]
    0x00, 0x00, 0x00, 0x00,                         // @76 zero[3]
    0x00, 0x00, 0x00, 0x00,                         // @80 zero[4]
    0x0d, 0x0c, 0x0b, 0x0a,                         // @84 zero[5] = 0x0a0b0c0d
];

/// A reply written out byte by byte.
#[rustfmt::skip]
const GOLDEN_REPLY: [u8; 24] = [
    0x00, 0x00, 0x00, 0x00,                         // @0  zero
    0x00, 0x03, 0x00, 0x00,                         // @4  flags / allowed_prot = 0x300
    0x00, 0x10, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // @8  offset = 0x1000
    0x03, 0x00, 0x00, 0x40,                         // @16 coid = 0x4000_0003
    0xff, 0xff, 0xff, 0xff,                         // @20 fd = -1
];

fn golden_info() -> MsgInfo {
    MsgInfo {
        nd: 1,
        srcnd: 2,
        pid: 0x1234,
        tid: 5,
        chid: 6,
        scoid: 0x4000_0102,
        coid: 3,
        msglen: 88,
        srcmsglen: 89,
        dstmsglen: 24,
        priority: 10,
        flags: -1,
        reserved: 0xdead_beef,
    }
}

fn golden_request(layout: Layout) -> IoMmapRequest {
    IoMmapRequest {
        zero: [0x100, 0, 0, 0, 0, 0x0a0b_0c0d],
        ..IoMmapRequest::new(layout, Prot::READ | Prot::WRITE, 0x1_2345_6000, golden_info())
    }
}

fn golden_reply(layout: Layout) -> IoMmapReply {
    IoMmapReply {
        flags: 0x300,
        offset: 0x1000,
        fd: -1,
        ..IoMmapReply::new(layout, 0x4000_0003)
    }
}

#[test]
fn golden_request_encodes_and_decodes() {
    for layout in Layout::ALL {
        assert_eq!(golden_request(layout).encode(), GOLDEN_REQUEST);
        assert_eq!(
            IoMmapRequest::decode(&GOLDEN_REQUEST, layout),
            Ok(golden_request(layout))
        );
    }
    assert_eq!(MsgInfo::decode(&GOLDEN_REQUEST[16..64]), Ok(golden_info()));
}

#[test]
fn golden_reply_encodes_and_decodes() {
    for layout in Layout::ALL {
        assert_eq!(golden_reply(layout).encode(), GOLDEN_REPLY);
        assert_eq!(IoMmapReply::decode(&GOLDEN_REPLY, layout), Ok(golden_reply(layout)));
    }
}

/// (name, offset, size, value) of every request field in the 6.4 layout,
/// copied from the layout by hand.
#[rustfmt::skip]
const REQUEST_FIELDS_64: [(&str, usize, usize, u64); 23] = [
    ("type", 0, 2, 0x112), ("combine_len", 2, 2, 88), ("prot", 4, 4, 0x300),
    ("offset", 8, 8, 0x1_2345_6000), ("info.nd", 16, 4, 1), ("info.srcnd", 20, 4, 2),
    ("info.pid", 24, 4, 0x1234), ("info.tid", 28, 4, 5), ("info.chid", 32, 4, 6),
    ("info.scoid", 36, 4, 0x4000_0102), ("info.coid", 40, 4, 3), ("info.msglen", 44, 4, 88),
    ("info.srcmsglen", 48, 4, 89), ("info.dstmsglen", 52, 4, 24), ("info.priority", 56, 2, 10),
    ("info.flags", 58, 2, 0xffff), ("info.reserved", 60, 4, 0xdead_beef), ("zero[0]", 64, 4, 0x100),
    ("zero[1]", 68, 4, 0), ("zero[2]", 72, 4, 0), ("zero[3]", 76, 4, 0), ("zero[4]", 80, 4, 0),
    ("zero[5]", 84, 4, 0x0a0b_0c0d),
];

#[test]
fn request_fields_sit_at_the_documented_offsets() {
    let got = golden_request(Layout::Neutrino64).fields();
    let want: Vec<Field> = REQUEST_FIELDS_64
        .iter()
        .map(|&(name, offset, size, value)| Field {
            name,
            offset,
            size,
            value,
        })
        .collect();
    assert_eq!(got, want);
    let mut end = 0;
    for f in &got {
        assert_eq!(f.offset, end, "{} leaves a gap or overlaps", f.name);
        end += f.size;
    }
    assert_eq!(end, IoMmapRequest::SIZE);
}

#[test]
fn sdp7_renames_three_words_and_moves_nothing() {
    let old = golden_request(Layout::Neutrino64).fields();
    let new = golden_request(Layout::Sdp7).fields();
    let renamed: Vec<(&str, &str)> = old
        .iter()
        .zip(&new)
        .inspect(|(o, n)| assert_eq!((o.offset, o.size, o.value), (n.offset, n.size, n.value)))
        .filter(|(o, n)| o.name != n.name)
        .map(|(o, n)| (o.name, n.name))
        .collect();
    assert_eq!(
        renamed,
        [
            ("info.reserved", "info.type_id"),
            ("zero[0]", "required_prot"),
            ("zero[1]", "zero[0]"),
            ("zero[2]", "zero[1]"),
            ("zero[3]", "zero[2]"),
            ("zero[4]", "zero[3]"),
            ("zero[5]", "zero[4]"),
        ]
    );
    let names = |r: IoMmapReply| {
        r.fields()
            .iter()
            .map(|f| (f.name, f.offset, f.value))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        names(golden_reply(Layout::Neutrino64)),
        [
            ("zero", 0, 0),
            ("flags", 4, 0x300),
            ("offset", 8, 0x1000),
            ("coid", 16, 0x4000_0003),
            ("fd", 20, 0xffff_ffff)
        ]
    );
    assert_eq!(names(golden_reply(Layout::Sdp7))[1], ("allowed_prot", 4, 0x300));
}

#[test]
fn msg_info_fields_name_the_last_word_by_layout() {
    let info = golden_info();
    let last = |l| info.fields(l).last().map(|f| (f.name, f.offset, f.value));
    assert_eq!(last(Layout::Neutrino64), Some(("reserved", 44, 0xdead_beef)));
    assert_eq!(last(Layout::Sdp7), Some(("type_id", 44, 0xdead_beef)));
    assert_eq!(info.type_id(Layout::Neutrino64), None);
    assert_eq!(info.type_id(Layout::Sdp7), Some(0xdead_beef));
}

#[test]
fn seven_x_accessors_exist_only_in_the_seven_x_layout() {
    assert_eq!(golden_request(Layout::Neutrino64).required_prot(), None);
    assert_eq!(golden_request(Layout::Sdp7).required_prot(), Some(Prot::READ));
    assert_eq!(golden_reply(Layout::Neutrino64).allowed_prot(), None);
    assert_eq!(
        golden_reply(Layout::Sdp7).allowed_prot(),
        Some(Prot::READ | Prot::WRITE)
    );
}

#[test]
fn unknown_prot_bits_survive() {
    let mut bytes = GOLDEN_REQUEST;
    bytes[4..8].copy_from_slice(&0x8000_1100u32.to_le_bytes());
    let req = IoMmapRequest::decode(&bytes, Layout::Neutrino64).expect("valid");
    assert_eq!(req.prot.bits(), 0x8000_1100);
    assert_eq!(req.encode(), bytes);
}

// ---- errors --------------------------------------------------------------

#[test]
fn short_buffers_say_how_short() {
    let err = IoMmapRequest::decode(&GOLDEN_REQUEST[..87], Layout::Neutrino64).unwrap_err();
    assert_eq!(
        err,
        WireError::TooShort {
            what: "_io_mmap request",
            expected: 88,
            got: 87
        }
    );
    assert_eq!(err.to_string(), "_io_mmap request too short: expected 88 bytes, got 87");
    let err = IoMmapReply::decode(&[], Layout::Sdp7).unwrap_err();
    assert_eq!(err.to_string(), "_io_mmap_reply too short: expected 24 bytes, got 0");
    let err = MsgInfo::decode(&GOLDEN_REQUEST[16..63]).unwrap_err();
    assert_eq!(err.to_string(), "_msg_info too short: expected 48 bytes, got 47");
}

#[test]
fn wrong_type_names_both_types() {
    let mut bytes = GOLDEN_REQUEST;
    bytes[0] = 0x13; // 0x113 is _IO_MSG, the next I/O message type.
    let err = IoMmapRequest::decode(&bytes, Layout::Sdp7).unwrap_err();
    assert_eq!(
        err,
        WireError::WrongType {
            what: "_io_mmap request",
            expected: 0x112,
            got: 0x113
        }
    );
    assert_eq!(
        err.to_string(),
        "_io_mmap request has the wrong type: expected 0x112 (_IO_MMAP), got 0x113"
    );
}

#[test]
fn a_short_buffer_is_reported_before_its_type() {
    let err = IoMmapRequest::decode(&[0xff, 0xff, 0, 0], Layout::Neutrino64).unwrap_err();
    assert!(matches!(err, WireError::TooShort { got: 4, .. }), "{err}");
}

#[test]
fn trailing_bytes_are_ignored() {
    let mut bytes = GOLDEN_REQUEST.to_vec();
    bytes.extend_from_slice(&[0xaa; 16]);
    assert_eq!(
        IoMmapRequest::decode(&bytes, Layout::Neutrino64),
        Ok(golden_request(Layout::Neutrino64))
    );
}
