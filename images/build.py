"""`make images`: build the project's images with podman, here or on a workstation, without a registry.

1. Installs podman, runc, catatonit and mmdebstrap from Debian's packages when they are missing.
2. The base: the Dockerfiles' published base when it is in local storage or can be pulled; otherwise one built
   from Debian's packages (mmdebstrap bookworm with python3 and python3-venv, imported once and kept).
3. Builds polyglot-ko-cpu with host networking. pip inside the build uses this host's own package sources (its
   find-links, extra index URLs and CA bundle, as `pip config list` and PIP_* say), local paths mounted read-only,
   so a build behind a mirror or a TLS-intercepting proxy works as the host's pip does.
4. Builds the CUDA image only where its base is available (it needs a registry that serves nvidia/cuda).

Standard library only: it runs before any environment exists.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "images" / "containers.conf"
VERSION = "0.1.0"
CPU_TAG = f"localhost/polyglot-ko-cpu:{VERSION}"
CUDA_TAG = f"localhost/polyglot-ko-train-cuda:{VERSION}"
DEBIAN_BASE = "localhost/polyglot-ko-base:bookworm"
PACKAGES = {"podman": "podman", "runc": "runc", "catatonit": "catatonit", "mmdebstrap": "mmdebstrap"}
# Where Debian puts the binaries that are not on a user's PATH.
SBIN = ("/usr/sbin", "/usr/libexec/podman", "/usr/bin")


def log(msg: str) -> None:
    print(f"[images] {msg}", flush=True)


def engine_env() -> dict:
    return {**os.environ, "CONTAINERS_CONF": str(CONF)}


def podman(*args: str, check: bool = True, capture: bool = False, timeout: float | None = None):
    proc = subprocess.run(["podman", *args], env=engine_env(), text=True, timeout=timeout,
                          capture_output=capture)
    if check and proc.returncode != 0:
        detail = (proc.stderr or "")[-2000:] if capture else ""
        sys.exit(f"podman {' '.join(args[:2])} failed ({proc.returncode}) {detail}")
    return proc


def have(binary: str) -> bool:
    return shutil.which(binary) is not None or any(Path(d, binary).exists() for d in SBIN)


def install_engine() -> None:
    missing = [pkg for binary, pkg in PACKAGES.items() if not have(binary)]
    if not missing:
        return
    if not shutil.which("apt-get"):
        sys.exit(f"missing {', '.join(missing)} and no apt-get here: install them with your package manager")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    log(f"installing {' '.join(missing)} (Debian packages)")
    for cmd in (["apt-get", "update", "-qq"], ["apt-get", "install", "-y", "-qq", *missing]):
        if subprocess.run(sudo + cmd, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"}).returncode:
            sys.exit(f"{' '.join(cmd)} failed")


def published_base(dockerfile: Path) -> str:
    for line in dockerfile.read_text().splitlines():
        if line.startswith("ARG BASE="):
            return line.split("=", 1)[1].strip()
    sys.exit(f"{dockerfile}: no `ARG BASE=` line")


def available(image: str, pull: bool) -> bool:
    if podman("image", "exists", image, check=False).returncode == 0:
        return True
    if not pull:
        return False
    try:     # a host with no reachable registry fails this quickly or times out; either way: not available
        return podman("pull", "-q", image, check=False, capture=True, timeout=120).returncode == 0
    except subprocess.TimeoutExpired:
        return False


def debian_base(rebuild: bool) -> str:
    if not rebuild and available(DEBIAN_BASE, pull=False):
        return DEBIAN_BASE
    log("building the base from Debian's packages (mmdebstrap bookworm: python3, python3-venv)")
    with tempfile.TemporaryDirectory() as tmp:
        tar = Path(tmp) / "rootfs.tar"
        cmd = ["mmdebstrap", "--variant=minbase", "--include=python3,python3-venv,ca-certificates", "bookworm",
               str(tar)]
        if subprocess.run(cmd).returncode:
            sys.exit("mmdebstrap failed")
        # an imported tarball has no environment: give it the PATH and shell every image has
        podman("import", "--change", "ENV PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin",
               "--change", 'CMD ["/bin/bash"]', str(tar), DEBIAN_BASE, capture=True)
    return DEBIAN_BASE


def pip_sources() -> tuple[list[str], list[str]]:
    """(--build-arg values, -v mounts) that give pip inside the build this host's package sources."""
    settings: dict[str, str] = {}
    proc = subprocess.run([sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True)
    for line in proc.stdout.splitlines():
        key, _, value = line.partition("=")
        name = key.split(".", 1)[-1].replace("-", "_").upper()
        if name in ("FIND_LINKS", "EXTRA_INDEX_URL", "INDEX_URL", "CERT"):
            settings[name] = value.strip().strip("'\"")
    for name in ("FIND_LINKS", "EXTRA_INDEX_URL", "INDEX_URL", "CERT"):
        if os.environ.get(f"PIP_{name}"):
            settings[name] = os.environ[f"PIP_{name}"]
    args, mounts = [], {}
    for name, value in sorted(settings.items()):
        args += ["--build-arg", f"PIP_{name}={value}"]
        for item in value.split():
            path = item[len("file://"):] if item.startswith("file://") else item
            if path.startswith("/") and Path(path).exists():
                # a simple index's folder: mount its parent, where its files are linked from
                top = Path(path).parent if Path(path).name == "simple" else Path(path)
                mounts[str(top)] = ["-v", f"{top}:{top}:ro"]
    return args, [flag for spec in mounts.values() for flag in spec]


def build(dockerfile: Path, tag: str, base: str, extra_tags: list[str]) -> None:
    args, mounts = pip_sources()
    if base != published_base(dockerfile):
        args += ["--build-arg", f"BASE={base}"]
    log(f"building {tag} from {dockerfile.relative_to(ROOT)} on {base}")
    cmd = ["build", "--network", "host", "-f", str(dockerfile), *args, *mounts, "-t", tag]
    for extra in extra_tags:
        cmd += ["-t", extra]
    podman(*cmd, str(ROOT))


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--tag", action="append", default=[], help="more names for the CPU image (a registry's)")
    ap.add_argument("--rebuild-base", action="store_true", help="rebuild the Debian base even if it exists")
    ap.add_argument("--pull", action=argparse.BooleanOptionalAction, default=True,
                    help="try to pull the published bases (default: yes)")
    a = ap.parse_args(argv)
    install_engine()
    cpu = ROOT / "images" / "cpu.Dockerfile"
    base = published_base(cpu)
    if not available(base, a.pull):
        log(f"{base} cannot be pulled here")
        base = debian_base(a.rebuild_base)
    build(cpu, CPU_TAG, base, a.tag)
    cuda = ROOT / "images" / "cuda.Dockerfile"
    if available(published_base(cuda), a.pull):
        build(cuda, CUDA_TAG, published_base(cuda), [])
    else:
        log(f"{CUDA_TAG}: not built, its base {published_base(cuda)} is not available here (the Dockerfile is "
            "linted by the tests)")
    size = podman("image", "inspect", CPU_TAG, "--format", "{{.Size}}", capture=True).stdout.strip()
    log(f"{CPU_TAG}: {int(size) / 1e9:.2f} GB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
