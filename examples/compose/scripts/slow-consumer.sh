#!/usr/bin/env bash
# A consumer that starts from earliest and crawls at ~1,000 msg/s, like the seed's
# Spark job with maxOffsetsPerTrigger=10000 and ~10 s per micro-batch.
set -euo pipefail
sleep 60   # let the producer pile up the backlog first
while true; do
  /opt/kafka/bin/kafka-console-consumer.sh --bootstrap-server kafka:9092 \
    --topic transactions --group spark-streaming-group --from-beginning \
    --max-messages 10000 --timeout-ms 20000 >/dev/null || true
  sleep 10
done
