//! Bad settings stop the service at start-up with a message that names the
//! setting, and lose nothing: no database file is created.

use std::process::Command;

fn run(env: &[(&str, &str)]) -> (Option<i32>, String) {
    let name = env[0].0;
    let dir = std::env::temp_dir().join(format!("example-service-{name}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let output = Command::new(env!("CARGO_BIN_EXE_example-service"))
        .env("DATABASE_PATH", dir.join("never.db"))
        .envs(env.iter().copied())
        .output()
        .expect("running example-service");
    let created = dir.join("never.db").exists();
    std::fs::remove_dir_all(&dir).unwrap();
    assert!(!created, "a database was created despite the bad setting");
    (
        output.status.code(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[test]
fn an_unparsable_address_is_named() {
    let (code, stderr) = run(&[("BIND", "localhost:eight")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr
            .contains(r#"example-service: BIND="localhost:eight": invalid socket address syntax"#),
        "{stderr}"
    );
}

#[test]
fn an_unparsable_number_is_named() {
    let (code, stderr) = run(&[("SLOW_MS", "-5")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(r#"example-service: SLOW_MS="-5": invalid digit found in string"#),
        "{stderr}"
    );
}

#[test]
fn an_unparsable_switch_is_named() {
    let (code, stderr) = run(&[("DJANGO_COMPAT", "yes")]);
    assert_eq!(code, Some(1));
    assert!(
        stderr.contains(
            r#"example-service: DJANGO_COMPAT="yes": provided string was not `true` or `false`"#
        ),
        "{stderr}"
    );
}
