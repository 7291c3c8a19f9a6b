//! trybuild compile-pass and compile-fail cases for the macros of
//! `instrument-runtime`; see `tests/ui.rs`.
