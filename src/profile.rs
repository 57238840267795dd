//! Profiles: the platforms the model can stand for, as data.
//!
//! A profile is a set of knobs and per-rule variants. Model code reads knobs
//! (`profile.rlimit_cmp`) and runs the check list the profile names; it never
//! asks "is this QNX?". See spec/profiles.md for every knob and its source.

use crate::types::{Addr, Errno, Len, MapFlags, MclFlags, MsyncFlags, Prot, Resource, Rlimit, RLIM_INFINITY};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use std::sync::{LazyLock, Mutex};

/// The name of a profile.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProfileName {
    /// QNX Neutrino procnto as the public 6.4 source and the QNX documentation
    /// describe it (the default).
    Neutrino,
    /// The QNX 4 world of the Gamma binding: like Neutrino, but a 32-bit
    /// address space and the shared-memory object `Physical` is physical memory.
    Qnx4,
    /// Linux 6.x, what the real backend must match.
    Linux,
}

impl ProfileName {
    /// All profiles.
    pub const ALL: [ProfileName; 3] = [ProfileName::Neutrino, ProfileName::Qnx4, ProfileName::Linux];

    /// The name as written in traces and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            ProfileName::Neutrino => "neutrino",
            ProfileName::Qnx4 => "qnx4",
            ProfileName::Linux => "linux",
        }
    }

    /// The profile's knobs.
    pub fn profile(self) -> &'static Profile {
        match self {
            ProfileName::Neutrino => &NEUTRINO,
            ProfileName::Qnx4 => &QNX4,
            ProfileName::Linux => &LINUX,
        }
    }
}

impl fmt::Display for ProfileName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ProfileName {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        ProfileName::ALL
            .into_iter()
            .find(|p| p.as_str() == s)
            .ok_or_else(|| format!("unknown profile `{s}` (expected neutrino, qnx4 or linux)"))
    }
}

/// How a limit compares with the usage it would reach.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitCmp {
    /// Reaching the limit exactly already fails (procnto `rlimit_blown`).
    FailAtEqual,
    /// Only going strictly over the limit fails (Linux `may_expand_vm`).
    FailOver,
}

impl LimitCmp {
    /// Whether `used + add` blows `limit`. Infinity never blows; an overflowing
    /// sum always does.
    pub fn blown(self, used: u64, add: u64, limit: u64) -> bool {
        if limit == RLIM_INFINITY {
            return false;
        }
        match used.checked_add(add) {
            None => true,
            Some(total) => match self {
                LimitCmp::FailAtEqual => total >= limit,
                LimitCmp::FailOver => total > limit,
            },
        }
    }
}

/// Which mappings RLIMIT_DATA counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DataScope {
    /// MAP_ANON|MAP_PRIVATE without MAP_STACK/MAP_ELF, whatever the protection.
    AnonPrivate,
    /// Private writable mappings, file-backed ones included, that do not grow
    /// down (MAP_GROWSDOWN is exempt; Linux's MAP_STACK is not VM_GROWSDOWN,
    /// so it counts).
    PrivateWritable,
}

/// What RLIMIT_DATA needs to know about a mapping, at mmap or after mprotect.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct DataFacts {
    /// Whether the mapping shares changes with its object (MAP_SHARED).
    pub shared: bool,
    /// Whether it is anonymous memory (MAP_ANON or /dev/zero).
    pub anon: bool,
    /// Its protection now.
    pub prot: Prot,
    /// The flags it was mapped with, after normalisation.
    pub flags: MapFlags,
}

impl DataScope {
    /// Whether a mapping counts against RLIMIT_DATA (MMAP-ENOMEM-1,
    /// MPROT-ENOMEM-3). The one predicate mmap and mprotect both ask, so a
    /// mapping mprotected back to its first protection counts as it did.
    pub fn counts(self, m: DataFacts) -> bool {
        match self {
            DataScope::AnonPrivate => m.anon && !m.shared && !m.flags.intersects(MapFlags::STACK | MapFlags::ELF),
            // is_data_mapping(): VM_WRITE without VM_SHARED or VM_STACK
            // (VM_STACK is VM_GROWSDOWN, MAP_GROWSDOWN; MAP_STACK does not set it).
            DataScope::PrivateWritable => {
                !m.shared && m.prot.contains(Prot::WRITE) && !m.flags.contains(MapFlags::GROWSDOWN)
            }
        }
    }
}

/// How mmap's front end reads its arguments.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapArgs {
    /// procnto's memmgr_map() rewrites them: PROT_NOCACHE among the flags
    /// moves to prot, share type 0 and 3 and NOFD are translated, and prot
    /// bits are validated later (MMAP-EINVAL-3).
    MemmgrRewrite,
    /// Linux takes them as given: unknown prot bits are ignored, and share
    /// type 3 is MAP_SHARED_VALIDATE, a shared mapping.
    KernelAsGiven,
}

/// What the region-count limit compares.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RegionLimit {
    /// The count after the mapping (with a stack guard's extra region) may
    /// not pass the limit.
    CountAfter,
    /// The count before the mapping may not pass the limit (do_mmap's
    /// `map_count > max_map_count`), so one more than the limit fits.
    CountBefore,
}

/// Which length RLIMIT_AS and RLIMIT_DATA are tested with at mmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LimitLen {
    /// The length as asked (procnto).
    Unrounded,
    /// The page-rounded size (Linux).
    Pages,
}

/// Which mappings need memory charged up front at mmap.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CommitScope {
    /// procnto: shared anonymous memory always; other anonymous memory and
    /// private copies of objects (not physical memory) unless MAP_LAZY.
    UnlessLazy,
    /// Linux accountable_mapping(): private writable mappings and shared
    /// anonymous memory, unless MAP_NORESERVE.
    Accountable,
}

/// What mlockall(MCL_CURRENT) compares with the lock limit.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockallLimit {
    /// procnto: ms_lock() on each region in turn, so the bytes not yet
    /// locked (LOCK-EAGAIN-2).
    Unlocked,
    /// Linux sys_mlockall(): the whole address space (LOCK-ENOMEM-4).
    TotalVm,
}

/// Which check list mmap runs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MmapOrder {
    /// procnto's order: memmgr_map() front end, then vmm_mmap().
    Procnto,
    /// Linux's order: ksys_mmap_pgoff(), do_mmap(), mmap_region().
    Linux,
}

/// Which check lists munmap, mprotect, msync and the mlock family run
/// (spec/munmap-mprotect.md and spec/locking.md give both orders).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CtrlOrder {
    /// procnto's `_MEM_CTRL` handling: validate_vaddr() checks the whole
    /// range before anything changes.
    Procnto,
    /// Linux: C arithmetic on page-aligned lengths, then a walk over the VMAs
    /// that stops at the first one it cannot change.
    Linux,
}

/// Who may lock memory.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LockPrivilege {
    /// euid 0 or the memory-locking ability; the lock limit applies to all.
    RootOrAbility,
    /// CAP_IPC_LOCK (which also lifts the limit), or a non-zero RLIMIT_MEMLOCK.
    CapOrLimit,
}

/// Where mmap looks for room when no address is forced.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Placement {
    /// First fit upwards from the hint or the base; a hole must be one page
    /// larger than the request (procnto `map_find_va`).
    BottomUpStrict,
    /// Highest fit below the top (Linux's top-down allocator).
    TopDown,
}

/// How shm_open and shm_unlink turn a name into an object's path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ShmNames {
    /// procnto's libc: only `/x` (one leading slash, no other) becomes
    /// `/dev/shmem/x`; any other name is an ordinary path.
    SlashPrefixOnly,
    /// QNX 4: every name lives in the flat `/dev/shmem`; a leading slash is optional.
    FlatDevShmem,
    /// glibc: leading slashes are dropped; an empty name, another slash or a
    /// name of NAME_MAX - 1 bytes or more is EINVAL; objects live in `/dev/shm`.
    Glibc,
}

/// One platform's behaviour, as knobs.
#[derive(Debug)]
pub struct Profile {
    /// The name.
    pub name: ProfileName,
    /// The page size.
    pub page_size: u64,
    /// The lowest user address.
    pub user_start: u64,
    /// The lowest address mmap chooses by itself, and the lowest a MAP_FIXED
    /// mapping may take without the raw-I/O privilege (Linux
    /// `vm.mmap_min_addr`; MMAP-EPERM-4).
    pub mmap_min_addr: u64,
    /// One past the highest user address.
    pub user_end: u64,
    /// Where placement starts (bottom-up) or ends (top-down).
    pub map_base: u64,
    /// A base that is free in every backend, for `$ARENA`.
    pub arena: u64,
    /// How mmap chooses addresses.
    pub placement: Placement,
    /// The last valid physical address.
    pub last_paddr: u64,
    /// The largest offset+size an object mapping may reach (procnto ENXIO, Linux EOVERFLOW).
    pub max_object_offset: u64,
    /// System RAM that committed (non-lazy) memory is charged against.
    pub ram_bytes: u64,
    /// Whether committed memory accumulates across calls (procnto allocates up
    /// front) or is judged per call (Linux's heuristic overcommit).
    pub commit_cumulative: bool,
    /// Whether shared objects (shm, shared anonymous memory) are charged to
    /// system memory when they grow.
    pub commit_objects: bool,
    /// The largest number of regions in one address space.
    pub max_regions: usize,
    /// Whether a MAP_FIXED mapping's limit checks subtract the bytes it
    /// replaces (RLIMIT_AS/DATA, and the overcommit charge of a private one).
    pub fixed_replace_credit: bool,
    /// The largest number of live processes (spawn fails with EAGAIN beyond it).
    pub max_procs: usize,
    /// How limits compare.
    pub rlimit_cmp: LimitCmp,
    /// What RLIMIT_DATA counts.
    pub data_scope: DataScope,
    /// The mmap check list.
    pub mmap_order: MmapOrder,
    /// The check lists of munmap, mprotect, msync and the mlock family.
    pub ctrl_order: CtrlOrder,
    /// Who may lock.
    pub lock_privilege: LockPrivilege,
    /// The errno of mlock/mlockall(MCL_CURRENT) over the lock limit.
    pub mlock_limit_errno: Errno,
    /// The documented alternative to `mlock_limit_errno`, if any.
    pub mlock_limit_alt: Option<Errno>,
    /// The errno of a ctrl call (mprotect, mlock, msync, munlock) with len 0,
    /// or `None` when it succeeds.
    pub ctrl_zero_len: Option<Errno>,
    /// Whether unaligned addresses in munmap/mprotect/msync fail with EINVAL
    /// (otherwise the range is widened to whole pages).
    pub ctrl_unaligned_einval: bool,
    /// Whether mprotect, mlock and munlock find holes while walking the
    /// regions, so the mapped prefix before a hole is changed (Linux), or
    /// check the whole range before changing anything (procnto).
    pub mprotect_partial_on_hole: bool,
    /// The errno of shm_unlink by a caller that is not the owner.
    pub shm_unlink_not_owner: Errno,
    /// The errno of mmap on an fd type that cannot be mapped.
    pub unmappable_fd: Errno,
    /// Whether setrlimit with cur = RLIM_INFINITY sets the soft limit to the hard one.
    pub infinite_cur_means_hard: bool,
    /// Whether `shm_open("Physical")` opens physical memory.
    pub physical_shm_name: bool,
    /// Whether /dev/mem exists.
    pub has_dev_mem: bool,
    /// Whether mmap_peer and munmap_peer exist.
    pub has_mmap_peer: bool,
    /// Whether mmap share type 0 means MAP_PRIVATE (procnto's backwards
    /// compatibility, on by default) or is refused unless MAP_ANON is set.
    pub share_type_zero_private: bool,
    /// The errno of a MAP_PRIVATE mapping of physical memory through an fd,
    /// or `None` when it is allowed (copy-on-write).
    pub private_phys_errno: Option<Errno>,
    /// Whether mapping physical memory through an fd checks the range against
    /// the last physical address (procnto's /dev/mem does not).
    pub phys_fd_range_check: bool,
    /// Whether euid 0 holds the resource privilege: raising a hard limit and
    /// changing another user's limits. On neutrino root does; on linux the
    /// privilege is CAP_SYS_RESOURCE, which this project's machines lack, so
    /// nobody does.
    pub raise_hard_needs_root: bool,
    /// Initial limits, indexed by [`crate::types::Resource::index`].
    pub initial_limits: [Rlimit; Resource::COUNT],
    /// How shm names become paths.
    pub shm_names: ShmNames,
    /// Whether open and shm_open take the fd before looking the name up, so
    /// EMFILE comes first (Linux), or after the server replied (procnto).
    pub open_fd_first: bool,
    /// Whether O_TRUNC needs write permission on an existing object (Linux
    /// may_open) or is not checked (procnto).
    pub trunc_needs_write_permission: bool,
    /// Whether setrlimit(RLIMIT_NOFILE) below the open fds is EINVAL.
    pub nofile_below_usage_einval: bool,
    /// The largest size ftruncate can give a shared-memory object.
    pub shm_max_size: u64,
    /// Whether growing an object on a memory file system (shared memory, a
    /// tmpfs file) keeps the bytes a store through a mapping wrote past the
    /// old end in its last page (Linux tmpfs), rather than showing zeros
    /// there (POSIX, and Linux disk file systems).
    pub tmpfs_grow_keeps_tail: bool,
    /// Whether msync(MS_SYNC) writing back a disk file's last, partial page
    /// zeroes the bytes past the end of file in it, in the page every mapping
    /// shares (Linux: the writeback of ext4 and other block file systems
    /// zeroes the part of the page past i_size).
    pub disk_writeback_zeroes_tail: bool,
    /// Whether the QNX 4 Gamma binding's mmap exists (GAMMA-ENOSYS-1).
    pub has_gamma: bool,
    /// Whether this machine's kernel is the system the profile describes, so
    /// the real Linux backend (src/backend/linux) can stand for it.
    pub is_this_kernel: bool,
    /// How mmap's front end reads its arguments.
    pub mmap_args: MmapArgs,
    /// Whether MAP_PHYS without an fd maps physical memory by address
    /// (procnto), or is an unknown flag and the fd is looked up (Linux).
    pub map_phys_by_addr: bool,
    /// Whether MAP_STACK's offset is the size of a guard at the mapping's
    /// low end (procnto), or MAP_STACK is only a hint (Linux).
    pub stack_guard: bool,
    /// Whether a MAP_FIXED private anonymous mapping returns `addr` with its
    /// sub-page offset (procnto vmm_mmap); otherwise the offset keeps `off`'s.
    pub fixed_anon_keeps_addr_offset: bool,
    /// What the region-count limit compares (MMAP-ENOMEM-7).
    pub region_limit: RegionLimit,
    /// Whether a soft RLIMIT_DATA of 0 falls back to the hard limit (Linux
    /// may_expand_vm's exception for Valgrind; MMAP-ENOMEM-1).
    pub data_zero_soft_uses_hard: bool,
    /// The length mmap's limit checks use.
    pub limit_len: LimitLen,
    /// Which mappings need memory up front (MMAP-ENOMEM-6).
    pub commit_scope: CommitScope,
    /// Whether MAP_LOCKED locks the mapping (Linux; MMAP-EPERM-3,
    /// MMAP-EAGAIN-1).
    pub map_locked_locks: bool,
    /// Whether a MAP_FIXED mmap that fails after its range was unmapped
    /// (allocation, locking) leaves the range empty (procnto vmm_mmap).
    pub failed_fixed_leaves_hole: bool,
    /// Whether mmap of a server's file is an `_IO_MMAP` exchange with the
    /// server (procnto), or the kernel maps the file itself (Linux).
    pub server_answers_mmap: bool,
    /// The protection bits mprotect accepts (MPROT-EINVAL-1).
    pub mprotect_prot_bits: Prot,
    /// Whether mprotect splits regions as it walks them, each split against
    /// the region limit, and leaves a region that already has the
    /// protection alone (Linux mprotect_fixup()); otherwise the splits are
    /// checked up front and the whole range is changed (procnto).
    pub mprotect_splits_while_walking: bool,
    /// The flags msync accepts (MSYNC-EINVAL-1).
    pub msync_flags: MsyncFlags,
    /// Whether msync(MS_INVALIDATE) of locked memory is EBUSY (MSYNC-EBUSY-1).
    pub msync_invalidate_locked_busy: bool,
    /// Whether mlock locks the whole range before it faults pages in (Linux),
    /// so a page it cannot fault in (PROT_NONE, or past the end of the object
    /// a region maps) fails the call with the whole range locked; procnto
    /// stops at a PROT_NONE region with only the regions before it locked
    /// (LOCK-ENOMEM-5).
    pub mlock_locks_before_faulting: bool,
    /// What mlockall(MCL_CURRENT) compares with the lock limit.
    pub lockall_limit: LockallLimit,
    /// The flags mlockall accepts (LOCK-EINVAL-1).
    pub mlockall_flags: MclFlags,
    /// Whether mlockall that fails on the lock limit keeps MCL_FUTURE and
    /// the regions it locked before the limit (procnto).
    pub lockall_partial_on_limit: bool,
    /// Whether mlockall replaces MCL_FUTURE (Linux: MCL_CURRENT alone clears
    /// it) or only ever sets it (procnto).
    pub mlockall_replaces_future: bool,
    /// The file type bits fstat reports for a shared-memory object
    /// (FSTAT-STATUS-1): S_IFNAM on procnto, S_IFREG on Linux's tmpfs.
    pub shm_file_type: u32,
    /// Whether RLIMIT_NPROC spares root (Linux: the root user is never
    /// limited) or counts root's processes too (PROC-EAGAIN-2).
    pub nproc_exempts_root: bool,
    /// Whether acting on another process's limits needs the caller's group
    /// to match the target's as well as its user (Linux's
    /// check_prlimit_permission). Rule: RLIMIT-EPERM-2.
    pub foreign_limits_match_gid: bool,
    /// Whether a shared mapping of /dev/zero keeps its file offset into the
    /// new object, which is only as long as the mapping (Linux's
    /// shmem_zero_setup leaves vm_pgoff), so the pages past the object's
    /// end are SIGBUS. Rule: ACCESS-SIGBUS-1.
    pub zero_device_keeps_offset: bool,
    // ---- address-space calls (spec/address-space.md) ----
    /// What meminfo's map count counts. Rule: MEMINFO-OK-1.
    pub map_count: MapCount,
    /// Whether the system has mlock2 (else ENOSYS). Rule: LOCK-ENOSYS-1.
    pub has_mlock2: bool,
    /// Where a new process's heap starts (and its break). Rules: BRK-*.
    pub initial_break: u64,
    /// What brk returns. Rules: BRK-*.
    pub brk_result: BrkResult,
    /// The free pages growth needs above the new break. Rule: BRK-MAPPED-1.
    pub brk_gap_pages: u64,
    /// Whether brk checks the heap's new size against RLIMIT_DATA before
    /// anything else, for any move (Linux check_data_rlimit()). Rule: BRK-DATA-1.
    pub brk_heap_size_limit: bool,
    /// Whether the system has mremap (else ENOSYS). Rule: MREMAP-ENOSYS-1.
    pub has_mremap: bool,
    /// Whether MAP_GROWSDOWN mappings grow down when a load or store faults
    /// below them, and the bounds of that growth; `None` where there is no
    /// such flag (procnto: the bit is refused by MMAP-EINVAL-4, so no
    /// mapping grows). Rules: ACCESS-GROW-1, ACCESS-SIGSEGV-3..8, MMAP-OK-3.
    pub stack_growth: Option<StackGrowth>,
}

/// How a growsdown mapping grows (Linux expand_downwards()) and what
/// placement keeps free below one (vm_start_gap()).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct StackGrowth {
    /// stack_guard_gap: the distance growth keeps from an accessible,
    /// not growsdown mapping below, and placement from a growsdown one above.
    pub guard_gap: Len,
    /// The lowest page growth may reach: the kernel's mmap_min_addr, the
    /// larger of `vm.mmap_min_addr` and CONFIG_LSM_MMAP_MIN_ADDR (not
    /// lifted by CAP_SYS_RAWIO, unlike MAP_FIXED's MMAP-EPERM-4).
    pub min_addr: Addr,
}

/// What brk returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BrkResult {
    /// The break after the call: the new one, or the old one when it did
    /// not move (the Linux system call; it has no errno).
    NewBreak,
    /// 0, or -1 with ENOMEM (a C library's brk()); 0 is written `0x0`.
    ZeroOrErrno,
}

/// What meminfo's map count counts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MapCount {
    /// The regions, one by one (the model's procnto).
    Regions,
    /// Linux's VMAs: neighbouring compatible regions may be one.
    MergedVmas,
}

const INF: Rlimit = Rlimit::INFINITE;
const PAGE: u64 = 4096;

/// QNX Neutrino (procnto 6.4 source, 7.x documentation where 6.4 is silent).
pub static NEUTRINO: Profile = NEUTRINO_FIELDS;

/// QNX 4, as the Gamma binding sees it.
pub static QNX4: Profile = Profile {
    name: ProfileName::Qnx4,
    user_end: 0xC000_0000,
    physical_shm_name: true,
    has_mmap_peer: false,
    share_type_zero_private: false,
    private_phys_errno: Some(Errno::ENOTSUP),
    phys_fd_range_check: true,
    unmappable_fd: Errno::ENODEV,
    shm_names: ShmNames::FlatDevShmem,
    has_gamma: true,
    ..NEUTRINO_FIELDS
};

// The same values as NEUTRINO, usable in struct-update syntax.
const NEUTRINO_FIELDS: Profile = Profile {
    name: ProfileName::Neutrino,
    page_size: PAGE,
    user_start: 0x1000,
    mmap_min_addr: 0x1000,
    user_end: 0x0000_8000_0000_0000,
    map_base: 0x1000_0000,
    arena: 0x4000_0000,
    placement: Placement::BottomUpStrict,
    last_paddr: 0xFFFF_FFFF,
    max_object_offset: 0xFFFF_FFFF << 12,
    ram_bytes: 16 << 30,
    commit_cumulative: true,
    commit_objects: true,
    max_regions: 65536,
    fixed_replace_credit: false,
    max_procs: 1024,
    rlimit_cmp: LimitCmp::FailAtEqual,
    data_scope: DataScope::AnonPrivate,
    mmap_order: MmapOrder::Procnto,
    ctrl_order: CtrlOrder::Procnto,
    lock_privilege: LockPrivilege::RootOrAbility,
    mlock_limit_errno: Errno::EAGAIN,
    mlock_limit_alt: Some(Errno::ENOMEM),
    ctrl_zero_len: Some(Errno::ENOMEM),
    ctrl_unaligned_einval: false,
    mprotect_partial_on_hole: false,
    shm_unlink_not_owner: Errno::EPERM,
    unmappable_fd: Errno::ENOTSUP,
    infinite_cur_means_hard: true,
    physical_shm_name: false,
    has_dev_mem: true,
    has_mmap_peer: true,
    share_type_zero_private: true,
    private_phys_errno: None,
    phys_fd_range_check: false,
    raise_hard_needs_root: true,
    // DATA, NOFILE, AS, MEMLOCK, STACK, NPROC.
    initial_limits: [INF, Rlimit { cur: 1000, max: 1000 }, INF, INF, INF, INF],
    shm_names: ShmNames::SlashPrefixOnly,
    open_fd_first: false,
    trunc_needs_write_permission: false,
    nofile_below_usage_einval: true,
    shm_max_size: u32::MAX as u64,
    tmpfs_grow_keeps_tail: false,
    disk_writeback_zeroes_tail: false,
    has_gamma: false,
    is_this_kernel: false,
    mmap_args: MmapArgs::MemmgrRewrite,
    map_phys_by_addr: true,
    stack_guard: true,
    fixed_anon_keeps_addr_offset: true,
    region_limit: RegionLimit::CountAfter,
    data_zero_soft_uses_hard: false,
    limit_len: LimitLen::Unrounded,
    commit_scope: CommitScope::UnlessLazy,
    map_locked_locks: false,
    failed_fixed_leaves_hole: true,
    server_answers_mmap: true,
    mprotect_prot_bits: Prot::from_bits_retain(Prot::MASK),
    mprotect_splits_while_walking: false,
    msync_flags: MsyncFlags::all(),
    msync_invalidate_locked_busy: false,
    mlock_locks_before_faulting: false,
    lockall_limit: LockallLimit::Unlocked,
    mlockall_flags: MclFlags::CURRENT.union(MclFlags::FUTURE),
    lockall_partial_on_limit: true,
    mlockall_replaces_future: false,
    shm_file_type: crate::call::file_type::NAM,
    nproc_exempts_root: false,
    foreign_limits_match_gid: false,
    zero_device_keeps_offset: false,
    map_count: MapCount::Regions,
    has_mlock2: false,
    initial_break: 0x0800_0000,
    brk_result: BrkResult::ZeroOrErrno,
    brk_gap_pages: 0,
    brk_heap_size_limit: false,
    has_mremap: false,
    stack_growth: None,
};

/// Linux 6.x on x86_64, as probed on this project's machines, with the
/// machine's own memory (`ram_bytes`, read once from /proc/meminfo).
pub static LINUX: LazyLock<Profile> = LazyLock::new(|| Profile {
    ram_bytes: machine_commit_limit().unwrap_or(LINUX_FIELDS.ram_bytes),
    ..LINUX_FIELDS
});

/// What Linux's heuristic overcommit compares one request with: RAM plus
/// swap (`totalram_pages() + total_swap_pages`, mm/util.c
/// __vm_enough_memory), MemTotal and SwapTotal in /proc/meminfo. `None`
/// where that cannot be read (not Linux).
pub fn machine_commit_limit() -> Option<u64> {
    let text = std::fs::read_to_string("/proc/meminfo").ok()?;
    let kib = |key: &str| -> Option<u64> {
        let line = text.lines().find(|l| l.starts_with(key))?;
        line[key.len()..].trim().trim_end_matches("kB").trim().parse().ok()
    };
    let total = kib("MemTotal:")?.checked_add(kib("SwapTotal:").unwrap_or(0))?;
    total.checked_mul(1024)
}

/// The linux profile as written, with the memory of the machine it was
/// measured on; [`LINUX`] takes this one's memory instead.
const LINUX_FIELDS: Profile = Profile {
    name: ProfileName::Linux,
    page_size: PAGE,
    // The address space starts at 0; mmap_min_addr is a permission check.
    user_start: 0,
    mmap_min_addr: 0x1000,
    user_end: 0x7FFF_FFFF_F000,
    map_base: 0x7F00_0000_0000,
    arena: 0x2000_0000_0000,
    placement: Placement::TopDown,
    last_paddr: 0xFFFF_FFFF,
    max_object_offset: (1 << 63) - 1,
    // The machine's RAM plus swap, which the kernel's heuristic overcommit
    // compares a request with: machine-dependent (spec/profiles.md,
    // ram_bytes), so LINUX reads it; this is the value where it cannot be
    // read (the project's first machine: 24 GiB less the kernel's own).
    ram_bytes: 24_684_084 << 10,
    commit_cumulative: false,
    commit_objects: false,
    max_regions: 65530,
    fixed_replace_credit: true,
    max_procs: 1024,
    rlimit_cmp: LimitCmp::FailOver,
    data_scope: DataScope::PrivateWritable,
    mmap_order: MmapOrder::Linux,
    ctrl_order: CtrlOrder::Linux,
    lock_privilege: LockPrivilege::CapOrLimit,
    mlock_limit_errno: Errno::ENOMEM,
    mlock_limit_alt: None,
    ctrl_zero_len: None,
    ctrl_unaligned_einval: true,
    mprotect_partial_on_hole: true,
    shm_unlink_not_owner: Errno::EACCES,
    unmappable_fd: Errno::ENODEV,
    infinite_cur_means_hard: false,
    physical_shm_name: false,
    has_dev_mem: false,
    has_mmap_peer: false,
    share_type_zero_private: false,
    private_phys_errno: None,
    phys_fd_range_check: false,
    raise_hard_needs_root: false,
    initial_limits: [
        INF,
        Rlimit { cur: 20000, max: 20000 },
        INF,
        Rlimit {
            cur: 8 << 20,
            max: 8 << 20,
        },
        // RLIMIT_STACK as this machine's shells start with; RLIMIT_NPROC a
        // bound the first worker sets (the machine's own is threads-max / 2).
        Rlimit {
            cur: 8 << 20,
            max: RLIM_INFINITY,
        },
        Rlimit { cur: 4096, max: 4096 },
    ],
    shm_names: ShmNames::Glibc,
    open_fd_first: true,
    trunc_needs_write_permission: true,
    nofile_below_usage_einval: false,
    shm_max_size: i64::MAX as u64,
    tmpfs_grow_keeps_tail: true,
    disk_writeback_zeroes_tail: true,
    has_gamma: false,
    is_this_kernel: true,
    mmap_args: MmapArgs::KernelAsGiven,
    map_phys_by_addr: false,
    stack_guard: false,
    fixed_anon_keeps_addr_offset: false,
    region_limit: RegionLimit::CountBefore,
    data_zero_soft_uses_hard: true,
    limit_len: LimitLen::Pages,
    commit_scope: CommitScope::Accountable,
    map_locked_locks: true,
    failed_fixed_leaves_hole: false,
    server_answers_mmap: false,
    mprotect_prot_bits: Prot::READ.union(Prot::WRITE).union(Prot::EXEC),
    mprotect_splits_while_walking: true,
    msync_flags: MsyncFlags::ASYNC.union(MsyncFlags::SYNC).union(MsyncFlags::INVALIDATE),
    msync_invalidate_locked_busy: true,
    mlock_locks_before_faulting: true,
    lockall_limit: LockallLimit::TotalVm,
    mlockall_flags: MclFlags::all(),
    lockall_partial_on_limit: false,
    mlockall_replaces_future: true,
    shm_file_type: crate::call::file_type::REG,
    nproc_exempts_root: true,
    foreign_limits_match_gid: true,
    zero_device_keeps_offset: true,
    map_count: MapCount::MergedVmas,
    has_mlock2: true,
    initial_break: 0x5555_5600_0000,
    brk_result: BrkResult::NewBreak,
    brk_gap_pages: 1,
    brk_heap_size_limit: true,
    has_mremap: true,
    stack_growth: Some(StackGrowth {
        guard_gap: Len(256 * PAGE),
        min_addr: Addr(0x10000),
    }),
};

impl Profile {
    /// The lowest address placement may choose: the user range's start, or
    /// `mmap_min_addr` where that is higher.
    pub fn placement_start(&self) -> u64 {
        self.user_start.max(self.mmap_min_addr)
    }

    /// `value`'s offset within its page.
    pub fn page_offset(&self, value: u64) -> u64 {
        crate::types::page_offset(value, self.page_size)
    }

    /// `len` rounded up to pages, or `None` on wrap.
    pub fn round_up(&self, len: u64) -> Option<u64> {
        crate::types::align_up(len, self.page_size)
    }

    /// This profile with `ram_bytes` of system memory in place of its own:
    /// a trace's header `ram` (spec/trace-format.md §2), so that a
    /// recording is judged with the memory of the machine it was recorded
    /// on. Each distinct profile is made once and kept for the run, at most
    /// [`MAX_RAM_VARIANTS`] of them; past that, `None`.
    pub fn with_ram_bytes(&'static self, ram_bytes: u64) -> Option<&'static Profile> {
        if ram_bytes == self.ram_bytes {
            return Some(self);
        }
        static MADE: Mutex<Vec<&'static Profile>> = Mutex::new(Vec::new());
        let mut made = MADE.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
        if let Some(&p) = made.iter().find(|p| p.name == self.name && p.ram_bytes == ram_bytes) {
            return Some(p);
        }
        if made.len() >= MAX_RAM_VARIANTS {
            return None;
        }
        // Leaked on purpose: the model holds its profile as `&'static`, and
        // the cache bounds how many are made.
        let p: &'static Profile = Box::leak(Box::new(Profile { ram_bytes, ..*self }));
        made.push(p);
        Some(p)
    }
}

/// How many profiles with another system memory ([`Profile::with_ram_bytes`])
/// one run may make: far more than the machines a suite was recorded on,
/// and a bound on the memory kept for them.
pub const MAX_RAM_VARIANTS: usize = 64;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for p in ProfileName::ALL {
            assert_eq!(p.as_str().parse::<ProfileName>(), Ok(p));
            assert_eq!(p.profile().name, p);
        }
    }

    #[test]
    fn limit_comparison_differs_at_equality() {
        assert!(LimitCmp::FailAtEqual.blown(4096, 4096, 8192));
        assert!(!LimitCmp::FailOver.blown(4096, 4096, 8192));
        assert!(LimitCmp::FailOver.blown(4096, 4097, 8192));
        assert!(!LimitCmp::FailAtEqual.blown(u64::MAX - 1, 0, RLIM_INFINITY));
        assert!(LimitCmp::FailOver.blown(u64::MAX, 1, 10));
    }
}
