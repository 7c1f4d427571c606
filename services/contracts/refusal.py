"""The one way a consumer turns an event away on purpose."""


class EventRefused(Exception):
    """A consumer refuses this event by rule (e.g. "case unknown"): it is parked in the dead-letter topic
    with the reason, and the consumer moves on. Any other exception stalls the partition instead."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason
