"""Model presets (the published shapes, exact parameter counts), the run plan, and the blended sample index."""
import json
from pathlib import Path
import numpy as np
import pytest

from components.cli import main
from components.contract.config import PretrainConfig, load_config
from components.errors import UserError
from components.tokenizer.indexed_dataset import IndexedDatasetWriter
from components.tokenizer.segments import TokenStream
from training.data import BlendedIndex, SampleIndex
from training.plan import resolve
from training.presets import PRESETS, hf_config


@pytest.mark.parametrize("name,count", [("polyglot-ko-1.3b", 1_331_810_304), ("polyglot-ko-3.8b", 3_809_974_272),
                                        ("polyglot-ko-5.8b", 5_885_059_072)])
def test_published_shapes_have_the_model_cards_parameter_counts(name, count):
    assert PRESETS[name].param_count() == count


def test_12_8b_follows_the_formula_and_the_card_difference_is_reported(capsys):
    assert PRESETS["polyglot-ko-12.8b"].param_count() == 12_893_603_840
    assert main(["presets"]) == 0
    out = capsys.readouterr().out
    assert "1,331,810,304" in out and "12,893,603,840" in out
    assert "model card: 12,898,631,680" in out and "5,027,840 more" in out


def test_formula_matches_a_real_gpt_neox_module():
    """The closed form counts what transformers builds (checked on a small shape with the same structure)."""
    from transformers import GPTNeoXForCausalLM
    from training.presets import Preset

    p = Preset(3, 96, 384, 4, 0.25)
    model = GPTNeoXForCausalLM(hf_config(p, vocab_size=640))
    assert sum(t.numel() for t in model.parameters()) == p.param_count(vocab=640)


def test_hf_config_keeps_the_published_conventions():
    c = hf_config(PRESETS["polyglot-ko-5.8b"], 30_080)
    assert (c.bos_token_id, c.eos_token_id, c.vocab_size) == (0, 2, 30_080)
    assert c.rope_parameters["partial_rotary_factor"] == 0.25 and c.rope_parameters["rope_theta"] == 10000
    assert c.hidden_size // c.num_attention_heads == 256
    assert c.use_parallel_residual and not c.tie_word_embeddings


def test_plan_reaches_the_global_batch_by_accumulation_and_rejects_what_cannot_run():
    cfg = PretrainConfig(nproc=2, micro_batch_size=4, seq_length=128, global_batch_tokens=8192, train_tokens=100_000,
                         warmup_steps=2)
    plan = resolve(cfg)
    assert (plan.world_size, plan.grad_accum, plan.tokens_per_step, plan.steps) == (2, 8, 8192, 13)
    bad = [
        (dict(global_batch_tokens=1000), "not a multiple"),
        (dict(nodes=2), "local launcher runs on one node"),
        (dict(attention="flash_attention_2"), "needs device cuda"),
        (dict(warmup_steps=500, steps=100), "warmup_steps"),
        (dict(dataset_weight=0.0), "weights"),
    ]
    for over, msg in bad:
        with pytest.raises(UserError, match=msg):
            resolve(PretrainConfig(**over))
    # single settings outside their allowed values are refused when the config loads (Literal types)
    for over, msg in (("pretrain.zero_stage=4", "zero_stage"), ("pretrain.launcher=slurm", "launcher must be")):
        with pytest.raises(UserError, match=msg):
            load_config("configs/demo.yaml", [over])


def test_kubernetes_settings_are_typed_in_the_config(tmp_path):
    p = tmp_path / "c.yaml"
    p.write_text("pretrain:\n  kubernetes:\n    node_selector: [gpu]\n")
    with pytest.raises(UserError, match="pretrain.kubernetes.node_selector must be a mapping"):
        load_config(p)
    p.write_text("pretrain:\n  kubernetes:\n    gpus: 8\n")
    with pytest.raises(UserError, match="unknown key pretrain.kubernetes.gpus"):
        load_config(p)


def _indexed(tmp_path, name: str, lo: int, docs: int = 200):
    rng = np.random.RandomState(len(name))
    w = IndexedDatasetWriter(tmp_path / name, np.uint16)
    for _ in range(docs):
        w.add_document(list(rng.randint(lo, lo + 100, size=rng.randint(5, 40))) + [2])
    w.close()
    return SampleIndex(TokenStream([tmp_path / name], [w.tokens], np.uint16), 16, seed=3)


def test_blend_follows_the_weights_exactly_per_block_and_is_deterministic(tmp_path):
    a, b = _indexed(tmp_path, "a", 10), _indexed(tmp_path, "b", 300)
    blend = BlendedIndex([a, b], [3.0, 1.0], seed=5, block=1024)
    owners = [blend.locate(i)[0] for i in range(4096)]
    assert owners.count(0) == 3072 and owners.count(1) == 1024
    assert all(owners[i:i + 1024].count(1) == 256 for i in range(0, 4096, 1024))
    assert 0 < owners[:64].count(1) < 64, "interleaved, not one dataset after the other"
    # each dataset is consumed in order, no sample skipped or repeated
    per = {0: [], 1: []}
    for i in range(4096):
        d, j = blend.locate(i)
        per[d].append(j)
    assert sorted(per[0]) == list(range(3072)) and sorted(per[1]) == list(range(1024))
    # tokens come from the right dataset; the same seed gives the same stream
    again = BlendedIndex([a, b], [3.0, 1.0], seed=5, block=1024)
    for i in (0, 1, 777, 4095):
        d, _ = blend.locate(i)
        toks = blend.sample(i)
        assert np.array_equal(toks, again.sample(i))
        body = toks[toks != 2]
        assert ((body >= 10) & (body < 110)).all() if d == 0 else ((body >= 300) & (body < 400)).all()
    assert [BlendedIndex([a, b], [3.0, 1.0], seed=6, block=1024).locate(i)[0] for i in range(64)] != owners[:64]


def test_steps_use_the_same_samples_whatever_the_world_size(tmp_path):
    """Resuming on a different number of GPUs keeps the data order: a step's samples depend on the step only."""
    blend = BlendedIndex([_indexed(tmp_path, "a", 10)], [1.0], seed=1)

    def step_samples(world, micro, accum):
        rows = [blend.batch(4, m, r, micro, world, accum) for m in range(accum) for r in range(world)]
        return sorted(map(bytes, np.concatenate(rows)))

    assert step_samples(1, 8, 2) == step_samples(2, 4, 2) == step_samples(4, 2, 2) == step_samples(2, 2, 4)


def test_training_data_is_staged_once_for_all_nodes_and_restarts(tmp_path, s3):
    """A dataset in object storage reaches the shared volume once: two nodes, each with a fetching process and
    a waiting one, split its files between them (one GET per file in all); a restart fetches nothing; the
    staged split reads as the original; a node that never stages its share is one clear error, not a hang."""
    import dataclasses
    from concurrent.futures import ThreadPoolExecutor

    from components.contract.manifest import write_manifest
    from components.contract.storage import REQUESTS, Storage, join
    from training import synthetic
    from training.args import DatasetRef
    from training.data import open_split, stage

    local, _ = synthetic.inputs(tmp_path / "syn", documents=400)
    storage, uri = Storage(), "s3://artifacts/staged/dataset"
    for f in local.manifest.files:
        storage.put_file(Path(local.manifest.file_uri(f.name)), join(uri, f.name))
    write_manifest(storage, dataclasses.replace(local.manifest, uri=uri))
    ref = DatasetRef(uri=uri, weight=1.0, endpoint_url=None)
    volume = tmp_path / "volume"

    gets = REQUESTS["get"]
    with ThreadPoolExecutor(4) as pool:
        done = list(pool.map(lambda job: stage([ref], volume, node=job[0], nodes=2, fetch=job[1], poll_s=0.05),
                             [(0, False), (1, False), (0, True), (1, True)]))
    train_files = 2 * len([s for s in json.loads(Path(local.manifest.file_uri("segments.json")).read_text())[
        "segments"] if s["train"]["documents"]])
    assert [d["staged"] for d in done] == [train_files] * 4
    assert [d["files"] for d in done] == [0, 0, train_files // 2, train_files // 2], "each node fetched its share"
    # one GET per data file, whichever process asked; each process also reads the manifest and segments.json
    assert REQUESTS["get"] - gets == train_files + 4 * 2

    again = stage([ref], volume, node=0, nodes=2)
    assert again["files"] == 0 and REQUESTS["get"] - gets == train_files + 5 * 2, "a restart finds it in place"
    local_ref = DatasetRef(uri=local.uri, weight=1.0, endpoint_url=None)
    staged, original = open_split(ref, volume), open_split(local_ref, volume)
    assert len(staged) == len(original) == local.info.train.tokens
    assert np.array_equal(staged[0:len(staged)], original[0:len(original)])

    with pytest.raises(RuntimeError, match=r"node\(s\) \[1\] of 2 have not staged .* is every node's pod running"):
        stage([ref], tmp_path / "half", node=0, nodes=2, timeout_s=0.3, poll_s=0.05)
