# pmo-ledger service image: `pmo-ledger serve` as a non-root user.
#
#   docker build -t pmo-ledger .
#   docker run --rm -p 8080:8080 \
#     -v /srv/pmo-ledger/pmo-ledger.toml:/etc/pmo-ledger/pmo-ledger.toml:ro \
#     -e PMO_LEDGER_API_TOKEN -e PMO_LEDGER_DB_PASSWORD ... pmo-ledger
#
# The configuration comes from the mounted file, its secrets from the environment (`${VAR}`
# references) or mounted `*_file` paths. Migrate first, once per upgrade:
#   docker run --rm -v ...:/etc/pmo-ledger/pmo-ledger.toml:ro pmo-ledger db upgrade
# pyrfc (SAP) is not on PyPI and is not in this image: see docs/architecture.md ("SAP RFC").
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    PMO_LEDGER_CONFIG=/etc/pmo-ledger/pmo-ledger.toml

WORKDIR /opt/pmo-ledger
COPY pyproject.toml README.md ./
COPY ledger ledger
COPY jobs jobs
COPY connectors connectors
COPY migrations migrations
COPY config config
RUN pip install . \
    && useradd --system --uid 10001 --home-dir /var/lib/pmo-ledger --create-home pmo-ledger \
    && mkdir -p /etc/pmo-ledger

USER pmo-ledger
WORKDIR /var/lib/pmo-ledger
EXPOSE 8080
# The health check asks port 8080: change it too if CMD's --port changes.
HEALTHCHECK --interval=30s --timeout=5s --start-period=20s --retries=3 \
    CMD ["python", "-c", "import sys, urllib.request; sys.exit(urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4).status != 200)"]
# The API must listen beyond loopback in a container, so [service] api_token is required.
ENTRYPOINT ["pmo-ledger"]
CMD ["serve", "--host", "0.0.0.0", "--port", "8080"]
