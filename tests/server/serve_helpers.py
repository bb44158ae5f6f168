"""Starts and stops `r1 serve` for the server tests (a real process on a loopback port)."""
import json
import os
import re
import subprocess
import sys
import time
import urllib.error
import urllib.request

SOURCE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


class Server:
    """`with Server(r1, args) as s:` runs r1 serve --port 0 ARGS; s.url, s.port, s.log()."""

    def __init__(self, r1, args, env=None, timeout=60):
        self.r1 = r1
        self.args = list(args)
        self.env = dict(os.environ, **(env or {}))
        self.timeout = timeout
        self.proc = None
        self.port = None
        self.log_path = None

    def __enter__(self):
        import tempfile
        fd, self.log_path = tempfile.mkstemp(prefix="r1-serve-", suffix=".log")
        self.log_file = os.fdopen(fd, "w+")
        self.proc = subprocess.Popen([self.r1, "serve", "--port", "0"] + self.args,
                                     stdout=self.log_file, stderr=subprocess.STDOUT,
                                     env=self.env, cwd=SOURCE_DIR)
        deadline = time.time() + self.timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError("r1 serve exited with %d:\n%s" % (self.proc.returncode, self.log()))
            m = re.search(r"serving on http://[^:]+:(\d+)", self.log())
            if m:
                self.port = int(m.group(1))
                self.url = "http://127.0.0.1:%d" % self.port
                return self
            time.sleep(0.1)
        self.stop()
        raise RuntimeError("r1 serve did not start within %ds:\n%s" % (self.timeout, self.log()))

    def log(self):
        with open(self.log_path) as f:
            return f.read()

    def stop(self):
        if self.proc and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()

    def __exit__(self, *exc):
        self.stop()
        return False

    def request(self, method, path, body=None, headers=None, raw=None, timeout=120):
        """(status, headers, body bytes) of one HTTP request; never raises on 4xx/5xx."""
        data = raw if raw is not None else (json.dumps(body).encode() if body is not None else None)
        req = urllib.request.Request(self.url + path, data=data, method=method,
                                     headers=dict({"Content-Type": "application/json"}, **(headers or {})))
        try:
            with urllib.request.urlopen(req, timeout=timeout) as r:
                return r.status, dict(r.headers), r.read()
        except urllib.error.HTTPError as e:
            return e.code, dict(e.headers), e.read()


def sse_events(lines):
    """Decodes `data: ...` lines of an SSE stream into JSON objects ([DONE] ends it)."""
    events, done = [], False
    for line in lines:
        if isinstance(line, bytes):
            line = line.decode()
        line = line.strip()
        if not line.startswith("data: "):
            continue
        payload = line[6:]
        if payload == "[DONE]":
            done = True
            break
        events.append(json.loads(payload))
    return events, done


def check(cond, message):
    if not cond:
        print("FAIL:", message, file=sys.stderr)
        raise AssertionError(message)
    print("ok:", message)
