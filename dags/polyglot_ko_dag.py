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
        # where `finish` also writes this run's summary (JSON); empty: nowhere (the parent run in MLflow has it)
        "summary_file": Param("", type="string"),
    },
    tags=["polyglot-ko"],
    default_args={"retries": 1, "retry_delay": timedelta(seconds=15)},
) as dag:
    def bash(argv: list[str]) -> str:
        return " ".join([shlex.quote(BIN)] + [shlex.quote(a) for a in argv])

    workdir = "{{ params.workdir }}"
    begin = BashOperator(task_id="begin", cwd=str(ROOT),
                         bash_command=bash(graph.begin_argv(config="{{ params.config }}", workdir=workdir)))
    tasks = {}
    for node in graph.STAGES:
        argv = graph.stage_argv(node, workdir=workdir, parent_run_id=xcom("begin"),
                                inputs={role: xcom(graph.task_name(src)) for role, src in node.inputs.items()})
        t = BashOperator(task_id=graph.task_name(node.name), cwd=str(ROOT), bash_command=bash(argv))
        for src in {*node.inputs.values()}:
            tasks[src] >> t
        if not node.inputs:
            begin >> t
        tasks[node.name] = t
    last = graph.STAGES[-1].name
    finish_argv = graph.finish_argv(workdir=workdir, parent_run_id=xcom("begin"), last_uri=xcom(graph.task_name(last)))
    finish = BashOperator(task_id="finish", cwd=str(ROOT),
                          bash_command=bash(finish_argv + ["--output-file", "{{ params.summary_file }}"]))
    tasks[last] >> finish
