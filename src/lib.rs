//! mmoracle: a simulated QNX Neutrino memory manager and test oracle.
//!
//! The [`model`] is a pure, deterministic model of procnto's memory manager
//! (address spaces, resource limits, locking, memory objects and their
//! contents). It implements [`MemoryManager`], the one trait every backend
//! implements: one [`Call`] in, one [`Outcome`] out. Every outcome is decided
//! by a rule written down in `spec/`, and the model reports which
//! ([`rules::Verdict`]).
//!
//! Layout: [`types`] (addresses, flags, errnos), [`call`] (operations and
//! outcomes as data), [`profile`] (platforms as data), [`rules`] (check
//! lists and verdicts), [`model`], [`spec`] (the rule catalogue read from
//! `spec/`), [`iomsg`] (the `_IO_MMAP` wire codec), [`fuzzing`] (the bodies
//! of the cargo-fuzz targets, replayed by `cargo test`), [`trace`] (the JSON
//! Lines trace format, streamed), [`files`] (finding inputs, writing outputs
//! without ever overwriting one), [`oracle`] (judging what an implementation
//! did, with reports and rule coverage), [`gen`] (random scripts, reproducible
//! from a seed), [`api`] (libmemobj and the Gamma binding over the primitive calls).
#![deny(missing_docs)]
#![deny(unsafe_code)]

pub mod api;
#[allow(unsafe_code)]
pub mod backend;
pub mod call;
mod error;
pub mod files;
pub mod fuzzing;
pub mod gen;
pub mod iomsg;
mod manager;
pub mod model;
pub mod oracle;
pub mod profile;
pub mod rules;
pub mod spec;
pub mod trace;
pub mod types;

pub use call::{Call, Outcome, Value, ValueKind};
pub use error::{Error, Result, TraceError};
pub use manager::{Incident, MemoryManager};
pub use model::Model;
pub use profile::{Profile, ProfileName};
