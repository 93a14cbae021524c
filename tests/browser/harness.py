"""Reusable pieces for testing posekit widgets in a real headless browser.

A browser test writes a notebook whose cells call posekit functions returning
widgets, serves it with Voilà (which runs it on page load), opens it in Debian's
Chromium driven by Playwright, clicks and types like a user, and reads what the
kernel did from disk. Recipe and pitfalls: ``docs/widget-browser-testing.md``
(shared docs).

Typical use (fixtures ``voila`` and ``browser`` from ``tests/browser/conftest.py``)::

    app = voila(["import posekit",
                 f"posekit.extract_frames({str(config)!r}, 'manual')"])
    page = browser.open(app.url)
    root = wait_for_widget(page, ".posekit-grabber")
    ...
    screenshot(page, "grabber")

Environment
-----------
``POSEKIT_CHROMIUM``
    Chromium executable (default ``/usr/bin/chromium``; tests skip without it).
``POSEKIT_TEST_ARTIFACTS``
    Folder for screenshots and server logs (default ``<repo>/test-artifacts``).

Never run ``playwright install``: Playwright drives the system Chromium.
"""

from __future__ import annotations

import base64
import contextlib
import http.client
import importlib.util
import io
import json
import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import numpy as np

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("POSEKIT_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]
#: Python modules the browser tests need (each missing one skips them).
REQUIRED_MODULES = ("playwright", "voila", "nbformat", "ipykernel")
SERVER_START_TIMEOUT = 60.0  # s until the server answers HTTP
WIDGET_TIMEOUT = 60_000  # ms until the first widget shows (kernel start + cells)
UI_TIMEOUT = 15_000  # ms for one UI reaction (click -> kernel -> DOM)
#: Loopback only: CDN requests (Voilà's font-awesome) fail at once instead of waiting on DNS.
NON_LOOPBACK = re.compile(r"^https?://(?!127\.0\.0\.1[:/])")
#: Env var naming the folder where each notebook kernel drops a file named by its pid.
KERNEL_PIDS_ENV = "POSEKIT_E2E_KERNEL_PIDS"

T = TypeVar("T")


# -- skipping and artifacts ---------------------------------------------------------- #
def missing_requirements() -> str | None:
    """Why browser tests cannot run here (None when they can)."""
    if not os.access(CHROMIUM, os.X_OK):
        return f"no Chromium at {CHROMIUM} (apt-get install chromium, or set POSEKIT_CHROMIUM)"
    missing = [m for m in REQUIRED_MODULES if importlib.util.find_spec(m) is None]
    if missing:
        return f"missing Python packages for browser tests: {', '.join(missing)} (pip install -e '.[test]')"
    return None


def artifacts_dir() -> Path:
    """Where screenshots go: ``$POSEKIT_TEST_ARTIFACTS`` or ``<repo>/test-artifacts``."""
    path = Path(os.environ.get("POSEKIT_TEST_ARTIFACTS", REPO / "test-artifacts"))
    path.mkdir(parents=True, exist_ok=True)
    return path


def screenshot(page: Any, name: str) -> Path:
    """Save a full-page PNG screenshot as ``<artifacts>/<name>.png``; return its path."""
    path = artifacts_dir() / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path


# -- waiting ------------------------------------------------------------------------- #
def poll(fn: Callable[[], T], timeout: float, what: str, ok: Callable[[T], bool] = bool,
         interval: float = 0.1) -> T:
    """Call ``fn()`` until ``ok(value)`` (at most ``timeout`` s); return the value.

    Raises
    ------
    AssertionError
        On timeout, naming ``what`` and the last value.
    """
    deadline = time.monotonic() + timeout
    while True:
        value = fn()
        if ok(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g} s waiting for {what}; last value: {value!r}")
        time.sleep(interval)


def wait_for_file(path: Path, timeout: float = 15.0) -> Path:
    """Wait until the kernel has written ``path``."""
    poll(path.is_file, timeout, f"{path} to be written by the kernel")
    return path


# -- the notebook server ------------------------------------------------------------- #
def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def write_notebook(path: Path, cells: Sequence[str]) -> Path:
    """Write a notebook of code ``cells``, after a first cell recording the kernel's pid."""
    import nbformat
    from nbformat.v4 import new_code_cell, new_notebook

    record_pid = (f"import os as _os, pathlib as _pl\n"
                  f"_pl.Path(_os.environ[{KERNEL_PIDS_ENV!r}], str(_os.getpid())).touch()")
    nb = new_notebook(cells=[new_code_cell(src) for src in (record_pid, *cells)])
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    nbformat.write(nb, str(path))
    return path


@dataclass
class NotebookServer:
    """A running Voilà server (see :func:`voila_server`)."""

    url: str
    port: int
    notebook: Path
    log: Path
    proc: subprocess.Popen
    kernel_pids_dir: Path
    leftover_kernels: list[int] = field(default_factory=list)

    def kernel_pids(self) -> list[int]:
        """Pids of the kernels that ran this notebook so far (one per page load)."""
        return [int(p.name) for p in self.kernel_pids_dir.iterdir() if p.name.isdigit()]

    def log_tail(self, n: int = 3000) -> str:
        return self.log.read_text(errors="replace")[-n:] if self.log.exists() else ""


@contextlib.contextmanager
def voila_server(cells: Sequence[str], workdir: Path, env: dict[str, str] | None = None,
                 name: str = "e2e") -> Iterator[NotebookServer]:
    """Serve a notebook of ``cells`` with Voilà on 127.0.0.1:<free port>.

    Fresh Jupyter config/runtime/data dirs under ``workdir``; the server leads its
    own process group. On exit: SIGTERM to the group (Voilà shuts its kernels
    down), SIGKILL after 20 s, then SIGKILL to any kernel still alive by pid.

    Parameters
    ----------
    cells
        Code cells (the last expression of a cell is displayed, e.g. a widget).
    workdir
        Empty scratch folder (``tmp_path``).
    env
        Extra environment for the server and its kernels.
    name
        Notebook file stem (also names the log).
    """
    nbdir = workdir / "notebooks"
    pids = workdir / "kernel-pids"
    for folder in (nbdir, pids):
        folder.mkdir(parents=True, exist_ok=True)
    notebook = write_notebook(nbdir / f"{name}.ipynb", cells)
    jupyter_dirs = {k: workdir / k.lower() for k in
                    ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR")}
    for folder in jupyter_dirs.values():
        folder.mkdir(exist_ok=True)
    full_env = dict(os.environ, **{k: str(v) for k, v in jupyter_dirs.items()}, **(env or {}))
    full_env[KERNEL_PIDS_ENV] = str(pids)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    full_env["MPLBACKEND"] = "agg"
    full_env.pop("JUPYTER_PATH", None)
    port = free_port()
    cmd = [sys.executable, "-m", "voila", str(notebook), "--no-browser", f"--port={port}",
           "--Voila.ip=127.0.0.1", "--Voila.port_retries=0", "--token=", "--show_tracebacks=True"]
    log = workdir / f"{name}-voila.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, cwd=nbdir, env=full_env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = NotebookServer(f"http://127.0.0.1:{port}/", port, notebook, log, proc, pids)
    try:
        _wait_answering(server)
        yield server
    finally:
        _stop(server)


def _wait_answering(server: NotebookServer) -> None:
    """Until any HTTP answer on /api/status (GET / would run the notebook)."""
    deadline = time.monotonic() + SERVER_START_TIMEOUT
    while True:
        if server.proc.poll() is not None:
            raise RuntimeError(f"voila exited with {server.proc.returncode}:\n{server.log_tail()}")
        try:
            conn = http.client.HTTPConnection("127.0.0.1", server.port, timeout=2)
            conn.request("GET", "/api/status")
            conn.getresponse().read()
            conn.close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise TimeoutError(f"voila not answering after {SERVER_START_TIMEOUT:g} s:\n"
                                   f"{server.log_tail()}") from None
            time.sleep(0.2)


def _stop(server: NotebookServer) -> None:
    proc = server.proc
    if proc.poll() is None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)
    # Kernels run in their own session (jupyter_client), out of the server's group:
    # Voilà stops them on SIGTERM; any still alive a moment later is killed by pid.
    def alive() -> list[int]:
        return [pid for pid in server.kernel_pids() if _alive(pid)]

    for pid in _settle(alive, 3.0):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    server.leftover_kernels = _settle(alive, 5.0)


def _settle(alive: Callable[[], list[int]], timeout: float) -> list[int]:
    """Wait up to ``timeout`` s for ``alive()`` to be empty; return what is left."""
    try:
        return poll(alive, timeout, "kernels to exit", ok=lambda pids: not pids)
    except AssertionError:
        return alive()


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(OSError):  # a zombie (exited, not reaped by its parent yet) is gone
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        return state != "Z"
    return True


# -- the browser --------------------------------------------------------------------- #
@dataclass
class Browser:
    """A Chromium page plus the uncaught JavaScript errors seen on it."""

    page: Any
    errors: list[str]

    def open(self, url: str) -> Any:
        """Load ``url`` (Voilà answers once the notebook ran); return the page."""
        self.page.goto(url, timeout=WIDGET_TIMEOUT, wait_until="domcontentloaded")
        return self.page


@contextlib.contextmanager
def chromium(profile_dir: Path, viewport: dict[str, int] | None = None) -> Iterator[Browser]:
    """Headless Chromium (the system one) via Playwright; only loopback requests allowed."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile_dir), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
            viewport=viewport or {"width": 1280, "height": 1000}, timeout=30_000)
        try:
            ctx.route(NON_LOOPBACK, lambda route: route.abort())
            page = ctx.pages[0] if ctx.pages else ctx.new_page()
            page.set_default_timeout(UI_TIMEOUT)
            errors: list[str] = []
            page.on("pageerror", lambda e: errors.append(str(e)))
            yield Browser(page, errors)
        finally:
            ctx.close()


# -- widgets in the page ------------------------------------------------------------- #
def wait_for_widget(page: Any, selector: str, timeout: float = WIDGET_TIMEOUT) -> Any:
    """The first element matching ``selector`` once visible (e.g. ``.posekit-grabber``)."""
    locator = page.locator(selector).first
    locator.wait_for(state="visible", timeout=timeout)
    return locator


_IMAGE_SIZE = """el => el.tagName === 'CANVAS'
    ? {w: el.width, h: el.height, loaded: true, box: el.getBoundingClientRect().toJSON()}
    : {w: el.naturalWidth, h: el.naturalHeight, loaded: el.complete && el.naturalWidth > 0,
       box: el.getBoundingClientRect().toJSON()}"""

# PNG through a data URL: lossless, and far faster than shipping an array of numbers.
_PIXELS_PNG = """el => { const c = document.createElement('canvas');
    c.width = el.naturalWidth || el.width; c.height = el.naturalHeight || el.height;
    c.getContext('2d').drawImage(el, 0, 0); return c.toDataURL('image/png'); }"""


def image_size(locator: Any) -> tuple[int, int]:
    """Pixel size (width, height) of an ``<img>`` (natural) or ``<canvas>`` element, once loaded."""
    info = poll(lambda: locator.evaluate(_IMAGE_SIZE), UI_TIMEOUT / 1000, "the image to load",
                ok=lambda i: i["loaded"])
    return info["w"], info["h"]


def image_pixels(locator: Any) -> np.ndarray:
    """RGB pixels (H, W, 3) of an ``<img>`` or ``<canvas>`` element, as the browser decoded them."""
    from PIL import Image

    image_size(locator)
    url = locator.evaluate(_PIXELS_PNG)
    with Image.open(io.BytesIO(base64.b64decode(url.split(",", 1)[1]))) as img:
        return np.asarray(img.convert("RGB"))


def changed_fraction(a: np.ndarray, b: np.ndarray, threshold: int = 40) -> float:
    """Fraction of pixels where two RGB images differ by more than ``threshold`` in a channel.

    JPEG noise changes almost no pixel that much (< 0.1 % for the synthetic video at
    quality 80), while a moving animal one frame later changes ~1 %: this tells a
    frame from its neighbours where a mean difference cannot.
    """
    if a.shape != b.shape:
        return 1.0
    diff = np.abs(a.astype(np.int16) - b.astype(np.int16)).max(axis=-1)
    return float((diff > threshold).mean())


def wait_image_like(locator: Any, expected: np.ndarray, max_changed: float = 0.003,
                    timeout: float = UI_TIMEOUT / 1000) -> np.ndarray:
    """Wait until the element shows ``expected`` up to compression noise; return its pixels.

    "Shows" means :func:`changed_fraction` <= ``max_changed`` (default 0.3 % of pixels).
    """
    poll(lambda: changed_fraction(image_pixels(locator), expected), timeout,
         "the browser to show the expected image (fraction of pixels off)",
         ok=lambda f: f <= max_changed)
    return image_pixels(locator)


def click_image_at(locator: Any, x: float, y: float) -> None:
    """Click an ``<img>`` or ``<canvas>`` at image pixel (x, y), CSS scaling accounted for."""
    width, height = image_size(locator)
    box = locator.evaluate("el => el.getBoundingClientRect().toJSON()")
    locator.click(position={"x": x * box["width"] / width, "y": y * box["height"] / height})


def type_into(locator: Any, text: str) -> None:
    """Replace an input's text as a user would, then press Enter (ipywidgets commits on Enter)."""
    locator.click()
    locator.fill(text)
    locator.press("Enter")


def json_timings(timings: dict[str, float]) -> str:
    return json.dumps({k: round(v, 2) for k, v in timings.items()})


# -- real mouse gestures on a canvas (added for the labeler and crop-editor tests) ----- #
_CANVAS_GEOMETRY = """el => ({w: el.width, h: el.height, box: el.getBoundingClientRect().toJSON()})"""


def canvas_page_point(locator: Any, u: float, v: float, snap: bool = True) -> tuple[float, float]:
    """Viewport (CSS px) position of canvas pixel coordinate ``(u, v)`` of a ``<canvas>``.

    The inverse of ipycanvas's ``getCoordinates`` (``u = canvas.width * (clientX -
    rect.left) / rect.width``), so CSS scaling of the element is accounted for.
    Feed the result to ``page.mouse`` (which takes viewport coordinates); the
    element is scrolled into view first.

    Chromium reports ``MouseEvent.clientX/Y`` as whole CSS px (the pointer
    position floored), so the point returned is snapped to the whole client
    pixel nearest the exact one (plus 0.25, safe whether the browser floors or
    rounds): the kernel then gets ``(u, v)`` within 0.5 CSS px (times the
    CSS-to-canvas ratio). With ``snap=False`` the exact point is returned.
    """
    locator.scroll_into_view_if_needed()
    geo = locator.evaluate(_CANVAS_GEOMETRY)
    box = geo["box"]
    x = box["x"] + u * box["width"] / geo["w"]
    y = box["y"] + v * box["height"] / geo["h"]
    if snap:
        x, y = round(x) + 0.25, round(y) + 0.25
    return x, y


def mouse_drag(page: Any, start: tuple[float, float], end: tuple[float, float],
               steps: int = 12) -> None:
    """Press the left button at viewport point ``start``, move in ``steps`` to ``end``, release."""
    page.mouse.move(*start)
    page.mouse.down()
    page.mouse.move(*end, steps=steps)
    page.mouse.up()


def canvas_opaque_fraction(locator: Any) -> float:
    """Fraction of a ``<canvas>``'s pixels that are fully opaque (``getImageData`` alpha = 255).

    A canvas the kernel never painted (ipycanvas issue #322, the blank-canvas
    pitfall) is fully transparent: 0.0.
    """
    return locator.evaluate("""el => { const d = el.getContext('2d').getImageData(0, 0, el.width, el.height).data;
        let n = 0; for (let i = 3; i < d.length; i += 4) { if (d[i] === 255) n++; }
        return n / (el.width * el.height); }""")


# -- JupyterLab (added for the demo-notebook test) ----------------------------------- #
#: Lab settings written into the fresh JUPYTER_CONFIG_DIR: no "get notified about Jupyter
#: news?" toast (even with --LabApp.news_url=None it appears and can cover widgets).
LAB_USER_SETTINGS = {
    "@jupyterlab/apputils-extension/notification.jupyterlab-settings":
        {"fetchNews": "false", "checkForUpdates": False},
}
#: IPython startup file: every kernel drops a file named by its pid (teardown fallback),
#: so the notebook under test runs unmodified.
_KERNEL_PID_STARTUP = (f"import os as _os, pathlib as _pl\n"
                       f"if _os.environ.get({KERNEL_PIDS_ENV!r}):\n"
                       f"    _pl.Path(_os.environ[{KERNEL_PIDS_ENV!r}], str(_os.getpid())).touch()\n"
                       f"del _os, _pl\n")


@dataclass
class LabServer(NotebookServer):
    """A running JupyterLab server (see :func:`lab_server`); ``notebook`` is its root dir."""

    token: str = ""

    def api(self, path: str, method: str = "GET", body: Any = None, timeout: float = 10.0) -> Any:
        """Call the server's REST API (``path`` like ``"api/sessions"``); the decoded JSON."""
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=timeout)
        try:
            data = None if body is None else json.dumps(body)
            conn.request(method, "/" + path.lstrip("/"), body=data,
                         headers={"Authorization": f"token {self.token}"})
            response = conn.getresponse()
            payload = response.read()
            if response.status >= 400:
                raise RuntimeError(f"{method} /{path}: HTTP {response.status} {payload[:300]!r}")
            return json.loads(payload) if payload else None
        finally:
            conn.close()

    def tree_url(self, relpath: str) -> str:
        """The Lab URL opening ``relpath`` (relative to the root dir), workspace reset."""
        return f"{self.url}lab/tree/{relpath}?token={self.token}&reset"

    def kernel_state(self, relpath: str) -> str | None:
        """``execution_state`` of the kernel of the session on ``relpath`` (None: no session yet)."""
        for session in self.api("api/sessions"):
            if session.get("path") == relpath and session.get("kernel"):
                return session["kernel"].get("execution_state")
        return None

    def saved_notebook(self, relpath: str) -> dict:
        """The notebook as saved on disk, through the contents API."""
        return self.api(f"api/contents/{relpath}?content=1")["content"]


@contextlib.contextmanager
def lab_server(root: Path, workdir: Path, env: dict[str, str] | None = None) -> Iterator[LabServer]:
    """Serve folder ``root`` with JupyterLab on 127.0.0.1:<free port> (token auth).

    Fresh Jupyter config/runtime/data dirs and IPYTHONDIR under ``workdir``
    (with :data:`LAB_USER_SETTINGS`); the kernels inherit the server's
    environment plus ``env``, with ``MPLBACKEND`` unset (a user's default:
    inline figures). The server leads its own process group. On exit:
    SIGTERM to the group (Jupyter Server shuts its kernels down), SIGKILL after
    20 s, then SIGKILL to any kernel still alive by pid (each kernel records its
    pid from an IPython startup file).
    """
    import secrets

    pids = workdir / "kernel-pids"
    pids.mkdir(parents=True, exist_ok=True)
    jupyter_dirs = {k: workdir / k.lower() for k in
                    ("JUPYTER_CONFIG_DIR", "JUPYTER_RUNTIME_DIR", "JUPYTER_DATA_DIR", "IPYTHONDIR")}
    for folder in jupyter_dirs.values():
        folder.mkdir(exist_ok=True)
    for rel, settings in LAB_USER_SETTINGS.items():
        path = jupyter_dirs["JUPYTER_CONFIG_DIR"] / "lab" / "user-settings" / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(settings))
    startup = jupyter_dirs["IPYTHONDIR"] / "profile_default" / "startup" / "00-posekit-e2e-pid.py"
    startup.parent.mkdir(parents=True, exist_ok=True)
    startup.write_text(_KERNEL_PID_STARTUP)
    full_env = dict(os.environ, **{k: str(v) for k, v in jupyter_dirs.items()}, **(env or {}))
    full_env[KERNEL_PIDS_ENV] = str(pids)
    full_env["PYTHONPATH"] = os.pathsep.join(filter(None, (str(REPO), os.environ.get("PYTHONPATH"))))
    for key in ("JUPYTER_PATH", "MPLBACKEND", "JUPYTER_TOKEN"):
        full_env.pop(key, None)
    port, token = free_port(), secrets.token_hex(16)
    cmd = [sys.executable, "-m", "jupyterlab", "--no-browser", "--allow-root",
           "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
           f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}",
           "--LabApp.news_url=None", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
           "--LabApp.extension_manager=readonly"]
    log = workdir / "jupyterlab.log"
    with open(log, "wb") as logf:
        proc = subprocess.Popen(cmd, cwd=root, env=full_env, stdout=logf, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, start_new_session=True)
    server = LabServer(f"http://127.0.0.1:{port}/", port, root, log, proc, pids, token=token)
    try:
        _wait_answering(server)
        yield server
    finally:
        _stop(server)


def lab_run_all(page: Any, server: LabServer, relpath: str, kernel_timeout: float = 60.0) -> int:
    """Run > Run All Cells in the open notebook once its kernel is really up; the attempts needed.

    Lab's toolbar indicator reads "idle" before the kernel exists (then
    "connecting", then "idle"): Run All clicked that early silently runs
    nothing. So: wait for REST ``/api/sessions`` to report the kernel idle,
    click, and check the first code cell's prompt left ``[ ]:`` (3 tries).
    """
    poll(lambda: server.kernel_state(relpath), kernel_timeout,
         f"the kernel of {relpath} to be idle (REST /api/sessions)", ok=lambda s: s == "idle", interval=0.3)
    page.locator(".jp-Notebook-ExecutionIndicator[data-status='idle']").wait_for(timeout=30_000)
    for attempt in range(1, 4):
        page.get_by_role("menuitem", name="Run", exact=True).click()
        page.get_by_role("menuitem", name="Run All Cells", exact=True).click()
        try:
            poll(lambda: (lab_prompts(page) or ["[ ]:"])[0] not in ("[ ]:", ""), 10,
                 "the first code cell to start executing")
            return attempt
        except AssertionError:
            page.keyboard.press("Escape")  # close a menu left open
    raise AssertionError("Run > Run All Cells did not execute the notebook (3 tries)")


def lab_prompts(page: Any) -> list[str]:
    """The input prompt of every code cell of the open notebook, in order (``"[3]:"``, ``"[*]:"``, ``"[ ]:"``).

    JupyterLab's default ``windowingMode`` ("contentVisibility") keeps every
    cell in the DOM; with ``"full"`` windowing off-screen cells would be missing.
    """
    return page.evaluate("""() => [...document.querySelectorAll(
        '.jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell.jp-CodeCell')]
        .map(c => (c.querySelector('.jp-InputPrompt')?.textContent || '').replace(/\\s+/g, ' ').trim())""")


def wait_lab_notebook_done(page: Any, server: LabServer, relpath: str, timeout: float,
                           settle: float = 3.0, progress: Callable[[list[str]], None] | None = None
                           ) -> list[str]:
    """Wait until no code cell is queued or running (``[*]``) and the kernel is idle; the prompts.

    "Done" must hold for ``settle`` s in a row (a kernel is briefly idle between
    queued cells). After an error, Lab (``stop_on_error``) aborts the queued cells:
    they end as ``[ ]:``, so this returns then too; the caller checks the prompts.
    """
    deadline = time.monotonic() + timeout
    done_since: float | None = None
    last: list[str] = []
    while True:
        last = lab_prompts(page)
        if progress:
            progress(last)
        state = server.kernel_state(relpath)
        if state == "dead":
            raise AssertionError(f"the kernel of {relpath} died; prompts: {last}\n{server.log_tail()}")
        done = bool(last) and "[*]:" not in last and state == "idle"
        now = time.monotonic()
        if done:
            done_since = done_since or now
            if now - done_since >= settle:
                return last
        else:
            done_since = None
        if now > deadline:
            raise AssertionError(f"notebook still running after {timeout:g} s; prompts: {last}")
        time.sleep(1.0)


def lab_save(page: Any, server: LabServer, relpath: str, timeout: float = 30.0) -> dict:
    """Save the open notebook (File > Save Notebook); the saved notebook read back via REST."""
    before = server.api(f"api/contents/{relpath}?content=0")["last_modified"]
    page.get_by_role("menuitem", name="File", exact=True).click()
    page.locator(".lm-Menu-item[data-command='docmanager:save']").click()
    poll(lambda: server.api(f"api/contents/{relpath}?content=0")["last_modified"], timeout,
         f"{relpath} to be saved", ok=lambda modified: modified != before, interval=0.3)
    return server.saved_notebook(relpath)


def notebook_errors(nb: dict) -> list[tuple[int, str, str]]:
    """``(code cell number from 1, ename, evalue)`` of every error output in a notebook."""
    code = [c for c in nb["cells"] if c["cell_type"] == "code"]
    return [(i, o.get("ename", ""), o.get("evalue", ""))
            for i, cell in enumerate(code, 1) for o in cell.get("outputs", [])
            if o.get("output_type") == "error"]


@dataclass
class ConsoleMessage:
    """A browser console message (``type`` "error", "warning", ...) and where it came from."""

    type: str
    text: str
    url: str

    def __str__(self) -> str:
        return f"[{self.type}] {self.text}" + (f"  ({self.url})" if self.url else "")


def record_console(page: Any, types: Sequence[str] = ("error",)) -> list[ConsoleMessage]:
    """Start collecting the page's console messages of ``types``; the list fills as they come."""
    messages: list[ConsoleMessage] = []

    def on_console(msg: Any) -> None:
        if msg.type in types:
            location = msg.location or {}
            messages.append(ConsoleMessage(msg.type, msg.text, location.get("url", "") or ""))

    page.on("console", on_console)
    return messages


#: Console errors that are expected and harmless: (text regex, source-URL regex, why).
HARMLESS_CONSOLE_ERRORS = [
    # The browser's route aborts every non-loopback request (no internet in tests; nothing
    # waits on DNS). Chromium logs each as "Failed to load resource: net::ERR_FAILED"
    # with the blocked URL as the message's location.
    (re.compile(r"^Failed to load resource: net::ERR_FAILED$"), NON_LOOPBACK,
     "a non-loopback request aborted by the test's route"),
    # Voilà 0.5 POSTs /voila/api/shutdown/<kernel> on page unload (reload, navigation)
    # without an _xsrf token: the server answers 403 ("'_xsrf' argument missing from
    # POST") and the old kernel runs on until the server stops.
    (re.compile(r"^Failed to load resource: the server responded with a status of 403"),
     re.compile(r"^http://127\.0\.0\.1:\d+/voila/api/shutdown/"),
     "Voila's kernel-shutdown request on page unload, refused by the XSRF check"),
]


def harmful_console_errors(messages: Sequence[ConsoleMessage]) -> list[ConsoleMessage]:
    """The messages not matched by :data:`HARMLESS_CONSOLE_ERRORS` (what a test should fail on)."""
    def harmless(m: ConsoleMessage) -> bool:
        return any(text.search(m.text) and url.search(m.url) for text, url, _why in HARMLESS_CONSOLE_ERRORS)

    return [m for m in messages if not harmless(m)]


def lab_run_from(page: Any, cell: int, attempts: int = 3) -> None:
    """Select code cell number ``cell`` (from 1) and click Run > Run Selected Cell and All Below.

    (Run Selected Cell when it is the notebook's last cell: Lab disables "All Below" there.)
    The menu item is enabled only while the notebook is current with one cell
    selected: selecting is retried (prompt click, then editor click + Escape)
    until it is, at most ``attempts`` times.
    """
    cell_locator = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook .jp-Cell.jp-CodeCell").nth(cell - 1)
    item = page.locator(".lm-Menu-item[data-command='notebook:run-all-below']")
    for attempt in range(1, attempts + 1):
        cell_locator.scroll_into_view_if_needed()
        if attempt == 1:
            cell_locator.locator(".jp-InputPrompt").click()
        else:
            cell_locator.locator(".jp-InputArea-editor").click()
            page.keyboard.press("Escape")  # command mode, this cell selected
        last = cell_locator.evaluate("el => { const cells = el.parentElement.querySelectorAll("
                                     "':scope > .jp-Cell'); return cells[cells.length - 1] === el; }")
        if last:  # Lab disables "... and All Below" on the last cell: Run Selected Cell there
            item = page.locator(".lm-Menu-item[data-command='notebook:run-cell']")
        page.get_by_role("menuitem", name="Run", exact=True).click()
        try:
            item.and_(page.locator(":not(.lm-mod-disabled)")).wait_for(timeout=3_000)
        except Exception:  # noqa: BLE001 - not enabled (yet): close the menu, select again
            page.keyboard.press("Escape")
            continue
        item.click()
        poll(lambda: (lab_prompts(page) + [""] * cell)[cell - 1] != "[ ]:", 10,
             f"code cell {cell} to start executing")
        return
    raise AssertionError(f"Run Selected Cell and All Below stayed disabled for code cell {cell}")
