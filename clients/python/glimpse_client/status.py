"""gRPC status codes as the server sends them, and the errors the client raises."""

from __future__ import annotations

import enum


class StatusCode(enum.IntEnum):
    """gRPC's numbering (google.rpc.Code), as in Sources/GlimpseCore/Status.swift."""

    OK = 0
    CANCELLED = 1
    UNKNOWN = 2
    INVALID_ARGUMENT = 3
    DEADLINE_EXCEEDED = 4
    NOT_FOUND = 5
    ALREADY_EXISTS = 6
    PERMISSION_DENIED = 7
    RESOURCE_EXHAUSTED = 8
    FAILED_PRECONDITION = 9
    ABORTED = 10
    OUT_OF_RANGE = 11
    UNIMPLEMENTED = 12
    INTERNAL = 13
    UNAVAILABLE = 14
    DATA_LOSS = 15
    UNAUTHENTICATED = 16


def status_name(code: int) -> str:
    """"INVALID_ARGUMENT" for 3; a code outside gRPC's list keeps its number ("STATUS_42")."""
    try:
        return StatusCode(code).name
    except ValueError:
        return f"STATUS_{code}"


class GlimpseError(Exception):
    """A call that did not succeed: the server's non-OK status, or the client's own.

    The client reports its own failures with the status a gRPC client would use:
    DEADLINE_EXCEEDED when no reply came in time, UNAVAILABLE when the connection
    failed, INTERNAL (as ProtocolError) when the reply was not a valid answer.
    """

    def __init__(self, status_code: int, status_name: str, message: str):
        super().__init__(status_code, status_name, message)
        self.status_code = status_code
        self.status_name = status_name
        self.message = message

    @classmethod
    def from_code(cls, code: int, message: str) -> "GlimpseError":
        return cls(code, status_name(code), message)

    def __str__(self) -> str:
        return f"{self.status_name}: {self.message}" if self.message else self.status_name


class ProtocolError(GlimpseError):
    """The reply broke the contract: bad frame, undecodable envelope, or another request's id."""

    def __init__(self, message: str):
        super().__init__(StatusCode.INTERNAL, StatusCode.INTERNAL.name, message)
