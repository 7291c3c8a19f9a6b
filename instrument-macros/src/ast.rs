//! The annotated item, parsed and classified by how its body runs.

use proc_macro2::{TokenStream, TokenTree};
use quote::ToTokens;
use syn::visit_mut::{self, VisitMut};
use syn::{
    Block, Expr, GenericArgument, ItemFn, PathArguments, ReturnType, Stmt, Type, TypeParamBound,
};

/// How the body of the function runs, which decides where the guard goes.
pub(crate) enum Shape {
    /// A plain `fn`.
    Sync,
    /// An `async fn`.
    Async,
    /// A `fn` returning `impl Future<Output = ..>`: the returned future is
    /// what gets measured.
    ImplFuture,
    /// A method rewritten by `#[async_trait]`: the body is
    /// `Box::pin(async move { .. })`, and the async block is what runs.
    AsyncTrait,
}

/// The names of the locals that the expansion declares. Stacked macros
/// expand one inside the other: each level has names of its own, so that
/// the code one level writes into the body (a rewritten `return`) never
/// reaches another level's guard.
#[derive(Clone)]
pub(crate) struct Names {
    pub(crate) guard: syn::Ident,
    pub(crate) site: syn::Ident,
    pub(crate) labels: syn::Ident,
    pub(crate) ret: syn::Ident,
    pub(crate) args: syn::Ident,
    pub(crate) future: syn::Ident,
    /// The path of instrument-runtime: `::instrument_runtime`, or what
    /// `crate = ..` says.
    pub(crate) krate: TokenStream,
}

impl Names {
    /// The names of the level below `depth` levels of expansion already
    /// in the body.
    fn new(depth: usize) -> Names {
        let name = |base: &str| {
            let name = match depth {
                0 => base.to_owned(),
                depth => format!("{base}_{depth}"),
            };
            syn::Ident::new(&name, proc_macro2::Span::call_site())
        };
        Names {
            guard: name("__instrument_guard"),
            site: name("__instrument_site"),
            labels: name("__instrument_labels"),
            ret: name("__instrument_ret"),
            args: name("__instrument_args"),
            future: name("__instrument_future"),
            krate: runtime_path(),
        }
    }
}

/// The path of instrument-runtime in the crate being compiled: the name
/// its Cargo.toml gives the dependency (`::instr` for
/// `instr = { package = "instrument-runtime" }`), else
/// `::instrument_runtime` (the runtime's own tests and doctests, or a crate
/// that reaches the macros through a facade and says where with
/// `crate = ..`).
fn runtime_path() -> TokenStream {
    use proc_macro_crate::{crate_name, FoundCrate};
    match crate_name("instrument-runtime") {
        Ok(FoundCrate::Name(name)) if name != "instrument_runtime" => {
            let name = syn::Ident::new(&name, proc_macro2::Span::call_site());
            quote::quote!(::#name)
        }
        _ => quote::quote!(::instrument_runtime),
    }
}

/// How many of the macros' expansions the tokens hold: each declares one
/// `let __instrument_site..`.
fn expansions(tokens: TokenStream) -> usize {
    let mut count = 0;
    let mut after_let = false;
    for token in tokens {
        match token {
            TokenTree::Ident(ident) => {
                if after_let && ident.to_string().starts_with("__instrument_site") {
                    count += 1;
                }
                after_let = ident == "let";
            }
            TokenTree::Group(group) => {
                count += expansions(group.stream());
                after_let = false;
            }
            _ => after_let = false,
        }
    }
    count
}

/// The annotated function.
pub(crate) struct Function {
    /// The names of the expansion's locals.
    pub(crate) names: Names,
    pub(crate) item: ItemFn,
    pub(crate) shape: Shape,
    /// The type of the value the body produces, for the `let` that holds
    /// it; `impl Trait` is replaced by `_`. `None` when it cannot be named.
    pub(crate) output: Option<Type>,
    /// Declared `-> !`: the body never produces a value to inspect.
    pub(crate) diverges: bool,
    /// `#[track_caller]`: the body must not move into a closure, or
    /// `Location::caller()` and the panics of `unwrap`/`assert!` would
    /// report the function instead of its caller.
    pub(crate) track_caller: bool,
    /// The body may leave the function where the expansion cannot see it:
    /// through `?`, or a macro that might expand to `return` or `?`.
    pub(crate) leaves_unseen: bool,
    /// A macro call in the body may suspend where no rewriting of the
    /// body's `.await` expressions reaches: it holds an `.await`, or it is
    /// not one of the standard macros (`tokio::select!`, `join!` and a
    /// local `macro_rules!` await inside their own expansion).
    pub(crate) may_suspend_in_macro: bool,
}

/// Parse the item, or explain why it cannot carry the attribute.
pub(crate) fn parse(macro_name: &str, item: TokenStream) -> syn::Result<Function> {
    let item: ItemFn = match syn::parse2(item.clone()) {
        Ok(item) => item,
        Err(_) => return Err(wrong_item(macro_name, item)),
    };
    if let Some(constness) = &item.sig.constness {
        return Err(syn::Error::new_spanned(
            constness,
            format!("#[{macro_name}] cannot instrument a `const fn`: metrics are recorded at run time; remove `const` or the attribute"),
        ));
    }
    let declared = match &item.sig.output {
        ReturnType::Default => Some(syn::parse_quote!(())),
        ReturnType::Type(_, ty) => Some((**ty).clone()),
    };
    let (shape, output) = if item.sig.asyncness.is_some() {
        (Shape::Async, declared)
    } else if async_trait_body(&item.block).is_some() {
        (Shape::AsyncTrait, declared.as_ref().and_then(future_output))
    } else if let Some(output) = declared
        .as_ref()
        .filter(|ty| is_impl_future(ty))
        .map(future_output)
    {
        (Shape::ImplFuture, output)
    } else {
        (Shape::Sync, declared)
    };
    let diverges =
        matches!(&item.sig.output, ReturnType::Type(_, ty) if matches!(**ty, Type::Never(_)));
    let track_caller = item
        .attrs
        .iter()
        .any(|attr| attr.path().is_ident("track_caller"));
    let leaves_unseen = may_leave_unseen(item.block.to_token_stream());
    let may_suspend_in_macro = may_suspend_in_macro(item.block.to_token_stream());
    let names = Names::new(expansions(item.block.to_token_stream()));
    let output = output
        .filter(|ty| !matches!(ty, Type::Never(_)))
        .map(|mut ty| {
            InferImplTrait.visit_type_mut(&mut ty);
            ty
        });
    Ok(Function {
        names,
        item,
        shape,
        output,
        diverges,
        track_caller,
        leaves_unseen,
        may_suspend_in_macro,
    })
}

/// Whether the tokens hold a `?`, or a call of a macro that might expand
/// to a `return` or a `?` (anything but the standard macros below), macro
/// arguments and nested closures included: a conservative test for a body
/// that might leave the function where no rewriting of its `return`
/// expressions reaches.
fn may_leave_unseen(tokens: TokenStream) -> bool {
    let mut tokens = tokens.into_iter().peekable();
    while let Some(token) = tokens.next() {
        let early = match token {
            TokenTree::Ident(ident) => {
                let is_call =
                    matches!(tokens.peek(), Some(TokenTree::Punct(p)) if p.as_char() == '!');
                is_call && !NEVER_RETURN.iter().any(|name| ident == name)
            }
            TokenTree::Punct(punct) => punct.as_char() == '?',
            TokenTree::Group(group) => may_leave_unseen(group.stream()),
            TokenTree::Literal(_) => false,
        };
        if early {
            return true;
        }
    }
    false
}

/// Whether a macro call among the tokens (`name!(..)`, nested ones
/// included) might suspend: it holds the identifier `await`, or it is not
/// one of the standard macros of [`NEVER_RETURN`], which expand to no
/// `.await` of their own.
fn may_suspend_in_macro(tokens: TokenStream) -> bool {
    fn holds_await(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            TokenTree::Ident(ident) => ident == "await",
            TokenTree::Group(group) => holds_await(group.stream()),
            _ => false,
        })
    }
    let mut tokens = tokens.into_iter().peekable();
    let mut bang = false;
    while let Some(token) = tokens.next() {
        match token {
            TokenTree::Group(group) if bang && holds_await(group.stream()) => return true,
            TokenTree::Group(group) if may_suspend_in_macro(group.stream()) => return true,
            TokenTree::Ident(ident) => {
                // `name!` (not `a != b`, whose `!` is joined to the `=`).
                bang = matches!(tokens.peek(), Some(TokenTree::Punct(p))
                    if p.as_char() == '!' && p.spacing() == proc_macro2::Spacing::Alone);
                if bang {
                    if !NEVER_RETURN.iter().any(|name| ident == name) {
                        return true;
                    }
                    tokens.next();
                }
                continue;
            }
            _ => {}
        }
        bang = false;
    }
    false
}

/// Standard macros that never return from the function they are used in.
const NEVER_RETURN: &[&str] = &[
    "assert",
    "assert_eq",
    "assert_ne",
    "debug_assert",
    "debug_assert_eq",
    "debug_assert_ne",
    "panic",
    "unreachable",
    "todo",
    "unimplemented",
    "format",
    "format_args",
    "vec",
    "print",
    "println",
    "eprint",
    "eprintln",
    "write",
    "writeln",
    "matches",
    "dbg",
    "concat",
    "stringify",
    "line",
    "column",
    "file",
    "module_path",
    "cfg",
    "env",
    "option_env",
    "include_str",
    "include_bytes",
];

fn wrong_item(macro_name: &str, item: TokenStream) -> syn::Error {
    let kind = match syn::parse2::<syn::Item>(item.clone()) {
        Ok(syn::Item::Struct(_)) => Some("a struct"),
        Ok(syn::Item::Enum(_)) => Some("an enum"),
        Ok(syn::Item::Union(_)) => Some("a union"),
        Ok(syn::Item::Impl(_)) => Some("an impl block"),
        Ok(syn::Item::Trait(_)) => Some("a trait"),
        Ok(syn::Item::Const(_)) => Some("a const"),
        Ok(syn::Item::Static(_)) => Some("a static"),
        Ok(syn::Item::Mod(_)) => Some("a module"),
        Ok(syn::Item::Type(_)) => Some("a type alias"),
        Ok(syn::Item::Use(_)) => Some("a use declaration"),
        _ => None,
    };
    let message = match kind {
        Some(kind @ "an impl block") => format!(
            "#[{macro_name}] applies to functions, not to {kind}; put it on each method to instrument"
        ),
        Some(kind @ "a trait") => format!(
            "#[{macro_name}] applies to functions, not to {kind}; put it on the methods of the impl, or on default method bodies"
        ),
        Some(kind) => format!("#[{macro_name}] applies to functions, not to {kind}"),
        None if syn::parse2::<syn::TraitItemFn>(item.clone()).is_ok() => format!(
            "#[{macro_name}] needs a function with a body, not a declaration; put it on the method in the impl"
        ),
        None if syn::parse2::<syn::ExprClosure>(item.clone()).is_ok() => format!(
            "#[{macro_name}] applies to functions, not to a closure; move the closure's body into a `fn` and put the attribute there"
        ),
        None => format!("#[{macro_name}] applies to functions with a body"),
    };
    // Point at the first token after the item's own attributes.
    let mut tokens = item.into_iter().peekable();
    while let Some(proc_macro2::TokenTree::Punct(p)) = tokens.peek() {
        if p.as_char() != '#' {
            break;
        }
        tokens.next();
        tokens.next();
    }
    match tokens.next() {
        Some(token) => syn::Error::new(token.span(), message),
        None => syn::Error::new(proc_macro2::Span::call_site(), message),
    }
}

/// The `async move { .. }` block of a body that is exactly
/// `Box::pin(async move { .. })`, as `#[async_trait]` writes it.
pub(crate) fn async_trait_body(block: &Block) -> Option<&syn::ExprAsync> {
    let [Stmt::Expr(Expr::Call(call), None)] = block.stmts.as_slice() else {
        return None;
    };
    let Expr::Path(func) = &*call.func else {
        return None;
    };
    let is_pin = func.path.segments.last().is_some_and(|s| s.ident == "pin")
        && func
            .path
            .segments
            .iter()
            .rev()
            .nth(1)
            .is_some_and(|s| s.ident == "Box");
    match (is_pin, call.args.first(), call.args.len()) {
        (true, Some(Expr::Async(body)), 1) if body.capture.is_some() => Some(body),
        _ => None,
    }
}

/// Mutable access to the same block, once [`async_trait_body`] said it is there.
pub(crate) fn async_trait_body_mut(block: &mut Block) -> Option<&mut syn::ExprAsync> {
    let Some(Stmt::Expr(Expr::Call(call), None)) = block.stmts.first_mut() else {
        return None;
    };
    match call.args.first_mut() {
        Some(Expr::Async(body)) => Some(body),
        _ => None,
    }
}

/// `impl Future<Output = ..>` without an `Unpin` bound (wrapping the future
/// in an async block would drop `Unpin`).
fn is_impl_future(ty: &Type) -> bool {
    let Type::ImplTrait(imp) = ty else {
        return false;
    };
    let names = || {
        imp.bounds.iter().filter_map(|b| match b {
            TypeParamBound::Trait(t) => t.path.segments.last().map(|s| s.ident.to_string()),
            _ => None,
        })
    };
    names().any(|n| n == "Future") && !names().any(|n| n == "Unpin")
}

/// The `Output` of a future type: `impl Future<Output = T>`, or
/// `Pin<Box<dyn Future<Output = T> + ..>>`.
fn future_output(ty: &Type) -> Option<Type> {
    let bounds = match ty {
        Type::ImplTrait(imp) => &imp.bounds,
        Type::TraitObject(obj) => &obj.bounds,
        Type::Path(path) => {
            // Pin<Box<..>>: look inside the generic arguments.
            let last = path.path.segments.last()?;
            let PathArguments::AngleBracketed(args) = &last.arguments else {
                return None;
            };
            return args.args.iter().find_map(|arg| match arg {
                GenericArgument::Type(inner) => future_output(inner),
                _ => None,
            });
        }
        Type::Paren(inner) => return future_output(&inner.elem),
        _ => return None,
    };
    bounds.iter().find_map(|bound| {
        let TypeParamBound::Trait(t) = bound else {
            return None;
        };
        let last = t.path.segments.last()?;
        if last.ident != "Future" {
            return None;
        }
        let PathArguments::AngleBracketed(args) = &last.arguments else {
            return None;
        };
        args.args.iter().find_map(|arg| match arg {
            GenericArgument::AssocType(assoc) if assoc.ident == "Output" => Some(assoc.ty.clone()),
            _ => None,
        })
    })
}

/// Rewrites each `return value` of the body (not of closures, async blocks
/// or items inside it) into `return wrap(value)`.
pub(crate) struct Returns<F>(pub(crate) F);

impl<F: FnMut(Expr) -> Expr> VisitMut for Returns<F> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Return(ret) => {
                if let Some(value) = &mut ret.expr {
                    self.visit_expr_mut(value);
                }
                let value = ret
                    .expr
                    .take()
                    .map_or_else(|| syn::parse_quote!(()), |value| *value);
                ret.expr = Some(Box::new((self.0)(value)));
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Rewrites each `.await` of the body (outside closures, async blocks and
/// nested items) with `F`, which gets the awaited expression.
pub(crate) struct Awaits<F>(pub(crate) F);

impl<F: FnMut(Expr) -> Expr> VisitMut for Awaits<F> {
    fn visit_expr_mut(&mut self, expr: &mut Expr) {
        match expr {
            Expr::Closure(_) | Expr::Async(_) => {}
            Expr::Await(awaited) => {
                self.visit_expr_mut(&mut awaited.base);
                let base = std::mem::replace(&mut *awaited.base, Expr::PLACEHOLDER);
                *awaited.base = (self.0)(base);
            }
            _ => visit_mut::visit_expr_mut(self, expr),
        }
    }

    fn visit_item_mut(&mut self, _: &mut syn::Item) {}
}

/// Replaces `impl Trait` with `_`, so the type can annotate a `let`.
struct InferImplTrait;

impl VisitMut for InferImplTrait {
    fn visit_type_mut(&mut self, ty: &mut Type) {
        if let Type::ImplTrait(_) = ty {
            *ty = Type::Infer(syn::TypeInfer {
                underscore_token: Default::default(),
            });
        } else {
            visit_mut::visit_type_mut(self, ty);
        }
    }
}
