/* hbwatch.hpp: C++17 bindings of libhbwatch, header-only over <hbwatch.h>.
 *
 *   hbwatch::registration reg("worker", std::chrono::seconds(5));
 *   hbwatch::task job("import", std::chrono::seconds(30));
 *   for (;;) { ...; reg.beat(); job.beat(); }
 *
 * hbwatch::registration is the process's registration (hb_register), ended
 * by its destructor (hb_unregister); hbwatch::task is one task of the
 * registered process (hb_task_open), closed by its destructor.  Both are
 * move-only.  Errors throw std::system_error with the errno value in
 * std::generic_category().  Durations are rounded up to whole milliseconds
 * (floating-point ones first to the nanosecond) and must fit in an
 * unsigned int: EINVAL when negative, ERANGE when too large.  beat() is an
 * inline call of one store; it throws only when the process or task is no
 * longer registered (ENOTCONN).  Link with -lhbwatch.
 */
#ifndef HBWATCH_HPP
#define HBWATCH_HPP

#if __cplusplus < 201703L
#error "hbwatch.hpp needs C++17 (-std=c++17 or later); C++ before it can use <hbwatch.h>"
#endif

#include <cerrno>
#include <chrono>
#include <cmath>
#include <limits>
#include <string>
#include <system_error>
#include <utility>

#include "hbwatch.h"

namespace hbwatch
{

namespace detail
{

/* Throw std::system_error for a negative errno return R, naming WHAT. */
[[noreturn]] inline void fail(int r, const char *what)
{
	throw std::system_error(-r, std::generic_category(), what);
}

inline void check(int r, const char *what)
{
	if (r < 0)
		fail(r, what);
}

/* What a registration's error means, as libhbwatch(3) says; the same
 * words as the Python package's. */
inline const char *register_what(int r, const char *call)
{
	switch (-r) {
	case ENOENT:
		return "hbwatch: hbwatch is not running (no registry at the key; with a wait, "
		       "also a stopped hbwatch's)";
	case ENOSYS:
		return "hbwatch: the System V shared-memory calls are blocked by a seccomp filter "
		       "(SystemCallFilter=); see libhbwatch(3), SANDBOXED SERVICES";
	case EPERM:
		return "hbwatch: hbwatch refused the registration (no such service, or another "
		       "unit or user than its section requires; see the journal)";
	case EPROTO:
		return "hbwatch: the segment at the key is not hbwatch's registry (another "
		       "program's, another version, or made by a user other than root)";
	default:
		return call;
	}
}

} // namespace detail

/* D in whole milliseconds, rounded up, as the C API's unsigned int.
 * Throws std::system_error: EINVAL for a negative duration, ERANGE for one
 * above UINT_MAX ms (the C calls may refuse smaller ones with EINVAL). */
template <class Rep, class Period> unsigned int to_ms(std::chrono::duration<Rep, Period> d)
{
	using std::chrono::duration;
	using std::chrono::duration_cast;
	using ms_ld = duration<long double, std::milli>;
	constexpr auto max = std::numeric_limits<unsigned int>::max();

	/* Compared as long double first, so a huge count overflows nothing. */
	const long double v = duration_cast<ms_ld>(d).count();
	if (!(v >= 0)) /* negative, or NaN for a floating-point Rep */
		detail::fail(-EINVAL, "hbwatch: negative duration");
	if (v > static_cast<long double>(max))
		detail::fail(-ERANGE, "hbwatch: duration too long");
	if constexpr (std::chrono::treat_as_floating_point<Rep>::value) {
		/* To the nanosecond first, so 1.1 s (1.1000000000000000888 as
		 * a double) is 1100 ms, not 1101. */
		return static_cast<unsigned int>(std::ceil(std::round(v * 1e6L) / 1e6L));
	} else {
		/* Exact for integers; in range above, so no overflow. */
		const auto c = std::chrono::ceil<std::chrono::milliseconds>(d).count();
		if (c > static_cast<decltype(c)>(max))
			detail::fail(-ERANGE, "hbwatch: duration too long");
		return static_cast<unsigned int>(c);
	}
}

/* Extend the process's heartbeat: it may stay silent for D more than its
 * timeout from now (hb_extend). */
template <class Rep, class Period> void extend(std::chrono::duration<Rep, Period> d)
{
	detail::check(hb_extend(to_ms(d)), "hb_extend");
}

/* The process's registration under a service NAME with a TIMEOUT
 * (hb_register, or hb_register_wait with a WAIT); unregistered by the
 * destructor.  One registration per process: a second object registers
 * the process again (updating name and timeout), and the first destroyed
 * ends it for both. */
class registration
{
      public:
	template <class Rep, class Period>
	registration(const char *name, std::chrono::duration<Rep, Period> timeout)
	{
		const int r = hb_register(name, to_ms(timeout));
		if (r < 0)
			detail::fail(r, detail::register_what(r, "hb_register"));
		active_ = true;
	}

	template <class Rep, class Period>
	registration(const std::string &name, std::chrono::duration<Rep, Period> timeout)
	    : registration(name.c_str(), timeout)
	{
	}

	/* Register, then wait up to WAIT until hbwatch has taken the
	 * registration up (hb_register_wait, which beats meanwhile).  On
	 * ETIMEDOUT or EPERM the registration is ended again before the
	 * throw, as no object is left to own it (one registration per
	 * process: that ends one made by another object too). */
	template <class Rep1, class Period1, class Rep2, class Period2>
	registration(const char *name, std::chrono::duration<Rep1, Period1> timeout,
		     std::chrono::duration<Rep2, Period2> wait)
	{
		const unsigned int t = to_ms(timeout);
		const unsigned int w = to_ms(wait);
		const int r = hb_register_wait(name, t, w);
		if (r == -ETIMEDOUT || r == -EPERM)
			hb_unregister();
		if (r < 0)
			detail::fail(r, detail::register_what(r, "hb_register_wait"));
		active_ = true;
	}

	template <class Rep1, class Period1, class Rep2, class Period2>
	registration(const std::string &name, std::chrono::duration<Rep1, Period1> timeout,
		     std::chrono::duration<Rep2, Period2> wait)
	    : registration(name.c_str(), timeout, wait)
	{
	}

	registration(registration &&other) noexcept : active_(std::exchange(other.active_, false))
	{
	}

	registration &operator=(registration &&other) noexcept
	{
		if (this != &other) {
			reset();
			active_ = std::exchange(other.active_, false);
		}
		return *this;
	}

	registration(const registration &) = delete;
	registration &operator=(const registration &) = delete;

	~registration()
	{
		reset();
	}

	/* Record a heartbeat: one store, no lock, no system call. */
	void beat() const
	{
		const int r = hb_beat();
		if (r < 0)
			detail::fail(r, "hb_beat");
	}

	/* Allow D of silence beyond the timeout from now (hb_extend). */
	template <class Rep, class Period> void extend(std::chrono::duration<Rep, Period> d) const
	{
		hbwatch::extend(d);
	}

	/* End the registration now (hb_unregister); the destructor then
	 * does nothing. */
	void unregister()
	{
		if (!active_)
			detail::fail(-ENOTCONN, "hb_unregister");
		active_ = false;
		detail::check(hb_unregister(), "hb_unregister");
	}

	explicit operator bool() const noexcept
	{
		return active_;
	}

      private:
	void reset() noexcept
	{
		if (active_)
			hb_unregister();
		active_ = false;
	}

	bool active_ = false;
};

/* One task of the registered process, LABEL with a TIMEOUT of its own
 * (hb_task_open); closed by the destructor.  Throws ENOTCONN when the
 * process is not registered.  Like any object, not synchronized: several
 * threads may beat() one task, but it must not be closed, moved or
 * destroyed while another thread still uses it. */
class task
{
      public:
	template <class Rep, class Period>
	task(const char *label, std::chrono::duration<Rep, Period> timeout)
	{
		detail::check(hb_task_open(&t_, label, to_ms(timeout)), "hb_task_open");
	}

	template <class Rep, class Period>
	task(const std::string &label, std::chrono::duration<Rep, Period> timeout)
	    : task(label.c_str(), timeout)
	{
	}

	task(task &&other) noexcept : t_(std::exchange(other.t_, nullptr))
	{
	}

	task &operator=(task &&other) noexcept
	{
		if (this != &other) {
			reset();
			t_ = std::exchange(other.t_, nullptr);
		}
		return *this;
	}

	task(const task &) = delete;
	task &operator=(const task &) = delete;

	~task()
	{
		reset();
	}

	/* Record a heartbeat of this task: one store, no lock, no system
	 * call.  Throws ENOTCONN on a closed (moved-from) task. */
	void beat() const
	{
		const int r = t_ ? hb_task_beat(t_) : -ENOTCONN;
		if (r < 0)
			detail::fail(r, "hb_task_beat");
	}

	/* Allow D of silence beyond the task's timeout from now. */
	template <class Rep, class Period> void extend(std::chrono::duration<Rep, Period> d) const
	{
		if (!t_)
			detail::fail(-ENOTCONN, "hb_task_extend");
		detail::check(hb_task_extend(t_, to_ms(d)), "hb_task_extend");
	}

	/* Close the task now (hb_task_close); the destructor then does
	 * nothing. */
	void close()
	{
		if (!t_)
			detail::fail(-ENOTCONN, "hb_task_close");
		detail::check(hb_task_close(std::exchange(t_, nullptr)), "hb_task_close");
	}

	explicit operator bool() const noexcept
	{
		return t_ != nullptr;
	}

	/* The C handle, for the C API; still owned by this object. */
	hb_task *native_handle() const noexcept
	{
		return t_;
	}

      private:
	void reset() noexcept
	{
		if (t_)
			hb_task_close(std::exchange(t_, nullptr));
	}

	hb_task *t_ = nullptr;
};

} // namespace hbwatch

#endif
