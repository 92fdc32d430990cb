"""Kubernetes training jobs: generated from the published-size configs, valid against the Kubeflow CRDs, and
submitted and watched to the end through the real kubernetes client (against a loopback stand-in for the API)."""
import json
import threading
import time
from pathlib import Path

import pytest
import yaml

from components.cli import main
from components.contract.config import load_config
from tests.support.kube_api import FakeKube, pod
from training.k8s import jobs
from training.k8s.validate import validate
from training.k8s.watch import submit_and_wait
from training.plan import resolve

ROOT = Path(__file__).resolve().parents[1]
KEY = "0123456789abcdef0123"  # pragma: allowlist secret (a content address)
SIZES = ["1.3b", "3.8b", "5.8b", "12.8b"]


def _job(size: str, launcher: str) -> tuple:
    cfg = load_config(f"configs/polyglot-ko-{size}.yaml", [f"pretrain.launcher={launcher}"])
    return cfg, jobs.build(cfg.pretrain, "s3://polyglot-ko/artifacts/pretrain-jobs/k/train_args.json",
                           jobs.job_name(KEY), None, "https://mlflow.example.org")


def _pod_spec(job: dict) -> tuple[dict, dict]:
    """(pod spec, main container) of either kind."""
    if job["kind"] == "TrainJob":
        rj = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
        spec = rj["template"]["spec"]["template"]["spec"]
        return spec, spec["containers"][0] | job["spec"]["trainer"]
    spec = job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]
    return spec, spec["containers"][0]


@pytest.mark.parametrize("launcher", ["trainjob", "pytorchjob"])
@pytest.mark.parametrize("size", SIZES)
def test_published_configs_generate_valid_gpu_jobs(size, launcher):
    cfg, job = _job(size, launcher)
    assert validate(job) == [], "valid against the CRD's openAPIV3Schema, unknown fields included"
    spec, container = _pod_spec(job)
    p = cfg.pretrain
    # GPUs, nodes and processes as configured
    if launcher == "trainjob":
        t = job["spec"]["trainer"]
        assert (t["numNodes"], t["numProcPerNode"]) == (32, 8)
        assert t["resourcesPerNode"]["limits"]["nvidia.com/gpu"] == "8"
        assert job["spec"]["runtimeRef"]["name"] == "polyglot-ko-torch", "infra/trainer's runtime"
        assert rj_name(job) == "node" and spec["containers"][0]["name"] == "node", "the runtime's own names"
    else:
        specs = job["spec"]["pytorchReplicaSpecs"]
        assert specs["Master"]["replicas"] == 1 and specs["Worker"]["replicas"] == 31
        assert job["spec"]["nprocPerNode"] == "8" and container["resources"]["limits"]["nvidia.com/gpu"] == "8"
        assert job["spec"]["runPolicy"]["backoffLimit"] == p.kubernetes.max_restarts
    assert spec["nodeSelector"] == p.kubernetes.node_selector
    assert {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"} in spec["tolerations"]
    # /dev/shm from memory, the shared checkpoint volume, a writable /tmp under a read-only root
    vols = {v["name"]: v for v in spec["volumes"]}
    assert vols["dshm"]["emptyDir"] == {"medium": "Memory", "sizeLimit": "64Gi"}
    assert vols["checkpoints"]["persistentVolumeClaim"]["claimName"] == "polyglot-ko-checkpoints"
    mounts = {m["mountPath"] for m in container["volumeMounts"]}
    assert {"/dev/shm", "/checkpoints", "/tmp"} <= mounts
    # credentials only by reference to Secrets
    env = {e["name"]: e for e in container["env"]}
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "MLFLOW_TRACKING_PASSWORD"):
        assert "value" not in env[key] and env[key]["valueFrom"]["secretKeyRef"]["key"] == key
    assert env["MLFLOW_TRACKING_URI"]["value"] == "https://mlflow.example.org"
    # Pod Security "restricted"
    assert spec["securityContext"]["runAsNonRoot"] is True
    sc = container["securityContext"]
    assert sc["allowPrivilegeEscalation"] is False and sc["capabilities"]["drop"] == ["ALL"]
    # the same entry point as the local launcher; torchrun may wait out the grace period for the checkpoint
    cmd = container["command"]
    assert cmd[0] == "torchrun" and cmd[-3:] == ["training.train", "--args", cmd[-1]] and cmd[-1].startswith("s3://")
    assert int(cmd[cmd.index("--shutdown-timeout") + 1]) < spec["terminationGracePeriodSeconds"]


def rj_name(job: dict) -> str:
    return job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]["name"]


def test_the_shipped_training_runtime_restarts_every_node_when_one_fails():
    """infra/trainer's ClusterTrainingRuntime, which the TrainJobs name: upstream's torch runtime plus a JobSet
    failure policy (without one, one failed pod fails the whole job), valid against the runtime CRD."""
    import copy

    runtime = yaml.safe_load((ROOT / "infra" / "trainer" / "polyglot-ko-torch.yaml").read_text())
    assert validate(runtime) == []
    spec = runtime["spec"]["template"]["spec"]
    assert spec["failurePolicy"]["maxRestarts"] >= 1 and spec["failurePolicy"]["restartStrategy"] == "Recreate"
    (node,) = spec["replicatedJobs"]
    assert node["name"] == "node" and node["template"]["spec"]["backoffLimit"] == 0
    assert node["template"]["spec"]["template"]["spec"]["containers"][0]["name"] == "node"
    for size in SIZES:
        assert load_config(f"configs/polyglot-ko-{size}.yaml").pretrain.kubernetes.runtime == \
            runtime["metadata"]["name"]
    typo = copy.deepcopy(runtime)
    typo["spec"]["template"]["spec"]["failurePolicy"]["maxRestart"] = 3
    assert validate(typo), "an unknown field (the API server would drop it) is reported"


def test_published_configs_plan_the_published_token_budgets():
    budgets = {"1.3b": 213e9, "3.8b": 219e9, "5.8b": 172e9, "12.8b": 167e9}
    batch = {"1.3b": 1024 * 2048, "3.8b": 1024 * 2048, "5.8b": 256 * 2048, "12.8b": 256 * 2048}
    for size in SIZES:
        cfg = load_config(f"configs/polyglot-ko-{size}.yaml")
        plan = resolve(cfg.pretrain)
        assert plan.world_size == 256 and plan.tokens_per_step == batch[size]
        assert 0 <= plan.total_tokens - budgets[size] < plan.tokens_per_step
        assert cfg.pretrain.preset == f"polyglot-ko-{size}" and cfg.pretrain.precision == "bf16"


def test_validator_reports_what_the_api_server_would_reject_or_silently_drop():
    _, job = _job("1.3b", "trainjob")
    job["metadata"]["name"] = "Pretrain_1"
    job["spec"]["trainer"]["numNodes"] = "32"
    job["spec"]["trainer"]["gpus"] = 8
    problems = validate(job)
    assert any(p.startswith("metadata.name") for p in problems)
    assert any("numNodes" in p and "integer" in p for p in problems)
    assert any("'gpus' was unexpected" in p for p in problems)
    _, job = _job("1.3b", "pytorchjob")
    job["spec"]["pytorchReplicaSpecs"]["Master"]["template"]["spec"]["containers"][0]["resources"]["limits"][
        "cpu"] = ["48"]
    assert any("limits.cpu" in p for p in validate(job))


def test_cli_writes_the_job_and_its_plan(tmp_path, capsys):
    assert main(["train-job", "configs/polyglot-ko-5.8b.yaml", "--out", str(tmp_path), "--kind", "pytorchjob"]) == 0
    job = yaml.safe_load((tmp_path / "pytorchjob.yaml").read_text())
    assert job["kind"] == "PyTorchJob" and validate(job) == []
    assert "328,064 steps x 524,288 tokens = 172.0B tokens" in capsys.readouterr().out
    assert main(["train-job", "configs/polyglot-ko-1.3b.yaml", "--out", str(tmp_path),
                 "--set", "pretrain.global_batch_tokens=1000000"]) == 2
    assert "not a multiple of world size" in capsys.readouterr().err


def _after(delay: float, fn) -> None:
    threading.Timer(delay, fn).start()


def test_watch_follows_a_job_through_a_restart_to_completion():
    def controller(fake, obj):
        name = obj["metadata"]["name"]
        fake.set_status(obj, "Created")
        _after(0.2, lambda: fake.pods.__setitem__(name, [pod(f"{name}-node-0-0"), pod(f"{name}-node-0-1")]))
        _after(0.5, lambda: fake.pods.__setitem__(name, [pod(f"{name}-node-0-0", restarts=1,
                                                             terminated=("OOMKilled", 137)),
                                                         pod(f"{name}-node-0-1")]))
        _after(0.9, lambda: fake.set_status(obj, "Complete", "JobSetCompleted", "jobset completed"))

    _, job = _job("1.3b", "trainjob")
    logged = []
    with FakeKube(controller) as kube:
        out = submit_and_wait(job, timeout_s=30, poll_s=0.1, log=logged.append, client=kube.client())
        posted = [p for m, p in kube.requests if m == "POST"]
    assert out.succeeded and out.restarts == 1
    assert posted == ["/apis/trainer.kubeflow.org/v1alpha1/namespaces/polyglot-ko/trainjobs"]
    assert any("OOMKilled (exit code 137)" in line for line in logged), logged
    assert "Complete: JobSetCompleted: jobset completed" in out.reason


def test_watch_reports_why_a_job_failed_and_a_retried_task_replaces_it():
    fail = {"now": True}

    def controller(fake, obj):
        name = obj["metadata"]["name"]
        if fail["now"]:
            fake.pods[name] = [pod(f"{name}-master-0", restarts=3, terminated=("Error", 1))]
            _after(0.3, lambda: fake.set_status(obj, "Failed", "BackoffLimitExceeded", "restarted 3 times"))
        else:
            _after(0.3, lambda: fake.set_status(obj, "Succeeded", "PyTorchJobSucceeded"))

    _, job = _job("12.8b", "pytorchjob")
    with FakeKube(controller) as kube:
        first = submit_and_wait(job, timeout_s=30, poll_s=0.1, log=lambda m: None, client=kube.client())
        assert not first.succeeded and first.restarts == 3
        assert "BackoffLimitExceeded" in first.reason and "Error (exit code 1)" in first.reason
        fail["now"] = False       # the task is retried: the failed job is deleted and submitted again
        second = submit_and_wait(job, timeout_s=30, poll_s=0.1, log=lambda m: None, client=kube.client())
        methods = [m for m, _ in kube.requests]
    assert second.succeeded
    assert methods.count("DELETE") == 1 and methods.count("POST") == 3   # first, conflict, resubmission


def test_a_retried_task_attaches_to_the_running_job_and_gives_up_waiting_without_killing_it():
    _, job = _job("3.8b", "trainjob")
    with FakeKube(lambda fake, obj: fake.set_status(obj, "Created")) as kube:
        t0 = time.time()
        first = submit_and_wait(job, timeout_s=0.5, poll_s=0.1, log=lambda m: None, client=kube.client())
        logged = []
        second = submit_and_wait(job, timeout_s=0.3, poll_s=0.1, log=logged.append, client=kube.client())
        methods = [m for m, _ in kube.requests]
        still_there = len(kube.objects) == 1
    assert not first.succeeded and "still running" in first.reason and time.time() - t0 < 10
    assert any("already exists; watching it" in line for line in logged) and not second.succeeded
    assert "DELETE" not in methods and still_there


def test_jobs_serialise_without_yaml_anchors():
    _, job = _job("12.8b", "pytorchjob")
    text = yaml.safe_dump(job)
    assert "&id" not in text and "*id" not in text
    assert json.loads(json.dumps(job)) == job


def _run_like_the_trainer_runtime(secrets: dict, workdir):
    """A controller that does what Kubeflow Trainer's torch runtime does with a one-node TrainJob: start the
    container's command with the job's environment (Secrets resolved) and torchrun's PET_* variables."""
    import os
    import subprocess

    from components.contract.storage import _client
    from tests.support.services import free_port

    def controller(fake, obj):
        trainer = obj["spec"]["trainer"]
        env = dict(os.environ)
        for e in trainer["env"]:
            if e["name"] in ("HOME", "TORCH_EXTENSIONS_DIR"):
                continue       # keep this machine's compiled DeepSpeed ops
            env[e["name"]] = e["value"] if "value" in e else \
                secrets[e["valueFrom"]["secretKeyRef"]["name"]][e["valueFrom"]["secretKeyRef"]["key"]]
        env.update({"PET_NNODES": str(trainer["numNodes"]), "PET_NPROC_PER_NODE": str(trainer["numProcPerNode"]),
                    "PET_NODE_RANK": "0", "PET_MASTER_ADDR": "127.0.0.1", "PET_MASTER_PORT": str(free_port()),
                    "OMP_NUM_THREADS": "1", "PYTHONPATH": str(ROOT)})
        name = obj["metadata"]["name"]
        fake.set_status(obj, "Created")
        log = open(workdir / f"{name}.log", "wb")
        proc = subprocess.Popen(trainer["command"], env=env, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
        fake.pods[name] = [pod(f"{name}-node-0-0")]

        def finish():
            rc = proc.wait()
            log.close()
            if rc == 0:
                fake.set_status(obj, "Complete", "JobSetCompleted")
            else:
                fake.set_status(obj, "Failed", "JobSetFailed", f"exit code {rc}")
        threading.Thread(target=finish, daemon=True).start()
    _client.cache_clear()
    return controller


def _use_kubeconfig_of(kube, tmp_path, monkeypatch) -> None:
    """Point the kubernetes client (as the CLI and the stage load it) at the loopback stand-in."""
    kubeconfig = tmp_path / "kubeconfig"
    kubeconfig.write_text(yaml.safe_dump({
        "apiVersion": "v1", "kind": "Config", "current-context": "t",
        "clusters": [{"name": "t", "cluster": {"server": kube.client().configuration.host}}],
        "users": [{"name": "t", "user": {"token": "not-a-secret"}}],
        "contexts": [{"name": "t", "context": {"cluster": "t", "user": "t"}}]}))
    monkeypatch.setenv("KUBECONFIG", str(kubeconfig))
    monkeypatch.delenv("KUBERNETES_SERVICE_HOST", raising=False)


@pytest.mark.slow
def test_pretrain_stage_submits_a_trainjob_waits_and_publishes_its_export(tmp_path, s3, monkeypatch):
    """The pipeline's pretrain task on Kubernetes: train_args.json to object storage, the TrainJob submitted
    through the kubeconfig, its pods read the dataset from S3, mirror checkpoints there and upload the export,
    which the task publishes as the TrainedModel. A retried task attaches to the finished job."""
    from components.contract.manifest import read_manifest
    from components.contract.runner import run_pipeline
    from components.contract.storage import Storage
    from tests.support.services import ACCESS_KEY, SECRET_KEY
    from training.remote import remote_complete_steps

    secrets = {"polyglot-ko-s3": {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}}
    pods_dir = tmp_path / "pods"
    pods_dir.mkdir()
    with FakeKube(_run_like_the_trainer_runtime(secrets, pods_dir)) as kube:
        _use_kubeconfig_of(kube, tmp_path, monkeypatch)
        overrides = ["artifact_root=s3://artifacts/tj", "pretrain.launcher=trainjob",
                     f"pretrain.kubernetes.checkpoint_mount={tmp_path / 'pvc'}",
                     f"pretrain.kubernetes.cache_dir={tmp_path / 'pvc' / 'datasets'}",
                     "pretrain.kubernetes.mlflow_secret=null", "pretrain.kubernetes.poll_s=0.5"]
        summary = run_pipeline("configs/tiny.yaml", tmp_path / "work", overrides, until="pretrain", log=print)
        again = run_pipeline("configs/tiny.yaml", tmp_path / "work", overrides, start="pretrain",
                             until="pretrain", force=True, log=print)
        posts = [p for m, p in kube.requests if m == "POST"]

    storage = Storage()
    model = read_manifest(storage, summary["stages"]["pretrain"]["uri"])
    assert model.kind == "TrainedModel" and model.uri.startswith("s3://artifacts/tj/pretrain/")
    names = {f.name for f in model.files}
    assert {"hf/model.safetensors", "hf/config.json", "hf/tokenizer.json", "metrics.jsonl"} <= names
    assert model.stats["launcher"] == "trainjob" and model.stats["steps"] == 12
    ckpt_uri = model.stats["checkpoint_uri"]
    assert ckpt_uri.startswith("s3://artifacts/tj/checkpoints/") and remote_complete_steps(storage, ckpt_uri) == [6, 12]
    assert len(posts) == 2, "the retried task's submission met the finished job (409) and attached to it"
    assert again["stages"]["pretrain"]["digest"] == summary["stages"]["pretrain"]["digest"]


@pytest.mark.slow
def test_train_job_submit_starts_the_stages_job_and_the_stage_attaches_to_it(tmp_path, s3, monkeypatch, capsys):
    """`polyglot-ko train-job --submit` starts exactly the job the pretrain stage would: the same content address
    (name), the same spec, the argument file the stage reads and writes; the stage, run afterwards, meets that job
    (409), attaches, and publishes its export."""
    from components.contract.artifact import Artifact
    from components.contract.manifest import read_manifest
    from components.contract.runner import run_pipeline
    from components.contract.storage import Storage
    from tests.support.services import ACCESS_KEY, SECRET_KEY
    from training.args import TrainArgs

    secrets = {"polyglot-ko-s3": {"AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}}
    pods_dir = tmp_path / "pods"
    pods_dir.mkdir()
    work = tmp_path / "work"
    overrides = ["artifact_root=s3://artifacts/tjs", "pretrain.launcher=trainjob",
                 f"pretrain.kubernetes.checkpoint_mount={tmp_path / 'pvc'}",
                 f"pretrain.kubernetes.cache_dir={tmp_path / 'pvc' / 'datasets'}",
                 "pretrain.kubernetes.mlflow_secret=null", "pretrain.kubernetes.poll_s=0.5"]
    before = run_pipeline("configs/tiny.yaml", work, overrides, until="tokenize", log=print)
    with FakeKube(_run_like_the_trainer_runtime(secrets, pods_dir)) as kube:
        _use_kubeconfig_of(kube, tmp_path, monkeypatch)
        sets = [x for o in overrides for x in ("--set", o)]
        assert main(["train-job", "configs/tiny.yaml", "--out", str(tmp_path / "job"), "--workdir", str(work),
                     "--submit", *sets]) == 0
        printed = capsys.readouterr().out
        summary = run_pipeline("configs/tiny.yaml", work, overrides, start="pretrain", until="pretrain", log=print)
        posted, requests = list(kube.posted), list(kube.requests)

    by_hand, by_stage = posted
    assert by_hand == by_stage, "train-job submitted the very spec the stage submits"
    assert by_hand == yaml.safe_load((tmp_path / "job" / "trainjob.yaml").read_text()), "and wrote it"
    assert sum(1 for m, _ in requests if m == "POST") == 2 and "succeeded" in printed
    storage = Storage()
    model = read_manifest(storage, summary["stages"]["pretrain"]["uri"])
    assert model.kind == "TrainedModel" and model.stats["launcher"] == "trainjob"
    assert jobs.job_name(model.key) == by_hand["metadata"]["name"], "the job is named by the stage's address"
    args_uri = by_hand["spec"]["trainer"]["command"][-1]
    assert args_uri == f"s3://artifacts/tjs/pretrain-jobs/{model.key[:20]}/train_args.json"
    args = TrainArgs.from_json(storage.read_bytes(args_uri).decode())
    assert args.mlflow_run_id == model.mlflow_run_id, "the stage wrote its own arguments (its MLflow run) there"
    dataset = read_manifest(storage, before["stages"]["tokenize"]["uri"])
    assert [d.uri for d in args.datasets] == [dataset.uri] and args.steps == model.stats["steps"] == 12
    assert Artifact("tokenizer", read_manifest(storage, before["stages"]["train-tokenizer"]["uri"]), storage,
                    tmp_path).info.padded_vocab == args.vocab_size
