"""Name every Kafka topic in one place; docs/events.md describes them for operators.

A producing service's topic is declared with the service in services/catalog.py; this module adds the
topics no service owns.
"""

from services.catalog import topics

DEAD_LETTER_TOPIC = "relief.dead-letter"

# The topic each producing service publishes to; the key of every message is the case id.
TOPICS: dict[str, str] = topics()
INTAKE_TOPIC = TOPICS["intake"]

# Partitions per topic when the system creates them; one case always maps to one partition.
PARTITIONS = 6


def topic_for(service: str) -> str:
    """Return the topic a service publishes its integration events to."""
    return TOPICS[service]
