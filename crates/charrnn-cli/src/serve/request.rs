//! The requests of `POST /v1/sample` and `POST /v1/score`, and the checks that turn a sample
//! request into a [`Job`].

use charrnn::sample::SampleConfig;
use charrnn::vocab::describe_chars;
use serde::Deserialize;

use super::error::ApiError;
use super::AppState;
use crate::sample::prime::{clock_seed, encode_prime, encode_stop, PrimeError};

/// Most probabilities a `char` event may carry.
pub const MAX_TOP: usize = 20;

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
    /// Empty or missing: no prime (a newline, not echoed), as `charrnn sample` without
    /// `--prime` or with `--prime ""`.
    #[serde(default)]
    pub prime: String,
    #[serde(default = "default_n")]
    pub n: usize,
    #[serde(default = "default_temperature")]
    pub temperature: f64,
    #[serde(default)]
    pub top_k: Option<usize>,
    #[serde(default)]
    pub top_p: Option<f64>,
    #[serde(default)]
    pub argmax: bool,
    #[serde(default)]
    pub seed: Option<u64>,
    #[serde(default)]
    pub stop: Option<String>,
    #[serde(default = "default_top")]
    pub top: usize,
    #[serde(default)]
    pub unknown: Unknown,
    #[serde(default)]
    pub format: Format,
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
pub struct Job {
    /// The ids to warm the state with (a newline when no prime was sent).
    pub prime: Vec<u32>,
    /// The prime as it is echoed back: without skipped characters, empty when none was sent.
    pub echo: String,
    /// Characters to generate.
    pub n: usize,
    pub seed: u64,
    pub config: SampleConfig,
    /// The ids of the stop text; empty for none.
    pub stop: Vec<u32>,
    /// Probabilities per `char` event, at most the vocabulary's size.
    pub top: usize,
}

impl SampleRequest {
    /// Check every field against the model and the server's limits.
    pub fn validate(self, st: &AppState) -> Result<Job, ApiError> {
        if !(1..=st.max_n).contains(&self.n) {
            return Err(ApiError::invalid(
                "n",
                format!("must be between 1 and {}, got {}", st.max_n, self.n),
            ));
        }
        // Temperature 0 is the limit argmax is: accepted with it (and not used).
        let t = match self.temperature {
            0.0 if self.argmax => 1.0,
            t => t,
        };
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
        let (prime, echo) = encode_prime(&st.vocab, &self.prime, self.unknown == Unknown::Skip)
            .map_err(|e| {
                ApiError::invalid("prime", match e {
                    PrimeError::Unknown(chars) => format!(
                        "characters not in the model's vocabulary: {}; remove them or send \"unknown\": \"skip\"",
                        describe_chars(&chars)
                    ),
                    PrimeError::Empty => "has no character the model knows".into(),
                })
            })?;
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

/// `POST /v1/score`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScoreRequest {
    /// Required: missing, it is a 422 naming the field (as a value of the wrong type is).
    #[serde(default)]
    pub text: Option<String>,
    #[serde(default)]
    pub unknown: Unknown,
}
