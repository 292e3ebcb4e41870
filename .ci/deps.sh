#!/usr/bin/env bash
# Installs what the tests need on a fresh Debian machine. Safe to re-run:
# whatever is already there is left alone.
#   gcc                 cgo (SQLite)
#   openssh-server      the SFTP connector's tests run a private sshd on 127.0.0.1
#   apache2             the WebDAV connector's tests run Apache mod_dav on 127.0.0.1
#   rclone              encryption interoperability and benchmark peer
#   unison              benchmark peer
#   versitygw           the S3 connector's tests run it on 127.0.0.1 (go install, cached by version)
set -euo pipefail

need=()
command -v gcc >/dev/null || need+=(gcc)
command -v find >/dev/null || need+=(findutils)
[ -x /usr/sbin/sshd ] || need+=(openssh-server)
[ -x /usr/sbin/apache2 ] || need+=(apache2)
command -v rclone >/dev/null || need+=(rclone)
command -v unison >/dev/null || need+=(unison)
if ((${#need[@]})); then
  if [ "$(id -u)" = 0 ]; then
    echo "deps: installing ${need[*]}" >&2
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -qq && apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
  else
    echo "deps: missing packages: ${need[*]} (install them with apt-get as root)" >&2
    exit 1
  fi
fi
# apache2's package starts the system service on some machines; the tests run
# their own instance on a private port and do not need it.
if [ "$(id -u)" = 0 ] && command -v apache2ctl >/dev/null && pgrep -x apache2 >/dev/null; then
  apache2ctl stop >/dev/null 2>&1 || true
fi

VERSITYGW_VERSION=v1.8.0
gobin="$(go env GOPATH)/bin"
stamp="$gobin/.versitygw-$VERSITYGW_VERSION"
if [ ! -x "$gobin/versitygw" ] || [ ! -e "$stamp" ]; then
  echo "deps: go install versitygw@$VERSITYGW_VERSION (a few minutes on a cold cache)" >&2
  go install "github.com/versity/versitygw/cmd/versitygw@$VERSITYGW_VERSION"
  touch "$stamp"
fi
