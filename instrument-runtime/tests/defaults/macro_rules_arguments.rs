//! Attribute arguments written by a `macro_rules!` macro. The compiler hands
//! a `$value:expr` over wrapped in an invisible group; the macros read
//! through it, so a literal stays a literal (a static label, a family name)
//! and `op = $op` is still the operation.
//!
//! Regression: `name = $name` was rejected with "`name` takes a string
//! literal", `op = $op` with "`op` must be one of ..".

use crate::common;

use common::scrape;
use instrument_runtime::{counted, model_op, timed};

macro_rules! repository {
    ($function:ident, $family:expr, $route:expr, $model:expr, $op:expr, $backend:expr) => {
        #[counted(name = $family, labels(route = $route, kind = kind))]
        #[timed(name = "macro_rules_seconds", help = "Timed through macro_rules!.", labels(route = $route))]
        #[model_op(model = $model, op = $op)]
        fn $function(kind: &str) -> Result<(), String> {
            if kind == "bad" {
                Err(kind.to_owned())
            } else {
                Ok(())
            }
        }

        mod cached {
            #[instrument_runtime::cache_lookup(backend = $backend)]
            pub(super) fn get(id: u32) -> Option<u32> {
                (id % 2 == 0).then_some(id)
            }
        }
    };
}

repository!(
    save_user,
    "macro_rules_calls_total",
    "/users",
    "user",
    insert,
    "macro-backend"
);

#[test]
fn arguments_from_macro_rules_expressions_work_as_written_ones() {
    common::metrics();
    // A static label is known at install: its series exists before any call.
    let page = scrape();
    assert_eq!(
        page.count("macro_rules_seconds_count", &[("route", "/users")]),
        0
    );
    assert_eq!(
        page.count("cache_hits_total", &[("backend", "macro-backend")]),
        0
    );

    save_user("a").unwrap();
    save_user("a").unwrap();
    save_user("bad").unwrap_err();
    cached::get(2);
    cached::get(3);
    cached::get(4);

    let page = scrape();
    let calls = |kind| {
        page.count(
            "macro_rules_calls_total",
            &[("route", "/users"), ("kind", kind)],
        )
    };
    assert_eq!(calls("a"), 2);
    assert_eq!(calls("bad"), 1);
    assert_eq!(
        page.count("macro_rules_seconds_count", &[("route", "/users")]),
        3
    );
    assert_eq!(
        page.help["macro_rules_seconds"],
        "Timed through macro_rules!."
    );
    // `op = $op` is `insert`: only the successful executions are inserts.
    assert_eq!(page.count("model_inserts_total", &[("model", "user")]), 2);
    assert_eq!(
        page.count("cache_hits_total", &[("backend", "macro-backend")]),
        2
    );
    assert_eq!(
        page.count("cache_misses_total", &[("backend", "macro-backend")]),
        1
    );
}
