//! Flag words with QNX Neutrino's numeric values, their C names, and their
//! Linux values.
//!
//! The model and traces use QNX numbering everywhere (a number in a trace is a
//! QNX flag word, whatever the profile); Linux numbering exists only at the
//! real backend's syscall boundary. Unknown bits are kept (`from_bits_retain`)
//! because "unknown bits" is itself a tested behaviour.

use bitflags::bitflags;

bitflags! {
    /// `PROT_*` protection bits (QNX `<sys/mman.h>`).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct Prot: u32 {
        /// PROT_READ: the region can be read.
        const READ = 0x100;
        /// PROT_WRITE: the region can be written.
        const WRITE = 0x200;
        /// PROT_EXEC: the region can be executed.
        const EXEC = 0x400;
        /// PROT_NOCACHE: caching disabled (dual-ported RAM, device memory).
        const NOCACHE = 0x800;
    }
}

impl Prot {
    /// PROT_NONE.
    pub const NONE: Prot = Prot::empty();
    /// PROT_MASK: every defined protection bit.
    pub const MASK: u32 = 0xF00;
}

bitflags! {
    /// `MAP_*` flags (QNX 6.4 `<sys/mman.h>`, plus Linux-only flags in QNX's
    /// reserved nibble so a Linux flag is an unknown bit to Neutrino, and
    /// MAP_GROWSDOWN at Linux's 0x100, a PROT bit Neutrino refuses among flags).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MapFlags: u32 {
        /// MAP_SHARED: changes are shared.
        const SHARED = 0x1;
        /// MAP_PRIVATE: changes are private (copy-on-write).
        const PRIVATE = 0x2;
        /// MAP_FIXED: place the mapping exactly at addr.
        const FIXED = 0x10;
        /// MAP_ELF: an executable image mapping.
        const ELF = 0x20;
        /// MAP_NOSYNCFILE.
        const NOSYNCFILE = 0x40;
        /// MAP_LAZY: do not allocate backing memory up front.
        const LAZY = 0x80;
        /// MAP_GROWSDOWN (Linux only): a stack that grows down on a fault just
        /// below it. QNX has no such flag; the bit is Linux's own value, which
        /// in QNX numbering is PROT_READ found among the flags (MMAP-EINVAL-4).
        const GROWSDOWN = 0x100;
        /// MAP_STACK: a stack; offset is the guard size.
        const STACK = 0x1000;
        /// MAP_BELOW: search for an address below the hint.
        const BELOW = 0x2000;
        /// MAP_NOINIT.
        const NOINIT = 0x4000;
        /// MAP_PHYS: offset is a physical address.
        const PHYS = 0x10000;
        /// MAP_NOX64K.
        const NOX64K = 0x20000;
        /// MAP_BELOW16M.
        const BELOW16M = 0x40000;
        /// MAP_ANON: anonymous memory.
        const ANON = 0x80000;
        /// MAP_SYSRAM: a report bit, invalid as input.
        const SYSRAM = 0x100_0000;
        /// MAP_NORESERVE (Linux only).
        const NORESERVE = 0x1000_0000;
        /// MAP_POPULATE (Linux only).
        const POPULATE = 0x2000_0000;
        /// MAP_LOCKED (Linux only).
        const LOCKED = 0x4000_0000;
        /// MAP_FIXED_NOREPLACE (Linux only).
        const FIXED_NOREPLACE = 0x8000_0000;
    }
}

impl MapFlags {
    /// MAP_TYPE: the share-type field.
    pub const TYPE_MASK: u32 = 0xF;
    /// MAP_PRIVATEANON: share type 3, an alias for MAP_PRIVATE|MAP_ANON.
    pub const PRIVATEANON: u32 = 0x3;
    /// MAP_RESERVMASK (QNX 6.4): bits a caller may not pass.
    pub const RESERVED_MASK: u32 = 0xF000_0000;
    /// PG_MASK: page-table report bits, invalid as input.
    pub const PG_MASK: u32 = 0x00F0_0000;

    /// The share type (`flags & MAP_TYPE`).
    pub fn share_type(self) -> u32 {
        self.bits() & Self::TYPE_MASK
    }
}

bitflags! {
    /// `MCL_*` flags for mlockall.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MclFlags: u32 {
        /// MCL_CURRENT: lock everything mapped now.
        const CURRENT = 1;
        /// MCL_FUTURE: lock everything mapped later.
        const FUTURE = 2;
        /// MCL_ONFAULT (Linux only): lock pages as they are faulted in.
        const ONFAULT = 4;
    }
}

bitflags! {
    /// `MLOCK_*` flags for mlock2 (Linux only; QNX has no mlock2, so the
    /// numbers are Linux's).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MlockFlags: u32 {
        /// MLOCK_ONFAULT: lock the range, fault nothing in.
        const ONFAULT = 1;
    }
}

bitflags! {
    /// `MREMAP_*` flags (Linux only; QNX has no mremap, so the numbers are
    /// Linux's).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MremapFlags: u32 {
        /// MREMAP_MAYMOVE: the mapping may move.
        const MAYMOVE = 1;
        /// MREMAP_FIXED: move it to `new_addr`.
        const FIXED = 2;
        /// MREMAP_DONTUNMAP: move it, leaving the old range mapped.
        const DONTUNMAP = 4;
    }
}

bitflags! {
    /// `MS_*` flags for msync (QNX values).
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct MsyncFlags: u32 {
        /// MS_ASYNC.
        const ASYNC = 0x1;
        /// MS_SYNC.
        const SYNC = 0x2;
        /// MS_INVALIDATE.
        const INVALIDATE = 0x4;
        /// MS_CACHE_ONLY (QNX).
        const CACHE_ONLY = 0x8;
        /// MS_INVALIDATE_ICACHE (QNX).
        const INVALIDATE_ICACHE = 0x10;
    }
}

bitflags! {
    /// `O_*` open flags (QNX values). The access mode is the low two bits.
    #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
    pub struct OFlags: u32 {
        /// O_WRONLY (access mode 1).
        const WRONLY = 0x1;
        /// O_RDWR (access mode 2).
        const RDWR = 0x2;
        /// O_APPEND.
        const APPEND = 0x8;
        /// O_CREAT.
        const CREAT = 0x100;
        /// O_TRUNC.
        const TRUNC = 0x200;
        /// O_EXCL.
        const EXCL = 0x400;
        /// O_NOCTTY.
        const NOCTTY = 0x800;
    }
}

impl OFlags {
    /// O_RDONLY (access mode 0).
    pub const RDONLY: OFlags = OFlags::empty();

    /// Whether the access mode allows reading.
    pub fn readable(self) -> bool {
        self.bits() & 3 != 1
    }

    /// Whether the access mode allows writing.
    pub fn writable(self) -> bool {
        matches!(self.bits() & 3, 1 | 2)
    }
}

/// A flag word's C names, used to read and write traces.
pub trait FlagNames: Sized + Copy {
    /// (C name, QNX value) for every named flag, in printing order.
    const NAMES: &'static [(&'static str, u32)];
    /// The raw QNX value.
    fn raw(self) -> u32;
    /// Builds the word from raw QNX bits, keeping unknown ones.
    fn from_raw(bits: u32) -> Self;

    /// The value of the C name `name`, as [`FlagNames::NAMES`] gives it: a
    /// `match` on the name, which compiles to a comparison of lengths and
    /// then of bytes, where a search of the table compares each name in turn.
    fn named(name: &str) -> Option<u32>;

    /// Parses `"PROT_READ|PROT_WRITE"`, a name list, or a number in the QNX
    /// numbering (`"0x300"`).
    fn parse_names(text: &str) -> Result<Self, String> {
        let mut bits = 0u32;
        let mut rest = text;
        // A byte search for the ASCII `|` (a char search costs more per
        // word); the pieces are those of `split('|')`.
        while let Some(at) = rest.bytes().position(|b| b == b'|') {
            bits |= Self::word_value(&rest[..at])?;
            rest = &rest[at + 1..];
        }
        bits |= Self::word_value(rest)?;
        Ok(Self::from_raw(bits))
    }

    /// The value of one word of a list: a name or a number, with spaces
    /// around it allowed. The word as written is tried as a name first: a
    /// name holds no spaces, so the common word needs no trimming.
    fn word_value(word: &str) -> Result<u32, String> {
        if let Some(v) = Self::named(word) {
            return Ok(v);
        }
        let part = word.trim();
        Self::named(part).or_else(|| parse_u32(part)).ok_or_else(|| {
            let known: Vec<&str> = Self::NAMES.iter().map(|(n, _)| *n).collect();
            format!(
                "unknown flag `{part}` (expected one of {} or a number)",
                known.join(", ")
            )
        })
    }

    /// Formats as names joined by `|`, with any leftover bits as hex.
    fn format_names(self) -> String {
        let mut left = self.raw();
        let mut parts = Vec::new();
        for &(name, v) in Self::NAMES {
            if v != 0 && left & v == v {
                parts.push(name.to_string());
                left &= !v;
            }
        }
        if left != 0 || parts.is_empty() {
            if parts.is_empty() && left == 0 {
                return Self::NAMES
                    .iter()
                    .find(|(_, v)| *v == 0)
                    .map_or("0".into(), |(n, _)| n.to_string());
            }
            parts.push(format!("{left:#x}"));
        }
        parts.join("|")
    }
}

fn parse_u32(text: &str) -> Option<u32> {
    match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
        Some(hex) => u32::from_str_radix(hex, 16).ok(),
        None => text.parse().ok(),
    }
}

/// Reads a flag word from C names joined by `|` (`"PROT_READ|PROT_WRITE"`) or
/// from a number in the QNX numbering (a JSON integer or a `"0x..."` string).
struct FlagVisitor<T>(std::marker::PhantomData<T>);

impl<T: FlagNames> serde::de::Visitor<'_> for FlagVisitor<T> {
    type Value = T;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("flag names joined by `|` (such as \"PROT_READ|PROT_WRITE\") or a number")
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<T, E> {
        T::parse_names(text).map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<T, E> {
        u32::try_from(v)
            .map(T::from_raw)
            .map_err(|_| E::custom(format!("flag word {v:#x} does not fit in 32 bits")))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<T, E> {
        u64::try_from(v)
            .map_err(|_| E::custom(format!("flag word {v} is negative")))
            .and_then(|v| self.visit_u64(v))
    }
}

macro_rules! flag_names {
    ($ty:ty, [$(($name:literal, $val:expr)),* $(,)?]) => {
        impl FlagNames for $ty {
            const NAMES: &'static [(&'static str, u32)] = &[$(($name, $val)),*];
            fn named(name: &str) -> Option<u32> {
                match name {
                    $($name => Some($val),)*
                    _ => None,
                }
            }
            fn raw(self) -> u32 {
                self.bits()
            }
            fn from_raw(bits: u32) -> Self {
                Self::from_bits_retain(bits)
            }
        }

        impl serde::Serialize for $ty {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(&self.format_names())
            }
        }

        impl<'de> serde::Deserialize<'de> for $ty {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                d.deserialize_any(FlagVisitor(std::marker::PhantomData))
            }
        }
    };
}

flag_names!(
    Prot,
    [
        ("PROT_READ", 0x100),
        ("PROT_WRITE", 0x200),
        ("PROT_EXEC", 0x400),
        ("PROT_NOCACHE", 0x800),
        ("PROT_NONE", 0)
    ]
);
flag_names!(
    MapFlags,
    [
        ("MAP_SHARED", 0x1),
        ("MAP_PRIVATE", 0x2),
        ("MAP_FIXED", 0x10),
        ("MAP_ELF", 0x20),
        ("MAP_NOSYNCFILE", 0x40),
        ("MAP_LAZY", 0x80),
        ("MAP_GROWSDOWN", 0x100),
        ("MAP_STACK", 0x1000),
        ("MAP_BELOW", 0x2000),
        ("MAP_NOINIT", 0x4000),
        ("MAP_PHYS", 0x10000),
        ("MAP_NOX64K", 0x20000),
        ("MAP_BELOW16M", 0x40000),
        ("MAP_ANON", 0x80000),
        ("MAP_ANONYMOUS", 0x80000),
        ("MAP_SYSRAM", 0x100_0000),
        ("MAP_NORESERVE", 0x1000_0000),
        ("MAP_POPULATE", 0x2000_0000),
        ("MAP_LOCKED", 0x4000_0000),
        ("MAP_FIXED_NOREPLACE", 0x8000_0000),
        ("MAP_PRIVATEANON", 0x3),
    ]
);
flag_names!(MclFlags, [("MCL_CURRENT", 1), ("MCL_FUTURE", 2), ("MCL_ONFAULT", 4)]);
flag_names!(MlockFlags, [("MLOCK_ONFAULT", 1)]);
flag_names!(
    MremapFlags,
    [("MREMAP_MAYMOVE", 1), ("MREMAP_FIXED", 2), ("MREMAP_DONTUNMAP", 4)]
);
flag_names!(
    MsyncFlags,
    [
        ("MS_ASYNC", 1),
        ("MS_SYNC", 2),
        ("MS_INVALIDATE", 4),
        ("MS_CACHE_ONLY", 8),
        ("MS_INVALIDATE_ICACHE", 0x10)
    ]
);
flag_names!(
    OFlags,
    [
        ("O_WRONLY", 1),
        ("O_RDWR", 2),
        ("O_APPEND", 8),
        ("O_CREAT", 0x100),
        ("O_TRUNC", 0x200),
        ("O_EXCL", 0x400),
        ("O_NOCTTY", 0x800),
        ("O_RDONLY", 0)
    ]
);

/// Linux numeric values, for the real backend's syscall boundary.
pub mod linux {
    use super::*;

    /// The Linux `PROT_*` word, or `None` when a bit has no Linux equivalent.
    pub fn prot(p: Prot) -> Option<u32> {
        convert(p.bits(), &[(0x100, 1), (0x200, 2), (0x400, 4)])
    }

    /// The Linux `MAP_*` word, or `None` when a flag has no Linux equivalent.
    pub fn map_flags(f: MapFlags) -> Option<u32> {
        convert(
            f.bits(),
            &[
                (0x1, 0x1),
                (0x2, 0x2),
                (0x10, 0x10),
                (0x80000, 0x20),
                (0x100, 0x100),
                (0x1000, 0x20000),
                (0x1000_0000, 0x4000),
                (0x2000_0000, 0x8000),
                (0x4000_0000, 0x2000),
                (0x8000_0000, 0x10_0000),
            ],
        )
    }

    /// The Linux `O_*` word, or `None` when a flag has no Linux equivalent.
    pub fn oflags(f: OFlags) -> Option<u32> {
        convert(
            f.bits(),
            &[
                (1, 1),
                (2, 2),
                (8, 0x400),
                (0x100, 0x40),
                (0x200, 0x200),
                (0x400, 0x80),
                (0x800, 0x100),
            ],
        )
    }

    /// The Linux `MS_*` word, or `None` when a flag has no Linux equivalent.
    pub fn msync(f: MsyncFlags) -> Option<u32> {
        convert(f.bits(), &[(1, 1), (2, 4), (4, 2)])
    }

    /// The Linux `MLOCK_*` word (the same values).
    pub fn mlock2(f: MlockFlags) -> u32 {
        f.bits()
    }

    /// The Linux `MREMAP_*` word (the same values).
    pub fn mremap(f: MremapFlags) -> u32 {
        f.bits()
    }

    /// The Linux `MCL_*` word (the same values).
    pub fn mcl(f: MclFlags) -> u32 {
        f.bits()
    }

    fn convert(mut bits: u32, table: &[(u32, u32)]) -> Option<u32> {
        let mut out = 0;
        for &(qnx, lnx) in table {
            if bits & qnx != 0 {
                out |= lnx;
                bits &= !qnx;
            }
        }
        (bits == 0).then_some(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn qnx_values_are_the_documented_ones() {
        assert_eq!(Prot::READ.bits(), 0x100);
        assert_eq!(Prot::WRITE.bits(), 0x200);
        assert_eq!(Prot::EXEC.bits(), 0x400);
        assert_eq!(Prot::NOCACHE.bits(), 0x800);
        assert_eq!(MapFlags::SHARED.bits(), 1);
        assert_eq!(MapFlags::PRIVATE.bits(), 2);
        assert_eq!(MapFlags::FIXED.bits(), 0x10);
        assert_eq!(MapFlags::LAZY.bits(), 0x80);
        assert_eq!(MapFlags::STACK.bits(), 0x1000);
        assert_eq!(MapFlags::PHYS.bits(), 0x10000);
        assert_eq!(MapFlags::ANON.bits(), 0x80000);
    }

    #[test]
    fn names_parse_and_format() {
        let p = Prot::parse_names("PROT_READ|PROT_WRITE").unwrap();
        assert_eq!(p, Prot::READ | Prot::WRITE);
        assert_eq!(p.format_names(), "PROT_READ|PROT_WRITE");
        assert_eq!(Prot::NONE.format_names(), "PROT_NONE");
        assert_eq!(Prot::parse_names("0x1300").unwrap().bits(), 0x1300);
        assert_eq!(Prot::from_bits_retain(0x1100).format_names(), "PROT_READ|0x1000");
        assert!(Prot::parse_names("PROT_BOGUS").unwrap_err().contains("PROT_READ"));
        assert_eq!(OFlags::RDONLY.format_names(), "O_RDONLY");
    }

    /// `named` and `NAMES` come from one list: every name in the table has its value.
    fn names_agree<T: FlagNames>() {
        for &(name, value) in T::NAMES {
            assert_eq!(T::named(name), Some(value), "{name}");
        }
        assert_eq!(T::named(""), None);
    }

    #[test]
    fn every_table_name_is_matched() {
        names_agree::<Prot>();
        names_agree::<MapFlags>();
        names_agree::<MclFlags>();
        names_agree::<MlockFlags>();
        names_agree::<MremapFlags>();
        names_agree::<MsyncFlags>();
        names_agree::<OFlags>();
    }

    #[test]
    fn name_lists_split_as_before() {
        let map = |t: &str| MapFlags::parse_names(t).map(|f| f.bits());
        assert_eq!(map("MAP_PRIVATE|MAP_ANON"), Ok(0x80002));
        assert_eq!(map(" MAP_PRIVATE | MAP_ANONYMOUS |0x10"), Ok(0x80012));
        assert_eq!(map("MAP_PRIVATE"), Ok(2));
        assert!(map("MAP_PRIVATE|").unwrap_err().contains("unknown flag ``"));
        assert!(map("|MAP_PRIVATE").unwrap_err().contains("unknown flag ``"));
        assert!(map("").unwrap_err().contains("unknown flag ``"));
        assert!(map("MAP_PRIVATE||MAP_ANON").is_err());
        assert!(map("map_private").unwrap_err().contains("MAP_SHARED, MAP_PRIVATE"));
    }

    #[test]
    fn flag_words_read_from_names_or_numbers() {
        let read = |t: &str| serde_json::from_str::<Prot>(t);
        assert_eq!(read("\"PROT_READ|PROT_WRITE\"").unwrap(), Prot::READ | Prot::WRITE);
        assert_eq!(read("768").unwrap(), Prot::READ | Prot::WRITE);
        assert_eq!(read("\"0x300\"").unwrap(), Prot::READ | Prot::WRITE);
        assert!(read("-1").unwrap_err().to_string().contains("negative"));
        assert!(read("4294967296").unwrap_err().to_string().contains("32 bits"));
        assert!(read("true").is_err());
        assert_eq!(
            serde_json::to_string(&(MapFlags::SHARED | MapFlags::ANON)).unwrap(),
            "\"MAP_SHARED|MAP_ANON\""
        );
    }

    #[test]
    fn linux_values_convert() {
        assert_eq!(linux::prot(Prot::READ | Prot::WRITE), Some(3));
        assert_eq!(linux::prot(Prot::NOCACHE), None);
        assert_eq!(linux::map_flags(MapFlags::PRIVATE | MapFlags::ANON), Some(0x22));
        assert_eq!(linux::oflags(OFlags::CREAT | OFlags::RDWR), Some(0x42));
        assert!(OFlags::RDWR.readable() && OFlags::RDWR.writable());
        assert!(!OFlags::WRONLY.readable());
        assert!(!OFlags::RDONLY.writable());
    }
}
