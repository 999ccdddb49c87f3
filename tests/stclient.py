"""A headless Streamlit client that speaks the browser's own protocol, for load and fault tests.

A real browser per simulated student would spend the two test cores on drawing pages; this
client does what the browser's JavaScript does on the wire instead: it opens the websocket
at ``/_stcore/stream``, sends ``BackMsg`` reruns with the widget states a student would set,
uploads files through the same HTTP endpoint (with the XSRF cookie and header) and reads the
``ForwardMsg`` deltas back into a flat list of elements. Every page run is the real app script
on the real server, so what it measures is what a classroom would feel.
"""

from __future__ import annotations

import time
import uuid
from contextlib import ExitStack
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import requests
from streamlit.proto.BackMsg_pb2 import BackMsg
from streamlit.proto.Common_pb2 import FileURLs, UploadedFileInfo
from streamlit.proto.ForwardMsg_pb2 import ForwardMsg
from streamlit.proto.WidgetStates_pb2 import WidgetState
from websockets.sync.client import connect

XSRF_COOKIE = "_streamlit_xsrf"
_DONE = {
    ForwardMsg.FINISHED_SUCCESSFULLY,
    ForwardMsg.FINISHED_WITH_COMPILE_ERROR,
    ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
}


def _is_widget(element: Any) -> bool:
    kind = element.WhichOneof("type")
    return bool(kind) and hasattr(getattr(element, kind), "id") and bool(getattr(element, kind).id)


class ClientError(RuntimeError):
    """The server did not answer as a browser would expect (timeout, refused upload, closed socket)."""


@dataclass
class Run:
    """What one script run put on the page."""

    seconds: float
    elements: list[Any]
    status: int
    fragment: bool = False

    def kinds(self, kind: str) -> list[Any]:
        """The protos of every element of this kind (``"alert"``, ``"button"``, ...)."""
        return [getattr(e, kind) for e in self.elements if e.WhichOneof("type") == kind]

    def alerts(self, level: str) -> list[str]:
        """Texts of st.error / st.warning / st.info / st.success boxes (``level`` like ``"ERROR"``)."""
        return [a.body for a in self.kinds("alert") if a.format == getattr(a, level)]

    def errors(self) -> list[str]:
        """Everything a student would read as a failure: error boxes and tracebacks."""
        found = list(self.alerts("ERROR"))
        found += [f"exception: {x.type}: {x.message}" for x in self.kinds("exception")]
        if self.status == ForwardMsg.FINISHED_WITH_COMPILE_ERROR:
            found.append("script did not compile")
        return found

    def text(self) -> str:
        """All markdown, heading and alert text of the run, for searching."""
        parts = [m.body for m in self.kinds("markdown")] + [a.body for a in self.kinds("alert")]
        parts += [h.body for h in self.kinds("heading")]
        return "\n".join(parts)


@dataclass
class StreamlitClient:
    """One browser tab: a websocket session, its widget states and the page it is on."""

    base_url: str
    query: dict[str, str] = field(default_factory=dict)
    timeout: float = 300.0

    def __post_init__(self) -> None:
        self.http = requests.Session()
        # The page, then the health check the page's script makes: that answer sets the XSRF
        # cookie, which the browser echoes in the websocket handshake and every upload's header.
        for path in ("/", "/_stcore/health"):
            self.http.get(self.base_url + path, timeout=30).raise_for_status()
        self.xsrf = self.http.cookies.get(XSRF_COOKIE, "")
        ws_url = "ws" + self.base_url.removeprefix("http") + "/_stcore/stream"
        protocols = ["streamlit", self.xsrf] if self.xsrf else ["streamlit"]
        self._stack = ExitStack()
        self.ws = self._stack.enter_context(
            connect(
                ws_url,
                subprotocols=protocols,  # type: ignore[arg-type]
                origin=self.base_url,  # type: ignore[arg-type]
                additional_headers={"Cookie": f"{XSRF_COOKIE}={self.xsrf}"} if self.xsrf else None,
                max_size=None,
                open_timeout=30,
            )
        )
        self.session_id = ""
        self.pages: dict[str, str] = {}  # url path -> page script hash
        self.page_hash = ""
        self.states: dict[str, WidgetState] = {}
        self.elements: dict[tuple[int, ...], Any] = {}
        self.fragments: dict[str, float] = {}  # fragment id -> run_every seconds
        self._requests = 0

    # ------------------------------------------------------------------ wire

    def close(self) -> None:
        self._stack.close()
        self.http.close()

    def __enter__(self) -> StreamlitClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def _send(self, msg: BackMsg) -> None:
        self.ws.send(msg.SerializeToString())

    def _recv(self, deadline: float) -> ForwardMsg:
        left = deadline - time.monotonic()
        if left <= 0:
            raise ClientError("timed out waiting for the server")
        try:
            data = self.ws.recv(timeout=left)
        except TimeoutError as exc:
            raise ClientError("timed out waiting for the server") from exc
        except Exception as exc:  # a closed socket: the server went away
            raise ClientError(f"connection lost: {exc}") from exc
        msg = ForwardMsg()
        msg.ParseFromString(data)
        self._absorb(msg)
        return msg

    def _absorb(self, msg: ForwardMsg) -> None:
        kind = msg.WhichOneof("type")
        if kind == "new_session":
            self.session_id = msg.new_session.initialize.session_id or self.session_id
            self.page_hash = msg.new_session.page_script_hash
            self.elements.clear()
            self.fragments.clear()
        elif kind == "navigation":
            self.pages = {p.url_pathname: p.page_script_hash for p in msg.navigation.app_pages}
            self.page_hash = msg.navigation.page_script_hash or self.page_hash
        elif kind == "page_info_changed":
            qs = msg.page_info_changed.query_string
            self.query = dict(p.split("=", 1) if "=" in p else (p, "") for p in qs.split("&") if p)
        elif kind == "delta" and msg.delta.WhichOneof("type") == "new_element":
            self.elements[tuple(msg.metadata.delta_path)] = msg.delta.new_element
        elif kind == "auto_rerun":
            self.fragments[msg.auto_rerun.fragment_id] = msg.auto_rerun.interval

    # ------------------------------------------------------------------ runs

    def rerun(self, *, page: str | None = None, fragment_id: str = "", new_session: bool = False) -> Run:
        """Send one rerun (the click or page switch already set in ``states``) and wait for its end."""
        msg = BackMsg()
        cs = msg.rerun_script
        cs.query_string = urlencode(self.query)
        if page is not None:
            if page in self.pages:
                cs.page_script_hash = self.pages[page]
            else:
                cs.page_name = page  # first load: the server maps the URL path to the page
        else:
            cs.page_script_hash = self.page_hash
        if fragment_id:
            cs.fragment_id = fragment_id
            cs.is_auto_rerun = True
        cs.widget_states.widgets.extend(self.states.values())
        cs.context_info.timezone = "Asia/Seoul"
        cs.context_info.locale = "ko-KR"
        start = time.monotonic()
        self._send(msg)
        # A trigger (a button click) holds for exactly one run, as in the browser.
        for key in [k for k, s in self.states.items() if s.WhichOneof("value") == "trigger_value"]:
            del self.states[key]
        deadline = start + self.timeout
        while True:
            got = self._recv(deadline)
            if got.WhichOneof("type") == "script_finished" and got.script_finished in _DONE:
                elements = [self.elements[k] for k in sorted(self.elements)]
                if got.script_finished != ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY:
                    # Like the browser, forget the values of widgets that left the page.
                    shown = {getattr(e, e.WhichOneof("type")).id for e in elements if _is_widget(e)}
                    self.states = {k: v for k, v in self.states.items() if k in shown}
                return Run(
                    time.monotonic() - start,
                    elements,
                    got.script_finished,
                    fragment=got.script_finished == ForwardMsg.FINISHED_FRAGMENT_RUN_SUCCESSFULLY,
                )

    def open(self, page: str = "") -> Run:
        """Load a page as a fresh tab does (``""`` is the start page)."""
        return self.rerun(page=page)

    def go(self, page: str) -> Run:
        """Switch page inside the same session, as the sidebar link does."""
        return self.rerun(page=page)

    # ------------------------------------------------------------------ widgets

    def widget(self, kind: str, *, key: str | None = None, label: str | None = None) -> Any:
        """The proto of the widget on the page whose user key or label matches."""
        for el in self.elements.values():
            if el.WhichOneof("type") != kind:
                continue
            w = getattr(el, kind)
            if key is None and label is None:
                return w
            if key is not None and (w.id.endswith("-" + key) or w.id == key):
                return w
            if label is not None and label in w.label:
                return w
        raise ClientError(f"no {kind} with key={key!r} label={label!r} on the page")

    def set_value(self, widget: Any, **value: Any) -> None:
        """Set a widget's value for the next run (``string_value=...``, ``bool_value=...``)."""
        state = WidgetState(id=widget.id)
        ((name, v),) = value.items()
        if name == "string_array_value":
            state.string_array_value.data.extend(v)
        else:
            setattr(state, name, v)
        self.states[widget.id] = state

    def click(self, widget: Any) -> Run:
        """Press a button (or a form's submit button) and wait for the page."""
        self.states[widget.id] = WidgetState(id=widget.id, trigger_value=True)
        return self.rerun()

    def upload(self, widget: Any, files: list[tuple[str, bytes]]) -> float:
        """Put files into a file uploader the way the browser does; returns the seconds it took."""
        start = time.monotonic()
        self._requests += 1
        request_id = f"r{self._requests}-{uuid.uuid4().hex[:6]}"
        msg = BackMsg()
        msg.file_urls_request.request_id = request_id
        msg.file_urls_request.session_id = self.session_id
        msg.file_urls_request.file_names.extend(name for name, _ in files)
        self._send(msg)
        deadline = start + self.timeout
        while True:
            got = self._recv(deadline)
            if (
                got.WhichOneof("type") == "file_urls_response"
                and got.file_urls_response.response_id == request_id
            ):
                break
        response = got.file_urls_response
        if response.error_msg:
            raise ClientError(f"upload refused: {response.error_msg}")
        state = WidgetState(id=widget.id)
        for (name, data), urls in zip(files, response.file_urls, strict=True):
            put = self.http.put(
                self.base_url + urls.upload_url,
                files={"file": (name, data, "application/octet-stream")},
                headers={"X-Xsrftoken": self.xsrf},
                timeout=self.timeout,
            )
            if put.status_code != 204 and put.status_code != 200:
                raise ClientError(f"upload of {name} answered HTTP {put.status_code}")
            info = UploadedFileInfo(name=name, size=len(data), file_id=urls.file_id)
            info.file_urls.CopyFrom(FileURLs(file_id=urls.file_id, upload_url=urls.upload_url,
                                             delete_url=urls.delete_url))  # fmt: skip
            state.file_uploader_state_value.uploaded_file_info.append(info)
        self.states[widget.id] = state
        return time.monotonic() - start
