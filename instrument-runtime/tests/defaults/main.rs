//! The integration tests that share one install with the default settings:
//! each module annotates functions of its own and reads back only their
//! series. One binary, so that they build and link once.

#[path = "../common/mod.rs"]
mod common;
#[path = "../http_layer_support/mod.rs"]
mod http_layer_support;

mod async_fn;
mod cache_lookup;
mod cancellation;
mod concurrency;
mod counted;
mod custom_family;
mod endpoint;
mod http_layer;
mod macro_rules_arguments;
mod panic;
mod timed;
