#!/usr/bin/env bash
# The QEMU display tests' guest: Debian's kernel (VGA text console, vesafb, i8042/atkbd built in;
# psmouse, evdev, the USB/HID stack for usb-tablet, virtio-input and virtio-gpu copied as modules)
# and a busybox-static initramfs whose /init is ./init, with the test programs (*.c) built static.
# Cached: prints the cache directory holding vmlinuz and initrd.gz; rebuilds only when this
# script, ./init or a ./*.c changed. VGPU_QEMU_GUEST_CACHE moves the cache (default <repo>/.cache/qemu-guest).
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
out=${VGPU_QEMU_GUEST_CACHE:-$here/../../.cache/qemu-guest}
mkdir -p "$out"; out=$(cd "$out" && pwd)
# The key is every input of the image (the recipe, /init and each program, by name and content).
stamp=$(cd "$here" && for f in make-guest.sh init *.c; do echo "== $f"; cat "$f"; done | sha256sum | cut -c1-16)
if [ -f "$out/stamp" ] && [ "$(cat "$out/stamp")" = "$stamp" ] && [ -f "$out/vmlinuz" ] && [ -f "$out/initrd.gz" ]; then
  echo "$out"; exit 0
fi
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT
bb=$(command -v busybox || true); [ -x /bin/busybox ] && bb=/bin/busybox
if [ -z "$bb" ] || ! "$bb" --list | grep -qx cttyhack; then
  apt-get install -y -q busybox-static >&2; bb=/bin/busybox
fi
cd "$work"
pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
if [ -z "$pkg" ]; then
  apt-get update -q >&2
  pkg=$(apt-cache depends linux-image-amd64 | awk '/Depends: linux-image-[0-9]/{print $2; exit}')
fi
[ -n "$pkg" ] || { echo "make-guest: apt knows no linux-image-amd64" >&2; exit 1; }
apt-get download "$pkg" >&2 2>/dev/null || { apt-get update -q >&2 && apt-get download "$pkg" >&2; }
dpkg -x ./"$pkg"_*.deb kpkg
mkdir -p root/bin root/dev root/proc root/sys root/tmp root/lib/modules
cp "$bb" root/bin/busybox
# Modules in load order (dependencies first): PS/2 mouse and evdev; USB (xHCI) with HID for a
# usb-tablet; virtio-gpu and virtio-input with their stack. A missing one fails the build: a
# guest without its mouse only shows up later as a test waiting for input that never comes.
i=10
for m in psmouse evdev usb-common usbcore xhci-hcd xhci-pci hid usbhid hid-generic \
         drm drm_kms_helper drm_shmem_helper virtio_ring virtio virtio_pci_modern_dev \
         virtio_pci_legacy_dev virtio_pci virtio_dma_buf virtio-gpu virtio_input; do
  f=$(find kpkg/lib/modules -name "$m.ko" | head -1)
  [ -n "$f" ] || { echo "make-guest: $pkg has no module $m.ko" >&2; exit 1; }
  cp "$f" "root/lib/modules/$i-$m.ko"; i=$((i+1))
done
cp "$here/init" root/init; chmod +x root/init
# The test programs (static: the initramfs has no libc).
for c in "$here"/*.c; do cc -static -O2 -o "root/bin/$(basename "$c" .c)" "$c" >&2; done
(cd root && find . | cpio -o -H newc 2>/dev/null | gzip -6) > "$out/initrd.gz.tmp"
cp kpkg/boot/vmlinuz-* "$out/vmlinuz.tmp"
mv "$out/vmlinuz.tmp" "$out/vmlinuz"; mv "$out/initrd.gz.tmp" "$out/initrd.gz"
echo "$stamp" > "$out/stamp"; echo "$pkg" > "$out/kernel-package"
echo "$out"
