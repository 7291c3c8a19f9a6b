//! The django-prometheus profile against the real package: the traffic of
//! `tests/data/README.md` replayed against a Rust service with the profile on
//! and namespace `django`, compared with what django-prometheus 2.5.0 served
//! for the same traffic (`tests/data/django-prometheus-2.5.0-exposition.txt`):
//! the same family names, types, label names and bucket boundaries.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;

use axum::http::StatusCode;
use axum::routing::get;
use axum::Router;
use instrument_runtime::{cache_lookup, model_op, Builder, HttpMetricsLayer};

const REFERENCE: &str = include_str!("data/django-prometheus-2.5.0-exposition.txt");

/// Families of ours that the package does not export: the catalogue's
/// names, as the project's documentation gives them.
const ONLY_IN_RUST: &[&str] = &[
    "django_http_requests_total",
    "django_http_responses_total_by_status",
    "django_http_requests_latency_seconds",
    "django_http_exceptions_total",
    "django_db_execute_latency_seconds",
    "django_cache_hits_total",
    "django_cache_misses_total",
];

/// One family of an exposition: its type, the label names of its series
/// (without `le`), and a histogram's bucket bounds.
#[derive(Debug, Default, PartialEq)]
struct Family {
    kind: String,
    labels: BTreeSet<String>,
    buckets: BTreeSet<String>,
    has_series: bool,
}

fn families(page: &common::Page) -> BTreeMap<String, Family> {
    let mut families: BTreeMap<String, Family> = page
        .types
        .iter()
        .filter(|(name, _)| !name.starts_with("python_") && !name.starts_with("process_"))
        .filter(|(name, _)| !name.ends_with("_created"))
        .map(|(name, kind)| {
            (
                name.clone(),
                Family {
                    kind: kind.clone(),
                    ..Family::default()
                },
            )
        })
        .collect();
    for sample in &page.samples {
        let Some(family) = families.get_mut(common::family_of(&sample.name)) else {
            continue;
        };
        family.has_series = true;
        for (name, value) in &sample.labels {
            if name == "le" {
                // Python prints 1.0 and 1.048576e+06, Rust 1 and 1048576.
                family.buckets.insert(
                    value
                        .parse::<f64>()
                        .map_or(value.clone(), |v| v.to_string()),
                );
            } else {
                family.labels.insert(name.clone());
            }
        }
    }
    families
}

#[model_op(model = "item", op = insert)]
fn insert_item() -> Result<u32, String> {
    Ok(1)
}

#[model_op(model = "item", op = update)]
fn update_item() -> Result<(), String> {
    Ok(())
}

#[model_op(model = "item", op = delete)]
fn delete_item() -> Result<(), String> {
    Ok(())
}

#[cache_lookup(backend = "locmem")]
fn cache_get(cache: &std::sync::Mutex<Option<u32>>) -> Option<u32> {
    *cache.lock().unwrap()
}

/// The package's view that raises.
async fn boom() -> &'static str {
    panic!("ValueError")
}

/// The package's test app: /ok/, /boom/ (the view raises), /err/ (503),
/// /create/ (a model insert, update and delete; a cache miss, set and hit).
fn app() -> Router {
    let cache = std::sync::Arc::new(std::sync::Mutex::new(None));
    let create = move || {
        let cache = cache.clone();
        async move {
            let id = insert_item().unwrap();
            update_item().unwrap();
            delete_item().unwrap();
            assert_eq!(cache_get(&cache), None);
            *cache.lock().unwrap() = Some(id);
            assert_eq!(cache_get(&cache), Some(id));
            "created"
        }
    };
    Router::new()
        .route("/ok/", get(|| async { "ok" }).post(|| async { "ok" }))
        .route("/boom/", get(boom))
        .route(
            "/err/",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") }),
        )
        .route("/create/", get(create))
        .merge(instrument_runtime::metrics_router())
        .layer(HttpMetricsLayer::new())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_profile_exports_the_packages_families() {
    common::install_once(|| {
        Builder::new()
            .namespace("django")
            .db_vendor("sqlite")
            .django_compat(true)
    });
    instrument_runtime::db::connection_opened();
    // As the service reports its migrations once they have run.
    instrument_runtime::db::migrations(2, 0);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr: SocketAddr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app()).await.unwrap() });

    let page = tokio::task::spawn_blocking(move || {
        for (method, path, status) in [
            ("GET", "/ok/", 200),
            ("GET", "/ok/", 200),
            ("GET", "/boom/", 500),
            ("GET", "/err/", 503),
            ("GET", "/create/", 200),
            ("GET", "/nope/", 404),
            ("POST", "/ok/", 200),
        ] {
            assert_eq!(
                common::http_request(addr, method, path).status,
                status,
                "{method} {path}"
            );
        }
        common::http_get(addr, "/metrics/")
    })
    .await
    .unwrap();
    assert_eq!(page.status, 200);
    let ours = families(&common::Page::parse(&page.body));
    let django = families(&common::Page::parse(REFERENCE));

    let mut differences = Vec::new();
    for (name, theirs) in &django {
        let Some(mine) = ours.get(name) else {
            differences.push(format!("{name}: missing"));
            continue;
        };
        if mine.kind != theirs.kind {
            differences.push(format!(
                "{name}: type {} here, {} in Django",
                mine.kind, theirs.kind
            ));
        }
        // Label names and buckets can be compared where Django has series.
        if theirs.has_series {
            if !mine.has_series {
                differences.push(format!("{name}: no series after the same traffic"));
            } else if mine.labels != theirs.labels {
                differences.push(format!(
                    "{name}: labels {:?} here, {:?} in Django",
                    mine.labels, theirs.labels
                ));
            }
            if mine.has_series && mine.buckets != theirs.buckets {
                differences.push(format!(
                    "{name}: buckets {:?} here, {:?} in Django",
                    mine.buckets, theirs.buckets
                ));
            }
        }
    }
    for name in ours.keys() {
        if !django.contains_key(name) && !ONLY_IN_RUST.contains(&name.as_str()) {
            differences.push(format!("{name}: exported here, not by Django"));
        }
    }
    assert!(
        differences.is_empty(),
        "differences from django-prometheus 2.5.0:\n{}\n\n{}",
        differences.join("\n"),
        page.body
    );
}
