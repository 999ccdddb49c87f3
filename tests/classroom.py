"""A simulated class: N students doing the whole lesson at once against a real ``streamlit run``.

Each student is a thread with its own websocket session (``stclient.StreamlitClient``): join
with the class code, upload photos class by class, find the faces, label them on the label
page, split, train the pieces model (polling the live training view every second, as the
open tab does) and try the model on a new photo. A probe tab opens pages from scratch the
whole time, so page loads are measured while others upload and train. Used by
``tests/test_load.py`` (small) and ``bench/load.py`` (a full class).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import threading
import time
import urllib.request
from collections import defaultdict
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from stclient import ClientError, Run, StreamlitClient

from edu_core import i18n
from edu_core.labels import LESSON_CLASSES

ROOT = Path(__file__).resolve().parent.parent

SAMPLES = ROOT / "sample_images"
KO = "ko"


def _t(key: str) -> str:
    return i18n.t(key, KO)


# ------------------------------------------------------------------------------------ server


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Server:
    """A running ``streamlit run app.py`` on loopback with its own data folder."""

    url: str
    data: Path
    proc: subprocess.Popen
    log: Path

    def peak_rss_mb(self) -> float:
        """The server's peak resident memory so far (VmHWM), in MB."""
        for line in Path(f"/proc/{self.proc.pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
        return float("nan")

    def cpu_seconds(self) -> float:
        """CPU time the server has used so far, all threads together (user + system)."""
        fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def kill(self) -> None:
        """SIGKILL: the server gets no chance to clean up (power cut, OOM killer)."""
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=30)


def wait_until_healthy(url: str, proc: subprocess.Popen, log: Path, timeout_s: float = 90) -> None:
    """Block until the server at ``url`` answers its health check; fail with its log if it died."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            with urllib.request.urlopen(f"{url}/_stcore/health", timeout=2) as resp:
                if resp.status == 200:
                    return
        except OSError:
            pass
        if proc.poll() is not None or time.monotonic() > deadline:
            raise RuntimeError(f"streamlit did not start:\n{log.read_text(errors='replace')[-3000:]}")
        time.sleep(0.3)


#: The server's teacher password in every server the tests start (``EXPRESSION_LAB_TEACHER_PASSWORD``).
TEACHER_PASSWORD = "test-staff-room-door"


def server_env(data: Path, **extra: str) -> dict[str, str]:
    """The environment of a test server: its data folder and the teacher password."""
    env = {"EXPRESSION_LAB_DATA": str(data), "EXPRESSION_LAB_TEACHER_PASSWORD": TEACHER_PASSWORD}
    return {**os.environ, **env, **extra}


def streamlit_command(port: int) -> list[str]:
    """``streamlit run app.py`` headless on a loopback port (run it with ``cwd=ROOT``)."""
    return [sys.executable, "-m", "streamlit", "run", "app.py", "--server.headless", "true",
            "--server.port", str(port), "--server.address", "127.0.0.1"]  # fmt: skip


def start_server(data: Path, log: Path, *, env: dict[str, str] | None = None, port: int = 0) -> Server:
    """Start the app on a free loopback port and wait until it answers its health check."""
    port = port or free_port()
    full_env = server_env(data, **(env or {}))
    with open(log, "ab") as out:
        proc = subprocess.Popen(
            streamlit_command(port), cwd=ROOT, env=full_env, stdout=out, stderr=subprocess.STDOUT
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, log)
    except RuntimeError:
        proc.kill()
        raise
    return Server(url, data, proc, log)


@contextmanager
def running_server(data: Path, log: Path, **kw: object) -> Iterator[Server]:
    server = start_server(data, log, **kw)  # type: ignore[arg-type]
    try:
        yield server
    finally:
        if server.proc.poll() is None:
            server.proc.terminate()
            try:
                server.proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                server.proc.kill()


# ------------------------------------------------------------------------------------ photos


def tagged(jpeg: bytes, tag: str) -> bytes:
    """The same picture with a JPEG comment after the header: every student's files differ.

    Without it 30 students would upload byte-identical files and the content-addressed store
    would do the work once; real classes photograph their own faces.
    """
    assert jpeg[:2] == b"\xff\xd8", "not a JPEG"
    body = tag.encode()
    return jpeg[:2] + b"\xff\xfe" + (len(body) + 2).to_bytes(2, "big") + body + jpeg[2:]


def sample_photos(per_class: int) -> tuple[dict[str, list[tuple[str, bytes]]], tuple[str, bytes]]:
    """``per_class`` sample photos of each class, plus one more joy photo to try the model on."""
    chosen: dict[str, list[tuple[str, bytes]]] = {}
    for cls in LESSON_CLASSES:
        files = sorted((SAMPLES / cls).glob("*.jpg"))
        if len(files) <= per_class:
            raise ValueError(f"only {len(files)} samples of {cls}")
        chosen[cls] = [(f.name, f.read_bytes()) for f in files[:per_class]]
    probe = sorted((SAMPLES / "joy").glob("*.jpg"))[per_class]
    return chosen, (probe.name, probe.read_bytes())


# ------------------------------------------------------------------------------------ students


@dataclass
class Record:
    """Everything one simulated student did and saw."""

    index: int
    code: str = ""
    steps: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    acknowledged: list[str] = field(default_factory=list)  # file names the page said it stored
    uploaded: dict[str, bytes] = field(default_factory=dict)
    accuracy_text: str = ""
    finished: bool = False


class Classroom:
    """Shared state of one simulated lesson (who is training right now, the probe's samples)."""

    def __init__(self, server: Server, join_code: str, per_class: int, think: float = 0.0) -> None:
        self.server = server
        self.think = think  # seconds a student looks at a page before the next action
        self.join_code = join_code
        self.photos, self.probe = sample_photos(per_class)
        self.training = 0  # students between pressing "train" and seeing the result
        self.lock = threading.Lock()
        # (seconds, someone was training, "fresh" tab or in-app "switch")
        self.page_loads: list[tuple[float, bool, str]] = []
        self.stop = threading.Event()

    def _timed(self, rec: Record, step: str, run: Run) -> Run:
        if self.think and step != "training view":  # that one already waits for the next tick
            time.sleep(self.think)  # after the page arrived: reading it is not part of its latency
        rec.steps[step].append(run.seconds)
        for err in run.errors():
            rec.errors.append(f"{step}: {err}")
        return run

    def _nav(self, rec: Record, c: StreamlitClient, page: str) -> Run:
        with self.lock:
            busy = self.training > 0
        run = self._timed(rec, "page switch", c.go(page))
        with self.lock:
            self.page_loads.append((run.seconds, busy, "switch"))
        return run

    def student(self, rec: Record) -> None:
        """One student's whole lesson; failures are recorded, never raised."""
        try:
            with StreamlitClient(self.server.url) as c:
                self._lesson(rec, c)
            rec.finished = True
        except (ClientError, OSError, AssertionError) as exc:
            rec.errors.append(f"{type(exc).__name__}: {exc}")

    def _lesson(self, rec: Record, c: StreamlitClient) -> None:
        self._timed(rec, "open start page", c.open(""))
        c.set_value(c.widget("text_input", label=_t("home.join_code")), string_value=self.join_code)
        c.set_value(c.widget("text_input", label=_t("home.nickname")), string_value=f"student{rec.index:02d}")
        run = self._timed(rec, "join", c.click(c.widget("button", label=_t("home.join_button"))))
        rec.code = c.query.get("s", "")
        assert rec.code, f"join did not give a resume code: {run.text()[:300]}"

        for cls in LESSON_CLASSES:
            self._nav(rec, c, "collect")
            files = [(f"{cls}_{name}", tagged(data, f"s{rec.index}")) for name, data in self.photos[cls]]
            rec.uploaded.update(files)
            rec.steps["upload (HTTP)"].append(c.upload(c.widget("file_uploader"), files))
            self._timed(rec, "upload (page)", c.rerun())
            run = self._timed(
                rec, "find faces", c.click(c.widget("button", label=_t("collect.extract_button")))
            )
            done = re.escape(_t("collect.done")).replace(r"\{ok\}", r"(\d+)").replace(r"\{bad\}", r"(\d+)")
            found = [m for a in run.alerts("SUCCESS") if (m := re.search(done, a))]
            assert found, f"no success message after finding faces: {run.text()[:300]}"
            if int(found[0].group(1)) + int(found[0].group(2)) == len(files):
                rec.acknowledged += [name for name, _ in files]

            self._nav(rec, c, "label")
            target = c.widget("button_group", key="label_target")
            c.set_value(target, string_array_value=[target.options[LESSON_CLASSES.index(cls)].content])
            self._timed(rec, "label (choose class)", c.rerun())
            self._timed(rec, "label (move photos)", c.click(c.widget("button", key="all_None")))

        self._nav(rec, c, "split")
        self._timed(rec, "split", c.click(c.widget("button", label=_t("split.button"))))

        self._nav(rec, c, "train")
        with self.lock:
            self.training += 1
        try:
            start = time.monotonic()
            run = self._timed(rec, "start training", c.click(c.widget("button", label=_t("train.start"))))
            done_text = _t("train.done").split("{")[0]
            while not any(done_text in a or _t("train.best_kept") in a for a in run.alerts("SUCCESS")):
                assert not run.errors(), f"training failed: {run.errors()}"
                if not c.fragments:
                    run = self._timed(rec, "training view", c.rerun())
                    assert time.monotonic() - start < c.timeout, "training never finished"
                    continue
                (frag, every), *_ = c.fragments.items()
                time.sleep(every)
                run = self._timed(rec, "training view", c.rerun(fragment_id=frag))
                if not run.fragment:  # the view saw the job end and redrew the page
                    continue
                assert time.monotonic() - start < c.timeout, "training never finished"
            rec.steps["training (press to result)"].append(time.monotonic() - start)
            rec.accuracy_text = next(a for a in run.alerts("SUCCESS") if done_text in a or "🎉" in a)
        finally:
            with self.lock:
                self.training -= 1

        self._nav(rec, c, "evaluate")
        name, data = self.probe
        rec.steps["upload (HTTP)"].append(
            c.upload(c.widget("file_uploader", key="try_upload"), [(name, data)])
        )
        run = self._timed(rec, "predict", c.rerun())
        verdict = _t("eval.verdict").split("**")[0]
        unsure = _t("eval.cannot_tell").split("{")[0]
        assert run.kinds("plotly_chart") and any(
            verdict in a or unsure in a for a in run.alerts("SUCCESS") + run.alerts("WARNING")
        ), f"no prediction on the page: {run.text()[:300]}"

    def probe_loop(self, every: float = 1.0) -> None:
        """A fresh tab every ``every`` seconds: the page load a reloading student waits for."""
        while not self.stop.wait(every):
            with self.lock:
                busy = self.training > 0
            try:
                with StreamlitClient(self.server.url) as c:
                    run = c.open("")
            except (ClientError, OSError):
                continue  # counted by the students; the probe only times
            with self.lock:
                self.page_loads.append((run.seconds, busy, "fresh"))


def percentile(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    if len(values) == 1:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[int(q) - 1]


@dataclass
class Report:
    students: list[Record]
    seconds: float
    peak_rss_mb: float
    page_loads: list[tuple[float, bool, str]]
    server_errors: list[str]
    cpu_seconds: float = float("nan")

    def all_errors(self) -> list[str]:
        errs = [f"student {r.index}: {e}" for r in self.students for e in r.errors]
        errs += [
            f"student {r.index}: did not finish" for r in self.students if not r.finished and not r.errors
        ]
        return errs + self.server_errors

    def step_table(self) -> list[tuple[str, int, float, float]]:
        merged: dict[str, list[float]] = defaultdict(list)
        for r in self.students:
            for step, times in r.steps.items():
                merged[step] += times
        return [(s, len(v), percentile(v, 50), percentile(v, 95)) for s, v in merged.items()]


def server_log_errors(log: Path) -> list[str]:
    """Tracebacks and error lines the server printed: a page error the student never saw is still a bug."""
    text = log.read_text(errors="replace")
    return [line for line in text.splitlines() if "Traceback" in line or line.startswith("ERROR")]


def run_class(
    server: Server,
    join_code: str,
    *,
    students: int,
    per_class: int,
    stagger: float = 0.3,
    think: float = 0.0,
) -> Report:
    """Run ``students`` simulated students at once and collect what they saw."""
    room = Classroom(server, join_code, per_class, think)
    records = [Record(i) for i in range(students)]
    threads = [threading.Thread(target=room.student, args=(r,), daemon=True) for r in records]
    probe = threading.Thread(target=room.probe_loop, daemon=True)
    start = time.monotonic()
    probe.start()
    for t in threads:
        t.start()
        time.sleep(stagger)  # children do not all press "join" in the same millisecond
    for t in threads:
        t.join()
    seconds = time.monotonic() - start
    room.stop.set()
    probe.join(timeout=60)
    return Report(
        records,
        seconds,
        server.peak_rss_mb(),
        room.page_loads,
        server_log_errors(server.log),
        server.cpu_seconds(),
    )


def verify_store(data: Path, report: Report) -> list[str]:
    """Every acknowledged photo is in the store exactly once, labelled; every student has a model."""
    from edu_core.store import Store

    problems = []
    db = Store(data)
    try:
        for rec in report.students:
            if not rec.code:
                continue
            sid = db.resume(rec.code).id
            images = db.list_images(sid)
            by_name: dict[str, int] = defaultdict(int)
            for img in images:
                by_name[img.filename] += 1
            for name in rec.acknowledged:
                if by_name.get(name) != 1:
                    problems.append(f"student {rec.index}: {name} stored {by_name.get(name, 0)} times")
            extra = set(by_name) - set(rec.uploaded)
            if extra:
                problems.append(f"student {rec.index}: unexpected photos {sorted(extra)[:3]}")
            for img in images:
                want = img.filename.split("_", 1)[0]
                if img.status == "ok" and img.label != want:
                    problems.append(f"student {rec.index}: {img.filename} labelled {img.label}")
            if rec.finished and not db.list_models(sid):
                problems.append(f"student {rec.index}: no model stored")
        report_check = db.check()
        if not report_check.ok:
            problems.append(f"store check: {report_check}")
    finally:
        db.close()
    return problems
