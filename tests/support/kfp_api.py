"""A stand-in for the Kubeflow Pipelines v2beta1 REST API on loopback (no KFP server can run here): the calls
`kfp.Client.create_run_from_pipeline_package` makes (healthz, experiments, runs), answered in the API's JSON
shapes, with every submitted run kept for the test to inspect."""
from __future__ import annotations

from urllib.parse import urlparse

from .loopback import JsonHandler, LoopbackServer


class FakeKfp(LoopbackServer):
    def __init__(self):
        self.experiments: list[dict] = []
        self.runs: list[dict] = []
        fake = self

        class Handler(JsonHandler):
            def do_GET(self):
                path = urlparse(self.path).path
                if path == "/apis/v2beta1/healthz":
                    return self.send_json({"multi_user": False})
                if path == "/apis/v2beta1/experiments":
                    return self.send_json({"experiments": fake.experiments, "total_size": len(fake.experiments)})
                self.send_json({"error": f"no route {path}"}, 404)

            def do_POST(self):
                path = urlparse(self.path).path
                body = self.body()
                if path == "/apis/v2beta1/experiments":
                    body["experiment_id"] = f"exp-{len(fake.experiments) + 1}"
                    fake.experiments.append(body)
                    return self.send_json(body)
                if path == "/apis/v2beta1/runs":
                    body["run_id"] = f"run-{len(fake.runs) + 1}"
                    body["state"] = "PENDING"
                    fake.runs.append(body)
                    return self.send_json(body)
                self.send_json({"error": f"no route {path}"}, 404)

        self.serve(Handler)
