//! The flags of `charrnn serve`, their checks, and the address they name.

use std::net::{SocketAddr, ToSocketAddrs};
use std::path::PathBuf;
use std::time::Duration;

use charrnn::{Error, Result};
use clap::Args;

/// The environment variable that can hold the API key instead of `--api-key`.
pub const API_KEY_ENV: &str = "CHARRNN_API_KEY";

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
POST bodies must be sent as Content-Type: application/json. With --api-key (or CHARRNN_API_KEY)
the /v1/ routes need the header Authorization: Bearer KEY.
Errors are JSON {\"error\": \"...\", \"field\": \"...\"} with status 400 (malformed JSON or no Host),
401 (no or a wrong API key), 408 (body too slow), 413 (body too large), 415 (not JSON), 421 (a
Host name the server does not answer to), 422 (a wrong type or value), 503 (the queue for the
model is full; Retry-After says when to try again), 404 or 405.
Durations are written like 10s, 500ms or 2m (a bare number is seconds).

Example:
  charrnn serve --model m.safetensors --addr localhost:8080
  curl -N localhost:8080/v1/sample -H 'Content-Type: application/json' \\
    -d '{\"prime\": \"The \", \"n\": 200, \"temperature\": 0.8}'")]
pub struct ServeArgs {
    /// Checkpoint to serve (loaded once, in f32)
    #[arg(long, value_name = "FILE")]
    pub model: PathBuf,
    /// Address to listen on: IP:PORT or HOST:PORT (a host name listens on its first address,
    /// IPv4 first; port 0: any free port; the chosen one is printed)
    #[arg(long, default_value = "127.0.0.1:8080", value_name = "HOST:PORT")]
    pub addr: String,
    /// Largest `n` a sample request may ask for
    #[arg(long, default_value_t = 10_000, value_name = "N")]
    pub max_n: usize,
    /// Largest request body, in bytes
    #[arg(long, default_value_t = 65_536, value_name = "BYTES")]
    pub max_body: usize,
    /// Time a client has to send its request body
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = duration)]
    pub body_timeout: Duration,
    /// Requests running the model at once; more wait for a turn
    #[arg(long, default_value_t = 16, value_name = "N")]
    pub max_concurrent: usize,
    /// Most characters a POST /v1/explain text may have
    #[arg(long, default_value_t = 2000, value_name = "N")]
    pub max_explain: usize,
    /// Requests waiting for a turn at the model; past it, 503 with Retry-After
    #[arg(long, default_value_t = 64, value_name = "N")]
    pub max_queue: usize,
    /// Connections open at once; more wait to be accepted (a line on stderr says when)
    #[arg(long, default_value_t = 512, value_name = "N")]
    pub max_connections: usize,
    /// Time a connection has to send its request line and headers, from when it opens or
    /// sends the first byte of its next request
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = duration)]
    pub header_timeout: Duration,
    /// A kept-alive connection that starts no new request within this is closed
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration)]
    pub idle_timeout: Duration,
    /// A response whose client takes no data for this long is cut off (its model turn freed)
    #[arg(long, default_value = "30s", value_name = "DURATION", value_parser = duration)]
    pub write_timeout: Duration,
    /// Largest request line and headers, in bytes (431 past it)
    #[arg(long, default_value_t = 32_768, value_name = "BYTES")]
    pub max_header: usize,
    /// On Ctrl-C or SIGTERM, time given to running requests before the server exits (a second
    /// Ctrl-C exits at once)
    #[arg(long, default_value = "10s", value_name = "DURATION", value_parser = duration)]
    pub shutdown_timeout: Duration,
    /// A Host name to answer to besides the --addr host, localhost and IP addresses (repeat
    /// for more; "*" for any): the others get 421, against DNS rebinding
    #[arg(long, value_name = "NAME")]
    pub allow_host: Vec<String>,
    /// Require `Authorization: Bearer KEY` on the /v1/ routes (401 otherwise); prefer the
    /// environment variable, which other users cannot read from the process list
    #[arg(long, value_name = "KEY", env = API_KEY_ENV, hide_env_values = true)]
    pub api_key: Option<String>,
}

/// A duration flag: humantime's syntax (`10s`, `500ms`, `2m`, `1h 30m`), or a bare number of
/// seconds (`10`, `0.5`) as the flags took before.
pub fn duration(s: &str) -> std::result::Result<Duration, String> {
    let s = s.trim();
    if let Ok(secs) = s.parse::<f64>() {
        return Duration::try_from_secs_f64(secs)
            .map_err(|_| format!("{s} is not a duration: give one like 10s, 500ms or 2m"));
    }
    humantime::parse_duration(s)
        .map_err(|e| format!("{s} is not a duration ({e}): give one like 10s, 500ms or 2m"))
}

/// Longest duration any flag takes: a day.
const MAX_DURATION: Duration = Duration::from_secs(24 * 3600);

impl ServeArgs {
    /// Every limit in range, each error naming its flag.
    pub fn check(&self) -> Result<()> {
        let bad = |msg: String| Err(Error::Config(msg));
        for (flag, n) in [
            ("--max-n", self.max_n),
            ("--max-concurrent", self.max_concurrent),
            ("--max-connections", self.max_connections),
            ("--max-explain", self.max_explain),
        ] {
            if n == 0 {
                return bad(format!("{flag} must be at least 1"));
            }
        }
        if self.max_connections > 1_000_000 {
            return bad(format!(
                "--max-connections must be at most 1000000, got {}",
                self.max_connections
            ));
        }
        if self.max_body < 64 {
            return bad(format!(
                "--max-body must be at least 64 bytes, got {}",
                self.max_body
            ));
        }
        // hyper's smallest read buffer.
        if self.max_header < 8192 {
            return bad(format!(
                "--max-header must be at least 8192 bytes, got {}",
                self.max_header
            ));
        }
        for (flag, d) in [
            ("--body-timeout", self.body_timeout),
            ("--header-timeout", self.header_timeout),
            ("--idle-timeout", self.idle_timeout),
            ("--write-timeout", self.write_timeout),
            ("--shutdown-timeout", self.shutdown_timeout),
        ] {
            if d.is_zero() || d > MAX_DURATION {
                return bad(format!(
                    "{flag} must be above 0 and at most 24h, got {}",
                    humantime::format_duration(d)
                ));
            }
        }
        if self.api_key.as_deref().is_some_and(|k| k.trim().is_empty()) {
            return bad(format!(
                "--api-key (or {API_KEY_ENV}) is empty: give the key clients must send"
            ));
        }
        Ok(())
    }
}

/// The address to listen on, resolved (IPv4 first), and the host name as written (lowercase,
/// without brackets), which the Host header may name.
pub fn resolve_addr(addr: &str) -> Result<(SocketAddr, String)> {
    let bad = |why: String| {
        Error::Config(format!(
            "--addr {addr}: {why}; give HOST:PORT, for example 127.0.0.1:8080 or localhost:8080"
        ))
    };
    let (host, port) = addr.rsplit_once(':').ok_or_else(|| bad("no port".into()))?;
    port.parse::<u16>()
        .map_err(|_| bad(format!("{port:?} is not a port number")))?;
    let host = host.trim_start_matches('[').trim_end_matches(']');
    if host.is_empty() {
        return Err(bad("no host".into()));
    }
    let mut addrs: Vec<SocketAddr> = addr
        .to_socket_addrs()
        .map_err(|e| bad(format!("cannot resolve it ({e})")))?
        .collect();
    addrs.sort_by_key(|a| a.is_ipv6());
    let first = *addrs
        .first()
        .ok_or_else(|| bad("the name has no address".into()))?;
    Ok((first, host.to_ascii_lowercase()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_take_units_or_bare_seconds() {
        assert_eq!(duration("10s"), Ok(Duration::from_secs(10)));
        assert_eq!(duration("500ms"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("2m"), Ok(Duration::from_secs(120)));
        assert_eq!(duration("0.5"), Ok(Duration::from_millis(500)));
        assert_eq!(duration("10"), Ok(Duration::from_secs(10)));
        for bad in ["", "-1", "ten", "1e999", "NaN", "5 parsecs"] {
            assert!(duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_resolve_host_names() {
        let (a, host) = resolve_addr("localhost:8080").unwrap();
        assert!(a.ip().is_loopback() && a.port() == 8080, "{a}");
        assert_eq!(host, "localhost");
        let (a, host) = resolve_addr("[::1]:0").unwrap();
        assert_eq!((a.to_string().as_str(), host.as_str()), ("[::1]:0", "::1"));
        assert_eq!(resolve_addr("127.0.0.1:9").unwrap().1, "127.0.0.1");
        for bad in ["localhost", ":80", "localhost:http", "127.0.0.1:70000"] {
            let e = resolve_addr(bad).unwrap_err().to_string();
            assert!(e.contains("--addr") && e.contains("HOST:PORT"), "{e}");
        }
    }
}
