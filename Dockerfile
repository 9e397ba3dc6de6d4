# syntax=docker/dockerfile:1
# Build stage: build a wheel (it carries config/ and alembic/ as package data).
FROM python:3.11-slim AS build
WORKDIR /src
RUN pip install --no-cache-dir build
COPY pyproject.toml README.md alembic.ini ./
COPY src ./src
COPY config ./config
COPY alembic ./alembic
RUN python -m build --wheel --outdir /dist

# Runtime stage: the wheel in a virtualenv, run as an unprivileged user.
FROM python:3.11-slim AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PATH=/opt/venv/bin:$PATH \
    EARLYWARN_DATA_DIR=/var/lib/earlywarn \
    EARLYWARN_HOST=0.0.0.0 \
    EARLYWARN_PORT=8000
RUN python -m venv /opt/venv
COPY --from=build /dist/*.whl /tmp/
RUN pip install --no-cache-dir /tmp/*.whl && rm /tmp/*.whl \
    && useradd --system --uid 10001 --home-dir /var/lib/earlywarn --create-home earlywarn
USER earlywarn
WORKDIR /var/lib/earlywarn
VOLUME ["/var/lib/earlywarn"]
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 \
    CMD python -c "import os,sys,urllib.request; port=os.environ.get('EARLYWARN_PORT','8000'); sys.exit(0 if urllib.request.urlopen(f'http://127.0.0.1:{port}/livez', timeout=4).status == 200 else 1)"
ENTRYPOINT ["earlywarn"]
CMD ["serve"]
