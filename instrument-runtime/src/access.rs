//! Protection of `/metrics/`: a bearer token, basic credentials and an IP
//! allow-list, resolved once at install and checked on every scrape.
// Without the `axum` feature there is no endpoint to check scrapes at, but
// the settings are still validated, so a configuration that installs in
// one build installs in the other.
#![cfg_attr(not(feature = "axum"), allow(dead_code))]

use std::net::IpAddr;

use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::{DecodePaddingMode, Engine as _};
use ipnet::IpNet;
use subtle::{Choice, ConstantTimeEq};

use crate::settings::Builder;
use crate::Error;

/// The resolved protection of `/metrics/`. The default lets everyone in.
#[derive(Default)]
pub(crate) struct Access {
    networks: Vec<Network>,
    token: Option<Vec<u8>>,
    basic: Option<(Vec<u8>, Vec<u8>)>,
    /// The web config's `basic_auth_users` and what it adds to each answer.
    #[cfg(feature = "tls")]
    pub(crate) web: crate::web_config::Resolved,
}

/// Why a scrape is refused.
#[derive(Debug, PartialEq)]
pub(crate) enum Denied {
    /// The peer is outside the allow-list: 403.
    Outside(IpAddr),
    /// There is an allow-list but the server does not pass the peer's
    /// address to the handler: 403, since the check cannot be made.
    NoPeer,
    /// Missing or wrong credentials: 401.
    Unauthorized,
    /// Basic credentials for a user of the web config: right when the
    /// password matches the user's bcrypt hash, which takes a verification
    /// too slow to run inline ([`Access::verify`]).
    #[cfg(feature = "tls")]
    Verify(crate::web_config::Candidate),
}

impl Access {
    /// Read the secrets and parse the networks of `settings`.
    pub(crate) fn resolve(settings: &Builder) -> Result<Access, Error> {
        let invalid = |setting, reason| Error::InvalidSetting { setting, reason };
        let networks = settings
            .allow_networks
            .iter()
            .map(|entry| Network::parse(entry).map_err(|reason| invalid("allow_network", reason)))
            .collect::<Result<_, _>>()?;
        let token = match &settings.bearer_token {
            Some(secret) => {
                let token = secret
                    .resolve("token")
                    .map_err(|reason| invalid("bearer_token", reason))?;
                check_token(&token).map_err(|reason| invalid("bearer_token", reason))?;
                Some(token.into_bytes())
            }
            None => None,
        };
        let basic = match &settings.basic_auth {
            Some((username, secret)) => {
                if username.is_empty() {
                    return Err(invalid("basic_auth", "the username is empty".to_owned()));
                }
                if username.contains(':') {
                    return Err(invalid(
                        "basic_auth",
                        format!(
                            "the username {username:?} contains ':', which separates it from the password in basic credentials"
                        ),
                    ));
                }
                let password = secret
                    .resolve("password")
                    .map_err(|reason| invalid("basic_auth", reason))?;
                Some((username.clone().into_bytes(), password.into_bytes()))
            }
            None => None,
        };
        Ok(Access {
            networks,
            token,
            basic,
            #[cfg(feature = "tls")]
            web: crate::web_config::Resolved::resolve(settings)?,
        })
    }

    /// Whether a scrape from `peer` with this `Authorization` header value
    /// may read the metrics. The allow-list is checked first (when there is
    /// one), then the credentials (when any are configured): a valid bearer
    /// token or valid basic credentials.
    #[cfg(test)]
    pub(crate) fn check(
        &self,
        peer: Option<IpAddr>,
        authorization: Option<&[u8]>,
    ) -> Result<(), Denied> {
        self.check_peer(peer)?;
        self.check_credentials(authorization)
    }

    /// The allow-list alone.
    pub(crate) fn check_peer(&self, peer: Option<IpAddr>) -> Result<(), Denied> {
        if !self.networks.is_empty() {
            let peer = peer.ok_or(Denied::NoPeer)?;
            // A dual-stack listener sees IPv4 clients as `::ffff:a.b.c.d`.
            let canonical = peer.to_canonical();
            if !self
                .networks
                .iter()
                .any(|network| network.contains(peer) || network.contains(canonical))
            {
                return Err(Denied::Outside(peer));
            }
        }
        Ok(())
    }

    /// The credentials alone.
    pub(crate) fn check_credentials(&self, authorization: Option<&[u8]>) -> Result<(), Denied> {
        if self.token.is_none() && self.basic.is_none() && !self.has_users() {
            return Ok(());
        }
        let (scheme, credentials) = authorization
            .and_then(split_authorization)
            .ok_or(Denied::Unauthorized)?;
        let valid = if scheme.eq_ignore_ascii_case(b"bearer") {
            self.token
                .as_deref()
                .is_some_and(|token| same(credentials, token).into())
        } else if scheme.eq_ignore_ascii_case(b"basic") {
            let decoded = decode_base64(credentials);
            let builder_user = self.basic.as_ref().is_some_and(|(username, password)| {
                let Some(decoded) = &decoded else {
                    return false;
                };
                let Some(colon) = decoded.iter().position(|&b| b == b':') else {
                    return false;
                };
                let (user, pass) = (&decoded[..colon], &decoded[colon + 1..]);
                // Both compared whatever the first gives: a wrong username
                // takes as long as a wrong password.
                (same(user, username) & same(pass, password)).into()
            });
            // Not `Builder::basic_auth`'s user: the web config's users
            // decide, a bcrypt verification (against a decoy for an unknown
            // name) whatever the name, so the time tells no name apart.
            #[cfg(feature = "tls")]
            if !builder_user && self.has_users() {
                use crate::web_config::Lookup;
                return match self.web.lookup(decoded.as_deref().unwrap_or_default()) {
                    Lookup::Accepted => Ok(()),
                    Lookup::Verify(candidate) => Err(Denied::Verify(candidate)),
                };
            }
            builder_user
        } else {
            false
        };
        if valid {
            Ok(())
        } else {
            Err(Denied::Unauthorized)
        }
    }

    /// The `WWW-Authenticate` value of a 401: one challenge per accepted
    /// scheme, in one field (RFC 9110 §11.6.1 lets a field list several).
    pub(crate) fn challenge(&self) -> String {
        let mut schemes = Vec::new();
        if self.token.is_some() {
            schemes.push(r#"Bearer realm="metrics""#);
        }
        if self.basic.is_some() || self.has_users() {
            schemes.push(r#"Basic realm="metrics""#);
        }
        schemes.join(", ")
    }

    /// The schemes that a 401's body names: "a bearer token or basic credentials".
    pub(crate) fn wanted(&self) -> &'static str {
        match (
            self.token.is_some(),
            self.basic.is_some() || self.has_users(),
        ) {
            (true, true) => "a bearer token or basic credentials",
            (true, false) => "a bearer token",
            _ => "basic credentials",
        }
    }
}

impl Access {
    /// Whether the web config has `basic_auth_users`.
    fn has_users(&self) -> bool {
        #[cfg(feature = "tls")]
        return !self.web.users.is_empty();
        #[cfg(not(feature = "tls"))]
        false
    }
}

/// A bearer token travels as is in a header: it must survive that.
fn check_token(token: &str) -> Result<(), String> {
    if token.chars().any(char::is_control) {
        return Err(
            "the token contains a control character (a line break?), which an Authorization header cannot carry"
                .to_owned(),
        );
    }
    if token.trim() != token {
        return Err(
            "the token starts or ends with whitespace, which HTTP drops from header values"
                .to_owned(),
        );
    }
    Ok(())
}

/// `Scheme credentials` of an `Authorization` header value.
fn split_authorization(value: &[u8]) -> Option<(&[u8], &[u8])> {
    let space = value.iter().position(|&b| b == b' ')?;
    let credentials = value[space + 1..].trim_ascii();
    (!credentials.is_empty()).then_some((&value[..space], credentials))
}

/// Whether `given` equals `expected`, compared in constant time (subtle):
/// the time depends on the lengths only, never on the position of the
/// first differing byte.
fn same(given: &[u8], expected: &[u8]) -> Choice {
    given.ct_eq(expected)
}

/// Standard base64 (RFC 4648 §4), padding optional, as clients send basic
/// credentials.
const BASIC_CREDENTIALS: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_padding_mode(DecodePaddingMode::Indifferent),
);

/// `user:password` of basic credentials; `None` if they are not base64.
fn decode_base64(text: &[u8]) -> Option<Vec<u8>> {
    BASIC_CREDENTIALS.decode(text).ok()
}

/// An allow-list entry: a CIDR network, or one address.
#[derive(Clone, Copy, Debug, PartialEq)]
struct Network(IpNet);

impl Network {
    /// `10.0.0.0/8`, `fd00::/8`, `192.168.1.5`, `::1`.
    fn parse(entry: &str) -> Result<Network, String> {
        let not_a_network = || {
            format!(
                "{entry:?} is not an IP address or a CIDR network such as 10.0.0.0/8 or fd00::/8"
            )
        };
        let trimmed = entry.trim();
        let network = match trimmed.split_once('/') {
            None => IpNet::from(trimmed.parse::<IpAddr>().map_err(|_| not_a_network())?),
            Some((addr, digits)) => {
                let addr: IpAddr = addr.parse().map_err(|_| not_a_network())?;
                if digits.is_empty()
                    || digits.len() > 3
                    || !digits.bytes().all(|b| b.is_ascii_digit())
                {
                    return Err(not_a_network());
                }
                let prefix: u8 = digits.parse().map_err(|_| not_a_network())?;
                IpNet::new(addr, prefix).map_err(|_| {
                    let (family, max) = if addr.is_ipv4() {
                        ("IPv4", 32)
                    } else {
                        ("IPv6", 128)
                    };
                    format!("{entry:?}: the prefix length of an {family} network is at most {max}")
                })?
            }
        };
        // `10.1.2.3/8` is most likely a typo for `/32`, or for
        // `10.0.0.0/8`: refuse it rather than guess.
        let base = network.trunc();
        if base != network {
            let (addr, prefix) = (network.addr(), network.prefix_len());
            return Err(format!(
                "{entry:?} has bits set after its /{prefix} prefix: write {base} for the network, or {addr} for the one address"
            ));
        }
        Ok(Network(network))
    }

    fn contains(&self, ip: IpAddr) -> bool {
        self.0.contains(&ip)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Secret;

    fn access(builder: Builder) -> Access {
        Access::resolve(&builder).expect("valid settings")
    }

    fn ip(text: &str) -> Option<IpAddr> {
        Some(text.parse().unwrap())
    }

    #[test]
    fn networks_parse_and_contain() {
        let net = Network::parse("10.0.0.0/8").unwrap();
        assert!(net.contains("10.255.0.1".parse().unwrap()));
        assert!(!net.contains("11.0.0.1".parse().unwrap()));
        assert!(!net.contains("::ffff:10.0.0.1".parse().unwrap()));
        let one = Network::parse("192.168.1.5").unwrap();
        assert_eq!(one.0.prefix_len(), 32);
        assert!(one.contains("192.168.1.5".parse().unwrap()));
        assert!(!one.contains("192.168.1.4".parse().unwrap()));
        let all = Network::parse("0.0.0.0/0").unwrap();
        assert!(all.contains("255.255.255.255".parse().unwrap()));
        assert!(!all.contains("::1".parse().unwrap()));
        let v6 = Network::parse("fd00::/8").unwrap();
        assert!(v6.contains("fd12:3456::1".parse().unwrap()));
        assert!(!v6.contains("fe80::1".parse().unwrap()));
        assert!(Network::parse("::1")
            .unwrap()
            .contains("::1".parse().unwrap()));
        assert!(Network::parse("::/0")
            .unwrap()
            .contains("2001:db8::1".parse().unwrap()));
        assert!(Network::parse(" 127.0.0.0/8 ").is_ok());
    }

    #[test]
    fn bad_networks_are_refused_with_the_entry_named() {
        for (entry, says) in [
            ("", "is not an IP address"),
            ("banana", "is not an IP address"),
            ("10.0.0.0/", "is not an IP address"),
            ("10.0.0.0/+8", "is not an IP address"),
            ("10.0.0.0/8/8", "is not an IP address"),
            ("10.0.0/8", "is not an IP address"),
            ("fe80::1%eth0", "is not an IP address"),
            ("10.0.0.0/33", "at most 32"),
            ("::/129", "at most 128"),
            (
                "10.1.2.3/8",
                "write 10.0.0.0/8 for the network, or 10.1.2.3 for the one address",
            ),
            ("fd00::1/8", "write fd00::/8"),
        ] {
            let reason = Network::parse(entry).unwrap_err();
            assert!(reason.contains(&format!("{entry:?}")), "{reason}");
            assert!(reason.contains(says), "{entry}: {reason}");
        }
    }

    #[test]
    fn same_compares_whole_values() {
        let same = |a: &[u8], b: &[u8]| bool::from(same(a, b));
        assert!(same(b"token", b"token"));
        assert!(!same(b"tokem", b"token"));
        assert!(!same(b"toke", b"token"));
        assert!(!same(b"token!", b"token"));
        assert!(!same(b"", b"token"));
        assert!(!same(b"tok", b"tok\0"));
        assert!(same(b"", b""));
    }

    #[test]
    fn base64_decodes_with_and_without_padding() {
        assert_eq!(
            decode_base64(b"cHJvbWV0aGV1czpzM2NyZXQ=").unwrap(),
            b"prometheus:s3cret"
        );
        assert_eq!(
            decode_base64(b"cHJvbWV0aGV1czpzM2NyZXQ").unwrap(),
            b"prometheus:s3cret"
        );
        assert_eq!(decode_base64(b"YTpi").unwrap(), b"a:b");
        assert_eq!(decode_base64(b"YTo=").unwrap(), b"a:");
        assert_eq!(decode_base64(b"YQ==").unwrap(), b"a");
        assert_eq!(decode_base64(b"+/8=").unwrap(), [0xfb, 0xff]);
        assert_eq!(decode_base64(b"").unwrap(), b"");
        assert_eq!(decode_base64(b"Y"), None);
        assert_eq!(decode_base64(b"YT!i"), None);
        assert_eq!(decode_base64(b"YT=i"), None);
    }

    #[test]
    fn nothing_configured_lets_everyone_in() {
        let open = access(Builder::new());
        assert_eq!(open.check(None, None), Ok(()));
        assert_eq!(open.check(ip("8.8.8.8"), Some(b"Bearer x")), Ok(()));
    }

    #[test]
    fn credentials_are_checked_by_scheme() {
        let both = access(
            Builder::new()
                .bearer_token(Secret::new("t0ken"))
                .basic_auth("prometheus", Secret::new("s3cret")),
        );
        assert_eq!(both.check(None, Some(b"Bearer t0ken")), Ok(()));
        assert_eq!(both.check(None, Some(b"bearer   t0ken ")), Ok(()));
        assert_eq!(
            both.check(None, Some(b"Basic cHJvbWV0aGV1czpzM2NyZXQ=")),
            Ok(())
        );
        assert_eq!(
            both.check(None, Some(b"BASIC cHJvbWV0aGV1czpzM2NyZXQ")),
            Ok(())
        );
        for wrong in [
            &b""[..],
            b"Bearer",
            b"Bearer ",
            b"Bearer t0ke",
            b"Bearer t0ken2",
            b"t0ken",
            b"Token t0ken",
            b"Basic cHJvbWV0aGV1czpzM2NyZXQ=x",
            b"Basic cHJvbWV0aGV1czpzM2NyZXQh", // prometheus:s3cret!
            b"Basic cHJvbWV0aGV1cw==",         // prometheus (no colon)
            b"Basic dDBrZW4=",                 // t0ken
            b"Bearer cHJvbWV0aGV1czpzM2NyZXQ=",
        ] {
            assert_eq!(
                both.check(None, Some(wrong)),
                Err(Denied::Unauthorized),
                "{:?}",
                String::from_utf8_lossy(wrong)
            );
        }
        assert_eq!(both.check(None, None), Err(Denied::Unauthorized));
        assert_eq!(
            both.challenge(),
            r#"Bearer realm="metrics", Basic realm="metrics""#
        );

        let bearer = access(Builder::new().bearer_token(Secret::new("t0ken")));
        assert_eq!(
            bearer.check(None, Some(b"Basic dDBrZW46dDBrZW4=")),
            Err(Denied::Unauthorized)
        );
        assert_eq!(bearer.challenge(), r#"Bearer realm="metrics""#);
        let basic = access(Builder::new().basic_auth("prometheus", Secret::new("s3cret")));
        assert_eq!(
            basic.check(None, Some(b"Bearer s3cret")),
            Err(Denied::Unauthorized)
        );
        assert_eq!(basic.challenge(), r#"Basic realm="metrics""#);
    }

    #[test]
    fn the_allow_list_comes_before_the_credentials() {
        let listed = access(
            Builder::new()
                .allow_network("10.0.0.0/8")
                .allow_network("fd00::/8")
                .bearer_token(Secret::new("t0ken")),
        );
        assert_eq!(listed.check(ip("10.1.2.3"), Some(b"Bearer t0ken")), Ok(()));
        assert_eq!(
            listed.check(ip("10.1.2.3"), None),
            Err(Denied::Unauthorized)
        );
        assert_eq!(
            listed.check(ip("::ffff:10.1.2.3"), Some(b"Bearer t0ken")),
            Ok(())
        );
        assert_eq!(listed.check(ip("fd00::5"), Some(b"Bearer t0ken")), Ok(()));
        assert_eq!(
            listed.check(ip("127.0.0.1"), Some(b"Bearer t0ken")),
            Err(Denied::Outside("127.0.0.1".parse().unwrap()))
        );
        assert_eq!(
            listed.check(None, Some(b"Bearer t0ken")),
            Err(Denied::NoPeer)
        );
    }
}
