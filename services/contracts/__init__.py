"""The integration events the services exchange: a versioned envelope and one schema per event."""

from services.contracts.envelope import Envelope, EnvelopeSchema, InvalidEvent, decode, encode
from services.contracts.refusal import EventRefused
from services.contracts.registry import CONTRACTS, Contract, contract_for
from services.contracts.topics import DEAD_LETTER_TOPIC, TOPICS, topic_for

__all__ = [
    "CONTRACTS",
    "DEAD_LETTER_TOPIC",
    "TOPICS",
    "Contract",
    "Envelope",
    "EnvelopeSchema",
    "EventRefused",
    "InvalidEvent",
    "contract_for",
    "decode",
    "encode",
    "topic_for",
]
