"""The system on one machine as it runs past one: Kafka, PostgreSQL, every service replica and Prometheus
as plain processes (`make stack-up`, docs/operations.md)."""
