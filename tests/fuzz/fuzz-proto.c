/* fuzz-proto.c - the client request codec (gate/proto.c) that every
 * session runs on untrusted client bytes.  libFuzzer entry, plus a main()
 * running files or a built-in corpus once without -DDG_LIBFUZZER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "proto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	struct proto_req r = { 0 };
	const char *err = NULL;
	uint64_t bytes;

	if (proto_req_decode(data, size, &r, &err) == 0) {
		/* Invariant: what decodes re-encodes and decodes to the same op. */
		char *json = NULL;
		struct proto_req again = { 0 };
		if (proto_req_encode(&r, &json) < 0 || proto_req_decode((const uint8_t *)json, strlen(json), &again, &err) < 0 ||
		    again.op != r.op)
			abort();
		proto_req_clear(&again);
		free(json);
		proto_req_clear(&r);
	} else if (!err) {
		abort();
	}
	(void)proto_commit_decode(data, size, &bytes, &err);
	return 0;
}

#ifndef DG_LIBFUZZER
static const char *const corpus[] = {
	"{\"v\":1,\"op\":\"submit\",\"profile\":\"crashdump\",\"reason\":\"INC-1\",\"name\":\"core\",\"stdin\":false}",
	"{\"v\":1,\"op\":\"list\",\"state\":\"stored\"}",
	"{\"v\":1,\"op\":\"wait\",\"id\":\"0123456789abcdef0123456789abcdef\",\"timeout\":5}",
	"{\"v\":1,\"op\":\"status\"}",
	"{\"v\":1,\"op\":\"approve\",\"id\":\"0123456789abcdef0123456789abcdef\","
	"\"sha256\":\"9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08\","
	"\"otp\":\"cccccbcgujhfdhgfhbjhhlntkhhfbenhfgtrkbnftcer\",\"interactive\":true}",
	"{\"v\":1,\"op\":\"deny\",\"id\":\"0123456789abcdef0123456789abcdef\",\"reason\":\"key in core\"}",
	"{\"v\":1,\"op\":\"token_enroll\",\"user\":\"alice\",\"public_id\":\"cccccbcgujhf\","
	"\"aes_key\":\"000102030405060708090a0b0c0d0e0f\"}",
	"{\"v\":1,\"op\":\"token_confirm\",\"otp\":\"cccccbcgujhfdhgfhbjhhlntkhhfbenhfgtrkbnftcer\"}",
	"{\"v\":1,\"op\":\"token_list\"}",
	"{\"v\":1,\"op\":\"token_revoke\",\"public_id\":\"cccccbcgujhf\"}",
	"{\"bytes\":123}",
};

int main(int argc, char **argv)
{
	int runs = 0;

	for (int i = 1; i < argc; i++) {
		static unsigned char buf[1 << 17];
		FILE *f = fopen(argv[i], "rb");
		if (!f)
			return 2;
		size_t n = fread(buf, 1, sizeof(buf), f);
		fclose(f);
		LLVMFuzzerTestOneInput(buf, n);
		runs++;
	}
	for (size_t i = 0; argc == 1 && i < sizeof(corpus) / sizeof(corpus[0]); i++) {
		size_t n = strlen(corpus[i]);
		unsigned char *b = malloc(n);
		for (size_t cut = 0; cut <= n; cut++, runs++)
			LLVMFuzzerTestOneInput((const unsigned char *)corpus[i], cut);
		for (size_t at = 0; b && at < n; at++)
			for (int v = 0; v < 256; v += 29, runs++) {
				memcpy(b, corpus[i], n);
				b[at] = (unsigned char)v;
				LLVMFuzzerTestOneInput(b, n);
			}
		free(b);
	}
	printf("fuzz-proto: %d runs, no invariant broken\n", runs);
	return 0;
}
#endif
