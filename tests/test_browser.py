"""The quickstart as a user meets it: JupyterLab in a real (headless) Chromium, driven by playwright.

The test starts `jupyter lab` on 127.0.0.1 (a token, a free port) over a temporary copy of the notebooks (the
committed ones stay free of outputs), runs every cell of `00_quickstart.ipynb` from the Run menu, then works
the plan-graph explorer through the rendered page: it picks another example in the dropdown, steps the replay
from the slider's keyboard handle, and checks what the browser shows (the DAG image changes, the verdict
appears). It needs Debian's `chromium` at /usr/bin/chromium (`.ci/run` installs it) and the `playwright`
Python package (a dev dependency); nothing downloads a browser (`playwright install` is never run).

    $ .venv/bin/pytest -q -m browser tests/test_browser.py
"""

from __future__ import annotations

import json
import os
import secrets
import shutil
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import workbench_dirs

from workbench import config
from workbench.serve import HOST, free_port
from workbench.synth.dataset import load_split

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
NOTEBOOK = "00_quickstart.ipynb"
START_S = 120  # jupyter lab answering on its port (2 busy cores)
RUN_S = (
    300  # from Run All Cells to the last output of the quickstart: kernel start, imports, a quick synthesis
)
STEP_S = 60  # one explorer update (a new example, or one replay step)
KERNEL_IDLE = """() => {
    const state = document.querySelector('.jp-Notebook-ExecutionIndicator');
    const kernel = document.querySelector('.jp-Toolbar-kernelName');
    return state && state.dataset.status === 'idle' && kernel && !/No Kernel/.test(kernel.textContent);
}"""

pytestmark = [
    pytest.mark.browser,
    pytest.mark.slow,
    pytest.mark.skipif(
        not CHROMIUM.exists(),
        reason=f"no browser at {CHROMIUM}: `apt-get install chromium` "
        "(Debian's package; .ci/run installs it)",
    ),
]
sync_api = pytest.importorskip(
    "playwright.sync_api", reason="the playwright package is missing: pip install -e '.[dev]'"
)


class JupyterLab:
    """`jupyter lab --no-browser` on 127.0.0.1 with a token, over `root`, its settings and state kept under
    `home` (no user settings, workspaces or announcements leak in), stopped by `stop()`."""

    def __init__(self, root: Path, home: Path, env: dict[str, str]):
        self.root, self.home = root, home
        self.port, self.token = free_port(), secrets.token_hex(16)
        for name in ("config/labconfig", "data", "runtime", "settings", "workspaces"):
            (home / name).mkdir(parents=True, exist_ok=True)
        # The news / update-check prompt of JupyterLab 4 would cover the notebook: turn the plugin off.
        (home / "config/labconfig/page_config.json").write_text(
            json.dumps({"disabledExtensions": {"@jupyterlab/apputils-extension:announcements": True}})
        )
        self.env = {
            **env,
            "JUPYTER_CONFIG_DIR": str(home / "config"),
            "JUPYTER_DATA_DIR": str(home / "data"),
            "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
            "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
            "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
        }
        self.log_path = home / "jupyter.log"
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base(self) -> str:
        return f"http://{HOST}:{self.port}"

    def url(self, notebook: str) -> str:
        return f"{self.base}/lab/tree/{notebook}?token={self.token}"

    def start(self) -> JupyterLab:
        cmd = [
            sys.executable,
            "-m",
            "jupyterlab",
            "--no-browser",
            f"--ServerApp.ip={HOST}",
            f"--ServerApp.port={self.port}",
            "--ServerApp.port_retries=0",
            f"--IdentityProvider.token={self.token}",
            f"--ServerApp.root_dir={self.root}",
            "--LabApp.news_url=",
            "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
            "--LabApp.extension_manager=readonly",
        ]  # no PyPI look-ups from the extension manager
        if os.geteuid() == 0:  # CI containers run as root
            cmd.append("--allow-root")
        with open(self.log_path, "wb") as log:
            self.process = subprocess.Popen(
                cmd, cwd=self.root, env=self.env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
            )
        deadline = time.monotonic() + START_S
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"jupyter lab exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            if self._answers():
                return self
            time.sleep(0.5)
        raise TimeoutError(
            f"jupyter lab did not answer on {self.base} within {START_S} s:\n{self.log_tail()}"
        )

    def _answers(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.base}/api/status?token={self.token}", timeout=2) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        """SIGTERM (the server shuts its kernels down), then SIGKILL to its process group after 30 s."""
        proc, self.process = self.process, None
        if proc is None or proc.poll() is not None:
            return
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)  # its own session: the server and the kernels it started
            proc.wait()

    def log_tail(self, chars: int = 4000) -> str:
        return (
            self.log_path.read_text(encoding="utf-8", errors="replace")[-chars:]
            if self.log_path.exists()
            else ""
        )


@pytest.fixture
def lab(tmp_path) -> Iterator[JupyterLab]:
    """JupyterLab over a copy of notebooks/, quick profile, results under tmp_path; its log tail on failure."""
    root = tmp_path / "notebooks"
    shutil.copytree(config.repo_root() / "notebooks", root)
    env = {k: v for k, v in os.environ.items() if k not in ("MPLBACKEND", "WORKBENCH_PROFILE")}
    env.update(
        WB_QUICK="1",
        PYTHONUNBUFFERED="1",
        **{
            f"WORKBENCH_{name.upper()}_DIR": str(tmp_path / name) for name in ("data", "figures", "artifacts")
        },
    )
    server = JupyterLab(root, tmp_path / "jupyter", env).start()
    try:
        yield server
    finally:
        server.stop()


def dag_src(page) -> str:
    return page.locator("img.wb-dag").get_attribute("src") or ""


def wait_for_update(page, old_src: str, event: str) -> None:
    """Until the DAG image is a new one and the replay's event line starts with `event`."""
    page.wait_for_function(
        """([old, event]) => {
            const img = document.querySelector('img.wb-dag');
            const line = document.querySelector('.wb-event');
            return img && img.src && img.src !== old && line && line.textContent.trim().startsWith(event);
        }""",
        arg=[old_src, event],
        timeout=STEP_S * 1000,
    )


def test_quickstart_runs_in_jupyterlab_and_the_explorer_responds(lab, tmp_path):
    shot = tmp_path / "quickstart.png"
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        try:
            page.set_default_timeout(STEP_S * 1000)
            page.goto(lab.url(NOTEBOOK), timeout=START_S * 1000)
            page.wait_for_selector(".jp-Notebook .jp-Cell", timeout=START_S * 1000)
            # The kernel starts on its own (the notebook names python3). Before it is connected the indicator
            # also reads idle (with "No Kernel"), and a Run All then does nothing: wait for the real idle.
            page.wait_for_function(KERNEL_IDLE, timeout=START_S * 1000)
            page.locator(".lm-MenuBar-itemLabel", has_text="Run").first.click()
            page.locator(".lm-Menu-itemLabel", has_text="Run All Cells").first.click()

            # The last cell moves the replay to event 2: when its output is there, the notebook has finished.
            page.locator(".jp-RenderedText", has_text="event 2 of").wait_for(
                state="attached", timeout=RUN_S * 1000
            )
            assert page.locator(".widget-hprogress").count() >= 1, "the quickstart shows a progress bar"
            verdict = page.locator(".wb-verdict .widget-html-content")
            assert verdict.inner_text().startswith("success:")  # the gold plan is replayed: no planner here
            explorer = page.locator(".wb-explorer")
            explorer.scroll_into_view_if_needed()

            # Pick another example in the dropdown: a new plan, its DAG, the replay at its last event.
            labels = page.locator(".wb-example select option").all_inner_texts()
            with workbench_dirs(tmp_path, WB_QUICK="1"):  # the quick dataset the notebook built
                plans = {r["id"]: r["plan"] for r in load_split("test")}
            index = next(
                i for i, text in enumerate(labels) if "summarize_pdf" in plans.get(text.split(":")[0], "")
            )
            before = dag_src(page)
            page.locator(".wb-example select").select_option(index=index)
            wait_for_update(page, before, "event")
            page.wait_for_function(
                "() => /^event (\\d+) of \\1\\b/.test(document.querySelector('.wb-event').textContent.trim())",
                timeout=STEP_S * 1000,
            )
            assert "summarize_pdf" in page.locator(".wb-plan textarea").input_value()
            assert verdict.inner_text().startswith("success:"), verdict.inner_text()
            assert page.locator("img.wb-gold").get_attribute("src")

            # Step the replay back to its start from the slider's handle (keyboard, as a user would).
            before = dag_src(page)
            handle = page.locator(".wb-step .noUi-handle")
            handle.focus()
            handle.press("Home")
            wait_for_update(page, before, "event 0 of")
            # ... and one event forward.
            before = dag_src(page)
            handle.press("ArrowRight")
            wait_for_update(page, before, "event 1 of")
            assert page.locator(".wb-step .widget-readout").inner_text().strip() == "1"
            assert page.locator(".wb-states").inner_text().count("running") >= 1
            assert verdict.inner_text().startswith(("success:", "failure:"))
        except BaseException:
            print(f"--- jupyter lab log (tail) ---\n{lab.log_tail()}")
            raise
        finally:
            page.screenshot(path=str(shot), full_page=True)
            print(f"screenshot: {shot}")
            browser.close()
    assert shot.stat().st_size > 10_000
