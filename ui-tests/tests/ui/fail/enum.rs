use instrument_runtime::model_op;

#[model_op(model = "user", op = insert)]
#[derive(Debug, PartialEq)]
enum Status {
    Active,
}

fn main() {
    assert_eq!(Status::Active, Status::Active);
}
