"""`polyglot-ko plan`: every task of the graph costed from the committed measurements, and the figures move the
way the work does (more data, more parallelism, more duplicates)."""
import json
import math

import pytest

from components import capacity
from components.cli import main
from components.contract import graph
from components.contract.config import load_config

CONFIG = "configs/polyglot-ko-1.3b.yaml"


def _plan(*overrides, corpus="1.2T", documents=None, **assume):
    cfg = load_config(CONFIG, list(overrides))
    rows, figures = capacity.plan(cfg, capacity.parse_bytes(corpus), documents,
                                  assume=capacity.Assumptions(**assume))
    return cfg, {(r.stage, r.step): r for r in rows}, figures


def test_sizes_and_counts_are_read_as_written():
    assert capacity.parse_bytes("1.2T") == 1_200_000_000_000
    assert capacity.parse_bytes("500GiB") == 500 * 2**30
    assert capacity.parse_bytes("863 GB") == 863_000_000_000
    assert capacity.parse_count("500M") == 500_000_000
    for bad in ("a lot", "1.2.3T", ".", "0", "0G"):
        with pytest.raises(capacity.UserError, match="cannot read"):
            capacity.parse_bytes(bad)
    with pytest.raises(capacity.UserError, match="--file-bytes: cannot read"):
        capacity.parse_bytes("x", "--file-bytes")
    with pytest.raises(capacity.UserError, match="--mfu"):
        capacity.Assumptions(mfu=0)
    with pytest.raises(capacity.UserError, match="--duplicate-share"):
        capacity.Assumptions(duplicate_share=1.5)


def test_every_stage_and_step_of_the_graph_has_a_row_with_the_configs_task_counts():
    cfg, rows, figures = _plan()
    expected = {(t.node.name, t.step.name if t.step else ("reduce" if t.node.sharded else "run"))
                for t in graph.tasks() if t.node}
    assert expected <= set(rows)
    assert rows[("collect", "shard")].tasks == cfg.collect.world_size == 512
    assert rows[("curate", "bucket")].tasks == cfg.curate.dedup_buckets == 256
    assert rows[("curate", "cluster")].tasks == 1
    assert rows[("curate", "filter")].tasks == cfg.curate.world_size
    assert 400e6 < figures["documents"] < 600e6, "1.2 TB at the measured bytes per document: ~500 M documents"
    assert rows[("pretrain", "run")].gpu_hours > 0 and rows[("curate", "shard")].gpu_hours == 0
    for r in rows.values():
        assert r.wall_s >= 0 and r.core_hours >= 0


def test_figures_follow_the_work():
    _, base, _ = _plan()
    _, double, _ = _plan(corpus="2.4T")
    _, wide, _ = _plan("cluster.max_parallel_shards=128")
    _, dupes, _ = _plan(duplicate_share=0.3)
    shard = ("curate", "shard")
    assert double[shard].core_hours == pytest.approx(2 * base[shard].core_hours, rel=0.1)
    assert double[shard].task_memory >= base[shard].task_memory
    assert double[shard].task_disk > base[shard].task_disk
    # twice the tasks at once: half the waves of 512 shard tasks (each wave as long as before)
    assert math.isclose(wide[shard].wall_s, base[shard].wall_s / 2, rel_tol=0.01)
    assert wide[shard].core_hours == pytest.approx(base[shard].core_hours)
    cluster = ("curate", "cluster")
    assert dupes[cluster].task_memory > base[cluster].task_memory
    assert dupes[cluster].wall_s > base[cluster].wall_s


def test_a_task_above_its_pods_memory_is_marked(tmp_path):
    measured = json.loads(capacity.MEASURED.read_text())
    steps = measured["one_task_large"]["stages"]["curate"]["steps"]
    steps["filter"]["peak_rss_mb_max"] *= 40          # as if a filter task grew 40x faster with its share
    path = tmp_path / "figures.json"
    path.write_text(json.dumps(measured))
    cfg = load_config(CONFIG, [])
    rows, figures = capacity.plan(cfg, capacity.parse_bytes("1.2T"), measured=path)
    filt = next(r for r in rows if (r.stage, r.step) == ("curate", "filter"))
    assert not filt.fits
    assert "PEAK ABOVE ITS POD'S MEMORY" in capacity.render(cfg, capacity.parse_bytes("1.2T"), rows, figures,
                                                            capacity.Prices(), capacity.Assumptions())


def test_the_command_prints_the_plan_and_refuses_bad_input(capsys, tmp_path):
    assert main(["plan", CONFIG, "--corpus-bytes", "1.2T", "--documents", "500M", "--gpu-hour-usd", "2"]) == 0
    out = capsys.readouterr().out
    assert "500,000,000 documents" in out and "curate          bucket      256" in out
    assert "x $2.0/h" in out and "assumed" in out
    assert main(["plan", CONFIG, "--corpus-bytes", "lots"]) == 2
    assert "cannot read 'lots'" in capsys.readouterr().err
    assert main(["plan", CONFIG, "--corpus-bytes", "1T", "--set", "curate.dedup_buckets=0"]) == 2
    assert "curate.dedup_buckets must be at least 1" in capsys.readouterr().err
    assert main(["plan", CONFIG, "--corpus-bytes", "1T", "--measured", str(tmp_path / "none.json")]) == 2
    assert "no measurements" in capsys.readouterr().err
