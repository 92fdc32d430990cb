"""The stage graph as a Kubeflow Pipelines v2 pipeline, built from components.graph (wiring written once).

Tasks pass only strings: the MLflow parent run id from `begin`, then each stage's output manifest URI. Caching is
left to the stages' own content addressing, so KFP's cache is off.
"""

import inspect
import json
import os
from pathlib import Path

from kfp import compiler, dsl

from components import graph

IMAGE = os.environ.get("POLYGLOT_KO_IMAGE", "polyglot-ko-cpu:0.1.0")


@dsl.component(base_image=IMAGE)
def begin_op(config: str, workdir: str, overrides: str) -> str:
    import json
    from pathlib import Path

    from components.config import load_config
    from components.runner import begin

    return begin(load_config(config, json.loads(overrides)), Path(workdir).resolve(), config)


@dsl.component(base_image=IMAGE)
def stage_op(stage: str, workdir: str, parent_run_id: str, raw: str = "", corpus: str = "", tokenizer: str = "",
             dataset: str = "", model: str = "", report: str = "") -> str:
    from pathlib import Path

    from components.runner import run_one

    inputs = {k: v for k, v in dict(raw=raw, corpus=corpus, tokenizer=tokenizer, dataset=dataset, model=model,
                                    report=report).items() if v}
    manifest, _, _ = run_one(stage, Path(workdir).resolve(), parent_run_id, inputs)
    return manifest.uri


@dsl.component(base_image=IMAGE)
def finish_op(workdir: str, parent_run_id: str, last_stage: str, last_uri: str) -> str:
    import json
    from pathlib import Path

    from components.runner import finish

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
