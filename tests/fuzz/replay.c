/* Replay runner: feeds every file of the corpus directories (or files)
 * given as arguments to a fuzz target, without libFuzzer, so inputs that
 * once crashed stay fixed in the ordinary test suite (suite fuzz-replay,
 * and under ASan/UBSan in the sanitizer build).  TAP output, one line per
 * directory.  A broken invariant aborts (and fails the test). */
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "fuzz.h"

static int run_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	long n;

	if (!f)
		return -1;
	if (fseek(f, 0, SEEK_END) < 0 || (n = ftell(f)) < 0 || fseek(f, 0, SEEK_SET) < 0) {
		fclose(f);
		return -1;
	}
	buf = malloc((size_t)n + 1);
	if (!buf || fread(buf, 1, (size_t)n, f) != (size_t)n) {
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* An exact-size copy, so ASan catches reads past the input. */
	uint8_t *exact = malloc(n ? (size_t)n : 1);
	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, (size_t)n);
	free(buf);
	LLVMFuzzerTestOneInput(exact, (size_t)n);
	free(exact);
	return 0;
}

static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv)
{
	int failed = 0;

	printf("1..%d\n", argc - 1);
	for (int a = 1; a < argc; a++) {
		struct stat st;
		int n = 0, bad = 0;

		if (stat(argv[a], &st) == 0 && S_ISDIR(st.st_mode)) {
			struct dirent **names;
			int k = scandir(argv[a], &names, NULL, NULL);
			char **paths = calloc(k > 0 ? (size_t)k : 1, sizeof(*paths));
			int m = 0;
			for (int i = 0; i < k; i++) {
				if (names[i]->d_name[0] != '.') {
					size_t len = strlen(argv[a]) + strlen(names[i]->d_name) + 2;
					paths[m] = malloc(len);
					snprintf(paths[m], len, "%s/%s", argv[a], names[i]->d_name);
					m++;
				}
				free(names[i]);
			}
			free(names);
			qsort(paths, (size_t)m, sizeof(*paths), cmp);
			for (int i = 0; i < m; i++) {
				if (run_file(paths[i]) < 0) {
					fprintf(stderr, "# cannot read %s\n", paths[i]);
					bad++;
				}
				n++;
				free(paths[i]);
			}
			free(paths);
		} else {
			bad += run_file(argv[a]) < 0;
			n = 1;
		}
		printf("%s %d - %s: %d inputs\n", bad || n == 0 ? "not ok" : "ok", a, argv[a], n);
		failed |= bad || n == 0;
	}
	return failed;
}
