/* Checkpoint files: safetensors round trips, the header checks, and an
 * independent reading of our files by python3's json and struct. */
#include "nys_safetensors.h"
#include "tap.h"

#include <stdlib.h>
#include <unistd.h>

static char dir[128];



int main(void)
{
	if (!tap_scratch(dir, sizeof dir, "st")) {
		puts("1..0 # SKIP no temporary directory");
		return 0;
	}
	nys_err e;
	float w[6] = {1, 2, 3, 4, 5, 6.5f};
	int64_t ids[4] = {0, 1, -2, 1LL << 40};
	unsigned char flag[3] = {7, 8, 9};
	float scalar = 0.25f;
	nys_st_entry ent[] = {
		{"a.weight", NYS_F32, 2, {2, 3}, w, NULL, NULL, 0},
		{"flags", NYS_U8, 1, {3}, flag, NULL, NULL, 0},
		{"ids", NYS_I64, 1, {4}, ids, NULL, NULL, 0},
		{"scale", NYS_F32, 0, {0}, &scalar, NULL, NULL, 0},
	};
	const char *meta[] = {"model", "tiny", NULL};
	tap_ok(nys_st_write(tap_path(dir, "a.safetensors"), ent, 4, meta, &e) == 0, "write four tensors");
	nys_st *st = nys_st_load(tap_path(dir, "a.safetensors"), &e);
	tap_ok(st != NULL, "load them back");
	if (!st) {
		printf("# %s\n", e.msg);
		return tap_done();
	}
	tap_ok(nys_st_count(st) == 4 && !strcmp(nys_st_name(st, 0), "a.weight"), "count and order");
	const void *p = nys_st_get(st, "a.weight", NYS_F32, 2, (int64_t[]){2, 3}, &e);
	float wf[6];
	if (p)
		memcpy(wf, p, sizeof wf);
	tap_ok(p && !memcmp(wf, w, sizeof w), "F32 (2, 3) data");
	p = nys_st_get(st, "ids", NYS_I64, 1, (int64_t[]){4}, &e);
	int64_t idv[4];
	if (p)
		memcpy(idv, p, sizeof idv);
	tap_ok(p && !memcmp(idv, ids, sizeof ids), "I64 data after a U8 tensor (unaligned is fine)");
	p = nys_st_get(st, "scale", NYS_F32, 0, NULL, &e);
	float sv = 0;
	if (p)
		memcpy(&sv, p, sizeof sv);
	tap_ok(p && sv == 0.25f, "a scalar (shape [])");
	tap_ok(nys_st_meta(st, "model") && !strcmp(nys_st_meta(st, "model"), "tiny"), "metadata kept");
	tap_ok(nys_st_meta(st, "nys_format") && !strcmp(nys_st_meta(st, "nys_format"), "nys-checkpoint"), "nys_format set");
	tap_ok(!nys_st_get(st, "b.weight", NYS_F32, 1, (int64_t[]){3}, &e) && strstr(e.msg, "b.weight is missing"), "missing tensor named");
	tap_ok(!nys_st_get(st, "a.weight", NYS_F32, 2, (int64_t[]){3, 2}, &e) && strstr(e.msg, "a.weight has shape (2, 3), expected (3, 2)"), "mis-shaped tensor named with both shapes");
	tap_ok(!nys_st_get(st, "ids", NYS_F32, 1, (int64_t[]){4}, &e) && strstr(e.msg, "ids is I64, expected F32"), "wrong dtype named");
	nys_st_free(st);

	/* An independent reader: the format as its spec says, in python3. */
	tap_ok(tap_sh(dir, "python3 - @/a.safetensors <<'PY'\n"
	          "import json, struct, sys\n"
	          "b = open(sys.argv[1], 'rb').read()\n"
	          "n = struct.unpack('<Q', b[:8])[0]\n"
	          "assert n % 8 == 0\n"
	          "h = json.loads(b[8:8 + n])\n"
	          "d = b[8 + n:]\n"
	          "a = h['a.weight']\n"
	          "assert a['dtype'] == 'F32' and a['shape'] == [2, 3]\n"
	          "s, e = a['data_offsets']\n"
	          "assert struct.unpack('<6f', d[s:e]) == (1, 2, 3, 4, 5, 6.5)\n"
	          "s, e = h['ids']['data_offsets']\n"
	          "assert struct.unpack('<4q', d[s:e]) == (0, 1, -2, 1 << 40)\n"
	          "assert h['scale']['shape'] == [] and h['__metadata__']['format'] == 'pt'\n"
	          "assert max(v['data_offsets'][1] for k, v in h.items() if k != '__metadata__') == len(d)\n"
	          "PY") == 0, "python3 reads the file as the safetensors spec says");

	/* damage */
	tap_sh(dir, "python3 -c \"import sys; b = bytearray(open(sys.argv[1], 'rb').read()); b[-3] ^= 1; "
	   "open(sys.argv[2], 'wb').write(b)\" @/a.safetensors @/flip.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "flip.safetensors"), &e) && strstr(e.msg, "checksum mismatch"), "a flipped data bit: checksum mismatch");
	tap_ok(!nys_st_check(tap_path(dir, "flip.safetensors"), &e) && strstr(e.msg, "checksum mismatch"),
	       "nys_st_check (data streamed): the flipped bit too");
	{
		nys_st *h = nys_st_check(tap_path(dir, "a.safetensors"), &e);
		int64_t sh[NYS_ST_MAX_DIMS];
		tap_ok(h && nys_st_count(h) == 4 && nys_st_shape(h, "a.weight", sh) == 2 && sh[0] == 2 &&
		       sh[1] == 3 && nys_st_meta(h, "model") && !nys_st_get(h, "a.weight", NYS_F32, 2, sh, &e),
		       "nys_st_check: the header and metadata of a good file, no data");
		nys_st_free(h);
	}
	tap_sh(dir, "head -c -4 @/a.safetensors > @/cut.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "cut.safetensors"), &e) && strstr(e.msg, "truncated"), "truncated file refused");
	printf("# %s\n", e.msg);
	tap_sh(dir, "printf '\\377\\377\\377\\377\\000\\000\\000\\000{}' > @/big.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "big.safetensors"), &e) && strstr(e.msg, "header size"), "header size past the file refused");
	tap_sh(dir, "python3 -c \"import json, struct, sys; h = json.dumps({'x': {'dtype': 'F32', 'shape': [1], "
	   "'data_offsets': [4, 8]}}).encode(); h += b' ' * (-len(h) % 8); "
	   "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + bytes(8))\" @/hole.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "hole.safetensors"), &e) && strstr(e.msg, "hole"), "a hole in the data refused");
	tap_sh(dir, "python3 -c \"import json, struct, sys; h = json.dumps({'x': {'dtype': 'F32', 'shape': [3], "
	   "'data_offsets': [0, 8]}}).encode(); h += b' ' * (-len(h) % 8); "
	   "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h + bytes(8))\" @/size.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "size.safetensors"), &e) && strstr(e.msg, "tensor x"), "offsets that disagree with the shape refused, tensor named");
	/* 2^32 x 2^32 F32 elements are 2^66 bytes: 0 modulo 2^64, which the
	 * offsets [0, 0] then matched. */
	tap_sh(dir, "python3 -c \"import json, struct, sys; h = json.dumps({'x': {'dtype': 'F32', 'shape': [2**32, 2**32], "
	   "'data_offsets': [0, 0]}}).encode(); h += b' ' * (-len(h) % 8); "
	   "open(sys.argv[1], 'wb').write(struct.pack('<Q', len(h)) + h)\" @/wrap.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "wrap.safetensors"), &e) && strstr(e.msg, "tensor x: its shape does not fit 64 bits"),
	       "a shape whose byte count wraps 64 bits is refused, tensor named");
	printf("# %s\n", e.msg);
	{
		nys_st_entry big = {.name = "big", .dtype = NYS_F32, .ndim = 2,
		                    .shape = {INT64_C(1) << 40, INT64_C(1) << 40}, .data = w};
		tap_ok(nys_st_write(tap_path(dir, "big-w.safetensors"), &big, 1, NULL, &e) < 0 &&
		       strstr(e.msg, "tensor big: its shape is too large"),
		       "the writer refuses a shape whose byte count overflows");
	}
	tap_sh(dir, "printf '\\010\\000\\000\\000\\000\\000\\000\\000{\"x\":1}' > @/junk.safetensors");
	tap_ok(!nys_st_load(tap_path(dir, "junk.safetensors"), &e), "malformed header refused");
	tap_ok(access(tap_path(dir, "a.safetensors.tmp"), F_OK) != 0, "no temporary file left");
	char cmd[300];
	snprintf(cmd, sizeof cmd, "rm -rf %s", dir);
	if (system(cmd))
		puts("# cleanup failed");
	return tap_done();
}
