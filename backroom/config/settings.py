"""Settings, read from the environment. Secure by default; DEBUG=1 relaxes them for a laptop."""

import os
import sys
from pathlib import Path

import dj_database_url
from django.utils.translation import gettext_lazy as _

BASE_DIR = Path(__file__).resolve().parent.parent
PROJECT_DIR = BASE_DIR.parent
VAR_DIR = Path(os.environ.get("BACKROOM_VAR_DIR", PROJECT_DIR / "var"))
VAR_DIR.mkdir(parents=True, exist_ok=True)


def env_bool(name: str, default: bool = False) -> bool:
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name: str, default: str = "") -> list[str]:
    return [part.strip() for part in os.environ.get(name, default).split(",") if part.strip()]


DEBUG = env_bool("DEBUG")
# Under pytest: immediate jobs, fast password hashing, local-memory cache.
TESTING = env_bool("BACKROOM_TESTING") or "pytest" in sys.modules

SECRET_KEY = os.environ.get("SECRET_KEY", "")
if not SECRET_KEY:
    if not (DEBUG or TESTING):
        from django.core.exceptions import ImproperlyConfigured

        raise ImproperlyConfigured("Set SECRET_KEY (or DEBUG=1 on a laptop).")
    SECRET_KEY = "insecure-development-key-do-not-use-in-production"

ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "127.0.0.1,localhost" if (DEBUG or TESTING) else "")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "huey.contrib.djhuey",
    "ninja",
    "backroom.kernel",
    "backroom.org",
    "backroom.accounts",
    "backroom.audit",
    "backroom.events",
    "backroom.webhooks",
    "backroom.approvals",  # before the documents' apps: their demo seeds need its policies
    "backroom.catalog",
    "backroom.inventory",
    "backroom.channels",
    "backroom.procurement",
    "backroom.finance",
    "backroom.planning",
    "backroom.imports",
    "backroom.dashboards",
    "backroom.web",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "backroom.kernel.middleware.RequestIdMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "backroom.accounts.middleware.ApiTokenMiddleware",
    "backroom.kernel.idempotency.IdempotencyMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
]

ROOT_URLCONF = "backroom.config.urls"
WSGI_APPLICATION = "backroom.config.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.i18n",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "backroom.web.context_processors.navigation",
            ],
        },
    }
]

# Database: embedded SQLite (WAL, IMMEDIATE transactions) unless DATABASE_URL says otherwise.
# PostgreSQL connections are kept between requests (a new one costs a few milliseconds and a
# server process), checked before reuse, and use prepared statements (decision 0011).
DATABASE_URL = os.environ.get("DATABASE_URL", f"sqlite:///{VAR_DIR / 'backroom.sqlite3'}")
_POSTGRES = DATABASE_URL.startswith(("postgres", "postgis"))
DATABASES = {
    "default": dj_database_url.parse(
        DATABASE_URL,
        conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "600" if _POSTGRES else "0")),
        conn_health_checks=True,
    )
}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        "init_command": (
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;"
        ),
    }
    DATABASES["default"]["TEST"] = {"NAME": str(VAR_DIR / "test.sqlite3")}
elif env_bool("DB_PREPARED", True):
    # Parameters bound by the server; a statement run five times on a connection is prepared:
    # parsed and planned once. Off (DB_PREPARED=0) behind a transaction-mode PgBouncer.
    DATABASES["default"]["OPTIONS"] = {"server_side_binding": True, "prepare_threshold": 5}
DATABASES["default"]["ATOMIC_REQUESTS"] = False
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

REDIS_URL = os.environ.get("REDIS_URL", "")

# Jobs: Huey on SQLite by default, Redis when REDIS_URL is set; immediate in tests.
HUEY = {
    "name": "backroom",
    "immediate": env_bool("HUEY_IMMEDIATE", TESTING),
    # An idle consumer polls SQLite at most a second apart (Huey's default backs off to 10 s):
    # a till sale is applied by the worker (decision 0012) about a second after a quiet spell.
    "consumer": {"workers": 2, "worker_type": "thread", "periodic": True, "max_delay": 1.0},
}
if REDIS_URL:
    HUEY["huey_class"] = "huey.RedisHuey"
    HUEY["url"] = REDIS_URL
else:
    HUEY["huey_class"] = "huey.SqliteHuey"
    HUEY["filename"] = str(VAR_DIR / "huey.sqlite3")

if REDIS_URL and not TESTING:
    CACHES = {
        "default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": REDIS_URL}
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTH_USER_MODEL = "accounts.User"
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is deliberately slow; tests create many users.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher", *PASSWORD_HASHERS]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 10},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
LOGIN_URL = "web:login"
LOGIN_REDIRECT_URL = "web:home"
LOGOUT_REDIRECT_URL = "web:login"
# Failed logins per username+address before a lock-out, and the window in seconds.
LOGIN_FAILURE_LIMIT = int(os.environ.get("LOGIN_FAILURE_LIMIT", "5"))
LOGIN_FAILURE_WINDOW = int(os.environ.get("LOGIN_FAILURE_WINDOW", "900"))

LANGUAGE_CODE = os.environ.get("LANGUAGE_CODE", "en")
LANGUAGES = [("en", _("English")), ("zh-hans", _("Simplified Chinese"))]
LOCALE_PATHS = [BASE_DIR / "locale"]
TIME_ZONE = os.environ.get("TIME_ZONE", "Asia/Shanghai")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = PROJECT_DIR / "staticfiles"
# Uploads (waste photos): never served publicly; views check access before streaming them.
MEDIA_ROOT = Path(os.environ.get("MEDIA_ROOT", VAR_DIR / "media"))
_NODE = PROJECT_DIR / "node_modules"
STATICFILES_DIRS = [
    ("vendor/tabler", _NODE / "@tabler/core/dist"),
    ("vendor/tabler-icons", _NODE / "@tabler/icons-webfont/dist"),
    ("vendor/htmx", _NODE / "htmx.org/dist"),
    ("vendor/echarts", _NODE / "echarts/dist"),
]

# Security: secure cookies and HSTS outside debug; Django's built-in CSP everywhere.
SESSION_COOKIE_HTTPONLY = True
SESSION_COOKIE_SECURE = not (DEBUG or TESTING) and env_bool("SECURE_COOKIES", True)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SESSION_COOKIE_SAMESITE = "Lax"
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
if not (DEBUG or TESTING):
    SECURE_HSTS_SECONDS = int(os.environ.get("SECURE_HSTS_SECONDS", "31536000"))
    SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")

from django.utils.csp import CSP  # noqa: E402

SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF, CSP.NONCE],
    "style-src": [CSP.SELF, CSP.UNSAFE_INLINE],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF, "data:"],
    "connect-src": [CSP.SELF],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}

NINJA_PAGINATION_PER_PAGE = 50
NINJA_PAGINATION_MAX_LIMIT = 500

# Approvals: the highest amount (in each request's base currency) approvable in bulk.
APPROVALS_BULK_MAX_AMOUNT = os.environ.get("APPROVALS_BULK_MAX_AMOUNT", "2000")
# Calls to the delivery platforms' APIs (sold out, back in stock) are built, signed and recorded
# but not sent: on a laptop and in the demo (DEBUG) unless set to 0, never in production.
CHANNELS_OUTBOUND_DRY_RUN = env_bool("CHANNELS_OUTBOUND_DRY_RUN", DEBUG and not TESTING)
# Till orders stored by single requests (decision 0012): the worker's task waits this long
# before applying, so the orders arriving meanwhile are applied with them, set-wise.
CHANNELS_APPLY_GATHER_SECONDS = float(
    os.environ.get("CHANNELS_APPLY_GATHER_SECONDS", "0" if TESTING else "0.05")
)

# How much lower the worker's CPU priority is than the web processes' (`nice`; 0 keeps it):
# a busy worker then does not lengthen the requests' answers (decision 0016).
WORKER_NICENESS = int(os.environ.get("WORKER_NICENESS", "10"))

# Webhook delivery: HTTP timeout in seconds.
WEBHOOK_TIMEOUT = float(os.environ.get("WEBHOOK_TIMEOUT", "10"))

# Email (approval notifications, purchase orders to suppliers), Django 6.1's MAILERS: written as
# files to var/mail/ on a laptop and in the demo (a PO's PDF would flood the console), kept in
# memory under tests, SMTP otherwise (host, port, user, password and TLS
# from EMAIL_* environment variables). BACKROOM_BASE_URL makes the links in emails absolute.
if TESTING:
    _MAILER: dict = {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}
elif DEBUG and not os.environ.get("EMAIL_HOST"):
    _MAILER = {
        "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
        "OPTIONS": {"file_path": str(VAR_DIR / "mail")},
    }
else:
    _MAILER = {
        "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
        "OPTIONS": {
            "host": os.environ.get("EMAIL_HOST", "localhost"),
            "port": int(os.environ.get("EMAIL_PORT", "25")),
            "username": os.environ.get("EMAIL_HOST_USER", ""),
            "password": os.environ.get("EMAIL_HOST_PASSWORD", ""),
            "use_tls": env_bool("EMAIL_USE_TLS"),
        },
    }
MAILERS = {"default": _MAILER}
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "Backroom <backroom@localhost>")
BACKROOM_BASE_URL = os.environ.get("BACKROOM_BASE_URL", "http://127.0.0.1:8000")
# Platform callbacks verify signatures over the URL as called: this base + the path (empty:
# the request's own Host). Set it to the public URL behind a proxy (docs/channels.md).
CHANNELS_CALLBACK_BASE_URL = os.environ.get(
    "CHANNELS_CALLBACK_BASE_URL", os.environ.get("BACKROOM_BASE_URL", "")
)

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": os.environ.get("LOG_LEVEL", "INFO")},
    "loggers": {"huey": {"level": "WARNING"}},
}
