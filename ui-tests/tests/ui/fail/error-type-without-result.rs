use instrument_runtime::model_op;

fn error_kind(error: &String) -> &'static str {
    if error.is_empty() {
        "empty"
    } else {
        "other"
    }
}

#[model_op(model = "user", op = select, error_type = error_kind)]
fn count_users() -> u32 {
    3
}

fn main() {
    assert_eq!(count_users(), 3);
    assert_eq!(error_kind(&String::new()), "empty");
}
