"""The Prometheus metrics every service exports on GET /metrics; labels never carry personal data."""

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

disable_created_metrics()  # no `_created` series: each is one more stored series per label set, and nothing reads it

HTTP_REQUESTS = Counter(
    "relief_http_requests_total", "HTTP requests handled", ["service", "method", "route", "status"]
)
HTTP_LATENCY = Histogram(
    "relief_http_request_seconds",
    "Time to answer an HTTP request",
    ["service", "method", "route"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5),
)
EVENTS_PUBLISHED = Counter(
    "relief_events_published_total", "Integration events published from the outbox", ["service", "topic"]
)
EVENTS_CONSUMED = Counter(
    "relief_events_consumed_total", "Integration events consumed and processed", ["service", "topic"]
)
EVENTS_DUPLICATE = Counter(
    "relief_events_duplicate_total", "Redelivered events recognised and skipped", ["service", "topic"]
)
DEAD_LETTERED = Counter(
    "relief_events_dead_lettered_total", "Messages sent to the dead-letter topic", ["service", "topic", "stage"]
)
CONSUMER_LAG = Gauge(
    "relief_consumer_lag_messages", "Messages behind the end of the partition", ["service", "topic", "partition"]
)
OUTBOX_BACKLOG = Gauge(
    "relief_outbox_backlog_events", "Stored events not yet published", ["service"]
)
PROCESSING_SECONDS = Histogram(
    "relief_event_processing_seconds",
    "Time to process one consumed event",
    ["service", "topic"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
DELIVERY_SECONDS = Histogram(
    "relief_event_delivery_seconds",
    "Time from an event occurring in its service to its processing here",
    ["service", "topic"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600),  # a backlog takes minutes
)
CONSUMER_STALLED = Gauge(
    "relief_consumer_stalled",
    "1 while a partition is stopped at a message its handler failed on (retried with backoff)",
    ["service", "topic", "partition"],
)
OUTBOX_STALLED = Gauge(
    "relief_outbox_stalled", "1 while the outbox relay is stopped at a stored event it cannot publish", ["service"]
)
RELAY_FAILURES = Counter(
    "relief_outbox_relay_failures_total", "Outbox relay attempts that failed (store, broker or mapping)",
    ["service", "reason"],
)
RELAY_LEADER = Gauge(
    "relief_outbox_relay_leader", "1 on the replica whose relay holds the service's publishing lease", ["service"]
)
BUILD_INFO = Gauge(
    "relief_build_info", "1 for the build a service runs: its version and source commit",
    ["service", "version", "commit"],
)

# The audit trail (services/audit).
TRAIL_APPENDED = Counter("relief_trail_entries_total", "Entries appended to the audit trail, per source topic",
                         ["topic"])
TRAIL_REJECTED = Counter("relief_trail_rejected_sources_total",
                         "Source messages that were not valid events, kept in the trail as SourceRejected", ["topic"])
TRAIL_APPEND_SECONDS = Histogram(
    "relief_trail_append_seconds", "Time to append one batch of entries (build, hash, commit)",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
TRAIL_STALLED = Gauge("relief_trail_stalled", "1 while the trail's sequencer is stopped at a batch it cannot append")
TRAIL_SEQUENCER = Gauge("relief_trail_sequencer", "1 on the audit replica that holds the sequencer's lease")
# The gateway (services/gateway): what it could not forward, and the logins it refused, by reason.
UPSTREAM_FAILURES = Counter("relief_gateway_upstream_failures_total",
                            "Requests the gateway could not forward because a replica of the service did not answer",
                            ["upstream"])
LOGINS = Counter("relief_gateway_logins_total", "Login attempts at the gateway, by outcome", ["outcome"])
