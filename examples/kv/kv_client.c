/*
 * examples/kv/kv_client.c — the kv program's ingress: once the workers are
 * ready, each operand group is one typed call, answered on one line:
 *
 *   put KEY VALUE   ->  "put KEY: created" or "put KEY: replaced"
 *   get KEY         ->  "get KEY: VALUE"
 *   delete KEY      ->  "delete KEY: deleted"
 *   a failed call   ->  "OP KEY: STATUS: MESSAGE" ("get x: NOT_FOUND: no
 *                       such key")
 *
 * then the program serves until it is stopped (return 0); a malformed
 * operand list exits 64. Every call for a key goes to the worker that holds
 * it: the lifecycle picks the worker by key (affinity).
 */
#include <stdio.h>
#include <string.h>

#include <execrpc/runtime.h>

#include "kv/v1/kv.xrc.h"

/* copy `s` into the nanopb string field `f`; 0 if it does not fit */
#define SET(f, s) (snprintf((f), sizeof(f), "%s", (s)) < (int)sizeof(f))

int
kv_client(xr_lifecycle *lc, int argc, char **argv)
{
	kv_v1_PutRequest put = kv_v1_PutRequest_init_zero;
	kv_v1_GetRequest get = kv_v1_GetRequest_init_zero;
	kv_v1_DeleteRequest del = kv_v1_DeleteRequest_init_zero;
	kv_v1_PutResponse put_r;
	kv_v1_GetResponse get_r;
	kv_v1_DeleteResponse del_r;
	xr_status st;
	int i, code, err;

	for (i = 0; i + 1 < argc; i += strcmp(argv[i], "put") ? 2 : 3) {
		const char *op = argv[i], *key = argv[i + 1];
		xr_channel *ch = xr_lifecycle_pick(lc, kv_v1_Kv_SERVICE, key,
		    strlen(key), &err);

		if (!strcmp(op, "put") && i + 2 < argc && SET(put.key, key) &&
		    SET(put.value, argv[i + 2]))
			code = kv_v1_Kv_Put(ch, &put, &put_r, 5000, &st);
		else if (!strcmp(op, "get") && SET(get.key, key))
			code = kv_v1_Kv_Get(ch, &get, &get_r, 5000, &st);
		else if (!strcmp(op, "delete") && SET(del.key, key))
			code = kv_v1_Kv_Delete(ch, &del, &del_r, 5000, &st);
		else
			break;
		if (code != XR_STATUS_OK)
			printf("%s %s: %s: %s\n", op, key, xr_status_name(code),
			    ch != NULL ? st.message : xr_strerror(err));
		else
			printf("%s %s: %s\n", op, key, op[0] == 'p' ?
			    (put_r.created ? "created" : "replaced") :
			    op[0] == 'g' ? get_r.value : "deleted");
	}
	if (i == argc)
		return 0;
	fprintf(stderr, "kv: at \"%s\": expected put KEY VALUE, get KEY or "
	    "delete KEY (KEY up to 64 bytes, VALUE up to 4096)\n", argv[i]);
	return 64;
}
