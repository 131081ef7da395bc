#!/usr/bin/env bash
# Puts the broker's jars in infra/.cache/kafka-<version>/libs, downloading them from Maven
# Central on first use. Idempotent: once a marker says the folder is complete for this exact
# pom, it returns at once without starting Maven (so no network and no second of JVM start).
set -euo pipefail
# shellcheck source=infra/kafka/common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

# The marker records the pom's checksum, so editing versions in the pom refetches even though
# the folder name only carries the Kafka version.
pom_sum="$(sha256sum "$KAFKA_POM" | cut -d' ' -f1)"
if [[ -f "$KAFKA_LIBS_MARKER" && "$(cat "$KAFKA_LIBS_MARKER")" == "$pom_sum" ]]; then
  exit 0
fi

command -v mvn >/dev/null || die "Maven is needed to fetch Kafka: apt-get install -y maven"
command -v java >/dev/null || die "Java 17+ is needed to run Kafka: apt-get install -y openjdk-17-jdk-headless"

say "fetching Kafka $KAFKA_VERSION jars from Maven Central (first run only)"
mkdir -p "$KAFKA_CACHE"
# Copy into a scratch folder and swap it in at the end: an interrupted download must never
# leave a half-filled libs/ that a later run would mistake for complete.
tmp_libs="$KAFKA_CACHE/libs.partial"
rm -rf "$tmp_libs"

# A repository inside the project (not ~/.m2) so a fresh clone brings everything it needs and
# removing infra/.cache is a true reset. Debian's Maven prints colour resets even with -B -q;
# the sed keeps them out of CI logs (pipefail still reports Maven's own exit code).
mvn -B -q \
  -f "$KAFKA_POM" \
  -Dmaven.repo.local="$M2_REPO" \
  -Dkafka.libs.dir="$tmp_libs" \
  dependency:copy-dependencies 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2

# A broker classpath without the core jar or a logging binding starts but misbehaves, so
# check for them here rather than debug it later.
for jar in "kafka_2.13-$KAFKA_VERSION.jar" "kafka-clients-$KAFKA_VERSION.jar" slf4j-api-*.jar log4j-slf4j-impl-*.jar log4j-core-*.jar; do
  compgen -G "$tmp_libs/$jar" >/dev/null || die "fetch incomplete: no $jar in $tmp_libs"
done

rm -rf "$KAFKA_LIBS"
mv "$tmp_libs" "$KAFKA_LIBS"
printf '%s\n' "$pom_sum" > "$KAFKA_LIBS_MARKER"
say "Kafka $KAFKA_VERSION: $(find "$KAFKA_LIBS" -name '*.jar' | wc -l) jars in ${KAFKA_LIBS#"$REPO_ROOT"/}"
