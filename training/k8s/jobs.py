"""Training job specs for Kubernetes, from a pretrain config.

Both kinds run the same container command as the local launcher (torchrun -m training.train --args URI); the
controller provides the rendezvous (Kubeflow Trainer and the Training Operator both set torchrun's PET_*
variables). One pod per node, placed as components.cluster.placement.trainer_placement says (image, resources,
GPU scheduling, environment, Secrets by reference, labels, Pod Security "restricted"): this module translates
it; /dev/shm from memory for NCCL; the checkpoint volume shared by all nodes.
"""
from __future__ import annotations

import copy
from pathlib import Path

from components.cluster.placement import PART_OF, Placement, trainer_placement

TRAINJOB_API = "trainer.kubeflow.org/v1alpha1"
PYTORCHJOB_API = "kubeflow.org/v1"
JOB_LABELS = {**PART_OF, "app.kubernetes.io/component": "pretrain"}


def job_name(key: str) -> str:
    """Named by the pretrain stage's content address: a retried pipeline task finds the job it already started."""
    return f"pk-pretrain-{key[:16].lower()}"


def command(args_uri: str, grace_s: int) -> list[str]:
    from training.launch import TRAINER
    # torchrun forwards the kubelet's SIGTERM to the workers, which checkpoint and exit; it must not SIGKILL
    # them (its default: after 30 s) before the pod's grace period is nearly over.
    return ["torchrun", "--shutdown-timeout", str(max(grace_s - 30, 30)), "-m", TRAINER, "--args", args_uri]


def env(p: Placement, job: str) -> list[dict]:
    # the job's name identifies it to the checkpoint lock (training/lock.py): its restarted pods take the lock
    # over, another job is refused
    out = [{"name": n, "value": v} for n, v in p.env.items()] + [{"name": "POLYGLOT_KO_JOB_ID", "value": job}]
    return out + [{"name": var, "valueFrom": {"secretKeyRef": {"name": secret, "key": key}}}
                  for var, (secret, key) in p.secret_env.items()]


def volumes(cfg, p: Placement) -> tuple[list[dict], list[dict]]:
    k = cfg.kubernetes
    vols = [{"name": "dshm", "emptyDir": {"medium": "Memory", "sizeLimit": k.shm_size}},
            {"name": "scratch", "emptyDir": {}},
            {"name": "checkpoints", "persistentVolumeClaim": {"claimName": k.checkpoint_claim}}]
    mounts = [{"name": "dshm", "mountPath": "/dev/shm"}, {"name": "scratch", "mountPath": p.scratch},
              {"name": "checkpoints", "mountPath": k.checkpoint_mount}]
    return vols, mounts


def pod_spec_settings(cfg, p: Placement) -> dict:
    vols, _ = volumes(cfg, p)
    return {"serviceAccountName": p.service_account, "nodeSelector": dict(p.node_selector),
            "tolerations": [dict(t) for t in p.tolerations], "securityContext": dict(p.pod_security),
            "terminationGracePeriodSeconds": cfg.kubernetes.termination_grace_s, "volumes": vols}


def trainjob(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    """A Kubeflow Trainer v2 TrainJob on infra/trainer's runtime (pretrain.kubernetes.runtime), pod settings as a
    runtime patch."""
    k = cfg.kubernetes
    p = trainer_placement(cfg, endpoint_url, mlflow_uri)
    _, mounts = volumes(cfg, p)
    node_pod = {**pod_spec_settings(cfg, p), "containers": [
        {"name": "node", "volumeMounts": mounts, "securityContext": dict(p.container_security)}]}
    return {
        "apiVersion": TRAINJOB_API, "kind": "TrainJob",
        "metadata": {"name": name, "namespace": p.namespace, "labels": dict(JOB_LABELS)},
        "spec": {
            "runtimeRef": {"name": k.runtime, "apiGroup": "trainer.kubeflow.org", "kind": "ClusterTrainingRuntime"},
            "trainer": {"image": p.image, "command": command(args_uri, k.termination_grace_s), "env": env(p, name),
                        "numNodes": cfg.nodes, "numProcPerNode": cfg.nproc, "resourcesPerNode": p.resources()},
            "runtimePatches": [{
                "manager": "polyglot-ko.org/pretrain",
                "trainingRuntimeSpec": {"template": {"spec": {"replicatedJobs": [{
                    "name": "node", "template": {"spec": {"template": {
                        "metadata": {"labels": dict(p.labels)}, "spec": node_pod}}}}]}}},
            }],
        },
    }


def pytorchjob(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    """A legacy Training Operator v1 PyTorchJob: one Master and nodes-1 Workers, the same pod for each."""
    k = cfg.kubernetes
    p = trainer_placement(cfg, endpoint_url, mlflow_uri)
    _, mounts = volumes(cfg, p)
    pod = {"metadata": {"labels": dict(p.labels)},
           "spec": {**pod_spec_settings(cfg, p), "containers": [{
               "name": "pytorch", "image": p.image, "command": command(args_uri, k.termination_grace_s),
               "env": env(p, name), "resources": p.resources(), "volumeMounts": mounts,
               "securityContext": dict(p.container_security)}]}}
    replicas = {"Master": {"replicas": 1, "restartPolicy": "OnFailure", "template": pod}}
    if cfg.nodes > 1:
        replicas["Worker"] = {"replicas": cfg.nodes - 1, "restartPolicy": "OnFailure", "template": copy.deepcopy(pod)}
    return {
        "apiVersion": PYTORCHJOB_API, "kind": "PyTorchJob",
        "metadata": {"name": name, "namespace": p.namespace, "labels": dict(JOB_LABELS)},
        "spec": {"nprocPerNode": str(cfg.nproc),
                 "runPolicy": {"backoffLimit": p.retries, "cleanPodPolicy": "None"},
                 "pytorchReplicaSpecs": replicas},
    }


def build(cfg, args_uri: str, name: str, endpoint_url: str | None = None, mlflow_uri: str | None = None) -> dict:
    """The job for a PretrainConfig (`cfg.launcher` picks the kind), its pods as `trainer_placement` says."""
    from components.errors import UserError

    k = cfg.kubernetes
    mount = k.checkpoint_mount.rstrip("/") + "/"
    if not (k.cache_dir.rstrip("/") + "/").startswith(mount):
        # each node stages a share of the data and waits for the others' shares: they must land on one volume
        raise UserError(f"pretrain.kubernetes.cache_dir {k.cache_dir!r} must be on the shared volume mounted at "
                        f"{k.checkpoint_mount!r} (for example {mount}datasets)")
    make = pytorchjob if cfg.launcher == "pytorchjob" else trainjob
    return make(cfg, args_uri, name, endpoint_url, mlflow_uri)


PREVIEW = "pk-pretrain-preview"


def preview(cfg, artifact_root: str | None, endpoint_url: str | None) -> dict:
    """The job a config's pretrain stage would submit, before its inputs exist: the name and the argument file
    are the stage's content address, known only once the tokenized dataset and the tokenizer have been made, so
    they are placeholders here (`polyglot-ko train-job --input ...` or `--submit` gives the real ones)."""
    root = artifact_root or "s3://CHANGE-ME/artifacts"
    return build(cfg, f"{root.rstrip('/')}/pretrain-jobs/CONTENT-ADDRESS/train_args.json", PREVIEW, endpoint_url,
                 None)


def write(job: dict, out_dir) -> Path:
    """Validate a job against its CRD and write it to out_dir/<kind>.yaml."""
    import yaml

    from components.errors import UserError

    from .validate import validate

    problems = validate(job)
    if problems:
        raise UserError(f"generated {job['kind']} is invalid: " + "; ".join(problems[:5]))
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{job['kind'].lower()}.yaml"
    path.write_text(yaml.safe_dump(job, sort_keys=False))
    return path
