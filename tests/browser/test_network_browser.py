"""No outbound network, no secrets in logs, and the upload limits, on a real ``streamlit run`` server.

A whole lesson (the flow of test_lesson_browser: join by the QR link, upload, label, split,
train, try a photo) plus a teacher login (the server's teacher password, one wrong PIN, then the
right one) runs in headless chromium against a server that is watched three ways:

* a Python audit hook (tests/netguard/sitecustomize.py on the server's PYTHONPATH) logs every
  socket connect/bind/sendto/sendmsg target and every name lookup of the server process;
* ``strace -f -e trace=connect`` (when installed) logs connects from native code too
  (MediaPipe, torch), which the audit hook cannot see;
* the browser logs every request the app's page makes.

Every target must be loopback (or a local AF_UNIX/netlink socket). The same test then runs
again inside a fresh network namespace that has only ``lo`` (``unshare -rn``), where any
outbound attempt would fail: the lesson must still complete, so it needs no network at all.
"""

from __future__ import annotations

import ast
import contextlib
import ipaddress
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from classroom import TEACHER_PASSWORD, server_env, streamlit_command, wait_until_healthy

from edu_core.i18n import reason_message, t

from . import test_lesson_browser as lesson
from .conftest import CHROMIUM, ROOT, _free_port

pytestmark = [pytest.mark.timeout(600), pytest.mark.browser]
NETGUARD = ROOT / "tests" / "netguard"
INNER = "NETGUARD_INNER"  # set inside the network namespace: the test is the inner run
LOCAL_FAMILIES = {"AF_UNIX", "AF_NETLINK"}
WRONG_PIN, PIN = "9876", "4321"


def _is_loopback(host: object) -> bool:
    if isinstance(host, bytes):
        host = host.decode(errors="replace")
    if host in (None, "", "localhost", "ip6-localhost"):
        return True
    try:
        ip = ipaddress.ip_address(str(host).split("%")[0])
    except ValueError:
        return False
    mapped = getattr(ip, "ipv4_mapped", None)
    return ip.is_loopback or bool(mapped and mapped.is_loopback)


def _audit_offenders(log: Path) -> tuple[list[str], int]:
    """Audit-log lines whose target is not local, and how many lines there were."""
    bad, n = [], 0
    for line in log.read_text(encoding="utf-8").splitlines() if log.exists() else []:
        n += 1
        rec = json.loads(line)
        if rec["family"] in LOCAL_FAMILIES:
            continue
        try:
            address = ast.literal_eval(rec["address"])
        except (ValueError, SyntaxError):
            bad.append(line)
            continue
        host = address[0] if isinstance(address, tuple) else address
        if not _is_loopback(host):
            bad.append(line)
    return bad, n


def _strace_offenders(trace: Path) -> tuple[list[str], int]:
    """connect() calls in the strace log to an IPv4/IPv6 address that is not loopback."""
    bad, n = [], 0
    for line in trace.read_text(errors="replace").splitlines() if trace.exists() else []:
        if "connect(" not in line:
            continue
        n += 1
        for host in re.findall(r'inet_addr\("([^"]+)"\)|inet_pton\(AF_INET6, "([^"]+)"', line):
            if not _is_loopback(host[0] or host[1]):
                bad.append(line)
    return bad, n


def _strace_works() -> bool:
    if not shutil.which("strace"):
        return False
    probe = subprocess.run(["strace", "-f", "-qq", "-e", "trace=connect", "true"], capture_output=True)
    return probe.returncode == 0


@contextlib.contextmanager
def _watched_server(tmp_path: Path, *, trace: bool) -> Iterator[tuple[str, Path]]:
    """A fresh app server whose every socket target goes to tmp_path/netguard.jsonl (and strace.txt)."""
    data = tmp_path / "lab"
    port = _free_port()
    paths = [str(NETGUARD), *filter(None, [os.environ.get("PYTHONPATH")])]
    env = server_env(data, NETGUARD_LOG=str(tmp_path / "netguard.jsonl"), PYTHONPATH=os.pathsep.join(paths))
    cmd = streamlit_command(port)
    if trace:
        cmd = ["strace", "-f", "-qq", "--seccomp-bpf", "-e", "trace=connect", "-e", "signal=none",
               "-o", str(tmp_path / "strace.txt"), *cmd]  # fmt: skip
    log = open(tmp_path / "streamlit.log", "wb")  # noqa: SIM115 - closed in finally
    proc = subprocess.Popen(
        cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_healthy(url, proc, tmp_path / "streamlit.log", timeout_s=120)
        yield url, data
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)  # the group: strace and the server it traces
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        log.close()


def _teacher_login(page, join_code: str) -> None:
    page.get_by_test_id("stSidebarNav").get_by_role("link", name=t("nav.teacher")).click()
    page.get_by_role("heading", name=t("teacher.title")).first.wait_for()
    page.get_by_label(t("teacher.password"), exact=True).fill(TEACHER_PASSWORD)  # the server's door first
    page.get_by_role("button", name=t("teacher.door_button")).click()
    pin = page.get_by_label(t("teacher.pin"), exact=True)
    pin.fill(WRONG_PIN)
    page.get_by_role("button", name=t("teacher.login_button")).click()
    page.get_by_text(reason_message("bad_pin")).wait_for()
    pin.fill(PIN)
    page.get_by_role("button", name=t("teacher.login_button")).click()
    page.get_by_text(t("teacher.join_code", code=join_code)).first.wait_for(timeout=60_000)


def test_whole_lesson_opens_no_outbound_connection(tmp_path, browser_page, monkeypatch):
    from edu_core.store import open_store

    inner = os.environ.get(INNER) == "1"
    if inner:  # the namespace really has no way out: the same connect from here must fail
        with pytest.raises(OSError):
            socket.create_connection(("192.0.2.1", 80), timeout=3)  # TEST-NET-1, never routable
    trace = _strace_works()
    page = browser_page
    requests: list[str] = []
    page.on("request", lambda r: requests.append(r.url))
    page.on("websocket", lambda ws: requests.append(ws.url))
    monkeypatch.setattr(lesson, "ARTIFACTS", tmp_path)  # keep the lesson test's figures untouched

    with _watched_server(tmp_path, trace=trace) as (url, data):
        lesson.test_whole_lesson_in_a_real_browser((url, data), page)
        db = open_store(data)
        klass = db.list_classes()[0]
        _teacher_login(page, klass.join_code)
        resume_codes = [s.resume_code for s in db.students(db.teacher_login(klass.id, PIN))]
    assert resume_codes

    offenders, n_audit = _audit_offenders(tmp_path / "netguard.jsonl")
    assert n_audit > 0, "the audit hook saw nothing: it was not loaded"
    assert offenders == [], "the server reached beyond loopback:\n" + "\n".join(offenders[:20])
    if trace:
        offenders, n_connect = _strace_offenders(tmp_path / "strace.txt")
        assert offenders == [], "native code connected beyond loopback:\n" + "\n".join(offenders[:20])
    host = url.split("//")[1]
    outside = [u for u in requests if not re.match(rf"(https?|wss?)://{re.escape(host)}(/|$)|data:|blob:", u)]
    assert requests and outside == [], f"the page itself fetched from elsewhere: {outside[:10]}"

    log = (tmp_path / "streamlit.log").read_text(errors="replace")
    audit = (tmp_path / "netguard.jsonl").read_text(errors="replace")
    for secret in [PIN, WRONG_PIN, TEACHER_PASSWORD, klass.join_code, *resume_codes]:
        assert secret not in log and secret not in audit, f"a secret is in the server log: {secret}"
    assert "Traceback" not in log
    if inner and os.environ.get("NETGUARD_SUMMARY"):
        Path(os.environ["NETGUARD_SUMMARY"]).write_text(
            json.dumps({"audit_events": n_audit, "strace": trace, "page_requests": len(requests)})
        )


def test_whole_lesson_inside_a_network_namespace_without_routes(tmp_path):
    """The test above again, server and browser inside ``unshare -rn`` with only ``lo`` up."""
    if os.environ.get(INNER) == "1":
        pytest.skip("this is the inner run already")
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is not installed; the lesson needs a real browser")
    if not shutil.which("unshare") or subprocess.run(["unshare", "-rn", "true"]).returncode != 0:
        pytest.skip("unshare -rn is not allowed here (needs user namespaces); the audit-hook test still ran")
    summary = tmp_path / "summary.json"
    up_lo = "ip link set lo up" if shutil.which("ip") else "true"
    script = f'{up_lo} && exec "$0" -m pytest -x -q -p no:cacheprovider "$1" -k opens_no_outbound'
    env = {**os.environ, INNER: "1", "NETGUARD_SUMMARY": str(summary)}
    done = subprocess.run(
        ["unshare", "-rn", "sh", "-c", script, sys.executable, str(Path(__file__).resolve())],
        cwd=ROOT, env=env, capture_output=True, text=True, timeout=560,
    )  # fmt: skip
    out = done.stdout[-4000:] + done.stderr[-2000:]
    assert done.returncode == 0, out
    assert "1 passed" in done.stdout, out
    facts = json.loads(summary.read_text())
    assert facts["audit_events"] > 0 and facts["page_requests"] > 0


def test_upload_limits_on_the_server(lab_server):
    """``server.maxUploadSize`` is the teachers' limit, so a 27 MB class zip reaches the server (it
    was refused with Streamlit's English error); the 25 MB photo limit is the app's own
    (test_pages_collect checks its sentence). Uploads without the XSRF token are refused."""
    import tomllib

    from stclient import StreamlitClient

    from edu_core.store import open_store

    limit = tomllib.loads((ROOT / ".streamlit" / "config.toml").read_text())["server"]["maxUploadSize"]
    assert limit >= 100
    url, data = lab_server
    db = open_store(data)
    klass, _ = db.create_class("6-1", PIN)
    student = db.join(klass.id, "부엉이")
    with StreamlitClient(url, query={"s": student.resume_code}, timeout=120) as client:
        client.open()
        client.go("collect")
        uploader = client.widget("file_uploader")
        client.upload(uploader, [("class.zip", b"PK\x03\x04" + bytes(27 * 1024 * 1024))])
        # Without the XSRF token the endpoint refuses any upload, whatever its size.
        bare = urllib.request.Request(
            f"{url}/_stcore/upload_file/{client.session_id}/x", data=b"x", method="PUT"
        )
        with pytest.raises(urllib.error.HTTPError) as err:
            urllib.request.urlopen(bare, timeout=30)
        assert err.value.code in (400, 403)
        run = client.go("collect")  # the session is still healthy after the refusal
        assert run.status is not None
    assert db.list_images(student.id) == []  # an upload alone stores nothing


def test_the_watchers_do_see_an_outbound_attempt(tmp_path):
    """The audit hook and strace flag a connect to a non-loopback address (TEST-NET-1, never routed)."""
    trace = _strace_works()
    env = {**os.environ, "NETGUARD_LOG": str(tmp_path / "netguard.jsonl"), "PYTHONPATH": str(NETGUARD)}
    code = (
        "import socket\n"
        "try:\n    socket.create_connection(('192.0.2.1', 80), timeout=0.3)\nexcept OSError:\n    pass\n"
    )
    cmd = [sys.executable, "-c", code]
    if trace:
        cmd = ["strace", "-f", "-qq", "-e", "trace=connect", "-o", str(tmp_path / "strace.txt"), *cmd]
    subprocess.run(cmd, env=env, check=True, timeout=60)
    offenders, _ = _audit_offenders(tmp_path / "netguard.jsonl")
    assert any("192.0.2.1" in line for line in offenders)
    if trace:
        offenders, _ = _strace_offenders(tmp_path / "strace.txt")
        assert any("192.0.2.1" in line for line in offenders)
    assert _is_loopback("127.0.0.1") and _is_loopback("::1") and _is_loopback("::ffff:127.0.0.1")
    assert not _is_loopback("10.0.0.1") and not _is_loopback("example.com")
