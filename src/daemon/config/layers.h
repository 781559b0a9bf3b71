/* Which files make up the configuration, layered the way systemd layers its
 * own (systemd.unit(5), sysctl.d(5)): a list of directories in falling
 * priority, for example /etc/hbwatch (the admin's), /run/hbwatch (runtime)
 * and /usr/lib/hbwatch (the package's defaults).
 *
 *  - The main file is the first MAIN_NAME found in the directories, in
 *    order: /etc/hbwatch/hbwatch.ini replaces the shipped one whole.
 *  - Drop-ins are every *.ini in DIR/hbwatch.d of every directory, read
 *    after the main file in byte order of their names; of same-named
 *    drop-ins only the one in the highest directory counts.
 *  - A file that is a character device (a symlink to /dev/null) masks the
 *    same-named files below it and is not read.
 * Files whose names start with '.' are editors' and package managers'
 * leftovers, and are skipped. */
#ifndef HBWATCH_LAYERS_H
#define HBWATCH_LAYERS_H

#include <stdbool.h>
#include <stddef.h>

#define LAYERS_DROPIN_DIR    "hbwatch.d"
#define LAYERS_DROPIN_SUFFIX ".ini"

struct layer_file {
	char *path;
	bool masked; /* a symlink to /dev/null: counts as read, holds nothing */
};

/* The files in the order they are read: the main file first. */
struct layer_files {
	struct layer_file *v;
	size_t n;
};

/* Collect the files of DIRS[0..N_DIRS) into *OUT (its previous contents
 * are ignored).  Returns 0; -ENOENT if no directory has MAIN_NAME (*OUT then
 * holds nothing); -ENOMEM; or another -errno, with the path concerned in
 * *WHERE (which the caller frees; NULL for -ENOMEM). */
int layers_collect(const char *const *dirs, size_t n_dirs, const char *main_name,
		   struct layer_files *out, char **where);

/* Free what *F holds and zero it.  Safe on a zeroed *F. */
void layers_free(struct layer_files *f);

#endif
