"""Settings for the codes of conduct portal.

Everything comes from environment variables. Without any, the portal runs on embedded
defaults for trying it out: SQLite and files under ./var, e-mails written to ./var/mail.
With PORTAL_ENV=production the secrets and hosts must be given, and nothing of the demo exists.
"""

import os
import secrets
from datetime import timedelta
from pathlib import Path

import dj_database_url
from django.core.exceptions import ImproperlyConfigured
from django.utils.csp import CSP

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name, default=None):
    return os.environ.get(name, default)


def env_bool(name, default=False):
    value = os.environ.get(name)
    if value is None:
        return default
    return value.strip().lower() in {"1", "true", "yes", "on"}


def env_list(name, default=""):
    return [item.strip() for item in os.environ.get(name, default).split(",") if item.strip()]


def env_positive_int(name, default: int) -> int:
    value = os.environ.get(name, str(default)).strip()
    if not value.isdigit() or int(value) < 1:
        raise ImproperlyConfigured(f"{name} must be a whole number, 1 or more (it is {value!r}).")
    return int(value)


def required(name):
    value = os.environ.get(name)
    if not value:
        raise ImproperlyConfigured(f"{name} must be set when PORTAL_ENV=production.")
    return value


PORTAL_ENV = env("PORTAL_ENV", "development")
if PORTAL_ENV not in {"development", "production"}:
    raise ImproperlyConfigured("PORTAL_ENV must be 'development' or 'production'.")
PRODUCTION = PORTAL_ENV == "production"

# Where the embedded defaults keep their files (database, uploads, saved e-mails).
VAR_DIR = Path(env("PORTAL_VAR_DIR", BASE_DIR / "var"))


def _development_secret_key():
    """A key generated once per checkout, so sessions survive restarts of the demo."""
    path = VAR_DIR / "secret_key"
    if not path.exists():
        VAR_DIR.mkdir(parents=True, exist_ok=True)
        path.write_text(secrets.token_urlsafe(50))
    return path.read_text().strip()


if PRODUCTION:
    SECRET_KEY = required("DJANGO_SECRET_KEY")
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS") or [required("DJANGO_ALLOWED_HOSTS")]
    DEBUG = False
else:
    SECRET_KEY = env("DJANGO_SECRET_KEY") or _development_secret_key()
    ALLOWED_HOSTS = env_list("DJANGO_ALLOWED_HOSTS", "127.0.0.1,localhost,testserver")
    DEBUG = env_bool("DJANGO_DEBUG", True)

# The address parents and staff reach the portal at, used in e-mailed links and PDFs. In the demo
# it follows the port `make run` serves on (PORT=18500 make run e-mails links to port 18500).
PORTAL_BASE_URL = env("PORTAL_BASE_URL", f"http://127.0.0.1:{env('PORT', '8000')}").rstrip("/")

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "whitenoise.runserver_nostatic",
    "django.contrib.staticfiles",
    "crispy_forms",
    "crispy_bootstrap5",
    "django_otp",
    "django_otp.plugins.otp_totp",
    "django_otp.plugins.otp_static",
    "axes",
    "rest_framework",
    "drf_spectacular",
    "drf_spectacular_sidecar",  # Swagger UI as static files: the API's docs need no CDN
    "portal.apps.PortalConfig",
    # The product's apps, each built on those above it. Receivers of a signal run in this order:
    # a new declaration's PDF (evidence) is queued before its confirmation e-mail (sending).
    "schools",
    "codes",
    "declarations",
    "evidence",
    "sending",
    "onboarding",  # staff accounts, organisation settings, association members
    "api",  # the REST API for other systems (README: API and webhooks)
    "webhooks",
    "demo",
    "backups",  # operator tooling: manage.py backup / restore
    "django_tasks_db",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    # Before WhiteNoise, so that static files carry the Permissions-Policy header too.
    "django_permissions_policy.PermissionsPolicyMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.middleware.csp.ContentSecurityPolicyMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    # After sessions: the carer's home language is in the signing session (portal/languages.py).
    "portal.languages.ParentLanguageMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django_otp.middleware.OTPMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    # After sessions, authentication and messages: it signs staff out and says why.
    "portal.sessions.StaffSessionTimeoutMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    # Last, as django-axes asks: it turns a lockout flagged during sign-in into the lockout page.
    "axes.middleware.AxesMiddleware",
]

ROOT_URLCONF = "portal.urls"
WSGI_APPLICATION = "portal.wsgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.template.context_processors.csp",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "schools.context_processors.staff_navigation",
                "portal.languages.language_switch",
            ],
        },
    },
]

if PRODUCTION:
    DATABASES = {"default": dj_database_url.parse(required("DATABASE_URL"), conn_max_age=60)}
elif env("DATABASE_URL"):
    DATABASES = {"default": dj_database_url.parse(env("DATABASE_URL"), conn_max_age=60)}
else:
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    DATABASES = {"default": {"ENGINE": "django.db.backends.sqlite3", "NAME": VAR_DIR / "portal.sqlite3"}}
if DATABASES["default"]["ENGINE"] == "django.db.backends.postgresql":
    # No JIT compilation: for a web application's short queries it costs far more than it saves
    # (it took a second of the association dashboard's 1.5 s). And random_page_cost at the value
    # for data held in memory or on SSD, as a school's database always is: at the default (4, for
    # spinning disks) PostgreSQL hashes every parent's link in the database to find one school's
    # carers asked to sign, rather than looking theirs up (bench/profiles/dashboards.md).
    options = DATABASES["default"].setdefault("OPTIONS", {})
    options["options"] = " ".join(filter(None, ["-c jit=off -c random_page_cost=1.1", options.get("options", "")]))
if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":
    DATABASES["default"]["OPTIONS"] = {
        # WAL lets the web process and the worker read while one writes;
        # IMMEDIATE takes the write lock up front instead of failing mid-transaction.
        "init_command": "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL;",
        "transaction_mode": "IMMEDIATE",
        "timeout": 20,
        **DATABASES["default"].get("OPTIONS", {}),
    }

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator", "OPTIONS": {"min_length": 12}},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

LOGIN_URL = "staff:login"
LOGIN_REDIRECT_URL = "staff:dashboard"
LOGOUT_REDIRECT_URL = "public:home"

# Staff sign-in security: a password, then a second factor (schools/mfa.py) before any pupil or
# carer data. django-axes must come first: it refuses a locked-out sign-in before the password is checked.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
    "onboarding.oidc.StaffOIDCBackend",  # Microsoft 365 or Google Workspace (onboarding/oidc.py)
]
OTP_TOTP_ISSUER = "Codes of conduct portal"
# Staff sign-in with Microsoft 365 (Entra ID) or Google Workspace (OpenID Connect, onboarding/oidc.py).
# A provider is offered once its client id is set. Register the portal with the provider with the
# redirect URI PORTAL_BASE_URL + /staff/sign-in/callback/. Microsoft needs the tenant's id: only
# accounts of that tenant are accepted (its issuer is checked on every ID token).
_MICROSOFT_TENANT = env("PORTAL_OIDC_MICROSOFT_TENANT", "")
_MICROSOFT = f"https://login.microsoftonline.com/{_MICROSOFT_TENANT}"
PORTAL_OIDC_PROVIDERS = {
    "microsoft": {
        "label": "Microsoft 365",
        "client_id": env("PORTAL_OIDC_MICROSOFT_CLIENT_ID", "") if _MICROSOFT_TENANT else "",
        "client_secret": env("PORTAL_OIDC_MICROSOFT_CLIENT_SECRET", ""),
        "issuer": f"{_MICROSOFT}/v2.0",
        "authorization_endpoint": f"{_MICROSOFT}/oauth2/v2.0/authorize",
        "token_endpoint": f"{_MICROSOFT}/oauth2/v2.0/token",
        "userinfo_endpoint": "https://graph.microsoft.com/oidc/userinfo",
        "jwks_endpoint": f"{_MICROSOFT}/discovery/v2.0/keys",
    },
    "google": {
        "label": "Google Workspace",
        "client_id": env("PORTAL_OIDC_GOOGLE_CLIENT_ID", ""),
        "client_secret": env("PORTAL_OIDC_GOOGLE_CLIENT_SECRET", ""),
        "issuer": "https://accounts.google.com",
        "authorization_endpoint": "https://accounts.google.com/o/oauth2/v2/auth",
        "token_endpoint": "https://oauth2.googleapis.com/token",
        "userinfo_endpoint": "https://openidconnect.googleapis.com/v1/userinfo",
        "jwks_endpoint": "https://www.googleapis.com/oauth2/v3/certs",
    },
}
OIDC_AUTHENTICATION_CALLBACK_URL = "onboarding:sign_in_callback"
OIDC_RP_SCOPES = "openid email profile"
OIDC_USE_PKCE = True
OIDC_CREATE_USER = False
OIDC_TIMEOUT = 15
# Five wrong passwords for one username from one address lock that pair out for 15 minutes.
AXES_FAILURE_LIMIT = 5
AXES_COOLOFF_TIME = timedelta(minutes=15)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_RESET_ON_SUCCESS = True
AXES_LOCKOUT_CALLABLE = "schools.account_views.locked_out"  # a plain-English page
AXES_CLIENT_IP_CALLABLE = "portal.client_ip.client_ip"  # the real client behind our own proxies
AXES_VERBOSE = False  # no start-up banner on every manage.py command

LANGUAGE_CODE = "en-gb"
# The languages parents can read the portal in (locale/<code>/LC_MESSAGES/django.po), each named
# in itself for the language switch. English first: it is always one click away.
LANGUAGES = [
    ("en-gb", "English"),
    ("cy", "Cymraeg"),
    ("pl", "Polski"),
    ("ro", "Română"),
    ("ur", "اردو"),
    ("pa", "ਪੰਜਾਬੀ"),
    ("ar", "العربية"),
]
LOCALE_PATHS = [BASE_DIR / "locale"]
LANGUAGE_COOKIE_SAMESITE = "Lax"
LANGUAGE_COOKIE_HTTPONLY = True
LANGUAGE_COOKIE_AGE = 365 * 24 * 60 * 60
TIME_ZONE = "Europe/London"
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
STATIC_ROOT = Path(env("DJANGO_STATIC_ROOT", VAR_DIR / "staticfiles"))
STATICFILES_DIRS = [BASE_DIR / "static"]
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("DJANGO_MEDIA_ROOT", VAR_DIR / "media"))
if not PRODUCTION:
    STATIC_ROOT.mkdir(parents=True, exist_ok=True)  # WhiteNoise looks here even when serving from finders
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {
        "BACKEND": (
            "whitenoise.storage.CompressedManifestStaticFilesStorage"
            if PRODUCTION
            else "django.contrib.staticfiles.storage.StaticFilesStorage"
        )
    },
}

# Stored files (declaration PDFs, paper scans, exports, uploads waiting to be imported) all go
# through Django's storage API. On one machine they live under MEDIA_ROOT; name a bucket to keep
# them in S3-compatible object storage instead, shared by every process on every machine
# (django-storages: `pip install -e ".[s3]"`; boto3 reads AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY from the environment). Files are private: links to them are signed and
# expire, and nothing is ever overwritten.
if env("AWS_STORAGE_BUCKET_NAME"):
    STORAGES["default"] = {
        "BACKEND": "storages.backends.s3.S3Storage",
        "OPTIONS": {
            "bucket_name": env("AWS_STORAGE_BUCKET_NAME"),
            "endpoint_url": env("AWS_S3_ENDPOINT_URL") or None,  # e.g. another S3-compatible service
            "region_name": env("AWS_S3_REGION_NAME") or None,
            "location": env("AWS_LOCATION", ""),
            "default_acl": "private",
            "querystring_auth": True,
            "querystring_expire": 300,
            "file_overwrite": False,
        },
    }

# E-mail (Django 6.1 MAILERS): written to files under var/mail unless an SMTP server or an e-mail
# service is configured. For a service, name Anymail's backend for it (ANYMAIL_ESP=amazon_ses,
# postmark, mailgun, brevo, ...: `pip install -e ".[anymail]"`) and give its settings as
# ANYMAIL_<SETTING> variables, e.g. ANYMAIL_POSTMARK_SERVER_TOKEN; they become Anymail's ANYMAIL
# setting without the prefix.
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", "Codes of conduct portal <no-reply@localhost>")
SERVER_EMAIL = DEFAULT_FROM_EMAIL
PORTAL_MAIL_DIR = VAR_DIR / "mail"
if env("ANYMAIL_ESP"):
    MAILERS = {"default": {"BACKEND": f"anymail.backends.{env('ANYMAIL_ESP')}.EmailBackend"}}
    ANYMAIL = {
        name.removeprefix("ANYMAIL_"): value
        for name, value in os.environ.items()
        if name.startswith("ANYMAIL_") and name != "ANYMAIL_ESP"
    }
elif env("EMAIL_HOST"):
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {
                "host": env("EMAIL_HOST"),
                "port": int(env("EMAIL_PORT", "587")),
                "username": env("EMAIL_HOST_USER", ""),
                "password": env("EMAIL_HOST_PASSWORD", ""),
                "use_tls": env_bool("EMAIL_USE_TLS", True),
                "timeout": 30,
            },
        }
    }
elif PRODUCTION:
    raise ImproperlyConfigured("EMAIL_HOST (an SMTP server) or ANYMAIL_ESP (an e-mail service) must be set when PORTAL_ENV=production.")
else:
    MAILERS = {
        "default": {
            "BACKEND": "django.core.mail.backends.filebased.EmailBackend",
            "OPTIONS": {"file_path": str(PORTAL_MAIL_DIR)},
        }
    }

# Content Security Policy: everything is served by the portal itself; no inline script or style.
SECURE_CSP = {
    "default-src": [CSP.SELF],
    "script-src": [CSP.SELF],
    "style-src": [CSP.SELF],
    "img-src": [CSP.SELF, "data:"],
    "font-src": [CSP.SELF],
    "object-src": [CSP.NONE],
    "base-uri": [CSP.NONE],
    "frame-ancestors": [CSP.NONE],
    "form-action": [CSP.SELF],
}
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"
SESSION_COOKIE_HTTPONLY = True
CSRF_COOKIE_HTTPONLY = True
# The portal uses no camera, microphone, location, payment or other powerful browser feature:
# every page (and static file) says so, so nothing embedded or injected can ask for one.
PERMISSIONS_POLICY = {
    feature: []
    for feature in (
        "accelerometer", "ambient-light-sensor", "autoplay", "bluetooth", "browsing-topics", "camera",
        "display-capture", "encrypted-media", "fullscreen", "geolocation", "gyroscope", "hid",
        "idle-detection", "interest-cohort", "local-fonts", "magnetometer", "microphone", "midi",
        "payment", "picture-in-picture", "publickey-credentials-get", "screen-wake-lock", "serial",
        "usb", "web-share", "xr-spatial-tracking",
    )
}
# A form refused by CSRF protection gets a page in the portal's style saying what to do next.
CSRF_FAILURE_VIEW = "portal.views.csrf_failure"
# Staff sessions (which open pupils' and carers' records) end after this many hours without a
# request, and this many hours after signing in (portal/sessions.py). Parents' signing sessions
# have no user and keep Django's session lifetime.
PORTAL_STAFF_IDLE_HOURS = float(env("PORTAL_STAFF_IDLE_HOURS", "8"))
PORTAL_STAFF_MAX_HOURS = float(env("PORTAL_STAFF_MAX_HOURS", "24"))

if PRODUCTION:
    SECURE_SSL_REDIRECT = env_bool("DJANGO_SECURE_SSL_REDIRECT", True)
    SESSION_COOKIE_SECURE = True
    CSRF_COOKIE_SECURE = True
    LANGUAGE_COOKIE_SECURE = True
    SECURE_HSTS_SECONDS = int(env("DJANGO_SECURE_HSTS_SECONDS", str(60 * 60 * 24 * 365)))
    SECURE_HSTS_INCLUDE_SUBDOMAINS = True
    SECURE_HSTS_PRELOAD = env_bool("DJANGO_SECURE_HSTS_PRELOAD", True)
    # Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
    if env_bool("DJANGO_BEHIND_PROXY", True):
        SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
    CSRF_TRUSTED_ORIGINS = env_list("DJANGO_CSRF_TRUSTED_ORIGINS")

# Background work (sending e-mail, rendering PDFs) uses Django's Tasks framework with a
# database-backed queue: `manage.py db_worker` runs it (make run starts one).
TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}
# How long a worker may hold the e-mails it has claimed without a sign of life: after this, rows
# it left "sending" are taken up again by another (sending/outbox.py, rule 4). It renews its hold
# as it goes, so this only needs to be longer than one e-mail can take.
PORTAL_OUTBOX_LEASE = timedelta(seconds=int(env("PORTAL_OUTBOX_LEASE_SECONDS", "300")))
# The key signing links are derived from (declarations/tokens.py); SECRET_KEY when empty.
PORTAL_LINK_SECRET = env("PORTAL_LINK_SECRET", "")

CRISPY_ALLOWED_TEMPLATE_PACKS = "bootstrap5"
CRISPY_TEMPLATE_PACK = "bootstrap5"

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    # Django logs the address of every request that fails, and runserver every request: a
    # signing link's token is written as [token] (portal/log_redaction.py).
    "filters": {"signing_tokens": {"()": "portal.log_redaction.RedactSigningTokens"}},
    "formatters": {
        "server": {"()": "django.utils.log.ServerFormatter", "format": "[{server_time}] {message}", "style": "{"}
    },
    "handlers": {
        "console": {"class": "logging.StreamHandler", "filters": ["signing_tokens"]},
        "server": {"class": "logging.StreamHandler", "formatter": "server", "filters": ["signing_tokens"]},
    },
    "root": {"handlers": ["console"], "level": env("DJANGO_LOG_LEVEL", "INFO")},
    "loggers": {
        # Django's own handlers for these would write the token: the root's, or ours, instead.
        "django": {"handlers": [], "level": "INFO", "propagate": True},
        "django.server": {"handlers": ["server"], "level": "INFO", "propagate": False},
        # WeasyPrint logs every step of every PDF at INFO, and fontTools its font subsetting.
        "weasyprint.progress": {"level": "WARNING"},
        "fontTools": {"level": "WARNING"},
    },
}

# --- Signing: client addresses, cache, rate limits (declarations) ---------------------------
# Our own reverse proxies (addresses or networks, comma-separated). Only a request that reached
# us through one of them has its X-Forwarded-For believed (portal/client_ip.py); a client's own
# header never is.
PORTAL_TRUSTED_PROXIES = env_list("PORTAL_TRUSTED_PROXIES")
# The cache holds rate-limit counters. Give REDIS_URL when running more than one web process, so
# the processes share them; without it each process counts on its own (fine for one process).
# WEB_CONCURRENCY is the number of web processes (gunicorn's workers, portal/gunicorn.conf.py):
# `check --deploy` refuses more than one without a shared cache (portal/checks.py).
PORTAL_WEB_PROCESSES = int(env("WEB_CONCURRENCY", "1"))
if env("REDIS_URL"):
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.redis.RedisCache", "LOCATION": env("REDIS_URL")}}
else:
    CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache", "LOCATION": "portal"}}
# (how many, per how many seconds), per client address unless said otherwise.
PORTAL_RATE_LIMITS = {
    "link": (100, 600),  # opening a signing link
    "link_miss": (20, 600),  # unknown or expired signing links
    "new_link_ip": (10, 3600),  # "send me a new link" requests
    "new_link_address": (3, 3600),  # new links sent to one e-mail address
    "verify": (30, 600),  # verification page: codes looked up and PDFs checked
    "verify_miss": (10, 600),  # verification codes not found
    "invitation_link": (20, 600),  # staff invitation links opened
    "password_reset_ip": (10, 3600),  # staff password reset requests
    "password_reset_address": (3, 3600),  # password reset e-mails to one address
    "api_key": (600, 60),  # requests with one API key
}

# --- Webhooks (webhooks/delivery.py) ----------------------------------------------------
PORTAL_WEBHOOK_RETRY_FIRST = timedelta(seconds=30)  # the first retry; each later wait doubles
PORTAL_WEBHOOK_RETRY_LONGEST = timedelta(hours=4)  # ... up to this
PORTAL_WEBHOOK_GIVE_UP_AFTER = timedelta(hours=24)  # a delivery is retried for this long
PORTAL_WEBHOOK_PAUSE_AFTER = timedelta(days=3)  # an endpoint failing this long is paused
PORTAL_WEBHOOK_LEASE = timedelta(seconds=int(env("PORTAL_WEBHOOK_LEASE_SECONDS", "60")))
# Endpoints must be https://, except in development (and the tests' local receivers).
PORTAL_WEBHOOKS_ALLOW_HTTP = env_bool("PORTAL_WEBHOOKS_ALLOW_HTTP", DEBUG)

# --- The REST API (api/) ---------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": ["api.access.ApiKeyAuthentication"],
    "DEFAULT_PERMISSION_CLASSES": ["api.access.HasScope"],
    "DEFAULT_RENDERER_CLASSES": ["rest_framework.renderers.JSONRenderer"],
    "DEFAULT_PARSER_CLASSES": ["rest_framework.parsers.JSONParser"],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 100,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "api.problems.problem_exception_handler",
    "UNAUTHENTICATED_USER": None,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Codes of conduct portal API",
    "DESCRIPTION": "Schools, codes and versions, carers' standing, declarations, imports, invitations and exports. "
    "Send an API key made on the staff pages as `Authorization: Bearer <key>`. Errors are RFC 9457 problem details.",
    "VERSION": "1",
    "SERVE_INCLUDE_SCHEMA": False,
    "SERVE_PERMISSIONS": ["rest_framework.permissions.AllowAny"],
    "SERVE_AUTHENTICATION": [],
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    "POSTPROCESSING_HOOKS": [
        "drf_spectacular.hooks.postprocess_schema_enums",
        "api.problems.add_problem_responses",
    ],
}

# --- Evidence: sealed declaration PDFs (evidence/pdf.py, evidence/seal.py) ----------
# The portal seals every declaration PDF with this certificate and key (a PKCS#12 file, .p12 or
# .pfx). Required in production, checked when the first PDF is sealed or verified; in
# development a self-signed one is made under PORTAL_SIGNING_DIR on first use.
PORTAL_SIGNING_CERT = env("PORTAL_SIGNING_CERT", "")
PORTAL_SIGNING_CERT_PASSWORD = env("PORTAL_SIGNING_CERT_PASSWORD", "")
PORTAL_SIGNING_DIR = VAR_DIR / "signing"

# --- Retention (evidence/retention.py: daily in `manage.py run_scheduled`, or apply_retention) -
# Declarations, and carers whose children have all left, follow each school's own setting
# ("years declarations are kept after a pupil leaves", 6 by default). The rest follow these.
# The audit log: events older than this are deleted (not the records of a declaration deleted
# at the end of its retention period, which name no one and let /verify/ say what became of it).
PORTAL_AUDIT_LOG_KEEP_YEARS = env_positive_int("PORTAL_AUDIT_LOG_KEEP_YEARS", 6)
# The outbox: the address (and any error text) of an e-mail sent, failed or not needed this
# many days ago is blanked; the row, saying what was sent when, is kept.
PORTAL_EMAIL_ADDRESS_KEEP_DAYS = env_positive_int("PORTAL_EMAIL_ADDRESS_KEEP_DAYS", 90)
# Signing requests whose link expired this many days ago are deleted, unless a declaration or a
# decline points at one, or it is a carer's request for what the school asks them to sign now.
PORTAL_EXPIRED_LINK_KEEP_DAYS = env_positive_int("PORTAL_EXPIRED_LINK_KEEP_DAYS", 365)
# Background tasks that finished (succeeded or failed) this many days ago are deleted.
PORTAL_TASK_RESULT_KEEP_DAYS = env_positive_int("PORTAL_TASK_RESULT_KEEP_DAYS", 30)

# --- Families import (schools/imports/) ------------------------------------------------------
# What one uploaded export may hold. A whole secondary school is about 6,000 rows of a few
# dozen columns; these leave room for the largest school several times over, and stop a
# workbook that expands to gigabytes, or a million rows, before it takes the machine.
PORTAL_IMPORT_MAX_FILE_BYTES = 10 * 1024 * 1024  # the file as uploaded
PORTAL_IMPORT_MAX_UNCOMPRESSED_BYTES = 100 * 1024 * 1024  # an .xlsx's parts, unzipped, added up
PORTAL_IMPORT_MAX_WORKBOOK_PARTS = 1000  # files inside an .xlsx (a normal one has a few dozen)
PORTAL_IMPORT_MAX_ROWS = 20_000  # rows as the spreadsheet numbers them, the header included
PORTAL_IMPORT_MAX_COLUMNS = 500  # cells in one row
PORTAL_IMPORT_MAX_CELLS = 1_000_000  # cells in the whole file (each costs time to read)
PORTAL_IMPORT_MAX_CELL_CHARACTERS = 1_000  # characters in one cell
