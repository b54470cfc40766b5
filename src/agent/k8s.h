/* k8s.h: the Kubernetes manifests for one group's vault (Secret, headless
 * Service, StatefulSet, NetworkPolicy) and the `groupvault-agent manifest`
 * subcommand. A pure generator: it talks to no cluster and keeps no state. */
#ifndef GV_AGENT_K8S_H
#define GV_AGENT_K8S_H

#include <stddef.h>
#include <stdio.h>

struct agent_config;

/* A StatefulSet's name is also the prefix of its pods' controller-revision-hash
 * label (name + '-' + 10 chars, at most 63), so it stays within 52. */
#define K8S_NAME_MAX 52
#define K8S_VAULT_PORT 18790
#define K8S_DEFAULT_NAMESPACE "groupvault"
#define K8S_DEFAULT_STORAGE "1Gi"
#define K8S_DEFAULT_IMAGE "groupvault:local"
#define K8S_DEFAULT_MEMORY 256 /* MiB */
#define K8S_DEFAULT_SERVER_SELECTOR "app.kubernetes.io/name=ocmt-management-server"
#define K8S_DEFAULT_AGENT_SELECTOR "app.kubernetes.io/name=groupvault-agent"
/* The uid/gid the vault runs as; fsGroup makes the volume writable for it. */
#define K8S_VAULT_UID 10001

/* Everything a group's manifests depend on; all borrowed, none kept. */
struct k8s_params {
	const char *group_id;	      /* the agent's rule: [A-Za-z0-9_.-]{1,64}, no leading '.' */
	const char *namespace_name;   /* DNS-1123 label */
	const char *image;	      /* e.g. groupvault:local */
	unsigned memory_mb;	      /* the container's memory request and limit */
	const char *storage;	      /* the data volume's size, a quantity like 1Gi */
	unsigned port;		      /* the vault's PORT (K8S_VAULT_PORT) */
	const char *server_selector;  /* "key=value": the management server's pods */
	const char *agent_selector;   /* "key=value": the agents' pods */
	const char *server_namespace; /* their namespaces; NULL: the vault's own */
	const char *agent_namespace;
	const char *auth_token; /* the vault's AUTH_TOKEN, for the Secret */
};

/* Writes the group's resource name ("groupvault-<id>" as a DNS-1123 label of
 * at most K8S_NAME_MAX chars; a hash of the id is appended whenever the id
 * had to be changed, so distinct ids get distinct names) to out (>= 53
 * bytes). -1 with a line in err when the id breaks the agent's rule. */
int k8s_name(const char *group_id, char *out, size_t outlen, char *err, size_t errlen);

/* Writes the four manifests as JSON documents separated by "---" lines (a
 * YAML stream kubectl and `podman kube play` read). Every field of p is
 * checked first; on a bad one nothing is written and err says which.
 * Returns 0, or -1. */
int k8s_manifest_write(FILE *out, const struct k8s_params *p, char *err, size_t errlen);

/* `groupvault-agent manifest <groupId> [options]`: argv[0] is "manifest".
 * cfg may be NULL (built-in defaults for image and memory). Manifests go to
 * stdout, notices and errors to stderr. Returns the exit status (0, 1, or 2
 * for a usage error). */
int k8s_manifest_main(const struct agent_config *cfg, int argc, char **argv);

#endif
