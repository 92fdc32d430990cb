"""Real containers for the rehearsal: podman with runc, host networking only, running the image `make images`
builds. Pods run from their Kubernetes spec through `podman kube play`, the way a kubelet would run them, with
what a kubelet adds to every pod: the Secrets it resolves, the claim's volume, and the service account's API
access (token, CA, KUBERNETES_SERVICE_HOST/PORT).
"""
from __future__ import annotations

import base64
import copy
import json
import os
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import yaml

from . import ROOT
CONF = ROOT / "images" / "containers.conf"
IMAGE = "localhost/polyglot-ko-cpu:0.1.0"          # images/build.py's tag
LABEL = "polyglot-ko.org/rehearsal"                 # on everything the rehearsal creates, so it can remove it
SA_DIR = "/var/run/secrets/kubernetes.io/serviceaccount"


class ContainerError(RuntimeError):
    pass


def engine_available() -> str | None:
    """Why containers cannot run here, or None."""
    if shutil.which("podman") is None:
        return "podman is not installed (`make images` installs it)"
    if Podman()("image", "exists", IMAGE, check=False).returncode != 0:
        return f"the image {IMAGE} is not built (`make images`)"
    return None


@dataclass
class Exit:
    code: int
    logs: str


class Podman:
    def __init__(self, workdir: Path | None = None):
        self.workdir = workdir
        self.env = {**os.environ, "CONTAINERS_CONF": str(CONF)}
        self.secrets: list[str] = []
        self.volumes: list[str] = []
        self.played: list[Path] = []

    def __call__(self, *args: str, check: bool = True, timeout: float | None = 600, input: str | None = None):
        proc = subprocess.run(["podman", *args], env=self.env, capture_output=True, text=True, timeout=timeout,
                              input=input)
        if check and proc.returncode != 0:
            raise ContainerError(f"podman {' '.join(args[:3])}: {proc.stderr.strip()[-2000:]}")
        return proc

    # ------------------------------------------------------------------ what a cluster holds besides pods

    def secret(self, name: str, data: dict[str, str]) -> None:
        """A Kubernetes Secret as podman keeps one for `kube play`: a JSON map of base64 values."""
        self("secret", "rm", name, check=False)
        payload = json.dumps({k: base64.b64encode(v.encode()).decode() for k, v in data.items()})
        self("secret", "create", "--label", f"{LABEL}=1", name, "-", input=payload)
        self.secrets.append(name)

    def volume(self, name: str) -> None:
        """The volume a PersistentVolumeClaim of this name binds to (kube play mounts it by the claim's name)."""
        self("volume", "rm", "-f", name, check=False)
        self("volume", "create", "--label", f"{LABEL}=1", name)
        self.volumes.append(name)

    # ------------------------------------------------------------------ pods

    def play(self, pod: dict) -> str:
        """Start a pod from its spec; returns its name."""
        name = pod["metadata"]["name"]
        path = self.workdir / "pods" / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(yaml.safe_dump(pod, sort_keys=False))
        self("kube", "play", "--start=true", str(path))
        self.played.append(path)
        return name

    def state(self, pod: str, container: str) -> tuple[str, int]:
        out = self("inspect", f"{pod}-{container}", "--format", "{{.State.Status}} {{.State.ExitCode}}",
                   check=False)
        if out.returncode != 0:
            return "missing", -1
        status, code = out.stdout.split()
        return status, int(code)

    def logs(self, pod: str, container: str) -> str:
        out = self("logs", f"{pod}-{container}", check=False)
        return out.stdout + out.stderr

    def wait(self, pod: str, container: str, timeout: float) -> Exit:
        deadline = time.time() + timeout
        while time.time() < deadline:
            status, code = self.state(pod, container)
            if status in ("exited", "stopped"):
                return Exit(code, self.logs(pod, container))
            time.sleep(0.5)
        logs = self.logs(pod, container)
        self.down(pod)
        raise ContainerError(f"pod {pod} still running after {timeout:.0f}s:\n{logs[-3000:]}")

    def run_pod(self, pod: dict, timeout: float = 900) -> Exit:
        """kube play, wait for the (single) container to exit, collect its logs, remove the pod."""
        name = self.play(pod)
        try:
            return self.wait(name, pod["spec"]["containers"][0]["name"], timeout)
        finally:
            self.down(name)

    def kill(self, pod: str, container: str, signal: str = "KILL") -> None:
        self("kill", "--signal", signal, f"{pod}-{container}")

    def down(self, pod: str) -> None:
        self("pod", "rm", "-f", "-t", "10", pod, check=False)

    def cleanup(self) -> None:
        out = self("pod", "ps", "-q", "--filter", f"label={LABEL}", check=False)
        for pod_id in out.stdout.split():
            self("pod", "rm", "-f", "-t", "5", pod_id, check=False)
        for name in self.secrets:
            self("secret", "rm", name, check=False)
        for name in self.volumes:
            self("volume", "rm", "-f", name, check=False)
        # `podman kube play` defines its default bridge network even for host-networked pods; no pod of ours uses
        # it, and no bridge network may stay defined here
        self("network", "rm", "podman-default-kube-network", check=False)


def as_local_pod(pod: dict, *, name: str | None = None, kube_api: "ServiceAccount | None" = None,
                 replace: dict[str, str] | None = None) -> dict:
    """A rendered pod as a kubelet on this host would run it: host networking (there is no pod network here),
    the service account's API access mounted (every pod gets it unless it opts out), the rehearsal's label.
    `replace`: the orchestrator's run-time templating (Airflow renders `{{ run_id }}` when the task runs)."""
    pod = copy.deepcopy(pod)
    pod.pop("status", None)
    meta = pod.setdefault("metadata", {})
    if name:
        meta["name"] = name
    meta.setdefault("labels", {})[LABEL] = "1"
    for key in ("namespace", "annotations", "creationTimestamp"):
        meta.pop(key, None)
    spec = pod["spec"]
    spec["hostNetwork"] = True
    for c in spec["containers"]:
        if replace:
            for field in ("args", "command"):
                c[field] = [_replace(a, replace) for a in c.get(field) or []] or None
                if c[field] is None:
                    c.pop(field)
        if kube_api is not None and spec.get("automountServiceAccountToken", True):
            c.setdefault("env", []).extend([{"name": "KUBERNETES_SERVICE_HOST", "value": kube_api.host},
                                            {"name": "KUBERNETES_SERVICE_PORT", "value": str(kube_api.port)}])
            c.setdefault("volumeMounts", []).append({"name": "kube-api-access", "mountPath": SA_DIR,
                                                      "readOnly": True})
    if kube_api is not None and spec.get("automountServiceAccountToken", True):
        spec.setdefault("volumes", []).append({"name": "kube-api-access",
                                               "hostPath": {"path": str(kube_api.dir), "type": "Directory"}})
    return pod


def _replace(text: str, mapping: dict[str, str]) -> str:
    for old, new in mapping.items():
        text = text.replace(old, new)
    return text


@dataclass
class ServiceAccount:
    """What a pod's service account token volume holds (token, ca.crt, namespace), for an API on host:port."""
    dir: Path
    host: str
    port: int


def service_account_files(root: Path, namespace: str) -> tuple[Path, tuple[str, str], str]:
    """A self-signed serving certificate for 127.0.0.1 and a token, laid out as a pod's service account volume:
    (the volume's folder: token, ca.crt, namespace; (cert, key) for the API stand-in; the token)."""
    import datetime
    import ipaddress
    import secrets

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "kubernetes")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
                                                        x509.DNSName("localhost")]), critical=False)
            .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
            .sign(key, hashes.SHA256()))
    sa = root / "serviceaccount"
    sa.mkdir(parents=True, exist_ok=True)
    token = secrets.token_urlsafe(24)
    (sa / "token").write_text(token)
    (sa / "ca.crt").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (sa / "namespace").write_text(namespace)
    keyfile = root / "apiserver.key"
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    for f in (sa, *sa.iterdir()):        # the pod's user reads them through the mount
        f.chmod(0o755 if f.is_dir() else 0o644)
    return sa, (str(sa / "ca.crt"), str(keyfile)), token
