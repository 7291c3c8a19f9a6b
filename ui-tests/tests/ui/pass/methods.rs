#![deny(warnings)]

// Each receiver: `&self`, `&mut self`, `self`, `mut self`, `self: Box<Self>`,
// and an associated function without one.

use instrument_runtime::{cache_lookup, counted, model_op, timed};

#[derive(Debug, PartialEq)]
struct Account {
    name: String,
    balance: i64,
}

impl Account {
    #[counted]
    fn new(name: &str) -> Self {
        Account {
            name: name.to_owned(),
            balance: 0,
        }
    }

    #[counted]
    #[timed]
    fn name(&self) -> &str {
        &self.name
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
    fn balance_mut(&mut self) -> &mut i64 {
        &mut self.balance
    }

    #[timed]
    fn into_name(self) -> String {
        self.name
    }

    #[counted]
    fn renamed(mut self, name: &str) -> Self {
        self.name = name.to_owned();
        self
    }

    #[counted]
    fn unboxed(self: Box<Self>) -> Self {
        *self
    }

    #[model_op(model = "account", op = update)]
    fn save(&mut self) -> Result<(), String> {
        self.balance += 0;
        Ok(())
    }

    #[model_op(model = "account", op = delete)]
    fn close(self) -> Result<String, String> {
        Ok(self.name)
    }

    #[cache_lookup(backend = "accounts")]
    fn positive_balance(&self) -> Option<i64> {
        (self.balance > 0).then_some(self.balance)
    }

    #[cache_lookup(backend = "accounts")]
    fn balance_entry(&mut self) -> Option<&mut i64> {
        Some(&mut self.balance)
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut account = Account::new("ann");
    assert_eq!(account.name(), "ann");
    assert_eq!(account.positive_balance(), None);
    assert_eq!(account.deposit(5), Ok(5));
    assert_eq!(account.deposit(-1), Err("cannot deposit -1".to_owned()));
    *account.balance_mut() += 1;
    *account.balance_entry().unwrap() += 1;
    assert_eq!(account.positive_balance(), Some(7));
    assert_eq!(account.save(), Ok(()));
    let account = Box::new(account.renamed("bob")).unboxed();
    assert_eq!(account.name(), "bob");
    let other = Account::new("cid");
    assert_eq!(other.into_name(), "cid");
    assert_eq!(account.close(), Ok("bob".to_owned()));

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="new",module="{m}",result="ok"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_total{{function="name",module="{m}",result="ok"}}"#),
            2,
        ),
        (
            format!(r#"function_calls_total{{function="deposit",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="deposit",module="{m}",result="error"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="balance_mut",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="renamed",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="unboxed",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="name",module="{m}"}}"#),
            2,
        ),
        (
            format!(
                r#"function_calls_duration_seconds_count{{function="into_name",module="{m}"}}"#
            ),
            1,
        ),
        (
            r#"db_execute_total{alias="default",vendor="unknown"}"#.to_owned(),
            2,
        ),
        (r#"model_updates_total{model="account"}"#.to_owned(), 1),
        (r#"model_deletes_total{model="account"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="accounts"}"#.to_owned(), 2),
        (r#"cache_misses_total{backend="accounts"}"#.to_owned(), 1),
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
