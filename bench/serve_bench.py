"""Serving benchmark: `r1 serve` against llama.cpp's server (PyPI llama-cpp-python's
`llama_cpp.server`), same GGUF, same threads, one run, as ratios.

1. Aggregate decode throughput with N concurrent streaming clients (default 8): generated
   tokens (from each response's usage) over the wall time of the whole batch.
2. Time to first token of an agent's second step: a ~2,000-token system prompt plus tools,
   a first request (cold: the prompt is new), then the agent's next step (the same messages
   plus the assistant's tool call and the tool's result). With the prefix cache the second
   step prefills only what is new; the target is at most 25% of the cold start.

usage: python3 bench/serve_bench.py [--r1 build/r1] [--model PATH] [--threads 2] [--clients 8]
"""
import argparse
import http.client
import json
import os
import socket
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "server"))
from serve_helpers import Server  # noqa: E402

TOOLS = [{"type": "function", "function": {
    "name": "search_documents", "description": "Search the user's documents",
    "parameters": {"type": "object", "properties": {"query": {"type": "string"}, "k": {"type": "integer"}},
                   "required": ["query"]}}},
    {"type": "function", "function": {
        "name": "calculator", "description": "Evaluate an arithmetic expression",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}},
                       "required": ["expression"]}}}]


def system_prompt(words, nonce):
    policy = ("You are the research assistant of a regulated company. Answer only from the "
              "documents the search tool returns, cite every passage you use, never reveal "
              "personal data, and say when the documents do not answer the question. ")
    text = "Session %s. " % nonce
    while len(text.split()) < words:
        text += policy
    return text


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def stream_chat(port, body, timeout=600):
    """(seconds to the first content/reasoning/tool delta, completion tokens, total seconds)."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    t0 = time.time()
    conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
    resp = conn.getresponse()
    if resp.status != 200:
        raise RuntimeError("HTTP %d: %s" % (resp.status, resp.read()[:300]))
    first, tokens, pieces = None, None, 0
    while True:
        line = resp.fp.readline()
        if not line:
            break
        line = line.decode().strip()
        if not line.startswith("data: "):
            continue
        if line == "data: [DONE]":
            break
        chunk = json.loads(line[6:])
        if chunk.get("usage"):
            tokens = chunk["usage"]["completion_tokens"]
        for c in chunk.get("choices", []):
            d = c.get("delta", {})
            if d.get("content") or d.get("reasoning_content") or d.get("tool_calls"):
                pieces += 1
                if first is None:
                    first = time.time() - t0
    total = time.time() - t0
    conn.close()
    return first, (tokens if tokens is not None else pieces), total


def throughput(port, model, clients, max_tokens):
    prompts = ["Write a short story about a lighthouse keeper.", "Explain how tides work.",
               "Describe a walk through a forest in autumn.", "List reasons to learn to cook.",
               "Tell me about the history of bicycles.", "Describe the life of a honeybee.",
               "Explain why the sky is blue.", "Write a letter to a future self."]
    results = [None] * clients

    # Whole responses: both servers report usage.completion_tokens for them.
    def run(i):
        body = {"model": model, "messages": [{"role": "user", "content": prompts[i % len(prompts)]}],
                "max_tokens": max_tokens, "temperature": 0.7, "seed": i}
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
        t0 = time.time()
        conn.request("POST", "/v1/chat/completions", json.dumps(body), {"Content-Type": "application/json"})
        out = json.loads(conn.getresponse().read())
        conn.close()
        results[i] = (None, out["usage"]["completion_tokens"], time.time() - t0)

    t0 = time.time()
    threads = [threading.Thread(target=run, args=(i,)) for i in range(clients)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = time.time() - t0
    tokens = sum(r[1] for r in results)
    return tokens / wall, tokens, wall


def agent_ttft(port, model, words, nonce):
    messages = [{"role": "system", "content": system_prompt(words, nonce)},
                {"role": "user", "content": "What does the retention policy say about backups?"}]
    body = {"model": model, "messages": messages, "tools": TOOLS, "max_tokens": 24,
            "temperature": 0, "stream": True, "stream_options": {"include_usage": True}}
    cold, _, _ = stream_chat(port, body)
    step2 = messages + [
        {"role": "assistant", "content": "", "tool_calls": [{"id": "call_1", "type": "function", "function": {
            "name": "search_documents", "arguments": json.dumps({"query": "retention policy backups"})}}]},
        {"role": "tool", "tool_call_id": "call_1",
         "content": "[1] policy.pdf p.4: Backups are kept for 35 days, then destroyed."}]
    warm, _, _ = stream_chat(port, dict(body, messages=step2))
    return cold, warm


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--r1", default="build/r1")
    ap.add_argument("--model", default=os.path.expanduser("~/.cache/r1/models/SmolLM2-135M-Instruct.Q4_1.gguf"))
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--clients", type=int, default=8)
    ap.add_argument("--max-tokens", type=int, default=64)
    ap.add_argument("--system-words", type=int, default=1500)
    ap.add_argument("--skip-llama", action="store_true")
    a = ap.parse_args()
    report = {}

    with Server(a.r1, ["-m", a.model, "-t", str(a.threads), "--slots", str(a.clients), "-c", "4096",
                       "--embedding-model", "none"]) as s:
        model = json.loads(s.request("GET", "/v1/models")[2])["data"][0]["id"]
        throughput(s.port, model, 2, 8)  # warm-up
        report["r1_tok_s"], tokens, wall = throughput(s.port, model, a.clients, a.max_tokens)
        print("r1: %d clients, %d tokens in %.2f s: %.1f tok/s" % (a.clients, tokens, wall, report["r1_tok_s"]))
        cold, warm = agent_ttft(s.port, model, a.system_words, "r1-%d" % time.time())
        report["r1_ttft_cold_s"], report["r1_ttft_step2_s"] = cold, warm
        metrics = s.request("GET", "/metrics")[2].decode()
        print("r1: agent TTFT cold %.3f s, second step %.3f s (%.0f%% of cold)" % (cold, warm, 100 * warm / cold))
        for line in metrics.splitlines():
            if line.startswith(("r1_prefix_cache_hit_ratio", "r1_batch_steps_total", "r1_batch_sequence_steps_total")):
                print("r1:", line)

    if not a.skip_llama:
        port = free_port()
        peer = subprocess.Popen([sys.executable, "-m", "llama_cpp.server", "--model", a.model, "--host", "127.0.0.1",
                                 "--port", str(port), "--n_ctx", "4096", "--n_threads", str(a.threads),
                                 "--n_threads_batch", str(a.threads)],
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        try:
            for _ in range(600):
                try:
                    c = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
                    c.request("GET", "/v1/models")
                    model = json.loads(c.getresponse().read())["data"][0]["id"]
                    break
                except OSError:
                    time.sleep(0.2)
            throughput(port, model, 2, 8)
            report["llama_tok_s"], tokens, wall = throughput(port, model, a.clients, a.max_tokens)
            print("llama.cpp: %d clients, %d tokens in %.2f s: %.1f tok/s" % (a.clients, tokens, wall, report["llama_tok_s"]))
            cold, warm = agent_ttft(port, model, a.system_words, "llama-%d" % time.time())
            report["llama_ttft_cold_s"], report["llama_ttft_step2_s"] = cold, warm
            print("llama.cpp: agent TTFT cold %.3f s, second step %.3f s (%.0f%% of cold)" % (cold, warm, 100 * warm / cold))
        finally:
            peer.terminate()
            peer.wait()
        print("ratio r1 / llama.cpp aggregate decode: %.2fx" % (report["r1_tok_s"] / report["llama_tok_s"]))
    print(json.dumps(report))


if __name__ == "__main__":
    main()
