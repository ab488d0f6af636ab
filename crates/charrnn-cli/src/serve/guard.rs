//! What every request passes before its route: the Host header must name this server (no DNS
//! rebinding from a web page), the /v1/ routes need the API key when one is set, and every
//! answer says `X-Content-Type-Options: nosniff`.

use std::net::IpAddr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use sha2::{Digest, Sha256};
use subtle::ConstantTimeEq;

use super::error::ApiError;

/// The Host names allowed and the key required.
pub struct Guard {
    /// Names (lowercase) besides localhost and IP addresses; `None` for any name.
    hosts: Option<Vec<String>>,
    /// SHA-256 of the API key: compared with the hash of what a client sends, in constant
    /// time, so neither the key nor its length shows in the time an answer takes.
    key: Option<[u8; 32]>,
}

impl Guard {
    /// `bound`: the host of `--addr`; `allowed`: the `--allow-host` names (`*` for any).
    pub fn new(bound: &str, allowed: &[String], key: Option<&str>) -> Self {
        let hosts = (!allowed.iter().any(|h| h == "*")).then(|| {
            std::iter::once(bound)
                .chain(allowed.iter().map(String::as_str))
                .map(normalize)
                .collect()
        });
        Guard {
            hosts,
            key: key.map(|k| Sha256::digest(k.as_bytes()).into()),
        }
    }

    /// Does a Host header (name and optional port) name this server?
    fn host_ok(&self, host: &str) -> bool {
        let name = normalize(strip_port(host));
        let Some(hosts) = &self.hosts else {
            return true;
        };
        // An IP address cannot be rebound to another server, and localhost is this machine.
        name.parse::<IpAddr>().is_ok() || name == "localhost" || hosts.contains(&name)
    }

    /// Is the key required, and if so, did the request send it?
    fn key_ok(&self, headers: &HeaderMap) -> Result<(), &'static str> {
        let Some(key) = &self.key else {
            return Ok(());
        };
        let sent = headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.split_once(' '))
            .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
            .map(|(_, token)| token.trim());
        let Some(sent) = sent else {
            return Err("this server needs an API key: send the header Authorization: Bearer KEY");
        };
        let sent: [u8; 32] = Sha256::digest(sent.as_bytes()).into();
        if bool::from(sent.ct_eq(key)) {
            Ok(())
        } else {
            Err("wrong API key")
        }
    }
}

/// A host name as compared: lowercase, without brackets or a final dot.
fn normalize(name: &str) -> String {
    name.trim_start_matches('[')
        .trim_end_matches(']')
        .trim_end_matches('.')
        .to_ascii_lowercase()
}

/// `name` of `name:port`, `[v6]` of `[v6]:port`.
fn strip_port(host: &str) -> &str {
    match host.rsplit_once(':') {
        Some((name, port)) if !name.is_empty() && port.bytes().all(|b| b.is_ascii_digit()) => {
            // A bare IPv6 address has colons but no brackets: keep it whole.
            if name.contains(':') && !name.starts_with('[') {
                host
            } else {
                name
            }
        }
        _ => host,
    }
}

/// The middleware: 400 without a Host, 421 for a Host not allowed, 401 without the key.
pub async fn check(State(g): State<Arc<Guard>>, req: Request, next: Next) -> Response {
    let host = req
        .headers()
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .or_else(|| req.uri().authority().map(|a| a.as_str()));
    let refused = match host {
        None => Some(ApiError::new(
            StatusCode::BAD_REQUEST,
            "the request has no Host header",
        )),
        Some(h) if !g.host_ok(h) => Some(ApiError::new(
            StatusCode::MISDIRECTED_REQUEST,
            format!(
                "this server does not answer to the host name {:?}; start it with --allow-host {} to allow it",
                h,
                normalize(strip_port(h))
            ),
        )),
        _ => None,
    };
    let refused = refused.or_else(|| {
        if !req.uri().path().starts_with("/v1/") {
            return None;
        }
        g.key_ok(req.headers()).err().map(|why| {
            ApiError::new(StatusCode::UNAUTHORIZED, why)
                .with_header(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"))
        })
    });
    let mut res = match refused {
        Some(e) => e.into_response(),
        None => next.run(req).await,
    };
    res.headers_mut().insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    res
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names() {
        let g = Guard::new("localhost", &["Example.org".into()], None);
        for ok in [
            "localhost",
            "localhost:8080",
            "LOCALHOST.",
            "127.0.0.1:80",
            "[::1]:8080",
            "::1",
            "10.0.0.7",
            "example.org:1",
        ] {
            assert!(g.host_ok(ok), "{ok}");
        }
        for bad in ["evil.example", "evil.example:8080", "localhost.evil", ""] {
            assert!(!g.host_ok(bad), "{bad}");
        }
        assert!(Guard::new("0.0.0.0", &["*".into()], None).host_ok("anything"));
    }

    #[test]
    fn api_keys() {
        let g = Guard::new("localhost", &[], Some("s3cret"));
        let with = |v: &str| {
            let mut h = HeaderMap::new();
            h.insert(header::AUTHORIZATION, HeaderValue::from_str(v).unwrap());
            g.key_ok(&h)
        };
        assert!(with("Bearer s3cret").is_ok());
        assert!(with("bearer  s3cret").is_ok());
        assert!(with("Bearer s3cre").is_err());
        assert!(with("Basic s3cret").is_err());
        assert!(g.key_ok(&HeaderMap::new()).is_err());
        assert!(Guard::new("localhost", &[], None)
            .key_ok(&HeaderMap::new())
            .is_ok());
    }
}
