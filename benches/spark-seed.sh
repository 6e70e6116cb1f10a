#!/usr/bin/env bash
# The seed incident at its own size: 3,000,000 records already in a 3-partition topic, then a
# Spark Structured Streaming query with startingOffsets=earliest and maxOffsetsPerTrigger=10000
# whose sink takes a fixed time per batch (the seed's job took ~10 s per batch: 1,000 msg/s,
# 50 minutes). lagwatch reads the query's checkpoint and the topic; every few seconds this
# prints what lagwatch says (lag, reasons, consume rate, drain ETA, batch statistics) beside
# what Spark says of its last batch (StreamingQueryProgress).
#
#   benches/spark-seed.sh [--records N] [--batch-seconds S] [--minutes M] [--every S]
#
# --records 3000000, --batch-seconds 9 (plus Spark's own ~1 s: the seed's ~10 s), --minutes 0
# (until the backlog is drained), --every 15. Real Apache Kafka from .ci/kafka-cluster (started
# and stopped here unless one already runs), pyspark from .ci/install-spark, lagwatch built
# with cargo. Numbers of runs go in BENCHMARKS.md.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
RECORDS=3000000
BATCH_SECONDS=9
MINUTES=0
EVERY=15
PARTITIONS=3
while (($#)); do
    case "$1" in
    --records) RECORDS="$2"; shift 2 ;;
    --batch-seconds) BATCH_SECONDS="$2"; shift 2 ;;
    --minutes) MINUTES="$2"; shift 2 ;;
    --every) EVERY="$2"; shift 2 ;;
    *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
done

log() { echo "[spark-seed] $*" >&2; }

WORK="$(mktemp -d "${TMPDIR:-/tmp}/lagwatch-spark-seed.XXXXXX")"
PIDS=()
STARTED_CLUSTER=0
cleanup() {
    local p
    touch "$WORK/control/quit" 2>/dev/null || true
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    sleep 2
    for p in "${PIDS[@]}"; do kill -9 "$p" 2>/dev/null || true; done
    if [[ -n "${TOPIC:-}" && -n "${KTOOL:-}" ]]; then
        "$KTOOL" delete-topic --config "$ADMIN" --topic "$TOPIC" >/dev/null 2>&1 || true
    fi
    if ((STARTED_CLUSTER)); then bash "$ROOT/.ci/kafka-cluster" stop >/dev/null 2>&1 || true; fi
    log "work files kept in $WORK"
}
trap cleanup EXIT

spark_out="$(bash "$ROOT/.ci/install-spark")"
PY="$(tail -n2 <<<"$spark_out" | head -n1)"
JARS="$(tail -n1 <<<"$spark_out")"

bash "$ROOT/.ci/install-kafka" >/dev/null
if ! bash "$ROOT/.ci/kafka-cluster" status >/dev/null 2>&1; then
    bash "$ROOT/.ci/kafka-cluster" start >/dev/null
    STARTED_CLUSTER=1
fi
# shellcheck source=/dev/null
source "$(bash "$ROOT/.ci/kafka-cluster" env)"
KTOOL="$LAGWATCH_TEST_KAFKA_KTOOL"
ADMIN="$LAGWATCH_TEST_KAFKA_ADMIN_CONFIG"
BS="$LAGWATCH_TEST_KAFKA_PLAINTEXT"

(cd "$ROOT" && cargo build --quiet --bin lagwatch)
LAGWATCH="${CARGO_TARGET_DIR:-$ROOT/target}/debug/lagwatch"

TOPIC="transactions-$(date +%s)"
"$KTOOL" create-topic --config "$ADMIN" --topic "$TOPIC" --partitions "$PARTITIONS" >/dev/null
per=$((RECORDS / PARTITIONS))
t0=$SECONDS
for ((p = 0; p < PARTITIONS; p++)); do
    "$KTOOL" produce --config "$ADMIN" --topic "$TOPIC" --partition "$p" --count "$per" >/dev/null &
done
wait
log "produced $((per * PARTITIONS)) records into $TOPIC in $((SECONDS - t0)) s"

mkdir -p "$WORK/control"
"$PY" "$ROOT/tests/spark/seed_query.py" --bootstrap "$BS" --topic "$TOPIC" \
    --checkpoint "$WORK/checkpoint" --progress "$WORK/progress.jsonl" \
    --control "$WORK/control" --jars "$JARS" --max-offsets 10000 \
    --batch-seconds "$BATCH_SECONDS" >"$WORK/spark.log" 2>&1 &
PIDS+=("$!")
until [[ -e "$WORK/control/started" ]]; do sleep 1; done
log "query started $((SECONDS - t0)) s after the first record"

port=$((20000 + RANDOM % 20000))
cat >"$WORK/lagwatch.yaml" <<EOF
listen: 127.0.0.1:$port
poll_interval: 5s
clusters:
  - name: kafka
    bootstrap_servers: "$BS"
    groups: { names: [unused] }
    topics: { include: ["^$TOPIC\$"] }
    spark_queries:
      - name: seed
        checkpoint: "$WORK/checkpoint"
EOF
"$LAGWATCH" run --config "$WORK/lagwatch.yaml" >"$WORK/lagwatch.log" 2>&1 &
PIDS+=("$!")

# One line per report: lagwatch's view of the query, then Spark's last batch.
report() {
    "$PY" - "$port" "$WORK/progress.jsonl" <<'PYEOF'
import json, sys, urllib.request
port, progress = sys.argv[1], sys.argv[2]
try:
    s = json.load(urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v1/status", timeout=5))
except Exception as e:
    print(f"lagwatch not answering yet ({type(e).__name__})")
    sys.exit(0)
g = next((g for c in s.get("clusters", []) for g in c.get("groups", []) if g.get("group") == "spark:seed"), None)
if g is None:
    print("lagwatch: query not reported yet")
    sys.exit(0)
t = (g.get("topics") or [{}])[0]
sp = g.get("spark") or {}
def n(v, fmt="{:,.0f}"):
    return "-" if v is None else fmt.format(v)
line = (f"lag {n(g.get('lag'))} | {g.get('status')} {','.join(g.get('reasons', []))} | "
        f"consume {n(t.get('consume_rate'))}/s produce {n(t.get('produce_rate'))}/s | "
        f"ETA {n(t.get('drain_eta_seconds'))} s | batch {n(sp.get('batch_duration_seconds'), '{:.1f}')} s, "
        f"{n(sp.get('records_per_batch'))} rec, cap {n(sp.get('trigger_cap'))}")
last = None
try:
    with open(progress) as f:
        for l in f:
            last = json.loads(l)
except FileNotFoundError:
    pass
if last:
    line += (f" || Spark batch {last.get('batchId')}: {last.get('numInputRows')} rows, "
             f"{last.get('processedRowsPerSecond', 0):,.0f} rows/s, "
             f"{last.get('durationMs', {}).get('triggerExecution', 0)} ms")
print(line)
PYEOF
}

start=$SECONDS
while true; do
    sleep "$EVERY"
    line="$(report)"
    echo "t+$((SECONDS - start))s $line"
    if ((MINUTES > 0 && SECONDS - start >= MINUTES * 60)); then
        log "stopping after $MINUTES minutes"
        break
    fi
    if [[ "$line" == "lag 0 |"* ]]; then
        log "backlog drained after $((SECONDS - start)) s"
        break
    fi
done
