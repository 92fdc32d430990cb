"""The Airflow cluster DAG's pods for a config, rendered offline in the Airflow environment (its own venv): the
pod-spec tests and the rehearsal both start from them."""
from __future__ import annotations

import json
import os
import subprocess
from pathlib import Path

import yaml

from . import ROOT
AIRFLOW_PY = ROOT / ".venv-airflow" / "bin" / "python"


def render(config: Path, tmp: Path) -> dict:
    """Every task of the Airflow cluster DAG for `config`, its pod rendered offline (airflow_render_pods.py in
    .venv-airflow; the kubeconfig is a dummy: nothing connects)."""
    kubeconfig = tmp / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "x",
        "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:6443"}}],
        "users": [{"name": "x", "user": {"token": "dummy"}}],
        "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x", "namespace": "polyglot-ko"}}]}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update(KUBECONFIG=str(kubeconfig), POLYGLOT_KO_CLUSTER_CONFIG=str(config), AIRFLOW_HOME=str(tmp / "home"),
               AIRFLOW__CORE__LOAD_EXAMPLES="False", AIRFLOW__CORE__UNIT_TEST_MODE="True")
    proc = subprocess.run([str(AIRFLOW_PY), str(ROOT / "tests" / "support" / "airflow_render_pods.py")], env=env,
                          capture_output=True, text=True, timeout=600)
    if proc.returncode != 0:
        raise RuntimeError(f"rendering the Airflow cluster DAG failed:\n{proc.stdout[-3000:]}{proc.stderr[-3000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def graph_order(tasks: dict) -> list[str]:
    """The DAG's tasks in dependency order (ties in the DAG's own order)."""
    done: list[str] = []
    todo = list(tasks)
    while todo:
        ready = [t for t in todo if set(tasks[t]["upstream"]) <= set(done)]
        if not ready:
            raise RuntimeError(f"the DAG has a cycle among {todo}")
        done.append(ready[0])
        todo.remove(ready[0])
    return done
