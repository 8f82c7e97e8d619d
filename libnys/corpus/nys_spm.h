/* A C interface to sentencepiece: Debian's libsentencepiece (0.1.97, C++)
 * behind small C functions, implemented in spm.cc, the only C++ in the
 * project.  Nothing throws across it and nothing exits: every failure comes
 * back as a status (-1 or NULL) and a message in a nys_err.
 *
 * A loaded model is immutable: any number of threads may encode and decode
 * with it at once (each call keeps its scratch space per thread).
 */
#ifndef NYS_SPM_H
#define NYS_SPM_H

#ifdef __cplusplus
extern "C" {
#endif

#include "nys.h"

typedef struct nys_spm nys_spm;

/* ---- loading ----------------------------------------------------------- */

/* Load a model (a serialized ModelProto, the .model file spm_train writes).
 * Errors read "PATH: what". */
nys_spm *nys_spm_load(const char *path, nys_err *e);
/* The same from memory (the bytes are copied); name is used in messages
 * and by nys_spm_name (NULL: "model"). */
nys_spm *nys_spm_load_mem(const void *p, size_t n, const char *name, nys_err *e);
void nys_spm_free(nys_spm *m);

const char *nys_spm_name(const nys_spm *m);
/* The model's serialized bytes, exactly as loaded. */
const void *nys_spm_bytes(const nys_spm *m, size_t *n);
/* nys_hash64 of those bytes, seed 0: the same model file always has the
 * same fingerprint, and any program can compute it from the file alone. */
uint64_t nys_spm_fingerprint(const nys_spm *m);

/* ---- the vocabulary ---------------------------------------------------- */

/* Number of pieces; ids are 0 .. size - 1. */
uint32_t nys_spm_vocab_size(const nys_spm *m);
/* The id of a piece, or -1 when the vocabulary has no such piece
 * (sentencepiece itself answers the unknown id then). */
int32_t nys_spm_piece_to_id(const nys_spm *m, const char *piece);
/* The piece of an id (valid while m lives), or NULL when out of range. */
const char *nys_spm_id_to_piece(const nys_spm *m, uint32_t id);
/* The piece's score (log probability for unigram models); 0 out of range. */
float nys_spm_score(const nys_spm *m, uint32_t id);

typedef enum nys_spm_piece_type {
	NYS_SPM_NORMAL,
	NYS_SPM_UNKNOWN,
	NYS_SPM_CONTROL,   /* <s>, </s>, <pad>, [CLS] and the like */
	NYS_SPM_UNUSED,
	NYS_SPM_BYTE,      /* <0x41> byte-fallback pieces */
	NYS_SPM_INVALID,   /* id out of range */
} nys_spm_piece_type;

nys_spm_piece_type nys_spm_type(const nys_spm *m, uint32_t id);

/* Special ids, -1 when the model has none. */
int32_t nys_spm_unk_id(const nys_spm *m);
int32_t nys_spm_bos_id(const nys_spm *m);
int32_t nys_spm_eos_id(const nys_spm *m);
int32_t nys_spm_pad_id(const nys_spm *m);

typedef struct nys_spm_special {
	int32_t pad, unk, bos, eos;
	int32_t cls, sep, mask;    /* the pieces [CLS], [SEP] and [MASK] */
} nys_spm_special;

void nys_spm_special_ids(const nys_spm *m, nys_spm_special *s);

/* ---- encoding and decoding --------------------------------------------- */

/* A growable array of ids. */
typedef struct nys_ids {
	uint32_t *p;
	size_t n, cap;
} nys_ids;

/* 0, or -1 when memory runs out (p kept). */
int nys_ids_reserve(nys_ids *v, size_t extra);
void nys_ids_free(nys_ids *v);

/* Encode the UTF-8 text s[0..n) and append its ids to *out: exactly the
 * ids of `spm_encode --output_format=id` for that text as one line.
 * sentencepiece needs about 100 bytes of memory per byte of text for it;
 * when they are not there the error reads "out of memory encoding N bytes"
 * (no model name: the caller knows what the text was). */
int nys_spm_encode(const nys_spm *m, const char *s, size_t n, nys_ids *out, nys_err *e);
/* The same into a caller's buffer: returns the number of ids of the text,
 * of which the first min(that, cap) are stored (so a result over cap means
 * "call again with a bigger buffer"), or -1 on an error. */
ptrdiff_t nys_spm_encode_to(const nys_spm *m, const char *s, size_t n, uint32_t *ids,
                            size_t cap, nys_err *e);
/* Decode ids to text (sentencepiece's detokenisation: control pieces give
 * nothing, the unknown piece " \xe2\x81\x87 ") and append it to *out, NUL
 * terminated (the NUL not counted in out->n).  An id out of range is an
 * error. */
int nys_spm_decode(const nys_spm *m, const uint32_t *ids, size_t n, nys_buf *out, nys_err *e);

/* ---- training ---------------------------------------------------------- */

typedef enum nys_spm_model_type {
	NYS_SPM_UNIGRAM,
	NYS_SPM_BPE,
} nys_spm_model_type;

#define NYS_SPM_SEED 42u

typedef struct nys_spm_train_opts {
	uint32_t vocab_size;             /* required */
	nys_spm_model_type model_type;
	uint32_t seed;                   /* sentencepiece's global seed (0.1.97
	                                  * samples with a fixed seed of its own:
	                                  * training is deterministic anyway) */
	/* The special pieces: ids (-1 = none) and control symbols, which take
	 * the free ids after them, in order.  ALBERT's layout by default:
	 * 0 <pad>, 1 <unk>, 2 [CLS], 3 [SEP], 4 [MASK]. */
	int32_t pad_id, unk_id, bos_id, eos_id;
	const char *control_symbols;     /* comma-separated; "" none */
	const char *user_symbols;        /* user-defined symbols, comma-separated */
	double character_coverage;       /* 0.98 to 1 */
	uint32_t max_sentence_length;    /* bytes; longer sentences are skipped */
	uint32_t input_sentence_size;    /* more sentences are sampled down to it */
	unsigned threads;                /* the trainer's threads (fixed by default,
	                                  * so the model does not depend on the
	                                  * machine) */
	bool lower;                      /* nys_spm_train_files: lower-case lines */
	bool verbose;                    /* sentencepiece's log on stderr */
} nys_spm_train_opts;

/* The defaults: ALBERT's spm_train flags (unigram, nmt_nfkc normalisation,
 * character coverage 0.99995, input_sentence_size 10000000 with shuffling,
 * max_sentence_length 4192, 16 threads), seed NYS_SPM_SEED; vocab_size 0
 * (to be set). */
void nys_spm_train_defaults(nys_spm_train_opts *o);

/* The training sentences, one per call: 1 with *s and *n (valid until the
 * next call), 0 at the end, -1 on an error (described in *e). */
typedef int (*nys_spm_sentence_fn)(void *ctx, const char **s, size_t *n, nys_err *e);

/* Train a model; its serialized bytes (a .model file) are appended to
 * *model.  The same sentences, options and seed give the same bytes.
 * Training sets sentencepiece's global seed and log level: one training at
 * a time per process. */
int nys_spm_train(const nys_spm_train_opts *o, nys_spm_sentence_fn next, void *ctx,
                  nys_buf *model, nys_err *e);
/* From n NUL-terminated sentences in memory. */
int nys_spm_train_sentences(const nys_spm_train_opts *o, const char *const *sentences,
                            size_t n, nys_buf *model, nys_err *e);
/* From files in the unified text format (nys-text(5); plain, .bz2, .zst;
 * NULL or "-" is stdin; no paths: stdin): each non-empty line (a paragraph)
 * is a sentence, lower-cased with o->lower.  Lines longer than
 * o->max_sentence_length (lower-cased, with o->lower) are skipped as the
 * trainer skips them, the same model coming out, but while reading, never
 * held in memory however long; *skipped (if not NULL) counts them. */
int nys_spm_train_files(const nys_spm_train_opts *o, const char *const *paths,
                        size_t npaths, nys_buf *model, uint64_t *skipped, nys_err *e);

#ifdef __cplusplus
}
#endif

#endif
