"""Submit a training job with the kubernetes client and watch it to the end.

The watcher polls the job's conditions and its pods rather than holding a watch stream: a poll survives API
server restarts and long runs, and a few requests a minute cost nothing. It reports what an operator wants to
know from a pipeline task's log: pods scheduled, restarts (with the container's reason: OOMKilled, exit code,
preemption), and the failure reason. Submitting is idempotent: the job's name is its content address, so a
retried task attaches to the job already running instead of starting a second one.
"""
from __future__ import annotations

import time
from dataclasses import dataclass, field

GROUPS = {"TrainJob": ("trainer.kubeflow.org", "v1alpha1", "trainjobs", "jobset.sigs.k8s.io/jobset-name"),
          "PyTorchJob": ("kubeflow.org", "v1", "pytorchjobs", "training.kubeflow.org/job-name")}
DONE = {"TrainJob": ("Complete", "Failed"), "PyTorchJob": ("Succeeded", "Failed")}


@dataclass
class Outcome:
    kind: str
    name: str
    succeeded: bool
    reason: str = ""
    restarts: int = 0
    events: list[str] = field(default_factory=list)


def api_client():
    """In a pod: its service account; elsewhere: the user's kubeconfig."""
    import os

    from kubernetes import client, config

    try:
        config.load_incluster_config()
    except config.ConfigException:
        # The client reads KUBECONFIG once, at import; read it now, as kubectl does.
        config.load_kube_config(config_file=os.environ.get("KUBECONFIG"))
    return client.ApiClient()


def job_state(job: dict) -> tuple[str | None, str]:
    """("succeeded" | "failed" | None while running, the latest condition's reason and message)."""
    ok, failed = DONE[job["kind"]]
    conditions = (job.get("status") or {}).get("conditions") or []
    for c in conditions:
        if c.get("status") == "True" and c.get("type") in (ok, failed):
            return ("succeeded" if c["type"] == ok else "failed"), _describe(c)
    return None, _describe(conditions[-1]) if conditions else "submitted"


def _describe(c: dict) -> str:
    return ": ".join(x for x in (c.get("type"), c.get("reason"), c.get("message")) if x)


def pod_report(pods: list) -> tuple[int, list[str]]:
    """Total container restarts, and why the containers that stopped did."""
    restarts, reasons = 0, []
    for pod in pods:
        for cs in (pod.status.container_statuses or []) if pod.status else []:
            restarts += cs.restart_count or 0
            for state in (cs.last_state, cs.state):
                term = getattr(state, "terminated", None) if state else None
                if term and term.exit_code:
                    reasons.append(f"pod {pod.metadata.name}: {term.reason or 'Error'} (exit code {term.exit_code})")
            waiting = getattr(cs.state, "waiting", None) if cs.state else None
            if waiting and waiting.reason not in (None, "ContainerCreating", "PodInitializing"):
                reasons.append(f"pod {pod.metadata.name}: {waiting.reason}: {waiting.message or ''}".rstrip(": "))
        if pod.status and pod.status.reason:       # Evicted, preempted, node lost
            reasons.append(f"pod {pod.metadata.name}: {pod.status.reason}: {pod.status.message or ''}".rstrip(": "))
    return restarts, reasons


def submit_and_wait(job: dict, timeout_s: float, poll_s: float = 15.0, log=print, client=None) -> Outcome:
    from kubernetes import client as k8s
    from kubernetes.client.rest import ApiException

    client = client or api_client()
    kind, name, ns = job["kind"], job["metadata"]["name"], job["metadata"]["namespace"]
    group, version, plural, pod_label = GROUPS[kind]
    custom, core = k8s.CustomObjectsApi(client), k8s.CoreV1Api(client)
    outcome = Outcome(kind, name, False)

    def say(msg: str) -> None:
        outcome.events.append(msg)
        log(f"[{kind} {name}] {msg}")

    try:
        custom.create_namespaced_custom_object(group, version, ns, plural, job)
        say(f"submitted to namespace {ns}")
    except ApiException as e:
        if e.status != 409:
            raise RuntimeError(f"could not submit {kind} {name}: {e.status} {e.reason}: {e.body}") from None
        existing = custom.get_namespaced_custom_object(group, version, ns, plural, name)
        state, why = job_state(existing)
        if state == "failed":   # start again; the new pods resume from the shared checkpoints
            say(f"an earlier job of this name failed ({why}); replacing it")
            custom.delete_namespaced_custom_object(group, version, ns, plural, name,
                                                   body=k8s.V1DeleteOptions(propagation_policy="Foreground"))
            _wait_gone(custom, group, version, ns, plural, name, timeout_s=600, poll_s=poll_s)
            custom.create_namespaced_custom_object(group, version, ns, plural, job)
        else:
            say("already exists; watching it")

    deadline = time.time() + timeout_s
    last_status, seen = None, set()
    while True:
        current = custom.get_namespaced_custom_object(group, version, ns, plural, name)
        state, why = job_state(current)
        if why != last_status:
            say(why)
            last_status = why
        pods = core.list_namespaced_pod(ns, label_selector=f"{pod_label}={name}").items
        outcome.restarts, reasons = pod_report(pods)
        for r in reasons:
            if r not in seen:
                seen.add(r)
                say(r)
        if state:
            outcome.succeeded = state == "succeeded"
            outcome.reason = why if not reasons else f"{why}; {reasons[-1]}"
            return outcome
        if time.time() > deadline:
            outcome.reason = (f"still running after {timeout_s:.0f}s (the job goes on; run the task again to "
                              f"attach to it)")
            return outcome
        time.sleep(poll_s)


def _wait_gone(custom, group, version, ns, plural, name, timeout_s: float, poll_s: float) -> None:
    from kubernetes.client.rest import ApiException

    end = time.time() + timeout_s
    while time.time() < end:
        try:
            custom.get_namespaced_custom_object(group, version, ns, plural, name)
        except ApiException as e:
            if e.status == 404:
                return
            raise
        time.sleep(poll_s)
    raise RuntimeError(f"{name} was not deleted within {timeout_s}s")
