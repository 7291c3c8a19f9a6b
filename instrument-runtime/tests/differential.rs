//! Differential test: the macros never change what a function does.
//!
//! One corpus of functions, written once in [`corpus!`], is generated in six
//! modules: `plain` (no attribute), `counted`, `timed`, `model_op`,
//! `cache_lookup` (on the functions returning `Option` or
//! `Result<Option, _>`; the others plain) and `stacked` (`#[counted]
//! #[timed] #[model_op]`, plus `#[cache_lookup]` where it applies). The same
//! cases, written once in [`observe!`], call every module's functions with
//! the same inputs and record what happened: the returned value (its
//! `Debug`), whether it panicked and with which message and where, the
//! order in which the arguments and locals were dropped, and for
//! `#[track_caller]` functions the location they report. Every variant must
//! match the plain module case by case.
//!
//! Then the exposition is scraped, and the counts must be exact: each
//! `#[counted]` function's `function_calls_total{function, module, result}`
//! equals the calls made with that outcome (by the rules of the crate docs,
//! "What the macros keep"), each `#[timed]` function's
//! `function_calls_duration_seconds_count` equals its calls, and so on for
//! `#[model_op]` and `#[cache_lookup]`.
//!
//! A difference fails `every_annotated_function_behaves_as_the_plain_one`
//! with `MACRO BUG` and every differing case, plain and annotated side by
//! side, except those listed in [`KNOWN`] (not fixed yet), which must still
//! differ.
//!
//! The binary is its own: every call site in it takes part in `install()`,
//! and only the cases here call the corpus, once (see [`runs`]), so the
//! counts are known exactly.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fmt;
use std::future::Future;
use std::num::ParseIntError;
use std::panic::{self, AssertUnwindSafe, Location};
use std::pin::{pin, Pin};
use std::sync::OnceLock;
use std::task::{Context, Poll, Waker};

use instrument_runtime::{cache_lookup, counted, model_op, timed, Metrics};

// ---------------------------------------------------------------------------
// What the corpus uses and what the cases observe with
// ---------------------------------------------------------------------------

thread_local! {
    /// What the current case did, in order: drops and explicit entries.
    static LOG: RefCell<Vec<String>> = const { RefCell::new(Vec::new()) };
    /// Set while a case runs: its panics are recorded, not printed.
    static CAPTURING: Cell<bool> = const { Cell::new(false) };
    /// Where the last captured panic happened (file, line, column).
    static PANICKED_AT: RefCell<Option<(String, u32, u32)>> = const { RefCell::new(None) };
    /// The current case's call site and the corpus site of the module it
    /// calls, for [`place`].
    static SITES: Cell<Option<(&'static Location<'static>, &'static Location<'static>)>> =
        const { Cell::new(None) };
}

/// Append an entry to the current case's log.
fn log(entry: impl Into<String>) {
    LOG.with(|log| log.borrow_mut().push(entry.into()));
}

/// The current case's log, emptied.
fn take_log() -> Vec<String> {
    LOG.with(|log| std::mem::take(&mut *log.borrow_mut()))
}

/// A value that logs `drop <name>` when dropped.
#[derive(Debug)]
struct Noisy(&'static str);

impl Drop for Noisy {
    fn drop(&mut self) {
        log(format!("drop {}", self.0));
    }
}

/// The location of its caller. Called next to a `#[track_caller]`
/// function, in the same expansion, it says where that function must say
/// it was called from.
#[track_caller]
fn here() -> &'static Location<'static> {
    Location::caller()
}

/// Where `location` is, relative to the current case: `the call site`, `the
/// function's module` (the `corpus!` invocation that wrote it: any code of
/// the corpus reports that line), or the raw location.
fn place(location: &Location<'_>) -> String {
    place_of(location.file(), location.line(), location.column())
}

/// [`place`] of a file, line and column.
fn place_of(file: &str, line: u32, column: u32) -> String {
    let (call, module) = SITES
        .with(Cell::get)
        .expect("place() is only called while a case runs");
    let is =
        |site: &Location<'_>| site.file() == file && (site.line(), site.column()) == (line, column);
    if is(call) {
        "the call site".to_owned()
    } else if is(module) {
        "the function's module".to_owned()
    } else {
        format!("{file}:{line}:{column}")
    }
}

/// A panic's message: its `&str` or `String` payload, or the `u32` of
/// `panic_any`.
fn message(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(text) = payload.downcast_ref::<&str>() {
        format!("{text:?}")
    } else if let Some(text) = payload.downcast_ref::<String>() {
        format!("{text:?}")
    } else if let Some(number) = payload.downcast_ref::<u32>() {
        format!("u32 payload {number}")
    } else {
        "a payload of another type".to_owned()
    }
}

/// Route the panics of cases into [`PANICKED_AT`], silently; any other
/// panic (a failing assertion) goes to the default hook.
fn capture_panics() {
    let default = panic::take_hook();
    panic::set_hook(Box::new(move |info| {
        if CAPTURING.with(Cell::get) {
            let at = info
                .location()
                .map(|l| (l.file().to_owned(), l.line(), l.column()));
            PANICKED_AT.with(|p| *p.borrow_mut() = at);
        } else {
            default(info);
        }
    }));
}

/// A future that is pending once, then ready: an `.await` that suspends.
#[derive(Default)]
struct YieldOnce(bool);

impl Future for YieldOnce {
    type Output = ();

    fn poll(mut self: Pin<&mut Self>, _: &mut Context<'_>) -> Poll<()> {
        if self.0 {
            Poll::Ready(())
        } else {
            self.0 = true;
            Poll::Pending
        }
    }
}

/// Poll a future to completion with a no-op waker.
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut context = Context::from_waker(Waker::noop());
    for _ in 0..100 {
        if let Poll::Ready(value) = future.as_mut().poll(&mut context) {
            return value;
        }
    }
    panic!("the future was not ready after 100 polls")
}

/// Poll a future once, then drop it: what the poll gave.
fn poll_once_then_drop<F: Future>(future: F) -> String
where
    F::Output: fmt::Debug,
{
    let mut future = Box::pin(future);
    let mut context = Context::from_waker(Waker::noop());
    let polled = future.as_mut().poll(&mut context);
    drop(future);
    format!("{polled:?}")
}

fn never_returns() -> ! {
    panic!("never returns")
}

fn double(x: u32) -> u32 {
    x * 2
}

fn triple(x: u32) -> u32 {
    x * 3
}

#[derive(Clone, Copy, Debug)]
struct Point {
    x: i32,
    y: i32,
}

#[derive(Debug, PartialEq)]
enum AppError {
    NotFound(u32),
    Invalid,
}

/// A user macro that returns `Err` early when the option is `None`.
macro_rules! ensure_some {
    ($value:expr, $error:expr) => {
        match $value {
            Some(value) => value,
            None => return Err($error),
        }
    };
}

/// A user macro that returns `Ok` early when the condition holds.
macro_rules! return_ok_if {
    ($condition:expr, $value:expr) => {
        if $condition {
            return Ok($value);
        }
    };
}

/// A user macro that returns `()` early when the option is `None`.
macro_rules! or_return {
    ($value:expr) => {
        match $value {
            Some(value) => value,
            None => return,
        }
    };
}

// ---------------------------------------------------------------------------
// The corpus, written once
// ---------------------------------------------------------------------------

/// The corpus: `all` are the attributes every function gets, `cache` those
/// of the functions that return `Option<T>` or `Result<Option<T>, E>`.
macro_rules! corpus {
    (all: [$($all:tt)*], cache: [$($cache:tt)*], lookup: [$($backend:literal)?]) => {
        #[allow(unused_imports)]
        use super::*;

        /// Where this module's corpus is written: every location inside its
        /// functions reports this line and column.
        pub(crate) fn corpus_site() -> &'static Location<'static> {
            here()
        }

        // --- early `return` with coercion to the declared type ---

        $($all)*
        #[allow(clippy::ptr_arg)]
        pub(crate) fn coerce_string_ref(s: &String, early: bool) -> &str {
            if early {
                return s;
            }
            &s[1..]
        }

        $($all)*
        pub(crate) fn coerce_box_dyn(early: bool) -> Box<dyn fmt::Display> {
            if early {
                return Box::new(7u8);
            }
            Box::new("tail")
        }

        $($all)*
        pub(crate) fn coerce_fn_item(early: bool) -> fn(u32) -> u32 {
            if early {
                return double;
            }
            triple
        }

        $($all)*
        pub(crate) fn coerce_with_try(s: &str) -> Result<Box<dyn fmt::Display>, ParseIntError> {
            let n: u8 = s.parse()?;
            if n > 9 {
                return Ok(Box::new(n));
            }
            Ok(Box::new("small"))
        }

        $($all)*
        pub(crate) fn coerce_fn_item_try(s: &str) -> Result<fn(u32) -> u32, ParseIntError> {
            let n: u8 = s.parse()?;
            if n == 2 {
                return Ok(double);
            }
            Ok(triple)
        }

        $($all)*
        pub(crate) fn coerce_mut_ref(values: &mut Vec<u32>) -> &[u32] {
            if values.is_empty() {
                return values;
            }
            values.push(1);
            values
        }

        $($all)*
        pub(crate) fn coerce_boxed_slice(early: bool) -> Box<[u32]> {
            if early {
                return Box::new([1, 2]);
            }
            vec![3].into_boxed_slice()
        }

        $($all)*
        pub(crate) fn coerce_dyn_iterator<'a>(values: &'a [u32], reverse: bool) -> Box<dyn Iterator<Item = &'a u32> + 'a> {
            if reverse {
                return Box::new(values.iter().rev());
            }
            Box::new(values.iter())
        }

        // --- closures typed by the signature ---

        $($all)*
        pub(crate) fn closure_impl_fn() -> impl Fn(&str) -> &str {
            |s| s.trim()
        }

        $($all)*
        pub(crate) fn closure_box_dyn(early: bool) -> Box<dyn Fn(&str) -> &str> {
            if early {
                return Box::new(|s| s.trim_start());
            }
            Box::new(|s| s.trim_end())
        }

        $($all)*
        pub(crate) fn closure_box_dyn_try(skip: &str) -> Result<Box<dyn Fn(&str) -> &str>, ParseIntError> {
            let n: usize = skip.parse()?;
            Ok(Box::new(move |s| s.get(n..).unwrap_or("")))
        }

        // --- `?` on Result and Option ---

        $($all)*
        pub(crate) fn try_result(a: &str, b: &str) -> Result<u32, ParseIntError> {
            Ok(a.parse::<u32>()? + b.parse::<u32>()?)
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn try_option(values: &[u32]) -> Option<u32> {
            Some(values.first()? + values.last()?)
        }

        $($all)*
        pub(crate) fn try_convert(s: &str) -> Result<u8, Box<dyn std::error::Error>> {
            let n: u32 = s.parse()?;
            Ok(u8::try_from(n)?)
        }

        $($all)*
        pub(crate) fn try_in_closure(a: &str) -> Result<u32, ParseIntError> {
            let parse = |s: &str| -> Result<u32, ParseIntError> { Ok(s.parse::<u32>()? * 2) };
            parse(a)
        }

        // --- #[track_caller] ---

        $($all)*
        #[track_caller]
        pub(crate) fn caller_early(early: bool) -> (bool, &'static Location<'static>) {
            if early {
                return (true, Location::caller());
            }
            (false, Location::caller())
        }

        $($all)*
        #[track_caller]
        pub(crate) fn caller_try(s: &str) -> Result<(u32, &'static Location<'static>), ParseIntError> {
            let n: u32 = s.parse()?;
            Ok((n, Location::caller()))
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        #[track_caller]
        pub(crate) fn caller_try_option(value: Option<u32>) -> Option<(u32, &'static Location<'static>)> {
            let n = value?;
            Some((n, Location::caller()))
        }

        $($all)*
        #[track_caller]
        pub(crate) fn caller_unwrap(s: &str) -> u32 {
            s.parse().unwrap()
        }

        $($all)*
        #[track_caller]
        pub(crate) fn caller_assert(n: u32) -> u32 {
            assert!(n > 0, "n must be positive");
            n
        }

        $($all)*
        #[track_caller]
        pub(crate) fn caller_user_macro(value: Option<u32>) -> Result<(u32, &'static Location<'static>), String> {
            let n = ensure_some!(value, "missing".to_owned());
            Ok((n, Location::caller()))
        }

        $($all)*
        #[track_caller]
        pub(crate) fn caller_macro_ok(early: bool) -> Result<u32, String> {
            return_ok_if!(early, 1);
            Ok(2)
        }

        // --- argument drop order ---

        $($all)*
        pub(crate) fn drops_in_place(a: Noisy, _b: Noisy) -> usize {
            let _local = Noisy("local");
            a.0.len()
        }

        $($all)*
        pub(crate) fn drops_with_try(a: Noisy, _b: Noisy, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            Ok(n + a.0.len())
        }

        $($all)*
        pub(crate) fn drops_wild(a: Noisy, _: Noisy, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            Ok(n + a.0.len())
        }

        $($all)*
        pub(crate) fn drops_pattern((a, b): (Noisy, Noisy), c: Noisy, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            Ok(n + a.0.len() + b.0.len() + c.0.len())
        }

        $($all)*
        #[allow(clippy::toplevel_ref_arg)]
        pub(crate) fn drops_ref_binding(ref a: Noisy, b: Noisy, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            Ok(n + a.0.len() + b.0.len())
        }

        $($all)*
        pub(crate) fn drops_mut(mut a: Noisy, n: &str) -> Result<&'static str, ParseIntError> {
            a.0 = "renamed";
            let _n: u32 = n.parse()?;
            Ok(a.0)
        }

        $($all)*
        pub(crate) fn drops_on_panic(a: Noisy, _b: Noisy) -> u32 {
            let _local = Noisy("local");
            if a.0 == "a" {
                panic!("unwinding with {}", a.0);
            }
            7
        }

        $($all)*
        pub(crate) fn drops_tail_temporary(a: Noisy) -> usize {
            let _local = Noisy("local");
            Noisy("temporary").0.len() + a.0.len()
        }

        $($all)*
        pub(crate) fn drops_tail_temporary_try(a: Noisy, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            Ok(Noisy("temporary").0.len() + n + a.0.len())
        }

        $($all)*
        pub(crate) fn drops_unit(a: Noisy, _b: Noisy) {
            let _local = Noisy("local");
            log(a.0);
        }

        $($all)*
        pub(crate) fn drops_return_temporary(a: Noisy, early: bool) -> usize {
            let _local = Noisy("local");
            if early {
                return Noisy("temporary").0.len();
            }
            a.0.len()
        }

        // --- panics ---

        $($all)*
        pub(crate) fn panic_message(message: &str) -> usize {
            if message.is_empty() {
                return 0;
            }
            panic!("{message}")
        }

        $($all)*
        pub(crate) fn panic_in_try(s: &str) -> Result<u32, ParseIntError> {
            let n: u32 = s.parse()?;
            if n == 0 {
                panic!("zero is not allowed");
            }
            Ok(100 / n)
        }

        $($all)*
        pub(crate) fn panic_payload(n: u32) -> u32 {
            if n > 0 {
                std::panic::panic_any(n);
            }
            n
        }

        $($all)*
        pub(crate) fn panic_expect(value: Option<u32>) -> u32 {
            value.expect("a value")
        }

        $($all)*
        pub(crate) fn panic_divide(a: u32, b: u32) -> u32 {
            a / b
        }

        // --- generics, lifetimes, const generics, where clauses ---

        $($all)*
        pub(crate) fn generic_max<T: PartialOrd>(a: T, b: T) -> T {
            if a >= b {
                return a;
            }
            b
        }

        $($all)*
        pub(crate) fn generic_parse<T: std::str::FromStr>(s: &str) -> Result<T, T::Err> {
            let value = s.trim().parse::<T>()?;
            Ok(value)
        }

        $($all)*
        pub(crate) fn generic_identity<T>(value: T) -> T {
            value
        }

        $($all)*
        pub(crate) fn generic_where<I>(items: I) -> Vec<String>
        where
            I: IntoIterator,
            I::Item: fmt::Display,
        {
            items.into_iter().map(|item| item.to_string()).collect()
        }

        $($all)*
        pub(crate) fn generic_const<const N: usize>(values: [u32; N]) -> u32 {
            values.iter().sum::<u32>() * N as u32
        }

        $($all)*
        pub(crate) fn generic_const_try<const N: usize>(values: [&str; N]) -> Result<[u32; N], ParseIntError> {
            let mut out = [0; N];
            for (slot, value) in out.iter_mut().zip(values) {
                *slot = value.parse()?;
            }
            Ok(out)
        }

        $($all)*
        pub(crate) fn generic_impl_arg(items: impl IntoIterator<Item = u32>) -> u32 {
            items.into_iter().max().unwrap_or(0)
        }

        $($all)*
        pub(crate) fn generic_lifetimes<'a, 'b: 'a>(x: &'a str, y: &'b str) -> &'a str {
            if x.len() >= y.len() {
                return x;
            }
            y
        }

        $($all)*
        pub(crate) fn generic_lifetime_try<'a>(text: &'a str, n: &str) -> Result<&'a str, ParseIntError> {
            let n: usize = n.parse()?;
            Ok(&text[..n.min(text.len())])
        }

        $($all)*
        pub(crate) fn generic_dyn_arg(value: &dyn fmt::Debug) -> String {
            format!("{value:?}")
        }

        // --- methods and trait impls ---

        #[derive(Clone, Debug, PartialEq)]
        pub(crate) struct Account {
            pub(crate) owner: String,
            pub(crate) balance: u32,
        }

        impl Account {
            $($all)*
            pub(crate) fn open(owner: &str) -> Self {
                Self { owner: owner.to_owned(), balance: 0 }
            }

            $($all)*
            pub(crate) fn balance(&self) -> u32 {
                self.balance
            }

            $($all)*
            pub(crate) fn deposit(&mut self, amount: u32) -> Result<u32, String> {
                if amount == 0 {
                    return Err("nothing to deposit".to_owned());
                }
                self.balance = self.balance.checked_add(amount).ok_or("overflow")?;
                Ok(self.balance)
            }

            $($cache)*
            $(#[cache_lookup(backend = $backend)])?
            pub(crate) fn withdraw(&mut self, amount: u32) -> Option<u32> {
                self.balance = self.balance.checked_sub(amount)?;
                Some(self.balance)
            }

            $($all)*
            pub(crate) fn close(self) -> (String, u32) {
                (self.owner, self.balance)
            }

            $($all)*
            pub(crate) fn history(&self) -> impl Iterator<Item = u32> + '_ {
                (0..3).map(move |i| self.balance + i)
            }

            $($cache)*
            $(#[cache_lookup(backend = $backend)])?
            pub(crate) fn owner_suffix(&self, prefix: &str) -> Option<&str> {
                self.owner.strip_prefix(prefix)
            }

            $($all)*
            pub(crate) fn rename(&mut self, name: &str) -> &str {
                self.owner = name.to_owned();
                &self.owner
            }

            $($all)*
            pub(crate) async fn async_balance(&self) -> u32 {
                YieldOnce::default().await;
                self.balance
            }
        }

        #[derive(Debug)]
        pub(crate) struct Holder {
            pub(crate) first: Noisy,
            pub(crate) second: Noisy,
        }

        impl Holder {
            $($all)*
            pub(crate) fn consume(self, extra: Noisy, n: &str) -> Result<usize, ParseIntError> {
                let _local = Noisy("local");
                let n: usize = n.parse()?;
                Ok(n + self.second.0.len() + extra.0.len())
            }

            $($all)*
            pub(crate) fn consume_in_place(self, extra: Noisy) -> usize {
                let _local = Noisy("local");
                self.first.0.len() + extra.0.len()
            }
        }

        impl Countdown {
            $($all)*
            pub(crate) fn convert<U>(&self) -> Result<U, <U as TryFrom<u32>>::Error>
            where
                U: TryFrom<u32>,
            {
                let value = U::try_from(self.0)?;
                Ok(value)
            }

            $($all)*
            #[allow(clippy::boxed_local)]
            pub(crate) fn boxed(self: Box<Self>, n: &str) -> Result<u32, ParseIntError> {
                let n: u32 = n.parse()?;
                Ok(self.0 + n)
            }
        }

        #[derive(Debug)]
        pub(crate) struct Wrapper<T>(pub(crate) Vec<T>);

        impl<T: fmt::Debug + Clone> Wrapper<T> {
            $($cache)*
            $(#[cache_lookup(backend = $backend)])?
            pub(crate) fn get(&self, index: usize) -> Option<&T> {
                self.0.get(index)
            }

            $($all)*
            pub(crate) fn into_first(self) -> Result<T, String> {
                let first = self.0.first().ok_or("empty")?;
                Ok(first.clone())
            }
        }

        pub(crate) trait Load {
            async fn load(&self, key: &str) -> Result<u32, String>;
        }

        impl Load for Account {
            $($all)*
            async fn load(&self, key: &str) -> Result<u32, String> {
                YieldOnce::default().await;
                if key != self.owner {
                    return Err(format!("no {key}"));
                }
                Ok(self.balance)
            }
        }

        #[async_trait::async_trait]
        pub(crate) trait Fetch {
            async fn fetch(&self, key: &str) -> Result<u32, String>;

            async fn fetch_drops(&self, a: Noisy, _b: Noisy) -> usize;
        }

        #[async_trait::async_trait]
        impl Fetch for Account {
            $($all)*
            async fn fetch(&self, key: &str) -> Result<u32, String> {
                YieldOnce::default().await;
                let n: u32 = key.parse().map_err(|e: ParseIntError| e.to_string())?;
                Ok(self.balance + n)
            }

            $($all)*
            async fn fetch_drops(&self, a: Noisy, _b: Noisy) -> usize {
                let _local = Noisy("local");
                YieldOnce::default().await;
                a.0.len()
            }
        }

        impl fmt::Display for Account {
            $($all)*
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}", self.owner)?;
                write!(f, ": {}", self.balance)
            }
        }

        impl std::str::FromStr for Account {
            type Err = String;

            $($all)*
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                let (owner, balance) = s.split_once('=').ok_or_else(|| format!("no '=' in {s:?}"))?;
                let balance = balance.parse().map_err(|e: ParseIntError| e.to_string())?;
                Ok(Self { owner: owner.to_owned(), balance })
            }
        }

        #[derive(Debug)]
        pub(crate) struct Countdown(pub(crate) u32);

        impl Iterator for Countdown {
            type Item = u32;

            $($cache)*
            $(#[cache_lookup(backend = $backend)])?
            fn next(&mut self) -> Option<u32> {
                if self.0 == 0 {
                    return None;
                }
                self.0 -= 1;
                Some(self.0)
            }
        }

        pub(crate) trait Describe {
            fn name(&self) -> String;

            $($all)*
            fn describe(&self) -> String {
                format!("<{}>", self.name())
            }
        }

        impl Describe for Account {
            fn name(&self) -> String {
                self.owner.clone()
            }
        }

        pub(crate) trait Scale {
            const FACTOR: u32;

            fn scale(&self, value: u32) -> u32;
        }

        impl Scale for Countdown {
            const FACTOR: u32 = 3;

            $($all)*
            fn scale(&self, value: u32) -> u32 {
                value * Self::FACTOR + self.0
            }
        }

        // --- async fn and fn -> impl Future ---

        $($all)*
        pub(crate) async fn async_add(a: u32, b: u32) -> u32 {
            YieldOnce::default().await;
            a + b
        }

        $($all)*
        pub(crate) async fn async_try(s: &str) -> Result<u32, ParseIntError> {
            YieldOnce::default().await;
            Ok(s.parse::<u32>()? * 2)
        }

        $($all)*
        pub(crate) async fn async_early(early: bool) -> Box<dyn fmt::Display> {
            if early {
                return Box::new(1u8);
            }
            YieldOnce::default().await;
            Box::new("late")
        }

        $($all)*
        pub(crate) async fn async_drops(a: Noisy, _b: Noisy) -> usize {
            let _local = Noisy("local");
            YieldOnce::default().await;
            a.0.len()
        }

        $($all)*
        pub(crate) async fn async_drops_pattern((a, b): (Noisy, Noisy), c: Noisy) -> usize {
            let _local = Noisy("local");
            YieldOnce::default().await;
            a.0.len() + b.0.len() + c.0.len()
        }

        $($all)*
        pub(crate) async fn async_drops_wild(a: Noisy, _: Noisy) -> usize {
            let _local = Noisy("local");
            YieldOnce::default().await;
            a.0.len()
        }

        $($all)*
        pub(crate) async fn async_tail_temporary(a: Noisy) -> usize {
            let _local = Noisy("local");
            YieldOnce::default().await;
            Noisy("temporary").0.len() + a.0.len()
        }

        $($all)*
        pub(crate) async fn async_consume(self_: Holder, n: &str) -> Result<usize, ParseIntError> {
            let _local = Noisy("local");
            let n: usize = n.parse()?;
            YieldOnce::default().await;
            Ok(n + self_.second.0.len())
        }

        $($all)*
        pub(crate) async fn async_panics(n: u32) -> u32 {
            YieldOnce::default().await;
            if n == 0 {
                panic!("async zero");
            }
            n
        }

        $($all)*
        pub(crate) async fn async_borrow(s: &str) -> &str {
            YieldOnce::default().await;
            s.trim()
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) async fn async_option(value: Option<u32>) -> Option<u32> {
            let n = value?;
            YieldOnce::default().await;
            Some(n + 1)
        }

        $($all)*
        pub(crate) async fn async_unit(entry: &'static str) {
            YieldOnce::default().await;
            log(entry);
        }

        $($all)*
        pub(crate) async fn async_diverges(n: u32) -> u32 {
            let _local = Noisy("local");
            YieldOnce::default().await;
            if n > 0 {
                return n;
            }
            panic!("async diverges")
        }

        $($all)*
        pub(crate) async fn async_panics_stmt(n: u32) -> u32 {
            YieldOnce::default().await;
            if n > 0 {
                return n;
            }
            panic!("async panics");
        }

        $($all)*
        pub(crate) async fn async_never(n: u32) -> u32 {
            YieldOnce::default().await;
            if n > 0 {
                return n;
            }
            never_returns()
        }

        $($all)*
        pub(crate) async fn async_loops(n: u32) -> Result<u32, String> {
            YieldOnce::default().await;
            loop {
                if n > 0 {
                    return Ok(n);
                }
                return Err("zero".to_owned());
            }
        }

        $($all)*
        pub(crate) async fn async_unit_cancelled(entry: &'static str) {
            let _local = Noisy("local");
            YieldOnce::default().await;
            log(entry);
        }

        $($all)*
        pub(crate) async fn async_unit_inner_panic(fail: bool) {
            let _local = Noisy("local");
            async {
                assert!(!fail, "inner future");
            }
            .await;
            YieldOnce::default().await;
        }

        $($all)*
        pub(crate) async fn async_closure(trim: bool) -> impl Fn(&str) -> &str {
            YieldOnce::default().await;
            move |s| if trim { s.trim() } else { s }
        }

        $($all)*
        pub(crate) async fn async_sorter() -> impl FnMut(&u32, &u32) -> std::cmp::Ordering {
            YieldOnce::default().await;
            |a, b| b.cmp(a)
        }

        $($all)*
        pub(crate) async fn async_impl_iter(a: Noisy, n: u32) -> impl Iterator<Item = u32> {
            let _local = Noisy("local");
            YieldOnce::default().await;
            assert!(n > 0, "async iter zero");
            (0..n).map(move |i| i + u32::from(a.0.is_empty()))
        }

        $($all)*
        pub(crate) fn future_impl(n: u32) -> impl Future<Output = u32> {
            async move {
                YieldOnce::default().await;
                n + 1
            }
        }

        $($all)*
        #[allow(clippy::needless_question_mark)]
        pub(crate) fn future_impl_try(s: &str) -> impl Future<Output = Result<u32, ParseIntError>> + '_ {
            async move { Ok(s.parse::<u32>()?) }
        }

        $($all)*
        pub(crate) fn future_impl_builds(n: u32) -> impl Future<Output = u32> {
            assert!(n > 0, "built with zero");
            async move { n }
        }

        $($all)*
        pub(crate) fn future_impl_drops(a: Noisy) -> impl Future<Output = usize> {
            let _local = Noisy("local");
            async move {
                YieldOnce::default().await;
                a.0.len()
            }
        }

        // --- extern "C", returns in match arms ---

        $($all)*
        #[allow(improper_ctypes_definitions)]
        pub(crate) extern "C" fn abi_c(x: u32) -> u32 {
            if x > 10 {
                return 10;
            }
            x + 1
        }

        $($all)*
        pub(crate) fn match_returns(n: u32) -> Result<u32, String> {
            match n {
                0 => return Err("zero".to_owned()),
                1 => Ok(1),
                _ => {
                    if n > 5 {
                        return Ok(5);
                    }
                    Ok(n)
                }
            }
        }

        // --- `()` and diverging functions ---

        $($all)*
        pub(crate) fn unit_log(entry: &'static str) {
            log(entry);
        }

        $($all)*
        pub(crate) fn unit_early(n: u32) {
            if n == 0 {
                return;
            }
            log(format!("n={n}"));
        }

        $($all)*
        pub(crate) fn unit_user_macro(value: Option<&'static str>) {
            let entry = or_return!(value);
            log(entry);
        }

        $($all)*
        pub(crate) fn diverge_panic(message: &str) -> ! {
            panic!("diverged: {message}")
        }

        $($all)*
        pub(crate) fn diverge_loop(limit: u32) -> ! {
            let mut i = 0;
            loop {
                i += 1;
                if i >= limit {
                    panic!("looped {i} times");
                }
            }
        }

        $($all)*
        pub(crate) fn diverge_unreachable(n: u32) -> u32 {
            if n > 0 {
                return n;
            }
            unreachable!("n is zero")
        }

        // --- impl Trait returns ---

        $($all)*
        pub(crate) fn impl_display(n: u32) -> impl fmt::Display {
            n * 2
        }

        $($all)*
        pub(crate) fn impl_iterator(n: u32) -> impl Iterator<Item = u32> {
            (0..n).map(|x| x * x)
        }

        $($all)*
        pub(crate) fn impl_display_early(early: bool) -> impl fmt::Display {
            if early {
                return "early".to_owned();
            }
            "tail".to_owned()
        }

        $($all)*
        pub(crate) fn impl_debug_try(s: &str) -> Result<impl fmt::Debug, ParseIntError> {
            let n: u32 = s.parse()?;
            Ok(vec![n; 2])
        }





        $($all)*
        pub(crate) fn impl_in_tuple(n: u32) -> (impl fmt::Display, u32) {
            (n, n)
        }

        // --- Result with Err ---

        $($all)*
        pub(crate) fn result_err(code: u32) -> Result<u32, String> {
            if code > 0 {
                return Err(format!("code {code}"));
            }
            Ok(0)
        }

        $($all)*
        pub(crate) fn result_custom(id: u32) -> Result<(), AppError> {
            match id {
                0 => Err(AppError::Invalid),
                1..=9 => Ok(()),
                _ => Err(AppError::NotFound(id)),
            }
        }

        $($all)*
        pub(crate) fn result_nested(s: &str) -> Result<Result<u32, String>, ParseIntError> {
            let n: u32 = s.parse()?;
            if n == 0 {
                return Ok(Err("zero".to_owned()));
            }
            Ok(Ok(n))
        }

        // --- Option and Result<Option> for #[cache_lookup] ---

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn cache_get(map: &HashMap<u32, String>, key: u32) -> Option<&String> {
            map.get(&key)
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn cache_result(key: u32) -> Result<Option<u32>, String> {
            if key == 0 {
                return Err("key 0".to_owned());
            }
            Ok((key % 2 == 0).then_some(key * 10))
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn cache_try(map: &HashMap<u32, String>, key: &str) -> Result<Option<usize>, ParseIntError> {
            let key: u32 = key.parse()?;
            Ok(map.get(&key).map(String::len))
        }

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn cache_early(key: u32) -> Option<String> {
            if key == 0 {
                return None;
            }
            Some(key.to_string())
        }

        // --- mut and pattern arguments ---

        $($all)*
        pub(crate) fn mut_args(mut a: u32, mut values: Vec<u32>) -> (u32, Vec<u32>) {
            a += 1;
            values.push(a);
            (a, values)
        }

        $($all)*
        pub(crate) fn mut_args_try(mut total: u32, items: &[&str]) -> Result<u32, ParseIntError> {
            for item in items {
                total += item.parse::<u32>()?;
            }
            Ok(total)
        }

        $($all)*
        pub(crate) fn pattern_tuple((a, b): (u32, u32)) -> u32 {
            a * 10 + b
        }

        $($all)*
        pub(crate) fn pattern_struct(Point { x, y }: Point) -> i32 {
            x - y
        }

        $($all)*
        pub(crate) fn pattern_try((a, b): (&str, &str)) -> Result<u32, ParseIntError> {
            Ok(a.parse::<u32>()? + b.parse::<u32>()?)
        }

        $($all)*
        pub(crate) fn pattern_ref(&n: &u32, [first, .., last]: [u8; 3]) -> u32 {
            n + u32::from(first) + u32::from(last)
        }

        // --- nested closures, items and async blocks with returns of their own ---

        $($all)*
        pub(crate) fn nested_closures(n: u32) -> u32 {
            let add = |x: u32| move |y: u32| x + y;
            add(n)(1)
        }

        $($all)*
        pub(crate) fn closure_returns(values: &[i32]) -> i32 {
            let clamp = |x: i32| {
                if x < 0 {
                    return 0;
                }
                x
            };
            values.iter().map(|&x| clamp(x)).sum()
        }

        $($all)*
        pub(crate) fn nested_fn_item(n: u32) -> u32 {
            fn inner(x: u32) -> u32 {
                if x > 10 {
                    return 10;
                }
                x
            }
            inner(n) + 1
        }

        $($all)*
        pub(crate) fn async_block_inside(n: u32) -> u32 {
            block_on(async move {
                if n == 0 {
                    return 1;
                }
                n * 3
            })
        }

        // --- labeled breaks ---

        $($cache)*
        $(#[cache_lookup(backend = $backend)])?
        pub(crate) fn labeled_block(grid: &[[u32; 3]], target: u32) -> Option<(usize, usize)> {
            'search: {
                for (i, row) in grid.iter().enumerate() {
                    for (j, &value) in row.iter().enumerate() {
                        if value == target {
                            break 'search Some((i, j));
                        }
                    }
                }
                None
            }
        }

        $($all)*
        pub(crate) fn labeled_loops(n: u32) -> u32 {
            let mut count = 0;
            'outer: for i in 0..n {
                for j in 0..n {
                    if i * j > 6 {
                        break 'outer;
                    }
                    if j > i {
                        continue 'outer;
                    }
                    count += 1;
                }
            }
            count
        }

        $($all)*
        pub(crate) fn labeled_loop_value(limit: u32) -> Result<u32, String> {
            let mut i = 0;
            let found = 'find: loop {
                i += 1;
                if i * i > limit {
                    break 'find i;
                }
                if i > 5 {
                    return Err(format!("no square above {limit} within 5"));
                }
            };
            Ok(found)
        }

        // --- macros in bodies ---

        $($all)*
        pub(crate) fn macro_format(name: &str, n: u32) -> String {
            format!("{name}={n:03}")
        }

        $($all)*
        pub(crate) fn macro_vec(n: u32) -> Vec<u32> {
            vec![n; 3]
        }

        $($all)*
        pub(crate) fn macro_assert(n: u32) -> u32 {
            assert!(n < 100, "too big: {n}");
            assert_eq!(n % 2, 0, "odd: {}", n);
            n / 2
        }

        $($all)*
        pub(crate) fn macro_user_return(value: Option<u32>) -> Result<u32, String> {
            let n = ensure_some!(value, "no value".to_owned());
            Ok(n * 2)
        }

        $($all)*
        pub(crate) fn macro_user_ok(early: bool) -> Result<u32, String> {
            return_ok_if!(early, 1);
            Ok(2)
        }

        $($all)*
        pub(crate) fn macro_matches(c: char) -> bool {
            matches!(c, 'a'..='z')
        }
    };
}

mod plain {
    corpus!(all: [], cache: [], lookup: []);
}

// `unsafe fn` cannot be in the corpus: the package forbids `unsafe_code`,
// and a declaration written by `macro_rules!` is reported (the plain one
// too). The annotated ones, written out, compile; nothing can call them.

mod counted {
    corpus!(all: [#[counted]], cache: [#[counted]], lookup: []);

    /// # Safety
    ///
    /// Always safe to call; `unsafe` only to show the macros take it.
    #[counted]
    #[allow(dead_code)]
    pub(crate) unsafe fn unsafe_add(a: u32, b: u32) -> u32 {
        a + b
    }
}

mod timed {
    corpus!(all: [#[timed]], cache: [#[timed]], lookup: []);

    /// # Safety
    ///
    /// Always safe to call; `unsafe` only to show the macros take it.
    #[timed]
    #[allow(dead_code)]
    pub(crate) unsafe fn unsafe_add(a: u32, b: u32) -> u32 {
        a + b
    }
}

mod model_op {
    corpus!(
        all: [#[model_op(model = "diff", op = insert)]],
        cache: [#[model_op(model = "diff", op = insert)]],
        lookup: []
    );
}

// `#[cache_lookup]` is written inside `corpus!` (`lookup: [backend]`), not
// passed in with the other attributes. Passed in (`cache:
// [#[cache_lookup(backend = "diff")]]`), every such function fails with
// E0425 "cannot find value `__instrument_ret` in this scope", pointing at
// the return type: the macro names its local with the return type's span,
// whose hygiene (the `corpus!` body) is not that of the attribute's `let`.
mod cache_lookup {
    corpus!(all: [], cache: [], lookup: ["diff"]);
}

mod stacked {
    corpus!(
        all: [#[counted] #[timed] #[model_op(model = "diff_stacked", op = insert)]],
        cache: [#[counted] #[timed] #[model_op(model = "diff_stacked", op = insert)]],
        lookup: ["diff_stacked"]
    );

    /// # Safety
    ///
    /// Always safe to call; `unsafe` only to show the macros take it.
    #[counted]
    #[timed]
    #[model_op(model = "diff_stacked", op = insert)]
    #[allow(dead_code)]
    pub(crate) unsafe fn unsafe_add(a: u32, b: u32) -> u32 {
        a + b
    }
}

/// The modules, plain first.
const MODULES: [&str; 6] = [
    "plain",
    "counted",
    "timed",
    "model_op",
    "cache_lookup",
    "stacked",
];

// ---------------------------------------------------------------------------
// The cases, written once
// ---------------------------------------------------------------------------

/// What a call should count as, by the rules of the crate docs ("What the
/// macros keep").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Expect {
    /// Returned a value that is not an `Err` (counted `ok`).
    Ok,
    /// Returned an `Err`, or left a `#[track_caller]` body `-> Result`
    /// where only the declared type is known (counted `error`).
    Error,
    /// Panicked (counted `panic`).
    Panic,
    /// A future dropped after the call began, before it finished.
    Cancelled,
    /// No call at all: an `async fn`'s future dropped unpolled.
    Uncalled,
    /// `Some` (or `Ok(Some)`) of a cache lookup: `ok`, a hit.
    Hit,
    /// `None` (or `Ok(None)`) of a cache lookup: `ok`, a miss.
    Miss,
    /// `None` through `?` in a `#[track_caller]` body: `ok`, and the cache
    /// lookup sees no value (the body runs in place, and only `return`s and
    /// the tail are recorded), so neither a hit nor a miss.
    UnseenNone,
}

impl Expect {
    /// The `result` label of `function_calls_total`, if the call is counted.
    fn result(self) -> Option<&'static str> {
        match self {
            Expect::Ok | Expect::Hit | Expect::Miss | Expect::UnseenNone => Some("ok"),
            Expect::Error => Some("error"),
            Expect::Panic => Some("panic"),
            Expect::Cancelled => Some("cancelled"),
            Expect::Uncalled => None,
        }
    }
}

/// One case: which function, what it should count as, what it did.
#[derive(Debug)]
struct Case {
    function: &'static str,
    expect: Expect,
    seen: String,
}

/// All cases of one module, in order.
#[derive(Debug)]
struct Run {
    module: &'static str,
    /// The module's `corpus_site()`.
    module_site: &'static Location<'static>,
    cases: Vec<Case>,
    /// A case whose outcome contradicts its [`Expect`] (a panic where none
    /// was expected, or none where one was).
    problems: Vec<String>,
}

impl Run {
    fn new(module: &'static str, module_site: &'static Location<'static>) -> Run {
        Run {
            module,
            module_site,
            cases: Vec::new(),
            problems: Vec::new(),
        }
    }

    /// Run one case: `call` with panics caught, and record its value (as
    /// `Debug`, formatted inside the case so that the value's drops are
    /// logged too), its panic message and location, and its log.
    fn record<T: fmt::Debug>(
        &mut self,
        function: &'static str,
        expect: Expect,
        site: &'static Location<'static>,
        call: impl FnOnce() -> T,
    ) {
        SITES.with(|sites| sites.set(Some((site, self.module_site))));
        take_log();
        PANICKED_AT.with(|p| p.borrow_mut().take());
        CAPTURING.with(|c| c.set(true));
        let result = panic::catch_unwind(AssertUnwindSafe(|| format!("{:?}", call())));
        CAPTURING.with(|c| c.set(false));
        let seen = match result {
            Ok(value) => format!("returned {value}"),
            Err(payload) => {
                let at = PANICKED_AT.with(|p| p.borrow_mut().take());
                let at = at.map_or("an unknown place".to_owned(), |(file, line, column)| {
                    place_of(&file, line, column)
                });
                format!("panicked with {} at {at}", message(&*payload))
            }
        };
        let panicked = seen.starts_with("panicked");
        if panicked != (expect == Expect::Panic) {
            self.problems.push(format!(
                "{}::{function} (case {}) was expected {expect:?} but {seen}",
                self.module,
                self.cases.len()
            ));
        }
        let drops = take_log();
        SITES.with(|sites| sites.set(None));
        self.cases.push(Case {
            function,
            expect,
            seen: format!("{seen}; log {drops:?}"),
        });
    }

    /// The calls of each function, by `result` label.
    fn tally(&self) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        let mut tally: BTreeMap<_, BTreeMap<_, u64>> = BTreeMap::new();
        for case in &self.cases {
            let calls = tally.entry(case.function).or_default();
            if let Some(result) = case.expect.result() {
                *calls.entry(result).or_default() += 1;
            }
        }
        tally
    }

    /// How many cases have an expectation among `expects`.
    fn count(&self, expects: &[Expect]) -> u64 {
        self.cases
            .iter()
            .filter(|case| expects.contains(&case.expect))
            .count() as u64
    }
}

/// One case: call `$call` (an expression using the module's functions),
/// recorded as a call of `$function` that should count as `$expect`. The
/// call site is taken here, in the same expansion as the call.
macro_rules! case {
    ($run:ident, $function:ident => $expect:ident, $call:expr) => {
        $run.record(stringify!($function), Expect::$expect, here(), || $call)
    };
}

/// Every case, against the functions of module `$m`.
macro_rules! observe {
    ($m:ident) => {{
        let mut run = Run::new(stringify!($m), $m::corpus_site());
        let text = String::from("hello");
        let map = HashMap::from([(1, "one".to_owned()), (2, "two".to_owned())]);
        let grid = [[1, 2, 3], [4, 5, 6]];
        let ann = || $m::Account { owner: "ann".to_owned(), balance: 5 };
        let holder = || $m::Holder { first: Noisy("first"), second: Noisy("second") };
        use $m::{Describe as _, Fetch as _, Load as _, Scale as _};

        // early return with coercion
        case!(run, coerce_string_ref => Ok, $m::coerce_string_ref(&text, true));
        case!(run, coerce_string_ref => Ok, $m::coerce_string_ref(&text, false));
        case!(run, coerce_box_dyn => Ok, $m::coerce_box_dyn(true).to_string());
        case!(run, coerce_box_dyn => Ok, $m::coerce_box_dyn(false).to_string());
        case!(run, coerce_fn_item => Ok, $m::coerce_fn_item(true)(5));
        case!(run, coerce_fn_item => Ok, $m::coerce_fn_item(false)(5));
        case!(run, coerce_with_try => Ok, $m::coerce_with_try("42").map(|v| v.to_string()));
        case!(run, coerce_with_try => Ok, $m::coerce_with_try("3").map(|v| v.to_string()));
        case!(run, coerce_with_try => Error, $m::coerce_with_try("x").map(|v| v.to_string()));
        case!(run, coerce_fn_item_try => Ok, $m::coerce_fn_item_try("2").map(|f| f(7)));
        case!(run, coerce_fn_item_try => Ok, $m::coerce_fn_item_try("1").map(|f| f(7)));
        case!(run, coerce_fn_item_try => Error, $m::coerce_fn_item_try("").map(|f| f(7)));

        case!(run, coerce_mut_ref => Ok, { let mut v = Vec::new(); $m::coerce_mut_ref(&mut v).to_vec() });
        case!(run, coerce_mut_ref => Ok, { let mut v = vec![9]; $m::coerce_mut_ref(&mut v).to_vec() });
        case!(run, coerce_boxed_slice => Ok, $m::coerce_boxed_slice(true));
        case!(run, coerce_boxed_slice => Ok, $m::coerce_boxed_slice(false));
        case!(run, coerce_dyn_iterator => Ok, $m::coerce_dyn_iterator(&[1, 2, 3], true).collect::<Vec<_>>());
        case!(run, coerce_dyn_iterator => Ok, $m::coerce_dyn_iterator(&[1, 2, 3], false).collect::<Vec<_>>());

        // closures typed by the signature
        case!(run, closure_impl_fn => Ok, $m::closure_impl_fn()("  padded  "));
        case!(run, closure_box_dyn => Ok, $m::closure_box_dyn(true)("  padded  "));
        case!(run, closure_box_dyn => Ok, $m::closure_box_dyn(false)("  padded  "));
        case!(run, closure_box_dyn_try => Ok, $m::closure_box_dyn_try("2").map(|f| f("abcdef").to_owned()));
        case!(run, closure_box_dyn_try => Error, $m::closure_box_dyn_try("-1").map(|f| f("abcdef").to_owned()));

        // `?` on Result and Option
        case!(run, try_result => Ok, $m::try_result("1", "2"));
        case!(run, try_result => Error, $m::try_result("1", "b"));
        case!(run, try_result => Error, $m::try_result("a", "2"));
        case!(run, try_option => Hit, $m::try_option(&[3, 4, 5]));
        case!(run, try_option => Miss, $m::try_option(&[]));
        case!(run, try_convert => Ok, $m::try_convert("200").map_err(|e| e.to_string()));
        case!(run, try_convert => Error, $m::try_convert("300").map_err(|e| e.to_string()));
        case!(run, try_convert => Error, $m::try_convert("x").map_err(|e| e.to_string()));
        case!(run, try_in_closure => Ok, $m::try_in_closure("21"));
        case!(run, try_in_closure => Error, $m::try_in_closure("z"));

        // #[track_caller]: the location is the call site, on every path
        case!(run, caller_early => Ok, { let (e, l) = $m::caller_early(true); (e, place(l)) });
        case!(run, caller_early => Ok, { let (e, l) = $m::caller_early(false); (e, place(l)) });
        case!(run, caller_try => Ok, $m::caller_try("5").map(|(n, l)| (n, place(l))));
        // `?` in a #[track_caller] body -> Result: an error by the declared type.
        case!(run, caller_try => Error, $m::caller_try("x").map(|(n, l)| (n, place(l))));
        case!(run, caller_try_option => Hit, $m::caller_try_option(Some(3)).map(|(n, l)| (n, place(l))));
        case!(run, caller_try_option => UnseenNone, $m::caller_try_option(None).map(|(n, l)| (n, place(l))));
        case!(run, caller_unwrap => Ok, $m::caller_unwrap("17"));
        case!(run, caller_unwrap => Panic, $m::caller_unwrap("seventeen"));
        case!(run, caller_assert => Ok, $m::caller_assert(4));
        case!(run, caller_assert => Panic, $m::caller_assert(0));
        case!(run, caller_user_macro => Ok, $m::caller_user_macro(Some(8)).map(|(n, l)| (n, place(l))));
        case!(run, caller_user_macro => Error, $m::caller_user_macro(None).map(|(n, l)| (n, place(l))));
        // A `return Ok(..)` inside a macro of a #[track_caller] body -> Result
        // is unseen: classified by the declared type, as an error.
        case!(run, caller_macro_ok => Error, $m::caller_macro_ok(true));
        case!(run, caller_macro_ok => Ok, $m::caller_macro_ok(false));

        // argument drop order
        case!(run, drops_in_place => Ok, $m::drops_in_place(Noisy("a"), Noisy("b")));
        case!(run, drops_with_try => Ok, $m::drops_with_try(Noisy("a"), Noisy("b"), "1"));
        case!(run, drops_with_try => Error, $m::drops_with_try(Noisy("a"), Noisy("b"), "x"));
        case!(run, drops_wild => Ok, $m::drops_wild(Noisy("a"), Noisy("b"), "1"));
        case!(run, drops_wild => Error, $m::drops_wild(Noisy("a"), Noisy("b"), "x"));
        case!(run, drops_pattern => Ok, $m::drops_pattern((Noisy("a"), Noisy("b")), Noisy("c"), "1"));
        case!(run, drops_pattern => Error, $m::drops_pattern((Noisy("a"), Noisy("b")), Noisy("c"), "x"));
        case!(run, drops_ref_binding => Ok, $m::drops_ref_binding(Noisy("a"), Noisy("b"), "1"));
        case!(run, drops_ref_binding => Error, $m::drops_ref_binding(Noisy("a"), Noisy("b"), "x"));
        case!(run, drops_mut => Ok, $m::drops_mut(Noisy("a"), "1"));
        case!(run, drops_mut => Error, $m::drops_mut(Noisy("a"), "x"));
        case!(run, drops_on_panic => Panic, $m::drops_on_panic(Noisy("a"), Noisy("b")));
        case!(run, drops_on_panic => Ok, $m::drops_on_panic(Noisy("not a"), Noisy("b")));
        case!(run, drops_tail_temporary => Ok, $m::drops_tail_temporary(Noisy("a")));
        case!(run, drops_tail_temporary_try => Ok, $m::drops_tail_temporary_try(Noisy("a"), "1"));
        case!(run, drops_tail_temporary_try => Error, $m::drops_tail_temporary_try(Noisy("a"), "x"));
        case!(run, drops_return_temporary => Ok, $m::drops_return_temporary(Noisy("a"), true));
        case!(run, drops_return_temporary => Ok, $m::drops_return_temporary(Noisy("a"), false));
        case!(run, drops_unit => Ok, $m::drops_unit(Noisy("a"), Noisy("b")));
        case!(run, consume => Ok, holder().consume(Noisy("extra"), "1"));
        case!(run, consume => Error, holder().consume(Noisy("extra"), "x"));
        case!(run, consume_in_place => Ok, holder().consume_in_place(Noisy("extra")));

        // panics
        case!(run, panic_message => Ok, $m::panic_message(""));
        case!(run, panic_message => Panic, $m::panic_message("custom message"));
        case!(run, panic_in_try => Ok, $m::panic_in_try("4"));
        case!(run, panic_in_try => Error, $m::panic_in_try("four"));
        case!(run, panic_in_try => Panic, $m::panic_in_try("0"));
        case!(run, panic_payload => Ok, $m::panic_payload(0));
        case!(run, panic_payload => Panic, $m::panic_payload(3));
        case!(run, panic_expect => Ok, $m::panic_expect(Some(1)));
        case!(run, panic_expect => Panic, $m::panic_expect(None));
        case!(run, panic_divide => Ok, $m::panic_divide(9, 3));
        case!(run, panic_divide => Panic, $m::panic_divide(9, 0));

        // generics, lifetimes, const generics, where clauses
        case!(run, generic_max => Ok, $m::generic_max(3, 9));
        case!(run, generic_max => Ok, $m::generic_max("b", "a"));
        case!(run, generic_parse => Ok, $m::generic_parse::<u8>(" 12 "));
        case!(run, generic_parse => Error, $m::generic_parse::<u8>("256"));
        case!(run, generic_parse => Ok, $m::generic_parse::<f64>("1.5"));
        case!(run, generic_identity => Ok, $m::generic_identity(5));
        // A generic `-> T` cannot tell that `T` is a `Result`: `ok`.
        case!(run, generic_identity => Ok, $m::generic_identity(Err::<u32, String>("an Err".to_owned())));
        case!(run, generic_where => Ok, $m::generic_where([1, 2, 3]));
        case!(run, generic_where => Ok, $m::generic_where(vec!['x', 'y']));
        case!(run, generic_const => Ok, $m::generic_const([1, 2, 3]));
        case!(run, generic_const => Ok, $m::generic_const::<0>([]));
        case!(run, generic_const_try => Ok, $m::generic_const_try(["1", "2"]));
        case!(run, generic_const_try => Error, $m::generic_const_try(["1", "two", "3"]));
        case!(run, generic_impl_arg => Ok, $m::generic_impl_arg(vec![4, 8, 2]));
        case!(run, generic_impl_arg => Ok, $m::generic_impl_arg(std::iter::empty()));
        case!(run, generic_lifetimes => Ok, $m::generic_lifetimes("long", "short"));
        case!(run, generic_lifetimes => Ok, $m::generic_lifetimes("a", "bb"));
        case!(run, generic_lifetime_try => Ok, $m::generic_lifetime_try(&text, "3"));
        case!(run, generic_lifetime_try => Error, $m::generic_lifetime_try(&text, "-3"));
        case!(run, generic_dyn_arg => Ok, $m::generic_dyn_arg(&Some("dyn")));

        // methods and trait impls
        case!(run, open => Ok, $m::Account::open("ann"));
        case!(run, balance => Ok, ann().balance());
        case!(run, deposit => Ok, { let mut a = ann(); (a.deposit(10), a) });
        case!(run, deposit => Error, { let mut a = ann(); (a.deposit(0), a) });
        case!(run, deposit => Error, { let mut a = $m::Account { owner: "ann".to_owned(), balance: u32::MAX }; (a.deposit(1), a) });
        case!(run, withdraw => Hit, { let mut a = ann(); (a.withdraw(2), a) });
        case!(run, withdraw => Miss, { let mut a = ann(); (a.withdraw(6), a) });
        case!(run, close => Ok, ann().close());
        case!(run, history => Ok, ann().history().collect::<Vec<_>>());
        case!(run, owner_suffix => Hit, $m::Account { owner: "mr ann".to_owned(), balance: 5 }.owner_suffix("mr ").map(str::to_owned));
        case!(run, owner_suffix => Miss, ann().owner_suffix("mr ").map(str::to_owned));
        case!(run, rename => Ok, ann().rename("bob").to_owned());
        case!(run, async_balance => Ok, block_on(ann().async_balance()));
        case!(run, convert => Ok, $m::Countdown(7).convert::<u8>());
        case!(run, convert => Error, $m::Countdown(300).convert::<u8>().map_err(|e| e.to_string()));
        case!(run, boxed => Ok, Box::new($m::Countdown(2)).boxed("3"));
        case!(run, boxed => Error, Box::new($m::Countdown(2)).boxed("three"));
        case!(run, get => Hit, $m::Wrapper(vec!["x", "y"]).get(1).copied());
        case!(run, get => Miss, $m::Wrapper(vec!["x", "y"]).get(2).copied());
        case!(run, into_first => Ok, $m::Wrapper(vec!["first", "second"]).into_first());
        case!(run, into_first => Error, $m::Wrapper::<u8>(vec![]).into_first());
        case!(run, load => Ok, block_on(ann().load("ann")));
        case!(run, load => Error, block_on(ann().load("bob")));
        case!(run, fetch => Ok, block_on(ann().fetch("2")));
        case!(run, fetch => Error, block_on(ann().fetch("two")));
        case!(run, fetch_drops => Ok, block_on(ann().fetch_drops(Noisy("a"), Noisy("b"))));
        case!(run, fmt => Ok, ann().to_string());
        case!(run, from_str => Ok, "ann=5".parse::<$m::Account>());
        case!(run, from_str => Error, "ann".parse::<$m::Account>());
        case!(run, from_str => Error, "ann=five".parse::<$m::Account>());
        case!(run, next => Hit, $m::Countdown(1).next());
        case!(run, next => Miss, $m::Countdown(0).next());
        case!(run, describe => Ok, ann().describe());
        case!(run, scale => Ok, $m::Countdown(2).scale(4));

        // async fn and fn -> impl Future
        case!(run, async_add => Ok, block_on($m::async_add(2, 3)));
        case!(run, async_add => Cancelled, poll_once_then_drop($m::async_add(2, 3)));
        case!(run, async_add => Uncalled, { drop($m::async_add(2, 3)); "dropped unpolled" });
        case!(run, async_try => Ok, block_on($m::async_try("21")));
        case!(run, async_try => Error, block_on($m::async_try("x")));
        case!(run, async_early => Ok, block_on($m::async_early(true)).to_string());
        case!(run, async_early => Ok, block_on($m::async_early(false)).to_string());
        case!(run, async_drops => Ok, block_on($m::async_drops(Noisy("a"), Noisy("b"))));
        case!(run, async_drops => Cancelled, poll_once_then_drop($m::async_drops(Noisy("a"), Noisy("b"))));
        case!(run, async_drops => Uncalled, { drop($m::async_drops(Noisy("a"), Noisy("b"))); "dropped unpolled" });
        case!(run, async_drops_pattern => Ok, block_on($m::async_drops_pattern((Noisy("a"), Noisy("b")), Noisy("c"))));
        case!(run, async_drops_wild => Ok, block_on($m::async_drops_wild(Noisy("a"), Noisy("b"))));
        case!(run, async_tail_temporary => Ok, block_on($m::async_tail_temporary(Noisy("a"))));
        case!(run, async_consume => Ok, block_on($m::async_consume(holder(), "1")));
        case!(run, async_consume => Error, block_on($m::async_consume(holder(), "x")));
        case!(run, async_panics => Ok, block_on($m::async_panics(1)));
        case!(run, async_panics => Panic, block_on($m::async_panics(0)));
        case!(run, async_borrow => Ok, block_on($m::async_borrow(" trimmed ")));
        case!(run, async_option => Hit, block_on($m::async_option(Some(1))));
        case!(run, async_option => Miss, block_on($m::async_option(None)));
        case!(run, async_unit => Ok, block_on($m::async_unit("async entry")));
        case!(run, async_diverges => Ok, block_on($m::async_diverges(2)));
        case!(run, async_diverges => Panic, block_on($m::async_diverges(0)));
        case!(run, async_panics_stmt => Ok, block_on($m::async_panics_stmt(2)));
        case!(run, async_panics_stmt => Panic, block_on($m::async_panics_stmt(0)));
        case!(run, async_never => Ok, block_on($m::async_never(2)));
        case!(run, async_never => Panic, block_on($m::async_never(0)));
        case!(run, async_loops => Ok, block_on($m::async_loops(2)));
        case!(run, async_loops => Error, block_on($m::async_loops(0)));
        case!(run, async_unit_cancelled => Ok, block_on($m::async_unit_cancelled("ran")));
        case!(run, async_unit_cancelled => Cancelled, poll_once_then_drop($m::async_unit_cancelled("never")));
        case!(run, async_unit_inner_panic => Ok, block_on($m::async_unit_inner_panic(false)));
        case!(run, async_unit_inner_panic => Panic, block_on($m::async_unit_inner_panic(true)));
        case!(run, async_closure => Ok, block_on($m::async_closure(true))(" padded "));
        case!(run, async_closure => Ok, block_on($m::async_closure(false))(" padded "));
        case!(run, async_closure => Cancelled, poll_once_then_drop(async { $m::async_closure(true).await(" x ").len() }));
        case!(run, async_sorter => Ok, {
            let mut values = vec![1, 3, 2];
            values.sort_by(block_on($m::async_sorter()));
            values
        });
        case!(run, async_impl_iter => Ok, block_on($m::async_impl_iter(Noisy("a"), 3)).sum::<u32>());
        case!(run, async_impl_iter => Panic, block_on($m::async_impl_iter(Noisy("a"), 0)).sum::<u32>());
        case!(run, async_impl_iter => Cancelled, poll_once_then_drop(async { $m::async_impl_iter(Noisy("a"), 2).await.sum::<u32>() }));
        case!(run, future_impl => Ok, block_on($m::future_impl(1)));
        case!(run, future_impl => Cancelled, { drop($m::future_impl(1)); "dropped unpolled" });
        case!(run, future_impl => Cancelled, poll_once_then_drop($m::future_impl(1)));
        case!(run, future_impl_try => Ok, block_on($m::future_impl_try("7")));
        case!(run, future_impl_try => Error, block_on($m::future_impl_try("seven")));
        case!(run, future_impl_builds => Ok, block_on($m::future_impl_builds(2)));
        case!(run, future_impl_builds => Panic, block_on($m::future_impl_builds(0)));
        case!(run, future_impl_drops => Ok, block_on($m::future_impl_drops(Noisy("a"))));
        case!(run, future_impl_drops => Cancelled, poll_once_then_drop($m::future_impl_drops(Noisy("a"))));

        // extern "C", returns in match arms, impl Trait in a tuple
        case!(run, abi_c => Ok, $m::abi_c(3));
        case!(run, abi_c => Ok, $m::abi_c(30));
        case!(run, match_returns => Error, $m::match_returns(0));
        case!(run, match_returns => Ok, $m::match_returns(1));
        case!(run, match_returns => Ok, $m::match_returns(3));
        case!(run, match_returns => Ok, $m::match_returns(9));
        case!(run, impl_in_tuple => Ok, { let (d, n) = $m::impl_in_tuple(4); (d.to_string(), n) });

        // `()` and diverging functions
        case!(run, unit_log => Ok, $m::unit_log("entry"));
        case!(run, unit_early => Ok, $m::unit_early(0));
        case!(run, unit_early => Ok, $m::unit_early(4));
        case!(run, unit_user_macro => Ok, $m::unit_user_macro(Some("present")));
        case!(run, unit_user_macro => Ok, $m::unit_user_macro(None));
        case!(run, diverge_panic => Panic, $m::diverge_panic("now"));
        case!(run, diverge_loop => Panic, $m::diverge_loop(3));
        case!(run, diverge_unreachable => Ok, $m::diverge_unreachable(2));
        case!(run, diverge_unreachable => Panic, $m::diverge_unreachable(0));

        // impl Trait returns
        case!(run, impl_display => Ok, $m::impl_display(21).to_string());
        case!(run, impl_iterator => Ok, $m::impl_iterator(4).collect::<Vec<_>>());
        case!(run, impl_display_early => Ok, $m::impl_display_early(true).to_string());
        case!(run, impl_display_early => Ok, $m::impl_display_early(false).to_string());
        case!(run, impl_debug_try => Ok, $m::impl_debug_try("6").map(|v| format!("{v:?}")));
        case!(run, impl_debug_try => Error, $m::impl_debug_try("six").map(|v| format!("{v:?}")));

        // Result with Err
        case!(run, result_err => Ok, $m::result_err(0));
        case!(run, result_err => Error, $m::result_err(3));
        case!(run, result_custom => Error, $m::result_custom(0));
        case!(run, result_custom => Ok, $m::result_custom(5));
        case!(run, result_custom => Error, $m::result_custom(12));
        case!(run, result_nested => Ok, $m::result_nested("0"));
        case!(run, result_nested => Ok, $m::result_nested("2"));
        case!(run, result_nested => Error, $m::result_nested("two"));

        // Option and Result<Option>
        case!(run, cache_get => Hit, $m::cache_get(&map, 1));
        case!(run, cache_get => Miss, $m::cache_get(&map, 3));
        case!(run, cache_result => Error, $m::cache_result(0));
        case!(run, cache_result => Hit, $m::cache_result(2));
        case!(run, cache_result => Miss, $m::cache_result(3));
        case!(run, cache_try => Hit, $m::cache_try(&map, "2"));
        case!(run, cache_try => Miss, $m::cache_try(&map, "9"));
        case!(run, cache_try => Error, $m::cache_try(&map, "two"));
        case!(run, cache_early => Miss, $m::cache_early(0));
        case!(run, cache_early => Hit, $m::cache_early(12));

        // mut and pattern arguments
        case!(run, mut_args => Ok, $m::mut_args(1, vec![7]));
        case!(run, mut_args_try => Ok, $m::mut_args_try(10, &["1", "2"]));
        case!(run, mut_args_try => Error, $m::mut_args_try(10, &["1", "b"]));
        case!(run, pattern_tuple => Ok, $m::pattern_tuple((4, 2)));
        case!(run, pattern_struct => Ok, $m::pattern_struct(Point { x: 5, y: 8 }));
        case!(run, pattern_try => Ok, $m::pattern_try(("3", "4")));
        case!(run, pattern_try => Error, $m::pattern_try(("3", "")));
        case!(run, pattern_ref => Ok, $m::pattern_ref(&100, [1, 2, 3]));

        // nested closures, items and async blocks
        case!(run, nested_closures => Ok, $m::nested_closures(41));
        case!(run, closure_returns => Ok, $m::closure_returns(&[-5, 3, 4]));
        case!(run, nested_fn_item => Ok, $m::nested_fn_item(4));
        case!(run, nested_fn_item => Ok, $m::nested_fn_item(40));
        case!(run, async_block_inside => Ok, $m::async_block_inside(0));
        case!(run, async_block_inside => Ok, $m::async_block_inside(5));

        // labeled breaks
        case!(run, labeled_block => Hit, $m::labeled_block(&grid, 5));
        case!(run, labeled_block => Miss, $m::labeled_block(&grid, 9));
        case!(run, labeled_loops => Ok, $m::labeled_loops(5));
        case!(run, labeled_loop_value => Ok, $m::labeled_loop_value(10));
        case!(run, labeled_loop_value => Error, $m::labeled_loop_value(50));

        // macros in bodies
        case!(run, macro_format => Ok, $m::macro_format("n", 7));
        case!(run, macro_vec => Ok, $m::macro_vec(2));
        case!(run, macro_assert => Ok, $m::macro_assert(8));
        case!(run, macro_assert => Panic, $m::macro_assert(100));
        case!(run, macro_assert => Panic, $m::macro_assert(7));
        case!(run, macro_user_return => Ok, $m::macro_user_return(Some(4)));
        case!(run, macro_user_return => Error, $m::macro_user_return(None));
        case!(run, macro_user_ok => Ok, $m::macro_user_ok(true));
        case!(run, macro_user_ok => Ok, $m::macro_user_ok(false));
        case!(run, macro_matches => Ok, $m::macro_matches('q'));
        case!(run, macro_matches => Ok, $m::macro_matches('Q'));
        run
    }};
}

/// A module, where a call of its `caller_early` was written, and what it
/// reported.
type Direct = (
    &'static str,
    &'static Location<'static>,
    &'static Location<'static>,
);

/// The location `caller_early` reports and the one it must report, of each
/// module: called from hand-written code (no macro around the call), on one
/// line each, the call 8 columns after `here()`.
fn direct_caller_locations() -> Vec<Direct> {
    vec![
        ("plain", here(), plain::caller_early(true).1),
        ("counted", here(), counted::caller_early(true).1),
        ("timed", here(), timed::caller_early(true).1),
        ("model_op", here(), model_op::caller_early(true).1),
        ("cache_lookup", here(), cache_lookup::caller_early(true).1),
        ("stacked", here(), stacked::caller_early(true).1),
    ]
}

/// Everything the corpus did, run once for the whole binary.
struct Runs {
    /// One per module, in [`MODULES`] order.
    runs: Vec<Run>,
    /// See [`direct_caller_locations`] (one more `ok` call of
    /// `caller_early` in each module).
    direct: Vec<(
        &'static str,
        &'static Location<'static>,
        &'static Location<'static>,
    )>,
}

impl Runs {
    fn get(&self, module: &str) -> &Run {
        self.runs
            .iter()
            .find(|run| run.module == module)
            .unwrap_or_else(|| panic!("no run of {module}"))
    }

    /// [`Run::tally`] of `module` with the direct calls included.
    fn tally(&self, module: &str) -> BTreeMap<&'static str, BTreeMap<&'static str, u64>> {
        let mut tally = self.get(module).tally();
        let direct = self.direct.iter().filter(|(m, ..)| *m == module).count() as u64;
        *tally
            .entry("caller_early")
            .or_default()
            .entry("ok")
            .or_default() += direct;
        tally
    }
}

/// The metrics of this binary, installed with the default settings.
fn metrics() -> &'static Metrics {
    static METRICS: OnceLock<Metrics> = OnceLock::new();
    METRICS.get_or_init(|| instrument_runtime::install().expect("the only install of this binary"))
}

/// Install, then run every case of every module, once: no other code of
/// this binary calls the corpus, so the counts on the page are these calls.
fn runs() -> &'static Runs {
    static RUNS: OnceLock<Runs> = OnceLock::new();
    RUNS.get_or_init(|| {
        metrics();
        capture_panics();
        let runs = vec![
            observe!(plain),
            observe!(counted),
            observe!(timed),
            observe!(model_op),
            observe!(cache_lookup),
            observe!(stacked),
        ];
        Runs {
            runs,
            direct: direct_caller_locations(),
        }
    })
}

// ---------------------------------------------------------------------------
// A parser of the text exposition, for exact label-set lookups
// ---------------------------------------------------------------------------

/// One sample line: `name{label="value",..} value`.
#[derive(Debug, PartialEq)]
struct Sample {
    name: String,
    labels: BTreeMap<String, String>,
    value: f64,
}

/// Parse the samples of a text exposition (comments skipped); panics on a
/// line that is not a sample.
fn parse_exposition(text: &str) -> Vec<Sample> {
    text.lines()
        .filter(|line| !line.trim().is_empty() && !line.starts_with('#'))
        .map(|line| parse_sample(line).unwrap_or_else(|| panic!("not a sample line: {line:?}")))
        .collect()
}

/// Parse one sample line; `None` when it is malformed.
fn parse_sample(line: &str) -> Option<Sample> {
    let mut chars = line.chars().peekable();
    let mut name = String::new();
    while let Some(&c) = chars.peek() {
        if c == '{' || c == ' ' {
            break;
        }
        name.push(c);
        chars.next();
    }
    let mut labels = BTreeMap::new();
    if chars.peek() == Some(&'{') {
        chars.next();
        loop {
            match chars.peek()? {
                '}' => {
                    chars.next();
                    break;
                }
                ',' => {
                    chars.next();
                    continue;
                }
                _ => {}
            }
            // `label="value"`, unescaping `\\`, `\"` and `\n` in the value.
            let mut label = String::new();
            loop {
                match chars.next()? {
                    '=' => break,
                    c if c.is_ascii_alphanumeric() || c == '_' => label.push(c),
                    _ => return None,
                }
            }
            if chars.next()? != '"' {
                return None;
            }
            let mut value = String::new();
            loop {
                match chars.next()? {
                    '"' => break,
                    '\\' => match chars.next()? {
                        'n' => value.push('\n'),
                        c => value.push(c),
                    },
                    c => value.push(c),
                }
            }
            labels.insert(label, value);
        }
    }
    let rest: String = chars.collect();
    let value = match rest.split_whitespace().next()? {
        "+Inf" => f64::INFINITY,
        "-Inf" => f64::NEG_INFINITY,
        other => other.parse().ok()?,
    };
    Some(Sample {
        name,
        labels,
        value,
    })
}

/// A scraped page: its samples, looked up by name and exact label set.
struct Page {
    text: String,
    samples: Vec<Sample>,
}

impl Page {
    /// Render the installed metrics and parse them.
    fn scrape() -> Page {
        let text = instrument_runtime::installed()
            .expect("installed by runs()")
            .render();
        Page {
            samples: parse_exposition(&text),
            text,
        }
    }

    /// The value of `name` with exactly the labels `pairs` (no more, no
    /// fewer), or `None`; panics when two samples match.
    fn value(&self, name: &str, pairs: &[(&str, &str)]) -> Option<f64> {
        let wanted: BTreeMap<String, String> = pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        let found: Vec<f64> = self
            .samples
            .iter()
            .filter(|s| s.name == name && s.labels == wanted)
            .map(|s| s.value)
            .collect();
        assert!(
            found.len() <= 1,
            "{name}{pairs:?} is on the page {} times",
            found.len()
        );
        found.first().copied()
    }

    /// [`Page::value`] as a count; panics when the series is missing.
    fn count(&self, name: &str, pairs: &[(&str, &str)]) -> u64 {
        let value = self
            .value(name, pairs)
            .unwrap_or_else(|| panic!("{name}{pairs:?} is not on the page:\n{}", self.text));
        assert!(
            value >= 0.0 && value.fract() == 0.0,
            "{name}{pairs:?} = {value} is not a count"
        );
        value as u64
    }

    /// The values of the label `label` on the series `name` whose other
    /// labels include `pairs`.
    fn label_values(&self, name: &str, label: &str, pairs: &[(&str, &str)]) -> BTreeSet<String> {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                pairs
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .filter_map(|s| s.labels.get(label).cloned())
            .collect()
    }

    /// The sum of every sample of `name` whose labels include `pairs`.
    fn sum(&self, name: &str, pairs: &[(&str, &str)]) -> f64 {
        self.samples
            .iter()
            .filter(|s| s.name == name)
            .filter(|s| {
                pairs
                    .iter()
                    .all(|(k, v)| s.labels.get(*k).map(String::as_str) == Some(*v))
            })
            .map(|s| s.value)
            .sum()
    }
}

// ---------------------------------------------------------------------------
// The tests
// ---------------------------------------------------------------------------

const CALLS: &str = "function_calls_total";
const DURATIONS: &str = "function_calls_duration_seconds_count";

/// Differences known and not fixed yet, as (module, function): none
/// today. The test fails when one of these stops differing, so that a fix
/// takes it off the list.
const KNOWN: &[(&str, &str)] = &[];

#[test]
fn every_annotated_function_behaves_as_the_plain_one() {
    let runs = runs();
    let modules: Vec<&str> = runs.runs.iter().map(|run| run.module).collect();
    assert_eq!(modules, MODULES);
    let plain = runs.get("plain");
    let mut differences = Vec::new();
    let mut known_seen = BTreeSet::new();
    for run in &runs.runs {
        differences.extend(run.problems.iter().cloned());
        assert_eq!(
            run.cases.len(),
            plain.cases.len(),
            "{} ran other cases",
            run.module
        );
        for (index, (case, reference)) in run.cases.iter().zip(&plain.cases).enumerate() {
            assert_eq!(
                case.function, reference.function,
                "case {index} of {}",
                run.module
            );
            if case.seen != reference.seen && KNOWN.contains(&(run.module, case.function)) {
                known_seen.insert((run.module, case.function));
            } else if case.seen != reference.seen {
                differences.push(format!(
                    "{}::{} (case {index}) differs from plain::{}:\n    plain:    {}\n    {:<9} {}",
                    run.module,
                    case.function,
                    reference.function,
                    reference.seen,
                    format!("{}:", run.module),
                    case.seen
                ));
            }
        }
    }
    // A known difference that no longer shows is fixed: take it off KNOWN.
    let known: BTreeSet<(&str, &str)> = KNOWN.iter().copied().collect();
    assert_eq!(known_seen, known, "the known differences changed");
    assert!(
        differences.is_empty(),
        "MACRO BUG: {} annotated call(s) did not behave as the plain function:\n{}",
        differences.len(),
        differences.join("\n")
    );
}

#[test]
fn the_cases_observe_what_they_claim() {
    // The harness itself: the corpus really does panic, drop and report the
    // call site where the cases say, so that an equal observation means
    // something.
    let plain = runs().get("plain");
    let seen = |function: &str, index: usize| -> &str {
        &plain
            .cases
            .iter()
            .filter(|case| case.function == function)
            .nth(index)
            .unwrap_or_else(|| panic!("no case {index} of {function}"))
            .seen
    };
    assert_eq!(
        seen("caller_early", 0),
        "returned (true, \"the call site\"); log []"
    );
    assert_eq!(
        seen("caller_try", 0),
        "returned Ok((5, \"the call site\")); log []"
    );
    assert!(
        seen("caller_unwrap", 1).ends_with("at the call site; log []"),
        "{}",
        seen("caller_unwrap", 1)
    );
    assert!(
        seen("panic_message", 1)
            .starts_with("panicked with \"custom message\" at the function's module"),
        "{}",
        seen("panic_message", 1)
    );
    assert_eq!(
        seen("drops_with_try", 0),
        "returned Ok(2); log [\"drop local\", \"drop b\", \"drop a\"]"
    );
    assert_eq!(
        seen("drops_in_place", 0),
        "returned 1; log [\"drop local\", \"drop b\", \"drop a\"]"
    );
    assert_eq!(
        seen("async_add", 2),
        "returned \"dropped unpolled\"; log []"
    );
    assert_eq!(seen("closure_impl_fn", 0), "returned \"padded\"; log []");
    assert_eq!(seen("coerce_box_dyn", 0), "returned \"7\"; log []");
    assert!(plain.cases.len() > 200, "{} cases", plain.cases.len());
}

#[test]
fn track_caller_reports_the_line_and_column_of_the_call() {
    for (module, site, reported) in &runs().direct {
        assert_eq!(
            (reported.file(), reported.line(), reported.column()),
            (site.file(), site.line(), site.column() + 8),
            "{module}::caller_early reports {reported}, not its caller"
        );
    }
}

#[test]
fn counted_counts_every_call_by_outcome() {
    let runs = runs();
    let page = Page::scrape();
    for module in ["counted", "stacked"] {
        let label = format!("differential::{module}");
        let tally = runs.tally(module);
        // Every function of the module that is on the page, and every one
        // that was called.
        let mut functions: BTreeSet<String> =
            page.label_values(CALLS, "function", &[("module", &label)]);
        functions.extend(tally.keys().map(|f| (*f).to_owned()));
        assert!(
            functions.contains("unsafe_add"),
            "the unsafe fn's series exist at 0"
        );
        for function in &functions {
            let calls = tally.get(function.as_str());
            for result in ["ok", "error", "panic", "cancelled"] {
                let expected = calls.and_then(|c| c.get(result)).copied().unwrap_or(0);
                let pairs = [
                    ("function", function.as_str()),
                    ("module", label.as_str()),
                    ("result", result),
                ];
                let on_page = match result {
                    // Exists only once a call was cancelled.
                    "cancelled" => page.value(CALLS, &pairs).unwrap_or(0.0) as u64,
                    _ => page.count(CALLS, &pairs),
                };
                assert_eq!(
                    on_page, expected,
                    "{CALLS}{{function=\"{function}\",module=\"{label}\",result=\"{result}\"}}"
                );
            }
        }
    }
    // The modules without #[counted] have no series.
    for module in ["plain", "timed", "model_op", "cache_lookup"] {
        let label = format!("differential::{module}");
        assert!(
            page.label_values(CALLS, "function", &[("module", &label)])
                .is_empty(),
            "{module} is not counted"
        );
    }
}

#[test]
fn timed_observes_every_call() {
    let runs = runs();
    let page = Page::scrape();
    for module in ["timed", "stacked"] {
        let label = format!("differential::{module}");
        let tally = runs.tally(module);
        let mut functions = page.label_values(DURATIONS, "function", &[("module", &label)]);
        functions.extend(tally.keys().map(|f| (*f).to_owned()));
        assert!(
            functions.contains("unsafe_add"),
            "the unsafe fn's series exist at 0"
        );
        for function in &functions {
            let expected: u64 = tally.get(function.as_str()).map_or(0, |c| c.values().sum());
            let on_page = page.count(
                DURATIONS,
                &[("function", function.as_str()), ("module", label.as_str())],
            );
            assert_eq!(
                on_page, expected,
                "{DURATIONS}{{function=\"{function}\",module=\"{label}\"}}"
            );
        }
    }
    for module in ["plain", "counted", "model_op", "cache_lookup"] {
        let label = format!("differential::{module}");
        assert!(
            page.label_values(DURATIONS, "function", &[("module", &label)])
                .is_empty(),
            "{module} is not timed"
        );
    }
}

#[test]
fn model_op_counts_every_execution_and_success() {
    use Expect::*;
    let runs = runs();
    let page = Page::scrape();
    let called = [Ok, Error, Panic, Cancelled, Hit, Miss, UnseenNone];
    let succeeded = [Ok, Hit, Miss, UnseenNone];
    let direct = |module| runs.direct.iter().filter(|(m, ..)| *m == module).count() as u64;
    let (model_op, stacked) = (runs.get("model_op"), runs.get("stacked"));
    for (model, run) in [("diff", model_op), ("diff_stacked", stacked)] {
        assert_eq!(
            page.count("model_inserts_total", &[("model", model)]),
            run.count(&succeeded) + direct(run.module),
            "model_inserts_total{{model=\"{model}\"}}"
        );
        assert_eq!(page.count("model_updates_total", &[("model", model)]), 0);
        assert_eq!(page.count("model_deletes_total", &[("model", model)]), 0);
    }
    let db = [("alias", "default"), ("vendor", "unknown")];
    assert_eq!(
        page.count("db_execute_total", &db),
        model_op.count(&called) + stacked.count(&called) + direct("model_op") + direct("stacked"),
        "db_execute_total: every call of both modules"
    );
    assert_eq!(
        page.count(
            "db_errors_total",
            &[
                ("alias", "default"),
                ("vendor", "unknown"),
                ("type", "panic")
            ]
        ),
        model_op.count(&[Panic]) + stacked.count(&[Panic]),
        "db_errors_total{{type=\"panic\"}}"
    );
    assert_eq!(
        page.sum("db_errors_total", &db) as u64,
        model_op.count(&[Error, Panic]) + stacked.count(&[Error, Panic]),
        "db_errors_total, all types"
    );
}

#[test]
fn cache_lookup_counts_every_hit_and_miss() {
    let runs = runs();
    let page = Page::scrape();
    for (backend, module) in [("diff", "cache_lookup"), ("diff_stacked", "stacked")] {
        let run = runs.get(module);
        assert_eq!(
            page.count("cache_hits_total", &[("backend", backend)]),
            run.count(&[Expect::Hit]),
            "cache_hits_total{{backend=\"{backend}\"}}"
        );
        assert_eq!(
            page.count("cache_misses_total", &[("backend", backend)]),
            run.count(&[Expect::Miss]),
            "cache_misses_total{{backend=\"{backend}\"}}"
        );
    }
}

#[test]
fn the_parser_matches_whole_label_sets() {
    let text = "# HELP x_total A counter.\n\
                # TYPE x_total counter\n\
                x_total{function=\"f\",module=\"m::a\",result=\"ok\"} 3\n\
                x_total{function=\"ff\",module=\"m::a\",result=\"ok\"} 4\n\
                x_total{function=\"f\",module=\"m::a\",result=\"ok\",extra=\"1\"} 5\n\
                y{path=\"a\\\"b\\\\c\\nd\",le=\"+Inf\"} 6 1700000000\n\
                z 7\n";
    let page = Page {
        samples: parse_exposition(text),
        text: text.to_owned(),
    };
    let ok = [("function", "f"), ("module", "m::a"), ("result", "ok")];
    assert_eq!(page.value("x_total", &ok), Some(3.0));
    assert_eq!(
        page.value("x_total", &[("function", "f"), ("module", "m::a")]),
        None
    );
    assert_eq!(
        page.value(
            "x_total",
            &[("function", "ff"), ("module", "m::a"), ("result", "ok")]
        ),
        Some(4.0)
    );
    assert_eq!(
        page.value("y", &[("path", "a\"b\\c\nd"), ("le", "+Inf")]),
        Some(6.0)
    );
    assert_eq!(page.value("z", &[]), Some(7.0));
    assert_eq!(page.value("x", &[]), None);
    assert_eq!(parse_sample("broken{a=\"1\" 2"), None);
}
