/* out.h: human output: aligned tables, durations ("29m 59s"), times, and
 * text from the server made inert for a terminal. Never used for secret
 * values, which go to stdout byte for byte. */
#ifndef GV_CLI_OUT_H
#define GV_CLI_OUT_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

struct out_table;

/* A table of ncol columns with the given headers; cells are copied. */
struct out_table *out_table_new(int ncol, const char *const *headers);
int out_table_add(struct out_table *t, const char *const *cells);
/* Prints the rows, columns padded to their widest cell, control bytes as '?'. */
void out_table_print(const struct out_table *t, FILE *f);
void out_table_free(struct out_table *t);

/* secs -> "45s", "29m 59s", "2h 5m", "30d" into buf (>= 32 bytes). */
void out_duration(int64_t secs, char *buf, size_t len);
/* ms since the epoch -> "2026-11-28 10:37:59Z" into buf (>= 32 bytes). */
void out_time(int64_t ms, char *buf, size_t len);
/* A JSON value as one line of text into a new string:
 * strings as they are, arrays of strings joined by ",", others as compact
 * JSON. NULL for a missing value. Free with crypto_wipe_free (jansson's
 * allocations are wipe-on-free once jalloc_init has run). */
char *out_text(const json_t *v);
/* fputs with control bytes shown as '?'. */
void out_put(const char *s, FILE *f);

#endif
