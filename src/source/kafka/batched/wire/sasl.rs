//! SASL authentication of one connection (KIP-43 framing: SaslHandshake v1, then the
//! mechanism's messages in SaslAuthenticate requests), and again before the session the
//! broker granted runs out (KIP-368).

use super::conn::Conn;
use super::{error, error_name, WireError};
use crate::config::security::{Mechanism, OAuth, SaslSettings};
use bytes::Bytes;
use hmac::{Hmac, Mac};
use kafka_protocol::error::ResponseError;
use kafka_protocol::messages::{
    ApiKey, SaslAuthenticateRequest, SaslAuthenticateResponse, SaslHandshakeRequest,
    SaslHandshakeResponse,
};
use kafka_protocol::protocol::StrBytes;
use sasl::client::mechanisms::{Plain, Scram};
use sasl::client::MechanismError;
use sasl::common::scram::{DeriveError, ScramProvider, Sha256};
use sasl::common::{ChannelBinding, Password};
use std::time::{Duration, Instant};

/// Why authentication failed. Never holds the password: the broker's message names the
/// mechanism and the principal at most.
#[derive(Debug, thiserror::Error)]
pub enum SaslCause {
    /// The broker does not offer the mechanism on this listener.
    #[error("not enabled on this listener (the broker offers {})", .enabled.join(", "))]
    NotEnabled {
        /// What the broker offers.
        enabled: Vec<String>,
    },
    /// The broker refused the credentials (wrong user or password, unknown user).
    #[error("authentication failed: {}{}", error_name(*.code), .message.as_deref().map(|m| format!(": {m}")).unwrap_or_default())]
    Refused {
        /// The Kafka error (SASL_AUTHENTICATION_FAILED usually).
        code: ResponseError,
        /// The broker's words.
        message: Option<String>,
    },
    /// The exchange broke off (a server signature that does not verify, a garbled challenge).
    #[error("the exchange failed: {0}")]
    Exchange(String),
    /// No OAUTHBEARER token could be had.
    #[error("no token: {0}")]
    Token(#[from] super::oauth::TokenError),
    /// The broker answers SaslHandshake only at v0 (before Kafka 1.0), whose framing the
    /// fast path does not speak.
    #[error("the broker does not speak SaslHandshake v1")]
    NoHandshakeV1,
}

/// Session lifetimes are renewed this share of the way through, as the Java client does
/// (85 to 95 %): early enough that a slow poll does not outlive the session.
const RENEW_AT: f64 = 0.85;

/// Authenticates `conn`; returns when to authenticate again, if the broker limits the
/// session (`connections.max.reauth.ms`).
pub fn authenticate(
    conn: &mut Conn,
    settings: &SaslSettings,
    deadline: Instant,
) -> Result<Option<Instant>, WireError> {
    let mechanism = settings.mechanism.as_str();
    let fail = |conn: &Conn, cause| WireError::Sasl {
        addr: conn.addr().to_owned(),
        mechanism,
        cause,
    };
    if conn.broker_max(ApiKey::SaslHandshake).is_none_or(|v| v < 1) {
        return Err(fail(conn, SaslCause::NoHandshakeV1));
    }
    let hs: SaslHandshakeResponse = conn.request(
        ApiKey::SaslHandshake,
        1,
        &SaslHandshakeRequest::default().with_mechanism(StrBytes::from_static_str(mechanism)),
        deadline,
    )?;
    if let Some(code) = error(hs.error_code) {
        if code == ResponseError::UnsupportedSaslMechanism {
            let enabled = hs.mechanisms.iter().map(|m| m.to_string()).collect();
            return Err(fail(conn, SaslCause::NotEnabled { enabled }));
        }
        return Err(WireError::Broker {
            addr: conn.addr().to_owned(),
            code,
        });
    }
    let version = conn
        .broker_max(ApiKey::SaslAuthenticate)
        .unwrap_or(0)
        .min(2);
    if let Some(oauth) = &settings.oauth {
        return bearer(conn, oauth, version, deadline).map_err(|cause| match cause {
            Ok(cause) => fail(conn, cause),
            Err(wire) => wire,
        });
    }
    let mut client: Box<dyn sasl::client::Mechanism + Send> = match settings.mechanism {
        Mechanism::Plain => Box::new(Plain::new(
            settings.username.clone(),
            settings.password.0.clone(),
        )),
        Mechanism::ScramSha256 => Box::new(scram::<Sha256>(settings).map_err(|e| fail(conn, e))?),
        Mechanism::ScramSha512 => Box::new(scram::<Sha512>(settings).map_err(|e| fail(conn, e))?),
        // Settings read from the config always carry the token source for OAUTHBEARER.
        Mechanism::OAuthBearer => {
            return Err(fail(
                conn,
                SaslCause::Exchange("no token source configured".into()),
            ))
        }
    };
    let exchange = |e: MechanismError| SaslCause::Exchange(e.to_string());
    let mut out = client.initial();
    let mut lifetime_ms = 0;
    // PLAIN takes one round, SCRAM two; a broker asking for more is refused below.
    for round in 0..3 {
        let answer: SaslAuthenticateResponse = conn.request(
            ApiKey::SaslAuthenticate,
            version,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(out)),
            deadline,
        )?;
        if let Some(code) = error(answer.error_code) {
            let message = answer.error_message.map(|m| m.to_string());
            return Err(fail(conn, SaslCause::Refused { code, message }));
        }
        lifetime_ms = answer.session_lifetime_ms;
        let done = match settings.mechanism {
            Mechanism::Plain => true,
            _ => round == 1,
        };
        if done {
            if settings.mechanism != Mechanism::Plain {
                client
                    .success(&answer.auth_bytes)
                    .map_err(|e| fail(conn, exchange(e)))?;
            }
            break;
        }
        if round == 2 {
            return Err(fail(
                conn,
                SaslCause::Exchange(
                    "the broker asked for more rounds than the mechanism has".into(),
                ),
            ));
        }
        out = client
            .response(&answer.auth_bytes)
            .map_err(|e| fail(conn, exchange(e)))?;
    }
    Ok(renew_at(lifetime_ms, Instant::now()))
}

/// The OAUTHBEARER exchange: the token in one message; a refusal comes back as an error
/// challenge (a JSON status) that the client acknowledges with `\x01` before the broker
/// fails the request (RFC 7628 §3.2.3). `Err(Ok(cause))` is a SASL failure, `Err(Err(_))`
/// a wire one.
fn bearer(
    conn: &mut Conn,
    oauth: &OAuth,
    version: i16,
    deadline: Instant,
) -> Result<Option<Instant>, Result<SaslCause, WireError>> {
    let left = deadline.saturating_duration_since(Instant::now());
    let token = super::oauth::token(oauth, left).map_err(|e| Ok(SaslCause::Token(e)))?;
    let send = |conn: &mut Conn, bytes: Vec<u8>| {
        conn.request::<_, SaslAuthenticateResponse>(
            ApiKey::SaslAuthenticate,
            version,
            &SaslAuthenticateRequest::default().with_auth_bytes(Bytes::from(bytes)),
            deadline,
        )
    };
    let refused = |a: &SaslAuthenticateResponse, challenge: Option<&[u8]>| {
        let status = challenge
            .and_then(|c| serde_json::from_slice::<serde_json::Value>(c).ok())
            .and_then(|v| v["status"].as_str().map(str::to_owned));
        SaslCause::Refused {
            code: error(a.error_code).unwrap_or(ResponseError::SaslAuthenticationFailed),
            message: a.error_message.as_ref().map(|m| m.to_string()).or(status),
        }
    };
    let answer = send(conn, super::oauth::client_first(&token)).map_err(Err)?;
    if error(answer.error_code).is_some() {
        return Err(Ok(refused(&answer, None)));
    }
    if !answer.auth_bytes.is_empty() {
        let challenge = answer.auth_bytes.clone();
        let last = send(conn, vec![1]).map_err(Err)?;
        return Err(Ok(refused(&last, Some(&challenge))));
    }
    Ok(renew_at(answer.session_lifetime_ms, Instant::now()))
}

/// When to authenticate again for a session of `lifetime_ms` (0: no limit).
pub fn renew_at(lifetime_ms: i64, now: Instant) -> Option<Instant> {
    let ms = u64::try_from(lifetime_ms).ok().filter(|ms| *ms > 0)?;
    Some(now + Duration::from_millis(ms).mul_f64(RENEW_AT))
}

/// The SCRAM client for `settings`, its user name escaped as RFC 5802 `saslname` wants.
fn scram<S: ScramProvider>(settings: &SaslSettings) -> Result<Scram<S>, SaslCause> {
    let user = settings.username.replace('=', "=3D").replace(',', "=2C");
    Scram::<S>::new(
        user,
        Password::Plain(settings.password.0.clone()),
        ChannelBinding::None,
    )
    // The only failure is the system's random source refusing a nonce.
    .map_err(|_| SaslCause::Exchange("no random nonce from the system".into()))
}

/// SCRAM-SHA-512, which Kafka offers beside SHA-256 and the `sasl` crate does not ship.
pub struct Sha512;

/// The salted password of [`Sha512`], as the crate's provider trait wants a type for it.
pub struct Pbkdf2Sha512;

impl sasl::secret::Secret for Pbkdf2Sha512 {}

impl ScramProvider for Sha512 {
    type Secret = Pbkdf2Sha512;

    fn name() -> &'static str {
        "SHA-512"
    }

    fn hash(data: &[u8]) -> Vec<u8> {
        use sha2::Digest;
        sha2::Sha512::digest(data).to_vec()
    }

    fn hmac(data: &[u8], key: &[u8]) -> Result<Vec<u8>, hmac::digest::InvalidLength> {
        let mut mac = Hmac::<sha2::Sha512>::new_from_slice(key)?;
        mac.update(data);
        Ok(mac.finalize().into_bytes().to_vec())
    }

    fn derive(password: &Password, salt: &[u8], iterations: u32) -> Result<Vec<u8>, DeriveError> {
        match password {
            Password::Plain(p) => {
                let mut out = vec![0; 64];
                pbkdf2::pbkdf2::<Hmac<sha2::Sha512>>(p.as_bytes(), salt, iterations, &mut out)?;
                Ok(out)
            }
            // lagwatch only ever holds the plain password from the config.
            Password::Pbkdf2 { method, .. } => Err(DeriveError::IncompatibleHashingMethod(
                method.clone(),
                Self::name().to_owned(),
            )),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sessions_are_renewed_before_they_end() {
        let now = Instant::now();
        // (lifetime from the broker, renewal after, why)
        let rows: &[(i64, Option<Duration>, &str)] = &[
            (0, None, "0: the broker sets no limit"),
            (-1, None, "negative: nonsense, treated as no limit"),
            (
                10_000,
                Some(Duration::from_millis(8_500)),
                "85 % of the session",
            ),
        ];
        for (ms, want, why) in rows {
            assert_eq!(renew_at(*ms, now).map(|t| t - now), *want, "{why}");
        }
    }

    #[test]
    fn sha512_derives_as_pbkdf2_hmac_sha512() {
        // RFC 7914 §11's PBKDF2-HMAC-SHA-256 vector has no SHA-512 twin in an RFC; this is
        // the widely published PBKDF2-HMAC-SHA512("password", "salt", 1) prefix.
        let got = Sha512::derive(&Password::Plain("password".into()), b"salt", 1).expect("derive");
        let want = [0x86u8, 0x7f, 0x70, 0xcf, 0x1a, 0xde, 0x02, 0xcf];
        assert_eq!(&got[..8], &want, "first bytes of the published vector");
        assert_eq!(got.len(), 64);
    }
}
