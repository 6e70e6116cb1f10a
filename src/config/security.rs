//! What the fast path makes of a cluster's `client:` properties: the same librdkafka keys
//! users already write (`security.protocol`, `ssl.*`, `sasl.*`), read into TLS and SASL
//! settings, or the reason only librdkafka can serve them. Pure: no file is read here.

use std::fmt;
use std::path::PathBuf;

/// How a cluster is to be read, from its `kafka_client` key.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum KafkaClient {
    /// The fast path where it can serve the cluster's security settings, else librdkafka.
    #[default]
    Auto,
    /// The fast path; a setting it cannot serve is a config error.
    Fast,
    /// librdkafka only (one request per group).
    Librdkafka,
}

impl KafkaClient {
    /// The config spelling.
    pub fn parse(s: &str) -> Option<KafkaClient> {
        match s {
            "auto" => Some(KafkaClient::Auto),
            "fast" => Some(KafkaClient::Fast),
            "librdkafka" => Some(KafkaClient::Librdkafka),
            _ => None,
        }
    }
}

/// A value that must never be printed: a password or an inline private key.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(pub String);

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("<redacted>")
    }
}

/// PEM data named by a `*.location` (a file, or for CAs a directory) or given inline in a
/// `*.pem` property.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Pem {
    /// A file or directory to read at connect time, so a rotated file is picked up.
    Location(PathBuf),
    /// The PEM text itself (a private key's is a secret).
    Inline(Secret),
}

/// TLS settings (`security.protocol` SSL or SASL_SSL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsSettings {
    /// CA certificates to trust; the system's roots when `None`.
    pub ca: Option<Pem>,
    /// Client certificate chain, for brokers that require client authentication.
    pub certificate: Option<Pem>,
    /// The client certificate's private key.
    pub key: Option<Pem>,
    /// Whether the broker's certificate must name the host connected to
    /// (`ssl.endpoint.identification.algorithm`: `https`, librdkafka's default, or `none`).
    pub verify_hostname: bool,
}

/// The SASL mechanisms the fast path speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mechanism {
    /// RFC 4616: user and password in one message (only over TLS in production).
    Plain,
    /// RFC 7677.
    ScramSha256,
    /// RFC 5802 with SHA-512, as Kafka defines it.
    ScramSha512,
}

impl Mechanism {
    /// The name Kafka and librdkafka use.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
        }
    }
}

/// SASL settings (`security.protocol` SASL_PLAINTEXT or SASL_SSL).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SaslSettings {
    /// The mechanism.
    pub mechanism: Mechanism,
    /// `sasl.username`.
    pub username: String,
    /// `sasl.password`.
    pub password: Secret,
}

/// How the fast path connects to the cluster's brokers.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Security {
    /// TLS, when the protocol is SSL or SASL_SSL.
    pub tls: Option<TlsSettings>,
    /// SASL, when the protocol is SASL_PLAINTEXT or SASL_SSL.
    pub sasl: Option<SaslSettings>,
}

impl Security {
    /// `security.protocol` as librdkafka spells it, for messages and labels.
    pub fn protocol(&self) -> &'static str {
        match (&self.tls, &self.sasl) {
            (None, None) => "PLAINTEXT",
            (Some(_), None) => "SSL",
            (None, Some(_)) => "SASL_PLAINTEXT",
            (Some(_), Some(_)) => "SASL_SSL",
        }
    }

    /// The SASL mechanism, if any, for messages.
    pub fn mechanism(&self) -> Option<Mechanism> {
        self.sasl.as_ref().map(|s| s.mechanism)
    }
}

/// Why a cluster is read through librdkafka rather than the fast path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NotFast {
    /// `kafka_client: librdkafka` (or `batched_offsets: false`).
    Configured,
    /// A `security.protocol` value the fast path does not know.
    Protocol(String),
    /// A SASL mechanism the fast path does not speak (GSSAPI, OAUTHBEARER, ...).
    Mechanism(String),
    /// A property set that only librdkafka reads (a PKCS#12 keystore, an encrypted key, a
    /// CRL, cipher lists, ...): the fast path would silently ignore it.
    Property(&'static str),
    /// `enable.ssl.certificate.verification: false`: the fast path always verifies.
    NoVerification,
}

impl fmt::Display for NotFast {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NotFast::Configured => f.write_str("the config says kafka_client: librdkafka"),
            NotFast::Protocol(p) => write!(f, "security.protocol `{p}` is not one it speaks"),
            NotFast::Mechanism(m) => write!(
                f,
                "SASL mechanism `{m}` is not one it speaks (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)"
            ),
            NotFast::Property(k) => write!(f, "`{k}` is set, and only librdkafka reads it"),
            NotFast::NoVerification => f.write_str(
                "`enable.ssl.certificate.verification` is false, and it always verifies",
            ),
        }
    }
}

/// Properties that change how a connection is made and that the fast path does not
/// implement: with one of them set, only librdkafka honours the config as written.
const LIBRDKAFKA_ONLY: &[&str] = &[
    "ssl.keystore.location",
    "ssl.keystore.password",
    "ssl.key.password",
    "ssl.crl.location",
    "ssl.cipher.suites",
    "ssl.curves.list",
    "ssl.sigalgs.list",
    "ssl.engine.location",
    "ssl.engine.id",
    "ssl.providers",
    "ssl.ca.certificate.stores",
    "ssl.certificate.verify_cb",
    "sasl.kerberos.service.name",
    "sasl.kerberos.principal",
    "sasl.kerberos.kinit.cmd",
    "sasl.kerberos.keytab",
    "sasl.oauthbearer.config",
    "sasl.oauthbearer.method",
    "sasl.oauthbearer.token.endpoint.url",
];

/// Reads the security settings from `client:` properties (librdkafka's names and
/// defaults), or says why only librdkafka can serve them.
pub fn from_client(client: &[(String, String)]) -> Result<Security, NotFast> {
    let get = |key: &str| {
        client
            .iter()
            .rev()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    };
    let protocol = get("security.protocol").unwrap_or("plaintext");
    let (tls, sasl) = match protocol.to_ascii_lowercase().as_str() {
        "plaintext" => (false, false),
        "ssl" => (true, false),
        "sasl_plaintext" => (false, true),
        "sasl_ssl" => (true, true),
        _ => return Err(NotFast::Protocol(protocol.to_owned())),
    };
    if let Some(k) = LIBRDKAFKA_ONLY.iter().find(|k| get(k).is_some()) {
        // A key only matters when its side of the connection is in use.
        let relevant = if k.starts_with("ssl.") { tls } else { sasl };
        if relevant {
            return Err(NotFast::Property(k));
        }
    }
    let tls = if tls {
        if get("enable.ssl.certificate.verification")
            .is_some_and(|v| v.eq_ignore_ascii_case("false"))
        {
            return Err(NotFast::NoVerification);
        }
        let pem = |location: &str, inline: &str| {
            get(inline)
                .map(|v| Pem::Inline(Secret(v.to_owned())))
                .or_else(|| get(location).map(|v| Pem::Location(PathBuf::from(v))))
        };
        // librdkafka's `probe` asks it to look in the usual system places: the system roots.
        let ca = pem("ssl.ca.location", "ssl.ca.pem")
            .filter(|p| !matches!(p, Pem::Location(l) if l.as_os_str() == "probe"));
        Some(TlsSettings {
            ca,
            certificate: pem("ssl.certificate.location", "ssl.certificate.pem"),
            key: pem("ssl.key.location", "ssl.key.pem"),
            verify_hostname: !get("ssl.endpoint.identification.algorithm")
                .is_some_and(|v| v.eq_ignore_ascii_case("none")),
        })
    } else {
        None
    };
    let sasl = if sasl {
        // librdkafka's default mechanism is GSSAPI.
        let name = get("sasl.mechanisms")
            .or_else(|| get("sasl.mechanism"))
            .unwrap_or("GSSAPI");
        let mechanism = match name.to_ascii_uppercase().as_str() {
            "PLAIN" => Mechanism::Plain,
            "SCRAM-SHA-256" => Mechanism::ScramSha256,
            "SCRAM-SHA-512" => Mechanism::ScramSha512,
            _ => return Err(NotFast::Mechanism(name.to_owned())),
        };
        Some(SaslSettings {
            mechanism,
            username: get("sasl.username").unwrap_or_default().to_owned(),
            password: Secret(get("sasl.password").unwrap_or_default().to_owned()),
        })
    } else {
        None
    };
    Ok(Security { tls, sasl })
}

#[cfg(test)]
mod tests;
