"""The cluster rehearsal (tests/rehearsal.py) as part of the test run: the published 1.3B config at a tiny size,
every Airflow pod and the TrainJob's node pods in real containers, the KFP pipeline on DockerRunner. It runs in
its own process: it sets the services' credentials in its environment."""
import json
import subprocess
import sys
from pathlib import Path

import pytest

from containers import engine_available

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_the_published_config_runs_as_containers_against_real_s3_and_mlflow(tmp_path):
    why = engine_available()
    if why:
        pytest.skip(why)
    if not (ROOT / ".venv-airflow" / "bin" / "python").exists():
        pytest.skip("no .venv-airflow (`make test` creates it)")
    proc = subprocess.run([sys.executable, str(ROOT / "tests" / "rehearsal.py"), "--workdir", str(tmp_path / "r")],
                          capture_output=True, text=True, timeout=3000, cwd=ROOT)
    report = tmp_path / "r" / "rehearsal.json"
    assert proc.returncode == 0, proc.stdout[-6000:] + proc.stderr[-4000:]
    result = json.loads(report.read_text())
    assert result["problems"] == []
    print(proc.stdout[-3000:])
