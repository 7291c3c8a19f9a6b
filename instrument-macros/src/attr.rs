//! The attribute arguments: `key = value` pairs and `labels(name = expr, ..)`.

use proc_macro2::Span;
use syn::ext::IdentExt;
use syn::parse::{Parse, ParseStream};
use syn::punctuated::Punctuated;
use syn::{Expr, Ident, Lit, LitStr, Token};

/// One `key = value` or `key(..)` argument, as written.
pub(crate) struct Arg {
    pub(crate) key: Ident,
    pub(crate) value: Value,
}

pub(crate) enum Value {
    /// `key = expr`
    Expr(Expr),
    /// `key(name = expr, ..)`
    List(Vec<LabelArg>),
}

/// `name = expr` inside `labels(..)`.
pub(crate) struct LabelArg {
    pub(crate) name: Ident,
    pub(crate) value: Expr,
}

impl LabelArg {
    /// The label value when it is a literal known at compile time.
    pub(crate) fn static_value(&self) -> Option<String> {
        match ungroup(&self.value) {
            Expr::Lit(lit) => match &lit.lit {
                Lit::Str(s) => Some(s.value()),
                Lit::Int(i) => Some(i.base10_digits().to_owned()),
                Lit::Bool(b) => Some(b.value.to_string()),
                Lit::Char(c) => Some(c.value().to_string()),
                _ => None,
            },
            _ => None,
        }
    }
}

/// The expression inside the invisible groups that `macro_rules!` puts
/// around a `$value:expr` it passes on, so that `name = $name` in a macro
/// is the literal it was given.
pub(crate) fn ungroup(mut expr: &Expr) -> &Expr {
    while let Expr::Group(group) = expr {
        expr = &group.expr;
    }
    expr
}

/// Every argument of one attribute, in order.
pub(crate) struct Args(pub(crate) Vec<Arg>);

impl Parse for Args {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        let mut args = Vec::new();
        while !input.is_empty() {
            let key = Ident::parse_any(input).map_err(|error| {
                syn::Error::new(error.span(), "expected an argument: key = value")
            })?;
            let lookahead = input.lookahead1();
            let value = if lookahead.peek(Token![=]) {
                input.parse::<Token![=]>()?;
                Value::Expr(input.parse()?)
            } else if lookahead.peek(syn::token::Paren) {
                let content;
                syn::parenthesized!(content in input);
                let labels = Punctuated::<LabelArg, Token![,]>::parse_terminated(&content)?;
                Value::List(labels.into_iter().collect())
            } else if input.is_empty() || input.peek(Token![,]) {
                let message = if key == "labels" {
                    "`labels` takes a list: labels(name = value, ..)".to_owned()
                } else {
                    format!("`{key}` needs a value: {key} = ..")
                };
                return Err(syn::Error::new(key.span(), message));
            } else {
                return Err(lookahead.error());
            };
            args.push(Arg { key, value });
            if input.is_empty() {
                break;
            }
            if !input.peek(Token![,]) {
                return Err(input.error("expected `,` between arguments"));
            }
            input.parse::<Token![,]>()?;
        }
        Ok(Args(args))
    }
}

impl Parse for LabelArg {
    fn parse(input: ParseStream) -> syn::Result<Self> {
        // `Ident::parse_any` so that keywords such as `type` work as label names.
        let name = Ident::parse_any(input).map_err(|error| {
            syn::Error::new(
                error.span(),
                "expected a label name: labels(name = value, ..)",
            )
        })?;
        if input.is_empty() || input.peek(Token![,]) {
            return Err(syn::Error::new(
                name.span(),
                format!("label `{name}` needs a value: {name} = .."),
            ));
        }
        if !input.peek(Token![=]) {
            // `http-method = ..`, `a.b = ..`: say what a label name is.
            let mut written = name.unraw().to_string();
            let fork = input.fork();
            while !fork.is_empty() && !fork.peek(Token![=]) && !fork.peek(Token![,]) {
                let token: proc_macro2::TokenTree = fork.parse()?;
                written.push_str(&token.to_string());
            }
            if fork.peek(Token![=]) {
                return Err(syn::Error::new(
                    name.span(),
                    format!(
                        "`{written}` is not a valid label name: label names are \
                         [a-zA-Z_][a-zA-Z0-9_]*, such as `{}`",
                        written
                            .chars()
                            .map(|c| if c.is_ascii_alphanumeric() { c } else { '_' })
                            .collect::<String>()
                    ),
                ));
            }
        }
        input.parse::<Token![=]>()?;
        Ok(LabelArg {
            name,
            value: input.parse()?,
        })
    }
}

/// The arguments of `#[counted]` and `#[timed]`.
#[derive(Default)]
pub(crate) struct FnArgs {
    pub(crate) name: Option<LitStr>,
    pub(crate) help: Option<LitStr>,
    pub(crate) labels: Option<(Ident, Vec<LabelArg>)>,
    /// `objective = API` or `objective = [API, CHECKOUT]`: constants of
    /// type `Objective`.
    pub(crate) objective: Option<Expr>,
}

/// The operation named by `#[model_op(op = ..)]`.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Op {
    Insert,
    Update,
    Delete,
    Select,
}

/// The arguments of `#[model_op]`.
pub(crate) struct ModelOpArgs {
    pub(crate) model: LitStr,
    pub(crate) op: Op,
    pub(crate) alias: Option<LitStr>,
    pub(crate) vendor: Option<LitStr>,
    pub(crate) error_type: Option<Expr>,
    /// The number of statements of a bulk execution, evaluated before the body.
    pub(crate) many: Option<Expr>,
}

/// The arguments of `#[cache_lookup]`.
pub(crate) struct CacheArgs {
    pub(crate) backend: LitStr,
}

impl Default for CacheArgs {
    fn default() -> Self {
        CacheArgs {
            backend: LitStr::new("default", Span::call_site()),
        }
    }
}
