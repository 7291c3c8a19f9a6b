#![deny(warnings)]

// `Result<impl Trait, E>` with `?`, including `?` that converts the error
// through `From`.

use std::fmt::{Debug, Display};
use std::num::ParseIntError;

use instrument_runtime::{counted, model_op, timed};

#[derive(Debug, PartialEq)]
enum AppError {
    Parse(ParseIntError),
    Negative,
}

impl From<ParseIntError> for AppError {
    fn from(error: ParseIntError) -> Self {
        AppError::Parse(error)
    }
}

#[counted]
fn double(input: &str) -> Result<impl Display, ParseIntError> {
    let n: i32 = input.trim().parse()?;
    Ok(n * 2)
}

#[timed]
#[counted]
fn positive(input: &str) -> Result<impl Debug + PartialEq<u32>, AppError> {
    let n: i64 = input.parse()?;
    let n = u32::try_from(n).map_err(|_| AppError::Negative)?;
    Ok(n)
}

#[model_op(model = "number", op = insert)]
fn insert(input: &str) -> Result<impl Display, AppError> {
    let n: u32 = input.parse()?;
    Ok(n)
}

#[counted]
async fn double_later(input: &str) -> Result<impl Display, ParseIntError> {
    let n: i32 = input.parse()?;
    Ok(n * 2)
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(double(" 21 ").unwrap().to_string(), "42");
    assert!(double("x").is_err());
    assert!(positive("7").unwrap() == 7);
    assert_eq!(positive("-7").unwrap_err(), AppError::Negative);
    assert!(matches!(positive("x").unwrap_err(), AppError::Parse(_)));
    assert_eq!(insert("5").unwrap().to_string(), "5");
    assert!(insert("-5").is_err());
    drop(double_later("1"));

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="double",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="double",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="positive",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="positive",module="{m}",result="error"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="positive",module="{m}"}}"#),
            3,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_inserts_total{model="number"}"#.to_owned(), 1),
    ];
    for (series, value) in expected {
        assert_eq!(sample(&page, &series), value, "{series}");
    }
}

/// The value of `series` on the exposition page.
fn sample(page: &str, series: &str) -> u64 {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .unwrap_or_else(|| panic!("no `{series}` in\n{page}"))
        .parse()
        .unwrap()
}
