/* Parallel bzip2 decoding behind nys_in.
 *
 * A bzip2 file is one or more streams.  A stream is "BZh" and a level digit
 * (1-9: blocks of at most that many 100 kB), then blocks, each opening with
 * the 48-bit magic 0x314159265359 and the block's CRC, then the 48-bit
 * end-of-stream magic 0x177245385090 and the stream's combined CRC, padded
 * to a whole byte.  Blocks are not byte-aligned, but each depends on nothing
 * before it, so blocks can be decoded apart and at once.
 *
 * The calling thread reads the compressed bytes and looks for both magics
 * at every bit offset; the bits from one magic to the next become an item
 * of a fixed ring.  Worker threads decode the block items, each made into a
 * small standalone stream that libbz2 decodes: "BZh" and the level, the
 * block's bits moved to a byte boundary, and an end-of-stream marker whose
 * combined CRC is the block's own (for one block the combined CRC,
 * rotl1(0) ^ block CRC, is the block CRC).  libbz2 checks the block's CRC,
 * and succeeds only if the block ends exactly where the next magic began.
 *
 * The calling thread then takes the items in order and follows the file's
 * structure, as sequential decoding would: a block is taken only where the
 * one before it ended, each stream's combined CRC is computed from its
 * blocks' CRCs (combined = rotl1(combined) ^ block CRC) and compared with
 * the trailer, and the next stream's header must start at the next byte.
 * A magic can also occur by chance inside compressed data.  Then the item
 * before it fails after reading past its end, and the calling thread has
 * libbz2 read on through the items after it until the block's last symbol,
 * which says where the block ends (join); the items that began at false
 * magics are dropped.  The output is that of sequential decoding, byte for
 * byte, for any number of threads; after a bad block nothing more is
 * delivered.
 *
 * Memory stays bounded whatever the input: the ring holds 2 x threads + 2
 * items of one block each (compressed and decoded), and the reader keeps
 * the bytes since the last magic, never more than the longest block.
 * Threads start only once a second block is found, so a one-block input
 * costs none.
 */
#include "bz2_impl.h"

#include <bzlib.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define BLOCK_MAGIC UINT64_C(0x314159265359)
#define EOS_MAGIC UINT64_C(0x177245385090)
#define MASK48 ((UINT64_C(1) << 48) - 1)
/* The most compressed bytes a block of level L can take: at most
 * L x 100000 symbols of at most 20 bits, plus its tables and selectors. */
#define BLOCK_MAX(L) ((uint64_t)(L) * 250000 + 65536)
#define READ_SIZE (1u << 20)
/* Bytes past the data that stay readable (zeros), and how far the scan
 * keeps back from the end of what was read: an end-of-stream magic is
 * taken with its CRC and the 4 bytes after it (the next stream's header). */
#define SLACK 16
#define MAX_THREADS 256

enum { M_BLOCK, M_EOS };          /* which magic */
enum { I_WAIT, I_BUSY, I_DONE };  /* an item's decoding */
/* A decoding's outcome: D_CUT failed after reading past the bits given
 * (a magic by chance inside the block may have cut it short: joining the
 * next bits can help); D_BAD failed on the bits given alone (libbz2 reads
 * its input a byte at a time, as it needs it, so more bits after them
 * would fail the same way). */
enum { D_OK, D_CUT, D_BAD, D_NOMEM };
enum { V_HEADER, V_MARKER, V_END };

typedef struct bytes {
	unsigned char *p;
	size_t n, cap;
} bytes;

/* A magic found, and what comes with it. */
typedef struct mark {
	uint64_t pos;           /* bit offset in the input */
	uint32_t crc;           /* the 32 bits after the magic */
	unsigned char type;     /* M_BLOCK, M_EOS */
	unsigned char level;    /* block: the level of the stream it seems to be in */
	bool crc_whole;         /* all 32 bits were there */
	unsigned char nhdr;     /* end of stream: bytes of hdr the input had */
	unsigned char hdr[4];   /* end of stream: the 4 bytes after its padding */
} mark;

/* The bits from one magic to the next. */
typedef struct item {
	mark m;
	uint64_t end;           /* bit offset of the next magic (or where none came) */
	bool open;              /* no magic follows: the input ended or none came in BLOCK_MAX */
	bool eof;               /* open because the input ended */
	unsigned bit0;          /* bit of raw.p[0] where m.pos lies */
	bytes raw;              /* the bytes of m.pos .. end, and one zero byte */
	int state, rc;          /* I_*, D_* */
	unsigned char dec_level;
	bytes out;              /* the decoded block */
} item;

typedef struct scratch {
	bytes mini;             /* the standalone stream given to libbz2 */
} scratch;

struct nys_bz {
	const char *name;
	nys_bz_src src;
	void *arg;
	unsigned nthreads;
	unsigned char filter[8192];   /* 16-bit values a magic puts at byte 1 of its window */

	/* the reader: compressed bytes from byte `base` of the input on */
	unsigned char *buf;
	size_t len, cap;
	uint64_t base;
	uint64_t scan;          /* next bit offset to look for a magic at */
	bool eof, scan_done, have_mark;
	mark mark;              /* the last magic found; its item ends at the next */
	unsigned spec_level;    /* level of the stream the reader is in, as far as it knows */

	/* the ring: items head..tail-1; workers take them in order from next_job */
	item *ring;
	size_t nring;
	uint64_t head, tail, next_job, nblocks;
	pthread_mutex_t mu;
	pthread_cond_t work, done;
	pthread_t *tids;
	unsigned started;
	bool stop;

	/* the calling thread: following the structure, delivering */
	int vstate;
	uint64_t expect;        /* V_HEADER: byte of the next header; V_MARKER: bit of the next magic */
	uint64_t stream_at;     /* byte where the current stream began */
	unsigned level;
	uint32_t combined;
	unsigned nhdr;
	unsigned char hdr[4];
	bytes dbuf;             /* verified bytes being delivered, from doff on */
	size_t doff;
	bytes acc;              /* items joined after a failed decode */
	bytes jout;             /* a joined block's output */
	bool pending;           /* perr comes once dbuf is delivered */
	nys_err perr;
	scratch sc;
	bool failed;
	nys_err err;
};

/* ---- bits --------------------------------------------------------------------- */

static inline uint64_t load_be64(const unsigned char *p)
{
	uint64_t x;
	memcpy(&x, p, 8);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__
	x = __builtin_bswap64(x);
#endif
	return x;
}

/* n <= 56 bits from bit `bit` (0-7) of p on, most significant first; reads 8 bytes. */
static inline uint64_t get_bits(const unsigned char *p, unsigned bit, unsigned n)
{
	return (load_be64(p) << bit) >> (64 - n);
}

static int bytes_reserve(bytes *b, size_t n)
{
	if (b->cap >= n)
		return 0;
	size_t cap = b->cap ? b->cap : 4096;
	while (cap < n)
		cap *= 2;
	unsigned char *p = realloc(b->p, cap);
	if (!p)
		return -1;
	b->p = p;
	b->cap = cap;
	return 0;
}

/* Append nbits of src, starting at its bit sbit (0-7), to dst at bit *dpos.
 * The bits of dst from *dpos on must be zero in its byte, and stay so after
 * the new end; dst has room for (*dpos + nbits) / 8 + 2 bytes, and src one
 * readable byte past its last bit's. */
static void append_bits(unsigned char *dst, uint64_t *dpos, const unsigned char *src,
                        unsigned sbit, uint64_t nbits)
{
	unsigned char *d = dst + *dpos / 8;
	unsigned ds = (unsigned)(*dpos % 8);
	size_t nb = (size_t)(nbits / 8);
	unsigned rest = (unsigned)(nbits % 8);
	*dpos += nbits;
	if (!sbit && !ds) {
		memcpy(d, src, nb);
		d[nb] = 0;
	} else {
		for (size_t i = 0; i < nb; i++) {
			unsigned t = sbit ? (unsigned char)(src[i] << sbit | src[i + 1] >> (8 - sbit)) : src[i];
			d[i] |= (unsigned char)(t >> ds);
			d[i + 1] = (unsigned char)(t << (8 - ds));
		}
	}
	if (rest) {
		unsigned t = sbit ? (unsigned char)(src[nb] << sbit | src[nb + 1] >> (8 - sbit)) : src[nb];
		t &= 0xFFu << (8 - rest) & 0xFFu;
		d[nb] |= (unsigned char)(t >> ds);
		d[nb + 1] = (unsigned char)(t << (8 - ds));
	}
}

/* Append the n low bits of v at bit *pos, most significant first. */
static void put_bits(unsigned char *dst, uint64_t *pos, uint64_t v, unsigned n)
{
	while (n--) {
		if (v >> n & 1)
			dst[*pos / 8] |= (unsigned char)(0x80u >> (*pos % 8));
		if (++*pos % 8 == 0)
			dst[*pos / 8] = 0;
	}
}

/* bzip2's CRC (CRC-32, most significant bit first), for messages only. */
static uint32_t bz_crc(const unsigned char *p, size_t n)
{
	uint32_t c = 0xFFFFFFFFu;
	for (size_t i = 0; i < n; i++) {
		c ^= (uint32_t)p[i] << 24;
		for (int k = 0; k < 8; k++)
			c = c & 0x80000000u ? c << 1 ^ 0x04C11DB7u : c << 1;
	}
	return ~c;
}

/* ---- decoding one block ----------------------------------------------------- */

/* Decode the bits src[sbit ..] (nbits of them) as one block of a stream of
 * level `level` whose CRC is crc, into out: D_OK only when they are exactly
 * one whole block and its CRC matches; else D_CUT, D_BAD or D_NOMEM. */
static int decode_block(scratch *sc, const unsigned char *src, unsigned sbit, uint64_t nbits,
                        unsigned level, uint32_t crc, bytes *out)
{
	out->n = 0;
	if (bytes_reserve(&sc->mini, (size_t)(nbits / 8) + 32))
		return D_NOMEM;
	unsigned char *m = sc->mini.p;
	m[0] = 'B';
	m[1] = 'Z';
	m[2] = 'h';
	m[3] = (unsigned char)('0' + level);
	m[4] = 0;
	uint64_t pos = 32;
	append_bits(m, &pos, src, sbit, nbits);
	put_bits(m, &pos, EOS_MAGIC, 48);
	put_bits(m, &pos, crc, 32);

	bz_stream bz;
	memset(&bz, 0, sizeof bz);
	if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK)
		return D_NOMEM;
	bz.next_in = (char *)m;
	bz.avail_in = (unsigned)((pos + 7) / 8);
	int rc = D_BAD;
	for (;;) {
		if (out->cap - out->n < 65536 && bytes_reserve(out, out->cap < (1u << 20) ? (1u << 20) : out->cap * 2)) {
			rc = D_NOMEM;
			break;
		}
		size_t room = out->cap - out->n;
		if (room > (1u << 30))
			room = 1u << 30;
		bz.next_out = (char *)out->p + out->n;
		bz.avail_out = (unsigned)room;
		int r = BZ2_bzDecompress(&bz);
		out->n += room - bz.avail_out;
		if (r == BZ_STREAM_END) {
			rc = D_OK;
			break;
		}
		if (r == BZ_MEM_ERROR) {
			rc = D_NOMEM;
			break;
		}
		if (r != BZ_OK || bz.avail_out)
			break; /* bad data, or all bits taken and the block not over */
	}
	/* Header and the whole bytes of the bits: what a failure that read no
	 * further was decided by. */
	if (rc == D_BAD && bz.total_in_lo32 > 4 + nbits / 8)
		rc = D_CUT;
	BZ2_bzDecompressEnd(&bz);
	return rc;
}

static void decode_item(item *it, scratch *sc)
{
	it->dec_level = it->m.level;
	it->rc = decode_block(sc, it->raw.p, it->bit0, it->end - it->m.pos, it->m.level, it->m.crc, &it->out);
}

/* ---- workers -------------------------------------------------------------------- */

/* Under the lock: the next item waiting to be decoded, now busy, or NULL. */
static item *take_job(nys_bz *z)
{
	if (z->stop)
		return NULL;
	if (z->next_job < z->head)
		z->next_job = z->head;
	for (; z->next_job < z->tail; z->next_job++) {
		item *it = &z->ring[z->next_job % z->nring];
		if (it->state == I_WAIT) {
			it->state = I_BUSY;
			z->next_job++;
			return it;
		}
	}
	return NULL;
}

static void *worker(void *arg)
{
	nys_bz *z = arg;
	scratch sc = {{0}};
	pthread_mutex_lock(&z->mu);
	for (;;) {
		item *it = take_job(z);
		if (!it) {
			if (z->stop)
				break;
			pthread_cond_wait(&z->work, &z->mu);
			continue;
		}
		pthread_mutex_unlock(&z->mu);
		decode_item(it, &sc);
		pthread_mutex_lock(&z->mu);
		it->state = I_DONE;
		pthread_cond_broadcast(&z->done);
	}
	pthread_mutex_unlock(&z->mu);
	free(sc.mini.p);
	return NULL;
}

/* Workers help once there are two blocks to decode; when none can be
 * started the calling thread decodes everything itself. */
static void start_threads(nys_bz *z)
{
	z->tids = calloc(z->nthreads, sizeof *z->tids);
	if (!z->tids)
		return;
	while (z->started < z->nthreads && !pthread_create(&z->tids[z->started], NULL, worker, z))
		z->started++;
}

/* ---- the reader ------------------------------------------------------------- */

static int read_more(nys_bz *z, nys_err *e)
{
	/* Keep the bytes from the last magic on (its item is not cut yet). */
	uint64_t keep = z->have_mark ? z->mark.pos / 8 : z->scan / 8;
	size_t drop = (size_t)(keep - z->base);
	if (drop) {
		memmove(z->buf, z->buf + drop, z->len - drop);
		z->len -= drop;
		z->base += drop;
	}
	if (z->cap < z->len + READ_SIZE + SLACK) {
		size_t cap = z->cap ? z->cap : READ_SIZE + SLACK;
		while (cap < z->len + READ_SIZE + SLACK)
			cap *= 2;
		unsigned char *p = realloc(z->buf, cap);
		if (!p)
			return nys_err_set(e, "%s: out of memory", z->name);
		z->buf = p;
		z->cap = cap;
	}
	ptrdiff_t k = z->src(z->arg, z->buf + z->len, READ_SIZE, e);
	if (k < 0)
		return -1;
	if (k == 0)
		z->eof = true;
	z->len += (size_t)k;
	memset(z->buf + z->len, 0, SLACK);
	return 0;
}

/* The next magic at bit z->scan or later in the bytes read so far: 1 with
 * *pos and *type; 0 when there is none yet (z->scan has moved on). */
static int find_magic(nys_bz *z, uint64_t *pos, unsigned char *type)
{
	const unsigned char *p = z->buf;
	size_t lim = z->eof ? z->len : z->len > SLACK ? z->len - SLACK : 0;
	size_t b = (size_t)(z->scan / 8 - z->base);
	unsigned k0 = (unsigned)(z->scan % 8);
	uint64_t bits = (z->base + z->len) * 8;
	for (; b < lim; b++, k0 = 0) {
		/* Bytes 1 and 2 of the 8 from b lie inside a magic that starts
		 * at any bit of byte b: a cheap first test. */
		unsigned w = (unsigned)p[b + 1] << 8 | p[b + 2];
		if (!(z->filter[w >> 3] >> (w & 7) & 1))
			continue;
		uint64_t x = load_be64(p + b);
		for (unsigned k = k0; k < 8; k++) {
			uint64_t v = x >> (16 - k) & MASK48;
			uint64_t at = (z->base + b) * 8 + k;
			if ((v == BLOCK_MAGIC || v == EOS_MAGIC) && at + 48 <= bits) {
				*pos = at;
				*type = v == BLOCK_MAGIC ? M_BLOCK : M_EOS;
				z->scan = at + 1;
				return 1;
			}
		}
	}
	if ((z->base + b) * 8 > z->scan)
		z->scan = (z->base + b) * 8;
	return 0;
}

static void set_mark(nys_bz *z, uint64_t pos, unsigned char type)
{
	mark m;
	memset(&m, 0, sizeof m);
	uint64_t bytes_in = z->base + z->len;
	m.pos = pos;
	m.type = type;
	m.level = (unsigned char)z->spec_level;
	m.crc_whole = pos + 80 <= bytes_in * 8;
	if (m.crc_whole)
		m.crc = (uint32_t)get_bits(z->buf + ((pos + 48) / 8 - z->base), (unsigned)((pos + 48) % 8), 32);
	if (type == M_EOS) {
		uint64_t h = (pos + 80 + 7) / 8;
		while (m.nhdr < 4 && h + m.nhdr < bytes_in) {
			m.hdr[m.nhdr] = z->buf[h + m.nhdr - z->base];
			m.nhdr++;
		}
		/* The blocks after a new stream's header are decoded at its level. */
		if (m.nhdr == 4 && !memcmp(m.hdr, "BZh", 3) && m.hdr[3] >= '1' && m.hdr[3] <= '9')
			z->spec_level = m.hdr[3] - '0';
	}
	z->mark = m;
	z->have_mark = true;
}

/* Make slot the item from the last magic to bit `end`. */
static int make_item(nys_bz *z, item *it, uint64_t end, bool open, bool eof, nys_err *e)
{
	it->m = z->mark;
	it->end = end;
	it->open = open;
	it->eof = eof;
	it->bit0 = (unsigned)(z->mark.pos % 8);
	it->raw.n = 0;
	it->out.n = 0;
	it->rc = D_BAD;
	it->state = it->m.type == M_BLOCK && !open ? I_WAIT : I_DONE;
	if (!open) {
		size_t from = (size_t)(z->mark.pos / 8 - z->base);
		size_t to = (size_t)((end + 7) / 8 - z->base);
		if (bytes_reserve(&it->raw, to - from + 1))
			return nys_err_set(e, "%s: out of memory", z->name);
		memcpy(it->raw.p, z->buf + from, to - from);
		it->raw.p[to - from] = 0;
		it->raw.n = to - from;
	}
	return 0;
}

/* Fill the slot with the next item: 1, 0 when no more will come, -1 on a
 * read error. */
static int scan_item(nys_bz *z, item *it, nys_err *e)
{
	while (!z->scan_done) {
		uint64_t pos;
		unsigned char type;
		if (find_magic(z, &pos, &type)) {
			if (z->have_mark) {
				if (make_item(z, it, pos, false, false, e))
					return -1;
				set_mark(z, pos, type);
				return 1;
			}
			set_mark(z, pos, type);
			continue;
		}
		if (z->have_mark && !z->eof && z->scan - z->mark.pos > BLOCK_MAX(9) * 8) {
			/* No block is this long: decoding stops here. */
			z->scan_done = true;
			return make_item(z, it, z->scan, true, false, e) ? -1 : 1;
		}
		if (z->eof) {
			z->scan_done = true;
			if (!z->have_mark)
				return 0;
			return make_item(z, it, (z->base + z->len) * 8, true, true, e) ? -1 : 1;
		}
		if (read_more(z, e))
			return -1;
	}
	return 0;
}

/* Top the ring up with items to decode. */
static int fill(nys_bz *z, nys_err *e)
{
	while (!z->scan_done && z->tail - z->head < z->nring) {
		item *it = &z->ring[z->tail % z->nring];
		int r = scan_item(z, it, e);
		if (r < 0)
			return -1;
		if (r == 0)
			break;
		pthread_mutex_lock(&z->mu);
		z->tail++;
		if (it->state == I_WAIT)
			pthread_cond_signal(&z->work);
		pthread_mutex_unlock(&z->mu);
		if (it->state == I_WAIT && ++z->nblocks == 2 && z->nthreads > 1)
			start_threads(z);
	}
	return 0;
}

/* ---- following the structure (the calling thread) ------------------------------ */

/* The item at the head of the ring, or NULL when no more will come. */
static int peek(nys_bz *z, item **it, nys_err *e)
{
	if (fill(z, e))
		return -1;
	*it = z->head < z->tail ? &z->ring[z->head % z->nring] : NULL;
	return 0;
}

/* Wait until no worker has the head item; with `want`, decode it here if no
 * worker took it yet, else leave it undecoded. */
static void settle(nys_bz *z, item *it, bool want)
{
	pthread_mutex_lock(&z->mu);
	while (it->state != I_DONE) {
		if (it->state == I_WAIT) {
			if (!want) {
				it->state = I_DONE;
				break;
			}
			it->state = I_BUSY;
			pthread_mutex_unlock(&z->mu);
			decode_item(it, &z->sc);
			pthread_mutex_lock(&z->mu);
			it->state = I_DONE;
		} else {
			pthread_cond_wait(&z->done, &z->mu);
		}
	}
	pthread_mutex_unlock(&z->mu);
}

static void pop(nys_bz *z)
{
	settle(z, &z->ring[z->head % z->nring], false);
	pthread_mutex_lock(&z->mu);
	z->head++;
	pthread_mutex_unlock(&z->mu);
}

static void take_block(nys_bz *z, uint32_t crc, uint64_t end)
{
	z->combined = (z->combined << 1 | z->combined >> 31) ^ crc;
	z->expect = end;
	z->doff = 0;
}

static int open_error(nys_bz *z, const item *it, nys_err *e)
{
	unsigned long long at = it->m.pos / 8;
	if (it->eof)
		return nys_err_set(e, "%s: truncated bzip2 data: the block at byte %llu is cut short "
		                   "(the input ends at byte %llu)", z->name, at, (unsigned long long)(it->end / 8));
	return nys_err_set(e, "%s: corrupt bzip2 block at byte %llu: no block or end-of-stream marker "
	                   "in the %llu bytes after it", z->name, at, (unsigned long long)BLOCK_MAX(9));
}

/* Say what is wrong with the block at bit `at` whose CRC is crc, given
 * what decoding it gave (out): nothing, so its data are bad; bytes with
 * another CRC; or bytes with its CRC, so the block is whole and what
 * follows it is bad.  Then, as sequential decoding would, the block is
 * delivered first (into dbuf) and the error comes at the next read. */
static int bad_block(nys_bz *z, uint64_t at, uint32_t crc, bytes *out, nys_err *e)
{
	unsigned long long byte = at / 8;
	z->dbuf.n = z->doff = 0;
	if (!out->n)
		return nys_err_set(e, "%s: corrupt bzip2 block at byte %llu", z->name, byte);
	if (bz_crc(out->p, out->n) != crc)
		return nys_err_set(e, "%s: corrupt bzip2 block at byte %llu: CRC mismatch", z->name, byte);
	bytes t = z->dbuf;
	z->dbuf = *out;
	*out = t;
	z->pending = true;
	nys_err_set(&z->perr, "%s: corrupt bzip2 data after the block at byte %llu: "
	            "no block or end-of-stream marker follows it", z->name, byte);
	return 0;
}

/* The block at the head did not decode alone, after reading past its end
 * (D_CUT): a magic inside its data may have cut it short.  libbz2 reads
 * the joined bits of it and the items after it, fed a whole byte at a
 * time and asked for one byte of output, until it has read the block's
 * last symbol (the output begins) or fails; it reads its input only as it
 * needs it, so the last byte it took holds the block's end, which must be
 * a magic: one of the last two items' ends (items are at least 45 bits
 * long: no two magics overlap more).  That one is decoded as usual.  Work
 * and memory stay linear in the block, whatever the magics in its data.
 * The item after the block is kept in the ring until the end is known. */
static int join(nys_bz *z, item *it, nys_err *e)
{
	uint64_t at = it->m.pos;
	uint32_t crc = it->m.crc;
	uint64_t ends[3];       /* the last items' ends, oldest first */
	size_t nends = 0;
	bool lag = false;       /* the head item's bits are joined already */
	int rc;
	bz_stream bz;
	memset(&bz, 0, sizeof bz);
	if (BZ2_bzDecompressInit(&bz, 0, 0) != BZ_OK)
		return nys_err_set(e, "%s: out of memory", z->name);
	uint64_t bits = 32;     /* acc: "BZh" and the level, then the bits from `at` on */
	if (bytes_reserve(&z->acc, it->raw.n + 32)) {
		rc = nys_err_set(e, "%s: out of memory", z->name);
		goto out;
	}
	memcpy(z->acc.p, "BZh", 3);
	z->acc.p[3] = (unsigned char)('0' + z->level);
	z->acc.p[4] = 0;
	append_bits(z->acc.p, &bits, it->raw.p, it->bit0, it->end - at);
	ends[nends++] = it->end;
	pop(z);
	for (;;) {
		char one;
		bz.next_in = (char *)z->acc.p + bz.total_in_lo32;
		bz.avail_in = (unsigned)(bits / 8 - bz.total_in_lo32);
		bz.next_out = &one;
		bz.avail_out = 1;
		int r = BZ2_bzDecompress(&bz);
		if (r == BZ_MEM_ERROR) {
			rc = nys_err_set(e, "%s: out of memory", z->name);
			goto out;
		}
		z->jout.n = 0;
		if (r != BZ_OK) {
			rc = bad_block(z, at, crc, &z->jout, e); /* its own bits are bad */
			goto out;
		}
		if (bz.total_out_lo32)
			break;
		/* It wants more: join the next item, keeping it in the ring. */
		if (lag)
			pop(z);
		item *nx;
		if (peek(z, &nx, e)) {
			rc = -1;
			goto out;
		}
		if (nx && nx->open && nx->eof) {
			rc = nys_err_set(e, "%s: truncated bzip2 data: the block at byte %llu is cut short "
			                 "(the input ends at byte %llu)", z->name, (unsigned long long)(at / 8),
			                 (unsigned long long)(nx->end / 8));
			goto out;
		}
		if (!nx || nx->open || (nx->end - at) / 8 > BLOCK_MAX(z->level)) {
			rc = bad_block(z, at, crc, &z->jout, e);
			goto out;
		}
		uint64_t n = nx->end - nx->m.pos;
		if (bytes_reserve(&z->acc, (size_t)((bits + n) / 8) + 32)) {
			rc = nys_err_set(e, "%s: out of memory", z->name);
			goto out;
		}
		append_bits(z->acc.p, &bits, nx->raw.p, nx->bit0, n);
		if (nends == 3) {
			ends[0] = ends[1];
			ends[1] = ends[2];
			nends = 2;
		}
		ends[nends++] = nx->end;
		lag = true;
	}
	/* The block's last bit is in the last byte libbz2 took. */
	uint64_t hi = at + 8 * (uint64_t)bz.total_in_lo32 - 32;
	for (size_t i = 0; i < nends; i++) {
		if (ends[i] + 7 < hi || ends[i] > hi)
			continue;
		int r = decode_block(&z->sc, z->acc.p + 4, 0, ends[i] - at, z->level, crc, &z->jout);
		if (r == D_NOMEM) {
			rc = nys_err_set(e, "%s: out of memory", z->name);
			goto out;
		}
		if (r != D_OK)
			continue;
		bytes t = z->dbuf;
		z->dbuf = z->jout;
		z->jout = t;
		take_block(z, crc, ends[i]);
		if (lag && z->ring[z->head % z->nring].m.pos < ends[i])
			pop(z); /* the kept item is inside the block too */
		rc = 0;
		goto out;
	}
	/* No magic where the block ends: decode it to say why. */
	if (decode_block(&z->sc, z->acc.p + 4, 0, hi - at, z->level, crc, &z->jout) == D_NOMEM) {
		rc = nys_err_set(e, "%s: out of memory", z->name);
		goto out;
	}
	rc = bad_block(z, at, crc, &z->jout, e);
out:
	BZ2_bzDecompressEnd(&bz);
	return rc;
}

/* Make the next verified bytes ready in z->dbuf: 1, 0 at the end, -1 on an
 * error. */
static int advance(nys_bz *z, nys_err *e)
{
	if (z->pending) {
		*e = z->perr;
		return -1;
	}
	for (;;) {
		if (z->vstate == V_END)
			return 0;
		if (z->vstate == V_HEADER) {
			unsigned long long h = z->expect;
			if (!z->nhdr) {
				z->vstate = V_END;
				return 0;
			}
			if (z->nhdr < 4 && !memcmp(z->hdr, "BZh", z->nhdr < 3 ? z->nhdr : 3))
				return nys_err_set(e, "%s: truncated bzip2 data: the stream header at byte %llu is cut short",
				                   z->name, h);
			if (z->nhdr < 4 || memcmp(z->hdr, "BZh", 3) || z->hdr[3] < '1' || z->hdr[3] > '9')
				return nys_err_set(e, "%s: trailing garbage after the bzip2 data at byte %llu", z->name, h);
			z->level = z->hdr[3] - '0';
			z->combined = 0;
			z->stream_at = z->expect;
			z->expect = (z->expect + 4) * 8;
			z->vstate = V_MARKER;
			continue;
		}
		item *it;
		if (peek(z, &it, e))
			return -1;
		if (!it)
			return nys_err_set(e, "%s: truncated bzip2 data: no block after the stream header at byte %llu",
			                   z->name, (unsigned long long)z->stream_at);
		if (it->m.pos < z->expect) {
			/* a magic by chance inside the stream trailer or header */
			pop(z);
			continue;
		}
		if (it->m.pos > z->expect)
			return nys_err_set(e, "%s: corrupt bzip2 stream at byte %llu: no block or end-of-stream "
			                   "marker at byte %llu", z->name, (unsigned long long)z->stream_at,
			                   (unsigned long long)(z->expect / 8));
		if (it->m.type == M_EOS) {
			if (!it->m.crc_whole)
				return nys_err_set(e, "%s: truncated bzip2 data: the end of the stream at byte %llu is cut short",
				                   z->name, (unsigned long long)z->stream_at);
			if (it->m.crc != z->combined)
				return nys_err_set(e, "%s: corrupt bzip2 stream at byte %llu: CRC mismatch "
				                   "(its blocks give %08x, its trailer says %08x)", z->name,
				                   (unsigned long long)z->stream_at, (unsigned)z->combined, (unsigned)it->m.crc);
			z->expect = (it->m.pos + 80 + 7) / 8;
			z->nhdr = it->m.nhdr;
			memcpy(z->hdr, it->m.hdr, sizeof z->hdr);
			z->vstate = V_HEADER;
			pop(z);
			continue;
		}
		if (it->open)
			return open_error(z, it, e);
		settle(z, it, true);
		if (it->dec_level != z->level) {
			/* the reader guessed the stream's level wrong */
			it->m.level = (unsigned char)z->level;
			decode_item(it, &z->sc);
		}
		if (it->rc == D_NOMEM)
			return nys_err_set(e, "%s: out of memory", z->name);
		if (it->rc == D_OK) {
			bytes t = z->dbuf;
			z->dbuf = it->out;
			it->out = t;
			take_block(z, it->m.crc, it->end);
			pop(z);
		} else if (it->rc == D_BAD ? bad_block(z, it->m.pos, it->m.crc, &it->out, e) : join(z, it, e)) {
			return -1;
		}
		if (z->dbuf.n)
			return 1;
	}
}

/* ---- the interface -------------------------------------------------------------- */

nys_bz *nys_bz_new(const char *name, nys_bz_src src, void *arg, unsigned threads, nys_err *e)
{
	nys_bz *z = calloc(1, sizeof *z);
	if (!z) {
		nys_err_set(e, "%s: out of memory", name);
		return NULL;
	}
	z->name = name;
	z->src = src;
	z->arg = arg;
	if (!threads) {
		long n = sysconf(_SC_NPROCESSORS_ONLN);
		threads = n > 0 ? (unsigned)n : 1;
	}
	z->nthreads = threads < MAX_THREADS ? threads : MAX_THREADS;
	z->nring = z->nthreads > 1 ? 2 * (size_t)z->nthreads + 2 : 2;
	pthread_mutex_init(&z->mu, NULL);
	pthread_cond_init(&z->work, NULL);
	pthread_cond_init(&z->done, NULL);
	static const uint64_t magics[2] = {BLOCK_MAGIC, EOS_MAGIC};
	for (int i = 0; i < 2; i++)
		for (unsigned k = 0; k < 8; k++) {
			unsigned w = (unsigned)(magics[i] >> (24 + k) & 0xFFFF);
			z->filter[w >> 3] |= (unsigned char)(1u << (w & 7));
		}
	z->ring = calloc(z->nring, sizeof *z->ring);
	if (!z->ring) {
		nys_err_set(e, "%s: out of memory", name);
		goto fail;
	}
	/* The first stream's header; the reader keeps it until it scans on. */
	while (z->len < 4 && !z->eof)
		if (read_more(z, e))
			goto fail;
	z->nhdr = z->len < 4 ? (unsigned)z->len : 4;
	memcpy(z->hdr, z->buf, z->nhdr);
	z->spec_level = z->nhdr == 4 && z->hdr[3] >= '1' && z->hdr[3] <= '9' ? z->hdr[3] - '0' : 9;
	z->vstate = V_HEADER;
	return z;
fail:
	nys_bz_free(z);
	return NULL;
}

ptrdiff_t nys_bz_read(nys_bz *z, void *buf, size_t n, nys_err *e)
{
	while (z->doff == z->dbuf.n) {
		if (z->failed) {
			*e = z->err;
			return -1;
		}
		int r = advance(z, &z->err);
		if (r < 0) {
			z->failed = true;
			z->dbuf.n = z->doff = 0;
			*e = z->err;
			return -1;
		}
		if (r == 0)
			return 0;
	}
	size_t k = z->dbuf.n - z->doff;
	if (k > n)
		k = n;
	memcpy(buf, z->dbuf.p + z->doff, k);
	z->doff += k;
	return (ptrdiff_t)k;
}

void nys_bz_free(nys_bz *z)
{
	if (!z)
		return;
	pthread_mutex_lock(&z->mu);
	z->stop = true;
	pthread_cond_broadcast(&z->work);
	pthread_mutex_unlock(&z->mu);
	for (unsigned i = 0; i < z->started; i++)
		pthread_join(z->tids[i], NULL);
	free(z->tids);
	for (size_t i = 0; z->ring && i < z->nring; i++) {
		free(z->ring[i].raw.p);
		free(z->ring[i].out.p);
	}
	free(z->ring);
	free(z->buf);
	free(z->dbuf.p);
	free(z->acc.p);
	free(z->jout.p);
	free(z->sc.mini.p);
	pthread_mutex_destroy(&z->mu);
	pthread_cond_destroy(&z->work);
	pthread_cond_destroy(&z->done);
	free(z);
}
