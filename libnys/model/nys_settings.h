/* The training settings of a config.json beside its "model" section: the
 * sections the authors' run_pretrain.py reads (pretraining_setting,
 * gpu_setting) and the paths (data_folder, model_checkpoints, from_cp),
 * checked and with the command line's overrides applied.  The getters are
 * for any driver's section (fine-tuning's next); nys_pretrain_settings is
 * masked-LM pretraining's.  Messages name the file and the key:
 *   config.json: pretraining_setting.batch_size: expected an integer in 1..1048576
 */
#ifndef NYS_SETTINGS_H
#define NYS_SETTINGS_H

#include "nys.h"
#include "nys_config.h"
#include "nys_optim.h"
#include "nys_train.h"

#include <jansson.h>

/* obj.key (obj the section `sec` of the config `file`, or NULL when the
 * section is absent) as an integer in lo..hi.  Absent or null: *out = dflt,
 * or "missing" when required. */
int nys_settings_uint(const json_t *obj, const char *file, const char *sec, const char *key,
                      uint64_t lo, uint64_t hi, bool required, uint64_t dflt, uint64_t *out,
                      nys_err *e);
/* obj.key as any JSON number (integer or real) in [lo, hi]; required (null
 * is a wrong value, not an absent one). */
int nys_settings_real(const json_t *obj, const char *file, const char *sec, const char *key,
                      double lo, double hi, double *out, nys_err *e);
/* The top-level string `key` of the config as a path relative to the
 * config's directory (unless absolute), or override as it is when given;
 * dflt when the key is absent (*out NULL when dflt is NULL too).  *out is
 * the caller's to free. */
int nys_settings_path(const nys_config *cfg, const char *key, const char *override,
                      const char *dflt, char **out, nys_err *e);

/* pretraining_setting and friends, checked. */
typedef struct nys_pretrain_settings {
	uint64_t batch_size, inst_per_gpu, batches_per_report, batches_per_epoch, epochs;
	uint64_t validate_batches, total_steps, seed;
	double learning_rate, warmup;
	int32_t pad_id, unk_id, mask_id;
	char *data, *ckpt, *from_cp; /* resolved paths, owned */
	nys_onecycle sched;          /* the schedule the settings give, checked */
} nys_pretrain_settings;

/* Read s from the config with o's overrides (--data, --checkpoints,
 * --seed).  -1 with e set on a missing or wrong key; s is then still to be
 * freed. */
int nys_pretrain_settings_read(nys_pretrain_settings *s, const nys_config *cfg,
                               const nys_train_opts *o, nys_err *e);
void nys_pretrain_settings_free(nys_pretrain_settings *s);

#endif
