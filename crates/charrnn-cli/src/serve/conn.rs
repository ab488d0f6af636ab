//! The listener: connections accepted up to `--max-connections` (past it the next waits to be
//! accepted, and a line on stderr says so), each served by hyper with its clocks
//! ([`super::link`]); and the shutdown on Ctrl-C or SIGTERM: no new connections, those
//! between requests closed at once, running requests given `--shutdown-timeout` to finish,
//! then the server exits; a second signal exits at once.

use std::convert::Infallible;
use std::io::Write;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::Request;
use axum::Router;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{watch, OwnedSemaphorePermit, Semaphore};
use tokio::time::Instant;
use tower::ServiceExt;

use super::link::{Clock, Socket, Tracked};

/// The connection layer's limits (the flags of the same names).
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub max_connections: usize,
    pub header_timeout: Duration,
    pub idle_timeout: Duration,
    pub write_timeout: Duration,
    pub max_header: usize,
    pub shutdown_timeout: Duration,
}

/// A line on stderr (never a panic, even with stderr closed).
pub fn log(line: &str) {
    let _ = writeln!(std::io::stderr(), "{line}");
}

/// A log line written at most every 10 s.
#[derive(Default)]
struct Throttle(Option<Instant>);

impl Throttle {
    fn log(&mut self, line: &str) {
        if self
            .0
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(10))
        {
            log(line);
            self.0 = Some(Instant::now());
        }
    }
}

pub use signals::Signals;

/// Serve `router` on `listener` until one of `signals` (installed before the address is
/// printed, so that a client who saw it can stop the server), then shut down within the limits.
pub async fn serve(listener: TcpListener, router: Router, limits: Limits, mut signals: Signals) {
    let open = Arc::new(Semaphore::new(limits.max_connections));
    let (stop, stopping) = watch::channel(false);
    let (mut cap_line, mut accept_line) = (Throttle::default(), Throttle::default());
    let signal = loop {
        let permit = match open.clone().try_acquire_owned() {
            Ok(p) => p,
            Err(_) => {
                cap_line.log(&format!(
                    "connections: {} open, the --max-connections cap; new ones wait to be accepted until one closes",
                    limits.max_connections
                ));
                tokio::select! {
                    p = open.clone().acquire_owned() => p.expect("never closed"),
                    s = signals.next() => break s,
                }
            }
        };
        let tcp = tokio::select! {
            r = listener.accept() => match r {
                Ok((tcp, _)) => tcp,
                Err(e) => {
                    // Out of descriptors, or a connection reset before it was accepted.
                    accept_line.log(&format!(
                        "cannot accept a connection: {e} (lower --max-connections below the open-file limit, ulimit -n)"
                    ));
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
            s = signals.next() => break s,
        };
        tokio::spawn(connection(
            tcp,
            router.clone(),
            limits,
            stopping.clone(),
            permit,
        ));
    };
    drop(listener);
    let busy = limits.max_connections - open.available_permits();
    log(&format!(
        "{}: stopping: no new connections; {busy} open, given up to {} to finish (again to exit at once)",
        signal.name,
        humantime::format_duration(limits.shutdown_timeout)
    ));
    tokio::spawn(async move {
        let again = signals.next().await;
        log(&format!("{} again: exiting now", again.name));
        std::process::exit(again.exit_code.into());
    });
    let _ = stop.send(true);
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    let finished = tokio::time::timeout(limits.shutdown_timeout, open.acquire_many(all))
        .await
        .is_ok();
    if finished {
        log("stopped");
    } else {
        log(&format!(
            "stopped: {} connection(s) still open after --shutdown-timeout closed",
            limits.max_connections - open.available_permits()
        ));
    }
}

/// One connection, from accept to close; `_permit` is its place under the cap.
async fn connection(
    tcp: TcpStream,
    router: Router,
    limits: Limits,
    mut stopping: watch::Receiver<bool>,
    _permit: OwnedSemaphorePermit,
) {
    let _ = tcp.set_nodelay(true);
    let clock = Clock::new(limits.header_timeout, limits.idle_timeout);
    let socket = Socket::new(tcp, clock.clone(), limits.write_timeout);
    let service = {
        let clock = clock.clone();
        hyper::service::service_fn(move |req: Request<Incoming>| {
            let busy = clock.begin();
            let router = router.clone();
            async move {
                let res = router.oneshot(req.map(Body::new)).await?;
                Ok::<_, Infallible>(res.map(|body| Tracked { body, _busy: busy }))
            }
        })
    };
    let conn = hyper::server::conn::http1::Builder::new()
        .max_buf_size(limits.max_header)
        .max_header_size(limits.max_header)
        .serve_connection(TokioIo::new(socket), service);
    tokio::pin!(conn);
    let mut shutting = false;
    loop {
        if *stopping.borrow() && !shutting {
            if !clock.busy() {
                return;
            }
            // Finish the request in hand, then close.
            conn.as_mut().graceful_shutdown();
            shutting = true;
        }
        let deadline = clock.deadline();
        tokio::select! {
            _ = conn.as_mut() => return,
            _ = clock.changed() => {}
            _ = sleep_until(deadline) => {
                if clock.deadline().is_some_and(|d| d <= Instant::now()) {
                    return;
                }
            }
            _ = stopping.changed(), if !shutting => {}
        }
    }
}

/// Sleep until `deadline`, or for ever without one.
async fn sleep_until(deadline: Option<Instant>) {
    match deadline {
        Some(d) => tokio::time::sleep_until(d).await,
        None => std::future::pending().await,
    }
}

mod signals {
    //! SIGINT and SIGTERM as a stream (Ctrl-C alone where there are no Unix signals).

    pub struct Signal {
        pub name: &'static str,
        /// 128 + the signal's number, as shells report a process it ended.
        pub exit_code: u8,
    }

    #[cfg(unix)]
    pub struct Signals {
        int: Option<tokio::signal::unix::Signal>,
        term: Option<tokio::signal::unix::Signal>,
    }

    #[cfg(unix)]
    impl Signals {
        pub fn new() -> Self {
            use tokio::signal::unix::{signal, SignalKind};
            Signals {
                int: signal(SignalKind::interrupt()).ok(),
                term: signal(SignalKind::terminate()).ok(),
            }
        }

        pub async fn next(&mut self) -> Signal {
            async fn recv(s: &mut Option<tokio::signal::unix::Signal>) {
                match s {
                    Some(s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                _ = recv(&mut self.int) => Signal { name: "interrupted", exit_code: 130 },
                _ = recv(&mut self.term) => Signal { name: "terminated", exit_code: 143 },
            }
        }
    }

    #[cfg(not(unix))]
    pub struct Signals;

    #[cfg(not(unix))]
    impl Signals {
        pub fn new() -> Self {
            Signals
        }

        pub async fn next(&mut self) -> Signal {
            let _ = tokio::signal::ctrl_c().await;
            Signal {
                name: "interrupted",
                exit_code: 130,
            }
        }
    }
}
