use super::*;

fn props(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Why, `client:` properties, the protocol and mechanism the fast path uses (or why not).
type Case<'a> = (
    &'a str,
    &'a [(&'a str, &'a str)],
    Result<(&'a str, Option<Mechanism>), NotFast>,
);

#[test]
fn client_properties_pick_the_fast_path_or_say_why_not() {
    let cases: &[Case<'_>] = &[
        ("nothing set: plaintext", &[], Ok(("PLAINTEXT", None))),
        (
            "any case, as librdkafka accepts",
            &[
                ("security.protocol", "Sasl_Ssl"),
                ("sasl.mechanisms", "scram-sha-512"),
            ],
            Ok(("SASL_SSL", Some(Mechanism::ScramSha512))),
        ),
        (
            "the singular alias of sasl.mechanisms",
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanism", "PLAIN"),
            ],
            Ok(("SASL_PLAINTEXT", Some(Mechanism::Plain))),
        ),
        (
            "SASL without a mechanism is librdkafka's default, GSSAPI",
            &[("security.protocol", "SASL_SSL")],
            Err(NotFast::Mechanism("GSSAPI".into())),
        ),
        (
            "OAUTHBEARER's unsecured token needs a principal, as librdkafka's",
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "OAUTHBEARER"),
            ],
            Err(NotFast::OAuth(
                "`sasl.oauthbearer.config` names no `principal=` for the unsecured token",
            )),
        ),
        (
            "OAUTHBEARER with an unsecured token",
            &[
                ("security.protocol", "SASL_PLAINTEXT"),
                ("sasl.mechanisms", "OAUTHBEARER"),
                ("sasl.oauthbearer.config", "principal=lw lifeSeconds=60"),
            ],
            Ok(("SASL_PLAINTEXT", Some(Mechanism::OAuthBearer))),
        ),
        (
            "OIDC with the alias of client.id",
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
                ("sasl.oauthbearer.token.endpoint.url", "https://idp/token"),
                ("sasl.oauthbearer.client.credentials.client.id", "lw"),
                ("sasl.oauthbearer.client.secret", "s"),
            ],
            Ok(("SASL_SSL", Some(Mechanism::OAuthBearer))),
        ),
        (
            "OIDC without its endpoint",
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "OAUTHBEARER"),
                ("sasl.oauthbearer.method", "oidc"),
            ],
            Err(NotFast::OAuth("sasl.oauthbearer.token.endpoint.url")),
        ),
        (
            "the JWT-bearer grant is librdkafka's",
            &[
                ("security.protocol", "SASL_SSL"),
                ("sasl.mechanisms", "OAUTHBEARER"),
                (
                    "sasl.oauthbearer.grant.type",
                    "urn:ietf:params:oauth:grant-type:jwt-bearer",
                ),
            ],
            Err(NotFast::Property("sasl.oauthbearer.grant.type")),
        ),
        (
            "mTLS with files",
            &[
                ("security.protocol", "SSL"),
                ("ssl.ca.location", "/ca.pem"),
                ("ssl.certificate.location", "/c.pem"),
                ("ssl.key.location", "/c.key"),
            ],
            Ok(("SSL", None)),
        ),
        (
            "an encrypted key needs librdkafka's decryption",
            &[("security.protocol", "SSL"), ("ssl.key.password", "x")],
            Err(NotFast::Property("ssl.key.password")),
        ),
        (
            "a keystore is PKCS#12, which only librdkafka reads",
            &[
                ("security.protocol", "SASL_SSL"),
                ("ssl.keystore.location", "/k.p12"),
            ],
            Err(NotFast::Property("ssl.keystore.location")),
        ),
        (
            "TLS properties on a plaintext cluster change nothing",
            &[("ssl.key.password", "x")],
            Ok(("PLAINTEXT", None)),
        ),
        (
            "verification switched off is never done silently",
            &[
                ("security.protocol", "SSL"),
                ("enable.ssl.certificate.verification", "false"),
            ],
            Err(NotFast::NoVerification),
        ),
        (
            "an unknown protocol",
            &[("security.protocol", "quic")],
            Err(NotFast::Protocol("quic".into())),
        ),
    ];
    for (why, client, want) in cases {
        let got = from_client(&props(client)).map(|s| (s.protocol(), s.mechanism()));
        assert_eq!(&got, want, "{why}");
    }
}

#[test]
fn tls_settings_follow_librdkafka() {
    // Why, properties, CA, hostname verified.
    type Row<'a> = (&'a str, &'a [(&'a str, &'a str)], Option<Pem>, bool);
    let rows: &[Row<'_>] = &[
        ("no CA: the system's roots", &[], None, true),
        (
            "probe means the system's roots too",
            &[("ssl.ca.location", "probe")],
            None,
            true,
        ),
        (
            "a CA file",
            &[("ssl.ca.location", "/etc/ca.pem")],
            Some(Pem::Location("/etc/ca.pem".into())),
            true,
        ),
        (
            "inline PEM wins over a location",
            &[("ssl.ca.location", "/x"), ("ssl.ca.pem", "-----BEGIN")],
            Some(Pem::Inline(Secret("-----BEGIN".into()))),
            true,
        ),
        (
            "endpoint identification none: chain checked, name not",
            &[("ssl.endpoint.identification.algorithm", "none")],
            None,
            false,
        ),
    ];
    for (why, extra, ca, verify) in rows {
        let mut p = vec![("security.protocol", "SSL")];
        p.extend_from_slice(extra);
        let s = from_client(&props(&p)).unwrap_or_else(|e| panic!("{why}: {e}"));
        let tls = s.tls.unwrap_or_else(|| panic!("{why}: no TLS"));
        assert_eq!(&tls.ca, ca, "{why}");
        assert_eq!(tls.verify_hostname, *verify, "{why}");
    }
}

#[test]
fn secrets_stay_out_of_debug_output() {
    let s = from_client(&props(&[
        ("security.protocol", "SASL_SSL"),
        ("sasl.mechanisms", "PLAIN"),
        ("sasl.username", "u"),
        ("sasl.password", "hunter2-secret"),
        ("ssl.key.pem", "-----BEGIN PRIVATE KEY----- very-secret-key"),
    ]))
    .expect("fast");
    let shown = format!("{s:?}");
    assert!(!shown.contains("hunter2-secret"), "{shown}");
    assert!(!shown.contains("very-secret-key"), "{shown}");
}
