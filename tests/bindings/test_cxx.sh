#!/bin/sh
# The C++ bindings with both compilers: tests/bindings/test_cpp.cpp is
# built with g++ and with clang++ (each skipped when missing) as C++17 with
# -Wall -Wextra -Werror -pedantic against src/lib/hbwatch.hpp and the
# build's libhbwatch.so, and run against a registry at a key of its own
# (made by mktable; private IPC namespace through isolate.sh).  TAP: three
# points per compiler (the third: under -std=c++14 the header says it
# needs C++17), the program's own TAP lines as diagnostics.
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

plan 6
for cxx in g++ clang++; do
	if ! command -v "$cxx" >/dev/null 2>&1; then
		skip "$cxx is not installed"
		skip "$cxx is not installed"
		skip "$cxx is not installed"
		continue
	fi
	# Older C++ is told what it needs, not left with an error deep in
	# <chrono>.
	printf '#include <hbwatch.hpp>\nint main() { return 0; }\n' >"$DIR/old.cpp"
	if ! "$cxx" -std=c++14 -I"$HB_INCDIR" -c -o "$DIR/old.o" "$DIR/old.cpp" \
		>"$DIR/old.log" 2>&1 && grep -q 'hbwatch.hpp needs C++17' "$DIR/old.log" &&
		! grep -q "is not a member of 'std::chrono'" "$DIR/old.log"; then
		ok "$cxx -std=c++14: hbwatch.hpp says it needs C++17"
	else
		not_ok "$cxx -std=c++14: hbwatch.hpp says it needs C++17"
		sed 's/^/# /' "$DIR/old.log"
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
