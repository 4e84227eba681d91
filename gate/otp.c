/* otp.c - Yubico OTPs with libyubikey (the only file that includes
 * <yubikey.h>).  Pure functions: no I/O, no logging, no allocation.
 *
 * libyubikey's decoders never fail: a character outside the modhex alphabet
 * decodes as 0 and a short string is padded with zeros.  Every input is
 * therefore checked (length, NUL, alphabet) before it is decoded.
 *
 * The token structure is little-endian on the wire whatever the host; the
 * fields of yubikey_token_st are converted with le16toh()/htole16().
 */
#include "otp.h"

#include <endian.h>
#include <errno.h>
#include <stddef.h>
#include <string.h>
#include <yubikey.h>

#include "util.h"

_Static_assert(sizeof(yubikey_token_st) == YUBIKEY_BLOCK_SIZE, "token is one AES block");
_Static_assert(offsetof(yubikey_token_st, ctr) == 6 && offsetof(yubikey_token_st, tstpl) == 8 &&
		       offsetof(yubikey_token_st, tstph) == 10 && offsetof(yubikey_token_st, use) == 11 &&
		       offsetof(yubikey_token_st, rnd) == 12 && offsetof(yubikey_token_st, crc) == 14,
	       "token layout as in the Yubico OTP specification");
_Static_assert(YUBIKEY_KEY_SIZE == OTP_AES_KEY_SIZE && YUBIKEY_UID_SIZE == OTP_PRIVATE_ID_SIZE &&
		       YUBIKEY_OTP_SIZE == OTP_TOKEN_LEN && OTP_LEN == OTP_PUBLIC_ID_LEN + OTP_TOKEN_LEN,
	       "sizes agree with libyubikey");

static void token_wipe(yubikey_token_st *t)
{
	explicit_bzero(t, sizeof(*t));
}

static void value_wipe(struct otp_value *v)
{
	explicit_bzero(v, sizeof(*v));
}

/* libyubikey's AES keeps round keys and state in its own stack frames and
 * does not wipe them.  Overwrite the stack below the caller's frame, where
 * those frames were, once the library call has returned. */
static __attribute__((noinline)) void scrub_stack(void)
{
	uint8_t buf[2048];

	explicit_bzero(buf, sizeof(buf));
	__asm__ __volatile__("" : : "r"(buf) : "memory");
}

/* Constant-time: the time does not depend on where the first difference is. */
static bool equal_ct(const uint8_t *a, const uint8_t *b, size_t n)
{
	volatile uint8_t d = 0;

	for (size_t i = 0; i < n; i++)
		d |= (uint8_t)(a[i] ^ b[i]);
	return d == 0;
}

/* s[0..len) are modhex characters and s[len] is NUL. */
static bool modhex_exact(const char *s, size_t len)
{
	return s && strnlen(s, len + 1) == len && yubikey_modhex_p(s);
}

int otp_split(const char *otp, char ret_public_id[static OTP_PUBLIC_ID_LEN + 1],
	      char ret_token[static OTP_TOKEN_LEN + 1])
{
	/* Length first (an embedded NUL makes it short), then the alphabet
	 * over the whole string: nothing is decoded before both hold. */
	if (!modhex_exact(otp, OTP_LEN))
		return -EINVAL;
	memcpy(ret_public_id, otp, OTP_PUBLIC_ID_LEN);
	ret_public_id[OTP_PUBLIC_ID_LEN] = '\0';
	memcpy(ret_token, otp + OTP_PUBLIC_ID_LEN, OTP_TOKEN_LEN);
	ret_token[OTP_TOKEN_LEN] = '\0';
	return 0;
}

int otp_decrypt(const uint8_t aes_key[static OTP_AES_KEY_SIZE], const char token[static OTP_TOKEN_LEN],
		const uint8_t *expect_private_id, struct otp_value *ret)
{
	_cleanup_(token_wipe) yubikey_token_st tok = { 0 };
	_cleanup_(value_wipe) struct otp_value v = { 0 };
	char buf[OTP_TOKEN_LEN + 1];
	bool crc_ok, id_ok;

	if (!aes_key || !token || !ret)
		return -EINVAL;
	/* The token need not be NUL-terminated: copy its 32 characters (the
	 * ciphertext is no secret) and check them before decoding. */
	memcpy(buf, token, OTP_TOKEN_LEN);
	buf[OTP_TOKEN_LEN] = '\0';
	if (!modhex_exact(buf, OTP_TOKEN_LEN))
		return -EINVAL;

	yubikey_parse((const uint8_t *)buf, aes_key, &tok);
	scrub_stack();

	/* Both checks run whatever the first one says, so that the time does
	 * not tell which one failed. */
	crc_ok = yubikey_crc_ok_p((const uint8_t *)&tok);
	id_ok = !expect_private_id || equal_ct(tok.uid, expect_private_id, OTP_PRIVATE_ID_SIZE);
	if (!crc_ok || !id_ok)
		return -EBADMSG;

	memcpy(v.private_id, tok.uid, OTP_PRIVATE_ID_SIZE);
	v.counter = (uint16_t)yubikey_counter(le16toh(tok.ctr));
	v.use = tok.use;
	v.tstp_lo = le16toh(tok.tstpl);
	v.tstp_hi = tok.tstph;
	*ret = v;
	return 0;
}

bool otp_newer(uint16_t counter, uint8_t use, uint16_t hw_counter, uint8_t hw_use)
{
	/* Masked again so that a raw counter with the caps-lock bit can never
	 * look newer than the same OTP without it. */
	counter = (uint16_t)yubikey_counter(counter);
	hw_counter = (uint16_t)yubikey_counter(hw_counter);
	if (counter != hw_counter)
		return counter > hw_counter;
	return use > hw_use;
}

void otp_modhex_encode(const uint8_t *in, size_t n, char *out)
{
	yubikey_modhex_encode(out, (const char *)in, n);
}

int otp_modhex_decode(const char *in, uint8_t *out, size_t n)
{
	if (!in || !out || n > (SIZE_MAX - 1) / 2 || !modhex_exact(in, 2 * n))
		return -EINVAL;
	yubikey_modhex_decode((char *)out, in, n);
	return 0;
}

bool otp_public_id_valid(const char *s)
{
	return modhex_exact(s, OTP_PUBLIC_ID_LEN);
}

int otp_generate(const uint8_t aes_key[static OTP_AES_KEY_SIZE],
		 const uint8_t private_id[static OTP_PRIVATE_ID_SIZE], uint16_t counter, uint8_t use,
		 uint16_t tstp_lo, uint8_t tstp_hi, uint16_t rnd,
		 const char public_id[static OTP_PUBLIC_ID_LEN], char ret_otp[static OTP_LEN + 1])
{
	_cleanup_(token_wipe) yubikey_token_st tok = { 0 };
	char out[OTP_LEN + 1];

	if (!aes_key || !private_id || !public_id || !ret_otp)
		return -EINVAL;
	memcpy(out, public_id, OTP_PUBLIC_ID_LEN);
	out[OTP_PUBLIC_ID_LEN] = '\0';
	if (!otp_public_id_valid(out))
		return -EINVAL;

	memcpy(tok.uid, private_id, OTP_PRIVATE_ID_SIZE);
	tok.ctr = htole16(counter);
	tok.tstpl = htole16(tstp_lo);
	tok.tstph = tstp_hi;
	tok.use = use;
	tok.rnd = htole16(rnd);
	/* As libyubikey's ykgenerate does: the stored CRC is the complement of
	 * the CRC-16 of the first 14 bytes, so that the CRC over all 16 bytes
	 * leaves YUBIKEY_CRC_OK_RESIDUE (what yubikey_crc_ok_p() checks). */
	tok.crc = htole16((uint16_t)~yubikey_crc16((const uint8_t *)&tok, offsetof(yubikey_token_st, crc)));

	/* Encrypts tok in place and writes 32 modhex characters + NUL. */
	yubikey_generate(&tok, aes_key, out + OTP_PUBLIC_ID_LEN);
	scrub_stack();
	memcpy(ret_otp, out, OTP_LEN + 1);
	return 0;
}
