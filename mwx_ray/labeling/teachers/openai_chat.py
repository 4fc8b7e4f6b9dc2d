"""``openai``: an OpenAI-compatible chat-completions endpoint (OpenAI GPT-4o as in the paper, vLLM, Ollama).

HTTP client: the standard library (``urllib``) speaking ``POST {base_url}/chat/completions``, so no extra
dependency and the same code path for every server. The API key is read from the environment variable named by
``teacher.api_key_env``; servers on localhost (vLLM, Ollama) may run without one.

* scope ``frame``: one request per keyframe with the frame (and example frames) as base64 PNG data URLs;
  requests of a batch run ``concurrent_requests`` at a time (the server batches them).
* scope ``task`` (the paper: "one query per task"): text only, answered once per (instruction, stage) and cached
  by the labeling driver (:mod:`.task_cache`).

Robustness: each request has ``timeout_s``; connection errors, timeouts, HTTP 429 and 5xx are retried up to
``max_retries`` times with exponential backoff (0.5 s · 2^attempt, or the server's ``Retry-After``); other HTTP
errors fail at once. A client-side rate limiter spaces request starts by ``60 / requests_per_minute`` s. An
answer that cannot be parsed becomes the counted uniform fallback; a request that still fails raises
:class:`TeacherRequestError` (the labeler then retries or fails the batch, naming shard and frames).
"""

from __future__ import annotations

import base64
import io
import json
import os
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import numpy as np

from mwx_ray.labeling.teachers.base import FrameBatch, Teacher, TeacherAnswer, answer_from_rows
from mwx_ray.labeling.teachers.parsing import parse_answer
from mwx_ray.labeling.teachers.prompt import PromptBuilder, load_example_image

RETRY_BASE_DELAY_S = 0.5
RETRYABLE_STATUS = {408, 409, 429, 500, 502, 503, 504}
LOCAL_HOSTS = {"127.0.0.1", "localhost", "::1"}


class TeacherRequestError(RuntimeError):
    """A chat request that failed after all retries (the message has the URL, status and body excerpt)."""


class RateLimiter:
    """Spaces request starts at least ``60 / per_minute`` seconds apart (thread-safe)."""

    def __init__(self, per_minute: float):
        self.interval_s = 60.0 / per_minute
        self._next = 0.0
        self._lock = threading.Lock()

    def wait(self) -> None:
        with self._lock:
            now = time.monotonic()
            start = max(now, self._next)
            self._next = start + self.interval_s
        if start > now:
            time.sleep(start - now)


def png_data_url(frame: np.ndarray) -> str:
    """``[H, W, 3]`` uint8 -> ``data:image/png;base64,...``."""
    from PIL import Image

    buffer = io.BytesIO()
    Image.fromarray(np.asarray(frame, dtype=np.uint8)).save(buffer, format="PNG")
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode("ascii")


class OpenAIChatTeacher(Teacher):
    backend = "openai"
    scopes = ("frame", "task")

    def __init__(self, catalogue, settings):
        super().__init__(catalogue, settings)
        if not settings.model:
            raise ValueError("openai needs labeling.teacher.model (e.g. gpt-4o, or the model a vLLM server serves)")
        self.url = settings.base_url.rstrip("/") + "/chat/completions"
        self.api_key = os.environ.get(settings.api_key_env, "")
        host = urllib.parse.urlparse(settings.base_url).hostname or ""
        if not self.api_key and host not in LOCAL_HOSTS:
            raise ValueError(f"openai teacher: set the API key in ${settings.api_key_env} "
                             f"(labeling.teacher.api_key_env) for {settings.base_url}")
        self.prompt = PromptBuilder(catalogue, settings.examples, settings.use_stage_description,
                                    with_images=settings.scope == "frame")
        self.example_urls = [png_data_url(load_example_image(p)) for p in self.prompt.example_images()]
        self.limiter = RateLimiter(settings.requests_per_minute)
        self.requests_sent = 0

    def _messages(self, instruction: str, stage: str, frame: np.ndarray | None) -> list[dict[str, Any]]:
        urls = iter([*self.example_urls, *([png_data_url(frame)] if frame is not None else [])])
        messages = []
        for message in self.prompt.messages(instruction, stage):
            parts = []
            for part in message["content"]:
                if part["type"] == "image":
                    parts.append({"type": "image_url", "image_url": {"url": next(urls)}})
                else:
                    parts.append(part)
            # Plain string content for text-only turns: every OpenAI-compatible server accepts it.
            text_only = all(p["type"] == "text" for p in parts)
            messages.append({"role": message["role"],
                             "content": "".join(p["text"] for p in parts) if text_only else parts})
        return messages

    def _post(self, payload: dict[str, Any]) -> dict[str, Any]:
        body = json.dumps(payload).encode()
        headers = {"Content-Type": "application/json"}
        if self.api_key:
            headers["Authorization"] = f"Bearer {self.api_key}"
        last_error = ""
        for attempt in range(self.settings.max_retries + 1):
            self.limiter.wait()
            self.requests_sent += 1
            request = urllib.request.Request(self.url, data=body, headers=headers, method="POST")
            retry_after = None
            try:
                with urllib.request.urlopen(request, timeout=self.settings.timeout_s) as reply:  # noqa: S310
                    return json.loads(reply.read().decode())
            except urllib.error.HTTPError as err:
                excerpt = err.read()[:300].decode(errors="replace")
                last_error = f"HTTP {err.code} from {self.url}: {excerpt}"
                if err.code not in RETRYABLE_STATUS:
                    raise TeacherRequestError(last_error) from err
                retry_after = err.headers.get("Retry-After")
            except (urllib.error.URLError, TimeoutError, ConnectionError, json.JSONDecodeError) as err:
                last_error = f"{type(err).__name__} from {self.url}: {err}"
            if attempt < self.settings.max_retries:
                delay = RETRY_BASE_DELAY_S * 2**attempt
                if retry_after is not None and retry_after.replace(".", "", 1).isdigit():
                    delay = float(retry_after)
                time.sleep(delay)
        raise TeacherRequestError(f"{last_error} (after {self.settings.max_retries + 1} attempts)")

    def _ask(self, instruction: str, stage: str, frame: np.ndarray | None) -> str:
        payload = {"model": self.settings.model, "messages": self._messages(instruction, stage, frame),
                   "max_tokens": self.settings.max_new_tokens, "temperature": 0}
        reply = self._post(payload)
        try:
            return str(reply["choices"][0]["message"]["content"] or "")
        except (KeyError, IndexError, TypeError):
            return ""  # a malformed reply is an unparseable answer: counted fallback

    def label_batch(self, batch: FrameBatch) -> TeacherAnswer:
        frames = batch.frames if self.scope == "frame" else [None] * len(batch)
        jobs = list(zip(batch.instructions, batch.stage_descriptions, frames, strict=True))
        with ThreadPoolExecutor(max_workers=min(self.settings.concurrent_requests, max(1, len(jobs)))) as pool:
            texts = list(pool.map(lambda job: self._ask(*job), jobs))
        parsed = [parse_answer(t, self.catalogue, self.settings.label_smoothing) for t in texts]
        return answer_from_rows([p.probs for p in parsed], [p.reason for p in parsed], texts, self.catalogue.size)

    @classmethod
    def model_revision_for(cls, settings) -> str:
        return settings.revision or urllib.parse.urlparse(settings.base_url).netloc

    @classmethod
    def prompt_payload_for(cls, catalogue, settings):
        prompt = PromptBuilder(catalogue, settings.examples, settings.use_stage_description,
                               with_images=settings.scope == "frame")
        return {**prompt.payload(), "label_smoothing": settings.label_smoothing,
                "max_new_tokens": settings.max_new_tokens}
