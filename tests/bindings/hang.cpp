/* hang NAME LABEL: a C++ service that hangs in one task, for
 * test_killed.sh.  Registers as NAME (timeout 2 s), opens task LABEL
 * (timeout 500 ms), beats both every 100 ms for 1 s, then only the
 * process: the task is silent as a hung worker thread would be.  Prints
 * "registered PID" once registered and "task-silent" when the task stops
 * beating.  Exits 3 if still alive after 20 s, 1 on an error. */
#include <chrono>
#include <cstdio>
#include <system_error>
#include <thread>
#include <unistd.h>

#include "hbwatch.hpp"

using namespace std::chrono_literals;

int main(int argc, char **argv)
{
	if (argc != 3) {
		std::fprintf(stderr, "usage: hang NAME LABEL\n");
		return 2;
	}
	try {
		hbwatch::registration reg(argv[1], 2s);
		hbwatch::task task(argv[2], 500ms);
		std::printf("registered %d\n", (int)getpid());
		std::fflush(stdout);
		for (int i = 0; i < 10; i++) {
			std::this_thread::sleep_for(100ms);
			reg.beat();
			task.beat();
		}
		std::printf("task-silent\n");
		std::fflush(stdout);
		for (int i = 0; i < 200; i++) {
			std::this_thread::sleep_for(100ms);
			reg.beat();
		}
	} catch (const std::system_error &e) {
		std::fprintf(stderr, "hang: %s (errno %d)\n", e.what(), e.code().value());
		return 1;
	}
	return 3;
}
