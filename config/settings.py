"""Likeness settings: one module, driven by the environment.

With nothing set you get the embedded default: SQLite in ./data, Celery on
``memory://`` with a worker thread inside the web process, an in-memory channel
layer, media on local disk and the tiny offline model. Production is the same
code with DATABASE_URL, REDIS_URL, the S3 variables and DEBUG=false.

DEBUG has three settings, because "show visitors the site's own error pages" and
"harden for the internet" are different questions:

- unset (``make run``, the embedded default): ``DEBUG`` is off, so visitors get the
  site's own 404 and 500 pages, never Django's debug pages (which list every URL
  pattern and, on a 500, the settings). Nothing else is hardened: a development
  SECRET_KEY, cookies over plain http, localhost hosts, optional e-mail verification,
  static files served straight from the apps (no collectstatic), and a development
  Content Credentials CA made on first use.
- ``DEBUG=true``: the same, with Django's debug pages, for a developer who asks.
- ``DEBUG=false``: production (``PRODUCTION``). SECRET_KEY is required, cookies are
  secure, http redirects to https, HSTS is on, e-mail verification is mandatory,
  static files come from collectstatic's manifest, and nothing is made up on the
  fly (no development CA). ``manage.py check --deploy`` is clean.
"""

from __future__ import annotations

import os
from pathlib import Path

from django.core.exceptions import ImproperlyConfigured

from config.env import (
    celery_broker_url_for_redis,
    env,
    env_bool,
    env_choice,
    env_database,
    env_email,
    env_int,
    env_list,
    env_log_level,
    env_rate,
    env_redis_url,
    env_url,
)

BASE_DIR = Path(__file__).resolve().parent.parent
DATA_DIR = Path(env.str("LIKENESS_DATA_DIR", default=str(BASE_DIR / "data"))).resolve()
DATA_DIR.mkdir(parents=True, exist_ok=True)

# None when unset: the embedded default (see the module docstring).
_DEBUG_CHOSEN = env_bool("DEBUG", default=None)
DEBUG = _DEBUG_CHOSEN is True
# Production is asked for explicitly; every hardening below keys on this, never on DEBUG.
PRODUCTION = _DEBUG_CHOSEN is False
SECRET_KEY = env.str("SECRET_KEY", default="")
if not SECRET_KEY:
    if PRODUCTION:
        raise ImproperlyConfigured("SECRET_KEY must be set when DEBUG is false.")
    SECRET_KEY = "django-insecure-local-development-only"
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", [] if PRODUCTION else ["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS", [])
SITE_URL = env_url("SITE_URL", "http://127.0.0.1:8000", schemes={"http", "https"}).rstrip("/")

INSTALLED_APPS = [
    "daphne",
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "channels",
    # Before allauth: our templates override allauth's (app templates are searched in order).
    "accounts",
    "allauth",
    "accounts.apps.SignInEmailConfig",  # allauth.account, named apart from ours
    "generation",
    "portraits",
    "gallery",
    "moderation",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before anything reads the path or the body: control characters (400) and bodies
    # over UPLOAD_MAX_BYTES (413), in the API's error shape under /api/.
    "config.middleware.RequestScreeningMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    # After a member's write, the pages kept for them are dropped (config.pagecache).
    "config.pagecache.MemberPagesMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # A session whose member was suspended is signed out at its next request.
    "accounts.middleware.SuspensionMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

ROOT_URLCONF = "config.urls"
ASGI_APPLICATION = "config.asgi.application"
WSGI_APPLICATION = "config.wsgi.application"

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
                "gallery.context_processors.unread_notifications",
            ],
        },
    },
]

# --- Database ---------------------------------------------------------------
_default_sqlite = f"sqlite:///{DATA_DIR / 'likeness.sqlite3'}"
DATABASES = {"default": env_database("DATABASE_URL", _default_sqlite)}
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    # A worker thread writes while the web serves: WAL lets readers proceed,
    # IMMEDIATE takes the write lock up front (no upgrade deadlocks) and the
    # timeout waits instead of failing with "database is locked".
    DATABASES["default"]["OPTIONS"] = {
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
    }
    # Kept open between uses, as PostgreSQL's are: opening one (with its PRAGMAs and
    # Django's functions) costs 0.75 ms, and a WebSocket following a job read the
    # database six times, each time on a new connection, on daphne's one shared thread.
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    # A file, not :memory:, so live-server and worker-thread tests share it; one per
    # process so concurrent test runs on one machine never collide.
    DATABASES["default"]["TEST"] = {"NAME": str(DATA_DIR / f"test_likeness_{os.getpid()}.sqlite3")}
elif env_bool("DB_POOL", False):
    # Web processes (config.asgi turns this on): Django's ASGI handler runs each request in
    # a thread of its own, and connections are per thread, so persistent ones piled up (55
    # idle in one daphne; two daphnes used up PostgreSQL's 100) and fresh ones cost ~7 ms a
    # request (bench/README.md). A pool per process serves every thread instead.
    DATABASES["default"]["OPTIONS"] = {
        **DATABASES["default"].get("OPTIONS", {}),
        "pool": {
            "min_size": 1,
            "max_size": env_int("DB_POOL_MAX_SIZE", 8, minimum=1),
            "timeout": 10,
        },
    }
    DATABASES["default"]["CONN_MAX_AGE"] = 0  # the pool keeps them
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
else:
    # Workers and commands: one thread at a time keeps its connection (Celery forks its
    # pool's processes, which a connection pool's threads would not survive).
    DATABASES["default"]["CONN_MAX_AGE"] = env_int("DB_CONN_MAX_AGE", 60, minimum=0)
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True
    DATABASES["default"]["TEST"] = {"NAME": f"test_{DATABASES['default']['NAME']}"}
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# --- Redis, cache, channel layer, Celery ------------------------------------
# redis://, rediss:// or unix:///path/to/redis.sock (the cache and channels_redis take
# it as it is; Celery gets its own spelling of it below).
REDIS_URL = env_redis_url("REDIS_URL")

if REDIS_URL:
    # Rate-limit counters only; while Redis is down each process counts in its own memory
    # (config.cache). Short socket timeouts: a Redis that stops answering costs a request
    # at most a second or two before the fallback takes over.
    CACHES = {
        "default": {
            "BACKEND": "config.cache.RedisCacheWithLocalFallback",
            "LOCATION": REDIS_URL,
            "OPTIONS": {"socket_connect_timeout": 1, "socket_timeout": 1},
        }
    }
    CHANNEL_LAYERS = {
        "default": {
            # channels_redis, with a pool that waits for a free connection (config.channel_layers)
            "BACKEND": "config.channel_layers.RedisChannelLayer",
            "CONFIG": {
                # channels_redis waits for a message with a 5 s blocking pop; redis-py 8's
                # default 5 s socket timeout cut that short and closed every WebSocket idle
                # for 5 s with 1011. A longer timeout still notices a Redis that hangs.
                "hosts": [{"address": REDIS_URL, "socket_timeout": 15}],
                # Progress events are "latest state": a slow browser may lose some,
                # never the job (the REST resource and the state on connect are the truth).
                "capacity": 200,
                "expiry": 30,
                "group_expiry": 3600,
                "prefix": env.str("CHANNELS_PREFIX", default="likeness"),
            },
        }
    }
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
    CHANNEL_LAYERS = {
        "default": {"BACKEND": "config.channel_layers.ThreadSafeInMemoryChannelLayer"}
    }

CELERY_BROKER_URL = env_url(
    "CELERY_BROKER_URL",
    celery_broker_url_for_redis(REDIS_URL) if REDIS_URL else "memory://localhost/",
    schemes={"redis", "rediss", "redis+socket", "amqp", "amqps", "pyamqp", "memory"},
)
CELERY_RESULT_BACKEND = None  # job state lives in the database, not in Celery results
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
CELERY_TASK_TIME_LIMIT = env_int("GENERATION_HARD_TIME_LIMIT", 900, minimum=10)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("GENERATION_SOFT_TIME_LIMIT", 840, minimum=5)
if CELERY_TASK_SOFT_TIME_LIMIT >= CELERY_TASK_TIME_LIMIT:
    raise ImproperlyConfigured(
        "GENERATION_SOFT_TIME_LIMIT must be below GENERATION_HARD_TIME_LIMIT "
        f"({CELERY_TASK_SOFT_TIME_LIMIT} >= {CELERY_TASK_TIME_LIMIT}): the soft limit "
        "is what lets a job fail with a message before the hard one kills the process."
    )
CELERY_TASK_ROUTES = {
    "generation.tasks.run_job": {"queue": "gpu"},
    "generation.tasks.sweep_stale_jobs": {"queue": "celery"},
    "moderation.tasks.expire_suspensions": {"queue": "celery"},
}
CELERY_WORKER_HIJACK_ROOT_LOGGER = False
# Task events (sent, received, started, succeeded, failed, each with its job id as the
# argument) for Flower, the standard Celery monitor, and `celery events`: on with a real
# broker; off with the embedded default's in-process one, where nothing could listen.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool(
    "CELERY_EVENTS", not CELERY_BROKER_URL.startswith("memory")
)
CELERY_TASK_SEND_SENT_EVENT = CELERY_WORKER_SEND_TASK_EVENTS
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# A web process sends each job to the broker after its row is committed. With the broker
# down, that send must give up within seconds (kombu's defaults wait 4 s per try, and
# forever on a Redis that accepts connections but never answers): the job is then kept,
# marked for delivery, and the sweeper sends it once the broker is back.
CELERY_BROKER_CONNECTION_TIMEOUT = 3
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 2,
    "interval_start": 0,
    "interval_step": 0.2,
    "interval_max": 0.5,
}
# Redis redelivers an unacknowledged task (a killed worker's job) only after the
# visibility timeout. It must exceed the longest job (the hard time limit), or a
# slow job is delivered twice; much shorter than Redis' one-hour default so a lost
# job comes back soon. RabbitMQ (CELERY_BROKER_URL=amqp://…) redelivers at once.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env_int(
        "CELERY_VISIBILITY_TIMEOUT", CELERY_TASK_TIME_LIMIT + 60, minimum=CELERY_TASK_TIME_LIMIT
    ),
}
if CELERY_BROKER_URL.startswith(("redis", "rediss")):
    # kombu scans for expired unacknowledged tasks only every 10th tick of 10 s by
    # default, so a lost job waited up to ~100 s past its visibility timeout
    # (measured). One cheap ZRANGE every 10 s brings it back promptly.
    CELERY_BROKER_TRANSPORT_OPTIONS["unacked_restore_throttle"] = 1
    # kombu waits forever by default on a Redis that stops answering without closing
    # the connection (its own docs recommend a socket timeout).
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"] = 5
    CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"] = 3
if CELERY_BROKER_URL.startswith("memory"):
    # kombu's memory transport, woken by every send (config/broker.py) rather than polling;
    # the interval is only a fallback.
    CELERY_BROKER_TRANSPORT = "config.broker:Transport"
    CELERY_BROKER_TRANSPORT_OPTIONS["polling_interval"] = 1.0
# The embedded default runs the worker as a thread of the web process.
CELERY_INPROCESS_WORKER = env_bool(
    "CELERY_INPROCESS_WORKER", CELERY_BROKER_URL.startswith("memory")
)
# How often the sweeper runs (Celery beat; the embedded default's timer thread).
GENERATION_SWEEP_INTERVAL = env_int("GENERATION_SWEEP_INTERVAL", 15, minimum=1)
# How often suspensions that ran out are settled (their portraits back in the gallery) for
# members who have not come back since (Celery beat; the same timer thread).
MODERATION_EXPIRY_INTERVAL = env_int("MODERATION_EXPIRY_INTERVAL", 60, minimum=1)
CELERY_BEAT_SCHEDULE = {
    "sweep-stale-jobs": {
        "task": "generation.tasks.sweep_stale_jobs",
        "schedule": float(GENERATION_SWEEP_INTERVAL),
    },
    "expire-suspensions": {
        "task": "moderation.tasks.expire_suspensions",
        "schedule": float(MODERATION_EXPIRY_INTERVAL),
    },
}

# --- Generation ---------------------------------------------------------------
# Per member: queued + running jobs, and submissions in a window. A sweep counts by its
# cells (each a job): the defaults let a member run one full sweep at a time.
GENERATION_MAX_ACTIVE_JOBS = env_int("GENERATION_MAX_ACTIVE_JOBS", 16, minimum=1)
GENERATION_SUBMIT_RATE = env_rate("GENERATION_SUBMIT_RATE", "120/hour")
# The most cells one sweep may have (generation.sweeps).
GENERATION_SWEEP_MAX_CELLS = env_int("GENERATION_SWEEP_MAX_CELLS", 16, minimum=2)
GENERATION_TINY_MODEL_DIR = DATA_DIR / "models" / "likeness-tiny"
# The offline model the project trained (train_tiny_model) and ships: `make run`'s default.
GENERATION_DEMO_MODEL_DIR = BASE_DIR / "generation" / "weights" / "likeness-portraits"
# A worker writes its job's heartbeat every GENERATION_HEARTBEAT_INTERVAL seconds from a
# thread of its own (model loading included); the sweeper takes a running job whose
# heartbeat is older than GENERATION_STALE_AFTER back into the queue as a new attempt. So
# a dead worker's job is reclaimed within STALE_AFTER + SWEEP_INTERVAL of its last beat.
GENERATION_HEARTBEAT_INTERVAL = env_int("GENERATION_HEARTBEAT_INTERVAL", 10, minimum=1)
# Live progress: a worker records a job's step and publishes its progress event with the
# latest preview at most once per interval from when painting starts (and always for the
# last step), so a fast GPU loop is not slowed by a database write, a JPEG and a message
# per step per job. A cancel is noticed at the next report. 0 reports every step.
GENERATION_PROGRESS_INTERVAL = env_int("GENERATION_PROGRESS_INTERVAL_MS", 150, minimum=0) / 1000
# Cross-member batching: a worker paints compatible queued jobs (same model, size, steps,
# scheduler, guidance, image-to-image strength) together, up to this many images in one
# pipeline call (1 turns it off); when it finds some but has room, it waits the window once
# for more. A lone job never waits.
GENERATION_BATCH_MAX_IMAGES = env_int("GENERATION_BATCH_MAX_IMAGES", 8, minimum=1)
GENERATION_BATCH_WINDOW = env_int("GENERATION_BATCH_WINDOW_MS", 30, minimum=0) / 1000
# Storing a painted job's portraits (PNG, thumbnail, C2PA signature, storage writes) on a
# thread of the worker, while its next pipeline call paints: "auto" when painted on an
# accelerator (services.running.store_in_background), "true" or "false" always.
# A worker starting loads the models of its queues before taking a job, and is then ready
# (services.models_warm_up): "auto" loads them and, with LIKENESS_COMPILE, also paints once
# per batch bucket to compile; "true" always paints; "false" leaves it to the first job.
GENERATION_WARM_UP = env_choice("GENERATION_WARM_UP", "auto", choices={"auto", "true", "false"})
# How much a painting worker yields the CPU (its nice value; 0: not at all): on a machine
# that paints on its CPU beside daphne, the database and Redis (the embedded default, a
# small self-host), pages and live progress go first and painting takes what is left. On
# a GPU machine nothing competes with it. Applies to the painting thread and the threads
# it starts (the in-process worker's thread only, not the web's).
GENERATION_WORKER_NICE = env_int("GENERATION_WORKER_NICE", 10, minimum=0)
# A file the worker writes once its models are loaded and removes when it stops (or starts
# again): a container's readiness probe (`test -f`). Unset: none is written.
GENERATION_WORKER_READY_FILE = os.environ.get("GENERATION_WORKER_READY_FILE", "").strip()
GENERATION_STORE_IN_BACKGROUND = env_choice(
    "GENERATION_STORE_IN_BACKGROUND", "auto", choices={"auto", "true", "false"}
)
GENERATION_STALE_AFTER = env_int("GENERATION_STALE_AFTER", 60, minimum=1)
if GENERATION_STALE_AFTER <= 3 * GENERATION_HEARTBEAT_INTERVAL:
    raise ImproperlyConfigured(
        f"GENERATION_STALE_AFTER ({GENERATION_STALE_AFTER}) must be more than three "
        f"GENERATION_HEARTBEAT_INTERVALs ({GENERATION_HEARTBEAT_INTERVAL}): a worker that is "
        "alive but slow to write must never look dead."
    )

# --- Media and static ----------------------------------------------------------
STATIC_URL = "static/"
STATIC_ROOT = Path(env.str("STATIC_ROOT", default=str(BASE_DIR / "staticfiles")))
STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # whitenoise warns about a missing folder
MEDIA_URL = "/media/"
MEDIA_ROOT = Path(env.str("MEDIA_ROOT", default=str(DATA_DIR / "media"))).resolve()
AWS_STORAGE_BUCKET_NAME = env.str("AWS_STORAGE_BUCKET_NAME", default="")
if AWS_STORAGE_BUCKET_NAME:
    AWS_S3_ENDPOINT_URL = env.str("AWS_S3_ENDPOINT_URL", default="") or None
    AWS_S3_REGION_NAME = env.str("AWS_S3_REGION_NAME", default="") or None
    AWS_ACCESS_KEY_ID = env.str("AWS_ACCESS_KEY_ID", default="") or None
    AWS_SECRET_ACCESS_KEY = env.str("AWS_SECRET_ACCESS_KEY", default="") or None
    # Private by default: every media file is served through a signed, expiring URL,
    # and only to someone the visibility selectors allowed to see it.
    AWS_DEFAULT_ACL = None
    AWS_QUERYSTRING_AUTH = True
    AWS_QUERYSTRING_EXPIRE = env_int("AWS_QUERYSTRING_EXPIRE", 3600, minimum=60)
    # Signature Version 4: botocore would presign S3 URLs with version 2, which AWS regions
    # opened since 2014 and most S3-compatible services refuse.
    AWS_S3_SIGNATURE_VERSION = "s3v4"
    # "path" for services that serve buckets only under the endpoint's path (MinIO without
    # bucket DNS names); unset, botocore chooses (virtual hosts where it can).
    AWS_S3_ADDRESSING_STYLE = env_choice(
        "AWS_S3_ADDRESSING_STYLE", "auto", choices={"auto", "path", "virtual"}
    )
    _media_backend = "storages.backends.s3.S3Storage"
else:
    _media_backend = "django.core.files.storage.FileSystemStorage"
STORAGES = {
    "default": {"BACKEND": _media_backend},
    "staticfiles": {
        "BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"
        if PRODUCTION
        else "django.contrib.staticfiles.storage.StaticFilesStorage"
    },
}
# Outside production whitenoise serves static files straight from the apps' folders (it
# would only do so with DEBUG on by default): `make run` needs no collectstatic, and an
# edited stylesheet shows on the next reload.
WHITENOISE_USE_FINDERS = not PRODUCTION
WHITENOISE_AUTOREFRESH = not PRODUCTION
# The largest request body the site accepts, so the largest upload (an image to verify):
# larger ones are refused with a 413 by their Content-Length before anything reads them
# (config.middleware). The reverse proxy's cap must say the same (nginx: client_max_body_size).
UPLOAD_MAX_BYTES = env_int("UPLOAD_MAX_BYTES", 10 * 1024 * 1024, minimum=64 * 1024)
DATA_UPLOAD_MAX_MEMORY_SIZE = UPLOAD_MAX_BYTES
AVATAR_MAX_BYTES = env_int("AVATAR_MAX_BYTES", 2 * 1024 * 1024, minimum=1024)
if AVATAR_MAX_BYTES > UPLOAD_MAX_BYTES:
    raise ImproperlyConfigured(
        f"AVATAR_MAX_BYTES ({AVATAR_MAX_BYTES}) must not exceed UPLOAD_MAX_BYTES "
        f"({UPLOAD_MAX_BYTES}): no request that large is accepted."
    )
AVATAR_MAX_PIXELS = 4096 * 4096

# --- Accounts -------------------------------------------------------------------
AUTH_USER_MODEL = "accounts.User"
AUTHENTICATION_BACKENDS = [
    "django.contrib.auth.backends.ModelBackend",
    "allauth.account.auth_backends.AuthenticationBackend",
]
AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]
PASSWORD_HASHERS = env_list("PASSWORD_HASHERS", []) or [
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]
LOGIN_URL = "account_login"
LOGIN_REDIRECT_URL = "gallery:home"
ACCOUNT_LOGIN_METHODS = {"username", "email"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "username*", "password1*", "password2*"]
ACCOUNT_UNIQUE_EMAIL = True
ACCOUNT_FORMS = {"signup": "accounts.forms.SignupForm"}
ACCOUNT_ADAPTER = "accounts.adapter.AccountAdapter"
# Mandatory in production: only then can sign-up (page and API) answer a taken e-mail
# address exactly like a free one (allauth's enumeration prevention; its owner is mailed).
# Optional for `make run`, where mails only reach the console.
ACCOUNT_EMAIL_VERIFICATION = env_choice(
    "ACCOUNT_EMAIL_VERIFICATION",
    "mandatory" if PRODUCTION else "optional",
    choices={"none", "optional", "mandatory"},
)
ACCOUNT_LOGOUT_ON_PASSWORD_CHANGE = False
ACCOUNT_USERNAME_BLACKLIST = ["admin", "api", "me", "settings", "static", "media", "likeness"]

# EMAIL_URL (smtp://user:password@host:587, …) sets EMAIL_BACKEND, EMAIL_HOST and the rest;
# unset, mails are printed on the console.
globals().update(env_email("EMAIL_URL"))
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", default="Likeness <noreply@localhost>")

# --- Moderation -----------------------------------------------------------------
# How many new reports one member may file per period (moderation.reports). A repeat of
# their open report on the same target updates it and is not counted again.
MODERATION_REPORT_RATE = env_rate("MODERATION_REPORT_RATE", "10/hour")

# --- API ------------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.api.authentication.ApiTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticatedOrReadOnly"],
    "DEFAULT_PAGINATION_CLASS": "config.api.pagination.CreatedCursorPagination",
    # JSON nested past a sane depth is a 400 parse error, never a 500 (RecursionError).
    "DEFAULT_PARSER_CLASSES": [
        "config.api.parsers.JSONParser",
        "rest_framework.parsers.FormParser",
        "config.api.parsers.MultiPartParser",
    ],
    "PAGE_SIZE": 24,
    "DEFAULT_FILTER_BACKENDS": ["django_filters.rest_framework.DjangoFilterBackend"],
    "DEFAULT_THROTTLE_CLASSES": [
        "rest_framework.throttling.AnonRateThrottle",
        "rest_framework.throttling.UserRateThrottle",
        "rest_framework.throttling.ScopedRateThrottle",
    ],
    # Job submissions are limited by the generation service itself (per user, in the
    # database), so the page, the API, remixes and reproductions share one limit.
    "DEFAULT_THROTTLE_RATES": {
        "anon": env_rate("API_ANON_RATE", "120/minute"),
        "user": env_rate("API_USER_RATE", "600/minute"),
        "register": env_rate("API_REGISTER_RATE", "20/hour"),
        "token": env_rate("API_TOKEN_RATE", "30/hour"),
        # Verifying an upload's Content Credentials reads the whole file: its own budget.
        "verify": env_rate("API_VERIFY_RATE", "30/hour"),
    },
    "EXCEPTION_HANDLER": "config.api.errors.exception_handler",
    "DEFAULT_SCHEMA_CLASS": "config.api.schema.ErrorDocumentingAutoSchema",
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Likeness API",
    "DESCRIPTION": (
        "Generate portraits, follow them paint over WebSockets, remix them with provenance. "
        "Authenticate with `Authorization: Token <key>` (create keys in Settings → API tokens "
        "or POST /api/v1/auth/token/)."
    ),
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "COMPONENT_SPLIT_REQUEST": True,
    "SCHEMA_PATH_PREFIX": r"/api/v1",
    # Swagger UI served from our own static files: no CDN, works offline.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "ENUM_NAME_OVERRIDES": {
        "PortraitRoleEnum": "portraits.models.Portrait.Role",
        "ModerationActionKindEnum": "moderation.models.ModerationAction.Kind",
        "AppealStatusEnum": "moderation.models.Appeal.Status",
        "ReportStatusEnum": "moderation.api.serializers.ReportStatus",
        # The job status kept its name when the moderation statuses came.
        "StatusEnum": "generation.models.GenerationJob.Status",
        # A report's category kept its name when the prompt builder's categories came.
        "CategoryEnum": "moderation.models.Report.Category",
        "PromptModifierCategoryEnum": "generation.models.PromptModifier.Category",
    },
}

# A remix tree (page and API) shows at most this many members, shallowest first, and says
# how many it left out: what one request reads stays bounded however large a family grows.
PORTRAIT_FAMILY_MAX_MEMBERS = env_int("PORTRAIT_FAMILY_MAX_MEMBERS", 1000, minimum=10)
# How long anonymous visitors' public lists and trees are served from the cache
# (config.pagecache; anything that changes visibility drops them at once). 0: never.
PUBLIC_PAGE_TTL = env_int("PUBLIC_PAGE_TTL", 5, minimum=0)

# --- Content Credentials --------------------------------------------------------
C2PA_DEV_DIR = DATA_DIR / "c2pa"
C2PA_SIGNING_KEY = Path(env.str("C2PA_SIGNING_KEY", default=str(C2PA_DEV_DIR / "signer.key")))
C2PA_SIGNING_CERTS = Path(env.str("C2PA_SIGNING_CERTS", default=str(C2PA_DEV_DIR / "chain.pem")))
C2PA_TSA_URL = env.str("C2PA_TSA_URL", default="") or None

# --- i18n, security, logging ----------------------------------------------------
LANGUAGE_CODE = "en-us"
TIME_ZONE = "UTC"
USE_I18N = True
USE_TZ = True

SESSION_COOKIE_SECURE = PRODUCTION
CSRF_COOKIE_SECURE = PRODUCTION
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", PRODUCTION)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 31536000 if PRODUCTION else 0, minimum=0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = PRODUCTION
SECURE_HSTS_PRELOAD = PRODUCTION
# Proxies. TRUSTED_PROXY_COUNT is how many reverse proxies the deployment runs in front of
# daphne, each appending the address it saw to X-Forwarded-For: the client is the entry that
# many places from the right (anything further left was written by the client, so spoofable).
# 0, the default, believes no forwarded header: the client is the socket's address. Rate limits
# (DRF's throttles, allauth's login and sign-up limits) all key on that one answer.
TRUSTED_PROXY_COUNT = env_int("TRUSTED_PROXY_COUNT", 0, minimum=0)
REST_FRAMEWORK["NUM_PROXIES"] = TRUSTED_PROXY_COUNT
ALLAUTH_TRUSTED_PROXY_COUNT = TRUSTED_PROXY_COUNT
# Whether to believe the proxy's X-Forwarded-Proto about HTTPS: on whenever proxies are
# trusted; BEHIND_PROXY (the older switch) still turns it on or off by itself.
BEHIND_PROXY = env_bool("BEHIND_PROXY", TRUSTED_PROXY_COUNT > 0)
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if BEHIND_PROXY else None

# One line per record on stderr, with the job it is about (config.logs); LOG_FORMAT=json
# writes one JSON object per line instead, for a log collector.
LOG_FORMAT = env_choice("LOG_FORMAT", "plain", choices={"plain", "json"})
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"job": {"()": "config.logs.JobContextFilter"}},
    "formatters": {
        "plain": {"()": "config.logs.PlainFormatter"},
        "json": {"()": "config.logs.JsonFormatter"},
    },
    "handlers": {
        "console": {
            "class": "logging.StreamHandler",
            "formatter": LOG_FORMAT,
            "filters": ["job"],
        }
    },
    "root": {"handlers": ["console"], "level": env_log_level("LOG_LEVEL", "INFO")},
    "loggers": {"daphne": {"level": "WARNING"}, "celery": {"level": "WARNING"}},
}
