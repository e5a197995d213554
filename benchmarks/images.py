"""Container images: sizes, cold build time, notebook-only rebuild, start to ready.

    .gemhub/envs/hub/bin/python benchmarks/images.py [--runs 5] [--images user,hub,proxy] [--no-cold] [--out PATH]

Needs a docker daemon (ci/docker.sh) and the base image (`gemhub images base`;
built here when missing). Measures:

size:       uncompressed (`docker image inspect` Size) and compressed
            (`docker save | gzip | wc -c`) for each image;
cold:       `gemhub images build NAME --no-cache` wall time, every layer rebuilt
            (packages downloaded again from PyPI / npm / the Debian mirror);
rebuild:    the user image after a notebook-only change, built from a scratch
            copy of its inputs with one notebook edited (a different edit per
            sample), on a warm layer cache: this is what editing a curated
            notebook costs;
ready:      `docker run -d` of the user image's own command
            (jupyterhub-singleuser, against a real JupyterHub API on loopback)
            until `<prefix>api` answers 200.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECKOUT = HERE.parent
sys.path.insert(0, str(HERE.parent / "tests"))

from common import machine, summary, write_result  # noqa: E402

from gemhub.images import BASE_REFERENCE, IMAGE_NAMES, docker  # noqa: E402
from gemhub.images.base import ensure_base  # noqa: E402
from gemhub.images.build import build_image  # noqa: E402
from gemhub.images.context import copy_inputs  # noqa: E402
from gemhub.images.servers import (  # noqa: E402
    Container,
    free_port,
    jupyterhub_api,
    singleuser_environment,
    wait_http,
)
from gemhub.images.specs import SPECS  # noqa: E402

DEFAULT_OUT = HERE / "results" / "images.json"
TARGETS = {"user_size_bytes": 2.0e9, "rebuild_s": 30.0, "ready_s": 4.0}


def sizes(reference: str) -> dict:
    uncompressed = docker.image_inspect(reference)["Size"]
    save = subprocess.Popen(["docker", "save", reference], stdout=subprocess.PIPE, env=docker.environment())
    gzip = subprocess.run(["gzip", "-c"], stdin=save.stdout, stdout=subprocess.PIPE, check=True)
    save.stdout.close()
    if save.wait() != 0:
        raise RuntimeError(f"docker save {reference} failed")
    return {"uncompressed_bytes": uncompressed, "compressed_bytes": len(gzip.stdout)}


def cold_build(name: str) -> float:
    started = time.monotonic()
    build_image(name, BASE_REFERENCE, no_cache=True)
    return round(time.monotonic() - started, 2)


def notebook_rebuilds(runs: int) -> list[float]:
    samples = []
    with tempfile.TemporaryDirectory(prefix="gemhub-bench-images-") as scratch:
        checkout = Path(scratch) / "checkout"
        copy_inputs(SPECS["user"], checkout)
        notebook = checkout / "notebooks" / "water-monitor.ipynb"
        original = json.loads(notebook.read_text())
        for run in range(runs):
            edited = json.loads(json.dumps(original))
            edited["cells"][0]["source"] = [f"# benchmark edit {run} {time.time()}\n", *edited["cells"][0]["source"]]
            notebook.write_text(json.dumps(edited, indent=1))
            result = build_image("user", BASE_REFERENCE, checkout=checkout, work_dir=Path(scratch) / "work",
                                 tag_latest=False)
            samples.append(round(result.seconds, 2))
            docker.run(["rmi", result.reference], check=False)
    return samples


def start_to_ready(reference: str, runs: int) -> list[float]:
    samples = []
    with jupyterhub_api() as hub_api:
        for _ in range(runs):
            port = free_port()
            env = singleuser_environment(port, hub_api)
            url = f"http://127.0.0.1:{port}{env['JUPYTERHUB_SERVICE_PREFIX']}api"
            started = time.monotonic()
            with Container(reference, env=env, name_hint="bench") as container:
                answer = wait_http(url, 120, container=container, interval=0.05)
                samples.append(round(time.monotonic() - started, 3))
                if answer.status_code != 200:
                    raise RuntimeError(f"{url} answered {answer.status_code}: {container.logs()}")
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5)
    parser.add_argument("--images", default=",".join(IMAGE_NAMES))
    parser.add_argument("--no-cold", action="store_true", help="skip the --no-cache builds")
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    names = [name for name in args.images.split(",") if name]
    docker.require_daemon()
    ensure_base(BASE_REFERENCE)

    cold = {} if args.no_cold else {name: cold_build(name) for name in names}
    references = {name: build_image(name, BASE_REFERENCE).reference for name in names}
    result = {
        "benchmark": "container images: size, cold build, notebook-only rebuild, start to ready",
        "date": dt.datetime.now(dt.UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "base": BASE_REFERENCE,
        "images": {name: {"reference": ref, **sizes(ref)} for name, ref in references.items()},
        "cold_build_s": cold,
        "targets": TARGETS,
    }
    kinds = []
    if "user" in names:
        result["rebuild"] = summary(notebook_rebuilds(args.runs))
        result["ready"] = summary(start_to_ready(references["user"], args.runs))
        kinds = ["rebuild", "ready"]
    for name, facts in result["images"].items():
        print(f"{name}: {facts['uncompressed_bytes'] / 1e9:.2f} GB uncompressed, "
              f"{facts['compressed_bytes'] / 1e9:.2f} GB gzip'd; cold build {cold.get(name, '-')} s")
    write_result(args.out, result, tuple(kinds),
                 {"rebuild_s": TARGETS["rebuild_s"], "ready_s": TARGETS["ready_s"]} if kinds else None)
    return 0


if __name__ == "__main__":
    sys.exit(main())
