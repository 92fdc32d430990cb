"""Layering rules: stage code never imports an orchestrator; the graph module is standard-library only."""
import ast
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


def test_components_never_import_kfp_or_airflow():
    offenders = {str(p.relative_to(ROOT)): sorted(_imports(p) & {"kfp", "airflow"})
                 for p in (ROOT / "components").rglob("*.py")}
    assert {k: v for k, v in offenders.items() if v} == {}


def test_graph_module_imports_without_third_party_packages():
    # -S -I: no site-packages at all, as in an environment that has only Airflow's own dependencies
    code = "import sys; sys.path.insert(0, %r); import components.contract.graph as g; print(len(g.STAGES))" % str(ROOT)
    out = subprocess.run([sys.executable, "-S", "-I", "-c", code], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "7"
