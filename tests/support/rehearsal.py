"""`make rehearsal`: the cluster path run for real, in containers from the image `make images` built, in phases.

`configs/polyglot-ko-1.3b.yaml` itself, with only size overrides (SIZE below), against SeaweedFS (S3) and an
MLflow server run from the image as infra/base/mlflow.yaml runs it (PostgreSQL backend, basic authentication,
artifacts in S3), all on 127.0.0.1. The phases, each needing the ones it names:

- services: S3, PostgreSQL, the MLflow container, the Kubernetes API stand-in; the corpus uploaded;
- local (services): the same config run on this host, in-process, up to tokenize: the digests to match;
- airflow (services): every pod the Airflow cluster DAG renders, in graph order, through `podman kube play`: the
  rendered spec with host networking, a podman volume for the checkpoint claim and what a kubelet adds (Secrets
  resolved, the service account's token and CA), nothing else changed. The pretrain pod submits its TrainJob to
  the API stand-in, which runs the pods Kubeflow Trainer's torch runtime would create
  (tests/support/trainer_runtime.py): two nodes of one process each, rendezvous on 127.0.0.1, the shared
  checkpoint volume;
- trainjob (airflow): one node's container was killed after the first checkpoint (step 50 of 300) and the runtime's failure
  policy restarted both, which resumed from it and finished;
- lineage (airflow, local): the registered model's lineage reaches every upstream artifact and is the champion;
  the data artifacts' digests equal the local run's;
- kfp (airflow): one more news file uploaded, then the compiled KFP cluster pipeline through kfp's DockerRunner
  on podman's Docker-compatible socket: the scheduled retraining after the airflow phase registered its champion,
  which collects only the new file, curates it on the champion's corpus as its base, takes its tokenizer and
  continues training from its weights on the new segments (a TrainJob again, through the same API stand-in);
- clean: `polyglot-ko clean` gives the same bytes in the image as here.

`python -m tests.support.rehearsal [--phase NAME ...] [--workdir DIR]` runs the named phases and what they need
(all by default); tests/test_rehearsal.py runs each phase as a test of its own. Everything it starts is stopped.
"""
from __future__ import annotations

import argparse
import contextlib
import gzip
import hashlib
import io
import json
import os
import secrets
import sys
import time
from pathlib import Path

import yaml

from .containers import IMAGE, ROOT, ContainerError, Podman, ServiceAccount, as_local_pod, engine_available, \
    service_account_files

CONFIG = ROOT / "configs" / "polyglot-ko-1.3b.yaml"
RUN_ID = "manual__rehearsal"
AIRFLOW_RUN_KEY = "{{ run_id | replace(':', '-') | replace('+', '-') }}"
BUCKET = "polyglot-ko"                 # the config's own: s3://polyglot-ko/raw/..., s3://polyglot-ko/artifacts
MLFLOW_BUCKET = "mlflow"
CHECKPOINT_CLAIM = "polyglot-ko-checkpoints"

# Only sizes change (and what a CPU host needs instead of GPUs); every other setting is the published config's.
# Two shards a step prove the fan-out (every pod is a container that starts the CLI: a third costs seconds each).
SIZE = {
    "collect": {"world_size": 2},
    "curate": {"world_size": 2, "dedup_buckets": 2},
    "train_tokenizer": {"vocab_size": 2000, "sample_chars": 300_000},
    "tokenize": {"world_size": 2, "validation_fraction": 0.05},
    "pretrain": {"preset": "micro", "device": "cpu", "nodes": 2, "nproc": 1, "seq_length": 64,
                 "micro_batch_size": 4, "global_batch_tokens": 512, "train_tokens": None, "steps": 300,
                 "warmup_steps": 10, "checkpoint_every": 50, "log_every": 50, "precision": "fp32",
                 "timeout_s": 1800,
                 "kubernetes": {"image": IMAGE, "cpu": "1", "memory": "4Gi", "shm_size": "1Gi", "poll_s": 1.0,
                                # gloo on the loopback interface: every "node" shares the host's network
                                "env": {"NCCL_DEBUG": "WARN", "GLOO_SOCKET_IFNAME": "lo", "OMP_NUM_THREADS": "1"}}},
    "evaluate": {"device": "cpu", "shots": [5], "limit": 4, "batch_size": 8, "perplexity_max_tokens": 2000,
                 "max_new_tokens": 8},
    "cluster": {"cpu_image": IMAGE, "cuda_image": IMAGE},
}


def log(msg: str) -> None:
    print(f"[rehearsal] {msg}", flush=True)


def deep_update(base: dict, patch: dict) -> dict:
    for k, v in patch.items():
        base[k] = deep_update(dict(base.get(k) or {}), v) if isinstance(v, dict) else v
    return base


# ------------------------------------------------------------------------------------------ the corpus


def reviews_file(part: int) -> tuple[str, bytes]:
    """NSMC reviews 2000·part onwards (2000 of them) as a zstd JSONL news file: (object key, bytes)."""
    import zstandard

    reviews = [json.loads(line) for line in gzip.open(ROOT / "data" / "corpus" / "nsmc_reviews.jsonl.gz", "rt",
                                                      encoding="utf-8")]
    lines = "".join(json.dumps({"id": f"nsmc-{r['review_id']}", "text": r["review"]}, ensure_ascii=False) + "\n"
                    for r in reviews[part * 2000:(part + 1) * 2000])
    return f"raw/news/reviews-{part}.jsonl.zst", zstandard.ZstdCompressor(level=3).compress(lines.encode())


def corpus_files() -> dict[str, bytes]:
    """A small Korean corpus in the config's own formats, from the bundled sample: object key -> bytes.
    web: the Korean Python docs as HTML pages in gzipped WARC files; news: NSMC reviews as zstd JSONL;
    wiki: KLUE sentences as Parquet. Deterministic, so every rehearsal uploads the same bytes."""
    import uuid

    import pyarrow as pa
    import pyarrow.parquet as pq
    from warcio.statusandheaders import StatusAndHeaders
    from warcio.warcwriter import WARCWriter

    data = ROOT / "data" / "corpus"
    docs = [json.loads(line) for line in gzip.open(data / "python_docs_ko.jsonl.gz", "rt", encoding="utf-8")]
    klue = pq.read_table(data / "klue_ner_dev.parquet").to_pylist()
    out: dict[str, bytes] = {}
    for part in range(4):
        buf = io.BytesIO()
        writer = WARCWriter(buf, gzip=True)
        for doc in docs[part::4]:
            paragraphs = "".join(f"<p>{p}</p>" for p in doc["text"].split("\n") if p.strip())
            html = (f"<html><head><title>{doc['id']}</title></head><body><nav>메뉴</nav><article>{paragraphs}"
                    f"</article></body></html>").encode()
            headers = StatusAndHeaders("200 OK", [("Content-Type", "text/html; charset=utf-8")], protocol="HTTP/1.1")
            url = f"https://docs.python.org/ko/{doc['id']}"
            record = writer.create_warc_record(url, "response", payload=io.BytesIO(html), http_headers=headers,
                                               warc_headers_dict={"WARC-Date": "2026-01-01T00:00:00Z",
                                                                  # warcio's default is a random one
                                                                  "WARC-Record-ID": f"<urn:uuid:"
                                                                  f"{uuid.uuid5(uuid.NAMESPACE_URL, url)}>"})
            writer.write_record(record)
        out[f"raw/web/docs-{part}.warc.gz"] = buf.getvalue()
    out.update(reviews_file(part) for part in range(3))
    for part in range(2):
        rows = klue[part * 2500:(part + 1) * 2500]
        table = pa.table({"id": [r["guid"] for r in rows], "text": [r["sentence"] for r in rows]})
        buf = io.BytesIO()
        pq.write_table(table, buf)
        out[f"raw/wiki/klue-{part}.parquet"] = buf.getvalue()
    return out


# ------------------------------------------------------------------------------------------ services


class Services:
    """SeaweedFS and PostgreSQL on loopback (this host), the MLflow server in a container from the image."""

    def __init__(self, work: Path, podman: Podman):
        from .services import PostgresServer, SeaweedS3

        self.work, self.podman = work, podman
        self.s3 = SeaweedS3(work / "s3")
        self.pg = PostgresServer(work / "postgres")
        self.admin = ("admin", secrets.token_urlsafe(12))
        self.pipeline = ("pipeline", secrets.token_urlsafe(12))
        self.mlflow_port = None

    def start(self, stack: contextlib.ExitStack) -> "Services":
        from .services import ACCESS_KEY, SECRET_KEY, free_port

        self.s3.start()
        stack.callback(self.s3.stop)
        s3 = self.s3.client()
        for bucket in (BUCKET, MLFLOW_BUCKET):
            s3.create_bucket(Bucket=bucket)
        self.keys = {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
        self.pg.start()
        stack.callback(self.pg.stop)
        self.mlflow_port = free_port()
        stack.callback(lambda: self.podman("rm", "-f", "-t", "5", "polyglot-ko-mlflow", check=False))
        self._start_mlflow()
        self._add_pipeline_user()
        return self

    @property
    def mlflow_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    def _start_mlflow(self) -> None:
        """infra/base/mlflow.yaml's container, its Secrets and ConfigMap values filled in, on loopback."""
        deployment = next(d for d in yaml.safe_load_all((ROOT / "infra" / "base" / "mlflow.yaml").read_text())
                          if d["kind"] == "Deployment")
        (c,) = deployment["spec"]["template"]["spec"]["containers"]
        auth = self.work / "mlflow-auth"
        auth.mkdir(parents=True, exist_ok=True)
        (auth / "basic_auth.ini").write_text(
            "[mlflow]\ndefault_permission = READ\n"
            f"database_uri = {self.pg.uri}\nadmin_username = {self.admin[0]}\nadmin_password = {self.admin[1]}\n"
            "authorization_function = mlflow.server.auth:authenticate_request_basic_auth\n")
        auth.chmod(0o755)
        (auth / "basic_auth.ini").chmod(0o644)
        values = {"MLFLOW_BACKEND_STORE_URI": self.pg.uri, "MLFLOW_ARTIFACTS_DESTINATION": f"s3://{MLFLOW_BUCKET}/",
                  "MLFLOW_S3_ENDPOINT_URL": self.s3.endpoint, "MLFLOW_FLASK_SERVER_SECRET_KEY": secrets.token_hex(16),
                  **self.keys}
        env = {e["name"]: e.get("value", values.get(e["name"])) for e in c["env"]}
        args = []
        for a in c["args"]:
            for k, v in env.items():
                a = a.replace(f"$({k})", v)
            if a.startswith("--host="):
                a = "--host=127.0.0.1"                  # loopback only: the pod network is the host's here
            elif a.startswith("--port="):
                a = f"--port={self.mlflow_port}"
            elif a.startswith("--allowed-hosts="):
                a += f",127.0.0.1:{self.mlflow_port},localhost:{self.mlflow_port}"
            elif a.startswith("--workers="):
                a = "--workers=1"
            args.append(a)
        mount = next(m["mountPath"] for m in c["volumeMounts"] if m["name"] == "auth")
        cmd = ["run", "-d", "--name", "polyglot-ko-mlflow", "--network", "host", "--read-only",
               "--tmpfs", "/tmp:rw,mode=1777", "--user", "10001:10001", "--cap-drop", "ALL",
               "--security-opt", "no-new-privileges", "-v", f"{auth}:{mount}:ro", "--label", "polyglot-ko.org/rehearsal=1",
               "--entrypoint", c["command"][0]]
        for k, v in env.items():
            cmd += ["-e", f"{k}={v}"]
        self.podman("rm", "-f", "polyglot-ko-mlflow", check=False)
        self.podman(*cmd, IMAGE, *c["command"][1:], *args)
        deadline = time.time() + 120
        import urllib.request
        while time.time() < deadline:
            if self.podman("inspect", "polyglot-ko-mlflow", "--format", "{{.State.Status}}").stdout.strip() \
                    in ("exited", "stopped"):
                break
            try:
                with urllib.request.urlopen(self.mlflow_uri + "/health", timeout=2) as r:
                    if r.status == 200:
                        log(f"MLflow server (container, PostgreSQL, basic auth, S3 artifacts) at {self.mlflow_uri}")
                        return
            except OSError:
                time.sleep(1)
        logs = self.podman("logs", "polyglot-ko-mlflow", check=False)
        raise ContainerError(f"the MLflow container did not come up:\n{(logs.stdout + logs.stderr)[-3000:]}")

    def _add_pipeline_user(self) -> None:
        """The pipeline's own account (infra/README.md: the polyglot-ko-mlflow Secret), created by the admin."""
        import base64
        import urllib.request

        body = json.dumps({"username": self.pipeline[0], "password": self.pipeline[1]}).encode()
        req = urllib.request.Request(self.mlflow_uri + "/api/2.0/mlflow/users/create", data=body, method="POST",
                                     headers={"Content-Type": "application/json", "Authorization": "Basic " +
                                              base64.b64encode(":".join(self.admin).encode()).decode()})
        with urllib.request.urlopen(req, timeout=30) as r:
            assert r.status == 200

    def pipeline_env(self) -> dict[str, str]:
        return {"MLFLOW_TRACKING_USERNAME": self.pipeline[0], "MLFLOW_TRACKING_PASSWORD": self.pipeline[1]}


# ------------------------------------------------------------------------------------------ the run


class PhaseFailed(RuntimeError):
    pass


class Rehearsal:
    """The rehearsal's state, shared by its phases: `phase(name)` runs a phase once (after the phases it needs) and
    raises PhaseFailed naming it when it, or one it needs, failed. `close()` stops everything started."""

    NEEDS = {"services": [], "local": ["services"], "airflow": ["services"], "trainjob": ["airflow"],
             "lineage": ["airflow", "local"], "kfp": ["airflow"], "clean": []}
    PHASES = list(NEEDS)

    def __init__(self, work: Path, log=log):
        self.work, self.log = work, log
        self.podman = Podman(work)
        self.stack = contextlib.ExitStack()
        self.environ = dict(os.environ)       # put back by close(): phases set the services' credentials
        self.times: dict[str, float] = {}
        self.problems: dict[str, list[str]] = {}     # phase -> what failed in it
        self.report: dict = {}
        self._current = ""

    # ------------------------------------------------------------------------------------------ phases

    def phase(self, name: str) -> None:
        if name not in self.NEEDS:
            raise ValueError(f"no rehearsal phase {name!r}; the phases: {', '.join(self.PHASES)}")
        for need in self.NEEDS[name]:
            self.phase(need)
        if name in self.problems:
            if self.problems[name]:
                raise PhaseFailed(f"phase {name} failed: " + "; ".join(self.problems[name]))
            return
        why = engine_available()
        if why:
            raise PhaseFailed(f"phase {name}: {why}")
        self.problems[name] = []
        self._current = name
        started = time.time()
        self.log(f"phase {name} ...")
        try:
            getattr(self, f"_{name}")()
        except Exception as e:
            self.problems[name].append(f"{type(e).__name__}: {str(e)[-3000:]}")
        self.times[name] = time.time() - started
        self.log(f"phase {name}: {'passed' if not self.problems[name] else 'FAILED'} in {self.times[name]:.0f} s")
        if self.problems[name]:
            raise PhaseFailed(f"phase {name} failed: " + "; ".join(self.problems[name]))

    def expect(self, ok: bool, what: str) -> None:
        if not ok:
            self.problems[self._current].append(what)
        self.log(("ok: " if ok else "FAILED: ") + what)

    def close(self) -> None:
        from components.contract.storage import _client

        try:
            self.stack.close()
            self.podman.cleanup()
        finally:
            os.environ.clear()
            os.environ.update(self.environ)
            _client.cache_clear()
        if self.work.exists():
            (self.work / "rehearsal.json").write_text(json.dumps(
                {"times": self.times, "problems": self.problems, **self.report}, indent=2))

    def _services(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.stack.callback(self.podman.cleanup)
        self.podman.cleanup()
        self.svc = Services(self.work, self.podman).start(self.stack)
        self.start_kube_api(self.stack)
        os.environ.update({"AWS_ENDPOINT_URL": self.svc.s3.endpoint, **self.svc.keys})
        from components.contract.storage import _client
        _client.cache_clear()
        self.config_path = self.config()
        s3 = self.svc.s3.client()
        files = corpus_files()
        for key, body in files.items():
            s3.put_object(Bucket=BUCKET, Key=key, Body=body)
        self.log(f"uploaded {len(files)} files ({sum(map(len, files.values())) / 1e6:.1f} MB) to the config's "
                 f"globs under s3://{BUCKET}/raw/")

    def _local(self) -> None:
        self.local_digests = self.run_local()

    def _airflow(self) -> None:
        self.handoff = self.run_airflow()

    def _trainjob(self) -> None:
        self.check_trainer(self.trainer, self.handoff["pretrain"])

    def _lineage(self) -> None:
        self.report["airflow"] = self.check_lineage(self.handoff, champion=True)
        self.check_digests()

    def _kfp(self) -> None:
        # what the schedule finds since: one more news file under the config's glob
        key, body = reviews_file(3)
        self.svc.s3.client().put_object(Bucket=BUCKET, Key=key, Body=body)
        self.log(f"uploaded s3://{BUCKET}/{key} ({len(body) / 1e3:.0f} kB): new data for the retraining")
        self.run_kfp()

    def _clean(self) -> None:
        self.work.mkdir(parents=True, exist_ok=True)
        self.check_clean()

    def config(self) -> Path:
        data = yaml.safe_load(CONFIG.read_text())
        deep_update(data, SIZE)
        deep_update(data, {"s3_endpoint_url": self.svc.s3.endpoint,
                           "cluster": {"mlflow_tracking_uri": self.svc.mlflow_uri}})
        path = self.work / "polyglot-ko-1.3b.rehearsal.yaml"
        path.write_text("# configs/polyglot-ko-1.3b.yaml with the rehearsal's size overrides "
                        "(tests/support/rehearsal.py)\n" + yaml.safe_dump(data, allow_unicode=True, sort_keys=False))
        return path

    # -------------------------------------------------------------------------------------------- local

    def run_local(self) -> dict[str, str]:
        """The same config on this host, in-process (artifacts on local disk, MLflow in SQLite)."""
        from components.contract.runner import run_pipeline

        env = {"MLFLOW_TRACKING_URI": f"sqlite:///{self.work / 'local' / 'mlflow.db'}"}
        old = {k: os.environ.get(k) for k in env}
        os.environ.update(env)
        try:
            (self.work / "local").mkdir(parents=True, exist_ok=True)
            summary = run_pipeline(str(self.config_path), self.work / "local",
                                   [f"artifact_root={self.work / 'local' / 'artifacts'}"], until="tokenize",
                                   log=lambda m: None)
        finally:
            for k, v in old.items():
                if v is None:
                    os.environ.pop(k, None)
                else:
                    os.environ[k] = v
        from components.contract.manifest import read_manifest
        from components.contract.storage import Storage
        return {stage: read_manifest(Storage(), s["uri"]).digest for stage, s in summary["stages"].items()}

    # -------------------------------------------------------------------------------------------- Airflow

    def start_kube_api(self, stack: contextlib.ExitStack) -> None:
        """The Kubernetes API stand-in (HTTPS, a service account token) both passes' pretrain tasks submit to."""
        from .kube_api import FakeKube

        sa_dir, tls, token = service_account_files(self.work / "kube", "polyglot-ko")
        self.kube = stack.enter_context(FakeKube(None, tls=tls, token=token))
        self.account = ServiceAccount(sa_dir, "127.0.0.1", self.kube.port)

    def run_airflow(self) -> dict[str, str]:
        from .airflow_render import graph_order, render
        from components.contract.storage import Storage
        from .trainer_runtime import TorchRuntime, checkpoint_written

        cfg = yaml.safe_load(self.config_path.read_text())
        root = cfg["artifact_root"].rstrip("/")
        Storage().write_bytes(f"{root}/configs/polyglot_ko_cluster.yaml", self.config_path.read_bytes())
        tasks = render(self.config_path, self.work)["tasks"]
        order = graph_order(tasks)
        self.log(f"Airflow cluster DAG: {len(order)} tasks, {sum(max(t['mapped'], 1) for t in tasks.values())} pods")
        self.podman.secret("polyglot-ko-s3", self.svc.keys)
        self.podman.secret("polyglot-ko-mlflow", self.svc.pipeline_env())
        self.podman.volume(CHECKPOINT_CLAIM)
        volume_dir = Path(self.podman("volume", "inspect", CHECKPOINT_CLAIM, "--format",
                                      "{{.Mountpoint}}").stdout.strip())
        self.pods_run = 0
        account = self.account
        runtime = TorchRuntime(self.podman, account, kill=(1, checkpoint_written(volume_dir)), log=self.log)
        self.kube.controller = runtime
        for name in order:
            t = tasks[name]
            argvs = t["all_arguments"] or [None]
            for i, argv in enumerate(argvs):
                pod = t["pod"]
                if argv is not None:
                    pod = json.loads(json.dumps(pod))
                    pod["spec"]["containers"][0]["args"] = argv
                local = as_local_pod(pod, name=f"{pod['metadata']['name']}-{i}" if t["mapped"] else None,
                                     kube_api=account, replace={AIRFLOW_RUN_KEY: RUN_ID})
                started = time.time()
                result = self.podman.run_pod(local, timeout=1800)
                self.pods_run += 1
                self.log(f"pod {local['metadata']['name']}: exit {result.code} in {time.time() - started:.0f} s")
                (self.work / "logs").mkdir(exist_ok=True)
                (self.work / "logs" / f"{local['metadata']['name']}.log").write_text(result.logs)
                if result.code != 0:
                    raise ContainerError(f"pod {local['metadata']['name']} failed ({result.code}):\n"
                                         f"{result.logs[-4000:]}")
        runtime.join(60)
        self.trainer = runtime
        handoff = f"{root}/runs/airflow/{RUN_ID}"
        uris = {}
        for stage in ("collect", "curate", "train-tokenizer", "tokenize", "pretrain", "evaluate", "register"):
            uris[stage] = Storage().read_bytes(f"{handoff}/{stage}.uri").decode().strip()
        steps = Storage().list_files(f"{uris['tokenize']}/steps")
        self.expect(bool(steps) and all(n.endswith("/part.json") for n in steps),
                    "tokenize's shards published their segments beside the stage and kept no copy in their parts")
        return uris

    def check_trainer(self, runtime, pretrain_uri: str) -> None:
        from components.contract.manifest import read_manifest
        from components.contract.storage import Storage

        self.expect(runtime.killed is not None and len(runtime.attempts) == 2,
                    f"the TrainJob's node was killed mid-run and the failure policy restarted every node "
                    f"(attempts: {len(runtime.attempts)}, killed: {runtime.killed})")
        if len(runtime.attempts) == 2:
            first, second = runtime.attempts
            self.expect(any(code != 0 for code, _ in first.values()), "the first attempt ended in a failure")
            resumed = [logs for code, logs in second.values() if "(resumed)" in logs]
            self.expect(all(code == 0 for code, _ in second.values()) and bool(resumed),
                        "the restarted nodes resumed from the last checkpoint and finished")
            if resumed:
                line = next(x for x in resumed[0].splitlines() if "(resumed)" in x)
                self.log(f"restart: {line.strip()}")
        model = read_manifest(Storage(), pretrain_uri)
        self.expect(model.stats.get("steps") == SIZE["pretrain"]["steps"],
                    f"the trained model has all {SIZE['pretrain']['steps']} steps ({model.stats.get('steps')})")

    # -------------------------------------------------------------------------------------------- checks

    def check_lineage(self, handoff: dict[str, str], champion: bool) -> dict:
        """The registered model version's tags lead to every upstream artifact the run's tasks handed on;
        `champion`: it must hold the alias too."""
        from mlflow import MlflowClient

        from components.contract import kinds
        from components.contract.manifest import read_manifest
        from components.contract.storage import Storage

        os.environ.update(self.svc.pipeline_env())
        client = MlflowClient(tracking_uri=self.svc.mlflow_uri, registry_uri=self.svc.mlflow_uri)
        registered = kinds.read(read_manifest(Storage(), handoff["register"]))
        name, version = registered.model_name, str(registered.version)
        mv = client.get_model_version(name, version)
        tags = mv.tags
        for stage, uri in handoff.items():
            if stage == "register":
                continue
            m = read_manifest(Storage(), uri)
            self.expect(tags.get(f"lineage.{stage}.uri") == uri and tags.get(f"lineage.{stage}.digest") == m.digest,
                        f"model {name} v{version} leads to the {stage} artifact ({m.digest[:12]})")
        alias = client.get_model_version_by_alias(name, "champion")
        if champion:
            self.expect(alias.version == version, f"{name} v{version} is the champion")
        return {"model": f"{name}/{version}", "champion": f"{name}/{alias.version}", "handoff": handoff}

    def check_digests(self) -> None:
        from components.contract.manifest import read_manifest
        from components.contract.storage import Storage

        for stage, digest in self.local_digests.items():
            got = read_manifest(Storage(), self.handoff[stage]).digest
            self.expect(got == digest, f"{stage}: the containers' digest {got[:12]} equals the local run's "
                                       f"{digest[:12]}")

    def check_clean(self) -> None:
        """`polyglot-ko clean` on the same file, here and inside the image (read-only root, non-root user)."""
        from components.cli import main as cli

        src = self.work / "clean"
        src.mkdir(exist_ok=True)
        src.chmod(0o777)
        reviews = [json.loads(x) for x in gzip.open(ROOT / "data" / "corpus" / "nsmc_reviews.jsonl.gz", "rt")]
        (src / "in.jsonl").write_text("".join(json.dumps({"text": r["review"] + " 연락처 010-1234-5678"},
                                                         ensure_ascii=False) + "\n" for r in reviews[:3000]))
        with contextlib.redirect_stdout(io.StringIO()):
            cli(["clean", str(src / "in.jsonl"), str(src / "host.jsonl")])
        self.podman("run", "--rm", "--network", "none", "--read-only", "-v", f"{src}:/data", IMAGE, "clean",
                    "/data/in.jsonl", "/data/image.jsonl")
        a, b = (src / "host.jsonl").read_bytes(), (src / "image.jsonl").read_bytes()
        self.expect(a == b and len(a) > 0, f"`polyglot-ko clean` in the image gives the host's bytes "
                                           f"(sha256 {hashlib.sha256(b).hexdigest()[:12]}, {len(b):,} bytes)")

    # -------------------------------------------------------------------------------------------- KFP

    def run_kfp(self) -> None:
        """The retraining run: the champion the Airflow pass registered is what `champion` resolves to."""
        from .kfp_docker import run_cluster_pipeline
        from .trainer_runtime import TorchRuntime

        cfg = yaml.safe_load(self.config_path.read_text())
        config_uri = f"{cfg['artifact_root'].rstrip('/')}/configs/polyglot_ko_cluster.yaml"
        runtime = TorchRuntime(self.podman, self.account, log=self.log)
        self.kube.controller = runtime
        result = run_cluster_pipeline(self.config_path, config_uri, self.work / "kfp", self.podman,
                                      {**self.svc.keys, **self.svc.pipeline_env()}, kube_api=self.account)
        runtime.join(60)
        summary = json.loads(result)
        got = {s: v["uri"] for s, v in summary["stages"].items()}
        self.log(f"KFP DockerRunner: {len(summary['stages'])} stages, model {summary.get('model_uri')}, "
            f"aliases {summary.get('aliases')}")
        self.expect(set(got) == set(self.handoff), f"the KFP run handed on every stage ({', '.join(got)})")
        self.expect(got.get("train-tokenizer") == self.handoff["train-tokenizer"],
                    "the KFP run took the champion's tokenizer")
        self.expect(summary["reuse"].get("curate", {}).get("base") == self.handoff["curate"],
                    "the KFP run curated on the champion's corpus as its base")
        self.expect(summary["reuse"].get("pretrain", {}).get("init_from") == self.handoff["pretrain"],
                    "the KFP run continued training from the champion's weights")
        collect = summary["reuse"].get("collect", {})
        self.expect((collect.get("files_reused"), collect.get("files_read")) == (9, 1),
                    f"the KFP run collected only the new file (reused {collect.get('files_reused')}, read "
                    f"{collect.get('files_read')})")
        self.expect(len(runtime.attempts) == 1 and all(c == 0 for c, _ in runtime.attempts[0].values()),
                    f"its TrainJob ran {len(runtime.attempts[0]) if runtime.attempts else 0} nodes to the end")
        if "register" in got:
            self.report["kfp"] = self.check_lineage(got, champion=False)


def run_phases(rehearsal: Rehearsal, names: list[str], report: Path | None = None) -> dict[str, dict]:
    """Each named phase in turn (after those it needs): {phase: {status: passed | failed | skipped, detail,
    seconds}}, written to `report` after every phase (atomically: a reader never sees half of it)."""
    results: dict[str, dict] = {}

    def write(done: bool) -> None:
        if report is not None:
            tmp = report.with_suffix(".tmp")
            tmp.write_text(json.dumps({"phases": results, "done": done}, indent=2))
            tmp.replace(report)

    for name in names:
        failed_need = next((n for n in _all_needs(name) if rehearsal.problems.get(n)), None)
        if failed_need is not None:
            results[name] = {"status": "skipped", "detail": f"needs phase {failed_need}, which failed", "seconds": 0}
        else:
            try:
                rehearsal.phase(name)
                results[name] = {"status": "passed", "detail": "", "seconds": rehearsal.times.get(name, 0.0)}
            except PhaseFailed as e:
                results[name] = {"status": "failed", "detail": str(e)[:6000],
                                 "seconds": rehearsal.times.get(name, 0.0)}
                log(str(e)[:4000])
        write(done=False)
    write(done=True)
    return results


def _all_needs(name: str) -> list[str]:
    out: list[str] = []
    for need in Rehearsal.NEEDS[name]:
        out += [n for n in _all_needs(need) + [need] if n not in out]
    return out


class Background:
    """The rehearsal as a process of its own, started as the test session starts, so that its containers run
    while the other tests do; each phase's test waits for that phase's result. Its output: `log`."""

    def __init__(self, base: Path):
        import subprocess

        self.report, self.log = base / "phases.json", base / "rehearsal.log"
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "tests.support.rehearsal", "--workdir", str(base / "work"), "--report",
             str(self.report)], cwd=ROOT, stdout=open(self.log, "wb"), stderr=subprocess.STDOUT,
            start_new_session=True)

    def result(self, phase: str, timeout: float = 3000) -> dict:
        """The phase's result once the background run has it; a run that ended without it is a failure."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            ended = self.proc.poll() is not None
            if self.report.exists():
                found = json.loads(self.report.read_text())["phases"].get(phase)
                if found is not None:
                    return found
            if ended:
                break
            time.sleep(1)
        tail = self.log.read_bytes()[-3000:].decode(errors="replace") if self.log.exists() else ""
        state = (f"exit {self.proc.returncode}" if self.proc.poll() is not None
                 else f"still running after {timeout:.0f} s")
        return {"status": "failed", "seconds": 0, "detail": f"the rehearsal ({state}) reported no result for phase "
                                                            f"{phase}; the end of {self.log}:\n{tail}"}

    def stop(self) -> None:
        """SIGTERM (the run cleans up its containers and servers), SIGKILL if it does not end."""
        import signal
        import subprocess

        if self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(120)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()


def main(argv: list[str] | None = None) -> int:
    import signal

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=ROOT / "workdir" / "rehearsal")
    ap.add_argument("--phase", action="append", choices=Rehearsal.PHASES,
                    help="a phase to run, with the phases it needs (repeatable; default: every phase)")
    ap.add_argument("--report", type=Path, help="write each phase's result there as JSON, as it comes")
    a = ap.parse_args(argv)
    import shutil
    shutil.rmtree(a.workdir, ignore_errors=True)
    # the environment's own tools (weed, mlflow), as when it is activated
    os.environ["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"
    # a SIGTERM (the test session ending early) still stops the containers and servers this run started
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    rehearsal = Rehearsal(a.workdir.resolve())
    names = a.phase or Rehearsal.PHASES
    try:
        results = run_phases(rehearsal, [n for n in Rehearsal.PHASES if n in names or any(
            n in _all_needs(m) for m in names)], a.report)
    finally:
        rehearsal.close()
    log("times: " + ", ".join(f"{k} {v:.0f} s" for k, v in rehearsal.times.items()))
    failed = [n for n, r in results.items() if r["status"] != "passed"]
    log(f"FAILED: {', '.join(failed)}" if failed else "passed")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
