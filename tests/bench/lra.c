/* make bench: LRA training throughput on the CPU.
 *
 *   lra ATTN T B [steps]
 *
 * The authors' LRA model (nys_lra_model.h; lra_config.py's sizes:
 * embedding 64, FFN 128, 2 heads of 32, 2 layers, dropout 0.1) on ListOps'
 * shape: vocabulary 17, 10 classes, B documents of T tokens of which the
 * last fifth at most is padding (masked).  Times `steps` training steps
 * (forward, backward, AdamW) after one warm-up step, as tests/bench/model.c,
 * and prints
 *
 *   ATTN T B best-tokens/s median-tokens/s best-ms/step peak-RSS-MB
 *
 * (tokens: B x T, padding included); tests/bench/lra_torch.py runs the same
 * model in PyTorch eager.
 */
#include "nys_blas.h"
#include "nys_lra_model.h"
#include "nys_optim.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

int main(int argc, char **argv)
{
	if (argc < 4)
		return 2;
	nys_blas_tune(argv);
	const char *attn = argv[1];
	int T = atoi(argv[2]), B = atoi(argv[3]), steps = argc > 4 ? atoi(argv[4]) : 3;
	nys_lra_model_config c = {.vocab_size = 17, .max_seq_len = (uint32_t)T, .num_classes = 10,
	                          .dim = 64, .hidden_dim = 128, .num_head = 2, .head_dim = 32,
	                          .num_layers = 2, .dropout_prob = 0.1, .attention_dropout = 0.1};
	nys_err e = {0};
	nys_model *m = NULL;
	if (nys_lra_attn_parse(attn, &c, &e) ||
	    !(m = nys_lra_model_new(&c, NYS_F32, NYS_DEVICE_AUTO, NULL, &e)) ||
	    nys_lra_model_init(m, 1, &e)) {
		fprintf(stderr, "%s\n", e.msg);
		return 1;
	}
	size_t N = (size_t)B * T;
	int32_t *ids = malloc(N * sizeof *ids), *labels = malloc((size_t)B * sizeof *labels);
	float *mask = malloc(N * sizeof *mask);
	uint64_t s = 12345;
	for (int i = 0; i < B; i++) {
		s = s * 6364136223846793005u + 1442695040888963407u;
		int len = T - (int)((s >> 33) % (uint64_t)(T / 5 + 1));
		for (int t = 0; t < T; t++) {
			s = s * 6364136223846793005u + 1442695040888963407u;
			ids[(size_t)i * T + t] = t < len ? 1 + (int32_t)((s >> 33) % 16) : 0;
			mask[(size_t)i * T + t] = t < len;
		}
		labels[i] = (int32_t)((s >> 40) % 10);
	}
	nys_batch b = {.B = B, .T = T, .ids = ids, .mask = mask, .labels = labels};
	nys_adamw opt;
	nys_adamw_init(&opt, 1e-4);
	opt.weight_decay = 0;
	double *dt = calloc((size_t)steps + 1, sizeof *dt);
	for (int k = 0; k <= steps; k++) {
		double t0 = nys_now();
		if (nys_model_zero_grad(m, &e) || nys_model_forward(m, &b, true, (uint64_t)k, NULL, &e) ||
		    nys_model_backward(m, 1.0, &e) || nys_model_adamw_step(m, &opt, &e)) {
			fprintf(stderr, "%s\n", e.msg);
			return 1;
		}
		dt[k] = nys_now() - t0;
	}
	for (int i = 2; i <= steps; i++)
		for (int j = i; j > 1 && dt[j] < dt[j - 1]; j--) {
			double x = dt[j];
			dt[j] = dt[j - 1];
			dt[j - 1] = x;
		}
	double best = dt[1], median = dt[1 + steps / 2];
	struct rusage ru;
	getrusage(RUSAGE_SELF, &ru);
	printf("%s %d %d %.0f %.0f %.1f %.1f\n", attn, T, B, (double)N / best, (double)N / median,
	       best * 1e3, (double)ru.ru_maxrss / 1e3);
	free(dt);
	nys_model_free(m);
	free(ids);
	free(labels);
	free(mask);
	return 0;
}
