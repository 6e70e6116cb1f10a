//! Which clusters take the batched path.

use super::*;

fn cluster(batched: bool, client: &[(&str, &str)]) -> ClusterConfig {
    let mut c = crate::config::from_str(
        "t.yaml",
        "clusters: [{name: c, bootstrap_servers: 'h:1'}]",
        &|_| None,
    )
    .expect("config")
    .clusters
    .remove(0);
    c.batched_offsets = batched;
    c.client = client
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect();
    c
}

/// Why, `batched_offsets`, `client:` properties, whether the batched path is used.
type Case<'a> = (&'a str, bool, &'a [(&'a str, &'a str)], bool);

#[test]
fn batched_requests_only_on_plaintext_clusters_that_allow_them() {
    let cases: &[Case<'_>] = &[
        ("default: plaintext, allowed", true, &[], true),
        (
            "plaintext spelled out, any case",
            true,
            &[("security.protocol", "PLAINTEXT")],
            true,
        ),
        (
            "TLS needs librdkafka",
            true,
            &[("security.protocol", "SSL")],
            false,
        ),
        (
            "SASL needs librdkafka",
            true,
            &[("security.protocol", "sasl_plaintext")],
            false,
        ),
        ("switched off in the config", false, &[], false),
    ];
    for (why, batched, client, want) in cases {
        assert_eq!(batched_allowed(&cluster(*batched, client)), *want, "{why}");
    }
}
