"""The nameko extensions that run a service: its event store, outbox relay and event consumer.

Kafka clients live only here, behind the transport interface; nothing does I/O at import time.
"""
