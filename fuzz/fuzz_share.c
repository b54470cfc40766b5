/* fuzz_share.c: the share parser. Invariants: an input parses only if it
 * is exactly the text share_format writes for what it parsed to (so no two
 * texts name one share and nothing else slips through); a share formatted
 * from any input bytes parses back to the same index, set and payload, and
 * flipping any one character of it makes it fail. */
#include <assert.h>
#include <stdint.h>
#include <string.h>

#include "share.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct share s, t;
	char text[SHARE_TEXT_LEN + 1];

	/* 1. The raw input as share text. */
	if (share_parse((const char *)data, size, &s) == 0) {
		assert(share_format(&s, text) == 0);
		assert(size == SHARE_TEXT_LEN && memcmp(text, data, size) == 0);
	}
	/* 2. The input's bytes as a share's fields. */
	memset(&s, 0, sizeof(s));
	if (size > 0) {
		s.index = 1u + data[0] % 16u;
		for (size_t i = 1; i < size && i <= sizeof(s.set) + sizeof(s.y); i++) {
			if (i <= sizeof(s.set))
				s.set[i - 1] = data[i];
			else
				s.y[i - 1 - sizeof(s.set)] = data[i];
		}
	} else {
		s.index = 16;
	}
	assert(share_format(&s, text) == 0);
	assert(share_parse(text, SHARE_TEXT_LEN, &t) == 0);
	assert(t.index == s.index && memcmp(t.set, s.set, sizeof(s.set)) == 0 &&
	       memcmp(t.y, s.y, sizeof(s.y)) == 0);
	{
		size_t at = size % SHARE_TEXT_LEN;
		text[at] = text[at] == 'a' ? 'b' : 'a';
		assert(share_parse(text, SHARE_TEXT_LEN, &t) != 0);
	}
	return 0;
}
