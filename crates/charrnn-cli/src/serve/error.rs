//! The errors of `charrnn serve`: every one a JSON object `{"error": message, "field": field}`
//! with a 4xx status (or 500 if the server itself failed), `field` naming the request field at
//! fault when there is one.

use axum::http::{HeaderName, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde_json::json;

/// A 4xx answer: `{"error": message, "field": field}`.
#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    message: String,
    field: Option<String>,
    /// Headers sent with it (`Retry-After`, `WWW-Authenticate`).
    headers: Vec<(HeaderName, HeaderValue)>,
}

impl ApiError {
    /// An error about the request as a whole: no `field`.
    pub fn new(status: StatusCode, message: impl Into<String>) -> Self {
        ApiError {
            status,
            message: message.into(),
            field: None,
            headers: Vec::new(),
        }
    }

    /// 422 for a bad value of `field`: the message is `"{field}: {message}"`.
    pub fn invalid(field: &str, message: impl Into<String>) -> Self {
        ApiError {
            status: StatusCode::UNPROCESSABLE_ENTITY,
            message: format!("{field}: {}", message.into()),
            field: Some(field.into()),
            headers: Vec::new(),
        }
    }

    /// The same error, about `field` (the message is left as it is).
    pub fn with_field(self, field: Option<String>) -> Self {
        ApiError { field, ..self }
    }

    /// The same error, sent with one more header.
    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let body = match &self.field {
            Some(f) => json!({ "error": self.message, "field": f }),
            None => json!({ "error": self.message }),
        };
        let mut res = (self.status, Json(body)).into_response();
        res.headers_mut().extend(self.headers);
        res
    }
}
