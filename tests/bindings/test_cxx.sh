#!/bin/sh
# The C++ bindings with both compilers: tests/bindings/test_cpp.cpp is
# built with g++ and with clang++ (each skipped when missing) as C++17 with
# -Wall -Wextra -Werror -pedantic against src/lib/hbwatch.hpp and the
# build's libhbwatch.so, and run against a registry at a key of its own
# (made by mktable; private IPC namespace through isolate.sh).  TAP: two
# points per compiler, the program's own TAP lines as diagnostics.
set -u
: "${MKTABLE:?run through meson test}" "${CXX_TEST_SRC:?}" "${HB_INCDIR:?}" "${HB_LIBDIR:?}"
. "$(dirname "$0")/../tap.sh"

found=0
for cxx in g++ clang++; do
	command -v "$cxx" >/dev/null 2>&1 && found=$((found + 1))
done
[ $found -gt 0 ] || skip_all "neither g++ nor clang++ is installed"

DIR=$(mktemp -d /tmp/hbwatch-cxx-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export HBWATCH_KEY=$(printf '0x43%06x' $(($$ & 0xffffff)))
"$MKTABLE" 16 || bail "mktable could not make a registry at $HBWATCH_KEY"

plan 4
for cxx in g++ clang++; do
	if ! command -v "$cxx" >/dev/null 2>&1; then
		skip "$cxx is not installed"
		skip "$cxx is not installed"
		continue
	fi
	bin="$DIR/test_cpp-$cxx"
	check "$cxx -std=c++17 -Wall -Wextra -Werror -pedantic builds test_cpp.cpp" \
		"$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -I"$HB_INCDIR" \
		-o "$bin" "$CXX_TEST_SRC" -L"$HB_LIBDIR" -Wl,-rpath,"$HB_LIBDIR" -lhbwatch
	if [ ! -x "$bin" ]; then
		not_ok "$cxx: test_cpp runs (not built)"
		continue
	fi
	# The program's own TAP lines become diagnostics when it fails.
	if "$bin" >"$DIR/run.log" 2>&1; then
		ok "$cxx: test_cpp passes ($(grep -c '^ok' "$DIR/run.log") checks)"
	else
		not_ok "$cxx: test_cpp passes"
		grep -v '^ok' "$DIR/run.log" | sed 's/^/# /'
	fi
done
tap_exit
