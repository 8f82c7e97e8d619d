/* Masked-LM validation over a shard list (nys_mlm_eval.h): shared by
 * nys-train's per-epoch validation and `nys-eval mlm`. */
#include "nys_mlm_eval.h"

#include <stdlib.h>

int nys_mlm_eval(nys_model *m, nys_loader *dev, const nys_mlm_eval_opts *o, nys_mlm_score *s,
                 nys_err *e)
{
	*s = (nys_mlm_score){0};
	if (o->micro < 1)
		return nys_err_set(e, "mlm validation: a micro-batch of %d sequences", o->micro);
	nys_loader_pos zero = {0};
	zero.data_id = nys_loader_tell(dev).data_id;
	if (nys_loader_seek(dev, &zero, e))
		return -1;
	size_t T = nys_loader_header(dev)->seq_len, n = (size_t)o->micro * T;
	int32_t *ids = malloc(n * sizeof *ids), *labels = malloc(n * sizeof *labels);
	if (!ids || !labels) {
		free(ids);
		free(labels);
		return nys_err_set(e, "mlm validation: out of memory for %d x %zu tokens", o->micro,
		                   T);
	}
	double loss = 0, count = 0, correct = 0;
	uint64_t got = 0;
	uint64_t mseed = o->seed ^ UINT64_C(0x6e79732e64657621); /* "nys.dev!" */
	int rc = 0;
	bool end = false;
	while (got < o->sequences && !end) {
		int nb = 0;
		while (nb < o->micro && got < o->sequences) {
			int r = nys_loader_next(dev, ids + (size_t)nb * T, e);
			if (r < 0) {
				rc = -1;
				goto out;
			}
			if (r == 0) {
				end = true;
				break;
			}
			/* the counter is the sequence's number in the list */
			nys_mlm_mask(ids + (size_t)nb * T, labels + (size_t)nb * T, T, &o->mlm, mseed,
			             got);
			nb++;
			got++;
		}
		if (!nb)
			break;
		nys_batch b = {.B = nb, .T = (int)T, .ids = ids, .labels = labels};
		nys_model_stats st;
		if (nys_model_forward(m, &b, false, 0, &st, e)) {
			rc = -1;
			goto out;
		}
		loss += st.loss * (st.count + 1e-6);
		count += st.count;
		correct += st.correct;
	}
	if (got)
		*s = (nys_mlm_score){.loss = loss / (count + 1e-6), .accuracy = correct / (count + 1e-6),
		                     .count = count, .sequences = got};
out:
	free(ids);
	free(labels);
	return rc;
}
