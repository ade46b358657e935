"""The frame around every Glimpse message: an 8-byte header, then a protobuf envelope.

Layout (proto/glimpse/v1/glimpse.proto, Sources/GlimpseProtocol/Frame.swift):

    offset  size  field
    0       4     magic "GLMP" (47 4C 4D 50)
    4       1     version, 1
    5       1     kind: 1 request, 2 response
    6       2     flags, little-endian, 0 (receivers reject unknown flags)
    8       ...   RequestEnvelope or ResponseEnvelope, protobuf
"""

from __future__ import annotations

import enum
import struct

from google.protobuf.message import DecodeError

from ._proto.glimpse.v1 import glimpse_pb2 as pb

MAGIC = b"GLMP"
VERSION = 1
HEADER_SIZE = 8
_HEADER = struct.Struct("<4sBBH")  # magic, version, kind, flags (u16 LE)


class Kind(enum.IntEnum):
    REQUEST = 1
    RESPONSE = 2


class FrameError(ValueError):
    """Bytes that are not a Glimpse frame of the expected kind."""


def header(kind: Kind) -> bytes:
    return _HEADER.pack(MAGIC, VERSION, kind, 0)


def payload(data: bytes, expecting: Kind) -> bytes:
    """Checks the header and returns the envelope's bytes (what follows the header)."""
    if len(data) < HEADER_SIZE:
        raise FrameError(f"frame of {len(data)} bytes is shorter than the {HEADER_SIZE}-byte header")
    magic, version, kind, flags = _HEADER.unpack_from(data)
    if magic != MAGIC:
        shown = " ".join(f"{b:02X}" for b in magic)
        raise FrameError(f'frame starts with {shown}, not the magic 47 4C 4D 50 ("GLMP")')
    if version != VERSION:
        raise FrameError(f"frame version {version} is not supported (this client speaks version {VERSION})")
    if kind != expecting:
        raise FrameError(f"frame kind {kind} where {int(expecting)} ({expecting.name.lower()}) was expected")
    if flags != 0:
        raise FrameError(f"frame has unknown flags 0x{flags:x}")
    return bytes(data[HEADER_SIZE:])


def encode_request(envelope: pb.RequestEnvelope) -> bytes:
    return header(Kind.REQUEST) + envelope.SerializeToString()


def encode_response(envelope: pb.ResponseEnvelope) -> bytes:
    return header(Kind.RESPONSE) + envelope.SerializeToString()


def decode_request(data: bytes) -> pb.RequestEnvelope:
    return _parse(pb.RequestEnvelope, payload(data, Kind.REQUEST))


def decode_response(data: bytes) -> pb.ResponseEnvelope:
    return _parse(pb.ResponseEnvelope, payload(data, Kind.RESPONSE))


def _parse(cls, body: bytes):
    try:
        return cls.FromString(body)
    except DecodeError as e:
        raise FrameError(f"frame envelope is not valid protobuf: {e}") from None
