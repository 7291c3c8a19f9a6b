//! HTTP basic credentials protect `/metrics/`; the password holds a space
//! and a colon, which basic credentials carry (only the username cannot
//! hold a colon).

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Secret};
use protection::{assert_refused, assert_served, scrape, setup, Setup, PATHS};

/// `prometheus:s3cret pass:word`, base64-encoded by coreutils' `base64`.
const RIGHT: &str = "Basic cHJvbWV0aGV1czpzM2NyZXQgcGFzczp3b3Jk";

fn installed() -> &'static Setup {
    setup(|| Builder::new().basic_auth("prometheus", Secret::new("s3cret pass:word")))
}

fn endpoints() -> Vec<(String, std::net::SocketAddr, &'static str)> {
    let s = installed();
    [
        ("listener", s.listener),
        ("app", s.app),
        ("app without connect info", s.plain_app),
    ]
    .into_iter()
    .flat_map(|(name, addr)| PATHS.map(|path| (format!("{name} {path}"), addr, path)))
    .collect()
}

#[test]
fn the_right_credentials_get_the_metrics() {
    common::isolated(|| {
        for (what, addr, path) in endpoints() {
            assert_served(&scrape(addr, path, Some(RIGHT)), &what);
            // The scheme is case-insensitive, the padding optional.
            assert_served(
                &scrape(
                    addr,
                    path,
                    Some("basic cHJvbWV0aGV1czpzM2NyZXQgcGFzczp3b3Jk"),
                ),
                &what,
            );
        }
    });
}

#[test]
fn no_credentials_get_401_with_a_basic_challenge() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            let response = scrape(addr, path, None);
            assert_refused(&response, 401, metrics, &what);
            assert_eq!(
                response.headers.get("www-authenticate").map(String::as_str),
                Some(r#"Basic realm="metrics""#),
                "{what}"
            );
            assert_eq!(
                response.body,
                "401 Unauthorized: /metrics/ needs basic credentials in the Authorization header\n"
            );
        }
    });
}

#[test]
fn wrong_credentials_get_401() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            for (wrong, why) in [
                (
                    "Basic cHJvbWV0aGV1czpzM2NyZXQgcGFzczp3b3JkWA==",
                    "password with a byte more",
                ),
                (
                    "Basic cHJvbWV0aGV1czpzM2NyZXQ=",
                    "password cut at the space",
                ),
                ("Basic cHJvbWV0aGV1czo=", "empty password"),
                (
                    "Basic UHJvbWV0aGV1czpzM2NyZXQgcGFzczp3b3Jk",
                    "username in another case",
                ),
                ("Basic OnMzY3JldCBwYXNzOndvcmQ=", "no username"),
                ("Basic cHJvbWV0aGV1cw==", "no colon"),
                ("Basic not*base64", "not base64"),
                ("Basic", "no credentials after the scheme"),
                ("Bearer s3cret pass:word", "the password as a bearer token"),
            ] {
                let response = scrape(addr, path, Some(wrong));
                let what = format!("{what}, {why}");
                assert_refused(&response, 401, metrics, &what);
                assert_eq!(
                    response.headers.get("www-authenticate").map(String::as_str),
                    Some(r#"Basic realm="metrics""#),
                    "{what}"
                );
            }
        }
    });
}
