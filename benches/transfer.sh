#!/usr/bin/env bash
# Transfer benchmark (not a test): ingest and download of a large file, catalog
# reads under load, and the node's peak memory. Prints ratios to the floors on
# this machine: `openssl dgst -sha256` for ingest (hashing is the floor),
# nginx's sendfile for download, nginx's static small file for small requests.
#
#   bash benches/transfer.sh [SIZE_MIB]      # default 1024
#
# Installs nginx and wrk from Debian's packages when they are missing.
set -euo pipefail
cd "$(dirname "$0")/.."
size_mib=${1:-1024}
small_mib=64

need() { command -v "$1" >/dev/null || { apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "$2" >/dev/null; }; }
need nginx nginx
need wrk wrk
need curl curl

cargo build --release --quiet
bin=target/release/shulian
work=$(mktemp -d)
node_pid=""; nginx_conf=""
cleanup() {
  [ -n "$node_pid" ] && kill "$node_pid" 2>/dev/null || true
  [ -n "$nginx_conf" ] && nginx -c "$nginx_conf" -s stop 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
now() { date +%s.%N; }
rate() { python3 -c "print(f'{$1/($3-$2)/1e6:.0f}')"; }                 # bytes start end -> MB/s
ratio() { python3 -c "print(f'{$1/$2:.2f}')"; }
peak_kib() { awk '/VmHWM/ {print $2}' "/proc/$node_pid/status"; }
reset_peak() { echo 5 > "/proc/$node_pid/clear_refs"; }

port=$(free_port)
"$bin" serve --listen "127.0.0.1:$port" --data-dir "$work/node" --log-format json >"$work/node.log" 2>&1 &
node_pid=$!
for _ in $(seq 1 100); do curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && break; sleep 0.1; done
token=$("$bin" admin add-publisher Bench --id bench --data-dir "$work/node" | tail -n1)
node="http://127.0.0.1:$port"

ingest() { # file -> seconds of one PUT of its bytes
  local file=$1 digest start end
  digest=$(openssl dgst -sha256 -r "$file" | cut -d' ' -f1)
  start=$(now)
  curl -sf -o /dev/null -T "$file" -H "Authorization: Bearer $token" -H "Content-Type: application/octet-stream" \
    "$node/api/v1/blobs/$digest"
  end=$(now)
  echo "$start $end"
}

report_rss=()
# Publish a fresh big file with the CLI (client hash + upload + server ingest).
big="$work/pkg/big.bin"
mkdir -p "$work/pkg"
head -c "$((size_mib * 1024 * 1024))" /dev/urandom > "$big"
bytes=$(stat -c %s "$big")
cat > "$work/pkg/datapackage.json" <<JSON
{"name": "bench", "title": "Benchmark", "licenses": [{"name": "CC0-1.0"}],
 "resources": [{"path": "big.bin"}], "shulian": {"access": "open"}}
JSON
reset_peak
start=$(now); "$bin" publish "$work/pkg" --node "$node" --token "$token" --json >/dev/null; end=$(now)
publish_rate=$(rate "$bytes" "$start" "$end")
report_rss+=("publish ${size_mib} MiB: peak RSS $(( $(peak_kib) / 1024 )) MiB")

# Raw ingest of other bytes of both sizes (one PUT each): hash while streaming, staged, fsynced, committed.
for mib in $small_mib "$size_mib"; do
  head -c "$((mib * 1024 * 1024))" /dev/urandom > "$work/data-$mib.bin"
  reset_peak
  read -r start end < <(ingest "$work/data-$mib.bin")
  report_rss+=("ingest ${mib} MiB: peak RSS $(( $(peak_kib) / 1024 )) MiB")
done
ingest_rate=$(rate "$bytes" "$start" "$end")
rm -f "$work/data-$size_mib.bin"

start=$(now); openssl dgst -sha256 "$big" >/dev/null; end=$(now)
hash_rate=$(rate "$bytes" "$start" "$end")
start=$(now); dd if="$big" of="$work/node/dd-floor.bin" bs=8M conv=fsync status=none; end=$(now)
disk_rate=$(rate "$bytes" "$start" "$end")
rm -f "$work/node/dd-floor.bin"

reset_peak
start=$(now); curl -sf -o /dev/null "$node/api/v1/datasets/bench/versions/1/files/big.bin"; end=$(now)
download_rate=$(rate "$bytes" "$start" "$end")
report_rss+=("download ${size_mib} MiB: peak RSS $(( $(peak_kib) / 1024 )) MiB")

nginx_port=$(free_port)
mkdir -p "$work/www" && cp "$big" "$work/www/big.bin" && head -c 1024 /dev/urandom > "$work/www/small.bin"
nginx_conf="$work/nginx.conf"
cat > "$nginx_conf" <<CONF
worker_processes 2; pid $work/nginx.pid; error_log $work/nginx-error.log; daemon on;
events { worker_connections 1024; }
http { access_log off; sendfile on; tcp_nopush on; tcp_nodelay on;
  client_body_temp_path $work; proxy_temp_path $work; fastcgi_temp_path $work; uwsgi_temp_path $work; scgi_temp_path $work;
  server { listen 127.0.0.1:$nginx_port; root $work/www; } }
CONF
nginx -c "$nginx_conf"
start=$(now); curl -sf -o /dev/null "http://127.0.0.1:$nginx_port/big.bin"; end=$(now)
nginx_rate=$(rate "$bytes" "$start" "$end")

wrk_rps() { wrk -t2 -c16 -d8s "$1" | awk '/Requests\/sec/ {print $2}'; }
catalog_rps=$(wrk_rps "$node/api/v1/datasets/bench")
nginx_rps=$(wrk_rps "http://127.0.0.1:$nginx_port/small.bin")

echo
echo "shulian transfer benchmark, ${size_mib} MiB file, $(nproc) cores"
echo "  ingest (PUT, hash + durable write)   ${ingest_rate} MB/s   = $(ratio "$ingest_rate" "$hash_rate") x openssl dgst -sha256 (${hash_rate} MB/s); durable-copy floor (dd conv=fsync) ${disk_rate} MB/s = $(ratio "$ingest_rate" "$disk_rate") x"
echo "  shulian publish (client hash + PUT)   ${publish_rate} MB/s   = $(ratio "$publish_rate" "$hash_rate") x openssl"
echo "  download (GET)                        ${download_rate} MB/s   = $(ratio "$download_rate" "$nginx_rate") x nginx sendfile (${nginx_rate} MB/s)"
echo "  catalog read, 16 connections          ${catalog_rps} req/s = $(ratio "$catalog_rps" "$nginx_rps") x nginx 1 KiB static (${nginx_rps} req/s)"
for line in "${report_rss[@]}"; do echo "  $line"; done
