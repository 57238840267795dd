//! One mapping in an address space, and how it splits.

use super::object::Pages;
use crate::types::{Addr, AddrRange, Len, MapFlags, ObjId, Prot};

/// What a region maps.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Backing {
    /// Private anonymous memory: zero-filled, owned by the region alone.
    Zero,
    /// An object (shared anonymous memory, shm, physical memory).
    Object(ObjId),
}

/// A page-aligned mapping.
#[derive(Clone, Debug)]
pub struct Region {
    /// The addresses it covers (page-aligned).
    pub range: AddrRange,
    /// The current protection.
    pub prot: Prot,
    /// The flags it was mapped with (after normalisation).
    pub flags: MapFlags,
    /// Whether the mapping shares changes with its object (MAP_SHARED).
    pub shared: bool,
    /// What it maps.
    pub backing: Backing,
    /// The offset into the backing of `range.start` (page-aligned).
    pub offset: u64,
    /// Whether PROT_WRITE is refused for good (shared mapping of an fd opened
    /// without write access; procnto's IMAP_OCB_RDONLY).
    pub write_denied: bool,
    /// Whether the pages are locked.
    pub locked: bool,
    /// Whether the region counts against RLIMIT_DATA.
    pub counts_data: bool,
    /// Whether the region is charged to system memory (see `Model::committed`).
    pub committed: bool,
    /// Private copies of pages (copy-on-write), keyed by backing page index.
    pub private_pages: Pages,
}

impl Region {
    /// Whether Linux's heuristic overcommit has charged this mapping
    /// (VM_ACCOUNT): a private mapping, not MAP_NORESERVE, that is writable.
    /// Linux keeps the charge after PROT_WRITE is taken away; the model
    /// forgets it then, as mprotect's MPROTECT-ENOMEM check charges again.
    pub fn overcommit_charged(&self) -> bool {
        !self.shared && !self.flags.contains(MapFlags::NORESERVE) && self.prot.contains(Prot::WRITE)
    }

    /// The length in bytes.
    pub fn len(&self) -> u64 {
        self.range.len().0
    }

    /// Always false: regions are non-empty.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// The backing offset of `addr`, which must lie inside. Linux counts a
    /// file's offset in pages, so a mapping of a device may reach past 2^64
    /// bytes (mmap refuses only a wrap, MMAP-EOVERFLOW-2, and mremap grows
    /// the mapping further): such offsets read as 2^64 - 1, past the end of
    /// every object, as the kernel's page offsets are.
    pub fn offset_of(&self, addr: Addr) -> u64 {
        self.offset.saturating_add(addr.0 - self.range.start().0)
    }

    /// The backing offset just past the region, read as [`Region::offset_of`] reads one.
    pub fn end_offset(&self) -> u64 {
        self.offset.saturating_add(self.len())
    }

    /// Splits at `at` (page-aligned, strictly inside): `self` keeps the low part,
    /// the high part is returned. Private pages go with the part they belong to.
    pub fn split_off(&mut self, at: Addr, page_size: u64) -> Region {
        debug_assert!(self.range.contains(at) && at != self.range.start());
        let high_offset = self.offset_of(at);
        let high_pages = self.private_pages.split_off(&(high_offset / page_size));
        let high_range = AddrRange::from_bounds(at, self.range.end()).expect("split point inside");
        self.range = AddrRange::new(self.range.start(), Len(at.0 - self.range.start().0)).expect("split point inside");
        Region {
            range: high_range,
            offset: high_offset,
            private_pages: high_pages,
            ..self.clone_meta()
        }
    }

    fn clone_meta(&self) -> Region {
        Region {
            range: self.range,
            prot: self.prot,
            flags: self.flags,
            shared: self.shared,
            backing: self.backing,
            offset: self.offset,
            write_denied: self.write_denied,
            locked: self.locked,
            counts_data: self.counts_data,
            committed: self.committed,
            private_pages: Pages::new(),
        }
    }
}
