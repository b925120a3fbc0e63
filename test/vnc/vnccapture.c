/*
 * vnccapture HOST PORT ENCODINGS OUT [CA.pem]: connect with libvncclient (Debian's libvncserver),
 * ask for the given encodings ("raw", "zrle raw", ...), wait until every pixel of the framebuffer
 * has arrived, and write "W H\n" followed by W*H R,G,B,X bytes. Exit 0 on success.
 * With CA.pem, VeNCrypt X509 subtypes verify the server's certificate against it (GnuTLS: chain
 * and host name). VNCCAPTURE_PASSWORD, if set, answers VNC Authentication.
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

static const char *ca_file = NULL;

/* libvncclient frees the credential and each string in it. */
static rfbCredential *credential(rfbClient *c, int type) {
  (void)c;
  if (type != rfbCredentialTypeX509 || ca_file == NULL) return NULL;
  rfbCredential *cred = calloc(1, sizeof *cred);
  if (cred == NULL) return NULL;
  cred->x509Credential.x509CACertFile = strdup(ca_file);
  return cred;
}

/* libvncclient frees the returned string. */
static char *password(rfbClient *c) {
  (void)c;
  const char *pw = getenv("VNCCAPTURE_PASSWORD");
  return strdup(pw == NULL ? "" : pw);
}

int main(int argc, char **argv) {
  if (argc != 5 && argc != 6) {
    fprintf(stderr, "usage: vnccapture HOST PORT ENCODINGS OUT [CA.pem]\n");
    return 2;
  }
  if (argc == 6) ca_file = argv[5];
  rfbClient *c = rfbGetClient(8, 3, 4);
  c->serverHost = strdup(argv[1]);
  c->serverPort = atoi(argv[2]);
  c->appData.encodingsString = argv[3];
  c->appData.enableJPEG = FALSE;
  c->appData.useRemoteCursor = FALSE;
  c->GotFrameBufferUpdate = got;
  c->FinishedFrameBufferUpdate = finished;
  c->GetCredential = credential;
  c->GetPassword = password;
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
