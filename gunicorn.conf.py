"""gunicorn's settings for the dashboard, read when gunicorn starts in this folder.

    gunicorn "app:create_app()"            # 127.0.0.1:8000, 2 workers x 4 threads

Options on the command line win (``-w 4 -b 127.0.0.1:9000``). Keep the bind on
loopback behind an https proxy (nginx, Caddy); gunicorn trusts that proxy's
``X-Forwarded-Proto`` from 127.0.0.1, so https requests get HSTS and a
``Secure`` session cookie.
"""

import os
import sys

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
#: Threads per worker, so a slow page or export does not hold the others.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
#: gunicorn's default: no request waits on TikTok any more (syncs run in `flask worker`).
timeout = 30
#: Access log on stderr; its lines pass through the app's redaction, so the
#: login's ``/callback?code=...&state=...`` is written as ``code=[REDACTED]``.
accesslog = "-"


def on_starting(server):
    """Check the settings once, in the master, before any worker boots: refused
    settings print their message alone (a worker would bury it in a traceback)."""
    from app import check_settings  # why: gunicorn reads this file before it imports the app
    from config import ConfigError  # why: as above

    try:
        check_settings()
    except ConfigError as refused:
        print(refused.format_message(), file=sys.stderr)
        sys.exit(1)
