//! Spark checkpoints in an S3-compatible store: a real moto server on 127.0.0.1
//! (`bash .ci/install-moto` prints the `moto_server` path for `MOTO_SERVER_BIN`), the
//! checkpoint uploaded through object_store, lag read by a running lagwatch.

use crate::support::*;
use lagwatch::config::S3Config;
use lagwatch::source::spark::store::Checkpoint;
use rdkafka::mocking::MockCluster;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const META: &str = r#"{"batchWatermarkMs":0,"batchTimestampMs":1700000000000,"conf":{}}"#;
const SECRET: &str = "s3cr3t-never-shown";

/// The moto_server binary, or None (with a note) when this machine has none and CI is not set.
fn moto_bin() -> Option<String> {
    match std::env::var("MOTO_SERVER_BIN") {
        Ok(b) if !b.is_empty() => Some(b),
        _ => {
            assert!(
                std::env::var("CI").is_err(),
                "MOTO_SERVER_BIN is not set: run the suite with `bash .ci/run`"
            );
            eprintln!("MOTO_SERVER_BIN not set: skipping this S3 test (`bash .ci/install-moto`)");
            None
        }
    }
}

/// A private moto S3 server on a free loopback port, killed on drop.
pub(super) struct Moto {
    pub(super) endpoint: String,
    child: Child,
}

impl Moto {
    pub(super) fn start() -> Option<Moto> {
        let bin = moto_bin()?;
        let port = free_port();
        let child = Command::new(bin)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn moto_server");
        let moto = Moto {
            endpoint: format!("http://127.0.0.1:{port}"),
            child,
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(
                Instant::now() < deadline,
                "moto_server did not start on {port}"
            );
            std::thread::sleep(Duration::from_millis(50));
        }
        Some(moto)
    }

    pub(super) fn s3(&self) -> S3Config {
        S3Config {
            endpoint: Some(self.endpoint.clone()),
            region: Some("us-east-1".into()),
            access_key_id: Some("lagwatch-test".into()),
            secret_access_key: Some(SECRET.into()),
            allow_http: true,
        }
    }
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn spark_lag_from_an_s3_checkpoint() {
    let Some(moto) = Moto::start() else { return };
    lagwatch::runtime::rustls_provider();
    // object_store cannot create buckets; moto accepts a plain path-style PUT.
    let r = reqwest::Client::new()
        .put(format!("{}/ckpt", moto.endpoint))
        .send()
        .await
        .expect("create bucket");
    assert!(r.status().is_success(), "create bucket: {}", r.status());

    // Upload through the same store code lagwatch reads with.
    let ck = Checkpoint::open(
        "s3a://ckpt/streams/q1",
        Some(&moto.s3()),
        &|_| None,
        Duration::from_secs(5),
    )
    .expect("open");
    let batch = |line: &str| format!("v1\n{META}\n{line}").into_bytes();
    ck.put("offsets/0", batch(r#"{"orders":{"0":3,"1":9}}"#))
        .await
        .expect("put");
    ck.put("offsets/.0.crc", b"crc".to_vec())
        .await
        .expect("put");
    ck.put("commits/0", b"v1\n{\"nextBatchWatermarkMs\":0}".to_vec())
        .await
        .expect("put");
    ck.put("offsets/1", batch(r#"{"orders":{"1":10,"0":8}}"#))
        .await
        .expect("put");

    let mock = MockCluster::new(1).expect("mock cluster");
    mock.create_topic("orders", 2, 1).expect("topic");
    let bs = mock.bootstrap_servers();
    produce(&bs, "orders", 0, 10, false);
    produce(&bs, "orders", 1, 10, false);

    let queries = format!(
        r#"      - name: q1
        checkpoint: "s3a://ckpt/streams/q1"
        s3: {{endpoint: "{ep}", region: us-east-1, access_key_id: lagwatch-test, secret_access_key: "{SECRET}", allow_http: true}}
      - name: nobucket
        checkpoint: "s3://no-such-bucket/q"
        s3: {{endpoint: "{ep}", access_key_id: lagwatch-test, secret_access_key: "{SECRET}", allow_http: true}}
"#,
        ep = moto.endpoint
    );
    let cfg = super::spark_mock::spark_config(&bs, &queries);
    let running = lagwatch::app::start(cfg).await.expect("start");
    let addr = running.addr;
    let lag = |t: &str, p: &str| {
        metric(
            t,
            "lagwatch_group_partition_lag",
            &[("group", "spark:q1"), ("partition", p)],
        )
    };
    let text = wait_for(Duration::from_secs(30), "spark:q1 lag from S3", || async {
        let t = scrape(addr).await;
        lag(&t, "0").map(|_| t)
    })
    .await;
    assert_eq!(lag(&text, "0"), Some(7.0));
    assert_eq!(lag(&text, "1"), Some(1.0));
    let inflight = |p: &str| {
        metric(
            &text,
            "lagwatch_group_partition_inflight_lag",
            &[("group", "spark:q1"), ("partition", p)],
        )
    };
    assert_eq!(inflight("0"), Some(2.0));
    assert_eq!(inflight("1"), Some(0.0));
    assert!(metric(
        &text,
        "lagwatch_spark_last_commit_age_seconds",
        &[("query", "spark:q1")]
    )
    .is_some());

    // The missing bucket is an error of that query only, and no error shows the secret.
    let errors = wait_for(Duration::from_secs(30), "nobucket error", || async {
        let s = running.state.snapshot();
        let v = s.get("mock")?.view.clone()?;
        let e: Vec<String> = v
            .errors
            .iter()
            .filter(|e| e.subject.as_deref() == Some("spark:nobucket"))
            .map(|e| e.message.clone())
            .collect();
        (!e.is_empty()).then_some(e)
    })
    .await;
    assert!(errors.iter().all(|e| !e.contains(SECRET)), "{errors:?}");
    assert!(!scrape(addr).await.contains(SECRET));
    let (_, status) = http_get(addr, "/api/v1/status").await;
    assert!(!status.contains(SECRET));
    running.stop().await;
}
