//! Invalid protection settings are refused at install with
//! `Error::InvalidSetting` naming the setting and the variable, file or
//! entry at fault (never the secret), and nothing is installed.

use crate::common;
use crate::protection;

use instrument_runtime::{Builder, Error, Secret};

/// The setting and reason of the error `builder` fails to install with.
#[track_caller]
fn refused(builder: Builder) -> (&'static str, String) {
    match builder.install() {
        Err(error @ Error::InvalidSetting { .. }) => {
            let Error::InvalidSetting { setting, reason } = &error else {
                unreachable!()
            };
            assert_eq!(
                error.to_string(),
                format!("invalid setting `{setting}`: {reason}")
            );
            assert!(instrument_runtime::installed().is_none());
            (*setting, reason.clone())
        }
        other => panic!("expected Error::InvalidSetting, got {other:?}"),
    }
}

#[test]
fn a_token_from_a_missing_environment_variable() {
    common::isolated(|| {
        let (setting, reason) =
            refused(Builder::new().bearer_token(Secret::from_env("PROTECTION_INVALID_NEVER_SET")));
        assert_eq!(setting, "bearer_token");
        assert_eq!(
            reason,
            "the token's environment variable PROTECTION_INVALID_NEVER_SET is not set"
        );
    });
}

#[test]
fn a_token_from_an_empty_environment_variable() {
    common::isolated(|| {
        std::env::set_var("PROTECTION_INVALID_EMPTY", "");
        let (setting, reason) =
            refused(Builder::new().bearer_token(Secret::from_env("PROTECTION_INVALID_EMPTY")));
        assert_eq!(setting, "bearer_token");
        assert_eq!(
            reason,
            "the token's environment variable PROTECTION_INVALID_EMPTY is empty"
        );
    });
}

#[test]
fn a_token_from_a_missing_file() {
    common::isolated(|| {
        let path = std::env::temp_dir().join("instrument-runtime-no-such-token-file");
        let (setting, reason) = refused(Builder::new().bearer_token(Secret::from_file(&path)));
        assert_eq!(setting, "bearer_token");
        assert!(
            reason.starts_with(&format!(
                "the token's file {} cannot be read: ",
                path.display()
            )),
            "{reason}"
        );
        assert!(reason.contains("No such file or directory"), "{reason}");
    });
}

#[test]
fn a_token_from_an_unreadable_file() {
    common::isolated(|| {
        // A directory cannot be read as a file, whoever runs the test (a mode
        // 000 file can still be read by root).
        let path = std::env::temp_dir();
        let (setting, reason) = refused(Builder::new().bearer_token(Secret::from_file(&path)));
        assert_eq!(setting, "bearer_token");
        assert!(
            reason.starts_with(&format!(
                "the token's file {} cannot be read: ",
                path.display()
            )),
            "{reason}"
        );
    });
}

#[test]
fn a_token_from_an_empty_or_blank_file() {
    common::isolated(|| {
        for (name, content) in [("empty", ""), ("blank", " \n\n")] {
            let path = protection::secret_file(name, content);
            let (setting, reason) = refused(Builder::new().bearer_token(Secret::from_file(&path)));
            assert_eq!(setting, "bearer_token");
            assert_eq!(
                reason,
                format!("the token's file {} is empty", path.display())
            );
        }
    });
}

#[test]
fn an_empty_token() {
    common::isolated(|| {
        let (setting, reason) = refused(Builder::new().bearer_token(Secret::new("")));
        assert_eq!(
            (setting, reason.as_str()),
            ("bearer_token", "the token is empty")
        );
    });
}

#[test]
fn a_token_that_no_header_can_carry() {
    common::isolated(|| {
        let (setting, reason) =
            refused(Builder::new().bearer_token(Secret::new("hunter2\nhunter3")));
        assert_eq!(setting, "bearer_token");
        assert!(reason.contains("control character"), "{reason}");
        let (setting, reason) = refused(Builder::new().bearer_token(Secret::new("hunter2 ")));
        assert_eq!(setting, "bearer_token");
        assert!(reason.contains("whitespace"), "{reason}");
        assert!(
            !reason.contains("hunter"),
            "the reason shows the token: {reason}"
        );
    });
}

#[test]
fn an_empty_username() {
    common::isolated(|| {
        let (setting, reason) = refused(Builder::new().basic_auth("", Secret::new("s3cret")));
        assert_eq!(
            (setting, reason.as_str()),
            ("basic_auth", "the username is empty")
        );
    });
}

#[test]
fn a_username_with_a_colon() {
    common::isolated(|| {
        let (setting, reason) =
            refused(Builder::new().basic_auth("prom:etheus", Secret::new("s3cret")));
        assert_eq!(setting, "basic_auth");
        assert!(
            reason.starts_with(r#"the username "prom:etheus" contains ':'"#),
            "{reason}"
        );
    });
}

#[test]
fn an_empty_or_missing_password() {
    common::isolated(|| {
        let (setting, reason) = refused(Builder::new().basic_auth("prometheus", Secret::new("")));
        assert_eq!(
            (setting, reason.as_str()),
            ("basic_auth", "the password is empty")
        );
        let (setting, reason) = refused(Builder::new().basic_auth(
            "prometheus",
            Secret::from_env("PROTECTION_INVALID_NO_PASSWORD"),
        ));
        assert_eq!(setting, "basic_auth");
        assert_eq!(
            reason,
            "the password's environment variable PROTECTION_INVALID_NO_PASSWORD is not set"
        );
        let path = protection::secret_file("empty_password", "\n");
        let (setting, reason) =
            refused(Builder::new().basic_auth("prometheus", Secret::from_file(&path)));
        assert_eq!(setting, "basic_auth");
        assert_eq!(
            reason,
            format!("the password's file {} is empty", path.display())
        );
    });
}

#[test]
fn networks_that_do_not_parse() {
    common::isolated(|| {
        for (entry, expected) in [
            (
                "banana",
                r#""banana" is not an IP address or a CIDR network such as 10.0.0.0/8 or fd00::/8"#,
            ),
            (
                "10.0.0.0/",
                r#""10.0.0.0/" is not an IP address or a CIDR network such as 10.0.0.0/8 or fd00::/8"#,
            ),
            (
                "10.0.0.0/33",
                r#""10.0.0.0/33": the prefix length of an IPv4 network is at most 32"#,
            ),
            (
                "fd00::/129",
                r#""fd00::/129": the prefix length of an IPv6 network is at most 128"#,
            ),
            (
                "10.1.2.3/8",
                r#""10.1.2.3/8" has bits set after its /8 prefix: write 10.0.0.0/8 for the network, or 10.1.2.3 for the one address"#,
            ),
        ] {
            // A valid entry before it does not hide it.
            let (setting, reason) = refused(
                Builder::new()
                    .allow_network("127.0.0.0/8")
                    .allow_network(entry),
            );
            assert_eq!((setting, reason.as_str()), ("allow_network", expected));
        }
    });
}

#[test]
fn a_secret_is_never_shown() {
    common::isolated(|| {
        let builder = Builder::new()
            .bearer_token(Secret::new("hunter2"))
            .basic_auth("prometheus", Secret::new("hunter3"));
        let debug = format!("{builder:?}");
        assert!(!debug.contains("hunter"), "{debug}");
        assert!(debug.contains("Secret::new(<redacted>)"), "{debug}");
        assert!(debug.contains("prometheus"), "{debug}");
        let debug = format!("{:?}", Secret::from_env("METRICS_TOKEN"));
        assert_eq!(debug, r#"Secret::from_env("METRICS_TOKEN")"#);
    });
}

#[cfg(feature = "tls")]
#[test]
fn tls_without_the_listener_or_with_two_sources_is_refused() {
    use instrument_runtime::{ClientAuth, Tls};
    common::isolated(|| {
        let dir = std::env::temp_dir().join(format!("protection-invalid-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("a directory");
        let (setting, reason) = refused(Builder::new().listen_tls(Tls::new("a.crt", "a.key")));
        assert_eq!(setting, "listen_tls");
        assert!(
            reason.starts_with("TLS is served by the standalone listener: set Builder::listen too"),
            "{reason}"
        );

        let web = dir.join("web-config.yml");
        std::fs::write(
            &web,
            "tls_server_config:\n  cert_file: a.crt\n  key_file: a.key\n",
        )
        .expect("writing");
        let listen = "127.0.0.1:0".parse().expect("an address");
        let (setting, reason) = refused(
            Builder::new()
                .listen(listen)
                .web_config_file(&web)
                .listen_tls(Tls::new("a.crt", "a.key")),
        );
        assert_eq!(setting, "web_config_file");
        assert_eq!(
            reason,
            format!(
                "{} sets tls_server_config and Builder::listen_tls is set too; keep one",
                web.display()
            )
        );

        // Files that do not exist, named; a verifying client auth without
        // a CA, explained.
        let (setting, reason) = refused(
            Builder::new()
                .listen(listen)
                .listen_tls(Tls::new(dir.join("a.crt"), dir.join("a.key"))),
        );
        assert_eq!(setting, "listen_tls");
        let missing = dir.join("a.crt");
        assert!(
            reason.starts_with(&format!(
                "cert_file: the file {} cannot be read: ",
                missing.display()
            )),
            "{reason}"
        );
        let (setting, reason) = refused(Builder::new().listen(listen).listen_tls(
            Tls::new("a.crt", "a.key").client_auth(ClientAuth::VerifyClientCertIfGiven),
        ));
        assert_eq!(
            (setting, reason.as_str()),
            (
                "listen_tls",
                "client_auth_type VerifyClientCertIfGiven needs client_ca_file, the CAs to verify client certificates against"
            )
        );

        std::fs::write(&web, "basic_auth_users:\n  prometheus: $2y$04$short\n").expect("writing");
        let (setting, reason) = refused(Builder::new().web_config_file(&web));
        assert_eq!(setting, "web_config_file");
        assert!(
            reason.starts_with(&format!(
                "{}: basic_auth_users.prometheus: not a bcrypt hash",
                web.display()
            )),
            "{reason}"
        );
        assert!(!reason.contains("short"), "{reason}");
        let _ = std::fs::remove_dir_all(&dir);
    });
}
