"""What every benchmark script shares: machine and version facts, sample summaries,
and writing a result file with a printed table."""

from __future__ import annotations

import json
import os
import platform
import statistics
import subprocess
import sys
from contextlib import contextmanager
from pathlib import Path


def write_result(out: Path, result: dict, kinds: tuple[str, ...], targets: dict | None = None) -> None:
    """Write the JSON result and print its table (median/min/max/samples per kind); shared by benchmarks."""
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    width = max(len(kind) for kind in kinds) + 3
    print()
    target_head = f"{'target':>9}" if targets else ""
    print(f"{'':{width}}{'median':>9}{'min':>9}{'max':>9}{target_head}   samples (s)")
    for kind in kinds:
        r = result[kind]
        samples = " ".join(f"{s:.2f}" for s in r["samples"])
        target = f"{targets[kind + '_s']:>8.1f}s" if targets else ""
        print(f"{kind:{width}}{r['median']:>8.2f}s{r['min']:>8.2f}s{r['max']:>8.2f}s{target}   {samples}")
    print(f"\nwritten to {out}")


def summary(samples: list[float]) -> dict:
    return {
        "median": round(statistics.median(samples), 3),
        "min": round(min(samples), 3),
        "max": round(max(samples), 3),
        "samples": samples,
    }


def versions(user_env: Path) -> dict:
    import jupyterhub

    probe = (
        "import json, importlib.metadata as m\n"
        "print(json.dumps({p: m.version(p) for p in ('jupyterhub', 'jupyterlab', 'jupyter_server')}))"
    )
    try:
        user = json.loads(
            subprocess.run(
                [str(user_env / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True
            ).stdout
        )
    except (OSError, subprocess.CalledProcessError, json.JSONDecodeError) as error:
        user = {"error": str(error)}
    return {
        "jupyterhub": jupyterhub.__version__,
        "singleuser_jupyterhub": user.get("jupyterhub"),
        "jupyterlab": user.get("jupyterlab"),
        "jupyter_server": user.get("jupyter_server"),
    }


def machine() -> dict:
    return {
        "cores": os.cpu_count(),
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_implementation": platform.python_implementation(),
    }


@contextmanager
def started(hub):
    """A running hub for the benchmark's duration: stopped however it ends, and when
    a sample fails, the hub's log tail is shown, since that is usually where the reason is."""
    try:
        hub.start()
        yield hub
    except Exception:
        print(f"--- gemhub up log (tail) ---\n{hub.log_tail(60)}", file=sys.stderr)
        raise
    finally:
        hub.stop()
