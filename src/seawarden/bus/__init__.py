"""The live bus: NATS JetStream ingest, partitioned workers, alerts stream (issue 7)."""
