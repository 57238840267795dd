//! The streaming reader: one line at a time, each bounded in length, so memory
//! stays constant however long the trace.
//!
//! Reading an event has two stages. [`Reader::next_item`] parses a line into a
//! [`RawEvent`], whose fields are still JSON with `$` expressions in them;
//! [`Reader::resolve`] evaluates the expressions against the bindings made so
//! far and hands the fields to [`Call`]'s own deserializer, so a call added to
//! [`Call`] is readable with no change here.

use super::value::{self, parse_expect, parse_outcome, valid_bind_name, Bindings, Expect};
use super::{Header, FORMAT, MAX_LINE, VERSION};
use crate::call::{Call, Outcome};
use crate::error::{Error, TraceError};
use crate::profile::ProfileName;
use crate::types::Pid;
use serde::de::{Deserialize, Deserializer, MapAccess, Visitor};
use serde_json::value::RawValue;
use serde_json::Value as Json;
use std::fmt;
use std::io::BufRead;

/// The keys of an event that are not arguments of the call.
pub const EVENT_KEYS: [&str; 5] = ["pid", "call", "bind", "ret", "expect"];

/// One top-level key of a line, with its JSON value and where the value starts.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// The key.
    pub name: String,
    /// The value as written (expressions unevaluated).
    pub value: Json,
    /// The column where the value starts, from 1.
    pub column: u64,
}

/// An event as written: the call's arguments may still hold `$` expressions.
#[derive(Clone, Debug, PartialEq)]
pub struct RawEvent {
    /// The line, from 1.
    pub line: u64,
    /// `pid` (absent means 1).
    pub pid: Option<Field>,
    /// `call`, the call's name.
    pub call: Field,
    /// The call's arguments, in the order written.
    pub args: Vec<Field>,
    /// `bind`.
    pub bind: Option<Field>,
    /// `ret`.
    pub ret: Option<Field>,
    /// `expect`.
    pub expect: Option<Field>,
}

/// An event with every expression evaluated.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Event {
    /// The line, from 1.
    pub line: u64,
    /// The logical process that makes the call.
    pub pid: Pid,
    /// The call.
    pub call: Call,
    /// The name its result is bound to; for a call returning two fds
    /// (pipe), the two names joined by a comma, as [`Bindings::bind`] takes them.
    ///
    /// [`Bindings::bind`]: super::value::Bindings::bind
    pub bind: Option<String>,
    /// What an implementation did (traces).
    pub ret: Option<Outcome>,
    /// What the author requires.
    pub expect: Option<Expect>,
}

/// A line of a trace after the header, read for judging ([`Reader::next_event`]).
#[derive(Clone, Debug, PartialEq)]
pub enum Next {
    /// A comment or blank line, as written.
    Comment(String),
    /// An event, with the fields as written when the slow path read them.
    Event {
        /// The event, expressions evaluated.
        event: Event,
        /// The event as written, if it has been read as such.
        raw: Option<Box<RawEvent>>,
    },
}

/// A line of a trace after the header.
#[derive(Clone, Debug, PartialEq)]
pub enum Item {
    /// A comment or blank line, as written.
    Comment(String),
    /// An event.
    Event(Box<RawEvent>),
}

/// The bytes the reader asks its input for at a time: lines are read in
/// place from a block this large (it grows only for a longer line).
const BLOCK: usize = 64 << 10;

/// Reads a trace from any buffered reader.
pub struct Reader<R> {
    input: R,
    file: String,
    line: u64,
    /// The bytes read so far and not yet passed: the current line is
    /// `block[start..end]`, the next starts at `next`, `filled` bytes hold data.
    block: Vec<u8>,
    start: usize,
    end: usize,
    next: usize,
    filled: usize,
    /// The input has no more bytes.
    eof: bool,
    header: Header,
    /// Comments before the header.
    leading: Vec<String>,
}

impl<R: BufRead> Reader<R> {
    /// Opens a trace: reads up to and including the header. `file` names the
    /// input in error messages.
    pub fn new(input: R, file: impl Into<String>) -> Result<Reader<R>, Error> {
        let mut reader = Reader {
            input,
            file: file.into(),
            line: 0,
            block: Vec::new(),
            start: 0,
            end: 0,
            next: 0,
            filled: 0,
            eof: false,
            header: Header::default(),
            leading: Vec::new(),
        };
        reader.header = reader.read_header()?;
        Ok(reader)
    }

    /// The header.
    pub fn header(&self) -> &Header {
        &self.header
    }

    /// The file name used in error messages.
    pub fn file(&self) -> &str {
        &self.file
    }

    /// The comment lines that came before the header (handed out once).
    pub fn take_leading_comments(&mut self) -> Vec<String> {
        std::mem::take(&mut self.leading)
    }

    /// An error at `line`:`column`.
    pub fn error(&self, line: u64, column: u64, message: impl Into<String>) -> TraceError {
        TraceError {
            file: self.file.clone(),
            line,
            column,
            message: message.into(),
        }
    }

    /// Finds the next line in the block, reading more of the input when the
    /// block holds no whole line; `false` at the end. [`Reader::text`] then
    /// gives it as text. The line is not copied: it stays where it was read
    /// until the next call.
    fn next_line(&mut self) -> Result<bool, Error> {
        self.start = self.next;
        // How far into the line the search for its end has looked.
        let mut searched = 0;
        let content_end = loop {
            if let Some(i) = memchr::memchr(b'\n', &self.block[self.start + searched..self.filled]) {
                let at = self.start + searched + i;
                self.next = at + 1;
                break at;
            }
            searched = self.filled - self.start;
            if searched > MAX_LINE {
                break self.filled;
            }
            if self.eof {
                if searched == 0 {
                    return Ok(false);
                }
                self.next = self.filled;
                break self.filled;
            }
            self.fill()?;
        };
        self.line += 1;
        if content_end - self.start > MAX_LINE {
            let msg = format!(
                "line longer than {} MiB: expected one JSON object per line",
                MAX_LINE >> 20
            );
            return Err(self.error(self.line, MAX_LINE as u64 + 1, msg).into());
        }
        self.end = content_end;
        if self.next > content_end && self.end > self.start && self.block[self.end - 1] == b'\r' {
            self.end -= 1;
        }
        if self.line == 1 && self.bytes().starts_with("\u{feff}".as_bytes()) {
            let msg = "the file starts with a UTF-8 byte order mark (U+FEFF): expected the header; save the file as UTF-8 without a BOM";
            return Err(self.error(1, 1, msg).into());
        }
        Ok(true)
    }

    /// Reads more of the input after the bytes held, first moving the
    /// current line to the front of the block (and growing the block when
    /// the line fills it, up to one byte more than the longest line).
    fn fill(&mut self) -> Result<(), Error> {
        if self.start > 0 {
            self.block.copy_within(self.start..self.filled, 0);
            self.filled -= self.start;
            self.start = 0;
        }
        if self.filled == self.block.len() {
            let len = (self.block.len() * 2).clamp(BLOCK, MAX_LINE + 1);
            self.block.resize(len.max(self.filled + 1), 0);
        }
        loop {
            match self.input.read(&mut self.block[self.filled..]) {
                Ok(0) => self.eof = true,
                Ok(n) => self.filled += n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(source) => {
                    return Err(Error::Io {
                        path: self.file.clone().into(),
                        source,
                    })
                }
            }
            return Ok(());
        }
    }

    /// The line last read, without its line ending.
    fn bytes(&self) -> &[u8] {
        &self.block[self.start..self.end]
    }

    /// The line last read, as text. Taking `&self` lets the slow path and
    /// the error messages read the reader while the line is borrowed.
    fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(self.bytes()).map_err(|e| {
            let column = e.valid_up_to() as u64 + 1;
            self.error(self.line, column, "invalid UTF-8: expected JSON text")
                .into()
        })
    }

    fn read_header(&mut self) -> Result<Header, Error> {
        loop {
            if !self.next_line()? {
                let msg = format!("empty trace: expected a header line {}", header_example());
                return Err(self.error(self.line.max(1), 0, msg).into());
            }
            let text = self.text()?;
            if is_comment(text) {
                let text = text.to_string();
                self.leading.push(text);
                continue;
            }
            let fields = parse_object(text).map_err(|(col, msg)| self.error(self.line, col, msg))?;
            return Ok(self.header_from(fields)?);
        }
    }

    fn header_from(&self, fields: Vec<Field>) -> Result<Header, TraceError> {
        let line = self.line;
        if !fields.iter().any(|f| f.name == "format") {
            let msg = format!("missing header: the first line must be {}", header_example());
            return Err(self.error(line, 1, msg));
        }
        let mut header = Header::default();
        for f in fields {
            let bad = |what: &str| self.error(line, f.column, format!("header `{}`: expected {what}", f.name));
            match f.name.as_str() {
                "format" if f.value == FORMAT => {}
                "format" => return Err(bad("\"mmoracle-trace\"")),
                "version" => match f.value.as_u64() {
                    Some(VERSION) => {}
                    Some(v) if v > VERSION => {
                        let msg = format!(
                            "trace format version {v} is newer than this mmoracle, which reads version {VERSION}"
                        );
                        return Err(self.error(line, f.column, msg));
                    }
                    _ => return Err(bad("1")),
                },
                "profile" => {
                    let name = f.value.as_str().ok_or_else(|| bad("a profile name"))?;
                    header.profile = Some(name.parse::<ProfileName>().map_err(|e| self.error(line, f.column, e))?);
                }
                "seed" => header.seed = Some(f.value.as_u64().ok_or_else(|| bad("an unsigned integer"))?),
                "ram" => {
                    let bytes = f.value.as_u64().filter(|&b| b > 0);
                    header.ram = Some(bytes.ok_or_else(|| bad("a number of bytes greater than 0"))?);
                }
                "comment" => header.comment = Some(f.value.as_str().ok_or_else(|| bad("a string"))?.to_string()),
                other => {
                    let msg = format!(
                        "unknown header field `{other}`: expected format, version, profile, seed, ram or comment"
                    );
                    return Err(self.error(line, f.column, msg));
                }
            }
        }
        Ok(header)
    }

    /// The next comment or event; `None` at the end of the trace.
    pub fn next_item(&mut self) -> Result<Option<Item>, Error> {
        if !self.next_line()? {
            return Ok(None);
        }
        let text = self.text()?;
        if is_comment(text) {
            return Ok(Some(Item::Comment(text.to_string())));
        }
        Ok(Some(Item::Event(Box::new(self.raw_at(text)?))))
    }

    /// The next comment or event with its expressions evaluated against
    /// `env`; `None` at the end of the trace. The common lines are read
    /// without building their [`RawEvent`] (`raw` is `None`; ask
    /// [`Reader::current_raw`] for it while the line is current).
    pub fn next_event(&mut self, env: &Bindings) -> Result<Option<Next>, Error> {
        if !self.next_line()? {
            return Ok(None);
        }
        let text = self.text()?;
        if is_comment(text) {
            return Ok(Some(Next::Comment(text.to_string())));
        }
        if let Some(event) = super::fast::event(text, self.line, env) {
            #[cfg(debug_assertions)]
            self.check_fast(text, &event, env);
            return Ok(Some(Next::Event { event, raw: None }));
        }
        let raw = self.raw_at(text)?;
        let event = self.resolve(&raw, env)?;
        Ok(Some(Next::Event {
            event,
            raw: Some(Box::new(raw)),
        }))
    }

    /// The event of the line last read, as written (the slow path).
    pub fn current_raw(&self) -> Result<RawEvent, Error> {
        self.raw_at(self.text()?).map_err(Error::from)
    }

    /// The event written as `text`, the line last read.
    fn raw_at(&self, text: &str) -> Result<RawEvent, TraceError> {
        let fields = parse_object(text).map_err(|(col, msg)| self.error(self.line, col, msg))?;
        self.raw_event(self.line, fields)
    }

    /// Debug builds check every answer of the fast path against the slow
    /// path's, so that every test run is also a test of the fast path.
    #[cfg(debug_assertions)]
    fn check_fast(&self, text: &str, event: &Event, env: &Bindings) {
        let slow = self.raw_at(text).and_then(|raw| self.resolve(&raw, env));
        assert_eq!(
            slow.as_ref(),
            Ok(event),
            "the fast path read line {} otherwise: {text}",
            self.line
        );
    }

    fn raw_event(&self, line: u64, fields: Vec<Field>) -> Result<RawEvent, TraceError> {
        let mut pid = None;
        let mut call = None;
        let mut bind = None;
        let mut ret = None;
        let mut expect = None;
        let mut args = Vec::new();
        for f in fields {
            match f.name.as_str() {
                "pid" => pid = Some(f),
                "call" => call = Some(f),
                "bind" => bind = Some(f),
                "ret" => ret = Some(f),
                "expect" => expect = Some(f),
                "format" | "version" => {
                    return Err(self.error(line, f.column, "a second header: expected an event"));
                }
                _ => args.push(f),
            }
        }
        let Some(call) = call else {
            return Err(self.error(
                line,
                1,
                "event has no \"call\": expected {\"pid\":1,\"call\":\"mmap\",...}",
            ));
        };
        if !call.value.is_string() {
            return Err(self.error(
                line,
                call.column,
                "`call`: expected the call's name as a string, such as \"mmap\"",
            ));
        }
        Ok(RawEvent {
            line,
            pid,
            call,
            args,
            bind,
            ret,
            expect,
        })
    }

    /// Evaluates an event's expressions against `env` and reads its call,
    /// outcome and expectation.
    pub fn resolve(&self, raw: &RawEvent, env: &Bindings) -> Result<Event, TraceError> {
        let at = |f: &Field, msg: String| self.error(raw.line, f.column, format!("`{}`: {msg}", f.name));
        let pid = match &raw.pid {
            None => Pid(1),
            Some(f) => resolve_pid(f, env).map_err(|m| at(f, m))?,
        };
        let call = self.resolve_call(raw, env)?;
        let kind = call.value_kind();
        let bind = match &raw.bind {
            None => None,
            Some(f) => Some(check_bind(f, &call).map_err(|m| at(f, m))?),
        };
        let ret = match &raw.ret {
            None => None,
            Some(f) => Some(parse_outcome(&f.value, kind, env).map_err(|m| at(f, m))?),
        };
        let expect = match &raw.expect {
            None => None,
            Some(f) => Some(parse_expect(&f.value, kind, env).map_err(|m| at(f, m))?),
        };
        Ok(Event {
            line: raw.line,
            pid,
            call,
            bind,
            ret,
            expect,
        })
    }

    /// Builds the call from its name and resolved arguments. When serde
    /// refuses it, finds the argument at fault by reading each alone.
    fn resolve_call(&self, raw: &RawEvent, env: &Bindings) -> Result<Call, TraceError> {
        let mut map = serde_json::Map::new();
        map.insert("call".into(), raw.call.value.clone());
        for f in &raw.args {
            let mut v = f.value.clone();
            value::resolve(&mut v, env).map_err(|m| self.error(raw.line, f.column, format!("`{}`: {m}", f.name)))?;
            map.insert(f.name.clone(), v);
        }
        let map = Json::Object(map);
        let whole = match Call::deserialize(&map) {
            Ok(call) => return Ok(call),
            Err(e) => e.to_string(),
        };
        let name = raw.call.value.as_str().unwrap_or_default();
        if whole.starts_with("unknown variant") {
            return Err(self.error(raw.line, raw.call.column, explain(&whole)));
        }
        for f in &raw.args {
            let mut alone = serde_json::Map::new();
            alone.insert("call".into(), raw.call.value.clone());
            alone.insert(f.name.clone(), map[&f.name].clone());
            if let Err(e) = Call::deserialize(Json::Object(alone)) {
                let msg = e.to_string();
                if !msg.starts_with("missing field") {
                    return Err(self.error(raw.line, f.column, format!("`{}`: {}", f.name, explain(&msg))));
                }
            }
        }
        Err(self.error(raw.line, raw.call.column, format!("call `{name}`: {}", explain(&whole))))
    }
}

/// Rewrites serde's wording of an expected type into the trace format's terms.
fn explain(msg: &str) -> String {
    msg.replace("expected u64", "expected an unsigned integer or a \"0x...\" string")
        .replace("expected i64", "expected an integer")
        .replace("expected i32", "expected an integer (a file descriptor, -1 for none)")
        .replace("expected u32", "expected an unsigned integer")
        .replace("unknown variant", "unknown call")
}

fn resolve_pid(f: &Field, env: &Bindings) -> Result<Pid, String> {
    let mut v = f.value.clone();
    value::resolve(&mut v, env)?;
    v.as_i64()
        .and_then(Pid::from_written)
        .filter(|p| p.0 != 0)
        .ok_or_else(|| format!("expected a logical pid (1, or a name bound by spawn), found {v}"))
}

fn check_bind(f: &Field, call: &Call) -> Result<String, String> {
    if call.value_kind() == crate::call::ValueKind::FdPair {
        // Two names, joined with a comma for Bindings::bind.
        let names: Option<Vec<&str>> = f
            .value
            .as_array()
            .filter(|a| a.len() == 2)
            .and_then(|a| a.iter().map(|n| n.as_str().filter(|n| valid_bind_name(n))).collect());
        return names.filter(|n| n[0] != n[1]).map(|n| n.join(",")).ok_or_else(|| {
            format!(
                "`{}` binds two names, [\"r\", \"w\"]: two different names (letters, digits, `_`; not PAGE, ARENA or RAM)",
                call.name()
            )
        });
    }
    let name = f
        .value
        .as_str()
        .filter(|n| valid_bind_name(n))
        .ok_or("expected a name (letters, digits, `_`; not PAGE, ARENA or RAM)")?;
    if value::bindable(call.value_kind()) {
        Ok(name.to_string())
    } else {
        Err(format!(
            "`{}` returns no address, fd, pid, handle or size to bind",
            call.name()
        ))
    }
}

fn is_comment(text: &str) -> bool {
    let t = text.trim_start();
    t.is_empty() || t.starts_with('#')
}

fn header_example() -> String {
    format!("{{\"format\":\"{FORMAT}\",\"version\":{VERSION},\"profile\":\"neutrino\"}}")
}

/// Parses one line as a JSON object, keeping its keys in order and the
/// column of each value. Errors carry a column.
pub fn parse_object(text: &str) -> Result<Vec<Field>, (u64, String)> {
    let entries: Entries<'_> = serde_json::from_str(text).map_err(|e| {
        let msg = e.to_string();
        let msg = msg.split(" at line ").next().unwrap_or(&msg).to_string();
        let msg = match e.classify() {
            serde_json::error::Category::Data => msg,
            _ => format!("malformed JSON: {msg}"),
        };
        (e.column() as u64, msg)
    })?;
    entries
        .0
        .into_iter()
        .map(|(name, raw)| {
            let column = column_of(text, raw.get());
            let value = strict_value(text, raw)?;
            Ok(Field { name, value, column })
        })
        .collect()
}

/// The column (from 1, in characters) where `part`, a slice of `line`, starts.
fn column_of(line: &str, part: &str) -> u64 {
    let offset = part.as_ptr() as usize - line.as_ptr() as usize;
    let before = &line[..offset];
    // Nearly every line is ASCII, where a byte is a character.
    let chars = if before.is_ascii() {
        offset
    } else {
        before.chars().count()
    };
    chars as u64 + 1
}

/// Parses one value of `line` strictly: no key repeats in any object at any
/// depth, and integers are read exactly (one out of range is named as such,
/// not read as a floating-point number; `-0` is the integer 0).
fn strict_value(line: &str, raw: &RawValue) -> Result<Json, (u64, String)> {
    let text = raw.get();
    let column = column_of(line, text);
    let at = |e: serde_json::Error| (column + e.column().saturating_sub(1) as u64, e.to_string());
    match text.as_bytes().first() {
        Some(b'{') => {
            let entries: Entries<'_> = serde_json::from_str(text).map_err(|e| {
                let (col, msg) = at(e);
                (col, msg.split(" at line ").next().unwrap_or(&msg).to_string())
            })?;
            let mut map = serde_json::Map::new();
            for (key, value) in entries.0 {
                map.insert(key, strict_value(line, value)?);
            }
            Ok(Json::Object(map))
        }
        Some(b'[') => {
            let items: Vec<&RawValue> = serde_json::from_str(text).map_err(at)?;
            let values = items.into_iter().map(|v| strict_value(line, v));
            Ok(Json::Array(values.collect::<Result<_, _>>()?))
        }
        Some(b'-' | b'0'..=b'9') => integer(text).map_err(|m| (column, m)),
        _ => serde_json::from_str(text).map_err(|e| (column, format!("malformed JSON: {e}"))),
    }
}

/// A JSON number as written: an integer when it has no fraction or exponent.
fn integer(text: &str) -> Result<Json, String> {
    if text.contains(['.', 'e', 'E']) {
        return serde_json::from_str(text).map_err(|e| format!("malformed JSON: {e}"));
    }
    if let Some(digits) = text.strip_prefix('-') {
        if digits.bytes().all(|b| b == b'0') {
            return Ok(Json::from(0u64));
        }
        return text
            .parse::<i64>()
            .map(Json::from)
            .map_err(|_| format!("{text} is smaller than -2^63, the smallest integer a trace can hold"));
    }
    text.parse::<u64>()
        .map(Json::from)
        .map_err(|_| format!("{text} is larger than 2^64-1, the largest integer a trace can hold"))
}

/// The key/value pairs of a JSON object, in order, values unparsed.
struct Entries<'a>(Vec<(String, &'a RawValue)>);

impl<'de> Deserialize<'de> for Entries<'de> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(EntriesVisitor)
    }
}

struct EntriesVisitor;

impl<'de> Visitor<'de> for EntriesVisitor {
    type Value = Entries<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object, one per line")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Entries<'de>, A::Error> {
        let mut entries: Vec<(String, &'de RawValue)> = Vec::new();
        while let Some(key) = map.next_key::<String>()? {
            if entries.iter().any(|(k, _)| *k == key) {
                return Err(serde::de::Error::custom(format!("duplicate key `{key}`")));
            }
            let value: &'de RawValue = map.next_value()?;
            entries.push((key, value));
        }
        Ok(Entries(entries))
    }
}
