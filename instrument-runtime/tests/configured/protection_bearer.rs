//! A bearer token read from an environment variable protects `/metrics/`
//! on the standalone listener and on the application's router (served with
//! and without connect info: credentials need no client address).

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Secret};
use protection::{assert_refused, assert_served, head, scrape, setup, Setup, PATHS};

const VAR: &str = "PROTECTION_BEARER_TOKEN";
const TOKEN: &str = "t0ken-from-env";

fn installed() -> &'static Setup {
    setup(|| {
        // Set before install, which reads it; only this closure writes the
        // environment.
        std::env::set_var(VAR, TOKEN);
        Builder::new().bearer_token(Secret::from_env(VAR))
    })
}

/// Every server and path: (description, address, path).
fn endpoints() -> Vec<(String, std::net::SocketAddr, &'static str)> {
    let s = installed();
    let mut all = Vec::new();
    for (name, addr) in [
        ("listener", s.listener),
        ("app", s.app),
        ("app without connect info", s.plain_app),
    ] {
        for path in PATHS {
            all.push((format!("{name} {path}"), addr, path));
        }
    }
    all
}

#[test]
fn no_credentials_get_401_with_a_bearer_challenge() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            let response = scrape(addr, path, None);
            assert_refused(&response, 401, metrics, &what);
            assert_eq!(
                response.headers.get("www-authenticate").map(String::as_str),
                Some(r#"Bearer realm="metrics""#),
                "{what}"
            );
            assert_eq!(
                response.body,
                "401 Unauthorized: /metrics/ needs a bearer token in the Authorization header\n"
            );
        }
    });
}

#[test]
fn a_wrong_token_gets_401() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            for wrong in [
                "Bearer wrong",
                "Bearer t0ken-from-en",   // a prefix
                "Bearer t0ken-from-env2", // longer
                "Bearer T0KEN-FROM-ENV",
                "Bearer ",
                "t0ken-from-env", // no scheme
                "Token t0ken-from-env",
            ] {
                let response = scrape(addr, path, Some(wrong));
                assert_refused(&response, 401, metrics, &format!("{what} {wrong:?}"));
                assert_eq!(
                    response.headers.get("www-authenticate").map(String::as_str),
                    Some(r#"Bearer realm="metrics""#),
                    "{what}"
                );
            }
        }
    });
}

#[test]
fn basic_credentials_are_refused_when_only_a_token_is_set() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            // t0ken-from-env:t0ken-from-env
            let response = scrape(
                addr,
                path,
                Some("Basic dDBrZW4tZnJvbS1lbnY6dDBrZW4tZnJvbS1lbnY="),
            );
            assert_refused(&response, 401, metrics, &what);
        }
    });
}

#[test]
fn the_right_token_gets_the_metrics() {
    common::isolated(|| {
        for (what, addr, path) in endpoints() {
            assert_served(&scrape(addr, path, Some("Bearer t0ken-from-env")), &what);
            // The scheme is case-insensitive (RFC 9110 §11.1).
            assert_served(&scrape(addr, path, Some("bearer t0ken-from-env")), &what);
        }
    });
}

#[test]
fn head_is_protected_too_and_other_methods_get_405() {
    common::isolated(|| {
        for (what, addr, path) in endpoints() {
            assert_eq!(head(addr, path, None), (401, Vec::new()), "{what}");
            assert_eq!(
                head(addr, path, Some("Bearer t0ken-from-env")),
                (200, Vec::new()),
                "{what}"
            );
            let post = common::http_request_with_headers(
                addr,
                "POST",
                path,
                &[("Authorization", "Bearer t0ken-from-env")],
            );
            assert_eq!(post.status, 405, "{what}");
            assert!(!post.body.contains("function_calls_total"), "{what}");
        }
    });
}
