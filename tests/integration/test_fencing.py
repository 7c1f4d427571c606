"""A replica whose static member id another process takes is fenced: it stops, and its process exits."""

from __future__ import annotations

import time
import uuid

import pytest

from services.transport import Fenced, Message
from services.transport.kafka import KafkaTransport

pytestmark = pytest.mark.kafka


def joined(subscription, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while subscription.assigned() is None:
        assert time.monotonic() < deadline, "never assigned"
        subscription.poll(0.2)


def test_the_older_of_two_members_with_one_instance_id_is_fenced(kafka):
    transport = KafkaTransport(kafka)
    topic, group = f"relief.test.fence-{uuid.uuid4().hex[:8]}", f"fence-{uuid.uuid4().hex[:8]}"
    transport.ensure_topics([topic])
    first = transport.subscribe(group, [topic], lambda t, p: None, instance="replica-0")
    joined(first)
    second = transport.subscribe(group, [topic], lambda t, p: None, instance="replica-0")
    try:
        joined(second)
        deadline = time.monotonic() + 20
        with pytest.raises(Fenced):
            while time.monotonic() < deadline:
                first.poll(0.2)
                first.commit([Message(topic, 0, 0, None, b"")])
    finally:
        second.close()
        first.close()
