/* libFuzzer target for transformers' Nystromformer config.json as
 * nys-eval import-hf reads it (nys_hf_model_config, libnys/model/hf.c):
 * any bytes as that file.  Errors must name the file; a config taken must
 * be a valid nys model, and when transformers can take it back
 * (nys_config_hf_json) reading that again gives the same model. */
#include "fuzz.h"
#include "nys_hf.h"
#include "nys_json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *path = fuzz_input_path(data, size);
	nys_err e = {{0}};
	json_t *hf = nys_json_load(path, 0, &e);
	if (!hf) {
		fuzz_check_msg(e.msg, path);
		return 0;
	}
	nys_model_config m;
	int labels = -1;
	if (nys_hf_model_config(hf, path, &m, &labels, &e)) {
		fuzz_check_msg(e.msg, path);
		json_decref(hf);
		return 0;
	}
	json_decref(hf);
	FUZZ_CHECK(labels >= 0);
	FUZZ_CHECK(m.attn_type == NYS_ATTN_NYSTROM && m.embedding_dim == m.transformer_dim);
	FUZZ_CHECK((uint64_t)m.num_head * m.head_dim == m.transformer_dim);
	FUZZ_CHECK(m.num_landmarks >= 1 && m.num_landmarks <= m.seq_len &&
	           m.seq_len <= m.max_seq_len && m.seq_len % m.num_landmarks == 0);

	json_t *back = nys_config_hf_json(&m, NULL, &e);
	FUZZ_CHECK(back != NULL);
	nys_model_config again;
	int labels2;
	if (nys_hf_model_config(back, path, &again, &labels2, &e)) {
		fprintf(stderr, "transformers' config written back does not read: %s\n", e.msg);
		abort();
	}
	FUZZ_CHECK(!memcmp(&again, &m, sizeof m) && labels2 == 0);
	json_decref(back);
	return 0;
}
