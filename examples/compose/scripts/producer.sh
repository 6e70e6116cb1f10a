#!/usr/bin/env bash
# Reproduces the seed: 3,000,000 messages produced before the consumer starts, then a
# steady trickle so the producer rate is not zero.
set -euo pipefail
bin=/opt/kafka/bin
$bin/kafka-topics.sh --bootstrap-server kafka:9092 --create --if-not-exists \
  --topic transactions --partitions 3 --replication-factor 1
$bin/kafka-producer-perf-test.sh --topic transactions --num-records 3000000 \
  --record-size 200 --throughput -1 --producer-props bootstrap.servers=kafka:9092
exec $bin/kafka-producer-perf-test.sh --topic transactions --num-records 1000000000 \
  --record-size 200 --throughput 100 --producer-props bootstrap.servers=kafka:9092
