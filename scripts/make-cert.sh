#!/usr/bin/env bash
# Makes a self-signed certificate for 127.0.0.1 and localhost in DIR (cert.pem, key.pem:
# P-256, a year) unless both are already there. Used by run.sh --tls and bench.sh's wss row.
# Usage: scripts/make-cert.sh DIR
set -euo pipefail
dir=${1:?usage: make-cert.sh DIR}
[[ -f "$dir/cert.pem" && -f "$dir/key.pem" ]] && exit 0
command -v openssl >/dev/null || { echo "make-cert: openssl not found (Debian package: openssl)" >&2; exit 1; }
mkdir -p "$dir"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:prime256v1 -nodes -days 365 \
  -subj /CN=localhost -addext "subjectAltName=DNS:localhost,IP:127.0.0.1" \
  -keyout "$dir/key.pem" -out "$dir/cert.pem" 2>/dev/null
echo "made a self-signed certificate in $dir (a browser asks you to accept it once)"
