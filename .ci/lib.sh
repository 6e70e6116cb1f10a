#!/usr/bin/env bash
# The machinery of .ci/run (sourced by it, not run on its own): logging, the stage
# runner and its time budget, the apt and cargo stages, and what happens at exit
# (stop services, reap leftover processes, print the summary).
#
# Expects: `set -euo pipefail`, ROOT set and the current directory at ROOT.
# Services (.ci/services.sh) hook into the exit with ci_on_exit.

CI_START="$(date +%s)"
BUDGET_SECS="${LAGWATCH_CI_BUDGET_SECS:-5100}"
LOG_DIR="$ROOT/target/ci-logs"
mkdir -p "$LOG_DIR"

export RUST_BACKTRACE=1
if [[ "${CI:-}" == "true" || "${CI:-}" == "1" ]]; then
    export CARGO_TERM_COLOR=never
fi
# Every process this run starts inherits this; used at exit to find leaked ones.
LAGWATCH_CI_RUN_ID="$$-$CI_START-$RANDOM"
export LAGWATCH_CI_RUN_ID

STAGES=()          # summary rows
CURRENT_STAGE=""
STAGE_T0=0
TEST_SUMMARY_LINE=""
CREATED_POLICY_RC=""
# What services registered for the exit (see ci_on_exit).
EXIT_STOP_HOOKS=()
EXIT_FAIL_HOOKS=()
EXIT_SUMMARY_HOOKS=()

log() { echo "[ci] $*"; }
die() { echo "[ci] ERROR: $*" >&2; exit 1; }
elapsed() { echo $(($(date +%s) - CI_START)); }

# ---------------------------------------------------------------- stages

run_stage() {
    local name="$1"; shift
    CURRENT_STAGE="$name"
    STAGE_T0=$SECONDS
    echo
    log "==> stage '$name' (t+$(elapsed)s)"
    "$@"
    STAGES+=("$(printf '  %-14s %-7s %6ss' "$name" ok $((SECONDS - STAGE_T0)))")
    CURRENT_STAGE=""
}

skip_stage() {
    STAGES+=("$(printf '  %-14s %-7s %6s   (%s)' "$1" skipped - "$2")")
    log "skip stage '$1': $2"
}

# Run a command with what is left of the time budget as its timeout, so that a
# hang fails this script with output instead of being killed by CI's limit.
with_deadline() {
    local left=$((CI_START + BUDGET_SECS - $(date +%s)))
    if ((left < 30)); then
        echo "[ci] ERROR: time budget (${BUDGET_SECS}s) used up before: $*" >&2
        return 124
    fi
    local rc=0
    # In the background + wait, so that a signal to this script is handled at
    # once (on_exit then stops everything this run started).
    timeout --kill-after=30 "$left" "$@" &
    wait "$!" || rc=$?
    if ((rc == 124 || rc == 137)); then
        echo "[ci] ERROR: timed out after ${left}s (budget ${BUDGET_SECS}s): $*" >&2
    fi
    return "$rc"
}

# ---------------------------------------------------------------- apt

pkg_installed() {
    [[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" == "installed" ]]
}

stage_apt() { # PACKAGES...: install those not installed yet
    local missing=() p
    command -v dpkg-query >/dev/null || die "dpkg-query not found: this script expects Debian"
    for p in "$@"; do
        pkg_installed "$p" || missing+=("$p")
    done
    if ((${#missing[@]} == 0)); then
        log "all $# apt packages already installed"
        return 0
    fi
    log "missing apt packages: ${missing[*]}"
    if [[ "$(id -u)" != "0" ]]; then
        die "not root, cannot install: ${missing[*]}
    install them yourself:  apt-get install --no-install-recommends ${missing[*]}
    or rerun with LAGWATCH_CI_SKIP_APT=1 if you have equivalents on PATH"
    fi
    # Debian's prometheus/alertmanager packages would start their daemons
    # (:9090, :9093) from postinst; forbid service starts unless a policy exists.
    if [[ ! -e /usr/sbin/policy-rc.d ]]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod +x /usr/sbin/policy-rc.d
        CREATED_POLICY_RC=1
    fi
    local apt_log="$LOG_DIR/apt.log" t0=$SECONDS
    export DEBIAN_FRONTEND=noninteractive
    if ! apt-get -o DPkg::Lock::Timeout=300 update -qq >"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        die "apt-get update failed (full log: $apt_log)"
    fi
    if ! apt-get -o DPkg::Lock::Timeout=300 -o Dpkg::Use-Pty=0 install -y -qq \
        --no-install-recommends "${missing[@]}" >>"$apt_log" 2>&1; then
        tail -n 30 "$apt_log" >&2
        die "apt-get install failed (full log: $apt_log)"
    fi
    remove_policy_rc
    log "installed ${missing[*]} in $((SECONDS - t0))s"
}

remove_policy_rc() {
    if [[ -n "$CREATED_POLICY_RC" ]]; then
        rm -f /usr/sbin/policy-rc.d
        CREATED_POLICY_RC=""
    fi
}

find_tool() { # name -> absolute path (PATH first, then /usr/bin)
    local p
    p="$(command -v "$1" 2>/dev/null || true)"
    [[ -n "$p" ]] || p="/usr/bin/$1"
    [[ -x "$p" ]] || die "$1 not found (Debian package: $2)"
    readlink -f "$p"
}

# ---------------------------------------------------------------- lint

# The shell scripts: every file under .ci/, benches/ and deploy/ that starts with a bash
# or sh shebang, or is named *.sh (the sourced libraries).
shell_scripts() {
    local f first shebang='^#!.*[/[:space:]](ba)?sh([[:space:]]|$)'
    while IFS= read -r -d '' f; do
        first=""
        IFS= read -r first <"$f" || true
        if [[ "$f" == *.sh || "$first" =~ $shebang ]]; then
            echo "${f#./}"
        fi
    done < <(find ./.ci ./benches ./deploy -type f -print0 | sort -z)
}

stage_shellcheck() {
    local scripts=()
    mapfile -t scripts < <(shell_scripts)
    ((${#scripts[@]})) || die "no shell scripts found under .ci/, benches/ and deploy/"
    log "$(shellcheck --version | sed -n 's/^version: /shellcheck /p'): ${scripts[*]}"
    # -x: follow `source` into lib.sh/services.sh (paths given by source= directives).
    shellcheck -x "${scripts[@]}"
}

# ---------------------------------------------------------------- cargo

LOCKED=()
if [[ -f Cargo.lock ]]; then LOCKED=(--locked); fi

stage_fmt() {
    local color=auto
    [[ "${CARGO_TERM_COLOR:-}" == "never" ]] && color=never
    with_deadline cargo fmt --all -- --check --color "$color"
}

stage_clippy() { with_deadline cargo clippy --all-targets "${LOCKED[@]}" -- -D warnings; }

stage_tests() {
    local tlog="$LOG_DIR/tests.log"
    if cargo nextest --version >/dev/null 2>&1; then
        log "runner: $(cargo nextest --version 2>/dev/null | head -n1)"
        # nextest prints its own closing "Summary [...] N tests run: ..." line.
        { with_deadline cargo nextest run --all-targets --no-fail-fast "${LOCKED[@]}" "$@" 2>&1 | tee "$tlog"; } &
        wait "$!"
    else
        # cargo test shares its stdout with the tests' children: a leaked child
        # would hold a pipe (and this script) open, so write to a file instead.
        log "runner: cargo test (cargo-nextest not found); output shown when it ends"
        # In the background + wait (as for nextest), so that a signal is handled by
        # this shell with its own stdout: on_exit's summary must not go to $tlog.
        local rc=0
        { with_deadline cargo test --all-targets --no-fail-fast "${LOCKED[@]}" "$@" >"$tlog" 2>&1; } &
        wait "$!" || rc=$?
        cat "$tlog"
        return "$rc"
    fi
}

# The runner's closing line, repeated as the very last line of this script.
collect_test_summary() {
    local tlog="$LOG_DIR/tests.log"
    [[ -f "$tlog" ]] || return 0
    TEST_SUMMARY_LINE="$(grep -E '^[[:space:]]*Summary \[' "$tlog" | tail -n1 || true)"
    if [[ -z "$TEST_SUMMARY_LINE" ]] && grep -q '^test result: ' "$tlog"; then
        # cargo test: add up its per-binary "test result:" lines.
        TEST_SUMMARY_LINE="$(awk '/^test result: /{
                for (i = 1; i <= NF; i++) {
                    if ($(i+1) ~ /^passed/) p += $i
                    if ($(i+1) ~ /^failed/) f += $i
                    if ($(i+1) ~ /^ignored/) s += $i
                }
            } END { printf "tests: %d passed, %d failed, %d skipped\n", p, f, s }' "$tlog")"
    fi
}

# ---------------------------------------------------------------- leftovers

# Kill processes still alive that were started (directly or not) by this run:
# they carry LAGWATCH_CI_RUN_ID in their initial environment. Only exec'd
# descendants can match (this shell's own /proc environ predates the export).
reap_leaked() {
    local d pid kv leaked=() cmd
    for d in /proc/[0-9]*; do
        pid="${d#/proc/}"
        [[ "$pid" == "$$" || "$pid" == "$BASHPID" ]] && continue
        [[ -r "$d/environ" ]] || continue
        while IFS= read -r -d '' kv; do
            if [[ "$kv" == "LAGWATCH_CI_RUN_ID=$LAGWATCH_CI_RUN_ID" ]]; then
                leaked+=("$pid")
                break
            fi
        done 2>/dev/null <"$d/environ" || true
    done
    ((${#leaked[@]})) || return 0
    for pid in "${leaked[@]}"; do
        cmd="$(tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | cut -c1-160 || true)"
        log "WARNING: stopping leftover process $pid started by this run: $cmd"
        kill -TERM "$pid" 2>/dev/null || true
    done
    sleep 1
    for pid in "${leaked[@]}"; do
        kill -KILL "$pid" 2>/dev/null || true
    done
}

# ---------------------------------------------------------------- exit

# A service registers three functions, each a no-op when it has nothing to do:
#   ci_on_exit STOP FAIL_LOG SUMMARY
# STOP stops it (at exit, before leftovers are reaped; services are stopped in
# the reverse order of registration), FAIL_LOG shows its log tail when the run
# failed, SUMMARY prints its line(s) in the summary box.
ci_on_exit() {
    EXIT_STOP_HOOKS=("$1" "${EXIT_STOP_HOOKS[@]}")
    EXIT_FAIL_HOOKS+=("$2")
    EXIT_SUMMARY_HOOKS+=("$3")
}

run_hooks() { # FUNCTIONS...: run each one
    local f
    for f in "$@"; do "$f"; done
}

on_exit() {
    local rc=$?
    set +e
    trap - EXIT INT TERM HUP
    if [[ -n "$CURRENT_STAGE" ]]; then
        STAGES+=("$(printf '  %-14s %-7s %6ss' "$CURRENT_STAGE" FAILED $((SECONDS - STAGE_T0)))")
        ((rc == 0)) && rc=1
    fi
    remove_policy_rc
    echo
    run_hooks "${EXIT_STOP_HOOKS[@]}"
    reap_leaked
    collect_test_summary
    if ((rc != 0)); then
        run_hooks "${EXIT_FAIL_HOOKS[@]}"
    fi
    echo
    echo "==================== lagwatch CI summary ===================="
    printf '%s\n' "${STAGES[@]}"
    run_hooks "${EXIT_SUMMARY_HOOKS[@]}"
    echo "  logs: $LOG_DIR"
    echo "  disk: $(disk_report)"
    if ((rc == 0)); then
        echo "  RESULT: PASS in $(elapsed)s"
    else
        local where=""
        [[ -n "$CURRENT_STAGE" ]] && where=", stage $CURRENT_STAGE"
        echo "  RESULT: FAIL (exit $rc$where) after $(elapsed)s"
    fi
    echo "============================================================="
    [[ -n "$TEST_SUMMARY_LINE" ]] && echo "$TEST_SUMMARY_LINE"
    exit "$rc"
}

# Installs the exit handling: from here on, any exit (a failed stage, Ctrl-C,
# SIGTERM, SIGHUP) stops the services, reaps leftovers and prints the summary.
ci_start() {
    trap on_exit EXIT
    trap 'exit 130' INT
    trap 'exit 143' TERM
    trap 'exit 129' HUP
    log "lagwatch CI in $ROOT, $(nproc) cores, CI=${CI:-}, $(date -u +%FT%TZ)"
    log "$(rustc --version 2>/dev/null || echo 'rustc: not found'); $(cargo --version 2>/dev/null || echo 'cargo: not found')"
    # A clean clone gains nothing from incremental caches, and they were a quarter of the
    # 5 GB target dir when a CI machine's disk filled up mid-build.
    if [[ "${CI:-}" == "true" && -z "${CARGO_INCREMENTAL:-}" ]]; then
        export CARGO_INCREMENTAL=0
    fi
    log "disk: $(disk_report)"
}

# Free space where the build goes and the size of target/: a full disk fails a
# compile with an LLVM I/O error, so the summary always says how close it came.
disk_report() {
    local free used
    free="$(df -h --output=avail "$ROOT" 2>/dev/null | tail -n1 | tr -d ' ')"
    used="$(du -sh "${CARGO_TARGET_DIR:-$ROOT/target}" 2>/dev/null | cut -f1)"
    echo "${free:-?} free, target ${used:-0} (CARGO_INCREMENTAL=${CARGO_INCREMENTAL:-default})"
}
