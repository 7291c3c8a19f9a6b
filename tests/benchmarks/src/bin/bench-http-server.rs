//! A hello-world axum server for the `http` bench: bare; with a layer that
//! does nothing (what axum's `Router::layer` costs any middleware); with
//! instrument-runtime's `HttpMetricsLayer`, without and with the
//! django-prometheus profile; or with axum-prometheus's layer (its default
//! metrics); on one tokio worker thread.
//!
//! `bench-http-server bare|identity-layer|instrument|instrument-django|axum-prometheus`
//! listens on a free loopback port, prints `PORT <n>` on stdout, and
//! serves until killed.

use axum::routing::get;
use axum::Router;

async fn hello() -> &'static str {
    "Hello, World!"
}

fn app(variant: &str) -> Router {
    let hello = Router::new().route("/", get(hello));
    match variant {
        "bare" => hello,
        "identity-layer" => hello.layer(tower_layer::layer_fn(|route| route)),
        "instrument" | "instrument-django" => {
            instrument_runtime::Builder::new()
                .django_compat(variant == "instrument-django")
                .install()
                .expect("the recorder installs once");
            hello
                .merge(instrument_runtime::metrics_router())
                .layer(instrument_runtime::HttpMetricsLayer::new())
        }
        "axum-prometheus" => {
            // Installs metrics-exporter-prometheus's recorder and spawns its
            // upkeep task: needs the runtime.
            let (layer, handle) = axum_prometheus::PrometheusMetricLayer::pair();
            hello
                .route("/metrics", get(move || async move { handle.render() }))
                .layer(layer)
        }
        other => panic!(
            "unknown variant {other:?}: bare, identity-layer, instrument, instrument-django \
             or axum-prometheus"
        ),
    }
}

fn main() -> std::io::Result<()> {
    let variant = std::env::args().nth(1).unwrap_or_else(|| "bare".into());
    // One worker: the server gets one of the two cores, wrk the other.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()?;
    runtime.block_on(async {
        let app = app(&variant);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
        println!("PORT {}", listener.local_addr()?.port());
        axum::serve(listener, app).await
    })
}
