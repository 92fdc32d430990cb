"""Where each task's pod runs in cluster mode, decided once: image, resources, GPU scheduling, environment and
secrets, service account, labels, security context, retries.

`placement(cfg, task)` is the whole decision for one task of the graph (contract/graph.py); the KFP adapter
(dags/kfp_pipeline.py), the Airflow adapter (dags/polyglot_ko_cluster_dag.py) and the training-job adapter
(training/k8s/jobs.py, from `trainer_placement`) only translate it into their own objects, and a test renders
every task under KFP and Airflow and compares the two field by field. What a task runs (its argv) is the graph's.
Standard library only (plus the config dataclasses): the Airflow environment imports it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from ..contract import graph

UID = 10001                        # the images' non-root user (images/*.Dockerfile)
PART_OF = {"app.kubernetes.io/part-of": "polyglot-ko"}
ROLE = "polyglot-ko.org/role"      # what infra/ network policies select: pipeline task pods, trainer pods
SCRATCH = "/tmp"                   # the one writable path under the read-only root filesystem (an emptyDir)

# Pod Security "restricted", written once for every pod this project creates.
POD_SECURITY = {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
                "seccompProfile": {"type": "RuntimeDefault"}}
CONTAINER_SECURITY = {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
                      "runAsUser": UID, "runAsGroup": UID, "capabilities": {"drop": ["ALL"]},
                      "seccompProfile": {"type": "RuntimeDefault"}}


@dataclass(frozen=True)
class Placement:
    task: str
    image: str
    pull_policy: str
    cpu: str
    memory: str
    gpus: int
    gpu_resource: str
    node_selector: dict[str, str]
    tolerations: list[dict[str, str]]
    env: dict[str, str]
    secret_env: dict[str, tuple[str, str]]     # VAR -> (Secret name, key)
    service_account: str
    namespace: str
    labels: dict[str, str]
    retries: int
    pod_security: dict = field(default_factory=lambda: dict(POD_SECURITY))
    container_security: dict = field(default_factory=lambda: dict(CONTAINER_SECURITY))
    scratch: str = SCRATCH

    def resources(self) -> dict:
        amounts = {"cpu": self.cpu, "memory": self.memory}
        if self.gpus:
            amounts[self.gpu_resource] = str(self.gpus)
        return {"requests": dict(amounts), "limits": dict(amounts)}


def _secret_env(s3_secret: str | None, mlflow_secret: str | None) -> dict[str, tuple[str, str]]:
    out = {}
    if s3_secret:
        out.update({k: (s3_secret, k) for k in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY")})
    if mlflow_secret:
        out.update({k: (mlflow_secret, k) for k in ("MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")})
    return out


def placement(cfg, task: graph.Task) -> Placement:
    """The pod of one pipeline task under this run config."""
    c = cfg.cluster
    if task.node is None:
        res = graph.COORDINATOR
    else:
        res = (task.step.resources if task.step else None) or graph.resources(task.node, cfg)
    gpu = res.gpus > 0
    env = {"MLFLOW_TRACKING_URI": c.mlflow_tracking_uri, "HOME": c.workdir, "PYTHONUNBUFFERED": "1",
           "POLYGLOT_KO_WORKDIR": c.workdir}
    if cfg.s3_endpoint_url:
        env["AWS_ENDPOINT_URL"] = cfg.s3_endpoint_url
    return Placement(
        task=task.name, image=c.cuda_image if res.image == "cuda" else c.cpu_image, pull_policy=c.image_pull_policy,
        cpu=res.cpu, memory=res.memory, gpus=res.gpus, gpu_resource=c.gpu_resource,
        node_selector=dict(c.gpu_node_selector) if gpu else {},
        tolerations=[dict(t) for t in c.gpu_tolerations] if gpu else [], env=env,
        secret_env=_secret_env(c.s3_secret, c.mlflow_secret), service_account=c.service_account,
        namespace=c.namespace, labels={**PART_OF, "app.kubernetes.io/component": task.name, ROLE: "pipeline"},
        retries=c.retries)


def trainer_placement(p, endpoint_url: str | None, mlflow_uri: str | None) -> Placement:
    """The pod of every node of the Kubernetes training job (`p`: the PretrainConfig; its `kubernetes` section),
    for training/k8s/jobs.py."""
    k = p.kubernetes
    env = {"PYTHONUNBUFFERED": "1", "DS_ACCELERATOR": p.device, "HOME": SCRATCH,
           "TORCH_EXTENSIONS_DIR": f"{SCRATCH}/torch_extensions"}
    if endpoint_url:
        env["AWS_ENDPOINT_URL"] = endpoint_url
    if mlflow_uri and not mlflow_uri.startswith(("sqlite:", "file:", "/")):
        env["MLFLOW_TRACKING_URI"] = mlflow_uri
    env.update(sorted(k.env.items()))
    return Placement(
        task="pretrain", image=k.image, pull_policy="IfNotPresent", cpu=k.cpu, memory=k.memory,
        gpus=p.nproc if p.device == "cuda" else 0, gpu_resource=k.gpu_resource, node_selector=dict(k.node_selector),
        tolerations=[dict(t) for t in k.tolerations], env=env, secret_env=_secret_env(k.s3_secret, k.mlflow_secret),
        service_account=k.service_account, namespace=k.namespace,
        labels={**PART_OF, "app.kubernetes.io/component": "pretrain", ROLE: "trainer"}, retries=k.max_restarts)

