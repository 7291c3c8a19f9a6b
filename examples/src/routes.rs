//! The HTTP handlers. Each carries `#[counted]` and `#[timed]`; `/metrics/`
//! is merged into the same router.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use instrument_runtime::{counted, timed, Objective};

use crate::cache::UserCache;
use crate::db::{NewOrder, NewUser, Order, Repository, User};

pub(crate) struct AppState {
    pub(crate) repo: Repository,
    pub(crate) cache: UserCache,
    pub(crate) slow: Duration,
    /// Requests to `/flaky` so far.
    pub(crate) flaky: AtomicU64,
}

type Shared = State<Arc<AppState>>;

pub(crate) fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(index))
        .route("/users", get(list_users).post(create_user))
        .route(
            "/users/{id}",
            get(get_user).put(update_user).delete(delete_user),
        )
        .route("/orders", get(list_orders).post(create_order))
        .route(
            "/orders/{id}",
            get(get_order).put(update_order).delete(delete_order),
        )
        .route("/api/{endpoint}", get(api_view))
        .route("/fail", get(fail))
        .route("/slow", get(slow))
        .route("/flaky", get(flaky))
        .merge(instrument_runtime::metrics_router())
        .layer(instrument_runtime::HttpMetricsLayer::new())
        // Outside the metrics layer: its records see the request's span.
        .layer(axum::middleware::from_fn(crate::traces::continue_trace))
        .with_state(state)
}

/// Every route: method, path, what it does, and a `curl` line to try it
/// against the default `BIND`. `GET /` answers this table; the README
/// shows the same one.
pub(crate) const ROUTES: &[(&str, &str, &str, &str)] = &[
    ("GET", "/", "this index", "curl localhost:8000/"),
    ("GET", "/users", "every user", "curl localhost:8000/users"),
    (
        "POST",
        "/users",
        "create a user: JSON name, email; 409 when the e-mail is taken",
        r#"curl -X POST localhost:8000/users -H 'content-type: application/json' -d '{"name":"Ada","email":"ada@example.com"}'"#,
    ),
    (
        "GET",
        "/users/{id}",
        "one user, through the read-through cache (django_cache_hits_total, django_cache_misses_total)",
        "curl localhost:8000/users/1",
    ),
    (
        "PUT",
        "/users/{id}",
        "replace a user: JSON name, email",
        r#"curl -X PUT localhost:8000/users/1 -H 'content-type: application/json' -d '{"name":"Ada L.","email":"ada@example.com"}'"#,
    ),
    ("DELETE", "/users/{id}", "delete a user", "curl -X DELETE localhost:8000/users/1"),
    ("GET", "/orders", "every order", "curl localhost:8000/orders"),
    (
        "POST",
        "/orders",
        "create an order: JSON user_id, item, quantity",
        r#"curl -X POST localhost:8000/orders -H 'content-type: application/json' -d '{"user_id":1,"item":"book","quantity":2}'"#,
    ),
    ("GET", "/orders/{id}", "one order", "curl localhost:8000/orders/1"),
    (
        "PUT",
        "/orders/{id}",
        "replace an order: JSON user_id, item, quantity",
        r#"curl -X PUT localhost:8000/orders/1 -H 'content-type: application/json' -d '{"user_id":1,"item":"book","quantity":3}'"#,
    ),
    ("DELETE", "/orders/{id}", "delete an order", "curl -X DELETE localhost:8000/orders/1"),
    (
        "GET",
        "/api/{endpoint}",
        "any endpoint name, counted in api_requests_total{endpoint}",
        "curl localhost:8000/api/status",
    ),
    (
        "GET",
        "/fail",
        "always 500: traffic for the error-rate alert",
        "curl localhost:8000/fail",
    ),
    (
        "GET",
        "/slow",
        "answers after SLOW_MS (600 ms): traffic for the latency alert",
        "curl localhost:8000/slow",
    ),
    (
        "GET",
        "/flaky",
        "500 for one request in one_in (10), the others 200: an error rate of your choice for the flaky objective's burn-rate alerts",
        "curl 'localhost:8000/flaky?one_in=20'",
    ),
    (
        "GET",
        "/metrics/",
        "the Prometheus exposition",
        "curl localhost:8000/metrics/",
    ),
];

/// The route index, as JSON.
async fn index() -> Json<serde_json::Value> {
    let routes: Vec<_> = ROUTES
        .iter()
        .map(|(method, path, what, example)| {
            serde_json::json!({ "method": method, "path": path, "what": what, "example": example })
        })
        .collect();
    Json(serde_json::json!({
        "service": "example-service: users and orders on SQLite, instrumented with instrument-runtime",
        "routes": routes,
    }))
}

/// What a handler can fail with.
#[derive(Debug)]
pub(crate) enum ApiError {
    NotFound,
    Conflict(String),
    Database(rusqlite::Error),
    Deliberate,
}

impl From<rusqlite::Error> for ApiError {
    fn from(error: rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(e, message)
                if e.code == rusqlite::ErrorCode::ConstraintViolation =>
            {
                ApiError::Conflict(message.unwrap_or_else(|| "constraint violated".into()))
            }
            other => ApiError::Database(other),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let (status, message) = match self {
            ApiError::NotFound => (StatusCode::NOT_FOUND, "not found".to_owned()),
            ApiError::Conflict(message) => (StatusCode::CONFLICT, message),
            ApiError::Database(error) => {
                eprintln!("database error: {error}");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "database error".to_owned(),
                )
            }
            ApiError::Deliberate => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "this route fails on purpose".to_owned(),
            ),
        };
        (status, Json(serde_json::json!({ "error": message }))).into_response()
    }
}

/// The service-level objective of the user routes: 99.9% of requests
/// succeed and 99% finish within 250 ms, over 30 days. It holds
/// `list_users` here and the routes `/users` and `GET /users/{id}` (in
/// `main`); `--print-objective-rules` prints its alerts.
pub(crate) const USERS: Objective = Objective::new("users")
    .success(99.9)
    .latency(Duration::from_millis(250), 99.0);

#[counted(objective = USERS)]
#[timed(objective = USERS)]
async fn list_users(State(state): Shared) -> Result<Json<Vec<User>>, ApiError> {
    Ok(Json(state.repo.list_users()?))
}

#[counted]
#[timed]
async fn create_user(
    State(state): Shared,
    Json(new): Json<NewUser>,
) -> Result<(StatusCode, Json<User>), ApiError> {
    let user = state.repo.insert_user(&new)?;
    state.cache.insert(user.clone());
    Ok((StatusCode::CREATED, Json(user)))
}

#[counted]
#[timed]
async fn get_user(State(state): Shared, Path(id): Path<i64>) -> Result<Json<User>, ApiError> {
    if let Some(user) = state.cache.get(id) {
        return Ok(Json(user));
    }
    let user = state.repo.get_user(id)?.ok_or(ApiError::NotFound)?;
    state.cache.insert(user.clone());
    Ok(Json(user))
}

#[counted]
#[timed]
async fn update_user(
    State(state): Shared,
    Path(id): Path<i64>,
    Json(new): Json<NewUser>,
) -> Result<Json<User>, ApiError> {
    let user = state
        .repo
        .update_user(id, &new)?
        .ok_or(ApiError::NotFound)?;
    state.cache.insert(user.clone());
    Ok(Json(user))
}

#[counted]
#[timed]
async fn delete_user(State(state): Shared, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    state.cache.remove(id);
    if state.repo.delete_user(id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

#[counted]
#[timed]
async fn list_orders(State(state): Shared) -> Result<Json<Vec<Order>>, ApiError> {
    Ok(Json(state.repo.list_orders()?))
}

/// An unknown `user_id` or a quantity below 1 is a 409 from the database's
/// constraints.
#[counted]
#[timed]
async fn create_order(
    State(state): Shared,
    Json(new): Json<NewOrder>,
) -> Result<(StatusCode, Json<Order>), ApiError> {
    let order = state.repo.insert_order(&new)?;
    Ok((StatusCode::CREATED, Json(order)))
}

#[counted]
#[timed]
async fn get_order(State(state): Shared, Path(id): Path<i64>) -> Result<Json<Order>, ApiError> {
    let order = state.repo.get_order(id)?.ok_or(ApiError::NotFound)?;
    Ok(Json(order))
}

#[counted]
#[timed]
async fn update_order(
    State(state): Shared,
    Path(id): Path<i64>,
    Json(new): Json<NewOrder>,
) -> Result<Json<Order>, ApiError> {
    let order = state
        .repo
        .update_order(id, &new)?
        .ok_or(ApiError::NotFound)?;
    Ok(Json(order))
}

#[counted]
#[timed]
async fn delete_order(State(state): Shared, Path(id): Path<i64>) -> Result<StatusCode, ApiError> {
    if state.repo.delete_order(id)? {
        Ok(StatusCode::NO_CONTENT)
    } else {
        Err(ApiError::NotFound)
    }
}

/// The Django guide's custom metrics, with label values taken from
/// the request.
#[counted(
    name = "api_requests_total",
    help = "Total count of API requests",
    labels(endpoint = endpoint, method = method, status = 200)
)]
#[timed(
    name = "api_request_latency_seconds",
    help = "API request latency in seconds",
    labels(endpoint = endpoint, method = method)
)]
async fn api_view(method: Method, Path(endpoint): Path<String>) -> Json<serde_json::Value> {
    Json(serde_json::json!({ "status": "success", "endpoint": endpoint }))
}

/// Fails every time, to watch the error-rate alert fire.
#[counted]
#[timed]
async fn fail() -> Result<&'static str, ApiError> {
    Err(ApiError::Deliberate)
}

/// The objective of `/flaky`: 99% of its requests succeed.
pub(crate) const FLAKY: Objective = Objective::new("flaky").success(99.0);

#[derive(serde::Deserialize)]
struct OneIn {
    #[serde(default = "ten")]
    one_in: u64,
}

fn ten() -> u64 {
    10
}

/// Fails one request in `one_in`, counted over all requests, so the error
/// rate is exactly the caller's: `one_in=20` burns 5% of calls, five times
/// the budget of `FLAKY`.
#[counted(objective = FLAKY)]
#[timed]
async fn flaky(
    State(state): Shared,
    Query(OneIn { one_in }): Query<OneIn>,
) -> Result<&'static str, ApiError> {
    let n = state.flaky.fetch_add(1, Ordering::Relaxed) + 1;
    if n % one_in.max(1) == 0 {
        Err(ApiError::Deliberate)
    } else {
        Ok("ok")
    }
}

/// Answers after `SLOW_MS`, to watch the latency alert fire.
#[counted]
#[timed]
async fn slow(State(state): Shared) -> &'static str {
    tokio::time::sleep(state.slow).await;
    "finally\n"
}
