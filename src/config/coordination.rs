//! The `coordination:` section: several replicas share one notifier through a consumer
//! group and keep incident state in a compacted topic of one configured cluster.

use super::reader::{join, Cx};
use super::yaml::Node;
use super::ClusterConfig;
use std::time::Duration;

const KEYS: &[&str] = &[
    "cluster",
    "group",
    "state_topic",
    "shard_clusters",
    "session_timeout",
];

/// `session_timeout`: brokers refuse less than `group.min.session.timeout.ms` (6 s by
/// default) and more than `group.max.session.timeout.ms` (30 min).
pub const SESSION_TIMEOUT: super::bounds::Bounds = super::bounds::Bounds {
    min: Duration::from_secs(1),
    max: Duration::from_secs(1800),
};

/// How the replicas coordinate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CoordinationConfig {
    /// The configured cluster hosting the group and the state topic.
    pub cluster: String,
    /// The consumer group the replicas join.
    pub group: String,
    /// The compacted topic holding the incident state.
    pub state_topic: String,
    /// Each monitored cluster polled (and notified about) by one replica.
    pub shard_clusters: bool,
    /// The group's session timeout: how long a dead leader keeps its role.
    pub session_timeout: Duration,
}

/// Kafka's topic name rule: 1..=249 of `[a-zA-Z0-9._-]`, not `.` or `..`.
fn topic_name_problem(name: &str) -> Option<String> {
    if name.is_empty() || name.len() > 249 {
        return Some("a topic name has 1 to 249 characters".to_owned());
    }
    if name == "." || name == ".." {
        return Some(format!("`{name}` is not a valid topic name"));
    }
    let bad = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')));
    bad.map(|c| format!("`{c}` is not allowed in a topic name (only a-z A-Z 0-9 . _ -)"))
}

/// Reads `coordination:`; `clusters` are the clusters read so far (the section must name
/// one of them).
pub(super) fn read_coordination(
    cx: &mut Cx<'_>,
    node: &Node,
    path: &str,
    clusters: &[ClusterConfig],
) -> Option<CoordinationConfig> {
    let m = cx.map(node, path, KEYS)?;
    let pos = |k: &str| m.get(k).map_or(m.pos, |n| n.pos);
    let cluster = cx.req_string(m, path, "cluster");
    if let Some(name) = &cluster {
        match clusters.iter().find(|c| &c.name == name) {
            None => {
                let names: Vec<&str> = clusters.iter().map(|c| c.name.as_str()).collect();
                let hint = super::did_you_mean(name, &names)
                    .map(|s| format!(" (did you mean `{s}`?)"))
                    .unwrap_or_default();
                cx.error(
                    pos("cluster"),
                    &join(path, "cluster"),
                    format!("no cluster named `{name}`{hint}; coordination needs one of the configured clusters"),
                );
            }
            Some(c) if c.aws_msk_iam.is_some() => cx.error(
                pos("cluster"),
                &join(path, "cluster"),
                format!("cluster `{name}` signs in with aws_msk_iam, which coordination does not support yet; use a SASL/SCRAM, TLS or plaintext cluster"),
            ),
            Some(_) => {}
        }
    }
    let group = cx
        .opt_string(m, path, "group")
        .unwrap_or_else(|| "lagwatch".to_owned());
    if group.is_empty() {
        cx.error(
            pos("group"),
            &join(path, "group"),
            "the group name is empty",
        );
    }
    let state_topic = cx
        .opt_string(m, path, "state_topic")
        .unwrap_or_else(|| "__lagwatch_incidents".to_owned());
    if let Some(why) = topic_name_problem(&state_topic) {
        cx.error(pos("state_topic"), &join(path, "state_topic"), why);
    }
    let shard_clusters = cx.opt_bool(m, path, "shard_clusters").unwrap_or(false);
    if shard_clusters && state_topic.len() > 249 - ".shards".len() {
        cx.error(
            pos("state_topic"),
            &join(path, "state_topic"),
            "with shard_clusters the state topic name has at most 242 characters (the shard topic adds `.shards`)",
        );
    }
    let session_timeout = cx
        .opt_duration(m, path, "session_timeout", SESSION_TIMEOUT)
        .unwrap_or(Duration::from_secs(10));
    Some(CoordinationConfig {
        cluster: cluster?,
        group,
        state_topic,
        shard_clusters,
        session_timeout,
    })
}

#[cfg(test)]
mod tests {
    use super::topic_name_problem;
    use std::time::Duration;

    const CLUSTERS: &str = "clusters:\n  - name: prod\n    bootstrap_servers: \"k1:9092\"\n";

    fn parse(section: &str) -> Result<super::super::Config, Vec<String>> {
        let text = format!("{CLUSTERS}coordination:\n{section}");
        super::super::from_str("lagwatch.yaml", &text, &|_| None)
            .map_err(|e| e.0.iter().map(|e| e.to_string()).collect())
    }

    #[test]
    fn defaults_fill_what_is_not_given() {
        let c = parse("  cluster: prod\n").unwrap().coordination.unwrap();
        assert_eq!(c.group, "lagwatch");
        assert_eq!(c.state_topic, "__lagwatch_incidents");
        assert!(!c.shard_clusters);
        assert_eq!(c.session_timeout, Duration::from_secs(10));
        assert!(parse("  cluster: prod\n").is_ok());
        let c = parse("  cluster: prod\n  shard_clusters: true\n")
            .unwrap()
            .coordination
            .unwrap();
        assert!(c.shard_clusters, "sharding is accepted");
    }

    #[test]
    fn problems_name_line_and_field() {
        let long = format!(
            "  cluster: prod\n  shard_clusters: true\n  state_topic: {}\n",
            "s".repeat(243)
        );
        // (section, fragment of the one error expected, why)
        let cases = [
            ("  group: g\n", "lagwatch.yaml:5:3: coordination.cluster: missing required key", "the cluster is required"),
            ("  cluster: prd\n", "lagwatch.yaml:5:12: coordination.cluster: no cluster named `prd` (did you mean `prod`?)", "it must be a configured cluster"),
            ("  cluster: prod\n  state_topic: a/b\n", "lagwatch.yaml:6:16: coordination.state_topic: `/` is not allowed", "Kafka's topic name rule"),
            (long.as_str(), "coordination.state_topic: with shard_clusters the state topic name has at most 242", "room for the shard topic's suffix"),
            ("  cluster: prod\n  session_timeout: 100ms\n", "coordination.session_timeout:", "below the bound"),
            ("  cluster: prod\n  group: \"\"\n", "coordination.group: the group name is empty", "an empty group cannot be joined"),
            ("  cluster: prod\n  leader: me\n", "coordination.leader: unknown key `leader`", "unknown keys are refused"),
        ];
        for (section, want, why) in cases {
            let errs = parse(section)
                .err()
                .unwrap_or_else(|| panic!("{why}: accepted"));
            assert_eq!(errs.len(), 1, "{why}: {errs:?}");
            assert!(errs[0].contains(want), "{why}: {errs:?}");
        }
    }

    #[test]
    fn topic_names_follow_kafkas_rule() {
        let cases = [
            ("__lagwatch_incidents", true, "the default"),
            ("a.b-c_9", true, "every allowed character"),
            ("", false, "empty"),
            ("..", false, "reserved"),
            ("a/b", false, "a slash"),
            ("has space", false, "a space"),
        ];
        for (name, ok, why) in cases {
            assert_eq!(topic_name_problem(name).is_none(), ok, "{why}: `{name}`");
        }
        assert!(topic_name_problem(&"x".repeat(250)).is_some(), "too long");
    }
}
