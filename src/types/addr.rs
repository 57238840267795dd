//! Addresses, lengths and half-open address ranges.
//!
//! Every piece of address arithmetic in the model goes through these types, and
//! every operation that can overflow returns an `Option`: the syscall layer
//! decides which errno an overflow means, never the arithmetic.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A virtual (or, for physical memory objects, physical) address.
///
/// Serialized as a `"0x..."` string (JSON readers that use doubles would round
/// large addresses); read from a string of that form or from an integer.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Deserialize)]
#[serde(from = "Number")]
pub struct Addr(pub u64);

/// A length in bytes. Serialized as an integer; read from an integer or a
/// `"0x..."` string.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(from = "Number", into = "u64")]
pub struct Len(pub u64);

impl Serialize for Addr {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl From<Number> for Addr {
    fn from(n: Number) -> Addr {
        Addr(n.0)
    }
}

impl From<Number> for Len {
    fn from(n: Number) -> Len {
        Len(n.0)
    }
}

impl From<Len> for u64 {
    fn from(l: Len) -> u64 {
        l.0
    }
}

/// An unsigned 64-bit number read from a JSON integer or a `"0x..."` string.
#[derive(Clone, Copy, Debug)]
pub struct Number(pub u64);

impl<'de> Deserialize<'de> for Number {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Number, D::Error> {
        d.deserialize_any(NumberVisitor)
    }
}

struct NumberVisitor;

impl serde::de::Visitor<'_> for NumberVisitor {
    type Value = Number;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an unsigned integer or a \"0x...\" hex string")
    }

    fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Number, E> {
        Ok(Number(v))
    }

    fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Number, E> {
        u64::try_from(v)
            .map(Number)
            .map_err(|_| E::invalid_value(serde::de::Unexpected::Signed(v), &self))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<Number, E> {
        parse_hex(text)
            .map(Number)
            .ok_or_else(|| E::invalid_value(serde::de::Unexpected::Str(text), &self))
    }
}

/// Parses `"0x1f"` (either case of digits, at most 16 of them).
pub fn parse_hex(text: &str) -> Option<u64> {
    let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"))?;
    if digits.is_empty() || digits.len() > 16 {
        return None;
    }
    // One pass, each digit checked as it is added: a check of every digit
    // and then `from_str_radix` read each twice (16 digits cannot overflow).
    digits
        .bytes()
        .try_fold(0, |value, d| Some(value << 4 | u64::from(char::from(d).to_digit(16)?)))
}

impl Addr {
    /// The raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// `self + len`, or `None` when it wraps past 2^64.
    pub fn checked_add(self, len: Len) -> Option<Addr> {
        self.0.checked_add(len.0).map(Addr)
    }

    /// `self - len`, or `None` below zero.
    pub fn checked_sub(self, len: Len) -> Option<Addr> {
        self.0.checked_sub(len.0).map(Addr)
    }

    /// The distance from `base` up to `self`, or `None` when `self < base`.
    pub fn offset_from(self, base: Addr) -> Option<Len> {
        self.0.checked_sub(base.0).map(Len)
    }

    /// Rounded down to a multiple of `page` (a power of two).
    pub fn align_down(self, page: u64) -> Addr {
        debug_assert!(page.is_power_of_two());
        Addr(self.0 & !(page - 1))
    }

    /// Rounded up to a multiple of `page`, or `None` when that wraps.
    pub fn align_up(self, page: u64) -> Option<Addr> {
        align_up(self.0, page).map(Addr)
    }

    /// Whether `self` is a multiple of `page` (a power of two).
    pub fn is_aligned(self, page: u64) -> bool {
        page_offset(self.0, page) == 0
    }

    /// The offset of `self` within its page (a power of two).
    pub fn page_offset(self, page: u64) -> u64 {
        page_offset(self.0, page)
    }
}

impl Len {
    /// The raw value.
    pub const fn raw(self) -> u64 {
        self.0
    }

    /// Rounded up to a multiple of `page`, or `None` when that wraps.
    pub fn align_up(self, page: u64) -> Option<Len> {
        align_up(self.0, page).map(Len)
    }

    /// Whether the length is zero.
    pub fn is_zero(self) -> bool {
        self.0 == 0
    }
}

/// `value`'s offset within a `page` (a power of two): a mask, where `%`
/// would divide by a size unknown at compile time (tens of cycles, several
/// times in every mmap).
pub fn page_offset(value: u64, page: u64) -> u64 {
    debug_assert!(page.is_power_of_two());
    value & (page - 1)
}

/// `value` rounded up to a multiple of `page` (a power of two), or `None` on wrap.
pub fn align_up(value: u64, page: u64) -> Option<u64> {
    debug_assert!(page.is_power_of_two());
    value.checked_add(page - 1).map(|v| v & !(page - 1))
}

impl fmt::Display for Addr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

impl fmt::Display for Len {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:#x}", self.0)
    }
}

/// A non-empty half-open range `[start, end)` of addresses. `end` never wraps:
/// a range that would reach past 2^64 cannot be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct AddrRange {
    start: Addr,
    end: Addr,
}

impl AddrRange {
    /// `[start, start + len)`, or `None` when `len` is zero or the end wraps.
    pub fn new(start: Addr, len: Len) -> Option<AddrRange> {
        if len.is_zero() {
            return None;
        }
        let end = start.checked_add(len)?;
        Some(AddrRange { start, end })
    }

    /// `[start, end)`, or `None` when it would be empty.
    pub fn from_bounds(start: Addr, end: Addr) -> Option<AddrRange> {
        (start < end).then_some(AddrRange { start, end })
    }

    /// The first address.
    pub fn start(&self) -> Addr {
        self.start
    }

    /// One past the last address.
    pub fn end(&self) -> Addr {
        self.end
    }

    /// The number of bytes.
    pub fn len(&self) -> Len {
        Len(self.end.0 - self.start.0)
    }

    /// Always false: ranges are non-empty by construction.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// Whether `addr` lies inside.
    pub fn contains(&self, addr: Addr) -> bool {
        self.start <= addr && addr < self.end
    }

    /// Whether `other` lies entirely inside.
    pub fn contains_range(&self, other: &AddrRange) -> bool {
        self.start <= other.start && other.end <= self.end
    }

    /// Whether the two ranges share at least one address.
    pub fn overlaps(&self, other: &AddrRange) -> bool {
        self.start < other.end && other.start < self.end
    }

    /// The common part of the two ranges, if any.
    pub fn intersect(&self, other: &AddrRange) -> Option<AddrRange> {
        AddrRange::from_bounds(self.start.max(other.start), self.end.min(other.end))
    }

    /// Splits `self` around `cut`: the part before it, the part inside it and the
    /// part after it. The pieces together are exactly `self`.
    pub fn carve(&self, cut: &AddrRange) -> (Option<AddrRange>, Option<AddrRange>, Option<AddrRange>) {
        let before = AddrRange::from_bounds(self.start, cut.start.min(self.end));
        let inside = self.intersect(cut);
        let after = AddrRange::from_bounds(cut.end.max(self.start), self.end);
        (before, inside, after)
    }

    /// The smallest page-aligned range that covers `self`, or `None` when the
    /// rounded end would wrap.
    pub fn page_cover(&self, page: u64) -> Option<AddrRange> {
        let start = self.start.align_down(page);
        let end = self.end.align_up(page)?;
        AddrRange::from_bounds(start, end)
    }
}

impl fmt::Display for AddrRange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "[{}, {})", self.start, self.end)
    }
}

#[cfg(test)]
mod serde_forms {
    use super::*;

    #[test]
    fn addresses_write_hex_and_read_either_form() {
        assert_eq!(serde_json::to_string(&Addr(0x1000)).unwrap(), "\"0x1000\"");
        assert_eq!(serde_json::to_string(&Len(4096)).unwrap(), "4096");
        for text in ["4096", "\"0x1000\"", "\"0X1000\""] {
            assert_eq!(serde_json::from_str::<Addr>(text).unwrap(), Addr(4096), "{text}");
            assert_eq!(serde_json::from_str::<Len>(text).unwrap(), Len(4096), "{text}");
        }
        for bad in ["-1", "\"4096\"", "\"0x\"", "\"0x10000000000000000\"", "1.5", "null"] {
            assert!(serde_json::from_str::<Addr>(bad).is_err(), "{bad}");
        }
        assert_eq!(parse_hex("0xffffffffffffffff"), Some(u64::MAX));
    }

    #[test]
    fn hex_reads_as_from_str_radix_after_a_digit_check() {
        for text in [
            "0x0",
            "0XaBcD",
            "0x0123456789abcdef",
            "0x00000000000000001",
            "0x",
            "0x+1",
            "0x-1",
            "0x1g",
            "1f",
            "0x\u{e9}",
            "0x 1",
        ] {
            let digits = text.strip_prefix("0x").or_else(|| text.strip_prefix("0X"));
            let before = digits
                .filter(|d| !d.is_empty() && d.len() <= 16 && d.bytes().all(|b| b.is_ascii_hexdigit()))
                .and_then(|d| u64::from_str_radix(d, 16).ok());
            assert_eq!(parse_hex(text), before, "{text}");
        }
    }
}

#[cfg(test)]
mod laws {
    //! quickcheck laws of address arithmetic: alignment, splitting, containment.
    use super::*;
    use quickcheck::{QuickCheck, TestResult};

    const PAGE: u64 = 4096;

    fn prop_align_up_is_aligned_and_minimal(v: u64) -> TestResult {
        match align_up(v, PAGE) {
            None => TestResult::from_bool(v > u64::MAX - (PAGE - 1)),
            Some(a) => TestResult::from_bool(a % PAGE == 0 && a >= v && a - v < PAGE),
        }
    }

    fn prop_align_down_is_aligned_and_maximal(v: u64) -> bool {
        let a = Addr(v).align_down(PAGE);
        a.is_aligned(PAGE) && a.0 <= v && v - a.0 < PAGE
    }

    fn prop_align_idempotent(v: u64) -> bool {
        let down = Addr(v).align_down(PAGE);
        down.align_down(PAGE) == down && down.align_up(PAGE) == Some(down)
    }

    fn prop_carve_partitions(s: u64, l: u64, cs: u64, cl: u64) -> TestResult {
        let (Some(r), Some(c)) = (AddrRange::new(Addr(s), Len(l)), AddrRange::new(Addr(cs), Len(cl))) else {
            return TestResult::discard();
        };
        let (b, i, a) = r.carve(&c);
        let total: u64 = [b, i, a].iter().flatten().map(|p| p.len().0).sum();
        let inside_ok = i.is_none_or(|i| c.contains_range(&i) && r.contains_range(&i));
        let outside_ok = [b, a].iter().flatten().all(|p| !p.overlaps(&c) && r.contains_range(p));
        TestResult::from_bool(total == r.len().0 && inside_ok && outside_ok)
    }

    fn prop_contains_matches_bounds(s: u64, l: u64, x: u64) -> TestResult {
        let Some(r) = AddrRange::new(Addr(s), Len(l)) else {
            return TestResult::discard();
        };
        TestResult::from_bool(r.contains(Addr(x)) == (s <= x && x - s < l))
    }

    fn prop_overlap_symmetric_and_matches_intersect(s: u64, l: u64, t: u64, m: u64) -> TestResult {
        let (Some(a), Some(b)) = (AddrRange::new(Addr(s), Len(l)), AddrRange::new(Addr(t), Len(m))) else {
            return TestResult::discard();
        };
        TestResult::from_bool(a.overlaps(&b) == b.overlaps(&a) && a.overlaps(&b) == a.intersect(&b).is_some())
    }

    fn prop_page_cover_contains(s: u64, l: u64) -> TestResult {
        let Some(r) = AddrRange::new(Addr(s), Len(l)) else {
            return TestResult::discard();
        };
        match r.page_cover(PAGE) {
            None => TestResult::from_bool(r.end().0 > u64::MAX - (PAGE - 1)),
            Some(c) => {
                TestResult::from_bool(c.contains_range(&r) && c.start().is_aligned(PAGE) && c.end().is_aligned(PAGE))
            }
        }
    }

    fn qc() -> QuickCheck {
        QuickCheck::new().tests(2000)
    }

    #[test]
    fn align_up_is_aligned_and_minimal() {
        qc().quickcheck(prop_align_up_is_aligned_and_minimal as fn(u64) -> TestResult);
    }

    #[test]
    fn align_down_is_aligned_and_maximal() {
        qc().quickcheck(prop_align_down_is_aligned_and_maximal as fn(u64) -> bool);
    }

    #[test]
    fn alignment_is_idempotent() {
        qc().quickcheck(prop_align_idempotent as fn(u64) -> bool);
    }

    #[test]
    fn carve_partitions_the_range() {
        qc().quickcheck(prop_carve_partitions as fn(u64, u64, u64, u64) -> TestResult);
    }

    #[test]
    fn contains_matches_bounds() {
        qc().quickcheck(prop_contains_matches_bounds as fn(u64, u64, u64) -> TestResult);
    }

    #[test]
    fn overlap_is_symmetric() {
        qc().quickcheck(prop_overlap_symmetric_and_matches_intersect as fn(u64, u64, u64, u64) -> TestResult);
    }

    #[test]
    fn page_cover_contains_the_range() {
        qc().quickcheck(prop_page_cover_contains as fn(u64, u64) -> TestResult);
    }
}
