//! The monitoring stack's files in `examples/monitoring/`, checked by the
//! tools that will load them: promtool (config, rules and the rules' unit
//! tests), amtool, docker-compose; the dashboard's JSON and queries; and
//! the Django guide's two alert rules, byte for byte.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use e2e::{tool, Service, TempDir};

/// The Django guide's alert rules (`prometheus/alert_rules.yml` in
/// it), as it prints them: `alert_rules.yml` must hold this text unchanged.
const DOCUMENTED_RULES: &str = r#"groups:
- name: django_alerts
  rules:
  - alert: HighRequestLatency
    expr: histogram_quantile(0.95, sum(rate(django_http_requests_latency_seconds_bucket[5m])) by (le)) > 0.5
    for: 5m
    labels:
      severity: warning
    annotations:
      summary: "High request latency"
      description: "95th percentile of request latency is above 0.5s for 5 minutes."
  
  - alert: HighErrorRate
    expr: sum(rate(django_http_responses_total_by_status{status=~"5.."}[5m])) / sum(rate(django_http_responses_total_by_status[5m])) > 0.05
    for: 5m
    labels:
      severity: critical
    annotations:
      summary: "High error rate"
      description: "Error rate is above 5% for 5 minutes."
"#;

fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the e2e crate is at tests/, one level under the workspace root")
        .to_owned()
}

fn monitoring() -> PathBuf {
    repo_root().join("examples/monitoring")
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Run a tool and return its output; a failure shows its command line, exit
/// status, stdout and stderr.
fn run(command: &mut Command) -> Output {
    let output = command
        .output()
        .unwrap_or_else(|e| panic!("running {command:?}: {e}"));
    assert!(
        output.status.success(),
        "{command:?} exited with {}\n--- stdout\n{}\n--- stderr\n{}",
        output.status,
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    output
}

/// stdout and stderr together, as a tool's report.
fn text(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned() + &String::from_utf8_lossy(&output.stderr)
}

fn promtool() -> Command {
    Command::new(tool("promtool", "prometheus"))
}

/// The alert names in a rules file, in order.
fn alert_names(rules: &str) -> Vec<String> {
    rules
        .lines()
        .filter_map(|line| line.trim_start().strip_prefix("- alert:"))
        .map(|name| name.trim().to_owned())
        .collect()
}

#[test]
fn alert_rules_hold_the_documented_rules_verbatim() {
    let rules = read(&monitoring().join("alert_rules.yml"));
    assert!(
        rules.contains(DOCUMENTED_RULES),
        "alert_rules.yml does not hold the Django guide's rules unchanged:\n{rules}"
    );
    // Once: a second copy further down would be a second, diverging rule set.
    assert_eq!(rules.matches("- name: django_alerts\n").count(), 1);
}

#[test]
fn promtool_checks_the_alert_rules() {
    let path = monitoring().join("alert_rules.yml");
    let output = run(promtool().args(["check", "rules"]).arg(&path));
    let alerts = alert_names(&read(&path));
    let expected = [
        "HighRequestLatency",
        "HighErrorRate",
        "HighDatabaseErrorRate",
        "CacheHitRatioLow",
        "DjangoMigrationsUnapplied",
        "TargetDown",
    ];
    assert_eq!(alerts, expected);
    let report = text(&output);
    assert!(
        report.contains(&format!("SUCCESS: {} rules found", alerts.len())),
        "{report}"
    );
}

#[test]
fn promtool_checks_the_prometheus_config_and_its_rule_files() {
    let output = run(promtool()
        .args(["check", "config"])
        .arg(monitoring().join("prometheus.yml")));
    let report = text(&output);
    assert!(report.contains("SUCCESS: 2 rule files found"), "{report}");
    assert!(report.contains("Checking"), "{report}");
    assert!(report.contains("alert_rules.yml"), "{report}");
    assert!(report.contains("objective_rules.yml"), "{report}");
}

/// The shipped objective rules are what the example service prints: a
/// change of its objectives, or of the generator, shows here.
#[test]
fn objective_rules_are_the_example_services_output() {
    let output = run(Command::new(e2e::example_service_bin()).arg("--print-objective-rules"));
    let printed = String::from_utf8(output.stdout).expect("UTF-8");
    let shipped = read(&monitoring().join("objective_rules.yml"));
    assert!(
        printed == shipped,
        "examples/monitoring/objective_rules.yml differs from `example-service --print-objective-rules`; \
         write it with: cargo run -p example-service -- --print-objective-rules > examples/monitoring/objective_rules.yml"
    );
    let report = text(&run(promtool()
        .args(["check", "rules"])
        .arg(monitoring().join("objective_rules.yml"))));
    // users: list_users, /users and GET /users/{id}, success and latency;
    // flaky: the function and GET /flaky, success. 16 rules each.
    assert!(report.contains("SUCCESS: 128 rules found"), "{report}");
}

/// The commented-out `authorization` block, uncommented as the comment says,
/// with the token file at `token`.
fn with_authorization(config: &str, token: &Path) -> String {
    let uncommented = config
        .replace("    # authorization:\n", "    authorization:\n")
        .replace("    #   ", "      ");
    assert!(
        uncommented.contains("    authorization:\n      type: Bearer\n      credentials_file: /run/secrets/metrics_token\n"),
        "prometheus.yml lost its commented authorization block:\n{config}"
    );
    uncommented.replace("/run/secrets/metrics_token", &token.display().to_string())
}

#[test]
fn promtool_checks_the_prometheus_config_with_authorization() {
    let dir = TempDir::new("prometheus-auth");
    for rules in ["alert_rules.yml", "objective_rules.yml"] {
        std::fs::copy(monitoring().join(rules), dir.path().join(rules)).expect("copying the rules");
    }
    let config = read(&monitoring().join("prometheus.yml"));
    let token = dir.path().join("metrics_token");
    let path = dir.path().join("prometheus.yml");
    std::fs::write(&path, with_authorization(&config, &token)).expect("writing the config");

    // promtool reads credentials_file: a missing file fails, which shows the
    // block is parsed and not left commented.
    let missing = promtool()
        .args(["check", "config"])
        .arg(&path)
        .output()
        .expect("running promtool");
    assert!(!missing.status.success(), "{}", text(&missing));
    assert!(
        text(&missing).contains("metrics_token"),
        "{}",
        text(&missing)
    );

    std::fs::write(&token, "not-a-real-token\n").expect("writing the token file");
    run(promtool().args(["check", "config"]).arg(&path));
}

/// The unit-test files in `examples/monitoring/tests/`.
fn rule_tests() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(monitoring().join("tests"))
        .expect("examples/monitoring/tests/")
        .map(|entry| entry.expect("a directory entry").path())
        .filter(|path| path.extension().is_some_and(|ext| ext == "yml"))
        .collect();
    files.sort();
    assert!(
        !files.is_empty(),
        "no rule tests in examples/monitoring/tests/"
    );
    files
}

#[test]
fn promtool_runs_the_rule_unit_tests() {
    let output = run(promtool().args(["test", "rules"]).args(rule_tests()));
    let report = text(&output);
    assert!(report.contains("SUCCESS"), "{report}");
}

/// Every shipped alert has a unit test where it fires and one where it does
/// not: after each `alertname: X`, an `exp_alerts:` that lists alerts or an
/// empty `exp_alerts: []`.
#[test]
fn every_alert_is_tested_firing_and_not_firing() {
    let mut firing = BTreeSet::new();
    let mut quiet = BTreeSet::new();
    for file in rule_tests() {
        let tests = read(&file);
        let mut lines = tests.lines().map(str::trim).filter(|l| !l.is_empty());
        while let Some(line) = lines.next() {
            let Some(name) = line.strip_prefix("alertname:") else {
                continue;
            };
            let name = name.trim().to_owned();
            match lines.next() {
                Some("exp_alerts: []") => quiet.insert(name),
                Some("exp_alerts:") => firing.insert(name),
                other => panic!("{}: alertname {name} followed by {other:?}", file.display()),
            };
        }
    }
    let alerts: BTreeSet<String> = alert_names(&read(&monitoring().join("alert_rules.yml")))
        .into_iter()
        .collect();
    assert_eq!(firing, alerts, "alerts tested firing");
    assert_eq!(quiet, alerts, "alerts tested not firing");
}

#[test]
fn amtool_checks_the_alertmanager_config() {
    let path = monitoring().join("alertmanager/config.yml");
    let output = run(Command::new(tool("amtool", "prometheus-alertmanager"))
        .arg("check-config")
        .arg(&path));
    let report = text(&output);
    assert!(report.contains("SUCCESS"), "{report}");
    assert!(report.contains("1 receivers"), "{report}");

    // The SMTP password comes from the secret docker-compose mounts.
    let config = read(&path);
    assert!(
        config.contains("auth_password_file: '/run/secrets/smtp_password'"),
        "{config}"
    );
    assert!(!config.contains("auth_password:"), "{config}");
}

fn docker_compose(args: &[&str]) -> Output {
    docker_compose_file("docker-compose.prod.yml", args)
}

/// `docker-compose -f file args` for a compose file of examples/monitoring.
fn docker_compose_file(file: &str, args: &[&str]) -> Output {
    run(Command::new(tool("docker-compose", "docker-compose"))
        .arg("-f")
        .arg(monitoring().join(file))
        .args(args)
        // The secret files' defaults, not paths from the caller's shell.
        .env_remove("GRAFANA_ADMIN_PASSWORD_FILE")
        .env_remove("SMTP_PASSWORD_FILE")
        .env_remove("METRICS_TOKEN_FILE"))
}

/// Grafana's and Alertmanager's secrets come from the files under
/// `secrets/` in a compose file's `config` output.
fn assert_secrets_from_files(config: &str) {
    for secret in ["grafana_admin_password", "smtp_password"] {
        let file = monitoring().join("secrets").join(secret);
        assert!(
            config.contains(&format!("file: {}\n", file.display())),
            "secret {secret} is not read from {}:\n{config}",
            file.display()
        );
    }
}

/// The services of a compose file, as `docker-compose config` lists them.
fn compose_services(file: &str) -> BTreeSet<String> {
    let output = docker_compose_file(file, &["config", "--services"]);
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

#[test]
fn docker_compose_accepts_the_compose_file() {
    assert_eq!(
        compose_services("docker-compose.prod.yml"),
        BTreeSet::from(["alertmanager", "backend", "grafana", "prometheus"].map(String::from))
    );

    let config = docker_compose(&["config"]);
    let config = String::from_utf8_lossy(&config.stdout);
    // The backend is built from the workspace with examples/Dockerfile.
    let root = repo_root().canonicalize().expect("the workspace root");
    assert!(
        config.contains(&format!("context: {}\n", root.display())),
        "{config}"
    );
    assert!(
        config.contains("dockerfile: examples/Dockerfile"),
        "{config}"
    );
    // Passwords only as secret files, never as values.
    assert!(
        config.contains("GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password"),
        "{config}"
    );
    assert!(!config.contains("GF_SECURITY_ADMIN_PASSWORD:"), "{config}");
    assert_secrets_from_files(&config);
    for secret in ["grafana_admin_password", "smtp_password"] {
        assert!(
            config.contains(&format!("- source: {secret}\n")),
            "{config}"
        );
    }
}

/// The compose file mounts each configuration where the others look for it.
#[test]
fn compose_mounts_match_the_configs() {
    let compose = read(&monitoring().join("docker-compose.prod.yml"));
    for mount in [
        "./prometheus.yml:/etc/prometheus/prometheus.yml:ro",
        "./alert_rules.yml:/etc/prometheus/alert_rules.yml:ro",
        "./objective_rules.yml:/etc/prometheus/objective_rules.yml:ro",
        "./alertmanager:/etc/alertmanager:ro",
        "'--config.file=/etc/alertmanager/config.yml'",
        "./grafana/provisioning:/etc/grafana/provisioning:ro",
        "./grafana/dashboards:/etc/grafana/dashboards:ro",
    ] {
        assert!(compose.contains(mount), "{mount} missing:\n{compose}");
    }
    let providers = read(&monitoring().join("grafana/provisioning/dashboards/dashboards.yml"));
    assert!(
        providers.contains("path: /etc/grafana/dashboards\n"),
        "{providers}"
    );
    let datasource = read(&monitoring().join("grafana/provisioning/datasources/prometheus.yml"));
    assert!(
        datasource.contains("url: http://prometheus:9090\n"),
        "{datasource}"
    );
    let prometheus = read(&monitoring().join("prometheus.yml"));
    assert!(
        prometheus.contains("targets: ['alertmanager:9093']"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("targets: ['backend:8000']"),
        "{prometheus}"
    );
    assert!(
        prometheus.contains("metrics_path: '/metrics/'"),
        "{prometheus}"
    );
    assert!(prometheus.contains("scrape_interval: 5s"), "{prometheus}");
}

/// Cargo loads every workspace member's manifest, so the Dockerfile must
/// copy each of them (a new member would otherwise break the image build).
#[test]
fn dockerfile_copies_every_workspace_member() {
    let root = repo_root();
    let dockerfile = read(&root.join("examples/Dockerfile"));
    let copied: Vec<&str> = dockerfile
        .lines()
        .filter_map(|line| line.strip_prefix("COPY "))
        .filter(|args| !args.starts_with("--from"))
        .flat_map(|args| {
            let mut words: Vec<&str> = args.split_whitespace().collect();
            words.pop(); // the destination
            words
        })
        .collect();
    for source in &copied {
        assert!(
            root.join(source).exists(),
            "COPY {source}: no such path in the workspace"
        );
    }
    let manifest = read(&root.join("Cargo.toml"));
    let members = manifest
        .split_once("members = [")
        .and_then(|(_, rest)| rest.split_once(']'))
        .map(|(members, _)| members)
        .expect("a members list in Cargo.toml");
    let members = members
        .split(',')
        .map(|member| member.trim().trim_matches('"'))
        .filter(|member| !member.is_empty());
    for member in members {
        let manifest = format!("{member}/Cargo.toml");
        // The member itself, its manifest, or a directory holding it.
        let covered = copied.iter().any(|source| {
            *source == member
                || *source == manifest
                || member.starts_with(&format!("{}/", source.trim_end_matches('/')))
        });
        assert!(
            covered,
            "examples/Dockerfile does not copy workspace member {member}:\n{dockerfile}"
        );
    }
    assert!(
        dockerfile.contains("cargo build --release --locked -p example-service"),
        "{dockerfile}"
    );
}

/// Each panel's queries, as (panel title, expression).
fn dashboard_queries() -> Vec<(String, String)> {
    let path = monitoring().join("grafana/dashboards/django-service.json");
    let dashboard: serde_json::Value = serde_json::from_str(&read(&path))
        .unwrap_or_else(|e| panic!("{} is not JSON: {e}", path.display()));
    let panels = dashboard["panels"].as_array().expect("a panels array");
    assert!(!panels.is_empty());
    let mut ids = BTreeSet::new();
    let mut queries = Vec::new();
    for panel in panels {
        let title = panel["title"].as_str().expect("a panel title").to_owned();
        assert!(ids.insert(panel["id"].as_u64()), "duplicate id in {title}");
        let targets = panel["targets"].as_array().map(Vec::as_slice);
        let targets = targets.unwrap_or_default();
        assert!(!targets.is_empty(), "panel {title} has no targets");
        for target in targets {
            let expr = target["expr"].as_str().unwrap_or_default();
            assert!(
                !expr.trim().is_empty(),
                "panel {title}: a target without expr"
            );
            assert_eq!(
                target["datasource"]["uid"], "prometheus",
                "panel {title}: not the provisioned data source"
            );
            queries.push((title.clone(), expr.to_owned()));
        }
    }
    let annotations = dashboard["annotations"]["list"].as_array();
    for annotation in annotations.into_iter().flatten() {
        let Some(expr) = annotation["expr"].as_str() else {
            continue; // Grafana's own annotations and alerts
        };
        let name = annotation["name"].as_str().expect("an annotation name");
        assert_eq!(
            annotation["datasource"]["uid"], "prometheus",
            "annotation {name}: not the provisioned data source"
        );
        queries.push((format!("annotation {name}"), expr.to_owned()));
    }
    queries
}

/// Deploys are marked on every panel: a build's series is new within the
/// last 10 minutes, by the labels `build_info` carries.
#[test]
fn dashboard_marks_deploys_from_build_info() {
    let deploys = dashboard_queries()
        .into_iter()
        .find(|(title, _)| title == "annotation Deploys")
        .map(|(_, expr)| expr);
    assert_eq!(
        deploys.as_deref(),
        Some(
            "max by (service_name, version, commit) (django_build_info{job=\"django\"}) \
             unless max by (service_name, version, commit) (django_build_info{job=\"django\"} offset 10m)"
        )
    );
}

#[test]
fn latency_panels_show_exemplars() {
    let path = monitoring().join("grafana/dashboards/django-service.json");
    let dashboard: serde_json::Value = serde_json::from_str(&read(&path)).expect("JSON");
    let mut with_exemplars = Vec::new();
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let over_buckets = target["expr"]
                .as_str()
                .unwrap_or_default()
                .contains("_bucket");
            let timeseries = panel["type"] == "timeseries";
            // Every time series over buckets has the toggle on, nothing else.
            assert_eq!(
                target["exemplar"].as_bool().unwrap_or(false),
                over_buckets && timeseries,
                "{}",
                panel["title"]
            );
            if over_buckets && timeseries {
                with_exemplars.push(panel["title"].as_str().unwrap_or_default().to_owned());
            }
        }
    }
    assert_eq!(with_exemplars, ["p95 latency by view", "DB latency (p95)"]);
    let compose = read(&monitoring().join("docker-compose.prod.yml"));
    assert!(compose.contains("'--enable-feature=exemplar-storage'"));
    // The objectives' budget counts their 30-day window.
    assert!(compose.contains("'--storage.tsdb.retention.time=35d'"));
    // The exemplars' `trace_id` label links to the trace, at TRACE_URL
    // (which compose sets), the id appended (`$$`: not an environment
    // variable for Grafana's provisioning).
    let datasource = read(&monitoring().join("grafana/provisioning/datasources/prometheus.yml"));
    let destination = "      exemplarTraceIdDestinations:\n        - name: trace_id\n          url: '${TRACE_URL}$${__value.raw}'\n";
    assert!(datasource.contains(destination), "{datasource}");
    assert!(compose.contains("      - TRACE_URL=${TRACE_URL:-http://localhost:16686/trace/}\n"));
}

#[test]
fn dashboard_has_a_query_for_every_family() {
    let queries = dashboard_queries();
    for family in [
        "django_http_requests_total",
        "django_http_responses_total_by_status",
        "django_http_requests_latency_seconds_bucket",
        "django_db_execute_total",
        "django_db_execute_latency_seconds_bucket",
        "django_db_errors_total",
        "django_cache_hits_total",
        "django_cache_misses_total",
        "django_model_inserts_total",
        "django_model_updates_total",
        "django_model_deletes_total",
    ] {
        assert!(
            queries.iter().any(|(_, expr)| expr.contains(family)),
            "no dashboard query reads {family}"
        );
    }
    let by_view = queries
        .iter()
        .find(|(title, _)| title == "p95 latency by view")
        .map(|(_, expr)| expr.as_str());
    assert_eq!(
        by_view,
        Some("histogram_quantile(0.95, sum by (le, view) (rate(django_http_requests_latency_seconds_bucket[$__rate_interval])))")
    );
}

/// Each query, with Grafana's `$__rate_interval` as a fixed range, is valid
/// PromQL: promtool checks it as a recording rule.
#[test]
fn dashboard_queries_parse_as_promql() {
    let mut rules = String::from("groups:\n- name: dashboard\n  rules:\n");
    for (n, (title, expr)) in dashboard_queries().iter().enumerate() {
        let expr = expr.replace("$__rate_interval", "1m");
        rules +=
            &format!("  # {title}\n  - record: dashboard:query_{n}\n    expr: |\n      {expr}\n");
    }
    let dir = TempDir::new("dashboard-queries");
    let path = dir.path().join("queries.yml");
    std::fs::write(&path, &rules).expect("writing the rules");
    let output = run(promtool().args(["check", "rules"]).arg(&path));
    let report = text(&output);
    assert!(
        report.contains(&format!(
            "SUCCESS: {} rules found",
            dashboard_queries().len()
        )),
        "{report}\n{rules}"
    );
}

/// `GET /metrics/` with a bearer token, as the uncommented scrape config
/// sends it.
fn scrape_with_token(addr: SocketAddr, token: &str) -> (u16, String) {
    let mut stream = TcpStream::connect(addr).expect("connecting");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    write!(
        stream,
        "GET /metrics/ HTTP/1.1\r\nHost: {addr}\r\nAuthorization: Bearer {token}\r\nConnection: close\r\n\r\n"
    )
    .expect("sending the request");
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("reading the response");
    let status = response
        .split(' ')
        .nth(1)
        .and_then(|code| code.parse().ok())
        .unwrap_or_else(|| panic!("no status line in {response:?}"));
    let body = response
        .split_once("\r\n\r\n")
        .map(|(_, body)| body.to_owned())
        .unwrap_or_default();
    (status, body)
}

/// `METRICS_TOKEN_FILE` protects the service's `/metrics/` with the token
/// that prometheus.yml's commented `authorization` block sends.
#[test]
fn metrics_token_file_protects_the_endpoint() {
    let dir = TempDir::new("metrics-token");
    let token = dir.path().join("metrics_token");
    std::fs::write(&token, "s3cret-token\n").expect("writing the token file");
    let service = Service::start(&[("METRICS_TOKEN_FILE", token.to_str().expect("UTF-8"))]);

    let (status, body) = service.request("GET", "/metrics/", None);
    assert_eq!(status, 401, "{body}");
    assert!(!body.contains("django_"), "{body}");
    let (status, body) = scrape_with_token(service.addr, "wrong");
    assert_eq!(status, 401, "{body}");
    let (status, body) = scrape_with_token(service.addr, "s3cret-token");
    assert_eq!(status, 200, "{body}");
    assert!(
        body.contains("# TYPE django_http_requests_total counter"),
        "{body}"
    );
}

/// `ha/prometheus.yml` as docker-compose.ha.yml mounts it: next to the
/// single-node rules and the aggregation rules, its target files in
/// `targets/`.
#[test]
fn promtool_checks_the_ha_config_and_its_rule_files() {
    let dir = TempDir::new("ha-config");
    let ha = monitoring().join("ha");
    for (from, to) in [
        (ha.join("prometheus.yml"), "prometheus.yml"),
        (monitoring().join("alert_rules.yml"), "alert_rules.yml"),
        (
            monitoring().join("objective_rules.yml"),
            "objective_rules.yml",
        ),
        (ha.join("aggregation_rules.yml"), "aggregation_rules.yml"),
    ] {
        std::fs::copy(&from, dir.path().join(to))
            .unwrap_or_else(|e| panic!("copying {}: {e}", from.display()));
    }
    let output = run(promtool()
        .args(["check", "config"])
        .arg(dir.path().join("prometheus.yml")));
    let report = text(&output);
    assert!(report.contains("SUCCESS: 3 rule files found"), "{report}");
    assert!(report.contains("aggregation_rules.yml"), "{report}");

    let config = read(&ha.join("prometheus.yml"));
    for line in [
        // Each server names itself, from its environment.
        "replica: '${PROMETHEUS_REPLICA}'",
        // Both send to both Alertmanagers, without their own name.
        "targets: ['alertmanager-a:9093', 'alertmanager-b:9093']",
        "url: 'http://victoriametrics:8428/api/v1/write'",
        "- files: ['targets/*.json']",
        "- names: ['backend']",
    ] {
        assert!(config.contains(line), "{line} missing:\n{config}");
    }
    assert_eq!(config.matches("regex: replica").count(), 2, "{config}");
}

#[test]
fn promtool_runs_the_ha_rule_unit_tests() {
    let ha = monitoring().join("ha");
    let report = text(&run(promtool()
        .args(["check", "rules"])
        .arg(ha.join("aggregation_rules.yml"))));
    assert!(report.contains("SUCCESS: 8 rules found"), "{report}");
    let report = text(&run(promtool().current_dir(&ha).args([
        "test",
        "rules",
        "tests/aggregation_rules_test.yml",
    ])));
    assert!(report.contains("SUCCESS"), "{report}");
}

#[test]
fn docker_compose_accepts_the_ha_compose_file() {
    assert_eq!(
        compose_services("docker-compose.ha.yml"),
        BTreeSet::from(
            [
                "alertmanager-a",
                "alertmanager-b",
                "backend",
                "grafana",
                "prometheus-a",
                "prometheus-b",
                "victoriametrics",
            ]
            .map(String::from)
        )
    );
    let config = docker_compose_file("docker-compose.ha.yml", &["config"]);
    let config = String::from_utf8_lossy(&config.stdout);
    for line in [
        "PROMETHEUS_REPLICA: a",
        "PROMETHEUS_REPLICA: b",
        "--cluster.peer=alertmanager-b:9094",
        "--cluster.peer=alertmanager-a:9094",
        "--enable-feature=expand-external-labels,exemplar-storage",
        "-dedup.minScrapeInterval=5s",
        "GF_SECURITY_ADMIN_PASSWORD__FILE: /run/secrets/grafana_admin_password",
    ] {
        assert!(config.contains(line), "{line} missing:\n{config}");
    }
    // Passwords only as secret files.
    assert!(!config.contains("GF_SECURITY_ADMIN_PASSWORD:"), "{config}");
    assert_secrets_from_files(&config);
}
