"""Python client for the Glimpse image-classification server (nanomsg REQ/REP, protobuf frames)."""

from ._proto.glimpse.v1 import glimpse_pb2
from .client import Client, Reply
from .frame import FrameError
from .status import GlimpseError, ProtocolError, StatusCode, status_name

__all__ = ["Client", "Reply", "GlimpseError", "ProtocolError", "FrameError", "StatusCode", "status_name",
           "glimpse_pb2"]
__version__ = "0.1.0"
