# Pretraining (and GPU evaluation) on GPU nodes: PyTorch CUDA 12.8 build, DeepSpeed, FlashAttention 2.
#   podman build -f images/cuda.Dockerfile -t ghcr.io/<you>/polyglot-ko-train-cuda:0.1.0 .
# Training pods run `torchrun -m training.train --args s3://...` (training/k8s/jobs.py); tasks `polyglot-ko ...`.
# checkov:skip=CKV_DOCKER_7: every base is a build argument pinned to a version tag here; checkov reads the
# argument unresolved
ARG BASE=docker.io/nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04
ARG RUNTIME_BASE=docker.io/nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
FROM ${BASE} AS build
# pip's own variables, as in cpu.Dockerfile: a mirror or a wheelhouse the build passes
ARG PIP_INDEX_URL
ARG PIP_EXTRA_INDEX_URL
ARG PIP_FIND_LINKS
ARG PIP_CERT
ARG FLASH_ATTN_VERSION=2.8.3
# Ubuntu's packages follow the pinned base image release; their point versions are not pinned separately.
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3.12 python3.12-venv python3.12-dev g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
RUN python3.12 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir pip==25.3 \
 && /opt/venv/bin/pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128 \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock . \
 && MAX_JOBS=8 /opt/venv/bin/pip install --no-cache-dir --no-build-isolation "flash-attn==${FLASH_ATTN_VERSION}"

FROM ${RUNTIME_BASE}
# hadolint ignore=DL3008
RUN apt-get update && apt-get install -y --no-install-recommends python3.12 \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --uid 10001 --user-group --create-home --shell /usr/sbin/nologin polyglot
COPY --from=build /opt/venv /opt/venv
COPY --chown=root:root configs /opt/polyglot-ko/configs
COPY --chown=root:root data /opt/polyglot-ko/data
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HOME=/tmp TORCH_EXTENSIONS_DIR=/tmp/torch_extensions
WORKDIR /opt/polyglot-ko
USER 10001
HEALTHCHECK NONE
ENTRYPOINT ["polyglot-ko"]
