//! The status engine on a real broker (librdkafka mock cluster, in-process): a steady
//! producer and committers at chosen speeds drive every reason through lagwatch.

use crate::support::*;
use lagwatch::view::{ClusterView, GroupTopicView, Reason, Status};
use rdkafka::config::ClientConfig;
use rdkafka::consumer::{BaseConsumer, CommitMode, Consumer};
use rdkafka::mocking::MockCluster;
use rdkafka::{Offset, TopicPartitionList};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::broadcast;
use Reason::*;

fn cfg(bootstrap: &str) -> lagwatch::config::Config {
    config(&format!(
        r#"
listen: "127.0.0.1:0"
poll_interval: 250ms
clusters:
  - name: mock
    bootstrap_servers: "{bootstrap}"
    poll_timeout: 5s
    groups:
      names: [app, stuck, replay, lost]
rules:
  backlog_min_messages: 20
  backlog_min_seconds: 0.5
  rate_window: 2s
  for_polls: 2
  stopped_after: 60s
  overrides:
    - group: "^stuck$"
      stopped_after: 1s
    - group: "^replay$"
      lag_warning: 100
      lag_critical: 500
    - group: "^lost$"
      lag_warning: 5
"#
    ))
}

/// Shared state of the background producer and committer threads.
struct Traffic {
    produced: AtomicI64,
    /// Consumer speed as a multiple of the producer's, ×100.
    ratio_pct: AtomicU64,
    stop: AtomicBool,
}

/// The steady producer of the test, feeding `tr.produced` until `tr.stop`.
fn producer(bs: String, tr: Arc<Traffic>) {
    produce_steadily(&bs, "events", &tr.produced, &tr.stop);
}

/// Commits for group `app` at `ratio` × the producer's progress, never past the log end,
/// so the consume/produce ratio is what the test sets whatever the machine's load.
fn committer(bs: String, tr: Arc<Traffic>) {
    let c: BaseConsumer = ClientConfig::new()
        .set("bootstrap.servers", &bs)
        .set("group.id", "app")
        .set("enable.auto.commit", "false")
        .create()
        .expect("consumer");
    let (mut pos, mut last_seen, mut committed) = (0.0f64, 0i64, -1i64);
    while !tr.stop.load(Ordering::Relaxed) {
        let now = tr.produced.load(Ordering::Relaxed);
        let ratio = tr.ratio_pct.load(Ordering::Relaxed) as f64 / 100.0;
        pos = (pos + ratio * (now - last_seen) as f64).min(now as f64);
        last_seen = now;
        let target = pos as i64;
        if target != committed {
            let mut tpl = TopicPartitionList::new();
            tpl.add_partition_offset("events", 0, Offset::Offset(target))
                .expect("tpl");
            if c.commit(&tpl, CommitMode::Sync).is_ok() {
                committed = target;
            }
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn find<'a>(v: &'a ClusterView, g: &str, t: &str) -> Option<&'a GroupTopicView> {
    v.groups
        .iter()
        .find(|x| x.group == g)
        .and_then(|x| x.topics.iter().find(|x| &*x.topic == t))
}

/// Waits for a view where `pred` holds for group `g` on topic `t`; returns that topic view.
async fn wait_view(
    rx: &mut broadcast::Receiver<Arc<ClusterView>>,
    what: &str,
    g: &str,
    t: &str,
    mut pred: impl FnMut(&GroupTopicView) -> bool,
) -> GroupTopicView {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let v = match tokio::time::timeout_at(deadline, rx.recv()).await {
            Ok(Ok(v)) => v,
            Ok(Err(broadcast::error::RecvError::Lagged(_))) => continue,
            Ok(Err(e)) => panic!("views closed waiting for {what}: {e}"),
            Err(_) => panic!("timed out waiting for: {what}"),
        };
        if let Some(x) = find(&v, g, t).filter(|x| pred(x)) {
            return x.clone();
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_reason_on_a_real_broker() {
    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("events", 1, 1).expect("topic");
    mock.create_topic("bulk", 2, 1).expect("topic");
    mock.create_topic("big", 1, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "bulk", 0, 1000, false);
    produce_big(&bs, 12);
    commit(&bs, "lost", &[("big", 0, 0)]);
    commit(&bs, "stuck", &[("events", 0, 0)]);
    commit(&bs, "replay", &[("bulk", 0, 600)]);

    let tr = Arc::new(Traffic {
        produced: AtomicI64::new(0),
        ratio_pct: AtomicU64::new(40),
        stop: AtomicBool::new(false),
    });
    let threads = [
        std::thread::spawn({
            let (bs, tr) = (bs.clone(), tr.clone());
            move || producer(bs, tr)
        }),
        std::thread::spawn({
            let (bs, tr) = (bs.clone(), tr.clone());
            move || committer(bs, tr)
        }),
    ];
    let running = lagwatch::app::start(cfg(&bs)).await.expect("start");
    let mut rx = running.views.subscribe();

    // Consumer at 0.4x: falling behind (critical) once backlogged and the window filled.
    let x = wait_view(&mut rx, "app falling_behind", "app", "events", |x| {
        x.status == Status::Critical && x.reasons.contains(&FallingBehind)
    })
    .await;
    assert_eq!(x.drain_eta_seconds, Some(f64::INFINITY), "{x:?}");
    let ratio = x.throughput_ratio.expect("ratio known");
    assert!((0.2..0.7).contains(&ratio), "ratio {ratio}");
    assert!(x.partitions[0].lag_seconds.is_some(), "{x:?}");

    // The same state on /metrics.
    let text = scrape(running.addr).await;
    let tl = [("group", "app"), ("topic", "events")];
    assert!(
        metric(&text, "lagwatch_group_topic_consume_rate", &tl).is_some(),
        "{text}"
    );
    assert!(metric(&text, "lagwatch_topic_produce_rate", &[("topic", "events")]).is_some());
    assert!(metric(&text, "lagwatch_group_partition_lag_seconds", &tl).is_some());

    // A group that committed once and never again: stalled (window) and stopped (1 s).
    wait_view(&mut rx, "stuck stalled+stopped", "stuck", "events", |x| {
        x.reasons.contains(&Stalled) && x.reasons.contains(&Stopped)
    })
    .await;
    // Committed below the (retention-moved) log start: data loss.
    let x = wait_view(&mut rx, "lost data_loss", "lost", "big", |x| {
        x.reasons.contains(&DataLoss)
    })
    .await;
    assert!(
        x.partitions[0].log_start > 0 && x.partitions[0].messages_lost > 0,
        "{x:?}"
    );
    assert_eq!(
        (x.status, x.reasons.contains(&LagWarning)),
        (Status::Critical, true)
    );
    // Lag over its warning; partition 1 has no commit: no_commit rides along. (It also
    // stalls: the offset has not moved for the window.)
    wait_view(&mut rx, "replay lag_warning", "replay", "bulk", |x| {
        x.reasons.contains(&LagWarning) && x.reasons.contains(&NoCommit)
    })
    .await;
    // Reset to near the log start: rewind, backlog replay, critical lag.
    commit(&bs, "replay", &[("bulk", 0, 10)]);
    let x = wait_view(&mut rx, "replay rewind", "replay", "bulk", |x| {
        x.status == Status::Critical && x.reasons.contains(&Rewind)
    })
    .await;
    for r in [LagCritical, BacklogReplay, NoCommit] {
        assert!(x.reasons.contains(&r), "{r:?} in {x:?}");
    }
    let text = scrape(running.addr).await;
    let rl = |r| [("group", "stuck"), ("topic", "events"), ("reason", r)];
    assert_eq!(
        metric(&text, "lagwatch_group_topic_reason", &rl("stalled")),
        Some(1.0)
    );

    // Consumer at 1.1x: draining, but without headroom (warning, not critical).
    tr.ratio_pct.store(110, Ordering::Relaxed);
    let x = wait_view(&mut rx, "app low_headroom", "app", "events", |x| {
        x.status == Status::Warning && x.reasons == [LowHeadroom]
    })
    .await;
    assert!(x.drain_eta_seconds.is_some_and(f64::is_finite), "{x:?}");

    // Consumer at 2x: ok again, and the ETA shrinks as the backlog drains.
    tr.ratio_pct.store(200, Ordering::Relaxed);
    let mut etas = Vec::new();
    wait_view(&mut rx, "app ok and draining", "app", "events", |x| {
        if let Some(e) = x.drain_eta_seconds.filter(|e| e.is_finite()) {
            etas.push(e);
        }
        x.status == Status::Ok && etas.len() >= 2 && etas.last() < etas.first()
    })
    .await;

    tr.stop.store(true, Ordering::Relaxed);
    for t in threads {
        t.join().expect("traffic thread");
    }
    running.stop().await;
}
