/* libFuzzer target for model configs (libnys/model/config.c): any bytes, plain
 * or compressed, as a config.json.  Errors and warnings must name the
 * file; a config that loads must survive nys_model_config_to_json and
 * nys_model_config_from_json unchanged (nys-eval and checkpoints store it
 * that way), and transformers' config is either made or refused. */
#include "fuzz.h"
#include "nys_config.h"

static void on_warn(void *ctx, const char *msg)
{
	fuzz_check_msg(msg, ctx);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	nys_config *c = nys_config_load(path, on_warn, (void *)(uintptr_t)path, &e);
	if (!c) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	FUZZ_CHECK(json_is_object(c->root));
	const nys_model_config *m = &c->model;
	if (m->attn_type == NYS_ATTN_NYSTROM) {
		FUZZ_CHECK(m->num_landmarks >= 1 && m->num_landmarks <= m->seq_len);
		FUZZ_CHECK(m->seq_len <= m->max_seq_len);
		FUZZ_CHECK(m->conv_kernel_size == 0 || m->conv_kernel_size % 2 == 1);
	}
	FUZZ_CHECK(m->dropout_prob >= 0 && m->dropout_prob < 1);

	json_t *j = nys_model_config_to_json(m);
	FUZZ_CHECK(j != NULL);
	nys_model_config back;
	if (nys_model_config_from_json(j, path, &back, on_warn, (void *)(uintptr_t)path, &e)) {
		fprintf(stderr, "the config written back does not load: %s\n", e.msg);
		abort();
	}
	back.swapped_landmarks = m->swapped_landmarks;
	FUZZ_CHECK(!memcmp(&back, m, sizeof back));
	json_decref(j);

	json_t *hf = nys_config_hf_json(m, NULL, &e);
	json_decref(hf);
	nys_config_free(c);
	return 0;
}
