"""The reaper: hands jobs whose runner died (lease ran out, or its process is gone) back to the queue.

Both executors run one (``executors.py``), and so does every Celery worker (``celery_app.py``); it needs
only the job store, so neither of those modules has to import the other.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Any

from .jobs import JobStore
from .runner import runner_dead

log = logging.getLogger("reelforge.service")


class Reaper:
    """Every ``interval`` seconds, re-queue jobs whose runner is gone and pass their ids to ``resubmit``;
    then run ``also`` (another periodic check of the executor's)."""

    def __init__(self, store: JobStore, interval: float, resubmit: Any, also: Any = None) -> None:
        self.store, self.interval, self.resubmit, self.also = store, interval, resubmit, also
        self._halt = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="reelforge-reaper", daemon=True)

    def sweep(self) -> list[str]:
        ids = self.store.requeue_stale(time.time(), runner_dead)
        for job_id in ids:
            log.warning("job %s: its runner stopped reporting; queued again", job_id)
            self.resubmit(job_id)
        return ids

    def _loop(self) -> None:
        while not self._halt.wait(self.interval):
            try:
                self.sweep()
                if self.also is not None:
                    self.also()
            except Exception:  # keep sweeping: the store may be briefly unavailable
                log.exception("reaper sweep failed")

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._halt.set()
        if self._thread.is_alive():
            self._thread.join(5)
