use instrument_runtime::model_op;

#[model_op(model = "row", op = insert, many = "3")]
fn insert_rows() {}

fn main() {
    insert_rows();
}
