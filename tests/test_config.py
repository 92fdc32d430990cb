import pytest

from components.cli import main
from components.contract.config import load_config
from components.errors import UserError


def test_demo_config_loads_with_typed_sections():
    cfg = load_config("configs/demo.yaml")
    assert cfg.collect.sources[0].name == "nsmc"
    assert cfg.train_tokenizer.vocab_size == 30000
    assert cfg.pretrain.nproc == 2 and isinstance(cfg.pretrain.lr, float)


def test_set_overrides_parse_as_yaml():
    cfg = load_config("configs/demo.yaml", ["pretrain.steps=7", "evaluate.tasks=[copa, wic]", "pretrain.lr=1e-4"])
    assert cfg.pretrain.steps == 7
    assert cfg.evaluate.tasks == ["copa", "wic"]
    assert cfg.pretrain.lr == pytest.approx(1e-4)


@pytest.mark.parametrize("override,needle", [
    ("pretrain.stepz=3", "unknown key pretrain.stepz"),
    ("pretrain.steps=many", "pretrain.steps must be int"),
    ("collect.sources=3", "collect.sources must be a list"),
    # enumerated settings: checked when the file loads, the allowed values named (curate.url used to take anything
    # that was not keep/remove as "mask")
    ("curate.url=drop", "curate.url must be one of remove, mask, keep; got 'drop'"),
    ("curate.steps=[empty, nfc, typo]", r"curate.steps\[2\] must be one of empty, nfc, html, url"),
    ("pretrain.zero_stage=4", "pretrain.zero_stage must be one of 0, 1, 2, 3; got 4"),
    ("pretrain.launcher=slurm", "pretrain.launcher must be one of local, trainjob, pytorchjob; got 'slurm'"),
    ("pretrain.precision=fp16", "pretrain.precision must be one of fp32, bf16"),
    ("evaluate.tasks=[copa, klue]", r"evaluate.tasks\[1\] must be one of boolq, copa, hellaswag, sentineg, wic"),
    ("collect.sources=[{name: a, uri: x, format: csv}]", "collect.sources\\[0\\].format must be one of auto, jsonl"),
    ("collect.sources=[{name: a}]", r"collect.sources\[0\].uri missing"),
    ("register.score=kobest_f1", "register.score must be one of kobest_macro_f1_mean, kobest_acc_mean"),
])
def test_bad_config_is_one_clear_error(override, needle):
    with pytest.raises(UserError, match=needle):
        load_config("configs/demo.yaml", [override])


def test_cli_reports_user_errors_in_one_line(capsys, tmp_path):
    assert main(["run", str(tmp_path / "missing.yaml"), "--workdir", str(tmp_path)]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err == [f"polyglot-ko: error: config file not found: {tmp_path / 'missing.yaml'}"]


def test_unknown_stage_in_from_is_rejected(tmp_path):
    from components.contract import graph
    with pytest.raises(KeyError, match="unknown stage"):
        graph.select("nope")


def test_enumerations_name_what_the_code_implements():
    import typing

    from components.contract.config import CleaningStep, CurateConfig, KobestTask
    from components.corpus.cleaning import steps_for
    from components.evaluation.kobest import TASKS
    assert set(steps_for(CurateConfig())) == set(typing.get_args(CleaningStep))
    assert TASKS == typing.get_args(KobestTask)


def test_a_literal_does_not_take_a_bool_for_an_int():
    with pytest.raises(UserError, match="pretrain.zero_stage must be one of 0, 1, 2, 3; got True"):
        load_config("configs/demo.yaml", ["pretrain.zero_stage=true"])
