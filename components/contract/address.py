"""Content addresses, and the code version they include.

An artifact's address is a digest of (stage name, stage code version, stage params, input digests): the same
inputs, settings and code always name the same directory, so running it again is a cache hit, and changing any
of them names a new one. `address` is the one function that computes it; the stage runner, `train-job` and the
Kubernetes job names all use it.

A stage's code version is a digest of the source of every project module the stage runs: its own module and what
it imports, transitively, found by reading the import statements (lazy imports inside functions included), never
listed by hand. Modules of the framework are left out: they store, address, record, show and place work
(manifests, storage, lineage, the runner, configuration parsing, pod placement), and where or how work runs never
changes what it computes; configuration values enter the address through the params instead.
"""
from __future__ import annotations

import ast
import hashlib
import json
from functools import lru_cache
from pathlib import Path
from typing import Any

PACKAGES = ("components", "training")
FRAMEWORK = ("components.contract", "components.cluster", "components.errors", "components.cli", "training.k8s")


def stable_hash(obj: Any) -> str:
    """sha256 of a JSON-able object with sorted keys: the same value always gives the same hash."""
    return hashlib.sha256(json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str).encode()).hexdigest()


def address(stage: str, code: str, params: dict, inputs: dict[str, str]) -> str:
    """The content address of a stage's artifact; `inputs`: role -> the input artifact's digest."""
    return stable_hash({"stage": stage, "code": code, "params": params, "inputs": dict(sorted(inputs.items()))})


def source_root() -> Path:
    """The directory holding the project's packages (where `components` was imported from)."""
    return Path(__file__).resolve().parents[2]


def _file(module: str, root: Path) -> Path | None:
    base = root.joinpath(*module.split("."))
    for candidate in (base.with_suffix(".py"), base / "__init__.py"):
        if candidate.is_file():
            return candidate
    return None


def _in_scope(module: str) -> bool:
    return module.split(".")[0] in PACKAGES and not any(module == f or module.startswith(f + ".")
                                                         for f in FRAMEWORK)


def _imports(module: str, path: Path, root: Path) -> set[str]:
    """Project modules named by the import statements of one file."""
    is_pkg = path.name == "__init__.py"
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = module.split(".") if is_pkg else module.split(".")[:-1]
                base = base[: len(base) - (node.level - 1)]
                target = ".".join(base + ([node.module] if node.module else []))
            else:
                target = node.module or ""
            # `from pkg import mod` names a module; `from mod import name` names the module itself
            subs = [f"{target}.{a.name}" for a in node.names if _file(f"{target}.{a.name}", root)]
            found.update(subs)
            if len(subs) < len(node.names):
                found.add(target)
    return {m for m in found if _file(m, root)}


def modules_of(module: str, root: Path | None = None) -> list[str]:
    """`module` and every project module it imports, transitively, framework modules left out."""
    return list(_closure(module, root or source_root()))


@lru_cache(maxsize=64)
def _closure(module: str, root: Path) -> tuple[str, ...]:
    seen, todo = set(), [module]
    while todo:
        m = todo.pop()
        if m in seen or not (m == module or _in_scope(m)):
            continue
        path = _file(m, root)
        if path is None:
            continue
        seen.add(m)
        todo += sorted(_imports(m, path, root) - seen)
    return tuple(sorted(seen))


def code_version(module: str, root: Path | None = None) -> str:
    """Digest of the sources of `modules_of(module)`: editing any of them gives the stage a new address."""
    root = root or source_root()
    h = hashlib.sha256()
    for m in _closure(module, root):
        h.update(m.encode() + b"\0" + _file(m, root).read_bytes() + b"\0")
    return h.hexdigest()[:16]
