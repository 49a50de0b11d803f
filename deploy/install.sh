#!/usr/bin/env bash
# Production install of the Shinshu IoT server on Debian 12 or Raspberry Pi OS (bookworm).
# docs/install.md explains every step; this script is its tested form (tests/deploy/).
#
#   sudo deploy/install.sh --tenant kawakami --domain iot.example.lg.jp
#
# Running it again changes nothing that exists: secrets, accounts, the TOML file and the first
# admin key are made once. --root DIR writes every file under DIR instead of / (and the files
# it writes name paths under DIR), so that the tests run the whole install in a scratch tree.
set -euo pipefail

usage() {
    cat <<'EOF'
usage: install.sh --tenant NAME [options]

  --tenant NAME          the tenant the first admin key belongs to (required)
  --domain NAME          the server's name for HTTPS and the broker certificate (hostname -f)
  --tls acme|internal    Caddy's certificate: Let's Encrypt (public name, ports 80 and 443
                         reachable) or Caddy's own CA for an internal network (default acme)
  --root DIR             write everything under DIR (default /)
  --source DIR           the project to install (default: the checkout holding this script)
  --use-venv DIR         use this Python environment instead of building /opt/shinshu/venv
  --no-packages          do not run apt-get
  --no-user              do not create the `shinshu` system user (and change no owners)
  --no-systemd           do not run systemctl (InfluxDB is started briefly by the script)
  --broker-user NAME     the user Mosquitto runs as (default mosquitto)
  --mqtt-port N          plain MQTT on loopback (1883)     --mqtt-tls-port N  MQTT over TLS (8883)
  --influx-port N        InfluxDB HTTP (8086)              --influx-rpc-port N InfluxDB backup (8088)
  --serve-port N         `shinshu serve` on loopback (8000) --https-port N   Caddy (443)
  --ingest-metrics-port N (9101)  --alerts-metrics-port N (9102)  --notify-metrics-port N (9103)
EOF
}

ROOT=/
TENANT=""
DOMAIN=""
TLS=acme
SOURCE="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
USE_VENV=""
PACKAGES=1
MAKE_USER=1
SYSTEMD=1
BROKER_USER=mosquitto
MQTT_PORT=1883
MQTT_TLS_PORT=8883
INFLUX_PORT=8086
INFLUX_RPC_PORT=8088
SERVE_PORT=8000
HTTPS_PORT=443
INGEST_METRICS_PORT=9101
ALERTS_METRICS_PORT=9102
NOTIFY_METRICS_PORT=9103

while [ $# -gt 0 ]; do
    case "$1" in
        --root) ROOT="$2"; shift ;;
        --tenant) TENANT="$2"; shift ;;
        --domain) DOMAIN="$2"; shift ;;
        --tls) TLS="$2"; shift ;;
        --source) SOURCE="$2"; shift ;;
        --use-venv) USE_VENV="$2"; shift ;;
        --no-packages) PACKAGES=0 ;;
        --no-user) MAKE_USER=0 ;;
        --no-systemd) SYSTEMD=0 ;;
        --broker-user) BROKER_USER="$2"; shift ;;
        --mqtt-port) MQTT_PORT="$2"; shift ;;
        --mqtt-tls-port) MQTT_TLS_PORT="$2"; shift ;;
        --influx-port) INFLUX_PORT="$2"; shift ;;
        --influx-rpc-port) INFLUX_RPC_PORT="$2"; shift ;;
        --serve-port) SERVE_PORT="$2"; shift ;;
        --https-port) HTTPS_PORT="$2"; shift ;;
        --ingest-metrics-port) INGEST_METRICS_PORT="$2"; shift ;;
        --alerts-metrics-port) ALERTS_METRICS_PORT="$2"; shift ;;
        --notify-metrics-port) NOTIFY_METRICS_PORT="$2"; shift ;;
        -h|--help) usage; exit 0 ;;
        *) echo "install.sh: unknown option $1" >&2; usage >&2; exit 2 ;;
    esac
    shift
done
[ -n "$TENANT" ] || { echo "install.sh: --tenant is required" >&2; exit 2; }
[ "$TLS" = acme ] || [ "$TLS" = internal ] || { echo "install.sh: --tls acme|internal" >&2; exit 2; }
[ -n "$DOMAIN" ] || DOMAIN="$(hostname -f 2>/dev/null || hostname)"

R="${ROOT%/}"
ETC="$R/etc/shinshu"
CRED="$ETC/credentials"
DATA="$R/var/lib/shinshu"
OPT="$R/opt/shinshu"
TOML="$ETC/shinshu.toml"
MOSQ_ETC="$R/etc/mosquitto"
MOSQ_LIB="$R/var/lib/mosquitto"
INFLUX_CONF="$R/etc/influxdb/influxdb.conf"
INFLUX_LIB="$R/var/lib/influxdb"
UNITS="$R/etc/systemd/system"
SVC_USER=shinshu

step() { printf '\n== %s / %s\n' "$1" "$2"; }
# Owners change only as root and only to users that exist: a test run (--no-user) keeps the
# invoking user as owner.
chown_to() { # chown_to USER:GROUP PATH... (folders recursively)
    local spec="$1"; shift
    if [ "$(id -u)" = 0 ] && id -u "${spec%%:*}" >/dev/null 2>&1 \
        && getent group "${spec#*:}" >/dev/null; then
        chown -R "$spec" "$@"
    fi
}

# 1. Packages -----------------------------------------------------------------------------
if [ "$PACKAGES" = 1 ]; then
    step "1. packages" "パッケージ"
    apt-get update
    DEBIAN_FRONTEND=noninteractive apt-get install -y mosquitto influxdb python3-venv caddy
fi

# 2. The system user ----------------------------------------------------------------------
if [ "$MAKE_USER" = 1 ] && ! id -u "$SVC_USER" >/dev/null 2>&1; then
    step "2. system user $SVC_USER" "システムユーザー"
    useradd --system --home-dir /var/lib/shinshu --shell /usr/sbin/nologin "$SVC_USER"
fi
install -d -m 0755 "$ETC" "$OPT"
install -d -m 0700 "$CRED"
install -d -m 0750 "$DATA"
chown_to "$SVC_USER:$SVC_USER" "$DATA"

# 3. The platform in a virtual environment -------------------------------------------------
step "3. Python environment" "Python 環境"
if [ -n "$USE_VENV" ]; then
    VENV="$USE_VENV"
else
    VENV="$OPT/venv"
    [ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "$SOURCE[server]"
fi
SHINSHU="$VENV/bin/shinshu"
rm -rf "$OPT/docs" && cp -r "$SOURCE/docs" "$OPT/docs"
echo "shinshu: $SHINSHU"

# 4. /etc/shinshu/shinshu.toml: every setting, never a secret --------------------------------
step "4. $TOML" "設定ファイル"
if [ -e "$TOML" ]; then
    echo "$TOML exists: kept as it is"
else
    umask 027
    cat >"$TOML" <<EOF
# Shinshu IoT server settings (written by deploy/install.sh; see README, "Settings").
# Every key can be overridden by SHINSHU_<KEY>. No secret goes in this file: each service's
# broker secret comes from systemd (LoadCredential=) or $DATA/secrets/<account>.secret,
# the InfluxDB password from influx_password_file (mode 0600).
tenant = "$TENANT"
data_dir = "$DATA"
mqtt_url = "mqtt://127.0.0.1:$MQTT_PORT"
influx_url = "http://127.0.0.1:$INFLUX_PORT"
influx_db = "shinshu"
influx_user = "shinshu"
influx_password_file = "$DATA/secrets/influxdb.secret"
# The database exists (shinshu store init); the platform's account may not create others.
influx_create_db = false
influx_backup_address = "127.0.0.1:$INFLUX_RPC_PORT"
metrics_host = "127.0.0.1"
ingest_metrics_port = $INGEST_METRICS_PORT
alerts_metrics_port = $ALERTS_METRICS_PORT
notify_metrics_port = $NOTIFY_METRICS_PORT
log_level = "INFO"
EOF
    umask 022
fi
chmod 0640 "$TOML"
chown_to "root:$SVC_USER" "$TOML"
sh_() { "$SHINSHU" --config "$TOML" "$@"; }

# 5. Mosquitto: TLS certificate, service accounts, the broker configuration ------------------
step "5. Mosquitto" "MQTT ブローカー"
install -d -m 0755 "$MOSQ_ETC/certs" "$R/run/mosquitto" "$R/var/log/mosquitto"
install -d -m 0750 "$MOSQ_LIB"
if [ ! -e "$MOSQ_ETC/certs/broker.crt" ]; then
    hosts=(--host "$DOMAIN")
    [ "$DOMAIN" = localhost ] || hosts+=(--host localhost)
    sh_ broker certs --dir "$MOSQ_ETC/certs" "${hosts[@]}" --host 127.0.0.1
fi
install -m 0644 "$MOSQ_ETC/certs/ca.crt" "$ETC/ca.crt"
if [ ! -e "$MOSQ_LIB/dynamic-security.json" ]; then
    force=""
    [ -e "$DATA/dynamic-security.json" ] && force="--force"
    sh_ broker init --accounts-file "$DATA/dynamic-security.json" $force
    install -m 0600 "$DATA/dynamic-security.json" "$MOSQ_LIB/dynamic-security.json"
fi
plugin="$(ls /usr/lib/*/mosquitto_dynamic_security.so /usr/lib/mosquitto_dynamic_security.so 2>/dev/null | head -n 1 || true)"
[ -n "$plugin" ] || plugin=/usr/lib/x86_64-linux-gnu/mosquitto_dynamic_security.so
[ -e "$MOSQ_ETC/mosquitto.conf" ] && [ ! -e "$MOSQ_ETC/mosquitto.conf.orig" ] \
    && ! grep -q "Shinshu IoT platform" "$MOSQ_ETC/mosquitto.conf" \
    && cp -p "$MOSQ_ETC/mosquitto.conf" "$MOSQ_ETC/mosquitto.conf.orig"
# The shipped configuration (`shinshu broker config`), with this machine's paths and ports.
sh_ broker config | sed \
    -e "s#^plugin .*#plugin $plugin#" \
    -e "s#^user .*#user $BROKER_USER#" \
    -e "s#^listener 1883 #listener $MQTT_PORT #" \
    -e "s#^listener 8883 #listener $MQTT_TLS_PORT #" \
    -e "s# /var/lib/mosquitto# $MOSQ_LIB#g" \
    -e "s# /etc/mosquitto# $MOSQ_ETC#g" \
    -e "s# /var/log/mosquitto# $R/var/log/mosquitto#g" \
    -e "s# /run/mosquitto# $R/run/mosquitto#g" \
    >"$MOSQ_ETC/mosquitto.conf.new"
mv "$MOSQ_ETC/mosquitto.conf.new" "$MOSQ_ETC/mosquitto.conf"
chmod 0644 "$MOSQ_ETC/mosquitto.conf"
chown_to "$BROKER_USER:$BROKER_USER" "$MOSQ_LIB" "$R/var/log/mosquitto" "$R/run/mosquitto" \
    "$MOSQ_ETC/certs/broker.key"
# Each service's secret where systemd hands it to that service alone.
for secret in "$DATA"/secrets/shinshu-*.secret; do
    install -m 0600 "$secret" "$CRED/$(basename "$secret")"
done

# 6. InfluxDB with authentication on ---------------------------------------------------------
step "6. InfluxDB (auth-enabled)" "InfluxDB（認証あり）"
install -d -m 0755 "$(dirname "$INFLUX_CONF")"
install -d -m 0750 "$INFLUX_LIB"
[ -e "$INFLUX_CONF" ] && [ ! -e "$INFLUX_CONF.orig" ] && ! grep -q "deploy/install.sh" "$INFLUX_CONF" \
    && cp -p "$INFLUX_CONF" "$INFLUX_CONF.orig"
cat >"$INFLUX_CONF" <<EOF
# InfluxDB 1.x for Shinshu IoT (written by deploy/install.sh): loopback only, auth on.
reporting-disabled = true
bind-address = "127.0.0.1:$INFLUX_RPC_PORT"
[meta]
  dir = "$INFLUX_LIB/meta"
[data]
  dir = "$INFLUX_LIB/data"
  wal-dir = "$INFLUX_LIB/wal"
  # Queries are the platform's own; logging each one would fill the journal.
  query-log-enabled = false
  # A query of the last minutes slows as InfluxDB's in-memory cache grows (default 25 MB):
  # at 10,000 readings/s its time rose from 3 to 15-22 ms within a minute. Written to disk at
  # 1 MB it stays near 3 ms and publish -> queryable p50 halves (14-17 ms against 27-32 ms in
  # three interleaved 60 s runs of bench/latency.py), for about 10 % more InfluxDB CPU and the
  # same ingest rate (bench/ingest.py). p99 is set by disk stalls either way.
  cache-snapshot-memory-size = "1m"
[monitor]
  store-enabled = false
[http]
  bind-address = "127.0.0.1:$INFLUX_PORT"
  auth-enabled = true
  log-enabled = false
[logging]
  level = "warn"
  suppress-logo = true
EOF
chmod 0644 "$INFLUX_CONF"
chown_to influxdb:influxdb "$INFLUX_LIB"
influxd_pid=""
stop_influxd() { if [ -n "$influxd_pid" ]; then kill "$influxd_pid" 2>/dev/null || true; wait "$influxd_pid" 2>/dev/null || true; influxd_pid=""; fi; }
trap stop_influxd EXIT
if [ "$SYSTEMD" = 1 ]; then
    systemctl restart influxdb
else
    # No service manager: InfluxDB runs only while its accounts are made.
    install -d -m 0755 "$R/var/log/influxdb"
    influxd -config "$INFLUX_CONF" >>"$R/var/log/influxdb/install.log" 2>&1 &
    influxd_pid=$!
fi
# Both passwords are generated into their files the first time (mode 0600).
sh_ store init --admin-password-file "$CRED/influxdb-admin.secret"
stop_influxd
chown_to "$SVC_USER:$SVC_USER" "$DATA"

# 7. systemd units ---------------------------------------------------------------------------
step "7. systemd units" "systemd ユニット"
install -d -m 0755 "$UNITS"
for unit in shinshu-ingest.service shinshu-alerts.service shinshu-serve.service \
    shinshu-notify.service shinshu-train.service shinshu-train.timer; do
    sed -e "s#/etc/shinshu#$ETC#g" -e "s#/opt/shinshu/venv#$VENV#g" -e "s#/opt/shinshu#$OPT#g" \
        -e "s#--port 8000#--port $SERVE_PORT#" \
        "$SOURCE/deploy/$unit" >"$UNITS/$unit"
    # systemd refuses to start a unit whose credential file is missing: no SMTP account yet.
    if [ ! -e "$CRED/smtp.secret" ]; then
        sed -i -e 's#^LoadCredential=smtp-password#\# (no SMTP password yet) &#' "$UNITS/$unit"
    fi
    chmod 0644 "$UNITS/$unit"
done

# 8. HTTPS in front of `shinshu serve` (Caddy) ------------------------------------------------
step "8. HTTPS (Caddy)" "HTTPS（Caddy）"
install -d -m 0755 "$R/etc/caddy"
[ -e "$R/etc/caddy/Caddyfile" ] && [ ! -e "$R/etc/caddy/Caddyfile.orig" ] \
    && ! grep -q "deploy/install.sh" "$R/etc/caddy/Caddyfile" \
    && cp -p "$R/etc/caddy/Caddyfile" "$R/etc/caddy/Caddyfile.orig"
# Caddy's own CA instead of Let's Encrypt, for a name only the internal network knows.
tls_line="	# tls internal"
[ "$TLS" = internal ] && tls_line="	tls internal"
cat >"$R/etc/caddy/Caddyfile" <<EOF
# HTTPS for the Shinshu IoT dashboard and API (written by deploy/install.sh).
# acme: Caddy obtains and renews a certificate for $DOMAIN by itself (ports 80 and 443 reachable
# from the Internet); internal: Caddy's own CA (give its root.crt to the browsers).
{
	# The admin API, which systemctl reload caddy uses, on this machine only.
	admin {\$CADDY_ADMIN:localhost:2019}
	# Plain HTTP: Let's Encrypt's challenge and the redirect to HTTPS.
	http_port {\$CADDY_HTTP_PORT:80}
	# Caddy's own CA (tls internal) is not added to this machine's trust store.
	skip_install_trust
}

$DOMAIN:$HTTPS_PORT {
$tls_line
	reverse_proxy 127.0.0.1:$SERVE_PORT
	header Strict-Transport-Security "max-age=31536000"
	log {
		output stderr
	}
}
EOF
chmod 0644 "$R/etc/caddy/Caddyfile"

# 9. Logs: journald retention ----------------------------------------------------------------
# The platform's services and InfluxDB write to stdout/stderr, which journald keeps (rotated by
# size and age below): there is no log file of theirs to rotate. Mosquitto's own file
# (/var/log/mosquitto/mosquitto.log) is rotated by Debian's /etc/logrotate.d/mosquitto.
step "9. journald retention" "ログの保存期間"
install -d -m 0755 "$R/etc/systemd/journald.conf.d"
cat >"$R/etc/systemd/journald.conf.d/shinshu.conf" <<'EOF'
# Shinshu IoT (deploy/install.sh): keep logs across reboots, at most 1 GiB and 3 months.
[Journal]
Storage=persistent
SystemMaxUse=1G
MaxRetentionSec=3month
EOF
chmod 0644 "$R/etc/systemd/journald.conf.d/shinshu.conf"

# 10. Database files at this release's schema, and the first admin key ------------------------
# Both before the services start, so that no file of theirs is touched by root while they run.
step "10. migrate, first admin key" "スキーマ更新・最初の管理者キー"
if [ "$SYSTEMD" = 1 ]; then
    # A re-run is an upgrade: database files are migrated while no service has them open.
    systemctl stop shinshu-ingest shinshu-alerts shinshu-notify shinshu-serve 2>/dev/null || true
fi
sh_ migrate
if sh_ keys list --tenant "$TENANT" \
    | awk -F '\t' '$3 == "admin" && $4 == "active" { found = 1 } END { exit !found }'; then
    key_made=""
    echo "an admin key of $TENANT exists: none made (shinshu keys create makes more)"
else
    # Kept in memory only, and printed once at the end.
    key_made="$(sh_ keys create --tenant "$TENANT" --role admin --name "first admin (install)")"
fi
chown_to "$SVC_USER:$SVC_USER" "$DATA"

# 11. The services --------------------------------------------------------------------------
if [ "$SYSTEMD" = 1 ]; then
    step "11. start" "起動"
    systemctl restart systemd-journald
    systemctl daemon-reload
    systemctl restart mosquitto
    systemctl enable --now influxdb
    systemctl enable --now shinshu-ingest shinshu-alerts shinshu-notify shinshu-serve
    systemctl enable --now shinshu-train.timer
    systemctl reload-or-restart caddy
fi

if [ -n "$key_made" ]; then
    step "the first admin key" "最初の管理者キー"
    printf '%s\n' "$key_made"
    echo "keep this token in a password manager: it is not stored anywhere in clear"
    echo "このトークンはパスワード管理ツールに保管してください（平文ではどこにも保存されません）"
fi
echo
echo "installed / インストール完了: https://$DOMAIN$( [ "$HTTPS_PORT" = 443 ] || echo ":$HTTPS_PORT" )/"
