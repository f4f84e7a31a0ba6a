"""DriftWatch settings: one module, read from the environment, failing loudly on a bad value.

With nothing set it runs on a SQLite file and an embedded (filesystem) Celery broker under
DRIFTWATCH_VAR_DIR; DATABASE_URL and CELERY_BROKER_URL switch to PostgreSQL and Redis.
"""

import os
import sys
from pathlib import Path
from urllib.parse import parse_qs, unquote, urlparse

from django.core.exceptions import ImproperlyConfigured

BASE_DIR = Path(__file__).resolve().parent.parent
_DEV_SECRET_KEY = "dev-only-insecure-secret-key-change-me"
# A fixed Fernet key for development only; refused when DEBUG is off.
_DEV_ENCRYPTION_KEY = "ZHJpZnR3YXRjaC1kZXYtb25seS1rZXktMzJieXRlcyE="


def _env_bool(name: str, default: bool) -> bool:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    value = raw.strip().lower()
    if value in {"1", "true", "yes", "on"}:
        return True
    if value in {"0", "false", "no", "off"}:
        return False
    raise ImproperlyConfigured(f"{name} must be a boolean (1/0, true/false, yes/no, on/off), got {raw!r}")


def _env_int(name: str, default: int, minimum: int = 0) -> int:
    raw = os.environ.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ImproperlyConfigured(f"{name} must be an integer, got {raw!r}") from None
    if value < minimum:
        raise ImproperlyConfigured(f"{name} must be >= {minimum}, got {value}")
    return value


def _env_list(name: str, default: list[str]) -> list[str]:
    raw = os.environ.get(name)
    if raw is None:
        return default
    return [item.strip() for item in raw.split(",") if item.strip()]


def _database_from_url(url: str) -> dict:
    """Translate a DATABASE_URL (postgres://, postgresql://, sqlite:///path) into a DATABASES entry."""
    parsed = urlparse(url)
    if parsed.scheme in {"postgres", "postgresql", "pgsql"}:
        if not parsed.path.strip("/"):
            raise ImproperlyConfigured(f"DATABASE_URL has no database name: {parsed.scheme}://...{parsed.path!r}")
        options = {k: v[-1] for k, v in parse_qs(parsed.query).items()}
        try:
            port = parsed.port
        except ValueError:
            raise ImproperlyConfigured("DATABASE_URL has an invalid port") from None
        return {
            "ENGINE": "django.db.backends.postgresql",
            "NAME": unquote(parsed.path.lstrip("/")),
            "USER": unquote(parsed.username or ""),
            "PASSWORD": unquote(parsed.password or ""),
            "HOST": parsed.hostname or "",
            "PORT": str(port or ""),
            "CONN_MAX_AGE": _env_int("DATABASE_CONN_MAX_AGE", 60),
            "CONN_HEALTH_CHECKS": True,
            "OPTIONS": options,
        }
    if parsed.scheme == "sqlite":
        path = url[len("sqlite:///") :] if url.startswith("sqlite:///") else ""
        if not path:
            raise ImproperlyConfigured("DATABASE_URL for SQLite must look like sqlite:///path/to/file.sqlite3")
        return _sqlite(Path(path))
    raise ImproperlyConfigured(
        f"DATABASE_URL scheme {parsed.scheme!r} is not supported (use postgresql:// or sqlite:///)"
    )


def _sqlite(path: Path) -> dict:
    # IMMEDIATE takes the write lock at BEGIN, so two writers queue on the busy timeout instead of
    # failing with "database is locked" when one upgrades a read lock mid-transaction.
    return {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": str(path),
        "OPTIONS": {
            "transaction_mode": "IMMEDIATE",
            "timeout": 20,
            "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        },
    }


DEBUG = _env_bool("DEBUG", default=True)
TESTING = "pytest" in sys.modules or _env_bool("DRIFTWATCH_TESTING", False)

VAR_DIR = Path(os.environ.get("DRIFTWATCH_VAR_DIR") or BASE_DIR / "var").resolve()
VAR_DIR.mkdir(parents=True, exist_ok=True)

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is off")
    SECRET_KEY = _DEV_SECRET_KEY
elif not DEBUG and (SECRET_KEY == _DEV_SECRET_KEY or len(SECRET_KEY) < 50):
    raise ImproperlyConfigured("SECRET_KEY must be a real secret of at least 50 characters when DEBUG is off")

DRIFTWATCH_ENCRYPTION_KEY = os.environ.get("DRIFTWATCH_ENCRYPTION_KEY", "")
if not DRIFTWATCH_ENCRYPTION_KEY:
    if not DEBUG:
        raise ImproperlyConfigured("DRIFTWATCH_ENCRYPTION_KEY must be set when DEBUG is off")
    DRIFTWATCH_ENCRYPTION_KEY = _DEV_ENCRYPTION_KEY
elif not DEBUG and DRIFTWATCH_ENCRYPTION_KEY == _DEV_ENCRYPTION_KEY:
    raise ImproperlyConfigured("DRIFTWATCH_ENCRYPTION_KEY must not be the development key when DEBUG is off")
try:
    from cryptography.fernet import Fernet

    Fernet(DRIFTWATCH_ENCRYPTION_KEY.encode())
except (ValueError, TypeError):
    raise ImproperlyConfigured(
        "DRIFTWATCH_ENCRYPTION_KEY must be a Fernet key (32 url-safe base64-encoded bytes); "
        'make one with: python -c "from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())"'
    ) from None

ALLOWED_HOSTS = _env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]", "testserver"] if DEBUG else [])
CSRF_TRUSTED_ORIGINS = _env_list("CSRF_TRUSTED_ORIGINS", [])

INSTALLED_APPS = [
    "driftwatch.admin_site.DriftWatchAdminConfig",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI's files, served by us (no CDN)
    "axes",
    "driftwatch",
    "providers",
    "baselines",
    "drifts",
    "notifications",
]

MIDDLEWARE = [
    "driftwatch.api.middleware.ApiResponseMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes requires: refuses a locked-out login before the view runs.
    "axes.middleware.AxesMiddleware",
]

AUTHENTICATION_BACKENDS = [
    # First: counts failed logins and refuses locked-out user names and addresses.
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
# Admin login guessing (django-axes): after AXES_FAILURE_LIMIT failures a user name, and separately a
# client address, is locked out for AXES_COOLOFF_TIME hours. Unlock: manage.py axes_reset (all),
# axes_reset_username <name>, axes_reset_ip <address>.
AXES_FAILURE_LIMIT = _env_int("DRIFTWATCH_LOGIN_FAILURE_LIMIT", 5, minimum=1)
AXES_COOLOFF_TIME = _env_int("DRIFTWATCH_LOGIN_LOCKOUT_MINUTES", 15, minimum=1) / 60  # hours
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_TEMPLATE = "admin/locked_out.html"
AXES_VERBOSE = False
# The client address behind DRIFTWATCH_NUM_PROXIES trusted proxies, the same one throttling uses.
AXES_CLIENT_IP_CALLABLE = "driftwatch.api.throttling.client_address"

ROOT_URLCONF = "driftwatch.urls"
WSGI_APPLICATION = "driftwatch.wsgi.application"
ASGI_APPLICATION = "driftwatch.asgi.application"

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

DATABASE_URL = os.environ.get("DATABASE_URL", "")
DATABASES = {"default": _database_from_url(DATABASE_URL) if DATABASE_URL else _sqlite(VAR_DIR / "driftwatch.sqlite3")}
if TESTING and DATABASES["default"]["ENGINE"].endswith("sqlite3"):
    # A file, not the in-memory default: concurrency tests need real locking across connections,
    # and one file per test process keeps parallel runs apart.
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / f"test-{os.getpid()}.sqlite3")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = VAR_DIR / "static"
STATIC_ROOT.mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        if DEBUG or TESTING
        else "whitenoise.storage.CompressedManifestStaticFilesStorage"
    },
}

# --- Security (production) -------------------------------------------------------------------------
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not DEBUG:
    SECURE_SSL_REDIRECT = _env_bool("SECURE_SSL_REDIRECT", True)
    # Health probes come over plain HTTP from the orchestrator, and so does Prometheus inside the network.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$", r"^metrics$"]
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = _env_int("SECURE_HSTS_SECONDS", 31536000)
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = True

# --- API ---------------------------------------------------------------------------------------------
API_THROTTLE_RATE = os.environ.get("DRIFTWATCH_API_THROTTLE_RATE", "6000/min")
if API_THROTTLE_RATE.lower() not in {"", "none", "off"}:
    try:
        _num, _period = API_THROTTLE_RATE.split("/")
        int(_num)
        assert _period[0] in "smhd"
    except (ValueError, AssertionError, IndexError):
        raise ImproperlyConfigured(
            f"DRIFTWATCH_API_THROTTLE_RATE must look like 600/min, got {API_THROTTLE_RATE!r}"
        ) from None
else:
    API_THROTTLE_RATE = None

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "driftwatch.api.auth.BearerTokenAuthentication",
        "driftwatch.api.auth.StaffSessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["driftwatch.api.permissions.ApiAccessPermission"],
    "DEFAULT_THROTTLE_CLASSES": ["driftwatch.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_THROTTLE_RATE},
    "DEFAULT_PAGINATION_CLASS": "driftwatch.api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "driftwatch.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    # orjson, byte-for-byte what DRF's JSONRenderer writes; the browsable API for staff when DEBUG is on.
    "DEFAULT_RENDERER_CLASSES": ["driftwatch.api.renderers.OrjsonRenderer"]
    + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else []),
    "DEFAULT_PARSER_CLASSES": ["driftwatch.api.parsers.JSONParser"],
    # Throttling keys anonymous clients on the address behind this many trusted proxies (0: the socket's
    # peer; X-Forwarded-For is then ignored, so a client cannot rotate it to escape the limit).
    "NUM_PROXIES": _env_int("DRIFTWATCH_NUM_PROXIES", 0),
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "COERCE_DECIMAL_TO_STRING": False,
}

# Request bodies the JSON API accepts: larger is a 413, deeper nesting a 400.
DRIFTWATCH_API_MAX_BODY_BYTES = _env_int("DRIFTWATCH_API_MAX_BODY_BYTES", 1_048_576, minimum=1024)
DRIFTWATCH_API_MAX_JSON_DEPTH = _env_int("DRIFTWATCH_API_MAX_JSON_DEPTH", 32, minimum=4)

SPECTACULAR_SETTINGS = {
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "TITLE": "DriftWatch API",
    "DESCRIPTION": "Configuration drift detection for cloud accounts.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # One component name per choice set, so the schema generates without warnings (check --deploy).
    "ENUM_NAME_OVERRIDES": {
        "DriftStatusEnum": "drifts.models.DriftStatus",
        "JobStatusEnum": "drifts.models.JobStatus",
        "SeverityEnum": "drifts.models.Severity",
        "DriftTypeEnum": "drifts.models.DriftType",
        "ProviderKindEnum": "providers.models.ProviderKind",
        "StateSourceKindEnum": "baselines.models.StateSourceKind",
        "StateReadStatusEnum": "baselines.models.StateReadStatus",
    },
    "APPEND_COMPONENTS": {
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer", "bearerFormat": "dw_..."}}
    },
    "SECURITY": [{"bearerAuth": []}],
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "driftwatch.api.schema.allow_empty_query_values",
    ],
}

# --- Caches (throttling) -----------------------------------------------------------------------------
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
REDIS_CACHE_URL = os.environ.get("CACHE_URL", "")
if REDIS_CACHE_URL:
    CACHES["default"] = {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_CACHE_URL}

# --- Celery ------------------------------------------------------------------------------------------
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "")
BROKER_DIR = VAR_DIR / "broker"
if not CELERY_BROKER_URL:
    CELERY_BROKER_URL = "filesystem://"
    for _sub in ("out", "processed", "control"):
        (BROKER_DIR / _sub).mkdir(parents=True, exist_ok=True)
    CELERY_BROKER_TRANSPORT_OPTIONS = {
        "data_folder_in": str(BROKER_DIR / "out"),
        "data_folder_out": str(BROKER_DIR / "out"),
        "processed_folder": str(BROKER_DIR / "processed"),
        # Without this kombu writes its broadcast (pidbox) exchange files into the working directory.
        "control_folder": str(BROKER_DIR / "control"),
        "store_processed": False,
        # A worker looks for new messages this often (kombu's default is 1 s: one scan unit per second
        # per process, which made the demo's scans wait on the broker rather than on the work).
        "polling_interval": 0.2,
    }
elif urlparse(CELERY_BROKER_URL).scheme not in {"redis", "rediss", "amqp", "memory", "filesystem"}:
    raise ImproperlyConfigured(f"CELERY_BROKER_URL scheme is not supported: {CELERY_BROKER_URL.split(':')[0]!r}")
else:
    CELERY_BROKER_TRANSPORT_OPTIONS = {"visibility_timeout": 3600}
CELERY_TASK_ALWAYS_EAGER = _env_bool("CELERY_TASK_ALWAYS_EAGER", False)
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_BACKEND = None
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Sending a task while the broker is down fails in about a second instead of blocking a request: the
# job supervisor sends what could not be sent once the broker is back.
CELERY_TASK_PUBLISH_RETRY_POLICY = {"max_retries": 2, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.5}
CELERY_BEAT_SCHEDULE_FILENAME = str(VAR_DIR / "celerybeat-schedule")

# --- DriftWatch --------------------------------------------------------------------------------------
# The outbound-URL guard (driftwatch/outbound.py): every URL DriftWatch calls passes it. Production
# allows https to public addresses only; development and the tests add plain http and loopback (moto,
# local receivers). Link-local and metadata addresses are refused whatever these say.
_LOOPBACK = ["127.0.0.1", "localhost", "::1"]
DRIFTWATCH_OUTBOUND_ALLOW_HTTP = _env_bool("DRIFTWATCH_OUTBOUND_ALLOW_HTTP", DEBUG or TESTING)
DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS = _env_list(
    "DRIFTWATCH_OUTBOUND_PRIVATE_HOSTS", _LOOPBACK if DEBUG or TESTING else []
)
# Hosts a provider's endpoint_url may name, on top of the guard: host names, or suffixes starting with ".".
DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS = _env_list(
    "DRIFTWATCH_ALLOWED_ENDPOINT_HOSTS",
    [".amazonaws.com", ".amazonaws.com.cn", ".api.aws"] + (_LOOPBACK if DEBUG or TESTING else []),
)
DRIFTWATCH_SCAN_BATCH_SIZE = _env_int("DRIFTWATCH_SCAN_BATCH_SIZE", 500, minimum=1)
# Terraform state: the largest state file read, fetched or uploaded (bytes; 50 MiB by default).
DRIFTWATCH_TF_STATE_MAX_BYTES = _env_int("DRIFTWATCH_TF_STATE_MAX_BYTES", 50 * 1024 * 1024, minimum=1024)
DRIFTWATCH_JOB_TIMEOUT_MINUTES = _env_int("DRIFTWATCH_JOB_TIMEOUT_MINUTES", 120, minimum=1)
DRIFTWATCH_UNIT_TIME_LIMIT = _env_int("DRIFTWATCH_UNIT_TIME_LIMIT", 1800, minimum=10)
# A running unit renews its lease every quarter of this; one not renewed for this long lost its worker
# and is queued again by the supervisor.
DRIFTWATCH_UNIT_LEASE_SECONDS = _env_int("DRIFTWATCH_UNIT_LEASE_SECONDS", 60, minimum=4)
# A queued unit not started this long after its message was sent, while the broker's queue is empty,
# lost its message (the broker restarted empty, or was down when the job started): it is sent again.
DRIFTWATCH_UNIT_QUEUE_TIMEOUT_SECONDS = _env_int("DRIFTWATCH_UNIT_QUEUE_TIMEOUT_SECONDS", 60, minimum=1)
# How many times a unit may be started (retries included) before a lost lease fails it instead of re-sending.
DRIFTWATCH_UNIT_MAX_ATTEMPTS = _env_int("DRIFTWATCH_UNIT_MAX_ATTEMPTS", 8, minimum=1)
# Seconds between retries of a unit after a transient failure (throttling, lost connections to AWS or
# to the database); their sum should outlast a database failover.
DRIFTWATCH_UNIT_RETRY_DELAYS = _env_list("DRIFTWATCH_UNIT_RETRY_DELAYS", ["5", "15", "30", "60", "120"])
if not all(d.isdigit() for d in DRIFTWATCH_UNIT_RETRY_DELAYS):
    raise ImproperlyConfigured("DRIFTWATCH_UNIT_RETRY_DELAYS must be comma-separated whole seconds, e.g. 5,15,30")
DRIFTWATCH_UNIT_RETRY_DELAYS = [int(d) for d in DRIFTWATCH_UNIT_RETRY_DELAYS]
# How often beat runs the job supervisor (re-queues lost units, finalizes finished jobs).
DRIFTWATCH_SUPERVISE_SECONDS = _env_int("DRIFTWATCH_SUPERVISE_SECONDS", 15, minimum=1)
# botocore's attempts per AWS call in a scan (standard retry mode: throttling and connection errors).
DRIFTWATCH_AWS_MAX_ATTEMPTS = _env_int("DRIFTWATCH_AWS_MAX_ATTEMPTS", 10, minimum=1)

# --- Metrics (GET /metrics, Prometheus text format) ----------------------------------------------------
# Off unless one of these is set; with both, a scrape needs the token and an allowed address.
DRIFTWATCH_METRICS_TOKEN = os.environ.get("DRIFTWATCH_METRICS_TOKEN", "")
if DRIFTWATCH_METRICS_TOKEN and len(DRIFTWATCH_METRICS_TOKEN) < 20:
    raise ImproperlyConfigured("DRIFTWATCH_METRICS_TOKEN must be at least 20 characters (a random secret)")
DRIFTWATCH_METRICS_ALLOWED_IPS = _env_list("DRIFTWATCH_METRICS_ALLOWED_IPS", [])
try:
    import ipaddress

    DRIFTWATCH_METRICS_ALLOWED_NETWORKS = [
        ipaddress.ip_network(item, strict=False) for item in DRIFTWATCH_METRICS_ALLOWED_IPS
    ]
except ValueError as exc:
    raise ImproperlyConfigured(f"DRIFTWATCH_METRICS_ALLOWED_IPS must be addresses or networks: {exc}") from None
# --- Attribution (who made each change, from CloudTrail) -----------------------------------------------
# Look up who made each new drift's change after its unit is recorded (its own task; never the scan's).
DRIFTWATCH_ATTRIBUTION_ENABLED = _env_bool("DRIFTWATCH_ATTRIBUTION_ENABLED", True)
# Seconds after detection at which a look-up that found nothing tries again: CloudTrail delivers events
# 5 to 15 minutes after the call. Past the last one the drift is "not_found".
DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS = _env_list("DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS", ["300", "900", "3600"])
if not all(d.isdigit() for d in DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS):
    raise ImproperlyConfigured("DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS must be comma-separated whole seconds")
DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS = sorted(int(d) for d in DRIFTWATCH_ATTRIBUTION_RETRY_DELAYS)
# Clock margin on each side of the window (previous successful scan .. detection) searched for the event.
DRIFTWATCH_ATTRIBUTION_SKEW_SECONDS = _env_int("DRIFTWATCH_ATTRIBUTION_SKEW_SECONDS", 30)
# CloudTrail LookupEvents allows 2 requests per second per account and region; every worker shares this.
DRIFTWATCH_CLOUDTRAIL_LOOKUP_RATE = _env_int("DRIFTWATCH_CLOUDTRAIL_LOOKUP_RATE", 2, minimum=1)
# Pages of 50 events read per look-up window (newest first); a busier window is searched only this far.
DRIFTWATCH_ATTRIBUTION_MAX_PAGES = _env_int("DRIFTWATCH_ATTRIBUTION_MAX_PAGES", 20, minimum=1)
# Quick retries of a throttled LookupEvents call (each waits its turn under the shared rate limit).
DRIFTWATCH_ATTRIBUTION_THROTTLE_RETRIES = _env_int("DRIFTWATCH_ATTRIBUTION_THROTTLE_RETRIES", 4)
# Where the shared rate limit lives: the Redis broker (or cache) when there is one; empty means per process.
DRIFTWATCH_REDIS_URL = os.environ.get("DRIFTWATCH_REDIS_URL") or next(
    (url for url in (CELERY_BROKER_URL, REDIS_CACHE_URL) if urlparse(url).scheme in {"redis", "rediss"}), ""
)
# --- Notifications (webhooks, Slack, email) -----------------------------------------------------------
# The address people reach DriftWatch at: links in notifications point here.
DRIFTWATCH_BASE_URL = os.environ.get("DRIFTWATCH_BASE_URL", "http://127.0.0.1:8000")
if urlparse(DRIFTWATCH_BASE_URL).scheme not in {"http", "https"} or not urlparse(DRIFTWATCH_BASE_URL).netloc:
    raise ImproperlyConfigured(f"DRIFTWATCH_BASE_URL must be an http(s) URL, got {DRIFTWATCH_BASE_URL!r}")
# Seconds between attempts of a failing delivery (timeouts, connection errors, 429, 5xx); past the last, it fails.
DRIFTWATCH_NOTIFY_RETRY_DELAYS = _env_list(
    "DRIFTWATCH_NOTIFY_RETRY_DELAYS", ["10", "60", "600", "3600", "21600", "86400"]
)
if not DRIFTWATCH_NOTIFY_RETRY_DELAYS or not all(d.isdigit() for d in DRIFTWATCH_NOTIFY_RETRY_DELAYS):
    raise ImproperlyConfigured("DRIFTWATCH_NOTIFY_RETRY_DELAYS must be comma-separated whole seconds, e.g. 10,60,600")
DRIFTWATCH_NOTIFY_RETRY_DELAYS = [int(d) for d in DRIFTWATCH_NOTIFY_RETRY_DELAYS]
# Random extra wait added to each retry delay, up to this percentage of it (receivers recovering are not stampeded).
DRIFTWATCH_NOTIFY_RETRY_JITTER_PERCENT = _env_int("DRIFTWATCH_NOTIFY_RETRY_JITTER_PERCENT", 10)
# Failed attempts in a row after which a subscription is paused (its pending deliveries wait for it).
DRIFTWATCH_NOTIFY_PAUSE_AFTER_FAILURES = _env_int("DRIFTWATCH_NOTIFY_PAUSE_AFTER_FAILURES", 10, minimum=1)
DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS = _env_int("DRIFTWATCH_NOTIFY_TIMEOUT_SECONDS", 10, minimum=1)
# How long a rotated-out webhook secret keeps signing alongside the new one (both signatures are sent).
DRIFTWATCH_NOTIFY_ROTATION_GRACE_HOURS = _env_int("DRIFTWATCH_NOTIFY_ROTATION_GRACE_HOURS", 24)
# How often beat dispatches outbox events nobody nudged for, and sends deliveries that are due (retries).
DRIFTWATCH_NOTIFY_SWEEP_SECONDS = _env_int("DRIFTWATCH_NOTIFY_SWEEP_SECONDS", 5, minimum=1)
# Email goes through Django's email framework: the console backend unless SMTP is configured.
EMAIL_BACKEND = os.environ.get("EMAIL_BACKEND", "django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = os.environ.get("EMAIL_HOST", "localhost")
EMAIL_PORT = _env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = os.environ.get("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = os.environ.get("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = _env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = _env_bool("EMAIL_USE_SSL", False)
if EMAIL_USE_TLS and EMAIL_USE_SSL:
    raise ImproperlyConfigured("EMAIL_USE_TLS and EMAIL_USE_SSL are mutually exclusive")
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "driftwatch@localhost")

# --- Logging -----------------------------------------------------------------------------------------
LOG_FORMAT = os.environ.get("DRIFTWATCH_LOG_FORMAT", "text")
if LOG_FORMAT not in {"text", "json"}:
    raise ImproperlyConfigured(f"DRIFTWATCH_LOG_FORMAT must be 'text' or 'json', got {LOG_FORMAT!r}")
LOG_LEVEL = os.environ.get("DRIFTWATCH_LOG_LEVEL", "INFO").upper()
if LOG_LEVEL not in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}:
    raise ImproperlyConfigured(f"DRIFTWATCH_LOG_LEVEL must be a log level name, got {LOG_LEVEL!r}")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "text": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "driftwatch.logging.JsonFormatter"},
    },
    "filters": {"redact": {"()": "driftwatch.logging.RedactSecretsFilter"}},
    "handlers": {
        "console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT, "filters": ["redact"]},
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        # botocore at DEBUG prints request headers (signatures); keep it quiet whatever the level.
        "botocore": {"level": "WARNING"},
        "boto3": {"level": "WARNING"},
        "urllib3": {"level": "WARNING"},
    },
}
