#!/bin/bash
# tests/gpu/pack.sh OUT.tar.gz BIN TESTBIN BENCHBIN (make gpu-pack): what
# tests/gpu/run needs on a GPU machine that has none of this build, in one
# file small enough to travel with the working tree (the device tool takes
# 64 MiB in all; the build folder is more): the programs and test programs
# the run uses, without their debug sections, and the shared libraries they
# load that a bare CUDA image may lack (OpenBLAS, jansson, Open MPI, ...:
# all but the C library's and the C++ runtime's, which every such machine
# has, in newer versions).  Each program is a small wrapper in bin/,
# tests/ or bench/ that puts the pack's lib/ on LD_LIBRARY_PATH for that
# program alone (never for python3 and its torch) and runs the real one in
# libexec/ (with NYS_GPU_LIBPATH, where tests/gpu/run found cuBLAS, after
# lib/).  MANIFEST says what was packed, from which commit, and when.
set -eu
out=${1:?usage: pack.sh OUT.tar.gz BIN TESTBIN BENCHBIN}
BIN=${2:?} TB=${3:?} BB=${4:?}
progs="$BIN/nys-train $BIN/nys-eval $BIN/shard"
tests="$TB/backend_ops $TB/gpu_step $TB/mktok $TB/nccl"
benches="$BB/attn_gpu"
S=$(mktemp -d "${TMPDIR:-/tmp}/nys-gpu-pack.XXXXXX")
trap 'rm -rf "$S"' EXIT
P=$S/nys-gpu
mkdir -p "$P/bin" "$P/tests" "$P/bench" "$P/libexec" "$P/lib"
# the libraries every Linux with a CUDA driver has (glibc, libstdc++, libgcc)
system='^(linux-vdso|ld-linux|libc|libm|libdl|libpthread|librt|libresolv|libutil|libstdc\+\+|libgcc_s)\.'
wrap() { # DIR PROG
	local name
	name=$(basename "$2")
	strip --strip-debug -o "$P/libexec/$name" "$2"
	cat > "$P/$1/$name" <<EOF
#!/bin/sh
# tests/gpu/pack.sh's wrapper: the pack's libraries for this program alone
d=\$(cd "\$(dirname "\$0")/.." && pwd)
LD_LIBRARY_PATH=\$d/lib\${NYS_GPU_LIBPATH:+:\$NYS_GPU_LIBPATH}\${LD_LIBRARY_PATH:+:\$LD_LIBRARY_PATH} exec "\$d/libexec/$name" "\$@"
EOF
	chmod +x "$P/$1/$name"
	ldd "$2" | awk '$2 == "=>" && $3 ~ /^\// { print $1, $3 }' >> "$S/libs"
}
for f in $progs; do wrap bin "$f"; done
for f in $tests; do wrap tests "$f"; done
for f in $benches; do [ -x "$f" ] && wrap bench "$f"; done
sort -u "$S/libs" | while read -r so path; do
	echo "$so" | grep -Eq "$system" && continue
	cp -L "$path" "$P/lib/$so"
done
{
	echo "nys GPU pack (tests/gpu/pack.sh), made $(date -u +%FT%TZ) on $(uname -m)"
	echo "commit $(git rev-parse --short HEAD 2>/dev/null || echo unknown)$(git diff --quiet HEAD 2>/dev/null || echo ' (with uncommitted changes)')"
	echo "glibc $(ldd --version | head -n 1 | awk '{print $NF}') (the machine must have this or later)"
	(cd "$P" && find . -type f ! -name MANIFEST | sort | sed 's|^\./||')
} > "$P/MANIFEST"
mkdir -p "$(dirname "$out")"
tar -C "$S" -czf "$out.tmp" nys-gpu
mv "$out.tmp" "$out"
echo "gpu-pack: $out, $(du -k "$out" | cut -f1) KiB ($(ls "$P/lib" | wc -l) libraries)"
