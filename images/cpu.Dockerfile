# Corpus stages, tokenizer, evaluation and registration. Build from the repository root:
#   podman build -f images/cpu.Dockerfile -t polyglot-ko-cpu:0.1.0 .
# Entry point: `polyglot-ko stage NAME ...` (what KFP tasks and Airflow pods run).
FROM python:3.11-slim AS build
WORKDIR /src
COPY pyproject.toml requirements.lock README.md ./
COPY components ./components
COPY training ./training
COPY dags ./dags
RUN python -m venv /opt/venv \
 && /opt/venv/bin/pip install --no-cache-dir --upgrade pip \
 && /opt/venv/bin/pip install --no-cache-dir -c requirements.lock \
      --extra-index-url https://download.pytorch.org/whl/cpu .

FROM python:3.11-slim
RUN useradd --uid 10001 --create-home --shell /usr/sbin/nologin polyglot
COPY --from=build /opt/venv /opt/venv
ENV PATH=/opt/venv/bin:$PATH PYTHONUNBUFFERED=1 HF_HUB_OFFLINE=1 HF_DATASETS_OFFLINE=1
USER 10001
WORKDIR /home/polyglot
ENTRYPOINT ["polyglot-ko"]
CMD ["--help"]
