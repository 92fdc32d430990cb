"""Run in the Airflow environment: parse the cluster DAG and print every task's pod, rendered offline, as JSON.

    KUBECONFIG=<dummy> POLYGLOT_KO_CLUSTER_CONFIG=<config> .venv-airflow/bin/python tests/support/airflow_render_pods.py
"""
import json
import sys
from pathlib import Path

from airflow.dag_processing.dagbag import DagBag
from kubernetes.client import ApiClient

ROOT = Path(__file__).resolve().parents[2]
bag = DagBag(dag_folder=str(ROOT / "dags" / "polyglot_ko_cluster_dag.py"))
if bag.import_errors:
    print(json.dumps({"import_errors": {k: str(v) for k, v in bag.import_errors.items()}}))
    sys.exit(1)
dag = bag.dags["polyglot_ko_cluster"]
out = {"dag_id": dag.dag_id, "schedule": str(getattr(dag, "schedule", None)), "tasks": {}}
api = ApiClient()
for task in dag.tasks:
    mapped = type(task).__name__ == "MappedOperator"
    arguments = task.expand_input.value["arguments"] if mapped else None
    op = task.unmap({"arguments": arguments[0]}) if mapped else task
    pod = op.build_pod_request_obj()
    out["tasks"][task.task_id] = {
        "pod": api.sanitize_for_serialization(pod), "mapped": len(arguments) if mapped else 0,
        "all_arguments": arguments, "upstream": sorted(task.upstream_task_ids),
        "outlets": [getattr(a, "uri", str(a)) for a in (task.outlets or [])] if not mapped else [],
        "retries": op.retries}
print(json.dumps(out))
