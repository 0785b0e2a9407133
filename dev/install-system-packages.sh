#!/usr/bin/env bash
# Install the Debian packages the stack and the tests need, as root, when missing:
#   the standalone stack: RabbitMQ, Redis;
#   the local cluster's node and image builds: containerd (CRI) + runc, the CNI plugins, iptables,
#   conntrack, buildah (daemonless image builds), mmdebstrap (the Debian base image), gcc (pause);
#   the mini-program: Node.js (when no node is on PATH), Chromium and CJK fonts (browser tests).
# Not root: say what to install and fail.
set -euo pipefail
# "<file that proves the package is installed> <package>"
wanted=(
  "/usr/lib/rabbitmq/bin/rabbitmq-server rabbitmq-server"
  "/usr/bin/redis-server redis-server"
  "/usr/bin/containerd containerd"
  "/usr/sbin/runc runc"
  "/usr/lib/cni/bridge containernetworking-plugins"
  "/usr/sbin/xtables-nft-multi iptables"
  "/usr/sbin/conntrack conntrack"
  "/usr/bin/buildah buildah"
  "/usr/bin/mmdebstrap mmdebstrap"
  "/usr/bin/gcc gcc"
  "/usr/lib/x86_64-linux-gnu/libc.a libc6-dev"
  "/usr/bin/chromium chromium"
  "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc fonts-noto-cjk"
)
need=()
for entry in "${wanted[@]}"; do
  file=${entry% *} package=${entry#* }
  [ -e "$file" ] || need+=("$package")
done
command -v node >/dev/null || need+=(nodejs npm)
[ ${#need[@]} -eq 0 ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
  echo "missing Debian packages: ${need[*]}; install them with: sudo apt-get install -y ${need[*]}" >&2
  exit 1
fi
echo "install-system-packages: apt-get install ${need[*]}"
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# policy-rc.d 101: packages must not start their services (tests, `make run` and the local cluster
# start their own instances, e.g. a private containerd).
had_policy=0; [ -e /usr/sbin/policy-rc.d ] && had_policy=1
if [ $had_policy -eq 0 ]; then printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d; chmod +x /usr/sbin/policy-rc.d; fi
apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
if [ $had_policy -eq 0 ]; then rm -f /usr/sbin/policy-rc.d; fi
