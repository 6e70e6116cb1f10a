use super::*;
use bytes::BytesMut;
use kafka_protocol::records::{
    Compression, Record, RecordBatchEncoder, RecordEncodeOptions, TimestampType,
};

fn record(offset: i64, ts: i64, control: bool) -> Record {
    Record {
        transactional: control,
        control,
        delete_horizon: false,
        partition_leader_epoch: 0,
        producer_id: if control { 7 } else { -1 },
        producer_epoch: if control { 0 } else { -1 },
        timestamp_type: TimestampType::Creation,
        offset,
        sequence: if control { -1 } else { offset as i32 },
        timestamp: ts,
        key: None,
        value: Some(Bytes::from(vec![b'x'; 200])),
        headers: Default::default(),
    }
}

/// One batch per slice of records, in order.
fn batches(sets: &[Vec<Record>], compression: Compression) -> Bytes {
    let mut buf = BytesMut::new();
    for s in sets {
        let opts = RecordEncodeOptions {
            version: 2,
            compression,
        };
        RecordBatchEncoder::encode(&mut buf, s.iter(), &opts).expect("encodes");
    }
    buf.freeze()
}

fn found(offset: i64, ms: i64) -> RecordAnswer {
    RecordAnswer::Read(FirstRecord::Found(RecordStamp {
        offset,
        at: ms as f64 / 1000.0,
        log_append: false,
    }))
}

#[test]
fn the_record_at_the_offset_is_found_in_every_codec() {
    // Ten records 0..9 one second apart, in two batches (0..4, 5..9).
    let recs: Vec<Record> = (0..10)
        .map(|o| record(o, 1_000_000 + o * 1000, false))
        .collect();
    let sets = vec![recs[..5].to_vec(), recs[5..].to_vec()];
    for c in [
        Compression::None,
        Compression::Gzip,
        Compression::Snappy,
        Compression::Lz4,
        Compression::Zstd,
    ] {
        let bytes = batches(&sets, c);
        // (why, offset asked, record found)
        let rows = [
            ("first record of the first batch", 0, found(0, 1_000_000)),
            ("middle of a compressed batch", 3, found(3, 1_003_000)),
            ("first record of the second batch", 5, found(5, 1_005_000)),
            ("last record", 9, found(9, 1_009_000)),
        ];
        for (why, offset, want) in rows {
            assert_eq!(first_record(bytes.clone(), offset), want, "{c:?}: {why}");
        }
    }
}

#[test]
fn gaps_markers_and_cut_batches() {
    let compacted = batches(
        &[vec![
            record(0, 1000, false),
            record(5, 6000, false),
            record(9, 9000, false),
        ]],
        Compression::Gzip,
    );
    let committed_txn = batches(
        &[
            vec![record(0, 1000, false), record(1, 2000, false)],
            vec![record(2, 3000, true)],
            vec![record(3, 4000, false)],
        ],
        Compression::None,
    );
    let only_marker = batches(&[vec![record(2, 3000, true)]], Compression::None);
    let whole = batches(
        &[vec![record(0, 1000, false), record(1, 2000, false)]],
        Compression::None,
    );
    let cut = whole.slice(..whole.len() - 10);
    // A whole first batch and a second one cut short: the first answers.
    let two = batches(
        &[vec![record(0, 1000, false)], vec![record(1, 2000, false)]],
        Compression::None,
    );
    let first_whole = two.slice(..two.len() - 10);
    // (why, records, offset, answer)
    let rows: Vec<(&str, Bytes, i64, RecordAnswer)> = vec![
        (
            "compacted away: the next record kept",
            compacted.clone(),
            1,
            found(5, 6000),
        ),
        ("compacted: exact hit", compacted, 9, found(9, 9000)),
        (
            "a commit marker is skipped",
            committed_txn.clone(),
            2,
            found(3, 4000),
        ),
        (
            "records before the marker",
            committed_txn,
            1,
            found(1, 2000),
        ),
        (
            "only a marker up to the high watermark: nothing to consume",
            only_marker,
            2,
            RecordAnswer::Read(FirstRecord::NoData),
        ),
        (
            "the batch does not fit the limit: ask for its size",
            cut,
            0,
            RecordAnswer::TooSmall(whole.len() as i32),
        ),
        (
            "a cut batch after a whole one is ignored",
            first_whole,
            0,
            found(0, 1000),
        ),
    ];
    for (why, bytes, offset, want) in rows {
        assert_eq!(first_record(bytes, offset), want, "{why}");
    }
}

#[test]
fn broken_input_is_an_error_not_a_panic() {
    let good = batches(&[vec![record(0, 1000, false)]], Compression::None);
    let mut corrupt = BytesMut::from(&good[..]);
    let last = corrupt.len() - 1;
    corrupt[last] ^= 0xff;
    let mut old_format = BytesMut::from(&good[..]);
    old_format[16] = 1;
    for (why, bytes) in [
        ("bad CRC", corrupt.freeze()),
        ("magic 1", old_format.freeze()),
        ("empty", Bytes::new()),
    ] {
        assert!(
            matches!(first_record(bytes, 0), RecordAnswer::Failed(_)),
            "{why}"
        );
    }
}
