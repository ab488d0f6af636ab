//! Reading a request's body, within the server's size and time limits, and parsing it as
//! JSON into a typed request.

use axum::body::Bytes;
use axum::extract::Request;
use axum::http::{header, StatusCode};
use serde_json::Value;
use tokio_stream::StreamExt;

use super::error::ApiError;
use super::AppState;

/// The body, at most `--max-body` bytes (413 past it, before reading anything when the
/// declared length is already too long), arriving within `--body-timeout` (408 otherwise).
async fn read_body(st: &AppState, req: Request) -> Result<Bytes, ApiError> {
    let too_large = || {
        ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            format!(
                "the request body is larger than {} bytes (the server's --max-body)",
                st.max_body
            ),
        )
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
            let chunk = chunk.map_err(|e| {
                ApiError::new(
                    StatusCode::BAD_REQUEST,
                    format!("cannot read the request body: {e}"),
                )
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
            Err(ApiError::new(
                StatusCode::REQUEST_TIMEOUT,
                format!(
                    "the request body did not arrive within {} (the server's --body-timeout)",
                    humantime::format_duration(st.body_timeout)
                ),
            ))
        })
}

/// How curl sends one.
const CURL: &str = " (with curl: -H 'Content-Type: application/json')";

/// A JSON body, with every failure a JSON error: 415 unless it is declared
/// `application/json` (so that no web page can send one without the browser asking first),
/// those of [`read_body`], 400 when it is not JSON, 422 when it is not an object or a field has
/// the wrong type or is unknown.
pub async fn parse<T: serde::de::DeserializeOwned>(
    st: &AppState,
    req: Request,
) -> Result<T, ApiError> {
    let content_type = req
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).into_owned());
    let media = content_type
        .as_deref()
        .map(|v| v.split(';').next().unwrap_or("").trim());
    if !media.is_some_and(|m| m.eq_ignore_ascii_case("application/json")) {
        return Err(ApiError::new(
            StatusCode::UNSUPPORTED_MEDIA_TYPE,
            match content_type {
                Some(t) => format!(
                    "the body must be sent as Content-Type: application/json, not {t:?}{CURL}"
                ),
                None => format!(
                    "the body must be sent with the header Content-Type: application/json{CURL}"
                ),
            },
        ));
    }
    let bytes = read_body(st, req).await?;
    let value: Value = serde_json::from_slice(&bytes).map_err(|e| {
        ApiError::new(
            StatusCode::BAD_REQUEST,
            format!("the body is not valid JSON: {e}"),
        )
    })?;
    if !value.is_object() {
        return Err(ApiError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "the body must be a JSON object of named fields",
        ));
    }
    serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        let field = (path != "." && path != "?").then_some(path);
        let message = match &field {
            Some(f) => format!("{f}: {inner}"),
            None => inner.to_string(),
        };
        ApiError::new(StatusCode::UNPROCESSABLE_ENTITY, message).with_field(field)
    })
}
