//! The standalone `/metrics/` listener (`Builder::listen`): its own thread,
//! its own single-threaded tokio runtime, and an accept loop that no client
//! can stop.
//!
//! - Accept errors back off and retry: running out of file descriptors
//!   (`EMFILE`, `ENFILE`) or kernel memory only slows accepting down until
//!   connections close again.
//! - At most [`Limits::max_connections`] connections are served at once;
//!   more clients wait in the kernel's backlog until one closes.
//! - A request head must arrive in full within [`Limits::timeout`] (also
//!   the wait for the next request on a kept-alive connection), and may
//!   hold at most [`Limits::max_head_bytes`]: unauthenticated clients hold
//!   at most `max_connections × max_head_bytes` of memory.
//! - A write that makes no progress for [`Limits::write_timeout`] (a client
//!   that stops reading its response) closes the connection, as nginx's
//!   `send_timeout` does.
//! - With TLS, the handshake runs on the connection's own task and must end
//!   within [`Limits::timeout`]; a failed one (no client certificate where
//!   one is required, a wrong CA) closes that connection only.

use std::future::Future;
use std::io;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{ready, Context, Poll};
use std::time::Duration;

use crate::settings::Limits;

use axum::extract::connect_info::ConnectInfo;
use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Semaphore;
use tokio::time::{sleep, Instant, Sleep};
use tower_service::Service;

/// The first pause after an accept error, and the longest.
const BACKOFF: (Duration, Duration) = (Duration::from_millis(5), Duration::from_secs(1));

/// The shortest interval between two reports of accept errors.
const REPORT_EVERY: Duration = Duration::from_secs(60);

/// The listener's TLS, when it has one.
#[cfg(feature = "tls")]
pub(crate) type TlsServer = crate::tls::TlsServer;
/// Without the `tls` feature there is none to have.
#[cfg(not(feature = "tls"))]
pub(crate) enum TlsServer {}

/// The listener, bound and with its runtime built, ready to be spawned.
pub(crate) struct Standalone {
    listener: TcpListener,
    runtime: tokio::runtime::Runtime,
    limits: Limits,
    tls: Option<Arc<TlsServer>>,
}

impl Standalone {
    /// Everything that can fail, done before `install()` puts the recorder
    /// in place: the listener made non-blocking and its runtime built.
    pub(crate) fn prepare(
        listener: std::net::TcpListener,
        limits: Limits,
        tls: Option<Arc<TlsServer>>,
    ) -> io::Result<Self> {
        listener.set_nonblocking(true)?;
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_io()
            .enable_time()
            .build()?;
        let listener = {
            let _entered = runtime.enter();
            TcpListener::from_std(listener)?
        };
        Ok(Standalone {
            listener,
            runtime,
            limits,
            tls,
        })
    }

    /// Serve on a thread of its own, for the life of the process.
    pub(crate) fn spawn(self) -> io::Result<()> {
        let Standalone {
            listener,
            runtime,
            limits,
            tls,
        } = self;
        std::thread::Builder::new()
            .name("instrument-metrics".into())
            .spawn(move || runtime.block_on(serve(listener, limits, tls)))
            .map(drop)
    }
}

/// Accept and serve connections; never returns.
async fn serve(listener: TcpListener, limits: Limits, tls: Option<Arc<TlsServer>>) {
    let router = crate::http::endpoint::metrics_router::<()>();
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut http = hyper::server::conn::http1::Builder::new();
    http.timer(TokioTimer::new())
        .header_read_timeout(limits.timeout)
        .max_buf_size(limits.max_head_bytes);
    let mut backoff = BACKOFF.0;
    let mut reported: Option<Instant> = None;
    loop {
        let slot = Arc::clone(&slots)
            .acquire_owned()
            .await
            .expect("the semaphore is never closed");
        let (stream, peer) = match listener.accept().await {
            Ok(accepted) => {
                backoff = BACKOFF.0;
                accepted
            }
            // The client gave up before it was accepted: nothing to wait for.
            Err(error) if is_per_connection(&error) => continue,
            Err(error) => {
                // Once a minute at most: a listener at its descriptor limit
                // fails, accepts and fails again many times a second.
                if reported.is_none_or(|at| at.elapsed() >= REPORT_EVERY) {
                    reported = Some(Instant::now());
                    crate::diagnostics::accept_failing(&error);
                }
                sleep(backoff).await;
                backoff = (backoff * 2).min(BACKOFF.1);
                continue;
            }
        };
        let _ = stream.set_nodelay(true);
        let router = router.clone();
        let service = hyper::service::service_fn(move |mut request: hyper::Request<_>| {
            request.extensions_mut().insert(ConnectInfo(peer));
            let mut router: Router = router.clone();
            router.call(request)
        });
        let stream = WriteDeadline::new(stream, limits.write_timeout);
        let http = http.clone();
        let tls = tls.clone();
        tokio::spawn(async move {
            // A client that sends garbage, fails its handshake or goes
            // silent ends here; the error is the client's, there is nothing
            // to report.
            match tls {
                None => {
                    let _ = http.serve_connection(TokioIo::new(stream), service).await;
                }
                #[cfg(feature = "tls")]
                Some(tls) => {
                    let acceptor = tokio_rustls::TlsAcceptor::from(tls.config());
                    if let Ok(Ok(stream)) =
                        tokio::time::timeout(limits.timeout, acceptor.accept(stream)).await
                    {
                        let _ = http.serve_connection(TokioIo::new(stream), service).await;
                    }
                }
                #[cfg(not(feature = "tls"))]
                Some(never) => match *never {},
            }
            drop(slot);
        });
    }
}

/// Errors of one pending connection, not of the listener.
fn is_per_connection(error: &io::Error) -> bool {
    matches!(
        error.kind(),
        io::ErrorKind::ConnectionAborted
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionRefused
            | io::ErrorKind::Interrupted
            | io::ErrorKind::WouldBlock
    )
}

/// A stream whose writes fail with `TimedOut` once one has made no progress
/// for the given time: a client that stops reading cannot hold its
/// connection (and the page queued for it) forever.
struct WriteDeadline {
    stream: TcpStream,
    timeout: Duration,
    /// Armed while a write is pending.
    stalled: Option<Pin<Box<Sleep>>>,
}

impl WriteDeadline {
    fn new(stream: TcpStream, timeout: Duration) -> Self {
        WriteDeadline {
            stream,
            timeout,
            stalled: None,
        }
    }

    fn on_write<T>(
        &mut self,
        cx: &mut Context<'_>,
        poll: Poll<io::Result<T>>,
    ) -> Poll<io::Result<T>> {
        if poll.is_ready() {
            self.stalled = None;
            return poll;
        }
        let timeout = self.timeout;
        let stalled = self
            .stalled
            .get_or_insert_with(|| Box::pin(tokio::time::sleep_until(Instant::now() + timeout)));
        ready!(stalled.as_mut().poll(cx));
        self.stalled = None;
        Poll::Ready(Err(io::Error::new(
            io::ErrorKind::TimedOut,
            "the client read nothing of its response within the timeout",
        )))
    }
}

impl AsyncRead for WriteDeadline {
    fn poll_read(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        Pin::new(&mut self.stream).poll_read(cx, buf)
    }
}

impl AsyncWrite for WriteDeadline {
    fn poll_write(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &[u8],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write(cx, buf);
        self.on_write(cx, poll)
    }

    fn poll_write_vectored(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let poll = Pin::new(&mut self.stream).poll_write_vectored(cx, bufs);
        self.on_write(cx, poll)
    }

    fn is_write_vectored(&self) -> bool {
        self.stream.is_write_vectored()
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_flush(cx);
        self.on_write(cx, poll)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let poll = Pin::new(&mut self.stream).poll_shutdown(cx);
        self.on_write(cx, poll)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn per_connection_errors_are_not_the_listeners() {
        assert!(is_per_connection(&io::Error::from(
            io::ErrorKind::ConnectionAborted
        )));
        // EMFILE and ENFILE: out of descriptors; back off, do not drop the
        // listener and do not spin.
        assert!(!is_per_connection(&io::Error::from_raw_os_error(24)));
        assert!(!is_per_connection(&io::Error::from_raw_os_error(23)));
    }
}
