"""The Python client's batching emitter against the endpoints it stands in for.

    make bench-client    # or: .venv/bin/python bench/client.py --rounds 3

A real ``auditrail serve`` (production profile, PostgreSQL + Redis) and, in this process,
in interleaved rounds so that the machine's drift cancels out of the ratios:
  * direct: 8 threads each POSTing single events to ``/events`` (keep-alive connections);
  * emitter: 8 threads calling ``emit()`` for single events, timed until ``flush()``
    returns (everything accepted), with one and with two sender threads (the default),
    and with two and a spool folder (each event committed to SQLite before ``emit``
    returns); and the latency of ``emit()`` itself, p50/p99/max, while the senders are
    busy (the queue holds a round's events, so ``emit`` never waits for room);
  * the limit: 8 threads POSTing prepared 1,000-event bodies to ``/events/batch``.
Events/s accepted (202), and the emitter's ratio to each.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from auditrail_client import Auditrail
from ingest import EVENT, _free_port, _load, _wait_up
from scratch import add_server_options, forget_queues, production_env, scratch_database

BIN = Path(sys.executable).parent
THREADS = 8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_server_options(parser)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--singles", type=int, default=16_000, help="direct events a round")
    parser.add_argument("--events", type=int, default=100_000,
                        help="emitter and batch events a round")
    parser.add_argument("--server-workers", type=int, default=os.cpu_count() or 2)
    options = parser.parse_args()
    options.reuse, options.keep = None, False
    tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-client-"))
    with scratch_database(options, "auditrail_bench_client") as dsn:
        env = production_env(dsn, options.redis, tmp)
        subprocess.run([str(BIN / "auditrail"), "db", "upgrade"], env=env, check=True,
                       capture_output=True)
        key = json.loads(subprocess.run(
            [str(BIN / "auditrail"), "workspaces", "create", "--name", "bench", "--plan",
             "enterprise", "--rate-limit", "1000000000", "--json"], env=env, check=True,
            capture_output=True, text=True).stdout)["api_key"]
        port = _free_port()
        server = subprocess.Popen(
            [str(BIN / "auditrail"), "serve", "--port", str(port), "--workers",
             str(options.server_workers)], env=env, stdout=(tmp / "serve.log").open("wb"),
            stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base, server)
            run(base, key, options)
        finally:
            server.terminate()
            server.wait(30)
            forget_queues(env)


def run(base: str, key: str, options: argparse.Namespace) -> None:
    print(f"machine: {os.cpu_count()} cores; server: {options.server_workers} gunicorn "
          f"workers; {THREADS} client threads; {options.rounds} rounds\n", flush=True)
    single = json.dumps(EVENT).encode()
    batch = json.dumps({"events": [EVENT] * 1000}).encode()
    _load(base, "/api/v1/events/batch", [(key, batch)] * 8, THREADS)  # warm-up
    rates: dict[str, list[float]] = {"direct": [], "emitter": [], "emitter2": [],
                                     "spooled": [], "batch": []}
    latencies: dict[str, list[float]] = {"emitter2": [], "spooled": []}
    for number in range(1, options.rounds + 1):
        elapsed, _ = _load(base, "/api/v1/events", [(key, single)] * options.singles, THREADS)
        rates["direct"].append(options.singles / elapsed)
        for name, senders in (("emitter", 1), ("emitter2", 2), ("spooled", 2)):
            with tempfile.TemporaryDirectory(prefix="auditrail-bench-spool-") as folder:
                rate, waits = emitted(base, key, options.events, senders,
                                      folder if name == "spooled" else None)
            rates[name].append(rate)
            if name in latencies:
                latencies[name] += waits
        elapsed, _ = _load(base, "/api/v1/events/batch",
                           [(key, batch)] * (options.events // 1000), THREADS)
        rates["batch"].append(options.events / elapsed)
        print(f"round {number}: " + ", ".join(f"{name} {values[-1]:,.0f}/s"
                                              for name, values in rates.items()), flush=True)
    median = {name: statistics.median(values) for name, values in rates.items()}
    print(f"\n{'events/s accepted (median of rounds)':<44} {'events/s':>9} {'÷ direct':>9} "
          f"{'÷ batch':>8}")
    for name, label in (("direct", "8 threads, POST /events each"),
                        ("emitter", "8 threads emit(), 1 sender"),
                        ("emitter2", "8 threads emit(), 2 senders (default)"),
                        ("spooled", "8 threads emit(), 2 senders, a spool"),
                        ("batch", "limit  8 threads POST /events/batch")):
        print(f"{label:<44} {median[name]:>9,.0f} {median[name] / median['direct']:>8.1f}x "
              f"{100 * median[name] / median['batch']:>7.1f}%")
    print("  (target: the emitter >= 5x direct and >= 70 % of the batch endpoint)")
    print(f"\nemit() while the senders are busy (sys.getswitchinterval() = "
          f"{sys.getswitchinterval() * 1e3:g} ms):")
    for name, label in (("emitter2", "in memory"), ("spooled", "with a spool")):
        waits = sorted(latencies[name])
        print(f"  {label:<13} p50 {_quantile(waits, 0.5) * 1e6:,.1f} µs, p99 "
              f"{_quantile(waits, 0.99) * 1e6:,.1f} µs, max {waits[-1] * 1e3:,.1f} ms over "
              f"{len(waits):,} calls", flush=True)


def emitted(base: str, key: str, count: int, senders: int,
            spool: str | None = None) -> tuple[float, list[float]]:
    """Events/s from the first ``emit()`` until ``flush()`` returns, and each emit's wait."""
    client = Auditrail(base, key)
    emitter = client.emitter(senders=senders, max_queue=count,  # emit() never blocks
                             spool=spool)
    waits: list[list[float]] = [[] for _ in range(THREADS)]

    def produce(thread: int) -> None:
        mine = waits[thread]
        clock = time.perf_counter
        for _ in range(count // THREADS):
            began = clock()
            emitter.emit(EVENT)
            mine.append(clock() - began)

    threads = [threading.Thread(target=produce, args=(t,)) for t in range(THREADS)]
    began = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    emitter.flush()
    elapsed = time.perf_counter() - began
    stats = emitter.stats()
    emitter.close()
    client.close()
    if stats.delivered != count:
        raise SystemExit(f"the emitter delivered {stats.delivered} of {count}: {stats}")
    return count / elapsed, [w for mine in waits for w in mine]


def _quantile(values: list[float], q: float) -> float:
    return values[min(len(values) - 1, int(q * len(values)))]


if __name__ == "__main__":
    main()
