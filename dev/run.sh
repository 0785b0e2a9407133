#!/usr/bin/env bash
# `make run`: the standalone stack (RabbitMQ, Redis, SecantusDB as MongoDB, API, worker) under honcho.
# State lives in .local/, logs in .local/log/<service>.log; Ctrl-C stops everything.
# MONGODB_URI set in the environment: use that MongoDB and do not start SecantusDB.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ ! -x .venv/bin/honcho ]; then
  echo "run: .venv/bin/honcho is missing; run 'make venv' (bash dev/setup-venv.sh) first" >&2
  exit 1
fi

processes=(rabbitmq redis)
if [ -n "${MONGODB_URI:-}" ]; then
  echo "run: MONGODB_URI is set; using it instead of starting SecantusDB"
else
  processes+=(mongodb)
  export MONGODB_URI="mongodb://127.0.0.1:27017/cyberfortune"
fi
processes+=(api worker)

# Ports this stack listens on (name:port); fail early and say which one is taken.
ports=(rabbitmq-amqp:5672 rabbitmq-management:15672 rabbitmq-distribution:25672 rabbitmq-epmd:4370
       redis:6379 api:8080)
[[ " ${processes[*]} " == *" mongodb "* ]] && ports+=(mongodb:27017)
busy=0
for entry in "${ports[@]}"; do
  name=${entry%%:*} port=${entry##*:}
  if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
    echo "run: port $port ($name) on 127.0.0.1 is already in use; stop whatever listens there" >&2
    busy=1
  fi
done
[ "$busy" -eq 0 ] || exit 1

# Sessions (the H5 app's device sessions): a key made once for this checkout, kept in .local/.
mkdir -p .local
if [ -z "${FORTUNE_SESSION_KEYS:-}" ]; then
  [ -s .local/session-key ] || od -An -tx1 -N24 /dev/urandom | tr -d ' \n' > .local/session-key
  export FORTUNE_SESSION_KEYS="dev:$(cat .local/session-key)"
fi

# The mini-program's H5 build, served by the API at /app/ (built only when its sources changed).
app_line="run: H5 app: not built (node and npm are needed; see docs/miniapp.md)"
if command -v npm >/dev/null; then
  bash miniapp/scripts/build.sh h5
  export FORTUNE_WEBAPP_DIR="$PWD/miniapp/dist/h5"
  app_line="run: H5 app (the mini-program in a browser) on http://127.0.0.1:8080/app/"
fi

mkdir -p .local/log .local/rabbitmq .local/redis .local/mongodb
# gunicorn runs several API workers: their metrics meet in this directory (emptied at each start).
rm -rf .local/prometheus && mkdir -p .local/prometheus
export PROMETHEUS_MULTIPROC_DIR="$PWD/.local/prometheus"

export RABBITMQ_URL="${RABBITMQ_URL:-amqp://guest:guest@127.0.0.1:5672/%2F}"
export RABBITMQ_MANAGEMENT_URL="${RABBITMQ_MANAGEMENT_URL:-http://guest:guest@127.0.0.1:15672}"
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"
export FORTUNE_LLM_PROVIDER="${FORTUNE_LLM_PROVIDER:-auto}"
export PYTHONUNBUFFERED=1
# The almanac tells its reading a sentence at a time, paced so that it appears as it is written.
export FORTUNE_ALMANAC_SENTENCE_SECONDS="${FORTUNE_ALMANAC_SENTENCE_SECONDS:-0.3}"

provider=$FORTUNE_LLM_PROVIDER
if [ "$provider" = auto ]; then
  if [ -n "${OPENAI_API_KEY:-}" ]; then provider=openai; else provider=almanac; fi
fi
if [ "$provider" = openai ]; then
  echo "run: LLM provider: openai (${OPENAI_BASE_URL:-https://api.openai.com/v1}, model ${FORTUNE_LLM_MODEL:-default})"
else
  echo "run: LLM provider: $provider (offline; set OPENAI_API_KEY to use an OpenAI-compatible LLM)"
fi
echo "run: API on http://127.0.0.1:8080, RabbitMQ management on http://127.0.0.1:15672 (guest/guest)"
echo "$app_line"
echo "run: logs in .local/log/; Ctrl-C stops everything"

exec .venv/bin/honcho start -f Procfile "${processes[@]}"
