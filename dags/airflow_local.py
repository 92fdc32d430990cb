"""Run the Airflow DAG locally with `airflow dags test`, in the Airflow environment (.venv-airflow).

Called from the project's environment (CLI `--engine airflow`, tests); it only starts the Airflow CLI.
"""
from __future__ import annotations

import os
import subprocess
from pathlib import Path

from components.errors import StageFailed, UserError

ROOT = Path(__file__).resolve().parents[1]
DAG_ID = "polyglot_ko"


def airflow_bin() -> Path:
    path = Path(os.environ.get("POLYGLOT_KO_AIRFLOW_VENV", ROOT / ".venv-airflow")) / "bin" / "airflow"
    if not path.exists():
        raise UserError(f"no Airflow environment at {path.parent.parent} (make airflow-env creates it)")
    return path


def dag_test(config: str, workdir: Path, timeout_s: int = 3600) -> tuple[Path, dict]:
    """Run the DAG once; returns the log path and the summary of that run (its `finish` task writes it to a file
    named for this call, so runs before or beside it in the same workdir cannot be mistaken for it). Raises
    StageFailed if the DAG run does not succeed."""
    import json
    import uuid

    workdir = workdir.resolve()
    summary_file = workdir / "runs" / f"airflow-{uuid.uuid4().hex[:12]}.summary.json"
    home = workdir / "airflow"
    home.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith("AIRFLOW")}
    env.update({
        "AIRFLOW_HOME": str(home), "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False", "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
        "POLYGLOT_KO_CONFIG": str(Path(config).resolve()), "POLYGLOT_KO_WORKDIR": str(workdir),
        "POLYGLOT_KO_BIN": str(Path(os.environ.get("VIRTUAL_ENV", ROOT / ".venv")) / "bin" / "polyglot-ko"),
    })
    log = home / "dags-test.log"
    with open(log, "wb") as f:
        subprocess.run([str(airflow_bin()), "db", "migrate"], env=env, stdout=f, stderr=subprocess.STDOUT,
                       check=True, timeout=300)
        proc = subprocess.run([str(airflow_bin()), "dags", "test", DAG_ID, "--conf",
                               json.dumps({"summary_file": str(summary_file)})], env=env, stdout=f,
                              stderr=subprocess.STDOUT, timeout=timeout_s)
    text = log.read_text(errors="replace")
    if proc.returncode != 0 or "state=success" not in text or not summary_file.is_file():
        raise StageFailed(f"airflow dags test {DAG_ID} failed (exit {proc.returncode}); log: {log}")
    return log, json.loads(summary_file.read_text())
