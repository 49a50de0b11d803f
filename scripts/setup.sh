# Sourced by scripts/test and scripts/demo: makes sure mosquitto, influxd and the
# project's virtual environment exist. Installs Debian packages when run as root;
# otherwise says exactly what to install.

set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/.."

need_apt=()
command -v mosquitto >/dev/null 2>&1 || [ -x /usr/sbin/mosquitto ] || need_apt+=(mosquitto)
command -v influxd >/dev/null 2>&1 || [ -x /usr/bin/influxd ] || need_apt+=(influxdb)
# The browser tests drive Debian's Chromium; the Japanese font makes their screenshots legible.
[ -x /usr/bin/chromium ] || need_apt+=(chromium)
# The install test puts Caddy in front of the API, as deploy/install.sh does on a server.
command -v caddy >/dev/null 2>&1 || [ -x /usr/bin/caddy ] || need_apt+=(caddy)
[ -d /usr/share/fonts/opentype/ipafont-gothic ] || need_apt+=(fonts-ipafont-gothic)
# The clustered-broker test starts three RabbitMQ nodes itself (its own ports, epmd and cookie,
# so a system RabbitMQ that the package may start does not get in the way).
[ -x /usr/lib/rabbitmq/bin/rabbitmq-server ] || need_apt+=(rabbitmq-server)
# promtool checks and unit-tests the Prometheus rules in deploy/prometheus.
command -v promtool >/dev/null 2>&1 || need_apt+=(prometheus)
if ! python3 -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null; then
  echo "Python 3.11 or newer is needed as python3 (found: $(python3 --version 2>&1))" >&2
  exit 1
fi
if [ ! -x .venv/bin/python ] && ! python3 -c 'import ensurepip, venv' 2>/dev/null; then
  need_apt+=(python3-venv)
fi

if [ ${#need_apt[@]} -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    echo "installing ${need_apt[*]} ..."
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq
    apt-get install -y -qq --no-install-recommends "${need_apt[@]}" >/dev/null
  else
    echo "missing system packages; install them with:" >&2
    echo "  sudo apt-get update && sudo apt-get install -y ${need_apt[*]}" >&2
    exit 1
  fi
fi

if [ ! -x .venv/bin/python ]; then
  python3 -m venv .venv
fi
# Quiet when everything is already there; shows what it fetches otherwise.
.venv/bin/python -m pip install --disable-pip-version-check -q -e '.[dev]'
