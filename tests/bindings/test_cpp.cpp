/* The C++ bindings (hbwatch.hpp) against the real library and a registry
 * at $HBWATCH_KEY (made by the test script, no daemon needed): duration
 * conversion (ceil, EINVAL, ERANGE), move-only types, std::system_error
 * with the errno, RAII unregistration and task close.  TAP on stdout. */
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <system_error>
#include <type_traits>
#include <utility>

#include "hbwatch.hpp"

using namespace std::chrono_literals;

static int n_tests;
static int n_failed;

static void ok(bool cond, const std::string &what)
{
	n_tests++;
	if (!cond)
		n_failed++;
	std::printf("%sok %d - %s\n", cond ? "" : "not ", n_tests, what.c_str());
}

/* The errno F throws as std::system_error (generic category); 0 if it does
 * not throw, -1 for any other exception. */
template <class F> static int thrown_errno(F &&f)
{
	try {
		f();
	} catch (const std::system_error &e) {
		return e.code().category() == std::generic_category() ? e.code().value() : -2;
	} catch (...) {
		return -1;
	}
	return 0;
}

static_assert(!std::is_copy_constructible_v<hbwatch::registration>);
static_assert(!std::is_copy_assignable_v<hbwatch::registration>);
static_assert(std::is_nothrow_move_constructible_v<hbwatch::registration>);
static_assert(std::is_nothrow_move_assignable_v<hbwatch::registration>);
static_assert(!std::is_copy_constructible_v<hbwatch::task>);
static_assert(!std::is_copy_assignable_v<hbwatch::task>);
static_assert(std::is_nothrow_move_constructible_v<hbwatch::task>);
static_assert(std::is_nothrow_move_assignable_v<hbwatch::task>);

static void conversions()
{
	ok(hbwatch::to_ms(5s) == 5000, "5 s is 5000 ms");
	ok(hbwatch::to_ms(1ns) == 1, "1 ns rounds up to 1 ms");
	ok(hbwatch::to_ms(1001us) == 2, "1001 us rounds up to 2 ms");
	ok(hbwatch::to_ms(0ms) == 0, "0 ms is 0");
	ok(hbwatch::to_ms(std::chrono::duration<double>(0.0015)) == 2,
	   "1.5 ms as double seconds rounds up to 2 ms");
	ok(hbwatch::to_ms(std::chrono::duration<double>(1.1)) == 1100,
	   "1.1 s as double is 1100 ms, not 1101");
	ok(hbwatch::to_ms(std::chrono::milliseconds(4294967295LL)) == 4294967295u,
	   "UINT_MAX ms is accepted");
	ok(thrown_errno([] { hbwatch::to_ms(std::chrono::milliseconds(4294967296LL)); }) == ERANGE,
	   "UINT_MAX + 1 ms throws ERANGE");
	ok(thrown_errno([] { hbwatch::to_ms(std::chrono::hours(INT64_MAX)); }) == ERANGE,
	   "INT64_MAX hours throws ERANGE (no overflow)");
	ok(thrown_errno([] { hbwatch::to_ms(-1ms); }) == EINVAL,
	   "a negative duration throws EINVAL");
	ok(thrown_errno([] { hbwatch::to_ms(std::chrono::duration<double>(-0.5)); }) == EINVAL,
	   "a negative double duration throws EINVAL");
}

static void registration()
{
	ok(thrown_errno([] { hbwatch::registration r("bad name", 1s); }) == EINVAL,
	   "a bad name throws EINVAL");
	ok(thrown_errno([] { hbwatch::registration r("cpp", 0s); }) == EINVAL,
	   "a zero timeout throws EINVAL");
	ok(thrown_errno([] { hbwatch::registration r("cpp", 25h); }) == EINVAL,
	   "a timeout above HB_TIMEOUT_MAX_MS throws EINVAL");
	ok(thrown_errno([] { hbwatch::task t("job", 1s); }) == ENOTCONN,
	   "a task without registration throws ENOTCONN");
	/* No hbwatch runs (only a registry): the wait runs out. */
	ok(thrown_errno([] { hbwatch::registration r("cpp", 2s, 50ms); }) == ETIMEDOUT,
	   "registration with a wait nobody answers throws ETIMEDOUT");
	ok(hb_beat() == -ENOTCONN, "not registered after the failures");
	{
		/* No hbwatch at another key: ENOENT, said in the man page's words. */
		const char *key = std::getenv("HBWATCH_KEY");
		const std::string saved = key ? key : "";
		std::string what;
		setenv("HBWATCH_KEY", "0x7ffffffe", 1);
		try {
			hbwatch::registration r("cpp", 2s);
		} catch (const std::system_error &e) {
			what = std::to_string(e.code().value()) + " " + e.what();
		}
		setenv("HBWATCH_KEY", saved.c_str(), 1);
		ok(what.rfind(std::to_string(ENOENT) + " ", 0) == 0 &&
		       what.find("hbwatch is not running") != std::string::npos,
		   "no hbwatch: ENOENT, 'hbwatch is not running' (" + what + ")");
	}

	{
		hbwatch::registration r(std::string("cpp"), 2s);
		ok(static_cast<bool>(r) && hb_beat() == 0, "registered by the constructor");
		ok(thrown_errno([&] { r.beat(); }) == 0, "beat() does not throw");
		ok(thrown_errno([&] { r.extend(1500ms); }) == 0, "extend() does not throw");

		hbwatch::registration moved(std::move(r));
		ok(!r && moved, "a move hands the registration over");
		{
			hbwatch::task t("job", 500ms);
			ok(static_cast<bool>(t) && t.native_handle() != nullptr, "task opened");
			ok(thrown_errno([&] { t.beat(); }) == 0, "task beat() does not throw");
			ok(thrown_errno([&] { t.extend(2s); }) == 0,
			   "task extend() does not throw");
			ok(thrown_errno([&] { t.extend(-1s); }) == EINVAL,
			   "task extend() of a negative duration throws EINVAL");
			hbwatch::task t2(std::move(t));
			ok(!t && t2, "a move hands the task over");
			ok(thrown_errno([&] { t.beat(); }) == ENOTCONN,
			   "beat() of a moved-from task throws ENOTCONN");
			t2.close();
			ok(!t2, "close() closes the task");
			ok(thrown_errno([&] { t2.close(); }) == ENOTCONN,
			   "a second close() throws ENOTCONN");
			hbwatch::task t3("job", 500ms);
			t3 = hbwatch::task("other", 1s);
			ok(static_cast<bool>(t3), "move assignment keeps the new task");
		}
		ok(hb_beat() == 0, "the moved-from registration's destructor did nothing");
	}
	ok(hb_beat() == -ENOTCONN, "unregistered by the destructor");

	hbwatch::registration r("cpp", 2s);
	r.unregister();
	ok(!r && hb_beat() == -ENOTCONN, "unregister() ends the registration");
	ok(thrown_errno([&] { r.beat(); }) == ENOTCONN, "beat() then throws ENOTCONN");
	ok(thrown_errno([] { hbwatch::extend(1s); }) == ENOTCONN,
	   "hbwatch::extend() unregistered throws ENOTCONN");
}

int main()
{
	conversions();
	registration();
	std::printf("1..%d\n", n_tests);
	return n_failed != 0;
}
