#![deny(warnings)]

// `unsafe fn`, with and without `unsafe_op_in_unsafe_fn`, and unsafe methods.

use instrument_runtime::{cache_lookup, counted, model_op, timed};

/// # Safety
/// `ptr` must be valid for reads.
#[counted]
unsafe fn read(ptr: *const u32) -> u32 {
    *ptr
}

/// # Safety
/// `ptr` must be valid for writes.
#[timed]
#[deny(unsafe_op_in_unsafe_fn)]
unsafe fn write(ptr: *mut u32, value: u32) {
    // SAFETY: the caller promises `ptr` is valid.
    unsafe { *ptr = value }
}

/// # Safety
/// `ptr` must be valid for reads, or null.
#[cache_lookup(backend = "raw")]
unsafe fn lookup<'a>(ptr: *const u32) -> Option<&'a u32> {
    ptr.as_ref()
}

struct Raw(*mut u32);

impl Raw {
    /// # Safety
    /// The pointer must be valid for writes.
    #[model_op(model = "raw", op = update)]
    #[counted]
    unsafe fn set(&mut self, value: u32) -> Result<u32, String> {
        *self.0 = value;
        Ok(value)
    }

    /// # Safety
    /// The pointer must be valid for reads.
    #[counted]
    async unsafe fn get(&self) -> u32 {
        *self.0
    }
}

fn main() {
    let metrics = instrument_runtime::install().unwrap();
    let mut value = 1;
    // SAFETY: `value` lives for the whole block.
    unsafe {
        assert_eq!(read(&value), 1);
        write(&mut value, 2);
        assert_eq!(lookup(&value), Some(&2));
        assert_eq!(lookup(std::ptr::null()), None);
        let mut raw = Raw(&mut value);
        assert_eq!(raw.set(3), Ok(3));
        drop(raw.get());
    }
    assert_eq!(value, 3);

    let page = metrics.render();
    let m = module_path!();
    let expected = [
        (
            format!(r#"function_calls_total{{function="read",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_total{{function="set",module="{m}",result="ok"}}"#),
            1,
        ),
        (
            format!(r#"function_calls_duration_seconds_count{{function="write",module="{m}"}}"#),
            1,
        ),
        (r#"model_updates_total{model="raw"}"#.to_owned(), 1),
        (r#"cache_hits_total{backend="raw"}"#.to_owned(), 1),
        (r#"cache_misses_total{backend="raw"}"#.to_owned(), 1),
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
