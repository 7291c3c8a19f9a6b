//! The layering the README's "How it is built" draws, checked: a module
//! refers (through `crate::`) only to modules of the rows below its own.

use std::collections::BTreeSet;
use std::path::Path;

/// The rows, top first; `lib.rs` and `private.rs` (re-exports) are above
/// them all.
const ROWS: &[&[&str]] = &[
    &["exporter"],
    &["install", "rules"],
    &["sites"],
    &["http", "db", "push"],
    &["runtime"],
    &["store", "access"],
    &["web_config"],
    &["settings"],
    &["tls"],
    &["diagnostics"],
    &["objective"],
    &["catalogue", "names"],
    &["secret", "error", "pem", "build_info", "trace"],
];

/// The module of each item `lib.rs` re-exports under the crate root.
const ROOT_ITEMS: &[(&str, &str)] = &[
    ("Builder", "settings"),
    ("BuildInfo", "build_info"),
    ("Error", "error"),
    ("Metrics", "runtime"),
    ("Secret", "secret"),
    ("StoreRecorder", "store"),
    ("OVERFLOW", "catalogue"),
    ("DEFAULT_BUCKETS", "catalogue"),
    ("Tls", "tls"),
    ("ClientAuth", "tls"),
    ("TlsVersion", "tls"),
    ("TraceContext", "trace"),
    ("Objective", "objective"),
    ("ObjectiveRules", "rules"),
    ("ExemplarLayer", "trace"),
];

fn row(module: &str) -> usize {
    ROWS.iter()
        .position(|row| row.contains(&module))
        .unwrap_or_else(|| panic!("the module {module} is in no row of ROWS"))
}

/// The modules `source` refers to as `crate::module` or `crate::{Item, ..}`.
fn references(source: &str) -> BTreeSet<String> {
    let source = source
        .split("#[cfg(test)]\nmod tests")
        .next()
        .unwrap_or_default();
    // Comments and documentation (their links) are not dependencies.
    let code: String = source
        .lines()
        .filter(|line| !line.trim_start().starts_with("//"))
        .map(|line| format!("{line}\n"))
        .collect();
    let source = code.as_str();
    let mut found = BTreeSet::new();
    let mut rest = source;
    while let Some(at) = rest.find("crate::") {
        rest = &rest[at + "crate::".len()..];
        let names: Vec<&str> = match rest.strip_prefix('{') {
            Some(group) => group[..group.find('}').unwrap_or(0)]
                .split(',')
                .map(|name| name.trim().split("::").next().unwrap_or_default())
                .collect(),
            None => vec![rest
                .split(|c: char| !(c.is_alphanumeric() || c == '_'))
                .next()
                .unwrap_or_default()],
        };
        for name in names.into_iter().filter(|name| !name.is_empty()) {
            let module = ROOT_ITEMS
                .iter()
                .find(|(item, _)| *item == name)
                .map_or(name, |(_, module)| module);
            found.insert(module.to_owned());
        }
    }
    found
}

fn sources(dir: &Path, out: &mut Vec<(String, String)>) {
    for entry in std::fs::read_dir(dir).expect("the source directory") {
        let path = entry.expect("an entry").path();
        if path.is_dir() {
            sources(&path, out);
        } else if path.extension().is_some_and(|ext| ext == "rs") {
            let text = std::fs::read_to_string(&path).expect("a source file");
            out.push((path.display().to_string(), text));
        }
    }
}

#[test]
fn every_module_refers_only_to_the_rows_below_it() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let mut wrong = Vec::new();
    for (path, text) in &files {
        let relative = path
            .strip_prefix(&src.display().to_string())
            .unwrap_or(path);
        let top = relative
            .trim_start_matches('/')
            .split(['/', '.'])
            .next()
            .unwrap_or_default();
        if ["lib", "private", "architecture"].contains(&top) {
            continue;
        }
        for module in references(text) {
            if module != top && row(&module) <= row(top) {
                wrong.push(format!("{relative}: {top} refers to {module}"));
            }
        }
    }
    assert!(
        wrong.is_empty(),
        "references against the layering:\n{}",
        wrong.join("\n")
    );
}

/// Public items that generated code alone uses: reached only through
/// `__private`, so not documented for users.
const DOOR_ONLY: &[&str] = &["catalogue.rs: Kind"];

/// Every public item outside the `__private` door (and the sites behind
/// it) has an example in its own documentation: the count the README's
/// "every public item has an example" rests on.
#[test]
fn every_public_item_has_an_example() {
    const KINDS: &[&str] = &[
        "fn", "async fn", "const fn", "struct", "enum", "const", "trait", "type", "static",
    ];
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut files = Vec::new();
    sources(&src, &mut files);
    let (mut items, mut missing) = (0, Vec::new());
    for (path, text) in &files {
        let relative = path
            .strip_prefix(&src.display().to_string())
            .unwrap_or(path)
            .trim_start_matches('/');
        if relative.starts_with("sites/")
            || ["private.rs", "architecture.rs", "lib.rs"].contains(&relative)
        {
            continue;
        }
        let code = text
            .split("#[cfg(test)]\nmod tests")
            .next()
            .unwrap_or_default();
        let lines: Vec<&str> = code.lines().collect();
        for (index, line) in lines.iter().enumerate() {
            let Some(rest) = line.trim_start().strip_prefix("pub ") else {
                continue;
            };
            let Some(kind) = KINDS
                .iter()
                .filter(|kind| rest.starts_with(&format!("{kind} ")))
                .max_by_key(|kind| kind.len())
            else {
                continue;
            };
            let name: String = rest[kind.len() + 1..]
                .chars()
                .take_while(|c| c.is_alphanumeric() || *c == '_')
                .collect();
            if DOOR_ONLY.contains(&format!("{relative}: {name}").as_str()) {
                continue;
            }
            items += 1;
            let docs = lines[..index]
                .iter()
                .rev()
                .map(|line| line.trim_start())
                .take_while(|line| line.starts_with("///") || line.starts_with("#["));
            if !docs.into_iter().any(|line| line.contains("```")) {
                missing.push(format!("{relative}:{} {kind} {name}", index + 1));
            }
        }
    }
    assert!(
        items >= 69,
        "only {items} public items found: is the scan broken?"
    );
    assert!(
        missing.is_empty(),
        "public items without an example of their own:\n{}",
        missing.join("\n")
    );
}
