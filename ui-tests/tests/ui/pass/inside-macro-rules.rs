#![deny(warnings)]

// The attributes, and their arguments, given to a function that a
// `macro_rules!` writes.

use instrument_runtime::{cache_lookup, model_op};

macro_rules! lookup {
    ($($attr:tt)*) => {
        $($attr)*
        fn get(key: u32) -> Option<u32> {
            (key % 2 == 0).then_some(key)
        }
    };
}

lookup!(#[cache_lookup(backend = "macro")]);

fn kind(error: &std::num::ParseIntError) -> String {
    format!("{:?}", error.kind())
}

macro_rules! repository {
    ($kind:path) => {
        #[model_op(model = "row", op = insert, error_type = $kind)]
        fn insert(text: &str) -> Result<u32, std::num::ParseIntError> {
            text.parse()
        }
    };
}

repository!(kind);

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    assert_eq!(get(2), Some(2));
    assert_eq!(get(3), None);
    assert_eq!(insert("4"), Ok(4));
    assert!(insert("x").is_err());
    let page = metrics.render();
    for line in [
        r#"cache_hits_total{backend="macro"} 1"#,
        r#"cache_misses_total{backend="macro"} 1"#,
        r#"model_inserts_total{model="row"} 1"#,
        r#"db_errors_total{alias="default",vendor="unknown",type="InvalidDigit"} 1"#,
    ] {
        assert!(page.contains(line), "{line}\n{page}");
    }
}
