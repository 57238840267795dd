//! The reader's fast path: an event read straight from its line, with no
//! `serde_json::Value` built, no key or string copied and nothing allocated
//! but what the [`Event`] itself owns (a store's bytes, a `bind` name).
//!
//! It accepts only the common shapes (scalar arguments or arrays of scalars, strings without
//! escapes, a one-key `ret`, no `expect`) and answers `None` for anything
//! else, including every malformed line: the reader then takes the slow path
//! ([`super::reader::parse_object`] and `Reader::resolve`), which reads every
//! valid line and words every error. So the fast path never decides what a
//! line means on its own: in debug builds the reader checks each of its
//! answers against the slow path's.
//!
//! The call is read by the derived `Deserialize` of [`CallByName`], [`Call`]'s
//! twin, over the line's fields ([`Args`]), so a call added to [`Call`]
//! needs no code here.

use super::reader::Event;
use super::value::{bindable, is_expression, valid_bind_name, Bindings, INFINITY_NAME, MEMINFO_KEYS};
use crate::call::{parse_hex_bytes, Call, CallByName, Outcome, Value, ValueKind};
use crate::types::{parse_hex, Addr, Errno, Fd, Pid, Rlimit, Signal, RLIM_INFINITY};
use serde::de::{self, DeserializeSeed, Deserializer, MapAccess, Visitor};
use serde::Deserialize;
use std::fmt;

/// The most top-level keys the fast path reads in one line; a longer line
/// takes the slow path.
const MAX_FIELDS: usize = 16;

/// The keys of a JSON object and their values as written, in order, borrowed
/// from the line, held on the stack: at most `N` of them (a `ret` has one, a
/// line up to [`MAX_FIELDS`]; the few bytes each object needs are the ones
/// cleared).
struct Fields<'a, const N: usize = MAX_FIELDS> {
    items: [(&'a str, &'a str); N],
    len: usize,
    /// One bit per [`key_bit`] of the keys so far: a repeat is looked for
    /// only when a key's bit is already set.
    seen: u64,
}

/// A cheap hash of a key, as a bit of a `u64`.
fn key_bit(key: &str) -> u64 {
    let b = key.as_bytes();
    let mix =
        b.len() * 7 + usize::from(b.first().copied().unwrap_or(0)) + usize::from(b.last().copied().unwrap_or(0)) * 3;
    1 << (mix % 64)
}

impl<'a, const N: usize> Fields<'a, N> {
    /// No fields.
    fn new() -> Fields<'a, N> {
        Fields {
            items: [("", ""); N],
            len: 0,
            seen: 0,
        }
    }

    /// Reads `text` as one JSON object whose keys and strings need no
    /// unescaping, no key repeated, at most `N` keys, values scalars, arrays
    /// of scalars or objects, into `self` (empty). Its grammar is a strict
    /// subset of JSON's, so whatever it accepts serde_json accepts too, but
    /// for the insides of object values, which are passed over
    /// ([`Scan::skip_object`]) and checked where they are read.
    /// Filling a caller's `Fields` rather than returning one saves a copy of
    /// it per line.
    fn read(&mut self, text: &'a str) -> Option<()> {
        let mut scan = Scan { text, pos: 0 };
        scan.object(self)?;
        scan.spaces();
        (scan.pos == text.len()).then_some(())
    }

    fn as_slice(&self) -> &[(&'a str, &'a str)] {
        &self.items[..self.len]
    }

    fn push(&mut self, key: &'a str, value: &'a str) -> Option<()> {
        let bit = key_bit(key);
        if self.len == N || (self.seen & bit != 0 && self.as_slice().iter().any(|(k, _)| *k == key)) {
            return None;
        }
        self.seen |= bit;
        self.items[self.len] = (key, value);
        self.len += 1;
        Some(())
    }
}

/// The most elements of an array the fast path reads (a pipe's two fds, a
/// cred's groups); a longer array takes the slow path.
const MAX_ITEMS: usize = 16;

/// The elements of a JSON array of scalars, as written, borrowed from the
/// line, held on the stack.
struct Items<'a> {
    items: [&'a str; MAX_ITEMS],
    len: usize,
}

impl<'a> Items<'a> {
    /// No elements.
    fn new() -> Items<'a> {
        Items {
            items: [""; MAX_ITEMS],
            len: 0,
        }
    }

    /// The elements of `raw`, an array that [`Scan`] read; `None` for
    /// anything else.
    fn read(raw: &'a str) -> Option<Items<'a>> {
        let mut items = Items::new();
        let mut scan = Scan { text: raw, pos: 0 };
        scan.array(&mut items)?;
        scan.spaces();
        (scan.pos == raw.len()).then_some(items)
    }

    fn as_slice(&self) -> &[&'a str] {
        &self.items[..self.len]
    }

    fn push(&mut self, item: &'a str) -> Option<()> {
        *self.items.get_mut(self.len)? = item;
        self.len += 1;
        Some(())
    }
}

/// Eight bytes of a line, read as one word for the tests below.
fn word(bytes: &[u8]) -> u64 {
    u64::from_le_bytes(bytes.try_into().expect("eight bytes"))
}

/// 0x01 in every byte of a word.
const ONES: u64 = u64::from_le_bytes([0x01; 8]);
/// The high bit of every byte of a word.
const HIGH: u64 = u64::from_le_bytes([0x80; 8]);

/// The high bit of each byte of `x` below `limit` (at most 0x80), and of
/// bytes above such a byte only (a borrow runs upwards): so the lowest bit
/// set is exact, and the word is 0 exactly when no byte is below `limit`.
fn bytes_below(x: u64, limit: u8) -> u64 {
    x.wrapping_sub(ONES * u64::from(limit)) & !x & HIGH
}

/// The high bit of each byte of `x` that is `byte` (the lowest exact, as
/// [`bytes_below`]).
fn bytes_equal(x: u64, byte: u8) -> u64 {
    bytes_below(x ^ (ONES * u64::from(byte)), 1)
}

/// Whether `bytes` holds no `\\` and no control character (tab and line
/// endings included). The fast path reads only such lines: a line without
/// them has no escape in any string and no whitespace but spaces, so a
/// string ends at the next quote. One pass over the line, eight bytes at a
/// time, costs less than a three-way test at every string.
fn is_plain(bytes: &[u8]) -> bool {
    let mut found = 0;
    let mut words = bytes.chunks_exact(8);
    for w in &mut words {
        let x = word(w);
        found |= bytes_equal(x, b'\\') | bytes_below(x, 0x20);
    }
    found == 0 && words.remainder().iter().all(|&b| b != b'\\' && b >= 0x20)
}

/// Where the first `"` of `bytes` is. `bytes` is the rest of the line after
/// a string's opening quote: the first 32 bytes eight at a time (keys,
/// flags and numbers are short), then, in a long string (the hex digits of
/// a store's data), by `memchr`.
fn first_quote(bytes: &[u8]) -> Option<usize> {
    for at in (0..32).step_by(8) {
        let Some(w) = bytes.get(at..at + 8) else {
            return bytes[at..].iter().position(|&b| b == b'"').map(|i| at + i);
        };
        let found = bytes_equal(word(w), b'"');
        if found != 0 {
            return Some(at + found.trailing_zeros() as usize / 8);
        }
    }
    memchr::memchr(b'"', &bytes[32..]).map(|i| 32 + i)
}

/// The deepest nesting of objects in a value the fast path passes over (a
/// `ret` holding a limit pair is two deep); deeper takes the slow path.
const MAX_DEPTH: usize = 2;

/// A cursor over a line, or a piece of one, that [`is_plain`], reading the
/// fast path's subset of JSON.
struct Scan<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Scan<'a> {
    fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Skips JSON whitespace: spaces, the only kind a plain line has.
    fn spaces(&mut self) {
        while let Some(b' ') = self.peek() {
            self.pos += 1;
        }
    }

    fn eat(&mut self, byte: u8) -> Option<()> {
        self.spaces();
        (self.peek()? == byte).then(|| self.pos += 1)
    }

    /// An object, whose entries go to `out`.
    fn object<const N: usize>(&mut self, out: &mut Fields<'a, N>) -> Option<()> {
        self.list(b'{', b'}', |scan| {
            let key = scan.string()?;
            scan.eat(b':')?;
            let value = scan.value()?;
            out.push(&key[1..key.len() - 1], value)
        })
    }

    /// `open`, items read by `item` and separated by commas, `close`: the
    /// frame of an object and of an array.
    fn list(&mut self, open: u8, close: u8, mut item: impl FnMut(&mut Self) -> Option<()>) -> Option<()> {
        self.eat(open)?;
        self.spaces();
        if self.peek()? == close {
            self.pos += 1;
            return Some(());
        }
        loop {
            self.spaces();
            item(self)?;
            self.spaces();
            match self.peek()? {
                b',' => self.pos += 1,
                b if b == close => {
                    self.pos += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A value as written: a string, an integer, `true`, `false`, `null`,
    /// an object or an array of scalars.
    fn value(&mut self) -> Option<&'a str> {
        self.spaces();
        let start = self.pos;
        match self.peek()? {
            b'"' => return self.string(),
            b'{' => self.skip_object()?,
            b'[' => self.array(&mut Items::new())?,
            b'-' | b'0'..=b'9' => self.integer()?,
            _ => {
                let rest = &self.text[start..];
                let word = ["true", "false", "null"].into_iter().find(|w| rest.starts_with(w))?;
                self.pos += word.len();
            }
        }
        Some(&self.text[start..self.pos])
    }

    /// Passes over an object value without reading it, finding its end by
    /// counting braces outside strings. An object is only ever used after
    /// it is read again in full (`ret` by [`outcome`], a limit pair by
    /// [`counters`]); any other object value sends its line down the slow
    /// path. So this pass need not check the grammar inside, and a line
    /// whose braces it miscounts fails that second reading. Nesting deeper
    /// than [`MAX_DEPTH`] takes the slow path.
    fn skip_object(&mut self) -> Option<()> {
        let bytes = self.text.as_bytes();
        let (mut open, mut in_string) = (0usize, false);
        while let Some(&b) = bytes.get(self.pos) {
            self.pos += 1;
            match (in_string, b) {
                (true, b'"') => in_string = false,
                (true, _) => {}
                (false, b'"') => in_string = true,
                (false, b'{') => {
                    open += 1;
                    if open > MAX_DEPTH {
                        return None;
                    }
                }
                (false, b'}') => {
                    open -= 1;
                    if open == 0 {
                        return Some(());
                    }
                }
                (false, _) => {}
            }
        }
        None
    }

    /// An array whose elements are scalars (strings, integers, `true`,
    /// `false`, `null`), at most [`MAX_ITEMS`] of them, into `out`.
    fn array(&mut self, out: &mut Items<'a>) -> Option<()> {
        self.list(b'[', b']', |scan| match scan.peek()? {
            // An object or array inside takes the slow path.
            b'{' | b'[' => None,
            _ => out.push(scan.value()?),
        })
    }

    /// A string with its quotes (the line [`is_plain`]: no escapes).
    fn string(&mut self) -> Option<&'a str> {
        let start = self.pos;
        (self.peek()? == b'"').then_some(())?;
        let len = first_quote(&self.text.as_bytes()[start + 1..])?;
        self.pos = start + len + 2;
        Some(&self.text[start..self.pos])
    }

    /// An integer in JSON's grammar (no fraction, no exponent: those take the slow path).
    fn integer(&mut self) -> Option<()> {
        if self.peek() == Some(b'-') {
            self.pos += 1;
        }
        let first = self.peek()?;
        let digits = self.text.as_bytes()[self.pos..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 || (first == b'0' && digits > 1) {
            return None;
        }
        self.pos += digits;
        match self.peek() {
            Some(b'.' | b'e' | b'E') => None,
            _ => Some(()),
        }
    }
}

/// A JSON value as the slow path holds it after resolving expressions,
/// `"0x..."` and `"RLIM_INFINITY"`: a scalar, or an array of them.
#[derive(Clone, Copy, Debug)]
enum Scalar<'a> {
    /// A non-negative integer.
    Unsigned(u64),
    /// A negative integer.
    Negative(i64),
    /// A string that is no number.
    Str(&'a str),
    /// `true` or `false`.
    Bool(bool),
    /// `null`.
    Null,
    /// An array of scalars as written: its elements are resolved as they
    /// are read ([`ListSeq`]).
    List(&'a str),
}

impl Scalar<'_> {
    /// `serde_json::Value::as_u64`.
    fn as_u64(self) -> Option<u64> {
        match self {
            Scalar::Unsigned(v) => Some(v),
            _ => None,
        }
    }

    /// `serde_json::Value::as_i64`.
    fn as_i64(self) -> Option<i64> {
        match self {
            Scalar::Unsigned(v) => i64::try_from(v).ok(),
            Scalar::Negative(v) => Some(v),
            _ => None,
        }
    }
}

/// The contents of a JSON string as written. Every value here was read by
/// [`Scan`], whose strings hold no escape, so none is looked for again.
fn plain_string(raw: &str) -> Option<&str> {
    let inner = raw.strip_prefix('"')?.strip_suffix('"')?;
    debug_assert!(!inner.contains('\\'), "Scan reads no escapes: {raw}");
    Some(inner)
}

/// A value as written, expressions unevaluated (the slow path's `strict_value`).
fn literal(raw: &str) -> Option<Scalar<'_>> {
    match raw.as_bytes().first()? {
        b'"' => plain_string(raw).map(Scalar::Str),
        b'-' | b'0'..=b'9' => integer(raw),
        b'[' => Some(Scalar::List(raw)),
        _ => match raw {
            "true" => Some(Scalar::Bool(true)),
            "false" => Some(Scalar::Bool(false)),
            "null" => Some(Scalar::Null),
            _ => None,
        },
    }
}

/// An integer as the slow path reads it: exact, `-0` is 0; integers out of
/// range take the slow path. [`Scan`] read every value here, so none has a
/// fraction or an exponent (those took the slow path already).
fn integer(raw: &str) -> Option<Scalar<'_>> {
    debug_assert!(!raw.contains(['.', 'e', 'E']), "Scan reads integers only: {raw}");
    match raw.strip_prefix('-') {
        Some(digits) if digits.bytes().all(|b| b == b'0') => Some(Scalar::Unsigned(0)),
        Some(_) => raw.parse::<i64>().ok().map(Scalar::Negative),
        None => raw.parse::<u64>().ok().map(Scalar::Unsigned),
    }
}

/// A value with its strings that stand for numbers replaced by the numbers
/// (`value::resolve`).
fn resolved<'a>(raw: &'a str, env: &Bindings) -> Option<Scalar<'a>> {
    match literal(raw)? {
        Scalar::Str(s) if is_expression(s) => {
            let v = env.eval(s).ok()?;
            Some(match i64::try_from(v) {
                Ok(n) if n < 0 => Scalar::Negative(n),
                _ => Scalar::Unsigned(v as u64),
            })
        }
        Scalar::Str(s) => Some(match parse_hex(s) {
            Some(v) => Scalar::Unsigned(v),
            None if s == INFINITY_NAME => Scalar::Unsigned(RLIM_INFINITY),
            None => Scalar::Str(s),
        }),
        other => Some(other),
    }
}

/// Reads the event on `line` of the trace, whose text is `text`, if it has
/// one of the common shapes; `None` sends it down the slow path.
pub fn event(text: &str, line: u64, env: &Bindings) -> Option<Event> {
    if !is_plain(text.as_bytes()) {
        return None;
    }
    let mut fields = Fields::<MAX_FIELDS>::new();
    fields.read(text)?;
    let (mut pid, mut name, mut bind, mut ret) = (None, None, None, None);
    // Which fields are the call's arguments, one bit each.
    let mut arguments = 0u32;
    for (i, &(key, raw)) in fields.as_slice().iter().enumerate() {
        match key {
            "pid" => pid = Some(raw),
            "call" => name = Some(plain_string(raw)?),
            "bind" => bind = Some(raw),
            "ret" => ret = Some(raw),
            // `expect`, and a second header: the slow path.
            "expect" | "format" | "version" => return None,
            _ => arguments |= 1 << i,
        }
    }
    let mut args = Args {
        name: name?,
        fields: fields.as_slice(),
        arguments,
        env,
    };
    let call = Call::from(CallByName::deserialize(&mut args).ok()?);
    let kind = call.value_kind();
    let pid = match pid {
        None => Pid(1),
        Some(raw) => resolved(raw, env)?
            .as_i64()
            .and_then(Pid::from_written)
            .filter(|p| p.0 != 0)?,
    };
    let bind = match bind {
        None => None,
        Some(raw) => Some(bind_name(raw, kind)?),
    };
    let ret = match ret {
        None => None,
        Some(raw) => Some(outcome(raw, kind, env)?),
    };
    Some(Event {
        line,
        pid,
        call,
        bind,
        ret,
        expect: None,
    })
}

/// The `bind` name that `kind` of result can be bound to; for two fds, the
/// two different names of `["r","w"]` joined by a comma (`check_bind`).
fn bind_name(raw: &str, kind: ValueKind) -> Option<String> {
    let name = |raw| plain_string(raw).filter(|n| valid_bind_name(n));
    if kind == ValueKind::FdPair {
        let items = Items::read(raw)?;
        let &[r, w] = items.as_slice() else {
            return None;
        };
        let (r, w) = (name(r)?, name(w)?);
        return (r != w).then(|| format!("{r},{w}"));
    }
    let name = name(raw)?;
    bindable(kind).then(|| name.to_string())
}

/// `{"ok":V}`, `{"err":"E"}` or `{"fault":"S"}` (`value::parse_outcome`).
fn outcome(raw: &str, kind: ValueKind, env: &Bindings) -> Option<Outcome> {
    let (key, value) = match tight_entry(raw) {
        Some(entry) => entry,
        None => {
            let mut fields = Fields::<1>::new();
            fields.read(raw)?;
            let &[entry] = fields.as_slice() else {
                return None;
            };
            entry
        }
    };
    match key {
        "ok" => success(value, kind, env).map(Outcome::Ok),
        "err" => match literal(value)? {
            Scalar::Str(s) => s.parse::<Errno>().ok().map(Outcome::Err),
            _ => None,
        },
        "fault" => match literal(value)? {
            Scalar::Str(s) => s.parse::<Signal>().ok().map(Outcome::Fault),
            _ => None,
        },
        _ => None,
    }
}

/// The one entry of an object written without spaces, `{"key":value}`,
/// as [`Fields::read`] would read it, but with none of its bookkeeping: a
/// `ret` is nearly always so written. `None` for any other shape, which
/// [`Fields`] then reads (or refuses).
fn tight_entry(raw: &str) -> Option<(&str, &str)> {
    let rest = raw.strip_prefix("{\"")?;
    let close = first_quote(rest.as_bytes())?;
    let (key, rest) = (&rest[..close], &rest[close + 1..]);
    let body = rest.strip_prefix(':')?.strip_suffix('}')?;
    let mut scan = Scan { text: body, pos: 0 };
    let value = scan.value()?;
    (scan.pos == body.len()).then_some((key, value))
}

/// A success value of `kind` (`value::parse_value`).
fn success(raw: &str, kind: ValueKind, env: &Bindings) -> Option<Value> {
    let number = || resolved(raw, env).and_then(Scalar::as_u64);
    match kind {
        // Bytes are not resolved: hex digits only (a byte run takes the slow path).
        ValueKind::Bytes => parse_hex_bytes(plain_string(raw)?).ok().map(Value::Bytes),
        ValueKind::Rlimit => rlimit(raw, env).map(Value::Rlimit),
        ValueKind::Status => status(raw, env).map(Value::Status),
        ValueKind::Meminfo => meminfo(raw, env).map(Value::Meminfo),
        ValueKind::FdPair => fd_pair(raw, env),
        ValueKind::Unit => match resolved(raw, env)? {
            Scalar::Unsigned(0) | Scalar::Null => Some(Value::Unit),
            _ => None,
        },
        ValueKind::Addr => number().map(|a| Value::Addr(Addr(a))),
        ValueKind::Fd => fd(raw, env).map(Value::Fd),
        ValueKind::Pid => number().and_then(|v| u32::try_from(v).ok()).map(|v| Value::Pid(Pid(v))),
        ValueKind::Size => number().map(Value::Size),
        ValueKind::Handle => number().map(|h| Value::Handle(crate::call::Handle(h))),
        ValueKind::Mode => small(raw, env).map(Value::Mode),
    }
}

/// A file descriptor: an integer that fits in an `int`.
fn fd(raw: &str, env: &Bindings) -> Option<Fd> {
    let v = resolved(raw, env)?.as_i64()?;
    i32::try_from(v).ok().map(Fd)
}

/// A number below 2^32 (a mode, a uid, a gid).
fn small(raw: &str, env: &Bindings) -> Option<u32> {
    u32::try_from(resolved(raw, env)?.as_u64()?).ok()
}

/// `[r, w]`, two fds.
fn fd_pair(raw: &str, env: &Bindings) -> Option<Value> {
    let items = Items::read(raw)?;
    let &[r, w] = items.as_slice() else {
        return None;
    };
    Some(Value::FdPair(fd(r, env)?, fd(w, env)?))
}

/// The object `raw` with exactly the keys of `out`, each once, in any
/// order: their resolved values go to `out`.
fn counters<const N: usize>(raw: &str, env: &Bindings, keys: [&str; N], out: &mut [u64; N]) -> Option<()> {
    let mut fields = Fields::<N>::new();
    fields.read(raw)?;
    if fields.len != N {
        return None;
    }
    // The keys are distinct (Fields refuses a repeat), so N known keys are all of them.
    for &(key, value) in fields.as_slice() {
        let at = keys.iter().position(|k| *k == key)?;
        out[at] = resolved(value, env)?.as_u64()?;
    }
    Some(())
}

/// `{"size":N,"uid":U,"gid":G,"mode":M}`.
fn status(raw: &str, env: &Bindings) -> Option<crate::call::FileStatus> {
    let mut v = [0; 4];
    counters(raw, env, ["size", "uid", "gid", "mode"], &mut v)?;
    let small = |n: u64| u32::try_from(n).ok();
    Some(crate::call::FileStatus {
        size: v[0],
        uid: small(v[1])?,
        gid: small(v[2])?,
        mode: small(v[3])?,
    })
}

/// `{"vm_size":N,"vm_data":N,"vm_lck":N,"map_count":N}`.
fn meminfo(raw: &str, env: &Bindings) -> Option<crate::call::MemInfo> {
    let mut v = [0; 4];
    counters(raw, env, MEMINFO_KEYS, &mut v)?;
    Some(crate::call::MemInfo {
        vm_size: v[0],
        vm_data: v[1],
        vm_lck: v[2],
        map_count: v[3],
    })
}

/// `{"cur":N,"max":N}`.
fn rlimit(raw: &str, env: &Bindings) -> Option<Rlimit> {
    let mut v = [0; 2];
    counters(raw, env, ["cur", "max"], &mut v)?;
    Some(Rlimit { cur: v[0], max: v[1] })
}

/// A call's name and resolved arguments, read by [`CallByName`] (the
/// twin of [`Call`] tagged from outside): serde is handed the name first,
/// then the arguments straight from the line, with nothing buffered.
struct Args<'a, 'e> {
    name: &'a str,
    fields: &'e [(&'a str, &'a str)],
    /// The fields still to hand out that are arguments, one bit each.
    arguments: u32,
    env: &'e Bindings,
}

/// Any refusal on the fast path: the slow path then says what is wrong.
#[derive(Debug)]
pub struct Refused;

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("not a common shape: read by the slow path")
    }
}

impl std::error::Error for Refused {}

impl de::Error for Refused {
    fn custom<T: fmt::Display>(_: T) -> Refused {
        Refused
    }
}

impl<'de> Deserializer<'de> for &mut Args<'de, '_> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn deserialize_enum<V: Visitor<'de>>(
        self,
        _: &'static str,
        _: &'static [&'static str],
        visitor: V,
    ) -> Result<V::Value, Refused> {
        visitor.visit_enum(self)
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf option unit unit_struct newtype_struct seq tuple
        tuple_struct map struct identifier ignored_any
    }
}

impl<'de> de::EnumAccess<'de> for &mut Args<'de, '_> {
    type Error = Refused;
    type Variant = Self;

    fn variant_seed<V: DeserializeSeed<'de>>(self, seed: V) -> Result<(V::Value, Self), Refused> {
        let variant = seed.deserialize(ScalarDe(Scalar::Str(self.name), self.env))?;
        Ok((variant, self))
    }
}

impl<'de> de::VariantAccess<'de> for &mut Args<'de, '_> {
    type Error = Refused;

    fn unit_variant(self) -> Result<(), Refused> {
        (self.arguments == 0).then_some(()).ok_or(Refused)
    }

    fn newtype_variant_seed<T: DeserializeSeed<'de>>(self, _: T) -> Result<T::Value, Refused> {
        Err(Refused)
    }

    fn tuple_variant<V: Visitor<'de>>(self, _: usize, _: V) -> Result<V::Value, Refused> {
        Err(Refused)
    }

    fn struct_variant<V: Visitor<'de>>(self, _: &'static [&'static str], visitor: V) -> Result<V::Value, Refused> {
        visitor.visit_map(self)
    }
}

impl<'de> MapAccess<'de> for &mut Args<'de, '_> {
    type Error = Refused;

    fn next_key_seed<K: DeserializeSeed<'de>>(&mut self, seed: K) -> Result<Option<K::Value>, Refused> {
        if self.arguments == 0 {
            return Ok(None);
        }
        let (key, _) = self.fields[self.arguments.trailing_zeros() as usize];
        seed.deserialize(ScalarDe(Scalar::Str(key), self.env)).map(Some)
    }

    fn next_value_seed<V: DeserializeSeed<'de>>(&mut self, seed: V) -> Result<V::Value, Refused> {
        if self.arguments == 0 {
            return Err(Refused);
        }
        let i = self.arguments.trailing_zeros() as usize;
        // Clears the lowest bit: this argument is handed out.
        self.arguments &= self.arguments - 1;
        let value = resolved(self.fields[i].1, self.env).ok_or(Refused)?;
        seed.deserialize(ScalarDe(value, self.env))
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.arguments.count_ones() as usize)
    }
}

/// One resolved argument, handed to serde as `&serde_json::Value` would
/// hand it; the bindings resolve the elements of an array.
struct ScalarDe<'a, 'e>(Scalar<'a>, &'e Bindings);

impl<'de> Deserializer<'de> for ScalarDe<'de, '_> {
    type Error = Refused;

    fn deserialize_any<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.0 {
            Scalar::Unsigned(v) => visitor.visit_u64(v),
            Scalar::Negative(v) => visitor.visit_i64(v),
            Scalar::Str(s) => visitor.visit_borrowed_str(s),
            Scalar::Bool(b) => visitor.visit_bool(b),
            Scalar::Null => visitor.visit_unit(),
            Scalar::List(raw) => visitor.visit_seq(ListSeq {
                items: Items::read(raw).ok_or(Refused)?,
                next: 0,
                env: self.1,
            }),
        }
    }

    fn deserialize_option<V: Visitor<'de>>(self, visitor: V) -> Result<V::Value, Refused> {
        match self.0 {
            Scalar::Null => visitor.visit_none(),
            _ => visitor.visit_some(self),
        }
    }

    serde::forward_to_deserialize_any! {
        bool i8 i16 i32 i64 i128 u8 u16 u32 u64 u128 f32 f64 char str string
        bytes byte_buf unit unit_struct newtype_struct seq tuple
        tuple_struct map struct enum identifier ignored_any
    }
}

/// The elements of an array argument, each resolved as it is handed out.
struct ListSeq<'a, 'e> {
    items: Items<'a>,
    next: usize,
    env: &'e Bindings,
}

impl<'de> de::SeqAccess<'de> for ListSeq<'de, '_> {
    type Error = Refused;

    fn next_element_seed<T: DeserializeSeed<'de>>(&mut self, seed: T) -> Result<Option<T::Value>, Refused> {
        let Some(&raw) = self.items.as_slice().get(self.next) else {
            return Ok(None);
        };
        self.next += 1;
        let value = resolved(raw, self.env).ok_or(Refused)?;
        seed.deserialize(ScalarDe(value, self.env)).map(Some)
    }

    fn size_hint(&self) -> Option<usize> {
        Some(self.items.len - self.next)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileName;
    use crate::types::{MapFlags, Prot};

    fn env() -> Bindings {
        let mut env = Bindings::new(ProfileName::Neutrino.profile());
        env.bind("a", ValueKind::Addr, &Outcome::Ok(Value::Addr(Addr(0x4000_0000))), 2);
        env
    }

    #[test]
    fn common_lines_take_the_fast_path() {
        let line = r#"{"pid":1,"call":"mmap","addr":"$a+0x1000","len":4096,"prot":"PROT_READ|PROT_WRITE","flags":"MAP_PRIVATE|MAP_ANON","fd":-1,"off":0,"bind":"b","ret":{"ok":"0x40001000"}}"#;
        let ev = event(line, 7, &env()).expect("an mmap line is common");
        assert_eq!(ev.line, 7);
        assert_eq!(ev.pid, Pid(1));
        assert_eq!(
            ev.call,
            Call::Mmap {
                addr: Addr(0x4000_1000),
                len: crate::types::Len(4096),
                prot: Prot::READ | Prot::WRITE,
                flags: MapFlags::PRIVATE | MapFlags::ANON,
                fd: Fd(-1),
                off: 0,
            }
        );
        assert_eq!(ev.bind.as_deref(), Some("b"));
        assert_eq!(ev.ret, Some(Outcome::Ok(Value::Addr(Addr(0x4000_1000)))));
        let store = r#"{"call":"store","addr":"$a","data":"00ff","ret":{"fault":"SIGSEGV"}}"#;
        let ev = event(store, 1, &env()).expect("a store is common");
        assert_eq!(ev.ret, Some(Outcome::Fault(Signal::SIGSEGV)));
        let limit = r#"{"pid":1,"call":"getrlimit","resource":"RLIMIT_AS","target":null,"ret":{"ok":{"cur":1,"max":"RLIM_INFINITY"}}}"#;
        let ev = event(limit, 1, &env()).expect("a getrlimit is common");
        assert_eq!(
            ev.ret,
            Some(Outcome::Ok(Value::Rlimit(Rlimit {
                cur: 1,
                max: RLIM_INFINITY
            })))
        );
        let err = r#"{"call":"munmap","addr":0,"len":0,"ret":{"err":"EINVAL"}}"#;
        assert_eq!(
            event(err, 1, &env()).and_then(|e| e.ret),
            Some(Outcome::Err(Errno::EINVAL))
        );
    }

    #[test]
    fn arrays_and_counter_objects_take_the_fast_path() {
        let pipe = r#"{"call":"pipe","bind":["r","w"],"ret":{"ok":[10,11]}}"#;
        let ev = event(pipe, 1, &env()).expect("a pipe is common");
        assert_eq!(ev.bind.as_deref(), Some("r,w"));
        assert_eq!(ev.ret, Some(Outcome::Ok(Value::FdPair(Fd(10), Fd(11)))));
        let cred =
            r#"{"call":"cred","euid":0,"cap_ipc_lock":true,"egid":"0x64","groups":[0, 200],"ret":{"err":"EPERM"}}"#;
        let ev = event(cred, 1, &env()).expect("a cred with groups is common");
        assert_eq!(
            ev.call,
            Call::Cred {
                euid: 0,
                cap_ipc_lock: true,
                egid: Some(100),
                groups: Some(vec![0, 200]),
            }
        );
        let meminfo =
            r#"{"call":"meminfo","ret":{"ok":{"map_count":13,"vm_data":"0x1000","vm_lck":0,"vm_size":151552}}}"#;
        let ev = event(meminfo, 1, &env()).expect("a meminfo is common");
        assert_eq!(
            ev.ret,
            Some(Outcome::Ok(Value::Meminfo(crate::call::MemInfo {
                vm_size: 151552,
                vm_data: 4096,
                vm_lck: 0,
                map_count: 13,
            })))
        );
        let status = r#"{"call":"fstat_full","fd":3,"ret":{"ok":{"gid":0,"mode":4480,"size":0,"uid":7}}}"#;
        let ev = event(status, 1, &env()).expect("a fstat_full is common");
        assert_eq!(
            ev.ret,
            Some(Outcome::Ok(Value::Status(crate::call::FileStatus {
                size: 0,
                uid: 7,
                gid: 0,
                mode: 4480,
            })))
        );
        let umask = r#"{"call":"umask","mask":18,"ret":{"ok":63}}"#;
        assert_eq!(
            event(umask, 1, &env()).and_then(|e| e.ret),
            Some(Outcome::Ok(Value::Mode(63)))
        );
    }

    #[test]
    fn the_first_quote_is_found_anywhere_and_any_backslash_or_control_character_makes_a_line_not_plain() {
        let filler = |len: usize| -> Vec<u8> { (0..len).map(|i| b"0aZ~ \x7f\x80\xff"[i % 8]).collect() };
        for len in 0..100 {
            for at in 0..len {
                let mut bytes = filler(len);
                bytes[at] = b'"';
                if at + 1 < len {
                    bytes[at + 1] = b'"';
                }
                assert_eq!(first_quote(&bytes), Some(at), "{bytes:?}");
                for special in [b'\\', 0x00, 0x1f, b'\t', b'\n', b'\r'] {
                    let mut bytes = filler(len);
                    bytes[at] = special;
                    assert!(!is_plain(&bytes), "{bytes:?}");
                }
            }
            assert_eq!(first_quote(&filler(len)), None);
            assert!(is_plain(&filler(len)));
        }
    }

    #[test]
    fn anything_uncommon_or_wrong_takes_the_slow_path() {
        let slow = [
            // Shapes the fast path leaves to the slow one.
            r#"{"call":"shm_open","name":"/a\"b","oflag":"O_RDWR","mode":0,"ret":{"ok":3}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"expect":{"err":"EINVAL"}}"#,
            r#"{"call":"store","addr":"$a","data":{"repeat":"ab","len":64},"ret":{"ok":0}}"#,
            // Errors, which the slow path words.
            r#"{"call":"munmap","addr":0,"len":0,"len":1,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0.5,"len":0,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":"$nope","len":0,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":1}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"bind":"x","ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0,"err":"EINVAL"}}"#,
            r#"{"call":"munmap","addr":0,"ret":{"ok":0}}"#,
            r#"{"call":"unmap","addr":0,"len":0,"ret":{"ok":0}}"#,
            r#"{"pid":0,"call":"munmap","addr":0,"len":0,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0}} x"#,
            r#"{"format":"mmoracle-trace","call":"exit"}"#,
            r#"{"call":"munmap","addr":0,"len":0,"le n":0,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"":0,"ret":{"ok":0}}"#,
            // Tabs are JSON whitespace, but no plain line has them.
            "{\"call\":\"munmap\",\t\"addr\":0,\"len\":0,\"ret\":{\"ok\":0}}",
            // Objects passed over by the first reading and refused by the second.
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0,}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0 0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":{"a":{"b":{}}}}}"#,
            r#"{"call":"munmap","addr":{"x":1},"len":0,"ret":{"ok":0}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0}}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":"0"}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":"}"}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"ret":{"ok":0}"#,
            r#"{"call":"getrlimit","resource":"RLIMIT_AS","ret":{"ok":{"cur":1,"max":{}}}}"#,
            // Arrays and counters the slow path words the errors of.
            r#"{"call":"pipe","bind":["r","r"],"ret":{"ok":[10,11]}}"#,
            r#"{"call":"pipe","bind":"r","ret":{"ok":[10,11]}}"#,
            r#"{"call":"pipe","bind":["r","w"],"ret":{"ok":[10]}}"#,
            r#"{"call":"pipe","bind":["r","w"],"ret":{"ok":[10,[11]]}}"#,
            r#"{"call":"munmap","addr":0,"len":0,"bind":["r","w"],"ret":{"ok":0}}"#,
            r#"{"call":"cred","euid":0,"cap_ipc_lock":true,"groups":[-1],"ret":{"ok":0}}"#,
            r#"{"call":"cred","euid":0,"cap_ipc_lock":true,"groups":[0,1,2,3,4,5,6,7,8,9,10,11,12,13,14,15,16],"ret":{"ok":0}}"#,
            r#"{"call":"meminfo","ret":{"ok":{"map_count":13,"vm_data":0,"vm_lck":0}}}"#,
            r#"{"call":"meminfo","ret":{"ok":{"map_count":13,"vm_data":0,"vm_lck":0,"vm_size":1,"x":2}}}"#,
            r#"{"call":"fstat_full","fd":3,"ret":{"ok":{"gid":0,"mode":4480,"size":0,"uid":4294967296}}}"#,
            r#"{"call":"umask","mask":18,"ret":{"ok":4294967296}}"#,
        ];
        for line in slow {
            assert_eq!(event(line, 1, &env()), None, "{line}");
        }
    }
}
