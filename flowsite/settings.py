"""Flowsite settings, all taken from the environment through strict helpers (flowsite/env.py).

REDIS_URL feeds the flow engine and the channel layer alike; unset, it points at the embedded
Redis server that `manage.py serve` (and the test suite) starts under var/.
"""

from __future__ import annotations

from pathlib import Path

from django.core.management.utils import get_random_secret_key

from flows.engine.connections import pool_options
from flowsite.env import env_bool, env_database, env_int, env_list, env_redis_url, env_str

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
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", ["127.0.0.1", "localhost", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])

_configured_redis_url = env_redis_url("REDIS_URL")
REDIS_EMBEDDED = _configured_redis_url is None
EMBEDDED_REDIS_DIR = VAR_DIR / "redis"
REDIS_URL = _configured_redis_url or f"unix://{EMBEDDED_REDIS_DIR / 'redis.sock'}"
FLOWS_KEY_PREFIX = env_str("FLOWS_KEY_PREFIX", "")
FLOWS_EMBEDDED_RUNNER = env_bool("FLOWS_EMBEDDED_RUNNER", True)
FLOWS_RUNNER_CONCURRENCY = env_int("FLOWS_RUNNER_CONCURRENCY", 4, minimum=1)
# How long ended runs stay in Redis; the web app's archive keeps them after that.
FLOWS_RETENTION_SECONDS = env_int("FLOWS_RETENTION_SECONDS", 7 * 24 * 3600, minimum=0)
# Test runs of step scripts at once per web process (flows/step_tests.py); more are told "busy".
FLOWS_TEST_RUNS_AT_ONCE = env_int("FLOWS_TEST_RUNS_AT_ONCE", 2, minimum=1)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "channels",
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
                    "address": REDIS_URL,
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
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "/flows/"
LOGOUT_REDIRECT_URL = "login"

SESSION_COOKIE_HTTPONLY = True
# Browsers accept Secure cookies from http://127.0.0.1 and localhost, so this holds for make run.
SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = SESSION_COOKIE_SECURE
SECURE_CONTENT_TYPE_NOSNIFF = True
X_FRAME_OPTIONS = "DENY"

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
}
