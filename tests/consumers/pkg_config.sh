#!/usr/bin/env bash
# package.pkg_config: the installed infer.pc, and C / C++ programs built with its flags as
# README.md says (cc prog.c $(pkg-config --cflags --libs infer)), then run.
#   shared: runs with LD_LIBRARY_PATH and records the SONAME;
#   static: -linfer resolves to libinfer.a (the only libinfer on the first -L path) and
#           Libs.private must then be enough to link; the program needs no libinfer at run time.
# Usage: pkg_config.sh PREFIX LIBDIR WORKDIR VERSION SONAME
set -euo pipefail
prefix="$1" libdir="$1/$2" work="$3" version="$4" soname="$5"
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
export PKG_CONFIG_PATH="$libdir/pkgconfig"
unset LD_LIBRARY_PATH
rm -rf "$work" && mkdir -p "$work" && cd "$work"

expect() { # expect ARGS... WANTED: the words pkg-config ARGS prints are WANTED's
    local want="${*: -1}" got
    got="$(pkg-config "${@:1:$#-1}" | xargs)"
    if [ "$got" != "$want" ]; then echo "error: pkg-config ${*:1:$#-1} gives '$got', expected '$want'" >&2; exit 1; fi
}
expect --modversion infer "$version"
expect --cflags infer "-I$prefix/include"
expect --libs infer "-L$libdir -linfer"
expect --static --libs infer "-L$libdir -linfer -lgcc_s -lutil -lrt -lpthread -lm -ldl"

warnings=(-Wall -Wextra -Werror -pedantic)
# shellcheck disable=SC2046 # word splitting of pkg-config's output is intended
cc -std=c11 "${warnings[@]}" "$here/consumer.c" $(pkg-config --cflags --libs infer) -o c_shared
# shellcheck disable=SC2046
c++ -std=c++17 "${warnings[@]}" "$here/consumer.cpp" $(pkg-config --cflags --libs infer) -o cpp_shared
mkdir static-only && ln -s "$libdir/libinfer.a" static-only/
# shellcheck disable=SC2046
cc -std=c11 "${warnings[@]}" "$here/consumer.c" $(pkg-config --cflags infer) -Lstatic-only \
    $(pkg-config --static --libs infer) -o c_static

want="consumer: libinfer $version, ABI [0-9]+, y = \[1.25, -1.5\]"
for program in c_shared cpp_shared; do
    LD_LIBRARY_PATH="$libdir" "./$program" | tee "$program.out"
    grep -qxE "$want" "$program.out"
    readelf -d "$program" | grep -qE "\(NEEDED\).*\[${soname//./\\.}\]" ||
        { echo "error: $program does not record NEEDED $soname" >&2; readelf -d "$program" >&2; exit 1; }
done
./c_static | tee c_static.out
grep -qxE "$want" c_static.out
if readelf -d c_static | grep -q libinfer; then
    echo "error: c_static needs libinfer at run time" >&2; exit 1
fi
echo "pkg-config: shared C and C++ programs and a static C program built and ran"
