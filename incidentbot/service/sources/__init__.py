"""Where events come from: the Sentry API poller and Sentry webhooks (the SDK ingest is in server.py)."""
