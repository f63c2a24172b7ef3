#!/usr/bin/env bash
# Builds the base image of the Vagrant docker provider's "box": a Debian
# root file system made with debootstrap from the Debian archive this
# machine already uses, imported with `docker import` (no registry is
# needed). It carries what a VM box would: systemd as PID 1, sshd, sudo,
# curl, the `vagrant` user with Vagrant's well-known key (Vagrant replaces it on
# first boot), and Docker from Debian's packages, so provisioning needs
# no network.
#
# Usage: scripts/box/build.sh [image]   (default: drover-box/debian:bookworm)
# Does nothing when the image already exists and was built by this version
# of the script (its label io.drover.box.recipe); set DROVER_BOX_REBUILD=1
# to build it again. Needs root (debootstrap), docker and debootstrap.
set -euo pipefail

image=${1:-drover-box/debian:bookworm}
suite=${DROVER_BOX_SUITE:-bookworm}
mirror=${DROVER_BOX_MIRROR:-}

# A box from an older recipe lacks what provisioning now expects.
recipe=$(sha256sum "${BASH_SOURCE[0]}" | cut -c1-16)
have=$(docker image inspect -f '{{index .Config.Labels "io.drover.box.recipe"}}' "$image" 2>/dev/null || true)
if [ "${DROVER_BOX_REBUILD:-0}" != 1 ] && [ "$have" = "$recipe" ]; then
  echo "==> Box image $image is present"
  exit 0
fi
[ -z "$have" ] || echo "==> Box image $image is from another version of this script: rebuilding"

if [ -z "$mirror" ]; then
  # The archive apt already uses here: the first deb URI of the sources.
  mirror=$(grep -hoE '^(URIs:|deb) +[^ ]+' /etc/apt/sources.list.d/*.sources /etc/apt/sources.list 2>/dev/null |
    awk '{print $2}' | grep -v security | head -n 1 || true)
  mirror=${mirror:-http://deb.debian.org/debian}
fi

key=""
for k in /usr/share/rubygems-integration/all/gems/vagrant-*/keys/vagrant.pub \
  /opt/vagrant/embedded/gems/gems/vagrant-*/keys/vagrant.pub /usr/share/vagrant/keys/vagrant.pub; do
  [ -f "$k" ] && key=$k && break
done
[ -n "$key" ] || { echo "Vagrant's insecure public key was not found: install vagrant" >&2; exit 1; }

root=$(mktemp -d /var/tmp/drover-box.XXXXXX)
cleanup() { umount -R "$root/proc" 2>/dev/null || true; rm -rf "$root"; }
trap cleanup EXIT

echo "==> debootstrap $suite from $mirror (a few minutes)"
debootstrap --variant=minbase \
  --include=systemd,systemd-sysv,dbus,openssh-server,sudo,iproute2,procps,ca-certificates,curl,docker.io,iptables,kmod,less \
  "$suite" "$root" "$mirror" >"$root.log" 2>&1 || { tail -n 30 "$root.log" >&2; exit 1; }
rm -f "$root.log"

echo "==> Configuring the box (vagrant user, sshd, systemd in a container)"
chroot "$root" /bin/sh -eu <<'CHROOT'
useradd --create-home --shell /bin/bash vagrant
echo 'vagrant:vagrant' | chpasswd
echo 'vagrant ALL=(ALL) NOPASSWD:ALL' > /etc/sudoers.d/vagrant
chmod 0440 /etc/sudoers.d/vagrant
install -d -m 0700 -o vagrant -g vagrant /home/vagrant/.ssh
# Services that make no sense, or fail, inside a container.
for unit in systemd-udevd.service systemd-udev-trigger.service systemd-modules-load.service \
  getty@tty1.service console-getty.service systemd-remount-fs.service sys-kernel-debug.mount; do
  systemctl mask "$unit" >/dev/null 2>&1 || true
done
systemctl enable ssh >/dev/null 2>&1 || true
# Docker is installed but off: provisioning turns it on where the machine
# can run it (a VM), and leaves it off in an unprivileged container.
systemctl disable docker.service docker.socket containerd.service >/dev/null 2>&1 || true
# Host keys are made at first boot, so that every machine has its own.
rm -f /etc/ssh/ssh_host_*
mkdir -p /etc/systemd/system/ssh.service.d
printf '[Service]\nExecStartPre=\nExecStartPre=/usr/bin/ssh-keygen -A\nExecStartPre=/usr/sbin/sshd -t\n' > /etc/systemd/system/ssh.service.d/keys.conf
apt-get clean
rm -rf /var/lib/apt/lists/*
CHROOT
install -m 0600 -o 1000 -g 1000 "$key" "$root/home/vagrant/.ssh/authorized_keys"

echo "==> docker import as $image"
tar -C "$root" -c . | docker import \
  -c 'CMD ["/sbin/init"]' -c 'ENV container=docker' \
  -c 'LABEL io.drover.box=debian-'"$suite" -c "LABEL io.drover.box.recipe=$recipe" -m "Drover Vagrant box: Debian $suite from $mirror" \
  - "$image" >/dev/null
echo "==> Box image $image is ready"
