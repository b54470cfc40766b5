/* fleet.c: the agent's work: provision (port, name, data dir, registry row,
 * engine, health), inspect, stop/start/restart, remove (data kept) and the
 * reconcile at start. Mutations are serialised by one mutex; reads are not.
 * It answers the original agent's JSON shapes and never returns or logs a
 * vault's AUTH_TOKEN. */
#include "fleet.h"

#include <arpa/inet.h>
#include <curl/curl.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "crypto.h"
#include "log.h"
#include "util.h"

#define NOT_FOUND "Group vault container not found"

struct fleet {
	struct agent_config cfg;
	struct backend *b;
	struct registry *r;
	pthread_mutex_t mu; /* one mutation at a time */
	char health_host[64];
	int https; /* vaults serve TLS (VAULT_ENV_TLS_CERT_FILE is set) */
	pthread_mutex_t stats_mu;
	unsigned long provisions, provision_failures, restarts_by_api;
};

static json_t *fail(int *status, int code, const char *msg, const char *details)
{
	json_t *j = json_pack("{s:s}", "error", msg);

	if (details != NULL && details[0] != '\0')
		json_object_set_new(j, "details", json_string(details));
	*status = code;
	return j;
}

static json_t *done(int *status, const char *what)
{
	*status = 200;
	return json_pack("{s:s}", "status", what);
}

static void iso(int64_t ms, char buf[32])
{
	util_iso8601(ms, buf, 32);
}

/* {containerId, containerName, port, groupId, createdAt}: the original's info. */
static json_t *info(const struct reg_vault *v)
{
	char when[32];

	iso(v->created_at, when);
	return json_pack("{s:s, s:s, s:i, s:s, s:s}", "containerId", v->backend_id,
			 "containerName", v->name, "port", (json_int_t)v->port, "groupId",
			 v->group_id, "createdAt", when);
}

static int data_dir(const struct fleet *f, const char *gid, char *dst, size_t cap, int make)
{
	char groups[PATH_MAX], group[PATH_MAX];

	if ((size_t)snprintf(groups, sizeof(groups), "%s/groups", f->cfg.data_dir) >=
		sizeof(groups) ||
	    (size_t)snprintf(group, sizeof(group), "%s/%s", groups, gid) >= sizeof(group) ||
	    (size_t)snprintf(dst, cap, "%s/data", group) >= cap)
		return -1;
	if (!make)
		return 0;
	if ((mkdir(groups, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(group, 0700) != 0 && errno != EEXIST) ||
	    (mkdir(dst, 0700) != 0 && errno != EEXIST)) {
		log_err("cannot create %s: %s", dst, strerror(errno));
		return -1;
	}
	return 0;
}

static int spec_of(const struct fleet *f, const struct reg_vault *v, struct backend_spec *s,
		   char *dir, size_t cap)
{
	if (data_dir(f, v->group_id, dir, cap, 1) != 0)
		return -1;
	*s = (struct backend_spec){.group_id = v->group_id,
				   .slug = v->slug,
				   .name = v->name,
				   .port = v->port,
				   .auth_token = v->auth_token,
				   .data_dir = dir,
				   .memory_mb = f->cfg.memory_mb};
	return 0;
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

/* 1 if GET /health on the vault answers 200. */
static int healthy(const struct fleet *f, unsigned port)
{
	char url[128];
	long code = 0;
	CURL *c = curl_easy_init();

	if (c == NULL)
		return 0;
	snprintf(url, sizeof(url), "%s://%s:%u/health", f->https ? "https" : "http",
		 f->health_host, port);
	/* A liveness probe sends no credential and reads no secret: the vault's
	 * certificate need not chain to a CA the agent knows. */
	if (f->https) {
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT_MS, 2000L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, discard);
	curl_easy_setopt(c, CURLOPT_PROXY, "");
	if (curl_easy_perform(c) == CURLE_OK)
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &code);
	curl_easy_cleanup(c);
	return code == 200;
}

/* "the vault <detail> before it was healthy: <its last log line>" */
static void last_words(struct fleet *f, const struct reg_vault *v, const char *detail, char *why,
		       size_t cap)
{
	char *text = NULL;
	size_t len = 0;
	int n = snprintf(why, cap, "the vault %s before it was healthy", detail);

	if (n < 0 || (size_t)n >= cap ||
	    f->b->ops->logs(f->b, v->backend_id, 1, &text, &len) != 0 || len == 0) {
		free(text);
		return;
	}
	while (len > 0 && (text[len - 1] == '\n' || text[len - 1] == '\r'))
		len--;
	snprintf(why + n, cap - (size_t)n, ": %.*s", (int)len, text);
	free(text);
}

/* Waits for the vault's /health; on failure says why in why. 0 healthy. */
static int await_health(struct fleet *f, const struct reg_vault *v, char *why, size_t cap)
{
	int64_t until = util_mono_ms() + (int64_t)f->cfg.health_timeout_s * 1000;
	long nap = 10;

	for (;;) {
		struct backend_status st;

		if (healthy(f, v->port))
			return 0;
		if (f->b->ops->status(f->b, v->backend_id, &st) == 0 &&
		    st.state != BACKEND_RUNNING && st.detail[0] != '\0') {
			last_words(f, v, st.detail, why, cap);
			return -1;
		}
		if (util_mono_ms() >= until) {
			snprintf(why, cap, "no healthy answer from port %u within %u s", v->port,
				 f->cfg.health_timeout_s);
			return -1;
		}
		struct timespec ts = {0, nap * 1000000L};

		nanosleep(&ts, NULL);
		if (nap < 200)
			nap *= 2;
	}
}

/* 1 if nothing listens on port (we can bind it ourselves). */
static int port_free(unsigned port)
{
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
	int one = 1, ok, fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);

	if (fd < 0)
		return 0;
	a.sin_addr.s_addr = htonl(INADDR_ANY);
	setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	ok = bind(fd, (struct sockaddr *)&a, sizeof(a)) == 0;
	close(fd);
	return ok;
}

static int pick_port(struct fleet *f, unsigned *port)
{
	for (unsigned p = f->cfg.port_lo; p <= f->cfg.port_hi; p++) {
		int held = registry_port_held(f->r, p);

		if (held < 0)
			return -1;
		if (!held && port_free(p)) {
			*port = p;
			return 0;
		}
	}
	return 1;
}

/* ocmt-group-vault-<first 20 of slug or id>, as the original names them;
 * made unique with a hash of the group id when another group holds it. */
static int pick_name(struct fleet *f, const char *gid, const char *slug, char *name, size_t cap)
{
	const char *base = slug[0] != '\0' ? slug : gid;
	unsigned char h[32];
	size_t n = strlen("ocmt-group-vault-");
	int held;

	snprintf(name, cap, "ocmt-group-vault-");
	for (size_t i = 0; base[i] != '\0' && i < 20 && n + 1 < cap; i++) {
		char c = base[i];

		name[n++] = ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
			     (c >= '0' && c <= '9') || c == '_' || c == '.' || c == '-')
				? c
				: '-';
	}
	name[n] = '\0';
	held = registry_name_held(f->r, name);
	if (held <= 0)
		return held;
	crypto_sha256(gid, strlen(gid), h);
	snprintf(name + n, cap - n, "-%02x%02x%02x%02x", h[0], h[1], h[2], h[3]);
	return registry_name_held(f->r, name) == 0 ? 0 : -1;
}

static json_t *provision_new(struct fleet *f, struct reg_vault *v, int *status)
{
	struct backend_spec s;
	char dir[PATH_MAX], err[256], why[320];
	unsigned port = 0;
	int rc = pick_port(f, &port);

	if (rc != 0)
		return fail(status, 503, "No free port for a new vault",
			    rc > 0 ? "every port in VAULT_PORT_RANGE is held" : NULL);
	v->port = port;
	if (pick_name(f, v->group_id, v->slug, v->name, sizeof(v->name)) != 0)
		return fail(status, 500, "Cannot name the vault", NULL);
	snprintf(v->backend, sizeof(v->backend), "%s", f->b->ops->name);
	v->state = REG_PROVISIONING;
	v->created_at = util_now_ms();
	if (spec_of(f, v, &s, dir, sizeof(dir)) != 0 || registry_insert(f->r, v) != 0)
		return fail(status, 500, "Cannot record the vault", NULL);
	if (f->b->ops->create(f->b, &s, v->backend_id, sizeof(v->backend_id), err,
			      sizeof(err)) != 0) {
		registry_delete(f->r, v->group_id);
		log_err("provision %s: %s", v->group_id, err);
		return fail(status, 502, "The engine could not create the vault", err);
	}
	if (registry_update(f->r, v) != 0 || await_health(f, v, why, sizeof(why)) != 0) {
		if (f->b->ops->remove(f->b, v->backend_id, err, sizeof(err)) != 0)
			log_err("provision %s: cleanup: %s", v->group_id, err);
		registry_delete(f->r, v->group_id);
		log_err("provision %s failed: %s", v->group_id, why);
		return fail(status, 504, "The vault did not become healthy", why);
	}
	v->state = REG_RUNNING;
	if (registry_update(f->r, v) != 0)
		return fail(status, 500, "Cannot record the vault", NULL);
	log_info("provisioned %s as %s on port %u", v->group_id, v->name, v->port);
	json_t *j = info(v);

	json_object_set_new(j, "status", json_string("created"));
	*status = 200;
	return j;
}

json_t *fleet_provision(struct fleet *f, const char *group_id, const char *slug,
			const char *auth_token, int *status)
{
	struct reg_vault *v = calloc(1, sizeof(*v));
	json_t *j;
	int rc;

	if (v == NULL)
		return fail(status, 500, "Out of memory", NULL);
	pthread_mutex_lock(&f->mu);
	rc = registry_get(f->r, group_id, v);
	if (rc == 0) {
		j = info(v);
		json_object_set_new(j, "status", json_string("exists"));
		*status = 200;
	} else if (rc < 0) {
		j = fail(status, 500, "Cannot read the registry", NULL);
	} else {
		snprintf(v->group_id, sizeof(v->group_id), "%s", group_id);
		snprintf(v->slug, sizeof(v->slug), "%s", slug);
		snprintf(v->auth_token, sizeof(v->auth_token), "%s", auth_token);
		j = provision_new(f, v, status);
		pthread_mutex_lock(&f->stats_mu);
		f->provisions++;
		f->provision_failures += *status != 200;
		pthread_mutex_unlock(&f->stats_mu);
	}
	pthread_mutex_unlock(&f->mu);
	crypto_wipe(v, sizeof(*v));
	free(v);
	return j;
}

/* The row plus what the engine says now. */
static json_t *describe(struct fleet *f, const struct reg_vault *v, int full)
{
	struct backend_status st;
	json_t *j = info(v);
	char when[32];

	if (f->b->ops->status(f->b, v->backend_id, &st) != 0) {
		st.state = BACKEND_MISSING;
		snprintf(st.detail, sizeof(st.detail), "the engine did not answer");
	}
	json_object_set_new(j, "running", json_boolean(st.state == BACKEND_RUNNING));
	json_object_set_new(j, "paused", json_false());
	json_object_set_new(j, "state", json_string(reg_state_name(v->state)));
	if (st.state == BACKEND_MISSING)
		json_object_set_new(j, "error", json_string("Container not found"));
	if (!full)
		return j;
	if (st.started_at_ms > 0) {
		iso(st.started_at_ms, when);
		json_object_set_new(j, "startedAt", json_string(when));
	}
	json_object_set_new(j, "backend", json_string(v->backend));
	json_object_set_new(j, "restarts", json_integer(st.restarts));
	if (st.detail[0] != '\0')
		json_object_set_new(j, "detail", json_string(st.detail));
	json_object_set_new(j, "healthy", json_boolean(st.state == BACKEND_RUNNING &&
						       healthy(f, v->port)));
	return j;
}

struct each_ctx {
	struct fleet *f;
	json_t *list;
};

static int list_one(const struct reg_vault *v, void *arg)
{
	struct each_ctx *c = arg;

	json_array_append_new(c->list, describe(c->f, v, 0));
	return 0;
}

json_t *fleet_list(struct fleet *f, int *status)
{
	struct each_ctx c = {f, json_array()};

	if (registry_each(f->r, list_one, &c) != 0) {
		json_decref(c.list);
		return fail(status, 500, "Cannot read the registry", NULL);
	}
	*status = 200;
	return c.list;
}

/* Looks the group up into v; NULL if found, else the error answer. */
static json_t *lookup(struct fleet *f, const char *gid, struct reg_vault *v, int *status)
{
	int rc = registry_get(f->r, gid, v);

	if (rc == 0)
		return NULL;
	return rc > 0 ? fail(status, 404, NOT_FOUND, NULL)
		      : fail(status, 500, "Cannot read the registry", NULL);
}

json_t *fleet_status(struct fleet *f, const char *group_id, int *status)
{
	struct reg_vault v;
	json_t *j = lookup(f, group_id, &v, status);

	if (j == NULL) {
		j = describe(f, &v, 1);
		*status = 200;
	}
	crypto_wipe(&v, sizeof(v));
	return j;
}

/* Stop (if stop), then start and await health (if start); the row's state follows. */
static json_t *cycle(struct fleet *f, const char *gid, int stop, int start, const char *what,
		     int *status)
{
	struct reg_vault v;
	struct backend_spec s;
	char dir[PATH_MAX], err[256], why[320];
	json_t *j;

	pthread_mutex_lock(&f->mu);
	j = lookup(f, gid, &v, status);
	if (j != NULL)
		goto out;
	if (stop && f->b->ops->stop(f->b, v.backend_id, err, sizeof(err)) != 0) {
		j = fail(status, 502, "The engine could not stop the vault", err);
		goto out;
	}
	v.state = start ? REG_RUNNING : REG_STOPPED;
	if (registry_update(f->r, &v) != 0) {
		j = fail(status, 500, "Cannot record the vault", NULL);
		goto out;
	}
	if (start) {
		if (spec_of(f, &v, &s, dir, sizeof(dir)) != 0 ||
		    f->b->ops->start(f->b, v.backend_id, &s, err, sizeof(err)) != 0) {
			j = fail(status, 502, "The engine could not start the vault", err);
			goto out;
		}
		if (await_health(f, &v, why, sizeof(why)) != 0) {
			j = fail(status, 504, "The vault did not become healthy", why);
			goto out;
		}
	}
	j = done(status, what);
out:
	pthread_mutex_unlock(&f->mu);
	crypto_wipe(&v, sizeof(v));
	return j;
}

json_t *fleet_stop(struct fleet *f, const char *group_id, int *status)
{
	return cycle(f, group_id, 1, 0, "stopped", status);
}

json_t *fleet_start(struct fleet *f, const char *group_id, int *status)
{
	return cycle(f, group_id, 0, 1, "started", status);
}

json_t *fleet_restart(struct fleet *f, const char *group_id, int *status)
{
	pthread_mutex_lock(&f->stats_mu);
	f->restarts_by_api++;
	pthread_mutex_unlock(&f->stats_mu);
	return cycle(f, group_id, 1, 1, "restarted", status);
}

json_t *fleet_remove(struct fleet *f, const char *group_id, int *status)
{
	struct reg_vault v;
	char err[256];
	json_t *j;

	pthread_mutex_lock(&f->mu);
	j = lookup(f, group_id, &v, status);
	if (j == NULL) {
		if (f->b->ops->remove(f->b, v.backend_id, err, sizeof(err)) != 0)
			j = fail(status, 502, "The engine could not remove the vault", err);
		else if (registry_delete(f->r, group_id) != 0)
			j = fail(status, 500, "Cannot record the vault", NULL);
		else {
			log_info("removed %s (its data stays in %s/groups/%s)", group_id,
				 f->cfg.data_dir, group_id);
			j = done(status, "removed");
		}
	}
	pthread_mutex_unlock(&f->mu);
	crypto_wipe(&v, sizeof(v));
	return j;
}

json_t *fleet_logs(struct fleet *f, const char *group_id, unsigned tail, int *status)
{
	struct reg_vault v;
	char *text = NULL;
	size_t len = 0;
	json_t *j = lookup(f, group_id, &v, status), *lines;

	if (j != NULL)
		return j;
	if (f->b->ops->logs(f->b, v.backend_id, tail, &text, &len) != 0) {
		crypto_wipe(&v, sizeof(v));
		return fail(status, 502, "The engine could not read the vault's logs", NULL);
	}
	lines = json_array();
	for (char *s = text, *nl; s != NULL && s < text + len; s = nl + 1) {
		nl = memchr(s, '\n', (size_t)(text + len - s));
		if (nl == NULL)
			nl = text + len;
		json_array_append_new(lines, json_stringn(s, (size_t)(nl - s)));
	}
	free(text);
	j = json_pack("{s:s, s:o}", "groupId", v.group_id, "lines", lines);
	crypto_wipe(&v, sizeof(v));
	*status = 200;
	return j;
}

struct tally {
	struct fleet *f;
	unsigned by_state[3], running, missing, restarts;
};

static int count_one(const struct reg_vault *v, void *arg)
{
	struct tally *t = arg;
	struct backend_status st;

	if ((unsigned)v->state < 3)
		t->by_state[v->state]++;
	if (t->f->b->ops->status(t->f->b, v->backend_id, &st) == 0) {
		t->running += st.state == BACKEND_RUNNING;
		t->missing += st.state == BACKEND_MISSING;
		t->restarts += st.restarts;
	}
	return 0;
}

char *fleet_metrics(struct fleet *f)
{
	struct tally t = {.f = f};
	char *out = NULL;
	unsigned long prov, provf, rst;

	if (registry_each(f->r, count_one, &t) != 0)
		return NULL;
	pthread_mutex_lock(&f->stats_mu);
	prov = f->provisions;
	provf = f->provision_failures;
	rst = f->restarts_by_api;
	pthread_mutex_unlock(&f->stats_mu);
	if (asprintf(&out,
		     "# HELP groupvault_agent_vaults Vaults in the registry by wanted state.\n"
		     "# TYPE groupvault_agent_vaults gauge\n"
		     "groupvault_agent_vaults{state=\"provisioning\"} %u\n"
		     "groupvault_agent_vaults{state=\"running\"} %u\n"
		     "groupvault_agent_vaults{state=\"stopped\"} %u\n"
		     "# HELP groupvault_agent_vaults_up Vaults the engine reports running.\n"
		     "# TYPE groupvault_agent_vaults_up gauge\n"
		     "groupvault_agent_vaults_up %u\n"
		     "# HELP groupvault_agent_vaults_missing Vaults the engine does not know.\n"
		     "# TYPE groupvault_agent_vaults_missing gauge\n"
		     "groupvault_agent_vaults_missing %u\n"
		     "# HELP groupvault_agent_vault_restarts_total Restarts by the engine or supervisor.\n"
		     "# TYPE groupvault_agent_vault_restarts_total counter\n"
		     "groupvault_agent_vault_restarts_total %u\n"
		     "# HELP groupvault_agent_provisions_total Provisions of new vaults attempted.\n"
		     "# TYPE groupvault_agent_provisions_total counter\n"
		     "groupvault_agent_provisions_total %lu\n"
		     "# HELP groupvault_agent_provision_failures_total Provisions that failed.\n"
		     "# TYPE groupvault_agent_provision_failures_total counter\n"
		     "groupvault_agent_provision_failures_total %lu\n"
		     "# HELP groupvault_agent_api_restarts_total Restarts asked through the API.\n"
		     "# TYPE groupvault_agent_api_restarts_total counter\n"
		     "groupvault_agent_api_restarts_total %lu\n",
		     t.by_state[REG_PROVISIONING], t.by_state[REG_RUNNING], t.by_state[REG_STOPPED],
		     t.running, t.missing, t.restarts, prov, provf, rst) < 0)
		return NULL;
	return out;
}

struct rec_ctx {
	struct fleet *f;
	unsigned adopted, started, stopped, failed;
};

static int reconcile_one(const struct reg_vault *row, void *arg)
{
	struct rec_ctx *c = arg;
	struct fleet *f = c->f;
	struct reg_vault v = *row;
	struct backend_status st;
	struct backend_spec s;
	char dir[PATH_MAX], err[256];
	int want = v.state != REG_STOPPED, rc = 0;

	if (spec_of(f, &v, &s, dir, sizeof(dir)) != 0)
		goto failed;
	if (f->b->ops->adopt != NULL)
		f->b->ops->adopt(f->b, v.backend_id, &s);
	if (f->b->ops->status(f->b, v.backend_id, &st) != 0)
		goto failed;
	if (want && st.state == BACKEND_RUNNING) {
		c->adopted++;
	} else if (want && st.state == BACKEND_STOPPED) {
		rc = f->b->ops->start(f->b, v.backend_id, &s, err, sizeof(err));
		c->started += rc == 0;
	} else if (want) { /* the engine lost it: create it again over the same data */
		rc = f->b->ops->create(f->b, &s, v.backend_id, sizeof(v.backend_id), err,
				       sizeof(err));
		if (rc == 0)
			rc = registry_update(f->r, &v);
		c->started += rc == 0;
	} else if (st.state == BACKEND_RUNNING) {
		rc = f->b->ops->stop(f->b, v.backend_id, err, sizeof(err));
		c->stopped += rc == 0;
	}
	if (rc != 0)
		goto failed;
	if (v.state == REG_PROVISIONING) {
		v.state = REG_RUNNING;
		registry_update(f->r, &v);
	}
	crypto_wipe(&v, sizeof(v));
	return 0;
failed:
	c->failed++;
	log_err("reconcile %s: could not bring it to its wanted state", v.group_id);
	crypto_wipe(&v, sizeof(v));
	return 0;
}

int fleet_reconcile(struct fleet *f)
{
	struct rec_ctx c = {.f = f};
	int rc;

	pthread_mutex_lock(&f->mu);
	rc = registry_each(f->r, reconcile_one, &c);
	pthread_mutex_unlock(&f->mu);
	log_info("reconciled: %u running adopted, %u started, %u stopped, %u failed", c.adopted,
		 c.started, c.stopped, c.failed);
	return rc;
}

struct fleet *fleet_new(const struct agent_config *cfg, struct backend *b, struct registry *r)
{
	struct fleet *f = calloc(1, sizeof(*f));
	const char *h = cfg->vault_bind_address;

	if (f == NULL)
		return NULL;
	f->cfg = *cfg;
	crypto_wipe(f->cfg.auth_token, sizeof(f->cfg.auth_token));
	f->b = b;
	f->r = r;
	pthread_mutex_init(&f->mu, NULL);
	pthread_mutex_init(&f->stats_mu, NULL);
	if (cfg->backend == AGENT_BACKEND_DOCKER || strcmp(h, "0.0.0.0") == 0 ||
	    strcmp(h, "::") == 0)
		h = "127.0.0.1";
	snprintf(f->health_host, sizeof(f->health_host), "%s", h);
	f->https = getenv("VAULT_ENV_TLS_CERT_FILE") != NULL &&
		   getenv("VAULT_ENV_TLS_CERT_FILE")[0] != '\0';
	return f;
}

void fleet_free(struct fleet *f)
{
	if (f == NULL)
		return;
	pthread_mutex_destroy(&f->mu);
	pthread_mutex_destroy(&f->stats_mu);
	free(f);
}
