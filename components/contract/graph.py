"""THE description of the stage graph. Every way of running the pipeline (local runner, KFP, Airflow) is built
from this list, so the wiring is written once.

Standard library only: the Airflow environment imports this module without the project's heavy stack.
"""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Resources:
    cpu: str = "2"
    memory: str = "8Gi"
    gpus: int = 0
    image: str = "cpu"   # images/<image>.Dockerfile


@dataclass(frozen=True)
class StageNode:
    name: str                                  # CLI and MLflow name: `polyglot-ko stage NAME`
    kind: str                                  # artifact kind it writes
    inputs: dict[str, str] = field(default_factory=dict)   # role -> upstream stage name
    sharded: bool = False                      # corpus stage: (rank, world_size) map + reduce
    resources: Resources = field(default_factory=Resources)

    @property
    def module(self) -> str:
        return "components.stages." + self.name.replace("-", "_")


STAGES: tuple[StageNode, ...] = (
    StageNode("collect", "RawCorpus", {}, sharded=True),
    StageNode("curate", "CuratedCorpus", {"raw": "collect"}, sharded=True),
    StageNode("train-tokenizer", "Tokenizer", {"corpus": "curate"}),
    StageNode("tokenize", "TokenizedDataset", {"corpus": "curate", "tokenizer": "train-tokenizer"}),
    StageNode("pretrain", "TrainedModel", {"dataset": "tokenize", "tokenizer": "train-tokenizer"},
              resources=Resources(cpu="8", memory="64Gi", gpus=8, image="cuda")),
    StageNode("evaluate", "EvalReport", {"model": "pretrain", "dataset": "tokenize"},
              resources=Resources(cpu="4", memory="32Gi", gpus=1, image="cuda")),
    StageNode("register", "RegisteredModel", {"model": "pretrain", "report": "evaluate"}),
)

# Every input role any stage uses; orchestrator adapters expose one optional argument per role.
ROLES: tuple[str, ...] = tuple(dict.fromkeys(r for s in STAGES for r in s.inputs))


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


def stage_argv(node: StageNode, *, workdir: str, parent_run_id: str, inputs: dict[str, str]) -> list[str]:
    """Arguments of `polyglot-ko stage ...` for one stage: what every container and bash task runs.

    The stage reads the configuration `begin` froze for `parent_run_id`, and prints its output manifest's URI as
    the last line of stdout.
    """
    argv = ["stage", node.name, "--workdir", workdir, "--parent-run-id", parent_run_id]
    for role in node.inputs:
        argv += ["--input", f"{role}={inputs[role]}"]
    return argv
