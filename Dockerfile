# DriftWatch production image: gunicorn serving Django (static files by whitenoise); the same image
# runs the Celery worker and beat (see docker-compose.yml).
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DRIFTWATCH_VAR_DIR=/app/var \
    PORT=8000

WORKDIR /app

# Dependencies in their own layer: rebuilt only when requirements.txt changes (all wheels, no compiler).
COPY requirements.txt .
RUN pip install -r requirements.txt

RUN useradd --system --uid 10001 --user-group --home-dir /app --shell /usr/sbin/nologin driftwatch
COPY . .

# Static files are collected into the image; the keys here are throw-away values that only let
# settings load with DEBUG off (the real ones come from the environment at run time).
RUN DEBUG=0 ALLOWED_HOSTS=localhost \
    SECRET_KEY="$(python -c 'import secrets; print(secrets.token_urlsafe(50))')" \
    DRIFTWATCH_ENCRYPTION_KEY="$(python -c 'from cryptography.fernet import Fernet; print(Fernet.generate_key().decode())')" \
    python manage.py collectstatic --noinput \
    && chown -R driftwatch:driftwatch /app/var

USER driftwatch
EXPOSE 8000

# Liveness only (/healthz). The Host header is the first ALLOWED_HOSTS entry, so the probe is not
# refused as a disallowed host.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD python -c "import os, urllib.request as u; h = os.environ.get('ALLOWED_HOSTS', 'localhost').split(',')[0].strip().lstrip('.'); h = 'localhost' if h in ('', '*') else h; u.urlopen(u.Request('http://127.0.0.1:' + os.environ.get('PORT', '8000') + '/healthz', headers={'Host': h}), timeout=4)"

CMD ["sh", "-c", "exec gunicorn driftwatch.wsgi --bind 0.0.0.0:${PORT} --workers ${WEB_CONCURRENCY:-3} --timeout 60 --access-logfile - --no-control-socket"]
