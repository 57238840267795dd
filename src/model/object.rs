//! Memory objects: anonymous shared memory, named shared-memory objects and
//! physical memory, with their sizes, sparse contents and reference counts.

use crate::types::{FileSystem, ObjId};
use std::collections::BTreeMap;

pub use super::contents::Page;

/// Sparse page contents keyed by page index.
pub type Pages = BTreeMap<u64, Page>;

/// What kind of object this is.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ObjKind {
    /// Anonymous shared memory made by an `mmap(MAP_ANON|MAP_SHARED)` or a
    /// shared mapping of /dev/zero.
    Anon,
    /// A shared-memory object from `shm_open`.
    Shm {
        /// The name while linked; `None` after `shm_unlink`.
        name: Option<String>,
        /// Permission bits.
        mode: u32,
        /// The owner's uid.
        uid: u32,
        /// The group: the creator's egid.
        gid: u32,
    },
    /// Physical memory (/dev/mem, MAP_PHYS, QNX 4 `Physical`): offsets are
    /// physical addresses.
    Phys,
    /// A file of the modelled resource manager; the server keeps it.
    File {
        /// The file system it lives on.
        fs: FileSystem,
    },
}

/// A memory object.
#[derive(Clone, Debug)]
pub struct Object {
    /// The kind.
    pub kind: ObjKind,
    /// The size in bytes; accesses at or past the page that holds `size` fault
    /// with SIGBUS.
    pub size: u64,
    /// The contents that differ from zero.
    pub pages: Pages,
    /// How many fds, in every process, refer to it.
    pub fd_refs: u64,
    /// How many regions, in every process, map it.
    pub map_refs: u64,
}

impl Object {
    /// A new, empty object.
    pub fn new(kind: ObjKind, size: u64) -> Object {
        Object {
            kind,
            size,
            pages: Pages::new(),
            fd_refs: 0,
            map_refs: 0,
        }
    }

    /// Whether anything still keeps the object alive.
    pub fn alive(&self) -> bool {
        self.fd_refs > 0
            || self.map_refs > 0
            || matches!(
                self.kind,
                ObjKind::Shm { name: Some(_), .. } | ObjKind::Phys | ObjKind::File { .. }
            )
    }

    /// The file system the object's pages live on: shared memory (anonymous
    /// or named) is on a memory file system (tmpfs on Linux), a server's file
    /// where its set-up put it, physical memory on none.
    pub fn file_system(&self) -> Option<FileSystem> {
        match self.kind {
            ObjKind::Anon | ObjKind::Shm { .. } => Some(FileSystem::Tmpfs),
            ObjKind::File { fs } => Some(fs),
            ObjKind::Phys => None,
        }
    }

    /// The name of a linked shared-memory object.
    pub fn linked_name(&self) -> Option<&str> {
        match &self.kind {
            ObjKind::Shm { name: Some(n), .. } => Some(n),
            _ => None,
        }
    }

    /// Whether the page at `index` lies inside the object (else SIGBUS).
    pub fn page_inside(&self, index: u64, page_size: u64) -> bool {
        index < self.size.div_ceil(page_size)
    }

    /// Drops the contents past `size` (shrinking zeroes the tail).
    pub fn truncate_contents(&mut self, page_size: u64) {
        let keep = self.size.div_ceil(page_size);
        self.pages.split_off(&keep);
        let tail = (self.size % page_size) as usize;
        if tail != 0 {
            if let Some(last) = self.pages.get_mut(&(keep - 1)) {
                last[tail..].fill(0);
            }
        }
    }
}

/// Every object in the system.
#[derive(Clone, Debug, Default)]
pub struct Objects {
    objects: BTreeMap<ObjId, Object>,
    /// The linked shared-memory objects by name, so that shm_open and
    /// shm_unlink find a name in O(log n). Names change only through
    /// [`Objects::insert`] and [`Objects::unlink`]; the invariant checker
    /// compares the index with the names the objects hold.
    names: BTreeMap<String, ObjId>,
    next: u64,
}

impl Objects {
    /// Adds an object and returns its id.
    pub fn insert(&mut self, object: Object) -> ObjId {
        let id = ObjId(self.next);
        self.next += 1;
        if let Some(name) = object.linked_name() {
            self.names.insert(name.to_string(), id);
        }
        self.objects.insert(id, object);
        id
    }

    /// Drops a shared-memory object's name (shm_unlink): the object lives on
    /// while fds or mappings hold it, but the name no longer finds it.
    pub fn unlink(&mut self, id: ObjId) {
        if let Some(Object {
            kind: ObjKind::Shm { name, .. },
            ..
        }) = self.objects.get_mut(&id)
        {
            if let Some(n) = name.take() {
                self.names.remove(&n);
            }
        }
    }

    /// Every name in the index, with the object it finds, in name order.
    pub fn names(&self) -> impl Iterator<Item = (&str, ObjId)> {
        self.names.iter().map(|(n, id)| (n.as_str(), *id))
    }

    /// The object with this id.
    pub fn get(&self, id: ObjId) -> Option<&Object> {
        self.objects.get(&id)
    }

    /// The object with this id, mutably.
    pub fn get_mut(&mut self, id: ObjId) -> Option<&mut Object> {
        self.objects.get_mut(&id)
    }

    /// The object, which must exist (ids held by regions and fds always do:
    /// the invariant checker verifies it).
    pub fn expect(&self, id: ObjId) -> &Object {
        self.objects.get(&id).expect("object ids held by regions and fds exist")
    }

    /// The object, mutably.
    pub fn expect_mut(&mut self, id: ObjId) -> &mut Object {
        self.objects
            .get_mut(&id)
            .expect("object ids held by regions and fds exist")
    }

    /// The linked shared-memory object with this name.
    pub fn by_name(&self, name: &str) -> Option<ObjId> {
        self.names.get(name).copied()
    }

    /// Removes the object if nothing keeps it alive any more (a linked name
    /// keeps a shared-memory object alive, so the name index never loses one).
    pub fn collect(&mut self, id: ObjId) {
        if self.objects.get(&id).is_some_and(|o| !o.alive()) {
            self.objects.remove(&id);
        }
    }

    /// Every object.
    pub fn iter(&self) -> impl Iterator<Item = (ObjId, &Object)> {
        self.objects.iter().map(|(id, o)| (*id, o))
    }

    /// Every object, mutably.
    pub fn iter_mut(&mut self) -> impl Iterator<Item = (ObjId, &mut Object)> {
        self.objects.iter_mut().map(|(id, o)| (*id, o))
    }
}
