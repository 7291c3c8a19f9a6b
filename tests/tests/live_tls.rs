//! The standalone listener over TLS as exporter-toolkit's `web-config.yml`
//! configures it (client certificates, bcrypt basic-auth users), scraped by
//! a real Prometheus; the same file given to the real Pushgateway, pushed to
//! over https; renewed certificates picked up without a restart; a file
//! that cannot be used refused at start, naming the file and the field.
//! Every certificate is made when the test runs.

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use e2e::tls::{bcrypt_hash, https_client, https_get, Ca, Signed};
use e2e::{
    eventually, example_service_bin, free_addr, sample, Prometheus, Pushgateway, Service, TempDir,
};
use instrument_runtime::{counted, Push, PushError, Secret};

const PASSWORD: &str = "correct horse battery staple";

/// The files of one TLS setup: a server CA and certificate, a client CA,
/// a client certificate, a CA nobody uses, and the web config.
struct Setup {
    dir: TempDir,
    server_ca: Ca,
    client: Signed,
    other_ca: Ca,
    web_config: PathBuf,
}

impl Setup {
    fn new() -> Setup {
        let dir = TempDir::new("tls");
        let server_ca = Ca::new("metrics CA");
        let client_ca = Ca::new("scraper CA");
        let client = client_ca.client("prometheus");
        server_ca.server().write(dir.path(), "server");
        client.write(dir.path(), "prometheus");
        std::fs::write(dir.path().join("server-ca.crt"), server_ca.pem()).expect("writing");
        std::fs::write(dir.path().join("client-ca.crt"), client_ca.pem()).expect("writing");
        std::fs::write(dir.path().join("password"), format!("{PASSWORD}\n")).expect("writing");
        let other_ca = Ca::new("someone else's CA");
        std::fs::write(dir.path().join("other-ca.crt"), other_ca.pem()).expect("writing");
        // Relative names: exporter-toolkit takes them from the file's directory.
        let web_config = dir.path().join("web-config.yml");
        std::fs::write(
            &web_config,
            format!(
                "tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_ca_file: client-ca.crt\n  client_auth_type: RequireAndVerifyClientCert\nbasic_auth_users:\n  prometheus: {}\n",
                bcrypt_hash(PASSWORD)
            ),
        )
        .expect("writing the web config");
        Setup {
            dir,
            server_ca,
            client,
            other_ca,
            web_config,
        }
    }

    /// The example service with its listener on a port of its own,
    /// configured by the web config; the listener's address.
    fn service(&self) -> (Service, std::net::SocketAddr) {
        let listen = free_addr();
        let service = Service::start(&[
            ("METRICS_LISTEN", &listen.to_string()),
            ("METRICS_WEB_CONFIG", &self.web_config.display().to_string()),
        ]);
        (service, listen)
    }

    fn path(&self, name: &str) -> String {
        self.dir.path().join(name).display().to_string()
    }
}

/// `GET /users` `n` times.
fn list_users(service: &Service, n: u32) {
    for _ in 0..n {
        assert_eq!(service.request("GET", "/users", None).0, 200);
    }
}

fn listed(page: &str) -> Option<f64> {
    sample(
        page,
        "django_http_requests_latency_seconds_count",
        &[("view", "/users"), ("method", "GET")],
    )
}

#[test]
fn prometheus_scrapes_over_mtls_with_a_bcrypt_user_and_nothing_else_gets_data() {
    let setup = Setup::new();
    let (service, listen) = setup.service();
    list_users(&service, 7);
    let url = format!("https://{listen}/metrics/");

    // Directly: only the client certificate and the password together read
    // the page.
    let trusted = https_client(setup.server_ca.pem(), Some(&setup.client));
    let (status, page) =
        https_get(&trusted, &url, Some(("prometheus", PASSWORD))).expect("an mTLS scrape");
    assert_eq!(status, 200, "{page}");
    assert_eq!(listed(&page), Some(7.0), "{page}");
    let without_certificate = https_client(setup.server_ca.pem(), None);
    assert!(https_get(&without_certificate, &url, Some(("prometheus", PASSWORD))).is_err());
    let distrusting = https_client(setup.other_ca.pem(), Some(&setup.client));
    assert!(https_get(&distrusting, &url, Some(("prometheus", PASSWORD))).is_err());
    // A client certificate of another CA is refused by the listener.
    let intruder = setup.other_ca.client("prometheus");
    let foreign = https_client(setup.server_ca.pem(), Some(&intruder));
    assert!(https_get(&foreign, &url, Some(("prometheus", PASSWORD))).is_err());
    for basic in [
        Some(("prometheus", "wrong")),
        Some(("nobody", PASSWORD)),
        None,
    ] {
        let (status, body) = https_get(&trusted, &url, basic).expect("an answer");
        assert_eq!(status, 401, "{basic:?}: {body}");
        assert!(!body.contains("django_"), "{body}");
    }
    // The refused handshakes cost the listener nothing.
    let (status, _) = https_get(&trusted, &url, Some(("prometheus", PASSWORD))).expect("a scrape");
    assert_eq!(status, 200);

    // A real Prometheus, with a job that has everything and one for each
    // missing piece.
    let job = |name: &str, ca: &str, cert: bool, password_file: &str| {
        let cert = if cert {
            format!(
                ", cert_file: '{}', key_file: '{}'",
                setup.path("prometheus.crt"),
                setup.path("prometheus.key")
            )
        } else {
            String::new()
        };
        format!(
            "  - job_name: {name}\n    scheme: https\n    metrics_path: /metrics/\n    tls_config: {{ca_file: '{}'{cert}}}\n    basic_auth: {{username: prometheus, password_file: '{}'}}\n    static_configs:\n      - targets: ['{listen}']\n",
            setup.path(ca),
            setup.path(password_file),
        )
    };
    std::fs::write(setup.dir.path().join("wrong-password"), "hunter2\n").expect("writing");
    let config = format!(
        "global:\n  scrape_interval: 1s\n  scrape_timeout: 1s\nscrape_configs:\n{}{}{}{}",
        job("mtls", "server-ca.crt", true, "password"),
        job("no_client_cert", "server-ca.crt", false, "password"),
        job("wrong_ca", "other-ca.crt", true, "password"),
        job("wrong_password", "server-ca.crt", true, "wrong-password"),
    );
    let prometheus = Prometheus::start(&config, &[]);
    prometheus.wait_for_value(r#"up{job="mtls"}"#, 1.0);
    list_users(&service, 5);
    prometheus.wait_for_value(
        r#"sum(django_http_requests_latency_seconds_count{job="mtls",view="/users"})"#,
        12.0,
    );
    for refused in ["no_client_cert", "wrong_ca", "wrong_password"] {
        prometheus.wait_for_value(&format!(r#"up{{job="{refused}"}}"#), 0.0);
        let data = prometheus
            .query(&format!(r#"{{job="{refused}",__name__=~"django_.*"}}"#))
            .expect("a query");
        assert!(data.is_empty(), "{refused} got metric data: {data:?}");
    }
}

#[test]
fn a_renewed_certificate_is_served_without_a_restart() {
    let setup = Setup::new();
    let (service, listen) = setup.service();
    list_users(&service, 1);
    let url = format!("https://{listen}/metrics/");
    let basic = Some(("prometheus", PASSWORD));
    let old = https_client(setup.server_ca.pem(), Some(&setup.client));
    assert_eq!(https_get(&old, &url, basic).expect("a scrape").0, 200);

    // The renewal, as certificate tools write it: new files renamed over
    // the old ones.
    let renewed_ca = Ca::new("renewed CA");
    let staging = setup.dir.path().join("staging");
    std::fs::create_dir(&staging).expect("a staging directory");
    let (cert, key) = renewed_ca.server().write(&staging, "server");
    std::fs::rename(key, setup.dir.path().join("server.key")).expect("renaming the key");
    std::fs::rename(cert, setup.dir.path().join("server.crt")).expect("renaming the certificate");

    let renewed = https_client(renewed_ca.pem(), Some(&setup.client));
    let (status, page) = eventually(
        "the renewed certificate",
        Duration::from_secs(10),
        || https_get(&renewed, &url, basic),
        String::new,
    );
    assert_eq!(status, 200);
    assert_eq!(listed(&page), Some(1.0), "{page}");
    // A new client: `old` may still hold the connection it opened before.
    let old = https_client(setup.server_ca.pem(), Some(&setup.client));
    assert!(
        https_get(&old, &url, basic).is_err(),
        "the old certificate is still served"
    );
}

/// Start the example service with `web_config`; it must exit at start.
fn refused_at_start(web_config: &Path) -> String {
    let database = TempDir::new("refused");
    let output = Command::new(example_service_bin())
        .env("BIND", free_addr().to_string())
        .env("DATABASE_PATH", database.path().join("db.sqlite"))
        .env("METRICS_LISTEN", free_addr().to_string())
        .env("METRICS_WEB_CONFIG", web_config)
        .stdin(Stdio::null())
        .output()
        .expect("running example-service");
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(!output.status.success(), "it started: {stderr}");
    stderr
}

#[test]
fn a_web_config_that_cannot_be_used_stops_the_start_naming_file_and_field() {
    let setup = Setup::new();
    let file = setup.web_config.display().to_string();
    let write = |text: &str| std::fs::write(&setup.web_config, text).expect("writing");

    // A key of another certificate.
    let other = setup.other_ca.server();
    std::fs::write(setup.dir.path().join("other.key"), &other.key).expect("writing");
    write("tls_server_config:\n  cert_file: server.crt\n  key_file: other.key\n");
    let stderr = refused_at_start(&setup.web_config);
    assert!(
        stderr.contains(&format!(
            "invalid setting `web_config_file`: {file}: the certificate and key cannot be used together"
        )),
        "{stderr}"
    );
    // No line of the key's body.
    for line in other.key.lines().filter(|line| !line.starts_with("-----")) {
        assert!(!stderr.contains(line), "{stderr}");
    }

    write("tls_server_config:\n  cert_file: server.crt\n  key_file: server.key\n  client_auth: RequireAndVerifyClientCert\n");
    let stderr = refused_at_start(&setup.web_config);
    assert!(
        stderr.contains(&format!(
            "{file}: unknown field \"client_auth\" in tls_server_config"
        )),
        "{stderr}"
    );

    write("tls_server_config:\n  cert_file: missing.crt\n  key_file: server.key\n");
    let stderr = refused_at_start(&setup.web_config);
    let missing = setup.path("missing.crt");
    assert!(
        stderr.contains(&format!(
            "{file}: cert_file: the file {missing} cannot be read"
        )),
        "{stderr}"
    );

    write("basic_auth_users:\n  prometheus: not-a-hash-but-a-secret\n");
    let stderr = refused_at_start(&setup.web_config);
    assert!(
        stderr.contains(&format!(
            "{file}: basic_auth_users.prometheus: not a bcrypt hash"
        )),
        "{stderr}"
    );
    assert!(!stderr.contains("not-a-hash-but-a-secret"), "{stderr}");
}

#[counted]
fn render_invoice(n: u32) -> Result<u32, String> {
    if n % 5 == 0 {
        Err(format!("invoice {n} has no lines"))
    } else {
        Ok(n)
    }
}

#[test]
fn the_pushgateway_takes_the_same_web_config_and_a_push_over_https() {
    let setup = Setup::new();
    let gateway = Pushgateway::start_with_web_config(&setup.web_config);
    let metrics = instrument_runtime::Builder::new()
        .namespace("billing")
        .install()
        .expect("installing");
    for n in 1..=10 {
        let _ = render_invoice(n);
    }
    let url = format!("https://{}", gateway.addr());
    let push = || {
        Push::new(&url, "invoices")
            .ca_file(setup.path("server-ca.crt"))
            .client_cert(setup.path("prometheus.crt"), setup.path("prometheus.key"))
    };
    push()
        .basic_auth("prometheus", Secret::from_file(setup.path("password")))
        .send(&metrics)
        .unwrap_or_else(|e| panic!("{e}"));

    let client = https_client(setup.server_ca.pem(), Some(&setup.client));
    let (status, page) = https_get(
        &client,
        &format!("{url}/metrics"),
        Some(("prometheus", PASSWORD)),
    )
    .expect("the gateway's page");
    assert_eq!(status, 200, "{page}");
    let calls = |result| {
        sample(
            &page,
            "billing_function_calls_total",
            &[
                ("function", "render_invoice"),
                ("module", "live_tls"),
                ("result", result),
                ("job", "invoices"),
                ("instance", ""),
            ],
        )
    };
    assert_eq!(
        (calls("ok"), calls("error")),
        (Some(8.0), Some(2.0)),
        "{page}"
    );

    // What the gateway refuses: no password, a wrong one, no certificate.
    let error = push().send(&metrics).unwrap_err();
    assert!(
        matches!(error, PushError::Rejected { status: 401, .. }),
        "{error:?}"
    );
    let error = push()
        .basic_auth("prometheus", Secret::new("wrong"))
        .send(&metrics)
        .unwrap_err();
    assert!(
        matches!(error, PushError::Rejected { status: 401, .. }),
        "{error:?}"
    );
    let error = Push::new(&url, "invoices")
        .ca_file(setup.path("server-ca.crt"))
        .basic_auth("prometheus", Secret::new(PASSWORD))
        .send(&metrics)
        .unwrap_err();
    assert!(matches!(error, PushError::Io { .. }), "{error:?}");
    let error = Push::new(&url, "invoices")
        .ca_file(setup.path("other-ca.crt"))
        .client_cert(setup.path("prometheus.crt"), setup.path("prometheus.key"))
        .basic_auth("prometheus", Secret::new(PASSWORD))
        .send(&metrics)
        .unwrap_err();
    assert!(
        error.to_string().starts_with(&format!(
            "pushing metrics to {url}/metrics/job/invoices failed: "
        )),
        "{error}"
    );
}

#[test]
fn a_client_that_never_finishes_its_handshake_is_closed_within_the_timeout() {
    use std::io::{Read, Write};
    let setup = Setup::new();
    let (_service, listen) = setup.service();
    let started = std::time::Instant::now();
    // Silent, and half a ClientHello.
    let mut silent = std::net::TcpStream::connect(listen).expect("connecting");
    let mut half = std::net::TcpStream::connect(listen).expect("connecting");
    half.write_all(&[0x16, 0x03, 0x01, 0x02, 0x00, 0x01])
        .expect("writing");
    // Meanwhile a scrape is served.
    let client = https_client(setup.server_ca.pem(), Some(&setup.client));
    let url = format!("https://{listen}/metrics/");
    let (status, _) = https_get(&client, &url, Some(("prometheus", PASSWORD))).expect("a scrape");
    assert_eq!(status, 200);
    for stream in [&mut silent, &mut half] {
        stream
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("a read timeout");
        let mut buffer = [0; 64];
        // Closed by the listener: end of stream, or a reset.
        let closed = matches!(stream.read(&mut buffer), Ok(0) | Err(_));
        assert!(closed, "the connection stayed open");
    }
    let waited = started.elapsed();
    // The listener's header-read timeout, 10 s by default, bounds the handshake.
    assert!(
        waited >= Duration::from_secs(9) && waited < Duration::from_secs(20),
        "{waited:?}"
    );
}
