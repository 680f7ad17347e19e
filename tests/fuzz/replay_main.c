/*
 * replay_main.c - runs a libFuzzer target over every file of a corpus folder once,
 * without libFuzzer, so `make test` replays the corpora (STYLE rule 9). A target
 * must return 0 and not crash; the line printed at the end counts each input.
 */
#include <dirent.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int main(int argc, char **argv)
{
	int passed = 0, failed = 0;
	for (int a = 1; a < argc; a++) {
		DIR *d = opendir(argv[a]);
		if (!d)
			continue;
		struct dirent *e;
		while ((e = readdir(d))) {
			if (e->d_name[0] == '.')
				continue;
			char path[4096];
			snprintf(path, sizeof path, "%s/%s", argv[a], e->d_name);
			FILE *f = fopen(path, "rb");
			if (!f)
				continue;
			fseek(f, 0, SEEK_END);
			long n = ftell(f);
			fseek(f, 0, SEEK_SET);
			uint8_t *buf = malloc(n > 0 ? (size_t)n : 1);
			size_t got = fread(buf, 1, (size_t)(n > 0 ? n : 0), f);
			fclose(f);
			if (LLVMFuzzerTestOneInput(buf, got) == 0)
				passed++;
			else {
				fprintf(stderr, "replay: %s returned non-zero\n", path);
				failed++;
			}
			free(buf);
		}
		closedir(d);
	}
	printf("%s: %d passed, %d failed\n", argv[0], passed, failed);
	return failed != 0;
}
