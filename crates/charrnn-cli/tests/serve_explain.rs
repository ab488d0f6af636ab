//! `POST /v1/explain` of `charrnn serve` (issue 15): the same numbers as `charrnn explain`,
//! and its limits and errors, after each of which the server keeps serving.

mod support;

use std::process::Command;

use serde_json::{json, Value};
use support::*;

fn cli(args: &[&str]) -> Vec<u8> {
    let o = Command::new(BIN)
        .arg("explain")
        .args(args)
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    o.stdout
}

/// `v` without its `title` (which names where the text came from).
fn untitled(mut v: Value) -> Value {
    v.as_object_mut().unwrap().remove("title");
    v
}

#[test]
fn explain_gives_what_the_cli_gives() {
    let dir = tempfile::tempdir().unwrap();
    let m = model_file(dir.path());
    let model = m.to_str().unwrap();
    let s = Server::start(&m, &[]);
    let text = "The lazy dog jumps over the quick brown fox.\nΞένος café. The end.\n";
    let full = post(
        &s.addr,
        "/v1/explain",
        &json!({ "text": text, "format": "full", "top": 3 }),
    );
    assert_eq!(full.status, 200, "{}", full.text());
    assert_eq!(full.header("content-type"), Some("application/json"));
    let want: Value = serde_json::from_slice(&cli(&[
        "--model", model, "--prime", text, "--json", "--top", "3",
    ]))
    .unwrap();
    assert_eq!(full.json(), want);
    // The default is the report's view: what the CLI's report embeds.
    let view = post(&s.addr, "/v1/explain", &json!({ "text": text }));
    assert_eq!(view.status, 200, "{}", view.text());
    let report = dir.path().join("r.html");
    cli(&[
        "--model",
        model,
        "--prime",
        text,
        "--out",
        report.to_str().unwrap(),
    ]);
    let html = std::fs::read_to_string(&report).unwrap();
    let mark = "type=\"application/json\">";
    let start = html.find(mark).unwrap() + mark.len();
    let end = start + html[start..].find("</script>").unwrap();
    let embedded: Value = serde_json::from_str(&html[start..end]).unwrap();
    assert_eq!(untitled(view.json()), untitled(embedded));
    // Unknown characters may be skipped.
    let r = post(
        &s.addr,
        "/v1/explain",
        &json!({ "text": "The Zoo", "unknown": "skip", "format": "full" }),
    );
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(
        (r.json()["text"].clone(), r.json()["skipped"].clone()),
        (json!("The oo"), json!(1))
    );
}

#[test]
fn explain_limits_and_bad_requests() {
    let dir = tempfile::tempdir().unwrap();
    let mut s = Server::start(
        &model_file(dir.path()),
        &["--max-explain", "40", "--max-body", "1000"],
    );
    assert_eq!(get(&s.addr, "/v1/info").json()["max_explain"], 40);
    let ok = "The quick brown fox";
    for (body, field, needle) in [
        (
            json!({ "text": "a".repeat(41) }),
            Some("text"),
            "--max-explain",
        ),
        (json!({ "text": "" }), Some("text"), "send 1 to 40"),
        (json!({ "text": "The Zoo" }), Some("text"), "'Z'"),
        (
            json!({ "text": "ZZZ", "unknown": "skip" }),
            Some("text"),
            "no character",
        ),
        (
            json!({ "text": ok, "top": 0 }),
            Some("top"),
            "between 1 and 20",
        ),
        (
            json!({ "text": ok, "top": 21 }),
            Some("top"),
            "between 1 and 20",
        ),
        (
            json!({ "text": ok, "format": "html" }),
            Some("format"),
            "unknown variant",
        ),
        (json!({ "text": ok, "n": 3 }), None, "unknown field"),
        (json!({ "txt": ok }), None, "text"),
    ] {
        let r = post(&s.addr, "/v1/explain", &body);
        assert_eq!(r.status, 422, "{body}: {}", r.text());
        let e = r.json();
        assert!(e["error"].as_str().unwrap().contains(needle), "{body}: {e}");
        if let Some(f) = field {
            assert_eq!(e["field"], f, "{body}: {e}");
        }
    }
    let r = post(&s.addr, "/v1/explain", &json!({ "text": "a".repeat(2000) }));
    assert_eq!(r.status, 413, "{}", r.text());
    let r = get(&s.addr, "/v1/explain");
    assert_eq!(r.status, 405);
    assert!(s.alive());
    let r = post(&s.addr, "/v1/explain", &json!({ "text": ok }));
    assert_eq!(r.status, 200, "{}", r.text());
    assert_eq!(r.json()["text"], ok);
    // The flag itself.
    let o = Command::new(BIN)
        .args(["serve", "--model", "x.safetensors", "--max-explain", "0"])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--max-explain must be at least 1"));
}
