//! 10,000 distinct random paths, matched and unmatched, leave the set of
//! series exactly as it was: views are route templates, never raw paths.
//! (A binary of its own, so that no other test adds series meanwhile.)

use crate::common;
use crate::http_layer_support;

use std::collections::BTreeSet;

use axum::routing::get;
use axum::Router;
use common::{scrape, Page};
use http_layer_support::{serve, Client, Rng};
use instrument_runtime::HttpMetricsLayer;

/// Every series on the page: name and label set.
fn series(page: &Page) -> BTreeSet<String> {
    page.samples
        .iter()
        .map(|s| format!("{}{:?}", s.name, s.labels))
        .collect()
}

#[test]
fn ten_thousand_random_paths_add_no_series() {
    common::isolated(|| {
        common::metrics();
        let addr = serve(
            Router::new()
                .route("/flood/{id}", get(|| async { "item" }))
                .route("/flood/{id}/parts/{part}", get(|| async { "part" }))
                .layer(HttpMetricsLayer::new()),
        );
        let mut client = Client::connect(addr);
        // One request of each kind creates the series the flood may use.
        assert_eq!(client.get("/flood/warm").status, 200);
        assert_eq!(client.get("/flood/warm/parts/up").status, 200);
        assert_eq!(client.get("/warm/up").status, 404);
        let before = scrape();

        let mut rng = Rng::new(0x5eed_f100d);
        let mut paths = BTreeSet::new();
        while paths.len() < 10_000 {
            let (a, b) = (rng.next(), rng.next());
            let path = match paths.len() % 3 {
                0 => format!("/flood/{a:x}"),
                1 => format!("/flood/{a:x}/parts/{b:x}"),
                _ => format!("/{a:x}/{b:x}"),
            };
            paths.insert(path);
        }
        let mut statuses = [0u32; 2];
        for path in &paths {
            match client.get(path).status {
                200 => statuses[0] += 1,
                404 => statuses[1] += 1,
                other => panic!("{path}: status {other}"),
            }
        }
        let after = scrape();

        assert_eq!(series(&after), series(&before), "the set of series changed");
        let requests = |page: &Page, view| {
            page.get("http_requests_total", &[("method", "GET"), ("view", view)])
        };
        let matched = requests(&after, "/flood/{id}") - requests(&before, "/flood/{id}")
            + requests(&after, "/flood/{id}/parts/{part}")
            - requests(&before, "/flood/{id}/parts/{part}");
        let unmatched = requests(&after, "<unmatched>") - requests(&before, "<unmatched>");
        assert_eq!(matched, f64::from(statuses[0]));
        assert_eq!(unmatched, f64::from(statuses[1]));
        assert_eq!(matched + unmatched, 10_000.0);
        assert_eq!(
            after.count(
                "http_responses_total_by_status",
                &[
                    ("status", "404"),
                    ("method", "GET"),
                    ("view", "<unmatched>")
                ]
            ),
            1 + u64::from(statuses[1])
        );
        assert!(
            !after.text.contains(paths.iter().next().unwrap().as_str()),
            "a raw path on the page"
        );
    });
}
