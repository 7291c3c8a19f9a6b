//! Prometheus instrumentation for Rust web services, the way a well-run
//! Django deployment has it: attribute macros on handlers and repository
//! functions, one [`install`] at start-up, and a `/metrics/` endpoint.
//!
//! ```
//! use instrument_runtime::{counted, timed};
//!
//! #[counted]
//! #[timed]
//! fn checkout(items: u32) -> Result<u32, String> {
//!     if items == 0 {
//!         return Err("empty cart".into());
//!     }
//!     Ok(items * 100)
//! }
//!
//! let metrics = instrument_runtime::install().expect("installed once");
//! checkout(3).unwrap();
//! checkout(0).unwrap_err();
//!
//! let page = metrics.render();
//! assert!(page.contains(r#"function_calls_total{function="checkout",module="rust_out",result="ok"} 1"#));
//! assert!(page.contains(r#"function_calls_total{function="checkout",module="rust_out",result="error"} 1"#));
//! assert!(page.contains(r#"function_calls_duration_seconds_count{function="checkout",module="rust_out"} 2"#));
//! ```
//!
//! # The families
//!
//! | macro | family | labels |
//! |---|---|---|
//! | [`counted`] | `function_calls_total` | function, module, result |
//! | [`timed`] | `function_calls_duration_seconds` (histogram) | function, module |
//! | [`model_op`] | `db_execute_total`, `db_execute_latency_seconds`, `db_errors_total`, `model_{inserts,updates,deletes}_total` | alias, vendor (type); model |
//! | [`cache_lookup`] | `cache_hits_total`, `cache_misses_total` | backend |
//!
//! The [`Builder`]'s namespace prefixes them (`django_http_requests_total`).
//! Families a macro names itself (`#[counted(name = "api_requests_total")]`)
//! are used as written.
//!
//! # Cost
//!
//! Each annotated function owns a `static` call site that resolves its
//! metric handles once, when [`install`] runs; a call then does an atomic
//! load and the handle's atomic update, nothing else. Calls made before
//! [`install`] are not recorded; they do not disable the call site.
#![warn(missing_docs)]
#![cfg_attr(docsrs, feature(doc_auto_cfg))]

mod catalogue;
#[cfg(feature = "axum")]
mod endpoint;
mod error;
mod histogram;
mod runtime;
mod settings;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use crate::catalogue::DEFAULT_BUCKETS;
#[cfg(feature = "axum")]
pub use crate::endpoint::{metrics_handler, metrics_router, CONTENT_TYPE};
pub use crate::error::Error;
pub use crate::runtime::{installed, Metrics};
pub use crate::settings::Builder;

#[doc(inline)]
pub use instrument_macros::{cache_lookup, counted, model_op, timed};

/// Install the Prometheus recorder with the default settings.
///
/// Describes every family that an annotated function declares and creates
/// its statically known series at 0, and returns the [`Metrics`] that `/metrics/` renders.
/// Use [`Builder`] for a namespace, buckets, global labels or a standalone
/// listener.
///
/// # Errors
///
/// [`Error::AlreadyInstalled`] when a recorder is already installed (a
/// second call returns it; it never panics).
pub fn install() -> Result<Metrics, Error> {
    Builder::new().install()
}
