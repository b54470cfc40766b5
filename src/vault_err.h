/* vault_err.h: the outcomes a vault operation reports, in the vault's own
 * terms. It knows nothing of HTTP: api.c maps each kind to a status and a
 * client-facing text (api_vault_err). */
#ifndef GV_VAULT_ERR_H
#define GV_VAULT_ERR_H

enum vault_err {
	VAULT_OK = 0,
	VAULT_ALREADY_INIT,  /* init or import on an initialized vault */
	VAULT_NOT_INIT,	     /* unlock or export before init */
	VAULT_BAD_PASSWORD,  /* the derived key does not open the root key */
	VAULT_TOKEN_INVALID, /* bad signature, expired, unknown or revoked token */
	VAULT_WRONG_GROUP,   /* a valid token for another group */
	VAULT_ACCESS_DENIED, /* the token's scope or permissions do not allow it */
	VAULT_NOT_FOUND,     /* no such secret */
	VAULT_LOCKED,	     /* no open session */
	VAULT_UNLOCK_LIMIT,  /* too many failed unlocks from this address */
	VAULT_TOKEN_LIMIT,   /* too many tokens issued to this user this hour */
	VAULT_KDF_BUSY,	     /* another Argon2id derivation is running */
	VAULT_BAD_IMPORT,    /* an export document of the wrong shape */
	VAULT_BAD_KDF,	     /* KDF parameters outside the accepted bounds */
	VAULT_CORRUPT,	     /* stored data failed its integrity check */
	VAULT_INTERNAL,	     /* out of memory, a crypto primitive failed */
	VAULT_AUDIT_FAILED,  /* the audit entry could not be made durable */
	VAULT_STORE_FAILED,  /* the store could not read or commit */
	VAULT_NO_TOKEN,	     /* a revocation names no token (id or hash) */
	VAULT_TOKEN_SIZE,    /* the token would be longer than a check accepts */
	VAULT_BAD_LEGACY,    /* an imported ocmt-v1 vault that cannot migrate whole */
	VAULT_BAD_SHARE,     /* a share that is malformed, foreign, another holder's or repeated */
	VAULT_BAD_SHARES,    /* k shares that passed their checks do not open the root key */
	VAULT_NO_THRESHOLD,  /* share unlock on a vault without a threshold policy */
	VAULT_PASSWORD_OFF,  /* password unlock on a vault whose policy has no password */
	VAULT_ERR_COUNT
};

#endif
