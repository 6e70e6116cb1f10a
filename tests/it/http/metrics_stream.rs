//! The streamed /metrics body is byte-identical to the whole-string rendering, in both
//! formats, for a state large enough to span many chunks; gzipped, it decompresses to it.

use futures::StreamExt;
use lagwatch::config::RulesConfig;
use lagwatch::metrics::{Metrics, CHUNK};
use lagwatch::model::Model;
use lagwatch::snapshot::{GroupSnapshot, PartitionOffsets, Snapshot, TopicPartition};
use lagwatch::state::AppState;
use std::io::Read;
use std::sync::Arc;

const TOPICS: usize = 150;
const PARTITIONS: i32 = 10;
const T0: f64 = 1_700_000_000.0;

/// One group per topic; odd groups consume slower than the producers (ETA +Inf, lines the
/// writer must rewrite), even groups faster.
fn snapshot(now: f64, step: i64) -> Snapshot {
    let mut s = Snapshot::new("prod", now);
    for t in 0..TOPICS {
        let topic = format!("topic-{t:04}");
        let mut g = GroupSnapshot::kafka(format!("group-{t:04}"), "Stable", Some(3));
        for p in 0..PARTITIONS {
            let tp = TopicPartition::new(topic.as_str(), p);
            s.partitions.insert(
                tp.clone(),
                PartitionOffsets {
                    log_start: 0,
                    log_end: 1_000_000 + 1_000 * step,
                },
            );
            let consumed = if t % 2 == 0 { 2_000 } else { 500 };
            g.committed.insert(tp, 10_000 + consumed * step);
        }
        s.groups.insert(g.name.clone(), g);
    }
    s
}

fn large_metrics() -> Arc<Metrics> {
    let state = AppState::new(["prod"]);
    let metrics = Metrics::new(state.clone());
    let mut model = Model::new(RulesConfig::default(), std::time::Duration::from_secs(15));
    let mut view = None;
    for step in 0..4 {
        let now = T0 + 15.0 * step as f64;
        view = Some(model.update(&snapshot(now, step), now));
    }
    state.update("prod", |c| {
        c.view = view.map(Arc::new);
        c.up = true;
        c.polled = true;
        c.last_success = Some(T0 + 45.0);
    });
    metrics.poll_error("prod", "offsets");
    metrics
}

/// Every chunk of one streamed body.
async fn chunks(metrics: &Arc<Metrics>, om: bool, gzip: bool) -> Vec<bytes::Bytes> {
    let mut out = Vec::new();
    let mut s = std::pin::pin!(metrics.stream(om, gzip));
    while let Some(c) = s.next().await {
        out.push(c.expect("chunk"));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn streamed_body_equals_whole_rendering_in_both_formats() {
    let metrics = large_metrics();
    for om in [false, true] {
        let whole = metrics.render(om).expect("render");
        assert!(whole.contains(" +Inf\n") && !whole.contains(" inf\n"));
        assert!(whole.len() > 10 * CHUNK, "state too small: {}", whole.len());
        let chunks = chunks(&metrics, om, false).await;
        for c in &chunks {
            // Cut at line ends, and never much past the target size.
            assert_eq!(c.last(), Some(&b'\n'));
            assert!(c.len() <= CHUNK + 4096, "chunk of {} bytes", c.len());
        }
        let streamed: Vec<u8> = chunks.concat();
        assert!(
            streamed == whole.as_bytes(),
            "streamed body differs (openmetrics: {om})"
        );
    }
}

fn gunzip(bytes: &[u8]) -> String {
    let mut out = String::new();
    flate2::read::GzDecoder::new(bytes)
        .read_to_string(&mut out)
        .expect("one valid gzip stream");
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn gzipped_stream_decompresses_to_the_whole_rendering() {
    let metrics = large_metrics();
    for om in [false, true] {
        let whole = metrics.render(om).expect("render");
        let chunks = chunks(&metrics, om, true).await;
        // Bounded: at most one text chunk's compressed bytes past the target size.
        for c in &chunks {
            assert!(c.len() <= 2 * CHUNK + 4096, "chunk of {} bytes", c.len());
        }
        let gz: Vec<u8> = chunks.concat();
        assert!(
            gz.len() * 4 < whole.len(),
            "{} of {}",
            gz.len(),
            whole.len()
        );
        assert!(
            gunzip(&gz) == whole,
            "gunzipped body differs (openmetrics: {om})"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn http_metrics_serves_the_streamed_body() {
    let metrics = large_metrics();
    let state = AppState::new(["unused"]);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    let ctx = lagwatch::http::HttpCtx {
        state,
        metrics: metrics.clone(),
        auth: None,
    };
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(lagwatch::http::serve(listener, ctx, None, async {
        let _ = stopped.await;
    }));
    // reqwest is built without a default crypto provider; app::start installs this one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    let client = reqwest::Client::new();
    for (om, accept) in [
        (false, "text/plain"),
        (
            true,
            "application/openmetrics-text;version=1.0.0,text/plain;q=0.5",
        ),
    ] {
        let body = client
            .get(format!("http://{addr}/metrics"))
            .header("accept", accept)
            .send()
            .await
            .expect("get")
            .text()
            .await
            .expect("body");
        assert!(
            body == metrics.render(om).expect("render"),
            "served body differs (openmetrics: {om})"
        );
    }
    // Rows: Accept-Encoding, gzipped?, why.
    let rows = [
        (
            None,
            false,
            "no header: plain text, as curl without --compressed",
        ),
        (Some("gzip"), true, "Prometheus' header"),
        (Some("gzip;q=0, identity"), false, "gzip refused"),
    ];
    for (encoding, gzipped, why) in rows {
        let mut req = client.get(format!("http://{addr}/metrics"));
        if let Some(e) = encoding {
            req = req.header("accept-encoding", e);
        }
        let r = req.send().await.expect("get");
        assert_eq!(r.status(), 200, "{why}");
        let vary = r.headers().get("vary").and_then(|v| v.to_str().ok());
        assert_eq!(vary, Some("accept, accept-encoding"), "{why}");
        let ce = r
            .headers()
            .get("content-encoding")
            .map(|v| v.as_bytes().to_vec());
        let bytes = r.bytes().await.expect("body");
        let body = if gzipped {
            assert_eq!(ce.as_deref(), Some(&b"gzip"[..]), "{why}");
            gunzip(&bytes)
        } else {
            assert_eq!(ce, None, "{why}");
            String::from_utf8(bytes.to_vec()).expect("utf-8")
        };
        assert!(
            body == metrics.render(false).expect("render"),
            "{why}: body differs"
        );
    }
    let _ = stop.send(());
    server.await.expect("join").expect("serve");
}
