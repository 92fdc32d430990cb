"""What a stage task's pod looks like in cluster mode, described once for both orchestrators.

The KFP adapter (dags/kfp_pipeline.py) and the Airflow adapter (dags/polyglot_ko_dag.py) turn these plain
descriptions into their own objects; neither decides an image, a resource, a secret or a GPU setting itself.
Standard library only (plus the config dataclasses): the Airflow environment imports it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..contract import graph

# Small pods for stages that only coordinate (pretrain with a Kubernetes launcher submits and watches a TrainJob).
COORDINATOR = graph.Resources(cpu="1", memory="2Gi", gpus=0, image="cpu")
UID = 10001   # the images' non-root user
ROLE_LABEL = ("polyglot-ko.org/role", "pipeline")   # what infra/ network policies select for task pods


@dataclass
class Pod:
    name: str
    image: str
    args: list[str]                                   # after the entry point `polyglot-ko`
    env: dict[str, str] = field(default_factory=dict)
    secret_env: dict[str, tuple[str, str]] = field(default_factory=dict)   # VAR -> (secret, key)
    cpu: str = "2"
    memory: str = "8Gi"
    gpus: int = 0
    gpu_resource: str = "nvidia.com/gpu"
    node_selector: dict[str, str] = field(default_factory=dict)
    tolerations: list[dict[str, str]] = field(default_factory=list)
    service_account: str = ""
    namespace: str = ""
    pull_policy: str = "IfNotPresent"
    retries: int = 0

    def resources(self) -> dict:
        amounts = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            amounts[self.gpu_resource] = str(self.gpus)
        return {"requests": dict(amounts), "limits": dict(amounts)}

    @staticmethod
    def container_security() -> dict:
        return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                "runAsUser": UID, "runAsGroup": UID, "capabilities": {"drop": ["ALL"]},
                "seccompProfile": {"type": "RuntimeDefault"}}


def resources_for(node: graph.StageNode, cfg) -> graph.Resources:
    """A stage's resources under this config: the pretrain task only coordinates when a TrainJob trains."""
    if node.name == "pretrain" and cfg.pretrain.launcher != "local":
        return COORDINATOR
    if node.name == "evaluate" and cfg.evaluate.device != "cuda":
        return graph.Resources(cpu="4", memory="16Gi", gpus=0, image="cpu")
    return node.resources


def base_env(cfg) -> tuple[dict[str, str], dict[str, tuple[str, str]]]:
    c = cfg.cluster
    env = {"MLFLOW_TRACKING_URI": c.mlflow_tracking_uri, "HOME": c.workdir, "PYTHONUNBUFFERED": "1",
           "POLYGLOT_KO_WORKDIR": c.workdir}
    if cfg.s3_endpoint_url:
        env["AWS_ENDPOINT_URL"] = cfg.s3_endpoint_url
    secrets = {}
    if c.s3_secret:
        secrets.update({k: (c.s3_secret, k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    if c.mlflow_secret:
        secrets.update({k: (c.mlflow_secret, k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")})
    return env, secrets


def pod(cfg, name: str, args: list[str], res: graph.Resources) -> Pod:
    c = cfg.cluster
    env, secrets = base_env(cfg)
    gpu = res.gpus > 0
    return Pod(name=name, image=c.cuda_image if res.image == "cuda" else c.cpu_image, args=args, env=env,
               secret_env=secrets, cpu=res.cpu, memory=res.memory, gpus=res.gpus, gpu_resource=c.gpu_resource,
               node_selector=dict(c.gpu_node_selector) if gpu else {},
               tolerations=[dict(t) for t in c.gpu_tolerations] if gpu else [], service_account=c.service_account,
               namespace=c.namespace, pull_policy=c.image_pull_policy, retries=c.retries)


def task_name(stage: str, suffix: str = "") -> str:
    return stage.replace("-", "_") + (f"_{suffix}" if suffix else "")


def begin_pod(cfg, config_uri: str) -> Pod:
    return pod(cfg, "begin", ["begin", "--config", config_uri, "--workdir", cfg.cluster.workdir], COORDINATOR)


def stage_pod(cfg, node: graph.StageNode, parent_run_id: str, inputs: dict[str, str]) -> Pod:
    argv = graph.stage_argv(node, workdir=cfg.cluster.workdir, parent_run_id=parent_run_id, inputs=inputs)
    return pod(cfg, task_name(node.name), argv, resources_for(node, cfg))


def shard_pod(cfg, node: graph.StageNode, parent_run_id: str, inputs: dict[str, str], rank: str) -> Pod:
    """One shard of a corpus stage; `rank` may be an orchestrator placeholder filled in per mapped task."""
    argv = graph.stage_argv(node, workdir=cfg.cluster.workdir, parent_run_id=parent_run_id, inputs=inputs)
    return pod(cfg, task_name(node.name, "shard"), argv + ["--shard", rank], resources_for(node, cfg))


def finish_pod(cfg, parent_run_id: str, last_stage: str, last_uri: str) -> Pod:
    args = ["finish", "--workdir", cfg.cluster.workdir, "--parent-run-id", parent_run_id,
            "--input", f"{last_stage}={last_uri}"]
    return pod(cfg, "finish", args, COORDINATOR)


def world_size(cfg, node: graph.StageNode) -> int:
    return cfg.section(node.name).world_size if node.sharded else 1
