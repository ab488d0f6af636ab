//! The page of `charrnn serve` in a real headless Chromium (Debian's `chromium`), driven over
//! the DevTools protocol: load it, sample, watch the text stream in, stop a stream, hover a
//! character for its probabilities.
//!
//! Without `chromium` on the PATH (or in `$CHROMIUM`) the test says so and passes, except in CI
//! (`CI=true`), where that is a failure: `.ci/run` installs it.

mod support;

use std::time::{Duration, Instant};

use serde_json::json;
use support::browser::{chromium_or_skip, Browser};
use support::*;

/// Fill the form: prime, n and seed (other controls keep their defaults).
fn fill(b: &mut Browser, prime: &str, n: usize, seed: u64) {
    b.eval(&format!(
        "document.getElementById('prime').value = {};
         document.getElementById('n').value = '{n}';
         document.getElementById('seed').value = '{seed}';
         document.getElementById('temperature').value = '0.8'; true",
        json!(prime)
    ));
}

#[test]
#[ignore = "slow: drives headless chromium, about 3 s; run with `cargo test -- --ignored`"]
fn page_samples_streams_stops_and_shows_probabilities_in_chromium() {
    let Some(chromium) = chromium_or_skip() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let server = Server::start(&model_file(dir.path()), &["--max-n", "1000000"]);
    let mut b = Browser::launch(&chromium);
    b.call("Page.navigate", json!({ "url": server.url() }));
    b.wait_for(
        "document.readyState === 'complete' && \
         document.getElementById('model').textContent.includes('lstm')",
        20,
    );

    // A long stream: text appears while it is still running, and Stop ends it.
    fill(&mut b, "The ", 1_000_000, 7);
    b.eval("document.getElementById('go').click(); true");
    b.wait_for("document.querySelectorAll('#out .gen').length > 50", 20);
    assert_eq!(
        b.eval("document.getElementById('halt').disabled"),
        json!(false),
        "still streaming"
    );
    assert_eq!(
        b.eval("document.querySelector('#out .prime').textContent"),
        json!("The ")
    );
    b.eval("document.getElementById('halt').click(); true");
    b.wait_for(
        "document.getElementById('status').textContent.startsWith('stopped after')",
        10,
    );
    let shown = b.eval("document.querySelectorAll('#out .gen').length");
    assert!(shown.as_u64().unwrap() < 1_000_000);
    let t0 = Instant::now();
    while get(&server.addr, "/v1/info").json()["active_streams"] != 0 {
        assert!(
            t0.elapsed() < Duration::from_secs(10),
            "the server still generates"
        );
        std::thread::sleep(Duration::from_millis(20));
    }

    // A whole sample: the page shows exactly the text the API gives for the same settings.
    fill(&mut b, "The qu", 150, 11);
    b.eval("document.getElementById('go').click(); true");
    b.wait_for(
        "document.getElementById('status').textContent.startsWith('done: 150 characters')",
        20,
    );
    let shown = b.eval("document.getElementById('out').textContent");
    let api = post(
        &server.addr,
        "/v1/sample",
        &json!({"prime": "The qu", "n": 150, "seed": 11, "temperature": 0.8, "format": "text"}),
    );
    assert_eq!(shown.as_str().unwrap(), api.text());

    // Hovering a generated character shows the model's top probabilities.
    let rect = b.eval(
        "(() => { const r = document.querySelectorAll('#out .gen')[4].getBoundingClientRect();
                  return { x: r.left + r.width / 2, y: r.top + r.height / 2 }; })()",
    );
    b.call(
        "Input.dispatchMouseEvent",
        json!({ "type": "mouseMoved", "x": rect["x"], "y": rect["y"] }),
    );
    b.wait_for(
        "getComputedStyle(document.getElementById('tip')).display === 'block'",
        5,
    );
    let tip = b.eval("document.getElementById('tip').textContent");
    assert!(tip.as_str().unwrap().starts_with("drew "), "{tip}");
    assert_eq!(
        b.eval("document.querySelectorAll('#tip tr').length"),
        json!(8)
    );
    assert!(tip.as_str().unwrap().matches('%').count() >= 9, "{tip}");
    // The bars get their widths from the page's script (a style attribute would break the
    // Content-Security-Policy), which lets the page's own script run and no other inline one.
    let width = b.eval("document.querySelector('#tip .bar').style.width");
    assert!(width.as_str().unwrap().ends_with("px"), "{width}");
    assert_eq!(
        b.eval(
            "(() => { window.injected = 0; const s = document.createElement('script'); \
              s.textContent = 'window.injected = 1'; document.body.appendChild(s); \
              return window.injected; })()"
        ),
        json!(0),
        "an injected inline script ran: no Content-Security-Policy"
    );

    if let Some(path) = std::env::var_os("CHARRNN_SCREENSHOT") {
        b.screenshot(path.as_ref());
    }
}
