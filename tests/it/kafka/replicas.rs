//! Three `lagwatch` processes sharing one notifier through a consumer group on the real
//! cluster (`coordination:`): one leader sends, a SIGKILLed leader's successor reads the
//! incident state from the compacted state topic, and the webhook receives each change
//! exactly once across all replicas.

use super::harness::{env, shared, unique};
use crate::support::binary::{write_config, Proc};
use crate::support::{commit, create_topic, free_port, metric, produce};
use std::time::{Duration, Instant};
use wiremock::matchers::method;
use wiremock::{Mock, MockServer, ResponseTemplate};

/// The group's session timeout in these tests: the brokers' minimum.
pub(super) const SESSION: Duration = Duration::from_secs(6);
/// lagwatch's poll interval in these tests.
pub(super) const POLL: Duration = Duration::from_millis(500);

pub(super) async fn sink(status: u16) -> MockServer {
    let s = MockServer::start().await;
    mount(&s, status).await;
    s
}

pub(super) async fn mount(s: &MockServer, status: u16) {
    Mock::given(method("POST"))
        .respond_with(ResponseTemplate::new(status))
        .mount(s)
        .await;
}

/// Every alert `change` the sink received, in order.
pub(super) async fn changes(s: &MockServer) -> Vec<String> {
    let mut out = Vec::new();
    for r in s.received_requests().await.unwrap_or_default() {
        let Ok(v) = serde_json::from_slice::<serde_json::Value>(&r.body) else {
            continue;
        };
        for a in v["alerts"].as_array().into_iter().flatten() {
            out.push(a["change"].as_str().unwrap_or("").to_owned());
        }
    }
    out
}

pub(super) fn count(changes: &[String], which: &str) -> usize {
    changes.iter().filter(|c| *c == which).count()
}

/// One replica's /metrics, or None while it does not answer.
pub(super) async fn scrape(port: u16) -> Option<String> {
    lagwatch::runtime::rustls_provider();
    let c = reqwest::Client::builder()
        .timeout(Duration::from_secs(2))
        .build()
        .ok()?;
    let r = c
        .get(format!("http://127.0.0.1:{port}/metrics"))
        .send()
        .await
        .ok()?;
    r.text().await.ok()
}

pub(super) struct Replicas {
    pub(super) procs: Vec<Option<Proc>>,
    pub(super) ports: Vec<u16>,
    /// The state topic, when [`Replicas::start`] chose it.
    state: Option<String>,
    _dir: tempfile::TempDir,
}

impl Replicas {
    pub(super) fn start(n: usize, bs: &str, group: &str, sink: &str) -> Replicas {
        let coord = unique("lw-coord");
        let state = unique("lw-state");
        let mut r = Replicas::start_yaml(n, |port| {
            format!(
                r#"
listen: "127.0.0.1:{port}"
poll_interval: {poll}ms
rules: {{lag_warning: 10, lag_critical: 50, for_polls: 1}}
clusters:
  - name: prod
    bootstrap_servers: "{bs}"
    groups:
      names: ["{group}"]
coordination:
  cluster: prod
  group: {coord}
  state_topic: {state}
  session_timeout: {session}s
notifiers:
  - name: hook
    kind: webhook
    url: "{sink}/hook"
"#,
                poll = POLL.as_millis(),
                session = SESSION.as_secs(),
            )
        });
        r.state = Some(state);
        r
    }

    /// Starts `n` replicas, each with the config `yaml(its port)`.
    pub(super) fn start_yaml(n: usize, yaml: impl Fn(u16) -> String) -> Replicas {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut procs = Vec::new();
        let mut ports = Vec::new();
        for i in 0..n {
            let port = free_port();
            let path = write_config(dir.path(), &format!("r{i}.yaml"), &yaml(port));
            procs.push(Some(Proc::run(&path, &[], &[("LAGWATCH_LOG", "info")])));
            ports.push(port);
        }
        Replicas {
            procs,
            ports,
            state: None,
            _dir: dir,
        }
    }

    /// Starts replica `i` again with its config (after it was killed).
    pub(super) fn restart(&mut self, i: usize) {
        let path = self._dir.path().join(format!("r{i}.yaml"));
        self.procs[i] = Some(Proc::run(&path, &[], &[("LAGWATCH_LOG", "info")]));
    }

    /// The replicas alive that say they lead, and the member count each one sees.
    pub(super) async fn leaders(&self) -> (Vec<usize>, Vec<f64>) {
        let mut leaders = Vec::new();
        let mut members = Vec::new();
        for (i, port) in self.ports.iter().enumerate() {
            if self.procs[i].is_none() {
                continue;
            }
            let Some(text) = scrape(*port).await else {
                continue;
            };
            if metric(&text, "lagwatch_coordination_leader", &[]) == Some(1.0) {
                leaders.push(i);
            }
            members.push(metric(&text, "lagwatch_coordination_members", &[]).unwrap_or(-1.0));
        }
        (leaders, members)
    }

    /// Waits for exactly one leader among the live replicas, seen by `alive` members
    /// (`None`: the broker does not describe group members, as tansu does not).
    pub(super) async fn one_leader(&self, alive: Option<usize>, timeout: Duration) -> usize {
        let deadline = Instant::now() + timeout;
        loop {
            let (leaders, members) = self.leaders().await;
            let counted = alive.is_none_or(|n| members.iter().all(|m| *m == n as f64));
            if leaders.len() == 1 && counted {
                return leaders[0];
            }
            assert!(
                Instant::now() < deadline,
                "no single leader of {alive:?} members within {timeout:?}: leaders {leaders:?}, members {members:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// Waits until the newest book in the state topic has no message pending: a delivery
    /// the sink has seen is then recorded, and a successor will not send it again.
    async fn wait_recorded(&self, bs: &str, timeout: Duration) {
        let topic = self.state.as_deref().expect("started by Replicas::start");
        let deadline = Instant::now() + timeout;
        loop {
            let book = last_value(bs, topic, "book");
            let pending = book.as_ref().map(|b| {
                b["notifiers"]
                    .as_object()
                    .into_iter()
                    .flatten()
                    .map(|(_, n)| n["pending"].as_array().map_or(0, Vec::len))
                    .sum::<usize>()
            });
            if pending == Some(0) {
                return;
            }
            assert!(
                Instant::now() < deadline,
                "the state topic still has messages pending after {timeout:?}: {book:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// SIGKILLs replica `i` and returns how long until another one leads.
    async fn kill_and_time_election(&mut self, i: usize) -> Duration {
        let mut p = self.procs[i].take().expect("alive");
        p.signal(9);
        p.wait(Duration::from_secs(10));
        let t0 = Instant::now();
        let deadline = t0 + SESSION * 4;
        loop {
            let (leaders, _) = self.leaders().await;
            if leaders.len() == 1 {
                return t0.elapsed();
            }
            assert!(Instant::now() < deadline, "no new leader after the kill");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

pub(super) async fn wait_change(s: &MockServer, which: &str, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    while count(&changes(s).await, which) == 0 {
        assert!(
            Instant::now() < deadline,
            "no `{which}` within {timeout:?}; got {:?}",
            changes(s).await
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// The JSON value of the newest record under `key` in partition 0 of `topic`.
fn last_value(bs: &str, topic: &str, key: &str) -> Option<serde_json::Value> {
    use rdkafka::consumer::{BaseConsumer, Consumer};
    use rdkafka::Message;
    let c: BaseConsumer = rdkafka::ClientConfig::new()
        .set("bootstrap.servers", bs)
        .set("group.id", unique("lw-state-reader"))
        .set("enable.auto.commit", "false")
        .create()
        .ok()?;
    let (_, end) = c.fetch_watermarks(topic, 0, Duration::from_secs(5)).ok()?;
    let mut tpl = rdkafka::TopicPartitionList::new();
    tpl.add_partition_offset(topic, 0, rdkafka::Offset::Beginning)
        .ok()?;
    c.assign(&tpl).ok()?;
    let mut last = None;
    let deadline = Instant::now() + Duration::from_secs(10);
    while Instant::now() < deadline {
        let Some(Ok(m)) = c.poll(Duration::from_millis(200)) else {
            continue;
        };
        if m.key() == Some(key.as_bytes()) {
            last = m.payload().and_then(|p| serde_json::from_slice(p).ok());
        }
        if m.offset() + 1 >= end {
            return last;
        }
    }
    None
}

/// A lagging group with 100 records unread (critical at 50).
pub(super) async fn lagging(bs: &str) -> (String, String) {
    let topic = unique("coord-orders");
    let group = unique("coord-billing");
    create_topic(bs, &topic, 1).await;
    // One record per batch: tansu's high watermark is exact only so.
    produce(bs, &topic, 0, 100, true);
    commit(bs, &group, &[(&topic, 0, 0)]);
    (topic, group)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_send_each_change_once_across_a_leader_kill() {
    let _brokers = shared().await;
    // The group notices a dead member after the session timeout; the new owner of
    // partition 0 reports it within one of its own heartbeats after the rebalance.
    let bound = SESSION + SESSION / 3 + Duration::from_secs(1);
    one_change_each_across_a_kill(env().plaintext(), Some(3), bound).await;
}

/// The same on the shared tansu broker (monitored and coordinating).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_replicas_on_tansu_send_each_change_once_across_a_leader_kill() {
    let bs = std::env::var("LAGWATCH_TEST_TANSU")
        .expect("LAGWATCH_TEST_TANSU: the shared tansu broker (.ci/services.sh starts it)");
    // tansu answers DescribeGroups without members: lagwatch_coordination_members is 0.
    // tansu expires a dead member later than Kafka does (measured 10.4 s with a 6 s
    // session timeout): the bound is two session timeouts.
    one_change_each_across_a_kill(&bs, None, SESSION * 2).await;
}

async fn one_change_each_across_a_kill(bs: &str, members: Option<usize>, bound: Duration) {
    let (topic, group) = lagging(bs).await;
    let sink = sink(200).await;
    let mut r = Replicas::start(3, bs, &group, &sink.uri());
    let leader = r.one_leader(members, Duration::from_secs(60)).await;
    wait_change(&sink, "opened", Duration::from_secs(30)).await;
    // A kill between the sink's answer and the state write may repeat the message once
    // (the documented bound, tested by the next test's refused delivery): this test is
    // about a leader that dies with its delivery recorded.
    r.wait_recorded(bs, Duration::from_secs(30)).await;
    let elected = r.kill_and_time_election(leader).await;
    eprintln!("leader election after SIGKILL of the leader: {elected:?} (session timeout {SESSION:?}, poll {POLL:?})");
    commit(bs, &group, &[(&topic, 0, 100)]);
    wait_change(&sink, "resolved", Duration::from_secs(30)).await;
    // Time for a duplicate to show up if one were coming.
    tokio::time::sleep(POLL * 6).await;
    let got = changes(&sink).await;
    assert_eq!(count(&got, "opened"), 1, "{got:?}");
    assert_eq!(count(&got, "resolved"), 1, "{got:?}");
    assert!(
        elected <= bound,
        "election took {elected:?}, bound {bound:?}"
    );
}

/// The leader dies with the "opened" message written to the state topic but not delivered
/// (the sink refuses it): the next leader delivers it once, and the "resolved" once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_message_written_but_not_delivered_is_sent_once_by_the_next_leader() {
    let _brokers = shared().await;
    let bs = env().plaintext();
    let (topic, group) = lagging(bs).await;
    let sink = sink(503).await;
    let mut r = Replicas::start(3, bs, &group, &sink.uri());
    let leader = r.one_leader(Some(3), Duration::from_secs(60)).await;
    // Attempted (so queued and written) but refused.
    wait_change(&sink, "opened", Duration::from_secs(30)).await;
    let _ = r.kill_and_time_election(leader).await;
    // From now on only what the new leader sends is recorded.
    sink.reset().await;
    mount(&sink, 200).await;
    wait_change(&sink, "opened", Duration::from_secs(30)).await;
    commit(bs, &group, &[(&topic, 0, 100)]);
    wait_change(&sink, "resolved", Duration::from_secs(30)).await;
    tokio::time::sleep(POLL * 6).await;
    let got = changes(&sink).await;
    assert_eq!(count(&got, "opened"), 1, "{got:?}");
    assert_eq!(count(&got, "resolved"), 1, "{got:?}");
}
