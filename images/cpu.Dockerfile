# Corpus stages, tokenizer, evaluation, registration, the pipeline's coordinating tasks, and the MLflow server.
# Build from the repository root (`make images` builds it, with a base from Debian's packages where no registry
# base can be pulled):
#   podman build -f images/cpu.Dockerfile -t ghcr.io/<you>/polyglot-ko-cpu:0.1.0 .
# Entry point: `polyglot-ko` (tasks run `polyglot-ko stage NAME ...`).
# BASE: any Debian bookworm image with python3 and python3-venv; the published Python image by default.
# checkov:skip=CKV_DOCKER_7: every base is a build argument pinned to a version tag here; checkov reads the
# argument unresolved
ARG BASE=docker.io/library/python:3.11.11-slim-bookworm
FROM ${BASE} AS build
# Where pip finds packages: CPU wheels of PyTorch by default. The build passes other sources (a mirror, a
# wheelhouse) through these, pip's own variables, so nothing here names them.
ARG PIP_EXTRA_INDEX_URL=https://download.pytorch.org/whl/cpu
ARG PIP_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
# A compiler for DeepSpeed's CPU communication op (shared-memory allreduce, JIT-built at the first
# init_distributed otherwise: the runtime image has no compiler and a read-only root), and Python's headers
# where the base lacks them. The base image's release pins these packages' versions.
# hadolint ignore=DL3008,SC2086
RUN pkgs="g++" \
 && if [ ! -e "$(python3 -c 'import sysconfig; print(sysconfig.get_paths()["include"])')/Python.h" ]; then \
      pkgs="$pkgs python3-dev"; fi \
 && apt-get update && apt-get install -y --no-install-recommends $pkgs && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY requirements.lock ./
# DeepSpeed first, against the locked torch, with that op compiled in (its build needs torch: no isolation);
# only the lock file above it, so an edit elsewhere does not rebuild this layer.
RUN python3 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir pip==25.3 \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock torch ninja setuptools wheel \
 && DS_ACCELERATOR=cpu DS_BUILD_OPS=0 DS_BUILD_SHM_COMM=1 \
    /opt/venv/bin/pip install --no-cache-dir --no-build-isolation -c requirements.lock deepspeed
COPY pyproject.toml README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
# Every other version from the lock file; a non-editable install, so the image needs no source tree.
RUN /opt/venv/bin/pip install --no-cache-dir -c requirements.lock ".[server]"

FROM ${BASE}
# libgomp: the OpenMP runtime the compiled DeepSpeed op links
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends libgomp1 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin polyglot
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
