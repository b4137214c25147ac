"""Do registration and password reset tell a stranger who has an account? Status, body and
time of the answers for known and unknown emails, through the real server.

    python scripts/bench_enumeration.py [--requests 200] [--source PATH]

Starts `marketplace serve` (one process) on a fresh SQLite database with the demo data and
the production password-hashing cost (argon2id, 64 MiB, t=3), rate limits off (this measures
the answers, not the limiter), then sends, in a random interleaving so that drift hits both
sides alike:

  register   `POST /v1/auth/register` with the demo buyer's email (known) or a new random
             one (unknown), the same password and name;
  reset      `POST /v1/auth/password-reset` with the demo buyer's email or a random unknown one;
  floor      `GET /healthz`, the noise floor of one request on this machine.

For each pair it prints the statuses and whether every body was identical (the `email` the
register answer echoes is the one sent, so it is blanked first), the latency percentiles, and
the difference of the medians with a bootstrap 95% interval: an interval that contains 0 means
the two cannot be told apart at this sample size. Latencies are client-side wall times; the
client shares the machine's cores with the server.
"""

import argparse
import asyncio
import json
import random
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_login_flood import DEMO_BUYER, PROJECT_ROOT, percentile, serve, wait_ready

PASSWORD = "an unguessable pass phrase 7"
BOOTSTRAP_ROUNDS = 2000

Case = tuple[str, bool]
Results = dict[Case, tuple[list[float], set[str]]]


def _canonical(response: httpx.Response) -> str:
    body = response.json()
    if isinstance(body, dict) and "email" in body:
        body["email"] = "<echoed>"
    return f"{response.status_code} {json.dumps(body, sort_keys=True)}"


def _unknown_email() -> str:
    return f"nobody-{random.getrandbits(64):x}@example.com"


async def _send(client: httpx.AsyncClient, kind: str, known: bool) -> tuple[float, str]:
    started = time.perf_counter()
    if kind == "register":
        email = DEMO_BUYER[0] if known else _unknown_email()
        response = await client.post(
            "/v1/auth/register",
            json={"email": email, "password": PASSWORD, "display_name": "Someone"},
        )
    elif kind == "reset":
        email = DEMO_BUYER[0] if known else _unknown_email()
        response = await client.post("/v1/auth/password-reset", json={"email": email})
    else:
        response = await client.get("/healthz")
    return time.perf_counter() - started, _canonical(response)


def _median_difference_interval(known: list[float], unknown: list[float]) -> tuple[float, float]:
    rng = random.Random(17)
    differences = sorted(
        statistics.median(rng.choices(known, k=len(known)))
        - statistics.median(rng.choices(unknown, k=len(unknown)))
        for _ in range(BOOTSTRAP_ROUNDS)
    )
    return differences[int(0.025 * BOOTSTRAP_ROUNDS)], differences[int(0.975 * BOOTSTRAP_ROUNDS)]


async def measure(
    base_url: str, requests: int
) -> dict[tuple[str, bool], tuple[list[float], set[str]]]:
    plan: list[Case] = [
        ("register", True),
        ("register", False),
        ("reset", True),
        ("reset", False),
        ("floor", False),
    ]
    order = [case for case in plan for _ in range(requests)]
    random.Random(5).shuffle(order)
    results: Results = {case: ([], set()) for case in plan}
    async with httpx.AsyncClient(base_url=base_url, timeout=60) as client:
        for case in plan:  # warm up every path once
            await _send(client, *case)
        for kind, known in order:
            seconds, answer = await _send(client, kind, known)
            results[(kind, known)][0].append(seconds * 1000)
            results[(kind, known)][1].add(answer)
    return results


def report(results: Results) -> None:
    print(
        f"{'endpoint':10} {'email':8} {'n':>5} {'p50 ms':>8} {'p95 ms':>8} {'p99 ms':>8} "
        f"{'req/s':>7}  answers"
    )
    for (kind, known), (ms, answers) in results.items():
        label = "known" if known else "unknown"
        if kind == "floor":
            label = "-"
        statuses = ", ".join(sorted({answer.split(" ", 1)[0] for answer in answers}))
        print(
            f"{kind:10} {label:8} {len(ms):>5} {percentile(ms, 0.5):>8.1f} "
            f"{percentile(ms, 0.95):>8.1f} {percentile(ms, 0.99):>8.1f} "
            f"{1000 / statistics.fmean(ms):>7.1f}  {len(answers)} distinct ({statuses})"
        )
    print()
    for kind in ("register", "reset"):
        known_ms, known_answers = results[(kind, True)]
        unknown_ms, unknown_answers = results[(kind, False)]
        low, high = _median_difference_interval(known_ms, unknown_ms)
        difference = statistics.median(known_ms) - statistics.median(unknown_ms)
        same = known_answers == unknown_answers and len(known_answers) == 1
        print(
            f"{kind}: bodies and statuses identical: {'yes' if same else 'NO'}; median known - "
            f"unknown = {difference:+.2f} ms, 95% interval [{low:+.2f}, {high:+.2f}] ms "
            f"({'contains 0: indistinguishable' if low <= 0 <= high else 'excludes 0'})"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200, help="per case")
    parser.add_argument("--source", type=Path, default=PROJECT_ROOT, help="project checkout")
    parser.add_argument("--port", type=int, default=8792)
    args = parser.parse_args()
    base_url = f"http://127.0.0.1:{args.port}"
    with tempfile.TemporaryDirectory(prefix="bench-enumeration-") as workdir:
        server = serve(args.source.resolve(), Path(workdir), args.port)
        try:
            asyncio.run(wait_ready(base_url))
            results = asyncio.run(measure(base_url, args.requests))
        finally:
            server.terminate()
            server.wait(timeout=30)
    print(f"\nsource: {args.source.resolve()}   {args.requests} requests per case, interleaved")
    report(results)


if __name__ == "__main__":
    main()
