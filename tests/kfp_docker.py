"""The compiled KFP cluster pipeline on kfp's own DockerRunner, against podman's Docker-compatible socket.

The pipeline is dags/kfp_pipeline.py's `cluster_pipeline(cfg)`: the same components, placements and ParallelFor
fan-out that compile to pipeline.yaml, run by kfp.local. What the local runner does not carry over from the
compiled pipeline, and what stands in for it here:
- kfp-kubernetes' platform settings (use_secret_as_env, empty_dir_mount, node selectors, tolerations, labels,
  the security context, pull policy) are ignored by kfp.local with a warning. The Secrets' variables come from
  the engine's containers.conf `env` instead (what KFP's backend would inject from the Secrets); the scratch
  emptyDir is the container's own writable layer; the image's USER 10001 applies as it would on the cluster.
- CPU and memory limits, and retries, are ignored by kfp.local.
- Containers run with host networking (DockerRunner(network_mode="host")): no pod network here.
- kfp.local gives the component's command to Docker as CMD, not as the entry point a pod spec's `command`
  replaces; the entry point is reset to /usr/bin/env so the image's own (`polyglot-ko`) is not run twice.
- DockerRunner removes each container as it exits and, when the engine has already removed it before `wait`,
  takes the run for a success: a task that fails fast looks successful and its output is missing. The stages
  write their `--output-file` last, so the next task's missing input is where such a failure shows.
"""
from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path

from containers import CONF, Podman


def _engine_conf(work: Path, env: dict[str, str]) -> Path:
    """images/containers.conf plus the Secrets' variables as every container's environment."""
    lines = CONF.read_text().splitlines()
    at = lines.index("[containers]") + 1
    lines.insert(at, "env = [" + ", ".join(json.dumps(f"{k}={v}") for k, v in sorted(env.items())) + "]")
    path = work / "containers.conf"
    path.write_text("\n".join(lines) + "\n")
    path.chmod(0o600)
    return path


def run_cluster_pipeline(config_path: Path, config_uri: str, work: Path, podman: Podman,
                         secret_env: dict[str, str]) -> str:
    """Run the cluster pipeline for the config at `config_path` (frozen at `config_uri`); returns its output."""
    from kfp import local

    from components.contract.config import load_config
    from dags.kfp_pipeline import cluster_pipeline

    work.mkdir(parents=True, exist_ok=True)
    sock = work / "podman.sock"
    env = {**podman.env, "CONTAINERS_CONF": str(_engine_conf(work, secret_env))}
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
