//! Values in traces: binding expressions (`"$a+4096"`), hex strings, and
//! outcomes (`{"ok":V}`, `{"err":"EACCES"}`, `{"fault":"SIGBUS"}`) read and
//! written according to the kind of value a call returns.

use crate::call::{byte_run, bytes_json, parse_hex_bytes, Outcome, Value, ValueKind};
use crate::profile::Profile;
use crate::types::{parse_hex, Addr, Errno, Fd, Pid, Rlimit, Signal, RLIM_INFINITY};
use rustc_hash::FxHashMap;
use serde_json::Value as Json;

/// The spelling of `RLIM_INFINITY` in traces.
pub const INFINITY_NAME: &str = "RLIM_INFINITY";

/// The value bound to a name: a number, kept wide enough for both an fd of -1
/// and an address near 2^64.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Bound {
    value: i128,
    line: u64,
}

/// Names bound by `bind`, and the built-ins `$PAGE`, `$ARENA` and `$RAM`.
///
/// Memory grows with the number of distinct names, never with the length of
/// the trace: rebinding a name replaces its value.
#[derive(Clone, Debug)]
pub struct Bindings {
    page: u64,
    arena: u64,
    ram: u64,
    /// Hashed with FxHash: nearly every event looks a short name up, and
    /// SipHash cost more than the rest of the lookup; resistance to chosen
    /// collisions buys nothing for names a trace's own author wrote.
    names: FxHashMap<String, Bound>,
}

/// The built-in names, which `bind` may not use.
pub const BUILTINS: [&str; 3] = ["PAGE", "ARENA", "RAM"];

impl Bindings {
    /// The built-ins of `profile`, and nothing bound.
    pub fn new(profile: &Profile) -> Bindings {
        Bindings {
            page: profile.page_size,
            arena: profile.arena,
            ram: profile.ram_bytes,
            names: FxHashMap::default(),
        }
    }

    /// Binds `name` to the value a call returned: the address, fd or pid of a
    /// success, or what the C call returns on failure (-1, `MAP_FAILED`).
    ///
    /// A call returning two fds (pipe) binds two names, given as `"r,w"`
    /// (the reader joins the `bind` array so): the first fd to the first.
    pub fn bind(&mut self, name: &str, kind: ValueKind, outcome: &Outcome, line: u64) {
        if let Some((first, second)) = split_at_byte(name, b',') {
            let (a, b) = match outcome {
                Outcome::Ok(Value::FdPair(a, b)) => (i128::from(a.0), i128::from(b.0)),
                _ => (failed_binding(kind), failed_binding(kind)),
            };
            self.names.insert(first.to_string(), Bound { value: a, line });
            self.names.insert(second.to_string(), Bound { value: b, line });
            return;
        }
        let value = match outcome {
            Outcome::Ok(Value::Addr(a)) => i128::from(a.0),
            Outcome::Ok(Value::Fd(fd)) => i128::from(fd.0),
            Outcome::Ok(Value::Pid(p)) => i128::from(p.0),
            Outcome::Ok(Value::Handle(h)) => i128::from(h.0),
            Outcome::Ok(Value::Size(n)) => i128::from(*n),
            _ => failed_binding(kind),
        };
        let bound = Bound { value, line };
        // Rebinding a name (the common case) keeps its key: no new String.
        match self.names.get_mut(name) {
            Some(b) => *b = bound,
            None => {
                self.names.insert(name.to_string(), bound);
            }
        }
    }

    /// The value of `name` (without the `$`).
    fn lookup(&self, name: &str) -> Result<i128, String> {
        match name {
            "PAGE" => Ok(i128::from(self.page)),
            "ARENA" => Ok(i128::from(self.arena)),
            "RAM" => Ok(i128::from(self.ram)),
            _ => self.names.get(name).map(|b| b.value).ok_or_else(|| {
                format!("`${name}` is not bound (expected a name given in \"bind\" on an earlier event, or $PAGE, $ARENA or $RAM)")
            }),
        }
    }

    /// The line that last bound `name`, if any.
    pub fn bound_at(&self, name: &str) -> Option<u64> {
        self.names.get(name).map(|b| b.line)
    }

    /// Evaluates an expression such as `$a+4096`, `$ARENA+3*$PAGE` or `$fd`.
    pub fn eval(&self, text: &str) -> Result<i128, String> {
        if let Some(v) = self.eval_simple(text) {
            return Ok(v);
        }
        Expr {
            text,
            pos: 0,
            env: self,
        }
        .parse()
    }
}

impl Bindings {
    /// `$name` or `$name+N` (N an integer or `0x...`), the shapes of nearly
    /// every expression a trace holds, evaluated as the parser would without
    /// running it; `None` for anything else, an unbound name included (the
    /// parser then words the error).
    fn eval_simple(&self, text: &str) -> Option<i128> {
        let rest = text.strip_prefix('$')?;
        let end = name_len(rest);
        if end == 0 {
            return None;
        }
        let base = self.lookup(&rest[..end]).ok()?;
        match rest[end..].strip_prefix('+') {
            None if end == rest.len() => Some(base),
            Some(word) if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric()) => {
                let n = parse_hex(word).or_else(|| word.parse::<u64>().ok())?;
                Some(wrap(base + i128::from(n)))
            }
            _ => None,
        }
    }
}

/// The length of the name at the start of `text`: its ASCII letters, digits
/// and underscores (a byte search: a char search costs more per name).
fn name_len(text: &str) -> usize {
    text.bytes()
        .position(|b| !(b.is_ascii_alphanumeric() || b == b'_'))
        .unwrap_or(text.len())
}

/// `text` split at the first `sep` (ASCII), like `split_once` with a char
/// but by a byte search.
fn split_at_byte(text: &str, sep: u8) -> Option<(&str, &str)> {
    let at = text.bytes().position(|b| b == sep)?;
    Some((&text[..at], &text[at + 1..]))
}

/// What a failed call binds (trace-format.md §5.3): what the C program holds
/// after the call fails, so later calls made with it are judged, not refused.
pub fn failed_binding(kind: ValueKind) -> i128 {
    match kind {
        // MAP_FAILED.
        ValueKind::Addr => i128::from(u64::MAX),
        // NULL: no handle.
        ValueKind::Handle => 0,
        // The struct stat the program zeroed: fstat did not fill it in.
        ValueKind::Size => 0,
        // -1: no fd, no pid.
        _ => -1,
    }
}

/// Whether a call returning `kind` has a result that `bind` can name: an
/// address, fd, pid, handle or size.
pub fn bindable(kind: ValueKind) -> bool {
    matches!(
        kind,
        ValueKind::Addr | ValueKind::Fd | ValueKind::Pid | ValueKind::Handle | ValueKind::Size
    )
}

/// Whether `name` may be given in `bind`.
pub fn valid_bind_name(name: &str) -> bool {
    let mut chars = name.chars();
    chars.next().is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && !BUILTINS.contains(&name)
}

/// A recursive-descent evaluator: `sum := product (('+'|'-') product)*`,
/// `product := atom ('*' atom)*`, `atom := $name | integer | 0xhex`.
struct Expr<'a> {
    text: &'a str,
    pos: usize,
    env: &'a Bindings,
}

impl Expr<'_> {
    fn parse(mut self) -> Result<i128, String> {
        let value = self.sum()?;
        self.skip_spaces();
        if self.pos != self.text.len() {
            return Err(self.unexpected("`+`, `-`, `*` or the end of the expression"));
        }
        Ok(value)
    }

    fn sum(&mut self) -> Result<i128, String> {
        let mut value = self.product()?;
        while let Some(op) = self.peek_op(b"+-") {
            let rhs = self.product()?;
            value = if op == b'+' { value + rhs } else { value - rhs };
            value = wrap(value);
        }
        Ok(value)
    }

    fn product(&mut self) -> Result<i128, String> {
        let mut value = self.atom()?;
        while self.peek_op(b"*").is_some() {
            value = wrap(value.wrapping_mul(self.atom()?));
        }
        Ok(value)
    }

    fn atom(&mut self) -> Result<i128, String> {
        self.skip_spaces();
        let rest = &self.text[self.pos..];
        if let Some(name_part) = rest.strip_prefix('$') {
            let len = name_len(name_part);
            if len == 0 {
                return Err(self.unexpected("a name after `$`"));
            }
            self.pos += 1 + len;
            return self.env.lookup(&name_part[..len]);
        }
        let len = rest
            .bytes()
            .position(|b| !b.is_ascii_alphanumeric())
            .unwrap_or(rest.len());
        let word = &rest[..len];
        let value = parse_hex(word).or_else(|| word.parse::<u64>().ok());
        match value {
            Some(v) if len > 0 => {
                self.pos += len;
                Ok(i128::from(v))
            }
            _ => Err(self.unexpected("`$name`, an integer or a `0x...` number")),
        }
    }

    /// The next byte if it is one of `ops` (all ASCII), consumed.
    fn peek_op(&mut self, ops: &[u8]) -> Option<u8> {
        self.skip_spaces();
        let c = *self.text.as_bytes().get(self.pos).filter(|c| ops.contains(c))?;
        self.pos += 1;
        Some(c)
    }

    fn skip_spaces(&mut self) {
        while self.text.as_bytes().get(self.pos) == Some(&b' ') {
            self.pos += 1;
        }
    }

    fn unexpected(&self, expected: &str) -> String {
        let found = self.text[self.pos..]
            .chars()
            .next()
            .map_or("the end".to_string(), |c| format!("`{c}`"));
        format!(
            "in expression `{}`: found {found} at offset {}, expected {expected}",
            self.text, self.pos
        )
    }
}

/// Reduces a value to 64 bits the way C pointer arithmetic wraps, keeping
/// small negative numbers (an fd of -1) negative.
fn wrap(v: i128) -> i128 {
    if (i128::from(i64::MIN)..0).contains(&v) {
        v
    } else {
        i128::from(v as u64)
    }
}

/// A number as JSON: negative ones as `i64`, the rest as `u64`.
fn number_json(v: i128) -> Json {
    match i64::try_from(v) {
        Ok(n) if n < 0 => Json::from(n),
        _ => Json::from(v as u64),
    }
}

/// Whether a string is an expression: it names a binding (`"$a+4096"`,
/// `"2*$PAGE"`).
pub fn is_expression(text: &str) -> bool {
    // A byte search: `$` is ASCII, and a char searcher costs more per
    // string. Long strings (a store's hex data) are searched by memchr's
    // vector loop, whose set-up costs more than a short string's search.
    let bytes = text.as_bytes();
    if bytes.len() < 32 {
        bytes.contains(&b'$')
    } else {
        memchr::memchr(b'$', bytes).is_some()
    }
}

/// Replaces, anywhere inside `json`, the strings that stand for numbers:
/// expressions by their value, `"0x..."` by the number, and `"RLIM_INFINITY"` by
/// 2^64-1. Every other value is left as it is for the call's own parser.
pub fn resolve(json: &mut Json, env: &Bindings) -> Result<(), String> {
    match json {
        Json::String(s) => {
            if is_expression(s) {
                *json = number_json(env.eval(s)?);
            } else if let Some(v) = parse_hex(s) {
                *json = Json::from(v);
            } else if s == INFINITY_NAME {
                *json = Json::from(RLIM_INFINITY);
            }
        }
        Json::Array(items) => {
            for item in items {
                resolve(item, env)?;
            }
        }
        Json::Object(map) => {
            for (_, item) in map.iter_mut() {
                resolve(item, env)?;
            }
        }
        _ => {}
    }
    Ok(())
}

/// What `expect` accepts for one outcome.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Pattern {
    /// Exactly this outcome.
    Exact(Outcome),
    /// Any success (`{"ok":"*"}`), for results an implementation chooses freely.
    AnyOk,
}

impl Pattern {
    /// Whether `outcome` matches.
    pub fn matches(&self, outcome: &Outcome) -> bool {
        match self {
            Pattern::Exact(o) => o == outcome,
            Pattern::AnyOk => outcome.is_ok(),
        }
    }
}

impl std::fmt::Display for Pattern {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Pattern::Exact(o) => write!(f, "{o}"),
            Pattern::AnyOk => f.write_str("ok (any value)"),
        }
    }
}

/// What the author of a script requires of an event: one of these outcomes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Expect {
    /// The accepted outcomes (`any_of`), at least one.
    pub any_of: Vec<Pattern>,
}

impl Expect {
    /// Whether `outcome` meets the expectation.
    pub fn met_by(&self, outcome: &Outcome) -> bool {
        self.any_of.iter().any(|p| p.matches(outcome))
    }
}

impl std::fmt::Display for Expect {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let parts: Vec<String> = self.any_of.iter().map(ToString::to_string).collect();
        f.write_str(&parts.join(" or "))
    }
}

/// Reads `{"ok":V}`, `{"err":"E"}` or `{"fault":"S"}` for a call returning `kind`.
pub fn parse_outcome(json: &Json, kind: ValueKind, env: &Bindings) -> Result<Outcome, String> {
    match parse_pattern(json, kind, env, false)? {
        Pattern::Exact(o) => Ok(o),
        Pattern::AnyOk => unreachable!("wildcards are refused when not allowed"),
    }
}

/// Reads an `expect`: one outcome or `{"any_of":[...]}`; `{"ok":"*"}` is any success.
pub fn parse_expect(json: &Json, kind: ValueKind, env: &Bindings) -> Result<Expect, String> {
    if let Some(list) = json.as_object().and_then(|m| m.get("any_of")) {
        if json.as_object().is_some_and(|m| m.len() != 1) {
            return Err("an `any_of` object has no other keys".into());
        }
        let items = list
            .as_array()
            .filter(|a| !a.is_empty())
            .ok_or("`any_of` takes a non-empty array of outcomes")?;
        let any_of = items
            .iter()
            .map(|item| parse_pattern(item, kind, env, true))
            .collect::<Result<_, _>>()?;
        return Ok(Expect { any_of });
    }
    Ok(Expect {
        any_of: vec![parse_pattern(json, kind, env, true)?],
    })
}

const OUTCOME_SHAPE: &str = "an outcome: {\"ok\":V}, {\"err\":\"ERRNO\"} or {\"fault\":\"SIGSEGV\"|\"SIGBUS\"}";

fn parse_pattern(json: &Json, kind: ValueKind, env: &Bindings, wildcard: bool) -> Result<Pattern, String> {
    let Some((key, value)) = json.as_object().filter(|m| m.len() == 1).and_then(|m| m.iter().next()) else {
        return Err(format!("expected {OUTCOME_SHAPE}, found {json}"));
    };
    match key.as_str() {
        "ok" if wildcard && value == "*" => Ok(Pattern::AnyOk),
        "ok" => parse_value(value, kind, env).map(|v| Pattern::Exact(Outcome::Ok(v))),
        "err" => name_of(value, "an errno name such as \"EINVAL\"")
            .and_then(|s| s.parse::<Errno>())
            .map(|e| Pattern::Exact(Outcome::Err(e))),
        "fault" => name_of(value, "\"SIGSEGV\" or \"SIGBUS\"")
            .and_then(|s| s.parse::<Signal>())
            .map(|s| Pattern::Exact(Outcome::Fault(s))),
        other => Err(format!("unknown outcome `{other}`: expected {OUTCOME_SHAPE}")),
    }
}

fn name_of<'a>(json: &'a Json, expected: &str) -> Result<&'a str, String> {
    json.as_str()
        .ok_or_else(|| format!("expected {expected}, found {json}"))
}

/// Bytes as hex digit pairs, or a byte run `{"repeat":"ab","len":N}`.
fn parse_bytes(json: &Json) -> Result<Vec<u8>, String> {
    if let Some(text) = json.as_str() {
        return parse_hex_bytes(text);
    }
    let run = json.as_object().filter(|o| o.len() == 2);
    match run.and_then(|o| Some((o.get("repeat")?.as_str()?, o.get("len")?.as_u64()?))) {
        Some((pattern, len)) => byte_run(pattern, len),
        None => Err(format!(
            r#"expected bytes as a string of hex digit pairs or a byte run {{"repeat":"ab","len":N}}, found {json}"#
        )),
    }
}

/// Reads a success value of `kind`.
pub fn parse_value(json: &Json, kind: ValueKind, env: &Bindings) -> Result<Value, String> {
    if kind == ValueKind::Bytes {
        return parse_bytes(json).map(Value::Bytes);
    }
    let mut json = json.clone();
    resolve(&mut json, env)?;
    match kind {
        ValueKind::Unit => match json.as_u64() {
            Some(0) => Ok(Value::Unit),
            _ if json.is_null() => Ok(Value::Unit),
            _ => Err(format!("expected 0 (this call returns no value), found {json}")),
        },
        ValueKind::Addr => number(&json, "an address").map(|a| Value::Addr(Addr(a))),
        ValueKind::Fd => json
            .as_i64()
            .and_then(|v| i32::try_from(v).ok())
            .map(|v| Value::Fd(Fd(v)))
            .ok_or_else(|| format!("expected a file descriptor (an integer), found {json}")),
        ValueKind::Pid => json
            .as_u64()
            .and_then(|v| u32::try_from(v).ok())
            .map(|v| Value::Pid(Pid(v)))
            .ok_or_else(|| format!("expected a logical pid (an integer), found {json}")),
        ValueKind::Rlimit => parse_rlimit(&json).map(Value::Rlimit),
        ValueKind::Size => number(&json, "a size").map(Value::Size),
        ValueKind::Handle => number(&json, "a memobj handle").map(|h| Value::Handle(crate::call::Handle(h))),
        ValueKind::Mode => small(&json, "permission bits").map(Value::Mode),
        ValueKind::Status => parse_status(&json).map(Value::Status),
        ValueKind::FdPair => parse_fd_pair(&json),
        ValueKind::Meminfo => parse_meminfo(&json).map(Value::Meminfo),
        ValueKind::Bytes => unreachable!("handled above"),
    }
}

fn number(json: &Json, what: &str) -> Result<u64, String> {
    json.as_u64()
        .ok_or_else(|| format!("expected {what} (an integer or a \"0x...\" string), found {json}"))
}

/// Two fds `[r, w]`.
fn parse_fd_pair(json: &Json) -> Result<Value, String> {
    let fd = |v: &Json| v.as_i64().and_then(|v| i32::try_from(v).ok()).map(Fd);
    match json.as_array().map(Vec::as_slice) {
        Some([r, w]) => match (fd(r), fd(w)) {
            (Some(r), Some(w)) => Ok(Value::FdPair(r, w)),
            _ => Err(format!("expected two file descriptors [r, w], found {json}")),
        },
        _ => Err(format!("expected two file descriptors [r, w], found {json}")),
    }
}

/// A number that fits in 32 bits (a mode, a uid, a gid).
fn small(json: &Json, what: &str) -> Result<u32, String> {
    json.as_u64()
        .and_then(|v| u32::try_from(v).ok())
        .ok_or_else(|| format!("expected {what} (an integer below 2^32 or a \"0x...\" string), found {json}"))
}

/// A file status `{"size":N,"uid":U,"gid":G,"mode":M}`, every key once.
fn parse_status(json: &Json) -> Result<crate::call::FileStatus, String> {
    let shape = "a file status {\"size\":N,\"uid\":U,\"gid\":G,\"mode\":M}";
    let map = json
        .as_object()
        .filter(|m| m.len() == 4)
        .ok_or_else(|| format!("expected {shape}, found {json}"))?;
    let get = |key: &str| map.get(key).ok_or_else(|| format!("expected {shape}, found {json}"));
    Ok(crate::call::FileStatus {
        size: number(get("size")?, "a size")?,
        uid: small(get("uid")?, "a uid")?,
        gid: small(get("gid")?, "a gid")?,
        mode: small(get("mode")?, "a mode")?,
    })
}

fn parse_rlimit(json: &Json) -> Result<Rlimit, String> {
    let shape = "a limit pair {\"cur\":N,\"max\":N} (N an integer, \"0x...\" or \"RLIM_INFINITY\")";
    let map = json
        .as_object()
        .filter(|m| m.len() == 2)
        .ok_or_else(|| format!("expected {shape}, found {json}"))?;
    let get = |key: &str| {
        map.get(key)
            .and_then(Json::as_u64)
            .ok_or_else(|| format!("expected {shape}, found {json}"))
    };
    Ok(Rlimit {
        cur: get("cur")?,
        max: get("max")?,
    })
}

/// The four keys of a meminfo result.
pub const MEMINFO_KEYS: [&str; 4] = ["vm_size", "vm_data", "vm_lck", "map_count"];

fn parse_meminfo(json: &Json) -> Result<crate::call::MemInfo, String> {
    let shape = "counters {\"vm_size\":N,\"vm_data\":N,\"vm_lck\":N,\"map_count\":N}";
    let map = json
        .as_object()
        .filter(|m| m.len() == MEMINFO_KEYS.len())
        .ok_or_else(|| format!("expected {shape}, found {json}"))?;
    let get = |key: &str| {
        map.get(key)
            .and_then(Json::as_u64)
            .ok_or_else(|| format!("expected {shape}, found {json}"))
    };
    Ok(crate::call::MemInfo {
        vm_size: get(MEMINFO_KEYS[0])?,
        vm_data: get(MEMINFO_KEYS[1])?,
        vm_lck: get(MEMINFO_KEYS[2])?,
        map_count: get(MEMINFO_KEYS[3])?,
    })
}

/// An outcome as written in traces.
pub fn outcome_json(outcome: &Outcome) -> Json {
    let mut map = serde_json::Map::new();
    let (key, value) = match outcome {
        Outcome::Ok(v) => ("ok", value_json(v)),
        Outcome::Err(e) => ("err", Json::from(e.name())),
        Outcome::Fault(s) => ("fault", Json::from(s.name())),
    };
    map.insert(key.to_string(), value);
    Json::Object(map)
}

/// A success value as written in traces.
pub fn value_json(value: &Value) -> Json {
    match value {
        Value::Unit => Json::from(0),
        Value::Addr(a) => Json::from(a.to_string()),
        Value::Fd(fd) => Json::from(fd.0),
        Value::Pid(p) => Json::from(p.0),
        Value::Rlimit(r) => serde_json::json!({"cur": limit_json(r.cur), "max": limit_json(r.max)}),
        Value::Bytes(b) => bytes_json(b),
        Value::Size(n) => Json::from(*n),
        Value::Handle(h) => Json::from(h.0),
        Value::Mode(m) => Json::from(*m),
        Value::FdPair(r, w) => serde_json::json!([r.0, w.0]),
        Value::Status(st) => serde_json::json!({"size": st.size, "uid": st.uid, "gid": st.gid, "mode": st.mode}),
        Value::Meminfo(m) => serde_json::json!({
            "vm_size": m.vm_size,
            "vm_data": m.vm_data,
            "vm_lck": m.vm_lck,
            "map_count": m.map_count,
        }),
    }
}

/// A limit as written in traces: an integer, or `"RLIM_INFINITY"`.
pub fn limit_json(v: u64) -> Json {
    if v == RLIM_INFINITY {
        Json::from(INFINITY_NAME)
    } else {
        Json::from(v)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::ProfileName;

    fn env() -> Bindings {
        let mut b = Bindings::new(ProfileName::Neutrino.profile());
        b.bind("a", ValueKind::Addr, &Outcome::Ok(Value::Addr(Addr(0x1000_0000))), 3);
        b.bind("fd", ValueKind::Fd, &Outcome::Err(Errno::EMFILE), 4);
        b.bind("m", ValueKind::Addr, &Outcome::Err(Errno::ENOMEM), 5);
        b
    }

    #[test]
    fn expressions_evaluate() {
        let e = env();
        assert_eq!(e.eval("$a"), Ok(0x1000_0000));
        assert_eq!(e.eval("$a+4096"), Ok(0x1000_1000));
        assert_eq!(e.eval("$a - 0x10"), Ok(0x0FFF_FFF0));
        assert_eq!(e.eval("$ARENA+3*$PAGE"), Ok(0x4000_3000));
        assert_eq!(e.eval("$RAM+$PAGE"), Ok((16 << 30) + 4096), "neutrino's ram_bytes");
        assert_eq!(e.eval("$fd"), Ok(-1));
        assert_eq!(e.eval("$m"), Ok(i128::from(u64::MAX)));
        assert_eq!(e.eval("$m+1"), Ok(0), "pointer arithmetic wraps");
        assert!(e.eval("$b").unwrap_err().contains("not bound"));
        assert!(e.eval("$a+").unwrap_err().contains("expected"));
        assert!(e.eval("$a 4").unwrap_err().contains("end of the expression"));
        assert!(e.eval("$").unwrap_err().contains("a name"));
    }

    #[test]
    fn the_simple_shapes_evaluate_as_the_parser_does() {
        let e = env();
        for text in ["$a", "$a+4096", "$a+0x10", "$ARENA+0x3c000", "$m+1", "$fd+1", "$PAGE+0"] {
            let parsed = Expr { text, pos: 0, env: &e }.parse();
            assert_eq!(e.eval_simple(text).ok_or(()), parsed.map_err(|_| ()), "{text}");
        }
        for text in [
            "$a+",
            "$a +1",
            "$a+0x",
            "$b+1",
            "$a+1+2",
            "$a*2",
            "$a+99999999999999999999",
            "4096",
        ] {
            assert_eq!(e.eval_simple(text), None, "{text}");
        }
    }

    #[test]
    fn resolve_replaces_numbers_only() {
        let e = env();
        let mut j = serde_json::json!({"addr":"$a+1","len":"0x2000","name":"/x","prot":"PROT_READ","cur":"RLIM_INFINITY","fd":"$fd"});
        resolve(&mut j, &e).unwrap();
        assert_eq!(
            j,
            serde_json::json!({"addr":0x1000_0001u64,"len":0x2000,"name":"/x","prot":"PROT_READ","cur":u64::MAX,"fd":-1})
        );
    }

    #[test]
    fn outcomes_round_trip() {
        let e = env();
        let cases = [
            (ValueKind::Addr, Outcome::Ok(Value::Addr(Addr(0x4000_0000)))),
            (ValueKind::Unit, Outcome::UNIT),
            (ValueKind::Fd, Outcome::Ok(Value::Fd(Fd(3)))),
            (ValueKind::Pid, Outcome::Ok(Value::Pid(Pid(2)))),
            (ValueKind::Bytes, Outcome::Ok(Value::Bytes(vec![0, 0xab]))),
            (
                ValueKind::Rlimit,
                Outcome::Ok(Value::Rlimit(Rlimit {
                    cur: 5,
                    max: RLIM_INFINITY,
                })),
            ),
            (
                ValueKind::Meminfo,
                Outcome::Ok(Value::Meminfo(crate::call::MemInfo {
                    vm_size: 0x3000,
                    vm_data: 0x2000,
                    vm_lck: 0x1000,
                    map_count: 2,
                })),
            ),
            (ValueKind::Unit, Outcome::Err(Errno::EACCES)),
            (ValueKind::Bytes, Outcome::Fault(Signal::SIGBUS)),
        ];
        for (kind, o) in cases {
            assert_eq!(parse_outcome(&outcome_json(&o), kind, &e), Ok(o));
        }
    }

    #[test]
    fn bad_outcomes_say_what_was_expected() {
        let e = env();
        let err = |j: Json, k| parse_outcome(&j, k, &e).unwrap_err();
        assert!(err(serde_json::json!({"ok":1}), ValueKind::Unit).contains("expected 0"));
        assert!(err(serde_json::json!({"err":"EWHAT"}), ValueKind::Unit).contains("unknown errno"));
        assert!(err(serde_json::json!({"ok":"0g"}), ValueKind::Bytes).contains("hex"));
        assert!(err(serde_json::json!({"yes":1}), ValueKind::Unit).contains("unknown outcome"));
        assert!(err(serde_json::json!({"ok":"*"}), ValueKind::Addr).contains("address"));
    }

    #[test]
    fn expectations_accept_any_of_and_wildcards() {
        let e = env();
        let x = parse_expect(
            &serde_json::json!({"any_of":[{"err":"EAGAIN"},{"err":"ENOMEM"}]}),
            ValueKind::Unit,
            &e,
        )
        .unwrap();
        assert!(x.met_by(&Outcome::Err(Errno::ENOMEM)));
        assert!(!x.met_by(&Outcome::UNIT));
        let any = parse_expect(&serde_json::json!({"ok":"*"}), ValueKind::Addr, &e).unwrap();
        assert!(any.met_by(&Outcome::Ok(Value::Addr(Addr(7)))));
        let same = parse_expect(&serde_json::json!({"ok":"$a"}), ValueKind::Addr, &e).unwrap();
        assert!(same.met_by(&Outcome::Ok(Value::Addr(Addr(0x1000_0000)))));
        assert!(parse_expect(&serde_json::json!({"any_of":[]}), ValueKind::Unit, &e).is_err());
    }

    #[test]
    fn bind_names_are_checked() {
        assert!(valid_bind_name("a1"));
        assert!(valid_bind_name("_x"));
        assert!(!valid_bind_name("1a"));
        assert!(!valid_bind_name("PAGE"));
        assert!(!valid_bind_name("a-b"));
        assert!(!valid_bind_name(""));
    }
}
