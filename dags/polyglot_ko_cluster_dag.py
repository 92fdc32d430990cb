"""The stage graph as an Airflow 3 DAG in cluster mode: every stage a pod running `polyglot-ko ...` in its image.

Built from components.contract.graph (the wiring and every task's argv) and components.cluster.placement (where
each task's pod runs), the same descriptions the KFP pipeline uses; this file only translates them. Corpus stages map one pod per shard (dynamic task mapping), then
reduce; the pretrain pod submits and watches the TrainJob. Tasks hand each other manifest URIs through small
files in object storage (`--output-file` / `@URI`), not XCom. The schedule comes from the config
(`cluster.schedule`); collection is incremental, so a scheduled run reads only new files. The curated corpus and
the registered model are Airflow Assets that other DAGs can be scheduled on.

The config is read when the DAG file is parsed: POLYGLOT_KO_CLUSTER_CONFIG (a YAML file next to the DAGs);
without it, this file defines no DAG.
"""
from __future__ import annotations

import os
import sys
from datetime import datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from components.cluster import placement  # noqa: E402  (standard library + the config dataclasses)
from components.contract import graph  # noqa: E402
from components.contract.config import load_config  # noqa: E402

DAG_ID = "polyglot_ko_cluster"
# Airflow's run id, made safe for an object key: one folder of handoff files per DAG run.
RUN_KEY = "{{ run_id | replace(':', '-') | replace('+', '-') }}"


def handoff(artifact_root: str, name: str) -> str:
    return f"{artifact_root.rstrip('/')}/runs/airflow/{RUN_KEY}/{name}.uri"


def pod_kwargs(p: placement.Placement) -> dict:
    """KubernetesPodOperator arguments (all but `arguments`): a translation of the task's placement."""
    from airflow.providers.cncf.kubernetes.secret import Secret
    from kubernetes.client import models as k8s

    return dict(
        task_id=p.task, name=f"polyglot-ko-{p.task.replace('_', '-')}", namespace=p.namespace,
        image=p.image, image_pull_policy=p.pull_policy, cmds=["polyglot-ko"],
        env_vars=[k8s.V1EnvVar(name=k, value=v) for k, v in sorted(p.env.items())],
        secrets=[Secret("env", deploy_target=var, secret=secret, key=key)
                 for var, (secret, key) in sorted(p.secret_env.items())],
        container_resources=k8s.V1ResourceRequirements(**p.resources()),
        node_selector=p.node_selector or None,
        tolerations=[k8s.V1Toleration(**t) for t in p.tolerations] or None,
        service_account_name=p.service_account,
        volumes=[k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())],
        volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path=p.scratch)],
        security_context=dict(p.pod_security), container_security_context=dict(p.container_security),
        labels=dict(p.labels), get_logs=True, on_finish_action="delete_succeeded_pod", retries=p.retries,
        retry_delay=timedelta(minutes=1), retry_exponential_backoff=True)


def build_dag(cfg, config_uri: str):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator as Pod
    from airflow.sdk import DAG, Asset

    root = (cfg.artifact_root or "").rstrip("/")
    workdir = cfg.cluster.workdir
    assets = {"curate": Asset(name="polyglot_ko_curated_corpus", uri=f"{root}/curate"),
              "register": Asset(name=f"polyglot_ko_model_{cfg.register.model_name}", uri=f"{root}/register")}
    with DAG(dag_id=DAG_ID, description="Korean GPT-NeoX on Kubernetes: collect, curate, tokenize, pretrain, "
                                        "evaluate, register", schedule=cfg.cluster.schedule,
             start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
             tags=["polyglot-ko", "cluster"]) as dag:
        parent, last = "@" + handoff(root, "begin"), graph.STAGES[-1].name
        ops: dict = {}          # stage name -> its (reduce) task
        begin = previous = None      # previous: the last step task of the current corpus stage

        def upstream(node) -> list:
            return [previous] if previous is not None else \
                [ops[src] for src in dict.fromkeys(node.inputs.values())] or [begin]

        for task in graph.tasks():
            p, node = placement.placement(cfg, task), task.node
            kw = pod_kwargs(p)
            values = {"config_uri": config_uri, "parent_run_id": parent, "last_uri": "@" + handoff(root, last),
                      **{role: "@" + handoff(root, src) for role, src in (node.inputs if node else {}).items()}}
            if task.name == "begin":
                argv = graph.task_argv(task, workdir, values) + ["--output-file", handoff(root, "begin")]
                begin = Pod(arguments=argv, **kw)
            elif node is None:
                ops[last] >> Pod(arguments=graph.task_argv(task, workdir, values), **kw)
            elif task.step and task.step.fans_out:    # one pod per task of the step, mapped
                argv = [graph.task_argv(task, workdir, {**values, "rank": rank})
                        for rank in range(graph.width(node, task.step, cfg))]
                op = Pod.partial(max_active_tis_per_dag=cfg.cluster.max_parallel_shards, **kw).expand(
                    arguments=argv)
                upstream(node) >> op
                previous = op
            elif task.step:
                op = Pod(arguments=graph.task_argv(task, workdir, values), **kw)
                upstream(node) >> op
                previous = op
            else:                # the stage's reduce (it reruns any task that is missing)
                if node.name in assets:
                    kw["outlets"] = [assets[node.name]]
                argv = graph.task_argv(task, workdir, values) + ["--output-file", handoff(root, node.name)]
                op = Pod(arguments=argv, **kw)
                upstream(node) >> op
                ops[node.name], previous = op, None
    return dag


_config = os.environ.get("POLYGLOT_KO_CLUSTER_CONFIG")
if _config:
    _cfg = load_config(_config)
    dag = build_dag(_cfg, os.environ.get("POLYGLOT_KO_CLUSTER_CONFIG_URI")
                    or f"{(_cfg.artifact_root or '').rstrip('/')}/configs/{DAG_ID}.yaml")
