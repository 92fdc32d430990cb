"""The stage graph as a Kubeflow Pipelines v2 pipeline, built from components.contract.graph (wiring written once).

Tasks pass only strings: the MLflow parent run id from `begin`, then each stage's output manifest URI. Caching is
left to the stages' own content addressing, so KFP's cache is off.
"""

import inspect
import json
import os
from pathlib import Path

from kfp import compiler, dsl

from components.cluster import placement as cluster
from components.contract import graph

IMAGE = os.environ.get("POLYGLOT_KO_IMAGE", "polyglot-ko-cpu:0.1.0")


@dsl.component(base_image=IMAGE)
def begin_op(config: str, workdir: str, overrides: str) -> str:
    import json
    from pathlib import Path

    from components.contract.config import load_config
    from components.contract.runner import begin

    return begin(load_config(config, json.loads(overrides)), Path(workdir).resolve(), config)


@dsl.component(base_image=IMAGE)
def stage_op(stage: str, workdir: str, parent_run_id: str, raw: str = "", corpus: str = "", tokenizer: str = "",
             dataset: str = "", model: str = "", report: str = "") -> str:
    from pathlib import Path

    from components.contract.runner import run_one

    inputs = {k: v for k, v in dict(raw=raw, corpus=corpus, tokenizer=tokenizer, dataset=dataset, model=model,
                                    report=report).items() if v}
    manifest, _, _ = run_one(stage, Path(workdir).resolve(), parent_run_id, inputs)
    return manifest.uri


@dsl.component(base_image=IMAGE)
def finish_op(workdir: str, parent_run_id: str, last_stage: str, last_uri: str) -> str:
    import json
    from pathlib import Path

    from components.contract.runner import finish

    return json.dumps(finish(Path(workdir).resolve(), parent_run_id, {last_stage: last_uri}), ensure_ascii=False)


# stage_op takes one optional argument per input role of the graph; a new role must be added there.
_params = set(inspect.signature(stage_op.python_func).parameters) - {"stage", "workdir", "parent_run_id"}
assert _params == set(graph.ROLES), f"stage_op arguments {sorted(_params)} != graph roles {sorted(graph.ROLES)}"


@dsl.pipeline(name="polyglot-ko", description="Korean GPT-NeoX: collect, curate, tokenize, pretrain, evaluate, register")
def polyglot_ko(config: str, workdir: str, overrides: str = "[]") -> str:
    started = begin_op(config=config, workdir=workdir, overrides=overrides).set_caching_options(False)
    outputs = {}
    for node in graph.STAGES:
        task = stage_op(stage=node.name, workdir=workdir, parent_run_id=started.output,
                        **{role: outputs[src] for role, src in node.inputs.items()})
        task.set_display_name(node.name).set_caching_options(False).set_retry(num_retries=1)
        task.set_cpu_limit(node.resources.cpu).set_memory_limit(node.resources.memory)
        outputs[node.name] = task.output
    last = graph.STAGES[-1].name
    done = finish_op(workdir=workdir, parent_run_id=started.output, last_stage=last, last_uri=outputs[last])
    return done.set_caching_options(False).output


def compile_pipeline(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    compiler.Compiler().compile(polyglot_ko, str(path))
    return path


def run_local(config: str, workdir: Path, overrides: list[str] | None = None) -> dict:
    """Run the whole pipeline on KFP's local runner (each task a subprocess in this environment)."""
    from kfp import local

    workdir = workdir.resolve()
    local.init(runner=local.SubprocessRunner(use_venv=False), pipeline_root=str(workdir / "kfp-local"),
               raise_on_error=True)
    result = polyglot_ko(config=str(Path(config).resolve()), workdir=str(workdir),
                         overrides=json.dumps(overrides or []))
    return json.loads(result.output)


# ---------------------------------------------------------------------------------------------------------------
# Cluster mode: every task a container running `polyglot-ko ...` in its image, settings from components.cluster.


def _apply_pod(task, pod):
    """Resources, GPU scheduling, secrets, scratch volume, retries and security from a cluster.Pod description."""
    from kfp import kubernetes

    task.set_display_name(pod.name).set_caching_options(False)
    task.set_cpu_request(pod.cpu).set_cpu_limit(pod.cpu).set_memory_request(pod.memory).set_memory_limit(pod.memory)
    if pod.gpus:
        task.set_accelerator_type(pod.gpu_resource).set_accelerator_limit(pod.gpus)
    for k, v in pod.node_selector.items():
        kubernetes.add_node_selector(task, k, v)
    for t in pod.tolerations:
        kubernetes.add_toleration(task, key=t.get("key"), operator=t.get("operator"), value=t.get("value"),
                                  effect=t.get("effect"))
    for var, value in sorted(pod.env.items()):
        task.set_env_variable(var, value)
    by_secret: dict[str, dict[str, str]] = {}
    for var, (secret, key) in pod.secret_env.items():
        by_secret.setdefault(secret, {})[key] = var
    for secret, mapping in sorted(by_secret.items()):
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=mapping)
    kubernetes.empty_dir_mount(task, volume_name="scratch", mount_path="/tmp")
    kubernetes.add_pod_label(task, *cluster.ROLE_LABEL)
    kubernetes.set_image_pull_policy(task, pod.pull_policy)
    kubernetes.set_security_context(task, run_as_user=cluster.UID, run_as_group=cluster.UID, run_as_non_root=True)
    if pod.retries:
        task.set_retry(num_retries=pod.retries, backoff_duration="60s", backoff_factor=2.0)
    return task


def _stage_component(cfg, node: graph.StageNode, shard: bool):
    """A container component for one stage (or one shard of it); the argv comes from components.cluster."""
    image = cluster.stage_pod(cfg, node, "", {r: "" for r in node.inputs}).image

    @dsl.container_component
    def stage_task(uri: dsl.OutputPath(str), parent_run_id: str, rank: int = 0, raw: str = "", corpus: str = "",
                   tokenizer: str = "", dataset: str = "", model: str = "", report: str = ""):
        given = dict(raw=raw, corpus=corpus, tokenizer=tokenizer, dataset=dataset, model=model, report=report)
        inputs = {role: str(given[role]) for role in node.inputs}
        pod = cluster.shard_pod(cfg, node, str(parent_run_id), inputs, str(rank)) if shard else \
            cluster.stage_pod(cfg, node, str(parent_run_id), inputs)
        return dsl.ContainerSpec(image=image, command=["polyglot-ko"], args=pod.args + ["--output-file", uri])

    return stage_task


def cluster_pipeline(cfg):
    """The pipeline for one config in cluster mode: corpus stages fan out over their shards with ParallelFor
    and reduce; pretrain submits and watches the TrainJob (launcher trainjob/pytorchjob) or trains in its pod."""
    cpu_image = cfg.cluster.cpu_image

    @dsl.container_component
    def begin_task(run_id: dsl.OutputPath(str), config_uri: str):
        pod = cluster.begin_pod(cfg, str(config_uri))
        return dsl.ContainerSpec(image=cpu_image, command=["polyglot-ko"], args=pod.args + ["--output-file", run_id])

    @dsl.container_component
    def finish_task(summary: dsl.OutputPath(str), parent_run_id: str, last_uri: str):
        pod = cluster.finish_pod(cfg, str(parent_run_id), graph.STAGES[-1].name, str(last_uri))
        return dsl.ContainerSpec(image=cpu_image, command=["polyglot-ko"],
                                 args=pod.args + ["--output-file", summary])

    @dsl.pipeline(name="polyglot-ko", description="Korean GPT-NeoX: collect, curate, tokenize, pretrain, evaluate, "
                                                  "register (cluster mode)")
    def pipeline(config_uri: str) -> str:
        started = _apply_pod(begin_task(config_uri=config_uri), cluster.begin_pod(cfg, ""))
        run_id = started.outputs["run_id"]
        outputs: dict = {}
        for node in graph.STAGES:
            inputs = {role: outputs[src] for role, src in node.inputs.items()}
            pod = cluster.stage_pod(cfg, node, "", {r: "" for r in node.inputs})
            if node.sharded:
                with dsl.ParallelFor(items=list(range(cluster.world_size(cfg, node))),
                                     parallelism=cfg.cluster.max_parallel_shards) as rank:
                    part = _stage_component(cfg, node, shard=True)(parent_run_id=run_id, rank=rank, **inputs)
                    _apply_pod(part, cluster.shard_pod(cfg, node, "", {r: "" for r in node.inputs}, "0"))
                task = _stage_component(cfg, node, shard=False)(parent_run_id=run_id, **inputs).after(part)
            else:
                task = _stage_component(cfg, node, shard=False)(parent_run_id=run_id, **inputs)
            _apply_pod(task, pod)
            outputs[node.name] = task.outputs["uri"]
        done = finish_task(parent_run_id=run_id, last_uri=outputs[graph.STAGES[-1].name])
        return _apply_pod(done, cluster.finish_pod(cfg, "", "", "")).outputs["summary"]

    return pipeline


def compile_cluster(cfg, out: Path) -> list[Path]:
    """pipeline.yaml for this config's cluster run, and the training job manifest its pretrain task submits."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "pipeline.yaml"]
    compiler.Compiler().compile(cluster_pipeline(cfg), str(written[0]))
    if cfg.pretrain.launcher != "local":
        from training.k8s.jobs import render
        written.append(render(cfg, out)[1])
    return written


def submit(cfg, config_text: str, host: str, out: Path, namespace: str | None, run_name: str) -> tuple[str, str]:
    """Upload the config where the pods read it, compile, and create a run on the KFP server at `host`."""
    import hashlib

    import kfp

    from components.errors import UserError
    from components.contract.storage import Storage, is_s3, join

    if not is_s3(cfg.artifact_root or ""):
        raise UserError("submit: cluster runs need artifact_root on s3:// (every pod reads and writes there)")
    config_uri = join(cfg.artifact_root, "configs", hashlib.sha256(config_text.encode()).hexdigest()[:16] + ".yaml")
    Storage(cfg.s3_endpoint_url).write_bytes(config_uri, config_text.encode())
    package = compile_cluster(cfg, out)[0]
    client = kfp.Client(host=host, namespace=namespace or "kubeflow")
    run = client.create_run_from_pipeline_package(
        str(package), arguments={"config_uri": config_uri}, experiment_name=cfg.experiment, run_name=run_name,
        enable_caching=False, service_account=cfg.cluster.service_account)
    return run.run_id, config_uri
