//! An allow-list that leaves out the loopback clients of these tests
//! (`10.0.0.0/8`, `fd00::/8`): every scrape gets 403 before its
//! credentials are looked at, and the router served without connect info
//! says how to serve it.

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Secret};
use protection::{assert_refused, scrape, setup, Setup, PATHS};

fn installed() -> &'static Setup {
    setup(|| {
        Builder::new()
            .allow_network("10.0.0.0/8")
            .allow_network("fd00::/8")
            .bearer_token(Secret::new("t0ken"))
    })
}

#[test]
fn an_address_outside_the_allow_list_gets_403_even_with_the_right_token() {
    common::isolated(|| {
        let s = installed();
        for (name, addr) in [("listener", s.listener), ("app", s.app)] {
            for path in PATHS {
                for authorization in [None, Some("Bearer t0ken"), Some("Bearer wrong")] {
                    let what = format!("{name} {path} {authorization:?}");
                    let response = scrape(addr, path, authorization);
                    assert_refused(&response, 403, s.metrics, &what);
                    assert_eq!(
                        response.body,
                        "403 Forbidden: 127.0.0.1 is not in the allow-list of /metrics/\n",
                        "{what}"
                    );
                    assert_eq!(response.headers.get("www-authenticate"), None, "{what}");
                }
            }
        }
    });
}

#[test]
fn an_allow_list_without_connect_info_fails_closed() {
    common::isolated(|| {
        let s = installed();
        for path in PATHS {
            for authorization in [None, Some("Bearer t0ken")] {
                let what = format!("{path} {authorization:?}");
                let response = scrape(s.plain_app, path, authorization);
                assert_refused(&response, 403, s.metrics, &what);
                assert!(
                    response
                        .body
                        .contains("into_make_service_with_connect_info::<SocketAddr>()"),
                    "{what}: {}",
                    response.body
                );
            }
        }
    });
}
