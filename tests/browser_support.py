"""Drive a notebook in JupyterLab with Debian's Chromium (no browser is ever downloaded).

Pieces used by ``tests/test_browser.py``:

- ``jupyter_lab(root_dir=, state_dir=)``: a JupyterLab server on 127.0.0.1, a free port, a random
  token, every settings/runtime folder inside ``state_dir``, in its own process group; leaving the
  ``with`` block (also on failure) stops the server and its kernels and checks the port is free.
- ``launch_chromium(playwright)``: headless Chromium with background networking switched off.
- ``open_notebook``, ``run_all_cells``, ``cell_errors``: page helpers that talk to
  ``window.jupyterapp`` (exposed with ``--LabApp.expose_app_in_browser=True``).
"""

from __future__ import annotations

import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import psutil

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--headless",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    "--disable-quic",
    "--disable-default-apps",
]
# User settings that keep JupyterLab quiet and offline: no news/update checks, no autosave
# (the test runs a temporary copy anyway), every cell kept in the DOM (no windowing).
LAB_SETTINGS = {
    "@jupyterlab/apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "@jupyterlab/docmanager-extension/plugin": {"autosave": False},
    "@jupyterlab/notebook-extension/tracker": {"windowingMode": "none"},
}


@dataclass
class LabServer:
    """A running JupyterLab: where it listens and how to log in."""

    process: subprocess.Popen
    port: int
    token: str
    root_dir: Path
    log_path: Path

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}/{path}?token={self.token}"

    def log_tail(self, *, chars: int = 3000) -> str:
        return self.log_path.read_text(errors="replace")[-chars:] if self.log_path.exists() else ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """True if no process listens on ``127.0.0.1:port`` (TIME_WAIT leftovers do not count)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def write_lab_settings(settings_dir: Path) -> None:
    """One ``<plugin>.jupyterlab-settings`` file per entry of ``LAB_SETTINGS``."""
    for plugin, values in LAB_SETTINGS.items():
        path = settings_dir / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(values))


def lab_environment(state_dir: Path, *, fast: bool = True) -> dict[str, str]:
    """The server's environment: ours (MINIFACENET_DATA included), fast mode, private state folders."""
    env = dict(os.environ)
    for name in ("config", "runtime", "settings", "workspaces"):
        (state_dir / name).mkdir(parents=True, exist_ok=True)
    env.update(
        JUPYTER_CONFIG_DIR=str(state_dir / "config"),
        JUPYTER_RUNTIME_DIR=str(state_dir / "runtime"),
        JUPYTERLAB_SETTINGS_DIR=str(state_dir / "settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(state_dir / "workspaces"),
    )
    # The kernel inherits the server's environment: fast mode on (CI) or off (as a student runs it).
    if fast:
        env["MINIFACENET_FAST"] = "1"
    else:
        env.pop("MINIFACENET_FAST", None)
    # A student's kernel draws inline figures; MPLBACKEND=Agg (set for the test run) would hide them.
    env.pop("MPLBACKEND", None)
    return env


def lab_command(*, port: int, token: str, root_dir: Path) -> list[str]:
    return [
        sys.executable, "-m", "jupyterlab", "--no-browser", "--ip=127.0.0.1", f"--port={port}",
        "--ServerApp.port_retries=0", f"--IdentityProvider.token={token}", "--allow-root",
        "--LabApp.expose_app_in_browser=True", f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=", "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]  # fmt: skip


def wait_until_ready(server: LabServer, *, timeout_s: float) -> None:
    """Poll ``/api/status`` until the server answers; raise with its log if it dies or times out."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if server.process.poll() is not None:
            raise RuntimeError(f"jupyter lab exited with {server.process.returncode}:\n{server.log_tail()}")
        try:
            with urllib.request.urlopen(server.url("api/status"), timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            time.sleep(0.25)
    raise TimeoutError(f"jupyter lab did not answer within {timeout_s:.0f} s:\n{server.log_tail()}")


def stop_server(server: LabServer, *, timeout_s: float = 15) -> list[int]:
    """Stop the server, its process group and every kernel it started; return PIDs still alive.

    Kernels run in their own session (jupyter_client starts them with ``start_new_session``), so
    killing the server's group is not enough: collect all descendants first, then end each one.
    """
    try:
        family = [psutil.Process(server.process.pid)] + psutil.Process(server.process.pid).children(True)
    except psutil.NoSuchProcess:
        family = []
    # SIGTERM lets the server shut its kernels down cleanly.
    with _ignore(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    _, alive = psutil.wait_procs(family, timeout=timeout_s)
    for process in alive:
        with _ignore(psutil.NoSuchProcess):
            process.kill()
    with _ignore(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGKILL)
    server.process.wait(timeout=timeout_s)
    _, alive = psutil.wait_procs(family, timeout=5)
    return [process.pid for process in alive]


@contextmanager
def _ignore(*errors: type[BaseException]) -> Iterator[None]:
    try:
        yield
    except errors:
        pass


@contextmanager
def jupyter_lab(
    *, root_dir: Path, state_dir: Path, fast: bool = True, startup_timeout_s: float = 90
) -> Iterator[LabServer]:
    """Run JupyterLab for the duration of the ``with`` block; always stop it afterwards.

    On exit, raise ``AssertionError`` if a process of the server survives or the port stays taken.
    """
    env = lab_environment(state_dir, fast=fast)
    write_lab_settings(state_dir / "settings")
    port, token = free_port(), secrets.token_hex(16)
    log_path = state_dir / "jupyter_lab.log"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            lab_command(port=port, token=token, root_dir=root_dir),
            cwd=root_dir, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
        )  # fmt: skip
    server = LabServer(process=process, port=port, token=token, root_dir=root_dir, log_path=log_path)
    try:
        wait_until_ready(server, timeout_s=startup_timeout_s)
        yield server
    finally:
        survivors = stop_server(server)
        assert not survivors, f"processes left behind by jupyter lab: {survivors}"
        assert port_is_free(port), f"port {port} is still taken after stopping jupyter lab"


def launch_chromium(playwright):
    """Debian's Chromium, headless, without sandbox or background networking."""
    return playwright.chromium.launch(executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS)


def copy_notebook(source: Path, *, destination_dir: Path) -> Path:
    """Copy a notebook without outputs (as a student opens it), with a kernelspec so no "Select
    Kernel" dialog opens. The committed file is never touched."""
    destination_dir.mkdir(parents=True, exist_ok=True)
    target = destination_dir / source.name
    notebook = json.loads(source.read_text())
    for cell in notebook["cells"]:
        if cell["cell_type"] == "code":
            cell.update(outputs=[], execution_count=None)
    notebook.setdefault("metadata", {}).setdefault(
        "kernelspec", {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    )
    target.write_text(json.dumps(notebook))
    return target


# JavaScript run in the page; the open notebook is `jupyterapp.shell.currentWidget`.
KERNEL_READY_JS = (
    "() => { const panel = window.jupyterapp && window.jupyterapp.shell.currentWidget;"
    " const kernel = panel && panel.sessionContext && panel.sessionContext.session"
    " && panel.sessionContext.session.kernel;"
    " return !!(panel && panel.content && kernel && kernel.status === 'idle'); }"
)
# Fire the command; do not await its promise (it resolves only when every cell has run).
RUN_ALL_JS = "() => { window.jupyterapp.commands.execute('notebook:run-all-cells'); return true; }"
# Per code cell: execution count, whether it waits/runs ("*" prompt), and its error outputs.
CELL_STATE_JS = """() => {
  const panel = window.jupyterapp.shell.currentWidget;
  const cells = [];
  for (const cell of panel.content.widgets) {
    if (cell.model.type !== 'code') continue;
    const outputs = cell.model.outputs.toJSON();
    const prompt = cell.node.querySelector('.jp-InputPrompt');
    cells.push({
      count: cell.model.executionCount,
      pending: !!prompt && prompt.textContent.includes('*'),
      errors: outputs.filter(o => o.output_type === 'error').map(o => o.ename + ': ' + o.evalue),
      head: cell.model.sharedModel.getSource().slice(0, 80),
    });
  }
  const kernel = panel.sessionContext.session && panel.sessionContext.session.kernel;
  return {cells: cells, kernel: kernel ? kernel.status : 'none'};
}"""


def open_notebook(page, server: LabServer, notebook: Path, *, timeout_s: float = 90) -> None:
    """Open ``notebook`` (relative to the server root) and wait until its kernel is idle."""
    relative = notebook.relative_to(server.root_dir).as_posix()
    page.goto(server.url(f"lab/tree/{relative}"), wait_until="domcontentloaded")
    page.wait_for_function(KERNEL_READY_JS, timeout=timeout_s * 1000, polling=250)


def run_all_cells(page, *, timeout_s: float) -> dict:
    """Run every cell; return the final cell states once all ran or one raised (run-all stops there)."""
    page.evaluate(RUN_ALL_JS)
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        state = page.evaluate(CELL_STATE_JS)
        cells = state["cells"]
        # The copy starts without execution counts, so "all counted" means "all ran".
        finished = all(cell["count"] is not None for cell in cells) or any(cell["errors"] for cell in cells)
        if finished and not any(cell["pending"] for cell in cells) and state["kernel"] == "idle":
            return state
        time.sleep(0.5)
    raise TimeoutError(f"cells still running after {timeout_s:.0f} s: {page.evaluate(CELL_STATE_JS)}")


def cell_errors(state: dict) -> list[str]:
    """'cell N (source...): Error: message' for every cell whose outputs hold an error."""
    return [
        f"cell {index} ({cell['head']!r}): {error}"
        for index, cell in enumerate(state["cells"])
        for error in cell["errors"]
    ]


def wait_for_stable_screenshot(locator, *, timeout_s: float = 20, settle_s: float = 0.4) -> bytes:
    """Screenshot ``locator`` until two shots in a row are identical (redraws finished)."""
    deadline = time.monotonic() + timeout_s
    previous = locator.screenshot(animations="disabled")
    while time.monotonic() < deadline:
        time.sleep(settle_s)
        current = locator.screenshot(animations="disabled")
        if current == previous:
            return current
        previous = current
    raise TimeoutError(f"the figure kept changing for {timeout_s:.0f} s")


def changed_pixel_fraction(before_png: bytes, after_png: bytes) -> float:
    """Fraction of pixels that differ between two screenshots (1.0 if their sizes differ)."""
    from io import BytesIO

    from PIL import Image, ImageChops

    before = Image.open(BytesIO(before_png)).convert("RGB")
    after = Image.open(BytesIO(after_png)).convert("RGB")
    if before.size != after.size:
        return 1.0
    # Any channel differing marks the pixel as changed.
    difference = ImageChops.difference(before, after).convert("L").point(lambda value: 255 if value else 0)
    return difference.histogram()[255] / (before.size[0] * before.size[1])


def press_slider(page, slider_selector: str, *, keys: list[str]) -> str:
    """Focus an ipywidgets slider's handle, press ``keys`` in turn; return the readout text after."""
    handle = page.locator(f"{slider_selector} .noUi-handle").first
    handle.focus()
    for key in keys:
        handle.press(key)
    return slider_readout(page, slider_selector)


def slider_readout(page, slider_selector: str) -> str:
    """The slider's readout as Python writes numbers (d3-format writes a minus as U+2212)."""
    return page.locator(f"{slider_selector} .widget-readout").first.inner_text().replace("\u2212", "-")


def logged_tracebacks(page, *, timeout_s: float = 15) -> list[str]:
    """Tracebacks in JupyterLab's log console: where exceptions raised in widget callbacks go.

    A callback runs outside any cell, so its error never reaches a cell's outputs; ipywidgets
    prints it and JupyterLab routes that output to the notebook's log console.
    """
    page.evaluate("() => { window.jupyterapp.commands.execute('logconsole:open'); return true; }")
    panel = page.locator(".jp-LogConsolePanel").first
    panel.wait_for(state="attached", timeout=timeout_s * 1000)
    time.sleep(0.5)
    stderr = panel.locator('[data-mime-type="application/vnd.jupyter.stderr"]', has_text="Traceback")
    return [stderr.nth(index).inner_text()[:2000] for index in range(stderr.count())]


# Arm a one-shot measurement: from the next keydown (capture phase) to the next new `src` of
# the image, decoded and painted (the frame after it). Resolves with milliseconds, rejects after 15 s.
ARM_LATENCY_JS = """(img) => {
  window.__mfnLatency = new Promise((resolve, reject) => {
    let pressed = null;
    window.addEventListener('keydown', () => { pressed = performance.now(); }, {capture: true, once: true});
    const observer = new MutationObserver(async () => {
      observer.disconnect();
      try { await img.decode(); } catch (error) {}
      requestAnimationFrame(() => setTimeout(() => resolve(performance.now() - pressed), 0));
    });
    observer.observe(img, {attributes: true, attributeFilter: ['src']});
    setTimeout(() => { observer.disconnect(); reject(new Error('no new image within 15 s')); }, 15000);
  });
  return true;
}"""
# Count the image's new `src` values from now on.
COUNT_IMAGES_JS = """(img) => {
  window.__mfnImages = 0;
  const observer = new MutationObserver(() => { window.__mfnImages += 1; });
  observer.observe(img, {attributes: true, attributeFilter: ['src']});
  return true;
}"""


def key_to_image_ms(page, slider_selector: str, image_selector: str, *, key: str = "ArrowRight") -> float:
    """Milliseconds from a key press on the slider's handle to the new image on screen."""
    image = page.locator(image_selector).first
    image.evaluate(ARM_LATENCY_JS)
    page.locator(f"{slider_selector} .noUi-handle").first.press(key)
    return float(page.evaluate("() => window.__mfnLatency"))


def burst_images(
    page, slider_selector: str, image_selector: str, *, presses: int, settle_s: float = 2.0
) -> int:
    """Press the key ``presses`` times as fast as possible; how many new images were shown."""
    image = page.locator(image_selector).first
    image.evaluate(COUNT_IMAGES_JS)
    handle = page.locator(f"{slider_selector} .noUi-handle").first
    for _ in range(presses):
        handle.press("ArrowRight", delay=0)
    time.sleep(settle_s)
    return int(page.evaluate("() => window.__mfnImages"))
