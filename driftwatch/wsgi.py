"""WSGI entry point (gunicorn driftwatch.wsgi)."""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "driftwatch.settings")
application = get_wsgi_application()
