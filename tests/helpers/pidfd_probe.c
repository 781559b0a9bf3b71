/* Exits 0 if pidfd_open(2) works here, 1 if not (saying why): run under
 * valgrind, it tells whether that valgrind knows the system call, without
 * which hbwatch cannot watch a process under it. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/pidfd.h>
#include <unistd.h>

int main(void)
{
	int fd = pidfd_open(getpid(), 0);

	if (fd < 0) {
		printf("pidfd_open: %s\n", strerror(errno));
		return 1;
	}
	close(fd);
	return 0;
}
