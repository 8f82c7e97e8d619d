/* make bench: training throughput of the whole model on the CPU.
 *
 *   model T B [steps [cls]]
 *
 * The benchmark model: 4 layers, width 256 (feed-forward 1024),
 * 4 heads of 64, vocabulary 30000, Nystrom attention with 64 landmarks and
 * conv 33; sequences of T tokens, batch B.  Masked-LM pretraining: 15% of
 * the positions labelled.  With `cls`, GLUE fine-tuning instead: sentence
 * pairs [CLS] a [SEP] b [SEP] (token types 0 and 1) of 3/4 T to T tokens,
 * padded to T and masked, under the authors' two-class head (dense, tanh,
 * dense on [CLS]); tests/bench/finetune_torch.py runs the same math in
 * PyTorch.  Times `steps` training steps (forward, backward, AdamW) one by
 * one, after one warm-up step, and prints the best and the median:
 *
 *   T B best-tokens/s median-tokens/s best-ms/step peak-RSS-MB
 *
 * (tokens: B x T, padding included, as PyTorch's row counts them).
 */
#include "nys_blas.h"
#include "nys_model.h"
#include "nys_optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
	if (argc < 3)
		return 2;
	nys_blas_tune(argv);
	int T = atoi(argv[1]), B = atoi(argv[2]), steps = argc > 3 ? atoi(argv[3]) : 3;
	bool cls = argc > 4 && !strcmp(argv[4], "cls");
	nys_model_config c = {
		.vocab_size = 30000, .num_sen_type = cls ? 2 : 1, .max_seq_len = (uint32_t)T,
		.embedding_dim = 256, .transformer_dim = 256, .transformer_hidden_dim = 1024,
		.num_layers = 4, .num_head = 4, .head_dim = 64, .dropout_prob = 0.1,
		.attn_type = NYS_ATTN_NYSTROM, .num_landmarks = 64, .seq_len = (uint32_t)T,
		.conv_kernel_size = 33, .inv_iterations = 6,
	};
	nys_model_opts o = {.dtype = NYS_F32, .mlm = !cls, .num_labels = cls ? 2 : 0,
	                    .cls_act = NYS_CLS_TANH};
	nys_err e = {0};
	nys_model *m = nys_model_new(&c, &o, &e);
	if (!m) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	if (nys_model_init(m, 1, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	size_t N = (size_t)B * T;
	int32_t *ids = malloc(N * sizeof *ids), *labels = malloc(N * sizeof *labels);
	uint64_t s = 12345;
	for (size_t i = 0; i < N; i++) {
		s = s * 6364136223846793005u + 1442695040888963407u;
		ids[i] = (int32_t)((s >> 33) % 30000);
		labels[i] = (s >> 20) % 100 < 15 ? ids[i] : NYS_IGNORE_LABEL;
	}
	nys_batch b = {.B = B, .T = T, .ids = ids, .labels = labels};
	int32_t *types = NULL;
	float *mask = NULL;
	if (cls) {
		/* pairs: [CLS] a [SEP] b [SEP], then padding; a label a pair */
		types = calloc(N, sizeof *types);
		mask = calloc(N, sizeof *mask);
		for (int i = 0; i < B; i++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			int len = T - (int)((s >> 33) % (uint64_t)(T / 4 + 1)), half = len / 2;
			int32_t *row = ids + (size_t)i * T;
			for (int t = 0; t < T; t++) {
				if (t >= len)
					row[t] = 0;
				else if (t == 0)
					row[t] = 2;
				else if (t == half || t == len - 1)
					row[t] = 3;
				types[(size_t)i * T + t] = t > half && t < len;
				mask[(size_t)i * T + t] = t < len;
			}
			labels[i] = (int32_t)(s >> 62) & 1;
		}
		b.type_ids = types;
		b.mask = mask;
	}
	nys_adamw opt;
	nys_adamw_init(&opt, 1e-4);
	double *dt = calloc((size_t)steps + 1, sizeof *dt);
	for (int k = 0; k <= steps; k++) {
		double t0 = nys_now();
		if (nys_model_zero_grad(m, &e) || nys_model_forward(m, &b, true, (uint64_t)k, NULL, &e) ||
		    nys_model_backward(m, 1.0, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		if (nys_model_adamw_step(m, &opt, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		dt[k] = nys_now() - t0;
	}
	/* steps 1..steps, sorted */
	for (int i = 2; i <= steps; i++)
		for (int j = i; j > 1 && dt[j] < dt[j - 1]; j--) {
			double x = dt[j];
			dt[j] = dt[j - 1];
			dt[j - 1] = x;
		}
	double best = dt[1], median = dt[1 + steps / 2];
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%d %d %.0f %.0f %.1f %.1f\n", T, B, (double)N / best, (double)N / median, best * 1e3,
	       (double)ru.ru_maxrss / 1e3);
	free(dt);
	nys_model_free(m);
	free(ids);
	free(labels);
	free(types);
	free(mask);
	return 0;
}
