//! Every annotated function and the HTTP layer record into the recorder the
//! application chose: a recorder of another crate installed through this
//! crate, the global recorder another crate installed, or a composition
//! with this crate's store. Each test has a process of its own (the global
//! recorder is set once per process).

use crate::common;
use crate::http_layer_support;

use std::collections::BTreeMap;

use axum::routing::get;
use axum::Router;

use instrument_runtime::{cache_lookup, counted, model_op, timed, Builder, Error};
use metrics_util::debugging::{DebugValue, DebuggingRecorder, Snapshotter};
use metrics_util::CompositeKey;

#[counted]
fn checkout(items: u32) -> Result<u32, String> {
    if items == 0 {
        return Err("empty cart".to_owned());
    }
    Ok(items)
}

#[timed]
fn render_page() {}

#[model_op(model = "order", op = insert)]
fn insert_order(fail: bool) -> Result<(), std::io::Error> {
    if fail {
        Err(std::io::ErrorKind::Other.into())
    } else {
        Ok(())
    }
}

#[cache_lookup(backend = "redis")]
fn cached(key: u32) -> Option<u32> {
    (key % 2 == 0).then_some(key)
}

#[counted(name = "tenant_calls_total", labels(tenant = tenant))]
fn tenant_call(tenant: &str) {}

/// Call each annotated function a known number of times.
fn exercise() {
    for items in [1, 2, 0] {
        let _ = checkout(items);
    }
    render_page();
    render_page();
    insert_order(false).unwrap();
    insert_order(true).unwrap_err();
    for key in 0..5 {
        cached(key);
    }
    let app = Router::new()
        .route("/items/{id}", get(|| async { "item" }))
        .layer(instrument_runtime::HttpMetricsLayer::new());
    let addr = http_layer_support::serve(app);
    for path in ["/items/1", "/items/2", "/items/3", "/nowhere"] {
        http_layer_support::get(addr, path);
    }
}

/// Everything recorded, once the HTTP layer has counted `exercise`'s
/// requests (a response is counted when its body has been sent).
fn http_counts(snapshotter: &Snapshotter, namespace: &str) -> Recorded {
    let name = format!("{namespace}http_requests_total");
    let item = sorted(&[("method", "GET"), ("view", "/items/{id}")]);
    let mut recorded = Recorded::default();
    http_layer_support::eventually("the four requests are counted", || {
        recorded.add(snapshotter);
        matches!(
            recorded.values.get(&(name.clone(), item.clone())),
            Some(DebugValue::Counter(3))
        )
    });
    recorded
}

fn sorted(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut labels: Vec<(String, String)> = labels
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    labels.sort();
    labels
}

/// The values a DebuggingRecorder was given, by name and sorted labels,
/// with the descriptions, summed over its snapshots (each takes what was
/// recorded since the one before).
#[derive(Default)]
struct Recorded {
    values: BTreeMap<(String, Vec<(String, String)>), DebugValue>,
    help: BTreeMap<String, String>,
}

impl Recorded {
    fn add(&mut self, snapshotter: &Snapshotter) {
        for (key, _unit, description, value) in snapshotter.snapshot().into_vec() {
            let (name, labels) = parts(&key);
            if let Some(description) = description {
                self.help.insert(name.clone(), description.into_owned());
            }
            let entry = self.values.entry((name, labels));
            match (entry, value) {
                (std::collections::btree_map::Entry::Occupied(mut held), value) => {
                    match (held.get_mut(), value) {
                        (DebugValue::Counter(sum), DebugValue::Counter(more)) => *sum += more,
                        (DebugValue::Histogram(samples), DebugValue::Histogram(more)) => {
                            samples.extend(more)
                        }
                        (held, value) => *held = value,
                    }
                }
                (std::collections::btree_map::Entry::Vacant(free), value) => {
                    free.insert(value);
                }
            }
        }
    }

    #[track_caller]
    fn counter(&self, name: &str, labels: &[(&str, &str)]) -> u64 {
        match self.value(name, labels) {
            DebugValue::Counter(value) => *value,
            other => panic!("{name} is not a counter: {other:?}"),
        }
    }

    /// The number of samples recorded since the last snapshot.
    #[track_caller]
    fn samples(&self, name: &str, labels: &[(&str, &str)]) -> usize {
        match self.value(name, labels) {
            DebugValue::Histogram(samples) => samples.len(),
            other => panic!("{name} is not a histogram: {other:?}"),
        }
    }

    #[track_caller]
    fn value(&self, name: &str, labels: &[(&str, &str)]) -> &DebugValue {
        let key = (name.to_owned(), sorted(labels));
        self.values
            .get(&key)
            .unwrap_or_else(|| panic!("no series {key:?} in {:?}", self.values.keys()))
    }
}

fn parts(key: &CompositeKey) -> (String, Vec<(String, String)>) {
    let key = key.key();
    let mut labels: Vec<(String, String)> = key
        .labels()
        .map(|l| (l.key().to_owned(), l.value().to_owned()))
        .collect();
    labels.sort();
    (key.name().to_owned(), labels)
}

/// The counts that `exercise` leaves, under `namespace`.
#[track_caller]
fn assert_exercised(recorded: &Recorded, namespace: &str) {
    let name = |family: &str| format!("{namespace}{family}");
    let calls = |result| {
        [
            ("function", "checkout"),
            ("module", "configured::recorders"),
            ("result", result),
        ]
    };
    assert_eq!(
        recorded.counter(&name("function_calls_total"), &calls("ok")),
        2
    );
    assert_eq!(
        recorded.counter(&name("function_calls_total"), &calls("error")),
        1
    );
    // Created at 0 when installing, as on this crate's own page.
    assert_eq!(
        recorded.counter(&name("function_calls_total"), &calls("panic")),
        0
    );
    let timed = [
        ("function", "render_page"),
        ("module", "configured::recorders"),
    ];
    assert_eq!(
        recorded.samples(&name("function_calls_duration_seconds"), &timed),
        2
    );
    let db = [("alias", "default"), ("vendor", "unknown")];
    assert_eq!(recorded.counter(&name("db_execute_total"), &db), 2);
    assert_eq!(
        recorded.samples(&name("db_execute_latency_seconds"), &db),
        2
    );
    let model = [("model", "order")];
    assert_eq!(recorded.counter(&name("model_inserts_total"), &model), 1);
    assert_eq!(recorded.counter(&name("model_deletes_total"), &model), 0);
    let error = [
        ("alias", "default"),
        ("vendor", "unknown"),
        ("type", "std::io::error::Error"),
    ];
    assert_eq!(recorded.counter(&name("db_errors_total"), &error), 1);
    let backend = [("backend", "redis")];
    assert_eq!(recorded.counter(&name("cache_hits_total"), &backend), 3);
    assert_eq!(recorded.counter(&name("cache_misses_total"), &backend), 2);
    assert_eq!(
        recorded.help[&name("function_calls_total")],
        "Calls of functions annotated with #[counted], by outcome."
    );
    assert_eq!(
        recorded.help[&name("db_execute_latency_seconds")],
        "Database execution latency in seconds."
    );
    let item = [("method", "GET"), ("view", "/items/{id}")];
    assert_eq!(recorded.counter(&name("http_requests_total"), &item), 3);
    let unmatched = [("method", "GET"), ("view", "<unmatched>")];
    assert_eq!(
        recorded.counter(&name("http_requests_total"), &unmatched),
        1
    );
    let ok = [
        ("status", "200"),
        ("method", "GET"),
        ("view", "/items/{id}"),
    ];
    assert_eq!(
        recorded.counter(&name("http_responses_total_by_status"), &ok),
        3
    );
    assert_eq!(
        recorded.samples(&name("http_requests_latency_seconds"), &item),
        3
    );
}

/// `/metrics/` when the page is another exporter's: a clear status, never
/// an empty page that looks healthy.
fn metrics_route_status() -> (u16, String) {
    metrics_route(None)
}

#[test]
fn a_recorder_of_another_crate_gets_every_count() {
    common::isolated(|| {
        // Settings that belong to the other recorder are refused, and
        // nothing is installed.
        let refused = Builder::new()
            .buckets(&[0.1, 1.0])
            .install_recorder(DebuggingRecorder::new());
        match refused {
            Err(Error::InvalidSetting {
                setting: "buckets", ..
            }) => {}
            other => panic!("{other:?}"),
        }
        let refused = Builder::new()
            .global_label("svc", "x")
            .install_recorder(DebuggingRecorder::new());
        assert!(matches!(
            refused,
            Err(Error::InvalidSetting {
                setting: "global_label",
                ..
            })
        ));

        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        Builder::new()
            .namespace("shop")
            .install_recorder(recorder)
            .expect("installed");
        exercise();
        assert_exercised(&http_counts(&snapshotter, "shop_"), "shop_");
        assert!(instrument_runtime::installed().is_none());
        let (status, body) = metrics_route_status();
        assert_eq!(status, 501, "{body}");
        assert!(body.contains("recorder of another crate"), "{body}");
        // Once installed, every other way says so.
        assert!(matches!(
            instrument_runtime::install(),
            Err(Error::AlreadyInstalled)
        ));
        assert!(matches!(
            Builder::new().attach(),
            Err(Error::AlreadyInstalled)
        ));
    });
}

#[test]
fn the_global_recorder_of_another_crate_is_attached_to() {
    common::isolated(|| {
        let recorder = DebuggingRecorder::new();
        let snapshotter = recorder.snapshotter();
        recorder.install().expect("the other crate's recorder");
        assert!(matches!(
            instrument_runtime::install(),
            Err(Error::AlreadyInstalled)
        ));
        Builder::new().attach().expect("attached");
        exercise();
        // A first call made while a recorder local to this thread is set
        // still registers with the global one.
        let local = DebuggingRecorder::new();
        let local_snapshotter = local.snapshotter();
        metrics::with_local_recorder(&local, || tenant_call("acme"));
        tenant_call("acme");
        let recorded = http_counts(&snapshotter, "");
        assert_exercised(&recorded, "");
        assert_eq!(
            recorded.counter("tenant_calls_total", &[("tenant", "acme")]),
            2
        );
        assert!(local_snapshotter.snapshot().into_vec().is_empty());
        assert!(matches!(
            Builder::new().attach(),
            Err(Error::AlreadyInstalled)
        ));
        assert!(matches!(
            instrument_runtime::install(),
            Err(Error::AlreadyInstalled)
        ));
        assert_eq!(metrics_route_status().0, 501);
    });
}

#[test]
fn attaching_with_no_recorder_installed_is_an_error() {
    common::isolated(|| {
        let error = Builder::new().attach().expect_err("nothing to attach to");
        assert!(matches!(error, Error::NoRecorder), "{error:?}");
        assert!(
            error
                .to_string()
                .contains("no metrics recorder is installed"),
            "{error}"
        );
        assert!(instrument_runtime::installed().is_none());
        // Nothing half-installed: this crate's own install still works.
        let metrics = instrument_runtime::install().expect("installed");
        let _ = checkout(1);
        let page = metrics.render();
        assert!(
            page.contains(
                r#"function_calls_total{function="checkout",module="configured::recorders",result="ok"} 1"#
            ),
            "{page}"
        );
    });
}

#[test]
fn install_after_another_crate_installed_its_recorder_is_refused() {
    common::isolated(|| {
        metrics::set_global_recorder(metrics::NoopRecorder).expect("the first recorder");
        let result = instrument_runtime::install();
        assert!(matches!(result, Err(Error::AlreadyInstalled)), "{result:?}");
        assert!(instrument_runtime::installed().is_none());
        // Nothing half-installed: a second attempt fails the same way.
        let again = Builder::new().namespace("x").install();
        assert!(matches!(again, Err(Error::AlreadyInstalled)), "{again:?}");
        // The facade's no-op recorder records nothing: nothing to attach to.
        assert!(matches!(Builder::new().attach(), Err(Error::NoRecorder)));
        assert!(instrument_runtime::installed().is_none());
        // Annotated functions work as without the attributes.
        assert_eq!(checkout(2), Ok(2));
        assert_eq!(checkout(0), Err("empty cart".to_owned()));
    });
}

#[test]
fn a_composition_with_this_crates_store_feeds_both() {
    common::isolated(|| {
        use metrics_util::layers::FanoutBuilder;
        let other = DebuggingRecorder::new();
        let snapshotter = other.snapshotter();
        let metrics = Builder::new()
            .namespace("shop")
            .global_label("svc", "web")
            .install_with(|ours| {
                FanoutBuilder::default()
                    .add_recorder(ours)
                    .add_recorder(other)
                    .build()
            })
            .expect("installed");
        exercise();
        assert_exercised(&http_counts(&snapshotter, "shop_"), "shop_");
        let page = common::Page::parse(&metrics.render());
        let calls = |result| {
            [
                ("svc", "web"),
                ("function", "checkout"),
                ("module", "configured::recorders"),
                ("result", result),
            ]
        };
        assert_eq!(page.get("shop_function_calls_total", &calls("ok")), 2.0);
        assert_eq!(page.get("shop_function_calls_total", &calls("panic")), 0.0);
        let backend = [("svc", "web"), ("backend", "redis")];
        assert_eq!(page.get("shop_cache_hits_total", &backend), 3.0);
        assert!(page.text.contains("# HELP shop_function_calls_total Calls of functions annotated with #[counted], by outcome.\n"));
        assert_eq!(metrics_route_status().0, 200);
    });
}

/// `/metrics/` with a bearer token: the status and body, with or without
/// the token.
fn metrics_route(token: Option<&str>) -> (u16, String) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let mut request = axum::http::Request::get("/metrics/");
        if let Some(token) = token {
            request = request.header("authorization", format!("Bearer {token}"));
        }
        let request = request.body(axum::body::Body::empty()).unwrap();
        let response = instrument_runtime::metrics_handler(request).await;
        let status = response.status().as_u16();
        let body = axum::body::to_bytes(response.into_body(), 1 << 20)
            .await
            .unwrap();
        (status, String::from_utf8(body.to_vec()).unwrap())
    })
}

/// The exporter's page, once the HTTP layer has counted `exercise`'s
/// requests.
#[cfg(feature = "metrics-exporter-prometheus")]
fn exporter_page(metrics: &instrument_runtime::Metrics, labels: &[(&str, &str)]) -> common::Page {
    let mut page = common::Page::parse(&metrics.render());
    let item: Vec<(&str, &str)> = labels
        .iter()
        .copied()
        .chain([("method", "GET"), ("view", "/items/{id}")])
        .collect();
    http_layer_support::eventually("the four requests are counted", || {
        page = common::Page::parse(&metrics.render());
        page.value("shop_http_requests_total", &item) == Some(3.0)
    });
    page
}

/// The counts that `exercise` leaves on a Prometheus page, with `labels`
/// on every series.
#[cfg(feature = "metrics-exporter-prometheus")]
#[track_caller]
fn assert_exercised_page(page: &common::Page, labels: &[(&str, &str)], buckets: &[&str]) {
    let with = |pairs: &[(&'static str, &'static str)]| -> Vec<(&str, &str)> {
        labels
            .iter()
            .copied()
            .chain(pairs.iter().copied())
            .collect()
    };
    let calls = |result| {
        with(&[
            ("function", "checkout"),
            ("module", "configured::recorders"),
            ("result", result),
        ])
    };
    assert_eq!(page.get("shop_function_calls_total", &calls("ok")), 2.0);
    assert_eq!(page.get("shop_function_calls_total", &calls("error")), 1.0);
    assert_eq!(page.get("shop_function_calls_total", &calls("panic")), 0.0);
    let model = with(&[("model", "order")]);
    assert_eq!(page.get("shop_model_inserts_total", &model), 1.0);
    let backend = with(&[("backend", "redis")]);
    assert_eq!(page.get("shop_cache_misses_total", &backend), 2.0);
    let ok = with(&[
        ("status", "200"),
        ("method", "GET"),
        ("view", "/items/{id}"),
    ]);
    assert_eq!(page.get("shop_http_responses_total_by_status", &ok), 3.0);
    // Histograms, with the buckets asked for, never summaries.
    let timed = with(&[
        ("function", "render_page"),
        ("module", "configured::recorders"),
    ]);
    assert_eq!(
        page.get("shop_function_calls_duration_seconds_count", &timed),
        2.0
    );
    for le in buckets {
        let bucket: Vec<(&str, &str)> = timed.iter().copied().chain([("le", *le)]).collect();
        assert_eq!(
            page.get("shop_function_calls_duration_seconds_bucket", &bucket),
            2.0,
            "le={le}"
        );
    }
    let item = with(&[("method", "GET"), ("view", "/items/{id}")]);
    assert_eq!(
        page.get("shop_http_requests_latency_seconds_count", &item),
        3.0
    );
    assert!(!page.text.contains("quantile="), "{}", page.text);
    assert!(page
        .text
        .contains("# TYPE shop_function_calls_duration_seconds histogram\n"));
    assert!(page.text.contains("# HELP shop_function_calls_total Calls of functions annotated with #[counted], by outcome.\n"));
}

#[cfg(feature = "metrics-exporter-prometheus")]
#[test]
fn metrics_exporter_prometheus_is_the_backend() {
    common::isolated(|| {
        let metrics = Builder::new()
            .namespace("shop")
            .global_label("svc", "web")
            .bearer_token(instrument_runtime::Secret::new("s3cret"))
            .install_prometheus(metrics_exporter_prometheus::PrometheusBuilder::new())
            .expect("installed");
        exercise();
        let page = exporter_page(&metrics, &[("svc", "web")]);
        let buckets = ["0.01", "0.025", "0.5", "75", "+Inf"];
        assert_exercised_page(&page, &[("svc", "web")], &buckets);
        // The page of /metrics/ is the exporter's, behind the protection.
        assert_eq!(metrics_route(None).0, 401);
        let (status, body) = metrics_route(Some("s3cret"));
        assert_eq!(status, 200);
        let served = common::Page::parse(&body);
        let calls = [
            ("svc", "web"),
            ("function", "checkout"),
            ("module", "configured::recorders"),
            ("result", "ok"),
        ];
        assert_eq!(served.get("shop_function_calls_total", &calls), 2.0);
        assert_eq!(
            instrument_runtime::installed().map(|m| m.render().is_empty()),
            Some(false)
        );
    });
}

#[cfg(feature = "metrics-exporter-prometheus")]
#[test]
fn an_installed_metrics_exporter_prometheus_is_attached_to() {
    common::isolated(|| {
        let handle = metrics_exporter_prometheus::PrometheusBuilder::new()
            .set_buckets(&[0.5, 1.0])
            .unwrap()
            .install_recorder()
            .expect("the exporter's own install");
        let metrics = Builder::new()
            .namespace("shop")
            .attach_prometheus(handle)
            .expect("attached");
        exercise();
        let page = exporter_page(&metrics, &[]);
        assert_exercised_page(&page, &[], &["0.5", "1", "+Inf"]);
        assert_eq!(metrics_route(None).0, 200);
    });
}

/// Sums of what a DogStatsD agent received: counters by name and sorted
/// tags, and the number of histogram samples.
#[derive(Default, Debug)]
struct Datagrams {
    counters: BTreeMap<(String, Vec<String>), u64>,
    samples: BTreeMap<(String, Vec<String>), usize>,
}

impl Datagrams {
    /// Add one datagram: lines of `name:value[:value..]|type|#tag:value,..`.
    fn add(&mut self, datagram: &str) {
        for line in datagram.lines() {
            let mut fields = line.split('|');
            let (name, values) = fields.next().unwrap().split_once(':').unwrap();
            let kind = fields.next().unwrap();
            let mut tags: Vec<String> = fields
                .find_map(|field| field.strip_prefix('#'))
                .map(|tags| tags.split(',').map(str::to_owned).collect())
                .unwrap_or_default();
            tags.sort();
            let key = (name.to_owned(), tags);
            match kind {
                "c" => *self.counters.entry(key).or_default() += values.parse::<u64>().unwrap(),
                "h" | "d" => *self.samples.entry(key).or_default() += values.split(':').count(),
                other => panic!("unexpected type {other} in {line:?}"),
            }
        }
    }

    fn counter(&self, name: &str, tags: &[&str]) -> u64 {
        let mut tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        tags.sort();
        self.counters
            .get(&(name.to_owned(), tags))
            .copied()
            .unwrap_or(0)
    }

    fn samples(&self, name: &str, tags: &[&str]) -> usize {
        let mut tags: Vec<String> = tags.iter().map(|t| (*t).to_owned()).collect();
        tags.sort();
        self.samples
            .get(&(name.to_owned(), tags))
            .copied()
            .unwrap_or(0)
    }
}

#[test]
fn an_exporter_that_is_not_prometheus_gets_every_count() {
    common::isolated(|| {
        let agent = std::net::UdpSocket::bind("127.0.0.1:0").expect("a UDP port");
        agent
            .set_read_timeout(Some(std::time::Duration::from_millis(200)))
            .unwrap();
        let recorder = metrics_exporter_dogstatsd::DogStatsDBuilder::default()
            .with_remote_address(agent.local_addr().unwrap().to_string())
            .unwrap()
            .with_flush_interval(std::time::Duration::from_millis(50))
            .with_telemetry(false)
            .with_histogram_sampling(false)
            .build()
            .expect("the DogStatsD recorder");
        Builder::new()
            .namespace("shop")
            .install_recorder(recorder)
            .expect("installed");
        exercise();
        let mut received = Datagrams::default();
        let item = ["method:GET", "view:/items/{id}"];
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
        let mut buffer = vec![0; 65536];
        while received.counter("shop_http_requests_total", &item) < 3
            || received.counter("shop_cache_misses_total", &["backend:redis"]) < 2
        {
            assert!(std::time::Instant::now() < deadline, "{received:?}");
            if let Ok(length) = agent.recv(&mut buffer) {
                received.add(std::str::from_utf8(&buffer[..length]).unwrap());
            }
        }
        // A few more flushes: nothing more than was recorded arrives.
        let settle = std::time::Instant::now() + std::time::Duration::from_millis(500);
        while std::time::Instant::now() < settle {
            if let Ok(length) = agent.recv(&mut buffer) {
                received.add(std::str::from_utf8(&buffer[..length]).unwrap());
            }
        }
        let calls = |result: &str| {
            [
                "function:checkout".to_owned(),
                "module:configured::recorders".to_owned(),
                format!("result:{result}"),
            ]
        };
        let ok = calls("ok");
        let ok: Vec<&str> = ok.iter().map(String::as_str).collect();
        let error = calls("error");
        let error: Vec<&str> = error.iter().map(String::as_str).collect();
        assert_eq!(
            received.counter("shop_function_calls_total", &ok),
            2,
            "{received:?}"
        );
        assert_eq!(received.counter("shop_function_calls_total", &error), 1);
        let db = ["alias:default", "vendor:unknown"];
        assert_eq!(received.counter("shop_db_execute_total", &db), 2);
        assert_eq!(received.samples("shop_db_execute_latency_seconds", &db), 2);
        assert_eq!(
            received.counter("shop_model_inserts_total", &["model:order"]),
            1
        );
        assert_eq!(
            received.counter("shop_cache_hits_total", &["backend:redis"]),
            3
        );
        assert_eq!(
            received.counter("shop_cache_misses_total", &["backend:redis"]),
            2
        );
        let timed = ["function:render_page", "module:configured::recorders"];
        assert_eq!(
            received.samples("shop_function_calls_duration_seconds", &timed),
            2
        );
        assert_eq!(received.counter("shop_http_requests_total", &item), 3);
        assert_eq!(
            received.samples("shop_http_requests_latency_seconds", &item),
            3
        );
        // The page is the agent's: /metrics/ says so.
        assert_eq!(metrics_route_status().0, 501);
    });
}

#[cfg(feature = "metrics-exporter-prometheus")]
#[test]
fn the_profile_and_the_cardinality_guard_work_on_metrics_exporter_prometheus() {
    common::isolated(|| {
        let metrics = Builder::new()
            .namespace("django")
            .django_compat(true)
            .db_vendor("sqlite")
            .family_cardinality_limit("tenant_calls_total", 2)
            .install_prometheus(metrics_exporter_prometheus::PrometheusBuilder::new())
            .expect("installed");
        for tenant in ["a", "b", "c", "d", "a"] {
            tenant_call(tenant);
        }
        let _ = cached(2);
        let _ = cached(3);
        insert_order(false).unwrap();
        let page = common::Page::parse(&metrics.render());
        // Past the limit of 2 label sets, the calls fold into one set.
        let tenant = |t| [("tenant", t)];
        assert_eq!(page.get("tenant_calls_total", &tenant("a")), 2.0);
        assert_eq!(page.get("tenant_calls_total", &tenant("b")), 1.0);
        assert_eq!(
            page.get("tenant_calls_total", &tenant(instrument_runtime::OVERFLOW)),
            2.0
        );
        assert_eq!(page.series("tenant_calls_total").len(), 3);
        let overflow = [("family", "tenant_calls_total")];
        assert_eq!(
            page.get("django_cardinality_overflow_total", &overflow),
            2.0
        );
        // django-prometheus's own families, with the package's names.
        let backend = [("backend", "redis")];
        assert_eq!(page.get("django_cache_get_total", &backend), 2.0);
        assert_eq!(page.get("django_cache_get_hits_total", &backend), 1.0);
        assert_eq!(page.get("django_cache_get_misses_total", &backend), 1.0);
        let db = [("alias", "default"), ("vendor", "sqlite")];
        assert_eq!(page.get("django_db_query_duration_seconds_count", &db), 1.0);
        assert!(page
            .text
            .contains("# TYPE django_db_query_duration_seconds histogram\n"));
        assert!(!page.text.contains("quantile="), "{}", page.text);
    });
}
