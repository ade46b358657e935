"""A blocking Glimpse client: one nanomsg REQ socket (pynng), one call at a time."""

from __future__ import annotations

import itertools
import math
import threading
import time
from typing import TYPE_CHECKING, Mapping, NamedTuple, Optional

import pynng
from google.protobuf.message import DecodeError, Message

from . import frame
from ._proto.glimpse.v1 import glimpse_pb2 as pb
from .status import GlimpseError, ProtocolError, StatusCode

if TYPE_CHECKING:
    import numpy as np

SERVICE = "/glimpse.v1.Glimpse/"
CACHE_METADATA_KEY = "glimpse-cache"

# nng's REQ socket re-sends a request that has had no reply after resend_time (default 60 s)
# and, however long resend_time is, at once on a new connection when the old one drops. A
# resent Classify is work done twice, and a request the server refuses (nanomsg drops the
# connection on a frame over the server's NN_RCVMAXSIZE, `glimpse serve --max-message-mb`)
# would be resent on every reconnect until the caller's timeout. -1 (NNG_DURATION_INFINITE)
# turns resending off: a dropped connection fails the call at once with UNAVAILABLE, and our
# own timeout is the only clock. Retrying is the caller's decision.
_RESEND_DISABLED = -1


class Reply(NamedTuple):
    """A successful call's response message and the server's response metadata."""

    message: Message
    metadata: dict


class Client:
    """Talks to one Glimpse server at `url` ("tcp://127.0.0.1:7000", "ipc:///tmp/glimpse.ipc").

    `timeout` is the default per-call limit in seconds (None: wait forever); it is also sent
    to the server as the call's deadline. Calls on one Client are serialized (a REQ socket
    has one request in flight); use one Client per thread for parallel calls.
    """

    def __init__(self, url: str, timeout: Optional[float] = 5.0):
        self.url = url
        self.timeout = timeout
        self._ids = itertools.count(1)
        self._lock = threading.Lock()  # guards the socket and the request id sequence
        self._socket = pynng.Req0(resend_time=_RESEND_DISABLED)
        try:
            # Non-blocking: the server may start later; nng keeps reconnecting in the background.
            self._socket.dial(url, block=False)
        except pynng.NNGException as e:
            self._socket.close()
            raise ValueError(f"cannot dial {url!r}: {e}") from None
        self._closed = False

    def __enter__(self) -> "Client":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Closes the socket; a call in progress on another thread ends with CANCELLED."""
        # Not under the lock, which a call holds while it waits: closing is how it is interrupted.
        self._closed = True
        self._socket.close()

    # The service's methods.

    def classify(self, jpeg: bytes, model: str = "", top_k: int = 5, timeout: Optional[float] = None,
                 cache: bool = True) -> pb.ClassifyResponse:
        """Top `top_k` classes of a JPEG file's bytes; model "" is the server's default."""
        request = pb.ClassifyRequest(model=model, jpeg=bytes(jpeg), top_k=top_k)
        return self.call("Classify", request, pb.ClassifyResponse, timeout=timeout,
                         metadata=_cache_metadata(cache)).message

    def classify_tensor(self, tensor: "np.ndarray", model: str = "", top_k: int = 5,
                        timeout: Optional[float] = None, cache: bool = True) -> pb.ClassifyResponse:
        """Like classify, from an already preprocessed [1, 3, S, S] tensor (converted to float32)."""
        request = pb.ClassifyRequest(model=model, tensor=tensor_to_proto("", tensor), top_k=top_k)
        return self.call("Classify", request, pb.ClassifyResponse, timeout=timeout,
                         metadata=_cache_metadata(cache)).message

    def infer(self, model: str, inputs: Mapping[str, "np.ndarray"],
              timeout: Optional[float] = None) -> dict:
        """Raw tensors in, raw tensors out: {name: float32 array} for both."""
        request = pb.InferRequest(model=model, inputs=[tensor_to_proto(n, a) for n, a in inputs.items()])
        response = self.call("Infer", request, pb.InferResponse, timeout=timeout).message
        return {t.name: tensor_from_proto(t) for t in response.outputs}

    def list_models(self, timeout: Optional[float] = None) -> pb.ListModelsResponse:
        return self.call("ListModels", pb.ListModelsRequest(), pb.ListModelsResponse, timeout=timeout).message

    def model_metadata(self, model: str, timeout: Optional[float] = None) -> pb.ModelMetadataResponse:
        return self.call("ModelMetadata", pb.ModelMetadataRequest(model=model), pb.ModelMetadataResponse,
                         timeout=timeout).message

    def health(self, service: str = "", timeout: Optional[float] = None) -> pb.HealthResponse:
        """`.status == HealthResponse.SERVING` when the server (or `service`) is ready."""
        return self.call("Health", pb.HealthRequest(service=service), pb.HealthResponse, timeout=timeout).message

    def stats(self, timeout: Optional[float] = None) -> pb.StatsResponse:
        return self.call("Stats", pb.StatsRequest(), pb.StatsResponse, timeout=timeout).message

    # One unary call.

    def call(self, method: str, request: Message, response_type: type, *, timeout: Optional[float] = None,
             metadata: Optional[Mapping[str, str]] = None) -> Reply:
        """Sends `request` to `method` ("Classify", or in full "/glimpse.v1.Glimpse/Classify").

        Returns the decoded response and the response metadata; raises GlimpseError for a
        non-OK status, a timeout or a lost connection, ProtocolError for an invalid reply.
        """
        if not method.startswith("/"):
            method = SERVICE + method
        timeout = self.timeout if timeout is None else timeout
        if timeout is not None and timeout <= 0:
            raise ValueError(f"timeout must be positive seconds or None, not {timeout!r}")
        envelope = pb.RequestEnvelope(method=method, timeout_ms=_deadline_ms(timeout),
                                      body=request.SerializeToString(), metadata=dict(metadata or {}))
        with self._lock:
            if self._closed:
                raise ValueError("the client is closed")
            envelope.request_id = request_id = next(self._ids)
            data = self._exchange(frame.encode_request(envelope), method, timeout)
        try:
            reply = frame.decode_response(data)
        except frame.FrameError as e:
            raise ProtocolError(f"reply to {method} (request {request_id}) from {self.url}: {e}") from None
        if reply.request_id != request_id:
            raise ProtocolError(f"reply to {method} from {self.url} carries request id {reply.request_id}, "
                                f"but the request sent was {request_id}")
        if reply.status != StatusCode.OK:
            error = GlimpseError.from_code(reply.status, reply.message)
            error.metadata = dict(reply.metadata)
            raise error
        try:
            message = response_type.FromString(reply.body)
        except DecodeError as e:
            raise ProtocolError(f"reply to {method} from {self.url}: body is not a valid "
                                f"{response_type.DESCRIPTOR.full_name}: {e}") from None
        return Reply(message, dict(reply.metadata))

    def _exchange(self, data: bytes, method: str, timeout: Optional[float]) -> bytes:
        """Send, then receive, within one `timeout` in all. Called with the lock held."""
        deadline = None if timeout is None else time.monotonic() + timeout
        try:
            self._socket.send_timeout = _remaining_ms(deadline)
            try:
                self._socket.send(data)
            except pynng.Timeout:
                raise GlimpseError.from_code(StatusCode.UNAVAILABLE,
                                             f"no connection to {self.url} within {timeout:g} s ({method})") from None
            self._socket.recv_timeout = _remaining_ms(deadline)
            try:
                return self._socket.recv()
            except pynng.Timeout:
                raise GlimpseError.from_code(StatusCode.DEADLINE_EXCEEDED,
                                             f"no reply from {self.url} within {timeout:g} s ({method})") from None
        except pynng.Closed:
            raise self._cancelled(method) from None
        except (pynng.ConnectionReset, pynng.ConnectionAborted) as e:
            if self._closed:  # close() drops the connection before it closes the socket
                raise self._cancelled(method) from None
            raise GlimpseError.from_code(
                StatusCode.UNAVAILABLE,
                f"connection to {self.url} lost while waiting for the reply to {method} ({e}): the server "
                f"stopped, or dropped the {len(data)}-byte request as over its message size limit") from None

    def _cancelled(self, method: str) -> GlimpseError:
        return GlimpseError.from_code(StatusCode.CANCELLED, f"the client was closed during {method}")


def _cache_metadata(cache: bool) -> dict:
    return {} if cache else {CACHE_METADATA_KEY: "no"}


def _deadline_ms(timeout: Optional[float]) -> int:
    """The envelope's timeout_ms: 0 for none, else rounded up and kept within uint32."""
    return 0 if timeout is None else min(max(1, math.ceil(timeout * 1000)), 2**32 - 1)


def _remaining_ms(deadline: Optional[float]) -> int:
    """nng's option value: -1 waits forever; at least 1 ms so a spent deadline still times out."""
    return -1 if deadline is None else max(1, math.ceil((deadline - time.monotonic()) * 1000))


def tensor_to_proto(name: str, array) -> pb.Tensor:
    """A numpy array (or nested sequence) as an FP32 Tensor: little-endian, row-major."""
    import numpy as np

    a = np.ascontiguousarray(array, dtype="<f4")
    return pb.Tensor(name=name, datatype=pb.FP32, shape=list(a.shape), raw_contents=a.tobytes())


def tensor_from_proto(tensor: pb.Tensor) -> "np.ndarray":
    """An FP32 Tensor as a writable float32 numpy array of its shape."""
    import numpy as np

    if tensor.datatype != pb.FP32:
        known = tensor.datatype in pb.DataType.values()
        shown = pb.DataType.Name(tensor.datatype) if known else str(tensor.datatype)
        raise ProtocolError(f"tensor {tensor.name!r} has datatype {shown}, expected FP32")
    count = math.prod(tensor.shape)
    if any(d < 0 for d in tensor.shape) or len(tensor.raw_contents) != 4 * count:
        raise ProtocolError(f"tensor {tensor.name!r} of shape {list(tensor.shape)} has "
                            f"{len(tensor.raw_contents)} bytes of contents, expected {4 * count}")
    return np.frombuffer(tensor.raw_contents, dtype="<f4").reshape(tuple(tensor.shape)).astype(np.float32)
