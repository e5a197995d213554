"""Latency benchmark for the Sentinel Hub sandbox (run with the user env's python).

Starts the sandbox as a subprocess on 127.0.0.1, then times unchanged sentinelhub-py /
eo-learn calls against it. Writes benchmarks/results/sandbox.json and prints a table.
"""
from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import threading
import time
from pathlib import Path

from gemhub_sandbox.contract import TOKEN_PATH, insecure_transport

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "benchmarks" / "results" / "sandbox.json"
L1C_BANDS = ["B01", "B02", "B03", "B04", "B05", "B06", "B07", "B08", "B8A", "B09", "B10", "B11", "B12"]

SIMPLE_13 = """//VERSION=3
function setup() {
  return {input: [{bands: %(bands)s, units: "REFLECTANCE"}],
          output: {bands: 13, sampleType: "FLOAT32"}};
}
function evaluatePixel(s) { return [%(ret)s]; }
""" % {"bands": json.dumps(L1C_BANDS), "ret": ", ".join(f"s.{b}" for b in L1C_BANDS)}

ORBIT_13 = """//VERSION=3
function setup() {
  return {input: [{bands: %(bands)s, units: %(units)s}],
          output: {bands: 13, sampleType: "FLOAT32"}, mosaicking: "ORBIT"};
}
function preProcessScenes(collections) {
  collections.scenes.orbits = collections.scenes.orbits.slice(0, 20);
  return collections;
}
function evaluatePixel(samples) {
  // most recent cloud-free observation, falling back to the most recent one
  var best = samples[0];
  for (var i = 0; i < samples.length; i++) {
    if (samples[i].CLM === 0 && samples[i].dataMask === 1) { best = samples[i]; break; }
  }
  return [%(ret)s];
}
""" % {"bands": json.dumps(L1C_BANDS + ["CLM", "dataMask"]), "units": json.dumps(["REFLECTANCE"] * 13 + ["DN", "DN"]),
       "ret": ", ".join(f"best.{b}" for b in L1C_BANDS)}


def start_sandbox(workdir: Path, workers: int):
    from gemhub_sandbox.child import start

    env = dict(os.environ, HOME=str(workdir))
    child = start({"bench-id": "bench-secret"}, args=("--workers", str(workers)), env=env,
                  stderr=open(workdir / "stderr.log", "wb"))
    return child.process, child.url


def timed(fn, repeats: int) -> dict:
    fn()  # warm-up: token fetch, V8 start-up, imports
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        samples.append(time.perf_counter() - t0)
    return {"median_s": round(statistics.median(samples), 4), "min_s": round(min(samples), 4),
            "max_s": round(max(samples), 4), "runs": [round(s, 4) for s in samples]}


def concurrent(fn, clients: int, per_client: int) -> dict:
    """`clients` threads each calling `fn` `per_client` times at once: latency percentiles of every call."""
    fn()
    samples: list[float] = []
    lock = threading.Lock()
    start_line = threading.Barrier(clients)

    def client() -> None:
        start_line.wait()
        for _ in range(per_client):
            t0 = time.perf_counter()
            fn()
            with lock:
                samples.append(time.perf_counter() - t0)

    threads = [threading.Thread(target=client) for _ in range(clients)]
    t0 = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    wall = time.perf_counter() - t0
    ordered = sorted(samples)
    return {"clients": clients, "requests": len(samples), "p50_s": round(statistics.median(ordered), 4),
            "p95_s": round(ordered[max(0, int(round(0.95 * len(ordered))) - 1)], 4), "max_s": round(ordered[-1], 4),
            "requests_per_s": round(len(samples) / wall, 2)}


def in_process_render(evalscript: str, bbox, interval):
    """The peer: the same request rendered in this process (no HTTP, no render worker, no client decoding),
    so the JSON shows what serving it costs on top, measured in the same run on the same machine."""
    from gemhub_sandbox import process, render

    body = {"input": {"bounds": {"bbox": list(bbox), "properties": {"crs": bbox.crs.opengis_string}},
                      "data": [{"type": "sentinel-2-l1c", "dataFilter": {"timeRange": {
                          "from": f"{interval[0]}T00:00:00Z", "to": f"{interval[1]}T23:59:59Z"}}}]},
            "output": {"width": 512, "height": 512,
                       "responses": [{"identifier": "default", "format": {"type": "image/tiff"}}]},
            "evalscript": evalscript}
    request = process.parse(body)
    return lambda: render.execute(request, None, 60)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--eolearn-repeats", type=int, default=5)
    parser.add_argument("--workers", type=int, default=2, help="sandbox render worker processes")
    parser.add_argument("--clients", type=int, default=4, help="concurrent clients for the percentile figures")
    parser.add_argument("--per-client", type=int, default=10)
    args = parser.parse_args()

    from eolearn.core import FeatureType
    from eolearn.io import SentinelHubInputTask
    from sentinelhub import (CRS, BBox, DataCollection, MimeType, SentinelHubRequest, SHConfig)

    with tempfile.TemporaryDirectory() as tmp:
        proc, url = start_sandbox(Path(tmp), args.workers)
        os.environ.update(insecure_transport(url + TOKEN_PATH))
        try:
            config = SHConfig(use_defaults=True, sh_client_id="bench-id", sh_client_secret="bench-secret",
                              sh_base_url=url, sh_token_url=url + TOKEN_PATH)
            l1c = DataCollection.SENTINEL2_L1C.define_from("SANDBOX_BENCH_L1C", service_url=url)
            bbox = BBox((455000, 5100000, 460120, 5105120), CRS("32633"))  # 512 x 512 px at 10 m

            def process(evalscript, interval, area=None):
                request = SentinelHubRequest(
                    evalscript=evalscript,
                    input_data=[SentinelHubRequest.input_data(l1c, time_interval=interval)],
                    responses=[SentinelHubRequest.output_response("default", MimeType.TIFF)],
                    bbox=area or bbox, size=(512, 512), config=config)
                data = request.get_data()[0]
                assert data.shape == (512, 512, 13)

            results = {}
            results["process_512x512x13_simple_1date"] = timed(
                lambda: process(SIMPLE_13, ("2023-06-01", "2023-06-05")), args.repeats)
            shifts = iter(range(1, 100))

            def new_area():  # a never-seen area each run: no cached terrain in the server
                dx = 5120 * next(shifts)
                return BBox((455000 + dx, 5100000, 460120 + dx, 5105120), CRS("32633"))

            results["process_512x512x13_simple_1date_concurrent"] = concurrent(
                lambda: process(SIMPLE_13, ("2023-06-01", "2023-06-05")), args.clients, args.per_client)
            results["process_512x512x13_simple_1date_sequential_p"] = concurrent(
                lambda: process(SIMPLE_13, ("2023-06-01", "2023-06-05")), 1, args.per_client)
            results["render_in_process_512x512x13_simple_1date"] = timed(
                in_process_render(SIMPLE_13, bbox, ("2023-06-01", "2023-06-05")), args.repeats)
            results["process_512x512x13_simple_1date_new_area"] = timed(
                lambda: process(SIMPLE_13, ("2023-06-01", "2023-06-05"), new_area()), args.repeats)
            results["process_512x512x13_orbit_20dates"] = timed(
                lambda: process(ORBIT_13, ("2023-04-01", "2023-07-15")), args.repeats)

            big = BBox((455000, 5100000, 465000, 5110000), CRS("32633"))  # 1000 x 1000 px at 10 m
            task = SentinelHubInputTask(data_collection=l1c, resolution=10, bands_feature=(FeatureType.DATA, "BANDS"),
                                        additional_data=[(FeatureType.MASK, "dataMask")], config=config,
                                        max_threads=args.workers)
            n_dates = []

            def eolearn_year():
                eop = task.execute(bbox=big, time_interval=("2023-01-01", "2023-12-31"))
                assert eop.data["BANDS"].shape[1:] == (1000, 1000, 13)
                n_dates.append(len(eop.timestamps))

            results["eolearn_input_task_1000x1000x13_1year"] = timed(eolearn_year, args.eolearn_repeats)
            results["eolearn_input_task_1000x1000x13_1year"]["dates"] = n_dates[-1]
        finally:
            proc.terminate()
            proc.wait(timeout=20)

    report = {
        "benchmark": "gemhub sandbox (Sentinel Hub emulator)",
        "target": {"process_512x512x13_simple_1date": "median < 0.3 s (goal 0.15 s)"},
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count(), "platform": platform.platform()},
        "sandbox_workers": args.workers,
        "results": results,
    }
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    RESULTS.write_text(json.dumps(report, indent=2) + "\n")
    print(f"{'case':45s} {'median s':>9s} {'min s':>8s} {'max s':>8s}")
    for name, row in results.items():
        if "p50_s" in row:
            print(f"{name:45s} p50 {row['p50_s']:.3f} p95 {row['p95_s']:.3f} max {row['max_s']:.3f} "
                  f"({row['clients']} clients, {row['requests']} requests, {row['requests_per_s']} req/s)")
            continue
        extra = f"  ({row['dates']} dates)" if "dates" in row else ""
        print(f"{name:45s} {row['median_s']:9.3f} {row['min_s']:8.3f} {row['max_s']:8.3f}{extra}")
    print(f"written to {RESULTS.relative_to(REPO)}")


if __name__ == "__main__":
    main()
