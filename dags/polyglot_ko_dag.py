"""The stage graph as an Airflow 3 DAG, built from components.contract.graph (wiring written once).

Local mode: each task runs `polyglot-ko stage ...` from the project's own environment (Airflow lives in its own,
which never imports the heavy stack); stages hand each other manifest URIs through XCom (the CLI's last line).
Settings come from the DAG's params, defaulting to environment variables:
POLYGLOT_KO_CONFIG, POLYGLOT_KO_WORKDIR, POLYGLOT_KO_BIN.
"""
from __future__ import annotations

import os
import shlex
import sys
from datetime import timedelta
from pathlib import Path

from airflow.providers.standard.operators.bash import BashOperator
from airflow.sdk import DAG, Param

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from components.contract import graph  # noqa: E402  (standard library only)

BIN = os.environ.get("POLYGLOT_KO_BIN", str(ROOT / ".venv" / "bin" / "polyglot-ko"))


def task_id(stage: str) -> str:
    return stage.replace("-", "_")


def xcom(task: str) -> str:
    # Double quotes inside: the expression itself goes into single-quoted shell words.
    return '{{ ti.xcom_pull(task_ids="%s") }}' % task


with DAG(
    dag_id="polyglot_ko",
    description="Korean GPT-NeoX: collect, curate, tokenize, pretrain, evaluate, register",
    schedule=os.environ.get("POLYGLOT_KO_SCHEDULE") or None,
    catchup=False,
    max_active_runs=1,
    params={
        "config": Param(os.environ.get("POLYGLOT_KO_CONFIG", str(ROOT / "configs" / "demo.yaml")), type="string"),
        "workdir": Param(os.environ.get("POLYGLOT_KO_WORKDIR", str(ROOT / "workdir")), type="string"),
    },
    tags=["polyglot-ko"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=15)},
) as dag:
    cli = shlex.quote(BIN)
    begin = BashOperator(task_id="begin", cwd=str(ROOT),
                         bash_command=f"{cli} begin --config '{{{{ params.config }}}}' --workdir '{{{{ params.workdir }}}}'")
    tasks, previous = {}, begin
    for node in graph.STAGES:
        argv = graph.stage_argv(node, workdir="{{ params.workdir }}", parent_run_id=xcom("begin"),
                                inputs={role: xcom(task_id(src)) for role, src in node.inputs.items()})
        t = BashOperator(task_id=task_id(node.name), cwd=str(ROOT),
                         bash_command=" ".join([cli] + [shlex.quote(a) for a in argv]))
        for src in {*node.inputs.values()}:
            tasks[src] >> t
        if not node.inputs:
            previous >> t
        tasks[node.name] = t
    last = graph.STAGES[-1].name
    finish = BashOperator(
        task_id="finish", cwd=str(ROOT),
        bash_command=f"{cli} finish --workdir '{{{{ params.workdir }}}}' --parent-run-id {shlex.quote(xcom('begin'))}"
                     f" --input {last}={shlex.quote(xcom(task_id(last)))}")
    tasks[last] >> finish
