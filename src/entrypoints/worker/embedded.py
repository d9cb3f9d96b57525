"""The embedded profile's worker: a thread inside ``serve`` draining the in-process queue."""

from __future__ import annotations

from entrypoints.container.installation import CHECK, DELIVER, EXPORT, PROCESS, Container
from entrypoints.worker import jobs


def start_embedded_worker(container: Container) -> None:
    jobs.bind(container)
    container.job_queue().start({PROCESS: jobs.process_workspace, EXPORT: jobs.run_export,
                                 DELIVER: jobs.deliver, CHECK: jobs.check_chain},
                                jobs.upkeep,
                                tick=jobs.every_second)


def stop_embedded_worker(container: Container) -> None:
    container.job_queue().stop()
