//! The example service: users (behind a read-through cache) and their orders
//! on SQLite, with the handlers, repository and cache instrumented and
//! `/metrics/` served on the application's own port.
//!
//! Settings (environment): `BIND` (default `127.0.0.1:8000`), `DATABASE_PATH`
//! (default `example.db`, created on first start), `MIGRATE` (default
//! `true`; `false` starts without running pending migrations, as a deploy
//! before its migrations run, reported in
//! `django_migrations_unapplied_total`), `SLOW_MS` (default 600),
//! `CACHE_CAPACITY` (default 1000), `DJANGO_COMPAT` (default `false`: `true`
//! adds django-prometheus's own families, for dashboards built on them),
//! `METRICS_TOKEN_FILE` (unset: `/metrics/` is open; set: a file holding the
//! bearer token Prometheus must send, as `monitoring/prometheus.yml` shows),
//! `METRICS_NAMESPACE` (default `django`, the prefix of every built-in
//! family; empty for autometrics' dashboards and rules, which name
//! `function_calls_total` bare), `METRICS_BACKEND` (default `store`,
//! instrument-runtime's own;
//! `metrics-exporter-prometheus` records into that exporter instead, with
//! the same families on `/metrics/`), `METRICS_LISTEN` (unset: `/metrics/`
//! only on `BIND`; set, e.g. `127.0.0.1:9100`: on a listener of its own
//! too), `METRICS_WEB_CONFIG` (an exporter-toolkit `web-config.yml`: TLS
//! and client certificates for that listener, bcrypt basic-auth users for
//! `/metrics/`). Requests continue the caller's trace (`traceparent`), and
//! the OpenMetrics page carries their trace ids as exemplars.
//!
//! `example-service --print-objective-rules` prints the Prometheus rules
//! and burn-rate alerts of the service's objectives and exits (with
//! `--time-scale N`, every window divided by N, for a test);
//! `monitoring/objective_rules.yml` is that output.

mod cache;
mod db;
mod routes;
mod traces;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use crate::routes::AppState;

fn setting<T: std::str::FromStr>(name: &str, default: T) -> Result<T, String>
where
    T::Err: std::fmt::Display,
{
    match std::env::var(name) {
        Ok(value) => value.parse().map_err(|e| format!("{name}={value:?}: {e}")),
        Err(_) => Ok(default),
    }
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    match run().await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("example-service: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

/// `--print-objective-rules [--time-scale N]`: the rules' time scale, or
/// `None` to serve.
fn print_rules_flag() -> Result<Option<u32>, String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.iter().map(String::as_str).collect::<Vec<_>>().as_slice() {
        [] => Ok(None),
        ["--print-objective-rules"] => Ok(Some(1)),
        ["--print-objective-rules", "--time-scale", scale] => scale
            .parse()
            .ok()
            .filter(|&scale| scale > 0)
            .map(Some)
            .ok_or_else(|| format!("--time-scale {scale:?}: expected a whole number above 0")),
        _ => Err(format!(
            "unexpected arguments {args:?}: expected none, or --print-objective-rules [--time-scale N]"
        )),
    }
}

async fn run() -> Result<(), Box<dyn std::error::Error>> {
    let print_rules = print_rules_flag()?;
    let bind: SocketAddr = setting("BIND", SocketAddr::from(([127, 0, 0, 1], 8000)))?;
    let database: PathBuf = setting("DATABASE_PATH", PathBuf::from("example.db"))?;
    let migrate: bool = setting("MIGRATE", true)?;
    let slow = Duration::from_millis(setting("SLOW_MS", 600)?);
    let capacity: usize = setting("CACHE_CAPACITY", 1000)?;
    let django_compat: bool = setting("DJANGO_COMPAT", false)?;
    let backend: String = setting("METRICS_BACKEND", "store".to_owned())?;
    let namespace: String = setting("METRICS_NAMESPACE", "django".to_owned())?;

    let tracer_provider = traces::install()?;

    // Namespace `django`, so the documented alert rules and dashboards run
    // unchanged; empty for autometrics' rules and dashboards.
    let mut metrics = instrument_runtime::Builder::new()
        .namespace(namespace)
        .db_vendor("sqlite")
        .django_compat(django_compat)
        // django_build_info{version, commit, branch, service_name}: which build served.
        .build_info(instrument_runtime::build_info!())
        // The request's trace on the OpenMetrics page, as exemplars.
        .exemplars(instrument_runtime::ExemplarLayer::current)
        // The routes of the users objective (`list_users` carries it too).
        .http_objective("/users", routes::USERS)
        .http_objective("GET /users/{id}", routes::USERS)
        .http_objective("GET /flaky", routes::FLAKY);
    if let Some(path) = std::env::var_os("METRICS_TOKEN_FILE") {
        metrics = metrics.bearer_token(instrument_runtime::Secret::from_file(path));
    }
    if let Ok(addr) = std::env::var("METRICS_LISTEN") {
        let addr = addr
            .parse()
            .map_err(|e| format!("METRICS_LISTEN={addr:?}: {e}"))?;
        metrics = metrics.listen(addr);
    }
    if let Some(path) = std::env::var_os("METRICS_WEB_CONFIG") {
        metrics = metrics.web_config_file(path);
    }
    let metrics = match backend.as_str() {
        "store" => metrics.install()?,
        "metrics-exporter-prometheus" => {
            let exporter = metrics_exporter_prometheus::PrometheusBuilder::new();
            metrics.install_prometheus(exporter)?
        }
        other => {
            let message =
                format!("METRICS_BACKEND={other:?}: expected store or metrics-exporter-prometheus");
            return Err(message.into());
        }
    };
    if let Some(scale) = print_rules {
        print!("{}", metrics.objective_rules().time_scale(scale));
        return Ok(());
    }

    let repo = match db::Repository::open(&database, migrate) {
        Ok(repo) => {
            instrument_runtime::db::connection_opened();
            repo
        }
        Err(e) => {
            instrument_runtime::db::connection_failed();
            let message = format!("opening the database {}: {e}", database.display());
            return Err(message.into());
        }
    };
    let state = Arc::new(AppState {
        repo,
        cache: cache::UserCache::new(capacity),
        slow,
        flaky: std::sync::atomic::AtomicU64::new(0),
    });

    let listener = tokio::net::TcpListener::bind(bind)
        .await
        .map_err(|e| format!("binding {bind}: {e}"))?;
    eprintln!(
        "example-service listening on http://{}/ (metrics at /metrics/)",
        listener.local_addr()?
    );
    axum::serve(listener, routes::router(state))
        .with_graceful_shutdown(async {
            let _ = tokio::signal::ctrl_c().await;
            eprintln!("example-service shutting down");
        })
        .await?;
    tracer_provider
        .shutdown()
        .map_err(|e| format!("shutting down the tracer provider: {e}"))?;
    Ok(())
}
