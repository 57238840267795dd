//! The `_IO_MMAP` codec on arbitrary bytes; the body is `mmoracle::fuzzing::io_mmap_wire`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| mmoracle::fuzzing::io_mmap_wire(bytes));
