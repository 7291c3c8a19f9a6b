//! Exemplars: the trace of the newest value recorded into a counter or a
//! histogram bucket of the store, shown on the OpenMetrics page as
//! `# {trace_id="..",span_id=".."} value timestamp`.
//!
//! Where the trace comes from is the application's choice, given at
//! install ([`Builder::exemplars`](crate::Builder::exemplars)): a function
//! that names the trace of the current call, or `None`. A series gets its
//! exemplar slots (one per counter, one per histogram bucket) at its first
//! value recorded in a trace; values recorded outside a trace cost one
//! call of that function and allocate nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::TraceContext;

/// The application's source of the current trace, set by a successful
/// install.
static SOURCE: OnceLock<fn() -> Option<TraceContext>> = OnceLock::new();

pub(crate) fn set_source(source: fn() -> Option<TraceContext>) {
    let _ = SOURCE.set(source);
}

/// The trace of the value being recorded, if the application names one.
#[inline]
pub(super) fn current() -> Option<TraceContext> {
    SOURCE.get().and_then(|source| source())
}

/// The wall clock, in Unix seconds, read as a monotonic clock's distance
/// from one wall-clock reading (one cheap clock read per exemplar).
fn now() -> f64 {
    static ANCHOR: OnceLock<(f64, quanta::Instant)> = OnceLock::new();
    let (wall, instant) = ANCHOR.get_or_init(|| {
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |since| since.as_secs_f64());
        (wall, quanta::Instant::now())
    });
    wall + instant.elapsed().as_secs_f64()
}

/// One exemplar, read from its slot.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Exemplar {
    pub(crate) trace: TraceContext,
    pub(crate) value: f64,
    /// Unix seconds.
    pub(crate) at: f64,
}

/// The newest exemplar of a counter or a bucket: a sequence lock over
/// atomics. A writer that finds the slot being written leaves it (the
/// other write is as new), so writers never wait.
#[derive(Debug, Default)]
struct Slot {
    /// Odd while a write is under way; 0 before the first.
    sequence: AtomicU64,
    trace_high: AtomicU64,
    trace_low: AtomicU64,
    span: AtomicU64,
    value: AtomicU64,
    at: AtomicU64,
}

impl Slot {
    fn write(&self, trace: TraceContext, value: f64) {
        let sequence = self.sequence.load(Ordering::Relaxed);
        if sequence % 2 == 1
            || self
                .sequence
                .compare_exchange(sequence, sequence + 1, Ordering::Acquire, Ordering::Relaxed)
                .is_err()
        {
            return;
        }
        self.trace_high
            .store((trace.trace_id() >> 64) as u64, Ordering::Relaxed);
        self.trace_low
            .store(trace.trace_id() as u64, Ordering::Relaxed);
        self.span.store(trace.span_id(), Ordering::Relaxed);
        self.value.store(value.to_bits(), Ordering::Relaxed);
        self.at.store(now().to_bits(), Ordering::Relaxed);
        self.sequence.store(sequence + 2, Ordering::Release);
    }

    fn read(&self) -> Option<Exemplar> {
        // A write takes nanoseconds; a reader that keeps meeting writes
        // gives up rather than hold up the page.
        for _ in 0..64 {
            let before = self.sequence.load(Ordering::Acquire);
            if before == 0 {
                return None;
            }
            if before % 2 == 1 {
                std::hint::spin_loop();
                continue;
            }
            let high = self.trace_high.load(Ordering::Relaxed);
            let low = self.trace_low.load(Ordering::Relaxed);
            let span = self.span.load(Ordering::Relaxed);
            let value = f64::from_bits(self.value.load(Ordering::Relaxed));
            let at = f64::from_bits(self.at.load(Ordering::Relaxed));
            std::sync::atomic::fence(Ordering::Acquire);
            if self.sequence.load(Ordering::Relaxed) == before {
                let trace = TraceContext::new((u128::from(high) << 64) | u128::from(low), span)?;
                return Some(Exemplar { trace, value, at });
            }
        }
        None
    }
}

/// The exemplar slots of one series: none until its first value recorded
/// in a trace.
#[derive(Debug, Default)]
pub(super) struct Exemplars(OnceLock<Box<[Slot]>>);

impl Exemplars {
    /// Keep `value` as the newest exemplar of slot `index` of `len`, when
    /// it was recorded in a trace.
    #[inline]
    pub(super) fn record(&self, len: usize, index: usize, value: f64) {
        if let Some(trace) = current() {
            self.keep(len, index, trace, value);
        }
    }

    #[inline(never)]
    fn keep(&self, len: usize, index: usize, trace: TraceContext, value: f64) {
        let slots = self
            .0
            .get_or_init(|| (0..len).map(|_| Slot::default()).collect());
        if let Some(slot) = slots.get(index) {
            slot.write(trace, value);
        }
    }

    /// The newest exemplar of slot `index`.
    pub(super) fn get(&self, index: usize) -> Option<Exemplar> {
        self.0.get()?.get(index)?.read()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_slot_holds_the_newest_exemplar() {
        let slot = Slot::default();
        assert_eq!(slot.read(), None);
        let first = TraceContext::new(1 << 100 | 7, 9).unwrap();
        slot.write(first, 0.25);
        let read = slot.read().expect("written");
        assert_eq!((read.trace, read.value), (first, 0.25));
        let second = TraceContext::new(u128::MAX, u64::MAX).unwrap();
        slot.write(second, 3.0);
        let read = slot.read().expect("written");
        assert_eq!((read.trace, read.value), (second, 3.0));
        let wall = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs_f64();
        assert!((read.at - wall).abs() < 5.0, "{} against {wall}", read.at);
    }

    #[test]
    fn concurrent_writes_never_mix_two_exemplars() {
        let slot = Slot::default();
        let traces: Vec<TraceContext> = (1..=4u64)
            .map(|n| TraceContext::new(u128::from(n) * 0x0101_0101, n).unwrap())
            .collect();
        std::thread::scope(|scope| {
            for (i, trace) in traces.iter().enumerate() {
                let slot = &slot;
                scope.spawn(move || {
                    for _ in 0..20_000 {
                        slot.write(*trace, i as f64);
                    }
                });
            }
            for _ in 0..20_000 {
                if let Some(read) = slot.read() {
                    let i = traces
                        .iter()
                        .position(|t| *t == read.trace)
                        .expect("one of the traces written");
                    assert_eq!(read.value, i as f64, "trace and value of one write");
                }
            }
        });
    }
}
