"""The seed incident's Spark query, for real: Structured Streaming over Kafka with
startingOffsets=earliest and maxOffsetsPerTrigger, a sink that takes a known time per
batch, and the checkpoint on local disk. Used by tests/it/source/spark_real.rs and
benches/spark-seed.sh.

Spark's own view of every batch (StreamingQueryProgress: batchId, numInputRows,
processedRowsPerSecond, durationMs, timestamp) is appended as one JSON line per batch to
--progress, so the caller can hold lagwatch's numbers against Spark's.

The caller steers it with files in --control:
  stop      stop the query (query.stop()), as an operator would
  restart   (after stop) delete the checkpoint and start again from latest on it
  quit      stop whatever runs and exit
It writes `started` there when the first query runs and `restarted` when the second does.
"""

import argparse
import json
import os
import shutil
import sys
import time

from pyspark.sql import SparkSession


def args():
    p = argparse.ArgumentParser()
    p.add_argument("--bootstrap", required=True)
    p.add_argument("--topic", required=True)
    p.add_argument("--checkpoint", required=True)
    p.add_argument("--progress", required=True)
    p.add_argument("--control", required=True)
    p.add_argument("--jars", required=True, help="comma-separated connector jars")
    p.add_argument("--max-offsets", type=int, default=10000)
    p.add_argument("--batch-seconds", type=float, default=2.0)
    p.add_argument("--name", default="seed")
    return p.parse_args()


def start(spark, a, starting):
    df = (
        spark.readStream.format("kafka")
        .option("kafka.bootstrap.servers", a.bootstrap)
        .option("subscribe", a.topic)
        .option("startingOffsets", starting)
        .option("maxOffsetsPerTrigger", str(a.max_offsets))
        .option("failOnDataLoss", "false")
        .load()
    )

    def sink(batch, batch_id):
        # Read every record (the work), then take the known extra time the seed's sink took.
        batch.select("offset").count()
        time.sleep(a.batch_seconds)

    return (
        df.writeStream.queryName(a.name)
        .option("checkpointLocation", a.checkpoint)
        .foreachBatch(sink)
        .start()
    )


def control(a, name):
    return os.path.exists(os.path.join(a.control, name))


def mark(a, name):
    with open(os.path.join(a.control, name), "w") as f:
        f.write(str(time.time()))


def main():
    a = args()
    os.makedirs(a.control, exist_ok=True)
    spark = (
        SparkSession.builder.master("local[2]")
        .appName("lagwatch-seed")
        .config("spark.jars", a.jars)
        .config("spark.ui.enabled", "false")
        .config("spark.sql.shuffle.partitions", "2")
        .config("spark.driver.memory", "1g")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("WARN")
    query = start(spark, a, "earliest")
    mark(a, "started")
    seen = set()
    phase = "first"
    with open(a.progress, "a") as out:
        while True:
            for prog in query.recentProgress if query is not None else []:
                # pyspark 4 gives StreamingQueryProgress objects, 3.x gives dicts.
                p = json.loads(prog.json) if hasattr(prog, "json") else dict(prog)
                key = (p["id"], p["batchId"])
                if key not in seen:
                    seen.add(key)
                    p["phase"] = phase
                    out.write(json.dumps(p) + "\n")
                    out.flush()
            if control(a, "quit"):
                break
            if phase == "first" and control(a, "stop"):
                query.stop()
                mark(a, "stopped")
                phase = "stopped"
            elif phase == "stopped" and control(a, "restart"):
                shutil.rmtree(a.checkpoint, ignore_errors=True)
                query = start(spark, a, "latest")
                phase = "second"
                mark(a, "restarted")
            if query is not None and not query.isActive and phase != "stopped":
                print(f"query ended: {query.exception()}", file=sys.stderr)
                sys.exit(1)
            time.sleep(0.2)
    if query is not None and query.isActive:
        query.stop()
    spark.stop()


if __name__ == "__main__":
    main()
