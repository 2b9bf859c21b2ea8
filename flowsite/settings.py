"""Flowsite settings, all taken from the environment through strict helpers (flowsite/env.py).

REDIS_URL feeds the flow engine and the channel layer alike; unset, it points at the embedded
Redis server that `manage.py serve` (and the test suite) starts under var/.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from cryptography.fernet import Fernet
from django.core.exceptions import ImproperlyConfigured
from django.core.management.utils import get_random_secret_key

from flows.engine.connections import client_url, is_cluster_url, pool_options
from flows.engine.executor import DEFAULT_IDEMPOTENCY_SECONDS
from flows.engine.runner_settings import DEFAULT_CONCURRENCY, DEFAULT_RETENTION_SECONDS
from flows.engine.sandbox.limits import HTTP_DEFAULT_MAX_BYTES
from flowsite.env import (
    env_bool,
    env_database,
    env_int,
    env_list,
    env_networks,
    env_redis_url,
    env_str,
    env_token,
)

BASE_DIR = Path(__file__).resolve().parent.parent
VAR_DIR = Path(env_str("FLOWSITE_VAR_DIR", str(BASE_DIR / "var")))

DEBUG = env_bool("DEBUG", False)


def _local_secret_key() -> str:
    """Without SECRET_KEY, keep a generated one under var/ so sessions survive restarts."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(get_random_secret_key())
        path.chmod(0o600)
    return path.read_text().strip()


SECRET_KEY = env_str("SECRET_KEY", "") or _local_secret_key()


def _local_secrets_key() -> str:
    """Without FLOWS_SECRETS_KEY, keep a generated one under var/, as for SECRET_KEY. Runners
    on other machines need the same key: set FLOWS_SECRETS_KEY there."""
    path = VAR_DIR / "secrets_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(Fernet.generate_key().decode())
        path.chmod(0o600)
    return path.read_text().strip()


# Encrypts step secrets: comma-separated Fernet keys, the first encrypts, any decrypts.
FLOWS_SECRETS_KEY = env_str("FLOWS_SECRETS_KEY", "") or _local_secrets_key()
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

_configured_redis_url = env_redis_url("REDIS_URL")
REDIS_EMBEDDED = _configured_redis_url is None
EMBEDDED_REDIS_DIR = VAR_DIR / "redis"
REDIS_URL = _configured_redis_url or f"unix://{EMBEDDED_REDIS_DIR / 'redis.sock'}"
# The channel layer's server: channels-redis cannot use a cluster (django/channels_redis#420),
# so with REDIS_URL naming one, this must name a standalone server (docs/scaling.md).
_channel_layer_url = env_redis_url("CHANNEL_LAYER_REDIS_URL")
if is_cluster_url(_channel_layer_url or REDIS_URL):
    raise ImproperlyConfigured(
        "the channel layer cannot use a Redis Cluster: set CHANNEL_LAYER_REDIS_URL to a "
        "standalone Redis or Valkey server (docs/scaling.md)"
    )
CHANNEL_LAYER_REDIS_URL = client_url(_channel_layer_url or REDIS_URL)
FLOWS_KEY_PREFIX = env_str("FLOWS_KEY_PREFIX", "")
# What step scripts may reach with `http`: hosts (`*.domain`, `host:port`), nothing by default.
FLOWS_HTTP_ALLOW = env_str("FLOWS_HTTP_ALLOW", "")
FLOWS_HTTP_ALLOW_PRIVATE = env_bool("FLOWS_HTTP_ALLOW_PRIVATE", False)
FLOWS_HTTP_MAX_BYTES = env_int("FLOWS_HTTP_MAX_BYTES", HTTP_DEFAULT_MAX_BYTES, minimum=1)
# Python modules whose @script_function functions scripts call as alias.name(...).
FLOWS_SCRIPT_MODULES = env_list("FLOWS_SCRIPT_MODULES", ["text=flows.script_functions.text"])
FLOWS_EMBEDDED_RUNNER = env_bool("FLOWS_EMBEDDED_RUNNER", True)
# The runners' settings read the same variables, with the same defaults, without Django
# (flows/engine/runner_settings.py).
FLOWS_RUNNER_CONCURRENCY = env_int("FLOWS_RUNNER_CONCURRENCY", DEFAULT_CONCURRENCY, minimum=1)
# How long ended runs stay in Redis; the web app's archive keeps them after that.
FLOWS_RETENTION_SECONDS = env_int("FLOWS_RETENTION_SECONDS", DEFAULT_RETENTION_SECONDS, minimum=0)
# How long a launch's Idempotency-Key answers with the run it started.
FLOWS_IDEMPOTENCY_SECONDS = env_int(
    "FLOWS_IDEMPOTENCY_SECONDS", DEFAULT_IDEMPOTENCY_SECONDS, minimum=1
)
# Test runs of step scripts at once per web process (flows/definitions/step_tests.py); more
# are told "busy".
FLOWS_TEST_RUNS_AT_ONCE = env_int("FLOWS_TEST_RUNS_AT_ONCE", 2, minimum=1)
# What a step may ask for (the engine's validators check every step against them: flows/apps.py).
FLOWS_MAX_STEP_TIMEOUT = env_int("FLOWS_MAX_STEP_TIMEOUT", 3600, minimum=1)
FLOWS_MAX_RETRIES = env_int("FLOWS_MAX_RETRIES", 25, minimum=0)
# Who may scrape /metrics (docs/operations.md, Metrics): a bearer token, and/or client addresses
# (CIDRs, comma-separated); with neither, /metrics answers 404.
FLOWS_METRICS_TOKEN = env_token("FLOWS_METRICS_TOKEN")
FLOWS_METRICS_ALLOW = env_networks("FLOWS_METRICS_ALLOW")
# Where the site is reached, for links in failure alerts (https://flows.example.com); empty:
# alerts carry site-relative links.
FLOWS_SITE_URL = env_str("FLOWS_SITE_URL", "")
# Failure alerts by email go through Django's mail settings.
EMAIL_HOST = env_str("EMAIL_HOST", "localhost")
EMAIL_PORT = env_int("EMAIL_PORT", 25, minimum=1)
EMAIL_HOST_USER = env_str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env_str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_TIMEOUT = env_int("EMAIL_TIMEOUT", 10, minimum=1)
DEFAULT_FROM_EMAIL = env_str("DEFAULT_FROM_EMAIL", "flowsite@localhost")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
    "axes",
    "django_htmx",
    "template_partials",
    "flows",
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
    "django_htmx.middleware.HtmxMiddleware",
    "flows.middleware.RedisUnreachableMiddleware",
    # Last, as django-axes asks: it turns a refused login into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "flowsite.urls"
ASGI_APPLICATION = "flowsite.asgi.application"

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
                "flows.health.banners.health",
            ],
        },
    },
]

DATABASES = {"default": env_database("DATABASE_URL", f"sqlite:///{VAR_DIR / 'flowsite.sqlite3'}")}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# redis-py's pool refuses (not waits) past max_connections, default 100: every socket that
# connects at once (a reconnect storm after a restart) joins its group on a connection of its own.
# And its default 5 s socket timeout equals channels_redis's 5 s blocking pop, so an idle receive
# could time out and take the consumers down with it: the socket must outwait the pop. And the
# pool must replace the connections a Redis restart closed (flows/engine/connections.py).
CHANNEL_LAYER_MAX_CONNECTIONS = env_int("CHANNEL_LAYER_MAX_CONNECTIONS", 2000, minimum=1)
CHANNEL_LAYERS = {
    "default": {
        "BACKEND": "channels_redis.core.RedisChannelLayer",
        "CONFIG": {
            "hosts": [
                {
                    "address": CHANNEL_LAYER_REDIS_URL,
                    "max_connections": CHANNEL_LAYER_MAX_CONNECTIONS,
                    "socket_timeout": 30,
                    **pool_options(),
                }
            ],
            "prefix": f"{FLOWS_KEY_PREFIX}asgi",
        },
    }
}

# The most a request's body may hold (Django's default, 2.5 MiB, named for the code that reads
# it): the API answers 413 past it. Django leaves uploaded files out of this cap, so the import
# form checks its file against it too; smaller files stay in memory.
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = DATA_UPLOAD_MAX_MEMORY_SIZE

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
# Login throttling (django-axes, attempts kept in the database): after LOGIN_FAILURE_LIMIT failed
# logins for one account, or from one address, logins for it are refused, the right password too,
# for LOGIN_LOCKOUT_MINUTES from the failure that reached the limit. The address is the client's
# as uvicorn sees it (behind a proxy: from X-Forwarded-For, sent by FORWARDED_ALLOW_IPS).
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("LOGIN_FAILURE_LIMIT", 10, minimum=1)
AXES_COOLOFF_TIME = timedelta(minutes=env_int("LOGIN_LOCKOUT_MINUTES", 15, minimum=1))
AXES_LOCKOUT_PARAMETERS = ["username", "ip_address"]
AXES_LOCKOUT_CALLABLE = "flows.logins.locked_out"
# Tries refused during a lockout are not counted: they would extend it without end, and axes
# appends each counted try's form data to the attempt's row, which would then grow without bound.
AXES_RESET_COOL_OFF_ON_FAILURE_DURING_LOCKOUT = False
# Lockouts go to the audit trail (flows.logins); a row for every successful login would only grow.
AXES_DISABLE_ACCESS_LOG = True

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/flows/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
# Browsers accept Secure cookies from http://127.0.0.1 and localhost, so this holds for make run.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"
# HTTPS, all off by default as `make run` serves plain HTTP. Behind a proxy that terminates TLS,
# uvicorn takes the scheme from X-Forwarded-Proto when the proxy is in FORWARDED_ALLOW_IPS.
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
# Load balancers probe workers over plain HTTP, inside the network: answer them, not redirect.
SECURE_REDIRECT_EXEMPT = [r"^healthz$", r"^readyz$"]
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", False)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", False)

LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = VAR_DIR / "staticfiles"
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise warns about a missing one

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {"plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"}},
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": "plain"}},
    "root": {"handlers": ["console"], "level": env_str("LOG_LEVEL", "INFO")},
    # Failed logins and lockouts are warnings; a line for every successful login is noise.
    "loggers": {"axes": {"level": "WARNING"}},
}
