//! One connection and its clocks. A connection is always in one of three phases: waiting for
//! a request's head (from when it opens, or from the first byte of its next request: at most
//! `--header-timeout`), idle between requests (at most `--idle-timeout`), or busy with
//! requests, while the route's own limits apply (`--body-timeout`, and `--write-timeout` on
//! every write: a client that takes no data for that long loses its connection, and with it
//! any model turn its response held). A watchdog closes the connection when the phase's time
//! is up.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::body::{Body, Bytes};
use http_body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::TcpStream;
use tokio::sync::Notify;
use tokio::time::{Instant, Sleep};

/// Where a connection is, and since when.
#[derive(Clone, Copy, Debug)]
enum Phase {
    /// Waiting for (the rest of) a request's head.
    Head(Instant),
    /// Between requests, no byte of the next one yet.
    Idle(Instant),
    /// This many requests are being answered.
    Busy(usize),
}

/// A connection's phase, shared by its socket, its requests and its watchdog.
pub struct Clock {
    phase: Mutex<Phase>,
    changed: Notify,
    header_timeout: Duration,
    idle_timeout: Duration,
}

impl Clock {
    /// A connection just opened: waiting for its first request's head.
    pub fn new(header_timeout: Duration, idle_timeout: Duration) -> Arc<Self> {
        Arc::new(Clock {
            phase: Mutex::new(Phase::Head(Instant::now())),
            changed: Notify::new(),
            header_timeout,
            idle_timeout,
        })
    }

    fn set(&self, f: impl FnOnce(Phase) -> Phase) {
        let mut p = self
            .phase
            .lock()
            .expect("never poisoned: no panics while held");
        *p = f(*p);
        drop(p);
        self.changed.notify_one();
    }

    /// Bytes arrived: an idle connection has started its next request.
    fn read_some(&self) {
        let idle = matches!(*self.phase.lock().expect("never poisoned"), Phase::Idle(_));
        if idle {
            self.set(|p| match p {
                Phase::Idle(_) => Phase::Head(Instant::now()),
                p => p,
            });
        }
    }

    /// A request's head has arrived: busy until the returned guard (held by its response
    /// body) is dropped.
    pub fn begin(self: &Arc<Self>) -> Busy {
        self.set(|p| match p {
            Phase::Busy(n) => Phase::Busy(n + 1),
            _ => Phase::Busy(1),
        });
        Busy(self.clone())
    }

    /// When the connection is to be closed, if it stays as it is.
    pub fn deadline(&self) -> Option<Instant> {
        match *self.phase.lock().expect("never poisoned") {
            Phase::Head(t) => Some(t + self.header_timeout),
            Phase::Idle(t) => Some(t + self.idle_timeout),
            Phase::Busy(_) => None,
        }
    }

    /// Is a request being answered?
    pub fn busy(&self) -> bool {
        matches!(*self.phase.lock().expect("never poisoned"), Phase::Busy(_))
    }

    /// Wait for the next change of phase.
    pub async fn changed(&self) {
        self.changed.notified().await;
    }
}

/// A request being answered; dropping it ends the request.
pub struct Busy(Arc<Clock>);

impl Drop for Busy {
    fn drop(&mut self) {
        self.0.set(|p| match p {
            Phase::Busy(n) if n > 1 => Phase::Busy(n - 1),
            _ => Phase::Idle(Instant::now()),
        });
    }
}

/// A response body that keeps its request busy until it has been sent (or dropped).
pub struct Tracked {
    pub body: Body,
    /// Dropped with the body.
    pub _busy: Busy,
}

impl http_body::Body for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.body).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> http_body::SizeHint {
        self.body.size_hint()
    }
}

/// The socket, telling the clock when bytes arrive, and failing a write that has made no
/// progress for `write_timeout`.
pub struct Socket {
    tcp: TcpStream,
    clock: Arc<Clock>,
    write_timeout: Duration,
    /// Running while a write is blocked.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl Socket {
    pub fn new(tcp: TcpStream, clock: Arc<Clock>, write_timeout: Duration) -> Self {
        Socket {
            tcp,
            clock,
            write_timeout,
            stalled: None,
        }
    }

    /// `op` on the socket, with the write clock: started when it blocks, cleared when it
    /// goes through, an error once it has run out.
    fn timed<T>(
        &mut self,
        cx: &mut Context<'_>,
        op: impl FnOnce(Pin<&mut TcpStream>, &mut Context<'_>) -> Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        let r = op(Pin::new(&mut self.tcp), cx);
        if r.is_ready() {
            self.stalled = None;
            return r;
        }
        let t = self.write_timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep(t)));
        if stalled.as_mut().poll(cx).is_ready() {
            return Poll::Ready(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the client took no data within --write-timeout",
            )));
        }
        Poll::Pending
    }
}

impl AsyncRead for Socket {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let before = buf.filled().len();
        let r = Pin::new(&mut self.tcp).poll_read(cx, buf);
        if buf.filled().len() > before {
            self.clock.read_some();
        }
        r
    }
}

impl AsyncWrite for Socket {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        self.timed(cx, |s, cx| s.poll_write(cx, buf))
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        self.timed(cx, |s, cx| s.poll_write_vectored(cx, bufs))
    }

    fn is_write_vectored(&self) -> bool {
        self.tcp.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.timed(cx, |s, cx| s.poll_flush(cx))
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        self.timed(cx, |s, cx| s.poll_shutdown(cx))
    }
}
