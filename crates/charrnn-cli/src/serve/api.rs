//! The handlers of `charrnn serve`: request parsing and validation, the sampling stream, the
//! score, and JSON errors.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use charrnn::eval::evaluate;
use charrnn::sample::{SampleConfig, Sampler, StopMatcher};
use charrnn::vocab::describe_chars;
use serde::Deserialize;
use serde_json::{json, Value};
use tokio::sync::mpsc;
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::AppState;
use crate::sample::{clock_seed, encode_prime, encode_stop, PrimeError};

/// The page, compiled into the binary.
const PAGE: &str = include_str!("page.html");

/// Most probabilities a `char` event may carry.
pub const MAX_TOP: usize = 20;

/// A 4xx answer: `{"error": message, "field": field}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
}

impl ApiError {
    fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {}", message.into()),
            field: Some(field.into()),
        }
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => json!({ "error": self.message, "field": f }),
            None => json!({ "error": self.message }),
        };
        (self.status, Json(body)).into_response()
    }
}

/// The body, at most `--max-body` bytes (413 past it, before reading anything when the
/// declared length is already too long), arriving within `--body-timeout` (408 otherwise).
async fn read_body(st: &AppState, req: Request) -> Result<Bytes, ApiError> {
    let too_large = || ApiError {
        status: StatusCode::PAYLOAD_TOO_LARGE,
        message: format!(
            "the request body is larger than {} bytes (the server's --max-body)",
            st.max_body
        ),
        field: None,
    };
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    if declared.is_some_and(|n| n > st.max_body as u64) {
        return Err(too_large());
    }
    let mut data = req.into_body().into_data_stream();
    let read = async {
        let mut buf = Vec::new();
        while let Some(chunk) = data.next().await {
            let chunk = chunk.map_err(|e| ApiError {
                status: StatusCode::BAD_REQUEST,
                message: format!("cannot read the request body: {e}"),
                field: None,
            })?;
            if buf.len() + chunk.len() > st.max_body {
                return Err(too_large());
            }
            buf.extend_from_slice(&chunk);
        }
        Ok(Bytes::from(buf))
    };
    tokio::time::timeout(st.body_timeout, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError {
                status: StatusCode::REQUEST_TIMEOUT,
                message: format!(
                    "the request body did not arrive within {} s",
                    st.body_timeout.as_secs_f64()
                ),
                field: None,
            })
        })
}

/// A JSON body, with every failure a JSON error: those of [`read_body`], 400 when it is not
/// JSON, 422 when it is not an object or a field has the wrong type or is unknown.
async fn parse<T: serde::de::DeserializeOwned>(st: &AppState, req: Request) -> Result<T, ApiError> {
    let bytes = read_body(st, req).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| ApiError {
        status: StatusCode::BAD_REQUEST,
        message: format!("the body is not valid JSON: {e}"),
        field: None,
    })?;
    if !value.is_object() {
        return Err(ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: "the body must be a JSON object of named fields".into(),
            field: None,
        });
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != "." && path != "?").then_some(path);
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: match &field {
                Some(f) => format!("{f}: {inner}"),
                None => inner.to_string(),
            },
            field,
        }
    })
}

/// Unknown prime or text characters: an error, or leave them out.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Unknown {
    #[default]
    Error,
    Skip,
}

/// How the sample is streamed.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Format {
    /// Server-sent events with JSON data.
    #[default]
    Sse,
    /// The prime and the characters as chunked plain text.
    Text,
}

/// `POST /v1/sample`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SampleRequest {
    #[serde(default)]
    prime: String,
    #[serde(default = "default_n")]
    n: usize,
    #[serde(default = "default_temperature")]
    temperature: f64,
    #[serde(default)]
    top_k: Option<usize>,
    #[serde(default)]
    top_p: Option<f64>,
    #[serde(default)]
    argmax: bool,
    #[serde(default)]
    seed: Option<u64>,
    #[serde(default)]
    stop: Option<String>,
    #[serde(default = "default_top")]
    top: usize,
    #[serde(default)]
    unknown: Unknown,
    #[serde(default)]
    format: Format,
}

fn default_n() -> usize {
    200
}

fn default_temperature() -> f64 {
    1.0
}

fn default_top() -> usize {
    5
}

/// A checked sample request.
struct Job {
    prime: Vec<u32>,
    echo: String,
    n: usize,
    seed: u64,
    config: SampleConfig,
    stop: Vec<u32>,
    top: usize,
}

impl SampleRequest {
    fn validate(self, st: &AppState) -> Result<Job, ApiError> {
        if !(1..=st.max_n).contains(&self.n) {
            return Err(ApiError::invalid(
                "n",
                format!("must be between 1 and {}, got {}", st.max_n, self.n),
            ));
        }
        let t = self.temperature;
        if !(t.is_finite() && t > 0.0) {
            return Err(ApiError::invalid(
                "temperature",
                format!(
                    "must be above 0, got {t}; for the most likely character send \"argmax\": true"
                ),
            ));
        }
        if self.top_k == Some(0) {
            return Err(ApiError::invalid("top_k", "must be at least 1, got 0"));
        }
        if let Some(p) = self.top_p {
            if !(p > 0.0 && p <= 1.0) {
                return Err(ApiError::invalid(
                    "top_p",
                    format!("must be in (0, 1], got {p}"),
                ));
            }
        }
        if self.top > MAX_TOP {
            return Err(ApiError::invalid(
                "top",
                format!("must be between 0 and {MAX_TOP}, got {}", self.top),
            ));
        }
        let (prime, echo) = if self.prime.is_empty() {
            (vec![st.vocab.id('\n').unwrap_or(0)], String::new())
        } else {
            encode_prime(&st.vocab, &self.prime, self.unknown == Unknown::Skip).map_err(|e| {
                ApiError::invalid("prime", match e {
                    PrimeError::Unknown(chars) => format!(
                        "characters not in the model's vocabulary: {}; remove them or send \"unknown\": \"skip\"",
                        describe_chars(&chars)
                    ),
                    PrimeError::Empty => "has no character the model knows".into(),
                })
            })?
        };
        let stop = match &self.stop {
            Some(s) => encode_stop(&st.vocab, s).map_err(|e| ApiError::invalid("stop", e))?,
            None => Vec::new(),
        };
        let config = SampleConfig {
            temperature: t,
            top_k: self.top_k,
            top_p: self.top_p,
            argmax: self.argmax,
        };
        config
            .validate()
            .map_err(|e| ApiError::invalid("settings", e.to_string()))?;
        Ok(Job {
            prime,
            echo,
            n: self.n,
            seed: self.seed.unwrap_or_else(clock_seed),
            config,
            stop,
            top: self.top.min(st.vocab.len()),
        })
    }
}

/// What the generator produces, in order: one `Start`, a `Char` per character, one `Done`.
enum Msg {
    Start {
        prime: String,
        seed: u64,
        n: usize,
    },
    Char {
        c: char,
        p: f32,
        top: Vec<(char, f32)>,
    },
    Done {
        chars: usize,
        stopped: bool,
        seconds: f64,
    },
}

fn round6(x: f32) -> f64 {
    (x as f64 * 1e6).round() / 1e6
}

impl Msg {
    /// Append the message as `format` puts it on the wire: an SSE frame with one line of JSON
    /// data, or the bare text.
    fn encode(&self, format: Format, out: &mut String) {
        use std::fmt::Write;
        if format == Format::Text {
            match self {
                Msg::Start { prime, .. } => out.push_str(prime),
                Msg::Char { c, .. } => out.push(*c),
                Msg::Done { .. } => {}
            }
            return;
        }
        let (event, data) = match self {
            Msg::Start { prime, seed, n } => {
                ("start", json!({ "prime": prime, "seed": seed, "n": n }))
            }
            Msg::Char { c, p, top } => {
                let top: Vec<Value> = top.iter().map(|&(c, p)| json!([c, round6(p)])).collect();
                ("char", json!({ "c": c, "p": round6(*p), "top": top }))
            }
            Msg::Done {
                chars,
                stopped,
                seconds,
            } => (
                "done",
                json!({
                    "chars": chars,
                    "stopped": stopped,
                    "seconds": seconds,
                    "chars_per_s": (*chars as f64 / seconds.max(1e-9)).round(),
                }),
            ),
        };
        // serde_json writes no raw newline, so the data is one SSE line.
        let _ = write!(out, "event: {event}\ndata: {data}\n\n");
    }
}

/// Counts a stream as active while it lives.
struct Active(Arc<AppState>);

impl Active {
    fn new(st: Arc<AppState>) -> Self {
        st.active.fetch_add(1, Ordering::SeqCst);
        Active(st)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The client is gone.
struct Gone;

/// Encoded messages gathered into chunks: sent every [`Batcher::EVERY`] or
/// [`Batcher::BYTES`], whichever comes first, so a fast model does not cost a write per
/// character while a slow one still streams smoothly.
struct Batcher {
    tx: mpsc::Sender<Bytes>,
    format: Format,
    buf: String,
    last: Instant,
}

impl Batcher {
    const EVERY: Duration = Duration::from_millis(15);
    const BYTES: usize = 16 * 1024;

    fn push(&mut self, msg: &Msg) -> Result<(), Gone> {
        msg.encode(self.format, &mut self.buf);
        if self.buf.len() >= Self::BYTES || self.last.elapsed() >= Self::EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Gone> {
        self.last = Instant::now();
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(chunk).map_err(|_| Gone)
    }
}

/// Run on the blocking pool: prime, then one model step per character, each sent as it is
/// drawn. Returns as soon as a send finds the receiver gone (the client disconnected).
fn generate(st: &AppState, job: Job, out: &mut Batcher) -> Result<(), Gone> {
    let start = Instant::now();
    let mut sampler =
        Sampler::with_config(&st.model, job.seed, job.config).expect("settings checked");
    out.push(&Msg::Start {
        prime: job.echo,
        seed: job.seed,
        n: job.n,
    })?;
    out.flush()?;
    sampler.prime(&job.prime);
    let mut stop = StopMatcher::new(&job.stop);
    let mut order: Vec<u32> = (0..st.vocab.len() as u32).collect();
    let (mut chars, mut stopped) = (0, false);
    while chars < job.n && !stopped {
        let id = sampler.next_char();
        let p = sampler.probs();
        let mut top = Vec::with_capacity(job.top);
        if job.top > 0 {
            order.select_nth_unstable_by(job.top - 1, |&a, &b| {
                p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b))
            });
            top.extend(
                order[..job.top]
                    .iter()
                    .map(|&i| (st.vocab.char(i), p[i as usize])),
            );
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
        out.push(&Msg::Char {
            c: st.vocab.char(id),
            p: p[id as usize],
            top,
        })?;
        chars += 1;
        stopped = stop.push(id);
    }
    out.push(&Msg::Done {
        chars,
        stopped,
        seconds: start.elapsed().as_secs_f64(),
    })?;
    out.flush()
}

/// `POST /v1/sample`: checked, then streamed.
pub async fn sample(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let req: SampleRequest = parse(&st, req).await?;
    let format = req.format;
    let job = req.validate(&st)?;
    let slot = st
        .slots
        .clone()
        .acquire_owned()
        .await
        .expect("the semaphore is never closed");
    let (tx, rx) = mpsc::channel(64);
    let gen_state = st.clone();
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let _active = Active::new(gen_state.clone());
        let mut out = Batcher {
            tx,
            format,
            buf: String::new(),
            last: Instant::now(),
        };
        let _ = generate(&gen_state, job, &mut out);
    });
    let content_type = match format {
        Format::Sse => "text/event-stream",
        Format::Text => "text/plain; charset=utf-8",
    };
    let body = Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>));
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// `POST /v1/score`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    text: String,
    #[serde(default)]
    unknown: Unknown,
}

pub async fn score(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let req: ScoreRequest = parse(&st, req).await?;
    let unknown = st.vocab.unknown(&req.text);
    if !unknown.is_empty() && req.unknown == Unknown::Error {
        return Err(ApiError::invalid(
            "text",
            format!(
                "characters not in the model's vocabulary: {}; remove them or send \"unknown\": \"skip\"",
                describe_chars(&unknown)
            ),
        ));
    }
    let kept: String = req
        .text
        .chars()
        .filter(|&c| st.vocab.id(c).is_some())
        .collect();
    let ids = st.vocab.encode(&kept).expect("unknown characters removed");
    if ids.len() < 2 {
        return Err(ApiError::invalid(
            "text",
            "needs at least 2 characters the model knows: the first is only context",
        ));
    }
    let _slot = st
        .slots
        .clone()
        .acquire_owned()
        .await
        .expect("never closed");
    let model_state = st.clone();
    let s = tokio::task::spawn_blocking(move || evaluate(&model_state.model, &ids, 128))
        .await
        .map_err(|e| ApiError {
            status: StatusCode::INTERNAL_SERVER_ERROR,
            message: format!("scoring failed: {e}"),
            field: None,
        })?;
    Ok(Json(json!({
        "nats_per_char": s.nats_per_char(),
        "bits_per_char": s.bits_per_char(),
        "perplexity": s.perplexity(),
        "chars": s.chars,
    }))
    .into_response())
}

/// `GET /v1/info`: the model and the limits.
pub async fn info(State(st): State<Arc<AppState>>) -> Json<Value> {
    let c = st.model.config();
    let vocab: Vec<String> = st.vocab.chars().iter().map(|c| c.to_string()).collect();
    Json(json!({
        "model": st.name,
        "cell": c.cell.name(),
        "layers": c.layers,
        "emb": c.emb,
        "hidden": c.hidden,
        "vocab_size": c.vocab,
        "vocab": vocab,
        "max_n": st.max_n,
        "max_body": st.max_body,
        "max_top": MAX_TOP,
        "active_streams": st.active.load(Ordering::SeqCst),
    }))
}

/// `GET /`: the page.
pub async fn page() -> Html<&'static str> {
    Html(PAGE)
}

pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::NOT_FOUND,
        message: format!(
            "no route {method} {}: the routes are GET /, GET /v1/info, POST /v1/sample, POST /v1/score",
            uri.path()
        ),
        field: None,
    }
}

pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError {
        status: StatusCode::METHOD_NOT_ALLOWED,
        message: format!("{} does not take {method}", uri.path()),
        field: None,
    }
}
