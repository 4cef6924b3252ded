# One image for the API, the scheduler and the dispatcher: `docker run IMAGE serve|scheduler|dispatcher|migrate`.
FROM python:3.11-slim-bookworm AS build
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /app
RUN python -m venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH
COPY pyproject.toml README.md ./
COPY api ./api
COPY core ./core
COPY notifications ./notifications
RUN pip install --upgrade pip && pip install .

FROM python:3.11-slim-bookworm AS runtime
ENV PATH=/opt/venv/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1 \
    GLUCODIARY_ENV=production \
    GLUCODIARY_DATA_DIR=/var/lib/glucodiary
RUN groupadd --system --gid 10001 glucodiary \
    && useradd --system --uid 10001 --gid glucodiary --home-dir /app --shell /usr/sbin/nologin glucodiary \
    && mkdir -p /var/lib/glucodiary && chown glucodiary:glucodiary /var/lib/glucodiary
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
# the installed package lives in site-packages; tell it where the migration scripts are
COPY --chown=glucodiary:glucodiary alembic ./alembic
ENV GLUCODIARY_MIGRATIONS_DIR=/app/alembic
USER glucodiary
EXPOSE 8000
# the API answers /health; the dispatcher and the scheduler have no port, so their check is that they run
HEALTHCHECK --interval=30s --timeout=3s --start-period=10s CMD python -c "import sys,urllib.request; serving = b'serve' in open('/proc/1/cmdline','rb').read().split(b'\0'); sys.exit(0 if not serving or urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2).status == 200 else 1)"
# SIGTERM lets the dispatcher finish the batch in hand and release the rest (docker stop waits 10 s by default)
STOPSIGNAL SIGTERM
ENTRYPOINT ["glucodiary"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8000"]
