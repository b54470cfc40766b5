/* fuzz_import.c: the import parser for both export formats. Invariant: any
 * document gets VAULT_OK or a 400-class answer with a reason, never a crash. */
#include <assert.h>
#include <stdint.h>
#include <stdlib.h>

#include "api.h"
#include "jalloc.h"
#include "vault.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static int ready;
	const char *why = NULL;
	enum vault_err e;
	json_t *doc, *vault;

	if (!ready) {
		jalloc_init();
		ready = 1;
	}
	doc = json_loadb((const char *)data, size, JSON_REJECT_DUPLICATES, NULL);
	if (doc == NULL)
		return 0;
	vault = json_is_object(doc) ? json_object_get(doc, "vault") : doc;
	e = vault_import_check(vault, &why);
	assert(e == VAULT_OK || e == VAULT_BAD_IMPORT || e == VAULT_BAD_KDF);
	if (e != VAULT_OK)
		assert(why != NULL && api_status(api_vault_err(e)) == 400);
	json_decref(doc);
	return 0;
}
