"""gunicorn's settings for the dashboard, read when gunicorn starts in this folder.

    gunicorn "app:create_app()"            # 127.0.0.1:8000, 2 workers x 4 threads

Options on the command line win (``-w 4 -b 127.0.0.1:9000``). Keep the bind on
loopback behind an https proxy (nginx, Caddy); gunicorn trusts that proxy's
``X-Forwarded-Proto`` from 127.0.0.1, so https requests get HSTS and a
``Secure`` session cookie.
"""

import os

bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8000")
workers = int(os.environ.get("WEB_CONCURRENCY", "2"))
#: Threads per worker, so a slow page or export does not hold the others.
threads = int(os.environ.get("GUNICORN_THREADS", "4"))
#: gunicorn's default: no request waits on TikTok any more (syncs run in `flask worker`).
timeout = 30
#: Access log on stderr; its lines pass through the app's redaction, so the
#: login's ``/callback?code=...&state=...`` is written as ``code=[REDACTED]``.
accesslog = "-"
