"""RFC 6455 conformance cases for ringcast's /echo endpoint, grouped like the well-known
public WebSocket test suites. Importing the package registers every case in core.CASES."""
from . import core, wire  # noqa: F401
from . import framing, pings, reserved, opcodes, fragmentation, utf8, limits, close, handshake, deflate  # noqa: F401

GROUPS = ["framing", "pings", "reserved", "opcodes", "fragmentation", "utf8", "limits", "close", "handshake", "deflate"]
