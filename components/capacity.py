"""`polyglot-ko plan`: what one run of a config will take at a corpus size, read before any money is spent.

For every stage and step: tasks, CPU and memory requested (the placement's), each task's estimated peak memory
and local disk, object-storage requests, core-hours, and wall time at the configured parallelism; then the cost
at the given prices.

Where the numbers come from:
- corpus steps: `benchmarks/results/curation_scale.json` (written by benchmarks/curation_scale.py, with the machine
  it ran on). Core-seconds per unit of work (text byte for collect, document for curate's steps, duplicate for
  the cluster step) from the largest scaling run; each task's memory and disk as a line through two measured
  shares, one task over 48,000 and over 192,000 documents (the cluster step: its probes at 1 M and 4 M
  duplicates), so a task 5x larger is extrapolated, and marked when it passes its pod's memory.
- object-storage requests: counted from the files each task reads and writes (the collect test measured them
  against an S3 server: sizes come from one listing, no HEAD per file).
- not measured here (marked "assumed"): the corpus's share of bad and duplicate documents, documents per source
  file, pod start time, and everything on GPUs (training and evaluation from FLOPs at an assumed utilisation).
- train-tokenizer and tokenize: `benchmarks/results/tokenization_scale.json` (benchmarks/tokenization_scale.py),
  one tokenize task over the 1x and the 16x corpus: seconds per token, and its memory as a line through the two.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

from .cluster.placement import placement
from .contract import graph
from .errors import UserError

ROOT = Path(__file__).resolve().parents[1]
MEASURED = ROOT / "benchmarks" / "results" / "curation_scale.json"
TOKENIZATION = ROOT / "benchmarks" / "results" / "tokenization_scale.json"
GiB = 1 << 30
MULTIPART = 8 << 20          # boto3's multipart chunk: a file above it costs create + parts + complete
RANGED_READ = 64 << 20       # a Parquet read in place: footer, then column chunks in reads of up to this


_NUMBER = r"\s*([0-9]+(?:\.[0-9]+)?(?:e[0-9]+)?)\s*"


def parse_bytes(text: str, flag: str = "--corpus-bytes") -> int:
    """'1.2T', '863G', '500GiB', '1e12' -> bytes (K/M/G/T/P decimal, KiB... binary); more than zero."""
    m = re.fullmatch(_NUMBER + r"([KMGTP]?)(i?)B?\s*", str(text), re.IGNORECASE)
    value = int(float(m.group(1)) * (1024 if m.group(3) else 1000) ** "_KMGTP".index(m.group(2).upper() or "_")) \
        if m else 0
    if value <= 0:
        raise UserError(f"{flag}: cannot read {text!r} as a size above zero (e.g. 1.2T, 863G, 500GiB)")
    return value


def parse_count(text: str, flag: str = "--documents") -> int:
    """'500M', '2.5e8' -> 500000000; more than zero."""
    m = re.fullmatch(_NUMBER + r"([KMGB]?)\s*", str(text), re.IGNORECASE)
    value = int(float(m.group(1)) * 1000 ** "_KMB".index(m.group(2).upper() or "_")) if m else 0
    if value <= 0:
        raise UserError(f"{flag}: cannot read {text!r} as a count above zero (e.g. 500M)")
    return value


def _memory_bytes(quantity: str) -> int:
    m = re.fullmatch(r"([0-9.]+)(Ki|Mi|Gi|Ti)?", quantity)
    return int(float(m.group(1)) * 1024 ** (["", "Ki", "Mi", "Gi", "Ti"].index(m.group(2) or "")))


@dataclass
class Assumptions:
    """What the measurements cannot say about a corpus not yet seen, stated so it can be changed."""
    dropped_share: float = 0.20      # cleaning and quality filters (Polyglot-Ko: 1.2 TB -> 863 GB, dedup included)
    duplicate_share: float = 0.10    # exact + near duplicates among the cleaned documents
    file_bytes: int = 256 << 20      # size of one source file as stored
    stored_bytes: int | None = None  # the sources as stored (compressed); None: compressed as the benchmark's
    pod_start_s: float = 60.0        # scheduling + image start per wave of tasks (images cached on the nodes)
    gpu: str = "H100"
    mfu: float = 0.40                # model FLOPs utilisation of the training run
    kobest_tokens_per_example: int = 120

    def __post_init__(self):
        for name in ("dropped_share", "duplicate_share"):
            if not 0 <= getattr(self, name) < 1:
                raise UserError(f"--{name.replace('_', '-')}: a share from 0 up to (not including) 1")
        if not 0 < self.mfu <= 1:
            raise UserError("--mfu: a utilisation above 0, at most 1")
        if self.pod_start_s < 0:
            raise UserError("--pod-start-s: seconds, not negative")


@dataclass
class Prices:
    core_hour: float = 0.04          # USD per requested core-hour
    gpu_hour: float = 2.50           # USD per GPU-hour
    put_per_1k: float = 0.005        # object-storage requests per 1,000, at the PUT/LIST price (GETs cost less)


@dataclass
class Row:
    stage: str
    step: str
    tasks: int
    cpu: str
    memory: str
    task_memory: float | None = None    # bytes, estimated peak of one task (the largest)
    task_disk: float | None = None      # bytes of local scratch per task
    requests: int = 0                   # object-storage requests, all tasks
    core_hours: float = 0.0             # requested cores x pod time
    gpu_hours: float = 0.0
    wall_s: float = 0.0                 # at the configured parallelism
    notes: list[str] = field(default_factory=list)

    @property
    def fits(self) -> bool:
        return self.task_memory is None or self.task_memory <= _memory_bytes(self.memory)


def _line(x: float, a: tuple[float, float], b: tuple[float, float]) -> float:
    """The value at x of the line through two measured (share, value) points, never below the smaller value."""
    (x0, y0), (x1, y1) = sorted([a, b])
    slope = max(0.0, (y1 - y0) / (x1 - x0)) if x1 != x0 else 0.0
    return max(min(y0, y1), y0 + slope * (x - x0))


class Measured:
    """The benchmark's figures, per step: core-seconds per unit, and (share, peak MB) / (share, written bytes)."""

    def __init__(self, path: Path):
        if not path.exists():
            raise UserError(f"plan: no measurements at {path} (run `python benchmarks/curation_scale.py`)")
        self.doc = json.loads(path.read_text())
        scales = self.doc["scales"]
        self.small = scales[max(scales, key=int)]      # many small tasks: the throughputs
        self.big = self.doc["one_task"]                 # one task over 4x, then 16x the 1x corpus: growth
        if "one_task_large" not in self.doc:
            raise UserError(f"plan: {path} lacks the large one-task run (rerun benchmarks/curation_scale.py)")
        self.large = self.doc["one_task_large"]
        self.machine = self.doc["machine"]

    @staticmethod
    def units(run: dict) -> dict[str, float]:
        """Work per step in one benchmark run: text bytes collected, documents in, cleaned, duplicates."""
        planted = run["planted"]
        cur = run["stages"]["curate"]
        dups = sum(cur["dropped"].get(k, 0) for k in ("duplicate", "near_duplicate"))
        cleaned = cur["records_in"] - sum(cur["dropped"].values()) + dups - sum(cur.get("quarantined", {}).values())
        return {"collect/shard": planted["text_bytes"], "curate/shard": cur["records_in"], "curate/bucket": cleaned,
                "curate/cluster": dups, "curate/filter": cleaned}

    def step(self, stage: str, step: str) -> dict:
        key = f"{stage}/{step}"
        small = self.small["stages"][stage]["steps"][step]
        big, large = (r["stages"][stage]["steps"][step] for r in (self.big, self.large))
        us, ub, ul = (self.units(r)[key] for r in (self.small, self.big, self.large))
        # memory and disk: the line through the two one-task runs, both past every fixed-size buffer (the scaling
        # runs' small tasks are not: a row group there is the whole shard)
        return {"seconds_per_unit": small["task_seconds_sum"] / max(us, 1),
                "memory": ((ub, big["peak_rss_mb_max"] * 2**20), (ul, large["peak_rss_mb_max"] * 2**20)),
                "disk": ((ub, big["written_bytes_max"]), (ul, large["written_bytes_max"])),
                "bytes_per_unit": small["written_bytes"] / max(us, 1)}

    def reduce(self, stage: str) -> dict:
        return self.small["stages"][stage]["steps"]["reduce"]

    @property
    def stored_per_text_byte(self) -> float:
        p = self.small["planted"]
        return p["bytes"] / p["text_bytes"]

    @property
    def text_bytes_per_doc(self) -> float:
        p = self.small["planted"]
        return p["text_bytes"] / p["docs"]

    def cluster(self) -> dict:
        probes = self.doc.get("cluster") or []
        if len(probes) < 2:
            raise UserError(f"plan: {MEASURED.name} has no cluster probes (rerun benchmarks/curation_scale.py)")
        a, b = probes[0], probes[-1]
        return {"seconds_per_unit": b["seconds"] / b["duplicates"],
                "memory": ((a["duplicates"], a["peak_rss_mb"] * 2**20), (b["duplicates"], b["peak_rss_mb"] * 2**20))}


def _tokenization(path: Path) -> dict:
    """train-tokenizer's seconds and tokenize's seconds per token and memory line, from one task at two scales."""
    if not path.exists():
        raise UserError(f"plan: no tokenizer figures at {path} (run `python benchmarks/tokenization_scale.py`)")
    doc = json.loads(path.read_text())
    scales = [doc["scales"][k] for k in sorted(doc["scales"], key=int)]
    if len(scales) < 2 or "steps" not in scales[-1].get("tokenize", {}):
        raise UserError(f"plan: {path} lacks the one-task tokenize runs (rerun benchmarks/tokenization_scale.py)")
    lo, hi = ((s["tokenize"]["tokens"], s["tokenize"]["steps"]["shard"]) for s in (scales[0], scales[-1]))
    return {"train-tokenizer": scales[-1]["train-tokenizer"],
            "tokens_per_char": scales[-1]["tokenize"]["tokens_per_char"],
            "seconds_per_token": hi[1]["task_seconds_max"] / hi[0],
            "memory": ((lo[0], lo[1]["peak_rss_mb_max"] * 2**20), (hi[0], hi[1]["peak_rss_mb_max"] * 2**20))}


def _grown(step: dict, share: float) -> dict:
    """A task's peak memory and disk at `share`, along its step's measured lines."""
    return {"task_memory": _line(share, *step["memory"]), "task_disk": _line(share, *step["disk"])}


def _put_requests(total_bytes: float, files: float) -> float:
    each = total_bytes / max(files, 1)
    return files * (1 if each <= MULTIPART else math.ceil(each / MULTIPART) + 2)


def _parquet_reads(total_bytes: float, files: float) -> float:
    return files * (2 + math.ceil(total_bytes / max(files, 1) / RANGED_READ))   # HEAD, footer, column chunks


def plan(cfg, corpus_bytes: int, documents: int | None = None, *, assume: Assumptions | None = None,
         measured: Path = MEASURED, tokenization: Path = TOKENIZATION) -> tuple[list[Row], dict]:
    """The rows of the plan, and the figures it was computed from."""
    assume = assume or Assumptions()
    m = Measured(measured)
    docs = documents or int(corpus_bytes / m.text_bytes_per_doc)
    cleaned = docs * (1 - assume.dropped_share)
    dups = cleaned * assume.duplicate_share
    kept = cleaned - dups
    parallel = cfg.cluster.max_parallel_shards
    placements = {t.name: placement(cfg, t) for t in graph.tasks()}
    rows: list[Row] = []

    def row(node, step, tasks: int, task_s: float, **kw) -> Row:
        name = graph.task_name(node.name, step.name if step else "")
        p = placements[name]
        waves = math.ceil(tasks / min(tasks, parallel)) if step and step.fans_out else tasks
        r = Row(node.name, step.name if step else ("reduce" if node.sharded else "run"), tasks, p.cpu, p.memory,
                core_hours=tasks * float(p.cpu) * (task_s + assume.pod_start_s) / 3600,
                wall_s=waves * (task_s + assume.pod_start_s), **kw)
        rows.append(r)
        return r

    # --corpus-bytes is text; listings and reads see the stored (compressed) files
    stored = assume.stored_bytes or corpus_bytes * m.stored_per_text_byte
    files_in = max(1, stored / assume.file_bytes)
    collect, curate = graph.stage("collect"), graph.stage("curate")
    cw, uw, buckets = cfg.collect.world_size, cfg.curate.world_size, cfg.curate.dedup_buckets
    raw_files = max(cw, math.ceil(docs / cfg.collect.records_per_file))

    # collect: each shard reads its files (sizes from one listing) and writes Parquet
    s = m.step("collect", "shard")
    share = corpus_bytes / cw
    raw_bytes = s["bytes_per_unit"] * corpus_bytes
    row(collect, collect.steps[0], cw, s["seconds_per_unit"] * share,
        **_grown(s, share),
        requests=int(files_in + _put_requests(raw_bytes, raw_files) + 3 * cw))
    red = m.reduce("collect")
    row(collect, None, 1, red["seconds"] * cw / m.small["stages"]["collect"]["steps"]["shard"]["tasks"],
        task_memory=red["peak_rss_mb"] * 2**20, requests=2 * cw + 2,
        notes=[f"begin lists the sources once: ~{math.ceil(files_in / 1000):,} LIST requests"])

    # curate
    s = m.step("curate", "shard")
    share = docs / uw
    clean_bytes = s["bytes_per_unit"] * docs
    row(curate, curate.steps[0], uw, s["seconds_per_unit"] * share,
        **_grown(s, share),
        requests=int(_parquet_reads(raw_bytes, raw_files) + _put_requests(clean_bytes, raw_files)
                     + uw * (2 * buckets + 3)))
    s = m.step("curate", "bucket")
    share = cleaned / buckets
    row(curate, curate.steps[1], buckets, s["seconds_per_unit"] * share,
        **_grown(s, share),
        requests=buckets * (2 * uw + 5),
        notes=[f"{2 * uw * buckets:,} signature files read: each bucket task reads 2 per shard (a GET each)"])
    c = m.cluster()
    row(curate, curate.steps[2], 1, c["seconds_per_unit"] * dups, task_memory=_line(dups, *c["memory"]),
        # what it writes, by format: 5 bytes per removed row, at most 8 per keeper, a 128-byte header per list
        task_disk=dups * 13 + 2 * uw * 128, requests=2 * buckets * 2 + 2 * uw + 3,
        notes=[f"{dups:,.0f} duplicates (assumed share {assume.duplicate_share:.0%} of cleaned documents)"])
    s = m.step("curate", "filter")
    share = cleaned / uw
    out_bytes = s["bytes_per_unit"] * cleaned
    out_files = max(uw, math.ceil(kept / cfg.curate.records_per_file))
    row(curate, curate.steps[3], uw, s["seconds_per_unit"] * share,
        **_grown(s, share),
        requests=int(_parquet_reads(clean_bytes, raw_files) + _put_requests(out_bytes, out_files) + uw * 5))
    red = m.reduce("curate")
    # the steps' files are deleted once the artifact is published, 1,000 keys a request
    step_files = uw * (2 * buckets + raw_files / uw + 1) + buckets * 3 + 2 * uw + 1 + uw
    row(curate, None, 1, red["seconds"] * uw / m.small["stages"]["curate"]["steps"]["shard"]["tasks"],
        task_memory=red["peak_rss_mb"] * 2**20, requests=int(4 * uw + 8 + 2 * step_files / 1000),   # a LIST page and a DeleteObjects per 1,000
        notes=[f"lists and deletes the steps' {step_files:,.0f} intermediate files"])

    # the tokenizer stages, from benchmarks/tokenization_scale.py: its one-task runs at 1x and 16x
    tok = _tokenization(tokenization)
    chars_per_doc = m.small["planted"]["chars"] / m.small["planted"]["docs"]
    t = tok["train-tokenizer"]
    sample = cfg.train_tokenizer.sample_chars
    # it opens every data file's footer and reads only the row groups of its sample (16 M characters each)
    row(graph.stage("train-tokenizer"), None, 1, t["seconds"] / t["sample_chars"] * sample,
        requests=int(2 * out_files + 2 * math.ceil(sample / 16e6) + 2),
        notes=[f"measured on a {t['sample_chars']:,}-character sample, extrapolated linearly to {sample:,} "
               "(BPE training grows faster than that)"])
    node, tw = graph.stage("tokenize"), cfg.tokenize.world_size
    tokens = kept * chars_per_doc * tok["tokens_per_char"]
    per_task = tokens / tw
    per_file = tokens / out_files
    # a task tokenizes one curated file at a time into its staging directory (2 bytes a token, 16 per document
    # in the index and its side file), publishes that segment and goes on
    row(node, node.steps[0], tw, tok["seconds_per_token"] * per_task,
        task_memory=_line(per_task, *tok["memory"]),
        task_disk=per_file * 2 + kept / out_files * 16,
        requests=int(_parquet_reads(out_bytes, out_files) + out_files * (2 + _put_requests(per_file * 2, 1) + 3)
                     + 3 * tw),
        notes=[f"{tokens / 1e9:,.0f} B tokens ({tok['tokens_per_char']} per character), {out_files:,} segments "
               f"(one per curated file), {per_task / 1e9:,.1f} B per task"])
    row(node, None, 1, 0.0, requests=2 * tw + 4,
        notes=[f"reads the {tw:,} parts, writes segments.json ({out_files * 400 / 1e6:,.1f} MB) and the manifest"])
    gpus = gpu_rows(cfg, assume, rows, placements)
    row(graph.stage("register"), None, 1, 0.0, requests=4, notes=["gate and MLflow registration: seconds"])
    figures = {"documents": docs, "documents_given": documents is not None, "cleaned": cleaned,
               "duplicates": dups, "kept": kept, "text_bytes_per_doc": m.text_bytes_per_doc,
               "machine": m.machine, "measured": str(measured), "tokenization": str(tokenization),
               "parallel": parallel, **gpus}
    return rows, figures


def gpu_rows(cfg, assume: Assumptions, rows: list[Row], placements: dict) -> dict:
    """pretrain and evaluate from FLOPs at an assumed utilisation (no GPU measurement is kept here)."""
    from training.metrics import PEAK_TFLOPS, flops_per_token
    from training.presets import get

    if assume.gpu not in PEAK_TFLOPS:
        raise UserError(f"--gpu: unknown accelerator {assume.gpu!r} (one of {', '.join(PEAK_TFLOPS)})")
    t = cfg.pretrain
    preset = get(t.preset)
    params = preset.param_count()
    peak = PEAK_TFLOPS[assume.gpu] * 1e12
    gpus = t.nodes * t.nproc
    train_s = flops_per_token(params, preset.layers, preset.hidden, t.seq_length) * t.train_tokens / \
        (gpus * peak * assume.mfu)
    p = placements[graph.task_name("pretrain")]
    rows.append(Row("pretrain", "run", 1, p.cpu, p.memory, gpu_hours=gpus * train_s / 3600, wall_s=train_s,
                    core_hours=float(p.cpu) * train_s / 3600,
                    notes=[f"assumed: {gpus} {assume.gpu} at {assume.mfu:.0%} MFU, {t.train_tokens:,} tokens"]))
    kobest_test = 1404 + 1000 + 500 + 397 + 1260          # POLYGLOT-KO.md: the five tasks' test rows
    shots = cfg.evaluate.shots
    tokens = kobest_test * sum(k + 1 for k in shots) * assume.kobest_tokens_per_example * 4   # <= 4 choices
    eval_s = 2 * params * tokens / (peak * assume.mfu / 2)
    p = placements[graph.task_name("evaluate")]
    rows.append(Row("evaluate", "run", 1, p.cpu, p.memory, gpu_hours=p.gpus * eval_s / 3600, wall_s=eval_s,
                    core_hours=float(p.cpu) * eval_s / 3600,
                    notes=[f"assumed: {tokens / 1e6:,.0f} M tokens forward, half the training utilisation"]))
    return {"params": params, "gpus": gpus, "gpu": assume.gpu, "mfu": assume.mfu}


def cost(rows: list[Row], prices: Prices) -> dict:
    core = sum(r.core_hours for r in rows)
    gpu = sum(r.gpu_hours for r in rows)
    requests = sum(r.requests for r in rows)
    return {"core_hours": core, "gpu_hours": gpu, "requests": requests,
            "usd": core * prices.core_hour + gpu * prices.gpu_hour + requests / 1000 * prices.put_per_1k}



def _size(n: float | None) -> str:
    if n is None:
        return "-"
    for unit, div in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6)):
        if n >= div:
            return f"{n / div:,.1f} {unit}"
    return f"{n / 1e3:,.0f} kB"


def _duration(s: float) -> str:
    if not s:
        return "-"
    if s < 3600:
        return f"{s / 60:,.1f} min"
    if s < 3 * 86400:
        return f"{s / 3600:,.1f} h"
    return f"{s / 86400:,.1f} d"


def render(cfg, corpus_bytes: int, rows: list[Row], figures: dict, prices: Prices, assume: Assumptions) -> str:
    mach = figures["machine"]
    lines = [f"plan for {cfg.experiment}: {_size(corpus_bytes)} of text, {figures['documents']:,} documents"
             + ("" if figures["documents_given"] else f" ({figures['text_bytes_per_doc']:,.0f} bytes each, as "
                                                      "measured)")
             + f"; {figures['kept']:,.0f} kept after cleaning and dedup (assumed: {assume.dropped_share:.0%} "
               f"dropped, {assume.duplicate_share:.0%} duplicates)",
             f"corpus steps from {Path(figures['measured']).name} (measured {mach['date']}, {mach['cpus']} cores, "
             f"{mach['platform']}), the tokenizer stages from {Path(figures['tokenization']).name}; up to {figures['parallel']} tasks at once (cluster.max_parallel_shards); "
             f"{assume.pod_start_s:.0f} s pod start per wave (assumed)",
             "",
             f"{'stage':<16}{'step':<9}{'tasks':>6}{'cpu':>5}{'memory':>8}{'peak/task':>12}{'disk/task':>12}"
             f"{'requests':>12}{'core-h':>10}{'GPU-h':>9}{'wall':>10}"]
    for r in rows:
        flag = "" if r.fits else "  << PEAK ABOVE ITS POD'S MEMORY"
        lines.append(f"{r.stage:<16}{r.step:<9}{r.tasks:>6,}{r.cpu:>5}{r.memory:>8}{_size(r.task_memory):>12}"
                     f"{_size(r.task_disk):>12}{r.requests:>12,}{r.core_hours:>10,.1f}{r.gpu_hours:>9,.0f}"
                     f"{_duration(r.wall_s):>10}{flag}")
        for note in r.notes:
            lines.append(f"{'':<16}  {note}")
    c = cost(rows, prices)
    corpus = [r for r in rows if r.stage in ("collect", "curate")]
    tokens = [r for r in rows if r.stage in ("train-tokenizer", "tokenize")]
    lines += ["",
              f"collect + curate: {_duration(sum(r.wall_s for r in corpus))} wall, "
              f"{sum(r.core_hours for r in corpus):,.0f} core-hours; train-tokenizer + tokenize: "
              f"{_duration(sum(r.wall_s for r in tokens))} wall, {sum(r.core_hours for r in tokens):,.0f} core-hours",
              f"total: {c['core_hours']:,.0f} core-hours x ${prices.core_hour}/h + {c['gpu_hours']:,.0f} GPU-hours x "
              f"${prices.gpu_hour}/h + {c['requests']:,} requests x ${prices.put_per_1k}/1,000 (the PUT price: an "
              f"upper bound) = ${c['usd']:,.0f}",
              f"GPU figures are assumed ({figures['gpus']} {figures['gpu']}, {figures['mfu']:.0%} MFU, "
              f"{figures['params']:,} parameters): no GPU measurement is kept in benchmarks/results/."]
    return "\n".join(lines)
