use instrument_runtime::model_op;

#[model_op(model = "user", op = insert, error_type(kind = "db"))]
fn save_user(id: u32) -> Result<u32, String> {
    Ok(id)
}

fn main() {
    assert_eq!(save_user(1), Ok(1));
}
