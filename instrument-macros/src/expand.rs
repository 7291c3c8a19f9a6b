//! Code generation. The generated code declares the call site as a
//! `static`, registers it with the linker, creates a drop guard, and keeps
//! the user's body intact in its own scope.

use proc_macro2::TokenStream;
use quote::{quote, quote_spanned, ToTokens};
use syn::ext::IdentExt;
use syn::spanned::Spanned;
use syn::visit_mut::VisitMut;
use syn::{Block, Expr, LitStr};

use crate::ast::{self, Function, Names, Shape};
use crate::attr::{Args, FnArgs, Op};
use crate::fallback;
use crate::valid::{self, Errors};

/// What one macro adds to a function.
struct Plan {
    /// The type and initializer of the call-site `static`.
    site: (TokenStream, TokenStream),
    /// Label values evaluated from the arguments before the body runs, kept
    /// in `__instrument_labels`; `None` when the guard takes no labels.
    labels: Option<Vec<Expr>>,
    /// The guard created before the body runs, if any.
    guard: Option<TokenStream>,
    /// The same guard owning its label values, for a guard that moves into
    /// the future a `-> impl Future` function returns.
    owned_guard: Option<TokenStream>,
    /// Statements run on the body's value `__instrument_ret`; when present,
    /// the body is wrapped so that its value can be inspected.
    on_return: Option<TokenStream>,
}

pub(crate) fn counted(args: TokenStream, item: TokenStream) -> TokenStream {
    let check = |args, _: Option<&Function>, errors: &mut Errors| {
        Some(valid::fn_args("counted", args, false, errors))
    };
    run("counted", args, item, check, |args, function| {
        let Names {
            guard: n_guard,
            site: n_site,
            labels: n_labels,
            ret: n_ret,
            krate,
            ..
        } = &function.names;
        let (custom, labels) = custom(krate, &args, "Calls counted by #[counted].");
        let objectives = objectives(krate, args.objective.as_ref());
        let name = fn_name(function);
        Plan {
            site: (
                quote!(#krate::__private::Counted),
                quote!(#krate::__private::Counted::new(#name, ::core::module_path!(), #custom, #objectives)),
            ),
            labels: Some(labels),
            guard: Some(quote!(#krate::__private::CountGuard::new(
                #n_site,
                &#n_labels,
            ))),
            owned_guard: Some(quote!(#krate::__private::CountGuard::new(
                #n_site,
                #n_labels,
            ))),
            on_return: Some({
                let probe = probe(krate, n_ret);
                quote!(#n_guard.returned(#probe);)
            }),
        }
    })
}

pub(crate) fn timed(args: TokenStream, item: TokenStream) -> TokenStream {
    let check = |args, _: Option<&Function>, errors: &mut Errors| {
        Some(valid::fn_args("timed", args, true, errors))
    };
    run("timed", args, item, check, |args, function| {
        let Names {
            site: n_site,
            labels: n_labels,
            krate,
            ..
        } = &function.names;
        let (custom, labels) = custom(krate, &args, "Durations in seconds, recorded by #[timed].");
        let objectives = objectives(krate, args.objective.as_ref());
        let name = fn_name(function);
        Plan {
            site: (
                quote!(#krate::__private::Timed),
                quote!(#krate::__private::Timed::new(#name, ::core::module_path!(), #custom, #objectives)),
            ),
            labels: Some(labels),
            guard: Some(quote!(#krate::__private::TimeGuard::new(
                #n_site,
                &#n_labels,
            ))),
            owned_guard: Some(quote!(#krate::__private::TimeGuard::new(
                #n_site,
                #n_labels,
            ))),
            on_return: None,
        }
    })
}

pub(crate) fn model_op(args: TokenStream, item: TokenStream) -> TokenStream {
    let check =
        |args, _: Option<&Function>, errors: &mut Errors| valid::model_op_args(args, errors);
    run("model_op", args, item, check, |args, function| {
        let Names {
            guard: n_guard,
            site: n_site,
            ret: n_ret,
            krate,
            ..
        } = &function.names;
        let model = &args.model;
        let op = match args.op {
            Op::Insert => quote!(Insert),
            Op::Update => quote!(Update),
            Op::Delete => quote!(Delete),
            Op::Select => quote!(Select),
        };
        let alias = option(args.alias.as_ref());
        let vendor = option(args.vendor.as_ref());
        let bulk = args.many.is_some();
        let statements = match &args.many {
            Some(many) => {
                let krate = respan(krate, many.span());
                quote_spanned!(many.span()=> #krate::__private::statements(#many))
            }
            None => quote!(1),
        };
        let outcome = match &args.error_type {
            None => probe(krate, n_ret),
            // Passed to `Option::map` rather than called in place: a closure
            // gets its argument type from there (`|error| ..` needs no
            // annotation), and clippy's `redundant_closure_call` stays quiet.
            Some(error_type) => {
                // The value is named where it is bound and passed on under
                // a name of the argument's span, where a type error is then
                // reported (and which resolves from inside a `macro_rules!`
                // too).
                let krate = respan(krate, error_type.span());
                let value = quote_spanned!(error_type.span()=> __instrument_value);
                quote_spanned! {error_type.span()=>
                    match &#n_ret { #value => ::core::option::Option::map_or(
                        ::core::option::Option::map(
                            #krate::__private::err_of(#value),
                            #error_type,
                        ),
                        ::core::result::Result::Ok(()),
                        |__instrument_error| ::core::result::Result::Err(
                            #krate::__private::label(&__instrument_error),
                        ),
                    ) }
                }
            }
        };
        Plan {
            site: (
                quote!(#krate::__private::ModelOp),
                quote!(#krate::__private::ModelOp::new(
                    #model,
                    #krate::__private::Op::#op,
                    #alias,
                    #vendor,
                    #bulk,
                )),
            ),
            labels: None,
            guard: Some(quote!(#krate::__private::DbGuard::new(
                #n_site,
                #statements,
            ))),
            owned_guard: Some(quote!(#krate::__private::DbGuard::new(
                #n_site,
                #statements,
            ))),
            on_return: Some(quote!(#n_guard.returned(#outcome);)),
        }
    })
}

pub(crate) fn cache_lookup(args: TokenStream, item: TokenStream) -> TokenStream {
    let check = |args, function: Option<&Function>, errors: &mut Errors| {
        Some(valid::cache_args(args, function, errors))
    };
    run("cache_lookup", args, item, check, |args, function| {
        let Names {
            site: n_site,
            ret: n_ret,
            krate,
            ..
        } = &function.names;
        let backend = &args.backend;
        // Spanned at the return type, so that a wrong type is reported there.
        let span = match &function.item.sig.output {
            syn::ReturnType::Type(_, ty) => ty.span(),
            syn::ReturnType::Default => function.item.sig.ident.span(),
        };
        // The value is named where it is bound and passed on under a name of
        // the return type's span, where a wrong type is then reported (and
        // which resolves from inside a `macro_rules!` too).
        let krate = respan(krate, span);
        let value = quote_spanned!(span=> __instrument_value);
        let record = quote_spanned! {span=>
            match &#n_ret {
                #value => #n_site.record(#krate::__private::CacheResult::lookup(#value)),
            }
        };
        Plan {
            site: (
                quote!(#krate::__private::CacheLookup),
                quote!(#krate::__private::CacheLookup::new(#backend)),
            ),
            labels: None,
            guard: None,
            owned_guard: None,
            on_return: Some(record),
        }
    })
}

/// Parse and check the arguments and the item; on any error, emit the
/// errors and the item unchanged.
fn run<A>(
    macro_name: &str,
    args: TokenStream,
    item: TokenStream,
    check: impl FnOnce(Args, Option<&Function>, &mut Errors) -> Option<A>,
    plan: impl FnOnce(A, &Function) -> Plan,
) -> TokenStream {
    let mut errors = Errors::default();
    let mut function = ast::parse(macro_name, item.clone());
    let args = match syn::parse2::<Args>(args) {
        Ok(mut args) => {
            if let (Some(krate), Ok(function)) = (crate_path(&mut args, &mut errors), &mut function)
            {
                function.names.krate = krate;
            }
            check(args, function.as_ref().ok(), &mut errors)
        }
        Err(error) => {
            errors.push(error);
            None
        }
    };
    let function = function.map_err(|error| errors.push(error)).ok();
    match (errors.into_result(), args, function) {
        (Ok(()), Some(args), Some(mut function)) => {
            let plan = plan(args, &function);
            instrument(&mut function, plan);
            function.item.into_token_stream()
        }
        (Err(error), ..) => fallback::emit(error, item),
        (Ok(()), ..) => unreachable!("argument checks report every rejection"),
    }
}

/// The tokens with `span`, so that an error in what they start is reported
/// where the user's token is.
fn respan(tokens: &TokenStream, span: proc_macro2::Span) -> TokenStream {
    tokens
        .clone()
        .into_iter()
        .map(|mut token| {
            token.set_span(span);
            token
        })
        .collect()
}

/// `crate = path`, taken out of the arguments: where instrument-runtime is
/// when it is not `::instrument_runtime` (a renamed dependency, or a crate
/// that re-exports the macros), as serde's and tracing's `crate = ..`.
fn crate_path(args: &mut Args, errors: &mut Errors) -> Option<TokenStream> {
    let position = args.0.iter().position(|arg| arg.key == "crate")?;
    let arg = args.0.remove(position);
    if let Some(duplicate) = args.0.iter().find(|arg| arg.key == "crate") {
        errors.push(syn::Error::new(
            duplicate.key.span(),
            "duplicate argument `crate`",
        ));
    }
    match &arg.value {
        crate::attr::Value::Expr(expr) => match crate::attr::ungroup(expr) {
            Expr::Path(path) if path.qself.is_none() && path.attrs.is_empty() => {
                Some(path.path.to_token_stream())
            }
            other => {
                errors.push(syn::Error::new_spanned(
                    other,
                    "`crate` takes the path of instrument-runtime: crate = my_facade::instrument",
                ));
                None
            }
        },
        crate::attr::Value::List(_) => {
            errors.push(syn::Error::new(
                arg.key.span(),
                "`crate` takes the path of instrument-runtime: crate = my_facade::instrument",
            ));
            None
        }
    }
}

/// The function's name, as the `function` label shows it.
fn fn_name(function: &Function) -> String {
    function.item.sig.ident.unraw().to_string()
}

fn option(value: Option<&LitStr>) -> TokenStream {
    match value {
        Some(value) => quote!(::core::option::Option::Some(#value)),
        None => quote!(::core::option::Option::None),
    }
}

/// The `Custom` family of `name = ".."`, and the label expressions that are
/// evaluated per call.
fn custom(krate: &TokenStream, args: &FnArgs, default_help: &str) -> (TokenStream, Vec<Expr>) {
    let Some(name) = &args.name else {
        return (quote!(::core::option::Option::None), Vec::new());
    };
    let help = match &args.help {
        Some(help) => help.value(),
        None => default_help.to_owned(),
    };
    let mut dynamic = Vec::new();
    let labels = args
        .labels
        .iter()
        .flat_map(|(_, labels)| labels)
        .map(|label| {
            let label_name = label.name.unraw().to_string();
            match label.static_value() {
                Some(value) => quote!((#label_name, ::core::option::Option::Some(#value))),
                None => {
                    dynamic.push(label.value.clone());
                    quote!((#label_name, ::core::option::Option::None))
                }
            }
        });
    let labels: Vec<_> = labels.collect();
    // `file:line` of the name, for the message of a family that collides.
    let location = quote_spanned! {name.span()=>
        ::core::concat!(::core::file!(), ":", ::core::line!())
    };
    let custom = quote! {
        ::core::option::Option::Some(#krate::__private::Custom {
            name: #name,
            help: #help,
            labels: &[#(#labels),*],
            location: #location,
        })
    };
    (custom, dynamic)
}

/// The site's objectives, a `&'static [Objective]`: `objective = API` is
/// one, `objective = [A, B]` several. The constants are read in the
/// site's `static` initializer, so their checks run at compile time, and
/// the type names `Objective`, so anything else is a type error there.
/// (The constant's name is one a user's constant, such as an objective
/// named `OBJECTIVES`, does not shadow.)
fn objectives(krate: &TokenStream, objective: Option<&Expr>) -> TokenStream {
    let ty = quote!(#krate::__private::Objective);
    match objective.map(crate::attr::ungroup) {
        None => quote!(&[]),
        Some(Expr::Array(array)) => {
            let elems = array.elems.iter();
            quote_spanned!(array.span()=> { const __INSTRUMENT_OBJECTIVES: &[#ty] = &[#(#elems),*]; __INSTRUMENT_OBJECTIVES })
        }
        Some(expr) => {
            quote_spanned!(expr.span()=> { const __INSTRUMENT_OBJECTIVES: &[#ty] = &[#expr]; __INSTRUMENT_OBJECTIVES })
        }
    }
}

/// `Ok(())` for a success, `Err(type name)` for an `Err`, from the body's
/// value `__instrument_ret` (autoref specialisation on its concrete type).
fn probe(krate: &TokenStream, n_ret: &syn::Ident) -> TokenStream {
    quote! {{
        #[allow(unused_imports)]
        use #krate::__private::{ProbeOther as _, ProbeResult as _};
        (&#krate::__private::Probe(&#n_ret)).__instrument_outcome()
    }}
}

/// Rewrite the function's body according to its shape.
///
/// The design (see the crate docs of instrument-runtime, "How the macros
/// expand"): the body stays in the function itself wherever its value need
/// not be seen (`#[timed]`, a return type that hides its value such as
/// `impl Fn(&str) -> &str`, a body that never returns), so that it compiles
/// and runs exactly as written; an `async fn` body there has each `.await`
/// wrapped in `suspending`, which tells the guard when the call is
/// suspended, so that a drop there is told apart from a return. Where the
/// value decides the outcome, the body runs in a closure (an async block
/// for `async fn`) whose every `return` and `?` lands in one place; three
/// things keep that closure faithful to the function:
///
/// - its return type is fixed to the declared one before the body is type
///   checked (async-trait's `if let Some(r) = None::<T> { return r; }`), so
///   an early `return` coerces and a closure in the body gets its signature
///   from the declared type, as in the function;
/// - the arguments move into it as one tuple and are bound again at its
///   start, in declaration order, so they are dropped after the body's
///   locals and in reverse order, as a function's arguments are;
/// - the user's statements are spliced, not wrapped in a second block.
fn instrument(function: &mut Function, plan: Plan) {
    let Names {
        guard: n_guard,
        site: n_site,
        labels: n_labels,
        ret: n_ret,
        args: n_args,
        future: n_future,
        krate,
    } = &function.names.clone();
    let (site_ty, site_init) = &plan.site;
    // The statics in a block of their own: the macros stack, each with its
    // own site, in one scope.
    let statics = quote! {
        let #n_site: &'static #site_ty = {
            static __INSTRUMENT_SITE: #site_ty = #site_init;
            #[#krate::__private::linkme::distributed_slice(#krate::__private::SITES)]
            #[linkme(crate = #krate::__private::linkme)]
            static __INSTRUMENT_REGISTRATION: &'static dyn #krate::__private::Site = &__INSTRUMENT_SITE;
            &__INSTRUMENT_SITE
        };
    };
    let labels = plan.labels.as_ref().map(|labels| {
        let len = labels.len();
        // Spanned at the user's expression, so that a value that is not
        // `Display` is reported there rather than at the whole attribute.
        let labels = labels.iter().map(|label| {
            let krate = respan(krate, label.span());
            quote_spanned!(label.span()=> #krate::__private::label(&(#label)))
        });
        quote! {
            let #n_labels: [#krate::__private::SharedString; #len] =
                [#(#labels),*];
        }
    });
    // A body that never returns has no value to inspect: the guard alone
    // records its panic. Neither has a body whose value is `()` or of a type
    // the signature hides (`-> impl Trait`): such a call is a success
    // unless it panics, and the body runs in place, exactly as written.
    //
    // An async body does too, and tells its guard where it suspends: each
    // `.await` clears the guard's flag while the awaited future is pending,
    // so a drop there is a cancellation and any other drop without a panic
    // a return. (The body keeps the declared type as its expected type: a
    // closure it returns for `-> impl Fn(&str) -> &str` gets its signature
    // from it.) A macro call that might suspend (any but the standard
    // macros, or one with an `.await` in its arguments) would be a
    // suspension unseen: such a body runs in an async block as below.
    let sync = matches!(function.shape, Shape::Sync);
    let valueless = match &function.output {
        Some(syn::Type::Infer(_)) => true,
        Some(syn::Type::Tuple(tuple)) => tuple.elems.is_empty(),
        _ => false,
    };
    let mut on_return = plan.on_return.filter(|_| !function.diverges);
    let mut exits = None;
    let runs_in_place = match function.shape {
        Shape::Sync => true,
        Shape::Async => !function.may_suspend_in_macro,
        Shape::ImplFuture | Shape::AsyncTrait => false,
    };
    if runs_in_place && valueless && on_return.is_some() && plan.guard.is_some() {
        on_return = None;
        exits = Some(quote!(::core::result::Result::Ok(())));
    }
    if matches!(function.shape, Shape::Async) && exits.is_some() {
        let mut awaits = ast::Awaits(|base: Expr| {
            syn::parse_quote_spanned!(base.span()=>
                #krate::__private::suspending(#n_guard.polling(), #base)
            )
        });
        for stmt in &mut function.item.block.stmts {
            awaits.visit_stmt_mut(stmt);
        }
    }
    // Otherwise a sync body runs in place with each `return` rewritten to
    // record its value, unless a `?` or a macro might leave it unseen; a
    // `#[track_caller]` body always runs in place, and an exit unseen there
    // is classified by the declared type alone.
    let in_place =
        sync && on_return.is_some() && (!function.leaves_unseen || function.track_caller);
    if in_place && function.leaves_unseen && plan.guard.is_some() {
        let probe = match &function.output {
            Some(ty) if !has_infer(ty) => quote! {{
                #[allow(unused_imports)]
                use #krate::__private::{ProbeOther as _, ProbeResult as _};
                (&#krate::__private::ExitProbe::<#ty>::new()).__instrument_outcome()
            }},
            _ => quote!(::core::result::Result::Ok(())),
        };
        exits = Some(probe);
    }
    let guard = plan.guard.as_ref().map(|guard| {
        let exits = exits.as_ref().map(|outcome| quote!(.exits(#outcome)));
        match &on_return {
            Some(_) => quote!(let mut #n_guard = #guard #exits;),
            None => quote!(let #n_guard = #guard #exits;),
        }
    });
    let annotation = function.output.as_ref().map(|ty| quote!(: #ty));
    // Fixes the return type of the closure or async block to the declared
    // one before the body is checked.
    let expect = function.output.as_ref().map(|ty| {
        quote! {
            if let ::core::option::Option::Some(#n_ret) =
                ::core::option::Option::None::<#ty>
            {
                return #n_ret;
            }
        }
    });
    // Awaiting the body through `polled` tells the guard when its own body
    // is running, so a panic there is told apart from the future being
    // dropped while something else panics.
    let awaited = |future: TokenStream| match &plan.guard {
        Some(_) => {
            quote!(#krate::__private::polled(#n_guard.polling(), #future).await)
        }
        None => quote!(#future.await),
    };
    let on_return = &on_return;
    let rebinds = match (&function.shape, on_return) {
        (Shape::Sync, Some(_)) => !in_place,
        (Shape::Async, Some(_)) => true,
        _ => false,
    };
    let (pass_args, bind_args, param) = if rebinds {
        rebind_arguments(&mut function.item.sig, n_args)
    } else {
        (TokenStream::new(), TokenStream::new(), None)
    };
    let stmts = &function.item.block.stmts;
    let body: TokenStream = match (&function.shape, on_return) {
        (Shape::Sync | Shape::Async, None) => quote!({ #statics #labels #guard #(#stmts)* }),
        (Shape::Sync, Some(on_return)) if in_place => {
            let mut stmts = function.item.block.stmts.clone();
            let mut returns = ast::Returns(|value: Expr| {
                syn::parse_quote!({
                    let #n_ret #annotation = #value;
                    #on_return
                    #n_ret
                })
            });
            for stmt in &mut stmts {
                returns.visit_stmt_mut(stmt);
            }
            // A body without a tail expression ends by diverging (its type
            // is not `()`): only its `return`s have a value.
            // So does one that is a panicking macro: it stays the tail.
            let tail = match stmts.last() {
                Some(syn::Stmt::Expr(tail, None)) if diverging_macro(tail) => None,
                Some(syn::Stmt::Expr(_, None)) => match stmts.pop() {
                    Some(syn::Stmt::Expr(tail, None)) => Some(tail),
                    _ => unreachable!("matched above"),
                },
                _ => None,
            };
            // A tail that diverges (`panic!(..)`) leaves the recording
            // unreachable, which is not the user's to hear about.
            let tail = tail.map(|tail| {
                // A stacked macro's own tail carries that attribute, which
                // only a block's tail may.
                let tail = match &tail {
                    Expr::Block(block) if !block.attrs.is_empty() => quote!({ #tail }),
                    _ => tail.into_token_stream(),
                };
                // The tail stays the tail (a `match` on it), so that its
                // temporaries are dropped when the function's are (after
                // the locals, before the arguments, in edition 2021); the
                // identity call gives it the declared type to coerce to.
                // Spanned at the return type: a tail of another type is
                // reported with the return type it was expected for.
                let (ty, span) = function.output.as_ref().map_or_else(
                    || (quote!(()), proc_macro2::Span::call_site()),
                    |ty| (ty.to_token_stream(), ty.span()),
                );
                let identity = quote_spanned!(span=> ::core::convert::identity::<#ty>);
                quote! {
                    #[allow(unreachable_code, clippy::diverging_sub_expression)]
                    {
                        match #identity(#tail) {
                            #n_ret => {
                                #on_return
                                #n_ret
                            }
                        }
                    }
                }
            });
            quote!({ #statics #labels #guard #(#stmts)* #tail })
        }
        (Shape::Sync, Some(on_return)) => {
            // The arguments are the closure's parameters: dropped after the
            // body's locals and its tail's temporaries, in reverse order, as
            // a function's are.
            // The closure's body in the braces of the function's: a body
            // whose type does not match is reported there, as without the
            // attribute.
            let body = in_braces(&function.item.block, quote!(#expect #(#stmts)*));
            let call = match &param {
                Some(param) => quote! {
                    #krate::__private::call_with(#n_args, move |#param| #body)
                },
                None => quote! {
                    #krate::__private::call_once(move || #body)
                },
            };
            quote! {{
                #statics #labels #guard
                #pass_args
                let #n_ret #annotation = #call;
                #on_return
                #n_ret
            }}
        }
        (Shape::Async, Some(on_return)) => {
            // The body's statements in a block of their own, its value bound
            // by a `let`: the tail's temporaries are dropped at the end of
            // that statement, before the arguments bound before it, as the
            // function drops them. A tail that panics has no value to
            // bind (nor temporaries to drop): it stays the tail.
            let panicking_tail = match stmts.last() {
                Some(syn::Stmt::Expr(tail, _)) => diverging_macro(tail),
                Some(syn::Stmt::Macro(mac)) => panics(&mac.mac),
                _ => false,
            };
            let run = if panicking_tail {
                quote!(#(#stmts)*)
            } else {
                let body = in_braces(&function.item.block, quote!(#(#stmts)*));
                quote! {
                    let #n_ret #annotation = #body;
                    #[allow(unreachable_code)]
                    { #n_ret }
                }
            };
            let body = awaited(quote!(async move { #expect #bind_args #run }));
            quote! {{
                #statics #labels #guard
                #pass_args
                let #n_ret #annotation = #body;
                #on_return
                #n_ret
            }}
        }
        (Shape::ImplFuture, _) => {
            // The guard exists from the call on, owning its label values,
            // and moves into the returned future: a panic in the part that
            // builds the future, or a future dropped before its first poll,
            // is a call too.
            let block = &function.item.block;
            let ret = on_return.as_ref().map(|on_return| {
                let future = awaited(quote!(#n_future));
                quote!(let #n_ret #annotation = #future; #on_return #n_ret)
            });
            let ret = ret.unwrap_or_else(|| quote!(#n_future.await));
            let guard = plan.owned_guard.as_ref().map(|guard| match on_return {
                Some(_) => quote!(let mut #n_guard = #guard;),
                None => quote!(let #n_guard = #guard;),
            });
            // Moves the guard into the future even where nothing else there
            // names it.
            let hold = plan
                .owned_guard
                .as_ref()
                .map(|_| quote!(let _ = &#n_guard;));
            // The call's own code ends when the future is returned: a drop of
            // the future before its first poll is a cancellation, even while
            // something else panics.
            let suspend = plan
                .owned_guard
                .as_ref()
                .and(on_return.as_ref())
                .map(|_| quote!(#krate::__private::suspended(#n_guard.polling());));
            quote! {{
                #statics #labels #guard
                let #n_future = #krate::__private::call_once(move || #block);
                #suspend
                async move {
                    #hold
                    #ret
                }
            }}
        }
        (Shape::AsyncTrait, _) => {
            let inner = ast::async_trait_body_mut(&mut function.item.block)
                .expect("shape checked by ast::parse");
            let inner_stmts = &inner.block.stmts;
            let inner_future = awaited(quote!(async move { #expect #(#inner_stmts)* }));
            let new_block: TokenStream = match on_return {
                None => quote!({ #statics #labels #guard #(#inner_stmts)* }),
                Some(on_return) => quote! {{
                    #statics #labels #guard
                    let #n_ret #annotation = #inner_future;
                    #on_return
                    #n_ret
                }},
            };
            inner.block = syn::parse2::<Block>(new_block).expect("generated block parses");
            return;
        }
    };
    *function.item.block = syn::parse2::<Block>(body).expect("generated block parses");
}

/// `tokens` in a block with the braces of `block` (the function's body),
/// so that an error about the block's type points at the user's body.
fn in_braces(block: &Block, tokens: TokenStream) -> TokenStream {
    let mut braced = TokenStream::new();
    block
        .brace_token
        .surround(&mut braced, |inner| inner.extend(tokens));
    braced
}

/// Whether the expression is a call of a macro that panics (`panic!`,
/// `unreachable!`, `todo!`, `unimplemented!`).
fn diverging_macro(expr: &Expr) -> bool {
    matches!(expr, Expr::Macro(mac) if panics(&mac.mac))
}

/// Whether the macro is one that panics.
fn panics(mac: &syn::Macro) -> bool {
    let name = mac.path.segments.last().map(|s| s.ident.to_string());
    matches!(
        name.as_deref(),
        Some("panic" | "unreachable" | "todo" | "unimplemented")
    )
}

/// Whether the type holds a `_` (an `impl Trait` of the signature).
fn has_infer(ty: &syn::Type) -> bool {
    fn infer(tokens: TokenStream) -> bool {
        tokens.into_iter().any(|token| match token {
            proc_macro2::TokenTree::Ident(ident) => ident == "_",
            proc_macro2::TokenTree::Group(group) => infer(group.stream()),
            _ => false,
        })
    }
    infer(ty.to_token_stream())
}

/// The arguments bound to plain names (`a: T`, `mut a: T`), moved into
/// the closure or async block that runs the body as one tuple
/// (`pass`) and bound again, in declaration order, at its start (`bind`):
/// they are then dropped after the body's locals and in reverse order of
/// declaration, as the function's own arguments are. `mut` moves from the
/// signature to the new binding. Receivers, patterns and arguments with
/// attributes stay where they are.
fn rebind_arguments(
    sig: &mut syn::Signature,
    n_args: &syn::Ident,
) -> (TokenStream, TokenStream, Option<TokenStream>) {
    let mut names = Vec::new();
    let mut bindings = Vec::new();
    for (i, input) in sig.inputs.iter_mut().enumerate() {
        let syn::FnArg::Typed(typed) = input else {
            continue;
        };
        if !typed.attrs.is_empty() {
            continue;
        }
        // A `_` argument is dropped with the others, at the end of the
        // function: it gets a name, so that it moves in too.
        if let syn::Pat::Wild(wild) = &*typed.pat {
            let ident = quote::format_ident!("{}_{}", n_args, i, span = wild.underscore_token.span);
            *typed.pat = syn::Pat::Ident(syn::PatIdent {
                attrs: Vec::new(),
                by_ref: None,
                mutability: None,
                ident,
                subpat: None,
            });
        }
        let syn::Pat::Ident(pat) = &mut *typed.pat else {
            continue;
        };
        if pat.by_ref.is_some() || pat.subpat.is_some() || !pat.attrs.is_empty() {
            continue;
        }
        let ident = pat.ident.clone();
        let mutability = pat.mutability.take();
        bindings.push(quote!(#mutability #ident));
        names.push(ident);
    }
    if names.is_empty() {
        return (TokenStream::new(), TokenStream::new(), None);
    }
    (
        quote!(let #n_args = (#(#names,)*);),
        // An argument that only a label reads is not unused.
        quote! {
            #[allow(unused_variables, unused_mut)]
            let (#(#bindings,)*) = #n_args;
        },
        Some(quote!(#[allow(unused_variables, unused_mut)] (#(#bindings,)*))),
    )
}
