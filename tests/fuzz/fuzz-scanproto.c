/* fuzz-scanproto.c - the monitor's check of scanner output lines
 * (gate/scanproto.c), the boundary an exploited scanner talks across.
 * libFuzzer entry, plus a main() that runs files or a built-in corpus once
 * when built without -DDG_LIBFUZZER. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "scanproto.h"

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	static const char *const passes[] = { "raw", "decoded" };

	for (int i = 0; i < 2; i++) {
		json_t *o = NULL;
		uint64_t progress = 0;
		const char *err = NULL;
		int k = scanproto_parse_line(passes[i], (const char *)data, size, &o, &progress, &err);
		/* Invariants: an accepted finding/summary comes with an object,
		 * a refusal with a reason and nothing else. */
		if ((k == SCANPROTO_FINDING || k == SCANPROTO_SUMMARY) != (o != NULL))
			abort();
		if (k == SCANPROTO_BAD && !err)
			abort();
		json_decref(o);
	}
	return 0;
}

#ifndef DG_LIBFUZZER
static const char *const corpus[] = {
	"{\"progress\":12}",
	"{\"progress\":-1}",
	"{\"file\":\"artifact\",\"pass\":\"raw\",\"detector\":\"pem\",\"severity\":\"critical\",\"offset\":1000,"
	"\"length\":118,\"key_type\":\"ed25519\",\"bits\":256,\"verified\":true,\"public_sha256\":"
	"\"bf74cfafc858a1e9328e12ad8ee22b5036cc0cb5ddcd3f8a8f8506a56a62e73b\",\"container\":null,\"note\":null,"
	"\"allowed\":false}",
	"{\"summary\":true,\"file\":\"artifact\",\"pass\":\"raw\",\"bytes\":2119,\"sha256\":"
	"\"a427d431f40520c7fa211a46830a5218664ab67a9f35ccc881c864dc284cce22\",\"seconds\":0.007,\"findings\":1,"
	"\"verdict\":\"findings\"}",
	"{\"summary\":true,\"summary\":true}",
	"[1,2,3]",
	"{\"file\":\"a\",\"pass\":\"decoded\",\"detector\":\"der\",\"severity\":\"high\",\"offset\":1,\"length\":2,"
	"\"key_type\":null,\"bits\":null,\"verified\":false,\"public_sha256\":null,\"container\":{\"format\":"
	"\"gzip\",\"index\":1,\"offset\":0},\"note\":\"x\",\"allowed\":false}",
};

int main(int argc, char **argv)
{
	int runs = 0;

	if (argc > 1) {
		for (int i = 1; i < argc; i++) {
			FILE *f = fopen(argv[i], "rb");
			static unsigned char buf[1 << 20];
			size_t n;
			if (!f)
				return 2;
			n = fread(buf, 1, sizeof(buf), f);
			fclose(f);
			LLVMFuzzerTestOneInput(buf, n);
			runs++;
		}
	} else {
		for (size_t i = 0; i < sizeof(corpus) / sizeof(corpus[0]); i++) {
			size_t n = strlen(corpus[i]);
			/* every prefix and every single-byte change of each seed */
			for (size_t cut = 0; cut <= n; cut++, runs++)
				LLVMFuzzerTestOneInput((const unsigned char *)corpus[i], cut);
			unsigned char *b = malloc(n);
			for (size_t at = 0; b && at < n; at++)
				for (int v = 0; v < 256; v += 37, runs++) {
					memcpy(b, corpus[i], n);
					b[at] = (unsigned char)v;
					LLVMFuzzerTestOneInput(b, n);
				}
			free(b);
		}
	}
	printf("fuzz-scanproto: %d runs, no invariant broken\n", runs);
	return 0;
}
#endif
