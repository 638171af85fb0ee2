#!/usr/bin/env bash
# shellcheck shell=bash
# What the tests need from Debian, installed only where it is missing. Source
# it, then call vmm_install_test_packages with the caller's name for its one
# line:
#
#     . cnf/test-packages.sh && vmm_install_test_packages .ci/run
#
# Used by .ci/run and cnf/soak.sh, so a soak on a fresh machine runs the guest
# tests instead of skipping them.

vmm_install_test_packages() {
    # Real guests and peers the tests drive (../shared/TESTBED.md): user-mode
    # Linux as a vhost-user front-end, busybox for its init, fio, e2fsprogs and socat
    # inside it, qemu-storage-daemon as the peer back-end, SeaBIOS as the
    # firmware that boots on our platform, iperf3 and iproute2 for the network
    # tests (namespaces, TAP devices), iasl to check the ACPI tables we generate,
    # Debian's cloud kernel and lz4 (its vmlinux is the bzImage's LZ4 payload)
    # for the Linux direct-boot tests.
    local need="" sudo=""
    [ -x /usr/bin/linux.uml ] || need="$need user-mode-linux"
    [ -x /bin/busybox ] || need="$need busybox-static"
    command -v fio >/dev/null 2>&1 || need="$need fio"
    command -v mkfs.ext4 >/dev/null 2>&1 || need="$need e2fsprogs"
    command -v qemu-storage-daemon >/dev/null 2>&1 || need="$need qemu-system-common"
    [ -r /usr/share/seabios/bios-256k.bin ] || need="$need seabios"
    command -v iperf3 >/dev/null 2>&1 || need="$need iperf3"
    # socat speaks AF_VSOCK inside user-mode Linux for the virtio-vsock test.
    command -v socat >/dev/null 2>&1 || need="$need socat"
    command -v iasl >/dev/null 2>&1 || need="$need acpica-tools"
    command -v ip >/dev/null 2>&1 || need="$need iproute2"
    compgen -G '/boot/vmlinuz-*-cloud-amd64' >/dev/null || need="$need linux-image-cloud-amd64"
    command -v lz4 >/dev/null 2>&1 || need="$need lz4"
    # A C compiler builds the ptrace shim user-mode Linux 6.1 needs on hosts with
    # AVX-512 or AMX (cnf/uml-xstate-shim.c).
    command -v cc >/dev/null 2>&1 || need="$need gcc libc6-dev"
    # iPXE's virtio-net option ROM, run from our device by SeaBIOS; dnsmasq (the
    # binary only, no system service) for its DHCP test where KVM is hardware.
    [ -r /usr/lib/ipxe/qemu/pxe-virtio.rom ] || need="$need ipxe-qemu"
    [ -x /usr/sbin/dnsmasq ] || need="$need dnsmasq-base"
    # GRUB 2 for BIOS (grub-mkimage, boot.img and the i386-pc modules): the
    # GrubBootTest disk, booted by SeaBIOS on every back end.
    [ -x /usr/bin/grub-mkimage ] && [ -r /usr/lib/grub/i386-pc/boot.img ] || need="$need grub-pc-bin"
    # binutils' objdump: the decoder oracle of vmm.emu's differential tests.
    command -v objdump >/dev/null 2>&1 || need="$need binutils"
    if [ -n "$need" ]; then
        if [ "$(id -u)" -ne 0 ]; then sudo=sudo; fi
        echo "$1: installing$need (apt-get)"
        export DEBIAN_FRONTEND=noninteractive
        $sudo apt-get update -qq >/dev/null
        # shellcheck disable=SC2086
        $sudo apt-get install -y -qq --no-install-recommends $need >/dev/null
    fi
}
