"""The device agent over loopback: a real ``nas device serve`` process and the remote target."""

from __future__ import annotations

import http.client
import json
import re
import socket
import subprocess
import time
from collections.abc import Iterator

import pytest
import torch

from nas.errors import OptionError
from nas.hardware import create_target
from nas.hardware.onnx_export import to_onnx_bytes
from nas.hardware.remote import DeviceError
from tests.conftest import nas_cmd, subprocess_env

TOKEN = "s3cret-token-0123456789"
SHAPE = (1, 3, 8, 8)


class Agent:
    def __init__(self, proc: subprocess.Popen[str], port: int) -> None:
        self.proc, self.port = proc, port

    def request(
        self, method: str, path: str, body: bytes | None = None, token: str | None = TOKEN
    ) -> tuple[int, dict]:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        try:
            conn.request(method, path, body=body, headers=headers)
            resp = conn.getresponse()
            return resp.status, json.loads(resp.read())
        finally:
            conn.close()

    def measurements(self) -> int:
        status, body = self.request("GET", "/health", token=None)
        assert status == 200
        return int(body["measurements"])


def _start(*extra: str) -> Agent:
    env = subprocess_env()
    env["NAS_DEVICE_TOKEN"] = TOKEN
    proc = subprocess.Popen(
        nas_cmd("device", "serve", "--port", "0", "--threads", "1", *extra),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert proc.stdout is not None
    line = proc.stdout.readline()  # blocks until the server is bound
    m = re.search(r"listening on http://127\.0\.0\.1:(\d+)", line)
    if not m:
        proc.kill()
        raise AssertionError(f"agent did not start: {line!r} {proc.stderr.read()!r}")
    return Agent(proc, int(m.group(1)))


@pytest.fixture(scope="module")
def agent() -> Iterator[Agent]:
    a = _start("--max-upload-mb", "0.5")
    yield a
    a.proc.terminate()
    a.proc.wait(timeout=30)


@pytest.fixture(scope="module")
def small_onnx() -> bytes:
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 4, 3, padding=1), torch.nn.ReLU())
    return to_onnx_bytes(net, SHAPE)


def test_health_needs_no_token(agent: Agent) -> None:
    status, body = agent.request("GET", "/health", token=None)
    assert status == 200 and body["status"] == "ok" and body["busy"] is False
    assert body["max_upload_bytes"] == int(0.5 * 2**20)


def test_wrong_or_missing_token_is_refused_and_measures_nothing(
    agent: Agent, small_onnx: bytes
) -> None:
    before = agent.measurements()
    for token in ("wrong", None, TOKEN + "x", ""):
        status, body = agent.request("POST", "/measure?shape=1x3x8x8", small_onnx, token=token)
        assert status == 401 and "token" in body["error"]
    assert agent.request("GET", "/fingerprint", token="wrong")[0] == 401
    assert agent.measurements() == before


def test_oversized_upload_is_refused_before_it_is_read(agent: Agent) -> None:
    before = agent.measurements()
    # Announce 1 MiB and send none of it: the agent must answer from the header alone.
    conn = http.client.HTTPConnection("127.0.0.1", agent.port, timeout=60)
    try:
        conn.putrequest("POST", "/measure?shape=1x3x8x8")
        conn.putheader("Authorization", f"Bearer {TOKEN}")
        conn.putheader("Content-Length", str(2**20))
        conn.endheaders()
        resp = conn.getresponse()
        status, body = resp.status, json.loads(resp.read())
    finally:
        conn.close()
    assert status == 413 and "exceeds" in body["error"]
    assert agent.measurements() == before


def test_unauthenticated_upload_is_refused_before_its_body_is_read(agent: Agent) -> None:
    # Headers only, announcing a body under the cap: the agent used to wait for the body and
    # read it (63 MiB uploads without a token grew it by 770 MB) before looking at the token.
    before = agent.measurements()
    with socket.create_connection(("127.0.0.1", agent.port), timeout=60) as s:
        s.sendall(
            b"POST /measure?shape=1x3x8x8 HTTP/1.1\r\nHost: x\r\nContent-Length: 400000\r\n\r\n"
        )
        data = b""
        while chunk := s.recv(65536):  # answered and closed without the body
            data += chunk
    assert data.startswith(b"HTTP/1.1 401") and b"token" in data
    assert agent.measurements() == before


def test_silent_connections_do_not_shut_out_health_or_measurements(agent: Agent) -> None:
    # 70 connections that send nothing used to fill uvicorn's limit of 64 connections, and
    # every request, /health included, was answered 503
    idle = [socket.create_connection(("127.0.0.1", agent.port), timeout=60) for _ in range(70)]
    try:
        assert agent.request("GET", "/health", token=None)[0] == 200
        assert agent.request("GET", "/fingerprint")[0] == 200
    finally:
        for s in idle:
            s.close()


def test_remote_target_refuses_a_model_above_the_device_cap(agent: Agent) -> None:
    target = create_target(f"remote:127.0.0.1:{agent.port}", token=TOKEN)
    big = torch.nn.Linear(1024, 512)  # 2 MiB of weights, the agent takes 0.5 MiB
    with pytest.raises(DeviceError, match="exceeds the upload cap"):
        target.measure(big, (1, 1024))


@pytest.mark.parametrize(
    "body",
    [b"import os; os.system('echo hi')", b"\x80\x04\x95pickle", b"", b"\x08\x07"],
    ids=["python", "pickle", "empty", "proto-without-graph"],
)
def test_non_onnx_is_refused(agent: Agent, body: bytes) -> None:
    before = agent.measurements()
    status, reply = agent.request("POST", "/measure?shape=1x3x8x8", body)
    assert status == 415 and "not an ONNX model" in reply["error"]
    assert agent.measurements() == before


def test_bad_shape_is_refused(agent: Agent, small_onnx: bytes) -> None:
    status, body = agent.request("POST", "/measure?shape=1x3xbig", small_onnx)
    assert status == 400 and "1x3x224x224" in body["error"]
    status, body = agent.request("POST", "/measure?shape=100000x3x224x224", small_onnx)
    assert status == 400 and "elements" in body["error"]


def test_real_measurement_over_loopback(agent: Agent) -> None:
    target = create_target(f"remote:127.0.0.1:{agent.port}", token=TOKEN)
    fp = target.fingerprint()
    assert fp["target"] == "onnxruntime" and fp["threads"] == 1
    assert "CPUExecutionProvider" in str(fp["providers"])
    before = agent.measurements()
    net = torch.nn.Sequential(torch.nn.Conv2d(3, 8, 3), torch.nn.ReLU())
    stats = target.measure(net, SHAPE)
    assert agent.measurements() == before + 1
    assert stats.median_ms > 0 and stats.runs + stats.rejected >= 10
    assert stats.p10_ms <= stats.median_ms <= stats.p90_ms
    # the same runtime and threads locally give the same fingerprint: one shared cache
    local = create_target("onnxruntime", threads=1)
    assert local.fingerprint_id() == target.fingerprint_id()


def test_remote_with_wrong_token_is_bad_input(agent: Agent) -> None:
    target = create_target(f"remote:127.0.0.1:{agent.port}", token="nope")
    with pytest.raises(OptionError, match="refused the token"):
        target.fingerprint()


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_client_retries_then_fails_the_trial_when_the_device_is_gone() -> None:
    a = _start()
    target = create_target(f"remote:127.0.0.1:{a.port}", token=TOKEN)
    target.fingerprint()  # connected while the agent ran
    target.backoff_seconds = 0.05  # type: ignore[attr-defined]
    a.proc.terminate()
    a.proc.wait(timeout=30)
    t0 = time.perf_counter()
    with pytest.raises(DeviceError, match=r"unreachable after 4 attempts") as info:
        target.measure(torch.nn.Conv2d(3, 4, 1), SHAPE)
    assert isinstance(info.value, RuntimeError)  # what the evaluator turns into CandidateError
    # three backoffs of 0.05, 0.1, 0.2 s happened
    assert time.perf_counter() - t0 >= 0.35


def test_unreachable_device_at_start_is_bad_input() -> None:
    target = create_target(f"remote:127.0.0.1:{_free_port()}", token=TOKEN)
    target.backoff_seconds = 0.01  # type: ignore[attr-defined]
    with pytest.raises(OptionError, match="unreachable after 4 attempts.*nas device serve"):
        target.fingerprint_id()


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("remote:nohostport", "remote:HOST:PORT"),
        ("remote:host:99999", "remote:HOST:PORT"),
        ("cpu:3", "takes no argument"),
    ],
)
def test_bad_remote_specs(spec: str, message: str) -> None:
    with pytest.raises(OptionError, match=message):
        create_target(spec, token=TOKEN)


def test_remote_needs_a_token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NAS_DEVICE_TOKEN", raising=False)
    with pytest.raises(OptionError, match="NAS_DEVICE_TOKEN"):
        create_target("remote:127.0.0.1:9")


def test_serve_without_token_exits_2() -> None:
    env = {k: v for k, v in subprocess_env().items() if k != "NAS_DEVICE_TOKEN"}
    r = subprocess.run(
        nas_cmd("device", "serve", "--port", "0"), capture_output=True, text=True, env=env
    )
    assert r.returncode == 2
    assert r.stderr.strip().splitlines() == [
        "nas: error: the device agent needs a token: set NAS_DEVICE_TOKEN or pass --token"
    ]


@pytest.mark.slow
def test_search_measures_on_the_device(
    agent: Agent, storage_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    import optuna
    from optuna.trial import TrialState

    from nas.search.driver import run_search
    from nas.search.options import SearchOptions
    from nas.storage import keys
    from tests.conftest import TINY

    monkeypatch.setenv("NAS_DEVICE_TOKEN", TOKEN)
    before = agent.measurements()
    opts = SearchOptions(
        space=str(TINY),
        supernet_epochs=1,
        calib_batches=1,
        batch_size=256,
        storage=storage_url,
        study="r",
        budget=3,
        target=f"remote:127.0.0.1:{agent.port}",
    )
    run_search(opts)
    trials = optuna.load_study(study_name="r", storage=storage_url).get_trials(
        states=(TrialState.COMPLETE,)
    )
    measured = [t for t in trials if t.user_attrs[keys.LATENCY_SOURCE] == "measured"]
    assert len(trials) == 3 and agent.measurements() == before + len(measured) >= before + 1
    assert all(t.user_attrs[keys.FINGERPRINT]["target"] == "onnxruntime" for t in trials)


def _forever_onnx() -> bytes:
    """An ONNX Loop of 10^9 iterations: a model that holds ONNX Runtime for hours."""
    import onnx
    from onnx import TensorProto, helper

    body = helper.make_graph(
        [
            helper.make_node("Identity", ["cond_in"], ["cond_out"]),
            helper.make_node("Identity", ["v_in"], ["v_out"]),
        ],
        "body",
        [
            helper.make_tensor_value_info("i", TensorProto.INT64, []),
            helper.make_tensor_value_info("cond_in", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_in", TensorProto.FLOAT, [1]),
        ],
        [
            helper.make_tensor_value_info("cond_out", TensorProto.BOOL, []),
            helper.make_tensor_value_info("v_out", TensorProto.FLOAT, [1]),
        ],
    )
    graph = helper.make_graph(
        [
            helper.make_node(
                "Constant",
                [],
                ["M"],
                value=helper.make_tensor("m", TensorProto.INT64, [], [10**9]),
            ),
            helper.make_node(
                "Constant", [], ["c"], value=helper.make_tensor("t", TensorProto.BOOL, [], [True])
            ),
            helper.make_node("Loop", ["M", "c", "x"], ["y"], body=body),
        ],
        "forever",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1])],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    return model.SerializeToString()


def test_a_model_that_runs_forever_is_stopped_and_the_next_request_served(
    small_onnx: bytes,
) -> None:
    a = _start("--time-limit-s", "4")
    try:
        t0 = time.monotonic()
        status, body = a.request("POST", "/measure?shape=1", _forever_onnx())
        took = time.monotonic() - t0
        assert status == 504 and "limit of 4 s" in body["error"]
        assert took < 30  # stopped near the limit, not after 10^9 iterations
        status, body = a.request("POST", "/measure?shape=1x3x8x8", small_onnx)
        assert status == 200 and body["stats"]["median_ms"] > 0
        assert a.measurements() == 1
    finally:
        a.proc.terminate()
        a.proc.wait(timeout=30)


def test_idle_connection_is_closed() -> None:
    a = _start()
    try:
        with socket.create_connection(("127.0.0.1", a.port), timeout=60) as s:
            s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            t0 = time.monotonic()
            data = b""
            while chunk := s.recv(65536):  # the server closes the kept-alive connection
                data += chunk
            assert b"200 OK" in data and time.monotonic() - t0 < 30
    finally:
        a.proc.terminate()
        a.proc.wait(timeout=30)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--port", "70000"], "--port must be 0-65535, got 70000"),
        (["--port", "0", "--time-limit-s", "0"], "--time-limit-s must be in (0, 86400], got 0.0"),
        (["--port", "0", "--max-upload-mb", "-1"], "--max-upload-mb must be in"),
    ],
)
def test_bad_options_one_line_exit_2(args: list[str], message: str) -> None:
    env = subprocess_env()
    env["NAS_DEVICE_TOKEN"] = TOKEN
    r = subprocess.run(nas_cmd("device", "serve", *args), capture_output=True, text=True, env=env)
    assert r.returncode == 2
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and message in lines[0], r.stderr
