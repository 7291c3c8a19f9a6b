//! `scripts/stack`, the README's one command for the whole stack without
//! Docker, run as a user runs it: it comes up, Prometheus scrapes the
//! service with the shipped rules, `/fail` traffic makes `HighErrorRate`
//! pending, and Ctrl-C (SIGINT) stops every process it started.

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use e2e::{example_service_bin, free_addr, try_http, TempDir};

#[test]
fn the_stack_comes_up_alerts_and_stops_on_ctrl_c() {
    let dir = TempDir::new("stack");
    let ports: Vec<u16> = (0..4).map(|_| free_addr().port()).collect();
    let [service, prometheus, alertmanager, pushgateway] = ports[..] else {
        unreachable!()
    };
    let mut stack = Command::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/stack"))
        .env("SERVICE_PORT", service.to_string())
        .env("PROMETHEUS_PORT", prometheus.to_string())
        .env("ALERTMANAGER_PORT", alertmanager.to_string())
        .env("PUSHGATEWAY_PORT", pushgateway.to_string())
        .env("STACK_DIR", dir.path())
        .env("EXAMPLE_SERVICE_BIN", example_service_bin())
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .spawn()
        .expect("running scripts/stack");
    let mut lines = BufReader::new(stack.stdout.take().expect("its output")).lines();
    let first = lines.next().and_then(Result::ok).unwrap_or_default();
    assert!(first.starts_with("stack is up"), "{first}");
    let printed: Vec<String> = lines.by_ref().take(6).map_while(Result::ok).collect();
    let printed = printed.join("\n");
    for port in &ports {
        assert!(
            printed.contains(&format!("http://127.0.0.1:{port}/")),
            "{printed}"
        );
    }

    let at = |port: u16| std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let (status, index) = try_http(at(service), "GET", "/", None, "").expect("the service");
    assert_eq!(status, 200, "{index}");
    for port in [pushgateway, alertmanager] {
        assert_eq!(
            try_http(at(port), "GET", "/-/ready", None, "")
                .map(|(status, _)| status)
                .ok(),
            Some(200)
        );
    }

    // Errors until the alert is pending (evaluated every 15 s, `for: 5m`).
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        for _ in 0..5 {
            assert_eq!(
                try_http(at(service), "GET", "/fail", None, "")
                    .expect("/fail")
                    .0,
                500
            );
        }
        let _ = try_http(at(service), "GET", "/users", None, "");
        let (_, alerts) =
            try_http(at(prometheus), "GET", "/api/v1/alerts", None, "").unwrap_or_default();
        if alerts.contains(r#""alertname":"HighErrorRate""#)
            && alerts.contains(r#""state":"pending""#)
        {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "HighErrorRate never went pending: {alerts}"
        );
        std::thread::sleep(Duration::from_millis(500));
    }

    // Ctrl-C: every process goes.
    let pid = stack.id().to_string();
    let status = Command::new("kill")
        .args(["-INT", &pid])
        .status()
        .expect("kill");
    assert!(status.success());
    let exited = stack.wait().expect("the script's exit");
    assert!(exited.success(), "{exited}");
    let rest: Vec<String> = lines.map_while(Result::ok).collect();
    assert!(rest.iter().any(|line| line == "stack stopped"), "{rest:?}");
    for port in ports {
        assert!(
            std::net::TcpStream::connect(at(port)).is_err(),
            "something still listens on {port}"
        );
    }
}
