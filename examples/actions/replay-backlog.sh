#!/usr/bin/env bash
# Runbook for the seed incident: a Spark Structured Streaming query started with
# startingOffsets=earliest is replaying a huge backlog (reason `backlog_replay`) at streaming
# speed. The fix: stop the stream, process the backlog once as a batch job (spark.read from
# earliest to latest), then restart the stream from latest.
#
# lagwatch runs it as an action (see the `actions:` section of examples/lagwatch.yaml):
#   - the incident as JSON on stdin (schema_version 1: action, id, transition, cluster, alert);
#   - LAGWATCH_CLUSTER, LAGWATCH_GROUP, LAGWATCH_TOPIC, LAGWATCH_LAG, LAGWATCH_REASONS,
#     LAGWATCH_TRANSITION, LAGWATCH_INCIDENT_ID, LAGWATCH_DRAIN_ETA_SECONDS, ...
#
# SAFE BY DEFAULT: it only prints what it would do. It acts only with --execute or
# RUNBOOK_EXECUTE=1, and then only if the three commands below are set for your platform:
#   SPARK_STOP_CMD    stops the streaming query     (e.g. "yarn application -kill <app-id>",
#                                                    "kubectl scale deploy/etl --replicas=0")
#   SPARK_SUBMIT      spark-submit to use           (default: spark-submit)
#   SPARK_START_CMD   starts the stream again, from latest, with a NEW checkpoint location
#                     (an existing checkpoint would resume from its offsets, not from latest)
#   KAFKA_BOOTSTRAP   bootstrap servers for the batch read
#   OUTPUT_PATH       where the batch job writes (default: /data/backfill/<topic>)
#
# Exit status: 0 done (or printed), 1 a step failed, 2 refused (missing settings).
set -euo pipefail

execute="${RUNBOOK_EXECUTE:-0}"
if [[ "${1:-}" == "--execute" ]]; then
    execute=1
fi

# The incident document from lagwatch, kept for the log (not needed: the env has it all).
incident=""
if [[ ! -t 0 ]]; then
    incident="$(cat)"
fi

group="${LAGWATCH_GROUP:-spark-streaming-group}"
topic="${LAGWATCH_TOPIC:-transactions}"
cluster="${LAGWATCH_CLUSTER:-prod}"
lag="${LAGWATCH_LAG:-unknown}"
bootstrap="${KAFKA_BOOTSTRAP:-kafka:9092}"
output="${OUTPUT_PATH:-/data/backfill/${topic}}"
submit="${SPARK_SUBMIT:-spark-submit}"

echo "incident ${LAGWATCH_INCIDENT_ID:-manual}: ${cluster} ${group}/${topic}, lag ${lag}, reasons ${LAGWATCH_REASONS:-backlog_replay}"
if [[ -n "$incident" ]]; then
    echo "incident document: ${#incident} bytes on stdin"
fi
if [[ "${LAGWATCH_TRANSITION:-opened}" != "opened" ]]; then
    echo "transition ${LAGWATCH_TRANSITION}: nothing to do (this runbook acts on opened)"
    exit 0
fi

# The batch job: one pass over everything the stream has not processed, from earliest to
# the offsets that exist now (endingOffsets=latest is resolved once, when the job starts).
batch_job="$(mktemp --suffix=.py)"
trap 'rm -f "$batch_job"' EXIT
cat >"$batch_job" <<PY
from pyspark.sql import SparkSession

spark = SparkSession.builder.appName("backfill-${topic}").getOrCreate()
df = (
    spark.read.format("kafka")
    .option("kafka.bootstrap.servers", "${bootstrap}")
    .option("subscribe", "${topic}")
    .option("startingOffsets", "earliest")
    .option("endingOffsets", "latest")
    .load()
)
# Same transformation as the streaming query goes here.
df.selectExpr("CAST(key AS STRING)", "CAST(value AS STRING)", "topic", "partition", "offset") \\
    .write.mode("append").parquet("${output}")
spark.stop()
PY

run() { # prints a step; runs it only when executing
    echo "+ $*"
    if [[ "$execute" == "1" ]]; then
        bash -c "$*"
    fi
}

if [[ "$execute" != "1" ]]; then
    echo "DRY RUN (set RUNBOOK_EXECUTE=1 or pass --execute to act). Would run:"
fi
if [[ "$execute" == "1" ]]; then
    for v in SPARK_STOP_CMD SPARK_START_CMD KAFKA_BOOTSTRAP; do
        if [[ -z "${!v:-}" ]]; then
            echo "refusing to act: $v is not set" >&2
            exit 2
        fi
    done
fi

echo "1. stop the streaming query (it is replaying the backlog at streaming speed)"
run "${SPARK_STOP_CMD:-<SPARK_STOP_CMD: stop the streaming query of group ${group}>}"
echo "2. process the backlog in one batch: spark.read from earliest to latest"
run "${submit} --packages org.apache.spark:spark-sql-kafka-0-10_2.12:3.5.1 ${batch_job}"
echo "3. restart the stream from latest, with a new checkpoint location"
run "${SPARK_START_CMD:-<SPARK_START_CMD: start the query with startingOffsets=latest and a new checkpoint>}"
echo "done: lagwatch resolves the incident once the restarted query commits near the log end"
