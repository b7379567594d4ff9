//! The operator's HTTP endpoints: the AdminServer (`JettyAdminServer`: `GET <commandURL>` lists the commands,
//! `GET <commandURL>/<name>?k=v` runs one and answers JSON, unknown commands included, with HTTP 200; 3.9's
//! authenticated `snapshot` and `restore` are refused, see `commands::AUTHENTICATED`) and the
//! Prometheus endpoint (`PrometheusMetricsProvider`: `GET /metrics`).
//!
//! Both are served with axum: it is maintained by the tokio project on top of hyper, so it adds no runtime
//! and no HTTP stack beyond what hyper already is, and its router, query extraction and method handling (405
//! for anything but GET, as Jetty answers) keep this module to the ZooKeeper-specific parts. The handlers never
//! touch server state: they send a [`Query`] to the server task, which owns the core, and wait for its answer.

pub mod commands;
pub mod json;
pub mod quorum;

use std::collections::HashMap;
use std::future::Future;
use std::io;
use std::time::Duration;

use axum::extract::{Path, Query as QueryParams, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response as HttpResponse};
use axum::routing::get;
use axum::Router;
use metrics_exporter_prometheus::PrometheusHandle;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};

use commands::{Command, Response};

/// The text ZooKeeper answers when the server is not serving.
pub const NOT_SERVING: &str = "This ZooKeeper instance is not currently serving requests";

/// What an HTTP handler asks of the server task.
#[derive(Debug)]
pub enum Query {
    /// Run an AdminServer command.
    Command {
        command: Command,
        params: HashMap<String, String>,
        reply: oneshot::Sender<Response>,
    },
    /// Set the gauges to their current values before /metrics is rendered.
    SampleGauges {
        reply: oneshot::Sender<Vec<&'static str>>,
    },
}

/// How long a handler waits for the server task before answering that the server is not serving.
const QUERY_TIMEOUT: Duration = Duration::from_secs(10);

#[derive(Clone)]
struct AdminState {
    queries: mpsc::Sender<Query>,
    command_url: String,
}

/// The AdminServer's routes under `command_url`.
pub fn admin_router(command_url: &str, queries: mpsc::Sender<Query>) -> Router {
    let state = AdminState {
        queries,
        command_url: command_url.to_owned(),
    };
    Router::new()
        .route(command_url, get(list))
        .route(&format!("{command_url}/"), get(list))
        .route(&format!("{command_url}/{{name}}"), get(run))
        .with_state(state)
}

/// The listing carries no Content-Type, as Jetty sends it (`JettyAdminServer` writes the links without
/// setting one).
async fn list(State(state): State<AdminState>) -> HttpResponse {
    HttpResponse::new(axum::body::Body::from(commands::listing(&state.command_url)))
}

fn json_response(response: &Response) -> HttpResponse {
    json_response_with(StatusCode::OK, response)
}

fn json_response_with(status: StatusCode, response: &Response) -> HttpResponse {
    (
        status,
        [(header::CONTENT_TYPE, "application/json")],
        response.to_json().pretty(),
    )
        .into_response()
}

async fn run(
    State(state): State<AdminState>,
    Path(name): Path<String>,
    QueryParams(params): QueryParams<HashMap<String, String>>,
    headers: HeaderMap,
) -> HttpResponse {
    if commands::needs_auth(&name) {
        // Refused, never run (see `commands::AUTHENTICATED`); the answer names the command as asked.
        if !headers.contains_key(header::AUTHORIZATION) {
            let response = Response::error(&name, commands::AUTH_INFO_MISSING);
            return json_response_with(StatusCode::UNAUTHORIZED, &response);
        }
        tracing::warn!(command = %name, "AdminServer command not implemented");
        let response = Response::error(&name, &format!("{name} is not implemented by this server"));
        return json_response_with(StatusCode::NOT_IMPLEMENTED, &response);
    }
    let Some(command) = Command::lookup(&name) else {
        tracing::warn!(command = %name, "unknown AdminServer command");
        return json_response(&Response::error(&name, &format!("Unknown command: {name}")));
    };
    let (reply, answer) = oneshot::channel();
    let query = Query::Command {
        command,
        params,
        reply,
    };
    let answered = async {
        state.queries.send(query).await.ok()?;
        answer.await.ok()
    };
    match tokio::time::timeout(QUERY_TIMEOUT, answered).await {
        Ok(Some(response)) => json_response(&response),
        _ => json_response(&Response::error(command.primary(), NOT_SERVING)),
    }
}

#[derive(Clone)]
struct MetricsState {
    queries: mpsc::Sender<Query>,
    handle: PrometheusHandle,
}

/// The Prometheus endpoint.
pub fn metrics_router(handle: PrometheusHandle, queries: mpsc::Sender<Query>) -> Router {
    Router::new()
        .route("/metrics", get(scrape))
        .with_state(MetricsState { queries, handle })
}

async fn scrape(State(state): State<MetricsState>) -> HttpResponse {
    let (reply, sampled) = oneshot::channel();
    let asked = async {
        state.queries.send(Query::SampleGauges { reply }).await.ok()?;
        sampled.await.ok()
    };
    // If the server task cannot answer, the counters and summaries are still worth serving.
    let unregistered = tokio::time::timeout(QUERY_TIMEOUT, asked)
        .await
        .ok()
        .flatten()
        .unwrap_or_default();
    let text = crate::metrics::exposition(&state.handle.render());
    (
        [(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")],
        crate::metrics::without_families(&text, &unregistered),
    )
        .into_response()
}

/// Serves `router` on `listener` until `shutdown` completes.
pub async fn serve(
    listener: TcpListener,
    router: Router,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> io::Result<()> {
    axum::serve(listener, router)
        .with_graceful_shutdown(shutdown)
        .await
}
