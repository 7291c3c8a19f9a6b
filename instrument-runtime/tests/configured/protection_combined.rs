//! Every protection at once, with the loopback clients of these tests
//! inside the allow-list (`127.0.0.0/8`, `::1`): a bearer token or basic
//! credentials get the metrics, anything else gets 401 naming both
//! schemes, and the router served without connect info gets 403.

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Secret};
use protection::{assert_refused, assert_served, scrape, setup, Setup, PATHS};

const PASSWORD_VAR: &str = "PROTECTION_COMBINED_PASSWORD";

fn installed() -> &'static Setup {
    setup(|| {
        std::env::set_var(PASSWORD_VAR, "s3cret");
        Builder::new()
            .allow_network("127.0.0.0/8")
            .allow_network("::1")
            .bearer_token(Secret::new("t0ken"))
            .basic_auth("prometheus", Secret::from_env(PASSWORD_VAR))
    })
}

fn endpoints() -> Vec<(String, std::net::SocketAddr, &'static str)> {
    let s = installed();
    [("listener", s.listener), ("app", s.app)]
        .into_iter()
        .flat_map(|(name, addr)| PATHS.map(|path| (format!("{name} {path}"), addr, path)))
        .collect()
}

#[test]
fn a_token_or_basic_credentials_get_the_metrics() {
    common::isolated(|| {
        for (what, addr, path) in endpoints() {
            assert_served(&scrape(addr, path, Some("Bearer t0ken")), &what);
            // prometheus:s3cret
            assert_served(
                &scrape(addr, path, Some("Basic cHJvbWV0aGV1czpzM2NyZXQ=")),
                &what,
            );
        }
    });
}

#[test]
fn missing_or_wrong_credentials_get_401_naming_both_schemes() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            for authorization in [
                None,
                Some("Bearer s3cret"),
                Some("Bearer t0ke"),
                Some("Basic cHJvbWV0aGV1czpzM2NyZXQgcGFzczp3b3Jk"), // another password
                Some("Basic dDBrZW4="),                             // t0ken, no colon
            ] {
                let what = format!("{what} {authorization:?}");
                let response = scrape(addr, path, authorization);
                assert_refused(&response, 401, metrics, &what);
                assert_eq!(
                    response.headers.get("www-authenticate").map(String::as_str),
                    Some(r#"Bearer realm="metrics", Basic realm="metrics""#),
                    "{what}"
                );
                assert_eq!(
                response.body,
                "401 Unauthorized: /metrics/ needs a bearer token or basic credentials in the Authorization header\n"
            );
            }
        }
    });
}

#[test]
fn the_router_without_connect_info_gets_403_even_with_the_right_token() {
    common::isolated(|| {
        let s = installed();
        for path in PATHS {
            let response = scrape(s.plain_app, path, Some("Bearer t0ken"));
            assert_refused(&response, 403, s.metrics, path);
            assert_eq!(
            response.body,
            "403 Forbidden: /metrics/ has an IP allow-list but cannot see the client's address; \
             serve the application with `app.into_make_service_with_connect_info::<SocketAddr>()`\n"
        );
        }
    });
}
