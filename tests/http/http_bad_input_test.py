"""Bad HTTP input against the registry's dashboard port and a replica's
metrics port: garbage, endless headers, slow clients, many connections and
(the registry) more long polls than may wait.
Both servers keep answering Thrift throughout, answer HTTP again once the
bad clients are gone (or timed out), and their memory stays bounded.

usage: http_bad_input_test.py BUILD_DIR
"""
import json
import os
import socket
import sys
import threading
import time

from beacon_processes import Cluster, http_get, wait_until

REQUEST_TIMEOUT_S = 5  # HttpServerOptions::request_timeout_ms


def rss_mb(pid):
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS")


def connect(port):
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    return s


def read_until_closed(s, timeout_s):
    """(bytes received, closed?) reading until EOF/reset or the timeout."""
    s.settimeout(0.2)
    data = b""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        try:
            chunk = s.recv(65536)
        except socket.timeout:
            continue
        except OSError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


def garbage(port):
    for i in range(50):
        s = connect(port)
        s.sendall(os.urandom(2048) + b"\r\n\r\n")
        data, closed = read_until_closed(s, 3)
        s.close()
        assert closed, "garbage left the connection open"
        assert data == b"" or data.startswith(b"HTTP/1.1 400"), data[:80]
    print(f"  garbage: 50 connections refused and closed")


def endless_headers(port):
    s = connect(port)
    s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
    line = b"X-Filler: " + b"a" * 1000 + b"\r\n"
    sent = 0
    s.settimeout(5)
    try:
        while sent < 200 * 1024 * 1024:
            s.sendall(line * 64)
            sent += len(line) * 64
    except OSError:
        pass  # the server closed it
    s.close()
    assert sent < 64 * 1024 * 1024, f"the server took {sent} bytes of headers"
    # And it answers a fresh over-long header with 431.
    s = connect(port)
    try:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n" + line * 20 + b"\r\n")
    except OSError:
        pass
    data, closed = read_until_closed(s, 3)
    s.close()
    assert data.startswith(b"HTTP/1.1 431") and closed, data[:80]
    print(f"  endless headers: closed after {sent / 1024:.0f} KiB sent; 431 for a long header")


def slow_clients(port, probe):
    conns = []
    for _ in range(40):
        s = connect(port)
        s.sendall(b"GET /metrics HTTP/1.1\r\n")
        conns.append(s)
    stop = threading.Event()

    def dribble():
        while not stop.is_set():
            for s in conns:
                try:
                    s.send(b"X")
                except OSError:
                    pass
            stop.wait(0.5)
    t = threading.Thread(target=dribble)
    t.start()
    try:
        probe()  # Thrift answers meanwhile
        start = time.monotonic()
        closed = 0
        for s in conns:
            _, c = read_until_closed(s, REQUEST_TIMEOUT_S + 3 - (time.monotonic() - start))
            closed += c
        assert closed == len(conns), f"only {closed} of {len(conns)} slow clients closed"
    finally:
        stop.set()
        t.join()
        for s in conns:
            s.close()
    print(f"  slow clients: all 40 closed within the request deadline")


def many_connections(port, probe):
    conns = []
    for _ in range(400):
        try:
            conns.append(connect(port))
        except OSError:
            break
    probe()
    for s in conns:
        s.close()
    print(f"  many connections: {len(conns)} opened and dropped")


def long_polls(port, probe):
    """30 long polls at once on the registry's change stream: at most 6 wait
    (the rest get 503 at once), and /healthz still answers quickly meanwhile
    (long polls cannot take every handler thread)."""
    seq = json.loads(http_get(port, "/v1/events")[1])["seq"]
    conns = []
    for _ in range(30):
        s = connect(port)
        s.sendall(f"GET /v1/events?after={seq}&wait_ms=25000 HTTP/1.1\r\n"
                  f"Host: x\r\nConnection: close\r\n\r\n".encode())
        conns.append(s)
    try:
        start = time.monotonic()
        assert http_get(port, "/healthz", timeout_s=2) == (200, "ok\n")
        took = time.monotonic() - start
        assert took < 0.5, f"/healthz took {took:.2f} s behind the long polls"
        probe()
        # The next heartbeat (every ttl/3) is a change: every waiting poll answers.
        statuses = []
        for s in conns:
            data, closed = read_until_closed(s, 5)
            statuses.append(data[9:12].decode(errors="replace"))
        busy = statuses.count("503")
        assert statuses.count("200") + busy == len(conns), statuses
        assert busy >= len(conns) - 6, statuses
    finally:
        for s in conns:
            s.close()
    print(f"  long polls: 30 sent, {busy} refused 503, /healthz answered in {took:.3f} s")


def main():
    build_dir = sys.argv[1]
    with Cluster(build_dir) as cluster:
        registry, registry_port, registry_http = cluster.start_registry(ttl_ms=6000)
        replica, replica_port, metrics_port = cluster.start_replica("replica-1",
                                                                    registry_port)

        def probe():
            for port, kind in ((registry_port, "registry"), (replica_port, "replica")):
                r = cluster.client(registry_port, "--timeout-ms", "2000", "probe",
                                   f"127.0.0.1:{port}", kind, timeout_s=10)
                assert r.returncode == 0, f"{kind} Thrift probe failed: {r.stdout}{r.stderr}"

        def http_answers(port):
            def ok():
                try:
                    return http_get(port, "/healthz", timeout_s=2) == (200, "ok\n")
                except OSError:
                    return False
            wait_until(ok, REQUEST_TIMEOUT_S + 5, step_s=0.2, what=f"HTTP on {port}")

        for name, proc, port in (("registry", registry, registry_http),
                                 ("replica", replica, metrics_port)):
            http_get(port, "/metrics")  # warm up: first-use allocations
            before = rss_mb(proc.pid)
            print(f"{name} (HTTP port {port}), RSS {before:.1f} MiB:")
            garbage(port)
            endless_headers(port)
            slow_clients(port, probe)
            many_connections(port, probe)
            if port == registry_http:
                long_polls(port, probe)
            http_answers(port)
            probe()
            after = rss_mb(proc.pid)
            print(f"  answering Thrift and HTTP; RSS {before:.1f} -> {after:.1f} MiB")
            assert after - before < 40, f"{name} grew by {after - before:.1f} MiB"
            assert proc.running()
    print("PASS")


if __name__ == "__main__":
    main()
