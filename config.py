"""Settings, read once from the environment and from `.env`.

Every tunable of the dashboard is a key of :class:`Config`. ``create_app``
builds the mapping with :func:`load_config`, applies a test dict on top, and
calls :func:`validate` before anything else runs. Nothing here touches the
network or the database.
"""

from __future__ import annotations

import base64
import os
import secrets
from pathlib import Path
from urllib.parse import urlsplit

import click
from dotenv import load_dotenv
from limits import parse as parse_rate_limit

from dashboard.urls import is_loopback_host, is_loopback_uri, parse_smtp_url, valid_address
from sandbox import (
    SANDBOX_CLIENT_KEY,
    SANDBOX_CLIENT_SECRET,
    SANDBOX_RESEARCH_CLIENT_KEY,
    SANDBOX_RESEARCH_CLIENT_SECRET,
)

__all__ = ["ConfigError", "finalize", "is_loopback_host", "is_loopback_uri", "load_config", "validate"]

DEFAULT_AUTH_URL = "https://www.tiktok.com/v2/auth/authorize/"
DEFAULT_API_BASE = "https://open.tiktokapis.com"
DEFAULT_SCOPES = "user.info.basic,user.info.profile,user.info.stats,video.list"
KNOWN_SCOPES = frozenset(DEFAULT_SCOPES.split(","))

#: Path of the sandbox's authorize page when it is mounted inside the app.
SANDBOX_PREFIX = "/sandbox"

#: Secret keys shorter than this are refused outside sandbox mode: 32 random
#: bytes is what ``secrets.token_hex(32)`` gives, and HMAC-SHA256 gains
#: nothing from more.
MIN_SECRET_KEY_LENGTH = 32

PLACEHOLDER_SECRETS = frozenset(
    {"", "change-me", "changeme", "secret", "dev", "development", "replace-me"}
)


class ConfigError(click.ClickException):
    """Start-up refused: the message names every setting to fix.

    A :class:`click.ClickException`, so ``flask run`` and every other ``flask``
    command print the message alone ("Error: ...") and exit with status 1,
    instead of a traceback that hides it."""


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_optional_bool(name: str) -> bool | None:
    """A yes/no setting whose absence means "work it out" (None)."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return None
    return raw.strip().lower() in {"1", "true", "yes", "on"}


def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        return int(raw)
    except ValueError as exc:
        raise ConfigError(f"{name} must be a whole number, not {raw!r}.") from exc


def _env_str(name: str, default: str | None = None) -> str | None:
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    return raw.strip()


def load_config() -> dict:
    """Return every setting, from the environment (and `.env`, loaded first)."""
    load_dotenv(override=False)
    return {
        # Provider
        "TIKTOK_CLIENT_KEY": _env_str("TIKTOK_CLIENT_KEY"),
        "TIKTOK_CLIENT_SECRET": _env_str("TIKTOK_CLIENT_SECRET"),
        "TIKTOK_REDIRECT_URI": _env_str("TIKTOK_REDIRECT_URI"),
        "TIKTOK_AUTH_URL": _env_str("TIKTOK_AUTH_URL"),
        "TIKTOK_API_BASE": _env_str("TIKTOK_API_BASE"),
        "TIKTOK_SCOPES": _env_str("TIKTOK_SCOPES", DEFAULT_SCOPES),
        "TIKTOK_TIMEOUT": float(_env_str("TIKTOK_TIMEOUT", "20")),
        # Secrets and storage
        "SECRET_KEY": _env_str("SECRET_KEY"),
        "TOKEN_ENCRYPTION_KEYS": _env_str("TOKEN_ENCRYPTION_KEYS"),
        "DATABASE_URL": _env_str("DATABASE_URL"),
        "AUTO_MIGRATE": _env_bool("AUTO_MIGRATE", True),
        # Sessions and abuse limits
        "SESSION_IDLE_MINUTES": _env_int("SESSION_IDLE_MINUTES", 7 * 24 * 60),
        "SESSION_ABSOLUTE_HOURS": _env_int("SESSION_ABSOLUTE_HOURS", 30 * 24),
        # Unset: derived from TIKTOK_REDIRECT_URI (Secure when it is https).
        "SESSION_COOKIE_SECURE": _env_optional_bool("SESSION_COOKIE_SECURE"),
        "AUTH_RATE_LIMIT": _env_str("AUTH_RATE_LIMIT", "30 per minute"),
        "RATELIMIT_STORAGE_URI": _env_str("RATELIMIT_STORAGE_URI"),
        "TRUSTED_PROXIES": _env_int("TRUSTED_PROXIES", 0),
        "TRUSTED_HOSTS": _env_str("TRUSTED_HOSTS"),
        # Background work
        "REDIS_URL": _env_str("REDIS_URL"),
        "QUEUE_PATH": _env_str("QUEUE_PATH"),
        "MEDIA_PATH": _env_str("MEDIA_PATH"),
        "WORKER_THREADS": _env_int("WORKER_THREADS", 2),
        "WORKER_IN_PROCESS": _env_str("WORKER_IN_PROCESS"),
        "QUEUE_IMMEDIATE": _env_bool("QUEUE_IMMEDIATE", False),
        "TIKTOK_RATE_LIMIT": _env_str("TIKTOK_RATE_LIMIT", "600 per minute"),
        "SYNC_ON_CONNECT": _env_bool("SYNC_ON_CONNECT", True),
        "STORE_PICTURES": _env_bool("STORE_PICTURES", True),
        "PRERENDER_PAGES": _env_bool("PRERENDER_PAGES", True),
        "SYNC_INTERVAL_MINUTES": _env_int("SYNC_INTERVAL_MINUTES", 360),
        "SYNC_LEASE_SECONDS": _env_int("SYNC_LEASE_SECONDS", 30),
        "SYNC_NOW_INTERVAL_SECONDS": _env_int("SYNC_NOW_INTERVAL_SECONDS", 60),
        # Dashboard
        "VIDEOS_PER_PAGE": _env_int("VIDEOS_PER_PAGE", 20),
        "DEFAULT_TIMEZONE": _env_str("DEFAULT_TIMEZONE", "UTC"),
        # TikTok Studio import: the largest file (uncompressed) and upload, in MB
        "STUDIO_MAX_FILE_MB": _env_int("STUDIO_MAX_FILE_MB", 5),
        "STUDIO_MAX_UPLOAD_MB": _env_int("STUDIO_MAX_UPLOAD_MB", 20),
        # Alerts and webhooks
        "PUBLIC_BASE_URL": _env_str("PUBLIC_BASE_URL"),
        "WEBHOOKS_ALLOW_PRIVATE_HOSTS": _env_bool("WEBHOOKS_ALLOW_PRIVATE_HOSTS", False),
        "WEBHOOK_TIMEOUT": float(_env_str("WEBHOOK_TIMEOUT", "10")),
        "TIKTOK_WEBHOOK_RATE_LIMIT": _env_str("TIKTOK_WEBHOOK_RATE_LIMIT", "120 per minute"),
        # Reports and e-mail
        "SMTP_URL": _env_str("SMTP_URL"),
        "MAIL_FROM": _env_str("MAIL_FROM"),
        # Research API explorer (a research client, not the Login Kit app)
        "RESEARCH_CLIENT_KEY": _env_str("RESEARCH_CLIENT_KEY"),
        "RESEARCH_CLIENT_SECRET": _env_str("RESEARCH_CLIENT_SECRET"),
        "RESEARCH_DAILY_REQUESTS": _env_int("RESEARCH_DAILY_REQUESTS", 1000),
        "RESEARCH_DAILY_RECORDS": _env_int("RESEARCH_DAILY_RECORDS", 100_000),
        "RESEARCH_DAILY_FOLLOW_CALLS": _env_int("RESEARCH_DAILY_FOLLOW_CALLS", 20_000),
        # Sandbox
        "SANDBOX_DB": _env_str("SANDBOX_DB"),
    }


def is_sandbox(config) -> bool:
    """Sandbox mode: no client key configured, so the built-in stand-in is TikTok."""
    return not config.get("TIKTOK_CLIENT_KEY")


def finalize(config: dict, instance_path: str) -> dict:
    """Fill the defaults that depend on the mode and the instance folder."""
    sandbox = is_sandbox(config)
    config["SANDBOX_MODE"] = sandbox
    if not config.get("DATABASE_URL"):
        config["DATABASE_URL"] = "sqlite:///" + str(Path(instance_path) / "dashboard.sqlite3")
    config["DATABASE_URL"] = normalize_database_url(config["DATABASE_URL"])
    _finalize_worker(config, instance_path)
    _finalize_web(config)
    # Whether the address was set, not guessed: invite links use it only then.
    config["PUBLIC_BASE_URL_SET"] = bool(config.get("PUBLIC_BASE_URL"))
    config["PUBLIC_BASE_URL"] = public_base_url(config)
    _finalize_research(config, sandbox)
    # The largest request body Flask reads (413 beyond): a Studio upload, plus its form.
    config.setdefault("MAX_CONTENT_LENGTH", (int(config.get("STUDIO_MAX_UPLOAD_MB") or 20) + 1) * 1024 * 1024)
    if sandbox:
        config["TIKTOK_CLIENT_KEY_EFFECTIVE"] = SANDBOX_CLIENT_KEY
        config["TIKTOK_CLIENT_SECRET"] = config.get("TIKTOK_CLIENT_SECRET") or SANDBOX_CLIENT_SECRET
        config.setdefault("SANDBOX_DB", None)
        if not config.get("SANDBOX_DB"):
            config["SANDBOX_DB"] = str(Path(instance_path) / "sandbox.sqlite3")
        if not config.get("SECRET_KEY"):
            config["SECRET_KEY"] = _instance_secret(instance_path)
    else:
        config["TIKTOK_CLIENT_KEY_EFFECTIVE"] = config["TIKTOK_CLIENT_KEY"]
        config["TIKTOK_AUTH_URL"] = config.get("TIKTOK_AUTH_URL") or DEFAULT_AUTH_URL
        config["TIKTOK_API_BASE"] = config.get("TIKTOK_API_BASE") or DEFAULT_API_BASE
    return config


#: Host names accepted without TRUSTED_HOSTS when no redirect URI names the host.
LOOPBACK_HOSTS = ("localhost", ".localhost", "127.0.0.1")


def _finalize_web(config: dict) -> None:
    """The session cookie's ``Secure`` flag and the host names the app answers to.

    The public address is the redirect URI's: an https one means the browser
    speaks https (a proxy may still forward plain http), so the cookie is
    ``Secure`` unless the setting says otherwise; and the host of every URL the
    app builds (``/auth``'s redirect, TikTok's ``redirect_uri``) must be one the
    operator named, never whatever ``Host`` header a request carries. Flask
    checks ``TRUSTED_HOSTS`` on every request (400 for any other host).
    """
    redirect = config.get("TIKTOK_REDIRECT_URI") or ""
    if config.get("SESSION_COOKIE_SECURE") is None:
        config["SESSION_COOKIE_SECURE"] = redirect.startswith("https://")
    config["SESSION_COOKIE_SECURE"] = bool(config["SESSION_COOKIE_SECURE"])
    raw = config.get("TRUSTED_HOSTS")
    if isinstance(raw, list | tuple):
        hosts = [str(h).strip() for h in raw if str(h).strip()]
    else:
        hosts = [h.strip() for h in (raw or "").split(",") if h.strip()]
    if not hosts:
        host = urlsplit(redirect).hostname if redirect else None
        hosts = [host] if host and not is_loopback_host(host) else [*([host] if host else []),
                                                                     *LOOPBACK_HOSTS]
    config["TRUSTED_HOSTS"] = None if "*" in hosts else hosts


def _finalize_worker(config: dict, instance_path: str) -> None:
    """Queue, shared counters and the in-process worker: Redis when ``REDIS_URL``
    is set, else an SQLite queue in the instance folder and in-process counters."""
    redis_url = config.get("REDIS_URL")
    if not config.get("QUEUE_PATH"):
        config["QUEUE_PATH"] = str(Path(instance_path) / "queue.sqlite3")
    if not config.get("MEDIA_PATH"):
        config["MEDIA_PATH"] = str(Path(instance_path) / "media")
    if not config.get("RATELIMIT_STORAGE_URI"):
        config["RATELIMIT_STORAGE_URI"] = redis_url or "memory://"
    raw = config.get("WORKER_IN_PROCESS")
    if raw is None or isinstance(raw, str) and raw.strip() == "":
        config["WORKER_IN_PROCESS"] = not redis_url
    elif isinstance(raw, str):
        config["WORKER_IN_PROCESS"] = raw.strip().lower() in {"1", "true", "yes", "on"}


def public_base_url(config) -> str:
    """Where people open the dashboard, for links sent away (e-mails, webhooks):
    the setting, else the host of TIKTOK_REDIRECT_URI, else flask run's address."""
    if config.get("PUBLIC_BASE_URL"):
        return config["PUBLIC_BASE_URL"].rstrip("/")
    redirect = config.get("TIKTOK_REDIRECT_URI")
    if redirect and "://" in redirect:
        scheme, rest = redirect.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"
    return "http://localhost:5000"


def _finalize_research(config: dict, sandbox: bool) -> None:
    """The research client in use: the configured one, else the sandbox's in sandbox mode."""
    key, secret = config.get("RESEARCH_CLIENT_KEY"), config.get("RESEARCH_CLIENT_SECRET")
    if sandbox and not key:
        key, secret = SANDBOX_RESEARCH_CLIENT_KEY, SANDBOX_RESEARCH_CLIENT_SECRET
    config["RESEARCH_CLIENT_KEY_EFFECTIVE"] = key
    config["RESEARCH_CLIENT_SECRET_EFFECTIVE"] = secret
    config["RESEARCH_ENABLED"] = bool(key and secret)


def normalize_database_url(url: str) -> str:
    """Accept Heroku-style ``postgres://`` and plain ``postgresql://`` URLs (psycopg 3)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def _instance_secret(instance_path: str) -> str:
    """A per-install random secret for sandbox mode, kept across restarts.

    Sandbox mode must run with no configuration at all, yet sessions and
    encrypted tokens must survive a restart and be shared by every worker:
    so the secret is generated once and stored, readable by the owner only.
    """
    path = Path(instance_path) / "sandbox-secret-key"
    try:
        value = path.read_text().strip()
        if len(value) >= MIN_SECRET_KEY_LENGTH:
            return value
    except FileNotFoundError:
        pass
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(value)
    return value


def _valid_fernet_key(key: str) -> bool:
    try:
        return len(base64.urlsafe_b64decode(key.encode())) == 32
    except (ValueError, TypeError):
        return False


def problems(config) -> list[str]:
    """Every unsafe or missing setting, as sentences that say what to set."""
    found = []
    keys = config.get("TOKEN_ENCRYPTION_KEYS")
    if keys and not all(_valid_fernet_key(k.strip()) for k in keys.split(",") if k.strip()):
        found.append(
            "TOKEN_ENCRYPTION_KEYS must be comma-separated Fernet keys "
            "(make one with: python -c \"from cryptography.fernet import Fernet; "
            "print(Fernet.generate_key().decode())\")."
        )
    scopes = [s for s in (config.get("TIKTOK_SCOPES") or "").split(",") if s]
    unknown = sorted(set(scopes) - KNOWN_SCOPES)
    if unknown or "user.info.basic" not in scopes:
        found.append(
            "TIKTOK_SCOPES must be a comma-separated list that includes user.info.basic, "
            f"chosen from {', '.join(sorted(KNOWN_SCOPES))}."
        )
    found.extend(_worker_problems(config))
    if config.get("SANDBOX_MODE"):
        found.extend(_sandbox_problems(config))
    found.extend(_mail_problems(config))
    found.extend(_research_problems(config))
    if config.get("SANDBOX_MODE") or config.get("TESTING"):
        return found
    secret = config.get("SECRET_KEY") or ""
    if secret.lower() in PLACEHOLDER_SECRETS or len(secret) < MIN_SECRET_KEY_LENGTH:
        found.append(
            f"SECRET_KEY must be set to a random value of at least {MIN_SECRET_KEY_LENGTH} "
            "characters (make one with: python -c \"import secrets; print(secrets.token_hex(32))\")."
        )
    if not config.get("TIKTOK_CLIENT_SECRET"):
        found.append(
            "TIKTOK_CLIENT_SECRET must be set to your app's client secret from TikTok for Developers."
        )
    redirect = config.get("TIKTOK_REDIRECT_URI")
    if not redirect:
        found.append(
            "TIKTOK_REDIRECT_URI must be set to the redirect URI registered in Login Kit "
            "(this app's /callback URL), so no request's Host header can choose it."
        )
    elif not (redirect.startswith("https://") or is_loopback_uri(redirect)):
        found.append(
            "TIKTOK_REDIRECT_URI must be https on a public host (web app) or "
            "http://localhost:PORT/callback or http://127.0.0.1:PORT/callback (desktop app)."
        )
    elif redirect.startswith("https://") and config.get("SESSION_COOKIE_SECURE") is False:
        found.append(
            "SESSION_COOKIE_SECURE must not be 0 when TIKTOK_REDIRECT_URI is https: leave it "
            "unset (Secure follows the redirect URI) or set it to 1."
        )
    if config.get("DEBUG") and not _debug_host_is_loopback():
        found.append(
            "Debug mode is on while the server listens beyond this machine: unset FLASK_DEBUG, "
            "or bind to 127.0.0.1."
        )
    return found


#: Hosts of TikTok itself: sandbox mode never sends its client key there.
TIKTOK_HOST_SUFFIXES = ("tiktok.com", "tiktokapis.com")


def _sandbox_problems(config) -> list[str]:
    """Sandbox mode with TikTok's own URLs would send the sandbox's client key to TikTok."""
    found = []
    for key in ("TIKTOK_AUTH_URL", "TIKTOK_API_BASE"):
        host = (urlsplit(config.get(key) or "").hostname or "").lower()
        if any(host == s or host.endswith("." + s) for s in TIKTOK_HOST_SUFFIXES):
            found.append(
                f"{key} points at TikTok while TIKTOK_CLIENT_KEY is unset (sandbox mode): leave "
                f"{key} empty for the built-in sandbox, or set TIKTOK_CLIENT_KEY for live mode."
            )
    return found


def _worker_problems(config) -> list[str]:
    found = []
    try:
        parse_rate_limit(str(config.get("TIKTOK_RATE_LIMIT", "600 per minute")))
    except ValueError:
        found.append("TIKTOK_RATE_LIMIT must be a rate such as '600 per minute'.")
    redis_url = config.get("REDIS_URL")
    if redis_url and not redis_url.startswith(("redis://", "rediss://", "unix://")):
        found.append("REDIS_URL must be a redis://, rediss:// or unix:// URL.")
    if not 1 <= int(config.get("WORKER_THREADS", 2)) <= 64:
        found.append("WORKER_THREADS must be a whole number from 1 to 64.")
    if int(config.get("SYNC_INTERVAL_MINUTES") or 0) < 0:
        found.append("SYNC_INTERVAL_MINUTES must be 0 (off) or a number of minutes.")
    try:
        parse_rate_limit(str(config.get("TIKTOK_WEBHOOK_RATE_LIMIT", "120 per minute")))
    except ValueError:
        found.append("TIKTOK_WEBHOOK_RATE_LIMIT must be a rate such as '120 per minute'.")
    if not 1 <= float(config.get("WEBHOOK_TIMEOUT", 10)) <= 60:
        found.append("WEBHOOK_TIMEOUT must be from 1 to 60 seconds.")
    base = str(config.get("PUBLIC_BASE_URL") or "")
    if base and not base.startswith(("https://", "http://")):
        found.append("PUBLIC_BASE_URL must be the dashboard's address, such as https://dash.example.com.")
    if not 1 <= int(config.get("SYNC_LEASE_SECONDS", 30)) <= 30:
        found.append("SYNC_LEASE_SECONDS must be from 1 to 30, so a killed sync frees its "
                     "account within 30 s.")
    return found


def _mail_problems(config) -> list[str]:
    found = []
    smtp_url = config.get("SMTP_URL")
    if smtp_url:
        try:
            parse_smtp_url(smtp_url)
        except ValueError as exc:
            found.append(f"SMTP_URL must look like smtp://user:password@host:587 (STARTTLS) or "
                         f"smtps://user:password@host:465 ({exc}).")
        if not valid_address(config.get("MAIL_FROM") or ""):
            found.append("MAIL_FROM must be the sender address of the e-mails, such as "
                         "reports@example.com, when SMTP_URL is set.")
    public = config.get("PUBLIC_BASE_URL")
    if public and (not public.startswith(("https://", "http://")) or "?" in public or "#" in public):
        found.append("PUBLIC_BASE_URL must be the dashboard's address as people open it, such as "
                     "https://dashboard.example.com (links in e-mails and webhooks point there).")
    return found


def _research_problems(config) -> list[str]:
    found = []
    if bool(config.get("RESEARCH_CLIENT_KEY")) != bool(config.get("RESEARCH_CLIENT_SECRET")):
        found.append("RESEARCH_CLIENT_KEY and RESEARCH_CLIENT_SECRET must be set together "
                     "(your research client's key and secret from TikTok for Developers).")
    for name in ("RESEARCH_DAILY_REQUESTS", "RESEARCH_DAILY_RECORDS", "RESEARCH_DAILY_FOLLOW_CALLS"):
        if config.get(name) is not None and int(config[name]) < 1:
            found.append(f"{name} must be a whole number of at least 1.")
    return found


def _debug_host_is_loopback() -> bool:
    """Whether the debug server binds to this machine only: the ``--host`` of
    the ``flask run`` building this app (Flask does not export it), else
    ``FLASK_RUN_HOST``."""
    context = click.get_current_context(silent=True)
    host = context.params.get("host") if context is not None and context.info_name == "run" else None
    return is_loopback_host(host or os.environ.get("FLASK_RUN_HOST", "127.0.0.1"))


def validate(config) -> None:
    """Refuse to start with unsafe settings; one error lists them all."""
    found = problems(config)
    if found:
        raise ConfigError(
            "The dashboard cannot start with these settings:\n- " + "\n- ".join(found)
            + "\nSet them in the environment or in .env (see .env.example)."
        )
