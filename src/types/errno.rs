//! Simulated error numbers and signals: results of a simulated call, never
//! failures of the tool itself (those are [`crate::Error`]).

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;

macro_rules! errnos {
    ($($name:ident = $qnx:expr, $linux:expr, $text:expr;)*) => {
        /// A POSIX error number, with its QNX Neutrino and Linux numeric values.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[allow(clippy::upper_case_acronyms)]
        pub enum Errno {
            $(#[doc = $text] $name,)*
        }

        impl Errno {
            /// Every errno the model knows, in declaration order.
            pub const ALL: &'static [Errno] = &[$(Errno::$name,)*];

            /// The C name, e.g. `"EACCES"`.
            pub fn name(self) -> &'static str {
                match self { $(Errno::$name => stringify!($name),)* }
            }

            /// The value in QNX Neutrino's `<errno.h>`.
            pub fn qnx(self) -> i32 {
                match self { $(Errno::$name => $qnx,)* }
            }

            /// The value in Linux's `<errno.h>` (x86_64).
            pub fn linux(self) -> i32 {
                match self { $(Errno::$name => $linux,)* }
            }

            /// The errno named `name`: a `match`, which compiles to a
            /// comparison of lengths and then of bytes, where a search of
            /// [`Errno::ALL`] compared each name in turn (most events have one).
            fn from_name(name: &str) -> Option<Errno> {
                match name {
                    $(stringify!($name) => Some(Errno::$name),)*
                    _ => None,
                }
            }

            /// The errno with this Linux value, if the model knows it.
            pub fn from_linux(raw: i32) -> Option<Errno> {
                Errno::ALL.iter().copied().find(|e| e.linux() == raw)
            }

            /// The errno with this QNX value, if the model knows it.
            pub fn from_qnx(raw: i32) -> Option<Errno> {
                Errno::ALL.iter().copied().find(|e| e.qnx() == raw)
            }
        }
    };
}

errnos! {
    EPERM = 1, 1, "Operation not permitted.";
    ENOENT = 2, 2, "No such file or directory.";
    ESRCH = 3, 3, "No such process.";
    EINTR = 4, 4, "Interrupted call.";
    EIO = 5, 5, "I/O error.";
    ENXIO = 6, 6, "No such device or address; outside an object's valid range.";
    EBADF = 9, 9, "Bad file descriptor or handle.";
    EAGAIN = 11, 11, "Resource temporarily unavailable.";
    ENOMEM = 12, 12, "Not enough memory or address space.";
    EACCES = 13, 13, "Permission denied.";
    EFAULT = 14, 14, "Bad address.";
    EBUSY = 16, 16, "Resource busy.";
    EEXIST = 17, 17, "File exists.";
    ENODEV = 19, 19, "No such device: the file does not support mmap.";
    ENOTDIR = 20, 20, "Not a directory.";
    EISDIR = 21, 21, "Is a directory.";
    EINVAL = 22, 22, "Invalid argument.";
    ENFILE = 23, 23, "Too many open files in the system.";
    EMFILE = 24, 24, "Too many open files, or too many mapped regions.";
    ENOSPC = 28, 28, "No space left on device.";
    EROFS = 30, 30, "Read-only file system.";
    ENOTSUP = 48, 95, "Not supported.";
    ENAMETOOLONG = 78, 36, "File name too long.";
    EOVERFLOW = 79, 75, "Value too large for the data type.";
    ENOSYS = 89, 38, "Function not implemented.";
    EOPNOTSUPP = 103, 95, "Operation not supported (Linux: the same number as ENOTSUP).";
}

impl fmt::Display for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Errno {
    type Err = String;
    fn from_str(s: &str) -> Result<Errno, String> {
        Errno::from_name(s).ok_or_else(|| format!("unknown errno `{s}` (expected a name such as EINVAL or ENOMEM)"))
    }
}

/// A signal delivered by a load or store.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[allow(clippy::upper_case_acronyms)]
pub enum Signal {
    /// Access to an unmapped address or against the mapping's protection.
    SIGSEGV,
    /// Access to a page beyond the end of the backing object.
    SIGBUS,
}

impl Signal {
    /// The C name.
    pub fn name(self) -> &'static str {
        match self {
            Signal::SIGSEGV => "SIGSEGV",
            Signal::SIGBUS => "SIGBUS",
        }
    }

    /// The QNX signal number.
    pub fn qnx(self) -> i32 {
        match self {
            Signal::SIGSEGV => 11,
            Signal::SIGBUS => 10,
        }
    }

    /// The Linux signal number.
    pub fn linux(self) -> i32 {
        match self {
            Signal::SIGSEGV => 11,
            Signal::SIGBUS => 7,
        }
    }
}

impl fmt::Display for Signal {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Signal {
    type Err = String;
    fn from_str(s: &str) -> Result<Signal, String> {
        match s {
            "SIGSEGV" => Ok(Signal::SIGSEGV),
            "SIGBUS" => Ok(Signal::SIGBUS),
            _ => Err(format!("unknown signal `{s}` (expected SIGSEGV or SIGBUS)")),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for e in Errno::ALL {
            assert_eq!(e.name().parse::<Errno>(), Ok(*e));
        }
        assert!("EWHAT".parse::<Errno>().is_err());
    }

    #[test]
    fn numberings_differ_where_qnx_and_linux_differ() {
        assert_eq!(Errno::ENOSYS.qnx(), 89);
        assert_eq!(Errno::ENOSYS.linux(), 38);
        assert_eq!(Errno::from_qnx(79), Some(Errno::EOVERFLOW));
        assert_eq!(Errno::from_linux(75), Some(Errno::EOVERFLOW));
        assert_eq!(Signal::SIGBUS.qnx(), 10);
        assert_eq!(Signal::SIGBUS.linux(), 7);
    }
}
