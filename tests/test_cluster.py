"""Cluster mode without a cluster: the compiled KFP pipeline, the Airflow cluster DAG's pods rendered offline,
the kustomize overlays and the images, checked with the real tools (kubectl kustomize, kubernetes-validate,
checkov, hadolint) and the Kubeflow CRDs."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from components.cli import main
from training.k8s.validate import validate

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-tools" / "bin"
AIRFLOW_PY = ROOT / ".venv-airflow" / "bin" / "python"
K8S_VERSION = "1.33"


def tool(name: str) -> str:
    path = TOOLS / name
    if not path.exists():
        pytest.skip(f"{path} missing: `make tools-env` (part of `make test`) installs the checkers")
    return str(path)


# ------------------------------------------------------------------------------------------------ KFP


@pytest.fixture(scope="module")
def compiled(tmp_path_factory):
    out = tmp_path_factory.mktemp("compiled")
    assert main(["compile", "configs/polyglot-ko-1.3b.yaml", "--out", str(out)]) == 0
    spec, platform = yaml.safe_load_all((out / "pipeline.yaml").read_text())
    return out, spec, platform["platforms"]["kubernetes"]["deploymentSpec"]["executors"]


def _executor_of(spec: dict, task: dict) -> str:
    return spec["components"][task["componentRef"]["name"]]["executorLabel"]


def _tasks(spec: dict) -> dict:
    """Every task of the pipeline, nested loops included: display name -> (task, executor)."""
    out = {}
    todo = [spec["root"]["dag"]["tasks"]]
    while todo:
        for name, task in todo.pop().items():
            comp = spec["components"][task["componentRef"]["name"]]
            if "dag" in comp:
                todo.append(comp["dag"]["tasks"])
                out[name] = (task, None)
            else:
                out[task["taskInfo"]["name"]] = (task, comp["executorLabel"])
    return out


def test_compile_writes_the_cluster_pipeline_and_a_valid_training_job(compiled):
    out, spec, platform = compiled
    tasks = _tasks(spec)
    assert {"begin", "collect_shard", "collect", "curate_shard", "curate", "train_tokenizer", "tokenize",
            "pretrain", "evaluate", "register", "finish"} <= set(tasks)
    executors = spec["deploymentSpec"]["executors"]
    # corpus stages: their fan-out steps as ParallelFor loops (64 tasks at a time): collect's and curate's shards
    # and curate's filter over world_size, curate's dedup buckets over dedup_buckets, tokenize's shards over its
    # world_size; then each reduce step
    loops = {n: t for n, (t, ex) in tasks.items() if ex is None}
    assert sorted(len(json.loads(loop["parameterIterator"]["items"]["raw"])) for loop in loops.values()) == \
        [256, 256, 512, 512, 512]
    for loop in loops.values():
        assert json.loads(loop["parameterIterator"]["items"]["raw"]) in (list(range(512)), list(range(256)))
        assert loop["iteratorPolicy"]["parallelismLimit"] == 64
    assert {"curate_bucket", "curate_cluster", "curate_filter", "tokenize_shard"} <= set(tasks)
    for name, (task, ex) in tasks.items():
        if ex is None:
            continue
        c = executors[ex]["container"]
        assert c["command"] == ["polyglot-ko"], name
        assert c["args"][-2] == "--output-file"
        assert task["retryPolicy"]["maxRetryCount"] == 2 and not task["cachingOptions"].get("enableCache")
        k8s = platform[ex]
        assert k8s["podMetadata"]["labels"]["polyglot-ko.org/role"] == "pipeline"
        secrets = {s["secretName"]: {m["envVar"] for m in s["keyToEnv"]} for s in k8s["secretAsEnv"]}
        assert secrets["polyglot-ko-s3"] == {"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"}
        assert {"mountPath": "/tmp", "volumeName": "scratch"} in k8s["emptyDirMounts"]
        assert k8s["securityContext"]["runAsNonRoot"] is True
    stage_args = {n: executors[ex]["container"]["args"] for n, (t, ex) in tasks.items() if ex}
    assert stage_args["collect_shard"][:2] == ["stage", "collect"] and "--shard" in stage_args["collect_shard"]
    assert "--shard" not in stage_args["collect"]
    # pretrain only coordinates the TrainJob; evaluation gets a GPU node
    pre = executors[tasks["pretrain"][1]]["container"]
    assert pre["image"].endswith("/cpu:0.1.0") and "accelerator" not in pre["resources"]
    ev_ex = tasks["evaluate"][1]
    ev = executors[ev_ex]["container"]
    assert ev["image"].endswith("/train-cuda:0.1.0")
    assert ev["resources"]["accelerator"]["resourceType"] == "nvidia.com/gpu"
    assert platform[ev_ex]["nodeSelector"]["labels"] == {"polyglot-ko.org/pool": "gpu"}
    assert platform[ev_ex]["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert "nodeSelector" not in platform[tasks["tokenize"][1]]
    job = yaml.safe_load((out / "trainjob.yaml").read_text())
    assert job["kind"] == "TrainJob" and validate(job) == []
    assert (out / "config.yaml").is_file()


def test_compile_with_the_local_launcher_trains_inside_the_gpu_task(tmp_path):
    assert main(["compile", "configs/polyglot-ko-1.3b.yaml", "--out", str(tmp_path), "--set",
                 "pretrain.launcher=local", "--set", "pretrain.nodes=1"]) == 0
    spec, platform = yaml.safe_load_all((tmp_path / "pipeline.yaml").read_text())
    task, ex = _tasks(spec)["pretrain"]
    c = spec["deploymentSpec"]["executors"][ex]["container"]
    assert c["image"].endswith("/train-cuda:0.1.0") and c["resources"]["accelerator"]["count"] == "8"
    assert not (tmp_path / "trainjob.yaml").exists()


# -------------------------------------------------------------------------------------------- Airflow


def _render(config: Path, tmp: Path) -> dict:
    from tests.support.airflow_render import render
    return render(config, tmp)


@pytest.fixture(scope="module")
def airflow_pods(tmp_path_factory):
    if not AIRFLOW_PY.exists():
        pytest.skip("no .venv-airflow (`make test` creates it)")
    tmp = tmp_path_factory.mktemp("airflow-cluster")
    config = tmp / "weekly.yaml"
    data = yaml.safe_load((ROOT / "configs" / "polyglot-ko-1.3b.yaml").read_text())
    data["cluster"] = {"schedule": "0 3 * * 0"}
    config.write_text(yaml.safe_dump(data))
    return _render(config, tmp), tmp


def test_airflow_cluster_dag_runs_every_stage_in_its_image_and_maps_shards(airflow_pods):
    dag, _ = airflow_pods
    tasks = dag["tasks"]
    assert dag["schedule"] == "0 3 * * 0"
    assert set(tasks) == {"begin", "collect_shard", "collect", "curate_shard", "curate_bucket", "curate_cluster",
                          "curate_filter", "curate", "train_tokenizer", "tokenize_shard", "tokenize", "pretrain",
                          "evaluate", "register", "finish"}
    assert tasks["collect_shard"]["mapped"] == 512 and tasks["curate_shard"]["mapped"] == 512
    assert tasks["curate_bucket"]["mapped"] == 256 and tasks["curate_filter"]["mapped"] == 512
    assert tasks["curate_cluster"]["mapped"] == 0, "one clustering task"
    assert tasks["tokenize_shard"]["mapped"] == 256 and tasks["tokenize"]["upstream"] == ["tokenize_shard"]
    assert tasks["tokenize_shard"]["upstream"] == ["curate", "train_tokenizer"]
    shard_ranks = [a[a.index("--shard") + 1] for a in tasks["curate_shard"]["all_arguments"]]
    assert shard_ranks == [str(r) for r in range(512)]
    assert tasks["curate"]["upstream"] == ["curate_filter"] and tasks["curate_shard"]["upstream"] == ["collect"]
    assert (tasks["curate_bucket"]["upstream"], tasks["curate_cluster"]["upstream"],
            tasks["curate_filter"]["upstream"]) == (["curate_shard"], ["curate_bucket"], ["curate_cluster"])
    assert tasks["pretrain"]["upstream"] == ["tokenize", "train_tokenizer"]
    assert tasks["curate"]["outlets"] == ["s3://polyglot-ko/artifacts/curate"]
    assert tasks["register"]["outlets"] == ["s3://polyglot-ko/artifacts/register"]
    outputs = {}
    for name, t in tasks.items():
        spec = t["pod"]["spec"]
        c = spec["containers"][0]
        assert c["command"] == ["polyglot-ko"] and c["image"].startswith("ghcr.io/polyglot-ko/")
        assert c["securityContext"]["runAsNonRoot"] and c["securityContext"]["readOnlyRootFilesystem"]
        assert t["pod"]["metadata"]["labels"]["polyglot-ko.org/role"] == "pipeline"
        env = {e["name"]: e for e in c["env"]}
        assert "value" not in env["AWS_SECRET_ACCESS_KEY"] and \
            env["AWS_SECRET_ACCESS_KEY"]["valueFrom"]["secretKeyRef"]["name"] == "polyglot-ko-s3"
        assert env["MLFLOW_TRACKING_URI"]["value"].startswith("http://mlflow.")
        assert c["resources"]["limits"] == c["resources"]["requests"]
        assert spec["serviceAccountName"] == "polyglot-ko-pipeline" and t["retries"] == 2
        if "--output-file" in c["args"]:
            outputs[name] = c["args"][c["args"].index("--output-file") + 1]
    # GPU scheduling only where a stage needs a GPU
    ev = tasks["evaluate"]["pod"]["spec"]
    assert ev["containers"][0]["resources"]["limits"]["nvidia.com/gpu"] == "1"
    assert ev["nodeSelector"] == {"polyglot-ko.org/pool": "gpu"} and ev["tolerations"][0]["key"] == "nvidia.com/gpu"
    assert ev["containers"][0]["image"].endswith("train-cuda:0.1.0")
    assert not tasks["tokenize"]["pod"]["spec"].get("nodeSelector")
    # results travel through object storage: each input is the upstream task's --output-file
    args = tasks["tokenize"]["pod"]["spec"]["containers"][0]["args"]
    inputs = dict(a.split("=", 1) for a in args[args.index("stage") + 2:] if "=" in a and a[0] != "@")
    assert inputs["corpus"] == "@" + outputs["curate"] and inputs["tokenizer"] == "@" + outputs["train_tokenizer"]


def test_rendered_pods_are_valid_kubernetes_objects(airflow_pods):
    dag, tmp = airflow_pods
    path = tmp / "pods.yaml"
    path.write_text(yaml.safe_dump_all([t["pod"] for t in dag["tasks"].values()]))
    proc = subprocess.run([tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr


# ------------------------------------------------------------------ one placement, translated by both adapters


def _kfp_view(spec: dict, platform: dict, task: dict, executor: str) -> dict:
    c, k = spec["deploymentSpec"]["executors"][executor]["container"], platform[executor]
    res, acc = c["resources"], c["resources"].get("accelerator", {})
    return {"image": c["image"], "pull_policy": k["imagePullPolicy"],
            "cpu": (res["resourceCpuRequest"], res["resourceCpuLimit"]),
            "memory": (res["resourceMemoryRequest"], res["resourceMemoryLimit"]),
            "gpus": (acc.get("resourceType"), int(acc.get("resourceCount", 0))),
            "node_selector": k.get("nodeSelector", {}).get("labels", {}), "tolerations": k.get("tolerations", []),
            "env": {e["name"]: e["value"] for e in c.get("env", [])},
            "secret_env": {m["envVar"]: (s["secretName"], m["secretKey"]) for s in k.get("secretAsEnv", [])
                           for m in s["keyToEnv"]},
            "labels": k["podMetadata"]["labels"], "scratch": [m["mountPath"] for m in k["emptyDirMounts"]],
            "retries": task.get("retryPolicy", {}).get("maxRetryCount", 0)}


def _airflow_view(t: dict) -> dict:
    spec = t["pod"]["spec"]
    c = spec["containers"][0]
    limits, requests = c["resources"]["limits"], c["resources"]["requests"]
    gpu = next((r for r in limits if r not in ("cpu", "memory")), None)
    env = {e["name"]: e for e in c["env"]}
    return {"image": c["image"], "pull_policy": c["imagePullPolicy"], "cpu": (requests["cpu"], limits["cpu"]),
            "memory": (requests["memory"], limits["memory"]), "gpus": (gpu, int(limits[gpu]) if gpu else 0),
            "node_selector": spec.get("nodeSelector") or {}, "tolerations": spec.get("tolerations") or [],
            "env": {n: e["value"] for n, e in env.items() if "value" in e},
            "secret_env": {n: (e["valueFrom"]["secretKeyRef"]["name"], e["valueFrom"]["secretKeyRef"]["key"])
                           for n, e in env.items() if "valueFrom" in e},
            # Airflow adds labels of its own (dag_id, task_id, try_number, ...); ours are namespaced
            "labels": {k: v for k, v in t["pod"]["metadata"]["labels"].items() if "/" in k},
            "scratch": [m["mountPath"] for m in c["volumeMounts"] if m["name"] == "scratch"],
            "retries": t["retries"]}


def _placement_view(p) -> dict:
    return {"image": p.image, "pull_policy": p.pull_policy, "cpu": (p.cpu, p.cpu), "memory": (p.memory, p.memory),
            "gpus": (p.gpu_resource if p.gpus else None, p.gpus), "node_selector": p.node_selector,
            "tolerations": p.tolerations, "env": p.env, "secret_env": p.secret_env, "labels": p.labels,
            "scratch": [p.scratch], "retries": p.retries}


def test_every_task_has_one_placement_that_kfp_and_airflow_both_render(compiled, airflow_pods):
    """Render every task of the cluster pipeline under KFP (compiled YAML) and under Airflow (the pods the
    operator would create) and compare what they ask Kubernetes for, field by field, with the one placement
    components.cluster.placement decides."""
    from components.cluster import placement
    from components.contract import graph
    from components.contract.config import load_config
    from dags.kfp_pipeline import KFP_BACKEND_SECURITY, KFP_UNEXPRESSED_SECURITY

    _, spec, platform = compiled
    kfp_tasks = _tasks(spec)
    dag, _ = airflow_pods
    cfg = load_config("configs/polyglot-ko-1.3b.yaml")
    names = [t.name for t in graph.tasks()]
    assert set(names) == {n for n, (_, ex) in kfp_tasks.items() if ex} == set(dag["tasks"])
    for task in graph.tasks():
        want = placement.placement(cfg, task)
        kfp_task, executor = kfp_tasks[task.name]
        kfp, air, ours = _kfp_view(spec, platform, kfp_task, executor), _airflow_view(dag["tasks"][task.name]), \
            _placement_view(want)
        for field in ours:
            assert kfp[field] == air[field] == ours[field], (task.name, field, kfp[field], air[field], ours[field])
        pod = dag["tasks"][task.name]["pod"]
        assert pod["spec"]["serviceAccountName"] == want.service_account   # KFP: per run, see the submit test
        assert pod["spec"]["securityContext"] == want.pod_security
        assert pod["spec"]["containers"][0]["securityContext"] == want.container_security
        # KFP carries what kfp-kubernetes can say; the KFP backend sets the rest or it cannot be said (named)
        carried = {k: (v if isinstance(v, bool) else int(v)) for k, v in platform[executor]["securityContext"].items()}
        for key, value in {**want.pod_security, **want.container_security}.items():
            assert carried.get(key) == value or key in KFP_BACKEND_SECURITY + KFP_UNEXPRESSED_SECURITY, (task, key)
    gpu_tasks = {t.name for t in graph.tasks() if placement.placement(cfg, t).gpus}
    assert gpu_tasks == {"evaluate"}, "the 1.3B config trains in a TrainJob: pretrain only coordinates"


def test_evaluate_and_register_pods_are_sized_from_the_preset_in_the_export_dtype():
    """12.8B in float16 is 25.8 GB of weights: the pods that load it hold it, a 1.3B model's pods stay small."""
    from components.cluster.placement import placement
    from components.contract import graph
    from components.contract.config import load_config

    def gib(task: str, cfg) -> float:
        (t,) = [t for t in graph.tasks() if t.name == task]
        return float(placement(cfg, t).memory.removesuffix("Gi"))

    big, small = load_config("configs/polyglot-ko-12.8b.yaml"), load_config("configs/polyglot-ko-1.3b.yaml")
    weights = graph.weights_bytes(big) / 2**30
    assert 23 < weights < 25, "12.9 B parameters in float16"
    assert gib("evaluate", big) >= weights + 4 and gib("register", big) >= 2 * weights
    assert gib("evaluate", small) < 16 and gib("register", small) <= 8
    fp32 = load_config("configs/polyglot-ko-12.8b.yaml", ["pretrain.export_dtype=float32"])
    assert gib("register", fp32) > 1.8 * gib("register", big)


def test_the_training_jobs_pods_take_the_same_security_and_secrets_from_the_placement_module():
    from components.cluster import placement
    from components.contract import graph
    from components.contract.config import load_config
    from training.k8s import jobs

    cfg = load_config("configs/polyglot-ko-1.3b.yaml")
    job = jobs.build(cfg.pretrain, "s3://b/a.json", "pk-pretrain-x", None, "https://mlflow.example.org")
    rj = job["spec"]["runtimePatches"][0]["trainingRuntimeSpec"]["template"]["spec"]["replicatedJobs"][0]
    pod = rj["template"]["spec"]["template"]
    assert pod["spec"]["securityContext"] == placement.POD_SECURITY
    assert pod["spec"]["containers"][0]["securityContext"] == placement.CONTAINER_SECURITY
    assert pod["metadata"]["labels"][placement.ROLE] == "trainer"
    secrets = {e["name"]: e["valueFrom"]["secretKeyRef"]["name"] for e in job["spec"]["trainer"]["env"]
               if "valueFrom" in e}
    task = placement.placement(cfg, graph.Task("collect"))
    assert secrets == {var: s for var, (s, _) in task.secret_env.items()}, "the same Secrets as the task pods"


def test_the_shipped_airflow_settings_let_every_published_config_run_its_shards_in_parallel():
    """Airflow's own caps (parallelism 32, 16 tasks per DAG by default) must not undercut max_parallel_shards."""
    from components.contract.config import load_config
    values = yaml.safe_load((ROOT / "infra" / "install" / "airflow-values.yaml").read_text())["config"]["core"]
    for size in ("1.3b", "3.8b", "5.8b", "12.8b"):
        shards = load_config(f"configs/polyglot-ko-{size}.yaml").cluster.max_parallel_shards
        assert values["parallelism"] >= shards + 1 and values["max_active_tasks_per_dag"] >= shards + 1, size


# ---------------------------------------------------------------------------------------------- infra


@pytest.fixture(scope="module", params=["dev", "prod"])
def overlay(request, tmp_path_factory):
    proc = subprocess.run([tool("kubectl"), "kustomize", str(ROOT / "infra" / "overlays" / request.param)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr
    path = tmp_path_factory.mktemp("kustomize") / f"{request.param}.yaml"
    path.write_text(proc.stdout)
    return request.param, path, [d for d in yaml.safe_load_all(proc.stdout) if d]


def test_overlays_build_and_pass_strict_schema_validation(overlay):
    name, path, docs = overlay
    proc = subprocess.run([tool("kubernetes-validate"), "--strict", "-k", K8S_VERSION, str(path)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    kinds = {(d["kind"], d["metadata"]["name"]) for d in docs}
    assert ("Secret", ) not in {(k,) for k, _ in kinds}, "no Secret is committed: they are referenced"
    ns = next(d for d in docs if d["kind"] == "Namespace")
    assert ns["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
    assert all(d["metadata"].get("namespace") == "polyglot-ko" for d in docs if d["kind"] != "Namespace")
    assert ("Deployment", "mlflow") in kinds and ("StatefulSet", "postgres") in kinds
    assert ("NetworkPolicy", "default-deny") in kinds
    assert (("Deployment", "seaweedfs") in kinds) == (name == "dev")
    for d in docs:
        if d["kind"] in ("Deployment", "StatefulSet"):
            pod = d["spec"]["template"]["spec"]
            assert pod["securityContext"]["runAsNonRoot"] is True
            for c in pod["containers"]:
                assert c["resources"]["limits"] and c["securityContext"]["allowPrivilegeEscalation"] is False
                assert c["securityContext"]["capabilities"]["drop"] == ["ALL"]
    mlflow = next(d for d in docs if d["kind"] == "Deployment" and d["metadata"]["name"] == "mlflow")
    args = mlflow["spec"]["template"]["spec"]["containers"][0]["args"]
    assert "--app-name=basic-auth" in args and "--backend-store-uri=$(MLFLOW_BACKEND_STORE_URI)" in args
    pvc = next(d for d in docs if d["kind"] == "PersistentVolumeClaim" and d["metadata"]["name"] ==
               "polyglot-ko-checkpoints")
    assert pvc["spec"]["accessModes"] == (["ReadWriteMany"] if name == "prod" else ["ReadWriteOnce"])


def test_pipeline_pods_may_manage_training_jobs_and_nothing_more(overlay):
    _, _, docs = overlay
    role = next(d for d in docs if d["kind"] == "Role" and d["metadata"]["name"] == "polyglot-ko-pipeline")
    rules = {(g, r): set(rule["verbs"]) for rule in role["rules"] for g in rule["apiGroups"] for r in rule["resources"]}
    assert rules == {("trainer.kubeflow.org", "trainjobs"): {"create", "get", "list", "watch", "delete"},
                     ("kubeflow.org", "pytorchjobs"): {"create", "get", "list", "watch", "delete"},
                     ("", "pods"): {"get", "list", "watch"}, ("", "pods/log"): {"get", "list", "watch"}}
    sa = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ServiceAccount"}
    assert sa["polyglot-ko-trainer"]["automountServiceAccountToken"] is False


def test_policy_scanner_reports_no_failed_checks_on_infra_and_images():
    for framework, folder in (("kustomize", "infra"), ("dockerfile", "images")):
        proc = subprocess.run([tool("checkov"), "-d", str(ROOT / folder), "--framework", framework, "--compact",
                               "--quiet", "--skip-download", "-o", "json"], capture_output=True, text=True,
                              env={**os.environ, "PATH": f"{TOOLS}{os.pathsep}{os.environ['PATH']}"})
        report = json.loads(proc.stdout)
        reports = report if isinstance(report, list) else [report]
        summary = [r["summary"] for r in reports if "summary" in r]
        assert summary and sum(s["passed"] for s in summary) > 50, (framework, proc.stdout[-2000:])
        failed = [(c["check_id"], c["resource"]) for r in reports for c in r.get("results", {}).get("failed_checks", [])]
        assert failed == [], (framework, failed)
        for r in reports:           # every exception is justified where it is made
            for c in r.get("results", {}).get("skipped_checks", []):
                assert c.get("suppress_comment") and len(c["suppress_comment"]) > 20, c


def test_dockerfiles_pass_hadolint_and_run_non_root_with_the_cli_as_entry_point():
    proc = subprocess.run([tool("hadolint"), "--failure-threshold", "warning", str(ROOT / "images" / "cpu.Dockerfile"),
                           str(ROOT / "images" / "cuda.Dockerfile")], capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    for name in ("cpu", "cuda"):
        text = (ROOT / "images" / f"{name}.Dockerfile").read_text()
        assert text.count("FROM ") == 2, "multi-stage"
        assert "USER 10001" in text and 'ENTRYPOINT ["polyglot-ko"]' in text
        assert ":latest" not in text


def test_cpu_image_runs_the_cli_as_its_non_root_user_on_a_read_only_root():
    """The image `make images` built (part of `make test`): its entry point, user and read-only root."""
    from tests.support.containers import IMAGE, Podman, engine_available

    why = engine_available()
    if why:
        pytest.skip(why)
    podman = Podman()
    run = podman("run", "--rm", "--network", "none", "--read-only", IMAGE, "presets")
    assert "1,331,810,304" in run.stdout, run.stderr
    user = podman("run", "--rm", "--network", "none", "--entrypoint", "id", IMAGE, "-u").stdout.strip()
    assert user == "10001"
    # the stages' code in the image is this checkout's: the same code version, so the same content addresses
    code = "from components.contract.address import code_version; print(code_version('components.stages.curate'))"
    inside = podman("run", "--rm", "--network", "none", "--entrypoint", "python", IMAGE, "-c", code).stdout.strip()
    here = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT).stdout.strip()
    assert inside == here, "the image was built from other code: `make images`"


def test_graph_adapters_take_their_pod_settings_from_one_place():
    """Neither orchestrator adapter names an image, a secret or a GPU setting itself."""
    for adapter in ("kfp_pipeline.py", "polyglot_ko_cluster_dag.py"):
        text = (ROOT / "dags" / adapter).read_text()
        for literal in ("ghcr.io", "nvidia.com/gpu", "polyglot-ko-s3", "polyglot-ko-mlflow"):
            assert literal not in text, (adapter, literal)
    assert sys.modules.get("airflow") is None, "the project environment never imports Airflow"


# ------------------------------------------------------------------------- submit


@pytest.mark.slow
def test_submit_uploads_the_config_and_starts_a_run_with_the_compiled_pipeline(tmp_path, s3, capsys):
    from components.contract.config import load_config
    from tests.support.kfp_api import FakeKfp

    data = yaml.safe_load((ROOT / "configs" / "polyglot-ko-1.3b.yaml").read_text())
    data.update(artifact_root="s3://artifacts/submit", s3_endpoint_url=s3.endpoint)
    config = tmp_path / "run.yaml"
    config.write_text(yaml.safe_dump(data))
    with FakeKfp() as kfp_server:
        assert main(["submit", str(config), "--kfp-host", kfp_server.host, "--out", str(tmp_path / "build")]) == 0
        (run,) = kfp_server.runs
    config_uri = run["runtime_config"]["parameters"]["config_uri"]
    assert config_uri.startswith("s3://artifacts/submit/configs/")
    assert load_config(config_uri).pretrain.preset == "polyglot-ko-1.3b", "the pods read the uploaded config"
    assert run["service_account"] == "polyglot-ko-pipeline" and run["experiment_id"] == "exp-1"
    spec = run["pipeline_spec"]["pipeline_spec"]      # with the kfp-kubernetes settings beside it
    assert spec["pipelineInfo"]["name"] == "polyglot-ko" and "for-loop-2" in spec["root"]["dag"]["tasks"]
    executors = run["pipeline_spec"]["platform_spec"]["platforms"]["kubernetes"]["deploymentSpec"]["executors"]
    assert all(e["podMetadata"]["labels"]["polyglot-ko.org/role"] == "pipeline" for e in executors.values())
    assert f"submitted run run-1 (config {config_uri})" in capsys.readouterr().out
    data["artifact_root"] = str(tmp_path / "local")
    config.write_text(yaml.safe_dump(data))
    assert main(["submit", str(config), "--kfp-host", "http://127.0.0.1:9"]) == 2
    assert "artifact_root on s3://" in capsys.readouterr().err
