//! `Builder::build_info`: the `build_info` gauge, its labels, the
//! namespace, `build_info!()` in the user's crate; `Builder::service_name`
//! and `OTEL_SERVICE_NAME` on the function families and the gauge.

use crate::common;
use crate::text_format;

use instrument_runtime::{build_info, counted, timed, BuildInfo, Builder};

#[counted]
#[timed]
fn charge() {}

/// The labels of `family`'s first series of `charge` that counted a call,
/// in the order of the line.
fn charge_labels(page: &str, family: &str) -> Vec<(String, String)> {
    let exposition = text_format::parse(page).expect("a valid page");
    let family = exposition.family(family).expect("the family");
    let sample = family
        .samples
        .iter()
        .find(|s| {
            s.value > 0.0
                && s.labels
                    .iter()
                    .any(|(k, v)| k == "function" && v == "charge")
        })
        .expect("a series of charge");
    sample.labels.clone()
}

/// The one `build_info` series of a page the strict parser accepts: its
/// labels in the order of the line, and its value.
fn build_info_series(page: &str, family: &str) -> (Vec<(String, String)>, f64, String) {
    let exposition = text_format::parse(page).expect("a valid page");
    let family = exposition.family(family).expect("the build_info family");
    assert_eq!(family.kind, "gauge");
    assert_eq!(family.samples.len(), 1, "one series");
    let sample = &family.samples[0];
    (
        sample.labels.clone(),
        sample.value,
        family.help.clone().unwrap_or_default(),
    )
}

/// Install `builder`, call `charge` once, and render the page.
fn charged_page(builder: Builder) -> String {
    let metrics = builder.install().expect("installed");
    charge();
    metrics.render()
}

fn pairs(labels: &[(&str, &str)]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|(key, value)| ((*key).to_owned(), (*value).to_owned()))
        .collect()
}

#[test]
fn the_gauge_carries_the_build_under_the_namespace() {
    common::isolated(|| {
        std::env::remove_var("OTEL_SERVICE_NAME");
        let metrics = Builder::new()
            .namespace("django")
            .build_info(
                BuildInfo::new("shop", "3.1.0")
                    .commit("9f1c2e7")
                    .branch("release/3.1")
                    .rustc_version("1.95.0"),
            )
            .install()
            .expect("installed");
        let (labels, value, help) = build_info_series(&metrics.render(), "django_build_info");
        assert_eq!(
            labels,
            pairs(&[
                ("version", "3.1.0"),
                ("commit", "9f1c2e7"),
                ("branch", "release/3.1"),
                ("service_name", "shop"),
                ("rustc_version", "1.95.0"),
            ])
        );
        assert_eq!(value, 1.0);
        assert!(
            help.contains("version, commit, branch and service name"),
            "{help}"
        );
    });
}

#[test]
fn otel_service_name_names_the_service() {
    common::isolated(|| {
        std::env::set_var("OTEL_SERVICE_NAME", "checkout-eu");
        let page = charged_page(Builder::new().build_info(BuildInfo::new("shop", "3.1.0")));
        let module = module_path!();
        let calls = charge_labels(&page, "function_calls_total");
        assert_eq!(
            calls,
            pairs(&[
                ("function", "charge"),
                ("module", module),
                ("service_name", "checkout-eu"),
                ("result", "ok"),
            ])
        );
        let durations = charge_labels(&page, "function_calls_duration_seconds");
        assert_eq!(
            &durations[..3],
            &pairs(&[
                ("function", "charge"),
                ("module", module),
                ("service_name", "checkout-eu")
            ])[..]
        );
        let (labels, value, _) = build_info_series(&page, "build_info");
        assert_eq!(
            labels,
            pairs(&[
                ("version", "3.1.0"),
                ("commit", ""),
                ("branch", ""),
                ("service_name", "checkout-eu"),
                ("rustc_version", ""),
            ])
        );
        assert_eq!(value, 1.0);
    });
}

#[test]
fn the_setting_names_the_service_before_otel_service_name() {
    common::isolated(|| {
        std::env::set_var("OTEL_SERVICE_NAME", "from-the-environment");
        let page = charged_page(
            Builder::new()
                .service_name("billing")
                .build_info(BuildInfo::new("shop", "3.1.0")),
        );
        let calls = charge_labels(&page, "function_calls_total");
        assert_eq!(calls[2], pairs(&[("service_name", "billing")])[0]);
        let (labels, _, _) = build_info_series(&page, "build_info");
        assert_eq!(labels[3], pairs(&[("service_name", "billing")])[0]);
    });
}

#[test]
fn without_a_service_name_the_function_families_have_no_such_label() {
    common::isolated(|| {
        std::env::remove_var("OTEL_SERVICE_NAME");
        let page = charged_page(Builder::new().build_info(BuildInfo::new("shop", "3.1.0")));
        let calls = charge_labels(&page, "function_calls_total");
        assert_eq!(
            calls,
            pairs(&[
                ("function", "charge"),
                ("module", module_path!()),
                ("result", "ok")
            ])
        );
        // The build's own name names the service in build_info.
        let (labels, _, _) = build_info_series(&page, "build_info");
        assert_eq!(labels[3], pairs(&[("service_name", "shop")])[0]);
    });
}

#[test]
fn the_macro_describes_the_crate_it_is_written_in() {
    common::isolated(|| {
        std::env::remove_var("OTEL_SERVICE_NAME");
        let info = build_info!();
        assert_eq!(
            info,
            BuildInfo::new("instrument-runtime", env!("CARGO_PKG_VERSION"))
                .commit(
                    option_env!("VERGEN_GIT_SHA")
                        .or(option_env!("GIT_COMMIT"))
                        .unwrap_or("")
                )
                .branch(
                    option_env!("VERGEN_GIT_BRANCH")
                        .or(option_env!("GIT_BRANCH"))
                        .unwrap_or("")
                )
                .rustc_version(option_env!("VERGEN_RUSTC_SEMVER").unwrap_or(""))
        );
        let metrics = Builder::new()
            .build_info(info)
            .install()
            .expect("installed");
        let (labels, _, _) = build_info_series(&metrics.render(), "build_info");
        assert_eq!(
            labels[0],
            pairs(&[("version", env!("CARGO_PKG_VERSION"))])[0]
        );
        assert_eq!(
            labels[3],
            pairs(&[("service_name", "instrument-runtime")])[0]
        );
    });
}

#[test]
fn without_the_setting_there_is_no_build_info() {
    common::isolated(|| {
        let metrics = Builder::new().install().expect("installed");
        let page = metrics.render();
        let exposition = text_format::parse(&page).expect("a valid page");
        assert!(exposition.family("build_info").is_none(), "{page}");
    });
}
