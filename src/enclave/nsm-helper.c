/*
 * custos nsm-helper: the one native piece of the AWS Nitro runtime. Node.js cannot issue an
 * ioctl, so inside the enclave image `custos mpc-node` (CUSTOS_ENCLAVE=nitro, CUSTOS_NSM_HELPER=
 * path of this binary) starts this helper once and talks to it over stdin/stdout
 * (src/enclave/nsm-transport.ts):
 *
 *   request  : u32 big-endian length (1..4096) || CBOR request bytes (e.g. {"Attestation": {...}})
 *   response : u8 status || u32 big-endian length || bytes
 *              status 0: the NSM's CBOR response (at most 12288 bytes)
 *              status 1: a UTF-8 error message (at most 1024 bytes), e.g. "open /dev/nsm: No such file or directory"
 *
 * Each request is one NSM_IOCTL_REQUEST on the device (default /dev/nsm, or argv[1]) with the
 * nsm_message { struct iovec request; struct iovec response; } the Nitro NSM driver expects
 * (_IOWR(0x0A, 0, struct nsm_message) = 0xC0200A00 on 64-bit Linux). `--print-ioctl` prints that
 * number and exits (the tests compare it with the TypeScript constant).
 *
 * Build in the enclave image (static, no dependencies):  cc -O2 -static -o nsm-helper nsm-helper.c
 */
#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/uio.h>
#include <unistd.h>

#define NSM_REQUEST_MAX 0x1000
#define NSM_RESPONSE_MAX 0x3000
#define ERROR_MAX 1024

struct nsm_message {
  struct iovec request;
  struct iovec response;
};

#define NSM_IOCTL_REQUEST _IOWR(0x0A, 0, struct nsm_message)

static int read_full(uint8_t *buf, size_t len) {
  size_t got = 0;
  while (got < len) {
    ssize_t n = read(STDIN_FILENO, buf + got, len - got);
    if (n == 0) return got == 0 ? 0 : -1; /* EOF: clean only between frames */
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    got += (size_t)n;
  }
  return 1;
}

static int write_full(const uint8_t *buf, size_t len) {
  size_t put = 0;
  while (put < len) {
    ssize_t n = write(STDOUT_FILENO, buf + put, len - put);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -1;
    }
    put += (size_t)n;
  }
  return 0;
}

static int reply(uint8_t status, const uint8_t *body, uint32_t len) {
  uint8_t head[5] = {status, (uint8_t)(len >> 24), (uint8_t)(len >> 16), (uint8_t)(len >> 8), (uint8_t)len};
  if (write_full(head, sizeof head) != 0 || write_full(body, len) != 0) return -1;
  return 0;
}

static int reply_error(const char *what, int err) {
  char msg[ERROR_MAX];
  int n = snprintf(msg, sizeof msg, "%s: %s", what, strerror(err));
  if (n < 0) n = 0;
  if (n >= ERROR_MAX) n = ERROR_MAX - 1;
  return reply(1, (const uint8_t *)msg, (uint32_t)n);
}

int main(int argc, char **argv) {
  if (argc > 1 && strcmp(argv[1], "--print-ioctl") == 0) {
    printf("0x%08lx\n", (unsigned long)NSM_IOCTL_REQUEST);
    return 0;
  }
  const char *device = argc > 1 ? argv[1] : "/dev/nsm";
  int fd = open(device, O_RDWR | O_CLOEXEC);
  int open_errno = fd < 0 ? errno : 0;
  static uint8_t request[NSM_REQUEST_MAX];
  static uint8_t response[NSM_RESPONSE_MAX];
  for (;;) {
    uint8_t head[4];
    int r = read_full(head, sizeof head);
    if (r == 0) return 0;
    if (r < 0) return 1;
    uint32_t len = ((uint32_t)head[0] << 24) | ((uint32_t)head[1] << 16) | ((uint32_t)head[2] << 8) | head[3];
    if (len == 0 || len > NSM_REQUEST_MAX) {
      reply_error("request length out of range", EINVAL);
      return 2; /* the stream is out of step: stop */
    }
    if (read_full(request, len) != 1) return 1;
    if (fd < 0) {
      char what[300];
      snprintf(what, sizeof what, "open %s", device);
      if (reply_error(what, open_errno) != 0) return 1;
      continue;
    }
    struct nsm_message msg = {
      .request = {.iov_base = request, .iov_len = len},
      .response = {.iov_base = response, .iov_len = sizeof response},
    };
    if (ioctl(fd, NSM_IOCTL_REQUEST, &msg) < 0) {
      if (reply_error("ioctl NSM_IOCTL_REQUEST", errno) != 0) return 1;
      continue;
    }
    if (msg.response.iov_len > sizeof response) {
      if (reply_error("NSM response longer than its buffer", EOVERFLOW) != 0) return 1;
      continue;
    }
    if (reply(0, response, (uint32_t)msg.response.iov_len) != 0) return 1;
  }
}
