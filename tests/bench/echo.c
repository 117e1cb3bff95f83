/* SPDX-License-Identifier: BSD-2-Clause */
/* The benchmark's echo handler: copies stdin to stdout until end of file. */
#include <errno.h>
#include <unistd.h>

int main(void)
{
	static char buf[1 << 16];
	ssize_t n;

	while ((n = read(0, buf, sizeof(buf))) != 0) {
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return 1;
		}
		for (ssize_t off = 0; off < n;) {
			ssize_t w = write(1, buf + off, (size_t)(n - off));
			if (w < 0) {
				if (errno == EINTR)
					continue;
				return 1;
			}
			off += w;
		}
	}
	return 0;
}
