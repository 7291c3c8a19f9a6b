//! Invalid settings are rejected by `Builder::install` with
//! `Error::InvalidSetting` naming the builder method, and leave nothing
//! installed. Nothing in this file installs successfully (the settings
//! that do install have a file each: `settings_*.rs`).

use crate::common;

use instrument_runtime::{Builder, Error};

/// Install `builder`, expect `InvalidSetting` for `setting`, and return its
/// reason.
#[track_caller]
fn rejected(builder: Builder, setting: &str) -> String {
    match builder.install() {
        Err(Error::InvalidSetting {
            setting: named,
            reason,
        }) => {
            assert_eq!(named, setting, "reason: {reason}");
            assert!(
                instrument_runtime::installed().is_none(),
                "a rejected setting installed something"
            );
            reason
        }
        other => panic!("expected InvalidSetting {{ setting: {setting:?} }}, got {other:?}"),
    }
}

#[test]
fn namespace_must_be_a_metric_name_prefix() {
    common::isolated(|| {
        for namespace in ["1django", "dj-ango", "dj ango", "djangö", "a.b"] {
            let reason = rejected(Builder::new().namespace(namespace), "namespace");
            assert!(reason.contains(&format!("{namespace:?}")), "{reason}");
        }
    });
}

#[test]
fn buckets_must_be_finite_strictly_increasing_and_not_empty() {
    common::isolated(|| {
        let reason = rejected(Builder::new().buckets(&[]), "buckets");
        assert_eq!(reason, "at least one bucket bound is needed");
        let reason = rejected(Builder::new().buckets(&[0.1, f64::NAN]), "buckets");
        assert!(reason.contains("NaN is not a finite number"), "{reason}");
        let reason = rejected(Builder::new().buckets(&[0.1, f64::INFINITY]), "buckets");
        assert!(reason.contains("inf is not a finite number"), "{reason}");
        let reason = rejected(Builder::new().buckets(&[0.5, 0.1]), "buckets");
        assert!(reason.contains("not strictly increasing"), "{reason}");
        rejected(Builder::new().buckets(&[0.1, 0.1]), "buckets");
    });
}

/// Regression: negative bounds were accepted, though every histogram here
/// measures a duration or a size.
#[test]
fn negative_bucket_bounds_are_rejected() {
    common::isolated(|| {
        let reason = rejected(Builder::new().buckets(&[-1.0, 0.5]), "buckets");
        assert_eq!(
            reason,
            "-1 is negative: bucket bounds are durations in seconds or sizes in bytes"
        );
        let reason = rejected(Builder::new().buckets(&[-0.0, 1.0]), "buckets");
        assert_eq!(
            reason,
            "-0 is negative: bucket bounds are durations in seconds or sizes in bytes"
        );
        let reason = rejected(
            Builder::new().family_buckets("db_execute_latency_seconds", &[0.1, -0.25]),
            "family_buckets",
        );
        assert_eq!(
            reason,
            "-0.25 is negative: bucket bounds are durations in seconds or sizes in bytes"
        );
    });
}

#[test]
fn bucket_bound_messages_are_exact() {
    common::isolated(|| {
        let cases: [(&[f64], &str); 6] = [
            (&[], "at least one bucket bound is needed"),
            (
                &[0.1, f64::NAN],
                "NaN is not a finite number (+Inf is added by itself)",
            ),
            (
                &[0.1, f64::INFINITY],
                "inf is not a finite number (+Inf is added by itself)",
            ),
            (
                &[f64::NEG_INFINITY, 0.1],
                "-inf is not a finite number (+Inf is added by itself)",
            ),
            (&[0.5, 0.1], "[0.5, 0.1] is not strictly increasing"),
            (
                &[0.0, 1.0, 1.0],
                "[0.0, 1.0, 1.0] is not strictly increasing",
            ),
        ];
        for (buckets, message) in cases {
            assert_eq!(
                rejected(Builder::new().buckets(buckets), "buckets"),
                message,
                "{buckets:?}"
            );
            assert_eq!(
                rejected(
                    Builder::new().family_buckets("http_requests_latency_seconds", buckets),
                    "family_buckets"
                ),
                message,
                "{buckets:?}"
            );
        }
    });
}

#[test]
fn family_buckets_need_a_metric_name_and_valid_bounds() {
    common::isolated(|| {
        let reason = rejected(
            Builder::new().family_buckets("db latency", &[1.0]),
            "family_buckets",
        );
        assert!(reason.contains("\"db latency\""), "{reason}");
        rejected(
            Builder::new().family_buckets("db_execute_latency_seconds", &[]),
            "family_buckets",
        );
        rejected(
            Builder::new().family_buckets("db_execute_latency_seconds", &[2.0, 1.0]),
            "family_buckets",
        );
        rejected(
            Builder::new().family_buckets("db_execute_latency_seconds", &[f64::NEG_INFINITY]),
            "family_buckets",
        );
    });
}

#[test]
fn global_label_names_follow_prometheus_rules() {
    common::isolated(|| {
        for name in ["__name__", "__x", "1abc", "a-b", "", "é"] {
            let reason = rejected(Builder::new().global_label(name, "x"), "global_label");
            assert!(reason.contains(&format!("{name:?}")), "{reason}");
        }
        // `le` would appear twice in every histogram bucket.
        let reason = rejected(Builder::new().global_label("le", "x"), "global_label");
        assert!(reason.contains("\"le\""), "{reason}");
    });
}

#[test]
fn first_invalid_setting_is_reported_and_displayed() {
    common::isolated(|| {
        let builder = Builder::new()
            .namespace("bad-namespace")
            .buckets(&[])
            .global_label("__x", "y");
        let error = builder.install().expect_err("invalid");
        assert!(
            matches!(
                error,
                Error::InvalidSetting {
                    setting: "namespace",
                    ..
                }
            ),
            "{error:?}"
        );
        assert_eq!(
        error.to_string(),
        "invalid setting `namespace`: \"bad-namespace\" is not a valid metric name prefix ([a-zA-Z_:][a-zA-Z0-9_:]*)"
    );
        assert!(std::error::Error::source(&error).is_none());
        assert!(instrument_runtime::installed().is_none());
    });
}

#[test]
fn cardinality_limits_must_be_positive_and_name_a_family() {
    common::isolated(|| {
        let reason = rejected(Builder::new().cardinality_limit(0), "cardinality_limit");
        assert_eq!(reason, "the limit must be at least 1");
        let reason = rejected(
            Builder::new().family_cardinality_limit("user_requests_total", 0),
            "family_cardinality_limit",
        );
        assert_eq!(
            reason,
            "the limit of user_requests_total must be at least 1"
        );
        let reason = rejected(
            Builder::new().family_cardinality_limit("9lives", 10),
            "family_cardinality_limit",
        );
        assert_eq!(reason, "\"9lives\" is not a valid metric name");
        assert!(instrument_runtime::installed().is_none());
    });
}
