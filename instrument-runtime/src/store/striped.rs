//! Counters and histograms that stay one atomic until threads contend on
//! them, then spread over cells of their own, one per core, summed when the
//! page is rendered: the design of Java's `LongAdder`.
//!
//! A series starts as one `AtomicU64` (a histogram: its buckets and sum).
//! A counter is added to with one `fetch_add`, as an unstriped counter is,
//! and the total is read just before: when the add takes it past a
//! multiple of 64 it is read again after the add, and a total that moved in
//! between means another core writes it too. (A condition on the `fetch_add`'s
//! result would make every add wait for that result: 20% more per add on
//! one thread.) A
//! histogram's sum is added with a compare-and-swap, and a swap that fails
//! means the same. Either gives the series its cells: a cache line per
//! thread slot, `cells()` of them, and from then on each thread writes the
//! cell of its slot. Slots are handed out in the order threads first
//! write a contended series and never given back, so a pool of up to
//! `cells()` threads started together writes as many lines; threads that
//! come and go in between can leave two long-lived ones on one slot, which
//! then share a line as all threads did before. A counter that several
//! threads write only now and then (where the line moving costs little) is
//! rarely caught in the act and mostly stays one atomic; a histogram
//! spreads at its first failed swap, so on a large machine most busy
//! histograms will have their cells (the worst case below). A read adds the
//! base and every cell: each part only grows, so a scrape never sees a
//! total lower than an earlier scrape saw.
//!
//! Memory (64-bit): an uncontended counter is 32 bytes (8 for the count,
//! 24 for the cells' empty slot), a histogram's counts 48 bytes plus 8 per
//! bucket; a contended counter adds `cells()` lines of 128 bytes (256 bytes
//! on 2 cores, 8 KiB on 64 or more), a contended histogram
//! `cells() * ceil((buckets + 1) / 16)` lines (the 16 default bounds,
//! `+Inf` and the sum: two lines per cell, 512 bytes on 2 cores).

use std::cell::Cell;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::OnceLock;

/// Slots per cache line (and cell granularity): 16 `u64`s, 128 bytes, the
/// unit that adjacent-line prefetching moves on x86 and the line size of
/// Apple's cores.
const SLOTS: usize = 16;

/// One cache line of counts, aligned so that no two cells share a line.
#[repr(align(128))]
#[derive(Debug, Default)]
pub(super) struct Line([AtomicU64; SLOTS]);

/// The number of cells of a contended series: the cores this process may
/// run on, rounded up to a power of two, at most 64.
pub(super) fn cells() -> usize {
    static CELLS: OnceLock<usize> = OnceLock::new();
    *CELLS.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, usize::from)
            .next_power_of_two()
            .min(64)
    })
}

/// This thread's slot, below `cells()`: threads take slots in the order
/// they first write a contended series, so a pool of up to `cells()`
/// threads writes `cells()` different lines.
#[inline]
fn slot() -> usize {
    static NEXT: AtomicUsize = AtomicUsize::new(0);
    thread_local! {
        static SLOT: Cell<usize> = const { Cell::new(usize::MAX) };
    }
    SLOT.with(|slot| {
        let mut value = slot.get();
        if value == usize::MAX {
            value = NEXT.fetch_add(1, Ordering::Relaxed) & (cells() - 1);
            slot.set(value);
        }
        value
    })
}

/// `lines` cache lines of zeros.
fn lines(lines: usize) -> Box<[Line]> {
    (0..lines).map(|_| Line::default()).collect()
}

/// Add `value` to this thread's cell. Out of line, so that the path of an
/// uncontended series (one `fetch_add`) saves no registers for the
/// thread-local slot.
#[inline(never)]
fn add_to_cell(cells: &[Line], value: u64) {
    cells[slot()].0[0].fetch_add(value, Ordering::Relaxed);
}

/// A counter series.
#[derive(Debug, Default)]
pub(super) struct Counter {
    base: AtomicU64,
    cells: OnceLock<Box<[Line]>>,
}

impl Counter {
    #[inline]
    pub(super) fn add(&self, value: u64) {
        if let Some(cells) = self.cells.get() {
            return add_to_cell(cells, value);
        }
        // The total is read before the add, and when the add takes it past
        // a multiple of 64, read again after it: another total than ours
        // means another thread wrote in between. The branch waits for the
        // plain read, not for the `fetch_add`'s result.
        let seen = self.base.load(Ordering::Relaxed);
        self.base.fetch_add(value, Ordering::Relaxed);
        if (seen % 64).saturating_add(value) >= 64
            && self.base.load(Ordering::Relaxed) != seen.wrapping_add(value)
        {
            self.contended();
        }
    }

    #[cold]
    #[inline(never)]
    fn contended(&self) {
        self.cells.get_or_init(|| lines(cells()));
    }

    /// Raise the total to `value` if it is lower (`metrics`' `absolute`).
    /// Striped, the difference goes to the base with a compare-and-swap
    /// against the base the total was read with, so two raises at once
    /// leave the larger value, never their sum; an increment made
    /// meanwhile counts as made after the raise.
    pub(super) fn raise_to(&self, value: u64) {
        if self.cells.get().is_none() {
            self.base.fetch_max(value, Ordering::Relaxed);
        }
        // Striped (or striped meanwhile: the loop then settles it).
        while self.cells.get().is_some() {
            let base = self.base.load(Ordering::Relaxed);
            let total = base.wrapping_add(self.cells_total());
            if value <= total {
                return;
            }
            let raised = base.wrapping_add(value - total);
            let swapped =
                self.base
                    .compare_exchange(base, raised, Ordering::Relaxed, Ordering::Relaxed);
            if swapped.is_ok() {
                return;
            }
        }
    }

    /// What the cells hold, 0 before there are any.
    fn cells_total(&self) -> u64 {
        self.cells.get().map_or(0, |cells| {
            cells
                .iter()
                .map(|line| line.0[0].load(Ordering::Relaxed))
                .fold(0, u64::wrapping_add)
        })
    }

    /// The total: the base and every cell.
    pub(super) fn get(&self) -> u64 {
        let cells = self.cells_total();
        self.base.load(Ordering::Relaxed).wrapping_add(cells)
    }

    /// Whether the series has spread over cells.
    #[cfg(test)]
    pub(super) fn is_striped(&self) -> bool {
        self.cells.get().is_some()
    }
}

/// A histogram's counts: per-bucket counts (not cumulative) and the sum's
/// bits, in the base and, once contended, in one cell per slot.
#[derive(Debug)]
pub(super) struct Buckets {
    /// `len` bucket counts.
    base: Box<[AtomicU64]>,
    sum: AtomicU64,
    /// `cells()` cells of `stride` lines: the buckets' counts, then the sum.
    cells: OnceLock<Box<[Line]>>,
}

impl Buckets {
    pub(super) fn new(len: usize) -> Buckets {
        Buckets {
            base: (0..len).map(|_| AtomicU64::new(0)).collect(),
            sum: AtomicU64::new(0f64.to_bits()),
            cells: OnceLock::new(),
        }
    }

    /// Lines per cell: the counts and the sum.
    fn stride(&self) -> usize {
        (self.base.len() + 1).div_ceil(SLOTS)
    }

    /// Slot `index` of cell `cell` (the sum is slot `base.len()`).
    #[inline]
    fn at<'a>(&self, cells: &'a [Line], cell: usize, index: usize) -> &'a AtomicU64 {
        let flat = cell * self.stride() * SLOTS + index;
        &cells[flat / SLOTS].0[flat % SLOTS]
    }

    /// One observation of `value`, which falls in bucket `index`.
    #[inline]
    pub(super) fn record(&self, index: usize, value: f64) {
        if let Some(cells) = self.cells.get() {
            self.record_in(cells, index, value);
            return;
        }
        self.base[index].fetch_add(1, Ordering::Relaxed);
        let bits = self.sum.load(Ordering::Relaxed);
        let swapped = self.sum.compare_exchange(
            bits,
            (f64::from_bits(bits) + value).to_bits(),
            Ordering::Relaxed,
            Ordering::Relaxed,
        );
        if swapped.is_err() {
            self.contended(value);
        }
    }

    /// The sum of an observation whose count is already in the base, added
    /// to this thread's cell: the series is contended from now on.
    #[cold]
    #[inline(never)]
    fn contended(&self, value: f64) {
        let cells = self.cells.get_or_init(|| lines(cells() * self.stride()));
        add_f64(self.at(cells, slot(), self.base.len()), value);
    }

    #[inline]
    fn record_in(&self, cells: &[Line], index: usize, value: f64) {
        let cell = slot();
        self.at(cells, cell, index).fetch_add(1, Ordering::Relaxed);
        add_f64(self.at(cells, cell, self.base.len()), value);
    }

    /// Each bucket's count (not cumulative) and the sum.
    pub(super) fn read(&self) -> (Vec<u64>, f64) {
        let mut counts: Vec<u64> = self
            .base
            .iter()
            .map(|count| count.load(Ordering::Relaxed))
            .collect();
        let mut sum = f64::from_bits(self.sum.load(Ordering::Relaxed));
        if let Some(cells) = self.cells.get() {
            for cell in 0..cells.len() / self.stride() {
                for (index, count) in counts.iter_mut().enumerate() {
                    *count =
                        count.wrapping_add(self.at(cells, cell, index).load(Ordering::Relaxed));
                }
                sum += f64::from_bits(
                    self.at(cells, cell, self.base.len())
                        .load(Ordering::Relaxed),
                );
            }
        }
        (counts, sum)
    }

    /// Whether the series has spread over cells.
    #[cfg(test)]
    pub(super) fn is_striped(&self) -> bool {
        self.cells.get().is_some()
    }
}

/// Add `value` to the `f64` whose bits `slot` holds.
#[inline]
pub(super) fn add_f64(slot: &AtomicU64, value: f64) {
    let _ = slot.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |bits| {
        Some((f64::from_bits(bits) + value).to_bits())
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two threads adding at once until the counter spreads.
    fn contend(add: impl Fn() + Sync, striped: impl Fn() -> bool + Sync) -> u64 {
        let rounds = AtomicU64::new(0);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    let mut n = 0;
                    while !striped() || n < 10_000 {
                        add();
                        n += 1;
                        assert!(n < 100_000_000, "never contended");
                    }
                    rounds.fetch_add(n, Ordering::Relaxed);
                });
            }
        });
        rounds.into_inner()
    }

    /// A counter that two threads added `add` to until it spread, and the
    /// number of adds; `None` on a machine with one cell.
    fn striped_counter(add: u64) -> Option<(Counter, u64)> {
        if cells() < 2 {
            return None;
        }
        let counter = Counter::default();
        let calls = contend(|| counter.add(add), || counter.is_striped());
        Some((counter, calls))
    }

    #[test]
    #[cfg(target_pointer_width = "64")]
    fn memory_per_series() {
        // The base and the cells' empty slot; the documented figures.
        assert_eq!(std::mem::size_of::<Counter>(), 32);
        assert_eq!(std::mem::size_of::<Buckets>(), 48);
        assert_eq!(std::mem::size_of::<Line>(), 128);
        assert_eq!(std::mem::align_of::<Line>(), 128);
    }

    #[test]
    fn an_uncontended_counter_has_no_cells() {
        let counter = Counter::default();
        for _ in 0..1000 {
            counter.add(3);
        }
        assert_eq!(counter.get(), 3000);
        assert!(!counter.is_striped());
        counter.raise_to(5000);
        counter.raise_to(10);
        assert_eq!(counter.get(), 5000);
    }

    #[test]
    fn a_contended_counter_spreads_and_stays_exact() {
        let Some((counter, calls)) = striped_counter(2) else {
            return;
        };
        assert!(counter.is_striped());
        assert_eq!(counter.get(), calls * 2);
        counter.raise_to(calls * 2 + 5);
        assert_eq!(counter.get(), calls * 2 + 5);
    }

    #[test]
    fn a_contended_histogram_spreads_and_stays_exact() {
        if cells() < 2 {
            return;
        }
        // 40 buckets: three lines per cell.
        let buckets = Buckets::new(40);
        let calls = contend(|| buckets.record(39, 0.5), || buckets.is_striped());
        buckets.record(0, 1.0);
        let (counts, sum) = buckets.read();
        assert_eq!(counts[39], calls);
        assert_eq!(counts[0], 1);
        assert_eq!(counts.iter().sum::<u64>(), calls + 1);
        assert_eq!(sum, calls as f64 * 0.5 + 1.0);
    }

    #[test]
    fn two_raises_at_once_leave_the_larger_value() {
        let Some((counter, calls)) = striped_counter(1) else {
            return;
        };
        let top = calls + 2_000_000;
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    for value in calls..=top {
                        counter.raise_to(value);
                    }
                });
            }
        });
        assert_eq!(counter.get(), top);
    }

    #[test]
    fn reads_never_go_down_while_threads_add() {
        let Some((counter, _)) = striped_counter(1) else {
            return;
        };
        let done = std::sync::atomic::AtomicBool::new(false);
        std::thread::scope(|scope| {
            for _ in 0..2 {
                scope.spawn(|| {
                    while !done.load(Ordering::Relaxed) {
                        counter.add(1);
                    }
                });
            }
            let mut last = 0;
            for _ in 0..100_000 {
                let now = counter.get();
                assert!(now >= last, "{now} after {last}");
                last = now;
            }
            done.store(true, Ordering::Relaxed);
        });
    }
}
