use instrument_runtime::model_op;

fn error_kind(code: u32) -> &'static str {
    if code == 0 {
        "zero"
    } else {
        "other"
    }
}

#[model_op(model = "user", op = insert, error_type = error_kind)]
fn save_user(id: u32) -> Result<u32, String> {
    Ok(id)
}

fn main() {
    assert_eq!(save_user(1), Ok(1));
    assert_eq!(error_kind(0), "zero");
}
