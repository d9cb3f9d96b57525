"""Metrics and logs: what an operator scrapes and reads."""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from rq.results import Result

from entrypoints.logs import JsonFormatter, configure_logging
from tests.integration.processes import environment, start, start_server, stop
from tests.integration.stacks import Stack, bearer, production_stack

EVENT = {"action": "user.login", "actor": {"id": "u", "type": "user"}}


def sample(text: str, name: str, **labels: str) -> float:
    """The value of one sample in Prometheus text format (0 when absent)."""
    total = 0.0
    for line in text.splitlines():
        if not line.startswith(name):
            continue
        match = re.match(rf"{name}(\{{(.*)\}})? (\S+)$", line)
        if not match:
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', match.group(2) or ""))
        if all(found.get(k) == v for k, v in labels.items()):
            total += float(match.group(3))
    return total


def test_metrics_cover_requests_events_and_backlog(stack: Stack) -> None:
    _, secret = stack.new_workspace()
    before = stack.client.get("/metrics").get_data(as_text=True)
    stack.client.post("/api/v1/events/batch", headers=bearer(secret),
                      json={"events": [EVENT] * 5})
    pending = stack.client.get("/metrics").get_data(as_text=True)
    assert sample(pending, "auditrail_events_pending") >= 5
    [lag] = [line for line in pending.splitlines()  # exported, whatever its value
             if line.startswith("auditrail_processing_lag_seconds ")]
    assert float(lag.split()[1]) >= 0
    stack.drain()
    after = stack.client.get("/metrics")
    assert after.content_type.startswith("text/plain")
    text = after.get_data(as_text=True)
    accepted = sample(text, "auditrail_events_accepted_total") - sample(
        before, "auditrail_events_accepted_total")
    assert accepted == 5
    stack.client.post("/api/v1/events/batch", headers={**bearer(secret), "Prefer": "receipt"},
                      json={"events": [EVENT] * 3})
    receipted = stack.client.get("/metrics").get_data(as_text=True)
    assert sample(receipted, "auditrail_events_receipted_total") - sample(
        text, "auditrail_events_receipted_total") == 3
    assert sample(text, "auditrail_events_processed_total") >= 5
    assert sample(text, "auditrail_http_requests_total", route="/api/v1/events/batch",
                  status="202") >= 1
    assert sample(text, "auditrail_http_request_duration_seconds_count",
                  route="/api/v1/events/batch") >= 1
    assert "auditrail_queue_depth" in text


def test_the_documented_alerting_rules_parse_and_name_metrics_we_export(
        stack_factory: Any) -> None:
    """docs/operations.md's rules, parsed as Prometheus would: each expression is valid
    PromQL, every auditrail_ series it reads is exported (by a production server, which
    also counts the workers), and a rename cannot leave a rule silently watching nothing."""
    import yaml

    document = (Path(__file__).parents[2] / "docs" / "operations.md").read_text()
    block = document.split("#### Alerting rules", 1)[1].split("```yaml\n", 1)[1]
    rules = yaml.safe_load(block.split("```", 1)[0])["groups"][0]["rules"]
    exported = set(re.findall(r"^# TYPE (\w+) ", stack_factory("production").client.get(
        "/metrics").get_data(as_text=True), re.M))
    read = series_read(rules, "Auditrail")
    assert read and read <= exported, read - exported
    assert {"auditrail_workers", "auditrail_checkpoint_lag_seconds",
            "auditrail_processing_lag_seconds"} <= read


def series_read(rules: list[dict[str, Any]], prefix: str) -> set[str]:
    """The series Prometheus alerting ``rules`` read, each rule named with ``prefix`` and
    summarised; their expressions parsed as Prometheus would (an invalid one raises)."""
    read: set[str] = set()
    for rule in rules:
        assert rule["alert"].startswith(prefix) and rule["annotations"]["summary"]
        read |= series_in(rule["expr"])
    return read


def series_in(expression: str) -> set[str]:
    """The series a PromQL expression reads, parsed as Prometheus would (invalid: raises)."""
    import promql_parser

    read: set[str] = set()
    promql_parser.walk(promql_parser.parse(expression), lambda node: read.add(
        node.name) if isinstance(node, promql_parser.VectorSelector) else None)
    return read


def test_the_grafana_dashboard_reads_metrics_we_export_in_valid_promql(
        stack_factory: Any) -> None:
    """docs/grafana-dashboard.json, as Grafana would run it: every panel's queries are valid
    PromQL once Grafana's interval is put in, and read only series a production server
    exports; the panels tile the grid without overlapping, so the import shows them all."""
    dashboard = json.loads((Path(__file__).parents[2] / "docs" / "grafana-dashboard.json")
                           .read_text())
    text = stack_factory("production").client.get("/metrics").get_data(as_text=True)
    families = dict(re.findall(r"^# TYPE (\w+) (\w+)", text, re.M))
    exported = set(families) | {f"{name}{suffix}" for name, kind in families.items()
                                if kind == "histogram" for suffix in ("_bucket", "_sum",
                                                                      "_count")}
    panels = dashboard["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    cells: set[tuple[int, int]] = set()
    read: set[str] = set()
    for panel in panels:
        place = panel["gridPos"]
        assert place["x"] + place["w"] <= 24, panel["title"]
        taken = {(place["x"] + dx, place["y"] + dy)
                 for dx in range(place["w"]) for dy in range(place["h"])}
        assert not cells & taken, f"{panel['title']} overlaps another panel"
        cells |= taken
        if panel["type"] == "row":
            continue
        assert panel["targets"] and panel["description"], panel["title"]
        for target in panel["targets"]:
            read |= series_in(target["expr"].replace("$__rate_interval", "1m"))
    assert read <= exported, read - exported
    assert {"auditrail_workers", "auditrail_chains_invalid", "auditrail_processing_lag_seconds",
            "auditrail_http_request_duration_seconds_bucket"} <= read


def test_rate_limit_rejections_are_counted(stack: Stack) -> None:
    # 5 a minute, one back every 12 s: the 7 requests below beat the refill on any machine
    _, secret = stack.new_workspace("limited", plan="enterprise", rate_limit=5)
    before = sample(stack.client.get("/metrics").get_data(as_text=True),
                    "auditrail_rate_limited_total", limit="workspace")
    statuses = [stack.client.get("/api/v1/usage", headers=bearer(secret)).status_code
                for _ in range(7)]
    after = sample(stack.client.get("/metrics").get_data(as_text=True),
                   "auditrail_rate_limited_total", limit="workspace")
    assert statuses.count(429) == 2
    assert after - before == 2


def test_request_log_lines_carry_ids_not_secrets(stack: Stack,
                                                 caplog: pytest.LogCaptureFixture) -> None:
    workspace_id, secret = stack.new_workspace()
    with caplog.at_level(logging.INFO, logger="auditrail.http"):
        stack.client.post("/api/v1/events", headers={**bearer(secret), "X-Request-Id": "r-1"},
                          json={**EVENT, "metadata": {"card": "4111-1111"}})
    [record] = [r for r in caplog.records if r.name == "auditrail.http"]
    line = json.loads(JsonFormatter().format(record))
    assert line["request_id"] == "r-1" and line["workspace_id"] == workspace_id
    assert line["route"] == "/api/v1/events" and line["status"] == 202
    assert line["duration_ms"] >= 0
    assert secret not in json.dumps(line) and "4111" not in json.dumps(line)


def test_multi_process_server_merges_counters(postgres_url: str, redis_url: str,
                                              tmp_path: Path) -> None:
    queue = f"auditrail-metrics-{uuid.uuid4().hex[:8]}"
    stack = production_stack(postgres_url, redis_url, queue_name=queue)
    _, secret = stack.new_workspace()
    env = environment(database_url=postgres_url, redis_url=redis_url, queue_name=queue,
                      data_dir=str(tmp_path / "var"))
    server, base = start_server(env, tmp_path / "serve.log", "--workers", "2")
    try:
        for _ in range(40):
            request = urllib.request.Request(
                f"{base}/api/v1/events", method="POST", data=json.dumps(EVENT).encode(),
                headers={**bearer(secret), "Content-Type": "application/json",
                         "Connection": "close"})
            urllib.request.urlopen(request, timeout=10).read()
        time.sleep(0.2)
        scrapes = [urllib.request.urlopen(f"{base}/metrics", timeout=10).read().decode()
                   for _ in range(4)]
    finally:
        stop(server)
        stack.close()
    for text in scrapes:  # whichever process answers, it reports every process's counts
        assert sample(text, "auditrail_events_accepted_total") == 40
        assert sample(text, "auditrail_http_requests_total", route="/api/v1/events",
                      status="202") == 40
        # Nothing was refused or delivered, and the series say so from the start: an
        # alert on increase() would otherwise miss each series' first count.
        for series in ('auditrail_rate_limited_total{limit="workspace"} 0.0',
                       'auditrail_rate_limited_total{limit="auth_failures"} 0.0',
                       'auditrail_exports_total{status="failed"} 0.0',
                       'auditrail_deliveries_total{outcome="http_error",type="webhook"} 0.0',
                       'auditrail_deliveries_total{outcome="timeout",type="alert"} 0.0',
                       'auditrail_events_delivered_total{type="datadog"} 0.0'):
            assert series in text.splitlines(), series
    lines = [json.loads(line) for line in (tmp_path / "serve.log").read_text().splitlines()]
    requests = [line for line in lines if line.get("message") == "request"]
    assert len(requests) >= 40 and all("request_id" in line for line in requests)


def test_invented_methods_share_one_series(stack: Stack) -> None:
    """Each invented method name would otherwise be a new series, kept forever."""
    for method in ("BREW", "WHEN", "PROPFIND"):
        stack.client.open("/api/v1/events", method=method)
    text = stack.client.get("/metrics").get_data(as_text=True)
    assert sample(text, "auditrail_http_requests_total", method="other") >= 3
    assert not re.search(r'method="(BREW|WHEN|PROPFIND)"', text)


def test_log_lines_skip_what_they_never_show(monkeypatch: pytest.MonkeyPatch) -> None:
    """The caller's source position and thread are not collected; the process id is, for
    gunicorn's own lines; the timestamp keeps its exact shape."""
    root = logging.getLogger()
    for name in ("_srcfile", "logThreads", "logMultiprocessing"):  # restored afterwards
        monkeypatch.setattr(logging, name, getattr(logging, name))
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    configure_logging("INFO")
    records: list[logging.LogRecord] = []
    capture = logging.Handler()
    capture.emit = records.append  # type: ignore[method-assign]
    root.addHandler(capture)
    logging.getLogger("auditrail.test").info("hello", extra={"request_id": "r-1"})
    [record] = records
    assert record.lineno == 0 and record.thread is None and record.process == os.getpid()
    record.created = 1.5
    line = json.loads(JsonFormatter().format(record))
    assert line == {"ts": "1970-01-01T00:00:01.500000Z", "level": "info",
                    "logger": "auditrail.test", "message": "hello", "request_id": "r-1"}


def test_routes_are_labelled_by_their_template_without_converters(
        stack: Stack, caplog: pytest.LogCaptureFixture) -> None:
    """Ids are checked by a route converter; dashboards and log queries keep seeing
    ``<event_id>``, the same whichever converter checks it."""
    _, secret = stack.new_workspace()
    with caplog.at_level(logging.INFO, logger="auditrail.http"):
        stack.client.get("/api/v1/events/evt_01NOSUCHEVENT", headers=bearer(secret))
    [record] = [r for r in caplog.records if r.name == "auditrail.http"]
    assert json.loads(JsonFormatter().format(record))["route"] == "/api/v1/events/<event_id>"
    text = stack.client.get("/metrics").get_data(as_text=True)
    assert sample(text, "auditrail_http_requests_total", route="/api/v1/events/<event_id>",
                  status="404") >= 1
    assert "id:event_id" not in text


def test_a_failed_job_logs_one_line_without_its_traceback(postgres_url: str, redis_url: str,
                                                          tmp_path: Path) -> None:
    """RQ pastes the traceback into its message, where the exception's text can quote SQL
    parameters (event data), and set its logger to INFO: three lines for every job."""
    stack = production_stack(postgres_url, redis_url, queue_name=f"auditrail-joblog-"
                                                                 f"{uuid.uuid4().hex[:8]}")
    try:
        stack.container.upgrade_database()
        queue = stack.container.job_queue().queues[0]  # the processing queue
        job = queue.enqueue("builtins.int", "x")  # ValueError: invalid literal for int() …
        env = environment(database_url=postgres_url, redis_url=redis_url,
                          queue_name=queue.name, data_dir=str(tmp_path / "var"))
        log = tmp_path / "worker.log"
        worker = start("worker", "--burst", env=env, log=log)
        assert worker.wait(60) == 0, log.read_text()
        lines = [json.loads(line) for line in log.read_text().splitlines()]
        [failure] = [line for line in lines if line["level"] == "error"]
        assert failure["message"].endswith("(ValueError)"), failure
        assert "Traceback" not in log.read_text()
        assert "invalid literal" not in log.read_text()  # the exception's own text
        assert [line for line in lines if line["logger"].startswith("rq")] == [failure]
    finally:
        stack.close()
    assert not queue.connection.exists(Result.get_key(job.id))  # RQ keeps it for a year


TRACE = ("Traceback (most recent call last):\n  File \"jobs.py\", line 1\n"
         "psycopg.OperationalError: [parameters: ('private',)]")


@pytest.mark.parametrize(("level", "shown"), [
    (logging.INFO, "job 7 failed (psycopg.OperationalError)"),
    (logging.DEBUG, f"job 7 failed\n{TRACE}"),  # tracebacks are for DEBUG
])
def test_a_traceback_in_a_message_is_cut_below_debug(level: int, shown: str) -> None:
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)  # not the attribute: setLevel also clears isEnabledFor's cache
    try:
        record = logging.LogRecord("rq.worker", logging.ERROR, "", 0, "job %s failed\n%s",
                                   (7, TRACE), None)
        assert json.loads(JsonFormatter().format(record))["message"] == shown
    finally:
        root.setLevel(before)


CHAINED = ("Traceback (most recent call last):\n  File \"psycopg/connection.py\", line 1\n"
           "    raise last_ex\n"
           "psycopg.OperationalError: connection failed\n\tIs the server running?\n\n"
           "The above exception was the direct cause of the following exception:\n\n"
           "Traceback (most recent call last):\n  File \"jobs.py\", line 1\n"
           "    return engine.execute(destination_id)\n           ^^^^^^^^^^^^^^\n"
           "sqlalchemy.exc.OperationalError: (psycopg.OperationalError) connection failed\n"
           "\tIs the server running?\n(Background on this error at: https://sqlalche.me/e/20/e3q8)")


def test_the_exception_named_is_the_last_raised_whatever_its_message_spans() -> None:
    """A failed job met in a database outage: SQLAlchemy's message runs on over lines, the
    last of them "(Background on this error at: …)", which was taken for the type."""
    record = logging.LogRecord("rq.worker", logging.ERROR, "", 0, "job %s failed\n%s",
                               (7, CHAINED), None)
    assert json.loads(JsonFormatter().format(record))["message"] == \
        "job 7 failed (sqlalchemy.exc.OperationalError)"


@pytest.mark.parametrize("level", [logging.INFO, logging.DEBUG])
def test_exc_info_becomes_a_traceback_at_debug_only(level: int) -> None:
    """``log.exception`` below DEBUG: the line says what failed, never the stack (its
    frames' text can quote SQL parameters, and so event data)."""
    root = logging.getLogger()
    before = root.level
    root.setLevel(level)
    try:
        try:
            raise ValueError("private")
        except ValueError:
            record = logging.LogRecord("auditrail", logging.ERROR, "", 0, "failed", (),
                                       sys.exc_info())
        line = json.loads(JsonFormatter().format(record))
    finally:
        root.setLevel(before)
    assert line["message"] == "failed"
    if level == logging.DEBUG:
        assert line["traceback"].endswith("ValueError: private")
    else:
        assert "traceback" not in line and "private" not in json.dumps(line)


def test_a_periodic_task_failing_says_so_once_a_minute_then_that_it_recovered(
        caplog: pytest.LogCaptureFixture) -> None:
    """A worker signs every second: with the database down for five minutes it said so
    300 times. Now: the first failure, one line a minute while it lasts, the recovery."""
    from entrypoints.worker.rq_worker import Outage
    now = [0.0]
    outage = Outage("signing checkpoints", clock=lambda: now[0])
    caplog.set_level(logging.INFO, logger="entrypoints.worker.rq_worker")

    def down() -> None:
        raise ConnectionError("the database is down")

    for second in range(300):
        now[0] = float(second)
        outage.run(down)
    outage.run(lambda: None)
    outage.run(lambda: None)
    assert [r.getMessage() for r in caplog.records] == [
        "signing checkpoints failed (ConnectionError); retrying",
        "signing checkpoints still failing after 60 s (ConnectionError)",
        "signing checkpoints still failing after 120 s (ConnectionError)",
        "signing checkpoints still failing after 180 s (ConnectionError)",
        "signing checkpoints still failing after 240 s (ConnectionError)",
        "signing checkpoints works again after 299 s"]
    with pytest.raises(KeyError):  # an error it was not told to expect is not swallowed
        Outage("scheduling").run(lambda: {}["x"], (ConnectionError,))


def test_rq_saying_redis_is_unreachable_is_heard_once_a_minute(
        monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture,
        redis_url: str) -> None:
    """RQ's own worker code logs a failed Redis connection every two seconds (here its
    pub/sub thread's handler, called as it would be): the first line, then one a minute
    saying how many were held back."""
    import redis
    from rq.worker import base

    from entrypoints.logs import RepeatedLines
    from entrypoints.worker.rq_worker import Worker
    now = [0.0]
    lines = RepeatedLines("could not connect to Redis", clock=lambda: now[0])
    rq_log = logging.getLogger("rq.worker")
    monkeypatch.setattr(rq_log, "filters", [lines])
    monkeypatch.setattr(base.time, "sleep", lambda seconds: None)
    caplog.set_level(logging.WARNING, logger="rq.worker")
    worker = Worker(["auditrail-test-unused"], connection=redis.Redis.from_url(redis_url))
    for second in range(0, 150, 2):  # two and a half minutes down
        now[0] = float(second)
        worker._pubsub_exception_handler(redis.exceptions.ConnectionError("down"),
                                         None, None)  # type: ignore[arg-type]
    records = [r for r in caplog.records if r.name == "rq.worker"]
    assert [getattr(r, "held_back", 0) for r in records] == [0, 29, 29]
    assert all("could not connect to Redis" in r.getMessage() for r in records)
    logging.getLogger("rq.worker").warning("something else")  # other lines pass
    assert caplog.records[-1].getMessage() == "something else"


def test_every_process_throttles_the_lines_an_outage_repeats(
        monkeypatch: pytest.MonkeyPatch) -> None:
    from entrypoints.logs import OUTAGE_LINES
    root = logging.getLogger()
    for name in ("_srcfile", "logThreads", "logMultiprocessing"):  # restored afterwards
        monkeypatch.setattr(logging, name, getattr(logging, name))
    monkeypatch.setattr(root, "handlers", list(root.handlers))
    monkeypatch.setattr(root, "level", root.level)
    for name in OUTAGE_LINES:
        logger = logging.getLogger(name)
        monkeypatch.setattr(logger, "filters", [])
        monkeypatch.setattr(logger, "level", logger.level)
    configure_logging("INFO")
    configure_logging("INFO")  # as a second command in one process would: still once
    for name, repeated in OUTAGE_LINES.items():
        assert logging.getLogger(name).filters == [repeated]
    assert set(OUTAGE_LINES) == {"rq.worker", "adapters.rq_queue.job_queue",
                                 "entrypoints.http.errors"}
