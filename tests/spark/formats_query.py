"""Short Structured Streaming queries over Kafka in one Spark session, one per way of naming
what a Kafka source reads, so lagwatch's checkpoint reader sees what real Spark writes:

  pattern    subscribePattern over two topics
  assign     assign: two of the three partitions of one topic
  two        two Kafka sources (subscribe each topic) unioned into one query
  slow       (with --slow) one topic whose sink stalls one batch for --stall seconds
  s3         (with --s3a-endpoint) subscribe, the checkpoint on S3 through Hadoop's S3A
             (s3a://<bucket>/s3/checkpoint, path-style, plain HTTP: moto)

Each reads what is there with a small maxOffsetsPerTrigger (several batches) under
Trigger.AvailableNow and ends. `slow` runs first (the caller watches it with lagwatch
while it runs), then the others. For every query, Spark's own progress per batch
(batchId, numInputRows, the sources' endOffset) is appended as JSON lines to
<out>/<name>/progress.jsonl; its checkpoint is <out>/<name>/checkpoint. `done` is written
to <out> at the end. Used by tests/it/source/spark_formats.rs with pyspark 4.1 and 3.5.
"""

import argparse
import json
import os
import time

from pyspark.sql import SparkSession


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic-a", required=True, help="3 partitions")
    p.add_argument("--topic-b", required=True, help="2 partitions")
    p.add_argument("--pattern", required=True, help="a regex matching both topics")
    p.add_argument("--out", required=True)
    p.add_argument("--jars", required=True, help="comma-separated connector jars")
    p.add_argument("--max-offsets", type=int, default=200)
    p.add_argument("--slow", default=None, help="the slow query's topic (1 partition)")
    p.add_argument("--slow-max-offsets", type=int, default=100)
    p.add_argument("--stall-batch", type=int, default=4)
    p.add_argument("--stall", type=float, default=30.0)
    p.add_argument("--s3a-endpoint", default=None, help="http://127.0.0.1:PORT (moto)")
    p.add_argument("--s3a-bucket", default="lagwatch-spark")
    p.add_argument(
        "--min-batches-to-retain",
        default=None,
        help="spark.sql.streaming.minBatchesToRetain for the queries after `slow`: Spark "
        "deletes older batches from the offsets and commits logs as it goes",
    )
    p.add_argument(
        "--offset-log-version",
        default=None,
        help="spark.sql.streaming.offsetLog.formatVersion (2: Spark 4.2+)",
    )
    return p.parse_args()


def source(spark, a, option, value, max_offsets):
    return (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap)
        .option(option, value)
        .option("startingOffsets", "earliest")
        .option("maxOffsetsPerTrigger", str(max_offsets))
        .option("failOnDataLoss", "false")
        .load()
        .select("topic", "partition", "offset")
    )


def run(spark, a, name, sources, sink_seconds=0.0, stall_batch=None, stall=0.0, cp=None):
    """Runs one query to its end and writes Spark's progress of every batch."""
    base = os.path.join(a.out, name)
    os.makedirs(base, exist_ok=True)
    cp = cp or os.path.join(base, "checkpoint")
    df = sources[0]
    for other in sources[1:]:
        df = df.union(other)

    def sink(batch, batch_id):
        batch.count()
        time.sleep(stall if batch_id == stall_batch else sink_seconds)

    started = time.time()
    q = (
        df.writeStream.queryName(name)
        .option("checkpointLocation", cp)
        .foreachBatch(sink)
        .trigger(availableNow=True)
        .start()
    )
    q.awaitTermination()
    if q.exception() is not None:
        raise SystemExit(f"query {name} failed: {q.exception()}")
    with open(os.path.join(base, "progress.jsonl"), "w") as out:
        for prog in q.recentProgress:
            # pyspark 4 gives StreamingQueryProgress objects, 3.x gives dicts.
            p = json.loads(prog.json) if hasattr(prog, "json") else dict(prog)
            out.write(json.dumps(p) + "\n")
    print(f"query {name}: {time.time() - started:.1f} s", flush=True)


def main():
    a = args()
    os.makedirs(a.out, exist_ok=True)
    t0 = time.time()
    b = (
        SparkSession.builder.master("local[2]")
        .appName("lagwatch-formats")
        .config("spark.jars", a.jars)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
    )
    if a.offset_log_version:
        b = b.config("spark.sql.streaming.offsetLog.formatVersion", a.offset_log_version)
    if a.s3a_endpoint:
        s3a = {
            "endpoint": a.s3a_endpoint,
            "endpoint.region": "us-east-1",
            "path.style.access": "true",
            "connection.ssl.enabled": "false",
            "access.key": "lagwatch-test",
            "secret.key": "lagwatch-test-secret",
            "aws.credentials.provider": "org.apache.hadoop.fs.s3a.SimpleAWSCredentialsProvider",
        }
        for k, v in s3a.items():
            b = b.config(f"spark.hadoop.fs.s3a.{k}", v)
    spark = b.getOrCreate()
    spark.sparkContext.setLogLevel("WARN")
    print(f"spark {spark.version} up in {time.time() - t0:.1f} s", flush=True)
    m = a.max_offsets
    if a.slow:
        slow = source(spark, a, "subscribe", a.slow, a.slow_max_offsets)
        run(spark, a, "slow", [slow], 1.0, a.stall_batch, a.stall)
    if a.min_batches_to_retain:
        # Read when each query starts: the slow query keeps its whole history (its median
        # batch needs it), the others lose their old batches while they run.
        spark.conf.set("spark.sql.streaming.minBatchesToRetain", a.min_batches_to_retain)
    run(spark, a, "pattern", [source(spark, a, "subscribePattern", a.pattern, m)])
    assign = json.dumps({a.topic_a: [0, 2]})
    run(spark, a, "assign", [source(spark, a, "assign", assign, m)])
    two = [
        source(spark, a, "subscribe", a.topic_a, m),
        source(spark, a, "subscribe", a.topic_b, m),
    ]
    run(spark, a, "two", two)
    if a.s3a_endpoint:
        s3 = source(spark, a, "subscribe", a.topic_a, m)
        run(spark, a, "s3", [s3], cp=f"s3a://{a.s3a_bucket}/s3/checkpoint")
    spark.stop()
    with open(os.path.join(a.out, "done"), "w") as f:
        f.write(str(time.time() - t0))
    print(f"all queries in {time.time() - t0:.1f} s", flush=True)


if __name__ == "__main__":
    main()
