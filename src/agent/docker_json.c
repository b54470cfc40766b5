/* docker_json.c: builds and reads the Docker Engine API's JSON (see
 * docker_json.h). The create body holds AUTH_TOKEN: it is built in a
 * wipe-on-free buffer and never logged; nothing here logs a body. */
#include "docker_json.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "crypto.h"
#include "jalloc.h"
#include "log.h"

static json_t *docker_host_config(const struct backend_spec *s)
{
	json_int_t mem = (json_int_t)s->memory_mb * 1024 * 1024;

	/* A bind mount by fields (not "src:dst" Binds, which a ':' in the path
	 * would split); host networking: the vault listens on its PORT on the
	 * host (the podman here has no working bridge); memory without swap. */
	return json_pack("{s:[{s:s, s:s, s:s}], s:I, s:I, s:{s:s, s:i}, s:s, s:I,"
			 " s:[{s:s, s:i, s:i}, {s:s, s:i, s:i}], s:{s:s, s:{s:s}}}",
			 "Mounts", "Type", "bind", "Source", s->data_dir, "Target", "/app/data",
			 "Memory", mem, "MemorySwap", mem, "RestartPolicy", "Name",
			 "unless-stopped", "MaximumRetryCount", 0, "NetworkMode", "host",
			 "PidsLimit", (json_int_t)DOCKER_PIDS, "Ulimits", "Name", "nofile", "Soft",
			 DOCKER_NOFILE, "Hard", DOCKER_NOFILE, "Name", "nproc", "Soft",
			 DOCKER_NPROC, "Hard", DOCKER_NPROC, "LogConfig", "Type", "", "Config",
			 "max-size", DOCKER_LOG_MAX_SIZE);
}

char *docker_json_create(const struct backend_spec *s, const char *image, char *const *env,
			 size_t *len)
{
	json_t *body = NULL, *arr = json_array(), *host = docker_host_config(s);
	char port[16];
	char *out = NULL;

	snprintf(port, sizeof(port), "%u", s->port);
	if (arr == NULL || host == NULL)
		goto done;
	for (; *env != NULL; env++)
		if (json_array_append_new(arr, json_string(*env)) != 0)
			goto done;
	/* The labels the original agent set, plus the port this vault holds. */
	body = json_pack("{s:s, s:O, s:{s:s, s:s, s:s, s:s}, s:O}", "Image", image, "Env", arr,
			 "Labels", "ocmt.type", "group-vault", "ocmt.groupId", s->group_id,
			 "ocmt.groupSlug", s->slug, "groupvault.port", port, "HostConfig", host);
	if (body != NULL)
		out = jalloc_dump(body, len);
done:
	if (out == NULL)
		log_err("%s: cannot build the create body", __func__);
	json_decref(body);
	json_decref(arr);
	json_decref(host);
	return out;
}

static json_t *docker_parse(const char *body, size_t len)
{
	return body == NULL ? NULL : json_loadb(body, len, 0, NULL);
}

int docker_json_id(const char *body, size_t len, char *id, size_t idlen)
{
	json_t *j = docker_parse(body, len);
	const char *v = json_string_value(json_object_get(j, "Id"));
	int rc = -1;

	if (v != NULL && *v != '\0' && strlen(v) < idlen) {
		memcpy(id, v, strlen(v) + 1);
		rc = 0;
	}
	json_decref(j);
	return rc;
}

int64_t docker_time_ms(const char *s)
{
	struct tm tm;
	const char *p;
	int64_t ms = 0, scale = 100;
	long off = 0;
	time_t t;

	memset(&tm, 0, sizeof(tm));
	if (s == NULL || (p = strptime(s, "%Y-%m-%dT%H:%M:%S", &tm)) == NULL || tm.tm_year < 70)
		return 0;
	if (*p == '.')
		for (p++; *p >= '0' && *p <= '9'; p++, scale /= 10)
			ms += scale > 0 ? (*p - '0') * scale : 0;
	if ((*p == '+' || *p == '-') && strlen(p) == 6 && p[3] == ':')
		off = (*p == '-' ? -1 : 1) *
		      ((p[1] - '0') * 600 + (p[2] - '0') * 60 + (p[4] - '0') * 10 + (p[5] - '0'));
	else if (strcmp(p, "Z") != 0)
		return 0;
	t = timegm(&tm);
	if (t == (time_t)-1)
		return 0;
	return ((int64_t)t - off * 60) * 1000 + ms;
}

int docker_json_status(const char *body, size_t len, struct backend_status *st)
{
	json_t *j = docker_parse(body, len), *state = json_object_get(j, "State");
	const char *status = json_string_value(json_object_get(state, "Status"));
	const char *error = json_string_value(json_object_get(state, "Error"));
	json_t *restarts = json_object_get(j, "RestartCount");

	memset(st, 0, sizeof(*st));
	if (!json_is_object(state) || status == NULL) {
		json_decref(j);
		return -1;
	}
	st->state =
	    json_is_true(json_object_get(state, "Running")) ? BACKEND_RUNNING : BACKEND_STOPPED;
	st->started_at_ms = docker_time_ms(json_string_value(json_object_get(state, "StartedAt")));
	st->restarts = json_is_integer(restarts) && json_integer_value(restarts) > 0
			   ? (unsigned)json_integer_value(restarts)
			   : 0;
	if (error != NULL && *error != '\0')
		snprintf(st->detail, sizeof(st->detail), "%s: %s", status, error);
	else if (strcmp(status, "exited") == 0)
		snprintf(st->detail, sizeof(st->detail), "exited with status %lld",
			 (long long)json_integer_value(json_object_get(state, "ExitCode")));
	else
		snprintf(st->detail, sizeof(st->detail), "%s", status);
	json_decref(j);
	return 0;
}

void docker_json_message(const char *body, size_t len, long status, char *err, size_t errlen)
{
	json_t *j = docker_parse(body, len);
	const char *m = json_string_value(json_object_get(j, "message"));
	size_t o = 0;

	if (m == NULL || *m == '\0') {
		snprintf(err, errlen, "the engine answered HTTP %ld", status);
		json_decref(j);
		return;
	}
	for (; *m != '\0' && o + 1 < errlen; m++)
		if ((unsigned char)*m >= 0x20 && *m != 0x7f)
			err[o++] = *m;
	err[o] = '\0';
	json_decref(j);
}

int docker_json_image_user(const char *body, size_t len, long *uid, long *gid)
{
	json_t *j = docker_parse(body, len), *cfg = json_object_get(j, "Config");
	const char *u = json_string_value(json_object_get(cfg, "User"));
	char *end;
	int rc = 1;

	if (!json_is_object(j)) {
		json_decref(j);
		return -1;
	}
	if (u != NULL && *u >= '0' && *u <= '9') {
		*uid = strtol(u, &end, 10);
		*gid = *uid;
		if (*end == ':' && end[1] >= '0' && end[1] <= '9')
			*gid = strtol(end + 1, &end, 10);
		rc = *end == '\0' && *uid > 0 ? 0 : 1;
	}
	json_decref(j);
	return rc;
}

int docker_json_is_ours(const char *body, size_t len, const char *group_id)
{
	json_t *j = docker_parse(body, len);
	json_t *labels = json_object_get(json_object_get(j, "Config"), "Labels");
	const char *g = json_string_value(json_object_get(labels, "ocmt.groupId"));
	int ours = g != NULL && strcmp(g, group_id) == 0 &&
		   json_string_value(json_object_get(labels, "groupvault.port")) != NULL;

	json_decref(j);
	return ours;
}

int docker_json_name_taken(const char *body, size_t len, long status)
{
	json_t *j;
	const char *cause;
	int taken;

	if (status == 409)
		return 1;
	if (status != 500)
		return 0;
	j = docker_parse(body, len);
	cause = json_string_value(json_object_get(j, "cause"));
	taken = cause != NULL && strcmp(cause, "that name is already in use") == 0;
	json_decref(j);
	return taken;
}

int docker_logs_demux(const char *in, size_t len, char **out, size_t *outlen)
{
	const unsigned char *p = (const unsigned char *)in;
	size_t o = 0, i = 0;
	char *buf = malloc(len + 1);

	if (buf == NULL)
		return -1;
	/* Framed when the first header looks like one: stream 0-2, three zeros. */
	if (len >= 8 && p[0] <= 2 && p[1] == 0 && p[2] == 0 && p[3] == 0) {
		while (i + 8 <= len) {
			size_t n = (size_t)p[i + 4] << 24 | (size_t)p[i + 5] << 16 |
				   (size_t)p[i + 6] << 8 | p[i + 7];
			i += 8;
			if (n > len - i)
				n = len - i; /* a cut-off last frame: keep what arrived */
			memcpy(buf + o, in + i, n);
			o += n;
			i += n;
		}
	} else if (len > 0) {
		memcpy(buf, in, len);
		o = len;
	}
	buf[o] = '\0';
	*out = buf;
	*outlen = o;
	return 0;
}
