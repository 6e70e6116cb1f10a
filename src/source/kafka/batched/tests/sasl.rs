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
    conn.exchange(&[Call::ListGroups(ListGroupsRequest::default())], deadline)
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
