//! The streaming writer: one line per event, nothing kept between lines.

use super::reader::{Field, RawEvent};
use super::value::outcome_json;
use super::{Header, FORMAT, VERSION};
use crate::call::{Call, Outcome};
use serde_json::Value as Json;
use std::io::{self, Write};

/// Writes a trace to any writer (wrap files in a `BufWriter`).
pub struct Writer<W: Write> {
    out: W,
}

impl<W: Write> Writer<W> {
    /// A writer over `out`.
    pub fn new(out: W) -> Writer<W> {
        Writer { out }
    }

    /// Writes the header line.
    pub fn header(&mut self, header: &Header) -> io::Result<()> {
        let mut map = serde_json::Map::new();
        let mut put = |k: &str, v: Json| map.insert(k.to_string(), v);
        put("format", Json::from(FORMAT));
        put("version", Json::from(VERSION));
        if let Some(p) = header.profile {
            put("profile", Json::from(p.as_str()));
        }
        if let Some(s) = header.seed {
            put("seed", Json::from(s));
        }
        if let Some(r) = header.ram {
            put("ram", Json::from(r));
        }
        if let Some(c) = &header.comment {
            put("comment", Json::from(c.as_str()));
        }
        // Written key by key so that `format` comes first whatever the map's order.
        let keys = ["format", "version", "profile", "seed", "ram", "comment"];
        let fields: Vec<(&str, &Json)> = keys.iter().filter_map(|k| map.get(*k).map(|v| (*k, v))).collect();
        self.object(&fields)
    }

    /// Writes a comment or blank line as it was read.
    pub fn comment(&mut self, text: &str) -> io::Result<()> {
        writeln!(self.out, "{text}")
    }

    /// Writes an event as it was read (expressions kept), with `ret` replaced
    /// by `ret` when given.
    pub fn event(&mut self, raw: &RawEvent, ret: Option<&Outcome>) -> io::Result<()> {
        let one = Json::from(1);
        let ret_json = ret.map(outcome_json);
        let mut fields: Vec<(&str, &Json)> = vec![("pid", raw.pid.as_ref().map_or(&one, |f| &f.value))];
        fields.push(("call", &raw.call.value));
        fields.extend(raw.args.iter().map(|f| (f.name.as_str(), &f.value)));
        for f in [&raw.bind, &raw.expect].into_iter().flatten() {
            fields.push((f.name.as_str(), &f.value));
        }
        match (&ret_json, &raw.ret) {
            (Some(r), _) => fields.push(("ret", r)),
            (None, Some(f)) => fields.push(("ret", &f.value)),
            (None, None) => {}
        }
        self.object(&fields)
    }

    fn object(&mut self, fields: &[(&str, &Json)]) -> io::Result<()> {
        self.out.write_all(b"{")?;
        for (i, (key, value)) in fields.iter().enumerate() {
            if i > 0 {
                self.out.write_all(b",")?;
            }
            serde_json::to_writer(&mut self.out, key)?;
            self.out.write_all(b":")?;
            serde_json::to_writer(&mut self.out, value)?;
        }
        self.out.write_all(b"}\n")
    }

    /// Flushes the underlying writer.
    pub fn flush(&mut self) -> io::Result<()> {
        self.out.flush()
    }

    /// The underlying writer.
    pub fn into_inner(self) -> W {
        self.out
    }
}

/// A call's arguments as trace fields, in declaration order, as serde writes
/// them (addresses as `"0x..."`, flags as names).
pub fn call_fields(call: &Call) -> Vec<Field> {
    let text = serde_json::to_string(call).expect("a call always serializes");
    let fields = super::reader::parse_object(&text).expect("serde_json writes valid JSON");
    fields.into_iter().filter(|f| f.name != "call").collect()
}

/// A raw event for `call` by `pid`, ready for [`Writer::event`].
pub fn raw_event(pid: Json, call: &Call, bind: Option<&str>) -> RawEvent {
    let field = |name: &str, value: Json| Field {
        name: name.into(),
        value,
        column: 0,
    };
    RawEvent {
        line: 0,
        pid: Some(field("pid", pid)),
        call: field("call", Json::from(call.name())),
        args: call_fields(call),
        bind: bind.map(|b| field("bind", Json::from(b))),
        ret: None,
        expect: None,
    }
}
