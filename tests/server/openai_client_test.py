"""The official `openai` Python client against `r1 serve` on the default model.

Plain and streamed chat (the same greedy answer both ways), reasoning_content before content
with a thinking budget, a full tool-call round trip (streamed and not), JSON-schema output,
stop strings, seeds, completions, embeddings (float and base64), agents over HTTP, and the
errors: 401 without a key, 403 for an agent the key may not run, 404 for an unknown model,
400 for bad parameters and malformed bodies, 413 for an oversize body.

usage: openai_client_test.py R1_BINARY
"""
import json
import math
import os
import subprocess
import sys
import tempfile

import openai

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from serve_helpers import Server, check, sse_events, SOURCE_DIR  # noqa: E402

KEY = "sk-test-0123456789"
LIMITED = "sk-limited-0123456789"

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Current weather for a city",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}, "unit": {"type": "string", "enum": ["c", "f"]}},
            "required": ["city"],
        },
    },
}


def main():
    r1 = sys.argv[1]
    keys = tempfile.NamedTemporaryFile("w", suffix=".keys", delete=False)
    keys.write("# test keys\n%s\n%s agents=nobody\n" % (KEY, LIMITED))
    keys.close()
    agent = os.path.join(SOURCE_DIR, "examples", "assistant.yaml")
    with Server(r1, ["--api-keys", keys.name, "--slots", "2", "-t", "2", "-c", "2048",
                     "--agent", agent, "--max-body-mb", "1", "--cors-origin", "https://app.example"]) as s:
        client = openai.OpenAI(base_url=s.url + "/v1", api_key=KEY, max_retries=0, timeout=300)

        # --- auth ---
        try:
            openai.OpenAI(base_url=s.url + "/v1", api_key="sk-wrong-000000", max_retries=0).models.list()
            check(False, "a wrong key is refused")
        except openai.AuthenticationError as e:
            check(e.status_code == 401, "a wrong key gets 401")
        status, _, body = s.request("GET", "/v1/models")
        check(status == 401 and json.loads(body)["error"]["code"] == "invalid_api_key",
              "no key at all gets 401 with an OpenAI error object")
        status, _, _ = s.request("GET", "/health")
        check(status == 200, "/health needs no key")

        # --- CORS: the allowed origin's preflight and responses; another origin gets neither ---
        status, headers, _ = s.request("OPTIONS", "/v1/chat/completions",
                                       headers={"Origin": "https://app.example",
                                                "Access-Control-Request-Method": "POST"})
        check(status == 204 and headers.get("Access-Control-Allow-Origin") == "https://app.example" and
              "Authorization" in headers.get("Access-Control-Allow-Headers", ""),
              "an allowed origin's preflight gets 204 with the CORS headers")
        status, headers, _ = s.request("OPTIONS", "/v1/chat/completions", headers={"Origin": "https://evil.example"})
        check(status == 403 and "Access-Control-Allow-Origin" not in headers, "another origin's preflight is 403")
        status, headers, _ = s.request("GET", "/v1/models", headers={"Origin": "https://app.example",
                                                                   "Authorization": "Bearer " + KEY})
        check(status == 200 and headers.get("Access-Control-Allow-Origin") == "https://app.example",
              "responses to the allowed origin carry Access-Control-Allow-Origin")

        models = [m.id for m in client.models.list().data]
        check(len(models) >= 1, "models.list lists the chat model: %s" % models)
        model = models[0]

        # --- plain and streamed chat: the same greedy answer ---
        messages = [{"role": "user", "content": "Name three colours."}]
        plain = client.chat.completions.create(model=model, messages=messages, max_tokens=24,
                                               temperature=0)
        text = plain.choices[0].message.content
        check(bool(text) and plain.choices[0].finish_reason in ("stop", "length"),
              "a plain chat answers: %r" % text)
        check(plain.usage.prompt_tokens > 0 and plain.usage.completion_tokens > 0 and
              plain.usage.total_tokens == plain.usage.prompt_tokens + plain.usage.completion_tokens,
              "usage adds up")
        stream = client.chat.completions.create(model=model, messages=messages, max_tokens=24,
                                                temperature=0, stream=True,
                                                stream_options={"include_usage": True})
        pieces, ids, finish, usage = [], set(), None, None
        for chunk in stream:
            ids.add(chunk.id)
            if chunk.usage:
                usage = chunk.usage
            for c in chunk.choices:
                if c.delta.content:
                    pieces.append(c.delta.content)
                if c.finish_reason:
                    finish = c.finish_reason
        check("".join(pieces) == text, "the streamed answer equals the plain one")
        check(len(ids) == 1 and finish == plain.choices[0].finish_reason, "one stream id, same finish")
        check(usage is not None and usage.completion_tokens == plain.usage.completion_tokens,
              "include_usage sends a usage chunk")
        check(usage.prompt_tokens_details.cached_tokens > 0,
              "the repeated prompt reuses the KV cache (cached_tokens %d)" %
              usage.prompt_tokens_details.cached_tokens)

        # --- reasoning: budget-capped thinking streams before the answer ---
        think = dict(chat_template_kwargs={"enable_thinking": True}, thinking_budget=16)
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "What is 12 plus 30?"}],
            max_tokens=96, temperature=0, extra_body=think)
        msg = r.choices[0].message
        reasoning = getattr(msg, "reasoning_content", None) or (msg.model_extra or {}).get("reasoning_content")
        check(bool(reasoning), "reasoning_content is set: %r" % (reasoning or "")[:60])
        rt = r.usage.completion_tokens_details.reasoning_tokens
        check(0 < rt <= 16 + 24 + 40, "reasoning tokens within budget + grace + wrap-up: %d" % rt)
        check(bool(msg.content) and "</think>" not in msg.content, "an answer after the thinking")
        stream = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "What is 12 plus 30?"}],
            max_tokens=96, temperature=0, stream=True, extra_body=think)
        order = []
        for chunk in stream:
            for c in chunk.choices:
                extra = c.delta.model_extra or {}
                if extra.get("reasoning_content"):
                    order.append("r")
                if c.delta.content:
                    order.append("c")
        check("r" in order and "c" in order and order.index("c") > max(i for i, k in enumerate(order) if k == "r"),
              "streamed reasoning deltas all come before content deltas")
        client.chat.completions.create(model=model, messages=messages, max_tokens=8,
                                       extra_body={"reasoning_effort": "low"})

        # --- tool-call round trip ---
        ask = [{"role": "user", "content": "What is the weather in Paris?"}]
        r = client.chat.completions.create(model=model, messages=ask, tools=[WEATHER],
                                           tool_choice="required", max_tokens=64, temperature=0)
        calls = r.choices[0].message.tool_calls
        check(r.choices[0].finish_reason == "tool_calls" and calls, "tool_choice required gives a call")
        args = json.loads(calls[0].function.arguments)
        check(calls[0].function.name == "get_weather" and isinstance(args.get("city"), str),
              "the call's arguments are valid under the schema: %s" % calls[0].function.arguments)
        check(calls[0].id.startswith("call_") and len(calls[0].id) > 8, "call ids are unique-looking")
        follow = ask + [r.choices[0].message.model_dump(exclude_none=True),
                        {"role": "tool", "tool_call_id": calls[0].id,
                         "content": json.dumps({"city": args["city"], "temp_c": 18, "sky": "clear"})}]
        r2 = client.chat.completions.create(model=model, messages=follow, tools=[WEATHER],
                                            max_tokens=48, temperature=0)
        check(r2.choices[0].finish_reason in ("stop", "length") and r2.choices[0].message.content,
              "after the tool result the model answers: %r" % r2.choices[0].message.content)
        stream = client.chat.completions.create(model=model, messages=ask, tools=[WEATHER],
                                                tool_choice={"type": "function", "function": {"name": "get_weather"}},
                                                max_tokens=64, temperature=0, stream=True)
        acc, finish = {}, None
        for chunk in stream:
            for c in chunk.choices:
                for tc in c.delta.tool_calls or []:
                    e = acc.setdefault(tc.index, {"name": "", "arguments": ""})
                    if tc.function.name:
                        e["name"] = tc.function.name
                    e["arguments"] += tc.function.arguments or ""
                if c.finish_reason:
                    finish = c.finish_reason
        check(finish == "tool_calls" and acc and acc[0]["name"] == "get_weather" and
              "city" in json.loads(acc[0]["arguments"]), "streamed tool-call deltas by index")
        r = client.chat.completions.create(model=model, messages=ask, tools=[WEATHER],
                                           tool_choice="required", parallel_tool_calls=False,
                                           max_tokens=128, temperature=0)
        check(len(r.choices[0].message.tool_calls) == 1, "parallel_tool_calls=false gives one call")

        # --- JSON-schema output ---
        schema = {"type": "object",
                  "properties": {"name": {"type": "string"}, "age": {"type": "integer", "minimum": 0}},
                  "required": ["name", "age"], "additionalProperties": False}
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Invent a person."}], max_tokens=64,
            temperature=0.7, seed=7,
            response_format={"type": "json_schema", "json_schema": {"name": "person", "schema": schema}})
        person = json.loads(r.choices[0].message.content)
        check(set(person) == {"name", "age"} and isinstance(person["name"], str) and
              isinstance(person["age"], int) and person["age"] >= 0,
              "json_schema output is valid: %s" % person)
        r = client.chat.completions.create(
            model=model, messages=[{"role": "user", "content": "Give me JSON."}], max_tokens=48,
            response_format={"type": "json_object"})
        check(isinstance(json.loads(r.choices[0].message.content), dict), "json_object output is an object")

        # --- stop strings and seeds ---
        r = client.chat.completions.create(model=model, messages=messages, max_tokens=24,
                                           temperature=0, stop=[","])
        check("," not in r.choices[0].message.content and r.choices[0].finish_reason == "stop" and
              text.startswith(r.choices[0].message.content),
              "a stop string cuts the answer: %r" % r.choices[0].message.content)
        a = client.chat.completions.create(model=model, messages=messages, max_tokens=16, temperature=1.0, seed=42)
        b = client.chat.completions.create(model=model, messages=messages, max_tokens=16, temperature=1.0, seed=42)
        check(a.choices[0].message.content == b.choices[0].message.content, "the same seed, the same sample")

        # --- completions ---
        c = client.completions.create(model=model, prompt="The capital of France is", max_tokens=6, temperature=0)
        check(bool(c.choices[0].text) and c.usage.completion_tokens <= 6, "completions: %r" % c.choices[0].text)

        # --- embeddings (the client asks for base64 by default; float explicitly) ---
        e = client.embeddings.create(model="all-minilm-l6-v2", input=["a cat sits on the mat",
                                                                     "a kitten is on the rug",
                                                                     "quarterly tax filing deadlines"])
        vecs = [d.embedding for d in e.data]
        check(len(vecs) == 3 and all(len(v) == 384 for v in vecs), "embeddings: 3 x 384")
        dot = lambda x, y: sum(p * q for p, q in zip(x, y))  # noqa: E731
        check(all(abs(math.sqrt(dot(v, v)) - 1) < 1e-4 for v in vecs), "unit vectors")
        check(dot(vecs[0], vecs[1]) > dot(vecs[0], vecs[2]) + 0.2, "similar sentences are closer")
        f = client.embeddings.create(model="all-minilm-l6-v2", input="a cat sits on the mat",
                                     encoding_format="float")
        check(max(abs(p - q) for p, q in zip(f.data[0].embedding, vecs[0])) < 1e-6,
              "float and base64 encodings agree")
        cli = json.loads(subprocess.check_output([r1, "embed", "--json", "-t", "2", "a cat sits on the mat"]))
        check(max(abs(p - q) for p, q in zip(cli["embeddings"][0]["embedding"], vecs[0])) < 1e-5,
              "the endpoint's vector equals `r1 embed`'s")

        # --- errors ---
        def expect(exc, fn, what):
            try:
                fn()
                check(False, what)
            except exc as err:
                check(True, "%s (%d: %s)" % (what, err.status_code, err.message[:70]))
        expect(openai.NotFoundError, lambda: client.chat.completions.create(
            model="gpt-nonexistent", messages=messages), "an unknown model is 404")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=messages, max_tokens=-5), "negative max_tokens is 400")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=messages, max_tokens=10**9), "absurd max_tokens is 400")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=messages, n=5), "n other than 1 is 400")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=messages, temperature=9), "temperature out of range is 400")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=[{"role": "wizard", "content": "x"}]), "an unknown role is 400")
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=messages, tools=[{"type": "function", "function": {"parameters": {}}}]),
            "a tool without a name is 400")
        too_long = [{"role": "user", "content": "word " * 3000}]
        expect(openai.BadRequestError, lambda: client.chat.completions.create(
            model=model, messages=too_long, stream=True), "a streamed prompt longer than the context is 400")
        auth = {"Authorization": "Bearer " + KEY}
        for raw, what in [(b"{not json", "malformed JSON"), (b"[1,2]", "a JSON array body"),
                          (b'{"model": 5, "messages": []}', "a model of the wrong type"),
                          (b'{"model": "%s", "messages": "hi"}' % model.encode(), "messages not an array"),
                          (b'{"model": "%s", "messages": [{"role": "user", "content": {"x": 1}}]}' % model.encode(),
                           "content of the wrong type")]:
            status, _, body = s.request("POST", "/v1/chat/completions", raw=raw, headers=auth)
            err = json.loads(body).get("error", {})
            check(status == 400 and err.get("type") == "invalid_request_error" and err.get("message"),
                  "%s is 400: %s" % (what, err.get("message", "")[:70]))
        status, _, body = s.request("POST", "/v1/chat/completions", raw=b"x" * (2 << 20), headers=auth)
        check(status == 413, "a 2 MiB body over the 1 MiB limit is 413")
        status, _, body = s.request("POST", "/v1/nothing", body={}, headers=auth)
        check(status == 404 and "error" in json.loads(body), "an unknown route is a 404 error object")

        # --- agents over HTTP ---
        status, _, body = s.request("GET", "/v1/agents", headers=auth)
        check(status == 200 and any(a["name"] == "assistant" for a in json.loads(body)["data"]),
              "GET /v1/agents lists the agent")
        status, _, body = s.request("POST", "/v1/agents/assistant/runs",
                                    body={"input": "What is 1234 * 5678?"},
                                    headers={"Authorization": "Bearer " + LIMITED})
        check(status == 403, "a key limited to other agents gets 403")
        status, _, body = s.request("POST", "/v1/agents/assistant/runs",
                                    body={"input": "What is 1234 * 5678?"}, headers=auth, timeout=300)
        events, done = sse_events(body.decode().splitlines())
        kinds = [e["event"] for e in events]
        check(done and kinds[0] == "run_start" and kinds[-1] == "final", "the run streams from run_start to final")
        results = [e for e in events if e["event"] == "tool_result"]
        # What a 135M model asks the calculator varies; that the call ran and returned is the point.
        check(any(e["call"]["name"] == "calculator" and e["status"] == "ok" for e in results),
              "the agent's calculator call ran: %s" % [e.get("text") for e in results])
        final = events[-1]
        check(final.get("session_id") and final.get("stop_reason"), "final carries session and stop reason")
        run_id = events[0]["run_id"]
        status, _, body = s.request("GET", "/v1/agents/assistant/runs/" + run_id, headers=auth)
        got = json.loads(body)
        check(status == 200 and got["status"] == "completed" and len(got["events"]) == len(events),
              "GET the run returns its events")

        status, _, metrics = s.request("GET", "/metrics")
        m = metrics.decode()
        check('r1_requests_total{endpoint="/v1/chat/completions",code="200"}' in m and
              "r1_time_to_first_token_seconds_count" in m and "r1_prefix_cache_hit_ratio" in m,
              "/metrics has request counts, TTFT and prefix-cache figures")
    os.unlink(keys.name)

    # --- the per-request time limit: a long prompt cannot finish within 1 s ---
    with Server(r1, ["--timeout", "1", "-t", "2", "-c", "4096", "--embedding-model", "none",
                     "--agent", agent]) as s:
        # A run from before the restart is read back from the agent's database.
        status, _, body = s.request("GET", "/v1/agents/assistant/runs/" + run_id)
        got = json.loads(body)
        check(status == 200 and got.get("source") == "database" and
              got["result"]["stop_reason"] == final["stop_reason"] and
              got["result"]["session_id"] == final["session_id"],
              "after a restart GET of the run comes from the database: %s" % got.get("result"))
        status, _, _ = s.request("GET", "/v1/agents/assistant/runs/run-that-never-was")
        check(status == 404, "an unknown run is 404")
        client = openai.OpenAI(base_url=s.url + "/v1", api_key="unused", max_retries=0, timeout=120)
        model = client.models.list().data[0].id
        long_prompt = "Summarise the following notes. " + "The committee met and discussed budgets. " * 250
        try:
            client.chat.completions.create(model=model, messages=[{"role": "user", "content": long_prompt}],
                                           max_tokens=512)
            check(False, "a request past --timeout is stopped")
        except openai.APIStatusError as err:
            check(err.status_code == 504, "a request past --timeout gets 504 (%s)" % err.message[:60])
        status, _, _ = s.request("GET", "/health")
        check(status == 200, "the server is healthy after a timed-out request")
    print("openai client test: all checks passed")


if __name__ == "__main__":
    main()
