"""The wire contract: message classes, the envelope, the codec, the registry.

Import from here (`from schemas import Envelope, encode, decode`); the
submodules are the implementation layout.
"""

from schemas.base import Command, Event, Message, parse_type
from schemas.codec import DecodeError, decode, decode_data, encode
from schemas.envelope import PLATFORM_TENANT, Envelope
from schemas.ids import TESSERA_NAMESPACE, derived_id, event_id
from schemas.registry import UnknownMessageType, all_types, lookup, register_upcaster
from schemas.system import DeadLettered

__all__ = [
    "PLATFORM_TENANT",
    "TESSERA_NAMESPACE",
    "Command",
    "DeadLettered",
    "DecodeError",
    "Envelope",
    "Event",
    "Message",
    "UnknownMessageType",
    "all_types",
    "decode",
    "decode_data",
    "derived_id",
    "encode",
    "event_id",
    "lookup",
    "parse_type",
    "register_upcaster",
]
