#!/usr/bin/env bash
# The real-client interop suite (docs/interop.md): builds kinesin, the Java test applications
# (KCL 2.x, KCL 3.x, KPL; Maven resolves them from Maven Central, a cold cache included) and a
# Python venv with boto3 and amazon-kclpy (whose install fetches the KCL jars from Maven), then
# runs tests/interop with pytest. Where Java, Maven or a package cannot be had, the tests that
# need it skip and say so; under CI=true they fail instead.
#
#   scripts/interop.sh [pytest arguments, e.g. -k kcl3]
#
# KINESIN_BIN=path runs the suite against that binary instead of building target/debug/kinesin.
set -euo pipefail
cd "$(dirname "$0")/.."

if [[ -z "${KINESIN_BIN:-}" ]]; then
    echo "== cargo build (kinesin)"
    cargo build --locked --bin kinesin
fi

if command -v mvn >/dev/null && command -v java >/dev/null; then
    for project in kcl2 kcl3 kpl; do
        echo "== mvn package tests/interop/java/$project"
        (cd "tests/interop/java/$project" && mvn -q -B -Dstyle.color=never package) \
            || echo "== mvn package failed for $project: its tests will say so"
    done
else
    echo "== no java/mvn: the Java interop tests will say so"
fi

echo "== Python venv (.venv-interop): boto3, pytest, amazon-kclpy"
python3 -m venv .venv-interop
.venv-interop/bin/pip install -q --disable-pip-version-check boto3==1.44.18 pytest==9.2.0
# amazon-kclpy 3.1.3 (KCL 3.1.3): 3.2.0 wants KCL 3.5.3, which Maven Central does not serve here.
.venv-interop/bin/pip install -q --disable-pip-version-check amazon-kclpy==3.1.3 \
    || echo "== amazon-kclpy did not install: its test will say so"

echo "== pytest tests/interop"
exec .venv-interop/bin/python -m pytest tests/interop -v -s -p no:cacheprovider "$@"
