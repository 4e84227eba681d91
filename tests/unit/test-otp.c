/* test-otp.c - gate/otp.c: real Yubico OTPs built with otp_generate() are
 * accepted once decrypted; forged, altered, truncated and foreign ones are
 * refused; counters compare strictly; the caps-lock flag is masked.
 */
#include <errno.h>
#include <string.h>

#include "otp.h"
#include "tap.h"
#include "util.h"

static const uint8_t key[OTP_AES_KEY_SIZE] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
					       0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c };
static const uint8_t other_key[OTP_AES_KEY_SIZE] = { 0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6,
						     0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3d };
static const uint8_t priv[OTP_PRIVATE_ID_SIZE] = { 0x87, 0x92, 0xeb, 0xfe, 0x26, 0xcc };
static const uint8_t other_priv[OTP_PRIVATE_ID_SIZE] = { 0x87, 0x92, 0xeb, 0xfe, 0x26, 0xcd };
static const char pub[] = "vvccccbhbkfe";

/* Split and decrypt a whole OTP as the gate will. */
static int check(const char *otp, const uint8_t *k, const uint8_t *p, struct otp_value *ret)
{
	char public_id[OTP_PUBLIC_ID_LEN + 1], token[OTP_TOKEN_LEN + 1];
	int r = otp_split(otp, public_id, token);

	if (r < 0)
		return r;
	return otp_decrypt(k, token, p, ret);
}

static char flip_modhex(char c)
{
	/* Another character of the alphabet. */
	return c == 'c' ? 'b' : 'c';
}

int main(void)
{
	char otp[OTP_LEN + 1], otp2[OTP_LEN + 1], caps[OTP_LEN + 1], bad[OTP_LEN + 8];
	char public_id[OTP_PUBLIC_ID_LEN + 1] = "unchanged", token[OTP_TOKEN_LEN + 1] = "unchanged";
	struct otp_value v, untouched;
	int r;

	/* ---- round trip */
	r = otp_generate(key, priv, 5, 3, 0x1234, 0x56, 0xbeef, pub, otp);
	ok(r == 0, "otp_generate builds an OTP (r=%d)", r);
	ok(strlen(otp) == OTP_LEN, "it is %d characters", OTP_LEN);
	ok(strncmp(otp, pub, OTP_PUBLIC_ID_LEN) == 0, "it starts with the public id");
	ok(strspn(otp, "cbdefghijklnrtuv") == OTP_LEN, "it is all modhex");

	r = otp_split(otp, public_id, token);
	ok(r == 0 && strcmp(public_id, pub) == 0 && strcmp(token, otp + OTP_PUBLIC_ID_LEN) == 0,
	   "otp_split gives the public id and the token");

	memset(&v, 0, sizeof(v));
	r = check(otp, key, priv, &v);
	ok(r == 0, "the OTP decrypts with its key and private id (r=%d)", r);
	ok(v.counter == 5 && v.use == 3, "counter 5, use 3 come back (got %u, %u)", v.counter, v.use);
	ok(v.tstp_lo == 0x1234 && v.tstp_hi == 0x56, "the timestamp comes back");
	ok(memcmp(v.private_id, priv, sizeof(priv)) == 0, "the private id comes back");

	memset(&v, 0, sizeof(v));
	r = check(otp, key, NULL, &v);
	ok(r == 0 && memcmp(v.private_id, priv, sizeof(priv)) == 0,
	   "without an expected private id (enrolment) the OTP decrypts and tells it");

	r = otp_generate(key, priv, 5, 3, 0x1234, 0x56, 0xbeee, pub, otp2);
	ok(r == 0 && strcmp(otp, otp2) != 0, "another random value gives another OTP for the same counters");

	/* A token need not be NUL-terminated. */
	{
		char raw[OTP_TOKEN_LEN];
		memcpy(raw, otp + OTP_PUBLIC_ID_LEN, OTP_TOKEN_LEN);
		r = otp_decrypt(key, raw, priv, &v);
		ok(r == 0, "otp_decrypt reads exactly 32 characters (no NUL needed)");
	}

	/* Counters at their limits. */
	r = otp_generate(key, priv, OTP_COUNTER_MAX, 255, 0xffff, 0xff, 0xffff, pub, otp2);
	ok(r == 0 && check(otp2, key, priv, &v) == 0 && v.counter == OTP_COUNTER_MAX && v.use == 255,
	   "counter %d, use 255 round-trip", OTP_COUNTER_MAX);
	r = otp_generate(key, priv, 0, 0, 0, 0, 0, pub, otp2);
	ok(r == 0 && check(otp2, key, priv, &v) == 0 && v.counter == 0 && v.use == 0,
	   "counter 0, use 0 round-trip");

	/* ---- refusals: every character of the token flipped in turn */
	{
		int refused = 0;
		for (size_t i = OTP_PUBLIC_ID_LEN; i < OTP_LEN; i++) {
			memcpy(bad, otp, sizeof(otp));
			bad[i] = flip_modhex(bad[i]);
			if (check(bad, key, priv, &v) == -EBADMSG)
				refused++;
		}
		ok(refused == OTP_TOKEN_LEN, "each of the 32 token characters flipped: refused (%d of %d)",
		   refused, OTP_TOKEN_LEN);
	}

	memcpy(bad, otp, sizeof(otp));
	bad[20] = 'a';
	memcpy(&untouched, &v, sizeof(v));
	r = check(bad, key, priv, &v);
	ok(r == -EINVAL, "a non-modhex character ('a') is refused before decoding (r=%d)", r);
	ok(memcmp(&untouched, &v, sizeof(v)) == 0, "and the result is untouched");
	bad[20] = 'C';
	ok(check(bad, key, priv, &v) == -EINVAL, "an upper-case character is refused");
	bad[20] = '0';
	ok(check(bad, key, priv, &v) == -EINVAL, "a digit is refused");
	memcpy(bad, otp, sizeof(otp));
	bad[3] = 'x';
	ok(check(bad, key, priv, &v) == -EINVAL, "a non-modhex character in the public id is refused");

	memcpy(bad, otp, sizeof(otp));
	bad[OTP_LEN - 1] = '\0';
	ok(check(bad, key, priv, &v) == -EINVAL, "43 characters are refused");
	memcpy(bad, otp, sizeof(otp));
	bad[OTP_LEN] = 'c';
	bad[OTP_LEN + 1] = '\0';
	ok(check(bad, key, priv, &v) == -EINVAL, "45 characters are refused");
	ok(check("", key, priv, &v) == -EINVAL, "the empty string is refused");

	memcpy(bad, otp, sizeof(otp));
	bad[30] = '\0';
	memcpy(public_id, "unchanged", 10);
	memcpy(token, "unchanged", 10);
	r = otp_split(bad, public_id, token);
	ok(r == -EINVAL, "otp_split refuses a NUL inside the 44 characters");
	ok(strcmp(public_id, "unchanged") == 0 && strcmp(token, "unchanged") == 0,
	   "and leaves its outputs untouched");

	r = check(otp, other_key, priv, &v);
	ok(r == -EBADMSG, "the wrong AES key is refused (r=%d)", r);
	r = check(otp, key, other_priv, &v);
	ok(r == -EBADMSG, "the wrong private id is refused (r=%d)", r);

	{
		char raw[OTP_TOKEN_LEN];
		memcpy(raw, otp + OTP_PUBLIC_ID_LEN, OTP_TOKEN_LEN);
		raw[10] = '\0';
		ok(otp_decrypt(key, raw, priv, &v) == -EINVAL, "otp_decrypt refuses a NUL in the token");
	}

	/* ---- caps lock: same masked counter */
	r = otp_generate(key, priv, 5 | OTP_CAPS_LOCK, 3, 0x1234, 0x56, 0xbeef, pub, caps);
	ok(r == 0 && strcmp(caps, otp) != 0, "the caps-lock variant is another OTP");
	memset(&v, 0, sizeof(v));
	r = check(caps, key, priv, &v);
	ok(r == 0 && v.counter == 5 && v.use == 3, "it decrypts to counter 5, use 3 (caps-lock bit masked; got %u)",
	   v.counter);
	ok(!otp_newer(v.counter, v.use, 5, 3), "so it is not newer than the spent (5, 3)");
	ok(!otp_newer(5 | OTP_CAPS_LOCK, 3, 5, 3), "otp_newer masks a raw caps-lock counter too");

	/* ---- otp_newer */
	ok(otp_newer(5, 0, 4, 255), "(5,0) > (4,255)");
	ok(otp_newer(5, 1, 5, 0), "(5,1) > (5,0)");
	ok(otp_newer(1, 0, 0, 0), "(1,0) > (0,0)");
	ok(!otp_newer(5, 0, 5, 0), "(5,0) equal: refused");
	ok(!otp_newer(5, 0, 5, 1), "(5,0) < (5,1): lower use refused");
	ok(!otp_newer(4, 255, 5, 0), "(4,255) < (5,0): lower counter refused");
	ok(!otp_newer(0, 0, 0, 0), "(0,0) equal: refused");

	/* ---- public ids and modhex */
	ok(otp_public_id_valid(pub), "a 12-character modhex public id is valid");
	ok(!otp_public_id_valid("vvccccbhbkf"), "11 characters are not");
	ok(!otp_public_id_valid("vvccccbhbkfee"), "13 characters are not");
	ok(!otp_public_id_valid("vvccccbhbkfa"), "a non-modhex character is not");
	ok(!otp_public_id_valid(NULL), "NULL is not");
	{
		uint8_t bytes[6] = { 0 }, back[6] = { 0 };
		char enc[13];
		r = otp_modhex_decode(pub, bytes, sizeof(bytes));
		otp_modhex_encode(bytes, sizeof(bytes), enc);
		ok(r == 0 && strcmp(enc, pub) == 0, "modhex decode/encode round-trips");
		memcpy(back, bytes, sizeof(bytes));
		ok(otp_modhex_decode("vvccccbhbkfa", bytes, sizeof(bytes)) == -EINVAL &&
			   memcmp(back, bytes, sizeof(bytes)) == 0,
		   "otp_modhex_decode refuses a non-modhex character and leaves out untouched");
		ok(otp_modhex_decode("vvccccbhbk", bytes, sizeof(bytes)) == -EINVAL,
		   "otp_modhex_decode refuses a short string");
	}
	r = otp_generate(key, priv, 1, 0, 0, 0, 0, "vvccccbhbkfa", otp2);
	ok(r == -EINVAL, "otp_generate refuses a bad public id");

	explicit_bzero(&v, sizeof(v));
	return tap_done();
}
