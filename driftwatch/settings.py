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
    "driftwatch",
    "providers",
    "baselines",
    "drifts",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

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
    # Health probes come over plain HTTP from the orchestrator.
    SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
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
    "DEFAULT_PERMISSION_CLASSES": ["driftwatch.api.permissions.TokenScopePermission"],
    "DEFAULT_THROTTLE_CLASSES": ["driftwatch.api.throttling.TokenRateThrottle"],
    "DEFAULT_THROTTLE_RATES": {"token": API_THROTTLE_RATE},
    "DEFAULT_PAGINATION_CLASS": "driftwatch.api.pagination.PagePagination",
    "PAGE_SIZE": 20,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "EXCEPTION_HANDLER": "driftwatch.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "DEFAULT_RENDERER_CLASSES": (
        ["rest_framework.renderers.JSONRenderer"] + (["rest_framework.renderers.BrowsableAPIRenderer"] if DEBUG else [])
    ),
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "UNAUTHENTICATED_USER": "django.contrib.auth.models.AnonymousUser",
    "DATETIME_FORMAT": "%Y-%m-%dT%H:%M:%S.%fZ",
    "COERCE_DECIMAL_TO_STRING": False,
}

SPECTACULAR_SETTINGS = {
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
