"""The training service: jobs in order on a thread pool, bounded memory, runs closed in the store."""

from __future__ import annotations

import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from test_models_support import CLASSES, synthetic_set

from edu_core.jobs import TrainingService, run_metrics
from edu_core.priority import BACKGROUND_NICE, thread_nice
from edu_core.store import open_store
from edu_core.train import TrainConfig

ROOT = Path(__file__).resolve().parent.parent


def test_service_runs_jobs_in_order_with_places():
    q = TrainingService(max_workers=1)
    gate = threading.Event()

    def slow(cb, cancel):
        cb(1, {"loss": 1.0})
        gate.wait(10)
        cb(2, {"loss": 0.5})
        return "first"

    a = q.submit_call(slow, total_epochs=2, owner="s1")
    b = q.submit_call(lambda cb, cancel: "second", owner="s2")
    c = q.submit_call(lambda cb, cancel: "third", owner="s3")
    for _ in range(100):
        if a.state == "running" and a.history:
            break
        time.sleep(0.02)
    assert a.state == "running" and q.place(a) == 0
    assert (q.place(b), q.place(c)) == (1, 2)
    assert a.progress == 0.5
    c.cancel()
    gate.set()
    assert a.wait(10) and b.wait(10) and c.wait(10)
    assert (a.state, a.result, b.state, b.result, c.state) == ("done", "first", "done", "second", "cancelled")
    assert q.place(a) is None and [j.id for j in q.jobs(owner="s2")] == [b.id]
    assert q.latest("s2") is b and q.latest("nobody") is None

    def broken(cb, cancel):
        raise RuntimeError("boom")

    d = q.submit_call(broken)
    assert d.wait(10) and d.state == "failed" and "boom" in str(d.error)
    q.shutdown()
    with pytest.raises(RuntimeError):
        q.submit_call(lambda cb, cancel: None)


def test_finished_jobs_release_their_training_data():
    """A job's call and a failure's traceback hold the photos; neither outlives the job's end."""
    import gc
    import weakref

    q = TrainingService()
    refs = []

    def submit(fail: bool) -> None:
        crops = np.zeros((64, 256, 256, 3), np.uint8)  # a CNN run's crops, in small
        refs.append(weakref.ref(crops))

        def work(cb, cancel):
            cb(1, {"loss": float(crops.mean())})
            if fail:
                raise RuntimeError("boom")
            return {"n": len(crops)}

        q.submit_call(work, owner=f"owner-{len(refs)}")

    submit(fail=False)
    submit(fail=True)
    jobs = q.jobs()
    assert all(j.wait(10) for j in jobs)
    assert [j.state for j in jobs] == ["done", "failed"] and jobs[0].result == {"n": 64}
    assert "boom" in str(jobs[1].error) and jobs[0].history  # what the page shows stays
    gc.collect()
    assert [r() for r in refs] == [None, None]
    q.shutdown()


def test_service_keeps_only_the_latest_finished_job_per_owner_and_their_runs():
    q = TrainingService(keep_finished=3)
    for i in range(4):
        assert q.submit_call(lambda cb, cancel, i=i: i, owner="s1", run_id=100 + i).wait(10)
    assert [j.result for j in q.jobs(owner="s1")] == [3]
    kept = q.jobs(owner="s1")[0]
    assert q.run_of(kept.id) == 103
    for i in range(10):
        assert q.submit_call(lambda cb, cancel: "x", owner=f"other-{i}", run_id=i).wait(10)
    assert len(q.jobs()) <= 4  # three finished plus the newest one
    assert len(q._runs) <= 4  # a forgotten job's run id goes with it
    gate = threading.Event()
    running = q.submit_call(lambda cb, cancel: gate.wait(10), owner="s2")
    waiting = q.submit_call(lambda cb, cancel: "later", owner="s2")
    assert running in q.jobs(owner="s2") and waiting in q.jobs(owner="s2")  # unfinished jobs stay
    gate.set()
    assert waiting.wait(10)
    q.shutdown()


def test_shutdown_cancels_waiting_jobs():
    q = TrainingService(max_workers=1)
    gate = threading.Event()
    first = q.submit_call(lambda cb, cancel: gate.wait(10))
    second = q.submit_call(lambda cb, cancel: "never")
    for _ in range(100):
        if first.state == "running":
            break
        time.sleep(0.02)
    q.shutdown(wait=False)
    assert second.wait(1) and second.state == "cancelled" and second.result is None
    gate.set()
    assert first.wait(10) and first.state == "done"


def test_service_trains_a_real_model():
    faces, labels = synthetic_set(10, seed=10)
    q = TrainingService()
    job = q.submit("pieces", faces, labels, TrainConfig(epochs=20), class_names=CLASSES, owner="me")
    assert job.wait(60) and job.state == "done", job.error
    assert job.progress == 1.0 and len(job.history) == len(job.result.history)
    q.shutdown()


def test_a_job_cancelled_before_it_ran_closes_its_run_once(tmp_path):
    db = open_store(tmp_path / "lab")
    klass, _ = db.create_class("6-1", "4321")
    sid = db.join(klass.id, "A").id
    run_id = db.start_run(sid, config={"kind": "pieces"})
    q = TrainingService(max_workers=1)
    gate = threading.Event()
    q.submit_call(lambda cb, cancel: gate.wait(10), owner="a")
    queued = q.submit_call(lambda cb, cancel: "never", owner="b", run_id=run_id)
    queued.cancel()
    assert q.summary(db, sid, queued) is None  # still queued: nothing to say yet
    gate.set()
    assert queued.wait(10)
    assert db.run(sid, run_id).status == "running"  # it never ran, so nothing closed the run
    assert q.summary(db, sid, queued) == {"state": "cancelled", "code": "training_cancelled"}
    assert db.run(sid, run_id).status == "cancelled"
    assert q.summary(db, sid, queued)["state"] == "cancelled"
    assert run_metrics(db, sid, model_id=1) == {}  # no finished run of that model
    q.shutdown()


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="thread priorities are Linux-only")
def test_service_runs_jobs_at_background_priority():
    q = TrainingService(max_workers=1)
    try:
        job = q.submit_call(lambda on_epoch, cancel: (thread_nice(), threading.get_native_id()))
        assert job.wait(timeout=30)
        nice, tid = job.result
        assert tid != threading.get_native_id()
        assert nice is not None and nice >= BACKGROUND_NICE
    finally:
        q.shutdown()


def test_a_running_job_does_not_hold_the_server_at_exit():
    # The pool's threads are joined at exit: a job that runs until cancelled must be told to stop.
    script = (
        "from edu_core.jobs import TrainingService\n"
        "from edu_core.train import TrainingCancelled\n"
        "def forever(cb, cancel):\n"
        "    cancel.wait()\n"
        "    raise TrainingCancelled()\n"
        "job = TrainingService().submit_call(forever)\n"
        "while job.state != 'running':\n"
        "    pass\n"
        "print('leaving')\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0 and "leaving" in done.stdout, done.stderr
