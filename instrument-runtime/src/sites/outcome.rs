//! The outcome of a call (`ok`, `error`, `panic`, `cancelled`), read from
//! the return value's type where the function is written, and the helpers
//! the generated code runs a body with.

use std::future::{Future, IntoFuture};
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::task::{Context, Poll};

/// The outcome of a call, as the `result` label reports it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Returned, and not an `Err`.
    Ok = 0,
    /// Returned an `Err`.
    Error = 1,
    /// Panicked.
    Panic = 2,
    /// The future was dropped before it completed.
    Cancelled = 3,
}

impl Outcome {
    pub(super) const LABELS: [&'static str; 4] = ["ok", "error", "panic", "cancelled"];

    /// The outcome of a call whose guard is dropped before it returned:
    /// a panic if one is unwinding through the call's own code (`own`: set
    /// while a synchronous body runs, and by a panic through a poll of an
    /// async one), otherwise a cancellation (including a future dropped
    /// while a sibling panics).
    pub(super) fn unfinished(own: &AtomicBool) -> Outcome {
        if own.load(Ordering::Relaxed) && std::thread::panicking() {
            Outcome::Panic
        } else {
            Outcome::Cancelled
        }
    }
}

pub(super) fn exit_outcome(ok: bool) -> Outcome {
    if ok {
        Outcome::Ok
    } else {
        Outcome::Error
    }
}

/// The outcome a guard set with `exits` reports when dropped without
/// `returned`: that outcome, unless the call is unwinding from a panic or
/// is suspended at an `.await` (`own` cleared by [`suspending`]: the future
/// was dropped there). (A call made while another panic unwinds, from a
/// `Drop`, cannot tell and reports the exit.)
#[inline]
pub(super) fn exited<T>(exited: Option<T>, own: &AtomicBool) -> Option<T> {
    exited.filter(|_| !std::thread::panicking() && own.load(Ordering::Relaxed))
}

/// Wraps a return value so the probe traits can tell `Result`s from
/// everything else (autoref specialisation, resolved where the concrete type
/// is known).
pub struct Probe<'a, T: ?Sized>(pub &'a T);

/// Probe for `Result<T, E>`: `Err` is an error, named by `E`'s type name.
pub trait ProbeResult {
    /// `Err(type name of E)` for an `Err`, `Ok(())` otherwise.
    fn __instrument_outcome(&self) -> Result<(), &'static str>;
}

impl<T, E> ProbeResult for Probe<'_, Result<T, E>> {
    #[inline]
    fn __instrument_outcome(&self) -> Result<(), &'static str> {
        match self.0 {
            Ok(_) => Ok(()),
            Err(_) => Err(std::any::type_name::<E>()),
        }
    }
}

/// The outcome of a call that left through `?` (or a `return` inside a
/// macro), where only the declared return type is known: an error, named
/// by `E`'s type name, for a `Result<T, E>`; a success otherwise.
pub struct ExitProbe<T>(PhantomData<fn() -> T>);

impl<T> ExitProbe<T> {
    /// The probe of the declared return type `T`.
    #[inline]
    #[must_use]
    pub const fn new() -> Self {
        ExitProbe(PhantomData)
    }
}

impl<T> Default for ExitProbe<T> {
    fn default() -> Self {
        Self::new()
    }
}

impl<T, E> ProbeResult for ExitProbe<Result<T, E>> {
    #[inline]
    fn __instrument_outcome(&self) -> Result<(), &'static str> {
        Err(std::any::type_name::<E>())
    }
}

impl<T> ProbeOther for &ExitProbe<T> {
    #[inline]
    fn __instrument_outcome(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// Probe for every other type: always a success.
pub trait ProbeOther {
    /// Always `Ok(())`.
    fn __instrument_outcome(&self) -> Result<(), &'static str>;
}

impl<T: ?Sized> ProbeOther for &Probe<'_, T> {
    #[inline]
    fn __instrument_outcome(&self) -> Result<(), &'static str> {
        Ok(())
    }
}

/// The error of a `Result`, for a user-supplied `error_type` function.
#[inline]
pub fn err_of<T, E>(value: &Result<T, E>) -> Option<&E> {
    value.as_ref().err()
}

/// `future`, with the guard's flag `unwinding` set if a panic unwinds
/// through one of its polls, so a guard dropped during unwinding can tell a
/// panic in its own body (flag set) from being dropped, unfinished, while
/// something else panics. The flag is cleared here, once: a poll that
/// returns writes nothing.
#[inline]
pub fn polled<F: Future>(unwinding: &AtomicBool, future: F) -> Polled<'_, F> {
    suspended(unwinding);
    Polled { unwinding, future }
}

/// The call's own code is not running: a guard dropped from now on, before
/// a poll panics, was dropped by someone else.
#[inline]
pub fn suspended(unwinding: &AtomicBool) {
    unwinding.store(false, Ordering::Relaxed);
}

pin_project_lite::pin_project! {
    /// The future of [`polled`]: a poll of the body, and a flag set only if
    /// a panic unwinds through it.
    pub struct Polled<'a, F> {
        unwinding: &'a AtomicBool,
        #[pin]
        future: F,
    }
}

/// Sets the flag when dropped: only while a panic unwinds through a poll,
/// since a poll that returns forgets it.
struct Unwinding<'a>(&'a AtomicBool);

impl Drop for Unwinding<'_> {
    #[inline]
    fn drop(&mut self) {
        self.0.store(true, Ordering::Relaxed);
    }
}

impl<F: Future> Future for Polled<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        let unwinding = Unwinding(this.unwinding);
        let poll = this.future.poll(cx);
        std::mem::forget(unwinding);
        poll
    }
}

/// `future`, awaited by an async body that runs in place: the guard's flag
/// `own` is cleared while the future is pending, so a guard dropped then
/// knows the call was cancelled at this `.await`, and set again when it is
/// polled, so a panic in the awaited future is the call's own.
#[inline]
pub fn suspending<F: IntoFuture>(own: &AtomicBool, future: F) -> Suspending<'_, F::IntoFuture> {
    Suspending {
        own,
        future: future.into_future(),
    }
}

pin_project_lite::pin_project! {
    /// The future of [`suspending`].
    pub struct Suspending<'a, F> {
        own: &'a AtomicBool,
        #[pin]
        future: F,
    }
}

impl<F: Future> Future for Suspending<'_, F> {
    type Output = F::Output;

    #[inline(always)]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<F::Output> {
        let this = self.project();
        this.own.store(true, Ordering::Relaxed);
        let poll = this.future.poll(cx);
        if poll.is_pending() {
            this.own.store(false, Ordering::Relaxed);
        }
        poll
    }
}

/// Call `f` once with `args`: the function's arguments, which the body's
/// closure takes as its parameters so that they are dropped after the
/// body's locals and its tail's temporaries, as a function's are.
#[inline(always)]
pub fn call_with<A, R>(args: A, f: impl FnOnce(A) -> R) -> R {
    f(args)
}

/// Call `f` once. Passing the body as an `FnOnce` (rather than calling a
/// closure in place) lets it move out of captured arguments and return
/// borrows derived from them, exactly as the function body could.
#[inline(always)]
pub fn call_once<R>(f: impl FnOnce() -> R) -> R {
    f()
}
