/* LD_PRELOAD shim: lets Debian's unmodified fido2-token / fido2-cred / fido2-assert talk to
 * Passbridge's UDP CTAPHID front-end. A device path "udp:PORT" gets UDP I/O functions
 * (reports to 127.0.0.1:PORT, replies received on 127.0.0.1:$PB_REPLY_PORT, default 7112);
 * every other path goes to libfido2's own open. Build:
 *   gcc -shared -fPIC -o fido2_shim.so fido2_shim.c -ldl
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <dlfcn.h>
#include <fido.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

struct udp_handle {
	int fd;
	struct sockaddr_in peer;
};

static int reply_port(void)
{
	const char *env = getenv("PB_REPLY_PORT");
	return env ? atoi(env) : 7112;
}

static void *udp_open(const char *path)
{
	struct udp_handle *h = calloc(1, sizeof(*h));
	struct sockaddr_in me = {.sin_family = AF_INET,
				 .sin_port = htons((unsigned short)reply_port()),
				 .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	int one = 1;

	if (h == NULL)
		return NULL;
	h->fd = socket(AF_INET, SOCK_DGRAM, 0);
	setsockopt(h->fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (h->fd < 0 || bind(h->fd, (struct sockaddr *)&me, sizeof(me)) < 0) {
		if (h->fd >= 0)
			close(h->fd);
		free(h);
		return NULL;
	}
	h->peer.sin_family = AF_INET;
	h->peer.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
	h->peer.sin_port = htons((unsigned short)atoi(path + 4));
	return h;
}

static void udp_close(void *p)
{
	struct udp_handle *h = p;
	close(h->fd);
	free(h);
}

static int udp_read(void *p, unsigned char *buf, size_t len, int ms)
{
	struct udp_handle *h = p;
	struct pollfd pfd = {.fd = h->fd, .events = POLLIN};
	if (poll(&pfd, 1, ms < 0 ? -1 : ms) <= 0)
		return -1;
	return (int)recv(h->fd, buf, len, 0);
}

/* libfido2 writes report ID 0x00 + 64 bytes; the datagram carries the 64 bytes. */
static int udp_write(void *p, const unsigned char *buf, size_t len)
{
	struct udp_handle *h = p;
	if (len < 1 || sendto(h->fd, buf + 1, len - 1, 0, (struct sockaddr *)&h->peer,
			      sizeof(h->peer)) != (ssize_t)(len - 1))
		return -1;
	return (int)len;
}

int fido_dev_open(fido_dev_t *dev, const char *path)
{
	static int (*real_open)(fido_dev_t *, const char *);
	if (real_open == NULL)
		real_open = (int (*)(fido_dev_t *, const char *))dlsym(RTLD_NEXT, "fido_dev_open");
	if (path != NULL && strncmp(path, "udp:", 4) == 0) {
		fido_dev_io_t io = {udp_open, udp_close, udp_read, udp_write};
		int r = fido_dev_set_io_functions(dev, &io);
		if (r != FIDO_OK)
			return r;
	}
	return real_open(dev, path);
}
