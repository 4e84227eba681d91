/* otp.h - Yubico OTPs: split, decrypt, check, compare counters, generate.
 *
 * otp.c is the only file of the project that includes <yubikey.h>.  Every
 * function here is pure: no I/O, no logging, no allocation.  They return 0
 * or a negative errno and fill ret_* only on success (STYLE.md).
 *
 * A Yubico OTP is 44 modhex characters: a 12-character public id (6 bytes,
 * sent in clear, known to anyone who saw one OTP) followed by a 32-character
 * token, the AES-128 encryption of
 *
 *   private id (6) | counter (2, LE) | tstp_lo (2, LE) | tstp_hi (1) |
 *   use (1) | rnd (2, LE) | crc (2, LE: ~CRC-16 of the 14 bytes before)
 *
 * "counter" is the token's non-volatile session counter (15 bits; bit 15 is
 * the caps-lock flag), "use" the number of OTPs within that session.  An OTP
 * is fresh when (counter, use) is strictly above the stored high-water mark
 * (otp_newer()).
 *
 * Secrets: callers own the AES key and the decrypted otp_value (its private
 * id is a secret of the token) and wipe them; functions here wipe their own
 * copies of decrypted plaintext on every path.
 */
#pragma once

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define OTP_LEN 44              /* characters of a whole OTP */
#define OTP_PUBLIC_ID_LEN 12    /* modhex characters of the public id */
#define OTP_TOKEN_LEN 32        /* modhex characters of the encrypted token */
#define OTP_AES_KEY_SIZE 16     /* bytes */
#define OTP_PRIVATE_ID_SIZE 6   /* bytes */
#define OTP_COUNTER_MAX 0x7fff  /* the session counter has 15 bits */
#define OTP_CAPS_LOCK 0x8000    /* caps-lock flag in the raw counter field */

/* The decrypted, checked content of a token.  counter has the caps-lock bit
 * masked off (0..OTP_COUNTER_MAX). */
struct otp_value {
	uint8_t private_id[OTP_PRIVATE_ID_SIZE];
	uint16_t counter;
	uint8_t use;
	uint16_t tstp_lo;
	uint8_t tstp_hi;
};

/* Split a whole OTP.  otp must be a NUL-terminated string of exactly
 * OTP_LEN modhex characters (lower case, "cbdefghijklnrtuv"); anything else,
 * including an embedded NUL, is -EINVAL.  Fills ret_public_id (12 characters
 * + NUL) and ret_token (32 characters + NUL).  Reads at most OTP_LEN + 1
 * bytes of otp. */
int otp_split(const char *otp, char ret_public_id[static OTP_PUBLIC_ID_LEN + 1],
	      char ret_token[static OTP_TOKEN_LEN + 1]);

/* Decrypt token (exactly OTP_TOKEN_LEN modhex characters; a NUL after them
 * is not needed) with aes_key, check its CRC and its private id.
 *   -EINVAL   token is not 32 modhex characters
 *   -EBADMSG  CRC mismatch (wrong key, altered token) or private id mismatch
 * expect_private_id may be NULL only at enrolment, when the gate learns the
 * private id from the proof-of-possession OTP: then only the CRC is checked
 * and ret->private_id is what the token carries.  The private id is compared
 * in constant time.  Borrows every argument. */
int otp_decrypt(const uint8_t aes_key[static OTP_AES_KEY_SIZE], const char token[static OTP_TOKEN_LEN],
		const uint8_t *expect_private_id, struct otp_value *ret);

/* true when (counter, use) is strictly above (hw_counter, hw_use) in
 * lexicographic order.  Pass masked counters (otp_value.counter). */
bool otp_newer(uint16_t counter, uint8_t use, uint16_t hw_counter, uint8_t hw_use);

/* Modhex of n bytes into out (2n characters + NUL). */
void otp_modhex_encode(const uint8_t *in, size_t n, char *out);
/* in must be exactly 2n modhex characters followed by NUL; -EINVAL
 * otherwise, and out is untouched. */
int otp_modhex_decode(const char *in, uint8_t *out, size_t n);
/* true when s is a NUL-terminated public id: exactly 12 modhex characters. */
bool otp_public_id_valid(const char *s);

/* Build a real Yubico OTP (public id + token encrypted with aes_key).
 * counter is the raw 16-bit field: bit 15 (OTP_CAPS_LOCK) is passed through
 * so that tests can build caps-lock variants.  public_id must be 12 modhex
 * characters (a NUL after them is not needed).  Fills ret_otp with 44
 * characters + NUL.  -EINVAL on a bad public id. */
int otp_generate(const uint8_t aes_key[static OTP_AES_KEY_SIZE],
		 const uint8_t private_id[static OTP_PRIVATE_ID_SIZE], uint16_t counter, uint8_t use,
		 uint16_t tstp_lo, uint8_t tstp_hi, uint16_t rnd,
		 const char public_id[static OTP_PUBLIC_ID_LEN], char ret_otp[static OTP_LEN + 1]);
