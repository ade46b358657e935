"""A stand-in Glimpse server (pynng REP in a thread) whose replies a test chooses, including wrong ones."""

from __future__ import annotations

import socket
import threading
from typing import Callable, Optional

import pynng

from glimpse_client import frame, glimpse_pb2 as pb

# handler(request bytes) -> reply bytes, or None to send no reply at all.
Handler = Callable[[bytes], Optional[bytes]]


def free_tcp_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return f"tcp://127.0.0.1:{s.getsockname()[1]}"


def reply_to(request: pb.RequestEnvelope, body=None, status: int = 0, message: str = "",
             request_id: Optional[int] = None, metadata=None) -> bytes:
    """A response frame for `request`; request_id overrides the echoed id to test mismatches."""
    envelope = pb.ResponseEnvelope(
        request_id=request.request_id if request_id is None else request_id, status=status, message=message,
        body=b"" if body is None else body.SerializeToString(), metadata=dict(metadata or {}))
    return frame.encode_response(envelope)


def models_service(data: bytes) -> bytes:
    """A well-behaved server with three models; records nothing."""
    request = frame.decode_request(data)
    method = request.method.rsplit("/", 1)[-1]
    if method == "ListModels":
        return reply_to(request, pb.ListModelsResponse(
            models=[pb.ModelSummary(name=n, input_size=s) for n, s in (("lite0", 224), ("lite1", 240), ("lite2", 260))],
            default_model="lite0"))
    if method == "ModelMetadata":
        name = pb.ModelMetadataRequest.FromString(request.body).model
        if name not in ("lite0", "lite1", "lite2"):
            return reply_to(request, status=5, message=f"model '{name}' not found; loaded: lite0, lite1, lite2")
        return reply_to(request, pb.ModelMetadataResponse(name=name, input_size=224, resize_ratio=0.875,
                                                          mean=[127.0] * 3, std=[128.0] * 3, label_count=1000))
    if method == "Health":
        return reply_to(request, pb.HealthResponse(status=pb.HealthResponse.SERVING))
    return reply_to(request, status=12, message=f"method {request.method} is not implemented here")


class FakeServer:
    """Runs `handler` for every request on a free loopback port until closed; keeps what it received."""

    def __init__(self, handler: Handler = models_service, url: Optional[str] = None, **socket_options):
        self.url = url or free_tcp_url()
        self.handler = handler
        self.received: list[bytes] = []
        self._socket = pynng.Rep0(listen=self.url, **socket_options)
        self._thread = threading.Thread(target=self._serve, daemon=True)
        self._thread.start()

    def _serve(self) -> None:
        while True:
            try:
                data = self._socket.recv()
            except pynng.Closed:
                return
            self.received.append(data)
            reply = self.handler(data)
            if reply is not None:
                try:
                    self._socket.send(reply)
                except pynng.Closed:
                    return

    def requests(self) -> list:
        return [frame.decode_request(d) for d in self.received]

    def close(self) -> None:
        self._socket.close()
        self._thread.join(timeout=5)

    def __enter__(self) -> "FakeServer":
        return self

    def __exit__(self, *exc) -> None:
        self.close()


if __name__ == "__main__":
    # `python3 fake_server.py [URL]`: serve models_service until interrupted (for trying tools by hand).
    import sys
    import time

    server = FakeServer(url=sys.argv[1] if len(sys.argv) > 1 else None)
    print(server.url, flush=True)
    while True:
        time.sleep(3600)
