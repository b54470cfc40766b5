/* backend_docker.c: the docker backend: one container per vault through the
 * Docker Engine API on a unix socket (Docker, or `podman system service`).
 * It never logs a request body (the create body carries AUTH_TOKEN). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "backend.h"
#include "config.h"
#include "crypto.h"
#include "docker_http.h"
#include "docker_json.h"
#include "log.h"
#include "vault_env.h"

#define DK_TIMEOUT_MS 15000L	    /* inspect, start, remove, logs */
#define DK_CREATE_TIMEOUT_MS 60000L /* create may unpack an image layer */
#define DK_STOP_GRACE_S 10	    /* SIGTERM, then the engine sends SIGKILL */
#define DK_PING_TIMEOUT_MS 3000L

struct docker_backend {
	char socket[PATH_MAX];
	char image[256];
	char bind[64]; /* VAULT_BIND_ADDRESS: host networking, so the host's interfaces */
};

/* Ids, names and images go into URL paths: only these bytes, no "..". */
static int dk_safe(const char *s, const char *extra)
{
	size_t n = strlen(s);

	if (n == 0 || n > 200 || strstr(s, "..") != NULL)
		return 0;
	for (; *s != '\0'; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_' || *s == '.' || *s == '-' ||
		      strchr(extra, *s) != NULL))
			return 0;
	return 1;
}

/* One engine call; -1 with err set (and logged) on a transport failure. */
static int dk_call(const struct docker_backend *d, const char *method, const char *path,
		   const char *body, size_t bodylen, long timeout_ms, struct docker_answer *a,
		   char *err, size_t errlen)
{
	if (docker_http_call(d->socket, method, path, body, bodylen, timeout_ms, a, err, errlen) ==
	    0)
		return 0;
	log_err("docker: %s", err);
	return -1;
}

/* An unexpected answer: "what: <engine message>" in err, logged; -1. */
static int dk_fail(struct docker_answer *a, const char *what, char *err, size_t errlen)
{
	char msg[256];

	docker_json_message(a->body, a->len, a->status, msg, sizeof(msg));
	snprintf(err, errlen, "%s: %s", what, msg);
	log_err("docker: %s", err);
	docker_answer_free(a);
	return -1;
}

/* Masks every occurrence of secret in err. */
static void dk_redact(char *err, const char *secret)
{
	size_t n = strlen(secret);
	char *p;

	while (n > 0 && (p = strstr(err, secret)) != NULL)
		memset(p, '*', n);
}

static int dk_bad_id(const char *id, char *err, size_t errlen)
{
	if (dk_safe(id, ""))
		return 0;
	snprintf(err, errlen, "not a container id or name");
	return -1;
}

/* The data directory exists and belongs to the image's user, so the
 * non-root vault can write there (the agent runs as root to chown it). */
static int dk_prepare_dir(struct docker_backend *d, const struct backend_spec *s, char *err,
			  size_t errlen)
{
	struct docker_answer a;
	char path[sizeof(d->image) + 32];
	long uid = 0, gid = 0;
	int user;

	if (mkdir(s->data_dir, 0700) != 0 && errno != EEXIST) {
		snprintf(err, errlen, "cannot create %s: %s", s->data_dir, strerror(errno));
		log_err("docker: %s", err);
		return -1;
	}
	snprintf(path, sizeof(path), DOCKER_API "/images/%s/json", d->image);
	if (dk_call(d, "GET", path, NULL, 0, DK_TIMEOUT_MS, &a, err, errlen) != 0)
		return -1;
	if (a.status == 404) {
		docker_answer_free(&a);
		snprintf(err, errlen, "image %s not found (build it with make image)", d->image);
		log_err("docker: %s", err);
		return -1;
	}
	if (a.status != 200)
		return dk_fail(&a, "image inspect", err, errlen);
	user = docker_json_image_user(a.body, a.len, &uid, &gid);
	docker_answer_free(&a);
	if (user != 0)
		return 0;
	if (chown(s->data_dir, (uid_t)uid, (gid_t)gid) != 0) {
		/* Rootless engines map the uid elsewhere: say what is needed once. */
		log_warn("docker: cannot chown %s to %ld:%ld (%s): it must be writable by the "
			 "image's user",
			 s->data_dir, uid, gid, strerror(errno));
	}
	return 0;
}

static int dk_remove_id(struct docker_backend *d, const char *id, char *err, size_t errlen)
{
	struct docker_answer a;
	char path[320];

	if (dk_bad_id(id, err, errlen) != 0)
		return -1;
	/* A graceful stop first, so the vault wipes its keys; then remove
	 * (force: a restart policy may have brought it back meanwhile). */
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s/stop?t=%d", id, DK_STOP_GRACE_S);
	if (dk_call(d, "POST", path, NULL, 0, DK_TIMEOUT_MS + DK_STOP_GRACE_S * 1000L, &a, err,
		    errlen) != 0)
		return -1;
	docker_answer_free(&a);
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s?force=true", id);
	if (dk_call(d, "DELETE", path, NULL, 0, DK_TIMEOUT_MS, &a, err, errlen) != 0)
		return -1;
	if (a.status != 204 && a.status != 200 && a.status != 404) /* 404: already gone */
		return dk_fail(&a, "remove", err, errlen);
	docker_answer_free(&a);
	return 0;
}

static int dk_remove(struct backend *b, const char *id, char *err, size_t errlen)
{
	return dk_remove_id(b->priv, id, err, errlen);
}

/* POST /containers/create; a leftover container of the same name that is
 * this group's vault (an agent that died before recording it) is replaced. */
static int dk_create_container(struct docker_backend *d, const struct backend_spec *s,
			       const char *body, size_t len, char *id, size_t idlen, char *err,
			       size_t errlen)
{
	struct docker_answer a;
	char path[320], msg[256];

	for (int attempt = 0;; attempt++) {
		snprintf(path, sizeof(path), DOCKER_API "/containers/create?name=%s", s->name);
		if (dk_call(d, "POST", path, body, len, DK_CREATE_TIMEOUT_MS, &a, err, errlen) != 0)
			return -1;
		if (a.status == 201) {
			int rc = docker_json_id(a.body, a.len, id, idlen);
			docker_answer_free(&a);
			if (rc != 0)
				snprintf(err, errlen, "the engine's create answer has no Id");
			return rc;
		}
		if (!docker_json_name_taken(a.body, a.len, a.status) || attempt > 0) {
			docker_json_message(a.body, a.len, a.status, msg, sizeof(msg));
			docker_answer_free(&a);
			snprintf(err, errlen, "create: %s", msg);
			dk_redact(err, s->auth_token); /* in case the engine echoed the env */
			log_err("docker: %s", err);
			return -1;
		}
		docker_answer_free(&a);
		snprintf(path, sizeof(path), DOCKER_API "/containers/%s/json", s->name);
		if (dk_call(d, "GET", path, NULL, 0, DK_TIMEOUT_MS, &a, err, errlen) != 0)
			return -1;
		if (a.status != 200 || !docker_json_is_ours(a.body, a.len, s->group_id)) {
			docker_answer_free(&a);
			snprintf(err, errlen,
				 "a container named %s exists and is not this group's vault",
				 s->name);
			log_err("docker: %s", err);
			return -1;
		}
		docker_answer_free(&a);
		log_warn("docker: replacing the leftover container %s", s->name);
		if (dk_remove_id(d, s->name, err, errlen) != 0)
			return -1;
	}
}

static int dk_start(struct backend *b, const char *id, const struct backend_spec *s, char *err,
		    size_t errlen)
{
	struct docker_backend *d = b->priv;
	struct docker_answer a;
	char path[320];

	(void)s;
	if (dk_bad_id(id, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s/start", id);
	if (dk_call(d, "POST", path, NULL, 0, DK_TIMEOUT_MS, &a, err, errlen) != 0)
		return -1;
	if (a.status != 204 && a.status != 304) /* 304: already running */
		return dk_fail(&a, "start", err, errlen);
	docker_answer_free(&a);
	return 0;
}

static int dk_create(struct backend *b, const struct backend_spec *s, char *id, size_t idlen,
		     char *err, size_t errlen)
{
	struct docker_backend *d = b->priv;
	char rmerr[64];
	size_t len = 0;
	char **env, *body;
	int rc;

	if (!dk_safe(s->name, "")) {
		snprintf(err, errlen, "not a container name: %s", s->name);
		return -1;
	}
	if (dk_prepare_dir(d, s, err, errlen) != 0)
		return -1;
	/* The image sets DATA_DIR; BIND_ADDRESS is VAULT_BIND_ADDRESS (loopback by
	 * default), since host networking puts the vault on the host's interfaces
	 * and the image's 0.0.0.0 would expose it on all of them. */
	env = vault_env_build(s, d->bind[0] != '\0' ? d->bind : NULL, NULL);
	body = env != NULL ? docker_json_create(s, d->image, env, &len) : NULL;
	vault_env_free(env); /* it held AUTH_TOKEN */
	if (body == NULL) {
		snprintf(err, errlen, "cannot build the create request");
		return -1;
	}
	rc = dk_create_container(d, s, body, len, id, idlen, err, errlen);
	crypto_wipe_free(body); /* it held AUTH_TOKEN */
	if (rc != 0)
		return -1;
	if (dk_start(b, id, s, err, errlen) != 0) {
		dk_remove_id(d, id, rmerr, sizeof(rmerr)); /* a vault that never ran */
		return -1;
	}
	return 0;
}

static int dk_stop(struct backend *b, const char *id, char *err, size_t errlen)
{
	struct docker_backend *d = b->priv;
	struct docker_answer a;
	char path[320];

	if (dk_bad_id(id, err, errlen) != 0)
		return -1;
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s/stop?t=%d", id, DK_STOP_GRACE_S);
	if (dk_call(d, "POST", path, NULL, 0, DK_TIMEOUT_MS + DK_STOP_GRACE_S * 1000L, &a, err,
		    errlen) != 0)
		return -1;
	if (a.status != 204 && a.status != 304) /* 304: not running */
		return dk_fail(&a, "stop", err, errlen);
	docker_answer_free(&a);
	return 0;
}

static int dk_status(struct backend *b, const char *id, struct backend_status *st)
{
	struct docker_backend *d = b->priv;
	struct docker_answer a;
	char path[320];
	int rc = -1;

	memset(st, 0, sizeof(*st));
	if (dk_bad_id(id, st->detail, sizeof(st->detail)) != 0)
		return -1;
	snprintf(path, sizeof(path), DOCKER_API "/containers/%s/json", id);
	if (dk_call(d, "GET", path, NULL, 0, DK_TIMEOUT_MS, &a, st->detail, sizeof(st->detail)) !=
	    0)
		return -1;
	if (a.status == 404) {
		st->state = BACKEND_MISSING;
		snprintf(st->detail, sizeof(st->detail), "no such container");
		rc = 0;
	} else if (a.status == 200) {
		rc = docker_json_status(a.body, a.len, st);
		if (rc != 0)
			snprintf(st->detail, sizeof(st->detail), "unreadable inspect answer");
	} else {
		docker_json_message(a.body, a.len, a.status, st->detail, sizeof(st->detail));
	}
	if (rc != 0)
		log_err("docker: status of %s: %s", id, st->detail);
	docker_answer_free(&a);
	return rc;
}

static int dk_logs(struct backend *b, const char *id, unsigned tail, char **out, size_t *len)
{
	struct docker_backend *d = b->priv;
	struct docker_answer a;
	char path[360], err[200];
	int rc;

	if (dk_bad_id(id, err, sizeof(err)) != 0)
		return -1;
	snprintf(path, sizeof(path),
		 DOCKER_API "/containers/%s/logs?stdout=true&stderr=true&tail=%u", id, tail);
	if (dk_call(d, "GET", path, NULL, 0, DK_TIMEOUT_MS, &a, err, sizeof(err)) != 0)
		return -1;
	if (a.status != 200)
		return dk_fail(&a, "logs", err, sizeof(err));
	rc = docker_logs_demux(a.body, a.len, out, len);
	docker_answer_free(&a);
	return rc;
}

static void dk_destroy(struct backend *b)
{
	if (b == NULL)
		return;
	free(b->priv);
	free(b);
	docker_http_done();
}

static const struct backend_ops docker_ops = {
    .name = "docker",
    .create = dk_create,
    .start = dk_start,
    .stop = dk_stop,
    .remove = dk_remove,
    .status = dk_status,
    .logs = dk_logs,
    .destroy = dk_destroy,
};

struct backend *backend_docker_new(const struct agent_config *cfg, char *err, size_t errlen)
{
	struct backend *b = calloc(1, sizeof(*b));
	struct docker_backend *d = calloc(1, sizeof(*d));
	struct docker_answer a;

	if (b == NULL || d == NULL) {
		snprintf(err, errlen, "out of memory");
		goto fail;
	}
	if (docker_http_init() != 0) {
		snprintf(err, errlen, "cannot initialise libcurl");
		goto fail;
	}
	b->ops = &docker_ops;
	b->priv = d;
	snprintf(d->socket, sizeof(d->socket), "%s", cfg->docker_host);
	snprintf(d->image, sizeof(d->image), "%s", cfg->vault_image);
	snprintf(d->bind, sizeof(d->bind), "%s", cfg->vault_bind_address);
	if (!dk_safe(d->image, ":/@")) {
		snprintf(err, errlen, "VAULT_IMAGE is not an image name: %s", d->image);
		goto fail;
	}
	/* Fail at start-up, with the socket's name, when no engine answers. */
	if (dk_call(d, "GET", DOCKER_API "/_ping", NULL, 0, DK_PING_TIMEOUT_MS, &a, err, errlen) !=
	    0)
		goto fail;
	if (a.status != 200) {
		dk_fail(&a, "engine ping", err, errlen);
		goto fail;
	}
	docker_answer_free(&a);
	return b;
fail:
	if (b != NULL && b->ops != NULL)
		docker_http_done(); /* pairs with the init above */
	free(d);
	free(b);
	return NULL;
}
