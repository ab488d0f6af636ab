//! `charrnn serve` under hostile or careless clients (issue 13, items 13-17): sockets that
//! send nothing, half a request or a byte at a time; more connections than the cap; Ctrl-C with
//! stuck clients; clients that stop reading; a full queue; requests from other web pages (not
//! JSON, a foreign Host); the API key. And the server's parts of items 9 and 10: host names in
//! --addr, argmax with temperature 0, the empty prime.
//!
//! Limits are set short by flags; times are checked only against generous upper bounds (and
//! lower bounds that a loaded machine can only make longer).

mod support;

use std::io::Write;
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

const LONG: Duration = Duration::from_secs(30);

fn connect(s: &Server) -> TcpStream {
    TcpStream::connect(&s.addr).unwrap()
}

/// A sample request on a connection kept open, for `n` characters with 20 probabilities each
/// (about 600 bytes a character), whose answer is never read.
fn stuck_stream(s: &Server, n: u64) -> TcpStream {
    let body = json!({"prime": "The", "n": n, "top": 20}).to_string();
    let mut t = connect(s);
    write!(
        t,
        "POST /v1/sample HTTP/1.1\r\nHost: {}\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        s.addr,
        body.len()
    )
    .unwrap();
    t
}

fn info(s: &Server) -> serde_json::Value {
    get(&s.addr, "/v1/info").json()
}

/// Wait (up to [`LONG`]) until `/v1/info`'s `key` is `value`.
fn wait_info(s: &Server, key: &str, value: u64) {
    let t0 = Instant::now();
    while info(s)[key] != value {
        assert!(t0.elapsed() < LONG, "{key} never became {value}");
        std::thread::sleep(Duration::from_millis(20));
    }
}

fn small_sample(addr: &str) -> Reply {
    post(
        addr,
        "/v1/sample",
        &json!({"prime": "The", "n": 5, "seed": 1}),
    )
}

#[test]
fn silent_half_sent_and_dribbling_connections_are_closed_after_the_header_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &["--header-timeout", "1s", "--idle-timeout", "60s"],
    );
    // A socket that sends nothing, and one that sends half a request line.
    let opened = Instant::now();
    let mut silent = connect(&s);
    let mut half = connect(&s);
    half.write_all(b"POST /v1/sa").unwrap();
    for t in [&mut silent, &mut half] {
        assert!(closed_within(t, LONG).is_some(), "still open after 30 s");
    }
    let after = opened.elapsed();
    assert!(
        after >= Duration::from_millis(800),
        "closed after {after:?}"
    );
    // A header one byte every 100 ms (40 s in all) is cut off long before its end.
    let head = format!(
        "GET /v1/info HTTP/1.1\r\nHost: {}\r\nX-Slow: {}\r\n\r\n",
        s.addr,
        "a".repeat(350)
    );
    let mut t = connect(&s);
    let t0 = Instant::now();
    let sent = head
        .bytes()
        .take_while(|b| {
            std::thread::sleep(Duration::from_millis(100));
            t.write_all(&[*b]).is_ok()
        })
        .count();
    assert!(sent < head.len(), "the whole header went through");
    assert!(t0.elapsed() < LONG);
    // A kept-alive connection is not held to the header timeout between requests.
    let mut k = connect(&s);
    let req = format!("GET /v1/info HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
    k.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_reply(&mut k).status, 200);
    assert_eq!(closed_within(&mut k, Duration::from_secs(3)), None);
    k.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_reply(&mut k).status, 200);
    assert_eq!(small_sample(&s.addr).status, 200);
}

#[test]
fn idle_kept_alive_connections_are_closed_after_the_idle_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &["--idle-timeout", "1s", "--header-timeout", "60s"],
    );
    let mut k = connect(&s);
    let req = format!("GET /v1/info HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr);
    k.write_all(req.as_bytes()).unwrap();
    assert_eq!(read_reply(&mut k).status, 200);
    let after = closed_within(&mut k, LONG).expect("idle connection still open after 30 s");
    assert!(
        after >= Duration::from_millis(800),
        "closed after {after:?}"
    );
    assert_eq!(small_sample(&s.addr).status, 200);
}

#[test]
fn past_the_connection_cap_new_connections_wait_and_the_server_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &["--max-connections", "2", "--header-timeout", "60s"],
    );
    let first = connect(&s);
    let _second = connect(&s);
    assert!(
        s.wait_log("--max-connections", LONG),
        "no line about the cap: {}",
        s.log()
    );
    // A third client is not answered while the two hold their places...
    let mut third = connect(&s);
    let req = format!(
        "GET /v1/info HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n",
        s.addr
    );
    third.write_all(req.as_bytes()).unwrap();
    third
        .set_read_timeout(Some(Duration::from_secs(1)))
        .unwrap();
    let mut byte = [0u8; 1];
    assert!(
        std::io::Read::read(&mut third, &mut byte).is_err(),
        "answered past the cap"
    );
    // ...and is once one of them leaves.
    drop(first);
    third.set_read_timeout(Some(LONG)).unwrap();
    let mut rest = Vec::new();
    std::io::Read::read_to_end(&mut third, &mut rest).unwrap();
    let reply = String::from_utf8_lossy(&rest);
    assert!(reply.starts_with("HTTP/1.1 200"), "{reply}");
}

/// A server with stuck clients: a request sent up to the middle of its headers, an idle
/// kept-alive connection, and a long stream whose client reads nothing.
fn stuck_server(dir: &std::path::Path, shutdown: &str) -> (Server, Vec<TcpStream>) {
    let s = Server::start(
        &model_file(dir),
        &[
            "--shutdown-timeout",
            shutdown,
            "--header-timeout",
            "10m",
            "--idle-timeout",
            "10m",
            "--write-timeout",
            "10m",
            "--max-n",
            "100000000",
        ],
    );
    let mut half = connect(&s);
    write!(
        half,
        "POST /v1/sample HTTP/1.1\r\nHost: {}\r\nContent-Ty",
        s.addr
    )
    .unwrap();
    let mut idle = connect(&s);
    write!(idle, "GET /v1/info HTTP/1.1\r\nHost: {}\r\n\r\n", s.addr).unwrap();
    assert_eq!(read_reply(&mut idle).status, 200);
    let stream = stuck_stream(&s, 100_000_000);
    wait_info(&s, "active_streams", 1);
    (s, vec![half, idle, stream])
}

#[test]
fn ctrl_c_stops_the_server_within_the_shutdown_timeout_despite_stuck_clients() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _clients) = stuck_server(dir.path(), "2s");
    let t0 = Instant::now();
    s.signal(libc::SIGINT);
    let status = s.wait_exit(LONG).expect("still running 30 s after Ctrl-C");
    assert!(status.success(), "{status:?}");
    assert!(
        t0.elapsed() >= Duration::from_millis(1500),
        "{:?}",
        t0.elapsed()
    );
    let log = s.log();
    assert!(log.contains("interrupted: stopping"), "{log}");
    assert!(
        log.contains("1 connection(s) still open after --shutdown-timeout"),
        "{log}"
    );
}

#[test]
fn a_second_ctrl_c_exits_at_once() {
    let dir = tempfile::tempdir().unwrap();
    let (mut s, _clients) = stuck_server(dir.path(), "10m");
    s.signal(libc::SIGINT);
    assert!(s.wait_log("interrupted: stopping", LONG), "{}", s.log());
    assert!(s.alive(), "the stuck stream has 10 minutes to finish");
    s.signal(libc::SIGINT);
    let status = s
        .wait_exit(LONG)
        .expect("still running after a second Ctrl-C");
    assert_eq!(status.code(), Some(130));
    assert!(s.wait_log("interrupted again: exiting now", LONG));
}

#[test]
fn sigterm_stops_the_server_too() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&model_file(dir.path()), &["--shutdown-timeout", "2s"]);
    let _silent = connect(&s);
    s.signal(libc::SIGTERM);
    let status = s.wait_exit(LONG).expect("still running 30 s after SIGTERM");
    assert!(status.success(), "{status:?}");
    assert!(s.log().contains("terminated: stopping"), "{}", s.log());
}

#[test]
fn a_client_that_stops_reading_loses_its_turn_after_the_write_timeout() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &[
            "--max-concurrent",
            "1",
            "--write-timeout",
            "1s",
            "--max-n",
            "100000000",
        ],
    );
    let stuck = stuck_stream(&s, 100_000_000);
    wait_info(&s, "active_streams", 1);
    // The one turn at the model is taken: this waits until the stuck client is cut off.
    let t0 = Instant::now();
    let r = small_sample(&s.addr);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sampled_text(&r.text()).1.chars().count(), 5);
    assert!(t0.elapsed() < Duration::from_secs(60));
    assert_eq!(info(&s)["active_streams"], 0);
    drop(stuck);
}

#[test]
fn past_the_queue_bound_requests_get_503_with_retry_after() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &[
            "--max-concurrent",
            "1",
            "--max-queue",
            "1",
            "--max-n",
            "100000000",
        ],
    );
    let stuck = stuck_stream(&s, 100_000_000);
    wait_info(&s, "active_streams", 1);
    let addr = s.addr.clone();
    let queued = std::thread::spawn(move || small_sample(&addr));
    wait_info(&s, "waiting", 1);
    for (path, body) in [
        ("/v1/sample", json!({"n": 5})),
        ("/v1/score", json!({"text": "The dog"})),
    ] {
        let r = post(&s.addr, path, &body);
        assert_eq!(r.status, 503, "{path}: {}", r.text());
        assert_eq!(r.header("retry-after"), Some("1"));
        assert!(r.json()["error"].as_str().unwrap().contains("--max-queue"));
    }
    // The one waiting gets its turn when the stream's client leaves.
    drop(stuck);
    let r = queued.join().unwrap();
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(info(&s)["waiting"], 0);
}

#[test]
fn post_bodies_must_be_declared_json() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&model_file(dir.path()), &[]);
    let body = json!({"prime": "The", "n": 3}).to_string();
    for (content_type, status) in [
        ("Content-Type: text/plain", 415),
        ("Content-Type: application/x-www-form-urlencoded", 415),
        ("Content-Type: multipart/form-data; boundary=x", 415),
        ("Content-Type:", 415),
        ("Content-Type: application/json; charset=utf-8", 200),
        ("Content-Type: Application/JSON", 200),
    ] {
        for path in ["/v1/sample", "/v1/score"] {
            let body = if path == "/v1/score" {
                json!({"text": "The dog"}).to_string()
            } else {
                body.clone()
            };
            let r = request_with(&s.addr, "POST", path, &[content_type], body.as_bytes());
            assert_eq!(r.status, status, "{path} {content_type}: {}", r.text());
            if status == 415 {
                let e = r.json()["error"].as_str().unwrap().to_string();
                assert!(e.contains("application/json"), "{e}");
            }
        }
    }
}

#[test]
fn foreign_host_names_get_421_and_the_page_its_security_headers() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(
        &model_file(dir.path()),
        &["--allow-host", "my.box", "--allow-host", "Other.Box."],
    );
    let port = s.addr.rsplit(':').next().unwrap().to_string();
    for (host, status) in [
        ("evil.example", 421),
        ("evil.example:PORT", 421),
        ("localhost.evil.example:PORT", 421),
        ("127.0.0.1:PORT", 200),
        ("localhost:PORT", 200),
        ("LOCALHOST", 200),
        ("[::1]:PORT", 200),
        ("my.box:PORT", 200),
        ("other.box", 200),
    ] {
        let host = format!("Host: {}", host.replace("PORT", &port));
        for path in ["/", "/v1/info"] {
            let r = request_with(&s.addr, "GET", path, &[&host], b"");
            assert_eq!(r.status, status, "{host} {path}");
            assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
            if status == 421 {
                let e = r.json()["error"].as_str().unwrap().to_string();
                assert!(
                    e.contains("--allow-host ") && e.contains("evil.example"),
                    "{e}"
                );
            }
        }
    }
    let r = raw(
        &s.addr,
        b"GET /v1/info HTTP/1.1\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 400);
    assert!(r.json()["error"].as_str().unwrap().contains("Host"));

    let r = get(&s.addr, "/");
    assert_eq!(r.status, 200);
    let csp = r.header("content-security-policy").unwrap();
    for part in [
        "default-src 'none'",
        "script-src 'sha256-",
        "style-src 'sha256-",
        "connect-src 'self'",
        "frame-ancestors 'none'",
    ] {
        assert!(csp.contains(part), "{part} not in {csp}");
    }
    assert!(!csp.contains("unsafe"), "{csp}");
    assert_eq!(r.header("x-frame-options"), Some("DENY"));
    assert_eq!(r.header("x-content-type-options"), Some("nosniff"));
}

#[test]
fn the_api_key_is_required_when_set() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let flag = Server::start(&m, &["--api-key", "s3cret"]);
    let env = Server::start_at(&m, "127.0.0.1:0", &[], &[("CHARRNN_API_KEY", "k2")]);
    for (s, key) in [(&flag, "s3cret"), (&env, "k2")] {
        let sample = json!({"prime": "The", "n": 3}).to_string();
        for (auth, status) in [
            (String::new(), 401),
            ("Authorization: Bearer wrong".into(), 401),
            (format!("Authorization: Bearer {key}x"), 401),
            (format!("Authorization: Basic {key}"), 401),
            (format!("Authorization: Bearer {key}"), 200),
            (format!("Authorization: bearer {key}"), 200),
        ] {
            let headers: Vec<&str> = [auth.as_str()]
                .into_iter()
                .filter(|h| !h.is_empty())
                .collect();
            let i = request_with(&s.addr, "GET", "/v1/info", &headers, b"");
            let p = request_with(&s.addr, "POST", "/v1/sample", &headers, sample.as_bytes());
            for r in [&i, &p] {
                assert_eq!(r.status, status, "{auth:?}: {}", r.text());
            }
            if status == 401 {
                assert_eq!(i.header("www-authenticate"), Some("Bearer"));
                assert!(i.json()["error"].as_str().unwrap().contains("key"));
            }
        }
        // The page itself is open: it asks for the key when the API wants one.
        assert_eq!(get(&s.addr, "/").status, 200);
    }
    // No warning on loopback.
    assert!(!flag.log().contains("warning"), "{}", flag.log());
}

#[test]
fn listening_beyond_loopback_without_a_key_warns() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let open = Server::start_at(&m, "0.0.0.0:0", &[], &[]);
    assert!(
        open.wait_log("warning: listening on 0.0.0.0:", LONG),
        "{}",
        open.log()
    );
    assert!(open.log().contains("without an API key"));
    let keyed = Server::start_at(&m, "0.0.0.0:0", &["--api-key", "k"], &[]);
    let plain = Server::start(&m, &[]);
    std::thread::sleep(Duration::from_millis(300));
    assert!(!keyed.log().contains("warning"), "{}", keyed.log());
    assert!(!plain.log().contains("warning"), "{}", plain.log());
}

#[test]
fn addr_takes_a_host_name() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_at(&model_file(dir.path()), "localhost:0", &[], &[]);
    assert!(s.addr.starts_with("127.0.0.1:"), "{}", s.addr);
    let port = s.addr.rsplit(':').next().unwrap();
    let host = format!("Host: localhost:{port}");
    let r = request_with(&s.addr, "GET", "/v1/info", &[&host], b"");
    assert_eq!(r.status, 200);
    assert_eq!(small_sample(&s.addr).status, 200);
}

#[test]
fn argmax_takes_temperature_zero_and_an_empty_prime_is_no_prime() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let s = Server::start(&m, &[]);
    let text = |body: serde_json::Value| {
        let r = post(&s.addr, "/v1/sample", &body);
        assert_eq!(r.status, 200, "{body}: {}", r.text());
        sampled_text(&r.text())
    };
    let greedy = text(json!({"prime": "The", "n": 30, "argmax": true}));
    assert_eq!(
        text(json!({"prime": "The", "n": 30, "argmax": true, "temperature": 0})),
        greedy
    );
    // Temperature 0 without argmax is still refused, with the advice.
    let r = post(&s.addr, "/v1/sample", &json!({"temperature": 0}));
    assert_eq!(r.status, 422);
    assert!(r.json()["error"].as_str().unwrap().contains("argmax"));

    // An empty prime is no prime, in the API and in the CLI alike.
    let none = text(json!({"n": 40, "seed": 9}));
    let empty = text(json!({"prime": "", "n": 40, "seed": 9}));
    assert_eq!(empty, none);
    assert_eq!(empty.0, "");
    let cli = |prime: Option<&str>| {
        let mut c = Command::new(BIN);
        c.args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "-n",
            "40",
            "--seed",
            "9",
        ]);
        if let Some(p) = prime {
            c.args(["--prime", p]);
        }
        let o = c.output().unwrap();
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        String::from_utf8(o.stdout).unwrap()
    };
    let out = cli(Some(""));
    assert_eq!(out, cli(None));
    assert_eq!(out.trim_end_matches('\n'), none.1.trim_end_matches('\n'));
    // A prime of nothing the model knows is refused with the same words by both.
    let r = post(
        &s.addr,
        "/v1/sample",
        &json!({"prime": "ZZ", "unknown": "skip"}),
    );
    assert_eq!(r.status, 422);
    let api_msg = r.json()["error"].as_str().unwrap().to_string();
    let o = Command::new(BIN)
        .args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--prime",
            "ZZ",
            "--unknown",
            "skip",
        ])
        .output()
        .unwrap();
    let cli_msg = String::from_utf8_lossy(&o.stderr);
    assert_eq!(api_msg, "prime: has no character the model knows");
    assert!(
        cli_msg.contains("--prime has no character the model knows"),
        "{cli_msg}"
    );
}
