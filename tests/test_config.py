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
