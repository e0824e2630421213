/*
 * meshchat's symmetric primitives for WebAssembly: HKDF-SHA-256 and
 * AES-256-GCM, from BearSSL's constant-time implementations (aes_ct64,
 * ghash_ctmul64). No allocation, no libc: the caller owns all buffers,
 * which live in this module's linear memory.
 */
#include "inner.h"

/* Every context is wiped after use so no key stays in linear memory. */
static void wipe(void *p, size_t n) {
	volatile unsigned char *v = p;
	while (n--) {
		*v++ = 0;
	}
}

/* Bytes of the saved HKDF state that mc_hkdf_extract writes. */
size_t mc_hkdf_state_size(void) {
	return sizeof(br_hkdf_context);
}

/*
 * HKDF-SHA-256 extract (RFC 5869): saves the PRK's HMAC key context to
 * state, so each later expand skips the extract and the HMAC key set-up.
 */
void mc_hkdf_extract(const uint8_t *ikm, size_t ikm_len,
	const uint8_t *salt, size_t salt_len, br_hkdf_context *state)
{
	br_hkdf_init(state, &br_sha256_vtable, salt, salt_len);
	br_hkdf_inject(state, ikm, ikm_len);
	br_hkdf_flip(state);
}

/* HKDF-SHA-256 expand: out_len (at most 255 * 32) bytes from a saved state. */
void mc_hkdf_expand(const br_hkdf_context *state,
	const uint8_t *info, size_t info_len, uint8_t *out, size_t out_len)
{
	br_hkdf_context hc = *state;

	br_hkdf_produce(&hc, info, info_len, out, out_len);
	wipe(&hc, sizeof hc);
}

static void gcm_start(br_gcm_context *gc, br_aes_ct64_ctr_keys *aes,
	const uint8_t *key, const uint8_t *iv, const uint8_t *ad, size_t ad_len)
{
	br_aes_ct64_ctr_init(aes, key, 32);
	br_gcm_init(gc, &aes->vtable, &br_ghash_ctmul64);
	br_gcm_reset(gc, iv, 12);
	br_gcm_aad_inject(gc, ad, ad_len);
	br_gcm_flip(gc);
}

/* AES-256-GCM encryption in place; writes the 16-byte tag to tag. */
void mc_gcm_seal(const uint8_t *key, const uint8_t *iv,
	const uint8_t *ad, size_t ad_len,
	uint8_t *data, size_t len, uint8_t *tag)
{
	br_aes_ct64_ctr_keys aes;
	br_gcm_context gc;

	gcm_start(&gc, &aes, key, iv, ad, ad_len);
	br_gcm_run(&gc, 1, data, len);
	br_gcm_get_tag(&gc, tag);
	wipe(&aes, sizeof aes);
	wipe(&gc, sizeof gc);
}

/*
 * AES-256-GCM decryption in place. Returns 1 when the tag matches
 * (checked in constant time); otherwise 0, with data zeroed so no
 * unauthenticated plaintext is left behind.
 */
int mc_gcm_open(const uint8_t *key, const uint8_t *iv,
	const uint8_t *ad, size_t ad_len,
	uint8_t *data, size_t len, const uint8_t *tag)
{
	br_aes_ct64_ctr_keys aes;
	br_gcm_context gc;
	uint32_t ok;

	gcm_start(&gc, &aes, key, iv, ad, ad_len);
	br_gcm_run(&gc, 0, data, len);
	ok = br_gcm_check_tag(&gc, tag);
	wipe(&aes, sizeof aes);
	wipe(&gc, sizeof gc);
	if (!ok) {
		wipe(data, len);
	}
	return (int)ok;
}

/*
 * The freestanding libc BearSSL links against. With bulk memory these
 * compile to single memory.copy / memory.fill instructions.
 */
void *memcpy(void *dst, const void *src, size_t n) {
	return __builtin_memcpy(dst, src, n);
}

void *memmove(void *dst, const void *src, size_t n) {
	return __builtin_memmove(dst, src, n);
}

void *memset(void *dst, int c, size_t n) {
	return __builtin_memset(dst, c, n);
}

int memcmp(const void *a, const void *b, size_t n) {
	const unsigned char *x = a, *y = b;
	for (; n; n--, x++, y++) {
		if (*x != *y) {
			return *x - *y;
		}
	}
	return 0;
}
