# The Fieldline application image: web (`fieldline serve`), migrations, Celery worker and beat.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /srv/fieldline

# Every package listed in pyproject's [tool.setuptools.packages.find], plus the migrations.
COPY pyproject.toml README.md alembic.ini ./
COPY alembic ./alembic
COPY app ./app
COPY dispatch ./dispatch
COPY knowledge_base ./knowledge_base
COPY surveys ./surveys

# var/kb-index belongs to the app's user: a named volume mounted there (docker-compose.yml) takes
# its owner from the image on first use, so the processes can write the knowledge-base index.
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /srv/fieldline --shell /usr/sbin/nologin fieldline \
    && mkdir -p /srv/fieldline/var/kb-index \
    && chown fieldline /srv/fieldline/var/kb-index

# alembic/ is not part of the installed package: import `app` from this directory so
# app.platform.config.ROOT (and with it alembic.ini) resolves here, not in site-packages.
ENV PYTHONPATH=/srv/fieldline \
    HOST=0.0.0.0 \
    PORT=8000

USER fieldline
EXPOSE 8000
CMD ["fieldline", "serve"]
