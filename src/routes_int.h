/* routes_int.h: what the route table's files share: field helpers and the
 * handlers defined outside routes.c. Only routes*.c include it. */
#ifndef GV_ROUTES_INT_H
#define GV_ROUTES_INT_H

#include <stddef.h>

#include "api.h"

struct vault;
struct config;

/* Optional string field: NULL when absent; *bad set (and *why to the key)
 * when present but not a NUL-free string of 1..max bytes. */
const char *routes_opt_str(const struct api_req *req, const char *key, size_t max, int *bad,
			   const char **why);
/* Answers 200 with out (stolen), or the vault error err (out is then
 * unset: vault functions fill it only on success). */
void routes_answer(struct api_resp *resp, enum vault_err err, json_t *out);
/* Fills resp with 400 "Invalid request body", details "field: msg". */
void routes_fail_field(struct api_resp *resp, const char *field, const char *msg);

/* routes_unlock.c */
void h_init(struct vault *v, const struct config *cfg, const struct api_req *req,
	    struct api_resp *resp);
void h_rekey(struct vault *v, const struct config *cfg, const struct api_req *req,
	     struct api_resp *resp);
void h_unlock_share(struct vault *v, const struct config *cfg, const struct api_req *req,
		    struct api_resp *resp);
void h_shares_get(struct vault *v, const struct config *cfg, const struct api_req *req,
		  struct api_resp *resp);
void h_shares_cancel(struct vault *v, const struct config *cfg, const struct api_req *req,
		     struct api_resp *resp);
void h_unlock(struct vault *v, const struct config *cfg, const struct api_req *req,
	      struct api_resp *resp);

/* routes_ops.c */
void h_metrics(struct vault *v, const struct config *cfg, const struct api_req *req,
	       struct api_resp *resp);

#endif
