//! The handlers of `charrnn serve`'s routes: each parses its request ([`super::body`],
//! [`super::request`]), runs the model on the blocking pool, and answers with JSON or a stream
//! ([`super::stream`]); every failure is an [`ApiError`].

use std::sync::atomic::Ordering;
use std::sync::{Arc, LazyLock};

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode, Uri};
use axum::response::{Html, IntoResponse, Response};
use axum::Json;
use charrnn::eval::evaluate;
use charrnn::vocab::describe_chars;
use serde_json::{json, Value};

use super::body::parse;
use super::error::ApiError;
use super::request::{Format, SampleRequest, ScoreRequest, Unknown, MAX_TOP};
use super::stream;
use super::AppState;

/// The page, compiled into the binary, with the explain report's style and script (for its
/// Explain tab) put in once.
static PAGE: std::sync::LazyLock<String> = std::sync::LazyLock::new(|| {
    include_str!("page.html")
        .replacen("/*EXPLAIN_CSS*/", crate::explain::view::CSS, 1)
        .replacen("/*EXPLAIN_JS*/", crate::explain::view::JS, 1)
});

/// `POST /v1/sample`: checked, then streamed.
pub async fn sample(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let req: SampleRequest = parse(&st, req).await?;
    let format = req.format;
    let job = req.validate(&st)?;
    let slot = st.turn().await?;
    let body = stream::spawn(st, slot, job, format);
    let content_type = match format {
        Format::Sse => "text/event-stream",
        Format::Text => "text/plain; charset=utf-8",
    };
    Ok((
        [
            (header::CONTENT_TYPE, content_type),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        body,
    )
        .into_response())
}

/// `POST /v1/score`: the model's loss on a text, per character.
pub async fn score(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let req: ScoreRequest = parse(&st, req).await?;
    let text = req
        .text
        .ok_or_else(|| ApiError::invalid("text", "is missing: send the text to score"))?;
    let unknown = st.vocab.unknown(&text);
    if !unknown.is_empty() && req.unknown == Unknown::Error {
        return Err(ApiError::invalid(
            "text",
            format!(
                "characters not in the model's vocabulary: {}; remove them or send \"unknown\": \"skip\"",
                describe_chars(&unknown)
            ),
        ));
    }
    let kept: String = text.chars().filter(|&c| st.vocab.id(c).is_some()).collect();
    let ids = st.vocab.encode(&kept).expect("unknown characters removed");
    if ids.len() < 2 {
        return Err(ApiError::invalid(
            "text",
            "needs at least 2 characters the model knows: the first is only context",
        ));
    }
    let _slot = st.turn().await?;
    let model_state = st.clone();
    let s = tokio::task::spawn_blocking(move || evaluate(&model_state.model, &ids, 128))
        .await
        .map_err(|e| {
            ApiError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("scoring failed: {e}"),
            )
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
        "max_explain": st.max_explain,
        "max_concurrent": st.max_concurrent,
        "max_queue": st.max_queue,
        "active_streams": st.active.load(Ordering::SeqCst),
        "waiting": st.waiting.load(Ordering::SeqCst),
    }))
}

/// `GET /`: the page, which may run only its own script and style, fetch only from this
/// server, and be framed by no other page.
pub async fn page() -> impl IntoResponse {
    static CSP: LazyLock<String> = LazyLock::new(|| {
        format!(
            "default-src 'none'; script-src {}; style-src {}; connect-src 'self'; \
             base-uri 'none'; form-action 'none'; frame-ancestors 'none'",
            inline_hashes(&PAGE, "script"),
            inline_hashes(&PAGE, "style")
        )
    });
    (
        [
            (header::CONTENT_SECURITY_POLICY, CSP.as_str()),
            (header::X_FRAME_OPTIONS, "DENY"),
            (header::REFERRER_POLICY, "no-referrer"),
        ],
        Html(PAGE.as_str()),
    )
}

/// The CSP sources (`'sha256-...'`, space-separated) of the inline `<tag>` elements of `page`.
fn inline_hashes(page: &str, tag: &str) -> String {
    use base64::Engine;
    use sha2::Digest;
    let (open, close) = (format!("<{tag}>"), format!("</{tag}>"));
    let mut sources = Vec::new();
    let mut rest = page;
    while let Some(at) = rest.find(&open) {
        let body = &rest[at + open.len()..];
        let end = body.find(&close).expect("every element is closed");
        let digest = sha2::Sha256::digest(&body.as_bytes()[..end]);
        sources.push(format!(
            "'sha256-{}'",
            base64::engine::general_purpose::STANDARD.encode(digest)
        ));
        rest = &body[end..];
    }
    assert!(!sources.is_empty(), "the page has a <{tag}>");
    sources.join(" ")
}

/// Any other path: 404, listing the routes.
pub async fn not_found(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::NOT_FOUND,
        format!(
            "no route {method} {}: the routes are GET /, GET /v1/info, POST /v1/sample, POST /v1/score, POST /v1/explain",
            uri.path()
        ),
    )
}

/// A route with another method: 405.
pub async fn method_not_allowed(method: Method, uri: Uri) -> ApiError {
    ApiError::new(
        StatusCode::METHOD_NOT_ALLOWED,
        format!("{} does not take {method}", uri.path()),
    )
}
