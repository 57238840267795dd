//! Trace format v1: JSON Lines, read and written in constant memory.
//!
//! The first line is a [`Header`]; every other line is an event
//! (`{"pid":1,"call":"mmap",...,"bind":"a","ret":{"ok":"0x10000000"}}`), a
//! comment (`#`) or blank. spec/trace-format.md is the normative description.

mod fast;
pub mod reader;
pub mod value;
pub mod writer;

use crate::profile::{Profile, ProfileName};

pub use reader::{Event, Field, Item, Next, RawEvent, Reader};
pub use value::{Bindings, Expect, Pattern};
pub use writer::Writer;

/// The `format` of the header.
pub const FORMAT: &str = "mmoracle-trace";
/// The version this crate reads and writes.
pub const VERSION: u64 = 1;
/// The longest line accepted, in bytes: room for the largest store (1 MiB of
/// data, written as 2 MiB of hex digits), and a bound on memory.
pub const MAX_LINE: usize = 4 << 20;

/// The first line of a trace.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Header {
    /// The profile the trace was written for (absent: neutrino).
    pub profile: Option<ProfileName>,
    /// The seed of a generated trace.
    pub seed: Option<u64>,
    /// The system memory, in bytes, of the machine a recording was made on:
    /// when given, the profile's `ram_bytes` (and `$RAM`) for this trace.
    pub ram: Option<u64>,
    /// Free text.
    pub comment: Option<String>,
}

impl Header {
    /// The knobs `profile` has for this trace: its own, or with the system
    /// memory the header gives (`ram`). `None` when the run has made
    /// [`crate::profile::MAX_RAM_VARIANTS`] profiles with other memory already.
    pub fn knobs(&self, profile: ProfileName) -> Option<&'static Profile> {
        match self.ram {
            Some(ram) => profile.profile().with_ram_bytes(ram),
            None => Some(profile.profile()),
        }
    }
}
