//! `charrnn serve`: an HTTP server (axum on tokio) that loads a model once and samples and
//! scores with it for many clients at once.
//!
//! Routes: `GET /` a page to try the model; `GET /v1/info` the model and the limits;
//! `POST /v1/sample` text streamed as server-sent events (or chunked plain text);
//! `POST /v1/score` nats and bits per character; `POST /v1/explain` a text seen through the
//! model (the page's Explain tab). The model runs on tokio's blocking thread
//! pool, at most `--max-concurrent` requests at a time (the rest wait their turn). Every
//! error is a JSON object `{"error": "...", "field": "..."}` with a 4xx status (503 when the
//! queue for the model is full).
//!
//! Here: the shared [`AppState`], the router and the start. `args` holds the flags; `conn`
//! the listener, its connection cap and the shutdown; `link` one connection's timeouts; `guard`
//! the Host and API key checks; `api` the route handlers; `body` reads and parses a request
//! body within the limits; `request` the typed requests and their checks; `stream` the sample
//! generator and its wire format; `explain` the explain route; `error` the JSON errors.

mod api;
mod args;
mod body;
mod conn;
mod error;
mod explain;
mod guard;
mod link;
mod request;
mod stream;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::{header, HeaderValue, StatusCode};
use axum::routing::{get, post};
use axum::Router;
use charrnn::{checkpoint, Error, Model, Result, Vocab};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

pub use args::ServeArgs;
use error::ApiError;

/// What every request shares: the model, loaded once.
pub struct AppState {
    pub model: Model<f32>,
    pub vocab: Vocab,
    pub name: String,
    pub max_n: usize,
    pub max_body: usize,
    pub body_timeout: Duration,
    /// One permit per request allowed to run the model.
    pub slots: Arc<Semaphore>,
    pub max_concurrent: usize,
    /// Requests waiting for a permit now, and at most.
    pub waiting: AtomicUsize,
    pub max_queue: usize,
    /// Sample streams generating right now.
    pub active: AtomicUsize,
    /// Most characters a text to explain may have.
    pub max_explain: usize,
}

impl AppState {
    /// A turn at the model: at once if one is free, else after the requests waiting before;
    /// 503 with `Retry-After` when `--max-queue` requests are waiting already.
    pub async fn turn(&self) -> std::result::Result<OwnedSemaphorePermit, ApiError> {
        if let Ok(p) = self.slots.clone().try_acquire_owned() {
            return Ok(p);
        }
        let joined = self
            .waiting
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |w| {
                (w < self.max_queue).then_some(w + 1)
            });
        if joined.is_err() {
            return Err(ApiError::new(
                StatusCode::SERVICE_UNAVAILABLE,
                format!(
                    "the server is busy: {} requests use the model and {} wait for a turn (--max-concurrent, --max-queue); try again shortly",
                    self.max_concurrent, self.max_queue
                ),
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")));
        }
        /// Leaves the queue when dropped, also when the client goes away while waiting.
        struct Queued<'a>(&'a AtomicUsize);
        impl Drop for Queued<'_> {
            fn drop(&mut self) {
                self.0.fetch_sub(1, Ordering::SeqCst);
            }
        }
        let _queued = Queued(&self.waiting);
        Ok(self
            .slots
            .clone()
            .acquire_owned()
            .await
            .expect("the semaphore is never closed"))
    }
}

/// The routes over a shared state.
pub fn router(state: Arc<AppState>, guard: guard::Guard) -> Router {
    Router::new()
        .route("/", get(api::page))
        .route("/v1/info", get(api::info))
        .route("/v1/sample", post(api::sample))
        .route("/v1/score", post(api::score))
        .route("/v1/explain", post(explain::explain))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
        .layer(axum::middleware::from_fn_with_state(
            Arc::new(guard),
            guard::check,
        ))
}

pub fn run(a: ServeArgs) -> Result<()> {
    a.check()?;
    let (addr, host) = args::resolve_addr(&a.addr)?;
    let ck = checkpoint::load::<f32>(&a.model)?;
    let c = ck.model.config();
    let summary = format!(
        "{} {} E{} H{} x{}, vocabulary of {}",
        a.model.display(),
        c.cell.name(),
        c.emb,
        c.hidden,
        c.layers,
        c.vocab
    );
    let state = Arc::new(AppState {
        model: ck.model,
        vocab: ck.vocab,
        name: a
            .model
            .file_name()
            .map_or_else(String::new, |n| n.to_string_lossy().into_owned()),
        max_n: a.max_n,
        max_body: a.max_body,
        body_timeout: a.body_timeout,
        slots: Arc::new(Semaphore::new(a.max_concurrent)),
        max_concurrent: a.max_concurrent,
        waiting: AtomicUsize::new(0),
        max_queue: a.max_queue,
        active: AtomicUsize::new(0),
        max_explain: a.max_explain,
    });
    let guard = guard::Guard::new(&host, &a.allow_host, a.api_key.as_deref());
    let limits = conn::Limits {
        max_connections: a.max_connections,
        header_timeout: a.header_timeout,
        idle_timeout: a.idle_timeout,
        write_timeout: a.write_timeout,
        max_header: a.max_header,
        shutdown_timeout: a.shutdown_timeout,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(addr).await.map_err(|e| {
            Error::Config(format!(
                "cannot listen on {addr}: {e}; pick another --addr (port 0 takes any free port)"
            ))
        })?;
        let bound = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot read the listening address: {e}")))?;
        if !bound.ip().is_loopback() && a.api_key.is_none() {
            conn::log(&format!(
                "warning: listening on {bound}, beyond this machine, without an API key: anyone who can reach it can use the model; set {} or --api-key",
                args::API_KEY_ENV
            ));
        }
        let signals = conn::Signals::new();
        println!("serving {summary} on http://{bound}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        conn::serve(listener, router(state, guard), limits, signals).await;
        Ok::<_, Error>(())
    })?;
    // Generators still running stop at their next character, their clients gone.
    runtime.shutdown_timeout(Duration::from_secs(1));
    Ok(())
}
