"""The one settings module. Every value comes from the environment with a safe default.

Nobody needs a .env file: with nothing set, LedgerBridge runs on SQLite under
LEDGERBRIDGE_HOME (default ./var) with the database task worker.
"""

import os
import secrets
import sys
from pathlib import Path

import dj_database_url


def envbool(name: str, default: bool) -> bool:
    value = os.environ.get(name)
    if value is None or value == "":
        return default
    if value.lower() in {"1", "true", "yes", "on"}:
        return True
    if value.lower() in {"0", "false", "no", "off"}:
        return False
    raise ValueError(f"{name}={value!r} is not a boolean (use true or false)")


def envint(name: str, default: int) -> int:
    value = os.environ.get(name)
    return default if value in (None, "") else int(value)


def envlist(name: str, default: list[str]) -> list[str]:
    value = os.environ.get(name)
    if value in (None, ""):
        return default
    return [item.strip() for item in value.split(",") if item.strip()]


def envsecret(name: str, default: str = "") -> str:
    """A secret from NAME, or from the file named by NAME_FILE (Docker/systemd credentials)."""
    if value := os.environ.get(name):
        return value
    if path := os.environ.get(f"{name}_FILE"):
        return Path(path).read_text().strip()
    return default


def secret_file(path: Path, make: str) -> str:
    """Read a generated secret, creating it once with mode 0600 so restarts keep sessions valid."""
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(make)
    return path.read_text().strip()


BASE_DIR = Path(__file__).resolve().parent
HOME = Path(os.environ.get("LEDGERBRIDGE_HOME") or Path.cwd() / "var").resolve()
HOME.mkdir(parents=True, exist_ok=True)

TESTING = "pytest" in sys.modules or envbool("LEDGERBRIDGE_TESTING", False)

DEBUG = envbool("DEBUG", False)
SECRET_KEY = envsecret("SECRET_KEY") or secret_file(HOME / "secret_key", secrets.token_urlsafe(50))
# Fernet keys for encrypted columns, newest first; see core/crypto.py.
SECRET_KEYS = envlist("LEDGERBRIDGE_SECRET_KEYS", [])
SECRET_KEYS_FILE = HOME / "fernet_keys"
ALLOWED_HOSTS = envlist("ALLOWED_HOSTS", ["127.0.0.1", "localhost"])
CSRF_TRUSTED_ORIGINS = envlist("CSRF_TRUSTED_ORIGINS", [])
SITE_ROOT = os.environ.get("SITE_ROOT", "http://127.0.0.1:8000")
SITE_NAME = os.environ.get("SITE_NAME", "LedgerBridge")

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django_htmx",
    # Before allauth so our templates (allauth/layouts/base.html) override its plain ones.
    "ledgerbridge.web",
    "allauth",
    "allauth.account",
    "allauth.mfa",
    "allauth.usersessions",
    "allauth.headless",
    "django_tasks_db",
    # Serves the API docs page's assets from the package instead of a CDN.
    "ninja",
    "ledgerbridge.core",
    "ledgerbridge.accounts",
    "ledgerbridge.companies",
    "ledgerbridge.sync",
    "ledgerbridge.apilog",
    "ledgerbridge.api",
]
if TESTING:
    # Test-only models (encrypted fields); pytest's `pythonpath` puts the repo root on sys.path.
    INSTALLED_APPS.append("tests.testapp")

MIDDLEWARE = [
    "ledgerbridge.core.logs.RequestIdMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
    "allauth.account.middleware.AccountMiddleware",
    "allauth.usersessions.middleware.UserSessionsMiddleware",
    "ledgerbridge.accounts.middleware.SessionTimeoutMiddleware",
    "ledgerbridge.accounts.access.MembershipMiddleware",
    "ledgerbridge.accounts.middleware.TwoFactorEnrolmentMiddleware",
    "ledgerbridge.accounts.access.NotSignedInMiddleware",
]

ROOT_URLCONF = "ledgerbridge.urls"
WSGI_APPLICATION = "ledgerbridge.wsgi.application"
ASGI_APPLICATION = "ledgerbridge.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "ledgerbridge.web.context.site",
            ],
        },
    },
]

# Database: SQLite (WAL, IMMEDIATE transactions, busy timeout) unless DATABASE_URL says otherwise.
SQLITE_PATH = HOME / "ledgerbridge.sqlite3"
DATABASE_URL = os.environ.get("DATABASE_URL", "")
if DATABASE_URL:
    DATABASES = {
        "default": dj_database_url.parse(
            DATABASE_URL, conn_max_age=envint("DB_CONN_MAX_AGE", 0), conn_health_checks=True
        )
    }
    DATABASES["default"]["TEST"] = {"NAME": os.environ.get("DATABASE_TEST_NAME") or None}
else:
    DATABASES = {
        "default": {
            "ENGINE": "django.db.backends.sqlite3",
            "NAME": str(SQLITE_PATH),
            "OPTIONS": {
                "transaction_mode": "IMMEDIATE",
                "timeout": 20,
                "init_command": (
                    "PRAGMA journal_mode=WAL;"
                    "PRAGMA synchronous=NORMAL;"
                    "PRAGMA busy_timeout=20000;"
                    "PRAGMA foreign_keys=ON;"
                ),
            },
            # Multi-process tests need a real file, not the in-memory default.
            "TEST": {"NAME": str(HOME / "test.sqlite3")},
        }
    }
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
]
if TESTING:
    # Argon2 is slow on purpose; tests hash thousands of passwords.
    PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {
        "NAME": "django.contrib.auth.password_validation.MinimumLengthValidator",
        "OPTIONS": {"min_length": 12},
    },
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    # Long passphrases are welcome (128 characters and more); the cap only bounds hashing work.
    {
        "NAME": "ledgerbridge.accounts.password_validation.MaximumLengthValidator",
        "OPTIONS": {"max_length": 1024},
    },
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "web:dashboard"
ACCOUNT_LOGIN_METHODS = {"email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "password1*", "password2*"]
ACCOUNT_USER_MODEL_USERNAME_FIELD = None
ACCOUNT_EMAIL_VERIFICATION = "none"
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_PREVENT_ENUMERATION = True
# A reset for an unknown address looks the same and sends nothing (no enumeration, no spam).
ACCOUNT_EMAIL_UNKNOWN_ACCOUNTS = False
# A reset never signs in: the new password is followed by the second factor like any login.
ACCOUNT_LOGIN_ON_PASSWORD_RESET = False
# Reset links follow core.clock and die with the password or the user's security stamp (48 h).
ACCOUNT_PASSWORD_RESET_TOKEN_GENERATOR = (
    "ledgerbridge.accounts.password_validation.PasswordResetTokenGenerator"  # noqa: S105 - a path
)
# Failed passwords and failed second-factor codes, per IP and per email (or user), share one
# budget: 10 in 15 minutes, then a cool-off until the oldest failure is 15 minutes old.
ACCOUNT_RATE_LIMITS = {"login_failed": "10/15m/ip,10/15m/key"}
# Behind a reverse proxy the client IP is in X-Forwarded-For; without this every visitor would
# share the proxy's address and one per-IP budget.
ALLAUTH_TRUSTED_PROXY_COUNT = envint("TRUSTED_PROXY_COUNT", 0)
# Mail the user when their password or second factor changes.
ACCOUNT_EMAIL_NOTIFICATIONS = True
ACCOUNT_EMAIL_SUBJECT_PREFIX = f"{SITE_NAME}: "
ACCOUNT_ADAPTER = "ledgerbridge.accounts.adapter.AccountAdapter"
SIGNUP_MODE = os.environ.get("LEDGERBRIDGE_SIGNUP", "open")
if SIGNUP_MODE not in {"open", "closed"}:
    raise ValueError(f"LEDGERBRIDGE_SIGNUP={SIGNUP_MODE!r}: use open or closed")
SIGNUP_OPEN = SIGNUP_MODE == "open"
MFA_SUPPORTED_TYPES = ["totp", "recovery_codes", "webauthn"]
MFA_TOTP_TOLERANCE = 1
MFA_TOTP_ISSUER = SITE_NAME
MFA_PASSKEY_LOGIN_ENABLED = False
# Browsers only allow security keys on https, except for http://localhost-style development.
MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN = envbool("MFA_WEBAUTHN_ALLOW_INSECURE_ORIGIN", DEBUG)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = HOME / "static"
(HOME / "static").mkdir(exist_ok=True)
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "django.contrib.staticfiles.storage.StaticFilesStorage"
            if TESTING
            else "whitenoise.storage.CompressedManifestStaticFilesStorage"
        )
    },
}
# Serve straight from the app folders so `serve` works without a collectstatic step.
WHITENOISE_USE_FINDERS = True
WHITENOISE_AUTOREFRESH = DEBUG

# Email: files under LEDGERBRIDGE_HOME/mail unless an SMTP host is given.
DEFAULT_FROM_EMAIL = os.environ.get("DEFAULT_FROM_EMAIL", "LedgerBridge <ledgerbridge@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
SMTP_HOST = os.environ.get("EMAIL_HOST", "")
MAILERS = {
    "default": (
        {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": SMTP_HOST,
                "port": envint("EMAIL_PORT", 587),
                "username": os.environ.get("EMAIL_HOST_USER", ""),
                "password": envsecret("EMAIL_HOST_PASSWORD"),
                "use_tls": envbool("EMAIL_USE_TLS", True),
                "use_ssl": envbool("EMAIL_USE_SSL", False),
                "timeout": envint("EMAIL_TIMEOUT", 30),
            },
        }
        if SMTP_HOST
        else {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(HOME / "mail")},
        }
    )
}

# Background work goes through django.tasks; the backend is a deployment choice.
TASKS_BACKEND = os.environ.get("LEDGERBRIDGE_TASKS", "db")
CELERY_BROKER_URL = os.environ.get("CELERY_BROKER_URL", "redis://127.0.0.1:6379/0")
CELERY_RESULT_BACKEND = os.environ.get("CELERY_RESULT_BACKEND", CELERY_BROKER_URL)
_TASK_BACKENDS = {
    "db": {"BACKEND": "django_tasks_db.DatabaseBackend"},
    "celery": {
        "BACKEND": "django_tasks_celery.CeleryBackend",
        "OPTIONS": {"CELERY_APP": "ledgerbridge.celery.app"},
    },
    "immediate": {"BACKEND": "django.tasks.backends.immediate.ImmediateBackend"},
}
if TASKS_BACKEND not in _TASK_BACKENDS:
    raise ValueError(
        f"LEDGERBRIDGE_TASKS={TASKS_BACKEND!r}: use one of {', '.join(_TASK_BACKENDS)}"
    )
TASKS = {"default": _TASK_BACKENDS[TASKS_BACKEND]}
# How long a sync run holds its company without renewing (it renews after every batch). A worker
# killed mid-run blocks its company for at most this long; then the next run carries on.
SYNC_LEASE_SECONDS = int(os.environ.get("LEDGERBRIDGE_SYNC_LEASE_SECONDS", "300"))
# Every installed app's `tasks` module is imported by workers; these are extra ones (plugins,
# test fixtures) so a Celery worker knows their tasks before the first message arrives.
TASK_MODULES = envlist("LEDGERBRIDGE_TASK_MODULES", [])
SCHEDULER_INTERVAL_SECONDS = envint("LEDGERBRIDGE_SCHEDULER_INTERVAL", 30)

# Shared across processes: throttling counters and used one-time codes must be seen by every
# worker. The database cache needs no extra service; set CACHE_URL=redis://… to use Redis.
CACHE_URL = os.environ.get("CACHE_URL", "")
CACHES = {
    "default": (
        {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": CACHE_URL}
        if CACHE_URL
        else {
            "BACKEND": "django.core.cache.backends.db.DatabaseCache",
            "LOCATION": "ledgerbridge_cache",
        }
    )
}

# Sessions: server-side, ended after 30 idle minutes and at most 12 hours after sign-in.
SESSION_ENGINE = "django.contrib.sessions.backends.db"
SESSION_IDLE_TIMEOUT = envint("SESSION_IDLE_TIMEOUT", 30 * 60)
SESSION_ABSOLUTE_TIMEOUT = envint("SESSION_ABSOLUTE_TIMEOUT", 12 * 60 * 60)
SESSION_COOKIE_AGE = SESSION_ABSOLUTE_TIMEOUT
# Set-password, invitation and reset links are valid for 48 hours.
PASSWORD_RESET_TIMEOUT = 48 * 60 * 60

# Security: secure by default when DEBUG is off; plain-HTTP development opts out explicitly.
SECURE_SSL = envbool("SECURE_SSL", not DEBUG and SITE_ROOT.startswith("https://"))
SESSION_COOKIE_SECURE = SECURE_SSL
CSRF_COOKIE_SECURE = SECURE_SSL
SECURE_SSL_REDIRECT = SECURE_SSL and envbool("SECURE_SSL_REDIRECT", True)
SECURE_HSTS_SECONDS = envint("SECURE_HSTS_SECONDS", 31536000 if SECURE_SSL else 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = envbool("SECURE_HSTS_INCLUDE_SUBDOMAINS", SECURE_SSL)
SECURE_HSTS_PRELOAD = envbool("SECURE_HSTS_PRELOAD", SECURE_SSL)
if envbool("USE_X_FORWARDED_PROTO", False):
    SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True

LOG_LEVEL = os.environ.get("LOG_LEVEL", "INFO")
LOG_FORMAT = os.environ.get("LOG_FORMAT", "text" if DEBUG else "json")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {
        "request_id": {"()": "ledgerbridge.core.logs.RequestIdFilter"},
        # Masks password/token/secret values in messages and extras before anything is written.
        "redact": {"()": "ledgerbridge.core.logs.RedactSecretsFilter"},
    },
    "formatters": {
        "json": {"()": "ledgerbridge.core.logs.JsonFormatter"},
        "text": {"format": "%(asctime)s %(levelname)s %(name)s [%(request_id)s] %(message)s"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["request_id", "redact"],
        }
    },
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    "loggers": {
        "django.db.backends": {"level": "INFO"},
        "celery": {"level": "WARNING"},
    },
}

# JSON sign-in for scripts and tests (allauth.headless): POST /_allauth/app/v1/auth/login, then
# send the returned session token as X-Session-Token. Only the "app" client: the web pages are
# allauth's regular ones, so the cookie-based "browser" API would be a second, unused way in.
HEADLESS_ONLY = False
HEADLESS_CLIENTS = ("app",)

# Ledger sign-in (OAuth 2) and API addresses. Every default points at the local simulator
# (`ledgerbridge sim`, port 8900); LEDGERBRIDGE_SIM_URL moves them all at once, and each variable
# below overrides one. Real deployments set the vendors' addresses (login.xero.com,
# identity.xero.com, api.xero.com; appcenter.intuit.com, oauth.platform.intuit.com,
# developer.api.intuit.com, quickbooks.api.intuit.com) and their own client id and secret.
LEDGER_SIM_URL = os.environ.get("LEDGERBRIDGE_SIM_URL", "http://127.0.0.1:8900").rstrip("/")
XERO_CLIENT_ID = os.environ.get("XERO_CLIENT_ID", "demo-xero-client-id")
XERO_CLIENT_SECRET = envsecret("XERO_CLIENT_SECRET", "demo-xero-client-secret")
XERO_AUTHORIZE_URL = os.environ.get(
    "XERO_AUTHORIZE_URL", f"{LEDGER_SIM_URL}/xero/identity/connect/authorize"
)
XERO_TOKEN_URL = os.environ.get("XERO_TOKEN_URL", f"{LEDGER_SIM_URL}/xero/identity/connect/token")
XERO_REVOKE_URL = os.environ.get(
    "XERO_REVOKE_URL", f"{LEDGER_SIM_URL}/xero/identity/connect/revocation"
)
XERO_CONNECTIONS_URL = os.environ.get("XERO_CONNECTIONS_URL", f"{LEDGER_SIM_URL}/xero/connections")
XERO_API_URL = os.environ.get("XERO_API_URL", f"{LEDGER_SIM_URL}/xero/api.xro/2.0/")
# The granular scopes Xero requires of new apps (accounting-apis.md §1.2); offline_access brings
# the refresh token.
XERO_SCOPES = envlist(
    "XERO_SCOPES",
    [
        "openid",
        "profile",
        "email",
        "offline_access",
        "accounting.invoices",
        "accounting.payments",
        "accounting.contacts",
        "accounting.settings",
    ],
)
QBO_CLIENT_ID = os.environ.get("QBO_CLIENT_ID", "demo-qbo-client-id")
QBO_CLIENT_SECRET = envsecret("QBO_CLIENT_SECRET", "demo-qbo-client-secret")
QBO_AUTHORIZE_URL = os.environ.get("QBO_AUTHORIZE_URL", f"{LEDGER_SIM_URL}/qbo/connect/oauth2")
QBO_TOKEN_URL = os.environ.get("QBO_TOKEN_URL", f"{LEDGER_SIM_URL}/qbo/oauth2/v1/tokens/bearer")
QBO_REVOKE_URL = os.environ.get("QBO_REVOKE_URL", f"{LEDGER_SIM_URL}/qbo/oauth2/v1/tokens/revoke")
QBO_API_URL = os.environ.get("QBO_API_URL", f"{LEDGER_SIM_URL}/qbo/v3/")
QBO_SCOPES = envlist(
    "QBO_SCOPES", ["com.intuit.quickbooks.accounting", "openid", "profile", "email"]
)
