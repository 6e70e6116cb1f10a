//! AWS MSK IAM over OAUTHBEARER: the token is a SigV4-presigned URL of the action
//! `kafka-cluster:Connect` at `kafka.<region>.amazonaws.com`, valid 900 s, base64url-encoded
//! without padding, as AWS's own signer libraries make it (aws-msk-iam-sasl-signer-*).
//! Credentials come from the standard AWS chain (environment, web identity, ECS, instance
//! metadata), read through object_store's provider, which lagwatch already has for S3.

use super::oauth::TokenError;
use crate::config::security::AwsMskIam;
use aws_credential_types::Credentials;
use aws_sigv4::http_request::{
    sign, SignableBody, SignableRequest, SignatureLocation, SigningSettings,
};
use aws_sigv4::sign::v4;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt::Write as _;
use std::sync::OnceLock;
use std::time::{Duration, SystemTime};

/// How long a token is valid (the signer libraries' default).
const EXPIRES: Duration = Duration::from_secs(900);

/// The signing name of MSK's data plane.
const SERVICE: &str = "kafka-cluster";

/// AWS credentials, as the chain yields them.
pub struct AwsCredentials {
    /// Access key id.
    pub key_id: String,
    /// Secret access key.
    pub secret_key: String,
    /// Session token of temporary credentials.
    pub session_token: Option<String>,
}

/// SigV4's URI encoding: everything but unreserved characters.
fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

/// The MSK IAM token for `creds` in `region` signed at `at`, with `user_agent` appended
/// after signing (as the signer libraries do). Errors only on values SigV4 cannot sign.
pub fn token(
    creds: &AwsCredentials,
    region: &str,
    at: SystemTime,
    user_agent: &str,
) -> Result<String, String> {
    let host = format!("kafka.{region}.amazonaws.com");
    let url = format!("https://{host}/?Action=kafka-cluster%3AConnect");
    let identity = Credentials::new(
        &creds.key_id,
        &creds.secret_key,
        creds.session_token.clone(),
        None,
        "lagwatch",
    )
    .into();
    let mut settings = SigningSettings::default();
    settings.signature_location = SignatureLocation::QueryParams;
    settings.expires_in = Some(EXPIRES);
    let params = v4::SigningParams::builder()
        .identity(&identity)
        .region(region)
        .name(SERVICE)
        .time(at)
        .settings(settings)
        .build()
        .map_err(|e| e.to_string())?
        .into();
    let request = SignableRequest::new(
        "GET",
        url.as_str(),
        std::iter::once(("host", host.as_str())),
        SignableBody::Bytes(&[]),
    )
    .map_err(|e| e.to_string())?;
    let (instructions, _) = sign(request, &params)
        .map_err(|e| e.to_string())?
        .into_parts();
    // The signer libraries' order: the signed query, the signature last, then User-Agent.
    let mut signed: Vec<(&str, String)> = instructions
        .params()
        .iter()
        .map(|(k, v)| (*k, v.to_string()))
        .collect();
    signed.sort_by_key(|(k, _)| match *k {
        "X-Amz-Algorithm" => 0,
        "X-Amz-Credential" => 1,
        "X-Amz-Date" => 2,
        "X-Amz-Expires" => 3,
        "X-Amz-SignedHeaders" => 4,
        "X-Amz-Security-Token" => 5,
        "X-Amz-Signature" => 7,
        _ => 6,
    });
    let mut presigned = url;
    for (k, v) in signed {
        let _ = write!(presigned, "&{k}={}", encode(&v));
    }
    let _ = write!(presigned, "&User-Agent={}", encode(user_agent));
    Ok(URL_SAFE_NO_PAD.encode(presigned))
}

/// A runtime of its own for the credential chain's HTTP calls (web identity, ECS, instance
/// metadata): the SASL exchange runs on blocking threads, some outside tokio.
fn runtime() -> Result<&'static tokio::runtime::Runtime, TokenError> {
    static RT: OnceLock<Option<tokio::runtime::Runtime>> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_multi_thread()
            .worker_threads(1)
            .thread_name("lagwatch-aws")
            .enable_all()
            .build()
            .ok()
    })
    .as_ref()
    .ok_or_else(|| TokenError::Credentials("cannot start the credentials runtime".into()))
}

/// The configured keys, else credentials from the standard chain (fetched at most once per
/// expiry by the provider).
pub fn credentials(iam: &AwsMskIam, timeout: Duration) -> Result<AwsCredentials, TokenError> {
    if let Some((id, secret, token)) = &iam.keys {
        return Ok(AwsCredentials {
            key_id: id.clone(),
            secret_key: secret.0.clone(),
            session_token: token.as_ref().map(|t| t.0.clone()),
        });
    }
    let region = iam.region.as_str();
    static PROVIDER: OnceLock<Result<object_store::aws::AmazonS3, String>> = OnceLock::new();
    let s3 = PROVIDER
        .get_or_init(|| {
            // The store is never used: it is how object_store exposes the AWS chain.
            object_store::aws::AmazonS3Builder::from_env()
                .with_region(region)
                .with_bucket_name("lagwatch-msk-iam-credentials")
                .build()
                .map_err(|e| e.to_string())
        })
        .as_ref()
        .map_err(|e| TokenError::Credentials(e.clone()))?;
    let rt = runtime()?;
    let got = rt
        .block_on(async { tokio::time::timeout(timeout, s3.credentials().get_credential()).await });
    match got {
        Ok(Ok(c)) => Ok(AwsCredentials {
            key_id: c.key_id.clone(),
            secret_key: c.secret_key.clone(),
            session_token: c.token.clone(),
        }),
        // object_store's words name the source (env, web identity, IMDS), not the secret.
        Ok(Err(e)) => Err(TokenError::Credentials(e.to_string())),
        Err(_) => Err(TokenError::Credentials(
            "no answer from the credential chain before the poll timeout".into(),
        )),
    }
}

#[cfg(test)]
mod tests;
