//! Model tests: one file per API family, each test named after the rule it exercises.

mod smoke;
