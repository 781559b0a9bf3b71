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

found=0
for cxx in g++ clang++; do
	command -v "$cxx" >/dev/null 2>&1 && found=$((found + 1))
done
if [ $found -eq 0 ]; then
	echo "1..0 # SKIP neither g++ nor clang++ is installed"
	exit 0 # a TAP skip; meson counts a non-zero TAP exit as an error
fi

DIR=$(mktemp -d /tmp/hbwatch-cxx-XXXXXX)
trap 'rm -rf "$DIR"' EXIT
export HBWATCH_KEY=$(printf '0x43%06x' $(($$ & 0xffffff)))
if ! "$MKTABLE" 16; then
	echo "Bail out! mktable could not make a registry at $HBWATCH_KEY"
	exit 1
fi

echo "1..6"
n=0 rc=0
point() { # point OK DESCRIPTION
	n=$((n + 1))
	if [ "$1" = ok ]; then echo "ok $n - $2"; else echo "not ok $n - $2"; rc=1; fi
}
for cxx in g++ clang++; do
	if ! command -v "$cxx" >/dev/null 2>&1; then
		n=$((n + 1)); echo "ok $n # SKIP $cxx is not installed"
		n=$((n + 1)); echo "ok $n # SKIP $cxx is not installed"
		n=$((n + 1)); echo "ok $n # SKIP $cxx is not installed"
		continue
	fi
	# Older C++ is told what it needs, not left with an error deep in
	# <chrono>.
	printf '#include <hbwatch.hpp>\nint main() { return 0; }\n' >"$DIR/old.cpp"
	if ! "$cxx" -std=c++14 -I"$HB_INCDIR" -c -o "$DIR/old.o" "$DIR/old.cpp" \
		>"$DIR/old.log" 2>&1 && grep -q 'hbwatch.hpp needs C++17' "$DIR/old.log" &&
		! grep -q "is not a member of 'std::chrono'" "$DIR/old.log"; then
		point ok "$cxx -std=c++14: hbwatch.hpp says it needs C++17"
	else
		point fail "$cxx -std=c++14: hbwatch.hpp says it needs C++17"
		sed 's/^/# /' "$DIR/old.log"
	fi
	bin="$DIR/test_cpp-$cxx"
	if "$cxx" -std=c++17 -Wall -Wextra -Werror -pedantic -I"$HB_INCDIR" \
		-o "$bin" "$CXX_TEST_SRC" -L"$HB_LIBDIR" -Wl,-rpath,"$HB_LIBDIR" -lhbwatch \
		>"$DIR/cc.log" 2>&1; then
		point ok "$cxx -std=c++17 -Wall -Wextra -Werror -pedantic builds test_cpp.cpp"
	else
		point fail "$cxx -std=c++17 -Wall -Wextra -Werror -pedantic builds test_cpp.cpp"
		sed 's/^/# /' "$DIR/cc.log"
		n=$((n + 1)); echo "not ok $n - $cxx: test_cpp runs (not built)"
		rc=1
		continue
	fi
	if "$bin" >"$DIR/run.log" 2>&1; then
		point ok "$cxx: test_cpp passes ($(grep -c '^ok' "$DIR/run.log") checks)"
	else
		point fail "$cxx: test_cpp passes"
		grep -v '^ok' "$DIR/run.log" | sed 's/^/# /'
	fi
done
exit $rc
