//! `Builder::listen`: a standalone listener serving `/metrics` and
//! `/metrics/` (and 404 elsewhere) on a thread of its own, without the
//! application running tokio. One test, because it installs.

use crate::common;

use std::net::TcpListener;

use common::{free_addr, http_get, http_request, Page};
use instrument_runtime::{counted, Builder, Error};

#[counted]
fn served(n: u32) -> Result<u32, u32> {
    if n == 0 {
        Err(n)
    } else {
        Ok(n)
    }
}

#[test]
fn standalone_listener_serves_metrics_and_404_elsewhere() {
    common::isolated(|| {
        // An address already taken: the error names it, nothing is installed.
        let taken = TcpListener::bind("127.0.0.1:0").expect("bind");
        let taken_addr = taken.local_addr().expect("addr");
        match Builder::new().listen(taken_addr).install() {
            Err(error @ Error::Listen { .. }) => {
                let Error::Listen { addr, source } = &error else {
                    unreachable!()
                };
                assert_eq!(*addr, taken_addr);
                assert_eq!(source.kind(), std::io::ErrorKind::AddrInUse);
                assert!(
                    error.to_string().contains(&taken_addr.to_string()),
                    "{error}"
                );
                assert!(std::error::Error::source(&error).is_some());
            }
            other => panic!("expected Error::Listen, got {other:?}"),
        }
        assert!(instrument_runtime::installed().is_none());
        drop(taken);

        let addr = free_addr();
        let metrics = Builder::new()
            .listen(addr)
            .install()
            .expect("install with a listener");
        served(1).unwrap();
        served(2).unwrap();
        served(0).unwrap_err();

        let labels = |result| {
            [
                ("function", "served"),
                ("module", "configured::endpoint_listen"),
                ("result", result),
            ]
        };
        for path in ["/metrics", "/metrics/"] {
            let response = http_get(addr, path);
            assert_eq!(response.status, 200, "{path}: {response:?}");
            assert_eq!(
                response.headers.get("content-type").map(String::as_str),
                Some("text/plain; version=0.0.4; charset=utf-8"),
                "{path}"
            );
            let page = Page::parse(&response.body);
            assert_eq!(page.count("function_calls_total", &labels("ok")), 2);
            assert_eq!(page.count("function_calls_total", &labels("error")), 1);
            // The same metrics as the handle install() returned.
            let local = Page::parse(&metrics.render());
            assert_eq!(local.count("function_calls_total", &labels("ok")), 2);
        }
        for path in ["/", "/metric", "/metrics/x", "/favicon.ico"] {
            let response = http_get(addr, path);
            assert_eq!(response.status, 404, "{path}: {response:?}");
            assert!(
                !response.body.contains("function_calls_total"),
                "{path} leaks metric data"
            );
        }
        let post = http_request(addr, "POST", "/metrics");
        assert_eq!(post.status, 405, "{post:?}");
        assert!(!post.body.contains("function_calls_total"));

        // A second install is refused and leaves the listener serving.
        assert!(matches!(
            Builder::new().listen(free_addr()).install(),
            Err(Error::AlreadyInstalled)
        ));
        served(3).unwrap();
        let page = Page::parse(&http_get(addr, "/metrics/").body);
        assert_eq!(page.count("function_calls_total", &labels("ok")), 3);
    });
}
