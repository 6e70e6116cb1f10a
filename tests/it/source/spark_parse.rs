//! The Spark offset-log parser and checkpoint reader on real Spark checkpoints (copied
//! from pyspark runs, see tests/fixtures/spark/README.md) and on Kafka-source files
//! written per Spark's format. No broker needed.

use lagwatch::snapshot::TopicPartition;
use lagwatch::source::spark::parse::{
    batch_id, parse_initial_offsets, parse_offset_log, parse_offset_log_bytes, ParseError,
};
use lagwatch::source::spark::{QueryReader, SparkReader};
use proptest::prelude::*;
use std::path::{Path, PathBuf};
use std::time::Duration;

fn fixture(rel: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures/spark")
        .join(rel)
}

fn read_fixture(rel: &str) -> String {
    std::fs::read_to_string(fixture(rel)).expect("fixture")
}

const META: &str = r#"{"batchWatermarkMs":0,"batchTimestampMs":1700000000123,"conf":{"spark.sql.shuffle.partitions":"2"}}"#;

fn tp(t: &str, p: i32) -> TopicPartition {
    TopicPartition::new(t, p)
}

#[test]
fn real_fixtures_parse_with_version_and_rate_source_ignored() {
    // (file, version, batchTimestampMs); the rate source's plain number is not Kafka.
    let rows = [
        ("spark-3.5.9/offsets/5", 1, 1795531367000),
        ("spark-4.3.0-offsetlog-v1/offsets/5", 1, 1795531225004),
        ("spark-4.3.0-offsetlog-v2/offsets/5", 2, 1795531281001),
        ("spark-4.3.0-foreachBatch-slow/offsets/2", 1, 1795531904917),
    ];
    for (file, version, ts) in rows {
        let log = parse_offset_log(&read_fixture(file)).unwrap_or_else(|e| panic!("{file}: {e}"));
        assert_eq!(log.version, version, "{file}");
        assert_eq!(log.batch_timestamp_ms, Some(ts), "{file}");
        assert!(log.kafka.is_empty(), "{file}");
        assert_eq!((log.other_sources, log.empty_sources), (1, 0), "{file}");
    }
}

#[test]
fn kafka_source_two_topics_three_partitions_any_key_order() {
    let text = format!(
        "v1\n{META}\n{}",
        r#"{"payments":{"2":75,"0":70,"1":71},"orders":{"1":1007,"0":998,"2":1042}}"#
    );
    let log = parse_offset_log(&text).expect("parse");
    let want: Vec<(TopicPartition, i64)> = vec![
        (tp("orders", 0), 998),
        (tp("orders", 1), 1007),
        (tp("orders", 2), 1042),
        (tp("payments", 0), 70),
        (tp("payments", 1), 71),
        (tp("payments", 2), 75),
    ];
    assert_eq!(log.kafka.into_iter().collect::<Vec<_>>(), want);
}

#[test]
fn v2_lines_carry_a_source_id() {
    let text = format!("v2\n{META}\n0:{}\n1:-\n2:42", r#"{"orders":{"0":5}}"#);
    let log = parse_offset_log(&text).expect("parse");
    assert_eq!(log.kafka.get(&tp("orders", 0)), Some(&5));
    assert_eq!((log.other_sources, log.empty_sources), (1, 1));
}

#[test]
fn dash_source_several_kafka_sources_and_a_non_kafka_one() {
    // Source 2 has no offset yet; sources 1 and 3 are Kafka and are merged; the same
    // partition in two sources (a self-join) takes the slower position.
    let text = format!(
        "v1\n{META}\n{}\n-\n{}\n{}",
        r#"{"orders":{"0":10}}"#, r#"{"clicks":{"0":3},"orders":{"0":7}}"#, r#"{"logOffset":4}"#
    );
    let log = parse_offset_log(&text).expect("parse");
    assert_eq!(log.kafka.get(&tp("orders", 0)), Some(&7));
    assert_eq!(log.kafka.get(&tp("clicks", 0)), Some(&3));
    assert_eq!((log.other_sources, log.empty_sources), (1, 1));
}

#[test]
fn broken_files_give_clear_errors() {
    let kafka = r#"{"orders":{"0":998,"1":1007}}"#;
    // (text, expected error); each row says why.
    let rows: Vec<(String, ParseError)> = vec![
        (String::new(), ParseError::Empty), // empty file
        (
            format!("v3\n{META}\n{kafka}"),
            ParseError::UnsupportedVersion(3),
        ), // newer Spark
        (
            format!("x1\n{META}\n{kafka}"),
            ParseError::BadVersion("x1".into()),
        ), // garbage header
        ("v1".into(), ParseError::BadMetadata), // cut after line 1
        (format!("v1\n{}", &META[..30]), ParseError::BadMetadata), // cut in metadata
        (format!("v1\n{META}"), ParseError::NoSources), // cut after metadata
        (
            format!("v1\n{META}\n{}", &kafka[..15]), // cut in the source
            ParseError::BadSource {
                line: 3,
                snippet: kafka[..15].into(),
            },
        ),
        (
            // Kafka-shaped but an offset is not a number: broken, not "another source".
            format!("v1\n{META}\n{{\"orders\":{{\"0\":\"five\",\"1\":3}}}}"),
            ParseError::BadOffset {
                line: 3,
                topic: "orders".into(),
                partition: "0".into(),
                value: "\"five\"".into(),
            },
        ),
    ];
    for (text, want) in rows {
        assert_eq!(parse_offset_log(&text), Err(want), "{text:?}");
    }
    assert_eq!(
        parse_offset_log_bytes(&[0xff, 0xfe, 0x00]),
        Err(ParseError::NotText)
    );
    assert!(ParseError::UnsupportedVersion(3).to_string().contains("v3"));
}

#[test]
fn only_integer_names_are_batches() {
    let rows = [
        ("0", Some(0)),
        ("17", Some(17)),
        (".17.crc", None),
        ("17.tmp", None),
        (".17.1234-uuid.tmp", None),
        ("", None),
        ("-1", None),
        ("99999999999999999999999", None), // does not fit u64
    ];
    for (name, want) in rows {
        assert_eq!(batch_id(name), want, "{name}");
    }
}

proptest! {
    #[test]
    fn never_panics_on_bytes(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = parse_offset_log_bytes(&bytes);
    }

    #[test]
    fn never_panics_on_text_shaped_like_a_log(
        header in "v[0-9]{0,3}",
        meta in ".{0,40}",
        lines in proptest::collection::vec("[-0-9:{}\",a-z ]{0,40}", 0..6),
    ) {
        let text = format!("{header}\n{meta}\n{}", lines.join("\n"));
        let _ = parse_offset_log(&text);
    }

    #[test]
    fn kafka_offsets_round_trip(offs in proptest::collection::btree_map(0i32..64, 0i64..i64::MAX, 1..8)) {
        let parts: Vec<String> = offs.iter().map(|(p, o)| format!("\"{p}\":{o}")).collect();
        let text = format!("v1\n{META}\n{{\"t\":{{{}}}}}", parts.join(","));
        let log = parse_offset_log(&text).expect("parse");
        for (p, o) in offs {
            prop_assert_eq!(log.kafka.get(&tp("t", p)), Some(&o));
        }
    }
}

fn query(name: &str, checkpoint: &str) -> lagwatch::config::SparkQueryConfig {
    lagwatch::config::SparkQueryConfig {
        name: name.into(),
        group: format!("spark:{name}"),
        checkpoint: checkpoint.into(),
        s3: None,
    }
}

fn no_env(_: &str) -> Option<String> {
    None
}

#[tokio::test]
async fn fixture_checkpoints_read_the_committed_batch() {
    // Every fixture's last offsets/N has its commits/N (the slow foreachBatch run finished
    // batch 2 before it was copied), so nothing is in flight.
    for dir in [
        "spark-3.5.9",
        "spark-4.3.0-offsetlog-v1",
        "spark-4.3.0-offsetlog-v2",
        "spark-4.3.0-foreachBatch-slow",
    ] {
        let path = fixture(dir);
        let q = QueryReader::new(
            &query("q", &path.display().to_string()),
            &no_env,
            Duration::from_secs(5),
        )
        .expect("open");
        let g = q.read().await.unwrap_or_else(|e| panic!("{dir}: {e}"));
        assert_eq!(g.name, "spark:q");
        assert!(g.committed.is_empty(), "rate source has no Kafka offsets");
        assert!(g.inflight.is_empty(), "{dir}: no batch in flight");
        // last_commit_at is the modification time of the highest commit file.
        let latest = if dir.ends_with("slow") {
            "commits/2"
        } else {
            "commits/5"
        };
        let mtime = std::fs::metadata(path.join(latest))
            .and_then(|m| m.modified())
            .expect("mtime");
        let latest_want = mtime
            .duration_since(std::time::UNIX_EPOCH)
            .expect("epoch")
            .as_millis() as f64
            / 1000.0;
        assert_eq!(g.last_commit_at, Some(latest_want), "{dir}");
    }
}

/// Writes a checkpoint with Kafka offsets: `batches` = (id, offsets line, committed).
fn write_checkpoint(root: &Path, batches: &[(u64, &str, bool)]) {
    for d in ["offsets", "commits"] {
        std::fs::create_dir_all(root.join(d)).expect("mkdir");
    }
    for (id, line, committed) in batches {
        std::fs::write(
            root.join(format!("offsets/{id}")),
            format!("v1\n{META}\n{line}"),
        )
        .expect("write");
        std::fs::write(root.join(format!("offsets/.{id}.crc")), b"crc").expect("write");
        if *committed {
            std::fs::write(
                root.join(format!("commits/{id}")),
                "v1\n{\"nextBatchWatermarkMs\":0}",
            )
            .expect("write");
        }
    }
    std::fs::write(root.join("offsets/9.tmp"), "v1\ngarbage").expect("write");
}

#[tokio::test]
async fn in_flight_batch_and_a_broken_query_beside_a_good_one() {
    let tmp = tempfile::tempdir().expect("tmp");
    let good = tmp.path().join("good");
    let bad = tmp.path().join("bad");
    write_checkpoint(
        &good,
        &[
            (3, r#"{"orders":{"0":10,"1":20}}"#, true),
            (4, r#"{"orders":{"1":25,"0":12}}"#, true),
            (5, r#"{"orders":{"0":15,"1":30}}"#, false), // planned, running
        ],
    );
    write_checkpoint(&bad, &[(0, r#"{"orders":{"0":1"#, true)]); // truncated
    let cfgs = [
        query("good", &format!("file://{}", good.display())),
        query("bad", &bad.display().to_string()),
        query("missing", &tmp.path().join("nope").display().to_string()),
    ];
    let reader = SparkReader::new(&cfgs, &no_env, Duration::from_secs(5)).expect("open");
    let results = reader.read_all().await;
    let by_name = |n: &str| {
        results
            .iter()
            .find(|(g, _)| g == n)
            .map(|(_, r)| r)
            .expect("result")
    };

    let g = by_name("spark:good").as_ref().expect("good query reads");
    assert_eq!(g.committed.get(&tp("orders", 0)), Some(&12));
    assert_eq!(g.committed.get(&tp("orders", 1)), Some(&25));
    assert_eq!(g.inflight.get(&tp("orders", 0)), Some(&15));
    assert_eq!(g.inflight.get(&tp("orders", 1)), Some(&30));
    assert!(g.last_commit_at.is_some());

    let e = by_name("spark:bad")
        .as_ref()
        .expect_err("truncated file")
        .to_string();
    assert!(
        e.contains("bad/offsets/0") && e.contains("truncated"),
        "{e}"
    );
    // A checkpoint directory that does not exist is an error (a typo in the path, or a
    // query that never started), never an empty query with lag 0 (issue 22).
    let e = by_name("spark:missing")
        .as_ref()
        .expect_err("missing dir")
        .to_string();
    assert!(e.contains("nope") && e.contains("no such directory"), "{e}");
}

#[tokio::test]
async fn offsets_file_deleted_between_list_and_read_is_an_error_of_this_poll() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_checkpoint(tmp.path(), &[(7, r#"{"orders":{"0":1}}"#, true)]);
    let reader = QueryReader::new(
        &query("q", &tmp.path().display().to_string()),
        &no_env,
        Duration::from_secs(5),
    )
    .expect("open");
    // A commit without its offsets file: what a purge racing the listing looks like.
    std::fs::remove_file(tmp.path().join("offsets/7")).expect("rm");
    let e = reader.read().await.expect_err("no offsets").to_string();
    assert!(e.contains("offsets/7"), "{e}");
    // The next poll reads again and succeeds once the file is back.
    write_checkpoint(tmp.path(), &[(7, r#"{"orders":{"0":1}}"#, true)]);
    let g = reader.read().await.expect("second poll");
    assert_eq!(g.committed.get(&tp("orders", 0)), Some(&1));
}

#[tokio::test]
async fn file_purged_between_list_and_read_is_reported_as_vanished() {
    let tmp = tempfile::tempdir().expect("tmp");
    write_checkpoint(tmp.path(), &[(1, r#"{"orders":{"0":1}}"#, true)]);
    let ck = lagwatch::source::spark::store::Checkpoint::open(
        &tmp.path().display().to_string(),
        None,
        &no_env,
        Duration::from_secs(5),
    )
    .expect("open");
    let listed = ck.list("offsets").await.expect("list");
    assert_eq!(
        listed.keys().copied().collect::<Vec<_>>(),
        vec![1],
        ".crc and .tmp skipped"
    );
    std::fs::remove_file(tmp.path().join("offsets/1")).expect("rm");
    let e = ck.read("offsets", &listed[&1]).await.expect_err("gone");
    assert!(
        matches!(
            e,
            lagwatch::source::spark::store::StoreError::Vanished { .. }
        ),
        "{e}"
    );
    assert!(e.to_string().contains("offsets/1"), "{e}");
}

#[test]
fn initial_offsets_rows() {
    let kafka = Some(vec![(tp("t", 0), 0), (tp("t", 1), 7)]);
    // Err(()) = broken: the reader reports the file.
    type Want = Result<Option<Vec<(TopicPartition, i64)>>, ()>;
    let rows: Vec<(&str, &[u8], Want)> = vec![
        (
            "Spark 3.x/4.x Kafka source: a zero byte, v1, the offsets",
            b"\0v1\n{\"t\":{\"0\":0,\"1\":7}}",
            Ok(kafka.clone()),
        ),
        (
            "files from before SPARK-19517 lack the zero byte",
            b"v1\n{\"t\":{\"0\":0,\"1\":7}}",
            Ok(kafka),
        ),
        (
            "the rate source keeps its start time there: not Kafka",
            b"v1\n1795531218526",
            Ok(None),
        ),
        (
            "negative offsets are earliest/latest markers, not positions",
            b"\0v1\n{\"t\":{\"0\":-2}}",
            Ok(Some(vec![])),
        ),
        ("an empty file is broken", b"", Err(())),
        (
            "no version header is broken",
            b"\0{\"t\":{\"0\":0}}",
            Err(()),
        ),
        (
            "a Kafka-shaped offset that is not an integer is broken",
            b"\0v1\n{\"t\":{\"0\":\"x\"}}",
            Err(()),
        ),
    ];
    for (why, bytes, want) in rows {
        let got = parse_initial_offsets(bytes)
            .map(|o| o.map(|m| m.into_iter().collect::<Vec<_>>()))
            .map_err(|_| ());
        assert_eq!(got, want, "{why}");
    }
}
