//! `charrnn serve` on 127.0.0.1: streamed samples, scores, concurrent clients, and every kind
//! of bad request, after each of which the server must keep serving.

mod support;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::json;
use support::*;

/// The server answers a small good request correctly.
fn assert_serving(s: &mut Server) {
    assert!(s.alive(), "the server died");
    let r = post(
        &s.addr,
        "/v1/sample",
        &json!({"prime": "The", "n": 5, "seed": 1}),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(sampled_text(&r.text()).1.chars().count(), 5);
}

#[test]
fn sample_streams_events_with_top_probabilities() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let s = Server::start(&m, &[]);
    let body = json!({"prime": "The qu", "n": 60, "seed": 3, "top": 4, "temperature": 0.9});
    let r = post(&s.addr, "/v1/sample", &body);
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.header("content-type"), Some("text/event-stream"));
    let ev = events(&r.text());
    assert_eq!(ev[0].0, "start");
    assert_eq!(ev[0].1["prime"], "The qu");
    assert_eq!(ev[0].1["seed"], 3);
    let chars: Vec<_> = ev.iter().filter(|(n, _)| n == "char").collect();
    assert_eq!(chars.len(), 60);
    for (_, d) in &chars {
        let top = d["top"].as_array().unwrap();
        assert_eq!(top.len(), 4);
        let ps: Vec<f64> = top.iter().map(|t| t[1].as_f64().unwrap()).collect();
        assert!(ps.windows(2).all(|w| w[0] >= w[1]), "sorted: {ps:?}");
        assert!(ps.iter().sum::<f64>() <= 1.0 + 1e-5);
        let p = d["p"].as_f64().unwrap();
        assert!(p > 0.0 && p <= ps[0] + 1e-9, "{p} vs {ps:?}");
        if let Some(t) = top.iter().find(|t| t[0] == d["c"]) {
            assert_eq!(t[1].as_f64().unwrap(), p);
        }
    }
    let (name, done) = ev.last().unwrap();
    assert_eq!(name, "done");
    assert_eq!(done["chars"], 60);
    assert_eq!(done["stopped"], false);

    // One seed, one text; the plain-text stream and the CLI give the same text.
    let (_, text) = sampled_text(&r.text());
    let again = post(&s.addr, "/v1/sample", &body);
    assert_eq!(sampled_text(&again.text()).1, text);
    let mut plain = body.clone();
    plain["format"] = json!("text");
    let p = post(&s.addr, "/v1/sample", &plain);
    assert_eq!(p.status, 200);
    assert!(p.header("content-type").unwrap().starts_with("text/plain"));
    assert_eq!(p.text(), format!("The qu{text}"));
    let cli = Command::new(BIN)
        .args([
            "sample",
            "--model",
            m.to_str().unwrap(),
            "--prime",
            "The qu",
        ])
        .args(["-n", "60", "--seed", "3", "--temperature", "0.9"])
        .output()
        .unwrap();
    let newline = if text.ends_with('\n') { "" } else { "\n" };
    assert_eq!(
        String::from_utf8(cli.stdout).unwrap(),
        format!("The qu{text}{newline}")
    );
}

#[test]
fn sample_stop_argmax_and_unknown_skip() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&model_file(dir.path()), &[]);
    let greedy = |seed: u64| {
        let r = post(
            &s.addr,
            "/v1/sample",
            &json!({"prime": "The", "n": 40, "argmax": true, "seed": seed}),
        );
        sampled_text(&r.text()).1
    };
    let g = greedy(1);
    assert_eq!(g, greedy(2), "argmax ignores the seed");
    // Stop after the first occurrence of a 2-character string of the greedy text.
    let stop: String = g.chars().skip(10).take(2).collect();
    let r = post(
        &s.addr,
        "/v1/sample",
        &json!({"prime": "The", "n": 40, "argmax": true, "stop": stop}),
    );
    let (_, text) = sampled_text(&r.text());
    assert!(text.ends_with(&stop), "{text:?} ends with {stop:?}");
    assert!(g.starts_with(&text));
    assert!(text.chars().count() <= 12);
    assert_eq!(events(&r.text()).last().unwrap().1["stopped"], true);
    // Unknown prime characters: an error naming them, or skipped on request.
    let r = post(&s.addr, "/v1/sample", &json!({"prime": "Zebra", "n": 3}));
    assert_eq!(r.status, 422);
    assert_eq!(r.json()["field"], "prime");
    assert!(r.json()["error"].as_str().unwrap().contains("'Z'"));
    let r = post(
        &s.addr,
        "/v1/sample",
        &json!({"prime": "Zebra", "n": 3, "unknown": "skip"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(sampled_text(&r.text()).0, "ebra");
}

#[test]
fn concurrent_clients_each_get_their_own_stream() {
    let dir = tempfile::tempdir().unwrap();
    // Fewer slots than clients: the rest wait their turn.
    let mut s = Server::start(&model_file(dir.path()), &["--max-concurrent", "3"]);
    let body = |seed: u64| json!({"prime": "The ", "n": 400, "seed": seed, "top_p": 0.9});
    let expected: Vec<String> = (0..8)
        .map(|seed| sampled_text(&post(&s.addr, "/v1/sample", &body(seed)).text()).1)
        .collect();
    let addr = s.addr.clone();
    let got: Vec<String> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..8)
            .map(|seed| {
                let addr = addr.clone();
                scope.spawn(move || {
                    let r = post(&addr, "/v1/sample", &body(seed));
                    assert_eq!(r.status, 200);
                    sampled_text(&r.text()).1
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    assert_eq!(got, expected);
    assert!(expected.iter().all(|t| t.chars().count() == 400));
    assert_ne!(expected[0], expected[1]);
    assert_serving(&mut s);
}

/// (method, path, body, expected status, the field the error names).
type Case = (
    &'static str,
    &'static str,
    &'static [u8],
    u16,
    Option<&'static str>,
);

#[test]
fn bad_requests_get_json_errors_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&model_file(dir.path()), &["--max-n", "500"]);
    let cases: Vec<Case> = vec![
        // Malformed JSON.
        ("POST", "/v1/sample", b"{\"n\": ", 400, None),
        ("POST", "/v1/sample", b"", 400, None),
        ("POST", "/v1/sample", b"{\"n\": 5} trailing", 400, None),
        ("POST", "/v1/sample", b"\xff\xfe{}", 400, None),
        ("POST", "/v1/score", b"{text: 'x'}", 400, None),
        // Not an object, wrong types, unknown fields.
        ("POST", "/v1/sample", b"[1, 2]", 422, None),
        ("POST", "/v1/sample", b"\"The\"", 422, None),
        ("POST", "/v1/sample", b"{\"n\": \"ten\"}", 422, Some("n")),
        ("POST", "/v1/sample", b"{\"n\": 2.5}", 422, Some("n")),
        (
            "POST",
            "/v1/sample",
            b"{\"temperature\": \"hot\"}",
            422,
            Some("temperature"),
        ),
        ("POST", "/v1/sample", b"{\"prime\": 7}", 422, Some("prime")),
        ("POST", "/v1/sample", b"{\"seed\": -1}", 422, Some("seed")),
        (
            "POST",
            "/v1/sample",
            b"{\"argmax\": \"yes\"}",
            422,
            Some("argmax"),
        ),
        (
            "POST",
            "/v1/sample",
            b"{\"top_k\": null, \"top_p\": [0.5]}",
            422,
            Some("top_p"),
        ),
        (
            "POST",
            "/v1/sample",
            b"{\"format\": \"xml\"}",
            422,
            Some("format"),
        ),
        (
            "POST",
            "/v1/sample",
            b"{\"temprature\": 0.5}",
            422,
            Some("temprature"),
        ),
        ("POST", "/v1/score", b"{\"text\": 5}", 422, Some("text")),
        ("POST", "/v1/score", b"{}", 422, Some("text")),
        // Out-of-range values.
        ("POST", "/v1/sample", b"{\"n\": 0}", 422, Some("n")),
        ("POST", "/v1/sample", b"{\"n\": 501}", 422, Some("n")),
        ("POST", "/v1/sample", b"{\"n\": 1e30}", 422, Some("n")),
        (
            "POST",
            "/v1/sample",
            b"{\"temperature\": 0}",
            422,
            Some("temperature"),
        ),
        (
            "POST",
            "/v1/sample",
            b"{\"temperature\": -1}",
            422,
            Some("temperature"),
        ),
        ("POST", "/v1/sample", b"{\"temperature\": 1e999}", 400, None),
        ("POST", "/v1/sample", b"{\"top_k\": 0}", 422, Some("top_k")),
        ("POST", "/v1/sample", b"{\"top_p\": 0}", 422, Some("top_p")),
        (
            "POST",
            "/v1/sample",
            b"{\"top_p\": 1.01}",
            422,
            Some("top_p"),
        ),
        ("POST", "/v1/sample", b"{\"top\": 21}", 422, Some("top")),
        ("POST", "/v1/sample", b"{\"stop\": \"\"}", 422, Some("stop")),
        (
            "POST",
            "/v1/sample",
            b"{\"stop\": \"\xe2\x82\xac\"}",
            422,
            Some("stop"),
        ),
        ("POST", "/v1/score", b"{\"text\": \"T\"}", 422, Some("text")),
        (
            "POST",
            "/v1/score",
            b"{\"text\": \"The Zoo\"}",
            422,
            Some("text"),
        ),
        // Wrong routes and methods.
        ("GET", "/v1/nothing", b"", 404, None),
        ("GET", "/v1/sample", b"", 405, None),
        ("DELETE", "/", b"", 405, None),
    ];
    for (method, path, body, status, field) in cases {
        let what = format!("{method} {path} {}", String::from_utf8_lossy(body));
        let r = request(&s.addr, method, path, body);
        assert_eq!(r.status, status, "{what}: {}", r.text());
        assert!(
            r.header("content-type")
                .unwrap()
                .starts_with("application/json"),
            "{what}"
        );
        let j = r.json();
        let msg = j["error"].as_str().unwrap_or_else(|| panic!("{what}: {j}"));
        assert!(!msg.is_empty());
        if let Some(f) = field {
            assert_eq!(j["field"], f, "{what}: {j}");
            assert!(msg.contains(f), "{what}: {msg}");
        }
        assert_serving(&mut s);
    }
    // A request line that is not HTTP at all.
    let mut t = TcpStream::connect(&s.addr).unwrap();
    t.write_all(b"NONSENSE\r\n\r\n").unwrap();
    let _ = t.read(&mut [0u8; 256]);
    assert_serving(&mut s);
}

#[test]
fn oversized_and_slow_bodies_get_413_and_408_and_the_server_keeps_serving() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &model_file(dir.path()),
        &["--max-body", "1024", "--body-timeout", "0.5"],
    );
    let big = json!({"prime": "T".repeat(2000), "n": 1}).to_string();
    for path in ["/v1/sample", "/v1/score"] {
        let r = request(&s.addr, "POST", path, big.as_bytes());
        assert_eq!(r.status, 413, "{}", r.text());
        assert!(r.json()["error"].as_str().unwrap().contains("1024 bytes"));
        assert_serving(&mut s);
    }
    // A declared length over the limit is refused before any body is sent.
    let r = raw(
        &s.addr,
        b"POST /v1/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100000000\r\nConnection: close\r\n\r\n",
    );
    assert_eq!(r.status, 413);
    assert_serving(&mut s);
    // A chunked body with no declared length is cut off at the limit too.
    let mut req =
        b"POST /v1/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
            .to_vec();
    for _ in 0..4 {
        req.extend_from_slice(format!("{:x}\r\n{}\r\n", 500, " ".repeat(500)).as_bytes());
    }
    req.extend_from_slice(b"0\r\n\r\n");
    assert_eq!(raw(&s.addr, &req).status, 413);
    assert_serving(&mut s);
    // A body that never arrives in full times out.
    let t0 = Instant::now();
    let r = raw(
        &s.addr,
        b"POST /v1/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: 100\r\nConnection: close\r\n\r\n{\"n\": 1",
    );
    assert_eq!(r.status, 408, "{}", r.text());
    assert!(t0.elapsed() < Duration::from_secs(5));
    assert_serving(&mut s);
    // Just under the limit is fine.
    let ok = json!({"prime": "T".repeat(900), "n": 1}).to_string();
    assert_eq!(
        request(&s.addr, "POST", "/v1/sample", ok.as_bytes()).status,
        200
    );
}

fn active_streams(s: &Server) -> u64 {
    get(&s.addr, "/v1/info").json()["active_streams"]
        .as_u64()
        .unwrap()
}

#[test]
fn client_disconnecting_mid_stream_stops_generation() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(&model_file(dir.path()), &["--max-n", "100000000"]);
    for format in ["sse", "text"] {
        let body = json!({"prime": "The", "n": 100_000_000, "format": format}).to_string();
        let mut t = TcpStream::connect(&s.addr).unwrap();
        write!(
            t,
            "POST /v1/sample HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        // Read until some generated text has arrived.
        let mut got = Vec::new();
        let mut buf = [0u8; 4096];
        while got.len() < 20_000 {
            let k = t.read(&mut buf).unwrap();
            assert!(k > 0, "stream ended early");
            got.extend_from_slice(&buf[..k]);
        }
        assert!(String::from_utf8_lossy(&got).starts_with("HTTP/1.1 200"));
        assert_eq!(active_streams(&s), 1);
        drop(t);
        // Generation stops (it would take minutes to finish).
        let t0 = Instant::now();
        while active_streams(&s) != 0 {
            assert!(
                t0.elapsed() < Duration::from_secs(10),
                "generation still running after the client left"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_serving(&mut s);
    }
}

#[test]
fn score_matches_the_cli_and_info_describes_the_model() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let s = Server::start(&m, &[]);
    let text = "The lazy dog jumps. Ξένος café.";
    let r = post(&s.addr, "/v1/score", &json!({ "text": text }));
    assert_eq!(r.status, 200, "{}", r.text());
    let j = r.json();
    std::fs::write(dir.path().join("t.txt"), text).unwrap();
    let cli = Command::new(BIN)
        .args(["score", "--model", m.to_str().unwrap(), "--json", "--data"])
        .arg(dir.path().join("t.txt"))
        .output()
        .unwrap();
    let c: serde_json::Value = serde_json::from_slice(&cli.stdout).unwrap();
    assert_eq!(j["chars"], c["chars"]);
    assert!(
        (j["nats_per_char"].as_f64().unwrap() - c["nats_per_char"].as_f64().unwrap()).abs() < 1e-9
    );
    let nats = j["nats_per_char"].as_f64().unwrap();
    assert!((j["bits_per_char"].as_f64().unwrap() - nats / std::f64::consts::LN_2).abs() < 1e-12);
    // Unknown characters can be skipped.
    let r = post(
        &s.addr,
        "/v1/score",
        &json!({"text": "The Zoo", "unknown": "skip"}),
    );
    assert_eq!(r.status, 200);
    assert_eq!(r.json()["chars"], 5);

    let info = get(&s.addr, "/v1/info").json();
    assert_eq!(info["cell"], "lstm");
    assert_eq!(info["layers"], 2);
    assert_eq!(info["hidden"], 24);
    assert_eq!(info["max_n"], 10_000);
    assert_eq!(
        info["vocab_size"].as_u64().unwrap() as usize,
        info["vocab"].as_array().unwrap().len()
    );
}

#[test]
fn the_page_is_self_contained() {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start(&model_file(dir.path()), &[]);
    let r = get(&s.addr, "/");
    assert_eq!(r.status, 200);
    assert!(r.header("content-type").unwrap().starts_with("text/html"));
    let page = r.text();
    for id in [
        "id=\"prime\"",
        "id=\"temperature\"",
        "id=\"top_k\"",
        "id=\"top_p\"",
        "id=\"out\"",
    ] {
        assert!(page.contains(id), "{id}");
    }
    // Nothing is fetched from elsewhere: no external scripts, styles or fonts.
    assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("src="));
}

#[test]
fn bad_serve_flags() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    for (args, needle) in [
        (vec!["--max-n", "0"], "--max-n"),
        (vec!["--max-body", "10"], "--max-body"),
        (vec!["--max-concurrent", "0"], "--max-concurrent"),
        (vec!["--body-timeout", "0"], "--body-timeout"),
        (vec!["--addr", "localhost"], "--addr"),
        (vec!["--addr", "localhost:http"], "--addr"),
        (vec!["--max-connections", "0"], "--max-connections"),
        (vec!["--max-header", "100"], "--max-header"),
        (vec!["--header-timeout", "0s"], "--header-timeout"),
        (vec!["--idle-timeout", "ten"], "--idle-timeout"),
        (vec!["--write-timeout", "25h"], "--write-timeout"),
        (vec!["--shutdown-timeout=-1"], "--shutdown-timeout"),
        (vec!["--api-key", ""], "--api-key"),
    ] {
        let o = Command::new(BIN)
            .args(["serve", "--model", m.to_str().unwrap()])
            .args(&args)
            .env_remove("CHARRNN_API_KEY")
            .output()
            .unwrap();
        assert_eq!(o.status.code(), Some(2), "{args:?}");
        let err = String::from_utf8_lossy(&o.stderr);
        // One line, or clap's whole usage error (issue 13, item 8).
        let usage = err
            .trim_end()
            .ends_with("For more information, try '--help'.");
        assert!(
            err.contains(needle) && (usage || err.lines().count() == 1),
            "{err}"
        );
    }
    let o = Command::new(BIN)
        .args(["serve", "--model", "missing.safetensors"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("missing.safetensors"));
    // A port already taken.
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = taken.local_addr().unwrap().to_string();
    let o = Command::new(BIN)
        .args(["serve", "--model", m.to_str().unwrap(), "--addr", &addr])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("cannot listen"));
}
