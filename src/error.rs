//! Failures of the tool itself: unreadable files, malformed traces, bad usage.
//!
//! These are never simulated results: a call that fails inside the model
//! returns an [`crate::types::Errno`] in an [`crate::Outcome`], not an `Error`.

use std::fmt;
use std::path::PathBuf;

/// A tool failure.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file could not be read or written.
    #[error("{path}: {source}")]
    Io {
        /// The file.
        path: PathBuf,
        /// What the operating system said.
        source: std::io::Error,
    },
    /// A trace or script is malformed.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The command line asks for something this build cannot do.
    #[error("{0}")]
    Usage(String),
}

/// A malformed trace: where, and what was expected there.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub struct TraceError {
    /// The file, as given on the command line (`-` for standard input).
    pub file: String,
    /// The line, from 1.
    pub line: u64,
    /// The column, from 1 (0 when the error concerns the whole line).
    pub column: u64,
    /// What is wrong and what was expected.
    pub message: String,
}

impl fmt::Display for TraceError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}:{}:{}: {}",
            self.file,
            self.line,
            self.column.max(1),
            self.message
        )
    }
}

/// The crate's result type for tool failures.
pub type Result<T, E = Error> = std::result::Result<T, E>;
