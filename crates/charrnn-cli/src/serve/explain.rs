//! `POST /v1/explain`: a text seen through the model (`charrnn::explain`), as the report's
//! view (what the page's Explain tab draws, activations one byte each) or, with
//! `"format": "full"`, the object `charrnn explain --json` prints. The text may have at most
//! `--max-explain` characters (a longer one is a 422 error, not cut).

use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use charrnn::explain::{explain as run_explain, ExplainConfig};
use charrnn::vocab::describe_chars;
use charrnn::Error;
use serde::Deserialize;

use super::body::parse;
use super::error::ApiError;
use super::request::{Unknown, MAX_TOP};
use super::AppState;
use crate::explain::view::{json, View};

/// What `POST /v1/explain` answers with.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum ExplainFormat {
    /// The report's view: the page draws it with `charrnnExplain.render`.
    #[default]
    Report,
    /// Every number at full precision, as `charrnn explain --json`.
    Full,
}

/// `POST /v1/explain`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ExplainRequest {
    pub text: String,
    #[serde(default)]
    pub unknown: Unknown,
    #[serde(default = "default_top")]
    pub top: usize,
    #[serde(default)]
    pub format: ExplainFormat,
}

fn default_top() -> usize {
    5
}

pub async fn explain(State(st): State<Arc<AppState>>, req: Request) -> Result<Response, ApiError> {
    let req: ExplainRequest = parse(&st, req).await?;
    if !(1..=MAX_TOP).contains(&req.top) {
        return Err(ApiError::invalid(
            "top",
            format!("must be between 1 and {MAX_TOP}, got {}", req.top),
        ));
    }
    let n = req.text.chars().count();
    if n == 0 || n > st.max_explain {
        return Err(ApiError::invalid(
            "text",
            format!(
                "has {n} characters: send 1 to {} (the server's --max-explain)",
                st.max_explain
            ),
        ));
    }
    let unknown = st.vocab.unknown(&req.text);
    let replaced = st.vocab.unknown_id().is_some();
    if !unknown.is_empty() && req.unknown == Unknown::Error && !replaced {
        return Err(ApiError::invalid(
            "text",
            format!(
                "characters not in the model's vocabulary: {}; remove them or send \"unknown\": \"skip\"",
                describe_chars(&unknown)
            ),
        ));
    }
    let cfg = ExplainConfig {
        max_chars: n,
        top: req.top,
        skip_unknown: req.unknown == Unknown::Skip,
        ..Default::default()
    };
    let _slot = st.turn().await?;
    let model = st.clone();
    let format = req.format;
    let body = tokio::task::spawn_blocking(move || {
        let e = run_explain(&model.model, &model.vocab, &req.text, &cfg)?;
        Ok::<_, Error>(match format {
            ExplainFormat::Report => {
                let title = format!("{} on the text sent", model.name);
                json(&View::new(&e, &title))
            }
            ExplainFormat::Full => serde_json::to_string(&e).expect("explanations serialize"),
        })
    })
    .await
    .map_err(|e| {
        ApiError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("explaining failed: {e}"),
        )
    })?
    .map_err(|e| {
        let m = e.to_string();
        ApiError::invalid("text", m.replace("lower `max_chars` to", "send"))
    })?;
    Ok(([(header::CONTENT_TYPE, "application/json")], body).into_response())
}
