"""Runs user evalscripts (V3) in V8 with a generated, vectorised driver.

Python never calls into JS per pixel: band samples are written straight into
ArrayBuffers owned by V8 (mini-racer exposes them as writable memoryviews), one
generated loop calls `evaluatePixel` for every pixel of a chunk and writes the
results into an output ArrayBuffer. The Python<->JS boundary is crossed a handful
of times per request.

V8 lifetime rules this module keeps (breaking them crashed the whole sandbox):
- V8's process-wide state (the pointer-compression cage, the platform) is set
  up by the first isolate. Two threads creating their first isolates at the
  same moment both try to set it up and V8 aborts (SIGTRAP, "Check failed:
  !IsConfigurablePoolInitialized()") or segfaults: that is what a fresh
  sandbox hit under concurrent requests. `initialise_v8()` creates the first
  isolate once, under a lock, before any request; creating and closing
  contexts stays under the same lock.
- A context is used by one thread at a time: each `Evalscript` belongs to one
  request, and render workers (workers.py) run one request at a time. The
  server never runs isolates on several threads at once any more: the old
  thread-pool server also died (connection refused) under four concurrent
  clients of *good* 512x512x13 requests after V8 was warm, a crash not
  reproduced in-process, so V8 gets one request per process.
- Nothing outlives its context: ArrayBuffer views (memoryviews straight into
  V8's backing store) are dropped before the context closes, and JS errors are
  turned into plain messages so that no mini-racer exception, with its value
  handles in the traceback, is still alive when the context goes away.
"""
from __future__ import annotations

import gc
import json
import threading

import numpy as np
from py_mini_racer import MiniRacer
from py_mini_racer import _exc as mr_exc

from .errors import EvalscriptError, bad_request

JS_PRELUDE = r"""
var Mosaicking = {SIMPLE: "SIMPLE", ORBIT: "ORBIT", TILE: "TILE"};
var SampleType = {AUTO: "AUTO", UINT8: "UINT8", UINT16: "UINT16", INT8: "INT8", INT16: "INT16", FLOAT32: "FLOAT32"};
var console = {log: function () {}, warn: function () {}, error: function () {}};
function index(a, b) { return (a - b) / (a + b); }
function __lerp(v, stops, outs) {
  if (v <= stops[0]) return outs[0];
  for (var i = 1; i < stops.length; i++) {
    if (v <= stops[i]) { var t = (v - stops[i - 1]) / (stops[i] - stops[i - 1]);
      var a = outs[i - 1], b = outs[i];
      if (Array.isArray(a)) { var r = []; for (var k = 0; k < a.length; k++) r.push(a[k] + (b[k] - a[k]) * t); return r; }
      return a + (b - a) * t; }
  }
  return outs[outs.length - 1];
}
function colorBlend(value, stops, colors) { return __lerp(value, stops, colors); }
function valueInterpolate(value, stops, values) { return __lerp(value, stops, values); }
function __hexToRgb(c) { return [((c >> 16) & 255) / 255, ((c >> 8) & 255) / 255, (c & 255) / 255]; }
function ColorGradientVisualizer(stops, minVal, maxVal) {
  var vals = stops.map(function (s) { return s[0]; });
  var cols = stops.map(function (s) { return typeof s[1] === "number" ? __hexToRgb(s[1]) : s[1]; });
  this.process = function (v) { return __lerp(v, vals, cols); };
}
ColorGradientVisualizer.createWhiteGreen = function (min, max) {
  return new ColorGradientVisualizer([[min, 0xffffff], [max, 0x008000]]);
};
function ColorRampVisualizer(ramps, minVal, maxVal) { ColorGradientVisualizer.call(this, ramps, minVal, maxVal); }
function ColorMapVisualizer(map) {
  this.process = function (v) { var c = map[0][1];
    for (var i = 0; i < map.length; i++) { if (v >= map[i][0]) c = map[i][1]; }
    return typeof c === "number" ? __hexToRgb(c) : c; };
}
function HighlightCompressVisualizer(minVal, maxVal) {
  minVal = minVal === undefined ? 0 : minVal; maxVal = maxVal === undefined ? 1 : maxVal;
  this.process = function (v) { return [Math.max(0, Math.min(1, (v - minVal) / (maxVal - minVal)))]; };
}
function HighlightCompressVisualizerSingle(minVal, maxVal) { HighlightCompressVisualizer.call(this, minVal, maxVal); }
function __mkScenes(spec) {
  var arr = [];
  var src = spec.orbits || spec.tiles || [];
  for (var i = 0; i < src.length; i++) {
    var o = src[i];
    arr.push(Object.assign({}, o, {date: new Date(o.dateFrom || o.date)}));
  }
  if (spec.orbits) arr.orbits = spec.orbits;
  if (spec.tiles) arr.tiles = spec.tiles;
  return arr;
}
function __badOutput(id, expected, got) {
  var n = (got === undefined || got === null) ? "nothing" : (got.length === undefined ? "a non-array value" : got.length + " values");
  throw new Error("Output '" + id + "' expects " + expected + " bands but evaluatePixel returned " + n + ".");
}
"""

MAX_CHUNK_FLOATS = 12_000_000
_V8_LIFECYCLE = threading.Lock()
_v8_ready = False


def initialise_v8() -> None:
    """Create (and close) the process's first isolate, once, before any concurrent use."""
    global _v8_ready
    with _V8_LIFECYCLE:
        if not _v8_ready:
            MiniRacer().close()
            _v8_ready = True


def _clean_js_error(exc: Exception) -> str:
    text = str(exc).strip() or exc.__class__.__name__
    first = text.splitlines()[0]
    return first.replace("<anonymous>", "evalscript.js")


class Evalscript:
    """One V8 isolate per request: scripts are untrusted and may leave global state behind."""

    def __init__(self, source: str, timeout_sec: float = 30.0, max_memory: int = 1 << 30):
        if not isinstance(source, str) or not source.strip():
            raise bad_request("Evalscript is missing.")
        if "//VERSION=3" not in source.replace(" ", ""):
            raise bad_request("Only evalscript V3 (starting with //VERSION=3) is supported by the sandbox.")
        self.timeout = timeout_sec
        self.failed = False
        initialise_v8()
        with _V8_LIFECYCLE:
            self.ctx = MiniRacer()
        self.ctx.set_hard_memory_limit(max_memory)
        self.ctx.eval(JS_PRELUDE)
        self._eval(source)
        for name in ("setup", "evaluatePixel"):
            if self._eval(f"typeof {name}") != "function":
                raise EvalscriptError(f"evalscript.js: function {name}() is not defined.")
        self.has_preprocess = self._eval("typeof preProcessScenes") == "function"
        self.has_update_metadata = self._eval("typeof updateOutputMetadata") == "function"

    def close(self) -> None:
        if self.ctx is None:
            return
        if self.failed:
            # a JS error's traceback cycles may still hold value handles of this context
            gc.collect()
        with _V8_LIFECYCLE:
            self.ctx.close()
        self.ctx = None

    def _eval(self, code: str):
        try:
            return self.ctx.eval(code, timeout_sec=self.timeout)
        except mr_exc.JSTimeoutException:
            message = "Evalscript execution timed out."
        except mr_exc.JSOOMException:
            message = "Evalscript ran out of memory (the sandbox allows 1 GiB per request)."
        except mr_exc.MiniRacerBaseException as exc:
            message = _clean_js_error(exc)
        # raised outside the except block: no __context__ keeps mini-racer's exception alive
        self.failed = True
        raise EvalscriptError(message)

    def _json_call(self, expr: str):
        text = self._eval(f"JSON.stringify({expr})")
        if not isinstance(text, str):
            return None
        return json.loads(text)

    def setup(self) -> dict:
        result = self._json_call("setup()")
        if not isinstance(result, dict):
            raise EvalscriptError("evalscript.js: setup() must return an object.")
        return result

    def preprocess(self, collections: dict) -> dict:
        return self._json_call(f"preProcessScenes({json.dumps(collections)})")

    def set_context(self, scenes: dict, input_metadata: dict, custom_data) -> None:
        self._eval(f"var __scenes = __mkScenes({json.dumps(scenes)});"
                   f"var __inputMetadata = {json.dumps(input_metadata)};"
                   f"var __customData = {json.dumps(custom_data)}; 0")

    def update_output_metadata(self) -> dict | None:
        if not self.has_update_metadata:
            return None
        return self._json_call("(function () { var m = {userData: undefined};"
                               " updateOutputMetadata(__scenes, __inputMetadata, m);"
                               " return m.userData === undefined ? null : m.userData; })()")

    def run(self, bands: list[str], samples: np.ndarray, per_scene: bool,
            outputs: list[tuple[str, int]]) -> dict[str, np.ndarray]:
        """Evaluate every pixel.

        samples: float32 array (n_bands, n_scenes, n_pixels).
        Returns {output_id: float32 array (n_out_bands, n_pixels)}.
        """
        n_bands, n_scenes, n_pix = samples.shape
        total_out = sum(nb for _, nb in outputs)
        per_pixel = max(n_bands * n_scenes, 1)
        chunk = int(max(1024, min(n_pix, MAX_CHUNK_FLOATS // per_pixel)))
        self._eval(self._driver(bands, per_scene, outputs))
        result = {oid: np.empty((nb, n_pix), dtype=np.float32) for oid, nb in outputs}
        # The views point into V8's memory: they must be gone before the context closes,
        # on the error path too (a traceback would otherwise keep them alive).
        in_view = out_view = None
        try:
            for start in range(0, n_pix, chunk):
                n = min(chunk, n_pix - start)
                if in_view is None:
                    # sized for a full chunk once; the last, shorter chunk uses a prefix
                    in_view = np.frombuffer(self._eval(
                        f"__IN = new ArrayBuffer({4 * max(n_bands * n_scenes * chunk, 1)}); __IN"), dtype=np.float32)
                    out_view = np.frombuffer(self._eval(
                        f"__OUT = new ArrayBuffer({4 * max(total_out * chunk, 1)}); __OUT"), dtype=np.float32)
                in_view[: n_bands * n_scenes * n].reshape(n_bands, n_scenes, n)[...] = samples[:, :, start:start + n]
                self._eval(f"__run({n})")
                offset = 0
                for oid, nb in outputs:
                    result[oid][:, start:start + n] = out_view[offset:offset + nb * n].reshape(nb, n)
                    offset += nb * n
        finally:
            del in_view, out_view
        return result

    @staticmethod
    def _driver(bands: list[str], per_scene: bool, outputs: list[tuple[str, int]]) -> str:
        """Generate a monomorphic JS loop: fixed object shapes let V8 optimise evaluatePixel calls."""
        single = len(outputs) == 1
        lines = ["function __run(n) {",
                 f"  var nsc = {'__NSC' if per_scene else 1};"]
        for k, _ in enumerate(bands):
            lines.append(f"  var b{k} = new Float32Array(__IN, {k} * nsc * n * 4, nsc * n);")
        offset_expr = "0"
        for j, (oid, nb) in enumerate(outputs):
            lines.append(f"  var o{j} = new Float32Array(__OUT, ({offset_expr}) * 4, {nb} * n);")
            offset_expr = f"{offset_expr} + {nb} * n"
        fields = ", ".join(f"{json.dumps(name)}: b{k}[p]" for k, name in enumerate(bands))
        lines.append("  for (var i = 0; i < n; i++) {")
        if per_scene:
            lines.append("    var s = new Array(nsc);")
            lines.append(f"    for (var q = 0; q < nsc; q++) {{ var p = q * n + i; s[q] = {{{fields}}}; }}")
        else:
            lines.append(f"    var p = i; var s = {{{fields}}};")
        lines.append("    var r = evaluatePixel(s, __scenes, __inputMetadata, __customData);")
        for j, (oid, nb) in enumerate(outputs):
            key = json.dumps(oid)
            if single:
                lines.append(f"    var v{j} = Array.isArray(r) ? r : (r === undefined || r === null ? r : r[{key}]);")
            else:
                lines.append(f"    var v{j} = (r === undefined || r === null) ? r : r[{key}];")
            lines.append(f"    if (v{j} === undefined || v{j} === null || v{j}.length !== {nb}) "
                         f"__badOutput({key}, {nb}, v{j});")
            for b in range(nb):
                lines.append(f"    o{j}[{b} * n + i] = v{j}[{b}];")
        lines.append("  }")
        lines.append("  return n;")
        lines.append("}")
        return "\n".join(lines)

    def set_scene_count(self, n_scenes: int) -> None:
        self._eval(f"var __NSC = {int(n_scenes)}; 0")
