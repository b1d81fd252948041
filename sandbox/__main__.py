"""Serve the sandbox on its own: ``python -m sandbox --port 5001 [--db PATH] [--control]``."""

from __future__ import annotations

import argparse

from werkzeug.serving import run_simple

from . import SANDBOX_CLIENT_KEY, SANDBOX_CLIENT_SECRET, SandboxState, create_sandbox_app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m sandbox", description="Local TikTok v2 API sandbox.")
    parser.add_argument("--host", default="127.0.0.1", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=5001, help="port (default 5001)")
    parser.add_argument(
        "--db", default=None, help="SQLite file shared with other processes (default: in memory)"
    )
    parser.add_argument(
        "--control", action="store_true", help="expose POST /_control (clock, faults, settings)"
    )
    args = parser.parse_args(argv)

    app = create_sandbox_app(SandboxState(args.db), control=args.control)
    base = f"http://{args.host}:{args.port}"
    print(f"TikTok sandbox on {base}")
    print(f"  TIKTOK_AUTH_URL={base}/v2/auth/authorize/")
    print(f"  TIKTOK_API_BASE={base}")
    print(f"  TIKTOK_CLIENT_KEY={SANDBOX_CLIENT_KEY}  TIKTOK_CLIENT_SECRET={SANDBOX_CLIENT_SECRET}")
    run_simple(args.host, args.port, app, threaded=True, use_reloader=False, use_debugger=False)


if __name__ == "__main__":
    main()
