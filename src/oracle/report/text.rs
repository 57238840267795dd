//! Making trace text safe and short for a terminal (issue 7 point 7).
//!
//! Anything a trace wrote (names, file names, expressions, data) reaches a
//! text report only through [`escape`], so an ESC or BEL cannot drive the
//! terminal and a newline cannot forge a report line; long values reach it
//! through [`clip`], so one 1 MiB store does not fill the screen.

use crate::call::{hex_bytes, Outcome, Value};
use std::borrow::Cow;
use std::fmt::Write as _;

/// The longest argument echoed in full, in characters; longer ones are clipped.
pub const ECHO_MAX: usize = 64;
/// Characters kept from the start of a clipped argument.
const CLIP_HEAD: usize = 32;
/// Characters kept from its end.
const CLIP_TAIL: usize = 8;
/// The longest byte string an outcome shows in full; longer ones show a window.
pub const BYTES_IN_FULL: usize = 32;
/// Bytes a window shows before the first difference.
const WINDOW_BEFORE: usize = 8;
/// Bytes a window shows from the first difference on.
const WINDOW_AFTER: usize = 24;

/// Whether `c` must not reach a terminal as itself: C0 and C1 controls, DEL,
/// and the format characters that reorder or break lines (bidi overrides,
/// line and paragraph separators).
fn unsafe_on_terminal(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200e}' | '\u{200f}' | '\u{2028}' | '\u{2029}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// `text` with every character unsafe on a terminal written as an escape
/// (`\n`, `\t`, `\r`, `\x1b`, `\u{2028}`), and backslashes doubled only when
/// something was escaped, so plain text stays as it was.
pub fn escape(text: &str) -> Cow<'_, str> {
    if !text.chars().any(unsafe_on_terminal) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() + 8);
    for c in text.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if unsafe_on_terminal(c) && (c as u32) < 0x100 => {
                let _ = write!(out, "\\x{:02x}", c as u32);
            }
            c if unsafe_on_terminal(c) => {
                let _ = write!(out, "\\u{{{:x}}}", c as u32);
            }
            c => out.push(c),
        }
    }
    Cow::Owned(out)
}

/// `text` escaped, and shortened to its start and end with its length when it
/// is longer than [`ECHO_MAX`] characters: `0011…eeff (2097152 characters)`.
pub fn clip(text: &str) -> String {
    let count = text.chars().count();
    if count <= ECHO_MAX {
        return escape(text).into_owned();
    }
    let head: String = text.chars().take(CLIP_HEAD).collect();
    let tail: String = text.chars().skip(count - CLIP_TAIL).collect();
    format!("{}…{} ({count} characters)", escape(&head), escape(&tail))
}

/// The longest message shown in full, in characters: past it, its middle is cut.
const MESSAGE_MAX: usize = 1024;

/// A message (an error naming a file, line and column) for a text report:
/// escaped, each `quoted` value in it clipped like an argument, and the
/// whole cut in the middle when it is still longer than [`MESSAGE_MAX`], so
/// that an error about a 2 MiB value is not 2 MiB long.
pub fn message(text: &str) -> String {
    let quoted: String = text
        .split('`')
        .enumerate()
        .map(|(i, part)| {
            if i % 2 == 1 {
                clip(part)
            } else {
                escape(part).into_owned()
            }
        })
        .collect::<Vec<_>>()
        .join("`");
    let count = quoted.chars().count();
    if count <= MESSAGE_MAX {
        return quoted;
    }
    let head: String = quoted.chars().take(MESSAGE_MAX - 128).collect();
    let tail: String = quoted.chars().skip(count - 128).collect();
    format!("{head}… ({count} characters) …{tail}")
}

/// The first offset at which two byte strings differ (the shorter one's
/// length when one is a prefix of the other), or `None` when they are equal.
pub fn first_difference(a: &[u8], b: &[u8]) -> Option<usize> {
    let common = a.iter().zip(b).position(|(x, y)| x != y);
    match common {
        Some(i) => Some(i),
        None if a.len() != b.len() => Some(a.len().min(b.len())),
        None => None,
    }
}

/// An outcome for a text report. Bytes longer than [`BYTES_IN_FULL`] are
/// shown as their length and a window around `at` (the first difference from
/// the outcome they are compared with), never in full.
pub fn outcome(o: &Outcome, at: Option<usize>) -> String {
    match o {
        Outcome::Ok(Value::Bytes(b)) if b.len() > BYTES_IN_FULL => format!("ok {}", window(b, at.unwrap_or(0))),
        other => escape(&other.to_string()).into_owned(),
    }
}

/// `1048576 bytes, [0xffff7, 0x100000): 0000…01`: the length and the bytes
/// from a little before `at` on.
fn window(bytes: &[u8], at: usize) -> String {
    let start = at.min(bytes.len()).saturating_sub(WINDOW_BEFORE);
    let end = start.saturating_add(WINDOW_BEFORE + WINDOW_AFTER).min(bytes.len());
    let before = if start > 0 { "…" } else { "" };
    let after = if end < bytes.len() { "…" } else { "" };
    format!(
        "{} bytes, [{start:#x}, {end:#x}): {before}{}{after}",
        bytes.len(),
        hex_bytes(&bytes[start..end])
    )
}

/// The ANSI sequence for a style, and the reset after it.
const RED: &str = "\x1b[1;31m";
const GREEN: &str = "\x1b[32m";
const YELLOW: &str = "\x1b[1;33m";
const RESET: &str = "\x1b[0m";

/// A text report with colour: divergences red, unmet expectations yellow,
/// allowed outcomes green, and the verdict at the end of the summary. Only
/// for text that went through [`escape`], so every escape sequence in the
/// result is one of ours.
pub fn colorize(report: &str) -> String {
    let mut out = String::with_capacity(report.len() + 64);
    for line in report.split_inclusive('\n') {
        let painted = paint_first(line, ": divergence:", RED)
            .or_else(|| paint_first(line, ": unmet expectation:", YELLOW))
            .or_else(|| {
                line.starts_with("  allowed:")
                    .then(|| paint_first(line, "allowed:", GREEN))
                    .flatten()
            })
            .or_else(|| {
                line.starts_with("      or:")
                    .then(|| paint_first(line, "or:", GREEN))
                    .flatten()
            })
            .or_else(|| paint_verdict(line));
        out.push_str(painted.as_deref().unwrap_or(line));
    }
    out
}

fn paint_first(line: &str, marker: &str, style: &str) -> Option<String> {
    let at = line.find(marker)?;
    let (before, rest) = line.split_at(at);
    let (word, after) = rest.split_at(marker.len());
    Some(format!("{before}{style}{word}{RESET}{after}"))
}

fn paint_verdict(line: &str) -> Option<String> {
    let body = line.strip_suffix('\n').unwrap_or(line);
    let newline = &line[body.len()..];
    [(": conforms", GREEN), (": diverges", RED), (": bad input", RED)]
        .iter()
        .find(|(word, _)| body.ends_with(word) && body.contains(" files ("))
        .map(|(word, style)| {
            let head = &body[..body.len() - word.len() + 2];
            format!("{head}{style}{}{RESET}{newline}", &word[2..])
        })
}

#[cfg(test)]
mod tests {
    #[test]
    fn colour_marks_divergences_allowed_outcomes_and_the_verdict() {
        let report = "t.jsonl:2: divergence: pid 1 x()\n  allowed:  ok 0 [A-OK-1] t\n1 files (0 passed), 1 events, 1 divergences, 0 unmet expectations, 0 with bad input: diverges\n";
        let c = colorize(report);
        assert!(c.contains("\x1b[1;31m: divergence:\x1b[0m"), "{c:?}");
        assert!(c.contains("  \x1b[32mallowed:\x1b[0m"), "{c:?}");
        assert!(c.ends_with("bad input: \x1b[1;31mdiverges\x1b[0m\n"), "{c:?}");
        assert_eq!(colorize("plain\n"), "plain\n");
    }

    use super::*;

    #[test]
    fn escape_neutralises_terminal_controls_and_keeps_plain_text() {
        assert!(matches!(escape("/plain name"), Cow::Borrowed(_)));
        assert_eq!(escape("a\x1b[2Jb\x07\n"), "a\\x1b[2Jb\\x07\\n");
        assert_eq!(escape("x\u{202e}y\\"), "x\\u{202e}y\\\\");
        assert_eq!(escape("\u{85}"), "\\x85");
    }

    #[test]
    fn a_message_clips_its_quoted_values_and_stays_bounded() {
        let long = format!(
            "f:2:43: `prot`: unknown flag `PROT_{}` (expected PROT_READ)",
            "X".repeat(100_000)
        );
        let m = message(&long);
        assert!(m.starts_with("f:2:43: `prot`: unknown flag `PROT_XXX"), "{m}");
        assert!(m.ends_with("(100005 characters)` (expected PROT_READ)"), "{m}");
        let unquoted = format!("f:1:1: {}\x07", "y".repeat(5000));
        let m = message(&unquoted);
        assert!(
            m.chars().count() < 1100 && m.ends_with("y\\x07") && m.contains("(5011 characters)"),
            "{m}"
        );
    }

    #[test]
    fn clip_keeps_short_text_and_gives_the_length_of_long_text() {
        assert_eq!(clip("$a+4096"), "$a+4096");
        let long = "ab".repeat(100);
        let c = clip(&long);
        assert!(
            c.starts_with(&"ab".repeat(16)) && c.ends_with("abababab (200 characters)"),
            "{c}"
        );
    }

    #[test]
    fn a_long_byte_outcome_shows_a_window_at_the_first_difference() {
        let mut a = vec![0u8; 1 << 20];
        let b = a.clone();
        a[0xfffff] = 1;
        let at = first_difference(&a, &b);
        assert_eq!(at, Some(0xfffff));
        let text = outcome(&Outcome::Ok(Value::Bytes(a)), at);
        assert_eq!(text, "ok 1048576 bytes, [0xffff7, 0x100000): …000000000000000001");
        assert_eq!(first_difference(b"ab", b"abc"), Some(2));
        assert_eq!(first_difference(b"ab", b"ab"), None);
        assert_eq!(
            outcome(&Outcome::Ok(Value::Bytes(vec![0xca, 0xfe])), None),
            "ok bytes cafe"
        );
    }
}
