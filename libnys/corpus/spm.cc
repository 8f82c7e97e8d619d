// The C interface of nys_spm.h over Debian's libsentencepiece (0.1.97):
// the one C++ file of libnys.  Every entry point catches everything, so no
// exception crosses into C, and reports failures through nys_err.
#include "nys_spm.h"

extern "C" {
#include "nys_hash.h"
#include "nys_tokenize.h"
}

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <new>
#include <string>
#include <unordered_map>
#include <vector>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

namespace spm = sentencepiece;

struct nys_spm {
	spm::SentencePieceProcessor sp;
	std::string bytes;      // the serialized model, as loaded
	std::string name;
	uint64_t fingerprint = 0;
	uint32_t size = 0;
	int32_t unk = -1, bos = -1, eos = -1, pad = -1;
};

namespace {

// The message of whatever was thrown, for nys_err.
int caught(nys_err *e, const char *what)
{
	try {
		throw;
	} catch (const std::bad_alloc &) {
		return nys_err_set(e, "%s: out of memory", what);
	} catch (const std::exception &x) {
		return nys_err_set(e, "%s: %s", what, x.what());
	} catch (...) {
		return nys_err_set(e, "%s: unexpected exception", what);
	}
}

// sentencepiece's messages of failed checks start with the source line and
// the condition, "./src/x.cc(580) [cond] what": keep the what when there is
// one.  Some end in a newline or spaces.
std::string clean(const char *msg)
{
	std::string s = msg ? msg : "";
	size_t src = s.find(".cc(");
	size_t cond = s.find(") [");
	if (src != std::string::npos && cond != std::string::npos && src < cond) {
		size_t end = s.rfind("] ");
		if (end != std::string::npos && end > cond && end + 2 < s.size())
			s.erase(0, end + 2);
	}
	while (!s.empty() && (s.back() == '\n' || s.back() == ' '))
		s.pop_back();
	return s.empty() ? std::string("unknown error") : s;
}

// Scratch space per thread, so encoding allocates nothing once warm and
// threads sharing a model never share buffers.
thread_local std::vector<int> scratch_ids;
thread_local std::string scratch_text;

nys_spm *load_bytes(std::string &&bytes, const char *name, nys_err *e)
{
	nys_spm *m = new nys_spm;
	m->name = name;
	m->bytes = std::move(bytes);
	spm::util::Status st = m->sp.LoadFromSerializedProto(m->bytes);
	if (!st.ok() || m->sp.GetPieceSize() <= 0) {
		std::string why = st.ok() ? "no pieces" : clean(st.message());
		// the library's message for bytes that are no ModelProto is a
		// source line; say it plainly
		if (why.find("ParseFromArray") != std::string::npos)
			nys_err_set(e, "%s: not a sentencepiece model", name);
		else
			nys_err_set(e, "%s: not a usable sentencepiece model (%s)", name, why.c_str());
		delete m;
		return nullptr;
	}
	m->fingerprint = nys_hash64(m->bytes.data(), m->bytes.size(), 0);
	m->size = (uint32_t)m->sp.GetPieceSize();
	m->unk = m->sp.unk_id();
	m->bos = m->sp.bos_id();
	m->eos = m->sp.eos_id();
	m->pad = m->sp.pad_id();
	return m;
}

} // namespace

/* ---- loading ------------------------------------------------------------ */

nys_spm *nys_spm_load(const char *path, nys_err *e)
{
	int fd = -1;
	try {
		fd = open(path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			nys_err_sys(e, "%s", path);
			return nullptr;
		}
		struct stat st;
		if (fstat(fd, &st) == 0 && S_ISDIR(st.st_mode)) {
			close(fd);
			nys_err_set(e, "%s: is a directory", path);
			return nullptr;
		}
		std::string bytes;
		if (fstat(fd, &st) == 0 && S_ISREG(st.st_mode))
			bytes.reserve((size_t)st.st_size);
		char buf[65536];
		for (;;) {
			ssize_t k = read(fd, buf, sizeof buf);
			if (k < 0 && errno == EINTR)
				continue;
			if (k < 0) {
				nys_err_sys(e, "%s", path);
				close(fd);
				return nullptr;
			}
			if (k == 0)
				break;
			bytes.append(buf, (size_t)k);
		}
		close(fd);
		fd = -1;
		if (bytes.empty()) {
			nys_err_set(e, "%s: empty file, not a sentencepiece model", path);
			return nullptr;
		}
		return load_bytes(std::move(bytes), path, e);
	} catch (...) {
		if (fd >= 0)
			close(fd);
		caught(e, path);
		return nullptr;
	}
}

nys_spm *nys_spm_load_mem(const void *p, size_t n, const char *name, nys_err *e)
{
	if (!name)
		name = "model";
	try {
		if (!n) {
			nys_err_set(e, "%s: empty, not a sentencepiece model", name);
			return nullptr;
		}
		return load_bytes(std::string((const char *)p, n), name, e);
	} catch (...) {
		caught(e, name);
		return nullptr;
	}
}

void nys_spm_free(nys_spm *m)
{
	delete m;
}

const char *nys_spm_name(const nys_spm *m)
{
	return m->name.c_str();
}

const void *nys_spm_bytes(const nys_spm *m, size_t *n)
{
	*n = m->bytes.size();
	return m->bytes.data();
}

uint64_t nys_spm_fingerprint(const nys_spm *m)
{
	return m->fingerprint;
}

/* ---- the vocabulary ------------------------------------------------------ */

uint32_t nys_spm_vocab_size(const nys_spm *m)
{
	return m->size;
}

int32_t nys_spm_piece_to_id(const nys_spm *m, const char *piece)
{
	try {
		int id = m->sp.PieceToId(piece);
		if (id < 0 || (uint32_t)id >= m->size)
			return -1;
		// sentencepiece answers the unknown id for a piece it lacks
		if (id == m->unk && m->sp.IdToPiece(id) != piece)
			return -1;
		return id;
	} catch (...) {
		return -1;
	}
}

const char *nys_spm_id_to_piece(const nys_spm *m, uint32_t id)
{
	if (id >= m->size)
		return nullptr;
	return m->sp.IdToPiece((int)id).c_str();
}

float nys_spm_score(const nys_spm *m, uint32_t id)
{
	return id < m->size ? m->sp.GetScore((int)id) : 0.0f;
}

nys_spm_piece_type nys_spm_type(const nys_spm *m, uint32_t id)
{
	if (id >= m->size)
		return NYS_SPM_INVALID;
	int i = (int)id;
	if (m->sp.IsUnknown(i))
		return NYS_SPM_UNKNOWN;
	if (m->sp.IsControl(i))
		return NYS_SPM_CONTROL;
	if (m->sp.IsUnused(i))
		return NYS_SPM_UNUSED;
	if (m->sp.IsByte(i))
		return NYS_SPM_BYTE;
	return NYS_SPM_NORMAL;
}

int32_t nys_spm_unk_id(const nys_spm *m) { return m->unk; }
int32_t nys_spm_bos_id(const nys_spm *m) { return m->bos; }
int32_t nys_spm_eos_id(const nys_spm *m) { return m->eos; }
int32_t nys_spm_pad_id(const nys_spm *m) { return m->pad; }

void nys_spm_special_ids(const nys_spm *m, nys_spm_special *s)
{
	s->pad = m->pad;
	s->unk = m->unk;
	s->bos = m->bos;
	s->eos = m->eos;
	s->cls = nys_spm_piece_to_id(m, "[CLS]");
	s->sep = nys_spm_piece_to_id(m, "[SEP]");
	s->mask = nys_spm_piece_to_id(m, "[MASK]");
}

/* ---- encoding and decoding ----------------------------------------------- */

int nys_ids_reserve(nys_ids *v, size_t extra)
{
	if (extra <= v->cap - v->n)
		return 0;
	if (extra > SIZE_MAX / sizeof *v->p - v->n)
		return -1;
	size_t cap = v->cap ? v->cap : 256;
	while (cap - v->n < extra)
		cap = cap > SIZE_MAX / sizeof *v->p / 2 ? v->n + extra : cap * 2;
	void *p = realloc(v->p, cap * sizeof *v->p);
	if (!p)
		return -1;
	v->p = (uint32_t *)p;
	v->cap = cap;
	return 0;
}

void nys_ids_free(nys_ids *v)
{
	free(v->p);
	v->p = nullptr;
	v->n = v->cap = 0;
}

// What encoding threw.  Memory running out says nothing about the model,
// and the caller knows which text it was: say how much, no model name.
static int encode_caught(const nys_spm *m, size_t n, nys_err *e)
{
	try {
		throw;
	} catch (const std::bad_alloc &) {
		return nys_err_set(e, "out of memory encoding %zu bytes", n);
	} catch (...) {
		return caught(e, m->name.c_str());
	}
}

// Encode into the thread's scratch vector.
static int encode_scratch(const nys_spm *m, const char *s, size_t n, nys_err *e)
{
	spm::util::Status st = m->sp.Encode(absl::string_view(n ? s : "", n), &scratch_ids);
	if (!st.ok())
		return nys_err_set(e, "%s: encoding failed: %s", m->name.c_str(),
		                   clean(st.message()).c_str());
	return 0;
}

int nys_spm_encode(const nys_spm *m, const char *s, size_t n, nys_ids *out, nys_err *e)
{
	try {
		if (encode_scratch(m, s, n, e))
			return -1;
		const std::vector<int> &v = scratch_ids;
		if (nys_ids_reserve(out, v.size()))
			return nys_err_set(e, "out of memory encoding %zu bytes", n);
		uint32_t *p = out->p + out->n;
		for (size_t i = 0; i < v.size(); i++)
			p[i] = (uint32_t)v[i];
		out->n += v.size();
		return 0;
	} catch (...) {
		return encode_caught(m, n, e);
	}
}

ptrdiff_t nys_spm_encode_to(const nys_spm *m, const char *s, size_t n, uint32_t *ids,
                            size_t cap, nys_err *e)
{
	try {
		if (encode_scratch(m, s, n, e))
			return -1;
		const std::vector<int> &v = scratch_ids;
		size_t k = v.size() < cap ? v.size() : cap;
		for (size_t i = 0; i < k; i++)
			ids[i] = (uint32_t)v[i];
		return (ptrdiff_t)v.size();
	} catch (...) {
		return encode_caught(m, n, e);
	}
}

int nys_spm_decode(const nys_spm *m, const uint32_t *ids, size_t n, nys_buf *out, nys_err *e)
{
	try {
		std::vector<int> &v = scratch_ids;
		v.clear();
		for (size_t i = 0; i < n; i++) {
			if (ids[i] >= m->size)
				return nys_err_set(e, "id %u is outside the vocabulary of %s (%u pieces)",
				                   ids[i], m->name.c_str(), m->size);
			v.push_back((int)ids[i]);
		}
		std::string &t = scratch_text;
		t.clear();
		spm::util::Status st = m->sp.Decode(v, &t);
		if (!st.ok())
			return nys_err_set(e, "%s: decoding failed: %s", m->name.c_str(),
			                   clean(st.message()).c_str());
		if (nys_buf_reserve(out, t.size() + 1))
			return nys_err_set(e, "out of memory");
		memcpy(out->p + out->n, t.data(), t.size());
		out->n += t.size();
		out->p[out->n] = '\0';
		return 0;
	} catch (...) {
		return caught(e, m->name.c_str());
	}
}

/* ---- training ---------------------------------------------------------- */

void nys_spm_train_defaults(nys_spm_train_opts *o)
{
	*o = nys_spm_train_opts();
	o->vocab_size = 0;
	o->model_type = NYS_SPM_UNIGRAM;
	o->seed = NYS_SPM_SEED;
	o->pad_id = 0;
	o->unk_id = 1;
	o->bos_id = -1;
	o->eos_id = -1;
	o->control_symbols = "[CLS],[SEP],[MASK]";
	o->user_symbols = "";
	o->character_coverage = 0.99995;
	o->max_sentence_length = 4192;
	o->input_sentence_size = 10000000;
	o->threads = 16;
	o->lower = false;
	o->verbose = false;
}

namespace {

// The sentences, pulled from the C callback.  The trainer loops
// `for (; !it.done(); it.Next())`, so the first sentence is read at once.
class Sentences : public spm::SentenceIterator {
public:
	Sentences(nys_spm_sentence_fn next, void *ctx) : next_(next), ctx_(ctx)
	{
		err_.msg[0] = '\0';
		Next();
	}
	bool done() const override { return done_; }
	const std::string &value() const override { return cur_; }
	spm::util::Status status() const override
	{
		if (failed_)
			return spm::util::Status(spm::util::StatusCode::kInternal, err_.msg);
		return spm::util::Status();
	}
	void Next() override
	{
		if (done_)
			return;
		const char *s = nullptr;
		size_t n = 0;
		int r = next_(ctx_, &s, &n, &err_);
		if (r > 0) {
			cur_.assign(s, n);
			count_++;
		} else {
			done_ = true;
			failed_ = r < 0;
			cur_.clear();
		}
	}
	bool failed() const { return failed_; }
	const char *message() const { return err_.msg; }
	uint64_t count() const { return count_; }

private:
	nys_spm_sentence_fn next_;
	void *ctx_;
	std::string cur_;
	bool done_ = false, failed_ = false;
	uint64_t count_ = 0;
	nys_err err_;
};

// sentencepiece splits list flags as CSV: a field that starts with a
// double quote is quoted.  Our lists are plain comma-separated pieces, so
// such a piece is quoted, its quotes doubled; empty fields are dropped.
std::string csv(const char *list)
{
	std::string out, field;
	for (const char *p = list;; p++) {
		if (*p && *p != ',') {
			field += *p;
			continue;
		}
		if (!field.empty()) {
			if (!out.empty())
				out += ',';
			if (field[0] == '"') {
				out += '"';
				for (char c : field)
					out += c == '"' ? std::string("\"\"") : std::string(1, c);
				out += '"';
			} else {
				out += field;
			}
			field.clear();
		}
		if (!*p)
			break;
	}
	return out;
}

std::string num(double v)
{
	char b[64];
	snprintf(b, sizeof b, "%.17g", v);
	return b;
}

} // namespace

int nys_spm_train(const nys_spm_train_opts *o, nys_spm_sentence_fn next, void *ctx,
                  nys_buf *model, nys_err *e)
{
	try {
		if (!o->vocab_size)
			return nys_err_set(e, "training: the vocabulary size must be positive");
		if (o->seed == UINT32_MAX)
			return nys_err_set(e, "training: seed %u is reserved", o->seed);
		std::unordered_map<std::string, std::string> kw;
		kw["vocab_size"] = std::to_string(o->vocab_size);
		kw["model_type"] = o->model_type == NYS_SPM_BPE ? "bpe" : "unigram";
		kw["pad_id"] = std::to_string(o->pad_id);
		kw["unk_id"] = std::to_string(o->unk_id);
		kw["bos_id"] = std::to_string(o->bos_id);
		kw["eos_id"] = std::to_string(o->eos_id);
		if (o->control_symbols && !csv(o->control_symbols).empty())
			kw["control_symbols"] = csv(o->control_symbols);
		if (o->user_symbols && !csv(o->user_symbols).empty())
			kw["user_defined_symbols"] = csv(o->user_symbols);
		kw["character_coverage"] = num(o->character_coverage);
		kw["max_sentence_length"] = std::to_string(o->max_sentence_length);
		kw["input_sentence_size"] = std::to_string(o->input_sentence_size);
		kw["shuffle_input_sentence"] = "true";
		kw["num_threads"] = std::to_string(o->threads ? o->threads : 16);
		kw["minloglevel"] = o->verbose ? "0" : "2";

		spm::SetRandomGeneratorSeed(o->seed);
		Sentences it(next, ctx);
		if (it.failed())
			return nys_err_set(e, "%s", it.message());
		if (it.done())
			return nys_err_set(e, "training: no sentences (every line is empty)");
		std::string out;
		spm::util::Status st = spm::SentencePieceTrainer::Train(kw, &it, &out);
		if (it.failed())
			return nys_err_set(e, "%s", it.message());
		if (!st.ok())
			return nys_err_set(e, "training failed: %s", clean(st.message()).c_str());
		if (out.empty())
			return nys_err_set(e, "training failed: no model came out");
		if (nys_buf_add(model, out.data(), out.size()))
			return nys_err_set(e, "out of memory");
		return 0;
	} catch (...) {
		return caught(e, "training");
	}
}

namespace {

struct array_src {
	const char *const *s;
	size_t n, i;
};

int array_next(void *ctx, const char **s, size_t *n, nys_err *e)
{
	(void)e;
	array_src *a = (array_src *)ctx;
	if (a->i == a->n)
		return 0;
	*s = a->s[a->i++];
	*n = strlen(*s);
	return 1;
}

// The non-empty lines of unified-text files, lower-cased on request.
// Lines longer than the trainer's max_sentence_length are skipped here, as
// the trainer would skip them (before it counts or samples anything, so the
// model is the same), but without ever holding them: a line of gigabytes
// costs no memory.
struct file_src {
	const char *const *paths;
	size_t npaths, i;
	bool lower;
	size_t max;             // max_sentence_length, bytes
	uint64_t skipped;
	nys_in *in;
	nys_buf low;
};

int file_next(void *ctx, const char **s, size_t *n, nys_err *e)
{
	file_src *f = (file_src *)ctx;
	for (;;) {
		if (!f->in) {
			if (f->i == f->npaths)
				return 0;
			f->in = nys_in_open(f->paths[f->i++], e);
			if (!f->in)
				return -1;
		}
		char *line;
		size_t len;
		// lower-casing shortens a character to a third at most (the
		// Kelvin sign, 3 bytes, becomes "k"): a line over 3 * max bytes
		// is over max lower-cased too
		int r = nys_in_getline_max(f->in, f->lower ? 3 * f->max : f->max, &line, &len, e);
		if (r < 0)
			return -1;
		if (r == 0) {
			nys_in_close(f->in);
			f->in = nullptr;
			continue;
		}
		if (r == 2) {
			f->skipped++;
			continue;
		}
		if (!len)
			continue;
		if (f->lower) {
			f->low.n = 0;
			if (nys_lower_utf8(line, len, &f->low, e)) {
				char why[sizeof e->msg];
				memcpy(why, e->msg, sizeof why);
				return nys_err_set(e, "%s:%llu: %s", nys_in_name(f->in),
				                   (unsigned long long)nys_in_lineno(f->in), why);
			}
			line = f->low.p;
			len = f->low.n;
			if (len > f->max) {
				f->skipped++;
				continue;
			}
		}
		*s = line;
		*n = len;
		return 1;
	}
}

} // namespace

int nys_spm_train_sentences(const nys_spm_train_opts *o, const char *const *sentences,
                            size_t n, nys_buf *model, nys_err *e)
{
	array_src a = {sentences, n, 0};
	return nys_spm_train(o, array_next, &a, model, e);
}

int nys_spm_train_files(const nys_spm_train_opts *o, const char *const *paths,
                        size_t npaths, nys_buf *model, uint64_t *skipped, nys_err *e)
{
	static const char *const std_in[] = {"-"};
	file_src f = {};
	f.paths = npaths ? paths : std_in;
	f.npaths = npaths ? npaths : 1;
	f.lower = o->lower;
	f.max = o->max_sentence_length;
	int r = nys_spm_train(o, file_next, &f, model, e);
	if (skipped)
		*skipped = f.skipped;
	if (f.in)
		nys_in_close(f.in);
	nys_buf_free(&f.low);
	return r;
}
