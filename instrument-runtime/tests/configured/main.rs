//! The integration tests that install with settings of their own. Each
//! test runs in a process of its own (`common::isolated`: this binary run
//! again with only that test), so one binary holds them all and builds and
//! links once.

#[path = "../common/mod.rs"]
mod common;
#[path = "../http_layer_support/mod.rs"]
mod http_layer_support;
#[path = "../openmetrics/mod.rs"]
mod openmetrics;
#[path = "../protection/mod.rs"]
mod protection;
#[path = "../text_format/mod.rs"]
mod text_format;

mod before_install;
mod build_info;
mod cardinality;
mod compat_db_cache;
#[cfg(feature = "diesel-2")]
mod db_diesel;
#[cfg(feature = "refinery-0_10")]
mod db_refinery;
#[cfg(feature = "rusqlite-0_39")]
mod db_rusqlite;
#[cfg(feature = "sqlx-0_9")]
mod db_sqlx;
#[cfg(any(feature = "rusqlite-0_39", feature = "diesel-2", feature = "sqlx-0_9"))]
mod db_statements;
mod endpoint_hardening;
mod endpoint_listen;
#[cfg(feature = "exemplars")]
mod exemplars;
mod exposition_name_collisions;
mod exposition_safety;
mod http_layer_allocations;
mod http_layer_before_install;
mod http_layer_django;
mod http_layer_flood;
mod load_counting;
mod model_op;
mod openmetrics_page;
mod protection_allow_list;
mod protection_allow_loopback;
mod protection_basic;
mod protection_bearer;
mod protection_bearer_file;
mod protection_combined;
mod protection_invalid;
#[cfg(feature = "tls")]
mod protection_web_config;
mod push;
mod recorders;
mod settings;
mod settings_buckets;
mod settings_global_labels;
mod settings_namespace;
