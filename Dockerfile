# incidentbot's daemon: `docker run -v /srv/checkouts/shop:/repo -p 8080:8080 -e SLACK_BOT_TOKEN=… incidentbot`
FROM python:3.12-slim

# git: blame and history are read with the git binary.
RUN apt-get update \
 && apt-get install -y --no-install-recommends git \
 && rm -rf /var/lib/apt/lists/*

WORKDIR /src
COPY pyproject.toml README.md ./
COPY incidentbot incidentbot
COPY linkers linkers
COPY reporters reporters
COPY prompts prompts
RUN pip install --no-cache-dir . && rm -rf /src

RUN useradd --create-home --uid 10001 incidentbot
USER incidentbot
WORKDIR /home/incidentbot
# The mounted checkout belongs to another user: let git read it.
RUN git config --global --add safe.directory /repo

ENV INCIDENTBOT_HOST=0.0.0.0 \
    INCIDENTBOT_PORT=8080 \
    INCIDENTBOT_REPO=/repo \
    INCIDENTBOT_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=30s --timeout=5s \
  CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8080/healthz', timeout=4)"
ENTRYPOINT ["incidentbot"]
CMD ["run"]
