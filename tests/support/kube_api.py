"""A stand-in for the Kubernetes API on loopback, for the job watcher's tests (no API server can run here).

It speaks the few REST calls the watcher makes (create / get / delete a custom object, list pods by label) in the
API's own JSON shapes, so the real kubernetes client is exercised end to end. What happens to a job is decided by
a `controller` callback: scripted status timelines, or one that really runs the job's container command on this
machine with the variables Kubeflow Trainer's torch plugin sets (PET_NNODES, PET_NPROC_PER_NODE, ...).
"""
from __future__ import annotations

import copy
import re
import threading
from urllib.parse import parse_qs, urlparse

from .loopback import JsonHandler, LoopbackServer

_CUSTOM = re.compile(r"^/apis/(?P<group>[^/]+)/(?P<version>[^/]+)/namespaces/(?P<ns>[^/]+)/(?P<plural>[^/]+)"
                     r"(?:/(?P<name>[^/]+))?$")
_PODS = re.compile(r"^/api/v1/namespaces/(?P<ns>[^/]+)/pods$")


class FakeKube(LoopbackServer):
    def __init__(self, controller, tls: tuple[str, str] | None = None, token: str | None = None):
        self.controller = controller          # controller(fake, obj) -> None, called on create
        self.token = token                    # when set, a request without this bearer token is refused (401)
        self.objects: dict[tuple, dict] = {}
        self.pods: dict[str, list[dict]] = {}  # label selector value (job name) -> pod dicts
        self.requests: list[tuple[str, str]] = []
        self.posted: list[dict] = []            # every object a client asked to create, as sent
        self.lock = threading.Lock()
        fake = self

        class Handler(JsonHandler):
            def _send(self, code: int, body: dict) -> None:
                self.send_json(body, code)

            def _status(self, code: int, reason: str, msg: str) -> None:
                self._send(code, {"kind": "Status", "apiVersion": "v1", "status": "Failure", "reason": reason,
                                  "message": msg, "code": code})

            def parse_request(self):
                if not super().parse_request():
                    return False
                scheme, _, given = (self.headers.get("Authorization") or "").partition(" ")
                if fake.token and (scheme.lower() != "bearer" or given != fake.token):   # the scheme: any case
                    self.close_connection = True
                    self._status(401, "Unauthorized", "no valid service account token")
                    return False
                return True

            def do_POST(self):
                fake.requests.append(("POST", self.path))
                m = _CUSTOM.match(urlparse(self.path).path)
                body = self.body()
                fake.posted.append(copy.deepcopy(body))
                key = (m["plural"], m["ns"], body["metadata"]["name"])
                with fake.lock:
                    if key in fake.objects:
                        return self._status(409, "AlreadyExists", f"{key[2]} already exists")
                    body.setdefault("status", {})
                    fake.objects[key] = body
                fake.controller(fake, body)
                self._send(201, body)

            def do_GET(self):
                fake.requests.append(("GET", self.path))
                url = urlparse(self.path)
                pods = _PODS.match(url.path)
                if pods:
                    selector = parse_qs(url.query).get("labelSelector", [""])[0]
                    name = selector.split("=", 1)[-1]
                    with fake.lock:
                        items = list(fake.pods.get(name, []))
                    return self._send(200, {"kind": "PodList", "apiVersion": "v1", "metadata": {}, "items": items})
                m = _CUSTOM.match(url.path)
                with fake.lock:
                    obj = fake.objects.get((m["plural"], m["ns"], m["name"]))
                if obj is None:
                    return self._status(404, "NotFound", f"{m['name']} not found")
                self._send(200, obj)

            def do_DELETE(self):
                fake.requests.append(("DELETE", self.path))
                m = _CUSTOM.match(urlparse(self.path).path)
                with fake.lock:
                    obj = fake.objects.pop((m["plural"], m["ns"], m["name"]), None)
                    fake.pods.pop(m["name"], None)
                if obj is None:
                    return self._status(404, "NotFound", f"{m['name']} not found")
                self._send(200, {"kind": "Status", "apiVersion": "v1", "status": "Success"})

        self.serve(Handler, tls)

    def client(self):
        from kubernetes import client
        cfg = client.Configuration()
        cfg.host = self.host
        if self.token:
            cfg.api_key = {"authorization": f"Bearer {self.token}"}
        return client.ApiClient(cfg)

    def set_status(self, obj: dict, cond_type: str, reason: str = "", message: str = "") -> None:
        with self.lock:
            obj["status"] = {"conditions": [{"type": cond_type, "status": "True", "reason": reason,
                                             "message": message}]}


def pod(name: str, restarts: int = 0, terminated: tuple[str, int] | None = None) -> dict:
    """A pod with one container, in the API's JSON shape."""
    status = {"name": "node", "image": "img", "imageID": "img@sha256:0", "ready": terminated is None,
              "restartCount": restarts, "state": {"running": {"startedAt": "2026-01-01T00:00:00Z"}}}
    if terminated:
        status["lastState"] = {"terminated": {"reason": terminated[0], "exitCode": terminated[1]}}
    return {"metadata": {"name": name}, "status": {"phase": "Running", "containerStatuses": [status]}}
