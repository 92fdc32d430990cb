"""The compiled KFP cluster pipeline on kfp's own DockerRunner, against podman's Docker-compatible socket.

The pipeline is dags/kfp_pipeline.py's `cluster_pipeline(cfg)`: the same components, placements and ParallelFor
fan-out that compile to pipeline.yaml, run by kfp.local. What the local runner does not carry over from the
compiled pipeline, and what stands in for it here:
- kfp-kubernetes' platform settings (use_secret_as_env, empty_dir_mount, node selectors, tolerations, labels,
  the security context, pull policy) are ignored by kfp.local with a warning. The Secrets' variables come from
  the engine's containers.conf `env` instead (what KFP's backend would inject from the Secrets), and so do the
  service account's API address and token volume (what a kubelet adds to every pod); the scratch emptyDir is
  the container's own writable layer; the image's USER 10001 applies as it would on the cluster.
- CPU and memory requests and limits are ignored by kfp.local; retries are honoured (with their backoff).
- Containers run with host networking (DockerRunner(network_mode="host")): no pod network here.
- kfp.local gives the component's command to Docker as CMD, not as the entry point a pod spec's `command`
  replaces; the entry point is reset to /usr/bin/env so the image's own (`polyglot-ko`) is not run twice.
Two defects of kfp.local (2.17) would otherwise break or hide a run; `_kfp_local_fixes` corrects each in the one
function where it lives, and leaves the rest of the runner as it is:
- In a ParallelFor body, every input that is another task's output is replaced by the loop item
  (task_spec_utils.create_parameter_loop_iteration_task_spec): each shard task got its rank as the pipeline's run
  id. The correction keeps those inputs as they were compiled.
- DockerRunner starts containers with auto_remove and, when the engine has removed one before `wait` returns,
  takes the run for a success (docker_task_handler.run_docker_container): a task that fails fast looked
  successful. The correction waits for the exit status first and removes the container after.
"""
from __future__ import annotations

import json
import os
import contextlib
import subprocess
import time
from pathlib import Path

from .containers import CONF, SA_DIR, Podman, ServiceAccount


def _engine_conf(work: Path, env: dict[str, str], volumes: list[str]) -> Path:
    """images/containers.conf plus the Secrets' variables as every container's environment, and `volumes`
    (host:container:options) mounted in every container."""
    lines = CONF.read_text().splitlines()
    at = lines.index("[containers]") + 1
    lines.insert(at, "env = [" + ", ".join(json.dumps(f"{k}={v}") for k, v in sorted(env.items())) + "]")
    if volumes:
        lines.insert(at, "volumes = [" + ", ".join(json.dumps(v) for v in volumes) + "]")
    path = work / "containers.conf"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


@contextlib.contextmanager
def _kfp_local_fixes():
    """kfp.local with its two defects corrected (see the module's docstring), for the time of one run."""
    from kfp.local import docker_task_handler
    from kfp.local.orchestrator import task_spec_utils

    make_iteration = task_spec_utils.create_parameter_loop_iteration_task_spec

    def iteration_keeping_task_outputs(original_task_spec, loop_item, loop_task_name):
        spec = make_iteration(original_task_spec, loop_item, loop_task_name)
        # the items' own source (a task output holding the list) is the one input the loop item stands for
        items_from = original_task_spec.parameter_iterator.items.input_parameter
        for name, compiled in original_task_spec.inputs.parameters.items():
            if compiled.HasField("task_output_parameter") and name != items_from:
                spec.inputs.parameters[name].CopyFrom(compiled)
        return spec

    def run_container_to_its_exit_status(client, image, command, volumes, **run_args):
        image = docker_task_handler.add_latest_tag_if_not_present(image=image)
        if not any(image in (i.tags + i.attrs["RepoDigests"]) for i in client.images.list()):
            client.images.pull(image)
        container = client.containers.run(image=image, command=command, detach=True, stdout=True, stderr=True,
                                          volumes=volumes, **run_args)
        try:
            for line in container.logs(stream=True):
                print(line.decode(), end="")
            return container.wait()["StatusCode"]
        finally:
            container.remove(force=True)

    saved = (make_iteration, docker_task_handler.run_docker_container)
    task_spec_utils.create_parameter_loop_iteration_task_spec = iteration_keeping_task_outputs
    docker_task_handler.run_docker_container = run_container_to_its_exit_status
    try:
        yield
    finally:
        task_spec_utils.create_parameter_loop_iteration_task_spec, docker_task_handler.run_docker_container = saved


def run_cluster_pipeline(config_path: Path, config_uri: str, work: Path, podman: Podman,
                         secret_env: dict[str, str], kube_api: ServiceAccount | None = None) -> str:
    """Run the cluster pipeline for the config at `config_path` (frozen at `config_uri`); returns its output.

    `kube_api`: the API every task's service account reaches (KUBERNETES_SERVICE_HOST/PORT and its token volume,
    what a kubelet gives each pod), for the pretrain task's TrainJob."""
    from kfp import local

    from components.contract.config import load_config
    from dags.kfp_pipeline import cluster_pipeline

    work.mkdir(parents=True, exist_ok=True)
    sock = work / "podman.sock"
    task_env, volumes = dict(secret_env), []
    if kube_api is not None:
        task_env.update(KUBERNETES_SERVICE_HOST=kube_api.host, KUBERNETES_SERVICE_PORT=str(kube_api.port))
        volumes.append(f"{kube_api.dir}:{SA_DIR}:ro")
    env = {**podman.env, "CONTAINERS_CONF": str(_engine_conf(work, task_env, volumes))}
    service = subprocess.Popen(["podman", "system", "service", "--time=0", f"unix://{sock}"], env=env,
                               stdout=open(work / "podman-service.log", "wb"), stderr=subprocess.STDOUT)
    old_host, old_umask = os.environ.get("DOCKER_HOST"), None
    try:
        deadline = time.time() + 30
        while not sock.exists():
            if time.time() > deadline or service.poll() is not None:
                raise RuntimeError(f"podman's socket did not come up; see {work / 'podman-service.log'}")
            time.sleep(0.2)
        os.environ["DOCKER_HOST"] = f"unix://{sock}"
        root = work / "pipeline-root"
        root.mkdir(exist_ok=True)
        root.chmod(0o777)
        # the tasks run as the image's user (10001) and write their outputs under the pipeline root, into
        # folders kfp.local makes as this process's user: let them be writable by it
        old_umask = os.umask(0)
        # kfp.local hands a component's command to Docker as CMD, where a cluster's pod spec replaces the
        # image's ENTRYPOINT: without this, the container would run `polyglot-ko polyglot-ko ...`
        runner = local.DockerRunner(network_mode="host", entrypoint=["/usr/bin/env"])
        local.init(runner=runner, pipeline_root=str(root), raise_on_error=True)
        pipeline = cluster_pipeline(load_config(str(config_path)))
        with _kfp_local_fixes():
            return pipeline(config_uri=config_uri).output
    finally:
        if old_umask is not None:
            os.umask(old_umask)
        if old_host is None:
            os.environ.pop("DOCKER_HOST", None)
        else:
            os.environ["DOCKER_HOST"] = old_host
        service.terminate()
        try:
            service.wait(15)
        except subprocess.TimeoutExpired:
            service.kill()
