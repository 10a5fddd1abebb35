"""Settings for regsync, read from the environment in this one place.

The same code path runs in development and production: only where no URL is
given does it fall back to the embedded default (SQLite under var/, Kombu's
filesystem broker), so `make run` works on a machine with no servers.
"""

from pathlib import Path

import environ
from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured

from config.logging import logging_config

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = BASE_DIR / "var"

env = environ.Env()
# A local `.env` (written by `make`) holds generated development keys; in
# production the variables come from the real environment and no file exists.
if (BASE_DIR / ".env").exists():
    env.read_env(str(BASE_DIR / ".env"), overwrite=False)

DEBUG = env.bool("DEBUG", default=False)

SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    raise ImproperlyConfigured(
        "SECRET_KEY is not set. Set it in the environment (run `make .env` for a local one)."
    )

# Comma-separated Fernet keys; the first encrypts, all decrypt (key rotation).
FIELD_ENCRYPTION_KEY = env.list("FIELD_ENCRYPTION_KEY", default=[])
_KEY_HELP = (
    'Generate one with `python -c "from cryptography.fernet import Fernet; '
    'print(Fernet.generate_key().decode())"` (or run `make .env` locally).'
)
if not FIELD_ENCRYPTION_KEY:
    raise ImproperlyConfigured(
        "FIELD_ENCRYPTION_KEY is not set: Odoo API keys cannot be stored without it. " + _KEY_HELP
    )
for _n, _key in enumerate(FIELD_ENCRYPTION_KEY, start=1):
    try:
        Fernet(_key.encode())
    except ValueError:
        raise ImproperlyConfigured(
            f"FIELD_ENCRYPTION_KEY key #{_n} is not a Fernet key "
            f"(32 url-safe base64-encoded bytes). {_KEY_HELP}"
        ) from None

ALLOWED_HOSTS = env.list("ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])

# Tenants' Odoo URLs may point at loopback/private addresses only when this is
# on: tests and the demo's sandbox Odoo need it, production must not (SSRF).
ODOO_ALLOW_PRIVATE_URLS = env.bool("ODOO_ALLOW_PRIVATE_URLS", default=False)
# Production requires https for tenants' Odoo; development may use plain http.
ODOO_REQUIRE_HTTPS = env.bool("ODOO_REQUIRE_HTTPS", default=not DEBUG)

INSTALLED_APPS = [
    "odoo_sync.admin_site.RegsyncAdminConfig",  # django.contrib.admin on regsync's admin site
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "cafe",
    "registers",
    "odoo_sync",
]

MIDDLEWARE = [
    # First, so that every line logged for a request carries its id.
    "config.logging.CorrelationIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    # Static files (the admin's CSS and JS) from STATIC_ROOT, also with DEBUG off.
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "config.middleware.Utf8FormsMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "config.urls"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

WSGI_APPLICATION = "config.wsgi.application"

# --- Database -------------------------------------------------------------
VAR_DIR.mkdir(exist_ok=True)
DATABASES = {
    "default": env.db("DATABASE_URL", default=f"sqlite:///{VAR_DIR / 'regsync.sqlite3'}"),
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # Web, worker and beat share one SQLite file: WAL lets readers run beside
    # the writer, IMMEDIATE takes the write lock at BEGIN so two writers queue
    # on busy_timeout instead of failing with "database is locked" on upgrade.
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test-regsync.sqlite3")}
else:
    DATABASES["default"].setdefault("CONN_MAX_AGE", env.int("CONN_MAX_AGE", default=60))
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
# The operators' time zone: every time in the admin is shown in it, with the zone.
TIME_ZONE = env.str("TIME_ZONE", default="UTC")
FORMAT_MODULE_PATH = ["config.formats"]
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# `manage.py collectstatic` (scripts/serve release) fills it; whitenoise serves it.
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(VAR_DIR / "static")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)

# --- Security (production when DEBUG is off) --------------------------------
SESSION_COOKIE_SECURE = not DEBUG
CSRF_COOKIE_SECURE = not DEBUG
SECURE_SSL_REDIRECT = env.bool("SECURE_SSL_REDIRECT", default=not DEBUG)
SECURE_HSTS_SECONDS = env.int("SECURE_HSTS_SECONDS", default=0 if DEBUG else 31536000)
SECURE_HSTS_INCLUDE_SUBDOMAINS = not DEBUG
SECURE_HSTS_PRELOAD = False
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
CSRF_TRUSTED_ORIGINS = env.list("CSRF_TRUSTED_ORIGINS", default=[])
# HSTS preload is a one-way commitment for the whole domain (and subdomains);
# whoever owns the domain opts in to it, not the app (docs/deploy.md).
SILENCED_SYSTEM_CHECKS = ["security.W021"]

# Load balancers and systemd probe /healthz* over plain HTTP on the private side.
SECURE_REDIRECT_EXEMPT = [r"^healthz(/|$)"]

# --- Metrics ---------------------------------------------------------------------
# The bearer token Prometheus sends to GET /metrics; without it /metrics answers 404.
METRICS_TOKEN = env.str("METRICS_TOKEN", default="")

# --- Redis / Celery -----------------------------------------------------------
REDIS_URL = env.str("REDIS_URL", default="")

# Timeouts, ordered so that each layer gives up before the one that would
# otherwise act on a stale assumption (DESIGN property 7):
#   Odoo read timeout < task soft limit < task hard limit < claim expiry
#   < broker visibility timeout.
ODOO_CONNECT_TIMEOUT = env.float("ODOO_CONNECT_TIMEOUT", default=5.0)
ODOO_READ_TIMEOUT = env.float("ODOO_READ_TIMEOUT", default=20.0)
# A worker process keeps one Odoo client (HTTP session and uid) per tenant
# connection between drains (odoo_sync.sessions): at most this many, none idle
# longer than this (under the usual proxies' keep-alive timeouts, 60-75 s).
ODOO_CLIENT_POOL_SIZE = env.int("ODOO_CLIENT_POOL_SIZE", default=32)
ODOO_CLIENT_IDLE_SECONDS = env.float("ODOO_CLIENT_IDLE_SECONDS", default=50.0)
# The three below are settable for the kill matrix (bench/kill_matrix.py), which
# shortens the lease so that a killed worker's rows come back in seconds;
# production keeps the defaults.
SYNC_TASK_SOFT_TIME_LIMIT = env.int("SYNC_TASK_SOFT_TIME_LIMIT", default=240)
SYNC_TASK_TIME_LIMIT = env.int("SYNC_TASK_TIME_LIMIT", default=270)
SYNC_CLAIM_SECONDS = env.int("SYNC_CLAIM_SECONDS", default=300)
CELERY_VISIBILITY_TIMEOUT = 3600
# One row may take a write and the search_count that confirms a deletion, and
# a drain stops using a batch 5 s before its lease ends: a lease shorter than
# that would claim rows it can never push.
_ONE_ROW = 2 * (ODOO_CONNECT_TIMEOUT + ODOO_READ_TIMEOUT)
_TIMEOUTS = [
    _ONE_ROW,
    SYNC_TASK_SOFT_TIME_LIMIT,
    SYNC_TASK_TIME_LIMIT,
    SYNC_CLAIM_SECONDS,
    CELERY_VISIBILITY_TIMEOUT,
]
if _TIMEOUTS != sorted(set(_TIMEOUTS)) or SYNC_CLAIM_SECONDS <= _ONE_ROW + 5:
    raise ImproperlyConfigured(
        "Timeouts out of order: need 2 x (ODOO_CONNECT_TIMEOUT + ODOO_READ_TIMEOUT) "
        "< SYNC_TASK_SOFT_TIME_LIMIT < SYNC_TASK_TIME_LIMIT < SYNC_CLAIM_SECONDS < "
        f"{CELERY_VISIBILITY_TIMEOUT}, and SYNC_CLAIM_SECONDS > one row + 5 s; got "
        f"{_ONE_ROW:g} < {SYNC_TASK_SOFT_TIME_LIMIT} < {SYNC_TASK_TIME_LIMIT} < "
        f"{SYNC_CLAIM_SECONDS}"
    )

# Retry schedule for a failing row (minutes after failure n, a comma-separated
# list in the environment), and the failure count that dead-letters it. With 5
# attempts the 240 step is used only if an operator raises the maximum.
SYNC_BACKOFF_MINUTES = env.list("SYNC_BACKOFF_MINUTES", cast=float, default=[1, 5, 15, 60, 240])
SYNC_MAX_ATTEMPTS = 5
# A tenant whose Odoo cannot be reached at login backs off on this schedule and
# then stays on its last step; its rows keep their attempts.
SYNC_TENANT_BACKOFF_MINUTES = env.list(
    "SYNC_TENANT_BACKOFF_MINUTES", cast=float, default=[1, 5, 15, 60, 240]
)
# How many rows one drain claims at a time, and how long sync history is kept
# (the tick prunes older SyncAttempt rows).
SYNC_BATCH_SIZE = 50
# The same failure on this many rows in a row (a transient fault, or an access
# error on every row) is the tenant's, not the rows': the drain stops, gives
# the rows back uncharged and the tenant backs off as for an outage.
SYNC_SAME_FAILURE_LIMIT = 3
SYNC_ATTEMPT_RETENTION_DAYS = env.int("SYNC_ATTEMPT_RETENTION_DAYS", default=30)
SYNC_TICK_SECONDS = env.float("SYNC_TICK_SECONDS", default=60.0)
# A due row older than this is "stuck": the tick logs a WARNING for its tenant
# and the overview highlights it.
SYNC_STUCK_AFTER_MINUTES = 10
# Where the per-tenant drain lock lives: Redis when there is one, else a lease
# on the tenant row (the embedded default has no Redis).
SYNC_LOCK_BACKEND = env.str("SYNC_LOCK_BACKEND", default="redis" if REDIS_URL else "db")

# "localhost" means nothing to the filesystem transport; without it kombu warns at every start.
CELERY_BROKER_URL = REDIS_URL or "filesystem://localhost//"
if not REDIS_URL:
    # Kombu's filesystem transport, writing each message whole (config/broker.py).
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
if REDIS_URL:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
else:
    # Tests point this elsewhere so they never share a queue with `make run`.
    _broker_dir = Path(env.str("CELERY_BROKER_DIR", default=str(VAR_DIR / "broker")))
    for _sub in ("queue", "processed", "control"):
        (_broker_dir / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(_broker_dir / "queue"),
        "data_folder_out": str(_broker_dir / "queue"),
        "processed_folder": str(_broker_dir / "processed"),
        "store_processed": False,
        "control_folder": str(_broker_dir / "control"),
        # Kombu looks for new files once a second by default: an edit then waits up
        # to a second per hop (push, drain) before a worker sees it. A directory
        # listing ten times a second costs nothing worth counting.
        "polling_interval": 0.1,
    }
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TIMEZONE = TIME_ZONE
# Redelivery is safe because every task is idempotent (drains re-read due rows
# and creates are external-id upserts): ack after the task ran, so a worker
# killed mid-drain gives the message back instead of dropping it...
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
# ...and take one message at a time, so a busy worker does not sit on others'.
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SOFT_TIME_LIMIT = SYNC_TASK_SOFT_TIME_LIMIT
CELERY_TASK_TIME_LIMIT = SYNC_TASK_TIME_LIMIT
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
CELERY_BEAT_SCHEDULE = {
    "odoo-sync-tick": {
        "task": "odoo_sync.tick",
        "schedule": SYNC_TICK_SECONDS,
        # A tick that waited longer than its period is stale: the next one
        # supersedes it, so ticks never pile up while workers are down.
        "options": {"expires": SYNC_TICK_SECONDS},
    },
}
# The drift audit (odoo_sync --audit) once a day from beat; SYNC_AUDIT_DAILY=false turns it off.
SYNC_AUDIT_DAILY = env.bool("SYNC_AUDIT_DAILY", default=True)
if SYNC_AUDIT_DAILY:
    CELERY_BEAT_SCHEDULE["odoo-sync-audit"] = {
        "task": "odoo_sync.audit",
        "schedule": 24 * 3600.0,
        "options": {"expires": 3600},
    }
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")
# Unit tests may flip this on; integration tests and `make run` never do.
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=False)

# Error reports (debug page, admin e-mails) leave out locals that may hold an
# Odoo API key; see config/errors.py.
DEFAULT_EXCEPTION_REPORTER_FILTER = "config.errors.RegsyncExceptionReporterFilter"

# --- Logging -------------------------------------------------------------------
# JSON lines in production (one object per record: time, level, logger,
# correlation_id, message, and fields such as tenant and register); `plain`
# reads better in a terminal, and is the default when DEBUG is on (`make run`).
LOG_FORMAT = env.str("LOG_FORMAT", default="plain" if DEBUG else "json")
if LOG_FORMAT not in ("json", "plain"):
    raise ImproperlyConfigured(f"LOG_FORMAT must be json or plain, not {LOG_FORMAT!r}.")
LOGGING = logging_config(log_format=LOG_FORMAT, level=env.str("LOG_LEVEL", default="INFO"))

# An admin edit enqueues its tenant's drain when the transaction commits, so
# Odoo hears of it in seconds; the beat tick is the safety net.
SYNC_PUSH_ON_COMMIT = env.bool("SYNC_PUSH_ON_COMMIT", default=True)

# Mail to the operators (active superusers with an address, and ADMINS) when a
# tenant pauses or a register dead-letters: at most one per tenant per period.
# Django's EMAIL_* settings say how it is sent (EMAIL_URL, e.g. smtp://host:25).
OPERATOR_ALERTS = env.bool("OPERATOR_ALERTS", default=True)
OPERATOR_ALERT_INTERVAL_MINUTES = env.int("OPERATOR_ALERT_INTERVAL_MINUTES", default=60)
globals().update(
    {k: v for k, v in env.email_url("EMAIL_URL", default="consolemail://").items() if v}
)
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="regsync@localhost")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
ADMINS = [("Operator", address) for address in env.list("OPERATOR_EMAILS", default=[])]
# The admin's address in alert mails (optional): e.g. https://regsync.example.com
REGSYNC_BASE_URL = env.str("REGSYNC_BASE_URL", default="")

# --- Demo (`make run`) -------------------------------------------------------------
DEMO_ADMIN_PASSWORD = env.str("DEMO_ADMIN_PASSWORD", default="")
DEMO_ODOO_API_KEY = env.str("DEMO_ODOO_API_KEY", default="demo-odoo-api-key")
# The demo's sandbox Odoo: not 8069, Odoo's own port, where a real Odoo often runs.
SANDBOX_PORT = env.int("SANDBOX_PORT", default=8169)
WEB_PORT = env.int("WEB_PORT", default=8000)  # `make run`'s admin (the Procfile's runserver)
DEMO_ODOO_URL = env.str("DEMO_ODOO_URL", default=f"http://127.0.0.1:{SANDBOX_PORT}")
