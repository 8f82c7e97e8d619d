/* The sentencepiece C API (nys_spm.h) and lower-casing (nys_tokenize.h),
 * on the shared models in $NYS_SHARED/spm.
 *
 * `spm lower` is a filter instead: stdin lower-cased to stdout, line by
 * line, so tokenize.t can compare it with Python's str.lower(). */
#include "nys_hash.h"
#include "nys_tokenize.h"
#include "tap.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int lower_filter(void)
{
	nys_err e;
	nys_in *in = nys_in_open(NULL, &e);
	nys_out *out = in ? nys_out_open(NULL, 0, &e) : NULL;
	if (!out) {
		fprintf(stderr, "spm lower: %s\n", e.msg);
		return 1;
	}
	nys_buf b = {0};
	char *line;
	size_t len;
	int k;
	while ((k = nys_in_getline(in, &line, &len, &e)) > 0) {
		b.n = 0;
		if (nys_lower_utf8(line, len, &b, &e) || nys_buf_addc(&b, '\n') ||
		    nys_out_write(out, b.p, b.n, &e)) {
			k = -1;
			break;
		}
	}
	nys_buf_free(&b);
	nys_in_close(in);
	if (k < 0) {
		fprintf(stderr, "spm lower: %s\n", e.msg);
		nys_out_abort(out);
		return 1;
	}
	return nys_out_commit(out, &e) ? 1 : 0;
}

static const char *shared;


static int slurp(const char *path, nys_buf *b)
{
	nys_err e;
	nys_in *in = nys_in_open(path, &e);
	if (!in)
		return -1;
	b->n = 0;
	int r = nys_in_read_all(in, b, &e);
	nys_in_close(in);
	return r;
}

static void lower_is(const char *in, const char *want, const char *name)
{
	nys_buf b = {0};
	nys_err e;
	if (nys_lower_utf8(in, strlen(in), &b, &e)) {
		b.n = 0;
		nys_buf_adds(&b, e.msg);
	}
	nys_buf_addc(&b, 0);
	tap_str(b.p, want, name);
	nys_buf_free(&b);
}

static void test_lower(void)
{
	/* the expected strings are Python 3.11's str.lower() */
	lower_is("Hello, WORLD 123!", "hello, world 123!", "lower: ASCII");
	lower_is("ÀÉÎÕÜ ÇŒ ǅ Ǆ", "àéîõü çœ ǆ ǆ", "lower: Latin-1, Latin Extended, title case");
	lower_is("ΟΔΟΣ ΣΟΦΟΣ. Σ ΑΣ'Σ", "οδος σοφος. σ ασ'ς", "lower: Greek, final sigma at word ends only");
	lower_is("ὈΔΥΣΣΕΎΣ", "ὀδυσσεύς", "lower: Greek extended, final sigma");
	lower_is("ΣΑΣ\xcc\x81 a\xce\xa3\xcc\x81", "σας\xcc\x81 aς\xcc\x81", "lower: final sigma before a combining accent");
	lower_is("İstanbul IĞDIR", "i\xcc\x87stanbul iğdir", "lower: capital I with dot above, as Python");
	lower_is("ПРИВЕТ, МИР! ЁЖ Ѐ", "привет, мир! ёж ѐ", "lower: Cyrillic");
	lower_is("STRAẞE Ǳ ᾈ", "straße ǳ ᾀ", "lower: capital sharp s, DZ, Greek with prosgegrammeni");
	lower_is("A\xff\xce\xa3 \xce\xa3", "a\xff\xcf\x83 \xcf\x83", "lower: invalid bytes copied, neither cased nor ignorable");
	lower_is("", "", "lower: empty");
	/* growth beyond the first reservation: every character gets longer */
	size_t n = 3000;
	char *s = malloc(2 * n + 1), *w = malloc(3 * n + 1);
	for (size_t i = 0; i < n; i++) {
		memcpy(s + 2 * i, "\xc8\xba", 2);       /* U+023A -> U+2C65 */
		memcpy(w + 3 * i, "\xe2\xb1\xa5", 3);
	}
	s[2 * n] = w[3 * n] = '\0';
	lower_is(s, w, "lower: a line that grows by half");
	free(s);
	free(w);
}

static void test_albert(void)
{
	nys_err e;
	const char *path = tap_path(shared, "spm/albert-layout-30k-de.model");
	nys_spm *m = nys_spm_load(path, &e);
	tap_ok(m != NULL, "load the ALBERT-layout model");
	if (!m) {
		printf("# %s\n", e.msg);
		return;
	}
	tap_ok(nys_spm_vocab_size(m) == 30000, "30000 pieces");
	static const char *const first[] = {"<pad>", "<unk>", "[CLS]", "[SEP]", "[MASK]"};
	int ok = 1;
	for (uint32_t i = 0; i < 5; i++)
		ok &= nys_spm_id_to_piece(m, i) && !strcmp(nys_spm_id_to_piece(m, i), first[i]) &&
		      nys_spm_piece_to_id(m, first[i]) == (int32_t)i;
	tap_ok(ok, "pieces 0-4: <pad> <unk> [CLS] [SEP] [MASK], both ways");
	nys_spm_special s;
	nys_spm_special_ids(m, &s);
	tap_ok(s.pad == 0 && s.unk == 1 && s.bos == -1 && s.eos == -1 && s.cls == 2 && s.sep == 3 &&
	       s.mask == 4, "special ids: pad 0, unk 1, no bos or eos, [CLS] 2, [SEP] 3, [MASK] 4");
	tap_ok(nys_spm_pad_id(m) == 0 && nys_spm_unk_id(m) == 1 && nys_spm_bos_id(m) == -1 &&
	       nys_spm_eos_id(m) == -1, "the single special-id functions agree");
	tap_ok(nys_spm_type(m, 0) == NYS_SPM_CONTROL && nys_spm_type(m, 1) == NYS_SPM_UNKNOWN &&
	       nys_spm_type(m, 2) == NYS_SPM_CONTROL && nys_spm_type(m, 4) == NYS_SPM_CONTROL &&
	       nys_spm_type(m, 5) != NYS_SPM_CONTROL && nys_spm_type(m, 30000) == NYS_SPM_INVALID,
	       "piece types");
	tap_ok(nys_spm_piece_to_id(m, "no such piece at all") == -1, "an absent piece is -1, not <unk>");
	tap_ok(nys_spm_id_to_piece(m, 30000) == NULL && nys_spm_id_to_piece(m, UINT32_MAX) == NULL,
	       "ids out of range have no piece");
	int32_t the = nys_spm_piece_to_id(m, "\xe2\x96\x81" "der");
	tap_ok(the > 4 && !strcmp(nys_spm_id_to_piece(m, (uint32_t)the), "\xe2\x96\x81" "der") &&
	       nys_spm_score(m, (uint32_t)the) < 0, "piece ▁der: id, piece and a log-probability score");

	/* the fingerprint is nys_hash64 of the file */
	nys_buf file = {0};
	slurp(path, &file);
	size_t n;
	const void *bytes = nys_spm_bytes(m, &n);
	tap_ok(n == file.n && !memcmp(bytes, file.p, n), "the model's bytes are the file's");
	tap_ok(nys_spm_fingerprint(m) == nys_hash64(file.p, file.n, 0), "fingerprint = nys_hash64(file, 0)");
	nys_spm *m2 = nys_spm_load_mem(file.p, file.n, "mem", &e);
	tap_ok(m2 && nys_spm_fingerprint(m2) == nys_spm_fingerprint(m) &&
	       !strcmp(nys_spm_name(m2), "mem"), "loaded from memory: the same fingerprint");
	nys_spm_free(m2);
	m2 = nys_spm_load_mem(file.p, file.n / 2, NULL, &e);
	tap_ok(!m2 && !strncmp(e.msg, "model: ", 7), "half a model does not load; the message names it");
	nys_spm_free(m2);
	nys_buf_free(&file);

	/* encode and decode */
	const char *text = "Der schnelle braune Fuchs springt über den faulen Hund.";
	nys_ids ids = {0};
	tap_ok(nys_spm_encode(m, text, strlen(text), &ids, &e) == 0 && ids.n > 5, "encode a sentence");
	uint32_t small[3], big[256];
	ptrdiff_t k = nys_spm_encode_to(m, text, strlen(text), small, 3, &e);
	tap_ok(k == (ptrdiff_t)ids.n && !memcmp(small, ids.p, sizeof small),
	       "encode_to with a small buffer: the full count, the first ids");
	k = nys_spm_encode_to(m, text, strlen(text), big, 256, &e);
	tap_ok(k == (ptrdiff_t)ids.n && !memcmp(big, ids.p, ids.n * sizeof *big), "encode_to: the same ids");
	size_t before = ids.n;
	nys_spm_encode(m, text, strlen(text), &ids, &e);
	tap_ok(ids.n == 2 * before && !memcmp(ids.p, ids.p + before, before * sizeof *ids.p),
	       "encode appends");
	nys_buf out = {0};
	tap_ok(nys_spm_decode(m, ids.p, before, &out, &e) == 0, "decode");
	tap_str(out.p, text, "decode(encode(text)) == text");
	out.n = 0;
	uint32_t ctl[] = {2, (uint32_t)the, 3, 0};
	nys_spm_decode(m, ctl, 4, &out, &e);
	tap_str(out.p, "der", "control pieces decode to nothing");
	uint32_t bad[] = {5, 30000};
	tap_ok(nys_spm_decode(m, bad, 2, &out, &e) == -1 && strstr(e.msg, "30000"),
	       "decoding an id out of range is an error naming it");
	ids.n = 0;
	tap_ok(nys_spm_encode(m, "", 0, &ids, &e) == 0 && ids.n == 0, "the empty string: no ids");
	tap_ok(nys_spm_encode(m, NULL, 0, &ids, &e) == 0 && ids.n == 0, "NULL, 0: no ids");
	nys_buf_free(&out);
	nys_ids_free(&ids);

	/* spm_train's .vocab, written again from the model, byte for byte */
	char tmp[4096];
	const char *td = getenv("TMPDIR");
	snprintf(tmp, sizeof tmp, "%s/nys-spm-XXXXXX", td && *td ? td : P_tmpdir);
	int fd = mkstemp(tmp);
	if (fd >= 0)
		close(fd);
	nys_buf a = {0}, b = {0};
	tap_ok(nys_tokenize_write_vocab(m, tmp, &e) == 0 && slurp(tmp, &a) == 0 &&
	       slurp(tap_path(shared, "spm/albert-layout-30k-de.vocab"), &b) == 0 && a.n == b.n &&
	       !memcmp(a.p, b.p, a.n), "the vocabulary written is spm_train's albert-layout-30k-de.vocab");
	unlink(tmp);
	nys_buf_free(&a);
	nys_buf_free(&b);
	nys_spm_free(m);
}

static void test_1k(void)
{
	nys_err e;
	nys_spm *m = nys_spm_load(tap_path(shared, "spm/sentencepiece-test-1k.model"), &e);
	tap_ok(m != NULL, "load sentencepiece's own test model");
	if (!m)
		return;
	nys_spm_special s;
	nys_spm_special_ids(m, &s);
	tap_ok(nys_spm_vocab_size(m) == 1000 && s.unk == 0 && s.bos == 1 && s.eos == 2 && s.pad == -1 &&
	       s.cls == -1 && s.sep == -1 && s.mask == -1,
	       "1k model: 1000 pieces, unk 0, bos 1, eos 2, no pad, no [CLS] [SEP] [MASK]");
	tap_ok(nys_spm_piece_to_id(m, "<unk>") == 0, "<unk> itself is found");
	nys_spm_free(m);

	m = nys_spm_load("/nonexistent/x.model", &e);
	tap_ok(!m && strstr(e.msg, "/nonexistent/x.model: ") == e.msg, "a missing file: PATH: why");
}

/* ---- threads share a model ------------------------------------------------ */

struct job {
	const nys_spm *m;
	char **lines;
	size_t n;
	nys_ids *want;
	int bad;
};

static void *encode_all(void *arg)
{
	struct job *j = arg;
	nys_ids v = {0};
	nys_err e;
	for (int round = 0; round < 3; round++)
		for (size_t i = 0; i < j->n; i++) {
			v.n = 0;
			if (nys_spm_encode(j->m, j->lines[i], strlen(j->lines[i]), &v, &e) ||
			    v.n != j->want[i].n || (v.n && memcmp(v.p, j->want[i].p, v.n * sizeof *v.p)))
				j->bad++;
		}
	nys_ids_free(&v);
	return NULL;
}

static void test_threads(void)
{
	nys_err e;
	nys_spm *m = nys_spm_load(tap_path(shared, "spm/albert-layout-30k-de.model"), &e);
	nys_buf text = {0};
	if (!m || slurp(tap_path(shared, "books/alice29.txt"), &text)) {
		tap_ok(0, "threads: model and text");
		nys_spm_free(m);
		return;
	}
	nys_buf_addc(&text, 0);
	size_t n = 0;
	char **lines = malloc(sizeof *lines * 8000);
	for (char *p = strtok(text.p, "\r\n"); p && n < 8000; p = strtok(NULL, "\r\n"))
		lines[n++] = p;
	nys_ids *want = calloc(n, sizeof *want);
	for (size_t i = 0; i < n; i++)
		nys_spm_encode(m, lines[i], strlen(lines[i]), &want[i], &e);
	struct job jobs[4];
	pthread_t t[4];
	for (int i = 0; i < 4; i++) {
		jobs[i] = (struct job){m, lines, n, want, 0};
		pthread_create(&t[i], NULL, encode_all, &jobs[i]);
	}
	int bad = 0;
	for (int i = 0; i < 4; i++) {
		pthread_join(t[i], NULL);
		bad += jobs[i].bad;
	}
	tap_ok(n > 1000 && bad == 0, "4 threads encoding the same lines with one model agree with one thread");
	for (size_t i = 0; i < n; i++)
		nys_ids_free(&want[i]);
	free(want);
	free(lines);
	nys_buf_free(&text);
	nys_spm_free(m);
}

/* ---- training ------------------------------------------------------------- */

static int failing_source(void *ctx, const char **s, size_t *n, nys_err *e)
{
	int *k = ctx;
	if ((*k)++ < 100) {
		*s = "some words of text";
		*n = strlen(*s);
		return 1;
	}
	return nys_err_set(e, "source: broken at sentence %d", *k);
}

static void test_train(void)
{
	nys_err e;
	nys_spm_train_opts o;
	nys_spm_train_defaults(&o);
	o.vocab_size = 300;
	const char *path = tap_path(shared, "books/alice29.txt");
	nys_buf m1 = {0}, m2 = {0}, m3 = {0};
	int r = nys_spm_train_files(&o, &path, 1, &m1, NULL, &e);
	tap_ok(r == 0 && m1.n > 1000, "train from a file");
	if (r)
		printf("# %s\n", e.msg);

	/* the same non-empty lines from memory give the same bytes */
	nys_buf text = {0};
	slurp(path, &text);
	nys_buf_addc(&text, 0);
	size_t n = 0;
	char **lines = malloc(sizeof *lines * 8000);
	for (char *p = strtok(text.p, "\r\n"); p && n < 8000; p = strtok(NULL, "\r\n"))
		lines[n++] = p;
	r = nys_spm_train_sentences(&o, (const char *const *)lines, n, &m2, &e);
	tap_ok(r == 0 && m2.n == m1.n && !memcmp(m1.p, m2.p, m1.n),
	       "train from the same sentences in memory: the same model, byte for byte");
	r = nys_spm_train_sentences(&o, (const char *const *)lines, n, &m3, &e);
	tap_ok(r == 0 && m3.n == m1.n && !memcmp(m1.p, m3.p, m1.n), "and again: the same bytes");

	nys_spm *m = nys_spm_load_mem(m1.p, m1.n, "trained", &e);
	nys_spm_special s = {0};
	if (m)
		nys_spm_special_ids(m, &s);
	tap_ok(m && nys_spm_vocab_size(m) == 300 && s.pad == 0 && s.unk == 1 && s.bos == -1 &&
	       s.eos == -1 && s.cls == 2 && s.sep == 3 && s.mask == 4,
	       "the trained model: 300 pieces in ALBERT's layout");
	nys_spm_free(m);

	m3.n = 0;
	o.model_type = NYS_SPM_BPE;
	o.user_symbols = "\",(,)";
	r = nys_spm_train_sentences(&o, (const char *const *)lines, n, &m3, &e);
	m = r ? NULL : nys_spm_load_mem(m3.p, m3.n, "bpe", &e);
	tap_ok(m && nys_spm_piece_to_id(m, "\"") == 5 && nys_spm_piece_to_id(m, "(") == 6 &&
	       nys_spm_piece_to_id(m, ")") == 7, "bpe with user symbols (a quote among them) after [MASK]");
	nys_spm_free(m);

	nys_spm_train_defaults(&o);
	m3.n = 0;
	tap_ok(nys_spm_train_sentences(&o, (const char *const *)lines, n, &m3, &e) == -1 &&
	       strstr(e.msg, "vocabulary size"), "vocabulary size 0 is refused");
	o.vocab_size = 20;
	tap_ok(nys_spm_train_sentences(&o, (const char *const *)lines, n, &m3, &e) == -1 && m3.n == 0 &&
	       strstr(e.msg, "Vocabulary size is smaller than required_chars") == e.msg + 17,
	       "a vocabulary smaller than the alphabet: the library's reason, no model");
	o.vocab_size = 300;
	tap_ok(nys_spm_train_sentences(&o, NULL, 0, &m3, &e) == -1 && strstr(e.msg, "no sentences"),
	       "no sentences: an error");
	int k = 0;
	tap_ok(nys_spm_train(&o, failing_source, &k, &m3, &e) == -1 &&
	       !strcmp(e.msg, "source: broken at sentence 101"),
	       "a failing sentence source: its message comes back");
	const char *missing = "/nonexistent/text";
	tap_ok(nys_spm_train_files(&o, &missing, 1, &m3, NULL, &e) == -1 && strstr(e.msg, missing),
	       "a missing training file: an error naming it");
	free(lines);
	nys_buf_free(&text);
	nys_buf_free(&m1);
	nys_buf_free(&m2);
	nys_buf_free(&m3);
}

int main(int argc, char **argv)
{
	if (argc > 1 && !strcmp(argv[1], "lower"))
		return lower_filter();
	test_lower();
	shared = getenv("NYS_SHARED");
	if (shared && *shared && access(tap_path(shared, "spm/albert-layout-30k-de.model"), R_OK) == 0) {
		test_albert();
		test_1k();
		test_threads();
		test_train();
	} else {
		printf("ok %d # SKIP no shared models (NYS_SHARED)\n", ++tap_n);
	}
	return tap_done();
}
