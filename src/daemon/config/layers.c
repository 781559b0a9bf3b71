#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "layers.h"

/* A drop-in met while reading the directories: its name, and the index of
 * the directory it is in (lower: higher priority). */
struct found {
	char *name;
	size_t dir;
};

static int found_compare(const void *a, const void *b)
{
	const struct found *x = a, *y = b;
	int c = strcmp(x->name, y->name);

	if (c)
		return c;
	return x->dir < y->dir ? -1 : x->dir > y->dir;
}

static int dropin_filter(const struct dirent *d)
{
	size_t n = strlen(d->d_name), m = strlen(LAYERS_DROPIN_SUFFIX);

	return d->d_name[0] != '.' && n > m && strcmp(d->d_name + n - m, LAYERS_DROPIN_SUFFIX) == 0;
}

/* Byte order, not alphasort()'s strcoll(): the order must not depend on
 * the locale the daemon happens to run in. */
static int dropin_compare(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

/* Add PATH (taken) to OUT, masked if it is a character device.  stat()
 * follows the symlink, so "ln -s /dev/null" is seen as the device. */
static int file_add(struct layer_files *out, char *path, char **where)
{
	struct layer_file *v;
	struct stat st;

	if (stat(path, &st) < 0) {
		int e = errno;

		*where = path;
		return -e;
	}
	v = realloc(out->v, (out->n + 1) * sizeof(*v));
	if (!v) {
		free(path);
		return -ENOMEM;
	}
	out->v = v;
	v[out->n++] = (struct layer_file){.path = path, .masked = S_ISCHR(st.st_mode)};
	return 0;
}

static int main_find(const char *const *dirs, size_t n_dirs, const char *main_name,
		     struct layer_files *out, char **where)
{
	for (size_t i = 0; i < n_dirs; i++) {
		struct stat st;
		char *path;

		if (asprintf(&path, "%s/%s", dirs[i], main_name) < 0)
			return -ENOMEM;
		if (lstat(path, &st) == 0)
			return file_add(out, path, where);
		if (errno != ENOENT) {
			int e = errno;

			*where = path;
			return -e;
		}
		free(path);
	}
	return -ENOENT;
}

/* Append the drop-ins of DIR/hbwatch.d to *F (*N of them). */
static int dropins_scan(const char *dir, size_t index, struct found **f, size_t *n, char **where)
{
	struct dirent **names = NULL;
	char *sub;
	int k, r = 0;

	if (asprintf(&sub, "%s/" LAYERS_DROPIN_DIR, dir) < 0)
		return -ENOMEM;
	k = scandir(sub, &names, dropin_filter, dropin_compare);
	if (k < 0) {
		int e = errno;

		if (e == ENOENT) {
			free(sub);
			return 0;
		}
		*where = sub;
		return -e;
	}
	free(sub);
	for (int i = 0; i < k; i++) {
		struct found *nf = r ? NULL : realloc(*f, (*n + 1) * sizeof(**f));
		char *name = nf ? strdup(names[i]->d_name) : NULL;

		if (!r && !name)
			r = -ENOMEM;
		if (nf)
			*f = nf;
		if (name)
			(*f)[(*n)++] = (struct found){name, index};
		free(names[i]);
	}
	free(names);
	return r;
}

int layers_collect(const char *const *dirs, size_t n_dirs, const char *main_name,
		   struct layer_files *out, char **where)
{
	struct found *f = NULL;
	size_t n = 0;
	int r;

	*out = (struct layer_files){0};
	*where = NULL;
	r = main_find(dirs, n_dirs, main_name, out, where);
	for (size_t i = 0; r == 0 && i < n_dirs; i++)
		r = dropins_scan(dirs[i], i, &f, &n, where);
	if (r == 0 && n > 1) /* F is NULL when there is none: not qsort()'s to see */
		qsort(f, n, sizeof(*f), found_compare);
	for (size_t i = 0; i < n && r == 0; i++) {
		char *path;

		/* Sorted by name, then priority: the first of a name wins. */
		if (i > 0 && strcmp(f[i].name, f[i - 1].name) == 0)
			continue;
		if (asprintf(&path, "%s/" LAYERS_DROPIN_DIR "/%s", dirs[f[i].dir], f[i].name) < 0)
			r = -ENOMEM;
		else
			r = file_add(out, path, where);
	}
	for (size_t i = 0; i < n; i++)
		free(f[i].name);
	free(f);
	if (r < 0)
		layers_free(out);
	return r;
}

void layers_free(struct layer_files *f)
{
	for (size_t i = 0; i < f->n; i++)
		free(f->v[i].path);
	free(f->v);
	*f = (struct layer_files){0};
}
