//! Criterion micro-benchmarks of the work lagwatch does per poll and per scrape, at the
//! issue's large size (1,000 groups x 10,000 partitions), through public APIs only so they
//! survive rewrites of the model internals.
//!
//! `CARGO_TARGET_DIR=... cargo bench --bench hot_paths`
//!
//! `HOT_PATHS_SCALE=10 HOT_PATHS_STEP=30` gives the scale harness's huge shape (10,000
//! groups x 100,000 partitions at 30 s polls) for the memory figures.

use criterion::{criterion_group, criterion_main, Criterion};
use lagwatch::config::RulesConfig;
use lagwatch::metrics::Metrics;
use lagwatch::model::Model;
use lagwatch::snapshot::{GroupSnapshot, PartitionOffsets, Snapshot, TopicPartition};
use lagwatch::state::AppState;
use std::alloc::{GlobalAlloc, Layout, System};
use std::hint::black_box;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// Counts live heap bytes so the bench can say what the model holds between polls.
struct Counting;

static LIVE: AtomicUsize = AtomicUsize::new(0);

// A counting allocator needs `unsafe` (the crate denies it outside the librdkafka bindings).
// SAFETY: every call is forwarded unchanged to the system allocator; only a counter is added.
#[allow(unsafe_code)]
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        // SAFETY: the caller's layout is passed on unchanged.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: `ptr` came from `System` with this layout (every allocation goes there).
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(new_size, Ordering::Relaxed);
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        // SAFETY: as for dealloc; the caller guarantees a valid `new_size`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOC: Counting = Counting;

const PARTITIONS: usize = 10;

/// `name` from the environment, else `default`.
fn knob(name: &str, default: usize) -> usize {
    std::env::var(name)
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

/// Topics (and groups, one per topic): 1,000 times `HOT_PATHS_SCALE`.
fn n_topics() -> usize {
    1_000 * knob("HOT_PATHS_SCALE", 1)
}

/// Seconds between two synthetic polls (`HOT_PATHS_STEP`, default 15).
fn step() -> f64 {
    knob("HOT_PATHS_STEP", 15) as f64
}
/// Polls used to warm the model before measuring.
const STEPS: usize = 8;

/// Poll `k` of a cluster where every partition gets 100 msg/s and every group consumes
/// 90 msg/s from a per-partition starting lag, so lags, rates and statuses are all non-trivial.
fn snapshot(k: usize, t0: f64) -> Snapshot {
    let now = t0 + k as f64 * step();
    let mut s = Snapshot::new("bench", now);
    let topics: Vec<Arc<str>> = (0..n_topics())
        .map(|t| Arc::from(format!("topic-{t:04}")))
        .collect();
    for topic in &topics {
        for p in 0..PARTITIONS {
            s.partitions.insert(
                TopicPartition {
                    topic: topic.clone(),
                    partition: p as i32,
                },
                PartitionOffsets {
                    log_start: 0,
                    log_end: 1_000_000 + (k as i64) * 1_500,
                },
            );
        }
    }
    for g in 0..n_topics() {
        let name = format!("group-{g:04}");
        let mut gs = GroupSnapshot::kafka(name.clone(), "Stable", Some(3));
        let topic = &topics[g % topics.len()];
        for p in 0..PARTITIONS {
            let start_lag = ((g * 7919 + p * 104_729) % 2_000_000) as i64;
            let committed = (1_000_000 - start_lag / 2).max(0) + (k as i64) * 1_350;
            gs.committed.insert(
                TopicPartition {
                    topic: topic.clone(),
                    partition: p as i32,
                },
                committed,
            );
        }
        s.groups.insert(name, gs);
    }
    s
}

/// Prints the heap the model holds once its rings are full (the window plus margin).
fn model_memory(t0: f64) {
    let before = LIVE.load(Ordering::Relaxed);
    let mut model = Model::new(
        RulesConfig::default(),
        std::time::Duration::from_secs(step() as u64),
    );
    // 300 s window + 30 s margin at 15 s polls: 23 samples per ring from poll 23 on.
    for k in 0..30 {
        let s = snapshot(k, t0);
        black_box(model.update(&s, s.taken_at));
    }
    // Snapshots and views are dropped: what is left is the model's memory between polls.
    let held = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let parts = n_topics() * PARTITIONS;
    eprintln!(
        "model heap at steady state: {held} bytes = {} per partition \
         (each with one group's commits), {} samples held",
        held / parts,
        model.samples_held()
    );
    // What one poll's input and output weigh: lagwatch holds the current and previous
    // snapshot (for carry-over) and the latest view (for /metrics and the API).
    let before = LIVE.load(Ordering::Relaxed);
    let s = snapshot(30, t0);
    let snap = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    let before = LIVE.load(Ordering::Relaxed);
    let view = model.update(&s, s.taken_at);
    let view_bytes = LIVE.load(Ordering::Relaxed).saturating_sub(before);
    eprintln!("one snapshot: {snap} bytes; one view: {view_bytes} bytes");
    black_box((s, view));
}

fn model_update(c: &mut Criterion) {
    let t0 = 1_700_000_000.0;
    let snaps: Vec<Snapshot> = (0..STEPS).map(|k| snapshot(k, t0)).collect();
    model_memory(t0);
    let mut model = Model::new(
        RulesConfig::default(),
        std::time::Duration::from_secs(step() as u64),
    );
    // Warm the model's history so the measured polls are steady-state ones.
    for s in &snaps {
        black_box(model.update(s, s.taken_at));
    }
    let mut k = STEPS;
    c.bench_function("model_update_10k_partitions_1k_groups", |b| {
        b.iter_batched(
            || {
                // Offsets keep growing poll after poll, as in production: no history resets.
                let s = snapshot(k, t0);
                k += 1;
                s
            },
            |s| black_box(model.update(&s, s.taken_at)),
            criterion::BatchSize::LargeInput,
        )
    });
}

fn metrics_render(c: &mut Criterion) {
    let t0 = 1_700_000_000.0;
    let mut model = Model::new(
        RulesConfig::default(),
        std::time::Duration::from_secs(step() as u64),
    );
    let mut view = None;
    for k in 0..STEPS {
        let s = snapshot(k, t0);
        view = Some(model.update(&s, s.taken_at));
    }
    let state = AppState::new(["bench"]);
    state.update("bench", |st| {
        st.view = view.map(Arc::new);
        st.up = true;
        st.polled = true;
        st.last_success = Some(t0);
    });
    let metrics = Metrics::new(state);
    let size = metrics.render(false).map(|b| b.len()).unwrap_or(0);
    eprintln!("classic /metrics body of the large view: {size} bytes");
    c.bench_function("metrics_render_text_10k_partitions_1k_groups", |b| {
        b.iter(|| black_box(metrics.render(false)))
    });
    c.bench_function("metrics_render_openmetrics_10k_partitions_1k_groups", |b| {
        b.iter(|| black_box(metrics.render(true)))
    });
}

criterion_group! {
    name = hot_paths;
    // Few samples: the machine is shared; these numbers are per-call means, not a race.
    config = Criterion::default().sample_size(20).measurement_time(Duration::from_secs(5));
    targets = model_update, metrics_render
}
criterion_main!(hot_paths);
