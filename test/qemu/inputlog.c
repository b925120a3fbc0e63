/* Test guest program: logs what the guest's pointing devices report, one line per evdev frame
 * (SYN_REPORT), so a test can check inside the guest that a host mouse move, click or wheel
 * arrived. Opens every /dev/input/eventN that has EV_REL or EV_ABS (keyboards are left out: the
 * shell's echo shows those) as it appears (psmouse and usbhid probe late), and prints
 *   INPUT-DEVICE eventN rel|abs xmax=M "name"      once per device
 *   INPUT eventN REL_X=5 REL_Y=-3 BTN_LEFT=1 ...   per frame
 * Structs and codes as in <linux/input.h> / <linux/input-event-codes.h>. */
#include <fcntl.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

struct ev { int64_t sec, usec; uint16_t type, code; int32_t value; };
struct absinfo { int32_t value, minimum, maximum, fuzz, flat, resolution; };

#define EVIOCGNAME(len) _IOC(_IOC_READ, 'E', 0x06, len)
#define EVIOCGBIT(ev, len) _IOC(_IOC_READ, 'E', 0x20 + (ev), len)
#define EVIOCGABS(abs) _IOR('E', 0x40 + (abs), struct absinfo)
enum { EV_SYN = 0, EV_KEY = 1, EV_REL = 2, EV_ABS = 3, MAXDEV = 32 };

static const char *name_of(uint16_t type, uint16_t code) {
  if (type == EV_REL) switch (code) { case 0: return "REL_X"; case 1: return "REL_Y"; case 8: return "REL_WHEEL"; case 6: return "REL_HWHEEL"; }
  if (type == EV_ABS) switch (code) { case 0: return "ABS_X"; case 1: return "ABS_Y"; }
  if (type == EV_KEY) switch (code) { case 0x110: return "BTN_LEFT"; case 0x111: return "BTN_RIGHT"; case 0x112: return "BTN_MIDDLE"; case 0x113: return "BTN_SIDE"; case 0x114: return "BTN_EXTRA"; }
  return NULL;
}

int main(void) {
  struct pollfd fds[MAXDEV];
  int idx[MAXDEV], n = 0, seen[MAXDEV] = {0};
  char line[MAXDEV][512];
  size_t len[MAXDEV];
  for (;;) {
    for (int i = 0; i < MAXDEV; i++) {
      if (seen[i]) continue;
      char path[32];
      snprintf(path, sizeof path, "/dev/input/event%d", i);
      int fd = open(path, O_RDONLY | O_NONBLOCK);
      if (fd < 0) continue;
      seen[i] = 1;
      unsigned long bits = 0;
      char name[128] = "";
      ioctl(fd, EVIOCGBIT(0, sizeof bits), &bits);
      ioctl(fd, EVIOCGNAME(sizeof name - 1), name);
      if (!(bits & (1ul << EV_REL | 1ul << EV_ABS))) { close(fd); continue; }
      struct absinfo ax = {0};
      if (bits & 1ul << EV_ABS) ioctl(fd, EVIOCGABS(0), &ax);
      printf("INPUT-DEVICE event%d %s xmax=%d \"%s\"\n", i, bits & 1ul << EV_ABS ? "abs" : "rel", ax.maximum, name);
      fflush(stdout);
      fds[n] = (struct pollfd){ .fd = fd, .events = POLLIN };
      idx[n] = i;
      len[n] = 0;
      n++;
    }
    if (poll(fds, n, 200) <= 0) continue;
    for (int d = 0; d < n; d++) {
      if (!(fds[d].revents & POLLIN)) continue;
      struct ev e[64];
      ssize_t r = read(fds[d].fd, e, sizeof e);
      for (ssize_t k = 0; k < r / (ssize_t)sizeof e[0]; k++) {
        if (e[k].type == EV_SYN) {
          if (len[d]) printf("INPUT event%d%s\n", idx[d], line[d]);
          fflush(stdout);
          len[d] = 0;
          continue;
        }
        const char *nm = name_of(e[k].type, e[k].code);
        char item[48];
        if (nm) snprintf(item, sizeof item, " %s=%d", nm, e[k].value);
        else snprintf(item, sizeof item, " %u:%u=%d", e[k].type, e[k].code, e[k].value);
        if (len[d] + strlen(item) < sizeof line[d]) { memcpy(line[d] + len[d], item, strlen(item) + 1); len[d] += strlen(item); }
      }
    }
  }
}
