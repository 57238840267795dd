//! Model tests, one file per API family. Each rule test is named after the rule
//! it exercises (`mmap_einval_2_zero_length` exercises MMAP-EINVAL-2) and names
//! the ID in a comment or assertion, so `spec --coverage` and the catalogue test
//! can find it.

// The rule catalogue in spec/ against the code and the tests.
mod catalogue;
// Profiles are data: no name compared, no order used as a platform switch.
mod profile_data;
// mmap (spec/mmap.md).
mod mmap;
// munmap, mprotect, msync (spec/munmap-mprotect.md).
mod ctrl;
// mlock, munlock, mlockall, munlockall (spec/locking.md).
mod lock;
// getrlimit, setrlimit (spec/rlimits.md).
mod rlimit;
// shm_open, shm_unlink, open, ftruncate, close (spec/shared-memory.md).
mod shm;
// load, store and memory contents (spec/objects-contents.md).
mod access;
// spawn, exit, cred (spec/processes.md).
mod process;
// mmap_peer, munmap_peer (spec/peer.md); dup, fstat (spec/fds.md).
mod peer;
// The modelled resource manager, iofunc_mmap and _IO_MMAP (spec/iofunc_mmap.md).
mod resmgr;
// libmemobj (spec/memobj.md).
mod memobj;
// The Gamma mmap and shm_open binding (spec/gamma.md).
mod gamma;
// meminfo and the other address-space calls (spec/address-space.md).
mod aspace;
// MAP_GROWSDOWN, stack growth and the guard gap (spec/objects-contents.md, spec/mmap.md).
mod growsdown;
// The region map and its gap index against a linear reference.
mod region_map;
// Random call sequences across processes with the invariant checker.
mod state_machine;
// Hostile arguments: huge lengths, offsets near 2^64, unknown bits, many spawns.
mod hostile;
// Shared helpers for building calls.
mod util;
// First end-to-end checks.
mod smoke;
