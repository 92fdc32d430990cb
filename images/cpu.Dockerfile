# Corpus stages, tokenizer, evaluation, registration, the pipeline's coordinating tasks, and the MLflow server.
# Build from the repository root (`make images` builds it, with a base from Debian's packages where no registry
# base can be pulled):
#   podman build -f images/cpu.Dockerfile -t ghcr.io/<you>/polyglot-ko-cpu:0.1.0 .
# Entry point: `polyglot-ko` (tasks run `polyglot-ko stage NAME ...`).
# BASE: any Debian bookworm image with python3 and python3-venv; the published Python image by default.
ARG BASE=docker.io/library/python:3.11.11-slim-bookworm
FROM ${BASE} AS build
# Where pip finds packages: CPU wheels of PyTorch by default. The build passes other sources (a mirror, a
# wheelhouse) through these, pip's own variables, so nothing here names them.
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
# Every version from the lock file; a non-editable install, so the image needs no source tree.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir pip==25.3 \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock ".[server]"

FROM ${BASE}
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
