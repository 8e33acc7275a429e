"""execrpc.status: gRPC status codes and the one exception a call raises.

The numbers are gRPC's (grpc/status.h), the same as execrpc.v1.StatusCode
in proto/execrpc/v1/frame.proto and XR_STATUS_* on the C side.
"""
import enum


class StatusCode(enum.IntEnum):
    """gRPC status codes."""
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


class RpcError(Exception):
    """A call that did not end with OK.

    `code` is a StatusCode (an int, gRPC's number; an unknown number from
    the wire stays a plain int), `name` its name ("DEADLINE_EXCEEDED"),
    `message` the human-readable reason (never key material)."""

    def __init__(self, code, message=""):
        try:
            code = StatusCode(code)
        except ValueError:
            code = int(code)
        self.code = code
        self.message = message
        super().__init__(f"{self.name}: {message}")

    @property
    def name(self):
        return self.code.name if isinstance(self.code, StatusCode) else f"CODE_{self.code}"
