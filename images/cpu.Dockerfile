# Corpus stages, tokenizer, evaluation, registration, the pipeline's coordinating tasks, and the MLflow server.
# Build from the repository root:
#   podman build -f images/cpu.Dockerfile -t ghcr.io/<you>/polyglot-ko-cpu:0.1.0 .
# Entry point: `polyglot-ko` (tasks run `polyglot-ko stage NAME ...`).
FROM docker.io/library/python:3.11.11-slim-bookworm AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
# CPU wheels of PyTorch; every other version from the lock file.
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir pip==25.3 \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock \
      --extra-index-url https://download.pytorch.org/whl/cpu ".[server]"

FROM docker.io/library/python:3.11.11-slim-bookworm
RUN useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin polyglot
COPY --from=build /opt/venv /opt/venv
# Configs name the bundled data (KoBEST, the reference tokenizer) relative to the working directory.
COPY --chown=root:root configs /opt/polyglot-ko/configs
COPY --chown=root:root data /opt/polyglot-ko/data
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1 HOME=/tmp
WORKDIR /opt/polyglot-ko
USER 10001
# Batch tasks have no health endpoint; the MLflow server is probed by Kubernetes (infra/base/mlflow.yaml).
HEALTHCHECK NONE
ENTRYPOINT ["polyglot-ko"]
CMD ["--help"]
