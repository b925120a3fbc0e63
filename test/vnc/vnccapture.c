/*
 * vnccapture HOST PORT ENCODINGS OUT: connect with libvncclient (Debian's libvncserver), ask for
 * the given encodings ("raw", "zrle raw", ...), wait until every pixel of the framebuffer has
 * arrived, and write "W H\n" followed by W*H R,G,B,X bytes. Exit 0 on success.
 */
#include <rfb/rfbclient.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static long covered = 0;
static int updates = 0;

static void got(rfbClient *c, int x, int y, int w, int h) {
  (void)c; (void)x; (void)y;
  covered += (long)w * h;
}

static void finished(rfbClient *c) {
  (void)c;
  updates++;
}

int main(int argc, char **argv) {
  if (argc != 5) {
    fprintf(stderr, "usage: vnccapture HOST PORT ENCODINGS OUT\n");
    return 2;
  }
  rfbClient *c = rfbGetClient(8, 3, 4);
  c->serverHost = strdup(argv[1]);
  c->serverPort = atoi(argv[2]);
  c->appData.encodingsString = argv[3];
  c->appData.enableJPEG = FALSE;
  c->appData.useRemoteCursor = FALSE;
  c->GotFrameBufferUpdate = got;
  c->FinishedFrameBufferUpdate = finished;
  if (!rfbInitClient(c, NULL, NULL)) {
    fprintf(stderr, "vnccapture: cannot connect to %s:%s\n", argv[1], argv[2]);
    return 3;
  }
  while (covered < (long)c->width * c->height) {
    int n = WaitForMessage(c, 20 * 1000 * 1000);
    if (n <= 0) {
      fprintf(stderr, "vnccapture: no message (%d), %ld of %d pixels\n", n, covered, c->width * c->height);
      return 4;
    }
    if (!HandleRFBServerMessage(c)) {
      fprintf(stderr, "vnccapture: server message failed\n");
      return 5;
    }
  }
  FILE *f = fopen(argv[4], "wb");
  if (f == NULL) return 6;
  fprintf(f, "%d %d\n", c->width, c->height);
  fwrite(c->frameBuffer, 4, (size_t)c->width * c->height, f);
  fclose(f);
  printf("%d updates\n", updates);
  rfbClientCleanup(c);
  return 0;
}
