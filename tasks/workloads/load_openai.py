"""A load generator for OpenAI-compatible streaming servers (llama.cpp's llama-server, vLLM, SGLang).

It sends a fixed, deterministic prompt set to /v1/completions at a given concurrency, streams every
answer, and writes the result in vLLM's `bench serve --save-result` format (ms keys), so autotune
reads it with the same `vllm` adapter real users take. Standard library only: guidellm and
genai-bench pull in PyTorch and transformers (see the README), and vLLM's client needs its GPU package.

    python load_openai.py --url http://127.0.0.1:8080 --concurrency 4 --num-prompts 16 --max-tokens 64
"""
import argparse
import http.client
import json
import statistics
import threading
import time
import urllib.parse

from results import write_result

WORDS = ("river mountain engine lantern orbit garden signal harbor crystal meadow falcon circuit velvet "
         "compass thunder pebble canyon glacier ember willow").split()


def prompts(n: int) -> list[str]:
    """The same n prompts every run: short instructions built from a fixed word list."""
    return [f"Write a short story about a {WORDS[i % len(WORDS)]} and a {WORDS[(i * 7 + 3) % len(WORDS)]}."
            for i in range(n)]


def one_request(url: urllib.parse.ParseResult, prompt: str, max_tokens: int, timeout: float) -> dict:
    started = time.perf_counter()
    connection = http.client.HTTPConnection(url.hostname, url.port, timeout=timeout)
    # ignore_eos: every answer is max_tokens long (an instruct model may otherwise stop at once), as
    # vLLM's and SGLang's own benchmarks do for a fixed output length.
    body = json.dumps({"prompt": prompt, "max_tokens": max_tokens, "temperature": 0, "stream": True,
                       "ignore_eos": True, "stream_options": {"include_usage": True}})
    try:
        connection.request("POST", "/v1/completions", body, {"Content-Type": "application/json"})
        response = connection.getresponse()
        if response.status != 200:
            return {"error": f"HTTP {response.status}"}
        token_times, usage = [], {}
        for raw in response:
            line = raw.decode(errors="replace").strip()
            if not line.startswith("data:") or line == "data: [DONE]":
                continue
            chunk = json.loads(line[5:])
            usage = chunk.get("usage") or usage
            if chunk.get("timings"):
                usage = {"prompt_tokens": chunk["timings"].get("prompt_n"),
                         "completion_tokens": chunk["timings"].get("predicted_n"), **usage}
            if any(choice.get("text") for choice in chunk.get("choices", [])):
                token_times.append(time.perf_counter())
        if not token_times:
            return {"error": "no tokens"}
        ended = time.perf_counter()
        output_tokens = usage.get("completion_tokens") or len(token_times)
        gaps = [b - a for a, b in zip(token_times, token_times[1:])]
        return {"ttft": token_times[0] - started, "e2el": ended - started,
                "tpot": (ended - token_times[0]) / max(1, output_tokens - 1), "itl": gaps,
                "output_tokens": output_tokens, "prompt_tokens": usage.get("prompt_tokens") or 0}
    except (OSError, ValueError, http.client.HTTPException) as e:
        return {"error": f"{type(e).__name__}: {e}"}
    finally:
        connection.close()


def percentile(values: list, q: float) -> float:
    ordered = sorted(values)
    k = (len(ordered) - 1) * q / 100
    low, high = int(k), min(int(k) + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (k - low)


def run(url: str, concurrency: int, num_prompts: int, max_tokens: int, timeout: float) -> dict:
    target = urllib.parse.urlparse(url)
    queue = list(enumerate(prompts(num_prompts)))
    results: list = [None] * num_prompts
    lock = threading.Lock()

    def worker() -> None:
        while True:
            with lock:
                if not queue:
                    return
                i, prompt = queue.pop(0)
            results[i] = one_request(target, prompt, max_tokens, timeout)

    started = time.perf_counter()
    threads = [threading.Thread(target=worker) for _ in range(concurrency)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    duration = time.perf_counter() - started
    done = [r for r in results if "error" not in r]
    out = {"backend": "openai", "request_rate": "inf", "max_concurrency": concurrency, "duration": duration,
           "num_prompts": num_prompts, "completed": len(done), "failed": num_prompts - len(done),
           "errors": sorted({r["error"] for r in results if "error" in r})}
    if not done:
        return out
    output_tokens = sum(r["output_tokens"] for r in done)
    input_tokens = sum(r["prompt_tokens"] for r in done)
    out.update(total_input_tokens=input_tokens, total_output_tokens=output_tokens,
               request_throughput=len(done) / duration, output_throughput=output_tokens / duration,
               total_token_throughput=(input_tokens + output_tokens) / duration)
    series = {"ttft": [r["ttft"] for r in done], "tpot": [r["tpot"] for r in done],
              "itl": [g for r in done for g in r["itl"]] or [0.0], "e2el": [r["e2el"] for r in done]}
    for name, values in series.items():
        out[f"mean_{name}_ms"] = statistics.mean(values) * 1000
        out[f"median_{name}_ms"] = statistics.median(values) * 1000
        for q in (90, 99):
            out[f"p{q}_{name}_ms"] = percentile(values, q) * 1000
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", required=True, help="base URL of the server, e.g. http://127.0.0.1:8080")
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--num-prompts", type=int, default=16)
    parser.add_argument("--max-tokens", type=int, default=64)
    parser.add_argument("--timeout", type=float, default=300.0, help="seconds per request")
    parser.add_argument("--result-file", help="default: $AUTOTUNE_METRICS_FILE, else stdout")
    args = parser.parse_args()
    write_result(run(args.url, args.concurrency, args.num_prompts, args.max_tokens, args.timeout), args.result_file)


if __name__ == "__main__":
    main()
