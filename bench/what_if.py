"""What single ``POST /events`` would gain without some of its behaviour, against the bare
endpoint.

    make bench-what-if   # or: .venv/bin/python bench/what_if.py [--rounds 5]

Single events reach about 45 % of the bare one-INSERT endpoint (``bench/ingest.py``), and
the issue asks for 60 %. This measures, in the same interleaved rounds, four ``auditrail
serve`` processes: as shipped; logging requests at ``WARNING`` (no line per request);
that and no rate-limit round trip (no shared limit, no revocation check); and those and
no search terms written at ingest - beside the bare endpoint. The last two are stripped
through ``bench/what_if_patches`` (see there), for this measurement only: they are not
correct servers. Prints each one's median ratio to the bare endpoint and the CPU a
request cost every process.
"""

from __future__ import annotations

import statistics
from pathlib import Path

from cpu import GROUPS, CpuMeter
from ingest import BIN, Bench, Target, _free_port, parse_args

PATCHES = Path(__file__).resolve().parent / "what_if_patches"
VARIANTS = {
    "as shipped": {},
    "request log at WARNING": {"AUDITRAIL_LOG_LEVEL": "WARNING"},
    "and no shared rate limit": {"AUDITRAIL_LOG_LEVEL": "WARNING",
                                 "AUDITRAIL_BENCH_WHAT_IF": "no_rate_limit"},
    "and no search terms at ingest": {"AUDITRAIL_LOG_LEVEL": "WARNING",
                                      "AUDITRAIL_BENCH_WHAT_IF": "no_rate_limit,no_terms"},
}


class WhatIf(Bench):
    def run(self) -> None:
        self.prepare()
        key = self._workspace("single")[1]
        targets = {name: self._variant(name, extra, key) for name, extra in VARIANTS.items()}
        targets["bare"] = self._bare_endpoint("bare", "bare_app:app")
        rates, _, cpu = self.interleaved_rounds(targets, _progress)
        print(f"\n{'server':<32} {'req/s':>7}  {'of bare':>8}  rounds       CPU µs a request")
        for name in targets:
            ratios = sorted(a / b for a, b in zip(rates[name], rates["bare"], strict=True))
            costs = {group: statistics.median(r[group] for r in cpu[name]) for group in GROUPS}
            print(f"{name:<32} {statistics.median(rates[name]):>7,.0f}  "
                  f"{100 * statistics.median(ratios):>7.1f}%  "
                  f"{100 * ratios[0]:.0f}-{100 * ratios[-1]:.0f} %   {sum(costs.values()):>8,.0f}")

    def _variant(self, name: str, extra: dict[str, str], key: str) -> Target:
        port = _free_port()
        env = {**self.env, **extra, "PYTHONPATH": str(PATCHES)}
        process, base = self._serve([str(BIN / "auditrail"), "serve", "--port", str(port),
                                     "--workers", str(self.options.server_workers)],
                                    port, env, f"{name}.log")
        return base, "/api/v1/events", key, CpuMeter(process.pid)


def _progress(number: int, rates: dict[str, list[float]]) -> None:
    print(f"round {number}: " + ", ".join(
        f"{100 * rates[name][-1] / rates['bare'][-1]:.1f} %" for name in VARIANTS), flush=True)


def main() -> None:
    bench = WhatIf(parse_args())
    try:
        bench.run()
    finally:
        bench.close()


if __name__ == "__main__":
    main()
