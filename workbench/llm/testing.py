"""A scripted, real OpenAI-compatible chat server on 127.0.0.1, for tests and notebooks.

`FakeChatServer` is an actual HTTP server (``http.server.ThreadingHTTPServer`` on a thread), so a client
under test goes through its whole network stack: connection set-up, SSE parsing, timeouts, and a
connection that drops in the middle of a chunked body. Nothing is patched or mocked.

    >>> import asyncio, openai
    >>> with FakeChatServer(["Hello there"]) as server:
    ...     client = openai.OpenAI(base_url=server.base_url, api_key="k", max_retries=0)
    ...     client.chat.completions.create(model="m", messages=[{"role": "user", "content": "hi"}]
    ...                                    ).choices[0].message.content
    'Hello there'

The script is a queue of replies, used one per request, in order:

- a string, or a `Reply` (text, chunking and per-chunk delay): a successful answer, streamed as one SSE
  chunk per `approx_tokens` piece when the request asks for ``stream``;
- ``("status", code)``: an HTTP error with an OpenAI-style JSON error body;
- ``("cut", n)``: stream ``n`` chunks of the next scripted text, then drop the connection without
  ending the chunked body or sending ``[DONE]`` (what a crashed or restarted server looks like to a
  client); ``("cut", n, text)`` streams the start of `text` instead (a retry that then diverges);
- ``("hang", seconds)``: send nothing for that long (a stuck server), then drop the connection.

A `responder(path, body) -> reply` answers every request the script has no reply left for (a teacher or a
joiner that reads the prompt and answers it, for runs of many calls: `workbench rehearse`).

Every request body is recorded in `requests` (model, messages, stop, ...) and its path in `paths`.

It also serves ``POST /v1/audio/transcriptions`` (the speech engine `voice.engines.OpenAITranscription`): the
multipart upload is parsed, its form fields recorded in `requests` and the uploaded file's bytes in `uploads`,
and the next scripted text is the transcript (``{"text": ...}``); a fault tuple fails it the same way.
"""

from __future__ import annotations

import json
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from email.parser import BytesParser
from email.policy import HTTP
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from workbench.llm.base import approx_tokens, count_tokens

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Reply:
    """A successful answer. `chunk_delay_s` is slept before each streamed chunk (token timing).

    `finish_reason` None imitates a stream that ends with no finish reason (a truncated body).
    `usage` (prompt, completion) replaces the reported token counts, so a test can tell server-reported
    usage from a client's own estimate (by default the server counts `approx_tokens` pieces).
    """

    text: str
    chunk_delay_s: float = 0.0
    finish_reason: str | None = "stop"
    usage: tuple[int, int] | None = None


Fault = tuple[str, float] | tuple[str, int, str]
Scripted = str | Reply | Fault
_FAULTS = ("status", "cut", "hang")


class FakeChatServer:
    """An OpenAI chat-completions server that answers from a script (see the module docstring).

    Use it as a context manager: the server starts on enter; on exit it stops serving, wakes any
    ``hang`` in progress, and joins its thread. When the script runs out, requests get HTTP 400 with a
    message saying so (a client must not retry that, so a test fails quickly and clearly).
    `accepts_stream_options=False` imitates servers (older Azure API versions) that answer a request
    carrying ``stream_options`` with HTTP 400, without using up a scripted reply.
    """

    def __init__(
        self,
        script: Iterable[Scripted] = (),
        model: str = "fake-model",
        accepts_stream_options: bool = True,
        responder: Callable[[str, dict[str, Any]], Scripted] | None = None,
    ):
        self.model = model
        self.responder = responder
        self.accepts_stream_options = accepts_stream_options
        self.requests: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.uploads: list[bytes] = []  # files sent to /v1/audio/transcriptions
        self._script: deque[Scripted] = deque()
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.add(*script)

    # ------------------------------------------------------------------------------------------ script

    def add(self, *items: Scripted) -> None:
        """Append replies or faults to the script (checked now, so a typo fails at the call site)."""
        for item in items:
            if isinstance(item, tuple) and not (
                len(item) == 2 and item[0] in _FAULTS or len(item) == 3 and item[0] == "cut"
            ):
                raise ValueError(
                    f"unknown fault {item!r}: use ('status'|'cut'|'hang', number) or ('cut', n_chunks, text)"
                )
            if not isinstance(item, (str, Reply, tuple)):
                raise TypeError(
                    f"a scripted reply is a str, a Reply or a fault tuple, not {type(item).__name__}"
                )
        with self._lock:
            self._script.extend(items)

    @property
    def remaining(self) -> int:
        """How many scripted replies have not been used yet."""
        with self._lock:
            return len(self._script)

    def _next(self, path: str, body: dict[str, Any], consume: bool = True) -> Scripted | None:
        with self._lock:
            self.paths.append(path)
            self.requests.append(body)
            if not consume:
                return None
            if self._script:
                return self._script.popleft()
        return self.responder(path, body) if self.responder else None

    # --------------------------------------------------------------------------------------- lifecycle

    @property
    def base_url(self) -> str:
        """The URL to give a client, ending in ``/v1`` (the server must be started)."""
        if self._httpd is None:
            raise RuntimeError(
                "the FakeChatServer is not running: use it in a `with` block (or call start())"
            )
        return f"http://{HOST}:{self._httpd.server_address[1]}/v1"

    def start(self) -> FakeChatServer:
        if self._httpd is not None:
            raise RuntimeError("the FakeChatServer is already running")
        self._stopping.clear()
        self._httpd = ThreadingHTTPServer((HOST, 0), _make_handler(self))
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="FakeChatServer",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is None:
            return
        self._stopping.set()
        self._httpd.shutdown()
        self._httpd.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._httpd, self._thread = None, None

    def __enter__(self) -> FakeChatServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        where = self.base_url if self._httpd is not None else "stopped"
        return (
            f"FakeChatServer({where}, {self.remaining} scripted replies left, {len(self.requests)} requests)"
        )


# ---------------------------------------------------------------------------------------------- protocol


def _make_handler(server: FakeChatServer) -> type[BaseHTTPRequestHandler]:
    class Handler(_ChatHandler):
        fake = server

    return Handler


class _ChatHandler(BaseHTTPRequestHandler):
    """One request: parse the body, take the next scripted reply, answer (streaming or not)."""

    protocol_version = "HTTP/1.1"  # chunked transfer, so a dropped connection is detectable mid-body
    fake: FakeChatServer

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 - the base class's name
        """Silent: request lines (and headers that carry keys) are not logged."""

    def do_POST(self) -> None:
        self.close_connection = True  # one request per connection: no idle keep-alive threads linger
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        if self.path.split("?")[0].endswith("/audio/transcriptions"):
            self._transcription(raw)
            return
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            self._error(400, "the request body is not JSON")
            return
        if not self.path.split("?")[0].endswith("/chat/completions"):
            self._error(
                404,
                f"FakeChatServer serves POST /v1/chat/completions and /v1/audio/transcriptions, not {self.path}",
            )
            return
        if "stream_options" in body and not self.fake.accepts_stream_options:
            self.fake._next(self.path, body, consume=False)
            self._error(400, "Unrecognized request argument supplied: stream_options")
            return
        self._reply(body, lambda reply: self._answer(reply, body))

    def _reply(self, body: dict[str, Any], answer: Any) -> None:
        """Take the next scripted item for `body`: an error when none is left, a fault, or `answer(Reply)`."""
        item = self.fake._next(self.path, body)
        if item is None:
            self._error(400, "FakeChatServer has no scripted response left for this request")
        elif isinstance(item, tuple):
            self._fault(item, body)
        else:
            answer(item if isinstance(item, Reply) else Reply(item))

    def _transcription(self, raw: bytes) -> None:
        """A multipart upload (fields and one file): the next scripted text is the transcript."""
        content_type = self.headers.get("Content-Type") or ""
        if not content_type.startswith("multipart/form-data"):
            self._error(400, "an audio transcription request is multipart/form-data")
            return
        message = BytesParser(policy=HTTP).parsebytes(f"Content-Type: {content_type}\r\n\r\n".encode() + raw)
        fields: dict[str, Any] = {}
        for part in message.iter_parts():
            name = part.get_param("name", header="content-disposition")
            if part.get_filename() is not None:
                fields[name] = part.get_filename()
                with self.fake._lock:
                    self.fake.uploads.append(part.get_payload(decode=True))
            else:
                fields[name] = part.get_content().strip()
        if "file" not in fields:
            self._error(400, "no file in the transcription request")
            return
        self._reply(fields, lambda reply: self._json(200, {"text": reply.text}))

    # ------------------------------------------------------------------------------------------ faults

    def _fault(self, fault: Fault, body: dict[str, Any]) -> None:
        kind, value = fault[0], fault[1]
        if kind == "status":
            code = int(value)
            message = {
                401: f"Incorrect API key provided: {self._bearer()}",
                429: "Rate limit reached",
                404: f"The model {body.get('model')!r} does not exist",
            }.get(code, "scripted failure")
            self._error(code, message)
        elif kind == "hang":
            self.fake._stopping.wait(float(value))
            self._drop()
        else:  # cut
            text = str(fault[2]) if len(fault) == 3 else self._pending_text()
            self._stream(Reply(text), body, cut_after=int(value))

    def _pending_text(self) -> str:
        """A cut stream sends the start of the next scripted text (what the server was generating)."""
        with self.fake._lock:
            for item in self.fake._script:
                if isinstance(item, (str, Reply)):
                    return item.text if isinstance(item, Reply) else item
        return "partial answer that never finishes"

    def _bearer(self) -> str:
        """The key the client sent (echoed in 401s like real servers do, so clients must redact it)."""
        auth = self.headers.get("Authorization") or ""
        return auth.removeprefix("Bearer ") or self.headers.get("api-key") or "(none)"

    def _error(self, code: int, message: str) -> None:
        kind = {400: "invalid_request_error", 401: "invalid_api_key", 429: "rate_limit_exceeded"}.get(code)
        self._json(code, {"error": {"message": message, "type": kind or "server_error", "code": code}})

    def _json(self, code: int, obj: Any) -> None:
        data = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _drop(self) -> None:
        """Close the socket at once, mid-response, with no orderly end of the HTTP message."""
        self.close_connection = True
        try:
            self.wfile.flush()
            self.connection.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    # ----------------------------------------------------------------------------------------- answers

    def _answer(self, reply: Reply, body: dict[str, Any]) -> None:
        if body.get("stream"):
            self._stream(reply, body)
            return
        pieces, finish = _truncate(reply, body)
        text = "".join(pieces)
        data = json.dumps(
            {
                "id": f"chatcmpl-{uuid.uuid4().hex[:12]}",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": body.get("model", self.fake.model),
                "choices": [
                    {"index": 0, "message": {"role": "assistant", "content": text}, "finish_reason": finish}
                ],
                "usage": _usage(body, len(pieces), reply.usage),
            }
        ).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(data)

    def _stream(self, reply: Reply, body: dict[str, Any], cut_after: int | None = None) -> None:
        """SSE over chunked transfer: role chunk, one chunk per piece, finish chunk, usage, ``[DONE]``."""
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Cache-Control", "no-cache")
        self.send_header("Transfer-Encoding", "chunked")
        self.send_header("Connection", "close")
        self.end_headers()
        cid, created = f"chatcmpl-{uuid.uuid4().hex[:12]}", int(time.time())
        model = body.get("model", self.fake.model)

        def event(choices: list[dict[str, Any]], usage: dict[str, int] | None = None) -> bool:
            chunk: dict[str, Any] = {
                "id": cid,
                "object": "chat.completion.chunk",
                "created": created,
                "model": model,
                "choices": choices,
            }
            if usage is not None:
                chunk["usage"] = usage
            return self._send_chunk(f"data: {json.dumps(chunk)}\n\n".encode())

        pieces, finish = _truncate(reply, body)
        if not event([{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]):
            return
        for i, piece in enumerate(pieces):
            if cut_after is not None and i >= cut_after:
                self._drop()
                return
            if reply.chunk_delay_s and self.fake._stopping.wait(reply.chunk_delay_s):
                self._drop()
                return
            if not event([{"index": 0, "delta": {"content": piece}, "finish_reason": None}]):
                return
        if cut_after is not None:
            self._drop()
            return
        event([{"index": 0, "delta": {}, "finish_reason": finish}])
        if (body.get("stream_options") or {}).get("include_usage"):
            event([], _usage(body, len(pieces), reply.usage))
        self._send_chunk(b"data: [DONE]\n\n")
        self._send_chunk(b"")

    def _send_chunk(self, data: bytes) -> bool:
        """One HTTP chunk (an empty one ends the body); False when the client has gone away."""
        try:
            self.wfile.write(f"{len(data):x}\r\n".encode() + data + b"\r\n")
            self.wfile.flush()
            return True
        except OSError:
            self.close_connection = True
            return False


def _truncate(reply: Reply, body: dict[str, Any]) -> tuple[list[str], str | None]:
    """The pieces to send and the finish reason, honouring the request's ``stop`` and token limit."""
    text = reply.text
    finish = reply.finish_reason
    stops = body.get("stop") or []
    stops = [stops] if isinstance(stops, str) else stops
    cuts = [i for s in stops if s and (i := text.find(s)) >= 0]
    if cuts:
        text, finish = text[: min(cuts)], "stop"
    pieces = approx_tokens(text)
    limit = body.get("max_completion_tokens") or body.get("max_tokens")
    if limit is not None and len(pieces) > int(limit):
        pieces, finish = pieces[: int(limit)], "length"
    return pieces, finish


def _usage(body: dict[str, Any], completion_tokens: int, scripted: tuple[int, int] | None) -> dict[str, int]:
    """Token counts as `approx_tokens` pieces (the prompt: every message's content), unless scripted."""
    messages: Sequence[dict[str, Any]] = body.get("messages") or []
    prompt = sum(count_tokens(str(m.get("content") or "")) for m in messages)
    if scripted is not None:
        prompt, completion_tokens = scripted
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt + completion_tokens,
    }


__all__ = ["FakeChatServer", "Reply"]
