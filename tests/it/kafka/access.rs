//! A principal that may describe only some groups (user `limited`: prefix `allowed-`).

use crate::kafka::harness::{commit, env, ktool, shared, unique};
use crate::kafka::instance::{sample, samples_of, Lagwatch};
use crate::kafka::truth::group_json;

/// lagwatch as `limited` over SASL/SCRAM: the allowed group's lag is exact; the refused
/// group is reported as unauthorized (metric and JSON), never as zero lag, and the poll is
/// not marked partial because of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refused_group_is_unauthorized_not_zero_lag() {
    let _brokers = shared().await;
    let id = unique("acl");
    let (allowed, denied) = (format!("allowed-{id}"), format!("denied-{id}"));
    let topic = format!("{allowed}-t");
    let (ok_group, bad_group) = (format!("{allowed}-g"), format!("{denied}-g"));
    ktool(&["create-topic", "--topic", &topic, "--partitions", "2"]);
    ktool(&["produce", "--topic", &topic, "--count", "10"]);
    for g in [&ok_group, &bad_group] {
        commit(g, &topic, "0=1,1=2");
    }
    let e = env();
    let yaml = format!(
        "    groups: {{ names: [\"{bad_group}\"], include: [\"^{allowed}\"] }}\n    \
         topics: {{ include: [\"^{allowed}\"] }}\n    client:\n      \
         security.protocol: SASL_PLAINTEXT\n      sasl.mechanisms: SCRAM-SHA-512\n      \
         sasl.username: limited\n      sasl.password: \"{}\"\n",
        e.get("LIMITED_PASSWORD")
    );
    let lw = Lagwatch::start(e.get("SASL_PLAINTEXT"), &yaml).await;
    crate::kafka::conforms(&lw, &[&ok_group], &[&topic], 3).await;
    let (m, s) = lw.fresh().await;
    let u = [
        ("cluster", "kafka"),
        ("resource_type", "group"),
        ("name", bad_group.as_str()),
    ];
    assert_eq!(
        sample(&m, "lagwatch_unauthorized", &u),
        Some("1"),
        "refused group is unauthorized"
    );
    assert!(
        group_json(&s, &bad_group).is_none(),
        "refused group reported as a group: {s}"
    );
    let lag = samples_of(&m, "lagwatch_group_lag", &[("group", &bad_group)]);
    assert!(lag.is_empty(), "refused group has a lag series: {lag:?}");
    let c = &s["clusters"][0];
    assert_eq!(c["unauthorized"][0]["name"], bad_group.as_str(), "{c}");
    assert_eq!(c["partial"], false, "a refusal is not a partial poll: {c}");
}
