// worker: a threaded C++ service with one hbwatch task per worker thread.
//
//   worker [NAME [WORKERS]]       (defaults: worker, 4)
//
// The process registers under NAME (a section of hbwatch.ini) and beats
// from its main thread; each worker thread opens a task of its own
// ("worker-N") and beats it after every job.  If one worker hangs, its task
// stops beating and hbwatch signals the process.  Errors are
// std::system_error exceptions.  Build: c++ -std=c++17 -pthread worker.cpp
// $(pkg-config --cflags --libs hbwatch).
#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <string>
#include <system_error>
#include <thread>
#include <vector>

#include <hbwatch.hpp>

using namespace std::chrono_literals;

namespace
{

std::atomic<bool> stop{false};

extern "C" void on_term(int)
{
	stop = true;
}

void worker(int id)
{
	try {
		// Each job takes well under a second: beat at least every 5 s.
		hbwatch::task task("worker-" + std::to_string(id), 5s);
		for (unsigned long job = 1; !stop; job++) {
			if (job % 100 == 0) {
				task.extend(20s); // a job known to be long
				std::this_thread::sleep_for(2s);
			} else {
				std::this_thread::sleep_for(100ms); // ... one job ...
			}
			task.beat();
		}
	} catch (const std::system_error &e) {
		std::cerr << "worker-" << id << ": " << e.what() << '\n';
		stop = true;
	}
	// The task is closed by its destructor.
}

} // namespace

int main(int argc, char **argv)
{
	const std::string name = argc > 1 ? argv[1] : "worker";
	const int n = argc > 2 ? std::atoi(argv[2]) : 4;

	if (n < 1 || n > 64) {
		std::cerr << "usage: worker [NAME [WORKERS (1-64)]]\n";
		return 2;
	}
	std::signal(SIGTERM, on_term);
	std::signal(SIGINT, on_term);
	try {
		// The process itself: beat at least every 10 s; unregistered
		// when reg goes out of scope.
		hbwatch::registration reg(name, 10s);
		std::vector<std::thread> threads;
		for (int i = 0; i < n; i++)
			threads.emplace_back(worker, i);
		while (!stop) {
			std::this_thread::sleep_for(1s);
			reg.beat();
		}
		for (auto &t : threads)
			t.join();
	} catch (const std::system_error &e) {
		std::cerr << e.what() << '\n';
		return 1;
	}
	return 0;
}
