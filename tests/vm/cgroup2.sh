#!/bin/bash
# Runs tests on cgroups v2 from a machine that has v1 (like the CI's): boots Debian's
# kernel in QEMU with a cgroup2 hierarchy at /sys/fs/cgroup holding every controller,
# the host's / shared read-only over 9p (tmpfs on /tmp, /run, /root, /var/tmp), and
# runs pytest there on the built test binaries (build-test/bin).
#
#   bash tests/vm/cgroup2.sh                 # the tests that read cgroups
#   bash tests/vm/cgroup2.sh tests/system    # any pytest arguments
#
# Needs root (installs qemu-system-x86, linux-image-amd64 and busybox-static when
# missing). QEMU runs with TCG by default (nested KVM hangs at boot on some hosts);
# VM_ACCEL="-enable-kvm -cpu host" changes that. Exits with pytest's status.
set -euo pipefail

repo=$(cd "$(dirname "$0")/../.." && pwd)
bin=${MEZZO_BIN:-$repo/build-test/bin}
[ -x "$bin/mezzo-agent" ] || { echo "cgroup2.sh: $bin/mezzo-agent is not built (make build-test)" >&2; exit 2; }
[ "$(id -u)" = 0 ] || { echo "cgroup2.sh: needs root" >&2; exit 2; }

need=()
command -v qemu-system-x86_64 >/dev/null || need+=(qemu-system-x86)
command -v busybox >/dev/null || need+=(busybox-static)
ls /boot/vmlinuz-* >/dev/null 2>&1 || need+=(linux-image-amd64)
if [ ${#need[@]} -gt 0 ]; then
  DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends "${need[@]}" >/dev/null
fi

kernel=$(ls /boot/vmlinuz-* | sort -V | tail -1)
kver=${kernel#/boot/vmlinuz-}
[ -d "/lib/modules/$kver" ] || { echo "cgroup2.sh: no /lib/modules/$kver for $kernel" >&2; exit 2; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/root/bin" "$work/root/lib/mod" "$work/root/proc" "$work/root/sys" "$work/root/dev" "$work/root/newroot"
cp "$(command -v busybox)" "$work/root/bin/busybox"
# The 9p-over-virtio modules, in load order (Debian builds them as modules).
mods="virtio_ring virtio virtio_pci_modern_dev virtio_pci_legacy_dev virtio_pci netfs fscache 9pnet 9pnet_virtio 9p"
for m in $mods; do
  f=$(modinfo -k "$kver" -n "$m" 2>/dev/null) || continue # built in
  case $f in
    *.ko) cp "$f" "$work/root/lib/mod/$m.ko" ;;
    *.ko.xz) xz -dc "$f" >"$work/root/lib/mod/$m.ko" ;;
    *.ko.zst) zstd -qdc "$f" >"$work/root/lib/mod/$m.ko" ;;
  esac
done

cat >"$work/root/init" <<EOF
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc; mount -t sysfs sys /sys; mount -t devtmpfs dev /dev
for m in $mods; do [ -f /lib/mod/\$m.ko ] && insmod /lib/mod/\$m.ko; done
N=/newroot
mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=512000,cache=loose hostroot \$N || { echo "=== vm: 9p mount failed"; poweroff -f; }
mount -t proc proc \$N/proc; mount -t sysfs sys \$N/sys; mount -t devtmpfs dev \$N/dev
mkdir -p \$N/dev/pts \$N/dev/shm; mount -t devpts devpts \$N/dev/pts; mount -t tmpfs tmpfs \$N/dev/shm
for d in /tmp /run /root /var/tmp; do mount -t tmpfs tmpfs \$N\$d; done
mount -t cgroup2 cgroup2 \$N/sys/fs/cgroup
ip link set lo up
echo "=== vm: kernel \$(uname -r), cgroup2 controllers: \$(cat \$N/sys/fs/cgroup/cgroup.controllers)"
cp /pytest-cmd \$N/tmp/pytest-cmd
chroot \$N /bin/bash /tmp/pytest-cmd
echo "=== vm: exit \$?"
poweroff -f
EOF
chmod +x "$work/root/init"
if [ $# -eq 0 ]; then
  set -- tests/system/test_containerizer.py tests/system/test_executors.py tests/system/test_agent_api.py \
    -k "cgroup or cfs or shares or hog or double or crashed or limits or isolation or containers"
fi
{
  printf 'cd %q && export PYTHONDONTWRITEBYTECODE=1 MEZZO_BIN=%q &&' "$repo" "$bin"
  printf ' /usr/bin/python3 -m pytest -p no:cacheprovider --color=no -q -rs'
  printf ' %q' "$@"
  echo
} >"$work/root/pytest-cmd"
(cd "$work/root" && find . | cpio -o -H newc 2>/dev/null | gzip -1) >"$work/initrd.gz"

# shellcheck disable=SC2086
timeout "${VM_TIMEOUT:-3000}" qemu-system-x86_64 ${VM_ACCEL:--accel tcg,thread=multi -cpu max} -smp 2 -m 4096 \
  -nographic -no-reboot -kernel "$kernel" -initrd "$work/initrd.gz" -append "console=ttyS0 quiet panic=-1" \
  -virtfs local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap </dev/null |
  stdbuf -o0 tr -d '\r' | sed -u -n 's/.*=== vm:/=== vm:/;/^=== vm:/,$p' | tee "$work/out"  || true
rc=$(sed -n 's/^=== vm: exit \([0-9]*\).*/\1/p' "$work/out")
exit "${rc:-1}"
