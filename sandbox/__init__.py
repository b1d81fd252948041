"""A local, strict stand-in for TikTok's v2 API (Login Kit, Display API, Research API).

The dashboard reaches it over HTTP exactly as it reaches TikTok, through
``TIKTOK_AUTH_URL`` (``<sandbox>/v2/auth/authorize/``) and ``TIKTOK_API_BASE``
(``<sandbox>``; token, revoke, user info and video endpoints hang off
``<base>/v2/...``).  Credentials: ``SANDBOX_CLIENT_KEY`` /
``SANDBOX_CLIENT_SECRET``.

Routes::

    GET/POST /v2/auth/authorize/          consent page (Authorize / Deny)
    POST     /v2/oauth/token/             authorization_code, refresh_token
    POST     /v2/oauth/revoke/            revoke an access token (and its grant)
    GET      /v2/user/info/?fields=       user info
    POST     /v2/video/list/?fields=      paginated public videos
    POST     /v2/video/query/?fields=     videos by id (<= 20)
    POST     /v2/research/video/query/?fields=          Research API query (30-day windows,
                                                        cursor + search_id, quotas)
    POST     /v2/research/video/comment/list/?fields=   comments of a video, or replies
    POST     /v2/research/user/info/?fields=            a public account
    POST     /v2/research/user/followers/, following/   a public account's follows
    POST     /v2/research/adlib/advertiser/query/       ad library: advertisers
    POST     /v2/research/adlib/ad/query/?fields=       ad library: ads (search_id paging)
    GET      /_static/avatar/<key>.jpeg   signed, expiring JPEG avatar (``s`` = edge, <= 200)
    GET      /_static/cover/<id>.jpeg     signed, expiring JPEG cover (270x480 or 480x270)
    GET/POST /_control                    only with create_sandbox_app(control=True)

The research endpoints take a client token (``grant_type=client_credentials``
with ``SANDBOX_RESEARCH_CLIENT_KEY`` / ``SANDBOX_RESEARCH_CLIENT_SECRET``) and serve
``sandbox.research``'s deterministic data; their faults: the ``research_*``
endpoints, the ``expire_search`` kind, and the ``research_*`` settings.

``/_control`` takes a JSON object with any of: ``reset``; ``clock`` (a number,
or ``{"set": t}``, ``{"advance": s}``, ``{"freeze": true}``, ``{"reset": true}``);
``settings`` (see ``state.DEFAULT_SETTINGS``); ``lifetimes``
(``{"access": s, "refresh": s}``); ``faults`` (``{"clear": true, "fail_rate": ..,
"seed": .., "kinds": [..], "endpoints": [..], "delay": .., "queue": [{"endpoint",
"kind", "seconds", "times"}]}``); ``extra_clients`` (``{key: secret}``);
``expire_access_tokens``, ``revoke_refresh_tokens``, ``expire_refresh_tokens``,
``reset_calls``, ``reset_rate_limits``.  It answers with a state snapshot,
including ``calls`` (requests per endpoint) and ``call_log`` (per endpoint,
``{"count", "max_per_minute"}`` on the wall clock).

``state.call_times(endpoint)`` gives the wall-clock times of the requests and
``max_calls_in_window(times, window)`` the most of them inside any window, for
checking that a client keeps to a rate budget.
"""

from .data import ACCOUNTS, ANCHOR, get_account, make_account
from .server import create_sandbox_app, sandbox_state
from .state import (
    FAULT_KINDS,
    SANDBOX_CLIENT_KEY,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_RESEARCH_CLIENT_KEY,
    SANDBOX_RESEARCH_CLIENT_SECRET,
    SandboxState,
    max_calls_in_window,
)

__all__ = [
    "ACCOUNTS",
    "ANCHOR",
    "FAULT_KINDS",
    "SANDBOX_CLIENT_KEY",
    "SANDBOX_CLIENT_SECRET",
    "SANDBOX_RESEARCH_CLIENT_KEY",
    "SANDBOX_RESEARCH_CLIENT_SECRET",
    "SandboxState",
    "create_sandbox_app",
    "get_account",
    "make_account",
    "max_calls_in_window",
    "sandbox_state",
]
