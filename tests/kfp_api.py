"""A stand-in for the Kubeflow Pipelines v2beta1 REST API on loopback (no KFP server can run here): the calls
`kfp.Client.create_run_from_pipeline_package` makes (healthz, experiments, runs), answered in the API's JSON
shapes, with every submitted run kept for the test to inspect."""
from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlparse


class FakeKfp:
    def __init__(self):
        self.experiments: list[dict] = []
        self.runs: list[dict] = []
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *a):
                pass

            def _send(self, body: dict, code: int = 200) -> None:
                data = json.dumps(body).encode()
                self.send_response(code)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self):
                path = urlparse(self.path).path
                if path == "/apis/v2beta1/healthz":
                    return self._send({"multi_user": False})
                if path == "/apis/v2beta1/experiments":
                    return self._send({"experiments": fake.experiments, "total_size": len(fake.experiments)})
                self._send({"error": f"no route {path}"}, 404)

            def do_POST(self):
                path = urlparse(self.path).path
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                if path == "/apis/v2beta1/experiments":
                    body["experiment_id"] = f"exp-{len(fake.experiments) + 1}"
                    fake.experiments.append(body)
                    return self._send(body)
                if path == "/apis/v2beta1/runs":
                    body["run_id"] = f"run-{len(fake.runs) + 1}"
                    body["state"] = "PENDING"
                    fake.runs.append(body)
                    return self._send(body)
                self._send({"error": f"no route {path}"}, 404)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def host(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def __enter__(self) -> "FakeKfp":
        self.thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()
