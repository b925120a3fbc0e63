/* Test guest program: sets a KMS hardware cursor (64x64 ARGB, a 16x16 opaque red square at the
 * top-left, hotspot (3, 5)) at (200, 100) on the first CRTC of /dev/dri/card0 with
 * DRM_IOCTL_MODE_CURSOR2, prints CURSOR-SET to stdout, then keeps the device open (closing it
 * would let fbcon restore its mode and drop the cursor). Structs as in <drm/drm_mode.h>. */
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

struct card_res { uint64_t fbs, crtcs, connectors, encoders; uint32_t n_fbs, n_crtcs, n_connectors, n_encoders, min_w, max_w, min_h, max_h; };
struct create_dumb { uint32_t height, width, bpp, flags, handle, pitch; uint64_t size; };
struct map_dumb { uint32_t handle, pad; uint64_t offset; };
struct cursor2 { uint32_t flags, crtc_id; int32_t x, y; uint32_t width, height, handle; int32_t hot_x, hot_y; };

#define GETRESOURCES _IOWR('d', 0xA0, struct card_res)
#define CREATE_DUMB _IOWR('d', 0xB2, struct create_dumb)
#define MAP_DUMB _IOWR('d', 0xB3, struct map_dumb)
#define CURSOR2 _IOWR('d', 0xBB, struct cursor2)

int main(void) {
  int fd = open("/dev/dri/card0", O_RDWR | O_CLOEXEC);
  if (fd < 0) { perror("CURSOR-FAILED open"); return 1; }
  uint32_t crtcs[8] = {0};
  struct card_res res = {0};
  res.crtcs = (uintptr_t)crtcs;
  res.n_crtcs = 8;
  if (ioctl(fd, GETRESOURCES, &res) < 0 || res.n_crtcs == 0) { perror("CURSOR-FAILED resources"); return 1; }
  struct create_dumb cd = { .height = 64, .width = 64, .bpp = 32 };
  if (ioctl(fd, CREATE_DUMB, &cd) < 0) { perror("CURSOR-FAILED create_dumb"); return 1; }
  struct map_dumb md = { .handle = cd.handle };
  if (ioctl(fd, MAP_DUMB, &md) < 0) { perror("CURSOR-FAILED map_dumb"); return 1; }
  uint32_t *px = mmap(0, cd.size, PROT_READ | PROT_WRITE, MAP_SHARED, fd, md.offset);
  if (px == MAP_FAILED) { perror("CURSOR-FAILED mmap"); return 1; }
  memset(px, 0, cd.size);
  for (int y = 0; y < 16; y++) for (int x = 0; x < 16; x++) px[y * (cd.pitch / 4) + x] = 0xffff0000u;
  struct cursor2 c = { .flags = 3, .crtc_id = crtcs[0], .x = 200, .y = 100, .width = 64, .height = 64, .handle = cd.handle, .hot_x = 3, .hot_y = 5 };
  if (ioctl(fd, CURSOR2, &c) < 0) { perror("CURSOR-FAILED cursor2"); return 1; }
  printf("CURSOR-SET crtc %u\n", crtcs[0]);
  fflush(stdout);
  for (;;) pause();
}
