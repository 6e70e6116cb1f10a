//! The ground truth, read by KTool (the Java Admin client: ListOffsets, OffsetFetch,
//! DescribeGroups), and the exact comparison of lagwatch's `/metrics` and `/api/v1/status`
//! with it, partition by partition.

use crate::kafka::harness::{ktool, parallel};
use crate::kafka::instance::{sample, samples_of, Samples};
use serde_json::Value;
use std::collections::BTreeMap;

/// (topic, partition).
pub type Tp = (String, i64);

/// Offsets of one partition as the brokers report them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Log {
    /// Log start offset.
    pub earliest: i64,
    /// High watermark (read_uncommitted).
    pub latest: i64,
    /// Last stable offset (read_committed).
    pub last_stable: i64,
}

/// What KTool read.
#[derive(Debug, Default)]
pub struct Truth {
    /// Every partition of the topics asked for.
    pub logs: BTreeMap<Tp, Log>,
    /// Committed offsets per group (only partitions with a commit).
    pub committed: BTreeMap<String, BTreeMap<Tp, i64>>,
    /// `describe-groups` answers per group.
    pub groups: BTreeMap<String, Value>,
}

/// Reads the truth about `groups` and `topics` (three KTool kinds, in parallel).
pub fn read(groups: &[&str], topics: &[&str]) -> Truth {
    enum Job<'a> {
        Logs,
        Describe,
        Offsets(&'a str),
    }
    let mut jobs = vec![Job::Logs, Job::Describe];
    jobs.extend(groups.iter().map(|g| Job::Offsets(g)));
    let answers = parallel(jobs, |j| match j {
        Job::Logs => ("logs".to_owned(), ktool(&list_offsets(topics))),
        Job::Describe => {
            let mut a = vec!["describe-groups"];
            for g in groups {
                a.extend(["--group", g]);
            }
            ("describe".to_owned(), ktool(&a))
        }
        Job::Offsets(g) => (g.to_owned(), ktool(&["offsets", "--group", g])),
    });
    let mut t = Truth::default();
    for (what, v) in answers {
        match what.as_str() {
            "logs" => t.logs = parse_logs(&v),
            "describe" => {
                for g in v["groups"].as_array().into_iter().flatten() {
                    t.groups.insert(str_of(&g["group"]), g.clone());
                }
            }
            group => {
                let offsets = v["offsets"]
                    .as_array()
                    .into_iter()
                    .flatten()
                    .map(|o| {
                        (
                            (str_of(&o["topic"]), int(&o["partition"])),
                            int(&o["offset"]),
                        )
                    })
                    .collect();
                t.committed.insert(group.to_owned(), offsets);
            }
        }
    }
    t
}

fn list_offsets<'a>(topics: &[&'a str]) -> Vec<&'a str> {
    let mut a = vec!["list-offsets"];
    for t in topics {
        a.extend(["--topic", t]);
    }
    a
}

/// Log offsets from a `list-offsets` answer.
pub fn parse_logs(v: &Value) -> BTreeMap<Tp, Log> {
    v["offsets"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|o| {
            let tp = (str_of(&o["topic"]), int(&o["partition"]));
            let log = Log {
                earliest: int(&o["earliest"]),
                latest: int(&o["latest"]),
                last_stable: int(&o["last_stable"]),
            };
            (tp, log)
        })
        .collect()
}

/// Log offsets of every partition of `topics` (ListOffsets only).
pub fn logs(topics: &[&str]) -> BTreeMap<Tp, Log> {
    parse_logs(&ktool(&list_offsets(topics)))
}

fn str_of(v: &Value) -> String {
    v.as_str()
        .unwrap_or_else(|| panic!("not a string: {v}"))
        .to_owned()
}

fn int(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not an integer: {v}"))
}

/// The one group of the status document named `group`, if lagwatch reports it.
pub fn group_json<'a>(status: &'a Value, group: &str) -> Option<&'a Value> {
    status["clusters"][0]["groups"]
        .as_array()?
        .iter()
        .find(|g| g["group"] == group)
}

/// Asserts that lagwatch's metrics and status equal `truth` exactly: log offsets of every
/// partition, and for every group its committed offsets, lag and messages lost on every
/// partition (no more, no fewer), its state, member count and members.
pub fn assert_conforms(m: &Samples, status: &Value, truth: &Truth) {
    let c = ("cluster", "kafka");
    for ((topic, p), log) in &truth.logs {
        let p = p.to_string();
        let l = [c, ("topic", topic.as_str()), ("partition", p.as_str())];
        let end = sample(m, "lagwatch_partition_log_end_offset", &l);
        assert_eq!(
            end,
            Some(log.latest.to_string().as_str()),
            "log end of {topic}/{p}"
        );
        let start = sample(m, "lagwatch_partition_log_start_offset", &l);
        assert_eq!(
            start,
            Some(log.earliest.to_string().as_str()),
            "log start of {topic}/{p}"
        );
    }
    for (group, committed) in &truth.committed {
        let watched: BTreeMap<&Tp, &i64> = committed
            .iter()
            .filter(|(tp, _)| truth.logs.contains_key(*tp))
            .collect();
        let g = group_json(status, group);
        let reported = samples_of(m, "lagwatch_group_partition_lag", &[c, ("group", group)]);
        if watched.is_empty() {
            assert!(
                reported.is_empty(),
                "{group} has no commit, lagwatch says {reported:?}"
            );
            continue;
        }
        let g = g.unwrap_or_else(|| panic!("lagwatch does not report group {group}: {status}"));
        let mut total = 0;
        let mut seen = 0;
        for ((topic, p), off) in &watched {
            let log = truth.logs[&(topic.clone(), *p)];
            let lag = (log.latest - **off).max(0);
            let lost = (log.earliest - **off).max(0);
            total += lag;
            let ps = p.to_string();
            let l = [
                c,
                ("group", group.as_str()),
                ("topic", topic.as_str()),
                ("partition", ps.as_str()),
            ];
            let what = format!("{group} on {topic}/{p} (committed {off}, log {log:?})");
            let num = |name: &str| sample(m, name, &l).map(str::to_owned);
            assert_eq!(
                num("lagwatch_group_partition_committed_offset"),
                Some(off.to_string()),
                "committed of {what}"
            );
            assert_eq!(
                num("lagwatch_group_partition_lag"),
                Some(lag.to_string()),
                "lag of {what}"
            );
            assert_eq!(
                num("lagwatch_group_partition_messages_lost"),
                Some(lost.to_string()),
                "lost of {what}"
            );
            let jp = g["topics"]
                .as_array()
                .into_iter()
                .flatten()
                .filter(|t| t["topic"] == topic.as_str())
                .flat_map(|t| t["partitions"].as_array().into_iter().flatten())
                .find(|jp| jp["partition"] == *p)
                .unwrap_or_else(|| panic!("status lacks {what}: {g}"));
            assert_eq!(jp["committed"], **off, "status committed of {what}");
            assert_eq!(jp["lag"], lag, "status lag of {what}");
            assert_eq!(jp["log_end"], log.latest, "status log end of {what}");
            assert_eq!(jp["log_start"], log.earliest, "status log start of {what}");
            seen += 1;
        }
        assert_eq!(
            reported.len(),
            seen,
            "{group}: lagwatch reports other partitions than the broker: {g}"
        );
        assert_eq!(g["lag"], total, "status total lag of {group}");
        let gl = sample(m, "lagwatch_group_lag", &[c, ("group", group)]);
        assert_eq!(
            gl,
            Some(total.to_string().as_str()),
            "lagwatch_group_lag of {group}"
        );
    }
    for (group, d) in &truth.groups {
        if d.get("error").is_some() {
            continue;
        }
        assert_group_described(m, status, group, d);
    }
}

/// State, member count and members (client id, host) of one group equal KTool's.
pub fn assert_group_described(m: &Samples, status: &Value, group: &str, d: &Value) {
    let g = group_json(status, group).unwrap_or_else(|| panic!("no group {group}: {status}"));
    let state = d["state"].as_str().unwrap_or_default();
    assert!(
        g["state"]
            .as_str()
            .is_some_and(|s| s.eq_ignore_ascii_case(state)),
        "state of {group}: lagwatch {} vs broker {state}",
        g["state"]
    );
    let info = samples_of(m, "lagwatch_group_info", &[("group", group)]);
    assert_eq!(info.len(), 1, "one info series for {group}: {info:?}");
    let want = d["members"].as_array().map_or(0, Vec::len);
    assert_eq!(g["members"], want, "member count of {group}");
    let count = sample(
        m,
        "lagwatch_group_members",
        &[("cluster", "kafka"), ("group", group)],
    );
    assert_eq!(
        count,
        Some(want.to_string().as_str()),
        "lagwatch_group_members of {group}"
    );
    let mut truth: Vec<(String, String, String)> = d["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|x| {
            (
                str_of(&x["member_id"]),
                str_of(&x["client_id"]),
                str_of(&x["host"]),
            )
        })
        .collect();
    let mut got: Vec<(String, String, String)> = g["member_details"]
        .as_array()
        .unwrap_or_else(|| panic!("no member_details for {group}: {g}"))
        .iter()
        .map(|x| {
            (
                str_of(&x["member_id"]),
                str_of(&x["client_id"]),
                str_of(&x["host"]),
            )
        })
        .collect();
    truth.sort();
    got.sort();
    assert_eq!(
        got, truth,
        "members of {group} (member id, client id, host)"
    );
}
