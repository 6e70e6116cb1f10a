#!/usr/bin/env bash
# What the tests need besides cargo (sourced by .ci/run after lib.sh, not run on
# its own): tools the tests start themselves (prometheus, promtool, amtool, tansu,
# moto_server; found or installed here, their paths exported) and the services
# this run starts for them (one shared tansu broker).
#
# Adding a service: write stage_start_NAME (export what the tests need to reach
# it) and stop_NAME, NAME_fail_log and NAME_summary (each a no-op when the service
# never started), register them with
#   ci_on_exit stop_NAME NAME_fail_log NAME_summary
# below, and add `run_stage NAME-start stage_start_NAME` to .ci/run.

# ---------------------------------------------------------------- ports

port_open() { # true if something accepts TCP connections on 127.0.0.1:$1
    (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}

free_port_from_kernel() {
    python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'
}

# ---------------------------------------------------------------- tools

stage_tools() {
    PROMETHEUS_BIN="$(find_tool prometheus prometheus)"
    PROMTOOL_BIN="$(find_tool promtool prometheus)"
    AMTOOL_BIN="$(find_tool amtool prometheus-alertmanager)"
    # The Alertmanager the notifier's end-to-end test starts (tests/it/notify/alertmanager_live.rs).
    ALERTMANAGER_BIN="$(find_tool prometheus-alertmanager prometheus-alertmanager)"
    export PROMETHEUS_BIN PROMTOOL_BIN AMTOOL_BIN ALERTMANAGER_BIN
    log "PROMETHEUS_BIN=$PROMETHEUS_BIN ($("$PROMETHEUS_BIN" --version 2>&1 | head -n1))"
    log "PROMTOOL_BIN=$PROMTOOL_BIN"
    log "AMTOOL_BIN=$AMTOOL_BIN ($("$AMTOOL_BIN" --version 2>&1 | head -n1))"
    log "ALERTMANAGER_BIN=$ALERTMANAGER_BIN ($("$ALERTMANAGER_BIN" --version 2>&1 | head -n1))"
}

stage_install_moto() {
    # moto's S3-compatible server, for the Spark checkpoint-on-S3 test (tests/it/source/spark_s3.rs).
    MOTO_SERVER_BIN="$(bash "$ROOT/.ci/install-moto" | tail -n1)"
    [[ -x "$MOTO_SERVER_BIN" ]] || die "install-moto did not produce moto_server"
    export MOTO_SERVER_BIN
    log "MOTO_SERVER_BIN=$MOTO_SERVER_BIN"
}

# ---------------------------------------------------------------- helm, kubeconform

# For the chart's tests (tests/it/shipped/deploy.rs). Helm's build from the Go module proxy
# is minutes of CPU on a machine without Go's build cache, so it starts in the background
# early and overlaps the stages that mostly wait on the network (moto, Kafka, Chromium);
# stage_wait_k8s_tools collects it before the tests.
K8S_TOOLS_PID=""

stage_start_k8s_tools() {
    setsid bash "$ROOT/.ci/install-k8s-tools" </dev/null \
        >"$LOG_DIR/k8s-tools.out" 2>"$LOG_DIR/k8s-tools.log" &
    K8S_TOOLS_PID=$!
    log "install-k8s-tools running in the background (pid $K8S_TOOLS_PID, log $LOG_DIR/k8s-tools.log)"
}

stage_wait_k8s_tools() {
    local line
    [[ -n "$K8S_TOOLS_PID" ]] || die "install-k8s-tools was not started"
    if ! wait "$K8S_TOOLS_PID"; then
        K8S_TOOLS_PID=""
        die "install-k8s-tools failed (log: $LOG_DIR/k8s-tools.log)"
    fi
    K8S_TOOLS_PID=""
    sed 's/^/    /' "$LOG_DIR/k8s-tools.log" >&2
    # Its last three lines are NAME=VALUE.
    while IFS= read -r line; do
        case "$line" in
        HELM_BIN=* | KUBECONFORM_BIN=* | KUBECONFORM_SCHEMA_DIR=*) export "${line?}" ;;
        *) die "install-k8s-tools printed an unexpected line: $line" ;;
        esac
    done < <(tail -n3 "$LOG_DIR/k8s-tools.out")
    [[ -x "${HELM_BIN:-}" && -x "${KUBECONFORM_BIN:-}" && -d "${KUBECONFORM_SCHEMA_DIR:-}" ]] ||
        die "install-k8s-tools did not produce helm, kubeconform and the schemas"
    log "HELM_BIN=$HELM_BIN KUBECONFORM_BIN=$KUBECONFORM_BIN KUBECONFORM_SCHEMA_DIR=$KUBECONFORM_SCHEMA_DIR"
}

stop_k8s_tools() { # a run that failed before the wait: stop the build with its children
    if [[ -n "$K8S_TOOLS_PID" ]]; then
        kill -- "-$K8S_TOOLS_PID" 2>/dev/null || true
        wait "$K8S_TOOLS_PID" 2>/dev/null || true
        K8S_TOOLS_PID=""
    fi
}

k8s_tools_fail_log() {
    if [[ -s "$LOG_DIR/k8s-tools.log" ]]; then
        log "last lines of $LOG_DIR/k8s-tools.log:"
        tail -n 10 "$LOG_DIR/k8s-tools.log" | sed 's/^/    /'
    fi
}

k8s_tools_summary() { :; }

ci_on_exit stop_k8s_tools k8s_tools_fail_log k8s_tools_summary

stage_install_spark() {
    # pyspark and Spark's Kafka connector, for the real Spark test (tests/it/source/spark_real.rs).
    local out
    out="$(bash "$ROOT/.ci/install-spark")" || die "install-spark failed"
    LAGWATCH_TEST_SPARK_PYTHON="$(tail -n2 <<<"$out" | head -n1)"
    LAGWATCH_TEST_SPARK_JARS="$(tail -n1 <<<"$out")"
    [[ -x "$LAGWATCH_TEST_SPARK_PYTHON" ]] || die "install-spark did not produce a python"
    [[ -n "$LAGWATCH_TEST_SPARK_JARS" ]] || die "install-spark listed no connector jars"
    # Hadoop's S3A (~13 MB, not the SDK bundle) for the checkpoint-on-moto run.
    LAGWATCH_TEST_SPARK_S3A_JARS="$(bash "$ROOT/.ci/install-spark-s3a" | tail -n1)" ||
        die "install-spark-s3a failed"
    [[ -n "$LAGWATCH_TEST_SPARK_S3A_JARS" ]] || die "install-spark-s3a listed no jars"
    export LAGWATCH_TEST_SPARK_PYTHON LAGWATCH_TEST_SPARK_JARS LAGWATCH_TEST_SPARK_S3A_JARS
    log "LAGWATCH_TEST_SPARK_PYTHON=$LAGWATCH_TEST_SPARK_PYTHON"
    log "LAGWATCH_TEST_SPARK_JARS=$LAGWATCH_TEST_SPARK_JARS"
    log "LAGWATCH_TEST_SPARK_S3A_JARS=$LAGWATCH_TEST_SPARK_S3A_JARS"
}

# pyspark 3.5 (the formats test's second Spark line, tests/it/source/spark_formats.rs) is
# a ~300 MB download: stage_start_spark35 runs `.ci/install-spark 3.5` in the background
# once the 4.1 install is done, and stage_wait_spark35 collects it before the tests.
SPARK35_PID=""

stage_start_spark35() {
    setsid bash "$ROOT/.ci/install-spark" 3.5 </dev/null \
        >"$LOG_DIR/spark35.out" 2>"$LOG_DIR/spark35.log" &
    SPARK35_PID=$!
    log "install-spark 3.5 running in the background (pid $SPARK35_PID, log $LOG_DIR/spark35.log)"
}

stage_wait_spark35() {
    [[ -n "$SPARK35_PID" ]] || die "install-spark 3.5 was not started"
    if ! wait "$SPARK35_PID"; then
        SPARK35_PID=""
        tail -n 10 "$LOG_DIR/spark35.log" | sed 's/^/    /' >&2
        die "install-spark 3.5 failed (log: $LOG_DIR/spark35.log)"
    fi
    SPARK35_PID=""
    LAGWATCH_TEST_SPARK35_PYTHON="$(tail -n2 "$LOG_DIR/spark35.out" | head -n1)"
    LAGWATCH_TEST_SPARK35_JARS="$(tail -n1 "$LOG_DIR/spark35.out")"
    [[ -x "$LAGWATCH_TEST_SPARK35_PYTHON" ]] || die "install-spark 3.5 did not produce a python"
    [[ -n "$LAGWATCH_TEST_SPARK35_JARS" ]] || die "install-spark 3.5 listed no connector jars"
    export LAGWATCH_TEST_SPARK35_PYTHON LAGWATCH_TEST_SPARK35_JARS
    log "LAGWATCH_TEST_SPARK35_PYTHON=$LAGWATCH_TEST_SPARK35_PYTHON"
}

stop_spark35() { # a run that failed before the wait
    if [[ -n "$SPARK35_PID" ]]; then
        kill -- "-$SPARK35_PID" 2>/dev/null || true
        wait "$SPARK35_PID" 2>/dev/null || true
        SPARK35_PID=""
    fi
}

ci_on_exit stop_spark35 : :

stage_install_tansu() {
    TANSU_BIN="$(bash "$ROOT/.ci/install-tansu" | tail -n1)"
    [[ -x "$TANSU_BIN" ]] || die "install-tansu did not produce an executable"
    export TANSU_BIN
    log "TANSU_BIN=$TANSU_BIN"
}

# ---------------------------------------------------------------- tansu (shared broker)

TANSU_PID=""
TANSU_PORT=""

# Start tansu on $1; returns 0 once it accepts connections, 1 if it exited.
try_start_tansu() {
    local port="$1" url="tcp://127.0.0.1:$1" tansu_log="$LOG_DIR/tansu.log" i
    echo "=== $(date -u +%FT%TZ) starting tansu on $url" >>"$tansu_log"
    # Own session/process group (so the whole group can be stopped at exit);
    # drop env vars tansu reads that could change its behaviour or flood the log.
    setsid env -u RUST_LOG -u OTEL_EXPORTER_OTLP_ENDPOINT -u SCHEMA_REGISTRY \
        -u CLUSTER_ID -u LISTENER_URL -u ADVERTISED_LISTENER_URL -u STORAGE_ENGINE \
        "$TANSU_BIN" broker \
        --listener-url "$url" \
        --advertised-listener-url "$url" \
        --storage-engine memory://tansu/ \
        </dev/null >>"$tansu_log" 2>&1 &
    TANSU_PID=$!
    for ((i = 0; i < 300; i++)); do # up to ~15 s (normally ready in ~20 ms)
        if ! kill -0 "$TANSU_PID" 2>/dev/null; then
            wait "$TANSU_PID" 2>/dev/null || true
            TANSU_PID=""
            return 1
        fi
        if port_open "$port"; then
            return 0
        fi
        sleep 0.05
    done
    log "tansu did not accept connections on $port within 15s"
    stop_tansu
    return 1
}

stage_start_tansu() {
    local want="${LAGWATCH_CI_TANSU_PORT:-19092}" candidates=() port t0
    candidates=("$want" $((want + 1)) $((want + 2)) $((want + 3)))
    for _ in 1 2 3; do
        port="$(free_port_from_kernel 2>/dev/null || true)"
        if [[ -n "$port" ]]; then candidates+=("$port"); fi
    done
    : >"$LOG_DIR/tansu.log"
    for port in "${candidates[@]}"; do
        if port_open "$port"; then
            log "port $port is busy, trying another"
            continue
        fi
        t0="$(date +%s%N)"
        if try_start_tansu "$port"; then
            TANSU_PORT="$port"
            export LAGWATCH_TEST_TANSU="127.0.0.1:$port"
            log "tansu pid $TANSU_PID ready on $LAGWATCH_TEST_TANSU after $((($(date +%s%N) - t0) / 1000000)) ms (log: $LOG_DIR/tansu.log)"
            return 0
        fi
        log "tansu failed to start on port $port; log tail:"
        tail -n 5 "$LOG_DIR/tansu.log" | sed 's/^/    /'
    done
    die "could not start tansu on any of: ${candidates[*]}"
}

stop_tansu() {
    local pid="$TANSU_PID" i
    [[ -n "$pid" ]] || return 0
    TANSU_PID=""
    # tansu leads its own process group (setsid): stop the group, then the pid.
    kill -TERM -- "-$pid" 2>/dev/null || kill -TERM "$pid" 2>/dev/null || true
    for ((i = 0; i < 100; i++)); do
        kill -0 "$pid" 2>/dev/null || break
        sleep 0.05
    done
    if kill -0 "$pid" 2>/dev/null; then
        log "tansu (pid $pid) ignored SIGTERM for 5s, sending SIGKILL"
        kill -KILL -- "-$pid" 2>/dev/null || kill -KILL "$pid" 2>/dev/null || true
    fi
    wait "$pid" 2>/dev/null || true
    log "tansu stopped"
}

tansu_fail_log() {
    if [[ -s "$LOG_DIR/tansu.log" ]]; then
        log "last lines of $LOG_DIR/tansu.log:"
        tail -n 10 "$LOG_DIR/tansu.log" | sed 's/^/    /'
    fi
}

tansu_summary() {
    if [[ -n "$TANSU_PORT" ]]; then
        echo "  shared tansu: 127.0.0.1:$TANSU_PORT (TANSU_BIN=${TANSU_BIN:-?})"
    fi
}

ci_on_exit stop_tansu tansu_fail_log tansu_summary

# ---------------------------------------------------------------- Apache Kafka (3 nodes)

KAFKA_STARTED=""

stage_install_kafka() {
    # Apache Kafka and KTool (the tests' ground-truth client) from Maven Central.
    local out
    out="$(bash "$ROOT/.ci/install-kafka")" || die "install-kafka failed"
    printf '%s\n' "$out" | tail -n 2 | head -n 1 | sed 's/^/    /'
}

stage_start_kafka() {
    # A 3-node KRaft cluster with PLAINTEXT, SASL and TLS listeners; its addresses,
    # users and certificates are exported to the tests from its env file.
    KAFKA_STARTED=1
    bash "$ROOT/.ci/kafka-cluster" start >"$LOG_DIR/kafka-cluster.log" 2>&1 || {
        tail -n 30 "$LOG_DIR/kafka-cluster.log" >&2
        die "the Kafka cluster did not start (log: $LOG_DIR/kafka-cluster.log)"
    }
    local env_file="$ROOT/target/kafka-cluster/cluster.env"
    [[ -f "$env_file" ]] || die "kafka-cluster wrote no $env_file"
    # shellcheck source=/dev/null
    source "$env_file"
    log "Kafka ${LAGWATCH_TEST_KAFKA_VERSION:-?} ready: PLAINTEXT ${LAGWATCH_TEST_KAFKA_PLAINTEXT:-?}"
}

stop_kafka() {
    [[ -n "$KAFKA_STARTED" ]] || return 0
    KAFKA_STARTED=""
    bash "$ROOT/.ci/kafka-cluster" stop >>"$LOG_DIR/kafka-cluster.log" 2>&1 || true
    log "Kafka cluster stopped"
}

kafka_fail_log() {
    local f
    for f in "$ROOT"/target/kafka-cluster/node-*/server.log; do
        [[ -f "$f" ]] || continue
        log "last lines of $f:"
        tail -n 8 "$f" | sed 's/^/    /'
    done
}

kafka_summary() {
    [[ -n "${LAGWATCH_TEST_KAFKA_PLAINTEXT:-}" ]] &&
        echo "  Kafka ${LAGWATCH_TEST_KAFKA_VERSION:-?}: ${LAGWATCH_TEST_KAFKA_PLAINTEXT}"
    return 0
}

ci_on_exit stop_kafka kafka_fail_log kafka_summary
