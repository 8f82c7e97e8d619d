/* To and from transformers' Nystromformer folders (nys-eval import-hf and
 * export-hf).
 *
 * A transformers folder is config.json (NystromformerConfig), the weights
 * model.safetensors in the names our checkpoints use too
 * (nys-checkpoint(5)), and the tokenizer: AlbertTokenizer's spiece.model
 * and tokenizer_config.json.  Importing keeps the weights where they are:
 * the nys config written names the folder's model.safetensors and
 * spiece.model; exporting writes a new folder, atomically (a staging
 * directory moved into place), that from_pretrained and the fill-mask
 * pipeline take with no further step.
 *
 * What one side can say and the other cannot is refused, named, never
 * approximated: for import, an activation other than gelu_new, another
 * LayerNorm epsilon, untied decoder weights, the "new" pseudo-inverse
 * initialisation, segments that do not divide segment_means_seq_len; for
 * export, everything nys_config_hf_json refuses, and besides a model
 * without the depthwise convolution (transformers 5 takes only an integer
 * conv_kernel_size), a softmax model (the same: transformers' exact branch
 * always adds its convolution) and the authors' tanh classifier head
 * (transformers' NystromformerClassificationHead uses gelu_new).
 */
#ifndef NYS_HF_H
#define NYS_HF_H

#include "nys.h"
#include "nys_config.h"

/* Checkpoint metadata keys this module reads (and writers of classifier
 * checkpoints set; nys_model_save records the first itself):
 *   nys_cls_act      "tanh" (the authors' head) or "gelu" (transformers')
 *   nys_id2label     a JSON array of the class names, index = class id
 *   nys_glue         nys-eval glue --save's record: its "labels" array
 *                    names the classes when nys_id2label is absent
 * and nys_tokenizer (NYS_TOKENIZER_META, nys_ckpt.h), the sentencepiece
 * fingerprint. */
#define NYS_META_CLS_ACT "nys_cls_act"
#define NYS_META_ID2LABEL "nys_id2label"
#define NYS_META_GLUE "nys_glue"

/* The nys "model" section equal to a transformers NystromformerConfig
 * (hf: its config.json, parsed; name: the file, for messages), with
 * transformers' defaults for absent keys.  *num_labels: 0 for
 * NystromformerForMaskedLM (or no architectures), else the classifier's
 * (1: regression).  -1 with e set when nys cannot express it. */
int nys_hf_model_config(const json_t *hf, const char *name, nys_model_config *m,
                        int *num_labels, nys_err *e);

/* nys-eval import-hf: read DIR (config.json, model.safetensors, and when
 * present spiece.model and tokenizer_config.json), check that the weights
 * load into the model the config describes, and write to out (a path, "-"
 * or NULL: stdout) a nys config.json: "model", "from_cp" (DIR's
 * model.safetensors, absolute), when DIR has a spiece.model "tokenizer"
 * (its fingerprint, 16 hex digits, as checkpoints' nys_tokenizer),
 * "tokenizer_model" (its absolute path) and "tokenizer_lower"
 * (do_lower_case), and "hf" ({"from", "architecture", "num_labels",
 * "id2label"}).
 * Warnings (no tokenizer) go to nys_warnx. */
int nys_hf_import(const char *dir, const char *out, nys_err *e);

typedef struct nys_hf_export_opts {
	const char *checkpoint; /* a nys checkpoint (its "nys_model" metadata names the config) */
	const char *spm;        /* the sentencepiece model it was trained with */
	const char *dir;        /* the folder to write */
	bool lower;             /* do_lower_case (tokenize encode --lower) */
} nys_hf_export_opts;

/* nys-eval export-hf: write o->dir with config.json
 * (NystromformerForMaskedLM, or NystromformerForSequenceClassification
 * with id2label and label2id), model.safetensors (float32), spiece.model
 * and tokenizer_config.json (AlbertTokenizer, its special tokens, accents
 * kept as nys's tokenizer keeps them).  Refuses what transformers cannot
 * express (see the top), a sentencepiece model whose fingerprint differs
 * from the checkpoint's, or one that lacks [CLS], [SEP], [MASK] or has
 * more pieces than the model's vocabulary. */
int nys_hf_export(const nys_hf_export_opts *o, nys_err *e);

#endif
