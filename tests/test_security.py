"""Security checks: no secret in the repository; credentials never reach MLflow, artifacts or logs; planted PII is
masked before anything is tokenized, logged or written to a data card."""
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.stages import write_jsonl

ROOT = Path(__file__).resolve().parents[1]
TOOLS = ROOT / ".venv-tools" / "bin"
PII = {"tel": "010-2345-6789", "rrn": "880101-1234567", "acc": "123456-78-901234", "email": "minsu.kim@example.co.kr"}


def test_no_secret_is_committed():
    scanner = TOOLS / "detect-secrets"
    if not scanner.exists():
        pytest.skip(f"{scanner} missing: `make tools-env` (part of `make test`) installs it")
    files = subprocess.run(["git", "ls-files"], cwd=ROOT, capture_output=True, text=True, check=True).stdout.split()
    assert len(files) > 50
    # the scanner uses one core: the files in halves, scanned side by side
    halves = [files[i::2] for i in range(2)]
    procs = [subprocess.Popen([str(scanner), "scan", "--no-verify", *half], cwd=ROOT, stdout=subprocess.PIPE,
                              text=True) for half in halves]
    findings = {}
    for proc in procs:
        out, _ = proc.communicate(timeout=600)
        assert proc.returncode == 0, out[-2000:]
        findings.update(json.loads(out)["results"])
    assert findings == {}, "a secret-looking value is committed (mark a false positive with `# pragma: allowlist " \
                           f"secret` and the reason): {json.dumps(findings, indent=1)[:2000]}"


def test_configs_and_manifests_take_credentials_only_by_reference():
    for path in (ROOT / "configs").glob("*.yaml"):
        text = path.read_text().lower()
        for word in ("aws_secret_access_key", "password", "token:", "aws_access_key_id"):
            assert word not in text, (path.name, word)
    for path in (ROOT / "infra").rglob("*.yaml"):
        for doc in yaml.safe_load_all(path.read_text()):
            assert not doc or doc.get("kind") != "Secret", f"{path}: Secrets are created by the user, not committed"


def _all_text(root: Path, skip: tuple[str, ...]) -> dict[str, str]:
    """Every file under root as text (Parquet: its string columns), except paths containing a `skip` part."""
    import pyarrow.parquet as pq
    out = {}
    for p in root.rglob("*"):
        if not p.is_file() or any(part in skip for part in p.relative_to(root).parts):
            continue
        if p.suffix == ".parquet":
            table = pq.read_table(p)
            out[str(p)] = "\n".join(str(v) for c in table.column_names for v in table.column(c).to_pylist())
        else:
            out[str(p)] = p.read_bytes().decode("utf-8", errors="replace")
    return out


@pytest.mark.slow
def test_planted_pii_and_credentials_appear_nowhere_the_pipeline_writes(tmp_path, s3):
    """PII planted in a source: masked in the curated corpus, absent from the tokenizer, the tokenized data (decoded),
    the data card, MLflow (database and artifacts) and the logs. The S3 secret key in the environment: absent from
    all of it too."""
    from tests.support.services import SECRET_KEY
    from tokenizers import Tokenizer

    from components.tokenizer.indexed_dataset import IndexedDataset

    rows = [{"id": f"n{i}", "text": line} for i, line in enumerate(
        (ROOT / "tests" / "data" / "nsmc_small.jsonl").read_text().splitlines())]
    rows = [{"id": r["id"], "text": json.loads(r["text"])["review"]} for r in rows]
    planted = [{"id": f"pii{i}", "text": f"고객님 안내드립니다. {kind} 정보는 {value} 입니다. 확인 후 연락 주세요. "
                                          "영화는 정말 재미있었고 배우들의 연기가 훌륭했습니다."}
               for i, (kind, value) in enumerate(PII.items())]
    planted[0]["text"] = planted[0]["text"].replace("tel 정보는", "연락처는")
    planted[1]["text"] = planted[1]["text"].replace("rrn 정보는", "주민등록번호는")
    planted[2]["text"] = planted[2]["text"].replace("acc 정보는", "국민은행 계좌는")
    planted[3]["text"] = planted[3]["text"].replace("email 정보는", "이메일은")
    source = write_jsonl(tmp_path / "src" / "reviews.jsonl", rows + planted)
    config = yaml.safe_load((ROOT / "configs" / "tiny.yaml").read_text())
    config["collect"]["sources"] = [{"name": "reviews", "uri": str(source), "id_field": "id", "license": "CC0-1.0"}]
    config.update(experiment="security", artifact_root="s3://artifacts/security")
    cfg_path = tmp_path / "security.yaml"
    cfg_path.write_text(yaml.safe_dump(config, allow_unicode=True))
    work = tmp_path / "work"
    proc = subprocess.run([str(Path(sys.executable).parent / "polyglot-ko"), "run", str(cfg_path), "--workdir",
                           str(work), "--until", "tokenize"], cwd=ROOT, capture_output=True, text=True, timeout=900,
                          env={**os.environ})
    assert proc.returncode == 0, proc.stderr[-3000:]

    # everything the run wrote: artifacts (S3 mirrored into the stage caches), MLflow store and artifacts, logs
    from components.contract.storage import Storage
    storage = Storage()
    mirror = tmp_path / "artifacts"
    for name in storage.list_files("s3://artifacts/security"):
        if not name.startswith(("collect/", "runs/")):      # the raw corpus is the one place raw text lives
            storage.fetch(f"s3://artifacts/security/{name}", mirror / name)
    texts = _all_text(mirror, skip=())
    texts.update(_all_text(work, skip=("cache",)))
    texts["stdout"], texts["stderr"] = proc.stdout, proc.stderr
    tok_json = next(p for p in mirror.rglob("tokenizer.json"))
    tok = Tokenizer.from_file(str(tok_json))
    for split in ("train", "validation"):
        segments = sorted(mirror.rglob(f"{split}.bin"))
        assert segments
        texts[f"decoded {split}"] = "".join(tok.decode(IndexedDataset(p.with_suffix("")).tokens().tolist(),
                                                       skip_special_tokens=False) for p in segments)
    assert any("<|tel|>" in t for t in texts.values()) and any("<|rrn|>" in t for t in texts.values())
    for kind, value in PII.items():
        leaks = [name for name, text in texts.items() if value in text]
        assert leaks == [], f"{kind} {value!r} found in {leaks}"
    assert [name for name, text in texts.items() if SECRET_KEY in text] == [], "a credential was written"
    datacard = [t for n, t in texts.items() if n.endswith("data_card.md")]
    assert datacard and "pii" in datacard[0].lower()
