use super::*;
use std::time::UNIX_EPOCH;

/// Tokens made by AWS's Python signer (aws-msk-iam-sasl-signer-python 1.0.2, botocore's
/// SigV4QueryAuth) for these credentials, us-east-1 and 2026-11-30T12:34:56Z: an
/// independent implementation, so a difference in canonicalisation, encoding or parameter
/// order shows here byte for byte.
const PY_UA: &str = "aws-msk-iam-sasl-signer-python/1.0.2";
const AT: u64 = 1_796_042_096; // 2026-11-30T12:34:56Z
const WITHOUT_SESSION: &str = "aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0JlgtQW16LUFsZ29yaXRobT1BV1M0LUhNQUMtU0hBMjU2JlgtQW16LUNyZWRlbnRpYWw9QUtJREVYQU1QTEUlMkYyMDI2MTEzMCUyRnVzLWVhc3QtMSUyRmthZmthLWNsdXN0ZXIlMkZhd3M0X3JlcXVlc3QmWC1BbXotRGF0ZT0yMDI2MTEzMFQxMjM0NTZaJlgtQW16LUV4cGlyZXM9OTAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TaWduYXR1cmU9MTViYjgyY2U0MzI5ZTg2Nzg1MWQ2NTU2OTY5NjBmNjBhODU2NGNlNjBmODY5NjA4MTNhMmMyOTE4OTgxYjQxMCZVc2VyLUFnZW50PWF3cy1tc2staWFtLXNhc2wtc2lnbmVyLXB5dGhvbiUyRjEuMC4y";
const WITH_SESSION: &str = "aHR0cHM6Ly9rYWZrYS51cy1lYXN0LTEuYW1hem9uYXdzLmNvbS8_QWN0aW9uPWthZmthLWNsdXN0ZXIlM0FDb25uZWN0JlgtQW16LUFsZ29yaXRobT1BV1M0LUhNQUMtU0hBMjU2JlgtQW16LUNyZWRlbnRpYWw9QUtJREVYQU1QTEUlMkYyMDI2MTEzMCUyRnVzLWVhc3QtMSUyRmthZmthLWNsdXN0ZXIlMkZhd3M0X3JlcXVlc3QmWC1BbXotRGF0ZT0yMDI2MTEzMFQxMjM0NTZaJlgtQW16LUV4cGlyZXM9OTAwJlgtQW16LVNpZ25lZEhlYWRlcnM9aG9zdCZYLUFtei1TZWN1cml0eS1Ub2tlbj1GUW9HWlhJdllYZHpFWEFNUExFc2Vzc2lvbnRva2VuJlgtQW16LVNpZ25hdHVyZT04OWExOWQ1Njc3MWI2NTYxZTQ2ZGRiMTdlYWQ1ZjQxMDg4MGM4NmUyYzdhYjg2YzA3MjM0MWNkMzU3ZTJmYjlkJlVzZXItQWdlbnQ9YXdzLW1zay1pYW0tc2FzbC1zaWduZXItcHl0aG9uJTJGMS4wLjI";

#[test]
fn tokens_equal_aws_signer_byte_for_byte() {
    // (session token, expected, why)
    let rows = [
        (None, WITHOUT_SESSION, "long-term keys"),
        (
            Some("FQoGZXIvYXdzEXAMPLEsessiontoken"),
            WITH_SESSION,
            "temporary credentials: the session token is signed and sent",
        ),
    ];
    for (session, want, why) in rows {
        let creds = AwsCredentials {
            key_id: "AKIDEXAMPLE".into(),
            secret_key: "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY".into(),
            session_token: session.map(str::to_owned),
        };
        let at = UNIX_EPOCH + Duration::from_secs(AT);
        let got = token(&creds, "us-east-1", at, PY_UA).expect("signed");
        assert_eq!(got, want, "{why}");
    }
}

#[test]
fn the_region_is_read_from_an_msk_broker_name() {
    let rows = [
        (
            "b-1.orders.abc123.c2.kafka.eu-west-1.amazonaws.com",
            Some("eu-west-1"),
            "a provisioned cluster's broker",
        ),
        (
            "boot-xyz.c1.kafka-serverless.us-east-2.amazonaws.com",
            None,
            "serverless names differ: the region must be configured",
        ),
        ("kafka1.internal", None, "not MSK"),
    ];
    for (host, want, why) in rows {
        assert_eq!(crate::config::security::msk_region_of(host), want, "{why}");
    }
}
