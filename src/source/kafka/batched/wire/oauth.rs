//! OAUTHBEARER tokens (KIP-255, RFC 7628): an unsecured JWT made here, or one fetched from
//! an OIDC token endpoint with the client-credentials grant and kept until 80 % of its
//! lifetime (as librdkafka refreshes), shared by every connection that uses the same client.

use crate::config::security::{OAuth, Oidc, UnsecuredJwt};
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use base64::Engine;
use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// Share of a fetched token's lifetime after which a new one is fetched.
const REFRESH_AT: f64 = 0.8;

/// Why no token could be had. Never holds the client secret or a token.
#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    /// The token endpoint could not be reached or did not answer in time.
    #[error("token endpoint {endpoint}: {why}")]
    Unreachable {
        /// The endpoint URL.
        endpoint: String,
        /// reqwest's words (its URL is the endpoint, which holds no secret).
        why: String,
    },
    /// The endpoint refused the client (HTTP status and its `error` field, if any).
    #[error("token endpoint {endpoint} answered HTTP {status}{}", .error.as_deref().map(|e| format!(" ({e})")).unwrap_or_default())]
    Refused {
        /// The endpoint URL.
        endpoint: String,
        /// The HTTP status.
        status: u16,
        /// The OAuth `error` code of the answer.
        error: Option<String>,
    },
    /// The AWS credential chain gave no credentials (MSK IAM).
    #[error("AWS credentials: {0}")]
    Credentials(String),
    /// The MSK IAM token could not be signed.
    #[error("signing the MSK IAM token: {0}")]
    Signing(String),
    /// The token file could not be read, or holds no token.
    #[error("token file {path}: {why}")]
    File {
        /// The file.
        path: String,
        /// Why (an I/O error, or empty).
        why: String,
    },
    /// The answer has no `access_token`.
    #[error("token endpoint {endpoint} answered without an access_token")]
    NoToken {
        /// The endpoint URL.
        endpoint: String,
    },
}

/// A token and the extensions to send with it.
pub struct Token {
    /// The bearer token.
    pub value: String,
    /// SASL extensions (`k=v`).
    pub extensions: Vec<(String, String)>,
}

fn unix_now() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
}

/// An unsecured JWT (`alg: none`, empty signature) for `cfg`, issued at `now` (Unix seconds).
pub fn unsecured_jwt(cfg: &UnsecuredJwt, now: u64) -> String {
    let mut claims = serde_json::Map::new();
    claims.insert(cfg.principal_claim.clone(), cfg.principal.clone().into());
    claims.insert("iat".into(), now.into());
    claims.insert("exp".into(), (now + cfg.life_seconds).into());
    if !cfg.scopes.is_empty() {
        claims.insert(cfg.scope_claim.clone(), cfg.scopes.clone().into());
    }
    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"none"}"#);
    let body = URL_SAFE_NO_PAD.encode(serde_json::Value::Object(claims).to_string());
    format!("{header}.{body}.")
}

/// The client's first (and only) OAUTHBEARER message: the GS2 header, the bearer token and
/// the extensions, each `\x01`-separated (RFC 7628 §3.1).
pub fn client_first(token: &Token) -> Vec<u8> {
    let mut m = format!("n,,\u{1}auth=Bearer {}\u{1}", token.value);
    for (k, v) in &token.extensions {
        m.push_str(&format!("{k}={v}\u{1}"));
    }
    m.push('\u{1}');
    m.into_bytes()
}

/// The token to authenticate with now.
pub fn token(oauth: &OAuth, timeout: Duration) -> Result<Token, TokenError> {
    match oauth {
        OAuth::Unsecured(cfg) => Ok(Token {
            value: unsecured_jwt(cfg, unix_now()),
            extensions: cfg.extensions.clone(),
        }),
        OAuth::Oidc(cfg) => Ok(Token {
            value: oidc_token(cfg, timeout)?,
            extensions: cfg.extensions.clone(),
        }),
        OAuth::File(path) => {
            let file = |why: String| TokenError::File {
                path: path.display().to_string(),
                why,
            };
            let text = std::fs::read_to_string(path).map_err(|e| file(e.to_string()))?;
            let value = text.trim();
            if value.is_empty() {
                return Err(file("empty".into()));
            }
            Ok(Token {
                value: value.to_owned(),
                extensions: Vec::new(),
            })
        }
        OAuth::AwsMskIam(iam) => {
            let region = iam.region.as_str();
            let creds = super::msk::credentials(iam, timeout)?;
            let ua = concat!("lagwatch/", env!("CARGO_PKG_VERSION"));
            let value = super::msk::token(&creds, region, SystemTime::now(), ua)
                .map_err(TokenError::Signing)?;
            Ok(Token {
                value,
                extensions: Vec::new(),
            })
        }
    }
}

/// Fetched tokens by client (endpoint, client id, scope): one fetch serves every
/// connection of every cluster using that client until it is due for refresh.
fn cache() -> &'static Mutex<HashMap<String, (String, Instant)>> {
    static CACHE: OnceLock<Mutex<HashMap<String, (String, Instant)>>> = OnceLock::new();
    CACHE.get_or_init(Mutex::default)
}

fn oidc_token(cfg: &Oidc, timeout: Duration) -> Result<String, TokenError> {
    let key = format!(
        "{}\n{}\n{}",
        cfg.endpoint,
        cfg.client_id,
        cfg.scope.as_deref().unwrap_or_default()
    );
    let now = Instant::now();
    {
        let cached = cache().lock().unwrap_or_else(|p| p.into_inner());
        if let Some((t, _)) = cached.get(&key).filter(|(_, at)| now < *at) {
            return Ok(t.clone());
        }
    }
    let (value, lifetime) = fetch(cfg, timeout)?;
    let refresh_at = now + lifetime.mul_f64(REFRESH_AT);
    cache()
        .lock()
        .unwrap_or_else(|p| p.into_inner())
        .insert(key, (value.clone(), refresh_at));
    Ok(value)
}

/// One client-credentials grant; the token and its lifetime (`expires_in`, else an hour).
fn fetch(cfg: &Oidc, timeout: Duration) -> Result<(String, Duration), TokenError> {
    let endpoint = cfg.endpoint.clone();
    let unreachable = |e: reqwest::Error| TokenError::Unreachable {
        endpoint: endpoint.clone(),
        // Without the URL: reqwest repeats it, and it is already named.
        why: e.without_url().to_string(),
    };
    crate::runtime::rustls_provider();
    let client = reqwest::blocking::Client::builder()
        .timeout(timeout)
        .build()
        .map_err(unreachable)?;
    let mut form = vec![("grant_type", "client_credentials".to_owned())];
    if let Some(s) = &cfg.scope {
        form.push(("scope", s.clone()));
    }
    let basic = STANDARD.encode(format!("{}:{}", cfg.client_id, cfg.client_secret.0));
    let answer = client
        .post(&cfg.endpoint)
        .header("Authorization", format!("Basic {basic}"))
        .header("Accept", "application/json")
        .form(&form)
        .send()
        .map_err(unreachable)?;
    let status = answer.status();
    let body: serde_json::Value = answer.json().unwrap_or_default();
    if !status.is_success() {
        return Err(TokenError::Refused {
            endpoint,
            status: status.as_u16(),
            error: body["error"].as_str().map(str::to_owned),
        });
    }
    let value = body["access_token"]
        .as_str()
        .filter(|t| !t.is_empty())
        .ok_or_else(|| TokenError::NoToken {
            endpoint: endpoint.clone(),
        })?;
    let lifetime = Duration::from_secs(body["expires_in"].as_u64().unwrap_or(3600).max(1));
    Ok((value.to_owned(), lifetime))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(jwt: &str) -> serde_json::Value {
        let parts: Vec<&str> = jwt.split('.').collect();
        assert_eq!(parts.len(), 3, "header.payload.signature");
        assert_eq!(parts[2], "", "unsecured: empty signature");
        let header = URL_SAFE_NO_PAD.decode(parts[0]).expect("header");
        assert_eq!(header, br#"{"alg":"none"}"#);
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).expect("payload")).expect("json")
    }

    #[test]
    fn unsecured_jwt_carries_what_the_config_says() {
        let cfg = UnsecuredJwt {
            principal_claim: "azp".into(),
            principal: "lagwatch".into(),
            scope_claim: "roles".into(),
            scopes: vec!["a".into(), "b".into()],
            life_seconds: 600,
            extensions: vec![],
        };
        let c = claims(&unsecured_jwt(&cfg, 1_000));
        assert_eq!(c["azp"], "lagwatch", "the principal under its claim name");
        assert_eq!(c["iat"], 1_000);
        assert_eq!(c["exp"], 1_600, "iat + lifeSeconds");
        assert_eq!(c["roles"], serde_json::json!(["a", "b"]));
    }

    #[test]
    fn a_token_file_is_read_again_at_each_authentication() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("token");
        let src = OAuth::File(path.clone());
        // (file content, token sent, why)
        let rows = [
            (
                "first.jwt.\n",
                Some("first.jwt."),
                "trailing newline trimmed",
            ),
            (
                "second.jwt.",
                Some("second.jwt."),
                "a rewritten file is used at once",
            ),
            (
                "  \n",
                None,
                "an empty file is an error, not an empty token",
            ),
        ];
        for (content, want, why) in rows {
            std::fs::write(&path, content).expect("write");
            let got = token(&src, Duration::from_secs(1)).ok().map(|t| t.value);
            assert_eq!(got.as_deref(), want, "{why}");
        }
        std::fs::remove_file(&path).expect("remove");
        let err = token(&src, Duration::from_secs(1))
            .err()
            .map(|e| e.to_string());
        assert!(
            err.is_some_and(|e| e.contains("token file")),
            "a missing file is named"
        );
    }

    #[test]
    fn client_first_message_follows_rfc_7628() {
        let t = Token {
            value: "tok".into(),
            extensions: vec![("traceId".into(), "7".into())],
        };
        assert_eq!(
            client_first(&t),
            b"n,,\x01auth=Bearer tok\x01traceId=7\x01\x01".to_vec()
        );
    }
}
