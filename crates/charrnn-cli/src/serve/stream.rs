//! The sample stream: the generator, run on the blocking pool one model step per character,
//! and the encoding of its messages as server-sent events or plain text, sent in batches.

use std::convert::Infallible;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use charrnn::sample::{Sampler, StopMatcher};
use serde_json::{json, Value};
use tokio::sync::{mpsc, OwnedSemaphorePermit};
use tokio_stream::wrappers::ReceiverStream;
use tokio_stream::StreamExt;

use super::request::{Format, Job};
use super::AppState;

/// Generate `job` on the blocking pool, holding `slot` (a turn at the model) until it ends;
/// returns the response body, which carries the messages in `format` as they are drawn.
/// Generation stops when the client goes away.
pub fn spawn(st: Arc<AppState>, slot: OwnedSemaphorePermit, job: Job, format: Format) -> Body {
    let (tx, rx) = mpsc::channel(64);
    tokio::task::spawn_blocking(move || {
        let _slot = slot;
        let _active = Active::new(st.clone());
        let mut out = Batcher {
            tx,
            format,
            buf: String::new(),
            last: Instant::now(),
        };
        let _ = generate(&st, job, &mut out);
    });
    Body::from_stream(ReceiverStream::new(rx).map(Ok::<_, Infallible>))
}

/// What the generator produces, in order: one `Start`, a `Char` per character, one `Done`.
enum Msg {
    Start {
        prime: String,
        seed: u64,
        n: usize,
    },
    Char {
        c: char,
        p: f32,
        top: Vec<(char, f32)>,
    },
    Done {
        chars: usize,
        stopped: bool,
        seconds: f64,
    },
}

fn round6(x: f32) -> f64 {
    (x as f64 * 1e6).round() / 1e6
}

impl Msg {
    /// Append the message as `format` puts it on the wire: an SSE frame with one line of JSON
    /// data, or the bare text.
    fn encode(&self, format: Format, out: &mut String) {
        use std::fmt::Write;
        if format == Format::Text {
            match self {
                Msg::Start { prime, .. } => out.push_str(prime),
                Msg::Char { c, .. } => out.push(*c),
                Msg::Done { .. } => {}
            }
            return;
        }
        let (event, data) = match self {
            Msg::Start { prime, seed, n } => {
                ("start", json!({ "prime": prime, "seed": seed, "n": n }))
            }
            Msg::Char { c, p, top } => {
                let top: Vec<Value> = top.iter().map(|&(c, p)| json!([c, round6(p)])).collect();
                ("char", json!({ "c": c, "p": round6(*p), "top": top }))
            }
            Msg::Done {
                chars,
                stopped,
                seconds,
            } => (
                "done",
                json!({
                    "chars": chars,
                    "stopped": stopped,
                    "seconds": seconds,
                    "chars_per_s": (*chars as f64 / seconds.max(1e-9)).round(),
                }),
            ),
        };
        // serde_json writes no raw newline, so the data is one SSE line.
        let _ = write!(out, "event: {event}\ndata: {data}\n\n");
    }
}

/// Counts a stream as active while it lives.
struct Active(Arc<AppState>);

impl Active {
    fn new(st: Arc<AppState>) -> Self {
        st.active.fetch_add(1, Ordering::SeqCst);
        Active(st)
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        self.0.active.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The client is gone.
struct Gone;

/// Encoded messages gathered into chunks: sent every [`Batcher::EVERY`] or
/// [`Batcher::BYTES`], whichever comes first, so a fast model does not cost a write per
/// character while a slow one still streams smoothly.
struct Batcher {
    tx: mpsc::Sender<Bytes>,
    format: Format,
    buf: String,
    last: Instant,
}

impl Batcher {
    const EVERY: Duration = Duration::from_millis(15);
    const BYTES: usize = 16 * 1024;

    fn push(&mut self, msg: &Msg) -> Result<(), Gone> {
        msg.encode(self.format, &mut self.buf);
        if self.buf.len() >= Self::BYTES || self.last.elapsed() >= Self::EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn flush(&mut self) -> Result<(), Gone> {
        self.last = Instant::now();
        if self.buf.is_empty() {
            return Ok(());
        }
        let chunk = Bytes::from(std::mem::take(&mut self.buf));
        self.tx.blocking_send(chunk).map_err(|_| Gone)
    }
}

/// Run on the blocking pool: prime, then one model step per character, each sent as it is
/// drawn. Returns as soon as a send finds the receiver gone (the client disconnected).
fn generate(st: &AppState, job: Job, out: &mut Batcher) -> Result<(), Gone> {
    let start = Instant::now();
    let mut sampler =
        Sampler::with_config(&st.model, job.seed, job.config).expect("settings checked");
    out.push(&Msg::Start {
        prime: job.echo,
        seed: job.seed,
        n: job.n,
    })?;
    out.flush()?;
    sampler.prime(&job.prime);
    let mut stop = StopMatcher::new(&job.stop);
    let mut order: Vec<u32> = (0..st.vocab.len() as u32).collect();
    let (mut chars, mut stopped) = (0, false);
    while chars < job.n && !stopped {
        let id = sampler.next_char();
        let p = sampler.probs();
        let mut top = Vec::with_capacity(job.top);
        if job.top > 0 {
            order.select_nth_unstable_by(job.top - 1, |&a, &b| {
                p[b as usize].total_cmp(&p[a as usize]).then(a.cmp(&b))
            });
            top.extend(
                order[..job.top]
                    .iter()
                    .map(|&i| (st.vocab.char(i), p[i as usize])),
            );
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
        }
        out.push(&Msg::Char {
            c: st.vocab.char(id),
            p: p[id as usize],
            top,
        })?;
        chars += 1;
        stopped = stop.push(id);
    }
    out.push(&Msg::Done {
        chars,
        stopped,
        seconds: start.elapsed().as_secs_f64(),
    })?;
    out.flush()
}
