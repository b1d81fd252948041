"""The account's pages: overview, videos, a video, analytics, syncing, pictures."""

from .routes import bp

__all__ = ["bp"]
