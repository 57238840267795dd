//! Any bytes read as a trace file are judged or refused, never a panic; the body is `mmoracle::fuzzing::trace_text`.
#![no_main]

libfuzzer_sys::fuzz_target!(|bytes: &[u8]| mmoracle::fuzzing::trace_text(bytes));
