//! The Prometheus rules for metric and label names, in one place: the
//! settings, the store, the Pushgateway's grouping labels and (through a
//! test that holds its copy to this one) the macros use them.

/// A metric name: `[a-zA-Z_:][a-zA-Z0-9_:]*`.
pub(crate) fn is_metric_name(name: &str) -> bool {
    is_name(name, true)
}

/// A label name's syntax: `[a-zA-Z_][a-zA-Z0-9_]*`.
pub(crate) fn is_label_name(name: &str) -> bool {
    is_name(name, false)
}

/// A label name Prometheus leaves to users: valid, and not starting with
/// `__` (reserved for its own labels).
pub(crate) fn is_user_label_name(name: &str) -> bool {
    is_label_name(name) && !name.starts_with("__")
}

fn is_name(name: &str, colons: bool) -> bool {
    let valid = |(i, c): (usize, char)| {
        c.is_ascii_alphabetic() || c == '_' || (colons && c == ':') || (i > 0 && c.is_ascii_digit())
    };
    !name.is_empty() && name.chars().enumerate().all(valid)
}

/// `name` made a valid metric name, as other Prometheus exporters do with
/// the names of libraries that use dots or dashes: any other character
/// becomes `_`, and a leading digit (or nothing) gets a `_` before it.
pub(crate) fn to_metric_name(name: &str) -> String {
    sanitize(name, true)
}

/// `name` made a label name users may have: as [`to_metric_name`], without
/// colons, and a reserved `__` prefix loses one `_`.
pub(crate) fn to_user_label_name(name: &str) -> String {
    let mut name = sanitize(name, false);
    if name.starts_with("__") {
        name.remove(0);
    }
    name
}

fn sanitize(name: &str, colons: bool) -> String {
    let mut out = String::with_capacity(name.len() + 1);
    if name.chars().next().is_none_or(|c| c.is_ascii_digit()) {
        out.push('_');
    }
    let keep = |c: char| c.is_ascii_alphanumeric() || c == '_' || (colons && c == ':');
    out.extend(name.chars().map(|c| if keep(c) { c } else { '_' }));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_the_data_model() {
        for good in ["a", "_", "a_b:c", ":x", "A9", "django_http_requests_total"] {
            assert!(is_metric_name(good), "{good}");
        }
        for bad in ["", "9a", "a-b", "a.b", "a b", "é"] {
            assert!(!is_metric_name(bad), "{bad}");
        }
        assert!(is_label_name("__name__") && !is_user_label_name("__name__"));
        assert!(!is_label_name("a:b") && !is_label_name("1a"));
        assert!(is_user_label_name("_le") && is_user_label_name("le"));
    }

    #[test]
    fn other_names_are_made_valid() {
        assert_eq!(to_metric_name("tokio.tasks-spawned"), "tokio_tasks_spawned");
        assert_eq!(to_metric_name("9lives"), "_9lives");
        assert_eq!(to_metric_name(""), "_");
        assert_eq!(to_metric_name("a:b"), "a:b");
        assert_eq!(to_user_label_name("a:b"), "a_b");
        assert_eq!(to_user_label_name("__secret"), "_secret");
        assert_eq!(to_user_label_name("worker-id"), "worker_id");
        for name in ["x.y", "9", "__a", "é", "a b"] {
            assert!(is_metric_name(&to_metric_name(name)), "{name}");
            assert!(is_user_label_name(&to_user_label_name(name)), "{name}");
        }
    }
}
