"""The service that runs the triage core unattended: the ingest endpoints and their spool (server,
ingest_buffer), the queue of events (event_queue), the workers and their supervisor (worker, daemon), the Sentry
poller and sources, and delivery to Slack and GitHub with its deadline and retries (deliver, deadline)."""
