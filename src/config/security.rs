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
    /// RFC 7628: a bearer token (KIP-255), made or fetched as [`OAuth`] says.
    OAuthBearer,
}

impl Mechanism {
    /// The name Kafka and librdkafka use.
    pub fn as_str(self) -> &'static str {
        match self {
            Mechanism::Plain => "PLAIN",
            Mechanism::ScramSha256 => "SCRAM-SHA-256",
            Mechanism::ScramSha512 => "SCRAM-SHA-512",
            Mechanism::OAuthBearer => "OAUTHBEARER",
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
    /// Where OAUTHBEARER's token comes from (`None` for the other mechanisms).
    pub oauth: Option<OAuth>,
}

/// Where an OAUTHBEARER token comes from, as librdkafka's `sasl.oauthbearer.*` say.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum OAuth {
    /// `sasl.oauthbearer.method: default`: an unsecured JWT (RFC 7515 A.5, `alg: none`) made
    /// from `sasl.oauthbearer.config`, for brokers with Kafka's unsecured validator
    /// (development and tests, as librdkafka's own builtin handler).
    Unsecured(UnsecuredJwt),
    /// `sasl.oauthbearer.method: oidc`: a client-credentials grant at a token endpoint.
    Oidc(Oidc),
    /// AWS MSK IAM (the cluster's `aws_msk_iam` key): a SigV4-presigned token.
    AwsMskIam(AwsMskIam),
    /// `sasl.oauthbearer.token.file` (lagwatch's own, fast path only): a token another
    /// process keeps fresh (a sidecar, a Kubernetes projected token), read at each
    /// (re-)authentication, so a rewritten file is used from the next one.
    File(PathBuf),
}

/// The cluster's `aws_msk_iam` settings.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AwsMskIam {
    /// The cluster's AWS region.
    pub region: String,
    /// Static keys (id, secret, session token); `None`: the standard AWS chain.
    pub keys: Option<(String, Secret, Option<Secret>)>,
}

/// The region of an MSK broker host (`b-1.name.abc.c2.kafka.us-east-1.amazonaws.com`).
pub fn msk_region_of(host: &str) -> Option<&str> {
    let rest = host.strip_suffix(".amazonaws.com")?;
    let (before, region) = rest.rsplit_once('.')?;
    before.ends_with(".kafka").then_some(region)
}

/// The fast path's settings for an MSK IAM cluster: TLS as the `client:` properties say
/// (the system's roots by default, as MSK's certificates are public), SASL OAUTHBEARER with
/// the presigned token.
pub fn msk_iam(client: &[(String, String)], iam: &AwsMskIam) -> Result<Security, NotFast> {
    let mut with_tls = client.to_vec();
    with_tls.retain(|(k, _)| k != "security.protocol" && !k.starts_with("sasl."));
    with_tls.push(("security.protocol".into(), "SSL".into()));
    let tls = from_client(&with_tls)?.tls;
    Ok(Security {
        tls,
        sasl: Some(SaslSettings {
            mechanism: Mechanism::OAuthBearer,
            username: String::new(),
            password: Secret(String::new()),
            oauth: Some(OAuth::AwsMskIam(iam.clone())),
        }),
    })
}

/// `sasl.oauthbearer.config`: `principal=... [principalClaimName=sub] [scopeClaimName=scope]
/// [scope=a,b] [lifeSeconds=3600] [extension_NAME=value]`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsecuredJwt {
    /// The claim naming the principal.
    pub principal_claim: String,
    /// The principal.
    pub principal: String,
    /// The claim holding the scopes.
    pub scope_claim: String,
    /// Scopes (none by default).
    pub scopes: Vec<String>,
    /// Token lifetime in seconds.
    pub life_seconds: u64,
    /// SASL extensions sent with the token.
    pub extensions: Vec<(String, String)>,
}

/// The OIDC client-credentials grant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Oidc {
    /// `sasl.oauthbearer.token.endpoint.url`.
    pub endpoint: String,
    /// `sasl.oauthbearer.client.id`.
    pub client_id: String,
    /// `sasl.oauthbearer.client.secret`.
    pub client_secret: Secret,
    /// `sasl.oauthbearer.scope`.
    pub scope: Option<String>,
    /// `sasl.oauthbearer.extensions` (`k=v,k=v`).
    pub extensions: Vec<(String, String)>,
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
    /// An OAUTHBEARER setting missing or malformed (librdkafka would refuse it too).
    OAuth(&'static str),
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
            NotFast::OAuth(why) => write!(f, "OAUTHBEARER: {why}"),
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
    "sasl.oauthbearer.grant.type",
    "sasl.oauthbearer.assertion.file",
    "sasl.oauthbearer.assertion.private.key.file",
    "sasl.oauthbearer.assertion.private.key.pem",
    "sasl.oauthbearer.metadata.authentication.type",
    "https.ca.location",
    "https.ca.pem",
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
            "OAUTHBEARER" => Mechanism::OAuthBearer,
            _ => return Err(NotFast::Mechanism(name.to_owned())),
        };
        let oauth = match mechanism {
            Mechanism::OAuthBearer => Some(oauth(&get)?),
            _ => None,
        };
        Some(SaslSettings {
            mechanism,
            username: get("sasl.username").unwrap_or_default().to_owned(),
            password: Secret(get("sasl.password").unwrap_or_default().to_owned()),
            oauth,
        })
    } else {
        None
    };
    Ok(Security { tls, sasl })
}

/// `k=v` pairs separated by `sep`, blanks skipped.
fn pairs(text: &str, sep: char) -> Vec<(String, String)> {
    text.split(sep)
        .filter_map(|kv| kv.trim().split_once('='))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect()
}

/// The OAUTHBEARER token source from librdkafka's properties.
fn oauth<'a>(get: &impl Fn(&str) -> Option<&'a str>) -> Result<OAuth, NotFast> {
    if let Some(file) = get("sasl.oauthbearer.token.file") {
        return Ok(OAuth::File(PathBuf::from(file)));
    }
    let method = get("sasl.oauthbearer.method").unwrap_or("default");
    if method.eq_ignore_ascii_case("oidc") {
        let need = |k: &'static str, alias: &str| {
            get(k)
                .or_else(|| get(alias))
                .map(str::to_owned)
                .ok_or(NotFast::OAuth(k))
        };
        return Ok(OAuth::Oidc(Oidc {
            endpoint: need("sasl.oauthbearer.token.endpoint.url", "")?,
            client_id: need(
                "sasl.oauthbearer.client.id",
                "sasl.oauthbearer.client.credentials.client.id",
            )?,
            client_secret: Secret(need(
                "sasl.oauthbearer.client.secret",
                "sasl.oauthbearer.client.credentials.client.secret",
            )?),
            scope: get("sasl.oauthbearer.scope").map(str::to_owned),
            extensions: pairs(get("sasl.oauthbearer.extensions").unwrap_or_default(), ','),
        }));
    }
    let config = pairs(get("sasl.oauthbearer.config").unwrap_or_default(), ' ');
    let value = |k: &str| {
        config
            .iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
    };
    let principal = value("principal").ok_or(NotFast::OAuth(
        "`sasl.oauthbearer.config` names no `principal=` for the unsecured token",
    ))?;
    let life_seconds = match value("lifeSeconds") {
        None => 3600,
        Some(v) => v.parse().map_err(|_| {
            NotFast::OAuth("`lifeSeconds` in `sasl.oauthbearer.config` is not a number")
        })?,
    };
    Ok(OAuth::Unsecured(UnsecuredJwt {
        principal_claim: value("principalClaimName").unwrap_or_else(|| "sub".into()),
        principal,
        scope_claim: value("scopeClaimName").unwrap_or_else(|| "scope".into()),
        scopes: value("scope")
            .map(|s| s.split(',').map(str::to_owned).collect())
            .unwrap_or_default(),
        life_seconds,
        extensions: config
            .iter()
            .filter_map(|(k, v)| {
                k.strip_prefix("extension_")
                    .map(|k| (k.to_owned(), v.clone()))
            })
            .collect(),
    }))
}

#[cfg(test)]
mod tests;
