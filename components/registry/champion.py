"""Scheduled retraining reuses the registered champion's work: `champion` as the value of

    curate.base             the curated corpus it was trained on: new documents are deduplicated against it
    train_tokenizer.reuse   its tokenizer, so the new model keeps its vocabulary (and its checkpoints' rows)
    pretrain.init_from      its weights: training continues on the new tokens

is resolved once, when the pipeline run begins, from the champion's model version (its `lineage.<stage>.uri`
tags, written at registration) into the artifacts' URIs. The frozen configuration every task reads holds those
URIs, so the content addresses name exactly what was reused. With no champion yet, each becomes None: the first
run makes everything from scratch.
"""
from __future__ import annotations

import dataclasses

from ..errors import UserError

CHAMPION = "champion"
# config key -> the stage of the champion's lineage whose artifact it takes
KEYS = {"curate.base": "curate", "train_tokenizer.reuse": "train-tokenizer", "pretrain.init_from": "pretrain"}


def wanted(cfg) -> list[str]:
    from ..contract.graph import setting
    return [k for k in KEYS if setting(cfg, k) == CHAMPION]


def _replace(cfg, dotted: str, value):
    head, _, rest = dotted.partition(".")
    if not rest:
        return dataclasses.replace(cfg, **{head: value})
    return dataclasses.replace(cfg, **{head: _replace(getattr(cfg, head), rest, value)})


def resolve(cfg, tracking_uri: str, log=print) -> tuple[object, dict]:
    """(the config with every `champion` replaced, what was resolved: model, version and the URIs taken)."""
    keys = wanted(cfg)
    if not keys:
        return cfg, {}
    from mlflow.tracking import MlflowClient

    from .promotion import current

    name = cfg.register.model_name
    version = current(MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri), name)
    if version is None:
        log(f"reuse: no champion of {name} yet, so {', '.join(keys)} start from scratch")
        for k in keys:
            cfg = _replace(cfg, k, None)
        return cfg, {"model": name, "version": None}
    resolved = {"model": name, "version": str(version.version)}
    for k in keys:
        uri = version.tags.get(f"lineage.{KEYS[k]}.uri")
        if not uri:
            raise UserError(f"{k}: champion {name} version {version.version} has no lineage.{KEYS[k]}.uri tag "
                            "(registered by an older version?): set the URI by hand or `null`")
        cfg = _replace(cfg, k, uri)
        resolved[k] = uri
    log(f"reuse: champion {name} version {version.version}: " + ", ".join(f"{k}={v}" for k, v in resolved.items()
                                                                          if k in KEYS))
    return cfg, resolved
