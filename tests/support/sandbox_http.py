"""Talking to a sandbox over raw HTTP: a token, Process API payloads, evalscripts.

The robustness tests send what no well-behaved client would, so they bypass
sentinelhub-py and post JSON (or garbage) themselves. Everything goes to the
sandbox's 127.0.0.1 URL.
"""

from __future__ import annotations

import requests
from gemhub_sandbox.contract import TOKEN_PATH

BBOX = [14.50, 46.05, 14.56, 46.09]


def token(url: str, client_id: str, client_secret: str) -> str:
    answer = requests.post(url + TOKEN_PATH, timeout=30, data={
        "grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret})
    answer.raise_for_status()
    return answer.json()["access_token"]


def evalscript(body: str, bands: int = 2, mosaicking: str = "SIMPLE", inputs=("B04", "B08")) -> str:
    return (
        "//VERSION=3\n"
        f"function setup() {{ return {{input: {list(inputs)!r}, output: {{bands: {bands}, sampleType: 'FLOAT32'}},"
        f" mosaicking: '{mosaicking}'}}; }}\n"
        f"{body}\n"
    )


def process_payload(script: str, fmt: str = "image/tiff", size: int = 48, bbox=BBOX) -> dict:
    return {
        "input": {
            "bounds": {"bbox": bbox, "properties": {"crs": "http://www.opengis.net/def/crs/OGC/1.3/CRS84"}},
            "data": [{"type": "sentinel-2-l2a", "dataFilter": {
                "timeRange": {"from": "2023-05-01T00:00:00Z", "to": "2023-05-31T23:59:59Z"}}}],
        },
        "output": {"width": size, "height": size,
                   "responses": [{"identifier": "default", "format": {"type": fmt}}]},
        "evalscript": script,
    }


# What a careless or hostile user can put in an evalscript.
GOOD_SIMPLE = evalscript("function evaluatePixel(s) { return [s.B04, s.B08]; }")
GOOD_ORBIT = evalscript(
    "function evaluatePixel(s) { var n = 0, t = 0; for (var i = 0; i < s.length; i++) { n += s[i].B08; t += 1; }"
    " return [t, t ? n / t : 0]; }", mosaicking="ORBIT")
GOOD_PNG = (
    "//VERSION=3\nfunction setup() { return {input: ['B02', 'B03', 'B04'], output: {bands: 3}}; }\n"
    "function evaluatePixel(s) { return [2.5 * s.B04, 2.5 * s.B03, 2.5 * s.B02]; }\n"
)
THROWS = evalscript("function evaluatePixel(s) { throw new Error('user bug in evaluatePixel'); }")
WRONG_BANDS = evalscript("function evaluatePixel(s) { return [s.B04]; }")
INFINITE_LOOP = evalscript("function evaluatePixel(s) { while (true) {} }")
HUGE_ALLOCATION = evalscript(
    "var keep = []; function evaluatePixel(s) { while (true) { keep.push(new Array(1 << 20).fill(s.B04)); } }")
DEEP_RECURSION = evalscript("function down(n) { return down(n + 1) + 1; }\n"
                            "function evaluatePixel(s) { return [down(0), 0]; }")
SYNTAX_ERROR = "//VERSION=3\nfunction setup() { return {input: ['B04'], output: {bands: 1}; }\n"
