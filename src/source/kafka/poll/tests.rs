//! Which clusters take the fast path.

use super::*;
use crate::config::security::Security;

fn cluster(kafka_client: &str, client: &[(&str, &str)]) -> ClusterConfig {
    let mut c = crate::config::from_str(
        "t.yaml",
        &format!("clusters: [{{name: c, bootstrap_servers: 'h:1', kafka_client: {kafka_client}}}]"),
        &|_| None,
    )
    .expect("config")
    .clusters
    .remove(0);
    c.client = client
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    c
}

/// Why, `kafka_client`, `client:` properties, the protocol the fast path speaks (or None).
type Case<'a> = (&'a str, &'a str, &'a [(&'a str, &'a str)], Option<&'a str>);

#[test]
fn the_fast_path_serves_what_it_can_and_the_config_allows() {
    let cases: &[Case<'_>] = &[
        ("default: plaintext", "auto", &[], Some("PLAINTEXT")),
        (
            "TLS on the fast path",
            "auto",
            &[("security.protocol", "SSL")],
            Some("SSL"),
        ),
        (
            "SCRAM over TLS on the fast path",
            "auto",
            &[
                ("security.protocol", "sasl_ssl"),
                ("sasl.mechanisms", "SCRAM-SHA-512"),
            ],
            Some("SASL_SSL"),
        ),
        (
            "Kerberos needs librdkafka",
            "auto",
            &[("security.protocol", "sasl_plaintext")],
            None,
        ),
        ("switched off in the config", "librdkafka", &[], None),
    ];
    for (why, kc, client, want) in cases {
        let got = fast_path(&cluster(kc, client)).ok();
        assert_eq!(got.as_ref().map(Security::protocol), *want, "{why}");
    }
}
