//! exporter-toolkit's `web-config.yml`, the file node_exporter, the
//! Pushgateway and the other Prometheus exporters take with
//! `--web.config.file`: read strictly (an unknown field is an error, as Go's
//! `yaml.UnmarshalStrict` makes it), with messages that name the file and
//! the field and never quote a key or a hash.

use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use subtle::ConstantTimeEq;
use yaml_rust2::{Yaml, YamlLoader};

use crate::settings::Builder;
use crate::tls::{ClientAuth, Pem, Tls, TlsVersion};
use crate::Error;

/// The web config (and [`Builder::listen_tls`]) as checked at install:
/// what `/metrics/` answers with wherever it is served, and the listener's
/// TLS until the install takes it.
#[derive(Default)]
pub(crate) struct Resolved {
    /// `basic_auth_users`: username and bcrypt hash.
    pub(crate) users: Vec<(Vec<u8>, String)>,
    /// Verified against when the username is unknown, so that an unknown
    /// user costs what a known one does (exporter-toolkit does the same).
    decoy: String,
    /// Users and passwords verified already: a scrape every 15 s pays the
    /// bcrypt cost once, not each time. At most [`VERIFIED`] entries.
    verified: Mutex<Vec<(usize, Vec<u8>)>>,
    /// `http_server_config.headers`, added to every answer; checked when
    /// the file was read, converted here once.
    pub(crate) headers: Vec<(http::HeaderName, http::HeaderValue)>,
    limiter: Option<Mutex<Bucket>>,
    /// The listener's TLS and the setting it came from (`"listen_tls"` or
    /// `"web_config_file"`), with the web config's path for messages.
    pub(crate) tls: Option<(Tls, &'static str, Option<PathBuf>)>,
}

/// How many verified credentials are remembered.
const VERIFIED: usize = 64;

/// What the web config's users make of basic credentials.
pub(crate) enum Lookup {
    /// Verified before.
    Accepted,
    /// To be verified against its bcrypt hash.
    Verify(Candidate),
}

/// Basic credentials to verify against a user's bcrypt hash, or against
/// the decoy when the username is unknown.
pub(crate) struct Candidate {
    user: Option<usize>,
    password: Vec<u8>,
}

impl fmt::Debug for Candidate {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Candidate")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .finish()
    }
}

impl PartialEq for Candidate {
    fn eq(&self, other: &Self) -> bool {
        self.user == other.user && bool::from(self.password.ct_eq(&other.password))
    }
}

/// One bcrypt verification at a time: each takes tens of milliseconds of
/// CPU, and unauthenticated clients choose how many they ask for. The
/// permit is held by the verification itself, so a client that hangs up
/// does not free it early.
static BCRYPT: tokio::sync::Semaphore = tokio::sync::Semaphore::const_new(1);

/// The most verifications waiting or running; past it a request with
/// unverified credentials is refused at once (401) rather than queued.
const MAX_PENDING: usize = 32;

/// Verifications waiting or running.
static PENDING: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// One of [`PENDING`], given back when dropped.
struct Pending;

impl Pending {
    fn take() -> Option<Pending> {
        use std::sync::atomic::Ordering::AcqRel;
        if PENDING.fetch_add(1, AcqRel) >= MAX_PENDING {
            PENDING.fetch_sub(1, AcqRel);
            return None;
        }
        Some(Pending)
    }
}

impl Drop for Pending {
    fn drop(&mut self) {
        PENDING.fetch_sub(1, std::sync::atomic::Ordering::AcqRel);
    }
}

/// The bcrypt costs exporter-toolkit accepts (Go's `bcrypt.Cost`).
const COSTS: std::ops::RangeInclusive<u32> = 4..=31;

impl Resolved {
    /// Read the web config and check the TLS settings against the rest.
    pub(crate) fn resolve(settings: &Builder) -> Result<Resolved, Error> {
        let mut resolved = Resolved::default();
        let mut tls = settings
            .listen_tls
            .clone()
            .map(|tls| (tls, "listen_tls", None));
        if let Some(path) = &settings.web_config_file {
            let invalid = |reason| Error::InvalidSetting {
                setting: "web_config_file",
                reason,
            };
            let config = read(path).map_err(invalid)?;
            if let Some(file_tls) = config.tls {
                if tls.is_some() {
                    return Err(invalid(format!(
                        "{} sets tls_server_config and Builder::listen_tls is set too; keep one",
                        path.display()
                    )));
                }
                tls = Some((file_tls, "web_config_file", Some(path.clone())));
            }
            if let Some((builder_user, _)) = &settings.basic_auth {
                if config.users.iter().any(|(user, _)| user == builder_user) {
                    return Err(invalid(format!(
                        "{}: basic_auth_users.{builder_user}: also the username of Builder::basic_auth; keep one",
                        path.display()
                    )));
                }
            }
            // The decoy costs what the costliest user does: with one cost
            // for all (as htpasswd writes them), an unknown name takes as
            // long as a known one.
            let cost = config
                .users
                .iter()
                .filter_map(|(_, hash)| hash.parse::<bcrypt::HashParts>().ok())
                .map(|parts| parts.get_cost())
                .max();
            if let Some(cost) = cost {
                resolved.decoy = bcrypt::hash("a password nobody has", cost)
                    .map_err(|error| invalid(format!("cannot compute a bcrypt hash: {error}")))?;
            }
            resolved.users = config
                .users
                .into_iter()
                .map(|(user, hash)| (user.into_bytes(), hash))
                .collect();
            resolved.headers = config
                .headers
                .iter()
                .filter_map(|(name, value)| {
                    Some((
                        http::HeaderName::try_from(name.as_str()).ok()?,
                        http::HeaderValue::try_from(value.as_str()).ok()?,
                    ))
                })
                .collect();
            resolved.limiter = config.rate_limit.map(|(burst, interval)| {
                Mutex::new(Bucket {
                    burst,
                    interval,
                    tokens: f64::from(burst),
                    last: Instant::now(),
                })
            });
        }
        if let Some((_, setting, _)) = &tls {
            if settings.listen.is_none() {
                return Err(Error::InvalidSetting {
                    setting,
                    reason: "TLS is served by the standalone listener: set Builder::listen too (on the application's own router, TLS is its server's)".to_owned(),
                });
            }
        }
        resolved.tls = tls;
        Ok(resolved)
    }

    /// What the users make of decoded basic credentials `user:password`
    /// (anything else is verified against the decoy, and fails).
    pub(crate) fn lookup(&self, decoded: &[u8]) -> Lookup {
        let colon = decoded.iter().position(|&b| b == b':');
        let (user, password) = match colon {
            Some(colon) => (&decoded[..colon], &decoded[colon + 1..]),
            None => (&[][..], decoded),
        };
        // Every name compared, so the time does not tell which matched.
        let mut found = None;
        for (index, (name, _)) in self.users.iter().enumerate() {
            if bool::from(name.ct_eq(user)) {
                found = Some(index);
            }
        }
        if let Some(index) = found {
            let verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
            let mut hit = subtle::Choice::from(0);
            for (known, known_password) in verified.iter() {
                if *known == index {
                    hit |= known_password.ct_eq(password);
                }
            }
            if bool::from(hit) {
                return Lookup::Accepted;
            }
        }
        Lookup::Verify(Candidate {
            user: found,
            password: password.to_vec(),
        })
    }

    /// Whether the candidate's password matches its user's hash; run on
    /// tokio's blocking pool, one at a time.
    pub(crate) async fn verify(&'static self, candidate: Candidate) -> bool {
        let Some(pending) = Pending::take() else {
            return false;
        };
        let Ok(permit) = BCRYPT.acquire().await else {
            return false;
        };
        let hash = match candidate.user {
            Some(index) => self.users[index].1.clone(),
            None => self.decoy.clone(),
        };
        let password = candidate.password.clone();
        let matched = tokio::task::spawn_blocking(move || {
            let matched = bcrypt::verify(&password, &hash).unwrap_or(false);
            drop((permit, pending));
            matched
        })
        .await
        .unwrap_or(false);
        let Some(index) = candidate.user.filter(|_| matched) else {
            return false;
        };
        let mut verified = self.verified.lock().unwrap_or_else(PoisonError::into_inner);
        if verified.len() == VERIFIED {
            verified.remove(0);
        }
        verified.push((index, candidate.password));
        true
    }

    /// Whether the rate limit lets one more request through.
    pub(crate) fn allow(&self) -> bool {
        match &self.limiter {
            Some(bucket) => bucket.lock().unwrap_or_else(PoisonError::into_inner).take(),
            None => true,
        }
    }
}

/// `rate_limit` as Go's `rate.Limiter`: `burst` tokens, one more each
/// `interval`.
struct Bucket {
    burst: u32,
    interval: Duration,
    tokens: f64,
    last: Instant,
}

impl Bucket {
    fn take(&mut self) -> bool {
        let now = Instant::now();
        let earned = now.duration_since(self.last).as_secs_f64() / self.interval.as_secs_f64();
        self.tokens = (self.tokens + earned).min(f64::from(self.burst));
        self.last = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

/// What a web config sets.
#[derive(Clone, Debug, Default)]
pub(crate) struct WebConfig {
    /// `tls_server_config`, when it configures TLS at all.
    pub(crate) tls: Option<Tls>,
    /// `basic_auth_users`: each username and its bcrypt hash.
    pub(crate) users: Vec<(String, String)>,
    /// `http_server_config.headers`.
    pub(crate) headers: Vec<(String, String)>,
    /// `rate_limit`: at most `burst` requests at once, one more per
    /// `interval`.
    pub(crate) rate_limit: Option<(u32, Duration)>,
}

/// The response headers a web config may set, and the values allowed for
/// those that are enumerations (exporter-toolkit's list).
const HEADERS: [(&str, &[&str]); 5] = [
    ("Strict-Transport-Security", &[]),
    ("X-Content-Type-Options", &["nosniff"]),
    ("X-Frame-Options", &["deny", "sameorigin"]),
    ("X-XSS-Protection", &[]),
    ("Content-Security-Policy", &[]),
];

/// Read and check the web config at `path`. The error names the file and
/// the field.
pub(crate) fn read(path: &Path) -> Result<WebConfig, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("{} cannot be read: {error}", path.display()))?;
    let dir = path.parent().unwrap_or(Path::new("."));
    parse(&text, dir).map_err(|reason| format!("{}: {reason}", path.display()))
}

/// A web config's text; relative file names are taken from `dir`, the
/// file's directory, as exporter-toolkit does.
pub(crate) fn parse(text: &str, dir: &Path) -> Result<WebConfig, String> {
    // The scanner's message has a position, never the text around it.
    let documents =
        YamlLoader::load_from_str(text).map_err(|error| format!("not YAML: {error}"))?;
    let mut config = WebConfig::default();
    let root = match documents.as_slice() {
        [] | [Yaml::Null] => return Ok(config),
        [root] => root,
        _ => return Err("more than one YAML document".to_owned()),
    };
    for (key, value) in mapping(root, "the file")? {
        match key {
            "tls_server_config" => config.tls = tls_server_config(value, dir)?,
            "http_server_config" => config.headers = http_server_config(value)?,
            "basic_auth_users" => config.users = basic_auth_users(value)?,
            "rate_limit" => config.rate_limit = rate_limit(value)?,
            _ => {
                return Err(unknown(
                    key,
                    "",
                    &[
                        "tls_server_config",
                        "http_server_config",
                        "basic_auth_users",
                        "rate_limit",
                    ],
                ))
            }
        }
    }
    Ok(config)
}

fn tls_server_config(value: &Yaml, dir: &Path) -> Result<Option<Tls>, String> {
    const SECTION: &str = "tls_server_config";
    let mut fields = TlsFields::default();
    for (key, value) in mapping(value, SECTION)? {
        let field = format!("{SECTION}.{key}");
        match key {
            "cert_file" => fields.cert_file = path(value, &field, dir)?,
            "key_file" => fields.key_file = path(value, &field, dir)?,
            "client_ca_file" => fields.client_ca_file = path(value, &field, dir)?,
            "cert" => fields.cert = text(value, &field)?,
            "key" => fields.key = text(value, &field)?,
            "client_ca" => fields.client_ca = text(value, &field)?,
            "client_auth_type" => {
                fields.client_auth = match text(value, &field)? {
                    None => None,
                    Some(name) => Some(
                        ClientAuth::parse(&name).map_err(|reason| format!("{field}: {reason}"))?,
                    ),
                }
            }
            "min_version" => fields.min_version = version(value, &field, true)?,
            "max_version" => fields.max_version = version(value, &field, false)?,
            "cipher_suites" => fields.cipher_suites = list(value, &field)?,
            "curve_preferences" => fields.curves = list(value, &field)?,
            "prefer_server_cipher_suites" => {
                fields.prefer_server_cipher_suites = Some(boolean(value, &field)?)
            }
            "client_allowed_sans" => {
                if !list(value, &field)?.is_empty() {
                    return Err(format!(
                        "{field} is not supported here; check client certificates with client_ca_file and RequireAndVerifyClientCert"
                    ));
                }
            }
            _ => {
                return Err(unknown(
                    key,
                    SECTION,
                    &[
                        "cert_file",
                        "key_file",
                        "cert",
                        "key",
                        "client_ca_file",
                        "client_ca",
                        "client_auth_type",
                        "min_version",
                        "max_version",
                        "cipher_suites",
                        "curve_preferences",
                        "prefer_server_cipher_suites",
                        "client_allowed_sans",
                    ],
                ))
            }
        }
    }
    fields.into_tls()
}

/// The fields of `tls_server_config` as read.
#[derive(Default)]
struct TlsFields {
    cert_file: Option<PathBuf>,
    key_file: Option<PathBuf>,
    client_ca_file: Option<PathBuf>,
    cert: Option<String>,
    key: Option<String>,
    client_ca: Option<String>,
    client_auth: Option<ClientAuth>,
    min_version: Option<TlsVersion>,
    max_version: Option<TlsVersion>,
    cipher_suites: Vec<String>,
    curves: Vec<String>,
    prefer_server_cipher_suites: Option<bool>,
}

impl TlsFields {
    /// TLS when any of the fields that enable it is set (exporter-toolkit's
    /// `IsEnabled`), complete or an error.
    fn into_tls(self) -> Result<Option<Tls>, String> {
        const SECTION: &str = "tls_server_config";
        let enabled = self.cert_file.is_some()
            || self.cert.is_some()
            || self.key_file.is_some()
            || self.key.is_some()
            || self.client_ca_file.is_some()
            || self.client_ca.is_some()
            || self.client_auth.is_some();
        if !enabled {
            return Ok(None);
        }
        let one_of = |file: Option<PathBuf>, text: Option<String>, names: &str| match (file, text) {
            (Some(file), _) => Ok(Pem::File(file)),
            (None, Some(text)) => Ok(Pem::Text(text)),
            (None, None) => Err(format!("{SECTION}: missing one of {names}")),
        };
        let cert = one_of(self.cert_file, self.cert, "cert or cert_file")?;
        let key = one_of(self.key_file, self.key, "key or key_file")?;
        let client_ca = match (self.client_ca_file, self.client_ca) {
            (None, None) => None,
            (file, text) => Some(one_of(file, text, "client_ca or client_ca_file")?),
        };
        let mut tls = Tls::new(PathBuf::new(), PathBuf::new());
        tls.cert = cert;
        tls.key = key;
        tls.client_ca = client_ca;
        // exporter-toolkit's default is NoClientCert, a client CA or not
        // (and a client CA with it is then an error).
        tls.client_auth = Some(self.client_auth.unwrap_or(ClientAuth::NoClientCert));
        tls.min_version = self.min_version.unwrap_or(TlsVersion::Tls12);
        tls.max_version = self.max_version.unwrap_or(TlsVersion::Tls13);
        tls.cipher_suites = self.cipher_suites;
        tls.curves = self.curves;
        tls.prefer_server_cipher_suites = self.prefer_server_cipher_suites.unwrap_or(true);
        Ok(Some(tls))
    }
}

fn http_server_config(value: &Yaml) -> Result<Vec<(String, String)>, String> {
    const SECTION: &str = "http_server_config";
    let mut headers = Vec::new();
    for (key, value) in mapping(value, SECTION)? {
        let field = format!("{SECTION}.{key}");
        match key {
            // HTTP/2 is allowed by default and never offered here: the
            // listener speaks HTTP/1.1, which every scraper does.
            "http2" => {
                boolean(value, &field)?;
            }
            "headers" => {
                for (name, value) in mapping(value, &field)? {
                    let value = text(value, &format!("{field}.{name}"))?.unwrap_or_default();
                    let Some((_, allowed)) = HEADERS.iter().find(|(known, _)| *known == name)
                    else {
                        let names: Vec<_> = HEADERS.iter().map(|(known, _)| *known).collect();
                        return Err(format!(
                            "{field}: the header {name:?} cannot be configured; these can: {}",
                            names.join(", ")
                        ));
                    };
                    if !allowed.is_empty() && !allowed.contains(&value.as_str()) {
                        return Err(format!(
                            "{field}.{name}: {value:?} is not one of {}",
                            allowed.join(", ")
                        ));
                    }
                    if http::HeaderValue::from_str(&value).is_err() {
                        return Err(format!(
                            "{field}.{name}: the value cannot stand in an HTTP header"
                        ));
                    }
                    headers.push((name.to_owned(), value));
                }
            }
            _ => return Err(unknown(key, SECTION, &["http2", "headers"])),
        }
    }
    Ok(headers)
}

fn basic_auth_users(value: &Yaml) -> Result<Vec<(String, String)>, String> {
    const SECTION: &str = "basic_auth_users";
    let mut users = Vec::new();
    for (username, hash) in mapping(value, SECTION)? {
        let field = format!("{SECTION}.{username}");
        if username.contains(':') {
            return Err(format!(
                "{field}: the username contains ':', which separates it from the password in basic credentials"
            ));
        }
        let hash =
            text(hash, &field)?.ok_or_else(|| format!("{field}: the bcrypt hash is missing"))?;
        // Checked the way exporter-toolkit checks it (`bcrypt.Cost`): the
        // hash must parse; its value is never shown.
        let parts = hash.parse::<bcrypt::HashParts>();
        if parts.is_err() {
            return Err(format!(
                "{field}: not a bcrypt hash (`$2y$<cost>$<53 characters>`, as `htpasswd -nbBC 10 \"\" \"$PASSWORD\" | tr -d ':\\n'` prints)"
            ));
        }
        if let Ok(cost) = parts.map(|parts| parts.get_cost()) {
            if !COSTS.contains(&cost) {
                return Err(format!(
                    "{field}: the bcrypt cost {cost} is outside {}..={}",
                    COSTS.start(),
                    COSTS.end()
                ));
            }
        }
        users.push((username.to_owned(), hash));
    }
    Ok(users)
}

fn rate_limit(value: &Yaml) -> Result<Option<(u32, Duration)>, String> {
    const SECTION: &str = "rate_limit";
    let mut burst = 0;
    let mut interval = Duration::ZERO;
    for (key, value) in mapping(value, SECTION)? {
        let field = format!("{SECTION}.{key}");
        match key {
            "burst" => {
                burst = match value {
                    Yaml::Integer(n) => u32::try_from(*n)
                        .map_err(|_| format!("{field}: {n} is not a count of requests"))?,
                    _ => return Err(format!("{field}: expected a whole number")),
                }
            }
            "interval" => {
                interval = match value {
                    // A bare number is nanoseconds, as Go's YAML reads a
                    // `time.Duration`.
                    Yaml::Integer(nanos) => Duration::from_nanos(
                        u64::try_from(*nanos)
                            .map_err(|_| format!("{field}: {nanos} is negative"))?,
                    ),
                    _ => {
                        let text = text(value, &field)?.unwrap_or_default();
                        go_duration(&text).map_err(|reason| format!("{field}: {reason}"))?
                    }
                }
            }
            _ => return Err(unknown(key, SECTION, &["burst", "interval"])),
        }
    }
    // As in exporter-toolkit: no interval, no limit.
    if interval.is_zero() {
        return Ok(None);
    }
    Ok(Some((burst, interval)))
}

/// A duration as Go's `time.ParseDuration` reads it (`"1s"`, `"1m30s"`,
/// `"250ms"`, `"1.5h"`), which is how exporter-toolkit's YAML takes one.
fn go_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as \"1s\", \"250ms\" or \"1m30s\"");
    if text == "0" {
        return Ok(Duration::ZERO);
    }
    let mut rest = text;
    let mut total = 0.0;
    if rest.is_empty() {
        return Err(invalid());
    }
    while !rest.is_empty() {
        let number_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(invalid)?;
        let number: f64 = rest[..number_end].parse().map_err(|_| invalid())?;
        rest = &rest[number_end..];
        let unit_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let seconds = match &rest[..unit_end] {
            "ns" => 1e-9,
            "us" | "µs" | "μs" => 1e-6,
            "ms" => 1e-3,
            "s" => 1.0,
            "m" => 60.0,
            "h" => 3600.0,
            _ => return Err(invalid()),
        };
        total += number * seconds;
        rest = &rest[unit_end..];
    }
    Duration::try_from_secs_f64(total).map_err(|_| invalid())
}

/// The entries of a mapping with string keys; `null` is an empty mapping.
fn mapping<'a>(value: &'a Yaml, field: &str) -> Result<Vec<(&'a str, &'a Yaml)>, String> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Hash(hash) => hash
            .iter()
            .map(|(key, value)| match key {
                Yaml::String(key) => Ok((key.as_str(), value)),
                _ => Err(format!("{field}: every key must be a string")),
            })
            .collect(),
        _ => Err(format!("{field}: expected a mapping")),
    }
}

/// A string field; `null` or `""` is unset, as in Go.
fn text(value: &Yaml, field: &str) -> Result<Option<String>, String> {
    match value {
        Yaml::Null => Ok(None),
        Yaml::String(text) if text.is_empty() => Ok(None),
        Yaml::String(text) => Ok(Some(text.clone())),
        _ => Err(format!("{field}: expected a string")),
    }
}

fn path(value: &Yaml, field: &str, dir: &Path) -> Result<Option<PathBuf>, String> {
    Ok(text(value, field)?.map(|name| dir.join(name)))
}

fn boolean(value: &Yaml, field: &str) -> Result<bool, String> {
    match value {
        Yaml::Boolean(value) => Ok(*value),
        _ => Err(format!("{field}: expected true or false")),
    }
}

fn list(value: &Yaml, field: &str) -> Result<Vec<String>, String> {
    match value {
        Yaml::Null => Ok(Vec::new()),
        Yaml::Array(items) => items
            .iter()
            .map(|item| text(item, field)?.ok_or_else(|| format!("{field}: an empty entry")))
            .collect(),
        _ => Err(format!("{field}: expected a list")),
    }
}

/// A TLS version by exporter-toolkit's name. rustls has nothing older than
/// TLS 1.2: as a minimum, `TLS10` and `TLS11` are met by 1.2; as a maximum
/// they cannot be.
fn version(value: &Yaml, field: &str, minimum: bool) -> Result<Option<TlsVersion>, String> {
    let Some(name) = text(value, field)? else {
        return Ok(None);
    };
    match name.as_str() {
        "TLS13" => Ok(Some(TlsVersion::Tls13)),
        "TLS12" => Ok(Some(TlsVersion::Tls12)),
        "TLS11" | "TLS10" if minimum => Ok(Some(TlsVersion::Tls12)),
        "TLS11" | "TLS10" => Err(format!(
            "{field}: {name} is older than rustls speaks (TLS 1.2 and 1.3)"
        )),
        _ => Err(format!(
            "{field}: {name:?} is not one of TLS10, TLS11, TLS12, TLS13"
        )),
    }
}

fn unknown(key: &str, section: &str, known: &[&str]) -> String {
    let at = if section.is_empty() {
        String::new()
    } else {
        format!(" in {section}")
    };
    format!(
        "unknown field {key:?}{at}; the fields are {}",
        known.join(", ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<WebConfig, String> {
        super::parse(text, Path::new("/etc/metrics"))
    }

    #[test]
    fn an_empty_file_configures_nothing() {
        let config = parse("").unwrap();
        assert!(config.tls.is_none() && config.users.is_empty() && config.headers.is_empty());
        assert!(parse("# only a comment\n").unwrap().tls.is_none());
    }

    #[test]
    fn tls_fields_are_read_and_paths_taken_from_the_files_directory() {
        let config = parse(
            "tls_server_config:\n  cert_file: tls.crt\n  key_file: /abs/tls.key\n  client_ca_file: ca.crt\n  client_auth_type: RequireAndVerifyClientCert\n  min_version: TLS13\n",
        )
        .unwrap();
        let tls = config.tls.unwrap();
        assert!(matches!(&tls.cert, Pem::File(p) if p == Path::new("/etc/metrics/tls.crt")));
        assert!(matches!(&tls.key, Pem::File(p) if p == Path::new("/abs/tls.key")));
        assert!(
            matches!(&tls.client_ca, Some(Pem::File(p)) if p == Path::new("/etc/metrics/ca.crt"))
        );
        assert_eq!(
            tls.client_auth,
            Some(ClientAuth::RequireAndVerifyClientCert)
        );
        assert_eq!(tls.min_version, TlsVersion::Tls13);
        assert_eq!(tls.max_version, TlsVersion::Tls13);
    }

    #[test]
    fn users_headers_and_rate_limit() {
        let hash = "$2y$04$Rc/2hG0S7D0nfn0AhSHDbO0WCvsFZ8sJMQl1b09xVsPCF4YYiBtKm";
        let config = parse(&format!(
            "basic_auth_users:\n  prometheus: {hash}\nhttp_server_config:\n  http2: false\n  headers:\n    X-Frame-Options: deny\nrate_limit:\n  burst: 10\n  interval: 1m30s\n"
        ))
        .unwrap();
        assert_eq!(
            config.users,
            vec![("prometheus".to_owned(), hash.to_owned())]
        );
        assert_eq!(
            config.headers,
            vec![("X-Frame-Options".to_owned(), "deny".to_owned())]
        );
        assert_eq!(config.rate_limit, Some((10, Duration::from_secs(90))));
    }

    #[test]
    fn bad_input_names_the_field_and_never_the_secret() {
        let error = |text: &str| parse(text).unwrap_err();
        assert_eq!(
            error("tls_server_config:\n  cert_file: a\n  key_fle: b\n"),
            "unknown field \"key_fle\" in tls_server_config; the fields are cert_file, key_file, cert, key, client_ca_file, client_ca, client_auth_type, min_version, max_version, cipher_suites, curve_preferences, prefer_server_cipher_suites, client_allowed_sans"
        );
        assert_eq!(
            error("tls_server_config:\n  cert_file: a\n"),
            "tls_server_config: missing one of key or key_file"
        );
        assert_eq!(
            error("tls_server_config:\n  cert_file: a\n  key_file: b\n  client_auth_type: Always\n"),
            "tls_server_config.client_auth_type: \"Always\" is not one of NoClientCert, RequestClientCert, RequireAnyClientCert, VerifyClientCertIfGiven, RequireAndVerifyClientCert"
        );
        assert_eq!(
            error("tls_server_config:\n  cert_file: a\n  key_file: b\n  max_version: TLS11\n"),
            "tls_server_config.max_version: TLS11 is older than rustls speaks (TLS 1.2 and 1.3)"
        );
        let secret_hash = "$2y$10$notReallyAHashButSecretLooking";
        let message = error(&format!("basic_auth_users:\n  alice: \"{secret_hash}\"\n"));
        assert!(
            message.starts_with("basic_auth_users.alice: not a bcrypt hash"),
            "{message}"
        );
        assert!(!message.contains("notReally"), "{message}");
        assert_eq!(
            error("http_server_config:\n  headers:\n    X-Frame-Options: allow\n"),
            "http_server_config.headers.X-Frame-Options: \"allow\" is not one of deny, sameorigin"
        );
        assert!(error("http_server_config:\n  headers:\n    Server: x\n")
            .starts_with("http_server_config.headers: the header \"Server\" cannot be configured"));
        assert_eq!(
            error("rate_limit:\n  interval: soon\n"),
            "rate_limit.interval: \"soon\" is not a duration such as \"1s\", \"250ms\" or \"1m30s\""
        );
        assert_eq!(
            error("tls_config:\n  cert_file: a\n"),
            "unknown field \"tls_config\"; the fields are tls_server_config, http_server_config, basic_auth_users, rate_limit"
        );
        let key = "-----BEGIN PRIVATE KEY-----\\nc2VjcmV0\\n";
        let message = error(&format!("tls_server_config:\n  key: \"{key}\n  cert: [\n"));
        assert!(message.starts_with("not YAML: "), "{message}");
        assert!(!message.contains("c2VjcmV0"), "{message}");
    }

    #[test]
    fn bcrypt_costs_outside_go_s_range_and_bare_nanoseconds() {
        let hash = |cost: &str| {
            format!("$2y${cost}$Rc/2hG0S7D0nfn0AhSHDbO0WCvsFZ8sJMQl1b09xVsPCF4YYiBtKm")
        };
        assert_eq!(
            parse(&format!("basic_auth_users:\n  a: \"{}\"\n", hash("03"))).unwrap_err(),
            "basic_auth_users.a: the bcrypt cost 3 is outside 4..=31"
        );
        assert!(parse(&format!("basic_auth_users:\n  a: \"{}\"\n", hash("31"))).is_ok());
        let config = parse("rate_limit:\n  burst: 1\n  interval: 1500000000\n").unwrap();
        assert_eq!(config.rate_limit, Some((1, Duration::from_millis(1500))));
    }

    #[test]
    fn durations_as_go_reads_them() {
        assert_eq!(go_duration("1s"), Ok(Duration::from_secs(1)));
        assert_eq!(go_duration("250ms"), Ok(Duration::from_millis(250)));
        assert_eq!(go_duration("1h2m3s"), Ok(Duration::from_secs(3723)));
        assert_eq!(go_duration("1.5m"), Ok(Duration::from_secs(90)));
        assert!(go_duration("5").is_err());
        assert!(go_duration("-1s").is_err());
    }
}
