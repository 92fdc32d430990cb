# Pretraining on GPU nodes: PyTorch (CUDA 12.8 build), DeepSpeed, flash attention through PyTorch SDPA.
#   podman build -f images/cuda.Dockerfile -t polyglot-ko-cuda:0.1.0 .
FROM nvidia/cuda:12.8.1-cudnn-devel-ubuntu24.04 AS build
RUN apt-get update && apt-get install -y --no-install-recommends python3.12 python3.12-venv g++ \
 && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
RUN python3.12 -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir torch==2.13.0 --index-url https://download.pytorch.org/whl/cu128 \
 && /opt/venv/bin/pip install --no-cache-dir .

FROM nvidia/cuda:12.8.1-cudnn-runtime-ubuntu24.04
RUN apt-get update && apt-get install -y --no-install-recommends python3.12 g++ \
 && rm -rf /var/lib/apt/lists/* && useradd --uid 10001 --create-home --shell /usr/sbin/nologin polyglot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1
USER 10001
WORKDIR /home/polyglot
ENTRYPOINT ["polyglot-ko"]
