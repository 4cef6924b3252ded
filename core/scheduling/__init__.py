"""Scheduled jobs: the registry (jobs named `domain.action`), the once-only runner and APScheduler triggers."""
