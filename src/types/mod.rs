//! The vocabulary shared by the model, the oracle, traces and backends.

mod addr;
mod errno;
mod flags;
mod fs;
mod ids;
mod runs;

pub use addr::{align_up, page_offset, parse_hex, Addr, AddrRange, Len, Number};
pub use errno::{Errno, Signal};
pub use flags::{linux, FlagNames, MapFlags, MclFlags, MlockFlags, MremapFlags, MsyncFlags, OFlags, Prot};
pub use fs::FileSystem;
pub use ids::{Fd, ObjId, Pid, Resource, Rlimit, RLIM_INFINITY};
pub use runs::Runs;
