"""A local OpenAI-compatible planner server, started and stopped by the workbench (TinyAgent Sec. 6).

A user deploys the (4-bit) planner behind a local server and talks to it with the `openai` client; the
notebooks and the tests do exactly that. Two engines: `MLXServer` (`mlx_lm.server`, an MLX model folder) and
`LlamaCppServer` (`python -m llama_cpp.server`, a GGUF file, as TinyAgent ships its planners). Each picks a free
port on 127.0.0.1 (or checks the given one), waits until the server answers a one-token chat completion (the
model is loaded), and stops it on exit; a server that dies while starting raises with the end of its log.
llama.cpp's server also takes a GBNF `grammar` in a request's body (`OpenAICompatLLM(extra_body=...)`), so a
served GGUF planner can decode under the plan grammar too.

    >>> with MLXServer("artifacts/mlx/q4g32") as server:  # doctest: +SKIP
    ...     llm = server.llm()  # an OpenAICompatLLM pointed at http://127.0.0.1:PORT/v1
    ...     text = asyncio.run(llm.complete(planner_chat("Text Ana that I'm late", "2024-06-12", TOOL_NAMES))).text
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from workbench.llm.llamacpp import gguf_file, need_llama_cpp
from workbench.llm.openai_compat import OpenAICompatLLM

HOST = "127.0.0.1"


def free_port(host: str = HOST) -> int:
    """A port nothing listens on right now (the OS picks it)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((host, 0))
        return int(s.getsockname()[1])


def port_in_use(port: int, host: str = HOST) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        try:
            s.bind((host, port))
        except OSError:
            return True
    return False


class LocalServer:
    """A local OpenAI-compatible server process as a context manager: `command()` says what to run.

    Requests name the model "default_model"; `llm()` returns a client for it.
    """

    engine = "local server"
    health_path = "/health"

    def __init__(self, port: int | None = None, max_tokens: int = 512, startup_timeout_s: float = 120.0):
        if port is not None and port_in_use(port):
            raise OSError(
                f"port {port} on {HOST} is already in use: stop what listens there, pick another "
                "port, or pass port=None for a free one"
            )
        self.port = port or free_port()
        self.max_tokens, self.startup_timeout_s = max_tokens, startup_timeout_s
        self.process: subprocess.Popen[bytes] | None = None
        prefix = self.engine.replace(" ", "_").replace(".", "_")
        self._log = tempfile.NamedTemporaryFile(prefix=f"{prefix}.", suffix=".log", delete=False)  # noqa: SIM115

    @property
    def url(self) -> str:
        """The OpenAI base URL."""
        return f"http://{HOST}:{self.port}/v1"

    @property
    def served(self) -> Path:
        """What the server serves (a model folder or file), for messages."""
        raise NotImplementedError

    def command(self) -> list[str]:
        raise NotImplementedError

    def failed_loading(self, log: str) -> bool:
        """True when the log says the model did not load although the process still serves HTTP."""
        return False

    def start(self) -> LocalServer:
        if self.process is not None:
            return self
        self.process = subprocess.Popen(self.command(), stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + self.startup_timeout_s
        while time.monotonic() < deadline:
            code = self.process.poll()
            if code is not None:
                log = self.log_tail()
                self.stop()
                raise RuntimeError(
                    f"{self.engine} for {self.served} exited with code {code} "
                    f"while starting; its log ends with:\n{log}"
                )
            if self.failed_loading(self.log_tail(100_000)):
                log = self.log_tail()
                self.stop()
                raise RuntimeError(f"{self.engine} could not load {self.served}; its log ends with:\n{log}")
            if self._healthy() and self._answers(deadline):
                return self
            time.sleep(0.2)
        log = self.log_tail()
        self.stop()
        raise TimeoutError(
            f"{self.engine} did not answer on {self.url} within {self.startup_timeout_s:.0f} s; "
            f"its log ends with:\n{log}"
        )

    def _healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://{HOST}:{self.port}{self.health_path}", timeout=1.0) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def _answers(self, deadline: float) -> bool:
        """A one-token chat completion: the model is loaded and generating (`/health` only says HTTP is up)."""
        body = json.dumps(
            {"model": "default_model", "max_tokens": 1, "messages": [{"role": "user", "content": "ready?"}]}
        ).encode()
        request = urllib.request.Request(
            f"{self.url}/chat/completions", data=body, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=max(deadline - time.monotonic(), 0.1)) as r:
                return r.status == 200
        except (urllib.error.URLError, ConnectionError, TimeoutError, OSError):
            return False

    def stop(self) -> None:
        """Terminate the server (and kill it if it does not exit within 10 s)."""
        proc, self.process = self.process, None
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def log_tail(self, chars: int = 2000) -> str:
        """The end of the server's log, without the readiness polls."""
        self._log.flush()
        lines = Path(self._log.name).read_text(encoding="utf-8", errors="replace").splitlines()
        return "\n".join(line for line in lines if f'"GET {self.health_path}' not in line)[-chars:]

    def llm(self, **kwargs: Any) -> Any:
        """An `OpenAICompatLLM` (the `openai` client) for this server."""
        return OpenAICompatLLM(model="default_model", base_url=self.url, api_key="local", **kwargs)

    def __enter__(self) -> LocalServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()
        self._log.close()
        with contextlib.suppress(OSError):
            Path(self._log.name).unlink()


class MLXServer(LocalServer):
    """`python -m mlx_lm server --model DIR [--adapter-path A] --host 127.0.0.1 --port P` (TinyAgent's Mac path)."""

    engine = "mlx_lm.server"

    def __init__(
        self,
        model_dir: str | Path,
        adapter_dir: str | Path | None = None,
        port: int | None = None,
        max_tokens: int = 512,
        startup_timeout_s: float = 120.0,
    ):
        self.model_dir = Path(model_dir)
        if not (self.model_dir / "config.json").exists():
            raise FileNotFoundError(
                f"{self.model_dir} is not a model folder (no config.json): run "
                "`workbench quantize` (or `workbench finetune`) to make one"
            )
        if adapter_dir is not None and not (Path(adapter_dir) / "adapters.safetensors").exists():
            raise FileNotFoundError(f"{adapter_dir} holds no adapters.safetensors: train an adapter first")
        self.adapter_dir = Path(adapter_dir) if adapter_dir else None
        super().__init__(port, max_tokens, startup_timeout_s)

    @property
    def served(self) -> Path:
        return self.model_dir

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "mlx_lm",
            "server",
            "--model",
            str(self.model_dir),
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--max-tokens",
            str(self.max_tokens),
            "--temp",
            "0.0",
        ]
        if self.adapter_dir:
            cmd += ["--adapter-path", str(self.adapter_dir)]
        return cmd

    def failed_loading(self, log: str) -> bool:
        return "generation thread died" in log  # mlx_lm.server keeps serving HTTP regardless


class LlamaCppServer(LocalServer):
    """`python -m llama_cpp.server --model FILE.gguf --host 127.0.0.1 --port P` (llama-cpp-python's
    OpenAI-compatible server; TinyAgent's released GGUF planners run behind such a server or LM Studio).
    `n_ctx` 0 takes the model's own context length; `threads` None is llama.cpp's default; `lora` a llama.cpp
    LoRA file served on top of the model (`--lora_path`)."""

    engine = "llama_cpp.server"
    health_path = "/v1/models"

    def __init__(
        self,
        path: str | Path,
        port: int | None = None,
        max_tokens: int = 512,
        startup_timeout_s: float = 120.0,
        n_ctx: int = 0,
        threads: int | None = None,
        lora: str | Path | None = None,
    ):
        self.path = gguf_file(path)
        self.lora = gguf_file(lora) if lora else None
        need_llama_cpp()
        self.n_ctx, self.threads = n_ctx, threads
        super().__init__(port, max_tokens, startup_timeout_s)

    @property
    def served(self) -> Path:
        return self.path

    def command(self) -> list[str]:
        cmd = [
            sys.executable,
            "-m",
            "llama_cpp.server",
            "--model",
            str(self.path),
            "--model_alias",
            "default_model",
            "--host",
            HOST,
            "--port",
            str(self.port),
            "--n_ctx",
            str(self.n_ctx),
        ]
        if self.threads:
            cmd += ["--n_threads", str(self.threads)]
        if self.lora:
            cmd += ["--lora_path", str(self.lora)]
        return cmd
