"""Print where to install the hbwatch package for the prefix PREFIX:
a directory the running python3 imports from.

    install_dir.py PREFIX MESON_DIR

MESON_DIR is meson's choice for PREFIX (python.purelibdir unset).  It is
kept if this python3 imports from it.  Otherwise the first directory of
sys.path under PREFIX that holds packages (Debian's python3 searches
/usr/local/lib/python3.X/dist-packages and /usr/lib/python3/dist-packages,
not the /usr/local/lib/python3/dist-packages meson computes).  Otherwise,
for a prefix this python3 does not search at all, its own purelib
directory, so that "import hbwatch" works after "meson install"."""

import os
import sys
import sysconfig


def main() -> None:
    prefix, meson_dir = os.path.normpath(sys.argv[1]), sys.argv[2]
    path = [os.path.normpath(p) for p in sys.path if p]
    if not os.path.isabs(meson_dir):
        meson_dir = os.path.join(prefix, meson_dir)
    meson_dir = os.path.normpath(meson_dir)
    if meson_dir in path:
        print(meson_dir)
        return
    for p in path:
        if (p.startswith(prefix + os.sep)
                and os.path.basename(p) in ("site-packages", "dist-packages")):
            print(p)
            return
    print(sysconfig.get_path("purelib"))


main()
