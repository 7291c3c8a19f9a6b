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
        // The duplicate e-mail: SQLite's UNIQUE constraint, by its kind.
        ("type", "ConstraintViolation"),
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

    // The HTTP layer on the router: by route template, never the raw path.
    let http = |status: &str, method: &str, view: &str| {
        let labels = [("status", status), ("method", method), ("view", view)];
        sample(&page, "django_http_responses_total_by_status", &labels)
    };
    assert_eq!(http("201", "POST", "/users"), Some(2.0));
    assert_eq!(http("409", "POST", "/users"), Some(1.0));
    assert_eq!(http("404", "GET", "/users/{id}"), Some(1.0));
    assert_eq!(http("500", "GET", "/fail"), Some(1.0));
    assert_eq!(http("200", "GET", "/api/{endpoint}"), Some(2.0));
    let requests = [("method", "POST"), ("view", "/users")];
    assert_eq!(
        sample(&page, "django_http_requests_total", &requests),
        Some(3.0)
    );
    let slow = [("method", "GET"), ("view", "/slow")];
    assert_eq!(
        sample(&page, "django_http_requests_latency_seconds_count", &slow),
        Some(1.0)
    );
}

/// What `promtool check metrics` says of a page: its exit status and its
/// findings, one per line.
fn promtool_check(page: &str) -> (std::process::ExitStatus, Vec<String>) {
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
    let text = String::from_utf8_lossy(&output.stdout).into_owned()
        + &String::from_utf8_lossy(&output.stderr);
    let findings = text
        .lines()
        .map(str::to_owned)
        .filter(|l| !l.is_empty())
        .collect();
    (output.status, findings)
}

/// The names promtool's linter objects to, each kept because something
/// queries it by that name: the Django guide's
/// `http_responses_total_by_status`, a counter without the `_total` suffix
/// (its alert rules), and django-prometheus's migration gauges, which end
/// in `_total` (django-mixin's dashboards and `DjangoMigrationsUnapplied`).
const KEPT_FOR_THEIR_QUERIES: [&str; 3] = [
    r#"django_http_responses_total_by_status counter metrics should have "_total" suffix"#,
    r#"django_migrations_applied_total non-counter metrics should not have "_total" suffix"#,
    r#"django_migrations_unapplied_total non-counter metrics should not have "_total" suffix"#,
];

fn traffic(service: &Service) {
    service.request(
        "POST",
        "/users",
        Some(r#"{"name":"ada","email":"ada@example.com"}"#),
    );
    service.request("GET", "/users/1", None);
    service.request("GET", "/users/9", None);
    service.request("GET", "/fail", None);
    service.request("GET", "/nope", None);
    service.request("GET", "/api/orders", None);
}

#[test]
fn promtool_accepts_the_page() {
    let service = Service::start(&[("SLOW_MS", "0")]);
    traffic(&service);
    let page = service.scrape();
    let (status, findings) = promtool_check(&page);
    // Exit status 3: lint findings only; 1 would be a page that does not parse.
    assert_eq!(status.code(), Some(3), "{findings:?}\n{page}");
    assert_eq!(findings, KEPT_FOR_THEIR_QUERIES, "{page}");
}

#[test]
fn promtool_accepts_the_page_with_the_django_profile() {
    let service = Service::start(&[("SLOW_MS", "0"), ("DJANGO_COMPAT", "true")]);
    traffic(&service);
    let page = service.scrape();
    assert!(
        page.contains("django_http_requests_latency_seconds_by_view_method_bucket"),
        "{page}"
    );
    let (status, findings) = promtool_check(&page);
    assert_eq!(status.code(), Some(3), "{findings:?}\n{page}");
    assert_eq!(findings, KEPT_FOR_THEIR_QUERIES, "{page}");
}

#[test]
fn the_index_lists_every_route_as_the_readme_does() {
    let service = Service::start(&[]);
    let (status, body) = service.request("GET", "/", None);
    assert_eq!(status, 200, "{body}");
    let index: serde_json::Value = serde_json::from_str(&body).expect("JSON");
    let routes = index["routes"].as_array().expect("a list of routes");
    let readme = std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../README.md"))
        .expect("the README");
    let field =
        |route: &serde_json::Value, name: &str| route[name].as_str().unwrap_or_default().to_owned();
    for route in routes {
        let row = format!(
            "| {} | `{}` | {} | `{}` |",
            field(route, "method"),
            field(route, "path"),
            field(route, "what"),
            field(route, "example")
        );
        assert!(readme.contains(&row), "the README lacks the row {row}");
    }
    assert_eq!(
        readme.matches("| GET | `/").count()
            + readme.matches("| POST | `/").count()
            + readme.matches("| PUT | `/").count()
            + readme.matches("| DELETE | `/").count(),
        routes.len()
    );
    // Every GET route without a parameter answers (the others need data).
    for route in routes {
        let path = field(route, "path");
        if field(route, "method") == "GET" && !path.contains('{') && path != "/fail" {
            assert_eq!(service.request("GET", &path, None).0, 200, "{path}");
        }
    }
}
