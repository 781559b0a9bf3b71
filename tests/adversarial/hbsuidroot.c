/* hbsuidroot [MARKER]: a stand-in for sudo or su, installed setuid root by
 * a test: it takes root as its real, effective and saved uid, so that its
 * caller's uid can no longer signal it, writes "root" to MARKER, and
 * sleeps.  Plain libc: a setuid program ignores $ORIGIN in its run path. */
#include <fcntl.h>
#include <stdio.h>
#include <unistd.h>

int main(int argc, char **argv)
{
	if (setresuid(0, 0, 0) < 0) {
		perror("hbsuidroot: setresuid");
		return 2;
	}
	if (argc > 1) {
		int fd = open(argv[1], O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);

		if (fd < 0 || write(fd, "root\n", 5) != 5 || close(fd) < 0)
			return 3;
	}
	for (;;)
		pause();
}
