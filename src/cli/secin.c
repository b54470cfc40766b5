/* secin.c: secrets in from a terminal (echo off, restored on every path,
 * also when interrupted) or from a descriptor, into wipe-on-free buffers.
 * Nothing read here is printed, logged or written anywhere. */
#include "secin.h"

#include "cli.h"
#include "crypto.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

static volatile sig_atomic_t secin_interrupted;

static void secin_on_signal(int sig)
{
	(void)sig;
	secin_interrupted = 1;
}

/* The prompt is a courtesy: reading works without it. */
static void secin_say(int fd, const char *text)
{
	ssize_t r = write(fd, text, strlen(text));

	(void)r;
}

void secin_free(struct secin *s)
{
	crypto_wipe_free(s->buf);
	s->buf = NULL;
	s->len = 0;
}

/* Grows s->buf to hold want + 1 bytes (copy, then wipe the old block). */
static int secin_grow(struct secin *s, size_t *cap, size_t want)
{
	size_t ncap = *cap ? *cap : 4096;
	char *nb;

	while (ncap < want + 1)
		ncap *= 2;
	if (ncap == *cap)
		return 0;
	if ((nb = crypto_wipe_malloc(ncap)) == NULL)
		return -1;
	if (s->buf != NULL)
		memcpy(nb, s->buf, s->len);
	crypto_wipe_free(s->buf);
	s->buf = nb;
	*cap = ncap;
	return 0;
}

int secin_fd(int fd, size_t max, int one_line, struct secin *out)
{
	struct secin s = {NULL, 0};
	size_t cap = 0;

	for (;;) {
		ssize_t r;

		if (secin_grow(&s, &cap, s.len + 4096 > max + 1 ? max + 1 : s.len + 4096) != 0) {
			cli_err("out of memory reading standard input");
			goto fail;
		}
		r = read(fd, s.buf + s.len, cap - 1 - s.len);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			cli_err("cannot read standard input: %s", strerror(errno));
			goto fail;
		}
		if (r == 0)
			break;
		s.len += (size_t)r;
		if (s.len > max) {
			cli_err("standard input holds more than %zu bytes", max);
			goto fail;
		}
	}
	if (s.buf == NULL && secin_grow(&s, &cap, 0) != 0)
		goto fail;
	if (one_line && s.len > 0 && s.buf[s.len - 1] == '\n') {
		s.len--;
		if (s.len > 0 && s.buf[s.len - 1] == '\r')
			s.len--;
	}
	s.buf[s.len] = '\0';
	*out = s;
	return 0;
fail:
	secin_free(&s);
	return -1;
}

/* Reads one line from the terminal into s (echo already off). */
static int secin_line(int fd, size_t max, struct secin *s)
{
	for (;;) {
		char ch;
		ssize_t r = read(fd, &ch, 1);

		if (r < 0 && errno == EINTR && !secin_interrupted)
			continue;
		if (r < 0 || secin_interrupted) {
			cli_err("interrupted");
			return -1;
		}
		if (r == 0 || ch == '\n' || ch == '\r')
			break;
		if (s->len == max) {
			cli_err("the input is longer than %zu bytes", max);
			return -1;
		}
		s->buf[s->len++] = ch;
	}
	s->buf[s->len] = '\0';
	return 0;
}

int secin_tty(const char *prompt, size_t max, struct secin *out)
{
	struct sigaction sa, old_int, old_term;
	struct termios saved, quiet;
	struct secin s = {NULL, 0};
	int fd, rc = -1;

	if ((fd = open("/dev/tty", O_RDWR | O_CLOEXEC | O_NOCTTY)) < 0) {
		cli_err("no terminal to read from (use --password-stdin or --stdin)");
		return -1;
	}
	if (tcgetattr(fd, &saved) != 0) {
		cli_err("cannot set up the terminal");
		close(fd);
		return -1;
	}
	if ((s.buf = crypto_wipe_malloc(max + 1)) == NULL) {
		cli_err("out of memory");
		close(fd);
		return -1;
	}
	/* No SA_RESTART: ^C ends the read so echo is restored before exit. */
	memset(&sa, 0, sizeof(sa));
	sa.sa_handler = secin_on_signal;
	sigemptyset(&sa.sa_mask);
	secin_interrupted = 0;
	sigaction(SIGINT, &sa, &old_int);
	sigaction(SIGTERM, &sa, &old_term);
	quiet = saved;
	quiet.c_lflag &= (tcflag_t) ~(ECHO | ECHONL);
	quiet.c_lflag |= ICANON;
	if (tcsetattr(fd, TCSAFLUSH, &quiet) != 0) {
		cli_err("cannot turn the terminal's echo off");
		goto done;
	}
	secin_say(fd, prompt);
	rc = secin_line(fd, max, &s);
	tcsetattr(fd, TCSAFLUSH, &saved);
	secin_say(fd, "\n");
done:
	sigaction(SIGINT, &old_int, NULL);
	sigaction(SIGTERM, &old_term, NULL);
	close(fd);
	if (rc != 0) {
		secin_free(&s);
		return -1;
	}
	*out = s;
	return 0;
}
