//! Byte-driven call sequences on the model; the body is `mmoracle::fuzzing::run_bytes`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| mmoracle::fuzzing::run_bytes(bytes));
