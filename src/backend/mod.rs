//! Real backends: implementations of [`crate::MemoryManager`] by real system
//! calls. The only place in the crate with `unsafe` code.

#[cfg(target_os = "linux")]
pub mod linux;
