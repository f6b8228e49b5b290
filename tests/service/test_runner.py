"""How the job runner ends a job: failures in plain words, transient errors retried, lost leases."""

from __future__ import annotations

import threading

import pytest

from reelforge.service import runner as runner_mod
from reelforge.service.jobs import Job, SQLiteJobStore, new_job_id
from reelforge.service.runner import JobRunner

REQUEST = {"prompt": "How bees make honey", "duration": 8, "resolution": "480p"}


@pytest.fixture
def setup(svc_settings):
    settings = svc_settings()
    store = SQLiteJobStore(settings.service.database_path())
    return settings, store


def submit(store: SQLiteJobStore, **kw) -> Job:
    job = Job(id=new_job_id(), request=REQUEST, **kw)
    store.create(job)
    return job


class Exploding:
    """Stands in for the pipeline: fails at ``make`` with the given error, once the script is written."""

    error: BaseException = OSError(28, "No space left on device")

    def __init__(self, *a, **kw) -> None:
        self.progress = kw["progress"]

    def write_storyboard(self, request):
        from reelforge.script.template import TemplateWriter

        return TemplateWriter().execute(request)

    def make(self, request, *a, **kw):
        if kw.get("storyboard") is None and kw.get("on_storyboard") is not None:
            kw["on_storyboard"](self.write_storyboard(request))
        raise self.error


def test_a_backend_error_fails_the_job_with_its_message(setup):
    settings, store = setup
    job = submit(store, backends={"images": "nope"})
    assert JobRunner(store, settings).run(job.id) == "failed"
    failed = store.get(job.id)
    assert failed is not None and failed.status == "failed"
    assert failed.error is not None and failed.error.startswith("unknown visuals backend 'nope'")


def test_transient_errors_go_back_to_the_queue_or_fail_plainly(setup, monkeypatch):
    settings, store = setup
    monkeypatch.setattr(runner_mod, "Pipeline", Exploding)
    job = submit(store)
    assert JobRunner(store, settings, kind="celery").run(job.id, retry_transient=True) == "retry"
    again = store.get(job.id)
    assert again is not None and again.status == "queued" and again.storyboard is not None
    assert JobRunner(store, settings).run(job.id) == "failed"
    failed = store.get(job.id)
    assert failed is not None and failed.attempts == 2
    assert failed.error == "the job could not finish (OSError: No space left on device); try again"


def test_unexpected_errors_are_reported_without_a_traceback(setup, monkeypatch):
    settings, store = setup

    class Broken(Exploding):
        error = KeyError("scenes")

    monkeypatch.setattr(runner_mod, "Pipeline", Broken)
    job = submit(store)
    assert JobRunner(store, settings).run(job.id) == "failed"
    assert store.get(job.id).error == "something went wrong while making the video (KeyError: 'scenes')"  # type: ignore[union-attr]


def test_a_runner_that_lost_its_lease_does_not_finish_the_job(setup, monkeypatch):
    settings, store = setup
    job = submit(store)
    started = threading.Event()

    class Slow(Exploding):
        def make(self, *a, **kw):
            started.set()
            cancel: threading.Event = kw.get("cancel") or self.cancel
            cancel.wait(30)
            from reelforge.errors import Cancelled

            raise Cancelled("cancelled")

        def __init__(self, *a, **kw) -> None:
            super().__init__(*a, **kw)
            self.cancel = kw["cancel"]

    monkeypatch.setattr(runner_mod, "Pipeline", Slow)
    out: list[str] = []
    t = threading.Thread(target=lambda: out.append(JobRunner(store, settings).run(job.id)))
    t.start()
    assert started.wait(30)
    # another runner takes the job over (as if this one had stopped reporting)
    with store._tx() as con:
        con.execute("UPDATE jobs SET runner = 'someone-else' WHERE id = ?", (job.id,))
    t.join(30)
    assert out == ["lost"]
    j = store.get(job.id)
    assert j is not None and j.status == "running" and j.runner == "someone-else"


def test_busy_and_skipped(setup):
    settings, store = setup
    job = submit(store)
    store.claim(job.id, "other", lease=60)
    assert JobRunner(store, settings).run(job.id) == "busy"
    store.finish(job.id, "other", "done")
    assert JobRunner(store, settings).run(job.id) == "skipped"
    assert JobRunner(store, settings).run(new_job_id()) == "skipped"
