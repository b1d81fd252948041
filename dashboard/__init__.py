"""The dashboard: storage, sync, analytics, charts and pages."""
