"""The viewer's first page in a real browser, with 1,000,000 events in the workspace.

    make bench-viewer    # or: .venv/bin/python bench/viewer.py [--events 1000000] [--runs 20]
                         #     [--fragment '&lang=de']

Loads the events with COPY (as ``bench/query.py``: 1,000,000 in the workspace and as many
in others), serves them with ``auditrail serve`` (PostgreSQL + Redis), and opens a viewer
link in headless Chromium ``--runs`` times: the time from navigation to the first page of
50 events rendered (the page's own ``performance.mark``), the first load (nothing cached)
apart from the later ones (assets from the browser's cache, as a reader's second visit),
beside the API request alone; and the bytes the page fetched, uncompressed.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "src")]

from ingest import _free_port, _wait_up  # noqa: E402
from query import load  # noqa: E402
from scratch import (  # noqa: E402
    add_database_options,
    forget_queues,
    production_env,
    scratch_database,
)

from entrypoints.container.installation import build_container  # noqa: E402
from entrypoints.settings import Settings  # noqa: E402

BIN = Path(sys.executable).parent
TARGET = "ws_viewer" + "0" * 17


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    add_database_options(parser)
    parser.add_argument("--redis", default=os.environ.get("AUDITRAIL_TEST_REDIS",
                                                          "redis://127.0.0.1:6379/0"))
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--fragment", default="",
                        help="more of the link's fragment, e.g. '&lang=de' or '&theme=dark'")
    options = parser.parse_args()
    with scratch_database(options, "auditrail_viewer") as dsn:
        tmp = Path(tempfile.mkdtemp(prefix="auditrail-bench-viewer-"))
        env = production_env(dsn, options.redis, tmp)
        container = build_container(Settings.from_env(env))
        container.upgrade_database()
        if not options.reuse:
            load(dsn, TARGET, options.events, 100)
        link = container.create_viewer_link().execute(TARGET, {}, 3600)
        vkey = container.transparency_log().key(TARGET).verifier_key
        container.engine().dispose()
        port = _free_port()
        server = subprocess.Popen([str(BIN / "auditrail"), "serve", "--port", str(port),
                                   "--workers", "2"], env=env,
                                  stdout=(tmp / "serve.log").open("wb"),
                                  stderr=subprocess.STDOUT)
        try:
            base = f"http://127.0.0.1:{port}"
            _wait_up(base, server)
            measure(f"{base}/viewer/#token={link.token}&key={vkey}{options.fragment}",
                    options)
        finally:
            server.terminate()
            server.wait(30)
            forget_queues(env)
            shutil.rmtree(tmp, ignore_errors=True)


COLD_RUNS = 5


def measure(url: str, options: argparse.Namespace) -> None:
    cold = [load_page(browser, url) for browser in (_browser() for _ in range(COLD_RUNS))]
    browser = _browser()
    try:
        warm = [load_page(browser, url, quit_after=False) for _ in range(options.runs)][1:]
    finally:
        browser.quit()
    print(f"machine: {os.cpu_count()} cores; {options.events:,} events in the workspace; "
          f"headless Chromium; fragment: {options.fragment or '(the link as made)'}\n")
    print(f"{'first page of 50 events rendered, ms':<44} {'p50':>8} {'max':>8}")
    for label, runs in ((f"first visit (new browser, nothing cached) x{len(cold)}", cold),
                        (f"later visits (assets cached) x{len(warm)}", warm)):
        marks = [run["mark"] for run in runs]
        apis = [run["api"] for run in runs]
        print(f"{'  ' + label:<44} {statistics.median(marks):>8.1f} {max(marks):>8.1f}")
        print(f"{'    of which GET /api/v1/events':<44} {statistics.median(apis):>8.1f} "
              f"{max(apis):>8.1f}")
    print("  (target: under 300 ms)\n")
    sizes = cold[-1]["sizes"]
    assets = {name: size for name, size in sizes.items() if not name.startswith("api/")}
    print(f"{'bytes fetched on a first visit, uncompressed':<44} {'bytes':>8}")
    for name, size in sorted(assets.items()):
        print(f"  {name:<42} {size:>8,}")
    print(f"{'  the page and its assets':<44} {sum(assets.values()):>8,}")
    print(f"{'  the first page of events (API JSON)':<44} "
          f"{sum(v for k, v in sizes.items() if k.startswith('api/')):>8,}")
    print("  (target: all assets under 100 KB)", flush=True)


def _browser():  # type: ignore[no-untyped-def]
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    chrome = webdriver.ChromeOptions()
    chrome.binary_location = shutil.which("chromium") or ""
    for argument in ("--headless=new", "--no-sandbox", "--disable-gpu",
                     "--disable-dev-shm-usage", "--window-size=1280,900"):
        chrome.add_argument(argument)
    return webdriver.Chrome(service=Service(shutil.which("chromedriver") or ""),
                            options=chrome)


def load_page(browser, url: str, quit_after: bool = True) -> dict:  # type: ignore[no-untyped-def]
    """One navigation: the page's own mark, the API request's time, the bytes fetched."""
    from selenium.webdriver.support.ui import WebDriverWait
    try:
        browser.get("about:blank")
        browser.get(url)
        WebDriverWait(browser, 30).until(lambda d: d.execute_script(
            "return performance.getEntriesByName('auditrail:first-page').length"))
        return browser.execute_script("""
            const mark = performance.getEntriesByName('auditrail:first-page')[0].startTime;
            const entries = [...performance.getEntriesByType('navigation'),
                             ...performance.getEntriesByType('resource')];
            const events = entries.find(e => e.name.includes('/api/v1/events'));
            return {mark, api: events.responseEnd - events.requestStart,
                    sizes: Object.fromEntries(entries.map(e => [e.name.split(/[?#]/)[0]
                      .replace(/.*\\/(viewer|api)\\//, '$1/'), e.decodedBodySize]))};
        """)
    finally:
        if quit_after:
            browser.quit()


if __name__ == "__main__":
    main()
