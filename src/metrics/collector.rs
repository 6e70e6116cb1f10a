//! Encodes the latest views at scrape time; no Kafka call happens here.

use crate::state::AppState;
use crate::view::{ClusterView, Reason, Status};
use prometheus_client::collector::Collector;
use prometheus_client::encoding::DescriptorEncoder;
use prometheus_client::metrics::MetricType;
use std::borrow::Cow;
use std::fmt::Error;
use std::sync::Arc;

/// Builds the view-derived families from [`AppState`] on every scrape.
#[derive(Debug)]
pub struct ViewCollector {
    state: Arc<AppState>,
}

impl ViewCollector {
    /// A collector over `state`.
    pub fn new(state: Arc<AppState>) -> Self {
        ViewCollector { state }
    }
}

type Labels<'a> = Vec<(&'static str, Cow<'a, str>)>;

fn b(s: &str) -> Cow<'_, str> {
    Cow::Borrowed(s)
}

/// A sample value: offsets and counts stay exact integers (f64 would round above 2^53).
#[derive(Clone, Copy)]
enum Num {
    I(i64),
    F(f64),
}

impl From<i64> for Num {
    fn from(v: i64) -> Self {
        Num::I(v)
    }
}

impl From<f64> for Num {
    fn from(v: f64) -> Self {
        Num::F(v)
    }
}

/// One gauge family: name, help, and its samples.
struct Fam<'a> {
    name: &'static str,
    help: &'static str,
    samples: Vec<(Labels<'a>, Num)>,
}

impl<'a> Fam<'a> {
    fn new(name: &'static str, help: &'static str) -> Self {
        Fam {
            name,
            help,
            samples: Vec::new(),
        }
    }
    fn add(&mut self, labels: Labels<'a>, v: impl Into<Num>) {
        self.samples.push((labels, v.into()));
    }
    fn encode(&self, enc: &mut DescriptorEncoder) -> Result<(), Error> {
        // Families with no sample are left out so a scrape shows nothing that is not known.
        if self.samples.is_empty() {
            return Ok(());
        }
        let mut m = enc.encode_descriptor(self.name, self.help, None, MetricType::Gauge)?;
        for (labels, v) in &self.samples {
            let mut f = m.encode_family(labels)?;
            match v {
                Num::I(i) => f.encode_gauge(i)?,
                Num::F(x) => f.encode_gauge(x)?,
            }
        }
        Ok(())
    }
}

impl Collector for ViewCollector {
    fn encode(&self, mut enc: DescriptorEncoder) -> Result<(), Error> {
        let clusters = self.state.snapshot();
        let mut up = Fam::new(
            "lagwatch_cluster_up",
            "1 if the last poll reached the cluster",
        );
        let mut partial = Fam::new(
            "lagwatch_poll_partial",
            "1 if the last poll got only part of the answers",
        );
        let mut last = Fam::new(
            "lagwatch_last_poll_timestamp_seconds",
            "Unix time of the last poll that read the cluster",
        );
        let views: Vec<(&String, Option<&Arc<ClusterView>>)> =
            clusters.iter().map(|(n, s)| (n, s.view.as_ref())).collect();
        for (name, s) in &clusters {
            up.add(vec![("cluster", b(name))], i64::from(s.up));
            let p = s.view.as_ref().is_some_and(|v| v.partial);
            partial.add(vec![("cluster", b(name))], i64::from(p));
            if let Some(t) = s.last_success {
                last.add(vec![("cluster", b(name))], t);
            }
        }
        for f in [&up, &partial, &last] {
            f.encode(&mut enc)?;
        }
        encode_views(&views, &mut enc)
    }
}

fn encode_views(
    views: &[(&String, Option<&Arc<ClusterView>>)],
    enc: &mut DescriptorEncoder,
) -> Result<(), Error> {
    let mut end = Fam::new(
        "lagwatch_partition_log_end_offset",
        "High watermark of the partition",
    );
    let mut start = Fam::new(
        "lagwatch_partition_log_start_offset",
        "First retained offset of the partition",
    );
    let mut prate = Fam::new(
        "lagwatch_partition_produce_rate",
        "Messages per second produced to the partition",
    );
    let mut trate = Fam::new(
        "lagwatch_topic_produce_rate",
        "Messages per second produced to the topic",
    );
    let mut info = Fam::new(
        "lagwatch_group_info",
        "Group state and source (kafka or spark)",
    );
    let mut members = Fam::new("lagwatch_group_members", "Members of the consumer group");
    let mut committed = Fam::new(
        "lagwatch_group_partition_committed_offset",
        "Committed offset (next to consume)",
    );
    let mut plag = Fam::new(
        "lagwatch_group_partition_lag",
        "log_end - committed, messages",
    );
    let mut plag_s = Fam::new(
        "lagwatch_group_partition_lag_seconds",
        "Time lag of the partition, seconds",
    );
    let mut lost = Fam::new(
        "lagwatch_group_partition_messages_lost",
        "Messages deleted before consumption (committed < log start)",
    );
    let mut inflight = Fam::new(
        "lagwatch_group_partition_inflight_lag",
        "Spark: lag once the in-flight batch commits",
    );
    let mut tlag = Fam::new(
        "lagwatch_group_topic_lag",
        "Lag of the group on the topic, messages",
    );
    let mut tlag_s = Fam::new(
        "lagwatch_group_topic_max_lag_seconds",
        "Worst partition time lag on the topic, seconds",
    );
    let mut crate_ = Fam::new(
        "lagwatch_group_topic_consume_rate",
        "Messages per second the group consumes from the topic",
    );
    let mut ratio = Fam::new(
        "lagwatch_group_topic_throughput_ratio",
        "consume rate / produce rate (>= 1.2 wanted when backlogged)",
    );
    let mut eta = Fam::new(
        "lagwatch_group_topic_drain_eta_seconds",
        "Seconds until the lag drains at current rates (+Inf: never)",
    );
    let mut tstatus = Fam::new(
        "lagwatch_group_topic_status",
        "1 for the current status of the group on the topic",
    );
    let mut treason = Fam::new(
        "lagwatch_group_topic_reason",
        "1 per active reason of the group on the topic",
    );
    let mut glag = Fam::new("lagwatch_group_lag", "Total lag of the group, messages");
    let mut glag_s = Fam::new(
        "lagwatch_group_max_lag_seconds",
        "Worst time lag of the group, seconds",
    );
    let mut gstatus = Fam::new(
        "lagwatch_group_status",
        "1 for the current status of the group",
    );
    let mut spark_age = Fam::new(
        "lagwatch_spark_last_commit_age_seconds",
        "Seconds since the Spark query committed a batch",
    );
    for (cluster, view) in views {
        let Some(v) = view else { continue };
        let c: &str = cluster;
        for t in &v.topics {
            let topic: &str = &t.topic;
            if let Some(r) = t.produce_rate {
                trate.add(vec![("cluster", b(c)), ("topic", b(topic))], r);
            }
            for p in &t.partitions {
                let part: Cow<'_, str> = Cow::Owned(p.partition.to_string());
                let l = vec![
                    ("cluster", b(c)),
                    ("topic", b(topic)),
                    ("partition", part.clone()),
                ];
                end.add(l.clone(), p.log_end);
                start.add(l.clone(), p.log_start);
                if let Some(r) = p.produce_rate {
                    prate.add(l, r);
                }
            }
        }
        for g in &v.groups {
            let group: &str = &g.group;
            let source = match g.source {
                crate::snapshot::GroupSource::Kafka => "kafka",
                crate::snapshot::GroupSource::Spark => "spark",
            };
            info.add(
                vec![
                    ("cluster", b(c)),
                    ("group", b(group)),
                    ("state", b(&g.state)),
                    ("source", b(source)),
                ],
                1.0,
            );
            let gl = vec![("cluster", b(c)), ("group", b(group))];
            if let Some(m) = g.members {
                members.add(gl.clone(), i64::from(m));
            }
            glag.add(gl.clone(), g.lag);
            if let Some(s) = g.max_lag_seconds {
                glag_s.add(gl.clone(), s);
            }
            for st in Status::ALL {
                let mut l = gl.clone();
                l.push(("status", b(st.as_str())));
                gstatus.add(l, i64::from(st == g.status));
            }
            if let (crate::snapshot::GroupSource::Spark, Some(age)) =
                (g.source, g.last_commit_age_seconds)
            {
                spark_age.add(vec![("cluster", b(c)), ("query", b(group))], age);
            }
            for t in &g.topics {
                let topic: &str = &t.topic;
                let tl = vec![("cluster", b(c)), ("group", b(group)), ("topic", b(topic))];
                tlag.add(tl.clone(), t.lag);
                if let Some(s) = t.max_lag_seconds {
                    tlag_s.add(tl.clone(), s);
                }
                if let Some(r) = t.consume_rate {
                    crate_.add(tl.clone(), r);
                }
                if let Some(r) = t.throughput_ratio {
                    ratio.add(tl.clone(), r);
                }
                if let Some(e) = t.drain_eta_seconds {
                    eta.add(tl.clone(), e);
                }
                for st in Status::ALL {
                    let mut l = tl.clone();
                    l.push(("status", b(st.as_str())));
                    tstatus.add(l, i64::from(st == t.status));
                }
                for r in &t.reasons {
                    let mut l = tl.clone();
                    l.push(("reason", b(Reason::as_str(*r))));
                    treason.add(l, 1i64);
                }
                for p in &t.partitions {
                    let part: Cow<'_, str> = Cow::Owned(p.partition.to_string());
                    let pl = vec![
                        ("cluster", b(c)),
                        ("group", b(group)),
                        ("topic", b(topic)),
                        ("partition", part.clone()),
                    ];
                    committed.add(pl.clone(), p.committed);
                    plag.add(pl.clone(), p.lag);
                    lost.add(pl.clone(), p.messages_lost);
                    if let Some(s) = p.lag_seconds {
                        plag_s.add(pl.clone(), s);
                    }
                    if let Some(i) = p.inflight_lag {
                        inflight.add(pl, i);
                    }
                }
            }
        }
    }
    for f in [
        &end, &start, &prate, &trate, &info, &members, &committed, &plag, &plag_s, &lost,
        &inflight, &tlag, &tlag_s, &crate_, &ratio, &eta, &tstatus, &treason, &glag, &glag_s,
        &gstatus, &spark_age,
    ] {
        f.encode(enc)?;
    }
    Ok(())
}
