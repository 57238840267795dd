//! Pages of memory contents, and the account of how many bytes they hold.
//!
//! Every page any model holds (an object's contents, a region's private
//! copies) is a [`Page`]; making one adds its size to a process-wide count and
//! dropping one subtracts it, so [`stored_bytes`] is exact at every moment
//! without the model walking its state. The runner compares it with the
//! contents budget (`--max-contents`) after each event and stops a trace that
//! would hold more, instead of letting the process run out of memory.
//!
//! The cost of a page is its bytes plus the allocator's header and one map
//! entry (tests/memory measures it): a 4 KiB page costs about 4.1 KiB.

use std::fmt;
use std::ops::{Deref, DerefMut};
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes held in pages by every model in this process.
static STORED: AtomicU64 = AtomicU64::new(0);

/// The bytes held in pages by every model in this process, now.
pub fn stored_bytes() -> u64 {
    STORED.load(Ordering::Relaxed)
}

/// One page of contents. Pages that were never written are absent from
/// their map and read as zeros.
#[derive(PartialEq, Eq)]
pub struct Page(Box<[u8]>);

impl Page {
    /// A page of `len` zero bytes.
    pub fn zeroed(len: u64) -> Page {
        let len = usize::try_from(len).expect("a page fits in memory");
        Page::counted(vec![0; len].into_boxed_slice())
    }

    /// A page holding `bytes`.
    pub fn from_bytes(bytes: Vec<u8>) -> Page {
        Page::counted(bytes.into_boxed_slice())
    }

    fn counted(bytes: Box<[u8]>) -> Page {
        STORED.fetch_add(bytes.len() as u64, Ordering::Relaxed);
        Page(bytes)
    }
}

impl Clone for Page {
    fn clone(&self) -> Page {
        Page::counted(self.0.clone())
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        STORED.fetch_sub(self.0.len() as u64, Ordering::Relaxed);
    }
}

impl Deref for Page {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl DerefMut for Page {
    fn deref_mut(&mut self) -> &mut [u8] {
        &mut self.0
    }
}

impl fmt::Debug for Page {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&self.0, f)
    }
}
