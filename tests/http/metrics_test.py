"""/metrics of the registry and of a replica pass `promtool check metrics`,
serve exactly the metrics the README names (HELP on each, counters in _total,
histograms in _seconds), and the counters move as calls are made: 30 prime
calls raise the replicas' prime call counters by 30 in total; a vote raises
votes recorded by one; a vote refused on a held database lock counts as a busy
refusal; registry lookups and heartbeats grow.

usage: metrics_test.py BUILD_DIR
"""
import os
import re
import sqlite3
import subprocess
import sys

from beacon_processes import Cluster, http_get, wait_until


def promtool_check(text, what):
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, f"promtool check metrics failed for {what}:\n{r.stdout}{r.stderr}"
    print(f"promtool check metrics: {what} ok")


def sample(text, name, **labels):
    """Sum of every sample of `name` whose labels include `labels`."""
    total = 0.0
    for m in re.finditer(r"^" + re.escape(name) + r"(\{([^}]*)\})? (\S+)$", text, re.M):
        have = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(have.get(k) == v for k, v in labels.items()):
            total += float(m.group(3))
    return total


def documented_metrics(prefix):
    """Metric names in the README's tables ("| `beacon_x{labels}` | ..."), by prefix."""
    readme = os.path.join(os.path.dirname(__file__), "..", "..", "README.md")
    with open(readme) as f:
        return set(re.findall(r"^\| `(" + prefix + r"\w+)", f.read(), re.M))


def check_names(text, prefix, what):
    """Every metric the README names is served with HELP and TYPE, nothing else
    is served, counters end in _total and histograms (durations) in _seconds."""
    types = dict(re.findall(r"^# TYPE (\S+) (\S+)$", text, re.M))
    helps = set(re.findall(r"^# HELP (\S+) \S", text, re.M))
    served = {n for n in types if n.startswith(prefix)}
    documented = documented_metrics(prefix)
    assert documented, f"no {prefix} metrics found in the README"
    assert served == documented, (f"{what}: served but not in the README "
                                  f"{sorted(served - documented)}, in the README but not "
                                  f"served {sorted(documented - served)}")
    for name in served:
        assert name in helps, f"{what}: {name} has no HELP"
        if types[name] == "counter":
            assert name.endswith("_total"), name
        if types[name] == "histogram":
            assert name.endswith("_seconds"), name
    print(f"{what}: the README's {len(documented)} metrics served, with HELP and TYPE")


# Long, so a machine stalled for seconds (2 loaded cores) cannot expire a
# lease and re-register it, which would upset the exact counts below.
TTL_MS = 12000


def main():
    build_dir = sys.argv[1]
    with Cluster(build_dir) as cluster:
        _, registry_port, registry_http = cluster.start_registry(ttl_ms=TTL_MS)
        # A short busy deadline, so a vote refused while the database is held
        # comes back quickly (the busy-refusal check below).
        metrics_ports = [cluster.start_replica(f"replica-{i}", registry_port,
                                               extra=("--busy-timeout-ms", "300"))[2]
                         for i in (1, 2, 3)]
        wait_until(lambda: '"instance_count":3' in http_get(registry_http,
                                                             "/v1/services/prime")[1],
                   10, what="three replicas registered")

        def replicas_text():
            return [http_get(p, "/metrics")[1] for p in metrics_ports]

        def prime_calls():
            return sum(sample(t, "beacon_replica_calls_total", service="prime",
                              method="isPrime", code="ok") for t in replicas_text())

        status, registry_before = http_get(registry_http, "/metrics")
        assert status == 200
        before = prime_calls()
        # Hedging off: a hedged copy is a real call a replica counts, and on a
        # loaded machine the first calls may pass the hedge delay (31 counted).
        r = cluster.client(registry_port, "--hedge-ms", "off", "shell",
                           stdin="prime 97\n" * 30)
        assert r.returncode == 0, r.stdout + r.stderr
        after = prime_calls()
        print(f"prime isPrime ok calls: {before:.0f} -> {after:.0f}")
        assert after - before == 30, f"expected +30 prime calls, got {after - before}"
        # Calls were spread: more than one replica answered.
        answered = [sample(t, "beacon_replica_calls_total", service="prime")
                    for t in replicas_text()]
        assert sum(1 for a in answered if a > 0) >= 2, answered

        votes_before = sum(sample(t, "beacon_replica_votes_recorded_total")
                           for t in replicas_text())
        r = cluster.client(registry_port, "--json", "create-poll", "tea or coffee", "tea",
                           "coffee")
        assert r.returncode == 0, r.stdout + r.stderr
        poll = re.search(r'"poll_id":\s*(\d+)', r.stdout).group(1)
        assert cluster.client(registry_port, "vote", poll, "alice", "tea").returncode == 0
        assert cluster.client(registry_port, "vote", poll, "alice", "tea").returncode == 0
        votes_after = sum(sample(t, "beacon_replica_votes_recorded_total")
                          for t in replicas_text())
        assert votes_after - votes_before == 1, (votes_before, votes_after)

        # Busy-deadline refusals: another process holds SQLite's write lock,
        # so votes are refused UNAVAILABLE after --busy-timeout-ms; every
        # such answer is counted, however the store came to refuse it.
        def refusals():
            texts = replicas_text()
            return (sum(sample(t, "beacon_replica_store_busy_refusals_total") for t in texts),
                    sum(sample(t, "beacon_replica_calls_total", service="voting",
                               code="unavailable") for t in texts))
        refused_before, unavailable_before = refusals()
        holder = sqlite3.connect(os.path.join(cluster.workdir, "votes.db"),
                                 isolation_level=None, timeout=10)
        try:
            holder.execute("BEGIN IMMEDIATE")
            r = cluster.client(registry_port, "--timeout-ms", "1500", "vote", poll, "bob",
                               "tea")
            assert r.returncode != 0, "a vote went through a held write lock"
        finally:
            holder.close()
        refused, unavailable = refusals()
        print(f"busy refusals: {refused_before:.0f} -> {refused:.0f}, voting calls "
              f"answered unavailable: {unavailable_before:.0f} -> {unavailable:.0f}")
        assert unavailable - unavailable_before >= 1, r.stdout + r.stderr
        assert refused - refused_before == unavailable - unavailable_before

        _, registry_after = http_get(registry_http, "/metrics")
        assert (sample(registry_after, "beacon_registry_lookups_total") >
                sample(registry_before, "beacon_registry_lookups_total"))
        # Heartbeats come every ttl/3: wait for the next.
        wait_until(lambda: sample(http_get(registry_http, "/metrics")[1],
                                  "beacon_registry_heartbeats_total") >
                   sample(registry_before, "beacon_registry_heartbeats_total"),
                   TTL_MS / 3000 + 5,
                   what="heartbeats to be counted")
        assert sample(registry_after, "beacon_registry_instances", service="prime") == 3
        assert sample(registry_after, "beacon_registry_registrations_total") == 6
        text = replicas_text()[0]
        assert sample(text, "beacon_replica_registered_services") == 2, text

        check_names(registry_after, "beacon_registry_", "registry")
        check_names(text, "beacon_replica_", "replica")
        promtool_check(registry_after, "registry")
        promtool_check(text, "replica")
        status, body = http_get(metrics_ports[0], "/healthz")
        assert (status, body) == (200, "ok\n")
    print("PASS")


if __name__ == "__main__":
    main()
