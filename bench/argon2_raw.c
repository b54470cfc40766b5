/* argon2_raw.c: the reference for /unlock: one raw libargon2 Argon2id call
 * with the vault's default parameters and the same thread count groupvaultd
 * uses (min(lanes, online CPUs)). Prints the median wall time in ms. */
#include <argon2.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static double now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1e3 + ts.tv_nsec / 1e6;
}

static int cmp(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	uint8_t out[32], salt[16] = "0123456789abcdef";
	char pw[] = "benchmark password 123";
	double t[64];

	if (runs < 1 || runs > 64)
		runs = 5;
	for (int i = 0; i < runs; i++) {
		argon2_context ctx;
		double t0 = now_ms();

		memset(&ctx, 0, sizeof(ctx));
		ctx.out = out;
		ctx.outlen = sizeof(out);
		ctx.pwd = (uint8_t *)pw;
		ctx.pwdlen = (uint32_t)strlen(pw);
		ctx.salt = salt;
		ctx.saltlen = sizeof(salt);
		ctx.t_cost = 3;
		ctx.m_cost = 65536;
		ctx.lanes = 4;
		ctx.threads = cpus > 0 && cpus < 4 ? (uint32_t)cpus : 4;
		ctx.version = ARGON2_VERSION_13;
		if (argon2_ctx(&ctx, Argon2_id) != ARGON2_OK)
			return 1;
		t[i] = now_ms() - t0;
	}
	qsort(t, (size_t)runs, sizeof(double), cmp);
	printf("%.2f\n", t[runs / 2]);
	return 0;
}
