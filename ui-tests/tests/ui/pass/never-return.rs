#![deny(warnings)]

// A function that never returns (`-> !`) can still be instrumented: a
// panic is what ends it.

use instrument_runtime::{counted, model_op, timed};

#[counted]
#[timed]
fn fail(message: &str) -> ! {
    panic!("{message}")
}

#[model_op(model = "job", op = update)]
fn abort_job(code: i32) -> ! {
    std::process::exit(code)
}

#[counted]
fn serve(mut requests: u32) -> ! {
    loop {
        requests += 1;
        if requests > 3 {
            panic!("served {requests}");
        }
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    std::panic::set_hook(Box::new(|_| {}));
    assert!(std::panic::catch_unwind(|| fail("boom")).is_err());
    assert!(std::panic::catch_unwind(|| serve(0)).is_err());
    let page = metrics.render();
    let m = module_path!();
    for function in ["fail", "serve"] {
        let series = format!(
            r#"function_calls_total{{function="{function}",module="{m}",result="panic"}} 1"#
        );
        assert!(page.lines().any(|line| line == series), "{series}\n{page}");
    }
    if page.is_empty() {
        abort_job(1);
    }
}
