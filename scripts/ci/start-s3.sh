#!/usr/bin/env bash
# Starts a real S3 engine for the test suite: Ceph's RADOS Gateway (radosgw) in front of a throw-away
# single-host Ceph cluster — one monitor, one OSD that keeps objects in RAM (memstore), no manager.
#
# Where: http://127.0.0.1:${RGW_PORT:-7480}, loopback only. The monitor takes 127.0.0.1:3300 and :6789
# (MON_V2_PORT, MON_V1_PORT). Its files (config, keys, pid files, logs) live in
# ${STOWAGE_S3_DIR:-${TMPDIR:-/tmp}/stowage-s3}; the stored objects live in the OSD's memory, capped
# at MEMSTORE_BYTES (2 GiB by default), so each fresh start is an empty engine.
#
# Needs: root (the daemons), and Debian/Ubuntu's ceph packages — ceph-mon, ceph-osd and radosgw,
# which bring ceph, ceph-authtool, monmaptool and radosgw-admin — plus curl. With
# STOWAGE_S3_INSTALL=1 the script installs the missing ones with apt-get; without it, it names them
# and stops.
#
# Run, from the repository root:
#   sudo scripts/ci/start-s3.sh            # ~13 s with the packages present
#   S3_TEST_ENDPOINT=http://127.0.0.1:7480 npm test
#   sudo scripts/ci/stop-s3.sh
# The S3 user's keys are S3_TEST_ACCESS_KEY / S3_TEST_SECRET_KEY, defaulting to the ones the tests
# default to, so the suite needs only S3_TEST_ENDPOINT. Clients need path-style addressing.
#
# Starting again while the engine answers leaves it as it is; a half-started or crashed one is
# stopped and started afresh.
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
dir=${STOWAGE_S3_DIR:-${TMPDIR:-/tmp}/stowage-s3}
port=${RGW_PORT:-7480}
mon_v2=${MON_V2_PORT:-3300}
mon_v1=${MON_V1_PORT:-6789}
access_key=${S3_TEST_ACCESS_KEY:-TESTACCESSKEY0000001}
secret_key=${S3_TEST_SECRET_KEY:-testsecretkey0000000000000000000000000001}
endpoint=http://127.0.0.1:$port

fail() { echo "start-s3: $*" >&2; exit 1; }
answers() { curl -s -o /dev/null --max-time 2 "$endpoint/"; }
daemon_alive() { # <name>: the pid file's process is alive and is still a ceph daemon
  local pid
  pid=$(cat "$dir/run/$1.pid" 2>/dev/null) || return 1
  case "$(cat "/proc/$pid/comm" 2>/dev/null)" in radosgw | ceph-osd | ceph-mon) return 0 ;; esac
  return 1
}

# --- what the machine must have -------------------------------------------------------------------
# binary → the Debian package that brings it
declare -A package_of=(
  [ceph-mon]=ceph-mon [monmaptool]=ceph-mon [ceph-osd]=ceph-osd [radosgw]=radosgw
  [radosgw-admin]=radosgw [ceph]=ceph-mon [ceph-authtool]=ceph-mon [curl]=curl
)
missing=()
for binary in "${!package_of[@]}"; do
  command -v "$binary" >/dev/null || missing+=("$binary")
done
if ((${#missing[@]})); then
  packages=$(for b in "${missing[@]}"; do echo "${package_of[$b]}"; done | sort -u | tr '\n' ' ')
  if [ "${STOWAGE_S3_INSTALL:-0}" != 1 ]; then
    fail "missing ${missing[*]}. Install them (apt-get install --no-install-recommends ${packages% }) or rerun with STOWAGE_S3_INSTALL=1."
  fi
  [ "$(id -u)" = 0 ] || fail "installing ${packages% } needs root"
  echo "start-s3: installing ${packages% } with apt-get"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  # shellcheck disable=SC2086 # one word per package
  apt-get install -y -qq --no-install-recommends $packages >/dev/null
fi
[ "$(id -u)" = 0 ] || fail "the ceph daemons need root; run it with sudo"

# --- already running? -----------------------------------------------------------------------------
if daemon_alive client.rgw.a && daemon_alive osd.0 && daemon_alive mon.a && answers; then
  echo "start-s3: already running; S3 endpoint $endpoint (access key $access_key)"
  exit 0
fi
if [ -e "$dir" ]; then
  echo "start-s3: clearing what a previous start left in $dir"
  "$here/stop-s3.sh"
fi
# Another program on one of our ports would make a daemon fail later with a cryptic log line.
for p in "$port" "$mon_v2" "$mon_v1"; do
  if (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
    fail "127.0.0.1:$p is taken by another program (set RGW_PORT, MON_V2_PORT, MON_V1_PORT)"
  fi
done

started_ms=$(date +%s%3N)
mkdir -p "$dir"/{run,log,mon.a,osd.0}
conf=$dir/ceph.conf
keyring=$dir/keyring
fsid=$(cat /proc/sys/kernel/random/uuid)
ceph=(ceph -c "$conf" --connect-timeout 30)
ready=0
# A start that fails half-way stops the daemons it did start, keeping the logs for a look.
stop_if_failed() {
  [ "$ready" = 1 ] && return
  KEEP_S3_DIR=1 "$here/stop-s3.sh" >/dev/null 2>&1 || true
  echo "start-s3: failed; the logs are kept in $dir/log (scripts/ci/stop-s3.sh clears them)" >&2
}
trap stop_if_failed EXIT

# One copy of each object, one node: every redundancy and free-space warning is turned off so the
# single OSD is enough for the pools radosgw creates, and nothing listens beyond loopback.
cat >"$conf" <<CONF
[global]
fsid = $fsid
mon host = [v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]
mon initial members = a
public addr = 127.0.0.1
cluster addr = 127.0.0.1
public network = 127.0.0.1/32
ms bind ipv6 = false
auth cluster required = cephx
auth service required = cephx
auth client required = cephx
auth allow insecure global id reclaim = false
keyring = $keyring
run dir = $dir/run
admin socket = $dir/run/\$name.asok
pid file = $dir/run/\$name.pid
log file = $dir/log/\$name.log
crash dir = $dir/log
log to stderr = false
err to stderr = false
osd pool default size = 1
osd pool default min size = 1
osd pool default pg num = 8
osd pool default pgp num = 8
osd pool default pg autoscale mode = off
osd crush chooseleaf type = 0
mon allow pool size one = true
mon allow pool delete = true
mon max pg per osd = 1000
mon warn on pool no redundancy = false
mon data avail crit = 1
mon data avail warn = 2
mon osd full ratio = .99
mon osd nearfull ratio = .99
mon osd backfillfull ratio = .99
osd failsafe full ratio = .99

[mon.a]
mon data = $dir/mon.a

[osd]
osd data = $dir/osd.\$id
osd objectstore = memstore
memstore device bytes = ${MEMSTORE_BYTES:-2147483648}
osd class load list = *
osd class default list = *
osd op num shards = 1
osd op num threads per shard = 2

[client.rgw.a]
rgw frontends = beast endpoint=127.0.0.1:$port
rgw thread pool size = 64
rgw enable usage log = false
rgw dns name = localhost
CONF

# --- monitor: its key, the admin's key, a one-member map ------------------------------------------
ceph-authtool --create-keyring "$keyring" --gen-key -n mon. --cap mon 'allow *' >/dev/null
ceph-authtool "$keyring" --gen-key -n client.admin \
  --cap mon 'allow *' --cap osd 'allow *' --cap mds 'allow *' --cap mgr 'allow *' >/dev/null
monmaptool --create --clobber --fsid "$fsid" \
  --addv a "[v2:127.0.0.1:$mon_v2,v1:127.0.0.1:$mon_v1]" "$dir/monmap" >/dev/null
ceph-mon -c "$conf" --mkfs -i a --monmap "$dir/monmap" --keyring "$keyring"
ceph-mon -c "$conf" -i a # forks into the background, writing run/mon.a.pid
for _ in $(seq 60); do "${ceph[@]}" mon stat >/dev/null 2>&1 && break; sleep 0.5; done
"${ceph[@]}" mon stat >/dev/null || fail "the monitor did not answer; see $dir/log/mon.a.log"

# --- one OSD, registered with the monitor under id 0 ----------------------------------------------
osd_uuid=$(cat /proc/sys/kernel/random/uuid)
osd_secret=$(ceph-authtool --gen-print-key)
printf '{"cephx_secret": "%s"}' "$osd_secret" >"$dir/osd.0/new.json"
osd_id=$("${ceph[@]}" osd new "$osd_uuid" -i "$dir/osd.0/new.json")
[ "$osd_id" = 0 ] || fail "the monitor gave the OSD id $osd_id, expected 0"
ceph-authtool --create-keyring "$dir/osd.0/keyring" --name osd.0 --add-key "$osd_secret" >/dev/null
ceph-osd -c "$conf" -i 0 --mkfs --osd-uuid "$osd_uuid" --keyring "$dir/osd.0/keyring" >"$dir/log/osd-mkfs.out" 2>&1
ceph-osd -c "$conf" -i 0 --keyring "$dir/osd.0/keyring" # forks, writing run/osd.0.pid
osd_up() { "${ceph[@]}" osd stat -f json 2>/dev/null | grep -q '"num_up_osds":1'; }
for _ in $(seq 120); do osd_up && break; sleep 0.5; done
osd_up || fail "the OSD did not come up; see $dir/log/osd.0.log"

# --- gateway: its cephx key, the S3 user, then radosgw itself -------------------------------------
"${ceph[@]}" auth get-or-create client.rgw.a mon 'allow rw' osd 'allow rwx' mgr 'allow rw' >>"$keyring"
radosgw-admin -c "$conf" user create --uid stowage-test --display-name "Stowage tests" \
  --access-key "$access_key" --secret-key "$secret_key" >"$dir/log/user.json"
radosgw -c "$conf" -n client.rgw.a # forks, writing run/client.rgw.a.pid
for _ in $(seq 120); do answers && break; sleep 0.5; done
if ! answers; then
  tail -20 "$dir/log/client.rgw.a.log" >&2 || true
  fail "radosgw did not answer on $endpoint"
fi
ready=1
echo "start-s3: S3 endpoint $endpoint (access key $access_key) ready in $(($(date +%s%3N) - started_ms)) ms"
