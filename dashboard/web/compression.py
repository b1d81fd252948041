"""Compressed text responses (Flask-Compress: zstd, Brotli or gzip, whichever
the browser takes): HTML, CSS, JavaScript, JSON, SVG and the CSV exports.

Compression next to reflected input leaks secrets to an attacker who can
make the browser send many requests and watch the sizes (BREACH). The
secret on these pages is the CSRF token, and every copy of it is masked
with fresh random bytes (``security.masked_csrf_token``), so no two
responses carry the same bytes for it. Session ids live in cookies, which
are never compressed.
"""

from __future__ import annotations

from flask_compress import Compress

compress = Compress()

MIMETYPES = ["text/html", "text/css", "text/plain", "text/csv", "text/javascript",
             "application/javascript", "application/json", "image/svg+xml"]


def init_app(app) -> None:
    app.config.setdefault("COMPRESS_MIMETYPES", MIMETYPES)
    # Brotli 4 and gzip 6 cost ~0.3 ms on a 60 kB page: a small part of a view.
    app.config.setdefault("COMPRESS_BR_LEVEL", 4)
    app.config.setdefault("COMPRESS_LEVEL", 6)
    app.config.setdefault("COMPRESS_ALGORITHM", ["zstd", "br", "gzip"])
    # The exports stream: each chunk is compressed as it leaves, never the whole file.
    app.config.setdefault("COMPRESS_ALGORITHM_STREAMING", ["zstd", "br", "gzip"])
    # Pages are no-store and static files answer conditionally themselves; the
    # extension's own conditional pass would add a second Date header.
    app.config.setdefault("COMPRESS_EVALUATE_CONDITIONAL_REQUEST", False)
    compress.init_app(app)
