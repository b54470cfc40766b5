/* routes_ops.c: the operator's handler GET /metrics: the counters of
 * metrics.c, the vault's gauges and the process's figures, as Prometheus
 * text. It reads no secret and writes no label a client chose. */
#include "routes_int.h"

#include "metrics.h"
#include "procstat.h"
#include "vault_stats.h"

void h_metrics(struct vault *v, const struct config *cfg, const struct api_req *req,
	       struct api_resp *resp)
{
	struct metrics_gauges g = {0};

	(void)cfg;
	(void)req;
	vault_stats_fill(v, &g);
	g.cpu_seconds = procstat_cpu_seconds();
	g.rss_bytes = procstat_rss_bytes();
	g.open_fds = procstat_open_fds();
	g.max_fds = procstat_max_fds();
	resp->text = metrics_render(&g, &resp->text_len);
	if (resp->text == NULL) {
		api_fail(resp, API_INTERNAL, NULL);
		return;
	}
	resp->status = 200;
	resp->content_type = "text/plain; version=0.0.4; charset=utf-8";
}
