"""The stage contracts: typed artifact descriptions, stages bound to the graph by role, content addresses that
follow the code each stage runs, the trainer's arguments."""
import importlib
import json
import shutil
import subprocess
import sys
import types
from pathlib import Path

import pytest

from components.contract import graph, kinds
from components.contract.address import code_version, modules_of
from components.contract.artifact import Artifact, Output
from components.contract.config import CurateConfig, load_config
from components.contract.execution import bind, stage_params
from components.contract.kinds import CuratedCorpus, TokenizedDataset, Tokenizer
from components.contract.storage import Storage
from components.errors import StageFailed
from tests.support.stages import write_jsonl

ROOT = Path(__file__).resolve().parents[1]


# ------------------------------------------------------------------------------------- bound by role


def test_every_stage_module_matches_its_node_in_the_graph():
    for node in graph.STAGES:
        bind(node, importlib.import_module(node.module))


def test_a_stage_that_does_not_match_the_graph_is_refused_before_it_runs():
    node = graph.stage("pretrain")

    def run(cfg, *, dataset: Artifact[TokenizedDataset], tok: Artifact[Tokenizer], out: Output) -> kinds.TrainedModel:
        ...

    def run_wrong_kind(cfg, *, dataset: Artifact[Tokenizer], tokenizer: Artifact[Tokenizer],
                       out: Output) -> kinds.TrainedModel:
        ...

    def run_wrong_return(cfg, *, dataset: Artifact[TokenizedDataset], tokenizer: Artifact[Tokenizer],
                         out: Output) -> kinds.Tokenizer:
        ...

    for fn, needle in ((run, "takes ['dataset', 'out', 'tok'], the graph gives ['dataset', 'out', 'tokenizer']"),
                       (run_wrong_kind, "input dataset is annotated"),
                       (run_wrong_return, "the graph says it writes a TrainedModel")):
        module = types.ModuleType("components.stages.fake")
        module.run = fn
        with pytest.raises(StageFailed, match=__import__("re").escape(needle)):
            bind(node, module)


# --------------------------------------------------------------------------------- typed descriptions


def _curated(stages, tmp_path: Path):
    src = write_jsonl(tmp_path / "src" / "a.jsonl", [{"text": f"{i}번째 문서는 충분히 긴 한국어 문장입니다."}
                                                    for i in range(30)])
    cfg = {"collect": {"world_size": 1, "sources": [{"name": "a", "uri": str(src)}]},
           "curate": {"world_size": 1, "near_dedup": False}}
    return cfg, stages.upto(cfg, "curate")["curate"]


def test_a_manifest_that_breaks_its_kinds_contract_is_one_error_naming_artifact_and_field(stages, tmp_path):
    cfg, cur = _curated(stages, tmp_path)
    info = kinds.read(cur)
    assert isinstance(info, CuratedCorpus) and info.records_out == 30 and info.cleaning.steps == CurateConfig().steps
    path = Path(cur.uri) / "manifest.json"
    doc = json.loads(path.read_text())
    del doc["stats"]["chars_out"]          # train-tokenizer sizes its sample by it (a missing one meant "all")
    path.write_text(json.dumps(doc))
    with pytest.raises(StageFailed, match=r"CuratedCorpus at .*: field chars_out missing in its manifest"):
        stages.prepare(cfg, "train-tokenizer", {"corpus": cur.uri})
    doc["stats"]["chars_out"] = "many"
    path.write_text(json.dumps(doc))
    with pytest.raises(StageFailed, match="field chars_out must be int, got 'many'"):
        stages.prepare(cfg, "train-tokenizer", {"corpus": cur.uri})


def test_fields_a_later_version_adds_are_ignored_at_every_depth():
    from components.contract.manifest import Manifest
    info = kinds.RawCorpus(records_in=1, records_out=1, dropped={}, quarantined={}, chars=3, files=1, bytes=9,
                           shard_bytes=[9], requests={}, files_reused=0, records_reused=0, sources={"a": kinds.CollectedSource(records=1, chars=3, license="CC0-1.0")})
    stats = info.to_stats()
    stats["sources"]["a"]["language"] = "ko"
    stats["newer"] = 1
    assert kinds.read(Manifest(kind="RawCorpus", stage="collect", key="k", uri="u", stats=stats)) == info


def test_an_input_of_the_wrong_kind_is_refused(stages, tmp_path):
    cfg, cur = _curated(stages, tmp_path)
    with pytest.raises(StageFailed, match=r"input raw at .* is a CuratedCorpus, not a RawCorpus"):
        stages.prepare(cfg, "curate", {"raw": cur.uri})


def test_named_values_from_other_sections_enter_the_address():
    """evaluate names the model in its report: renaming the model must not reuse a report with the old name."""
    node = graph.stage("evaluate")
    module = importlib.import_module(node.module)
    a = stage_params(node, module, load_config("configs/tiny.yaml"), Storage())
    b = stage_params(node, module, load_config("configs/tiny.yaml", ["register.model_name=other"]), Storage())
    assert a["needs"] == {"model_name": "polyglot-ko-tiny"} and b["needs"] == {"model_name": "other"}


def test_the_model_card_claims_only_the_cleaning_that_ran():
    from components.registry.model_card import policy

    every = kinds.Cleaning(steps=list(CurateConfig().steps), url="remove", max_repeat=2, exact_dedup=True,
                           near_dedup=True, minhash_threshold=0.8)
    text = policy(every)
    assert "<|rrn|>" in text and "near-duplicate documents removed" in text and "not masked" not in text
    bare = kinds.Cleaning(steps=["empty", "whitespace"], url="remove", max_repeat=2, exact_dedup=False,
                          near_dedup=False, minhash_threshold=0.8)
    text = policy(bare)
    for claim in ("<|tel|>", "<|rrn|>", "duplicate documents removed", "Gopher", "HTML", "URL"):
        assert claim not in text, claim
    assert "PII was not masked" in text and "not deduplicated" in text


# ---------------------------------------------------------------------------- caches follow the code


def test_a_stages_code_version_covers_the_helpers_it_imports():
    mods = {node.name: set(modules_of(node.module)) for node in graph.STAGES}
    assert {"components.registry.promotion", "components.registry.model_card"} <= mods["register"]
    assert "components.corpus.records" in mods["tokenize"] and "components.tokenizer.mbbpe" in mods["train-tokenizer"]
    assert "components.tokenizer.indexed_dataset" in mods["evaluate"]
    assert {"training.train", "training.args", "training.data", "training.model"} <= mods["pretrain"]
    assert {"components.corpus.cleaning", "components.corpus.pii", "components.corpus.dedup"} <= mods["curate"]
    # where work runs, how it is stored and recorded, are not what it computes
    for name, m in mods.items():
        assert not {x for x in m if x.startswith(("components.cluster", "components.contract", "training.k8s"))}, name


def _copy_tree(dest: Path) -> Path:
    for pkg in ("components", "training"):
        shutil.copytree(ROOT / pkg, dest / pkg, ignore=shutil.ignore_patterns("__pycache__"))
    return dest


def _edit(root: Path, module: str, old: str | None = None, new: str | None = None) -> None:
    path = root.joinpath(*module.split(".")).with_suffix(".py")
    text = path.read_text()
    if old is None:
        path.write_text(text + "\n# an edit\n")
    else:
        assert old in text, (module, old)
        path.write_text(text.replace(old, new, 1))


@pytest.mark.parametrize("module,changed", [
    ("components.cluster.placement", set()),
    ("components.contract.lineage", set()),
    ("training.k8s.jobs", set()),
    ("components.registry.promotion", {"register"}),
    ("components.corpus.records", {"collect", "curate", "train-tokenizer", "tokenize"}),
    ("components.tokenizer.indexed_dataset", {"tokenize", "pretrain", "evaluate"}),
    ("training.metrics", {"pretrain"}),
])
def test_editing_a_module_changes_the_code_version_of_the_stages_that_run_it(tmp_path, module, changed):
    root = _copy_tree(tmp_path)
    before = {n.name: code_version(n.module, root) for n in graph.STAGES}
    _edit(root, module)
    after = {n.name: code_version(n.module, root) for n in graph.STAGES}
    assert {n for n in before if before[n] != after[n]} == changed


@pytest.mark.slow
def test_edits_rerun_the_stages_that_run_the_edited_code_and_what_depends_on_their_output(tmp_path):
    """The corpus stages of the tiny config, run from copies of the source tree: an edit to the placement module
    re-runs nothing; a comment in the tokenizer's quality report re-runs train-tokenizer, whose bytes do not
    change, so tokenize is reused; a change in the cleaning chain re-runs curate and everything downstream."""
    work = tmp_path / "work"

    def run(root: Path) -> dict[str, bool]:
        code = "import sys, components; from components.cli import main; print(components.__file__); sys.exit(main(sys.argv[1:]))"
        # -P: not the current directory (the checkout) first on the path: the copy is what runs
        # a tokenizer without morpheme analysis: what is checked is which stages rerun, not the tokenizer
        proc = subprocess.run([sys.executable, "-P", "-c", code, "run", "configs/tiny.yaml", "--workdir", str(work),
                               "--until", "tokenize", "--set", "train_tokenizer.morphemes=none"], cwd=ROOT,
                              env={**__import__("os").environ, "PYTHONPATH": str(root)},
                              capture_output=True, text=True, timeout=900)
        assert proc.returncode == 0, proc.stderr[-3000:]
        assert proc.stdout.startswith(str(root / "components")), proc.stdout[:300]
        lines = [ln.split() for ln in proc.stdout.splitlines() if ln.startswith("  ")]
        return {ln[0]: ln[1] == "cache" for ln in lines}

    base = _copy_tree(tmp_path / "base")
    assert run(base) == {s: False for s in ("collect", "curate", "train-tokenizer", "tokenize")}
    root = _copy_tree(tmp_path / "placement")
    _edit(root, "components.cluster.placement")
    assert run(root) == {s: True for s in ("collect", "curate", "train-tokenizer", "tokenize")}
    root = _copy_tree(tmp_path / "quality")
    _edit(root, "components.tokenizer.quality")
    assert run(root) == {"collect": True, "curate": True, "train-tokenizer": False, "tokenize": True}
    root = _copy_tree(tmp_path / "cleaning")
    _edit(root, "components.corpus.cleaning", 'return _BLANKS.sub("\\n\\n", "\\n".join(lines)).strip()',
          'return _BLANKS.sub("\\n\\n", "\\n".join(lines)).strip().replace("영화", "영화 ")')
    assert run(root) == {"collect": True, "curate": False, "train-tokenizer": False, "tokenize": False}


# ----------------------------------------------------------------------------- the trainer's arguments


def test_train_args_are_built_once_and_read_back_typed(tmp_path):
    from components.contract.config import PretrainConfig
    from training import synthetic
    from training.args import TrainArgs, build

    dataset, tokenizer = synthetic.inputs(tmp_path)
    cfg = PretrainConfig(nproc=2, micro_batch_size=4, seq_length=32, global_batch_tokens=1024, steps=40)
    args = build(cfg, dataset=dataset, tokenizer=tokenizer, checkpoint_dir="c", output_dir="o", cache_dir="k")
    assert (args.vocab_size, args.eos_id, args.grad_accum, args.world_size) == (256, 2, 4, 2)
    assert args.datasets[0].uri == dataset.uri and args.tokens_per_step == 1024
    assert TrainArgs.from_json(args.to_json()) == args
    broken = json.loads(args.to_json())
    del broken["keep_checkpoints"]              # the trainer used to default it to 2 on its own
    with pytest.raises(ValueError, match="keep_checkpoints: missing"):
        TrainArgs.from_json(json.dumps(broken))
