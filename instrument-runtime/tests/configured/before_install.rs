//! Calls made before `install()` record nothing, and do not disable their
//! call site: the calls after `install()` are counted. One test, because
//! the order of events is what is tested.

use crate::common;

use axum::body::to_bytes;
use axum::http::StatusCode;
use common::Page;
use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[counted]
#[timed]
fn early(n: u32) -> Result<u32, u32> {
    if n == 0 {
        Err(n)
    } else {
        Ok(n)
    }
}

#[counted(name = "early_jobs_total", labels(queue = queue))]
fn early_job(queue: &str) {
    let _ = queue;
}

#[model_op(model = "early", op = insert)]
fn early_insert() -> Result<(), String> {
    Ok(())
}

#[cache_lookup(backend = "early")]
fn early_lookup(hit: bool) -> Option<u8> {
    hit.then_some(1)
}

#[counted]
async fn early_async() -> u8 {
    tokio::task::yield_now().await;
    1
}

fn call_everything() {
    assert_eq!(early(1), Ok(1));
    assert_eq!(early(0), Err(0));
    early_job("mail");
    assert_eq!(early_insert(), Ok(()));
    assert_eq!(early_lookup(true), Some(1));
    assert_eq!(early_lookup(false), None);
}

#[tokio::test]
async fn calls_before_install_are_not_recorded_and_later_calls_are() {
    if !common::own_process() {
        return;
    }
    // Before install: the functions work, nothing is installed, and the
    // endpoint says so.
    assert!(instrument_runtime::installed().is_none());
    for _ in 0..3 {
        call_everything();
        assert_eq!(early_async().await, 1);
    }
    // A future created before install and run after it.
    let straddling = early_async();
    let response = instrument_runtime::metrics_handler(axum::extract::Request::default()).await;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    let body = to_bytes(response.into_body(), 1 << 20).await.expect("body");
    assert!(
        String::from_utf8_lossy(&body).contains("install()"),
        "{body:?}"
    );

    let metrics = instrument_runtime::install().expect("first install");
    assert!(instrument_runtime::installed().is_some());

    let page = Page::parse(&metrics.render());
    let calls = |page: &Page, function, result| {
        page.count(
            "function_calls_total",
            &[
                ("function", function),
                ("module", "configured::before_install"),
                ("result", result),
            ],
        )
    };
    let timed = [
        ("function", "early"),
        ("module", "configured::before_install"),
    ];
    let db = [("alias", "default"), ("vendor", "unknown")];
    let backend = [("backend", "early")];
    // Nothing from before install, every static series at 0.
    assert_eq!(calls(&page, "early", "ok"), 0);
    assert_eq!(calls(&page, "early", "error"), 0);
    assert_eq!(calls(&page, "early_async", "ok"), 0);
    assert_eq!(
        page.histogram("function_calls_duration_seconds", &timed),
        (0, 0.0)
    );
    assert!(page.series("early_jobs_total").is_empty());
    assert_eq!(page.count("db_execute_total", &db), 0);
    assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, 0);
    assert_eq!(page.count("model_inserts_total", &[("model", "early")]), 0);
    assert_eq!(page.count("cache_hits_total", &backend), 0);
    assert_eq!(page.count("cache_misses_total", &backend), 0);

    // After install: counted, from the first call on.
    call_everything();
    call_everything();
    assert_eq!(early_async().await, 1);
    assert_eq!(straddling.await, 1);

    let page = Page::parse(&metrics.render());
    assert_eq!(calls(&page, "early", "ok"), 2);
    assert_eq!(calls(&page, "early", "error"), 2);
    assert_eq!(calls(&page, "early_async", "ok"), 2);
    assert_eq!(
        page.histogram("function_calls_duration_seconds", &timed).0,
        4
    );
    assert_eq!(page.count("early_jobs_total", &[("queue", "mail")]), 2);
    assert_eq!(page.count("db_execute_total", &db), 2);
    assert_eq!(page.histogram("db_execute_latency_seconds", &db).0, 2);
    assert_eq!(page.count("model_inserts_total", &[("model", "early")]), 2);
    assert_eq!(page.count("cache_hits_total", &backend), 2);
    assert_eq!(page.count("cache_misses_total", &backend), 2);

    // The endpoint now serves the page.
    let response = instrument_runtime::metrics_handler(axum::extract::Request::default()).await;
    assert_eq!(response.status(), StatusCode::OK);
}
