/* The training data path of nys-train: sequences from a shard directory
 * (nys-shard(5)) in a reproducible order, read ahead in a background
 * thread, and masked-LM masking as HuggingFace's
 * DataCollatorForLanguageModeling does it, computed on the fly.
 *
 * Everything random here comes from one counter-based generator, so that a
 * few integers (a nys_loader_pos and the mask counter) fix all that
 * follows and no generator state ever needs saving:
 *
 *   G        = 0x9E3779B97F4A7C15
 *   mix(z)   = z ^= z >> 30; z *= 0xBF58476D1CE4E5B9; z ^= z >> 27;
 *              z *= 0x94D049BB133111EB; z ^ (z >> 31)      (mod 2^64)
 *   sm(x)    = mix(x + G)   the first output of splitmix64 from state x
 *   out(k,j) = mix(k + (j + 1) * G)   output j (from 0) of splitmix64
 *                                     seeded with state k
 *   u53(r)   = (r >> 11) * 2^-53      a double in [0, 1), 53 random bits
 *   below(b) over a stream r_0, r_1, ...: lim = 2^64 mod b; skip the r < lim;
 *              the first r >= lim gives r mod b (exactly uniform in [0, b))
 *
 * with the tags ORDR = 0x6e79732e6f726472 ("nys.ordr" in ASCII),
 * SEQS = 0x6e79732e73657173 ("nys.seqs"), MASK = 0x6e79732e6d61736b
 * ("nys.mask").
 *
 * Shuffles are Fisher-Yates as Python's random.shuffle runs it: start from
 * the identity, then for i = n-1 down to 1, j = below(i + 1) from the
 * stream out(k, 0), out(k, 1), ... (drawn in order), swap a[i] and a[j].
 *
 *   shard order of pass p:        k = sm(sm(seed ^ ORDR) ^ p), over the
 *                                 indices 0..S-1 of the list (S shards)
 *   sequence order of shard f     k = sm(sm(sm(seed ^ SEQS) ^ p) ^ f), f the
 *   in pass p:                    shard's index in the LIST (not in the pass's
 *                                 order), over 0..count-1
 *
 * Masking of the sequence numbered c (nys_mlm_mask's counter) uses
 * k = sm(sm(seed ^ MASK) ^ c) and, for position i, the outputs 4i to 4i+3:
 *   chosen     u53(out(k, 4i)) < prob, and ids[i] is not a special id
 *   [MASK]     chosen and u53(out(k, 4i+1)) < mask_frac
 *   random     chosen, not [MASK], and u53(out(k, 4i+2)) < random_frac; the
 *              id is floor(out(k, 4i+3) * vocab_size / 2^64)
 *   unchanged  the other chosen positions
 * (the random id's bias is below vocab_size / 2^64, far under what any
 * test could see; torch.randint's own is larger).  Draws whose result is
 * not needed are not made, which changes nothing: each one depends only
 * on (k, its index).
 */
#ifndef NYS_DATA_H
#define NYS_DATA_H

#include "nys.h"

/* ---- the loader ---------------------------------------------------------- */

/* Sequences of the shards named in a list of a shard directory (train.json
 * or dev.json), one "pass" (data epoch) after another.
 *
 * With shuffle, every pass visits the shards in the pass's shard order and
 * the sequences of each shard in its own sequence order (see above), so
 * each sequence of the list comes exactly once a pass.  Without it, the
 * order of the list and of the files.  With cycle, the passes repeat for
 * ever (training); without it nys_loader_next ends after one (validation).
 *
 * While one shard is being handed out, a background thread reads,
 * decompresses and checks (ids, [CLS]/[SEP], checksum) the next one: one
 * shard of lookahead, at most two shards in memory (as 32-bit ids).  A
 * shard is handed out only once it has been read and checked whole.  An
 * error found by the thread comes out of nys_loader_next when the loader
 * gets to that shard, with the file and the byte named as the shard reader
 * names them; the next call tries the shard again.
 *
 * With a world of W ranks (data-parallel training: one loader a rank, all
 * with the same options but the rank), the order is the one above and
 * rank r hands out its stride of it: the sequences numbered r, r + W,
 * r + 2W, ... from 0.  So of a global batch of W * b sequences each rank
 * reads b, none twice, and the ranks' sequences taken in turn (rank 0's
 * first, rank 1's first, ..., rank 0's second, ...) are the batch of a
 * world of 1.  Every rank reads every shard it has a sequence of.
 *
 * A loader belongs to one thread (its own reading thread aside): calls on
 * one loader must not overlap. */
typedef struct nys_loader nys_loader;

typedef struct nys_loader_opts {
	uint64_t seed;   /* the order's seed (only with shuffle) */
	bool shuffle;    /* shuffled passes (training); false: list order */
	bool cycle;      /* passes for ever (training); false: one pass */
	unsigned rank;   /* this loader's rank in ... */
	unsigned world;  /* ... a world of this many (0 or 1: all the data) */
} nys_loader_opts;

/* What every shard of the list has in common, read from their headers by
 * nys_loader_open.  An empty list gives zeros (nothing to read). */
typedef struct nys_loader_info {
	uint32_t seq_len, vocab_size, cls_id, sep_id;
	uint64_t fingerprint;  /* the sentencepiece model's (nys-tokens(5)) */
	size_t shards;         /* shards in the list */
	uint64_t sequences;    /* sequences in one pass */
} nys_loader_info;

/* Where a loader stands: the next sequence to hand out is number seq (in
 * the shard's sequence order) of the shard at index shard of the pass's
 * shard order, in pass `pass` (from 0).  delivered counts the sequences
 * handed out since the loader started (it is the counter to give
 * nys_mlm_mask for the next sequence).  With a world of W ranks, the
 * position is that of the next W sequences' first, the same on every rank
 * after as many calls, and delivered counts the sequences of all ranks:
 * rank r's next sequence is r on from the position, its mask counter
 * delivered + r.  data_id is a hash of the list
 * (names and sequence counts) and of the order (seed, shuffle, cycle):
 * nys_loader_seek refuses a position of another loader's data unless it is
 * 0.  A loader always stands on a sequence that exists, or at the end
 * (pass 1, shard 0, seq 0, without cycle): a shard's end is its successor's
 * start.  All plain integers, for a checkpoint. */
typedef struct nys_loader_pos {
	uint64_t pass, shard, seq, delivered, data_id;
} nys_loader_pos;

/* Open dir/listname (a JSON list of shard names in dir; o NULL: all
 * options 0, that is list order, one pass and one rank) and read every
 * shard's header: all must have the same seq_len, vocab_size, cls_id,
 * sep_id and fingerprint (a mismatch is an error naming the file and the
 * first shard); names must be plain file names, each listed once.  The
 * first shard starts loading at once.  An empty list is accepted without
 * cycle (nys_loader_next then ends at once), refused with it; so is a list
 * of only empty shards, and a rank outside the world.  NULL with *e on
 * error. */
nys_loader *nys_loader_open(const char *dir, const char *listname,
                            const nys_loader_opts *o, nys_err *e);
const nys_loader_info *nys_loader_header(const nys_loader *l);
/* The next sequence into ids (info.seq_len ids, [CLS] first and [SEP]
 * last): 1; 0 at the end (only without cycle); -1 on an error (a missing,
 * changed or damaged shard; the position stays at that shard's start). */
int nys_loader_next(nys_loader *l, int32_t *ids, nys_err *e);
/* The position now (before the next sequence). */
nys_loader_pos nys_loader_tell(const nys_loader *l);
/* Continue from a position nys_loader_tell gave (on this loader or one
 * opened on the same data with the same options): what follows is exactly
 * what followed there.  -1 if the position is not one of this data. */
int nys_loader_seek(nys_loader *l, const nys_loader_pos *pos, nys_err *e);
/* The list index of the shard at index k of pass p's shard order (what
 * the pass visits k-th); k < info.shards. */
size_t nys_loader_shard_at(nys_loader *l, uint64_t pass, size_t k);
/* The name (as in the list) of the shard at list index f. */
const char *nys_loader_shard_name(const nys_loader *l, size_t f);
/* Stops the background thread (waiting for the shard it reads) and frees
 * everything; NULL is fine. */
void nys_loader_close(nys_loader *l);

/* ---- masked-LM masking ---------------------------------------------------- */

/* HuggingFace DataCollatorForLanguageModeling(mlm_probability=prob), per
 * sequence:
 *   probability_matrix = full(prob), 0 at special positions
 *   masked   = bernoulli(probability_matrix)
 *   labels   = ids where masked, -100 elsewhere
 *   replaced = bernoulli(mask_frac) & masked          -> mask_id
 *   random   = bernoulli(random_frac) & masked & ~replaced
 *                                                     -> randint(vocab_size)
 * with the HuggingFace defaults prob 0.15, mask_frac 0.8, random_frac 0.5
 * (so 80% [MASK], 10% random, 10% unchanged of the chosen).  A special
 * position is one whose id is in special[]: give [CLS], [SEP], <pad>
 * and any other id never to be chosen ([MASK], <unk>, ...). */
#define NYS_MLM_LABEL_IGNORE (-100)

typedef struct nys_mlm_opts {
	double prob;          /* chance that a position is chosen */
	double mask_frac;     /* of the chosen: chance of [MASK] */
	double random_frac;   /* of the chosen not [MASK]: chance of a random id */
	int32_t mask_id;
	uint32_t vocab_size;  /* random ids are uniform in [0, vocab_size) */
	const int32_t *special;
	size_t nspecial;
} nys_mlm_opts;

/* The HuggingFace defaults with the given ids. */
nys_mlm_opts nys_mlm_defaults(int32_t mask_id, uint32_t vocab_size, const int32_t *special,
                              size_t nspecial);
/* 0 if the options make sense (fractions in [0, 1], mask_id in the
 * vocabulary, a vocabulary of at most 2^31 ids), else -1 with *e. */
int nys_mlm_check(const nys_mlm_opts *o, nys_err *e);
/* Mask ids[0..n) in place and write labels[0..n); the result depends only
 * on (ids, o, seed, counter), as described at the top of this file: give
 * each sequence its own counter (nys_loader_pos's delivered before the
 * sequence was read) and resuming reproduces the same masks.  Returns the
 * number of chosen positions.  o must pass nys_mlm_check. */
size_t nys_mlm_mask(int32_t *ids, int32_t *labels, size_t n, const nys_mlm_opts *o,
                    uint64_t seed, uint64_t counter);

#endif
