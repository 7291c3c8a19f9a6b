//! `#[counted]` on every kind of synchronous function: the `result` label
//! counts exactly, and the function behaves as it did without the attribute
//! (same value, `?`, early `return`, receivers, generics, `impl Trait`).

use crate::common;

use std::num::ParseIntError;

use common::scrape;
use instrument_runtime::{counted, timed};

const CALLS: &str = "function_calls_total";

/// `function_calls_total{function, module, result}`.
fn calls_in(module: &str, function: &str, result: &str) -> u64 {
    scrape().count(
        CALLS,
        &[
            ("function", function),
            ("module", module),
            ("result", result),
        ],
    )
}

/// `(ok, error, panic)` of a function at the root of this file.
fn outcomes(function: &str) -> (u64, u64, u64) {
    let page = scrape();
    let get = |result| {
        page.count(
            CALLS,
            &[
                ("function", function),
                ("module", "defaults::counted"),
                ("result", result),
            ],
        )
    };
    (get("ok"), get("error"), get("panic"))
}

#[counted]
fn add(a: u32, b: u32) -> u32 {
    a + b
}

#[test]
fn free_fn_counts_each_call_as_ok() {
    common::metrics();
    assert_eq!(add(2, 3), 5);
    assert_eq!(add(4, 5), 9);
    assert_eq!(add(0, 0), 0);
    assert_eq!(outcomes("add"), (3, 0, 0));
}

#[counted]
fn checked_div(a: i32, b: i32) -> Result<i32, String> {
    if b == 0 {
        return Err(format!("{a} / 0"));
    }
    Ok(a / b)
}

#[test]
fn result_err_counts_as_error_and_ok_as_ok() {
    common::metrics();
    assert_eq!(checked_div(10, 2), Ok(5));
    assert_eq!(checked_div(1, 0), Err("1 / 0".to_owned()));
    assert_eq!(checked_div(9, 3), Ok(3));
    assert_eq!(checked_div(7, 0), Err("7 / 0".to_owned()));
    assert_eq!(checked_div(8, 0), Err("8 / 0".to_owned()));
    assert_eq!(outcomes("checked_div"), (2, 3, 0));
}

#[counted]
fn first_byte(items: &[u8]) -> Option<u8> {
    items.first().copied()
}

#[test]
fn option_none_is_not_an_error() {
    common::metrics();
    assert_eq!(first_byte(&[]), None);
    assert_eq!(first_byte(&[7, 8]), Some(7));
    assert_eq!(outcomes("first_byte"), (2, 0, 0));
}

#[counted]
fn bump(counter: &mut u32) {
    *counter += 1;
}

#[test]
fn unit_fn_with_mut_ref_argument() {
    common::metrics();
    let mut n = 0;
    bump(&mut n);
    bump(&mut n);
    assert_eq!(n, 2);
    assert_eq!(outcomes("bump"), (2, 0, 0));
}

#[derive(Debug, PartialEq)]
struct Account {
    owner: String,
    balance: i64,
}

impl Account {
    #[counted]
    fn open(owner: &str) -> Self {
        Account {
            owner: owner.to_owned(),
            balance: 0,
        }
    }

    #[counted]
    fn balance(&self) -> i64 {
        self.balance
    }

    #[counted]
    fn owner(&self) -> &str {
        &self.owner
    }

    #[counted]
    fn deposit(&mut self, amount: i64) -> Result<i64, String> {
        if amount <= 0 {
            return Err(format!("cannot deposit {amount}"));
        }
        self.balance += amount;
        Ok(self.balance)
    }

    #[counted]
    fn close(self) -> String {
        self.owner
    }

    // The lint the plain method gets: the body runs in place.
    #[allow(clippy::boxed_local)]
    #[counted]
    fn close_boxed(self: Box<Self>) -> i64 {
        self.balance
    }
}

#[test]
fn methods_with_every_receiver() {
    common::metrics();
    let mut account = Account::open("ada");
    assert_eq!(account.deposit(50), Ok(50));
    assert_eq!(account.deposit(-1), Err("cannot deposit -1".to_owned()));
    assert_eq!(account.deposit(25), Ok(75));
    assert_eq!(account.balance(), 75);
    assert_eq!(account.owner(), "ada");
    assert_eq!(Box::new(Account::open("bob")).close_boxed(), 0);
    assert_eq!(account.close(), "ada");

    assert_eq!(outcomes("open"), (2, 0, 0));
    assert_eq!(outcomes("deposit"), (2, 1, 0));
    assert_eq!(outcomes("balance"), (1, 0, 0));
    assert_eq!(outcomes("owner"), (1, 0, 0));
    assert_eq!(outcomes("close"), (1, 0, 0));
    assert_eq!(outcomes("close_boxed"), (1, 0, 0));
}

trait Greeter {
    fn greet(&self, name: &str) -> String;

    #[counted]
    fn farewell(&self) -> String {
        format!("bye from {}", self.greet("you"))
    }
}

struct English;
struct French;

impl Greeter for English {
    #[counted]
    fn greet(&self, name: &str) -> String {
        format!("hello {name}")
    }
}

impl Greeter for French {
    fn greet(&self, name: &str) -> String {
        format!("bonjour {name}")
    }
}

#[test]
fn trait_impl_and_default_methods() {
    common::metrics();
    let greeters: [&dyn Greeter; 2] = [&English, &French];
    assert_eq!(greeters[0].greet("ada"), "hello ada");
    assert_eq!(greeters[1].greet("ada"), "bonjour ada");
    assert_eq!(greeters[0].farewell(), "bye from hello you");
    assert_eq!(greeters[1].farewell(), "bye from bonjour you");
    // English::greet: once directly, once from farewell.
    assert_eq!(outcomes("greet"), (2, 0, 0));
    // One call site for the default method, whichever type runs it.
    assert_eq!(outcomes("farewell"), (2, 0, 0));
}

#[counted]
fn longest<'a, 'b: 'a, T>(a: &'a [T], b: &'b [T]) -> &'a [T]
where
    T: PartialEq + std::fmt::Debug,
{
    if b.len() > a.len() {
        b
    } else {
        a
    }
}

struct Stack<T> {
    items: Vec<T>,
}

impl<T> Stack<T>
where
    T: Clone,
{
    #[counted]
    fn pop_or<'s>(&'s mut self, default: T) -> T
    where
        T: 's,
    {
        self.items.pop().unwrap_or(default)
    }
}

#[test]
fn generic_fns_share_one_site_across_instantiations() {
    common::metrics();
    assert_eq!(longest(&[1u8], &[2, 3]), &[2, 3]);
    let words = ["a".to_owned(), "b".to_owned()];
    assert_eq!(longest(&words, &[]), &words);
    let mut stack = Stack {
        items: vec!["x".to_owned()],
    };
    assert_eq!(stack.pop_or("none".to_owned()), "x");
    assert_eq!(stack.pop_or("none".to_owned()), "none");
    let mut numbers = Stack { items: vec![1u64] };
    assert_eq!(numbers.pop_or(0), 1);

    assert_eq!(outcomes("longest"), (2, 0, 0));
    assert_eq!(outcomes("pop_or"), (3, 0, 0));
}

#[counted]
fn evens(limit: u32) -> impl Iterator<Item = u32> {
    (0..limit).filter(|n| n % 2 == 0)
}

#[counted]
fn total(items: impl IntoIterator<Item = u32>) -> u32 {
    items.into_iter().sum()
}

#[test]
fn impl_trait_return_and_argument() {
    common::metrics();
    let iter = evens(7);
    // Counted when the function returns, not when the iterator is used.
    assert_eq!(outcomes("evens"), (1, 0, 0));
    assert_eq!(iter.collect::<Vec<_>>(), [0, 2, 4, 6]);
    assert_eq!(total(evens(5)), 6);
    assert_eq!(total(vec![1, 2, 3]), 6);
    assert_eq!(outcomes("evens"), (2, 0, 0));
    assert_eq!(outcomes("total"), (2, 0, 0));
}

#[derive(Debug, PartialEq)]
struct EmptyInput;

#[counted]
fn parse_all(input: &str) -> Result<impl Iterator<Item = u32>, ParseIntError> {
    let numbers = input
        .split(',')
        .map(|s| s.trim().parse::<u32>())
        .collect::<Result<Vec<_>, _>>()?;
    Ok(numbers.into_iter())
}

#[counted]
fn words(input: &str) -> Result<impl Iterator<Item = &str> + '_, EmptyInput> {
    if input.is_empty() {
        return Err(EmptyInput);
    }
    Ok(input.split(' '))
}

#[test]
fn result_of_impl_trait_with_question_mark() {
    common::metrics();
    assert_eq!(parse_all("1, 2,3").unwrap().collect::<Vec<_>>(), [1, 2, 3]);
    assert!(parse_all("1,x").is_err());
    assert!(parse_all("").is_err());
    assert_eq!(words("a b").unwrap().collect::<Vec<_>>(), ["a", "b"]);
    assert!(matches!(words(""), Err(EmptyInput)));
    assert_eq!(outcomes("parse_all"), (1, 2, 0));
    assert_eq!(outcomes("words"), (1, 1, 0));
}

#[derive(Debug, PartialEq)]
enum AppError {
    Parse(String),
    Negative(i64),
}

impl From<ParseIntError> for AppError {
    fn from(e: ParseIntError) -> Self {
        AppError::Parse(e.to_string())
    }
}

#[counted]
fn parse_positive(text: &str) -> Result<i64, AppError> {
    let n: i64 = text.parse()?;
    if n < 0 {
        return Err(AppError::Negative(n));
    }
    Ok(n)
}

#[counted]
fn sign(n: i32) -> &'static str {
    if n < 0 {
        return "negative";
    }
    "non-negative"
}

#[test]
fn question_mark_conversion_and_early_return() {
    common::metrics();
    assert_eq!(parse_positive("12"), Ok(12));
    assert_eq!(
        parse_positive("x"),
        Err(AppError::Parse("invalid digit found in string".to_owned()))
    );
    assert_eq!(parse_positive("-4"), Err(AppError::Negative(-4)));
    assert_eq!(outcomes("parse_positive"), (1, 2, 0));

    assert_eq!(sign(-1), "negative");
    assert_eq!(sign(1), "non-negative");
    assert_eq!(sign(-2), "negative");
    assert_eq!(outcomes("sign"), (3, 0, 0));
}

#[counted]
fn factorial(n: u64) -> u64 {
    if n <= 1 {
        1
    } else {
        n * factorial(n - 1)
    }
}

#[test]
fn recursive_calls_are_each_counted() {
    common::metrics();
    assert_eq!(factorial(5), 120);
    assert_eq!(outcomes("factorial"), (5, 0, 0));
}

#[counted]
fn consume(items: Vec<String>) -> usize {
    let moved: Vec<String> = items.into_iter().filter(|s| !s.is_empty()).collect();
    moved.len()
}

#[test]
fn body_may_move_out_of_arguments() {
    common::metrics();
    assert_eq!(consume(vec!["a".into(), String::new(), "b".into()]), 2);
    assert_eq!(outcomes("consume"), (1, 0, 0));
}

#[counted]
fn r#match(pattern: &str, text: &str) -> bool {
    text.contains(pattern)
}

#[test]
fn raw_identifier_is_labelled_without_r_hash() {
    common::metrics();
    assert!(r#match("b", "abc"));
    assert!(!r#match("z", "abc"));
    assert_eq!(outcomes("match"), (2, 0, 0));
    assert_eq!(
        scrape().value(
            CALLS,
            &[
                ("function", "r#match"),
                ("module", "defaults::counted"),
                ("result", "ok")
            ]
        ),
        None
    );
}

mod billing {
    use instrument_runtime::counted;

    #[counted]
    pub(crate) fn charge(cents: u64) -> Result<u64, &'static str> {
        if cents == 0 {
            Err("nothing to charge")
        } else {
            Ok(cents)
        }
    }
}

#[test]
fn module_label_is_the_module_path() {
    common::metrics();
    assert_eq!(billing::charge(100), Ok(100));
    assert_eq!(billing::charge(0), Err("nothing to charge"));
    assert_eq!(calls_in("defaults::counted::billing", "charge", "ok"), 1);
    assert_eq!(calls_in("defaults::counted::billing", "charge", "error"), 1);
    assert_eq!(
        scrape().value(
            CALLS,
            &[
                ("function", "charge"),
                ("module", "defaults::counted"),
                ("result", "ok")
            ]
        ),
        None
    );
}

/// Doc comments and other attributes stay on the function.
#[counted]
#[timed]
#[inline]
#[must_use]
fn stacked(n: u32) -> Result<u32, u32> {
    if n % 2 == 0 {
        Ok(n)
    } else {
        Err(n)
    }
}

#[timed]
#[counted]
fn stacked_reversed(n: u32) -> u32 {
    n + 1
}

#[test]
fn counted_and_timed_stack_in_either_order() {
    common::metrics();
    assert_eq!(stacked(2), Ok(2));
    assert_eq!(stacked(3), Err(3));
    assert_eq!(stacked(4), Ok(4));
    assert_eq!(stacked_reversed(1), 2);
    assert_eq!(outcomes("stacked"), (2, 1, 0));
    assert_eq!(outcomes("stacked_reversed"), (1, 0, 0));
    let page = scrape();
    let timed = |f| {
        page.histogram(
            "function_calls_duration_seconds",
            &[("function", f), ("module", "defaults::counted")],
        )
        .0
    };
    assert_eq!(timed("stacked"), 3);
    assert_eq!(timed("stacked_reversed"), 1);
}

/// # Safety
/// `p` must be valid for reads.
#[counted]
#[allow(dead_code)]
unsafe fn read_raw(p: *const u32) -> u32 {
    *p
}

#[test]
fn unsafe_fn_is_instrumented() {
    common::metrics();
    // The package forbids `unsafe_code`, so this file cannot call it; its
    // call site is registered and its series exist at 0 all the same.
    let page = scrape();
    for result in ["ok", "error", "panic"] {
        assert_eq!(
            page.count(
                CALLS,
                &[
                    ("function", "read_raw"),
                    ("module", "defaults::counted"),
                    ("result", result)
                ]
            ),
            0
        );
    }
}

#[counted]
#[track_caller]
fn called_from() -> &'static std::panic::Location<'static> {
    std::panic::Location::caller()
}

#[test]
fn track_caller_still_reports_the_caller() {
    common::metrics();
    let (location, line) = (called_from(), line!());
    assert_eq!((location.file(), location.line()), (file!(), line));
    assert_eq!(outcomes("called_from"), (1, 0, 0));
}

macro_rules! bail {
    ($e:expr) => {
        return Err($e)
    };
}

#[track_caller]
#[counted]
fn track_caller_with_a_returning_macro(fail: bool) -> Result<u32, String> {
    if fail {
        bail!("no".to_owned());
    }
    Ok(1)
}

#[test]
fn a_macro_that_returns_early_is_an_error_not_a_cancellation() {
    common::metrics();
    track_caller_with_a_returning_macro(true).unwrap_err();
    track_caller_with_a_returning_macro(false).unwrap();
    let page = common::scrape();
    let labels = |result| {
        [
            ("function", "track_caller_with_a_returning_macro"),
            ("module", "defaults::counted"),
            ("result", result),
        ]
    };
    assert_eq!(page.get("function_calls_total", &labels("error")), 1.0);
    assert_eq!(page.get("function_calls_total", &labels("ok")), 1.0);
    assert_eq!(
        page.value("function_calls_total", &labels("cancelled")),
        None
    );
}

/// `#[track_caller]` holds on every path, early `return` and `?`
/// included: the body runs in place, its `return`s record their value,
/// and a `?` is classified by the declared return type.
#[counted]
#[track_caller]
fn caller_line(how: &str) -> Result<u32, ParseIntError> {
    let line = std::panic::Location::caller().line();
    if how == "early" {
        return Ok(line);
    }
    if how == "early error" {
        return "x".parse::<u32>().map(|_| line);
    }
    let parsed: u32 = how.parse()?;
    Ok(line + parsed - parsed)
}

#[test]
fn track_caller_holds_through_early_returns_and_question_marks() {
    common::metrics();
    let (early, line) = (caller_line("early"), line!());
    assert_eq!(early, Ok(line));
    let (tail, line) = (caller_line("3"), line!());
    assert_eq!(tail, Ok(line));
    assert!(caller_line("early error").is_err());
    assert!(caller_line("not a number").is_err());
    assert_eq!(outcomes("caller_line"), (2, 2, 0));
}
