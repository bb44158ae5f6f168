"""Load on loopback: 16 concurrent streaming clients against `r1 serve` with 4 slots and a
queue of 4, for a fixed number of requests. Every request must either complete or get a clean
503 with Retry-After. A completed stream has one id and ends with [DONE]; to prove streams are
not mixed up, each request asks for a JSON object holding its own client and request number
(a response schema with `const` values), so any text from another stream would break it. A
client that hangs up mid-stream cancels its generation; the server stays healthy throughout.
Bounded: every socket has a timeout.

usage: load_test.py R1_BINARY
"""
import http.client
import json
import os
import re
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Server, check, sse_events  # noqa: E402

CLIENTS = 16
REQUESTS_PER_CLIENT = 3
PROMPTS = ["Name a fruit.", "Count to five.", "Say hello in French.", "What colour is the sky?"]


def body(model, prompt, stream=True, tag=None):
    req = {"model": model, "messages": [{"role": "user", "content": prompt}],
           "max_tokens": 96, "temperature": 0.8, "stream": stream}
    if tag is not None:
        req["response_format"] = {"type": "json_schema", "json_schema": {"name": "tag", "schema": {
            "type": "object", "properties": {"tag": {"const": tag}, "note": {"enum": ["alpha", "beta", "gamma"]}},
            "required": ["tag", "note"], "additionalProperties": False}}}
    return json.dumps(req)


def stream_once(port, model, prompt, tag, hang_up=False):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    try:
        conn.request("POST", "/v1/chat/completions", body(model, prompt, tag=tag),
                     {"Content-Type": "application/json"})
        resp = conn.getresponse()
        if resp.status != 200:
            return {"status": resp.status, "retry_after": resp.getheader("Retry-After"),
                    "body": resp.read().decode()}
        if hang_up:
            resp.fp.readline()  # the first chunk, then close the socket
            return {"status": 200, "hung_up": True}
        lines = resp.read().decode().splitlines()
        events, done = sse_events(lines)
        text = "".join(c["choices"][0]["delta"].get("content") or ""
                       for c in events if c.get("choices"))
        return {"status": 200, "ids": {e.get("id") for e in events}, "done": done, "text": text,
                "errors": [e for e in events if "error" in e]}
    finally:
        conn.close()


def main():
    r1 = sys.argv[1]
    with Server(r1, ["--slots", "4", "--queue", "4", "-t", "2", "-c", "1024"]) as s:
        status, _, models = s.request("GET", "/v1/models")
        model = json.loads(models)["data"][0]["id"]
        results, lock = [], threading.Lock()

        def client(i):
            for j in range(REQUESTS_PER_CLIENT):
                prompt = PROMPTS[(i + j) % len(PROMPTS)]
                hang_up = (i == 0 and j == 0)
                try:
                    r = stream_once(s.port, model, prompt, "c%d-r%d" % (i, j), hang_up=hang_up)
                except Exception as e:  # noqa: BLE001 - a failed socket is a finding
                    r = {"status": -1, "exception": repr(e)}
                r["tag"] = "c%d-r%d" % (i, j)
                with lock:
                    results.append(r)

        t0 = time.time()
        threads = [threading.Thread(target=client, args=(i,)) for i in range(CLIENTS)]
        for t in threads:
            t.start()
        for t in threads:
            t.join(timeout=600)
        check(not any(t.is_alive() for t in threads), "every client finished")
        elapsed = time.time() - t0
        total = CLIENTS * REQUESTS_PER_CLIENT
        check(len(results) == total, "%d requests answered" % total)
        ok = [r for r in results if r["status"] == 200 and not r.get("hung_up")]
        busy = [r for r in results if r["status"] == 503]
        other = [r for r in results if r["status"] not in (200, 503)]
        check(not other, "no request failed otherwise: %s" % other[:3])
        for r in busy:
            err = json.loads(r["body"]).get("error", {})
            check(r["retry_after"] and err.get("type") == "server_busy", "a 503 is clean: %s" % err.get("message"))
        check(len(ok) >= 8, "%d streams completed, %d got 503, in %.1f s" % (len(ok), len(busy), elapsed))
        for r in ok:
            check(r["done"] and len(r["ids"]) == 1 and not r["errors"],
                  "a stream has one id and ends with [DONE]")
            # The output may stop at max_tokens inside the object.
            # The note is sampled from an enum, so no tag-like text can come from the model
            # itself: another request's tag here would mean mixed-up streams.
            tag = re.search(r'"tag"\s*:\s*"(c\d+-r\d+)"', r["text"])
            others = set(re.findall(r'c\d+-r\d+', r["text"])) - {r["tag"]}
            check(tag and tag.group(1) == r["tag"] and not others,
                  "a stream carries its own request's text: %r" % r["text"])
        # A slot is released once its response is fully sent, just after the client's last read.
        idle = False
        for _ in range(50):
            status, _, health = s.request("GET", "/health")
            if status == 200 and json.loads(health)["slots_busy"] == 0:
                idle = True
                break
            time.sleep(0.1)
        check(idle, "healthy and idle afterwards")
        status, _, metrics = s.request("GET", "/metrics")
        m = metrics.decode()
        value = lambda name: float([l for l in m.splitlines() if l.startswith(name + " ")][0].split()[1])  # noqa: E731
        check(value("r1_rejected_total") == len(busy), "metrics count the 503s")
        if any(r.get("hung_up") for r in results):
            cancelled = 0
            for _ in range(50):
                m = s.request("GET", "/metrics")[2].decode()
                cancelled = value("r1_cancelled_total")
                if cancelled >= 1:
                    break
                time.sleep(0.1)
            check(cancelled >= 1, "the client that hung up had its generation cancelled")
        check(value("r1_batch_sequence_steps_total") > value("r1_batch_steps_total"),
              "concurrent streams shared forward passes: %d sequence-steps in %d steps" %
              (value("r1_batch_sequence_steps_total"), value("r1_batch_steps_total")))
    print("load test: %d completed, %d rejected with 503, 1 hung up" % (len(ok), len(busy)))


if __name__ == "__main__":
    main()
