"""Name every Kafka topic in one place; docs/events.md describes them for operators."""

INTAKE_TOPIC = "relief.intake.case-events"
PAIRING_TOPIC = "relief.pairing.pairing-events"
AID_TOPIC = "relief.aid.aid-events"
DEAD_LETTER_TOPIC = "relief.dead-letter"

# The topic each producing service publishes to; the key of every message is the case id.
TOPICS: dict[str, str] = {
    "intake": INTAKE_TOPIC,
    "pairing": PAIRING_TOPIC,
    "aid": AID_TOPIC,
}

# Partitions per topic when the system creates them; one case always maps to one partition.
PARTITIONS = 6


def topic_for(service: str) -> str:
    """Return the topic a service publishes its integration events to."""
    return TOPICS[service]
