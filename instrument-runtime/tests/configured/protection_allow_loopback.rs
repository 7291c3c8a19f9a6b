//! An allow-list alone (one bare address, no credentials): a client in it
//! needs nothing more; the router served without connect info cannot tell
//! and gets 403.

use crate::common;
use crate::protection;

use instrument_runtime::Builder;
use protection::{assert_refused, assert_served, scrape, setup, Setup, PATHS};

fn installed() -> &'static Setup {
    setup(|| Builder::new().allow_network("127.0.0.1"))
}

#[test]
fn a_client_in_the_allow_list_needs_no_credentials() {
    common::isolated(|| {
        let s = installed();
        for (name, addr) in [("listener", s.listener), ("app", s.app)] {
            for path in PATHS {
                let response = scrape(addr, path, None);
                assert_served(&response, &format!("{name} {path}"));
                assert_eq!(response.headers.get("www-authenticate"), None);
            }
        }
    });
}

#[test]
fn without_connect_info_the_router_gets_403() {
    common::isolated(|| {
        let s = installed();
        for path in PATHS {
            let response = scrape(s.plain_app, path, None);
            assert_refused(&response, 403, s.metrics, path);
            assert!(response
                .body
                .contains("into_make_service_with_connect_info::<SocketAddr>()"));
        }
    });
}
