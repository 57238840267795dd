//! The trace format: reading, writing, bad input, and generated scripts.

// Shared helpers.
mod util;
// Reading events: values, expressions, bindings, outcomes.
mod reader;
// What failed calls bind.
mod bindings;
// Bad input: every kind names file, line and column, and nothing panics.
mod bad_input;
// Writing and reading back.
mod round_trip;
// Generated scripts: reproducible, readable, and runnable on the model.
mod gen;
