/* GLUE's scores, computed as HuggingFace's GLUE metric (evaluate's and
 * datasets' glue.py) computes them through scikit-learn and SciPy, so that
 * the numbers nys-eval glue logs are the ones a transformers run reports
 * on the same predictions: accuracy, F1 of class 1 (MRPC, QQP), Matthews
 * correlation (CoLA), Pearson and Spearman correlation (STS-B).  In double
 * precision, in the libraries' formulas, with their answers for the
 * degenerate cases (noted per function).  No dependencies.
 */
#ifndef NYS_METRICS_H
#define NYS_METRICS_H

#include "nys.h"
#include "nys_glue.h"

/* The fraction of i with pred[i] == gold[i] (numpy's mean of the
 * comparison); NAN for n == 0. */
double nys_metric_accuracy(const int32_t *pred, const int32_t *gold, size_t n);

/* sklearn.metrics.f1_score(gold, pred) (binary, positive class 1):
 * 2 tp / (2 tp + fp + fn), 0 when there is no 1 in either (sklearn's
 * zero_division answer), so a single class 0 scores 0 and a single class 1
 * predicted right scores 1. */
double nys_metric_f1(const int32_t *pred, const int32_t *gold, size_t n);

/* sklearn.metrics.matthews_corrcoef(gold, pred) for classes
 * 0..nclasses-1 (the multiclass formula, which is the binary one for two):
 *   (c s - sum_k p_k t_k) / sqrt((s^2 - sum_k p_k^2) (s^2 - sum_k t_k^2))
 * c correct, s samples, p_k and t_k predicted and true counts of class k;
 * 0 when the denominator is 0 (a single class in gold or in pred).
 * Ids outside 0..nclasses-1 are not counted in the table (as
 * sklearn's confusion matrix never sees them, they can't occur there);
 * nclasses at most 64. */
double nys_metric_mcc(const int32_t *pred, const int32_t *gold, size_t n, unsigned nclasses);

/* scipy.stats.pearsonr(x, y)[0]: centred by the means, each normalised by
 * its norm, the dot product clipped to [-1, 1]; NAN when either is
 * constant or n < 2. */
double nys_metric_pearson(const double *x, const double *y, size_t n);

/* scipy.stats.spearmanr(x, y)[0]: the Pearson correlation of the ranks,
 * ties given their average rank (rankdata's "average"); NAN when either
 * is constant or n < 2.  -1 only when memory runs out. */
int nys_metric_spearman(const double *x, const double *y, size_t n, double *rho, nys_err *e);

/* The scores of one GLUE split, by HuggingFace's names, in its order. */
typedef struct nys_glue_scores {
	unsigned n;
	struct {
		const char *name;  /* "accuracy", "f1", "matthews_correlation",
		                    * "pearson", "spearmanr" */
		double value;
	} v[2];
	/* The mean of the values (transformers' run_glue "combined_score"
	 * where a task has two; the one value otherwise): what "best epoch"
	 * compares. */
	double combined;
} nys_glue_scores;

/* Score n predictions of a task with metric kind m: class ids pred
 * against gold (ACC, F1_ACC, MCC; nclasses for MCC), or scores spred
 * against sgold (CORR).  The arrays a kind does not use may be NULL.
 * -1 only when memory runs out. */
int nys_metric_glue(nys_glue_metric m, unsigned nclasses, const int32_t *pred,
                    const int32_t *gold, const double *spred, const double *sgold, size_t n,
                    nys_glue_scores *out, nys_err *e);

#endif
