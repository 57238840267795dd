//! Byte-driven call sequences on the real Linux backend, judged strictly
//! against the linux model; the body is `mmoracle::fuzzing::differential`.
//!
//! The workers are the mmoracle binary (a fuzz target cannot be one): build
//! it first with `cargo build --release` in the project root, or name another
//! with MMORACLE_WORKER_EXE. Needs root, as the linux profile's first process is.
#![no_main]

use std::path::PathBuf;

libfuzzer_sys::fuzz_target!(
    init: {
        let exe = std::env::var_os("MMORACLE_WORKER_EXE")
            .map(PathBuf::from)
            .unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../target/release/mmoracle")));
        assert!(
            exe.is_file(),
            "differential: no worker binary at {}: run `cargo build --release` in the project root, or set MMORACLE_WORKER_EXE",
            exe.display()
        );
        assert!(
            mmoracle::fuzzing::can_run_differential(),
            "differential: needs root (the linux profile's first process is root)"
        );
        mmoracle::backend::linux::use_worker_exe(exe);
    },
    |bytes: &[u8]| mmoracle::fuzzing::differential(bytes)
);
