//! Semantic checks of the arguments: allowed keys, no duplicates, names that
//! Prometheus accepts. Errors are collected so one build shows all of them.

use std::collections::BTreeMap;

use syn::spanned::Spanned;
use syn::{Error, Expr, Ident, Lit, LitStr, ReturnType, Type};

use crate::ast::Function;
use crate::attr::{ungroup, Arg, Args, CacheArgs, FnArgs, LabelArg, ModelOpArgs, Op, Value};

/// Collected errors.
#[derive(Default)]
pub(crate) struct Errors(Option<Error>);

impl Errors {
    pub(crate) fn push(&mut self, error: Error) {
        match &mut self.0 {
            Some(errors) => errors.combine(error),
            None => self.0 = Some(error),
        }
    }

    pub(crate) fn into_result(self) -> syn::Result<()> {
        self.0.map_or(Ok(()), Err)
    }
}

/// Check the keys against `allowed` (the syntax of each, for the message),
/// reporting unknown and duplicate ones; returns the arguments by key.
fn by_key(
    macro_name: &str,
    args: Args,
    allowed: &[(&str, &str)],
    errors: &mut Errors,
) -> BTreeMap<String, Arg> {
    let mut seen = BTreeMap::new();
    for arg in args.0 {
        let key = arg.key.to_string();
        if !allowed.iter().any(|(name, _)| *name == key) {
            let syntax: Vec<_> = allowed.iter().map(|(_, syntax)| *syntax).collect();
            errors.push(Error::new(
                arg.key.span(),
                format!(
                    "unknown argument `{key}`; #[{macro_name}] takes {}",
                    syntax.join(", ")
                ),
            ));
        } else if let std::collections::btree_map::Entry::Vacant(slot) = seen.entry(key.clone()) {
            slot.insert(arg);
        } else {
            errors.push(Error::new(
                arg.key.span(),
                format!("duplicate argument `{key}`"),
            ));
        }
    }
    seen
}

fn lit_str(arg: Arg, errors: &mut Errors) -> Option<LitStr> {
    match arg.value {
        Value::Expr(expr) => match ungroup(&expr) {
            Expr::Lit(syn::ExprLit {
                lit: Lit::Str(s), ..
            }) => Some(s.clone()),
            other => {
                errors.push(Error::new_spanned(
                    other,
                    format!("`{}` takes a string literal: {} = \"..\"", arg.key, arg.key),
                ));
                None
            }
        },
        Value::List(_) => {
            errors.push(Error::new(
                arg.key.span(),
                format!("`{}` takes a string literal: {} = \"..\"", arg.key, arg.key),
            ));
            None
        }
    }
}

/// Prometheus metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`. The rules are
/// instrument-runtime's (its `names` module); this copy is tested equal to
/// them.
fn is_metric_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_' || c == ':')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':')
}

/// Prometheus label name: `[a-zA-Z_][a-zA-Z0-9_]*`.
fn is_label_name(name: &str) -> bool {
    let mut chars = name.chars();
    matches!(chars.next(), Some(c) if c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
}

/// `#[counted]` and `#[timed]`; `histogram` reserves the `le` label.
pub(crate) fn fn_args(
    macro_name: &str,
    args: Args,
    histogram: bool,
    errors: &mut Errors,
) -> FnArgs {
    let allowed = [
        ("name", "name = \"..\""),
        ("help", "help = \"..\""),
        ("labels", "labels(name = value, ..)"),
        ("objective", "objective = OBJECTIVE"),
    ];
    let mut by_key = by_key(macro_name, args, &allowed, errors);
    let mut out = FnArgs::default();
    if let Some(arg) = by_key.remove("name") {
        out.name = lit_str(arg, errors);
        if let Some(name) = &out.name {
            if !is_metric_name(&name.value()) {
                errors.push(Error::new(
                    name.span(),
                    format!(
                        "`{}` is not a valid Prometheus metric name: use [a-zA-Z_:][a-zA-Z0-9_:]*",
                        name.value()
                    ),
                ));
            }
        }
    }
    if let Some(arg) = by_key.remove("help") {
        let key = arg.key.clone();
        out.help = lit_str(arg, errors);
        if out.name.is_none() {
            errors.push(Error::new(key.span(), format!("`help` needs `name = \"..\"`: the built-in family of #[{macro_name}] has its own help text")));
        }
    }
    if let Some(arg) = by_key.remove("labels") {
        let key = arg.key.clone();
        match arg.value {
            Value::List(labels) => {
                check_labels(&labels, histogram, errors);
                out.labels = Some((key.clone(), labels));
            }
            Value::Expr(expr) => errors.push(Error::new_spanned(
                expr,
                "`labels` takes a list: labels(name = value, ..)",
            )),
        }
        if out.name.is_none() {
            errors.push(Error::new(
                key.span(),
                format!("`labels` needs `name = \"..\"`: the built-in family of #[{macro_name}] has fixed labels"),
            ));
        }
    }
    if let Some(arg) = by_key.remove("objective") {
        match arg.value {
            Value::Expr(expr) => {
                if out.name.is_some() {
                    errors.push(Error::new(
                        arg.key.span(),
                        format!("`objective` measures the built-in family of #[{macro_name}]: not with `name = \"..\"`"),
                    ));
                }
                out.objective = Some(expr);
            }
            Value::List(_) => errors.push(Error::new(
                arg.key.span(),
                "`objective` takes a constant or an array of them: objective = API or objective = [API, CHECKOUT]",
            )),
        }
    }
    out
}

fn check_labels(labels: &[LabelArg], histogram: bool, errors: &mut Errors) {
    let mut seen: Vec<String> = Vec::new();
    for label in labels {
        let name = label.name.to_string();
        let name = name.strip_prefix("r#").unwrap_or(&name).to_owned();
        if !is_label_name(&name) || name.starts_with("__") {
            errors.push(Error::new(
                label.name.span(),
                format!("`{name}` is not a valid label name: use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __"),
            ));
        } else if histogram && name == "le" {
            errors.push(Error::new(
                label.name.span(),
                "`le` is reserved for histogram buckets; choose another label name",
            ));
        } else if seen.contains(&name) {
            errors.push(Error::new(
                label.name.span(),
                format!("duplicate label `{name}`"),
            ));
        }
        seen.push(name);
    }
}

/// `#[model_op]`.
pub(crate) fn model_op_args(args: Args, errors: &mut Errors) -> Option<ModelOpArgs> {
    let allowed = [
        ("model", "model = \"..\""),
        ("op", "op = insert|update|delete|select"),
        ("alias", "alias = \"..\""),
        ("vendor", "vendor = \"..\""),
        ("error_type", "error_type = path::to::fn or |error: &E| .."),
        ("many", "many = <number of statements>"),
    ];
    let mut by_key = by_key("model_op", args, &allowed, errors);
    let model = match by_key.remove("model") {
        Some(arg) => lit_str(arg, errors),
        None => {
            errors.push(Error::new(proc_macro2::Span::call_site(), "#[model_op] needs `model = \"..\"`, e.g. #[model_op(model = \"user\", op = insert)]"));
            None
        }
    };
    if let Some(model) = &model {
        if model.value().is_empty() {
            errors.push(Error::new(model.span(), "`model` must not be empty"));
        }
    }
    let op = match by_key.remove("op") {
        Some(arg) => op(arg, errors),
        None => {
            errors.push(Error::new(
                proc_macro2::Span::call_site(),
                "#[model_op] needs `op = insert|update|delete|select`, e.g. #[model_op(model = \"user\", op = insert)]",
            ));
            None
        }
    };
    let alias = by_key.remove("alias").and_then(|arg| lit_str(arg, errors));
    let vendor = by_key.remove("vendor").and_then(|arg| lit_str(arg, errors));
    let error_type = match by_key.remove("error_type") {
        Some(Arg {
            value: Value::Expr(expr),
            ..
        }) => Some(expr),
        Some(Arg { key, .. }) => {
            errors.push(Error::new(
                key.span(),
                "`error_type` takes a function of the error: error_type = path::to::fn or error_type = |error: &E| ..",
            ));
            None
        }
        None => None,
    };
    let many = match by_key.remove("many") {
        Some(Arg {
            value: Value::Expr(expr),
            ..
        }) => match ungroup(&expr) {
            Expr::Lit(syn::ExprLit { lit, .. }) if !matches!(lit, Lit::Int(_) | Lit::Byte(_)) => {
                errors.push(Error::new_spanned(
                    lit,
                    "`many` takes an integer expression, the number of statements of a bulk \
                     execution: many = 3, or many = rows.len()",
                ));
                None
            }
            _ => Some(expr),
        },
        Some(Arg { key, .. }) => {
            errors.push(Error::new(
                key.span(),
                "`many` takes the number of statements of a bulk execution: many = rows.len()",
            ));
            None
        }
        None => None,
    };
    Some(ModelOpArgs {
        model: model?,
        op: op?,
        alias,
        vendor,
        error_type,
        many,
    })
}

fn op(arg: Arg, errors: &mut Errors) -> Option<Op> {
    let ident: Option<&Ident> = match &arg.value {
        Value::Expr(expr) => match ungroup(expr) {
            Expr::Path(path) => path.path.get_ident(),
            _ => None,
        },
        _ => None,
    };
    let op = match ident.map(ToString::to_string).as_deref() {
        Some("insert") => Some(Op::Insert),
        Some("update") => Some(Op::Update),
        Some("delete") => Some(Op::Delete),
        Some("select") => Some(Op::Select),
        _ => None,
    };
    if op.is_none() {
        let span = match &arg.value {
            Value::Expr(expr) => expr.span(),
            Value::List(_) => arg.key.span(),
        };
        errors.push(Error::new(
            span,
            "`op` must be one of: insert, update, delete, select",
        ));
    }
    op
}

/// `#[cache_lookup]`. The return type is checked by the type system
/// (`CacheResult`), except where the signature alone settles it: no return
/// type, or `!` (which stable Rust cannot name in a bound).
pub(crate) fn cache_args(
    args: Args,
    function: Option<&Function>,
    errors: &mut Errors,
) -> CacheArgs {
    const NEEDS: &str =
        "`#[cache_lookup]` needs a function returning `Option<T>` or `Result<Option<T>, E>`";
    if let Some(sig) = function.map(|function| &function.item.sig) {
        match &sig.output {
            ReturnType::Default => errors.push(Error::new(
                sig.ident.span(),
                format!("{NEEDS}; `{}` returns nothing", sig.ident),
            )),
            ReturnType::Type(_, ty) => {
                if let Type::Never(never) = &**ty {
                    errors.push(Error::new_spanned(never, format!("{NEEDS}, not `!`")));
                }
            }
        }
    }
    let mut by_key = by_key(
        "cache_lookup",
        args,
        &[("backend", "backend = \"..\"")],
        errors,
    );
    let mut out = CacheArgs::default();
    if let Some(backend) = by_key
        .remove("backend")
        .and_then(|arg| lit_str(arg, errors))
    {
        out.backend = backend;
    }
    out
}

#[cfg(test)]
mod names_agree {
    use crate::runtime_names;

    /// Every string of up to three characters over an alphabet that covers
    /// each class the rules tell apart, and some longer ones.
    fn corpus() -> Vec<String> {
        let alphabet = ['a', 'Z', '_', ':', '0', '9', '-', '.', ' ', 'é'];
        let mut all = vec![String::new()];
        let mut last = vec![String::new()];
        for _ in 0..3 {
            last = last
                .iter()
                .flat_map(|prefix| alphabet.iter().map(move |c| format!("{prefix}{c}")))
                .collect();
            all.extend(last.iter().cloned());
        }
        all.extend(
            [
                "__name__",
                "django_http_requests_total",
                "a:b:c",
                "le",
                "_le",
            ]
            .map(String::from),
        );
        all
    }

    #[test]
    fn the_macros_accept_exactly_the_names_the_runtime_accepts() {
        for name in corpus() {
            assert_eq!(
                super::is_metric_name(&name),
                runtime_names::is_metric_name(&name),
                "metric name {name:?}"
            );
            assert_eq!(
                super::is_label_name(&name) && !name.starts_with("__"),
                runtime_names::is_user_label_name(&name),
                "label name {name:?}"
            );
        }
    }
}
