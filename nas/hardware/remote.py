"""The ``remote:HOST:PORT`` target: measure on a device agent (``nas device serve``).

The module is exported to ONNX here and uploaded; the agent runs it with ONNX Runtime and
answers the statistics and its fingerprint. A connection that fails (refused, reset, timed
out) is retried ``retries`` times with exponential backoff; after that :meth:`measure` raises
:class:`DeviceError` (a ``RuntimeError``, which the evaluator turns into a failed trial with
the reason). Problems found before the search starts (unreachable device, refused token) are
:class:`~nas.errors.OptionError`: bad input, one line, exit status 2.
"""

from __future__ import annotations

import http.client
import json
import logging
import os
import time
from typing import Any

from nas.errors import OptionError
from nas.hardware.onnx_export import to_onnx_bytes
from nas.hardware.target import Shape, Target
from nas.hardware.timing import LatencyStats, TimingConfig
from nas.listen import DEVICE_TOKEN_ENV

log = logging.getLogger(__name__)

# Everything that means "the device did not answer", as opposed to "it answered no".
CONNECTION_ERRORS = (OSError, http.client.HTTPException)


class DeviceError(RuntimeError):
    """The device could not produce a measurement (unreachable, refused, or failed)."""


def parse_address(address: str) -> tuple[str, int]:
    """``"HOST:PORT"`` (``[::1]:PORT`` for IPv6) -> ``(host, port)``.

    Raises:
        OptionError: not of that form.
    """
    host, sep, port = address.rpartition(":")
    host = host.strip("[]")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise OptionError(f"remote target must be remote:HOST:PORT, got remote:{address}")
    return host, int(port)


class RemoteTarget(Target):
    """A device agent at ``address`` (``HOST:PORT``)."""

    name = "remote"

    def __init__(
        self,
        *,
        address: str = "",
        token: str | None = None,
        threads: int | None = None,
        timing: TimingConfig | None = None,
        retries: int = 3,
        backoff_seconds: float = 0.5,
        timeout_seconds: float = 300.0,
    ) -> None:
        if not address:
            raise OptionError("remote target needs an address: --target remote:HOST:PORT")
        if threads is not None:
            raise OptionError(
                "--threads does not apply to a remote target; start the agent with "
                "nas device serve --threads N"
            )
        if timing is not None:
            raise OptionError(
                "a remote target times with the agent's settings; set the clock there: "
                "nas device serve --clock cpu"
            )
        self.host, self.port = parse_address(address)
        self.token = token if token is not None else os.environ.get(DEVICE_TOKEN_ENV, "")
        if not self.token:
            raise OptionError(f"remote target needs the device token: set {DEVICE_TOKEN_ENV}")
        self.retries = retries
        self.backoff_seconds = backoff_seconds
        self.timeout_seconds = timeout_seconds
        self._fingerprint: dict[str, str | int] | None = None
        self._max_upload: int | None = None

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # ---- HTTP with retries ---------------------------------------------------------------
    def _request(
        self, method: str, path: str, body: bytes | None = None
    ) -> tuple[int, dict[str, Any]]:
        """One request, retried on connection errors; raises DeviceError when they persist."""
        headers = {"Authorization": f"Bearer {self.token}"}
        if body is not None:
            headers["Content-Type"] = "application/octet-stream"
        last: Exception | None = None
        for attempt in range(self.retries + 1):
            if attempt:
                delay = self.backoff_seconds * 2 ** (attempt - 1)
                log.info("device %s: %s; retry %d in %.1f s", self.url, last, attempt, delay)
                time.sleep(delay)
            conn = http.client.HTTPConnection(self.host, self.port, timeout=self.timeout_seconds)
            try:
                conn.request(method, path, body=body, headers=headers)
                resp = conn.getresponse()
                raw = resp.read()
            except CONNECTION_ERRORS as exc:
                last = exc
                continue
            finally:
                conn.close()
            try:
                payload = json.loads(raw)
            except ValueError:
                payload = {"error": raw[:200].decode(errors="replace")}
            return resp.status, payload if isinstance(payload, dict) else {}
        raise DeviceError(
            f"device {self.url} unreachable after {self.retries + 1} attempts: "
            f"{type(last).__name__}: {last}"
        )

    def _connect(self) -> None:
        """Health check and fingerprint, once; problems here are bad input."""
        if self._fingerprint is not None:
            return
        try:
            status, health = self._request("GET", "/health")
            if status != 200 or health.get("status") != "ok":
                raise OptionError(f"{self.url} is not a nas device agent (health: {status})")
            status, body = self._request("GET", "/fingerprint")
        except DeviceError as exc:
            raise OptionError(f"{exc}; is 'nas device serve' running there?") from None
        if status == 401:
            raise OptionError(f"device {self.url} refused the token; check {DEVICE_TOKEN_ENV}")
        if status != 200 or not isinstance(body.get("fingerprint"), dict):
            raise OptionError(f"device {self.url} gave no fingerprint (status {status})")
        self._max_upload = int(health.get("max_upload_bytes", 0)) or None
        self._fingerprint = body["fingerprint"]

    # ---- Target --------------------------------------------------------------------------
    def fingerprint(self) -> dict[str, str | int]:
        """The device's own fingerprint (its CPU, ONNX Runtime, providers, threads).

        Raises:
            OptionError: unreachable after retries, or the token is refused.
        """
        self._connect()
        assert self._fingerprint is not None
        return dict(self._fingerprint)

    def measure(self, module: Any, input_shape: Shape) -> LatencyStats:
        """Export, upload, measure on the device.

        Raises:
            DeviceError: unreachable after retries, refused, or the device failed.
        """
        try:
            self._connect()
        except OptionError as exc:
            raise DeviceError(str(exc)) from None
        model = to_onnx_bytes(module, input_shape)
        if self._max_upload is not None and len(model) > self._max_upload:
            raise DeviceError(
                f"model of {len(model)} bytes exceeds the upload cap of device {self.url} "
                f"({self._max_upload} bytes); restart it with a larger --max-upload-mb"
            )
        shape = "x".join(str(int(d)) for d in input_shape)
        status, body = self._request("POST", f"/measure?shape={shape}", model)
        if status != 200:
            raise DeviceError(f"device {self.url} answered {status}: {body.get('error', '')}")
        if body.get("fingerprint") != self._fingerprint:
            raise DeviceError(
                f"device {self.url} changed (fingerprint differs from the start of the run); "
                "restart the search so its measurements are not mixed"
            )
        return LatencyStats.from_dict(body["stats"])
