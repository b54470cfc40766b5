/* k8s.c: builds one group's Kubernetes manifests with jansson (so every
 * string is escaped by the library) after checking each input against the
 * syntax Kubernetes wants. It never contacts a cluster, never writes a file,
 * and never puts a token in the output it was not given. */
#include "k8s.h"

#include <errno.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "config.h"
#include "crypto.h"
#include "jalloc.h"
#include "request.h"

#define K8S_PREFIX "groupvault-"
#define K8S_HASH_HEX 10 /* hex digits of SHA-256(group id) in a changed name */
#define K8S_GROUP_MAX REG_ID_MAX
#define K8S_TOKEN_MIN 16
#define K8S_TOKEN_MAX 1023 /* groupvaultd's AUTH_TOKEN buffer */
#define K8S_IMAGE_MAX 255
#define K8S_QUANTITY_MAX 24
#define K8S_MEMORY_MIN 128 /* one Argon2id derivation takes 64 MiB */
#define K8S_MEMORY_MAX 65536
#define K8S_DATA_MOUNT "/app/data"
/* groupvaultd refuses a data dir it does not own or that the group may
 * write, which a volume's root (root-owned, fsGroup-writable) is; so it
 * keeps its files in a directory it creates below the mount. */
#define K8S_DATA_DIR K8S_DATA_MOUNT "/vault"

static int k8s_fail(char *err, size_t errlen, const char *what)
{
	snprintf(err, errlen, "%s", what);
	return -1;
}

static int k8s_alnum_lower(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

static int k8s_alnum(char c) { return k8s_alnum_lower(c) || (c >= 'A' && c <= 'Z'); }

/* A DNS-1123 label: [a-z0-9]([-a-z0-9]*[a-z0-9])?, at most max chars. */
static int k8s_dns_label(const char *s, size_t n, size_t max)
{
	if (n == 0 || n > max || !k8s_alnum_lower(s[0]) || !k8s_alnum_lower(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!k8s_alnum_lower(s[i]) && s[i] != '-')
			return 0;
	return 1;
}

/* A DNS-1123 subdomain: dot-separated labels, at most 253 chars. */
static int k8s_dns_subdomain(const char *s, size_t n)
{
	size_t start = 0;

	if (n == 0 || n > 253)
		return 0;
	for (size_t i = 0; i <= n; i++) {
		if (i < n && s[i] != '.')
			continue;
		if (!k8s_dns_label(s + start, i - start, 63))
			return 0;
		start = i + 1;
	}
	return 1;
}

/* A label name or value: ([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9], <= 63. */
static int k8s_label_part(const char *s, size_t n)
{
	if (n == 0 || n > 63 || !k8s_alnum(s[0]) || !k8s_alnum(s[n - 1]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!k8s_alnum(s[i]) && s[i] != '-' && s[i] != '_' && s[i] != '.')
			return 0;
	return 1;
}

/* A NetworkPolicy peer: the pods labelled sel ("[prefix/]name=value"), in
 * namespace ns, or in the vault's own namespace when ns is NULL. */
static json_t *k8s_peer(const char *sel, const char *ns, char *err, size_t errlen)
{
	const char *eq = sel ? strchr(sel, '=') : NULL;
	const char *slash;
	size_t keylen;
	char key[320];
	json_t *peer;

	if (eq == NULL || (keylen = (size_t)(eq - sel)) >= sizeof(key) ||
	    !k8s_label_part(eq + 1, strnlen(eq + 1, 64)))
		goto bad;
	slash = memchr(sel, '/', keylen);
	if (slash != NULL ? !k8s_dns_subdomain(sel, (size_t)(slash - sel)) ||
				!k8s_label_part(slash + 1, (size_t)(eq - slash - 1))
			  : !k8s_label_part(sel, keylen))
		goto bad;
	if (ns != NULL && !k8s_dns_label(ns, strnlen(ns, 64), 63)) {
		snprintf(err, errlen, "peer namespace must be a DNS-1123 label (a-z0-9-, 1-63)");
		return NULL;
	}
	memcpy(key, sel, keylen);
	key[keylen] = '\0';
	peer = json_pack("{s:{s:{s:s}}}", "podSelector", "matchLabels", key, eq + 1);
	/* kubernetes.io/metadata.name is set on every namespace by the API server. */
	if (peer != NULL && ns != NULL &&
	    json_object_set_new(
		peer, "namespaceSelector",
		json_pack("{s:{s:s}}", "matchLabels", "kubernetes.io/metadata.name", ns))) {
		json_decref(peer);
		peer = NULL;
	}
	if (peer == NULL)
		snprintf(err, errlen, "out of memory");
	return peer;
bad:
	snprintf(err, errlen, "selector must be key=value with Kubernetes label syntax");
	return NULL;
}

/* A quantity like 1Gi, 500Mi or 10G; no signs, exponents or zero. */
static int k8s_quantity_ok(const char *s)
{
	static const char *const suffixes[] = {"",  "Ki", "Mi", "Gi", "Ti", "Pi", "Ei",
					       "k", "M",  "G",	"T",  "P",  "E"};
	size_t i = 0, n = s ? strnlen(s, K8S_QUANTITY_MAX + 1) : 0;
	int nonzero = 0, dot = 0;

	if (n == 0 || n > K8S_QUANTITY_MAX)
		return 0;
	for (; i < n && ((s[i] >= '0' && s[i] <= '9') || (s[i] == '.' && !dot && i > 0)); i++) {
		dot |= s[i] == '.';
		nonzero |= s[i] >= '1' && s[i] <= '9';
	}
	if (!nonzero || s[i - 1] == '.')
		return 0;
	for (size_t k = 0; k < sizeof(suffixes) / sizeof(suffixes[0]); k++)
		if (strcmp(s + i, suffixes[k]) == 0)
			return 1;
	return 0;
}

/* Image references: [A-Za-z0-9._/:@-], 1..255 chars. */
static int k8s_image_ok(const char *s)
{
	size_t n = s ? strnlen(s, K8S_IMAGE_MAX + 1) : 0;

	if (n == 0 || n > K8S_IMAGE_MAX || !k8s_alnum(s[0]))
		return 0;
	for (size_t i = 0; i < n; i++)
		if (!k8s_alnum(s[i]) && strchr("._/:@-", s[i]) == NULL)
			return 0;
	return 1;
}

/* What groupvaultd accepts as AUTH_TOKEN, minus spaces and control bytes
 * (which a token file's author never means). */
static int k8s_token_ok(const char *s)
{
	size_t n = s ? strnlen(s, K8S_TOKEN_MAX + 1) : 0;

	if (n < K8S_TOKEN_MIN || n > K8S_TOKEN_MAX)
		return 0;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return 0;
	return 1;
}

int k8s_name(const char *group_id, char *out, size_t outlen, char *err, size_t errlen)
{
	char name[sizeof(K8S_PREFIX) + K8S_GROUP_MAX];
	unsigned char digest[CRYPTO_HASH_LEN];
	size_t n = sizeof(K8S_PREFIX) - 1, cut = K8S_NAME_MAX - 1 - K8S_HASH_HEX;
	int changed = 0;

	if (group_id == NULL || !agent_valid_group_id(group_id)) /* the agent's own rule */
		return k8s_fail(err, errlen,
				"group id must be 1-64 of [A-Za-z0-9_.-], not starting with '.'");
	if (outlen < K8S_NAME_MAX + 1)
		return k8s_fail(err, errlen, "name buffer too small");
	memcpy(name, K8S_PREFIX, n);
	for (const char *c = group_id; *c != '\0'; c++) {
		char l = (*c >= 'A' && *c <= 'Z') ? (char)(*c - 'A' + 'a') : *c;
		name[n++] = k8s_alnum_lower(l) ? l : '-';
		changed |= name[n - 1] != *c;
	}
	while (name[n - 1] == '-')
		n--, changed = 1;
	changed |= n > K8S_NAME_MAX;
	name[n] = '\0';
	/* An id kept as it is never ends like a hashed one, so the two kinds of
	 * names cannot meet. */
	if (!changed && n > K8S_HASH_HEX + 1 && name[n - K8S_HASH_HEX - 1] == '-' &&
	    strspn(name + n - K8S_HASH_HEX, "0123456789abcdef") == K8S_HASH_HEX)
		changed = 1;
	if (changed) {
		if (crypto_sha256(group_id, strlen(group_id), digest) != 0)
			return k8s_fail(err, errlen, "cannot hash the group id");
		for (n = n < cut ? n : cut; name[n - 1] == '-';)
			n--;
		name[n++] = '-';
		for (int i = 0; i < K8S_HASH_HEX; i++)
			name[n++] = "0123456789abcdef"[(digest[i / 2] >> (i % 2 ? 0 : 4)) & 15];
	}
	memcpy(out, name, n);
	out[n] = '\0';
	return 0;
}

/* The labels every object carries; the first two select the vault's pod. */
static json_t *k8s_labels(const char *name, int selector_only)
{
	json_t *l = json_pack("{s:s, s:s}", "app.kubernetes.io/name", "groupvault",
			      "app.kubernetes.io/instance", name);

	if (l != NULL && !selector_only &&
	    (json_object_set_new(l, "app.kubernetes.io/component", json_string("vault")) ||
	     json_object_set_new(l, "app.kubernetes.io/managed-by",
				 json_string("groupvault-agent")))) {
		json_decref(l);
		return NULL;
	}
	return l;
}

/* Group ids may not fit label values (64 chars, '_' or '.' at the ends), so
 * the id itself travels as an annotation. */
static json_t *k8s_meta(const char *name, const struct k8s_params *p)
{
	return json_pack("{s:s, s:s, s:o, s:{s:s}}", "name", name, "namespace", p->namespace_name,
			 "labels", k8s_labels(name, 0), "annotations", "groupvault.io/group-id",
			 p->group_id);
}

/* The token and nothing else: the vault keeps its own SIGNING_KEY on its
 * volume when the variable is unset, so no key ever sits in the cluster's
 * object store. */
static json_t *k8s_secret(const char *name, const struct k8s_params *p)
{
	return json_pack("{s:s, s:s, s:o, s:s, s:{s:s}}", "apiVersion", "v1", "kind", "Secret",
			 "metadata", k8s_meta(name, p), "type", "Opaque", "stringData",
			 "AUTH_TOKEN", p->auth_token);
}

static json_t *k8s_service(const char *name, const struct k8s_params *p)
{
	return json_pack("{s:s, s:s, s:o, s:{s:s, s:o, s:[{s:s, s:s, s:i, s:s}]}}", "apiVersion",
			 "v1", "kind", "Service", "metadata", k8s_meta(name, p), "spec",
			 "clusterIP", "None", "selector", k8s_labels(name, 1), "ports", "name",
			 "http", "protocol", "TCP", "port", (int)p->port, "targetPort", "http");
}

/* GET /health on the named port; kubelet only looks at the status. */
static json_t *k8s_probe(int period, int failures)
{
	return json_pack("{s:{s:s, s:s}, s:i, s:i, s:i}", "httpGet", "path", "/health", "port",
			 "http", "periodSeconds", period, "timeoutSeconds", 2, "failureThreshold",
			 failures);
}

static json_t *k8s_env(const char *name, const struct k8s_params *p)
{
	char port[16];

	snprintf(port, sizeof(port), "%u", p->port);
	return json_pack("[{s:s, s:s}, {s:s, s:{s:{s:s, s:s}}}, {s:s, s:s}, {s:s, s:s}, "
			 "{s:s, s:s}, {s:s, s:s}]",
			 "name", "GROUP_ID", "value", p->group_id, "name", "AUTH_TOKEN",
			 "valueFrom", "secretKeyRef", "name", name, "key", "AUTH_TOKEN", "name",
			 "PORT", "value", port, "name", "BIND_ADDRESS", "value", "0.0.0.0", "name",
			 "DATA_DIR", "value", K8S_DATA_DIR, "name", "THREADS", "value", "2");
}

static json_t *k8s_container(const char *name, const struct k8s_params *p)
{
	char mem[32];

	snprintf(mem, sizeof(mem), "%uMi", p->memory_mb);
	return json_pack("{s:s, s:s, s:s, s:[{s:s, s:i, s:s}], s:o, "
			 "s:{s:{s:s, s:s}, s:{s:s, s:s}}, "
			 "s:{s:b, s:b, s:b, s:b, s:{s:[s]}}, "
			 "s:[{s:s, s:s}, {s:s, s:s}], s:o, s:o, s:o}",
			 "name", "vault", "image", p->image, "imagePullPolicy", "IfNotPresent",
			 "ports", "name", "http", "containerPort", (int)p->port, "protocol", "TCP",
			 "env", k8s_env(name, p), "resources", "requests", "cpu", "50m", "memory",
			 mem, "limits", "cpu", "1", "memory", mem, "securityContext",
			 "runAsNonRoot", 1, "readOnlyRootFilesystem", 1, "allowPrivilegeEscalation",
			 0, "privileged", 0, "capabilities", "drop", "ALL", "volumeMounts", "name",
			 "data", "mountPath", K8S_DATA_MOUNT, "name", "tmp", "mountPath", "/tmp",
			 "startupProbe", k8s_probe(1, 30), "livenessProbe", k8s_probe(10, 3),
			 "readinessProbe", k8s_probe(5, 2));
}

/* One replica: a vault's database has one writer. */
static json_t *k8s_statefulset(const char *name, const struct k8s_params *p)
{
	return json_pack(
	    "{s:s, s:s, s:o, s:{s:i, s:s, s:{s:o}, s:{s:{s:o}, s:{"
	    "s:b, s:b, s:i, s:{s:b, s:i, s:i, s:i, s:s, s:{s:s}}, s:[o], s:[{s:s, s:{s:s, "
	    "s:s}}]}}, "
	    "s:[{s:{s:s, s:o}, s:{s:[s], s:{s:{s:s}}}}]}}",
	    "apiVersion", "apps/v1", "kind", "StatefulSet", "metadata", k8s_meta(name, p), "spec",
	    "replicas", 1, "serviceName", name, "selector", "matchLabels", k8s_labels(name, 1),
	    "template", "metadata", "labels", k8s_labels(name, 0), "spec",
	    "automountServiceAccountToken", 0, "enableServiceLinks", 0,
	    "terminationGracePeriodSeconds", 30, "securityContext", "runAsNonRoot", 1, "runAsUser",
	    K8S_VAULT_UID, "runAsGroup", K8S_VAULT_UID, "fsGroup", K8S_VAULT_UID,
	    "fsGroupChangePolicy", "OnRootMismatch", "seccompProfile", "type", "RuntimeDefault",
	    "containers", k8s_container(name, p), "volumes", "name", "tmp", "emptyDir", "medium",
	    "Memory", "sizeLimit", "16Mi", "volumeClaimTemplates", "metadata", "name", "data",
	    "labels", k8s_labels(name, 0), "spec", "accessModes", "ReadWriteOnce", "resources",
	    "requests", "storage", p->storage);
}

/* Ingress to the vault's port only from the management server's and the
 * agents' pods; no egress at all: a vault answers, it never calls out. */
static json_t *k8s_netpol(const char *name, const struct k8s_params *p, json_t *server,
			  json_t *agent)
{
	return json_pack("{s:s, s:s, s:o, s:{s:{s:o}, s:[s, s], s:[{s:[o, o], s:[{s:s, s:i}]}], "
			 "s:[]}}",
			 "apiVersion", "networking.k8s.io/v1", "kind", "NetworkPolicy", "metadata",
			 k8s_meta(name, p), "spec", "podSelector", "matchLabels",
			 k8s_labels(name, 1), "policyTypes", "Ingress", "Egress", "ingress", "from",
			 server, agent, "ports", "protocol", "TCP", "port", (int)p->port, "egress");
}

/* Every input, before anything is built. 0 or -1 with err set. */
static int k8s_check(const struct k8s_params *p, char *err, size_t errlen)
{
	const char *ns = p->namespace_name;

	if (ns == NULL || !k8s_dns_label(ns, strnlen(ns, 64), 63))
		return k8s_fail(err, errlen, "namespace must be a DNS-1123 label (a-z0-9-, 1-63)");
	if (!k8s_image_ok(p->image))
		return k8s_fail(err, errlen, "image must be 1-255 of [A-Za-z0-9._/:@-]");
	if (p->memory_mb < K8S_MEMORY_MIN || p->memory_mb > K8S_MEMORY_MAX)
		return k8s_fail(err, errlen, "memory must be 128-65536 MiB");
	if (!k8s_quantity_ok(p->storage))
		return k8s_fail(err, errlen, "storage must be a quantity like 1Gi or 500Mi");
	if (p->port == 0 || p->port > 65535)
		return k8s_fail(err, errlen, "port must be 1-65535");
	if (!k8s_token_ok(p->auth_token))
		return k8s_fail(err, errlen,
				"auth token must be 16-1023 printable characters without spaces");
	return 0;
}

static int k8s_dump(FILE *out, json_t *doc)
{
	if (fputs("---\n", out) == EOF || json_dumpf(doc, out, JSON_INDENT(2)) != 0 ||
	    fputc('\n', out) == EOF)
		return -1;
	return 0;
}

int k8s_manifest_write(FILE *out, const struct k8s_params *p, char *err, size_t errlen)
{
	char name[K8S_NAME_MAX + 1];
	json_t *server = NULL, *agent = NULL, *docs[4] = {NULL, NULL, NULL, NULL};
	int rc = -1;

	if (k8s_name(p->group_id, name, sizeof(name), err, errlen) != 0 ||
	    k8s_check(p, err, errlen) != 0)
		return -1;
	if ((server = k8s_peer(p->server_selector, p->server_namespace, err, errlen)) == NULL ||
	    (agent = k8s_peer(p->agent_selector, p->agent_namespace, err, errlen)) == NULL)
		goto out;
	docs[0] = k8s_secret(name, p);
	docs[1] = k8s_service(name, p);
	docs[2] = k8s_statefulset(name, p);
	docs[3] = k8s_netpol(name, p, server, agent);
	server = agent = NULL; /* the NetworkPolicy owns them now, built or not */
	for (int i = 0; i < 4; i++)
		if (docs[i] == NULL) {
			snprintf(err, errlen, "cannot build the manifests (out of memory?)");
			goto out;
		}
	for (int i = 0; i < 4; i++)
		if (k8s_dump(out, docs[i]) != 0) {
			snprintf(err, errlen, "cannot write the manifests: %s", strerror(errno));
			goto out;
		}
	if (fflush(out) != 0) {
		snprintf(err, errlen, "cannot write the manifests: %s", strerror(errno));
		goto out;
	}
	rc = 0;
out:
	json_decref(server);
	json_decref(agent);
	for (int i = 0; i < 4; i++)
		json_decref(docs[i]);
	return rc;
}

/* Reads a token file into buf (one trailing newline dropped). 0 or -1. */
static int k8s_token_read(const char *path, char *buf, size_t buflen)
{
	FILE *f = fopen(path, "re");
	size_t n;

	if (f == NULL) {
		fprintf(stderr, "manifest: cannot open %s: %s\n", path, strerror(errno));
		return -1;
	}
	n = fread(buf, 1, buflen - 1, f);
	if (ferror(f) || (n == buflen - 1 && fgetc(f) != EOF)) {
		fprintf(stderr, "manifest: %s: unreadable or longer than %d bytes\n", path,
			K8S_TOKEN_MAX);
		fclose(f);
		return -1;
	}
	fclose(f);
	buf[n] = '\0';
	if (n > 0 && buf[n - 1] == '\n')
		buf[--n] = '\0';
	if (n > 0 && buf[n - 1] == '\r')
		buf[--n] = '\0';
	return 0;
}

/* 32 random bytes as 64 hex digits. */
static int k8s_token_generate(char *buf, size_t buflen)
{
	unsigned char raw[32];

	if (buflen < 2 * sizeof(raw) + 1 || crypto_random(raw, sizeof(raw)) != 0)
		return -1;
	for (size_t i = 0; i < sizeof(raw); i++)
		snprintf(buf + 2 * i, 3, "%02x", raw[i]);
	crypto_wipe(raw, sizeof(raw));
	return 0;
}

static int k8s_usage(FILE *to)
{
	fprintf(to,
		"usage: groupvault-agent manifest [--] <groupId> [--namespace NS] [--image IMG]\n"
		"         [--auth-token-file F] [--storage SIZE] [--memory MIB] [--port PORT]\n"
		"         [--server-selector K=V] [--server-namespace NS]\n"
		"         [--agent-selector K=V] [--agent-namespace NS]\n"
		"Prints the group's Secret, Service, StatefulSet and NetworkPolicy.\n");
	return 2;
}

/* "--opt value" pairs into p; *token_file gets --auth-token-file. */
static int k8s_args(int argc, char **argv, int i, struct k8s_params *p, const char **token_file)
{
	for (; i < argc; i += 2) {
		const char *o = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
		char *end;
		unsigned long n;

		if (v == NULL)
			return -1;
		if (strcmp(o, "--namespace") == 0)
			p->namespace_name = v;
		else if (strcmp(o, "--image") == 0)
			p->image = v;
		else if (strcmp(o, "--auth-token-file") == 0)
			*token_file = v;
		else if (strcmp(o, "--storage") == 0)
			p->storage = v;
		else if (strcmp(o, "--server-selector") == 0)
			p->server_selector = v;
		else if (strcmp(o, "--agent-selector") == 0)
			p->agent_selector = v;
		else if (strcmp(o, "--server-namespace") == 0)
			p->server_namespace = v;
		else if (strcmp(o, "--agent-namespace") == 0)
			p->agent_namespace = v;
		else if (strcmp(o, "--memory") == 0 || strcmp(o, "--port") == 0) {
			errno = 0;
			n = strtoul(v, &end, 10);
			if (errno != 0 || end == v || *end != '\0' || v[0] == '-' || n > 1000000)
				return -1;
			*(o[2] == 'm' ? &p->memory_mb : &p->port) = (unsigned)n;
		} else
			return -1;
	}
	return 0;
}

/* VAULT_IMAGE and VAULT_MEMORY_MB are the defaults for --image and
 * --memory: from cfg when the agent's settings loaded, else read here (a
 * manifest needs neither AGENT_AUTH_TOKEN nor a VAULT_BIN). */
static int k8s_agent_defaults(const struct agent_config *cfg, struct k8s_params *p)
{
	const char *img = cfg != NULL ? cfg->vault_image : getenv("VAULT_IMAGE");
	const char *mem = cfg != NULL ? NULL : getenv("VAULT_MEMORY_MB");
	char *end;
	unsigned long n;

	if (img != NULL && img[0] != '\0')
		p->image = img;
	if (cfg != NULL && cfg->memory_mb != 0)
		p->memory_mb = cfg->memory_mb;
	if (mem != NULL && mem[0] != '\0') {
		errno = 0;
		n = strtoul(mem, &end, 10);
		if (errno != 0 || *end != '\0' || mem[0] == '-' || n > K8S_MEMORY_MAX) {
			fprintf(stderr, "manifest: VAULT_MEMORY_MB must be a number of MiB\n");
			return -1;
		}
		if (n != 0) /* 0, "no limit", is no size for a pod */
			p->memory_mb = (unsigned)n;
	}
	return 0;
}

int k8s_manifest_main(const struct agent_config *cfg, int argc, char **argv)
{
	struct k8s_params p = {
	    .namespace_name = K8S_DEFAULT_NAMESPACE,
	    .image = K8S_DEFAULT_IMAGE,
	    .memory_mb = K8S_DEFAULT_MEMORY,
	    .storage = K8S_DEFAULT_STORAGE,
	    .port = K8S_VAULT_PORT,
	    .server_selector = K8S_DEFAULT_SERVER_SELECTOR,
	    .agent_selector = K8S_DEFAULT_AGENT_SELECTOR,
	};
	const char *token_file = NULL;
	char token[K8S_TOKEN_MAX + 2], err[160];
	int rc = 1,
	    at = argc > 2 && strcmp(argv[1], "--") == 0 ? 2 : 1; /* -- <id starting with -> */

	if (argc == 2 && strcmp(argv[1], "--help") == 0) {
		k8s_usage(stdout);
		return 0;
	}
	if (k8s_agent_defaults(cfg, &p) != 0)
		return 1;
	if (argc <= at || (at == 1 && argv[1][0] == '-') ||
	    k8s_args(argc, argv, at + 1, &p, &token_file) != 0)
		return k8s_usage(stderr);
	p.group_id = argv[at];
	if (!jalloc_ready())
		jalloc_init(); /* the Secret's tree holds the token */
	if (token_file != NULL ? k8s_token_read(token_file, token, sizeof(token))
			       : k8s_token_generate(token, sizeof(token))) {
		if (token_file == NULL)
			fprintf(stderr, "manifest: cannot generate a token\n");
		goto out;
	}
	p.auth_token = token;
	if (k8s_manifest_write(stdout, &p, err, sizeof(err)) != 0) {
		fprintf(stderr, "manifest: %s\n", err);
		goto out;
	}
	if (token_file == NULL)
		fprintf(stderr,
			"manifest: generated a random AUTH_TOKEN for group %s; it is in the "
			"Secret only (give it to the management server)\n",
			p.group_id);
	rc = 0;
out:
	crypto_wipe(token, sizeof(token));
	return rc;
}
