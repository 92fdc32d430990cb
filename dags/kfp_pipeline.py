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
def stage_op(stage: str, workdir: str, parent_run_id: str, inputs: dict) -> str:
    # `inputs`: role -> upstream manifest URI, built from the graph's roles for this stage
    from pathlib import Path

    from components.contract.runner import run_one

    manifest, _, _ = run_one(stage, Path(workdir).resolve(), parent_run_id, inputs)
    return manifest.uri


@dsl.component(base_image=IMAGE)
def finish_op(workdir: str, parent_run_id: str, last_stage: str, last_uri: str) -> str:
    import json
    from pathlib import Path

    from components.contract.runner import finish

    return json.dumps(finish(Path(workdir).resolve(), parent_run_id, {last_stage: last_uri}), ensure_ascii=False)


@dsl.pipeline(name="polyglot-ko", description="Korean GPT-NeoX: collect, curate, tokenize, pretrain, evaluate, register")
def polyglot_ko(config: str, workdir: str, overrides: str = "[]") -> str:
    started = begin_op(config=config, workdir=workdir, overrides=overrides).set_caching_options(False)
    outputs = {}
    for node in graph.STAGES:
        task = stage_op(stage=node.name, workdir=workdir, parent_run_id=started.output,
                        inputs={role: outputs[src] for role, src in node.inputs.items()})
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
# Cluster mode: every task a container running `polyglot-ko ...` in its image; where it runs comes from
# components.cluster.placement, what it runs from the graph's argv builders.

# What a task's security context can say in KFP: kfp-kubernetes 2.17 carries runAsUser, runAsGroup and
# runAsNonRoot; the KFP backend itself sets allowPrivilegeEscalation false, drops every capability and uses the
# RuntimeDefault seccomp profile on every task pod; readOnlyRootFilesystem and fsGroup cannot be expressed (KFP's
# own launcher writes into the container's filesystem).
KFP_BACKEND_SECURITY = ("allowPrivilegeEscalation", "capabilities", "seccompProfile")
KFP_UNEXPRESSED_SECURITY = ("readOnlyRootFilesystem", "fsGroup")


def _apply(task, p: cluster.Placement):
    """Translate a placement into KFP task settings (resources, GPU scheduling, environment and secrets, scratch
    volume, labels, pull policy, security context, retries)."""
    from kfp import kubernetes

    task.set_display_name(p.task).set_caching_options(False)
    task.set_cpu_request(p.cpu).set_cpu_limit(p.cpu).set_memory_request(p.memory).set_memory_limit(p.memory)
    if p.gpus:
        task.set_accelerator_type(p.gpu_resource).set_accelerator_limit(p.gpus)
    for k, v in p.node_selector.items():
        kubernetes.add_node_selector(task, k, v)
    for t in p.tolerations:
        kubernetes.add_toleration(task, key=t.get("key"), operator=t.get("operator"), value=t.get("value"),
                                  effect=t.get("effect"))
    for var, value in sorted(p.env.items()):
        task.set_env_variable(var, value)
    by_secret: dict[str, dict[str, str]] = {}
    for var, (secret, key) in p.secret_env.items():
        by_secret.setdefault(secret, {})[key] = var
    for secret, mapping in sorted(by_secret.items()):
        kubernetes.use_secret_as_env(task, secret_name=secret, secret_key_to_env=mapping)
    kubernetes.empty_dir_mount(task, volume_name="scratch", mount_path=p.scratch)
    for k, v in p.labels.items():
        kubernetes.add_pod_label(task, k, v)
    kubernetes.set_image_pull_policy(task, p.pull_policy)
    c = p.container_security
    kubernetes.set_security_context(task, run_as_user=c["runAsUser"], run_as_group=c["runAsGroup"],
                                    run_as_non_root=c["runAsNonRoot"])
    if p.retries:
        task.set_retry(num_retries=p.retries, backoff_duration="60s", backoff_factor=2.0)
    return task


def _container(name: str, image: str, params: dict[str, type], argv):
    """A container component named `name` whose parameters are exactly `params` (plus the `result` file it writes),
    running `polyglot-ko argv(values)`: the parameter list is built from the graph, never written out by hand."""
    P = inspect.Parameter
    signature = inspect.Signature([P("result", P.POSITIONAL_OR_KEYWORD, annotation=dsl.OutputPath(str))]
                                  + [P(n, P.POSITIONAL_OR_KEYWORD, annotation=tp) for n, tp in params.items()])

    def spec(*placeholders):
        values = dict(zip(signature.parameters, placeholders))
        return dsl.ContainerSpec(image=image, command=["polyglot-ko"],
                                 args=[*argv(values), "--output-file", values["result"]])

    spec.__name__, spec.__signature__ = name, signature
    return dsl.container_component(spec)


def cluster_pipeline(cfg):
    """The pipeline for one config in cluster mode: corpus stages fan out over their shards with ParallelFor
    and reduce; pretrain submits and watches the TrainJob (launcher trainjob/pytorchjob) or trains in its pod."""
    workdir = cfg.cluster.workdir

    def component(task: graph.Task, p: cluster.Placement):
        return _container(task.name, p.image, graph.task_params(task),
                          lambda values: graph.task_argv(task, workdir, values))

    placed = [(task, cluster.placement(cfg, task)) for task in graph.tasks()]
    components = {task.name: component(task, p) for task, p in placed}

    @dsl.pipeline(name="polyglot-ko", description="Korean GPT-NeoX: collect, curate, tokenize, pretrain, evaluate, "
                                                  "register (cluster mode)")
    def pipeline(config_uri: str) -> str:
        run_id = None
        outputs: dict = {}
        previous = None          # the last step task of the current corpus stage: the next one waits for it
        for task, p in placed:
            node, make = task.node, components[task.name]
            if task.name == "begin":
                run_id = _apply(make(config_uri=config_uri), p).outputs["result"]
                continue
            if node is None:
                done = make(parent_run_id=run_id, last_uri=outputs[graph.STAGES[-1].name])
                return _apply(done, p).outputs["result"]
            inputs = {r: outputs[s] for r, s in node.inputs.items()}
            if task.step and task.step.fans_out:
                with dsl.ParallelFor(items=list(range(graph.width(node, task.step, cfg))),
                                     parallelism=cfg.cluster.max_parallel_shards) as rank:
                    op = make(parent_run_id=run_id, rank=rank, **inputs)
                    if previous is not None:
                        op.after(previous)
                    previous = _apply(op, p)
                continue
            op = make(parent_run_id=run_id, **inputs)
            if previous is not None:
                op.after(previous)
            _apply(op, p)
            if task.step:
                previous = op
            else:                # the stage's reduce: what later stages read
                outputs[node.name], previous = op.outputs["result"], None

    return pipeline


def compile_cluster(cfg, out: Path) -> list[Path]:
    """pipeline.yaml for this config's cluster run, and the training job manifest its pretrain task submits."""
    out.mkdir(parents=True, exist_ok=True)
    written = [out / "pipeline.yaml"]
    compiler.Compiler().compile(cluster_pipeline(cfg), str(written[0]))
    if cfg.pretrain.launcher != "local":   # what its pretrain task will submit (name and arguments: placeholders)
        from training.k8s import jobs
        written.append(jobs.write(jobs.preview(cfg.pretrain, cfg.artifact_root, cfg.s3_endpoint_url), out))
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
    # KFP runs every task of a run under one service account: the placements' (they all name the same one)
    (account,) = {cluster.placement(cfg, task).service_account for task in graph.tasks()}
    run = client.create_run_from_pipeline_package(
        str(package), arguments={"config_uri": config_uri}, experiment_name=cfg.experiment, run_name=run_name,
        enable_caching=False, service_account=account)
    return run.run_id, config_uri
