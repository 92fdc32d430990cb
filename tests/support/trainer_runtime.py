"""What Kubeflow Trainer does with a TrainJob on infra/trainer's runtime, for the rehearsal, with real containers.

The controllers themselves (Trainer, JobSet, the Job controller, the scheduler) cannot run without an API server:
this is the part of them the rehearsal needs, written from their documented behaviour. From the submitted
TrainJob and the shipped ClusterTrainingRuntime it builds one pod per node (the runtime's pod template, the
TrainJob's runtime patch merged in, the trainer's image, command, environment and resources on container `node`,
torchrun's PET_* variables as the torch plugin sets them, the JobSet's labels), runs them with podman, and applies
the runtime's failure policy: a failed pod fails its Job (backoffLimit 0), and the JobSet recreates every node's
pod, up to failurePolicy.maxRestarts times, before the TrainJob fails. Status goes back through the API stand-in
(tests/support/kube_api.py), where the pretrain task's watcher reads it.
"""
from __future__ import annotations

import copy
import threading
import time
from pathlib import Path

import yaml

from .containers import ROOT, Podman, ServiceAccount, as_local_pod
from .services import free_port

RUNTIME = ROOT / "infra" / "trainer" / "polyglot-ko-torch.yaml"
CONTAINER = "node"                       # the runtime's replicated job and container name


def merge(base, patch):
    """Strategic merge as the API server applies a runtime patch: maps recursively, containers and volumes by
    name, other lists replaced."""
    if isinstance(base, dict) and isinstance(patch, dict):
        out = dict(base)
        for k, v in patch.items():
            out[k] = merge(base[k], v) if k in base else copy.deepcopy(v)
        return out
    if isinstance(base, list) and isinstance(patch, list) and all(
            isinstance(x, dict) and "name" in x for x in base + patch):
        by_name = {x["name"]: x for x in base}
        out = [merge(by_name[x["name"]], x) if x["name"] in by_name else copy.deepcopy(x) for x in patch]
        return [x for x in base if x["name"] not in {p["name"] for p in patch}] + out
    return copy.deepcopy(patch)


def node_pods(job: dict, runtime: dict, attempt: int, master_port: int = 29500) -> list[dict]:
    """The pods of every node of `job`, as the torch runtime renders them."""
    name, trainer = job["metadata"]["name"], job["spec"]["trainer"]
    (rjob,) = [r for r in runtime["spec"]["template"]["spec"]["replicatedJobs"] if r["name"] == CONTAINER]
    template = rjob["template"]["spec"]["template"]
    for patch in job["spec"].get("runtimePatches", []):
        for prj in patch["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"]:
            if prj["name"] == CONTAINER:
                template = merge(template, prj["template"]["spec"]["template"])
    pods = []
    for rank in range(trainer["numNodes"]):
        pod = copy.deepcopy(template)
        pod.setdefault("metadata", {}).setdefault("labels", {}).update({
            "jobset.sigs.k8s.io/jobset-name": name, "jobset.sigs.k8s.io/replicatedjob-name": CONTAINER,
            "jobset.sigs.k8s.io/restart-attempt": str(attempt), "trainer.kubeflow.org/trainjob-name": name})
        pod["metadata"]["name"] = f"{name}-{CONTAINER}-0-{rank}-a{attempt}"
        pod["apiVersion"], pod["kind"] = "v1", "Pod"
        pod["spec"]["restartPolicy"] = "Never"
        (c,) = [c for c in pod["spec"]["containers"] if c["name"] == CONTAINER]
        c.update(image=trainer["image"], command=list(trainer["command"]),
                 resources=copy.deepcopy(trainer["resourcesPerNode"]))
        # the torch plugin's variables: torchrun reads them as its --nnodes, --nproc-per-node, --node-rank,
        # --master-addr and --master-port (master: the rank-0 pod; here every pod is on the host's network)
        c["env"] = list(trainer.get("env", [])) + [
            {"name": "PET_NNODES", "value": str(trainer["numNodes"])},
            {"name": "PET_NPROC_PER_NODE", "value": str(trainer["numProcPerNode"])},
            {"name": "PET_NODE_RANK", "value": str(rank)},
            {"name": "PET_MASTER_ADDR", "value": "127.0.0.1"},
            {"name": "PET_MASTER_PORT", "value": str(master_port)}]
        pods.append(pod)
    return pods


def api_pod(name: str, status: str, code: int) -> dict:
    """A pod's status in the API's JSON shape, from podman's view of its container."""
    state = {"running": {"startedAt": "2026-01-01T00:00:00Z"}} if status == "running" else \
        {"terminated": {"exitCode": code, "reason": "Completed" if code == 0 else "Error"}} \
        if status in ("exited", "stopped") else {"waiting": {"reason": "ContainerCreating"}}
    return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [
        {"name": CONTAINER, "image": "img", "imageID": "img@sha256:0", "ready": status == "running",
         "restartCount": 0, "state": state}]}}


class TorchRuntime:
    """The FakeKube controller: on a TrainJob's creation, run its node pods in a thread until it ends.

    `kill`: (node rank, predicate) — the first attempt's container of that node is killed (SIGKILL, as an
    OOM kill or a lost node would end it) once predicate() is true, to rehearse the failure policy."""

    def __init__(self, podman: Podman, kube_api: ServiceAccount, kill=None, log=print, timeout_s: float = 1200):
        self.podman, self.kube_api, self.kill, self.log, self.timeout_s = podman, kube_api, kill, log, timeout_s
        self.runtime = yaml.safe_load(RUNTIME.read_text())
        self.attempts: list[dict[str, tuple[int, str]]] = []    # per attempt: pod -> (exit code, logs)
        self.killed: str | None = None
        self.threads: list[threading.Thread] = []

    def __call__(self, fake, obj: dict) -> None:
        t = threading.Thread(target=self._run, args=(fake, obj), daemon=True)
        self.threads.append(t)
        t.start()

    def _run(self, fake, obj: dict) -> None:
        name = obj["metadata"]["name"]
        policy = self.runtime["spec"]["template"]["spec"].get("failurePolicy") or {}
        max_restarts = policy.get("maxRestarts", 0)
        deadline = time.time() + self.timeout_s
        fake.set_status(obj, "Created", "JobSetCreated")
        try:
            for attempt in range(max_restarts + 1):
                # a fresh rendezvous port per attempt: the pods share the host's network, where the last
                # attempt's port may linger in TIME_WAIT (on a cluster each attempt has new pod addresses)
                pods = [as_local_pod(p, kube_api=self.kube_api)
                        for p in node_pods(obj, self.runtime, attempt, free_port())]
                names = [self.podman.play(p) for p in pods]
                self.log(f"[trainer] {name}: attempt {attempt}: started {', '.join(names)}")
                failed = self._watch(fake, name, names, attempt, deadline)
                self.attempts.append({n: (self.podman.state(n, CONTAINER)[1], self.podman.logs(n, CONTAINER))
                                      for n in names})
                if self.podman.workdir:
                    for n, (_, text) in self.attempts[-1].items():
                        (self.podman.workdir / "logs").mkdir(exist_ok=True)
                        (self.podman.workdir / "logs" / f"{n}.log").write_text(text)
                for n in names:
                    self.podman.down(n)
                if failed is None:
                    fake.set_status(obj, "Complete", "JobSetCompleted")
                    return
                if attempt < max_restarts:       # failurePolicy: restart the whole JobSet (Recreate)
                    self.log(f"[trainer] {name}: pod {failed} failed; JobSet restart {attempt + 1} of "
                             f"{max_restarts}: recreating every node")
                    continue
                fake.set_status(obj, "Failed", "JobSetFailed",
                                f"pod {failed} failed; failurePolicy.maxRestarts ({max_restarts}) reached")
        except Exception as e:     # the stand-in's own trouble must end the job, never hang the watcher
            fake.set_status(obj, "Failed", "RehearsalError", str(e)[-500:])
            raise

    def _watch(self, fake, name: str, names: list[str], attempt: int, deadline: float) -> str | None:
        """Until every pod succeeded (None) or one failed (its name); mirrors states into the API stand-in."""
        while time.time() < deadline:
            states = {n: self.podman.state(n, CONTAINER) for n in names}
            with fake.lock:
                fake.pods[name] = [api_pod(n, s, c) for n, (s, c) in states.items()]
            if self.kill and attempt == 0 and self.killed is None:
                rank, ready = self.kill
                if states[names[rank]][0] == "running" and ready():
                    self.killed = names[rank]
                    self.log(f"[trainer] killing {names[rank]} (SIGKILL) mid-run")
                    self.podman.kill(names[rank], CONTAINER)
            done = [n for n, (s, _) in states.items() if s in ("exited", "stopped")]
            bad = [n for n in done if states[n][1] != 0]
            if bad:
                return bad[0]
            if len(done) == len(names):
                return None
            time.sleep(0.3)
        raise TimeoutError(f"{name}: still running after {self.timeout_s:.0f}s")

    def join(self, timeout: float) -> None:
        for t in self.threads:
            t.join(timeout)


def checkpoint_written(volume_dir: Path):
    """A predicate: true once DeepSpeed has completed a checkpoint (its `latest` file) on the shared volume."""
    return lambda: any(volume_dir.rglob("latest"))
