"""The append-only log: one small interface, an embedded SQL implementation and a Kafka one.

Nothing here knows about xAPI; an event is a typed, keyed JSON payload.
"""

from events.envelope import UNDECODABLE, Event, Record, decode, encode, utc_iso
from events.log import EventTooLarge, Log, LogMisconfigured, LogUnavailable, Position

__all__ = ["UNDECODABLE", "Event", "EventTooLarge", "Record", "Log", "LogMisconfigured", "LogUnavailable", "Position", "encode", "decode", "utc_iso"]
