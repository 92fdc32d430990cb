"""Training metrics reach MLflow in batches from a thread: a server that goes away does not stall the loop, and
when it is back every metric arrives exactly once."""
import json

import pytest
from mlflow import MlflowClient

from tests.support.services import MlflowServer
from training.metrics import MetricSink, flops_per_token

pytestmark = pytest.mark.slow


def test_metrics_survive_an_mlflow_server_restart_without_loss_or_duplicates(tmp_path, monkeypatch):
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "1")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_TIMEOUT", "2")
    server = MlflowServer(tmp_path / "mlflow").start()
    try:
        client = MlflowClient(server.uri)
        run_id = client.create_run(client.create_experiment("metrics")).info.run_id
        sink = MetricSink(tmp_path / "metrics.jsonl", server.uri, run_id, flush_s=0.2)
        for step in range(1, 51):
            sink.log(step, {"loss": 10.0 / step, "tokens_per_s": 1000.0 + step})
        server.stop()                                   # the server goes away mid-training
        for step in range(51, 151):
            sink.log(step, {"loss": 10.0 / step, "tokens_per_s": 1000.0 + step})
        lines = (tmp_path / "metrics.jsonl").read_text().splitlines()
        assert len(lines) == 150, "every step is on disk at once, whatever the server does"
        server.start()                                  # and comes back on the same port and database
        sink.close(timeout_s=120)
        history = client.get_metric_history(run_id, "train/loss")
        assert sorted(m.step for m in history) == list(range(1, 151)), "each step exactly once"
        assert {m.step: m.value for m in history}[75] == pytest.approx(10.0 / 75)
        assert len(client.get_metric_history(run_id, "train/tokens_per_s")) == 150
        assert json.loads(lines[-1]) == {"step": 150, "loss": 10.0 / 150, "tokens_per_s": 1150.0}
    finally:
        server.stop()


def test_flops_per_token_is_6n_plus_attention():
    # PaLM appendix B: 6N per token for the matmuls (forward + backward) plus 12 * layers * hidden * seq_length
    assert flops_per_token(1_331_810_304, 24, 2048, 2048) == 6 * 1_331_810_304 + 12 * 24 * 2048 * 2048
