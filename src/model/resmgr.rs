//! A modelled resource manager: files a server owns, the OCBs clients open on
//! them, and the server side of `_IO_MMAP`, `iofunc_mmap()`.
//!
//! spec: spec/iofunc_mmap.md. `resmgr_file` (setup): RESMGR-EINVAL-1,
//! RESMGR-EEXIST-1, RESMGR-FILE-1. The resource-manager library's dispatch:
//! IOFUNC-ENOSYS-2 (a sender other than procnto), IOFUNC-EBADF-1 (no such
//! OCB), then the handler: IOFUNC-ENOSYS-1 (no handler) or IOFUNC-REFUSE-1 (a
//! handler of its own that answers an errno), else `iofunc_mmap()` in order:
//! IOFUNC-EROFS-1, IOFUNC-EAGAIN-1, IOFUNC-EACCES-1, IOFUNC-ENOMEM-1,
//! IOFUNC-OK-1 (a new mmap OCB, SH_DENYWR) / IOFUNC-OK-2 (procnto's OCB reused).

use super::object::{ObjKind, Object, Page};
use super::process::{FdTarget, Process};
use super::Model;
use crate::call::{Call, Outcome, Value};
use crate::profile::Profile;
use crate::rules::{Checks, RuleId, Verdict};
use crate::types::{Errno, Fd, FileSystem, OFlags, ObjId, Pid, Prot};
use std::collections::BTreeMap;

/// How a file's server answers `_IO_MMAP`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapHandler {
    /// `iofunc_mmap_default`, which calls `iofunc_mmap()`.
    Iofunc,
    /// No handler: the library answers ENOSYS.
    Missing,
    /// A handler of the server's own that refuses with this errno.
    Refuse(Errno),
}

/// procnto's mmap OCB on a file: created by the first successful `_IO_MMAP`,
/// bound to procnto's connection, holding SH_DENYWR.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MmapOcb {
    /// Whether the OCB has write access.
    pub write: bool,
}

/// One file's attributes (`iofunc_attr_t`) and server-side state.
#[derive(Clone, Debug)]
pub struct FileAttr {
    /// The path clients open.
    pub path: String,
    /// The object holding the file's contents and size.
    pub object: ObjId,
    /// Permission bits.
    pub mode: u32,
    /// The owner.
    pub uid: u32,
    /// Whether the file system is mounted read-only (`_MOUNT_READONLY`).
    pub readonly_mount: bool,
    /// Whether mandatory locking is active (a lock list, S_ISGID without S_IXGRP).
    pub mandatory_lock: bool,
    /// Whether allocating a new OCB fails (the server is out of memory).
    pub ocb_alloc_fails: bool,
    /// How `_IO_MMAP` is handled.
    pub handler: MmapHandler,
    /// procnto's mmap OCB, while it exists.
    pub mmap_ocb: Option<MmapOcb>,
    /// The connection id procnto uses for this file (the reply's coid).
    pub coid: i32,
}

impl FileAttr {
    /// Share-deny-write holders (`attr->wlocks`): the mmap OCB holds one.
    pub fn wlocks(&self) -> u32 {
        u32::from(self.mmap_ocb.is_some())
    }
}

/// The group of every server file: the server's own, 0 (FSTAT-STATUS-1).
pub const SERVER_GID: u32 = 0;

/// The files of the modelled server.
#[derive(Clone, Debug, Default)]
pub struct Server {
    files: BTreeMap<ObjId, FileAttr>,
}

impl Server {
    /// The file at `path`.
    pub fn by_path(&self, path: &str) -> Option<&FileAttr> {
        self.files.values().find(|f| f.path == path)
    }

    /// The file whose contents are `object`.
    pub fn file(&self, object: ObjId) -> Option<&FileAttr> {
        self.files.get(&object)
    }

    /// The file whose contents are `object`, mutably.
    pub fn file_mut(&mut self, object: ObjId) -> Option<&mut FileAttr> {
        self.files.get_mut(&object)
    }

    /// Every file.
    pub fn files(&self) -> impl Iterator<Item = &FileAttr> {
        self.files.values()
    }
}

/// The result of an `_IO_MMAP` request the server accepted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Granted {
    /// Whether the mmap OCB has (or gets) write access.
    pub write: bool,
    /// The rule that accepted it.
    pub rule: RuleId,
}

/// How procnto's `_IO_MMAP` exchange for a mapping ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Exchange {
    /// What the server granted.
    pub granted: Granted,
    /// Whether the grant came from the retry without PROT_WRITE (a shared
    /// mapping is then read-only for good).
    pub retried: bool,
}

/// The fields of a `resmgr_file` setup call.
#[derive(Clone, Debug)]
pub struct NewFile {
    /// The path.
    pub path: String,
    /// Permission bits.
    pub mode: u32,
    /// Owner.
    pub uid: u32,
    /// Initial contents.
    pub data: Vec<u8>,
    /// Size (at least the contents' length).
    pub size: u64,
    /// Read-only mount.
    pub readonly_mount: bool,
    /// The file system it lives on.
    pub fs: FileSystem,
    /// Mandatory locking active.
    pub mandatory_lock: bool,
    /// OCB allocation fails.
    pub ocb_alloc_fails: bool,
    /// The `_IO_MMAP` handler.
    pub handler: MmapHandler,
}

/// The first connection id procnto's file connections get.
const FIRST_COID: i32 = 0x4000_0000;

impl Model {
    /// The modelled server.
    pub fn server(&self) -> &Server {
        &self.server
    }

    /// Whether mmap of a server's file goes to the server as `_IO_MMAP`
    /// (procnto). Under linux a server's file is a regular file: the kernel
    /// maps it, and no mmap OCB holds SH_DENYWR.
    pub(super) fn server_answers_mmap(&self) -> bool {
        self.profile.server_answers_mmap
    }

    /// Checks for creating a server file.
    pub(super) fn resmgr_file_checks(&self, file: &NewFile, c: &mut Checks) {
        c.check("RESMGR-EINVAL-1", Errno::EINVAL, file.is_invalid(self.profile))
            .check(
                "RESMGR-EEXIST-1",
                Errno::EEXIST,
                self.server.by_path(&file.path).is_some(),
            );
    }

    /// Creates a server file.
    pub(super) fn commit_resmgr_file(&mut self, file: &NewFile) {
        let page = self.profile.page_size;
        let size = file.size.max(file.data.len() as u64);
        let mut object = Object::new(ObjKind::File { fs: file.fs }, size);
        for (index, chunk) in file.data.chunks(page as usize).enumerate() {
            let mut contents = vec![0u8; page as usize];
            contents[..chunk.len()].copy_from_slice(chunk);
            object.pages.insert(index as u64, Page::from_bytes(contents));
        }
        let id = self.objects.insert(object);
        let coid = FIRST_COID + self.server.files.len() as i32;
        let attr = FileAttr {
            path: file.path.clone(),
            object: id,
            mode: file.mode & 0o7777,
            uid: file.uid,
            readonly_mount: file.readonly_mount,
            mandatory_lock: file.mandatory_lock,
            ocb_alloc_fails: file.ocb_alloc_fails,
            handler: file.handler,
            mmap_ocb: None,
            coid,
        };
        self.server.files.insert(id, attr);
    }

    /// `iofunc_mmap(ctp, msg, ocb, attr)` for a request with `prot`, from a
    /// client whose OCB has `ioflag`: the library dispatch, then the checks in
    /// order. Failing checks go into `c`; success says whether the mmap OCB
    /// will have write access.
    pub(super) fn iofunc_mmap(&self, attr: &FileAttr, ioflag: OFlags, prot: Prot, c: &mut Checks) -> Option<Granted> {
        let start = c.hits().len();
        match attr.handler {
            MmapHandler::Missing => {
                c.check("IOFUNC-ENOSYS-1", Errno::ENOSYS, true);
            }
            MmapHandler::Refuse(errno) => {
                c.check("IOFUNC-REFUSE-1", errno, true);
            }
            MmapHandler::Iofunc => {
                let write = prot.contains(Prot::WRITE);
                let lacks = (!ioflag.readable()) || (write && !ioflag.writable());
                let new_ocb = attr.mmap_ocb.is_none();
                c.check("IOFUNC-EROFS-1", Errno::EROFS, write && attr.readonly_mount)
                    .check("IOFUNC-EAGAIN-1", Errno::EAGAIN, attr.mandatory_lock)
                    .check("IOFUNC-EACCES-1", Errno::EACCES, lacks)
                    .check("IOFUNC-ENOMEM-1", Errno::ENOMEM, new_ocb && attr.ocb_alloc_fails);
            }
        }
        if c.hits().len() > start {
            return None;
        }
        let reused = attr.mmap_ocb.is_some();
        let write = prot.contains(Prot::WRITE) || attr.mmap_ocb.is_some_and(|o| o.write);
        Some(Granted {
            write,
            rule: if reused { "IOFUNC-OK-2" } else { "IOFUNC-OK-1" },
        })
    }

    /// Applies a granted `_IO_MMAP`: the mmap OCB is created (holding
    /// SH_DENYWR) or gains write access.
    pub(super) fn grant_io_mmap(&mut self, object: ObjId, granted: Granted) {
        if let Some(attr) = self.server.files.get_mut(&object) {
            attr.mmap_ocb = Some(MmapOcb { write: granted.write });
        }
    }

    /// procnto closes its mmap OCB once nothing maps the file any more, which
    /// releases SH_DENYWR.
    pub(super) fn release_mmap_ocb_if_unmapped(&mut self, object: ObjId) {
        let unmapped = self.objects.get(object).is_some_and(|o| o.map_refs == 0);
        if let (true, Some(attr)) = (unmapped, self.server.files.get_mut(&object)) {
            attr.mmap_ocb = None;
        }
    }
}

impl NewFile {
    /// RESMGR-EINVAL-1: a path that is not absolute, lies under /dev or is
    /// longer than 1023 bytes, or a size past the largest object offset.
    fn is_invalid(&self, profile: &Profile) -> bool {
        let bad_path = !self.path.starts_with('/') || self.path.starts_with("/dev/") || self.path.len() > 1023;
        bad_path || self.size > profile.max_object_offset
    }
}

/// Whether a `resmgr_file` set-up is refused by RESMGR-EINVAL-1 (its handler
/// names nothing known, or [`NewFile::is_invalid`]): for a backend that
/// makes the file for real and must refuse what the model refuses.
pub fn resmgr_file_is_invalid(call: &Call, profile: &Profile) -> bool {
    Model::new_file(call).is_none_or(|file| file.is_invalid(profile))
}

impl Model {
    /// The setup fields of a `resmgr_file` call; `None` when its handler
    /// names nothing known.
    fn new_file(call: &Call) -> Option<NewFile> {
        let Call::ResmgrFile {
            path,
            mode,
            uid,
            data,
            size,
            readonly,
            fs,
            mandatory_lock,
            ocb_alloc_fails,
            mmap,
        } = call
        else {
            unreachable!("only resmgr_file describes a new file")
        };
        let handler = match mmap.as_str() {
            "iofunc" => MmapHandler::Iofunc,
            "none" => MmapHandler::Missing,
            name => MmapHandler::Refuse(name.parse().ok()?),
        };
        Some(NewFile {
            path: path.clone(),
            mode: *mode,
            uid: *uid,
            data: data.clone(),
            size: (*size).max(data.len() as u64),
            readonly_mount: *readonly,
            fs: *fs,
            mandatory_lock: *mandatory_lock,
            ocb_alloc_fails: *ocb_alloc_fails,
            handler,
        })
    }

    /// Judges `resmgr_file`.
    pub(super) fn plan_resmgr_file(&self, call: &Call) -> Verdict {
        let mut c = Checks::new();
        match Self::new_file(call) {
            Some(file) => self.resmgr_file_checks(&file, &mut c),
            None => {
                c.check("RESMGR-EINVAL-1", Errno::EINVAL, true);
            }
        }
        c.or_else(|| Verdict::ok(Value::Unit, "RESMGR-FILE-1"))
    }

    pub(super) fn commit_resmgr_file_call(&mut self, call: &Call, outcome: &Outcome) {
        if let (true, Some(file)) = (outcome.is_ok(), Self::new_file(call)) {
            self.commit_resmgr_file(&file);
        }
    }

    /// The server file and the client's open flags behind `fd`.
    pub(super) fn client_ocb(&self, pid: Pid, fd: Fd) -> Option<(&FileAttr, OFlags)> {
        let entry = self.procs[&pid].fd(fd)?;
        match entry.target {
            FdTarget::Object(id) => self.server.file(id).map(|attr| (attr, entry.oflags)),
            _ => None,
        }
    }

    /// The server's checks when a client opens one of its files
    /// (`_iofunc_open`, iofunc_check_access).
    pub(super) fn open_file_checks(&self, proc: &Process, file: &FileAttr, oflag: OFlags, c: &mut Checks) {
        let bits = proc.permission_bits(file.mode, file.uid, SERVER_GID);
        let denied = proc.euid != 0 && ((oflag.readable() && bits & 4 == 0) || (oflag.writable() && bits & 2 == 0));
        c.check("OPEN-EROFS-1", Errno::EROFS, oflag.writable() && file.readonly_mount)
            .check("OPEN-EACCES-1", Errno::EACCES, denied)
            .check(
                "OPEN-EBUSY-1",
                Errno::EBUSY,
                self.server_answers_mmap() && oflag.writable() && file.wlocks() > 0,
            );
    }

    /// procnto's side of `_IO_MMAP` for a mapping of a server's file: the
    /// request with PROT_WRITE added, then the retry without it. Failing
    /// checks of the request that decides go into `c`.
    pub(super) fn io_mmap_exchange(
        &self,
        file: &FileAttr,
        ioflag: OFlags,
        prot: Prot,
        shared: bool,
        c: &mut Checks,
    ) -> Option<Exchange> {
        let mut first = Checks::new();
        if let Some(granted) = self.iofunc_mmap(file, ioflag, prot | Prot::WRITE, &mut first) {
            return Some(Exchange {
                granted,
                retried: false,
            });
        }
        let refused = first.hits()[0].errno;
        let retry_prot = if shared { prot } else { prot - Prot::WRITE };
        if matches!(refused, Errno::EACCES | Errno::EROFS) && !retry_prot.contains(Prot::WRITE) {
            let mut second = Checks::new();
            if let Some(granted) = self.iofunc_mmap(file, ioflag, retry_prot, &mut second) {
                return Some(Exchange { granted, retried: true });
            }
            c.extend(&second);
            return None;
        }
        c.extend(&first);
        None
    }

    /// Judges `io_mmap`: the library's dispatch, then the handler.
    pub(super) fn plan_io_mmap(&self, pid: Pid, fd: Fd, prot: Prot, _offset: u64, from_procnto: bool) -> Verdict {
        let ocb = self.client_ocb(pid, fd);
        let mut c = Checks::new();
        c.check("IOFUNC-ENOSYS-2", Errno::ENOSYS, !from_procnto)
            .check("IOFUNC-EBADF-1", Errno::EBADF, ocb.is_none());
        if let Some(v) = c.verdict() {
            return v;
        }
        let (attr, ioflag) = ocb.expect("checked");
        match self.iofunc_mmap(attr, ioflag, prot, &mut c) {
            Some(granted) => Verdict::ok(Value::Bytes(io_mmap_reply(attr.coid)), granted.rule),
            None => c.verdict().expect("a refused request has a failing check"),
        }
    }

    pub(super) fn commit_io_mmap(&mut self, pid: Pid, fd: Fd, prot: Prot, from_procnto: bool, outcome: &Outcome) {
        if !outcome.is_ok() || !from_procnto {
            return;
        }
        let Some((attr, ioflag)) = self.client_ocb(pid, fd) else {
            return;
        };
        let object = attr.object;
        if let Some(granted) = self.iofunc_mmap(attr, ioflag, prot, &mut Checks::new()) {
            self.grant_io_mmap(object, granted);
        }
    }
}

/// The 24-byte `_io_mmap_reply` iofunc_mmap sends: zeroed, with procnto's coid.
pub fn io_mmap_reply(coid: i32) -> Vec<u8> {
    crate::iomsg::IoMmapReply::new(crate::iomsg::Layout::Neutrino64, coid)
        .encode()
        .to_vec()
}
