//! The oracle: allowed sets, free choices, carrying on after a divergence,
//! what a divergence report shows, coverage, and the mutation test.

// Shared helpers.
mod util;
// Judging single events and whole traces.
mod judge;
// Free choices of every call are adopted.
mod free_choice;
// Rule coverage of the shipped traces.
mod coverage;
// Changing one recorded outcome at a time must be caught at that line.
mod mutation;
