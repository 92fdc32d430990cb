"""Runs added to the tiny run (`tiny_reruns`: the same config again, all cache hits; then one parameter changed,
which reruns evaluate and register: version 2), and the pages users open in MLflow on that store: what the pipeline
records for them (the experiment's kind and description, the run summary, the lineage picture, metrics that are
time series, the registry's descriptions and the comparison against the champion), then the same pages rendered in
headless Chromium."""
import json
import time
from pathlib import Path

import pytest

from tests.support.browser import SECTIONS, Browser, missing, pages
from tests.support.services import MlflowServer

pytestmark = pytest.mark.slow
MODEL = EXPERIMENT = "polyglot-ko-tiny"
STAGES = ["collect", "curate", "train-tokenizer", "tokenize", "pretrain", "evaluate", "register"]


def _client(store):
    return store.client()


def _run_and_children(client, parent_run_id: str):
    parent = client.get_run(parent_run_id)
    exp = client.get_experiment(parent.info.experiment_id)
    return exp, parent, client.search_runs([exp.experiment_id], f"tags.mlflow.parentRunId = '{parent_run_id}'",
                                           max_results=100)


def _children(client, parent_run_id: str) -> list:
    return _run_and_children(client, parent_run_id)[2]


def _first_parent(store):
    return _run_and_children(store.client(), store.first.parent_run_id)


# every chart card of the run's metric page: its title, bars drawn, line traces drawn
CARDS = """return Array.from(document.querySelectorAll("[data-testid='experiment-view-compare-runs-card']")).map(
  c => [c.innerText.split('\\n')[0], c.querySelectorAll('.barlayer .point').length,
        c.querySelectorAll('.scatterlayer .trace').length])"""


SCROLL_LAST = """const c = document.querySelectorAll("[data-testid='experiment-view-compare-runs-card']");
  c[c.length - 1].scrollIntoView()"""


@pytest.fixture(scope="class")
def ui(tiny_reruns, tmp_path_factory):
    if (why := missing()):
        pytest.skip(why)
    server = MlflowServer(tmp_path_factory.mktemp("ui"), backend=tiny_reruns.first.tracking_uri).start()
    try:
        with Browser() as browser:
            yield server.uri, browser, pages(tiny_reruns.first.tracking_uri, EXPERIMENT, MODEL, "2")
    finally:
        server.stop()


class TestTwoMoreRuns:
    """On `tiny_reruns`: a cache-hit run and version 2 beside the first run (the workdir is put back after)."""

    def test_second_run_is_all_cache_hits(self, tiny_reruns):
        import os
        assert "MLFLOW_TRACKING_URI" not in os.environ, "a run must not point later runs at its own store"
        assert tiny_reruns.again_out.count("cache hit") == len(STAGES), tiny_reruns.again_out
        client = tiny_reruns.client()
        hits = _children(client, tiny_reruns.again)
        assert len(hits) == len(STAGES) and all(r.data.tags["cache_hit"] == "true" for r in hits)
        first = {r.info.run_name: r.info.run_id for r in _children(client, tiny_reruns.first.parent_run_id)}
        assert all(r.data.tags["cache.source_run_id"] == first[r.info.run_name] for r in hits)
        versions = client.search_model_versions("name='polyglot-ko-tiny'")
        assert sorted(int(v.version) for v in versions) == [1, 2], "a cache hit registers nothing new; the change does"

    def test_changing_one_parameter_reruns_only_that_stage_and_downstream(self, tiny_reruns):
        lines = {ln.split()[0]: ln for ln in tiny_reruns.changed_out.splitlines() if ln.startswith("  ")}
        assert "ran" in lines["evaluate"] and "ran" in lines["register"]
        mv = tiny_reruns.client().get_model_version("polyglot-ko-tiny", "2")
        assert mv.tags["promotion.decision"] in ("champion", "challenger") and mv.tags["promotion.reason"]
        assert mv.run_id in {r.info.run_id for r in _children(tiny_reruns.client(), tiny_reruns.changed)}

    def test_the_experiment_and_the_parent_run_explain_themselves(self, tiny_reruns, tmp_path):
        client = _client(tiny_reruns)
        exp, parent, children = _first_parent(tiny_reruns)
        assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
        assert "runs of the Polyglot-Ko training pipeline" in exp.tags["mlflow.note.content"]
        note = parent.data.tags["mlflow.note.content"]
        for stage in ("collect", "curate", "train-tokenizer", "tokenize", "pretrain", "evaluate", "register"):
            digest = next(r for r in children if r.info.run_name == stage).data.tags["artifact.digest"]
            assert f"| {stage} | ran | `{digest[:12]}` |" in note, note
        assert "**Records**" in note and "**Tokens**" in note and "| boolq |" in note
        png = Path(client.download_artifacts(parent.info.run_id, "lineage.png", str(tmp_path)))
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000

        # a cache-hit run says so in its summary
        hit = client.get_run(tiny_reruns.again).data.tags["mlflow.note.content"]
        assert "| collect | cache hit |" in hit and "| register | cache hit |" in hit, hit


    def test_metrics_are_time_series_and_stats_are_tags_and_a_table(self, tiny_reruns, tmp_path):
        client = _client(tiny_reruns)
        _, _, children = _first_parent(tiny_reruns)
        by_name = {r.info.run_name: r for r in children}
        for name, run in by_name.items():
            if name == "pretrain":
                continue
            if name == "register":     # the KoBEST scores linked to the registered LoggedModel (its page shows them)
                assert all(k.startswith("kobest_") or k == "validation_perplexity" for k in run.data.metrics), name
                continue
            assert run.data.metrics == {}, f"{name} logs one-off numbers as metrics: {sorted(run.data.metrics)}"
            assert "stats.seconds" in run.data.tags and run.data.tags["mlflow.note.content"].startswith(f"**{name}**")
        assert int(by_name["curate"].data.tags["stats.records_out"]) > 0
        table = json.loads(Path(client.download_artifacts(by_name["curate"].info.run_id, "stats.json",
                                                          str(tmp_path))).read_text())
        assert table["columns"] == ["name", "value"]
        figures = {name: value for name, value in table["data"]}
        assert figures["records_out"] == int(by_name["curate"].data.tags["stats.records_out"])
        assert "dropped.too_short" in figures

        pretrain = by_name["pretrain"]
        names = sorted(pretrain.data.metrics)
        assert {"train/loss", "train/lr", "train/tokens_per_s", "system/memory_gb", "eval/validation_loss",
                "eval/kobest_mean_f1", "forward_time/slowest_rank"} <= set(names), names
        for key in names:
            assert "/" in key, f"{key}: an ungrouped metric"
            assert len(client.get_metric_history(pretrain.info.run_id, key)) >= 2, f"{key} is a one-value metric"


    def test_the_registry_explains_every_version_against_the_champion(self, tiny_reruns, tmp_path):
        client = _client(tiny_reruns)
        rm = client.get_registered_model(MODEL)
        assert "**Promotion.**" in rm.description and "polyglot-ko rollback" in rm.description
        v1, v2 = client.get_model_version(MODEL, "1"), client.get_model_version(MODEL, "2")
        for v in (v1, v2):
            first = v.description.splitlines()[0]
            assert first.startswith(f"Gate: {v.tags['promotion.decision']} · {MODEL} v{v.version}, preset micro")
            assert len(v.description) <= 5000 and not v.description.startswith("---")
            assert f"`{v.tags['lineage.tokenize.digest'][:16]}`" in v.description
            assert "#/experiments/" in v.description and v.tags["lineage.tokenize.run_id"] in v.description
        assert "| task | this version |" in v1.description, "v1 had no champion to stand beside"
        assert "champion (v1)" in v2.description and "| **mean** |" in v2.description

        # v2's comparison report, logged with the version, agrees with the registry's tags
        report = Path(client.download_artifacts(v2.run_id, "comparison.json", str(tmp_path)))
        data = json.loads(report.read_text())
        assert data["champion_version"] == "1" and data["decision"] == v2.tags["promotion.decision"]
        for shots, deltas in data["kobest_f1_delta"].items():
            for task, d in deltas.items():
                new = float(v2.tags[f"eval.kobest.{shots}shot.{task}.f1"])
                old = float(v1.tags[f"eval.kobest.{shots}shot.{task}.f1"])
                assert d == pytest.approx(new - old, abs=1e-5)
        md = Path(client.download_artifacts(v2.run_id, "comparison.md", str(tmp_path))).read_text()
        assert "## What changed in the data" in md and "| records_out |" in md and "Tokenizer: the same" in md

    def test_the_four_pages_in_a_browser(self, ui):
        base, b, routes = ui
        text = b.open(f"{base}/{routes['experiment']}", "pipeline-")
        assert "runs of the Polyglot-Ko training pipeline" in text, "the experiment's description"
        assert "Token Usage" not in text and "Evaluation runs" not in text, "the GenAI overview, not the training view"

        b.open(f"{base}/{routes['pretrain']}", "Add chart", until_css=SECTIONS)
        sections = {s.split("\n")[0]: s.split("\n")[1] for s in b.elements_text(SECTIONS)}
        assert {"train", "eval", "forward_time"} <= set(sections), sections
        assert sections.get("Model metrics", "(0)") == "(0)", "ungrouped metrics land in MLflow's catch-all section"
        cards: dict[str, tuple] = {}
        for _ in range(40):          # charts are drawn once scrolled to: scroll to the last one until none is new
            found = b.driver.execute_script(CARDS)
            new = {t: (t, bars, lines) for t, bars, lines in found if bars or lines}
            if set(new) <= set(cards) and cards:
                break
            cards.update(new)
            b.driver.execute_script(SCROLL_LAST)
            time.sleep(1.5)
        cards = list(cards.values())
        titles = {t for t, _, _ in cards}
        assert {"loss", "lr", "kobest_mean_f1", "validation_loss"} <= titles, titles
        assert all(lines and not bars for _, bars, lines in cards), f"one-value (bar) charts: {cards}"

        text = b.open(f"{base}/{routes['model']}", "Promotion")
        assert "polyglot-ko rollback" in text and text.count("Gate: ") == 2, "the versions table shows first lines"
        assert "\n---\n" not in text

        text = b.open(f"{base}/{routes['version']}", "KoBEST macro-F1")
        assert f"{MODEL} v2, preset" in text and "language: ko" not in text, "a summary, not the card's front matter"
        tables = b.elements_text("table")
        assert any("champion (v1)" in t and "boolq" in t for t in tables), tables
