//! The example service, started as a process: exact values at `/metrics/`
//! after known traffic, and a page that `promtool check metrics` accepts.

use std::io::Write;
use std::process::{Command, Stdio};

use e2e::{sample, tool, Service};

#[test]
fn families_exist_at_zero_before_traffic() {
    let service = Service::start(&[]);
    let page = service.scrape();
    for family in [
        "django_model_inserts_total",
        "django_model_updates_total",
        "django_model_deletes_total",
    ] {
        assert_eq!(
            sample(&page, family, &[("model", "user")]),
            Some(0.0),
            "{family} in\n{page}"
        );
    }
    let db = [("alias", "default"), ("vendor", "sqlite")];
    assert_eq!(sample(&page, "django_db_execute_total", &db), Some(0.0));
    assert_eq!(
        sample(&page, "django_db_execute_latency_seconds_count", &db),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &page,
            "django_cache_hits_total",
            &[("backend", "quick_cache")]
        ),
        Some(0.0)
    );
    assert_eq!(
        sample(
            &page,
            "django_cache_misses_total",
            &[("backend", "quick_cache")]
        ),
        Some(0.0)
    );
    let create_ok = [
        ("function", "create_user"),
        ("module", "example_service::routes"),
        ("result", "ok"),
    ];
    assert_eq!(
        sample(&page, "django_function_calls_total", &create_ok),
        Some(0.0)
    );
    assert!(
        page.contains("# HELP django_function_calls_total "),
        "{page}"
    );
    assert!(
        page.contains("# TYPE django_function_calls_duration_seconds histogram"),
        "{page}"
    );
}

#[test]
fn exact_values_after_known_traffic() {
    let service = Service::start(&[("SLOW_MS", "10")]);
    let created = |name: &str| {
        let body = format!(r#"{{"name":"{name}","email":"{name}@example.com"}}"#);
        let (status, body) = service.request("POST", "/users", Some(&body));
        assert_eq!(status, 201, "{body}");
    };
    created("ada");
    created("grace");
    // Duplicate email: a constraint error from SQLite, counted as a DB error.
    let (status, _) = service.request(
        "POST",
        "/users",
        Some(r#"{"name":"x","email":"ada@example.com"}"#),
    );
    assert_eq!(status, 409);
    assert_eq!(service.request("GET", "/users/1", None).0, 200); // cache hit
    assert_eq!(
        service
            .request(
                "PUT",
                "/users/2",
                Some(r#"{"name":"g","email":"g@example.com"}"#)
            )
            .0,
        200
    );
    assert_eq!(service.request("DELETE", "/users/1", None).0, 204);
    assert_eq!(service.request("GET", "/users/1", None).0, 404); // cache miss, then the DB
    assert_eq!(service.request("GET", "/users", None).0, 200);
    assert_eq!(service.request("GET", "/fail", None).0, 500);
    assert_eq!(service.request("GET", "/slow", None).0, 200);
    assert_eq!(service.request("GET", "/api/orders", None).0, 200);
    assert_eq!(service.request("GET", "/api/orders", None).0, 200);

    let page = service.scrape();
    let model = [("model", "user")];
    assert_eq!(
        sample(&page, "django_model_inserts_total", &model),
        Some(2.0)
    );
    assert_eq!(
        sample(&page, "django_model_updates_total", &model),
        Some(1.0)
    );
    assert_eq!(
        sample(&page, "django_model_deletes_total", &model),
        Some(1.0)
    );
    let db = [("alias", "default"), ("vendor", "sqlite")];
    // 3 inserts (one failed), 1 update, 1 delete, 1 get, 1 list.
    assert_eq!(sample(&page, "django_db_execute_total", &db), Some(7.0));
    assert_eq!(
        sample(&page, "django_db_execute_latency_seconds_count", &db),
        Some(7.0)
    );
    let db_error = [
        ("alias", "default"),
        ("vendor", "sqlite"),
        ("type", "rusqlite::error::Error"),
    ];
    assert_eq!(
        sample(&page, "django_db_errors_total", &db_error),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &page,
            "django_cache_hits_total",
            &[("backend", "quick_cache")]
        ),
        Some(1.0)
    );
    assert_eq!(
        sample(
            &page,
            "django_cache_misses_total",
            &[("backend", "quick_cache")]
        ),
        Some(1.0)
    );

    let calls = |function: &str, result: &str| {
        let labels = [
            ("function", function),
            ("module", "example_service::routes"),
            ("result", result),
        ];
        sample(&page, "django_function_calls_total", &labels)
    };
    assert_eq!(calls("create_user", "ok"), Some(2.0));
    assert_eq!(calls("create_user", "error"), Some(1.0));
    assert_eq!(calls("get_user", "ok"), Some(1.0));
    assert_eq!(calls("get_user", "error"), Some(1.0));
    assert_eq!(calls("fail", "error"), Some(1.0));
    let slow = [("function", "slow"), ("module", "example_service::routes")];
    assert_eq!(
        sample(&page, "django_function_calls_duration_seconds_count", &slow),
        Some(1.0)
    );
    let api = [("endpoint", "orders"), ("method", "GET"), ("status", "200")];
    assert_eq!(sample(&page, "api_requests_total", &api), Some(2.0));
    let api = [("endpoint", "orders"), ("method", "GET")];
    assert_eq!(
        sample(&page, "api_request_latency_seconds_count", &api),
        Some(2.0)
    );
}

#[test]
fn promtool_accepts_the_page() {
    let service = Service::start(&[("SLOW_MS", "0")]);
    service.request(
        "POST",
        "/users",
        Some(r#"{"name":"ada","email":"ada@example.com"}"#),
    );
    service.request("GET", "/users/1", None);
    service.request("GET", "/fail", None);
    service.request("GET", "/api/orders", None);
    let page = service.scrape();

    let mut promtool = Command::new(tool("promtool", "prometheus"))
        .args(["check", "metrics"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("starting promtool");
    promtool
        .stdin
        .take()
        .expect("stdin")
        .write_all(page.as_bytes())
        .expect("writing the page");
    let output = promtool.wait_with_output().expect("promtool ran");
    let findings = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "promtool check metrics: {:?}\n{findings}\n{page}",
        output.status
    );
    assert_eq!(findings.trim(), "", "promtool lint findings");
}
