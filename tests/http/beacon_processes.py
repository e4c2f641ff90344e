"""Starts Beacon's programs for the HTTP tests and always stops them.

Every process is started by this module and stopped by its own pid (SIGKILL
for whatever is still running at the end, also when a test fails); ports are
picked by the programs (port 0) and read from --port-file and their log.
"""
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request


def wait_until(cond, timeout_s, step_s=0.02, what="condition"):
    """Polls cond() until it returns a truthy value (returned) or fails."""
    deadline = time.monotonic() + timeout_s
    while True:
        value = cond()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout_s} s waiting for {what}")
        time.sleep(step_s)


def http_get(port, path, timeout_s=5):
    """(status, body text) of GET http://127.0.0.1:port/path."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}",
                                    timeout=timeout_s) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


class Process:
    def __init__(self, name, argv, workdir):
        self.name = name
        self.log_path = os.path.join(workdir, name + ".log")
        self._log = open(self.log_path, "ab")
        self.popen = subprocess.Popen(argv, stdout=self._log, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, cwd=workdir)
        self.pid = self.popen.pid

    def log(self):
        with open(self.log_path, errors="replace") as f:
            return f.read()

    def signal(self, sig):
        if self.popen.poll() is None:
            os.kill(self.pid, sig)

    def running(self):
        return self.popen.poll() is None

    def wait(self, timeout_s):
        return self.popen.wait(timeout=timeout_s)

    def port_from_log(self, pattern, timeout_s=10):
        """The first group of `pattern` in the log, waiting for it to appear."""
        def find():
            if not self.running():
                raise AssertionError(f"{self.name} exited:\n{self.log()}")
            m = re.search(pattern, self.log())
            return int(m.group(1)) if m else None
        return wait_until(find, timeout_s, what=f"{self.name} to log {pattern}")

    def close(self):
        if self.popen.poll() is None:
            os.kill(self.pid, signal.SIGKILL)
            self.popen.wait()
        self._log.close()


class Cluster:
    """A registry and replicas in a temporary directory; use as a context."""

    def __init__(self, build_dir):
        self.build_dir = os.path.abspath(build_dir)
        self.workdir = tempfile.mkdtemp(prefix="beacon-http-")
        self.processes = []

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        for p in self.processes:
            p.close()
        if exc[0] is not None:
            for p in self.processes:
                print(f"--- {p.name} log ---\n{p.log()[-4000:]}")
        shutil.rmtree(self.workdir, ignore_errors=True)
        return False

    def binary(self, name):
        return os.path.join(self.build_dir, name, name)

    def start_registry(self, ttl_ms=3000, extra=()):
        """Starts registry_svc with --http on a free port; returns
        (process, thrift port, http port)."""
        port_file = os.path.join(self.workdir, "registry.port")
        p = Process("registry", [self.binary("registry_svc"), "--listen", "127.0.0.1:0",
                                 "--port-file", port_file, "--http", "127.0.0.1:0",
                                 "--lease-ttl-ms", str(ttl_ms), *extra], self.workdir)
        self.processes.append(p)
        http_port = p.port_from_log(r"dashboard on http://127\.0\.0\.1:(\d+)/")
        thrift_port = wait_until(lambda: _read_port(port_file), 10, what="registry port")
        return p, thrift_port, http_port

    def start_replica(self, name, registry_port, extra=()):
        """Starts replica_svc with --metrics on a free port; returns
        (process, thrift port, metrics port)."""
        port_file = os.path.join(self.workdir, name + ".port")
        p = Process(name, [self.binary("replica_svc"), "--registry",
                           f"127.0.0.1:{registry_port}", "--listen", "127.0.0.1:0",
                           "--id", name, "--db", os.path.join(self.workdir, "votes.db"),
                           "--port-file", port_file, "--metrics", "127.0.0.1:0",
                           "--deregister-grace-ms", "100", *extra], self.workdir)
        self.processes.append(p)
        metrics_port = p.port_from_log(r"metrics on http://127\.0\.0\.1:(\d+)/metrics")
        thrift_port = wait_until(lambda: _read_port(port_file), 10, what=f"{name} port")
        return p, thrift_port, metrics_port

    def client(self, registry_port, *args, stdin=None, timeout_s=60):
        """Runs client_app; returns the CompletedProcess (text)."""
        return subprocess.run([self.binary("client_app"), "--registry",
                               f"127.0.0.1:{registry_port}", "--cache-dir", "", *args],
                              input=stdin, capture_output=True, text=True,
                              timeout=timeout_s, cwd=self.workdir)


def _read_port(path):
    try:
        with open(path) as f:
            text = f.read().strip()
        return int(text) if text else None
    except (OSError, ValueError):
        return None
