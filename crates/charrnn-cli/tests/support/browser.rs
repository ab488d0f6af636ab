//! Headless Chromium (Debian's `chromium`) driven over the DevTools protocol, for the browser
//! tests: [`chromium_or_skip`] finds it (or says why a test cannot run), [`Browser`] launches it
//! and evaluates, clicks and hovers in its page.

use std::io::{BufRead, BufReader, Write};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

use serde_json::{json, Value};
use tungstenite::stream::MaybeTlsStream;
use tungstenite::{Message, WebSocket};

use super::get;

/// `chromium` from `$CHROMIUM` or the PATH; `None` (after saying so past the test harness's
/// capture) when there is none, except in CI (`CI=true`), where that is a failure.
pub fn chromium_or_skip() -> Option<PathBuf> {
    if let Some(p) = find_chromium() {
        return Some(p);
    }
    let msg = "chromium not found (PATH or $CHROMIUM): the browser test cannot run; \
               install it with `apt-get install -y chromium chromium-driver`";
    if std::env::var("CI").as_deref() == Ok("true") {
        panic!("{msg} (CI=true: .ci/run must install it)");
    }
    let _ = writeln!(std::io::stderr(), "SKIPPED browser test: {msg}");
    None
}

fn find_chromium() -> Option<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM") {
        return Some(PathBuf::from(p));
    }
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join("chromium"))
        .find(|p| p.is_file())
}

/// Chromium with remote debugging on an ephemeral port; closed (or killed) on drop.
pub struct Browser {
    child: Child,
    ws: WebSocket<MaybeTlsStream<std::net::TcpStream>>,
    next_id: u64,
    _profile: tempfile::TempDir,
}

impl Browser {
    pub fn launch(bin: &PathBuf) -> Self {
        let profile = tempfile::tempdir().unwrap();
        let mut child = Command::new(bin)
            .args([
                "--headless",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-extensions",
                "--window-size=1100,800",
                "--remote-debugging-address=127.0.0.1",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID" on stderr.
        let stderr = child.stderr.take().unwrap();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("DevTools listening on ") {
                    let _ = tx.send(url.trim().to_string());
                }
            }
        });
        let browser_url = rx
            .recv_timeout(Duration::from_secs(30))
            .expect("chromium printed no DevTools address within 30 s");
        let host = browser_url
            .strip_prefix("ws://")
            .and_then(|r| r.split('/').next())
            .unwrap()
            .to_string();
        // The page target that about:blank opened.
        let t0 = Instant::now();
        let page_url = loop {
            let list = get(&host, "/json/list").json();
            let page = list
                .as_array()
                .unwrap()
                .iter()
                .find(|t| t["type"] == "page")
                .and_then(|t| t["webSocketDebuggerUrl"].as_str().map(String::from));
            if let Some(u) = page {
                break u;
            }
            assert!(t0.elapsed() < Duration::from_secs(10), "no page target");
            std::thread::sleep(Duration::from_millis(50));
        };
        let (ws, _) = tungstenite::connect(page_url.as_str()).expect("DevTools websocket");
        if let MaybeTlsStream::Plain(s) = ws.get_ref() {
            s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        }
        Browser {
            child,
            ws,
            next_id: 1,
            _profile: profile,
        }
    }

    /// One DevTools command; its result (events in between are skipped).
    pub fn call(&mut self, method: &str, params: Value) -> Value {
        let id = self.next_id;
        self.next_id += 1;
        let msg = json!({ "id": id, "method": method, "params": params });
        self.ws.send(Message::text(msg.to_string())).unwrap();
        loop {
            let m = self.ws.read().expect("DevTools reply");
            let Message::Text(t) = m else { continue };
            let v: Value = serde_json::from_str(t.as_str()).unwrap();
            if v["id"] == id {
                assert!(v.get("error").is_none(), "{method}: {v}");
                return v["result"].clone();
            }
        }
    }

    /// Evaluate a JavaScript expression in the page; its value.
    pub fn eval(&mut self, expr: &str) -> Value {
        let r = self.call(
            "Runtime.evaluate",
            json!({ "expression": expr, "returnByValue": true, "awaitPromise": true }),
        );
        assert!(r.get("exceptionDetails").is_none(), "{expr}: {r}");
        r["result"]["value"].clone()
    }

    /// Poll `expr` until it is true; panics after `secs`.
    pub fn wait_for(&mut self, expr: &str, secs: u64) {
        let t0 = Instant::now();
        while self.eval(expr) != json!(true) {
            assert!(
                t0.elapsed() < Duration::from_secs(secs),
                "not true within {secs} s: {expr}; status: {}",
                self.eval("(document.getElementById('status') || {}).textContent")
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Browser {
    /// The centre of the first element matching `selector` (a CSS selector), scrolled into
    /// view, in viewport coordinates.
    pub fn centre(&mut self, selector: &str) -> (f64, f64) {
        let r = self.eval(&format!(
            "(() => {{ const e = document.querySelector({});
                       e.scrollIntoView({{ block: 'center' }});
                       const r = e.getBoundingClientRect();
                       return [r.left + r.width / 2, r.top + r.height / 2]; }})()",
            json!(selector)
        ));
        (r[0].as_f64().unwrap(), r[1].as_f64().unwrap())
    }

    /// Move the mouse over the first element matching `selector`.
    pub fn hover(&mut self, selector: &str) {
        let (x, y) = self.centre(selector);
        self.call(
            "Input.dispatchMouseEvent",
            json!({ "type": "mouseMoved", "x": x, "y": y }),
        );
    }

    /// Click the first element matching `selector` with the mouse.
    pub fn click(&mut self, selector: &str) {
        let (x, y) = self.centre(selector);
        for kind in ["mouseMoved", "mousePressed", "mouseReleased"] {
            self.call(
                "Input.dispatchMouseEvent",
                json!({ "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1 }),
            );
        }
    }

    /// Save what the viewport shows as a PNG.
    pub fn screenshot(&mut self, path: &std::path::Path) {
        use base64::Engine;
        let shot = self.call("Page.captureScreenshot", json!({ "format": "png" }));
        let png = base64::engine::general_purpose::STANDARD
            .decode(shot["data"].as_str().unwrap())
            .unwrap();
        std::fs::write(path, png).unwrap();
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let id = self.next_id;
        let _ = self.ws.send(Message::text(
            json!({ "id": id, "method": "Browser.close" }).to_string(),
        ));
        let t0 = Instant::now();
        while t0.elapsed() < Duration::from_secs(5) {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
