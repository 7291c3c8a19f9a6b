//! A bearer token read from a file (a Docker or Kubernetes secret): its
//! trailing newline is dropped, as Prometheus drops it from
//! `credentials_file`.

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Secret};
use protection::{assert_refused, assert_served, scrape, secret_file, setup, Setup, PATHS};

fn installed() -> &'static Setup {
    setup(|| {
        let path = secret_file("metrics_token", "t0ken-from-file\n");
        Builder::new().bearer_token(Secret::from_file(path))
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
fn the_token_from_the_file_gets_the_metrics() {
    common::isolated(|| {
        for (what, addr, path) in endpoints() {
            assert_served(&scrape(addr, path, Some("Bearer t0ken-from-file")), &what);
        }
    });
}

#[test]
fn no_token_or_another_gets_401() {
    common::isolated(|| {
        let metrics = installed().metrics;
        for (what, addr, path) in endpoints() {
            for authorization in [
                None,
                Some("Bearer t0ken-from-fil"),
                Some("Bearer t0ken-from-file\\n"),
                Some("Bearer t0ken-from-env"),
            ] {
                let response = scrape(addr, path, authorization);
                let what = format!("{what} {authorization:?}");
                assert_refused(&response, 401, metrics, &what);
                assert_eq!(
                    response.headers.get("www-authenticate").map(String::as_str),
                    Some(r#"Bearer realm="metrics""#),
                    "{what}"
                );
            }
        }
    });
}
