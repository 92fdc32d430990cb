"""On a CUDA machine: the 1.3B preset trains through our trainer and the plain PyTorch peer, and the benchmark
reports tokens/s and MFU for both (the figures are read from its output, never asserted against a time)."""
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.gpu


def test_gpu_benchmark_runs_both_loops_and_reports_mfu():
    out = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "training.py"), "--gpu", "--rounds", "1",
                          "--steps", "16", "--micro", "4"], capture_output=True, text=True, timeout=1800)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    line = out.stdout.strip().splitlines()[-1]
    assert "polyglot-ko-1.3b ZeRO-1 bf16 1xcuda" in line and "tok/s" in line
    assert "MFU ours" in line or "peak FLOP/s unknown" in line
