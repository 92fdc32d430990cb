"""The stage graph as an Airflow 3 DAG in cluster mode: every stage a pod running `polyglot-ko ...` in its image.

Built from components.contract.graph (the wiring) and components.cluster.placement (images, resources, GPU scheduling, secrets),
the same descriptions the KFP pipeline uses. Corpus stages map one pod per shard (dynamic task mapping), then
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
from components.cluster import placement as cluster
from components.contract import graph  # noqa: E402  (standard library + the config dataclasses)
from components.contract.config import load_config  # noqa: E402

DAG_ID = "polyglot_ko_cluster"
# Airflow's run id, made safe for an object key: one folder of handoff files per DAG run.
RUN_KEY = "{{ run_id | replace(':', '-') | replace('+', '-') }}"


def handoff(artifact_root: str, name: str) -> str:
    return f"{artifact_root.rstrip('/')}/runs/airflow/{RUN_KEY}/{name}.uri"


def pod_kwargs(pod: cluster.Pod, task_id: str) -> dict:
    """KubernetesPodOperator arguments (all but `arguments`) from a cluster.Pod description."""
    from airflow.providers.cncf.kubernetes.secret import Secret
    from kubernetes.client import models as k8s

    return dict(
        task_id=task_id, name=f"polyglot-ko-{task_id.replace('_', '-')}", namespace=pod.namespace,
        image=pod.image, image_pull_policy=pod.pull_policy, cmds=["polyglot-ko"],
        env_vars=[k8s.V1EnvVar(name=k, value=v) for k, v in sorted(pod.env.items())],
        secrets=[Secret("env", deploy_target=var, secret=secret, key=key)
                 for var, (secret, key) in sorted(pod.secret_env.items())],
        container_resources=k8s.V1ResourceRequirements(**pod.resources()),
        node_selector=pod.node_selector or None,
        tolerations=[k8s.V1Toleration(**t) for t in pod.tolerations] or None,
        service_account_name=pod.service_account,
        volumes=[k8s.V1Volume(name="scratch", empty_dir=k8s.V1EmptyDirVolumeSource())],
        volume_mounts=[k8s.V1VolumeMount(name="scratch", mount_path="/tmp")],
        security_context=k8s.V1PodSecurityContext(run_as_non_root=True, run_as_user=cluster.UID,
                                                  run_as_group=cluster.UID, fs_group=cluster.UID,
                                                  seccomp_profile=k8s.V1SeccompProfile(type="RuntimeDefault")),
        container_security_context=pod.container_security(),
        labels={"app.kubernetes.io/part-of": "polyglot-ko", "app.kubernetes.io/component": task_id,
                cluster.ROLE_LABEL[0]: cluster.ROLE_LABEL[1]},
        get_logs=True, on_finish_action="delete_succeeded_pod", retries=pod.retries,
        retry_delay=timedelta(minutes=1), retry_exponential_backoff=True)


def build_dag(cfg, config_uri: str):
    from airflow.providers.cncf.kubernetes.operators.pod import KubernetesPodOperator as Pod
    from airflow.sdk import DAG, Asset

    root = (cfg.artifact_root or "").rstrip("/")
    assets = {"curate": Asset(name="polyglot_ko_curated_corpus", uri=f"{root}/curate"),
              "register": Asset(name=f"polyglot_ko_model_{cfg.register.model_name}", uri=f"{root}/register")}
    with DAG(dag_id=DAG_ID, description="Korean GPT-NeoX on Kubernetes: collect, curate, tokenize, pretrain, "
                                        "evaluate, register", schedule=cfg.cluster.schedule,
             start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=1,
             tags=["polyglot-ko", "cluster"]) as dag:
        pod = cluster.begin_pod(cfg, config_uri)
        begin = Pod(arguments=pod.args + ["--output-file", handoff(root, "begin")], **pod_kwargs(pod, "begin"))
        parent = "@" + handoff(root, "begin")
        tasks = {}
        for node in graph.STAGES:
            inputs = {role: "@" + handoff(root, src) for role, src in node.inputs.items()}
            pod = cluster.stage_pod(cfg, node, parent, inputs)
            kw = pod_kwargs(pod, cluster.task_name(node.name))
            if node.name in assets:
                kw["outlets"] = [assets[node.name]]
            task = Pod(arguments=pod.args + ["--output-file", handoff(root, node.name)], **kw)
            upstream = [tasks[src] for src in dict.fromkeys(node.inputs.values())] or [begin]
            if node.sharded:     # one pod per shard, then the reduce step (which reruns any missing shard)
                shard = cluster.shard_pod(cfg, node, parent, inputs, "0")
                argv = [shard.args[:-1] + [str(rank)] for rank in range(cluster.world_size(cfg, node))]
                shards = Pod.partial(max_active_tis_per_dag=cfg.cluster.max_parallel_shards,
                                     **pod_kwargs(shard, cluster.task_name(node.name, "shard"))).expand(arguments=argv)
                upstream >> shards >> task
            else:
                upstream >> task
            tasks[node.name] = task
        last = graph.STAGES[-1].name
        pod = cluster.finish_pod(cfg, parent, last, "@" + handoff(root, last))
        tasks[last] >> Pod(arguments=pod.args, **pod_kwargs(pod, "finish"))
    return dag


_config = os.environ.get("POLYGLOT_KO_CLUSTER_CONFIG")
if _config:
    _cfg = load_config(_config)
    dag = build_dag(_cfg, os.environ.get("POLYGLOT_KO_CLUSTER_CONFIG_URI")
                    or f"{(_cfg.artifact_root or '').rstrip('/')}/configs/{DAG_ID}.yaml")
