//! `charrnn serve`: an HTTP server (axum on tokio) that loads a model once and samples and
//! scores with it for many clients at once.
//!
//! Routes: `GET /` a page to try the model; `GET /v1/info` the model and the limits;
//! `POST /v1/sample` text streamed as server-sent events (or chunked plain text);
//! `POST /v1/score` nats and bits per character; `POST /v1/explain` a text seen through the
//! model (the page's Explain tab). The model runs on tokio's blocking thread
//! pool, at most `--max-concurrent` requests at a time (the rest wait their turn). Every
//! error is a JSON object `{"error": "...", "field": "..."}` with a 4xx status.
//!
//! Here: the flags, the shared [`AppState`], the router and the listener. `api` holds the
//! route handlers; `body` reads and parses a request body within the limits; `request` the
//! typed requests and their checks; `stream` the sample generator and its wire format;
//! `explain` the explain route; `error` the JSON errors.

mod api;
mod body;
mod error;
mod explain;
mod request;
mod stream;

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::atomic::AtomicUsize;
use std::sync::Arc;
use std::time::Duration;

use axum::routing::{get, post};
use axum::Router;
use charrnn::{checkpoint, Error, Model, Result, Vocab};
use clap::Args;
use tokio::sync::Semaphore;

/// Flags of `charrnn serve`.
#[derive(Args, Debug)]
#[command(after_help = "\
Endpoints:
  GET  /            a page to try the model: prime, sampling controls, streamed text and each
                    character's top probabilities on hover; an Explain tab (charrnn explain's
                    report of any text)
  GET  /v1/info     the model (cell, sizes, vocabulary) and the server's limits, as JSON
  POST /v1/sample   {\"prime\", \"n\", \"temperature\", \"top_k\", \"top_p\", \"argmax\", \"seed\",
                    \"stop\", \"top\", \"unknown\", \"format\"} -> server-sent events: \"start\",
                    one \"char\" per character ({\"c\", \"p\", \"top\"}), \"done\"; with
                    \"format\": \"text\", chunked plain text
  POST /v1/score    {\"text\", \"unknown\"} -> {\"nats_per_char\", \"bits_per_char\",
                    \"perplexity\", \"chars\"}
  POST /v1/explain  {\"text\" (at most --max-explain characters), \"unknown\", \"top\",
                    \"format\": \"report\" | \"full\"} -> the report's data, or with \"full\"
                    what charrnn explain --json prints
Errors are JSON {\"error\": \"...\", \"field\": \"...\"} with status 400 (malformed JSON), 408
(body too slow), 413 (body too large), 422 (a wrong type or value), 404 or 405.

Example:
  charrnn serve --model m.safetensors --addr 127.0.0.1:8080
  curl -N localhost:8080/v1/sample -d '{\"prime\": \"The \", \"n\": 200, \"temperature\": 0.8}'")]
pub struct ServeArgs {
    /// Checkpoint to serve (loaded once, in f32)
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Address to listen on (port 0: any free port; the chosen one is printed)
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "IP:PORT")]
    pub addr: SocketAddr,
    /// Largest `n` a sample request may ask for
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_n: usize,
    /// Largest request body, in bytes
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub max_body: usize,
    /// Seconds a client has to send its request body
    #[arg(long, default_value_t = 10.0, value_name = "S")]
    pub body_timeout: f64,
    /// Requests running the model at once; more wait for a turn
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_concurrent: usize,
    /// Most characters a POST /v1/explain text may have
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_explain: usize,
}

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
    /// Sample streams generating right now.
    pub active: AtomicUsize,
    /// Most characters a text to explain may have.
    pub max_explain: usize,
}

/// The routes over a shared state.
pub fn router(state: Arc<AppState>) -> Router {
    Router::new()
        .route("/", get(api::page))
        .route("/v1/info", get(api::info))
        .route("/v1/sample", post(api::sample))
        .route("/v1/score", post(api::score))
        .route("/v1/explain", post(explain::explain))
        .fallback(api::not_found)
        .method_not_allowed_fallback(api::method_not_allowed)
        .with_state(state)
}

pub fn run(a: ServeArgs) -> Result<()> {
    if a.max_n == 0 {
        return Err(Error::Config("--max-n must be at least 1".into()));
    }
    if a.max_body < 64 {
        return Err(Error::Config(format!(
            "--max-body must be at least 64 bytes, got {}",
            a.max_body
        )));
    }
    if !(a.body_timeout.is_finite() && a.body_timeout > 0.0 && a.body_timeout <= 3600.0) {
        return Err(Error::Config(format!(
            "--body-timeout must be above 0 and at most 3600 seconds, got {}",
            a.body_timeout
        )));
    }
    if a.max_concurrent == 0 {
        return Err(Error::Config("--max-concurrent must be at least 1".into()));
    }
    if a.max_explain == 0 {
        return Err(Error::Config("--max-explain must be at least 1".into()));
    }
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
        body_timeout: Duration::from_secs_f64(a.body_timeout),
        slots: Arc::new(Semaphore::new(a.max_concurrent)),
        active: AtomicUsize::new(0),
        max_explain: a.max_explain,
    });
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Error::Config(format!("cannot start the async runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(a.addr).await.map_err(|e| {
            Error::Config(format!(
                "cannot listen on {}: {e}; pick another --addr (port 0 takes any free port)",
                a.addr
            ))
        })?;
        let addr = listener
            .local_addr()
            .map_err(|e| Error::Config(format!("cannot read the listening address: {e}")))?;
        println!("serving {summary} on http://{addr}");
        use std::io::Write;
        let _ = std::io::stdout().flush();
        axum::serve(listener, router(state))
            .with_graceful_shutdown(async {
                let _ = tokio::signal::ctrl_c().await;
            })
            .await
            .map_err(|e| Error::Config(format!("server stopped: {e}")))
    })
}
