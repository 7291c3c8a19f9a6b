//! Robustness of the expansions: whatever tokens the compiler hands an
//! attribute, the macro answers with the instrumented function or with
//! compile errors followed by the item exactly as written, and never panics.
//!
//! The inputs come from a seeded generator (the same cases on every run)
//! over a grammar of plausible and hostile fragments: every kind of
//! literal, keywords and raw identifiers, nested and invisible groups,
//! functions of every shape, other items, and random edits of all of these.
//! When the arguments and the function are known to be valid, the expansion
//! must succeed; when the item is not a function, it must fail.

use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::OnceLock;

use proc_macro2::{Delimiter, Group, Ident, Literal, Punct, Spacing, Span, TokenStream, TokenTree};
use quote::ToTokens;

use crate::expand;

/// Cases per macro, and the seed of the first, by default; the variables
/// `INSTRUMENT_FUZZ_CASES` and `INSTRUMENT_FUZZ_SEED` set others, for a
/// longer run or new cases. A debug build expands about 2,000 cases a
/// second per core.
fn settings() -> (usize, u64) {
    let var = |name, default| {
        std::env::var(name)
            .ok()
            .and_then(|value| value.parse().ok())
            .unwrap_or(default)
    };
    (
        var("INSTRUMENT_FUZZ_CASES", 20_000) as usize,
        var("INSTRUMENT_FUZZ_SEED", 0),
    )
}

/// xorshift64*: small, fast and good enough to pick fragments.
struct Rng(u64);

impl Rng {
    fn new(seed: u64) -> Rng {
        // splitmix64 of the seed, so that small seeds start well mixed.
        let mut z = seed.wrapping_add(0x9e37_79b9_7f4a_7c15);
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        Rng((z ^ (z >> 31)).max(1))
    }

    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    fn below(&mut self, n: usize) -> usize {
        (self.next() >> 33) as usize % n
    }

    fn chance(&mut self, percent: usize) -> bool {
        self.below(100) < percent
    }

    fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        items[self.below(items.len())]
    }
}

fn tokens(source: &str) -> TokenStream {
    source
        .parse()
        .unwrap_or_else(|error| panic!("the generator wrote invalid tokens {source:?}: {error}"))
}

/// Literals of every kind the lexer produces.
const LITERALS: &[&str] = &[
    r#""s""#,
    r#""""#,
    r#""requests_total""#,
    r#""quote \" backslash \\ newline \n tab \t nul \0 é ✓""#,
    r#""\u{1F600}\u{0}""#,
    "\"line\\\n  continued\"",
    r##"r"raw""##,
    r###"r#"raw "quoted""#"###,
    r#"b"bytes\xff""#,
    r#"br"raw bytes""#,
    r#"c"c string""#,
    r#"cr"raw c""#,
    "'c'",
    r"'\''",
    r"'\u{10FFFF}'",
    "b'b'",
    r"b'\x7f'",
    "0",
    "1u8",
    "0xffu64",
    "0b1010_1010",
    "0o777",
    "1_000_000",
    "340282366920938463463374607431768211455u128",
    "999999999999999999999999999999999999999999999",
    "1i128",
    "1.5",
    "1e10",
    "1.0f32",
    "2.5E-3f64",
    "1e-400",
    "0.",
    "1usize",
    r#""suffixed"x"#,
    "1_f64",
];

/// Identifiers, keywords among them (the attribute arguments are parsed
/// with `Ident::parse_any`, so keywords reach the checks).
const IDENTS: &[&str] = &[
    "name",
    "help",
    "labels",
    "model",
    "op",
    "alias",
    "vendor",
    "error_type",
    "many",
    "backend",
    "insert",
    "update",
    "delete",
    "select",
    "type",
    "self",
    "Self",
    "crate",
    "super",
    "fn",
    "async",
    "await",
    "move",
    "return",
    "match",
    "let",
    "const",
    "static",
    "dyn",
    "impl",
    "where",
    "loop",
    "break",
    "r#raw",
    "r#type",
    "r#name",
    "r#match",
    "_",
    "__x",
    "le",
    "é",
    "x",
    "Unknown",
    "compile_error",
    "__instrument_ret",
    "__INSTRUMENT_SITE",
];

const PUNCTS: &[char] = &[
    '+', '-', '*', '/', '%', '^', '!', '&', '|', '=', '<', '>', '@', '.', ',', ';', ':', '#', '$',
    '?', '~',
];

/// Expressions, for label values, `error_type` and `many`.
const EXPRS: &[&str] = &[
    "x",
    "self",
    "self.name",
    "x.len()",
    "x?",
    "&x",
    "*x",
    "-1",
    "!flag",
    "a + b * c",
    "a as u64",
    "a..b",
    "..",
    "a = b",
    "a += 1",
    "format!(\"{}\", x)",
    "vec![1, 2]",
    "[1; 3]",
    "(1, \"a\")",
    "()",
    "{ 1 }",
    "{ let y = 1; y }",
    "unsafe { x }",
    "async move { x }",
    "async { 1 }.await",
    "if a { \"x\" } else { \"y\" }",
    "match x { Some(_) => \"a\", None => \"b\" }",
    "loop { break 1 }",
    "'a: loop { break 'a 2 }",
    "while false {}",
    "for i in 0..1 {}",
    "|error: &std::io::Error| error.kind()",
    "|e| e",
    "move |e| format!(\"{e:?}\")",
    "async |e| e",
    "std::any::type_name::<E>",
    "<T as Trait>::f",
    "S { a: 1 }",
    "S { ..Default::default() }",
    "return",
    "return 1",
    "break",
    "continue",
    "yield 1",
    "x.await",
    "try { 1 }",
    "const { 1 }",
    "#[cfg(test)] x",
    "(|| 1)()",
    "x[0]",
    "x.0.1",
    "1.0.max(2.0)",
    "&&x",
    "&mut x",
    "&raw const x",
    "box x",
    "x!()",
    "let x = 1",
    "_",
];

/// Labels names: valid, reserved, keywords and raw identifiers.
const LABEL_NAMES: &[&str] = &[
    "endpoint", "method", "status", "r#type", "kind", "r#match", "user_id", "_x", "a1", "type",
    "self", "le", "r#le", "__name__", "__x", "é", "_",
];

/// Valid label names, `le` apart.
const VALID_LABELS: &[&str] = &[
    "endpoint", "method", "status", "r#type", "kind", "r#match", "user_id", "_x", "a1", "type",
];

const VALID_METRIC_NAMES: &[&str] = &[
    "requests_total",
    "api:calls_total",
    "_x",
    "a",
    "X1_seconds",
    ":colon",
];

fn literal(rng: &mut Rng) -> String {
    let literal = rng.pick(LITERALS);
    if rng.chance(10) {
        format!("-{literal}")
    } else {
        literal.to_owned()
    }
}

/// Any expression-like fragment, valid or not.
fn expr(rng: &mut Rng) -> String {
    match rng.below(4) {
        0 => literal(rng),
        _ => rng.pick(EXPRS).to_owned(),
    }
}

/// An expression that syn parses, which the macros must then accept.
fn valid_expr(rng: &mut Rng) -> String {
    static VALID: OnceLock<Vec<&str>> = OnceLock::new();
    let valid = VALID.get_or_init(|| {
        EXPRS
            .iter()
            .copied()
            .filter(|expr| syn::parse_str::<syn::Expr>(expr).is_ok())
            .collect()
    });
    match rng.below(4) {
        0 => literal(rng),
        _ => rng.pick(valid).to_owned(),
    }
}

/// A random token tree, groups nested at most `depth` deep.
fn random_tree(rng: &mut Rng, depth: usize) -> TokenTree {
    match rng.below(if depth == 0 { 4 } else { 6 }) {
        0 => {
            let ident = rng.pick(IDENTS);
            match ident.strip_prefix("r#") {
                Some(raw) => Ident::new_raw(raw, Span::call_site()).into(),
                None => Ident::new(ident, Span::call_site()).into(),
            }
        }
        1 => {
            let spacing = if rng.chance(30) {
                Spacing::Joint
            } else {
                Spacing::Alone
            };
            Punct::new(rng.pick(PUNCTS), spacing).into()
        }
        2 => tokens(&literal(rng)).into_iter().last().expect("a literal"),
        3 => Literal::string(&random_text(rng)).into(),
        _ => {
            let delimiter = rng.pick(&[
                Delimiter::Parenthesis,
                Delimiter::Bracket,
                Delimiter::Brace,
                Delimiter::None,
            ]);
            Group::new(delimiter, random_stream(rng, depth - 1)).into()
        }
    }
}

fn random_stream(rng: &mut Rng, depth: usize) -> TokenStream {
    let len = rng.below(6);
    (0..len).map(|_| random_tree(rng, depth)).collect()
}

fn random_text(rng: &mut Rng) -> String {
    let len = rng.below(8);
    (0..len)
        .map(|_| {
            rng.pick(&[
                'a', '_', ':', '"', '\\', '\n', '\0', 'é', '{', '}', ' ', '1',
            ])
        })
        .collect()
}

/// Edit a token stream: delete, duplicate, insert, swap, truncate, edit
/// inside a group, or wrap a run of tokens in a group (invisible groups
/// are what `macro_rules!` hands over for `$e:expr`).
fn mutate(rng: &mut Rng, stream: TokenStream) -> TokenStream {
    let mut trees: Vec<TokenTree> = stream.into_iter().collect();
    for _ in 0..=rng.below(3) {
        let len = trees.len();
        match rng.below(8) {
            0 if len > 0 => {
                trees.remove(rng.below(len));
            }
            1 if len > 0 => {
                let i = rng.below(len);
                trees.insert(i, trees[i].clone());
            }
            2 if len > 1 => trees.swap(rng.below(len - 1), rng.below(len)),
            3 if len > 0 => trees.truncate(rng.below(len)),
            4 => {
                let groups: Vec<usize> = (0..len)
                    .filter(|&i| matches!(trees[i], TokenTree::Group(_)))
                    .collect();
                if let Some(&i) = groups.get(rng.below(groups.len().max(1))) {
                    let TokenTree::Group(group) = &trees[i] else {
                        unreachable!()
                    };
                    let mut edited = Group::new(group.delimiter(), mutate(rng, group.stream()));
                    edited.set_span(group.span());
                    trees[i] = edited.into();
                }
            }
            5 if len > 0 => {
                let start = rng.below(len);
                let end = start + 1 + rng.below(len - start);
                let delimiter = rng.pick(&[Delimiter::None, Delimiter::Parenthesis]);
                let inner: TokenStream = trees.drain(start..end).collect();
                trees.insert(start, Group::new(delimiter, inner).into());
            }
            _ => {
                let i = rng.below(len + 1);
                trees.insert(i, random_tree(rng, 2));
            }
        }
    }
    trees.into_iter().collect()
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Macro {
    Counted,
    Timed,
    ModelOp,
    CacheLookup,
}

impl Macro {
    fn expand(self, args: TokenStream, item: TokenStream) -> TokenStream {
        match self {
            Macro::Counted => expand::counted(args, item),
            Macro::Timed => expand::timed(args, item),
            Macro::ModelOp => expand::model_op(args, item),
            Macro::CacheLookup => expand::cache_lookup(args, item),
        }
    }
}

/// Arguments that the macro must accept.
fn valid_args(rng: &mut Rng, which: Macro) -> String {
    let mut args: Vec<String> = Vec::new();
    match which {
        Macro::Counted | Macro::Timed => {
            if rng.chance(30) {
                return String::new();
            }
            args.push(format!("name = \"{}\"", rng.pick(VALID_METRIC_NAMES)));
            if rng.chance(50) {
                args.push(format!("help = {}", string_literal(rng)));
            }
            if rng.chance(70) {
                let mut names: Vec<&str> = VALID_LABELS.to_vec();
                if which == Macro::Counted {
                    names.push("le");
                }
                let mut labels = Vec::new();
                for _ in 0..rng.below(5) {
                    let name = names.remove(rng.below(names.len()));
                    // `type` and `r#type` are the same label.
                    names.retain(|other| {
                        other.trim_start_matches("r#") != name.trim_start_matches("r#")
                    });
                    labels.push(format!("{name} = {}", valid_expr(rng)));
                }
                let trailing = if !labels.is_empty() && rng.chance(20) {
                    ","
                } else {
                    ""
                };
                args.push(format!("labels({}{trailing})", labels.join(", ")));
            }
        }
        Macro::ModelOp => {
            args.push(format!("model = {}", nonempty_string_literal(rng)));
            args.push(format!(
                "op = {}",
                rng.pick(&["insert", "update", "delete", "select"])
            ));
            if rng.chance(30) {
                args.push(format!("alias = {}", string_literal(rng)));
            }
            if rng.chance(30) {
                args.push(format!("vendor = {}", string_literal(rng)));
            }
            if rng.chance(30) {
                args.push(format!("error_type = {}", valid_expr(rng)));
            }
            if rng.chance(30) {
                // A literal other than an integer is refused by the macro.
                let many = loop {
                    let expr = valid_expr(rng);
                    match syn::parse_str::<syn::Expr>(&expr) {
                        Ok(syn::Expr::Lit(syn::ExprLit { lit, .. }))
                            if !matches!(lit, syn::Lit::Int(_) | syn::Lit::Byte(_)) => {}
                        _ => break expr,
                    }
                };
                args.push(format!("many = {many}"));
            }
        }
        Macro::CacheLookup => {
            if rng.chance(60) {
                args.push(format!("backend = {}", string_literal(rng)));
            }
        }
    }
    // Any order.
    for i in (1..args.len()).rev() {
        args.swap(i, rng.below(i + 1));
    }
    let trailing = if !args.is_empty() && rng.chance(20) {
        ","
    } else {
        ""
    };
    format!("{}{trailing}", args.join(", "))
}

fn string_literal(rng: &mut Rng) -> String {
    rng.pick(&[
        r#""""#,
        r#""text""#,
        r##"r"raw""##,
        r###"r#"a "b""#"###,
        r#""quote \" backslash \\ newline \n é""#,
    ])
    .to_owned()
}

fn nonempty_string_literal(rng: &mut Rng) -> String {
    rng.pick(&[r#""user""#, r##"r"raw""##, r#""quote \" é""#])
        .to_owned()
}

/// Wrap some `key = value` values in the invisible group that
/// `macro_rules!` puts around a `$value:expr` it passes on; the macros
/// must read through it.
fn invisible_groups(rng: &mut Rng, stream: TokenStream) -> TokenStream {
    let is_punct =
        |tree: &TokenTree, c: char| matches!(tree, TokenTree::Punct(p) if p.as_char() == c);
    let mut out: Vec<TokenTree> = Vec::new();
    let mut trees = stream.into_iter().peekable();
    while let Some(tree) = trees.next() {
        let after_eq = is_punct(&tree, '=');
        out.push(match tree {
            TokenTree::Group(group) if group.delimiter() == Delimiter::Parenthesis => Group::new(
                Delimiter::Parenthesis,
                invisible_groups(rng, group.stream()),
            )
            .into(),
            tree => tree,
        });
        if after_eq && rng.chance(30) {
            let mut value = Vec::new();
            while let Some(tree) = trees.next_if(|tree| !is_punct(tree, ',')) {
                value.push(tree);
            }
            out.push(Group::new(Delimiter::None, value.into_iter().collect()).into());
        }
    }
    out.into_iter().collect()
}

/// Arguments from the hostile grammar: any key, any shape after it.
fn hostile_args(rng: &mut Rng) -> TokenStream {
    let mut out = String::new();
    for _ in 0..rng.below(5) {
        let key = match rng.below(10) {
            0 => literal(rng),
            1 => rng
                .pick(&["#", "=", "::", ",", "()", "[x]", "{}", "'a", "-"])
                .to_owned(),
            _ => rng.pick(IDENTS).to_owned(),
        };
        out.push_str(&key);
        out.push(' ');
        match rng.below(12) {
            0..=4 => {
                out.push_str(" = ");
                out.push_str(&expr(rng));
            }
            5..=7 => out.push_str(&format!("({})", label_list(rng))),
            8 => out.push_str(" = "),
            9 => out.push_str(&format!("[{}]", label_list(rng))),
            10 => out.push_str(rng.pick(&[" == 1", " => x", ": u32", "::x", " x", " = = 1"])),
            _ => {}
        }
        out.push_str(rng.pick(&[", ", ", ", ", ", ", ", " ", ",, ", "; "]));
    }
    let mut stream = tokens(&out);
    if rng.chance(20) {
        stream.extend([random_tree(rng, 2)]);
    }
    stream
}

fn label_list(rng: &mut Rng) -> String {
    let mut out = String::new();
    for _ in 0..rng.below(4) {
        let name = rng.pick(LABEL_NAMES);
        let entry = match rng.below(10) {
            0 => name.to_owned(),
            1 => format!("{name} ="),
            2 => format!("= {}", expr(rng)),
            3 => format!("{} = {}", literal(rng), expr(rng)),
            4 => format!("{name}: {}", expr(rng)),
            5 => format!("labels({})", label_list(rng)),
            6 => format!("{name} = {} = {}", expr(rng), expr(rng)),
            _ => format!("{name} = {}", expr(rng)),
        };
        out.push_str(&entry);
        out.push_str(rng.pick(&[", ", ", ", ", ", " ", " ; "]));
    }
    out
}

/// The parts of a function, each a list of choices.
const ATTRS: &[&str] = &[
    "",
    "",
    "#[inline]",
    "#[track_caller]",
    "#[must_use]",
    "/// Docs.\n",
    "#[doc = \"x\"]",
    "#[cfg(test)]",
    "#[allow(unused)]",
    "#[async_trait::async_trait]",
    "#[counted]",
    "#[tokio::main(flavor = \"current_thread\")]",
    "#[track_caller] #[must_use = \"why\"]",
];
const VIS: &[&str] = &[
    "",
    "",
    "pub",
    "pub(crate)",
    "pub(super)",
    "pub(in crate::a)",
];
const QUALIFIERS: &[&str] = &[
    "",
    "",
    "async",
    "unsafe",
    "async unsafe",
    "const",
    "const unsafe",
    "extern \"C\"",
    "unsafe extern \"C\"",
    "extern",
];
const NAMES: &[&str] = &["f", "handler", "r#type", "r#match", "_", "é", "F"];
const GENERICS: &[&str] = &[
    "",
    "",
    "<T>",
    "<T: Clone + Send>",
    "<'a, T: 'a>",
    "<const N: usize>",
    "<T = u32>",
    "<'a, 'b: 'a>",
    "<F: Fn(u32) -> u32>",
];
const PARAMS: &[&str] = &[
    "()",
    "()",
    "(x: u32)",
    "(&self)",
    "(&mut self, x: T)",
    "(self: Box<Self>)",
    "(self: ::core::pin::Pin<&mut Self>)",
    "(mut self)",
    "(&'a self, k: &'a str)",
    "((a, b): (u32, u32))",
    "(_: u8, mut y: String)",
    "(x: impl Into<String>)",
    "(f: &dyn Fn() -> u32)",
    "(#[cfg(test)] x: u32)",
    "(x: u32, ...)",
    "(__instrument_labels: u32)",
];
const RETURNS: &[&str] = &[
    "",
    "",
    "-> u32",
    "-> ()",
    "-> Result<u32, String>",
    "-> Result<Option<u32>, E>",
    "-> Option<&'a str>",
    "-> std::io::Result<()>",
    "-> !",
    "-> impl Future<Output = u32>",
    "-> impl Future<Output = Result<u32, E>> + Send + 'a",
    "-> impl Future<Output = u32> + Unpin",
    "-> impl core::future::Future<Output = Option<u32>>",
    "-> impl Future",
    "-> Pin<Box<dyn Future<Output = Option<u32>> + Send + 'a>>",
    "-> Pin<Box<dyn Future + Send>>",
    "-> impl Iterator<Item = impl Display>",
    "-> Self",
    "-> (impl Debug, u32)",
    "-> fn() -> u32",
    "-> [u8; N]",
    "-> impl Fn() -> impl Future<Output = ()>",
    "-> dyn Trait",
    "-> _",
];
const WHERES: &[&str] = &[
    "",
    "",
    "where T: Clone",
    "where for<'x> F: Fn(&'x str)",
    "where Self: Sized,",
];
const BODIES: &[&str] = &[
    "{}",
    "{ 1 }",
    "{ x }",
    "{ return Ok(1); }",
    "{ let y = x?; Ok(y) }",
    "{ loop {} }",
    "{ panic!(\"boom\") }",
    "{ todo!() }",
    "{ Box::pin(async move { 1 }) }",
    "{ Box::pin(async move { return None; }) }",
    "{ Box::pin(async { 1 }) }",
    "{ Box::pin(async move { 1 }, 2) }",
    "{ ::std::boxed::Box::pin(async move {}) }",
    "{ Box::pin(async move { 1 }); }",
    "{ async move { 1 } }",
    "{ #![allow(unused)] 1 }",
    "{ fn inner() {} inner() }",
    "{ struct S; S }",
    "{ let f = || return 1; f() }",
    "{ unsafe { x } }",
    "{ match x { _ => return 2 } }",
    "{ ; }",
    "{ __instrument_ret }",
    "{ macro_rules! m { () => { return } } m!() }",
    "{ 'a: loop { break 'a 1 } }",
    "{ x.await }",
    "{ async {}.await? }",
    "{ self }",
    "{ let __instrument_guard = 1; __instrument_guard }",
    ";",
];

/// A function from the parts above. Most combinations parse (as syn sees
/// it; many would not type-check, which is not the macro's business).
fn function(rng: &mut Rng) -> String {
    format!(
        "{} {} {} fn {}{}{} {} {} {}",
        rng.pick(ATTRS),
        rng.pick(VIS),
        rng.pick(QUALIFIERS),
        rng.pick(NAMES),
        rng.pick(GENERICS),
        rng.pick(PARAMS),
        rng.pick(RETURNS),
        rng.pick(WHERES),
        rng.pick(BODIES),
    )
}

/// Items that are not functions with a body, and token soup.
const OTHER_ITEMS: &[&str] = &[
    "",
    "struct S;",
    "struct S { a: u32 }",
    "pub struct S(u32);",
    "enum E { A, B(u32) }",
    "union U { a: u32 }",
    "impl S { fn f() {} }",
    "impl T for S {}",
    "trait T { fn f(); }",
    "trait T { fn f() {} }",
    "const C: u32 = 1;",
    "static S: u32 = 1;",
    "mod m {}",
    "mod m;",
    "type T = u32;",
    "use a::b;",
    "extern crate core;",
    "extern \"C\" { fn f(); }",
    "macro_rules! m { () => {} }",
    "m!();",
    "fn f();",
    "fn f() -> u32;",
    "async fn f() -> impl Future;",
    "fn",
    "fn f",
    "fn f()",
    "fn f() -> {}",
    "fn f() {} fn g() {}",
    "fn f() {} struct S;",
    "#[inline]",
    "#![inner] fn f() {}",
    "pub",
    "{}",
    "1 + 1",
    "let x = 1;",
    "#[a] #[b] struct S;",
];

/// An item: a function (sometimes edited), another item, or token soup.
fn item(rng: &mut Rng) -> TokenStream {
    match rng.below(10) {
        0..=5 => tokens(&function(rng)),
        6 => {
            let function = tokens(&function(rng));
            mutate(rng, function)
        }
        7 | 8 => {
            let item = tokens(rng.pick(OTHER_ITEMS));
            if rng.chance(30) {
                mutate(rng, item)
            } else {
                item
            }
        }
        _ => random_stream(rng, 3),
    }
}

/// What the expansion of one case must look like.
#[derive(Debug, PartialEq, Eq)]
enum Expect {
    /// The function, instrumented.
    Success,
    /// Compile errors, then the item as written.
    Failure,
    /// Either; the shape of the output is still checked.
    Either,
}

/// Expand one case, catching any panic, and check the output's shape.
/// Returns whether the expansion succeeded.
fn check(
    which: Macro,
    args: TokenStream,
    item: TokenStream,
    function: Option<&syn::ItemFn>,
    expect: Expect,
) -> bool {
    let case = || format!("#[{which:?}({args})]\n{item}");
    let output = catch_unwind(AssertUnwindSafe(|| {
        which.expand(args.clone(), item.clone())
    }))
    .unwrap_or_else(|_| panic!("the expansion panicked on\n{}", case()));
    // The error path puts its `::core::compile_error!`s first.
    let head: Vec<String> = output
        .clone()
        .into_iter()
        .take(5)
        .map(|t| t.to_string())
        .collect();
    let succeeded = head != [":", ":", "core", ":", ":"];
    match (&expect, succeeded) {
        (Expect::Success, false) => panic!("valid input was rejected:\n{}\n=> {output}", case()),
        (Expect::Failure, true) => panic!("invalid input was accepted:\n{}\n=> {output}", case()),
        _ => {}
    }
    if let (true, Some(function)) = (succeeded, function) {
        check_instrumented(function, output, &case);
    } else if succeeded {
        panic!("accepted an item that is not a function:\n{}", case());
    } else {
        check_rejected(&item, output, &case);
    }
    succeeded
}

/// The output is one function with the item's attributes, visibility and
/// signature, its body holding the original body's tokens.
fn check_instrumented(original: &syn::ItemFn, output: TokenStream, case: &dyn Fn() -> String) {
    let file: syn::File = syn::parse2(output.clone()).unwrap_or_else(|e| {
        panic!(
            "the expansion does not parse ({e}):\n{}\n=> {output}",
            case()
        )
    });
    let [syn::Item::Fn(expanded)] = file.items.as_slice() else {
        panic!(
            "the expansion is not one function:\n{}\n=> {output}",
            case()
        );
    };
    let text = |tokens: &dyn ToTokens| tokens.to_token_stream().to_string();
    let same = |what: &str, a: String, b: String| {
        assert_eq!(a, b, "the expansion changed the {what}:\n{}", case());
    };
    // `mut` of an argument moves into the body, with the argument; a `_`
    // argument gets a name, to move in too.
    let without_mut = |sig: &syn::Signature| {
        let mut sig = sig.clone();
        for input in &mut sig.inputs {
            if let syn::FnArg::Typed(typed) = input {
                if let syn::Pat::Ident(pat) = &mut *typed.pat {
                    pat.mutability = None;
                    if pat.ident.to_string().starts_with("__instrument_args") {
                        *typed.pat = syn::parse_quote!(_);
                    }
                }
            }
        }
        text(&sig)
    };
    same(
        "signature",
        without_mut(&original.sig),
        without_mut(&expanded.sig),
    );
    same("visibility", text(&original.vis), text(&expanded.vis));
    let attrs = |f: &syn::ItemFn| f.attrs.iter().map(|a| text(a)).collect::<Vec<_>>();
    assert_eq!(attrs(original), attrs(expanded), "attributes:\n{}", case());
    let block = match crate::ast::async_trait_body(&original.block) {
        Some(inner) => &inner.block,
        None => &original.block,
    };
    // Every token of the body, in order: `return` values are wrapped, and a
    // tail expression may be split from the statements before it.
    fn flat(tokens: TokenStream, out: &mut Vec<String>) {
        for token in tokens {
            match token {
                proc_macro2::TokenTree::Group(group) => flat(group.stream(), out),
                token => out.push(token.to_string()),
            }
        }
    }
    let (mut wanted, mut got) = (Vec::new(), Vec::new());
    for stmt in &block.stmts {
        flat(stmt.to_token_stream(), &mut wanted);
    }
    flat(output.clone(), &mut got);
    let mut got_iter = got.iter();
    let missing = wanted.iter().find(|token| !got_iter.any(|g| g == *token));
    let out = output.to_string();
    assert!(
        missing.is_none(),
        "the original body is not in the expansion ({missing:?} is missing):\n{}\n=> {out}",
        case()
    );
    assert!(
        out.contains("__INSTRUMENT_SITE"),
        "no call site:\n{}\n=> {out}",
        case()
    );
}

/// The output is one or more `compile_error!` invocations with a message,
/// then the item's tokens unchanged.
fn check_rejected(
    item: &TokenStream,
    output: TokenStream,
    case: &dyn Fn() -> String,
) -> Vec<String> {
    let trees: Vec<TokenTree> = output.clone().into_iter().collect();
    let item_len = item.clone().into_iter().count();
    assert!(
        trees.len() > item_len,
        "no error before the item:\n{}\n=> {output}",
        case()
    );
    let (errors, rest) = trees.split_at(trees.len() - item_len);
    let rest: TokenStream = rest.iter().cloned().collect();
    assert_eq!(
        rest.to_string(),
        item.to_string(),
        "the item is not emitted unchanged after the errors:\n{}",
        case()
    );
    let errors: TokenStream = errors.iter().cloned().collect();
    let file: syn::File = syn::parse2(errors.clone())
        .unwrap_or_else(|e| panic!("the errors do not parse ({e}):\n{}\n=> {errors}", case()));
    assert!(!file.items.is_empty());
    let mut messages = Vec::new();
    for error in &file.items {
        let syn::Item::Macro(mac) = error else {
            panic!("not a compile_error!: {}", error.to_token_stream());
        };
        assert!(
            mac.mac.path.is_ident("compile_error")
                || text_of(&mac.mac.path) == ":: core :: compile_error",
            "not a compile_error!: {}",
            error.to_token_stream()
        );
        let message: syn::LitStr = syn::parse2(mac.mac.tokens.clone())
            .unwrap_or_else(|e| panic!("compile_error! without a message ({e}):\n{}", case()));
        assert!(!message.value().is_empty(), "an empty message:\n{}", case());
        messages.push(message.value());
    }
    messages
}

fn text_of(tokens: &dyn ToTokens) -> String {
    tokens.to_token_stream().to_string()
}

/// Whether the arguments generated as valid must be accepted with `item`:
/// a non-`const` function with a body (and, for `#[cache_lookup]`, a
/// return type other than `!`).
fn accepts_item(which: Macro, function: &syn::ItemFn) -> bool {
    if function.sig.constness.is_some() {
        return false;
    }
    match (which, &function.sig.output) {
        (Macro::CacheLookup, syn::ReturnType::Default) => false,
        (Macro::CacheLookup, syn::ReturnType::Type(_, ty)) => !matches!(**ty, syn::Type::Never(_)),
        _ => true,
    }
}

/// The generated cases for one macro, on a thread with the 8 MiB stack
/// that rustc gives the thread running macros.
fn fuzz(which: Macro) {
    let (cases, seed) = settings();
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(move || {
            let mut rng = Rng::new(seed.wrapping_add(which as u64));
            let (mut succeeded, mut failed) = (0, 0);
            for _ in 0..cases {
                let valid = rng.chance(50);
                let args = match rng.below(10) {
                    _ if valid => {
                        let args = tokens(&valid_args(&mut rng, which));
                        invisible_groups(&mut rng, args)
                    }
                    0..=3 => {
                        let args = tokens(&valid_args(&mut rng, which));
                        mutate(&mut rng, args)
                    }
                    4..=7 => hostile_args(&mut rng),
                    _ => random_stream(&mut rng, 3),
                };
                let item = item(&mut rng);
                let function = syn::parse2::<syn::ItemFn>(item.clone()).ok();
                let expect = match &function {
                    None => Expect::Failure,
                    Some(function) if valid && accepts_item(which, function) => Expect::Success,
                    Some(_) => Expect::Either,
                };
                if check(which, args, item, function.as_ref(), expect) {
                    succeeded += 1;
                } else {
                    failed += 1;
                }
            }
            // The generator reaches both paths often enough to mean something.
            assert!(
                succeeded >= cases / 5 && failed >= cases / 5,
                "{which:?}: {succeeded} expansions succeeded, {failed} failed"
            );
        })
        .expect("spawn")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}

#[test]
fn counted_never_panics() {
    fuzz(Macro::Counted);
}

#[test]
fn timed_never_panics() {
    fuzz(Macro::Timed);
}

#[test]
fn model_op_never_panics() {
    fuzz(Macro::ModelOp);
}

#[test]
fn cache_lookup_never_panics() {
    fuzz(Macro::CacheLookup);
}

/// Expand and expect a rejection; returns the messages.
fn rejected(output: TokenStream, item: &TokenStream) -> Vec<String> {
    check_rejected(item, output, &|| item.to_string())
}

/// An invisible group, as `macro_rules!` passes a `$value:expr` on.
fn invisible(source: &str) -> TokenTree {
    Group::new(Delimiter::None, tokens(source)).into()
}

/// Regression: `name = $name` inside a `macro_rules!` macro was rejected
/// with "`name` takes a string literal" (and `op = $op` with "`op` must be
/// one of ..."), because the value arrives wrapped in an invisible group.
#[test]
fn values_passed_through_macro_rules_are_read_through_the_group() {
    let function = tokens("fn f(kind: &str) {}");
    let parsed: syn::ItemFn = syn::parse2(function.clone()).expect("fn");
    let mut labels = tokens("status = ");
    labels.extend([invisible("200")]);
    labels.extend(tokens(", kind = "));
    labels.extend([invisible("kind")]);
    let mut args = tokens("name = ");
    args.extend([
        invisible(r#""api_requests_total""#),
        tokens(",").into_iter().next().unwrap(),
    ]);
    args.extend(tokens("labels"));
    args.extend([TokenTree::from(Group::new(Delimiter::Parenthesis, labels))]);
    let counted = expand::counted(args, function.clone());
    check_instrumented(&parsed, counted.clone(), &|| "counted".to_owned());
    let counted = counted.to_string();
    // The literal label is static (resolved at install), the other per call.
    assert!(
        counted.contains(r#"name : "api_requests_total""#),
        "{counted}"
    );
    assert!(
        counted.contains(r#"("status" , :: core :: option :: Option :: Some ("200"))"#),
        "{counted}"
    );
    assert!(
        counted.contains(r#"("kind" , :: core :: option :: Option :: None)"#),
        "{counted}"
    );

    let mut args = tokens("model = ");
    args.extend([invisible(r#""user""#)]);
    args.extend(tokens(", op = "));
    args.extend([invisible("insert")]);
    args.extend(tokens(", vendor = "));
    args.extend([invisible(r#""sqlite""#)]);
    let model_op = expand::model_op(args, function.clone());
    check_instrumented(&parsed, model_op.clone(), &|| "model_op".to_owned());
    let model_op = model_op.to_string();
    assert!(
        model_op.contains(
            r#"ModelOp :: new ("user" , :: instrument_runtime :: __private :: Op :: Insert"#
        ),
        "{model_op}"
    );
    assert!(model_op.contains(r#"Some ("sqlite")"#), "{model_op}");

    let function = tokens("fn f() -> Option<u32> { None }");
    let parsed: syn::ItemFn = syn::parse2(function.clone()).expect("fn");
    let mut args = tokens("backend = ");
    args.extend([invisible(r#""redis""#)]);
    let cache = expand::cache_lookup(args, function);
    check_instrumented(&parsed, cache.clone(), &|| "cache_lookup".to_owned());
    assert!(cache
        .to_string()
        .contains(r#"CacheLookup :: new ("redis")"#));

    // A value that is not a literal is still refused, through the group too.
    let mut args = tokens("name = ");
    args.extend([invisible("x")]);
    let item = tokens("fn f() {}");
    assert_eq!(
        rejected(expand::timed(args, item.clone()), &item),
        ["`name` takes a string literal: name = \"..\""]
    );
}

/// Every mistake in the arguments is reported in one build, each once,
/// followed by the function as written.
#[test]
fn every_argument_error_is_reported_once() {
    let item = tokens("pub fn handler() -> u32 { 1 }");
    let output = expand::timed(
        tokens(
            r#"name = 1, name = "a", bogus = 2, type = 3, labels(__x = 1, le = 2, a = 1, a = 2)"#,
        ),
        item.clone(),
    );
    assert_eq!(
        rejected(output, &item),
        [
            "duplicate argument `name`",
            "unknown argument `bogus`; #[timed] takes name = \"..\", help = \"..\", labels(name = value, ..), objective = OBJECTIVE",
            "unknown argument `type`; #[timed] takes name = \"..\", help = \"..\", labels(name = value, ..), objective = OBJECTIVE",
            "`name` takes a string literal: name = \"..\"",
            "`__x` is not a valid label name: use [a-zA-Z_][a-zA-Z0-9_]*, not starting with __",
            "`le` is reserved for histogram buckets; choose another label name",
            "duplicate label `a`",
            "`labels` needs `name = \"..\"`: the built-in family of #[timed] has fixed labels",
        ]
    );
}

/// Items that cannot carry the attribute get one error that names them,
/// then the item unchanged; the empty item included.
#[test]
fn items_that_are_not_functions_get_one_error_naming_them() {
    let cases = [
        ("", "#[counted] applies to functions with a body"),
        ("struct S;", "#[counted] applies to functions, not to a struct"),
        ("#[derive(Debug)] enum E { A }", "#[counted] applies to functions, not to an enum"),
        (
            "impl S { fn f() {} }",
            "#[counted] applies to functions, not to an impl block; put it on each method to instrument",
        ),
        (
            "fn f();",
            "#[counted] needs a function with a body, not a declaration; put it on the method in the impl",
        ),
        (
            "const fn f() {}",
            "#[counted] cannot instrument a `const fn`: metrics are recorded at run time; remove `const` or the attribute",
        ),
        ("fn", "#[counted] applies to functions with a body"),
        ("fn f() {} fn g() {}", "#[counted] applies to functions with a body"),
    ];
    for (item, message) in cases {
        let item = tokens(item);
        let output = expand::counted(TokenStream::new(), item.clone());
        assert_eq!(rejected(output, &item), [message], "{item}");
    }
}

/// Keywords and raw identifiers work as label names (`type` is common) and
/// as function names; the label is named without `r#`.
#[test]
fn keywords_and_raw_identifiers_as_label_and_function_names() {
    let item = tokens("fn r#match(kind: &str) {}");
    let parsed: syn::ItemFn = syn::parse2(item.clone()).expect("fn");
    let output = expand::counted(
        tokens(r#"name = "calls_total", labels(type = kind, r#async = 1)"#),
        item,
    );
    check_instrumented(&parsed, output.clone(), &|| "counted".to_owned());
    let output = output.to_string();
    assert!(output.contains(r#"Counted :: new ("match""#), "{output}");
    assert!(
        output.contains(r#"("type" , :: core :: option :: Option :: None)"#),
        "{output}"
    );
    assert!(
        output.contains(r#"("async" , :: core :: option :: Option :: Some ("1"))"#),
        "{output}"
    );
}

/// Deeply nested input (a label value in 200 parentheses, a body of 200
/// nested blocks) expands on a stack the size of rustc's.
#[test]
fn deeply_nested_input_expands() {
    std::thread::Builder::new()
        .stack_size(8 << 20)
        .spawn(|| {
            let depth = 200;
            let value = format!("{}x{}", "(".repeat(depth), ")".repeat(depth));
            let body = format!("{}1{}", "{".repeat(depth), "}".repeat(depth));
            let item = tokens(&format!("fn f(x: u32) -> u32 {body}"));
            let parsed: syn::ItemFn = syn::parse2(item.clone()).expect("fn");
            let args = tokens(&format!(r#"name = "deep_total", labels(x = {value})"#));
            let output = expand::counted(args, item);
            check_instrumented(&parsed, output, &|| "deep".to_owned());
        })
        .expect("spawn")
        .join()
        .unwrap_or_else(|panic| std::panic::resume_unwind(panic));
}
