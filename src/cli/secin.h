/* secin.h: reading secrets (passwords, shares, values) from the terminal
 * without echo or from a descriptor, into buffers wiped on free. It never
 * prints or logs what it reads. */
#ifndef GV_CLI_SECIN_H
#define GV_CLI_SECIN_H

#include <stddef.h>

/* A secret's bytes: buf is wipe-on-free (secin_free), len excludes the NUL
 * that always follows. */
struct secin {
	char *buf;
	size_t len;
};

/* Prompts on /dev/tty with echo off and reads one line (without its line
 * end) of at most max bytes. 0, or -1 after a message (no terminal, too
 * long, interrupted). */
int secin_tty(const char *prompt, size_t max, struct secin *out);
/* Reads fd to its end (at most max bytes). With one_line, a single trailing
 * "\n" or "\r\n" is dropped (as --password-stdin expects). 0 or -1. */
int secin_fd(int fd, size_t max, int one_line, struct secin *out);
void secin_free(struct secin *s);

#endif
