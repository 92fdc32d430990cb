"""Lineage in MLflow: one parent run per pipeline run, one child run per stage execution.

Uses MlflowClient with explicit run ids rather than the fluent API's process-global "active run", so the same
calls work in the local runner, a KFP task and an Airflow task alike (`MLFLOW_RUN_ID` is never exported).
"""
from __future__ import annotations

import json
import os
import re
import warnings
from pathlib import Path
from typing import Any

from . import pages
from .manifest import Manifest

_MAX_PARAM = 6000  # MLflow's limit on a param value
_BAD_KEY = re.compile(r"[^\w\-. :/]")


def safe_key(key: str) -> str:
    """MLflow keys allow alphanumerics, _ - . space : / only (special-token names like <eos> do not fit)."""
    return _BAD_KEY.sub("_", key)


def flatten(d: dict, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def set_process_uri(uri: str) -> None:
    """Point MLflow's fluent API (used to log and load models) at `uri` for this process only.

    mlflow.set_tracking_uri also exports MLFLOW_TRACKING_URI, which would make every later run in this process,
    and every child process, use this run's store instead of its own workdir's: keep the environment as it was.
    """
    import mlflow

    saved = {k: os.environ.get(k) for k in ("MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI")}
    mlflow.set_tracking_uri(uri)
    mlflow.set_registry_uri(uri)
    for k, v in saved.items():
        if v is None:
            os.environ.pop(k, None)
        else:
            os.environ[k] = v


def tracking_uri_for(workdir: Path) -> str:
    return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{(workdir / 'mlflow.db').resolve()}"


class Lineage:
    def __init__(self, tracking_uri: str, experiment: str, artifact_location: str | None = None):
        os.environ.setdefault("GIT_PYTHON_REFRESH", "quiet")
        warnings.filterwarnings("ignore", module="mlflow")
        from mlflow import MlflowClient

        self.tracking_uri = tracking_uri
        set_process_uri(tracking_uri)
        self.client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
        exp = self.client.get_experiment_by_name(experiment)
        if exp is None:
            try:
                self.experiment_id = self.client.create_experiment(experiment, artifact_location=artifact_location)
            except Exception:  # created meanwhile by a concurrent run
                self.experiment_id = self.client.get_experiment_by_name(experiment).experiment_id
            exp = self.client.get_experiment(self.experiment_id)
        else:
            self.experiment_id = exp.experiment_id
        # What kind of project this is (MLflow 3's model-training kind) and how to read it; set on experiments made
        # before these tags existed too. A description a person edited in the UI stays.
        for key, value in pages.experiment_tags(experiment).items():
            if exp.tags.get(key) != value and (key != pages.NOTE or not exp.tags.get(key)):
                self.client.set_experiment_tag(self.experiment_id, key, value)

    # -- runs ----------------------------------------------------------------------------------------------
    def start_parent(self, run_name: str, config: dict, tags: dict[str, str]) -> str:
        run = self.client.create_run(self.experiment_id, run_name=run_name, tags={"pipeline": "polyglot-ko", **tags})
        self.log_params(run.info.run_id, config)
        self.client.log_text(run.info.run_id, json.dumps(config, ensure_ascii=False, indent=2), "config.json")
        return run.info.run_id

    def end(self, run_id: str, status: str = "FINISHED") -> None:
        self.client.set_terminated(run_id, status=status)

    def start_stage(self, parent_run_id: str | None, stage: str, tags: dict[str, str]) -> str:
        t = {"stage": stage, **tags}
        if parent_run_id:
            t["mlflow.parentRunId"] = parent_run_id
        return self.client.create_run(self.experiment_id, run_name=stage, tags=t).info.run_id

    # -- logging -------------------------------------------------------------------------------------------
    def log_params(self, run_id: str, params: dict) -> None:
        from mlflow.entities import Param

        flat = flatten(params)
        batch = []
        for k, v in sorted(flat.items()):
            text = json.dumps(v, ensure_ascii=False) if isinstance(v, (list, dict)) else str(v)
            batch.append(Param(safe_key(k), text[:_MAX_PARAM]))
        for i in range(0, len(batch), 100):
            self.client.log_batch(run_id, params=batch[i:i + 100])

    def set_tags(self, run_id: str, tags: dict[str, Any]) -> None:
        from mlflow.entities import RunTag

        self.client.log_batch(run_id, tags=[RunTag(k, str(v)[:5000]) for k, v in tags.items()])

    def log_inputs(self, run_id: str, inputs: list) -> None:
        """Each upstream artifact as an MLflow dataset (source URI + content digest)."""
        from mlflow.data.dataset_source_registry import resolve_dataset_source
        from mlflow.data.meta_dataset import MetaDataset
        from mlflow.entities import DatasetInput, InputTag

        entries = []
        for ref in inputs:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                source = resolve_dataset_source(ref.uri)
            ds = MetaDataset(source=source, name=f"{ref.kind}:{ref.role}", digest=ref.digest[:36])
            entries.append(DatasetInput(ds._to_mlflow_entity(), tags=[InputTag("mlflow.data.context", ref.role)]))
        if entries:
            self.client.log_inputs(run_id, datasets=entries)

    def log_text(self, run_id: str, text: str, name: str) -> None:
        self.client.log_text(run_id, text, name)

    def log_file(self, run_id: str, path: Path, artifact_dir: str | None = None) -> None:
        self.client.log_artifact(run_id, str(path), artifact_dir)

    def describe(self, run_id: str, markdown: str) -> None:
        """The run's description: the markdown MLflow shows at the top of the run's page."""
        self.set_tags(run_id, {pages.NOTE: markdown})

    def log_figures(self, run_id: str, figures: dict[str, float]) -> None:
        """One-off numbers as a table artifact (stats.json: name, value), which MLflow's artifact view shows as a
        table; metrics are kept for time series."""
        rows = sorted(figures.items())
        self.client.log_table(run_id, {"name": [k for k, _ in rows], "value": [v for _, v in rows]}, "stats.json")

    def record_stage(self, run_id: str, manifest: Manifest, cache_hit: bool, info, seconds: float) -> None:
        """Tags leading to the artifact, its inputs as datasets, its params, its key figures as `stats.*` tags,
        every figure in stats.json, and a description (what the stage made, or which run made what it reused).
        `info`: the artifact's typed description (contract/kinds.py)."""
        self.set_tags(run_id, {
            "artifact.kind": manifest.kind, "artifact.uri": manifest.uri, "artifact.digest": manifest.digest,
            "artifact.key": manifest.key, "cache_hit": str(cache_hit).lower(),
            "code_version.git": manifest.code_version.get("git", ""),
            "code_version.stage": manifest.code_version.get("stage", ""),
            **({"cache.source_run_id": manifest.mlflow_run_id or ""} if cache_hit else {}),
        })
        key = info.key_figures()
        self.set_tags(run_id, {f"stats.{safe_key(k)}": f"{v:.6g}" if isinstance(v, float) else str(v)
                               for k, v in {**key, "seconds": seconds}.items()})
        self.log_inputs(run_id, manifest.inputs)
        self.log_params(run_id, manifest.params)
        self.log_figures(run_id, {**info.figures(), "seconds": seconds})
        self.log_text(run_id, manifest.to_json(), "manifest.json")
        self.describe(run_id, pages.stage_note(manifest, cache_hit, key, seconds, self.experiment_id))
