#!/bin/sh
# Trim an installed virtualenv for the image: what is removed is never loaded
# at run time (static libraries, C headers, packages' own test suites, the
# installers' caches), and it keeps the user image inside its size budget.
set -eu
venv="$1"
site="$venv/lib/python3.11/site-packages"
find "$site" -name '*.a' -type f -delete
rm -rf "$venv/include"
find "$site" -mindepth 2 -type d -name include -path '*/numpy/*' -prune -exec rm -rf {} +
# Test suites of third-party packages (only inside a package, never a top-level one).
find "$site" -mindepth 2 -type d \( -name tests -o -name test \) -prune -exec rm -rf {} +
rm -rf /root/.cache
