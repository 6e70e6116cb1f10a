use super::*;
use crate::snapshot::GroupSource;
use crate::view::{GroupTopicView, Status};

/// A topic of a group with the rates and ETA that matter here.
fn topic(
    name: &str,
    produce: Option<f64>,
    consume: Option<f64>,
    eta: Option<f64>,
) -> GroupTopicView {
    GroupTopicView {
        topic: name.into(),
        lag: 10,
        max_lag_seconds: None,
        produce_rate: produce,
        consume_rate: consume,
        throughput_ratio: None,
        drain_eta_seconds: eta,
        retention_seconds: None,
        retention_headroom_seconds: None,
        status: Status::Ok,
        reasons: vec![],
        settling: false,
        partitions: vec![],
    }
}

fn group(name: &str, lag: i64, topics: Vec<GroupTopicView>) -> GroupView {
    GroupView {
        group: name.into(),
        source: GroupSource::Kafka,
        state: "Stable".into(),
        group_type: Default::default(),
        members: Some(1),
        lag: Some(lag),
        max_lag_seconds: Some(2.5),
        status: Status::Ok,
        reasons: vec![],
        error: None,
        source_status: Status::Ok,
        settling: false,
        last_commit_age_seconds: None,
        spark: None,
        topics,
    }
}

fn view(at: f64, partial: bool, groups: Vec<GroupView>) -> ClusterView {
    ClusterView {
        cluster: "c".into(),
        taken_at: at,
        up: true,
        partial,
        errors: vec![],
        topics: vec![],
        groups,
    }
}

fn simple(name: &str, lag: i64) -> GroupView {
    group(
        name,
        lag,
        vec![topic("t", Some(1.0), Some(2.0), Some(10.0))],
    )
}

#[test]
fn memory_is_bounded_however_long_it_runs() {
    let mut h = History::new();
    for i in 0..(3 * POINTS) {
        h.record(&view(i as f64, false, vec![simple("a", 1), simple("b", 2)]));
    }
    assert_eq!(h.points_held(), 2 * POINTS, "two groups, POINTS each");
    // The memory figures in docs/web-page.md count on this size.
    assert_eq!(std::mem::size_of::<Point>(), 24);
    let s = h.series("c", "a").expect("a");
    assert_eq!(s.t.len(), POINTS);
    assert_eq!(s.t[0], (2 * POINTS) as f64, "the oldest points went first");
    assert_eq!(s.t[POINTS - 1], (3 * POINTS - 1) as f64);
}

#[test]
fn a_new_group_lines_up_with_the_newest_times() {
    let mut h = History::new();
    h.record(&view(1.0, false, vec![simple("a", 5)]));
    h.record(&view(2.0, false, vec![simple("a", 6), simple("b", 7)]));
    h.record(&view(3.0, false, vec![simple("a", 8), simple("b", 9)]));
    let b = h.series("c", "b").expect("b");
    assert_eq!(b.t, vec![2.0, 3.0], "b exists since the second poll");
    assert_eq!(b.lag, vec![Some(7), Some(9)]);
    let a = h.series("c", "a").expect("a");
    assert_eq!(a.t, vec![1.0, 2.0, 3.0]);
    assert_eq!(a.lag, vec![Some(5), Some(6), Some(8)]);
}

#[test]
fn partial_polls_leave_gaps_and_complete_ones_drop_gone_groups() {
    let mut h = History::new();
    h.record(&view(1.0, false, vec![simple("a", 5), simple("b", 1)]));
    h.record(&view(2.0, true, vec![simple("a", 6)]));
    let b = h.series("c", "b").expect("b survives a partial poll");
    assert_eq!(b.lag, vec![Some(1), None], "a gap, not a fake zero");
    assert_eq!(b.produce_rate, vec![Some(1.0), None]);
    h.record(&view(3.0, false, vec![simple("a", 7)]));
    assert_eq!(h.series("c", "b"), None, "gone after a complete poll");
    assert_eq!(h.points_held(), 3);
}

#[test]
fn a_view_published_twice_adds_nothing() {
    let mut h = History::new();
    h.record(&view(2.0, false, vec![simple("a", 5)]));
    h.record(&view(2.0, false, vec![simple("a", 6)]));
    h.record(&view(1.0, false, vec![simple("a", 7)]));
    assert_eq!(h.series("c", "a").expect("a").lag, vec![Some(5)]);
}

#[test]
fn group_totals() {
    // (topics, produce, consume, eta, why)
    type Case = (
        Vec<GroupTopicView>,
        Option<f64>,
        Option<f64>,
        Eta,
        &'static str,
    );
    let cases: Vec<Case> = vec![
        (
            vec![topic("x", Some(100.0), Some(1000.0), Some(3300.0))],
            Some(100.0),
            Some(1000.0),
            Eta(Some(3300.0)),
            "one topic: its own numbers",
        ),
        (
            vec![
                topic("x", Some(1.5), Some(2.0), Some(30.0)),
                topic("y", Some(2.5), Some(4.0), Some(60.0)),
            ],
            Some(4.0),
            Some(6.0),
            Eta(Some(60.0)),
            "rates add up; the group drains when its slowest topic does",
        ),
        (
            vec![
                topic("x", Some(1.0), None, Some(f64::INFINITY)),
                topic("y", Some(2.0), Some(1.0), Some(5.0)),
            ],
            Some(3.0),
            None,
            Eta(Some(f64::INFINITY)),
            "one unknown rate makes the sum unknown; a never-draining topic wins",
        ),
        (
            vec![
                topic("x", None, Some(1.0), None),
                topic("y", Some(2.0), Some(1.0), Some(5.0)),
            ],
            None,
            Some(2.0),
            Eta(None),
            "an unknown ETA makes the group's unknown",
        ),
        (vec![], None, None, Eta(None), "no topics: nothing is known"),
    ];
    for (topics, produce, consume, eta, why) in cases {
        let mut h = History::new();
        h.record(&view(1.0, false, vec![group("g", 3, topics)]));
        let s = h.series("c", "g").expect("g");
        assert_eq!(s.produce_rate, vec![produce], "{why}");
        assert_eq!(s.consume_rate, vec![consume], "{why}");
        assert_eq!(s.drain_eta_seconds, vec![eta], "{why}");
        assert_eq!(s.max_lag_seconds, vec![Some(2.5)], "{why}");
    }
}

#[test]
fn f32_values_come_back_without_invented_digits() {
    for (v, why) in [
        (100.0, "integers stay integers"),
        (0.1, "0.1 is not 0.10000000149"),
        (2_990_000.0 / 900.0, "an ETA keeps 7 digits"),
        (1.25e-4, "small rates keep their digits"),
    ] {
        let got = widen(v as f32);
        assert!((got - v).abs() <= v.abs() * 1e-6, "{why}: {got} vs {v}");
        assert!(format!("{got}").len() <= 12, "{why}: {got}");
    }
    assert_eq!(widen(f32::INFINITY), f64::INFINITY);
    let json = serde_json::to_string(&[Eta(Some(f64::INFINITY)), Eta(Some(2.0)), Eta(None)])
        .expect("json");
    assert_eq!(json, r#"["inf",2.0,null]"#);
}

#[test]
fn the_budget_sets_the_points_per_group() {
    let point = std::mem::size_of::<Point>();
    // (why, budget in points, groups, points per group)
    let cases: &[(&str, usize, usize, usize)] = &[
        ("no group yet: the full window", 699_050, 0, POINTS),
        (
            "the large size, 1,000 groups: far inside",
            699_050,
            1_000,
            POINTS,
        ),
        ("just inside: 5,825 x 120 fits", 699_050, 5_825, POINTS),
        ("the huge size, 10,000 groups: shared", 699_050, 10_000, 69),
        ("never below the floor", 699_050, 100_000, MIN_POINTS),
    ];
    for &(why, points, groups, want) in cases {
        assert_eq!(points_per_group(points * point, groups), want, "{why}");
    }
    assert_eq!(
        BUDGET_BYTES / point,
        699_050,
        "the rows above use the shipped budget"
    );
}

#[test]
fn more_groups_than_the_budget_holds_keep_fewer_points_each() {
    // Room for 300 points: 2 groups keep 120 each, 6 groups 50 each.
    let mut h = History::with_budget(300 * std::mem::size_of::<Point>());
    let names: Vec<String> = (0..6).map(|i| format!("g{i}")).collect();
    let groups = |n: usize| names[..n].iter().map(|g| simple(g, 1)).collect::<Vec<_>>();
    for i in 0..POINTS {
        h.record(&view(i as f64, false, groups(2)));
    }
    assert_eq!(h.points_per_group(), POINTS);
    assert_eq!(h.points_held(), 2 * POINTS);
    for i in POINTS..POINTS + 60 {
        h.record(&view(i as f64, false, groups(6)));
    }
    assert_eq!(h.points_per_group(), 50);
    assert_eq!(
        h.points_held(),
        6 * 50,
        "the older groups gave up their oldest points"
    );
    let s = h.series("c", "g0").expect("g0");
    assert_eq!(s.t.len(), 50);
    assert_eq!(
        s.t[49],
        (POINTS + 59) as f64,
        "still ending at the newest poll"
    );
    // Fewer groups again: the window grows back as polls come.
    for i in POINTS + 60..3 * POINTS {
        h.record(&view(i as f64, false, groups(2)));
    }
    assert_eq!(h.points_per_group(), POINTS);
    assert_eq!(h.points_held(), 2 * POINTS);
}

#[test]
fn groups_of_every_cluster_share_the_budget() {
    let mut h = History::with_budget(200 * std::mem::size_of::<Point>());
    let mut other = view(0.0, false, vec![simple("x", 1), simple("y", 1)]);
    other.cluster = "d".to_owned();
    h.record(&other);
    for i in 0..POINTS {
        h.record(&view(i as f64, false, vec![simple("a", 1), simple("b", 1)]));
    }
    assert_eq!(h.points_per_group(), MIN_POINTS.max(200 / 4));
    assert_eq!(h.series("c", "a").expect("a").t.len(), 50);
}
