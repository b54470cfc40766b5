/* test_common.h: shared set-up for the cmocka unit tests. */
#ifndef GV_TEST_COMMON_H
#define GV_TEST_COMMON_H

/* cmocka needs these before it, in this order. */
// clang-format off
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <cmocka.h>
// clang-format on
#include <string.h>

/* Decodes a hex literal into buf; returns its length. */
static inline size_t test_hex(const char *hex, unsigned char *buf)
{
	size_t n = strlen(hex) / 2;

	for (size_t i = 0; i < n; i++) {
		unsigned v;
		sscanf(hex + 2 * i, "%2x", &v);
		buf[i] = (unsigned char)v;
	}
	return n;
}

#endif
