"""Rate limiting and admission cost, beside the raw Redis limits.

    .venv/bin/python bench/ratelimit.py

Prints, in one run:
  * decisions/s of the in-memory limiter and of the Redis script (one client, and several
    threads), beside Redis's own PING and GET rates on the same connection;
  * the latency (p50/p99) of the admission path the API runs on every request -
    key lookup in PostgreSQL, IP allowlist, failed-auth guard and workspace rate limit -
    with the Redis limiter and with the in-memory one, and of authentication alone;
  * on a real ``auditrail serve`` process: ``/healthz`` (nothing) against an authenticated
    ``GET /api/v1/events/{id}`` of a missing id (admission plus one primary-key lookup).
"""

from __future__ import annotations

import http.client
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from pathlib import Path

import psycopg
import redis

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
BIN = Path(sys.executable).parent

from scratch import SIGNING_KEY  # noqa: E402

from adapters.inprocess.rate_limiter import InMemoryRateLimiter  # noqa: E402
from adapters.redis_store.rate_limiter import RedisRateLimiter  # noqa: E402
from application.credential_cache import CredentialCache  # noqa: E402
from application.principal import Principal  # noqa: E402
from application.use_cases.admit_request import AdmitRequest, FailureMemory  # noqa: E402
from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

POSTGRES = os.environ.get("AUDITRAIL_TEST_POSTGRES", "postgresql://postgres@127.0.0.1:5432/test")
REDIS = os.environ.get("AUDITRAIL_TEST_REDIS", "redis://127.0.0.1:6379/0")


def rate(operation: Callable[[], object], count: int) -> float:
    started = time.perf_counter()
    for _ in range(count):
        operation()
    return count / (time.perf_counter() - started)


def threaded_rate(operation: Callable[[], object], count: int, threads: int) -> float:
    started = time.perf_counter()
    with ThreadPoolExecutor(max_workers=threads) as pool:
        list(pool.map(lambda _: [operation() for _ in range(count // threads)], range(threads)))
    return count / (time.perf_counter() - started)


def latencies(operation: Callable[[], object], count: int) -> tuple[float, float]:
    timings = []
    for _ in range(count):
        started = time.perf_counter()
        operation()
        timings.append((time.perf_counter() - started) * 1000)
    cuts = statistics.quantiles(timings, n=100)
    return cuts[49], cuts[98]


def main() -> None:
    client = redis.Redis.from_url(REDIS)
    prefix = f"bench:{uuid.uuid4().hex[:8]}:"
    memory = InMemoryRateLimiter()
    shared = RedisRateLimiter(client, prefix=prefix)
    print("decisions/s")
    print(f"  redis PING (raw limit)             {rate(client.ping, 20_000):>10,.0f}")
    print(f"  redis GET (raw limit)              {rate(lambda: client.get('x'), 20_000):>10,.0f}")
    print(f"  redis GCRA script, 1 client        "
          f"{rate(lambda: shared.hit('k', 10**9), 20_000):>10,.0f}")
    print(f"  redis GCRA script, 4 threads       "
          f"{threaded_rate(lambda: shared.hit('k', 10**9), 20_000, 4):>10,.0f}")
    print(f"  in-memory, 1 thread                "
          f"{rate(lambda: memory.hit('k', 10**9), 200_000):>10,.0f}")
    print(f"  in-memory, 4 threads               "
          f"{threaded_rate(lambda: memory.hit('k', 10**9), 200_000, 4):>10,.0f}")

    database = f"auditrail_rl_{uuid.uuid4().hex[:8]}"
    with psycopg.connect(POSTGRES, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{database}"')
    url = f"{POSTGRES.rsplit('/', 1)[0]}/{database}".replace("postgresql://",
                                                              "postgresql+psycopg://")
    try:
        measure_admission(url)
    finally:
        with psycopg.connect(POSTGRES, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
        for key in client.scan_iter(f"{prefix}*"):
            client.delete(key)


def measure_admission(url: str) -> None:
    queue = f"bench-rl-{uuid.uuid4().hex[:8]}"
    container = build_container(Settings(database_url=url, redis_url=REDIS, queue_name=queue))
    container.upgrade_database()
    workspace, issued = container.create_workspace().execute(
        "bench", "enterprise", 10**9)
    authenticate = container.authenticate()
    cached = container.admit_request()
    clock = container.clock()
    with_redis = AdmitRequest(authenticate, container.rate_limiter(), FailureMemory(clock),
                              CredentialCache(clock, max_age=timedelta(0)))
    with_memory = AdmitRequest(authenticate, InMemoryRateLimiter(), FailureMemory(clock),
                               CredentialCache(clock))
    secret, address = issued.secret, "203.0.113.5"
    container.update_workspace().execute(
        Principal(workspace, issued.key), {"ip_allowlist": ["203.0.113.0/24", "10.0.0.0/8"]},
        address)
    for step in (lambda: authenticate.execute(secret, address),
                 lambda: with_redis.execute(secret, address),
                 lambda: cached.execute(secret, address)):
        for _ in range(200):  # warm the pools and prepared statements
            step()
    print("\nadmission path, in-process (PostgreSQL key lookup, allowlist, limits)   p50 ms  "
          "p99 ms")
    for label, step in [
        ("authentication + allowlist only", lambda: authenticate.execute(secret, address)),
        ("+ failed-auth guard + workspace limit (Redis)", lambda: with_redis.execute(
            secret, address)),
        ("+ failed-auth guard + workspace limit (memory)", lambda: with_memory.execute(
            secret, address)),
        ("the same with Redis, key from the credential cache (the default)",
         lambda: cached.execute(secret, address)),
    ]:
        p50, p99 = latencies(step, 3_000)
        print(f"  {label:<66} {p50:>6.3f}  {p99:>6.3f}")
    measure_server(url, queue, secret)


def measure_server(url: str, queue: str, secret: str) -> None:
    port = _free_port()
    data_dir = tempfile.mkdtemp(prefix="auditrail-ratelimit-bench-")
    env = {k: v for k, v in os.environ.items() if not k.startswith("AUDITRAIL_")}
    env.update({"AUDITRAIL_DATABASE_URL": url, "AUDITRAIL_REDIS_URL": REDIS,
                "AUDITRAIL_QUEUE_NAME": queue,  # logs at the default level, INFO
                "AUDITRAIL_SECRET_KEY": "bench-secret-key-0123456789abcdef",
                "AUDITRAIL_SIGNING_KEY": SIGNING_KEY,
                "AUDITRAIL_TRUSTED_PROXIES": "1",
                "AUDITRAIL_DATA_DIR": data_dir})
    server = subprocess.Popen([str(BIN / "auditrail"), "serve", "--port", str(port),
                               "--workers", "1"], env=env, stdout=subprocess.DEVNULL,
                              stderr=subprocess.DEVNULL)
    try:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
        _wait_up(connection)

        def get(path: str, headers: dict[str, str]) -> None:
            connection.request("GET", path, headers=headers)
            response = connection.getresponse()
            response.read()

        authed = {"Authorization": f"Bearer {secret}", "X-Forwarded-For": "203.0.113.5"}
        for _ in range(300):
            get("/healthz", {})
            get("/api/v1/events/evt_missing", authed)
        print("\nreal server (1 gunicorn worker), one keep-alive connection        p50 ms  "
              "p99 ms")
        for label, path, headers in [
            ("GET /healthz (no admission)", "/healthz", {}),
            ("GET /api/v1/events/evt_missing (admission + PK lookup, 404)",
             "/api/v1/events/evt_missing", authed),
        ]:
            p50, p99 = latencies(lambda p=path, h=headers: get(p, h), 3_000)
            print(f"  {label:<62} {p50:>6.3f}  {p99:>6.3f}")
    finally:
        server.terminate()
        server.wait(30)
        shutil.rmtree(data_dir, ignore_errors=True)


def _wait_up(connection: http.client.HTTPConnection) -> None:
    for _ in range(150):
        try:
            connection.request("GET", "/healthz")
            connection.getresponse().read()
            return
        except OSError:
            connection.close()
            time.sleep(0.2)
    raise SystemExit("server did not come up")


def _free_port() -> int:
    import socket
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]

if __name__ == "__main__":
    main()
