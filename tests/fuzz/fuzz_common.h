/*
 * tests/fuzz/fuzz_common.h — what the seed generator (make_seeds.c) and the
 * frame targets share: the fixed test key (also the keys of fuzz_control's
 * supervisor and of the generated bundles), the fixed clock and session id.
 * Test values only, never a real key.
 */
#ifndef XF_FUZZ_COMMON_H
#define XF_FUZZ_COMMON_H

#include <stddef.h>
#include <stdint.h>

#include "keys.h"
#include "replay.h"

/* "Now" for every frame target and every generated seed (unix ms). */
#define XF_NOW 1700000000000ULL
#define XF_TTL 30000ULL
#define XF_MAX_PAYLOAD 65536

/* The fixed master secret; keys are HKDF-SHA256 from it. */
static const uint8_t xf_master[XR_MASTER_LEN] = {
	0x5e, 0x1f, 0x33, 0xa4, 0x07, 0xc2, 0x91, 0x6d,
	0x28, 0xbb, 0x4e, 0x10, 0xf5, 0x83, 0x6a, 0x9c,
	0x3d, 0x72, 0xe8, 0x01, 0xb6, 0x4f, 0x29, 0xd7,
	0x60, 0x1a, 0xce, 0x95, 0x3b, 0x84, 0x0f, 0xe2,
};

/* The session id of an OPEN session in fuzz_rx (control bit 1). */
static const uint8_t xf_session[XR_SESSION_ID_LEN] = {
	0xa0, 0xa1, 0xa2, 0xa3, 0xa4, 0xa5, 0xa6, 0xa7,
	0xa8, 0xa9, 0xaa, 0xab, 0xac, 0xad, 0xae, 0xaf,
};

/*
 * fuzz_rx input: one control byte, then a frame body (the bytes after the
 * 4-byte length prefix).
 */
#define XF_RX_RESIGN 0x01	/* re-sign the (mutated) envelope bytes */
#define XF_RX_OPEN 0x02		/* session OPEN with xf_session, else NONE */
#define XF_RX_SEQ_SEEN 0x04	/* OPEN session has peer_seq 1 already */

#endif /* XF_FUZZ_COMMON_H */
