//! SASL on a connection, against a scripted broker: the PLAIN message on the wire, a session
//! renewed on the same connection when the broker limits its lifetime (KIP-368), and a
//! refusal reported with the broker's words and without the password.

use super::*;
use crate::config::security::{Mechanism, SaslSettings, Secret, Security};
use crate::source::kafka::batched::wire::conn::Conn;
use kafka_protocol::messages::{
    ListGroupsRequest, ListGroupsResponse, SaslAuthenticateRequest, SaslAuthenticateResponse,
    SaslHandshakeResponse,
};

const SASL: &[(ApiKey, i16, i16)] = &[
    (ApiKey::SaslHandshake, 0, 1),
    (ApiKey::SaslAuthenticate, 0, 2),
    (ApiKey::ListGroups, 0, 5),
];

const HS: i16 = ApiKey::SaslHandshake as i16;
const AUTH: i16 = ApiKey::SaslAuthenticate as i16;
const LG: i16 = ApiKey::ListGroups as i16;

fn plain(password: &str) -> Arc<Security> {
    Arc::new(Security {
        tls: None,
        sasl: Some(SaslSettings {
            mechanism: Mechanism::Plain,
            username: "lw".into(),
            password: Secret(password.into()),
            oauth: None,
        }),
    })
}

/// A broker granting `lifetime_ms` sessions to `lw`/`right-pass` and listing no groups.
fn sasl_broker(lifetime_ms: i64) -> (Broker, Log) {
    broker(SASL, move |api, _, v, mut body| match api {
        HS => Reply::Body(enc(
            &SaslHandshakeResponse::default().with_mechanisms(vec!["PLAIN".into()]),
            v,
        )),
        AUTH => {
            let req = SaslAuthenticateRequest::decode(&mut body, v).unwrap();
            let answer = if req.auth_bytes.as_ref() == b"\0lw\0right-pass" {
                SaslAuthenticateResponse::default().with_session_lifetime_ms(lifetime_ms)
            } else {
                SaslAuthenticateResponse::default()
                    .with_error_code(58)
                    .with_error_message(Some(
                        "Authentication failed: Invalid username or password".into(),
                    ))
            };
            Reply::Body(enc(&answer, v))
        }
        LG => Reply::Body(enc(&ListGroupsResponse::default(), v)),
        _ => Reply::HangUp,
    })
}

fn connect(b: &Broker, security: &Arc<Security>) -> Result<Conn, WireError> {
    let deadline = Instant::now() + Duration::from_secs(5);
    Conn::connect(&b.host, b.port, "test", security, deadline)
}

fn list(conn: &mut Conn) {
    let deadline = Instant::now() + Duration::from_secs(5);
    let calls = [Call::ListGroups(ListGroupsRequest::default())];
    conn.exchange(calls[..].into(), deadline, |a| a)
        .expect("listed");
}

#[test]
fn a_limited_session_is_renewed_on_the_same_connection() {
    // (session lifetime the broker grants, requests seen on connection 0, why)
    let rows: &[(i64, &[i16], &str)] = &[
        (0, &[HS, AUTH, LG, LG], "no limit: authenticated once"),
        (
            100,
            &[HS, AUTH, LG, HS, AUTH, LG],
            "a 100 ms session: authenticated again before the next request, same connection",
        ),
    ];
    for (lifetime, want, why) in rows {
        let (b, log) = sasl_broker(*lifetime);
        let mut conn = connect(&b, &plain("right-pass")).expect("connects");
        list(&mut conn);
        std::thread::sleep(Duration::from_millis(150));
        list(&mut conn);
        let seen: Vec<(i16, usize)> = log.lock().unwrap().clone();
        let apis: Vec<i16> = seen.iter().map(|(a, _)| *a).collect();
        assert_eq!(apis, *want, "{why}");
        assert!(seen.iter().all(|(_, c)| *c == 0), "{why}: one connection");
    }
}

#[test]
fn refused_credentials_are_reported_without_the_password() {
    let (b, _) = sasl_broker(0);
    let err = connect(&b, &plain("wrong-Secret-77")).expect_err("refused");
    let text = err.to_string();
    assert!(
        matches!(
            &err,
            WireError::Sasl {
                cause: wire::sasl::SaslCause::Refused { .. },
                ..
            }
        ),
        "{text}"
    );
    assert!(text.contains(&b.key()), "names the broker: {text}");
    assert!(text.contains("SASL PLAIN"), "names the mechanism: {text}");
    assert!(
        text.contains("Invalid username or password"),
        "the broker's words: {text}"
    );
    assert!(!text.contains("wrong-Secret-77"), "no password: {text}");
}

/// MSK IAM against a broker stand-in that speaks OAUTHBEARER as MSK does: the one client
/// message carries `auth=Bearer <token>`, and the token is the presigned URL of
/// `kafka-cluster:Connect` in the configured region, signed with the configured key and
/// naming lagwatch as its user agent.
#[test]
fn msk_iam_sends_a_presigned_token_over_oauthbearer() {
    use crate::config::security::{msk_iam, AwsMskIam};
    use base64::Engine;
    let seen: Arc<Mutex<Vec<Vec<u8>>>> = Arc::default();
    let got = seen.clone();
    let msk: &[(ApiKey, i16, i16)] = &[
        (ApiKey::SaslHandshake, 0, 1),
        (ApiKey::SaslAuthenticate, 0, 2),
    ];
    let (b, _) = broker(msk, move |api, _, v, mut body| match api {
        HS => Reply::Body(enc(
            &SaslHandshakeResponse::default().with_mechanisms(vec!["OAUTHBEARER".into()]),
            v,
        )),
        AUTH => {
            let req = SaslAuthenticateRequest::decode(&mut body, v).unwrap();
            got.lock().unwrap().push(req.auth_bytes.to_vec());
            Reply::Body(enc(&SaslAuthenticateResponse::default(), v))
        }
        _ => Reply::HangUp,
    });
    let iam = AwsMskIam {
        region: "eu-west-1".into(),
        keys: Some(("AKIDTEST".into(), Secret("sEcReT/key".into()), None)),
    };
    let mut security = msk_iam(&[], &iam).expect("MSK IAM");
    // The stand-in speaks plain TCP; the TLS side is the same as for any SASL_SSL cluster.
    security.tls = None;
    connect(&b, &Arc::new(security)).expect("authenticated");
    let messages = seen.lock().unwrap().clone();
    assert_eq!(messages.len(), 1, "one client message");
    let text = String::from_utf8(messages[0].clone()).expect("utf-8");
    let token = text
        .strip_prefix("n,,\u{1}auth=Bearer ")
        .and_then(|t| t.strip_suffix("\u{1}\u{1}"))
        .unwrap_or_else(|| panic!("RFC 7628 framing: {text:?}"));
    let url = String::from_utf8(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(token)
            .expect("base64url"),
    )
    .expect("a URL");
    for want in [
        "https://kafka.eu-west-1.amazonaws.com/?Action=kafka-cluster%3AConnect&X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AKIDTEST%2F",
        "%2Feu-west-1%2Fkafka-cluster%2Faws4_request&X-Amz-Date=",
        "&X-Amz-Expires=900&X-Amz-SignedHeaders=host&X-Amz-Signature=",
        "&User-Agent=lagwatch%2F",
    ] {
        assert!(url.contains(want), "`{want}` in {url}");
    }
    assert!(!url.contains("sEcReT"), "the secret key never travels");
}
