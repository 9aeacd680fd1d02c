#!/usr/bin/env bash
# Creates the interop suite's Python environment in .cache/venv (without a pip cache: the
# venv is rebuilt only when the pins change, and a cache would hold pyspark twice more) and
# fetches delta-spark's jars from Maven Central into .cache/spark-jars (Maven's repository in
# .cache/m2). Does nothing when both already match what is pinned here.
set -euo pipefail
cd "$(dirname "$0")/../.."
req=test/interop/requirements.txt
stamp=.cache/venv/.requirements
if ! { [ -f "$stamp" ] && cmp -s "$req" "$stamp"; }; then
  python3 -m venv .cache/venv
  .cache/venv/bin/pip install -q --disable-pip-version-check --no-cache-dir -r "$req"
  cp "$req" "$stamp"
fi
delta=$(sed -n 's/^delta-spark==//p' "$req")
for artifact in "delta-spark_2.13:$delta" "delta-storage:$delta"; do
  jar=".cache/spark-jars/${artifact%%:*}-$delta.jar"
  [ -f "$jar" ] || mvn -B -q -Dmaven.repo.local=.cache/m2 dependency:copy "-Dartifact=io.delta:$artifact" -DoutputDirectory=.cache/spark-jars
done
