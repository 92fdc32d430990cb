"""Plain data (YAML, JSON) into typed dataclasses, checked field by field against their annotations.

One checker for the two places where untyped data enters typed code: run configurations (contract/config.py) and
the descriptions artifacts carry in their manifests (contract/kinds.py). A value that does not fit raises
`Mismatch` naming the dotted path of the field; each caller turns that into its own one-line error.
Standard library only: the Airflow environment loads configurations too.
"""
from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any


class Mismatch(Exception):
    """`where` (dotted path) does not fit; `known` is set when the key itself is unknown."""

    def __init__(self, where: str, message: str, known: list[str] | None = None):
        super().__init__(f"{where}: {message}" if where else message)
        self.where, self.message, self.known = where, message, known


def build(cls: type, data: Any, where: str = "", *, unknown: str = "error") -> Any:
    """`cls(**data)` with every field checked; `unknown`: "error" (configs: a typo must not pass) or "ignore"
    (manifests: fields a later version added are not this reader's business)."""
    if not isinstance(data, dict):
        raise Mismatch(where, f"must be a mapping, got {type(data).__name__}")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls) if f.init}
    extra = sorted(set(data) - set(fields))
    if extra and unknown == "error":
        raise Mismatch(_join(where, extra[0]), "unknown key", known=sorted(fields))
    missing = [n for n, f in fields.items() if n not in data and f.default is dataclasses.MISSING
               and f.default_factory is dataclasses.MISSING]
    if missing:
        raise Mismatch(_join(where, missing[0]), "missing")
    return cls(**{k: coerce(hints[k], v, _join(where, k), unknown=unknown) for k, v in data.items() if k in fields})


def coerce(tp: Any, value: Any, where: str, *, unknown: str = "error") -> Any:
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        args = typing.get_args(tp)
        if value is None:
            if type(None) in args:
                return None
            raise Mismatch(where, "must not be null")
        return coerce(next(a for a in args if a is not type(None)), value, where, unknown=unknown)
    if origin is typing.Literal:
        allowed = typing.get_args(tp)
        if not any(value == a and type(value) is type(a) for a in allowed):
            raise Mismatch(where, f"must be one of {', '.join(map(str, allowed))}; got {value!r}")
        return value
    if dataclasses.is_dataclass(tp):
        return build(tp, value, where, unknown=unknown)
    if origin is dict:
        if not isinstance(value, dict):
            raise Mismatch(where, "must be a mapping")
        _, item = typing.get_args(tp)
        return {str(k): coerce(item, v, _join(where, str(k)), unknown=unknown) for k, v in value.items()}
    if origin is list:
        if not isinstance(value, list):
            raise Mismatch(where, "must be a list")
        (item,) = typing.get_args(tp)
        return [coerce(item, v, f"{where}[{i}]", unknown=unknown) for i, v in enumerate(value)]
    if tp is Any:
        return value
    if tp is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if tp is float and isinstance(value, str):   # YAML 1.1 reads 1e-4 (no dot) as a string
        try:
            return float(value)
        except ValueError:
            pass
    if tp in (int, float, str, bool) and (not isinstance(value, tp) or (tp is int and isinstance(value, bool))):
        raise Mismatch(where, f"must be {tp.__name__}, got {value!r}")
    return value


def _join(where: str, key: str) -> str:
    return f"{where}.{key}" if where else key
