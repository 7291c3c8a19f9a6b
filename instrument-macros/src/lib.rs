//! The attribute macros of [instrument-runtime](https://docs.rs/instrument-runtime).
//!
//! Depend on `instrument-runtime`, which re-exports these macros and holds
//! everything the generated code calls; the documentation lives there.

#![warn(missing_docs)]
mod ast;
mod attr;
mod expand;
mod fallback;
#[cfg(test)]
mod tests;
mod valid;

// The runtime's name rules, which `valid`'s copy is tested against (a
// proc-macro crate cannot link them).
#[cfg(test)]
#[path = "../../instrument-runtime/src/names.rs"]
#[allow(dead_code, unreachable_pub)]
mod runtime_names;

use proc_macro::TokenStream;

/// Count the calls of a function. See `instrument_runtime::counted`.
#[proc_macro_attribute]
pub fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::counted(args.into(), item.into()).into()
}

/// Time the calls of a function. See `instrument_runtime::timed`.
#[proc_macro_attribute]
pub fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::timed(args.into(), item.into()).into()
}

/// Record a database/model operation. See `instrument_runtime::model_op`.
#[proc_macro_attribute]
pub fn model_op(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::model_op(args.into(), item.into()).into()
}

/// Count the hits and misses of a cache lookup. See `instrument_runtime::cache_lookup`.
#[proc_macro_attribute]
pub fn cache_lookup(args: TokenStream, item: TokenStream) -> TokenStream {
    expand::cache_lookup(args.into(), item.into()).into()
}
