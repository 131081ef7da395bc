# shellcheck shell=bash disable=SC2034 # the variables set here are used by the sourcing scripts
# Paths, settings and the readiness probe shared by the kafka scripts. Sourced, never run.

# shellcheck source=infra/lib.sh
source "$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)/lib.sh"

KAFKA_DIR="$INFRA_DIR/kafka"
KAFKA_POM="$KAFKA_DIR/pom.xml"

# The pom is the one place the version is written; grep it rather than ask Maven, which
# would cost a JVM start and plugin downloads on every call.
KAFKA_VERSION="$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$KAFKA_POM" | head -n1)"
[[ -n "$KAFKA_VERSION" ]] || die "no <kafka.version> in $KAFKA_POM"

M2_REPO="$INFRA_DIR/.cache/m2"
KAFKA_CACHE="$INFRA_DIR/.cache/kafka-$KAFKA_VERSION"
KAFKA_LIBS="$KAFKA_CACHE/libs"
KAFKA_LIBS_MARKER="$KAFKA_CACHE/libs.complete"

KAFKA_DATA_DIR="$INFRA_DIR/.data/kafka"
KAFKA_PID_FILE="$RUN_DIR/kafka.pid"
KAFKA_LOG_FILE="$LOG_DIR/kafka.log"

# Clients find the broker through KAFKA_BROKERS (the services' own variable); the broker we
# start listens on the port of its first entry unless KAFKA_PORT says otherwise.
KAFKA_BROKERS="${KAFKA_BROKERS:-127.0.0.1:9092}"
KAFKA_FIRST_BROKER="${KAFKA_BROKERS%%,*}"
KAFKA_HOST="${KAFKA_FIRST_BROKER%:*}"
KAFKA_PORT="${KAFKA_PORT:-${KAFKA_FIRST_BROKER##*:}}"
# The KRaft controller needs a port of its own; next to the broker's keeps 9092/9093 paired.
KAFKA_CONTROLLER_PORT="${KAFKA_CONTROLLER_PORT:-$((KAFKA_PORT + 1))}"

# kafka_serves_metadata HOST PORT: true when a Kafka broker there answers a Metadata request
# and lists at least one live broker. An open port alone proves little: the kernel accepts
# connections into the listen backlog before Kafka serves requests, and a KRaft broker lists
# itself only once it has caught up with the metadata log and been unfenced, which is
# exactly when clients can use it.
# Pure bash (a raw Metadata v4 request over /dev/tcp), so it costs milliseconds instead of a
# JVM start; v4 is inside the range of every broker from 1.0 to 4.x and of KafkaJS.
kafka_serves_metadata() {
  local host="$1" port="$2" reply
  # size=20 | api_key=3 (Metadata) | version=4 | correlation_id=42 | client_id="probe"
  # | topics=[] (empty: brokers only) | allow_auto_topic_creation=false
  # shellcheck disable=SC2016 # $1/$2 expand in the inner bash, as intended
  reply="$(timeout 3 bash -c '
    exec 3<>"/dev/tcp/$1/$2" || exit 1
    printf "\x00\x00\x00\x14\x00\x03\x00\x04\x00\x00\x00\x2a\x00\x05probe\x00\x00\x00\x00\x00" >&3
    # size | correlation_id | throttle_time_ms | number of brokers
    head -c 16 <&3 | od -An -v -tu1
  ' _ "$host" "$port" 2>/dev/null)" || return 1
  # shellcheck disable=SC2086 # word-split the byte list on purpose
  set -- $reply
  (( $# == 16 )) || return 1
  local correlation=$(( ($5 << 24) | ($6 << 16) | ($7 << 8) | $8 ))
  local brokers=$(( (${13} << 24) | (${14} << 16) | (${15} << 8) | ${16} ))
  (( correlation == 42 && brokers >= 1 ))
}

# our_kafka_pid: prints the pid from the pid file when that process is still our broker.
# Checking the command line guards against a stale file whose pid now belongs to
# something else.
our_kafka_pid() {
  local pid
  [[ -f "$KAFKA_PID_FILE" ]] || return 1
  pid="$(cat "$KAFKA_PID_FILE")"
  [[ "$pid" =~ ^[0-9]+$ ]] || return 1
  kill -0 "$pid" 2>/dev/null || return 1
  tr '\0' ' ' < "/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $KAFKA_DATA_DIR/server.properties" || return 1
  printf '%s\n' "$pid"
}

# our_kafka_port: the client port our broker was started with, read back from the config it
# was launched with (start.sh renders that file only right before launching).
our_kafka_port() {
  sed -n 's|^listeners=PLAINTEXT://[^,]*:\([0-9]*\),.*|\1|p' "$KAFKA_DATA_DIR/server.properties" 2>/dev/null
}
