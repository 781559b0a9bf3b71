/* cpactive: a heartbeat client written to the classic teaching layout, as
 * unchanged lesson programs are: a 1000-record System V table and a
 * semaphore on one key, both created by the first client.
 *
 * cpactive --key HEX --name NAME --timeout SECONDS [--beat-ms N]
 *          [--hang-after-ms N] [--pid PID --atime-offset SECONDS]
 *          [--mode OCTAL] [--parent PID]
 *
 * Registers (under the semaphore: the first record holding our pid, else
 * the first free one), writes "registered PID" on stdout, then beats
 * (atime = time(0), no lock, as the lesson code) every --beat-ms (default
 * 200) until --hang-after-ms, then lives on without beating.  With --pid
 * it writes a record for that other process, with atime now plus
 * --atime-offset, and exits.
 *
 * The first client creates the table with mode 0666, as the lesson code
 * does, or with --mode.  --parent PID: die with PID (the test), also when
 * started through setpriv as another user, which clears the parent-death
 * signal the test set. */
#include <errno.h>
#include <getopt.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ipc.h>
#include <sys/prctl.h>
#include <sys/sem.h>
#include <sys/shm.h>
#include <time.h>
#include <unistd.h>

struct st_procinfo {
	int pid;
	char pname[51];
	int timeout;
	time_t atime;
};

_Static_assert(sizeof(struct st_procinfo) == 72, "classic x86_64 layout");

#define MAXNUMP 1000

union semun {
	int val;
	struct semid_ds *buf;
	unsigned short *array;
};

static long num(const char *s)
{
	char *end;
	long v;

	errno = 0;
	v = strtol(s, &end, 0);
	if (errno || *end || end == s) {
		fprintf(stderr, "cpactive: bad number '%s'\n", s);
		exit(2);
	}
	return v;
}

static void sem_op(int semid, int op)
{
	struct sembuf b = {.sem_num = 0, .sem_op = (short)op, .sem_flg = SEM_UNDO};

	while (semop(semid, &b, 1) < 0)
		if (errno != EINTR) {
			perror("cpactive: semop");
			exit(1);
		}
}

static void sleep_ms(long ms)
{
	struct timespec ts = {.tv_sec = ms / 1000, .tv_nsec = ms % 1000 * 1000000L};

	while (nanosleep(&ts, &ts) < 0 && errno == EINTR)
		;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
	    {"key", required_argument, NULL, 'k'},
	    {"name", required_argument, NULL, 'n'},
	    {"timeout", required_argument, NULL, 't'},
	    {"beat-ms", required_argument, NULL, 'b'},
	    {"hang-after-ms", required_argument, NULL, 'H'},
	    {"pid", required_argument, NULL, 'p'},
	    {"atime-offset", required_argument, NULL, 'o'},
	    {"mode", required_argument, NULL, 'm'},
	    {"parent", required_argument, NULL, 'P'},
	    {0},
	};
	const char *name = NULL;
	long key = 0, timeout = 0, beat_ms = 200, hang_ms = -1, offset = 0, mode = 0666;
	long parent = 0;
	int pid = getpid(), c, shmid, semid, pos = -1;
	struct st_procinfo *shm;

	while ((c = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (c) {
		case 'k':
			key = num(optarg);
			break;
		case 'n':
			name = optarg;
			break;
		case 't':
			timeout = num(optarg);
			break;
		case 'b':
			beat_ms = num(optarg);
			break;
		case 'H':
			hang_ms = num(optarg);
			break;
		case 'p':
			pid = (int)num(optarg);
			break;
		case 'o':
			offset = num(optarg);
			break;
		case 'm':
			mode = num(optarg);
			break;
		case 'P':
			parent = num(optarg);
			break;
		default:
			return 2;
		}
	}
	if (!key || !name || strlen(name) > 50) {
		fprintf(stderr, "cpactive: --key and --name (at most 50 bytes) are required\n");
		return 2;
	}
	if (parent > 0) {
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		if (getppid() != (pid_t)parent)
			return 1;
	}
	/* As the lesson code: whoever comes first creates both. */
	shmid = shmget((key_t)key, MAXNUMP * sizeof(struct st_procinfo),
		       (int)(mode & 0777) | IPC_CREAT);
	if (shmid < 0) {
		perror("cpactive: shmget");
		return 1;
	}
	semid = semget((key_t)key, 1, 0640);
	if (semid < 0) {
		union semun arg = {.val = 1};
		semid = semget((key_t)key, 1, 0640 | IPC_CREAT | IPC_EXCL);
		if (semid >= 0 && semctl(semid, 0, SETVAL, arg) < 0)
			semid = -1;
		if (semid < 0 && errno == EEXIST)
			semid = semget((key_t)key, 1, 0640);
	}
	if (semid < 0) {
		perror("cpactive: semget");
		return 1;
	}
	shm = shmat(shmid, NULL, 0);
	if (shm == (void *)-1) {
		perror("cpactive: shmat");
		return 1;
	}
	sem_op(semid, -1);
	for (int i = 0; i < MAXNUMP && pos < 0; i++)
		if (shm[i].pid == pid)
			pos = i;
	for (int i = 0; i < MAXNUMP && pos < 0; i++)
		if (shm[i].pid == 0)
			pos = i;
	if (pos >= 0) {
		struct st_procinfo p = {.pid = pid, .timeout = (int)timeout};
		strncpy(p.pname, name, sizeof(p.pname) - 1);
		p.atime = time(0) + offset;
		memcpy(&shm[pos], &p, sizeof(p));
	}
	sem_op(semid, 1);
	if (pos < 0) {
		fprintf(stderr, "cpactive: table full\n");
		return 1;
	}
	printf("registered %d\n", pid);
	fflush(stdout);
	if (pid != getpid())
		return 0;
	for (long t = 0;; t += beat_ms) {
		if (hang_ms < 0 || t < hang_ms)
			shm[pos].atime = time(0);
		sleep_ms(beat_ms);
	}
}
