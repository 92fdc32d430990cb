"""Training job specs for Kubernetes, from a pretrain config.

Both kinds run the same container command as the local launcher (torchrun -m training.train --args URI); the
controller provides the rendezvous (Kubeflow Trainer and the Training Operator both set torchrun's PET_*
variables). One pod per node; /dev/shm from memory for NCCL; the checkpoint volume shared by all nodes; S3 and
MLflow credentials read from Secrets by reference; Pod Security "restricted" settings.
"""
from __future__ import annotations

import copy
from pathlib import Path

from components.cluster.placement import UID   # the images' non-root user: one definition for every pod

TRAINJOB_API = "trainer.kubeflow.org/v1alpha1"
PYTORCHJOB_API = "kubeflow.org/v1"
PART_OF = {"app.kubernetes.io/part-of": "polyglot-ko", "app.kubernetes.io/component": "pretrain"}
POD_LABELS = {**PART_OF, "polyglot-ko.org/role": "trainer"}   # what infra/ network policies select


def job_name(key: str) -> str:
    """Named by the content address: a retried pipeline task finds the job it already started."""
    return f"pk-pretrain-{key[:16].lower()}"


def command(args_uri: str, grace_s: int) -> list[str]:
    # torchrun forwards the kubelet's SIGTERM to the workers, which checkpoint and exit; it must not SIGKILL
    # them (its default: after 30 s) before the pod's grace period is nearly over.
    return ["torchrun", "--shutdown-timeout", str(max(grace_s - 30, 30)), "-m", "training.train", "--args", args_uri]


def env(cfg, endpoint_url: str | None, mlflow_uri: str | None) -> list[dict]:
    k = cfg.kubernetes
    out = [{"name": "PYTHONUNBUFFERED", "value": "1"}, {"name": "DS_ACCELERATOR", "value": cfg.device},
           {"name": "HOME", "value": "/tmp"}, {"name": "TORCH_EXTENSIONS_DIR", "value": "/tmp/torch_extensions"}]
    if endpoint_url:
        out.append({"name": "AWS_ENDPOINT_URL", "value": endpoint_url})
    if mlflow_uri and not mlflow_uri.startswith(("sqlite:", "file:", "/")):
        out.append({"name": "MLFLOW_TRACKING_URI", "value": mlflow_uri})
    secrets = [(k.s3_secret, ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"]),
               (k.mlflow_secret, ["MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD"])]
    for secret, keys in secrets:
        for key in keys if secret else ():
            out.append({"name": key, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}})
    out += [{"name": n, "value": v} for n, v in sorted(k.env.items())]
    return out


def resources(cfg) -> dict:
    k = cfg.kubernetes
    amounts = {"cpu": k.cpu, "memory": k.memory}
    if cfg.device == "cuda":
        amounts[k.gpu_resource] = str(cfg.nproc)
    return {"requests": dict(amounts), "limits": dict(amounts)}


def container_security() -> dict:
    return {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True, "runAsNonRoot": True,
            "capabilities": {"drop": ["ALL"]}, "seccompProfile": {"type": "RuntimeDefault"}}


def pod_security() -> dict:
    return {"runAsNonRoot": True, "runAsUser": UID, "runAsGroup": UID, "fsGroup": UID,
            "seccompProfile": {"type": "RuntimeDefault"}}


def volumes(cfg) -> tuple[list[dict], list[dict]]:
    k = cfg.kubernetes
    vols = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": k.shm_size}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "checkpoints", "persistentVolumeClaim": {"claimName": k.checkpoint_claim}}]
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}, {"name": "scratch", "mountPath": "/tmp"},
              {"name": "checkpoints", "mountPath": k.checkpoint_mount}]
    return vols, mounts


def pod_spec_settings(cfg) -> dict:
    k = cfg.kubernetes
    vols, _ = volumes(cfg)
    return {"serviceAccountName": k.service_account, "nodeSelector": dict(k.node_selector),
            "tolerations": [dict(t) for t in k.tolerations], "securityContext": pod_security(),
            "terminationGracePeriodSeconds": k.termination_grace_s, "volumes": vols}


def trainjob(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    """A Kubeflow Trainer v2 TrainJob on the `torch-distributed` runtime, pod settings as a runtime patch."""
    k = cfg.kubernetes
    _, mounts = volumes(cfg)
    node_pod = {**pod_spec_settings(cfg),
                "containers": [{"name": "node", "volumeMounts": mounts, "securityContext": container_security()}]}
    return {
        "apiVersion": TRAINJOB_API, "kind": "TrainJob",
        "metadata": {"name": name, "namespace": k.namespace, "labels": dict(PART_OF)},
        "spec": {
            "runtimeRef": {"name": k.runtime, "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime"},
            "trainer": {"image": k.image, "command": command(args_uri, k.termination_grace_s), "env": env(cfg, endpoint_url, mlflow_uri),
                        "numNodes": cfg.nodes, "numProcPerNode": cfg.nproc, "resourcesPerNode": resources(cfg)},
            "runtimePatches": [{
                "manager": "polyglot-ko.org/pretrain",
                "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [{
                    "name": "node", "template": {"spec": {"template": {
                        "metadata": {"labels": dict(POD_LABELS)}, "spec": node_pod}}}}]}}},
            }],
        },
    }


def pytorchjob(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    """A legacy Training Operator v1 PyTorchJob: one Master and nodes-1 Workers, the same pod for each."""
    k = cfg.kubernetes
    _, mounts = volumes(cfg)
    pod = {"metadata": {"labels": dict(POD_LABELS)},
           "spec": {**pod_spec_settings(cfg), "containers": [{
               "name": "pytorch", "image": k.image, "command": command(args_uri, k.termination_grace_s),
               "env": env(cfg, endpoint_url, mlflow_uri), "resources": resources(cfg), "volumeMounts": mounts,
               "securityContext": container_security()}]}}
    replicas = {"Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": pod}}
    if cfg.nodes > 1:
        replicas["Worker"] = {"replicas": cfg.nodes - 1, "restartPolicy": "OnFailure", "template": copy.deepcopy(pod)}
    return {
        "apiVersion": PYTORCHJOB_API, "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": k.namespace, "labels": dict(PART_OF)},
        "spec": {"nprocPerNode": str(cfg.nproc),
                 "runPolicy": {"backoffLimit": k.max_restarts, "cleanPodPolicy": "None"},
                 "pytorchReplicaSpecs": replicas},
    }


def build(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    make = pytorchjob if cfg.launcher == "pytorchjob" else trainjob
    return make(cfg, args_uri, name, endpoint_url, mlflow_uri)


def render(run_cfg, out_dir, launcher: str | None = None) -> tuple[dict, Path]:
    """The job a config's pretrain stage would submit, validated and written to out_dir/<kind>.yaml.

    The job's name and argument file are addressed by the pretrain settings; the pipeline submits the same spec
    addressed by its inputs' digests as well (components/stages/pretrain.py).
    """
    import dataclasses

    import yaml

    from components.contract.manifest import stable_hash
    from components.errors import UserError
    from components.contract.storage import join

    from ..plan import resolve
    from .validate import validate

    cfg = dataclasses.replace(run_cfg.pretrain, launcher=launcher or run_cfg.pretrain.launcher)
    if cfg.launcher == "local":
        cfg = dataclasses.replace(cfg, launcher="trainjob")
    resolve(cfg)
    key = stable_hash(dataclasses.asdict(cfg))[:20]
    root = run_cfg.artifact_root or "s3://CHANGE-ME/artifacts"
    job = build(cfg, join(root, "pretrain-jobs", key, "train_args.json"), job_name(key),
                run_cfg.s3_endpoint_url, None)
    problems = validate(job)
    if problems:
        raise UserError(f"generated {job['kind']} is invalid: " + "; ".join(problems[:5]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{job['kind'].lower()}.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return job, path
