"""THE description of the stage graph. Every way of running the pipeline (local runner, KFP, Airflow) is built
from this list, so the wiring is written once.

Standard library only: the Airflow environment imports this module without the project's heavy stack.
"""
from __future__ import annotations

import math
from dataclasses import dataclass, field, replace


@dataclass(frozen=True)
class Resources:
    cpu: str = "2"
    memory: str = "8Gi"
    gpus: int = 0
    image: str = "cpu"   # images/<image>.Dockerfile


# Tasks that only coordinate: begin, finish, and pretrain when a Kubernetes training job does the training.
COORDINATOR = Resources(cpu="1", memory="2Gi", gpus=0, image="cpu")


@dataclass(frozen=True)
class Step:
    """One fan-out step of a corpus stage: `width` tasks (a key of the stage's config section, or a fixed number),
    task r running the stage module's function `fn` on its Shard(r, width) and the parts earlier steps wrote.
    The stage's `reduce` follows the last step and publishes the artifact."""
    name: str
    width: str | int
    fn: str
    resources: Resources | None = None         # default: the stage's

    @property
    def fans_out(self) -> bool:
        return not isinstance(self.width, int)


@dataclass(frozen=True)
class StageNode:
    name: str                                  # CLI and MLflow name: `polyglot-ko stage NAME`
    kind: str                                  # artifact kind it writes
    inputs: dict[str, str] = field(default_factory=dict)   # role -> upstream stage name
    steps: tuple[Step, ...] = ()               # corpus stages: fan-out steps, then `reduce`
    resources: Resources = field(default_factory=Resources)
    # A config setting that changes what the stage's pod needs: (dotted key, {value: resources for that value}).
    resources_by: tuple[str, dict[str, Resources]] | None = None
    # A stage that loads the trained model: its pod's memory is (times the weights in the export dtype, GiB more),
    # from the preset, rather than a fixed figure that is too small for 12.8B and wasteful for 1.3B.
    holds_model: tuple[float, float] | None = None

    @property
    def module(self) -> str:
        return "components.stages." + self.name.replace("-", "_")

    @property
    def sharded(self) -> bool:
        return bool(self.steps)

    def step(self, name: str) -> Step:
        for s in self.steps:
            if s.name == name:
                return s
        raise KeyError(f"stage {self.name} has no step {name!r} (steps: {', '.join(s.name for s in self.steps)})")


SHARD = Step("shard", "world_size", "map_shard")   # the first step of every corpus stage: its shards


STAGES: tuple[StageNode, ...] = (
    StageNode("collect", "RawCorpus", {}, steps=(SHARD,)),
    # clean and sign each shard; find duplicate pairs per hash-range bucket; cluster the pairs (the only global
    # step, its memory follows the duplicates); drop the duplicates where each shard's documents are
    StageNode("curate", "CuratedCorpus", {"raw": "collect"},
              steps=(SHARD, Step("bucket", "dedup_buckets", "bucket"),
                     # ~110 bytes per duplicate (benchmarks/curation_scale.py): 32Gi holds about 290 M of them
                     Step("cluster", 1, "cluster", Resources(cpu="2", memory="32Gi")),
                     Step("filter", "world_size", "filter_shard"))),
    StageNode("train-tokenizer", "Tokenizer", {"corpus": "curate"}),
    # one segment (train and validation indexed datasets) per curated file, the shards' runs of files in order
    StageNode("tokenize", "TokenizedDataset", {"corpus": "curate", "tokenizer": "train-tokenizer"},
              steps=(SHARD,)),
    # with a Kubernetes launcher the task only submits and watches the training job
    StageNode("pretrain", "TrainedModel", {"dataset": "tokenize", "tokenizer": "train-tokenizer"},
              resources=Resources(cpu="8", memory="64Gi", gpus=8, image="cuda"),
              resources_by=("pretrain.launcher", {"trainjob": COORDINATOR, "pytorchjob": COORDINATOR})),
    # evaluate: the weights once (moved to the GPU, or run on the CPU) and lm-eval's data; register: the weights
    # loaded, then written again by MLflow (safetensors takes contiguous copies)
    StageNode("evaluate", "EvalReport", {"model": "pretrain", "dataset": "tokenize"},
              resources=Resources(cpu="4", gpus=1, image="cuda"),
              resources_by=("evaluate.device", {"cpu": Resources(cpu="4", gpus=0, image="cpu")}),
              holds_model=(1.5, 6)),
    StageNode("register", "RegisteredModel", {"model": "pretrain", "report": "evaluate"}, holds_model=(2.0, 3)),
)



def stage(name: str) -> StageNode:
    for s in STAGES:
        if s.name == name:
            return s
    raise KeyError(f"unknown stage {name!r} (stages: {', '.join(s.name for s in STAGES)})")


def select(start: str | None = None, until: str | None = None) -> list[StageNode]:
    names = [s.name for s in STAGES]
    lo = names.index(stage(start).name) if start else 0
    hi = names.index(stage(until).name) if until else len(names) - 1
    return list(STAGES[lo:hi + 1])


def setting(cfg, dotted: str):
    """A value of a run config by its dotted key ("register.model_name")."""
    value = cfg
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


DTYPE_BYTES = {"float32": 4, "bfloat16": 2, "float16": 2}


def weights_bytes(cfg) -> int:
    """The exported model's weights: the preset's parameters (embedding padded as the tokenizer pads it) in
    pretrain.export_dtype."""
    from components.tokenizer.mbbpe import padded_vocab    # standard library only at import, like this module
    from training.presets import PRESETS

    preset = PRESETS.get(cfg.pretrain.preset)
    if preset is None:        # the config check names the bad preset; nothing to size here
        return 0
    vocab = padded_vocab(cfg.train_tokenizer.vocab_size + 8)      # learned + special tokens, padded as trained
    return preset.param_count(vocab) * DTYPE_BYTES[cfg.pretrain.export_dtype]


def resources(node: StageNode, cfg) -> Resources:
    """What the stage's task needs under a run config (`cfg`: a RunConfig)."""
    res = node.resources
    if node.resources_by:
        key, choices = node.resources_by
        res = choices.get(setting(cfg, key), node.resources)
    if node.holds_model:
        times, extra = node.holds_model
        res = replace(res, memory=f"{math.ceil(times * weights_bytes(cfg) / 2**30 + extra)}Gi")
    return res


def task_name(stage: str, suffix: str = "") -> str:
    """The task id of a stage (or of its shards) in both orchestrators."""
    return stage.replace("-", "_") + (f"_{suffix}" if suffix else "")


# The argument lists of `polyglot-ko ...` that every task runs: in a container, a bash task, or a pod.


def begin_argv(*, config: str, workdir: str) -> list[str]:
    """Start the pipeline run; prints the MLflow parent run id as the last line of stdout."""
    return ["begin", "--config", config, "--workdir", workdir]


def stage_argv(node: StageNode, *, workdir: str, parent_run_id: str, inputs: dict[str, str]) -> list[str]:
    """One stage. It reads the configuration `begin` froze for `parent_run_id`, and prints its output manifest's
    URI as the last line of stdout."""
    argv = ["stage", node.name, "--workdir", workdir, "--parent-run-id", parent_run_id]
    for role in node.inputs:
        argv += ["--input", f"{role}={inputs[role]}"]
    return argv


def step_argv(node: StageNode, step: Step, rank: int | str, *, workdir: str, parent_run_id: str,
              inputs: dict[str, str]) -> list[str]:
    """One task of a corpus stage's step (`rank` may be an orchestrator's placeholder); prints its part's URI."""
    return stage_argv(node, workdir=workdir, parent_run_id=parent_run_id, inputs=inputs) + [
        "--step", step.name, "--shard", str(rank)]


def finish_argv(*, workdir: str, parent_run_id: str, last_uri: str) -> list[str]:
    """End the pipeline run from the last stage's artifact (its ancestry names every other); prints the summary."""
    return ["finish", "--workdir", workdir, "--parent-run-id", parent_run_id, "--input",
            f"{STAGES[-1].name}={last_uri}"]


# The tasks of a pipeline run, as every orchestrator lays them out: begin, each stage (a corpus stage's shards
# first), finish.


@dataclass(frozen=True)
class Task:
    name: str                                  # the task id in every orchestrator
    node: StageNode | None = None              # None for begin and finish
    step: Step | None = None                   # a corpus stage's step; None: the stage itself (its reduce)


def tasks() -> list[Task]:
    out = [Task("begin")]
    for node in STAGES:
        out += [Task(task_name(node.name, s.name), node, s) for s in node.steps]
        out.append(Task(task_name(node.name), node))
    return out + [Task("finish")]


def width(node: StageNode, step: Step, cfg) -> int:
    """How many tasks a step has under a run config (`cfg`: a RunConfig)."""
    return getattr(cfg.section(node.name), step.width) if step.fans_out else step.width


def task_params(task: Task) -> dict[str, type]:
    """What a task is given by the orchestrator: begin the config's URI; a stage the parent run id and one URI per
    input role (a fanned-out step also its rank); finish the parent run id and the last stage's URI."""
    if task.name == "begin":
        return {"config_uri": str}
    if task.node is None:
        return {"parent_run_id": str, "last_uri": str}
    rank = {"rank": int} if task.step and task.step.fans_out else {}
    return {"parent_run_id": str, **rank, **{r: str for r in task.node.inputs}}


def task_argv(task: Task, workdir: str, values: dict) -> list[str]:
    """The argv of a task from the values `task_params` names (they may be orchestrator placeholders)."""
    if task.name == "begin":
        return begin_argv(config=values["config_uri"], workdir=workdir)
    if task.node is None:
        return finish_argv(workdir=workdir, parent_run_id=values["parent_run_id"], last_uri=values["last_uri"])
    inputs = {role: values[role] for role in task.node.inputs}
    if task.step:
        return step_argv(task.node, task.step, values.get("rank", 0), workdir=workdir,
                         parent_run_id=values["parent_run_id"], inputs=inputs)
    return stage_argv(task.node, workdir=workdir, parent_run_id=values["parent_run_id"], inputs=inputs)
