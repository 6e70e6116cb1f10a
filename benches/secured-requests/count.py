#!/usr/bin/env python3
"""Counts, from the brokers' request logs (kafka.request.logger at DEBUG), the requests that
lagwatch sent in a window, per API key, and divides by the polls in that window.

Usage: count.py LISTENER PRINCIPAL POLLS LOG:START:END [LOG:START:END ...]
POLLS is lagwatch's own count of polls in the window (a cross-check). The per-poll numbers
come from the broker side only: lagwatch's requests, sorted by the brokers' log timestamps,
fall into one burst per poll (a gap of more than GAP_S = 0.8 s, with poll_interval 2s,
separates two polls); the first and last bursts of the window may be cut by its edges and are
dropped; the rest are divided by their number. "by client" splits them by the client
software the connection announced (librdkafka sends its name in ApiVersions; lagwatch's fast
path sends none, which Kafka logs as "unknown").
A request is lagwatch's when it came in on LISTENER, as PRINCIPAL, with a client id that is
not a broker's ("broker-N-..."; the brokers replicate over PLAINTEXT as User:ANONYMOUS).
Requests the broker answers before authentication (ApiVersions, SaslHandshake and
SaslAuthenticate on a SASL listener) never reach the request log; "new connections" counts
the connections whose first logged request is inside the window (each of them did one
authentication on a SASL listener)."""
import collections
import json
import sys
from datetime import datetime

GAP_S = 0.8

listener, principal, polls = sys.argv[1], sys.argv[2], float(sys.argv[3])
per_api = collections.Counter()
per_client = collections.Counter()
per_broker = collections.Counter()
seen_before, seen_in = set(), set()
reqs = []
per_sw = collections.Counter()
for spec in sys.argv[4:]:
    path, start, end = spec.rsplit(":", 2)
    start, end = int(start), int(end)
    with open(path, "rb") as f:
        data = f.read(end)
    for pos, raw in ((0, data[:start]), (1, data[start:end])):
        for line in raw.decode("utf-8", "replace").splitlines():
            i = line.find("Completed request:{")
            if i < 0:
                continue
            body = line[i + len("Completed request:"):].rsplit(" (kafka.request.logger)", 1)[0]
            try:
                r = json.loads(body)
            except ValueError:
                continue
            h = r["requestHeader"]
            cid = h.get("clientId") or ""
            if r.get("listener") != listener or r.get("principal") != principal or cid.startswith("broker-"):
                continue
            conn = r.get("connection", "")
            if pos == 0:
                seen_before.add(conn)
                continue
            seen_in.add(conn)
            ts = datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f").timestamp()
            sw = (r.get("clientInformation") or {}).get("softwareName", "?")
            sw = "librdkafka" if sw == "librdkafka" else "fast path" if sw == "unknown" else sw
            reqs.append((ts, h.get("requestApiKeyName", str(h.get("requestApiKey"))), cid, path, sw))
reqs.sort()
bursts = []
for r in reqs:
    if not bursts or r[0] - bursts[-1][-1][0] > GAP_S:
        bursts.append([])
    bursts[-1].append(r)
whole = bursts[1:-1]
for b in whole:
    for _, api, cid, path, sw in b:
        per_api[api] += 1
        per_sw[sw + " " + api] += 1
        per_client[cid] += 1
        per_broker[path] += 1
polls_seen = len(whole)
out = {
    "listener": listener,
    "principal": principal,
    "polls_lagwatch": polls,
    "bursts_in_window": len(bursts),
    "polls_counted": polls_seen,
    "requests_per_burst": [len(b) for b in bursts],
    "burst_span_ms": [round(1000 * (b[-1][0] - b[0][0])) for b in whole],
    "per_poll": {k: round(v / polls_seen, 2) for k, v in sorted(per_api.items())},
    "per_poll_by_client": {k: round(v / polls_seen, 2) for k, v in sorted(per_sw.items())},
    "total_per_poll": round(sum(per_api.values()) / polls_seen, 2),
    "raw": dict(sorted(per_api.items())),
    "client_ids": dict(per_client),
    "per_broker_log": dict(per_broker),
    "connections_used": len(seen_in),
    "new_connections": len(seen_in - seen_before),
}
print(json.dumps(out, indent=1))
