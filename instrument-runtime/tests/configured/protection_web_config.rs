//! exporter-toolkit's `web-config.yml` without TLS: its bcrypt
//! `basic_auth_users` protect `/metrics/` on the mounted router and on the
//! listener, its `http_server_config.headers` are on every answer, and its
//! `rate_limit` answers 429 past the burst.

use crate::common;
use crate::protection;

use instrument_runtime::Builder;
use protection::{assert_refused, assert_served, scrape, secret_file, setup, Setup};

/// `prometheus:s3cret`, base64.
const RIGHT: &str = "Basic cHJvbWV0aGV1czpzM2NyZXQ=";
/// `prometheus:wrong`, base64.
const WRONG: &str = "Basic cHJvbWV0aGV1czp3cm9uZw==";
/// `nobody:s3cret`, base64.
const UNKNOWN: &str = "Basic bm9ib2R5OnMzY3JldA==";

fn installed(extra: &str) -> &'static Setup {
    installed_with(extra, Builder::new())
}

fn installed_with(extra: &str, builder: Builder) -> &'static Setup {
    let extra = extra.to_owned();
    setup(move || {
        let hash = bcrypt::hash("s3cret", 4).expect("a bcrypt hash");
        let file = secret_file(
            "web-config.yml",
            &format!(
                "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  headers:\n    X-Frame-Options: deny\n    X-Content-Type-Options: nosniff\n{extra}"
            ),
        );
        builder.web_config_file(file)
    })
}

#[test]
fn bcrypt_users_guard_every_endpoint_and_headers_are_on_every_answer() {
    common::isolated(|| {
        let setup = installed("");
        for (what, addr) in [("listener", setup.listener), ("app", setup.app)] {
            for _ in 0..3 {
                let served = scrape(addr, "/metrics/", Some(RIGHT));
                assert_served(&served, what);
                assert_eq!(
                    served.headers.get("x-frame-options").map(String::as_str),
                    Some("deny")
                );
                assert_eq!(
                    served
                        .headers
                        .get("x-content-type-options")
                        .map(String::as_str),
                    Some("nosniff")
                );
            }
            for authorization in [Some(WRONG), Some(UNKNOWN), None] {
                let refused = scrape(addr, "/metrics/", authorization);
                assert_refused(&refused, 401, setup.metrics, what);
                assert_eq!(
                    refused.headers.get("www-authenticate").map(String::as_str),
                    Some(r#"Basic realm="metrics""#),
                    "{what}"
                );
                assert_eq!(
                    refused.headers.get("x-frame-options").map(String::as_str),
                    Some("deny")
                );
            }
        }
    });
}

#[test]
fn the_rate_limit_answers_429_past_the_burst() {
    common::isolated(|| {
        let setup = installed("rate_limit:\n  burst: 3\n  interval: 1h\n");
        let statuses: Vec<u16> = (0..5)
            .map(|_| scrape(setup.listener, "/metrics/", Some(RIGHT)).status)
            .collect();
        assert_eq!(statuses, [200, 200, 200, 429, 429]);
        // One bucket for all endpoints, as for one exporter-toolkit server.
        let refused = scrape(setup.app, "/metrics/", Some(RIGHT));
        assert_refused(&refused, 429, setup.metrics, "app");
    });
}

#[test]
fn builder_credentials_and_web_config_users_both_get_in() {
    common::isolated(|| {
        // `scraper:hunter2`, base64.
        const BUILDER: &str = "Basic c2NyYXBlcjpodW50ZXIy";
        let setup = installed_with(
            "",
            Builder::new().basic_auth("scraper", instrument_runtime::Secret::new("hunter2")),
        );
        for (what, addr) in [("listener", setup.listener), ("app", setup.app)] {
            assert_served(&scrape(addr, "/metrics/", Some(BUILDER)), what);
            assert_served(&scrape(addr, "/metrics/", Some(RIGHT)), what);
            for wrong in [WRONG, UNKNOWN, "Basic c2NyYXBlcjp4"] {
                assert_refused(
                    &scrape(addr, "/metrics/", Some(wrong)),
                    401,
                    setup.metrics,
                    what,
                );
            }
        }
    });
}
