/* GLUE's scores as HuggingFace's GLUE metric computes them (nys_metrics.h):
 * the formulas of scikit-learn's accuracy_score, f1_score and
 * matthews_corrcoef and of SciPy's pearsonr and spearmanr, step for step
 * where the steps decide the rounding, and their answers for constant or
 * empty inputs. */
#include "nys_metrics.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

double nys_metric_accuracy(const int32_t *pred, const int32_t *gold, size_t n)
{
	if (n == 0)
		return NAN;
	size_t c = 0;
	for (size_t i = 0; i < n; i++)
		c += pred[i] == gold[i];
	return (double)c / (double)n;
}

double nys_metric_f1(const int32_t *pred, const int32_t *gold, size_t n)
{
	/* sklearn >= 1.3: (1 + b^2) tp / ((1 + b^2) tp + b^2 fn + fp), b = 1,
	 * the denominator being true_sum + pred_sum */
	size_t tp = 0, t = 0, p = 0;
	for (size_t i = 0; i < n; i++) {
		tp += pred[i] == 1 && gold[i] == 1;
		t += gold[i] == 1;
		p += pred[i] == 1;
	}
	if (t + p == 0)
		return 0.0;
	return 2.0 * (double)tp / ((double)t + (double)p);
}

#define MCC_MAX 64

double nys_metric_mcc(const int32_t *pred, const int32_t *gold, size_t n, unsigned nclasses)
{
	double ts[MCC_MAX] = {0}, ps[MCC_MAX] = {0}, correct = 0, s = 0;
	if (nclasses > MCC_MAX)
		nclasses = MCC_MAX;
	for (size_t i = 0; i < n; i++) {
		if (pred[i] < 0 || gold[i] < 0 || (unsigned)pred[i] >= nclasses ||
		    (unsigned)gold[i] >= nclasses)
			continue;
		ts[gold[i]] += 1;
		ps[pred[i]] += 1;
		correct += pred[i] == gold[i];
		s += 1;
	}
	double tp = 0, pp = 0, tt = 0;
	for (unsigned k = 0; k < nclasses; k++) {
		tp += ts[k] * ps[k];
		pp += ps[k] * ps[k];
		tt += ts[k] * ts[k];
	}
	double cov_ytyp = correct * s - tp;
	double cov_ypyp = s * s - pp;
	double cov_ytyt = s * s - tt;
	if (cov_ypyp * cov_ytyt == 0)
		return 0.0;
	return cov_ytyp / sqrt(cov_ytyt * cov_ypyp);
}

static double mean(const double *x, size_t n)
{
	double s = 0;
	for (size_t i = 0; i < n; i++)
		s += x[i];
	return s / (double)n;
}

static bool constant(const double *x, size_t n)
{
	for (size_t i = 1; i < n; i++)
		if (x[i] != x[0])
			return false;
	return true;
}

static double clip1(double r)
{
	return r > 1.0 ? 1.0 : r < -1.0 ? -1.0 : r;
}

double nys_metric_pearson(const double *x, const double *y, size_t n)
{
	/* scipy's pearsonr: centre, scale by the largest magnitude (against
	 * overflow), normalise, dot */
	if (n < 2 || constant(x, n) || constant(y, n))
		return NAN;
	double mx = mean(x, n), my = mean(y, n), ax = 0, ay = 0;
	for (size_t i = 0; i < n; i++) {
		ax = fmax(ax, fabs(x[i] - mx));
		ay = fmax(ay, fabs(y[i] - my));
	}
	double nx = 0, ny = 0;
	for (size_t i = 0; i < n; i++) {
		double u = (x[i] - mx) / ax, v = (y[i] - my) / ay;
		nx += u * u;
		ny += v * v;
	}
	nx = sqrt(nx);
	ny = sqrt(ny);
	double r = 0;
	for (size_t i = 0; i < n; i++)
		r += ((x[i] - mx) / ax / nx) * ((y[i] - my) / ay / ny);
	return clip1(r);
}

static const double *sort_key;

static int by_key(const void *a, const void *b)
{
	double x = sort_key[*(const size_t *)a], y = sort_key[*(const size_t *)b];
	if (x != y)
		return x < y ? -1 : 1;
	/* stable, so that equal keys stay in order (not that it matters for
	 * average ranks) */
	size_t i = *(const size_t *)a, j = *(const size_t *)b;
	return i < j ? -1 : i > j;
}

/* rankdata(x, method="average") into r: 1-based ranks, a run of ties
 * getting the mean of its ranks. */
static void average_ranks(const double *x, size_t n, size_t *order, double *r)
{
	for (size_t i = 0; i < n; i++)
		order[i] = i;
	sort_key = x;
	qsort(order, n, sizeof *order, by_key);
	for (size_t i = 0; i < n;) {
		size_t j = i + 1;
		while (j < n && x[order[j]] == x[order[i]])
			j++;
		/* ranks i+1 .. j: their mean */
		double avg = 0.5 * ((double)(i + 1) + (double)j);
		for (size_t k = i; k < j; k++)
			r[order[k]] = avg;
		i = j;
	}
}

int nys_metric_spearman(const double *x, const double *y, size_t n, double *rho, nys_err *e)
{
	*rho = NAN;
	if (n < 2 || constant(x, n) || constant(y, n))
		return 0;
	size_t *order = malloc(n * sizeof *order);
	double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
	if (!order || !rx || !ry) {
		free(order);
		free(rx);
		free(ry);
		return nys_err_set(e, "out of memory ranking %zu scores", n);
	}
	average_ranks(x, n, order, rx);
	average_ranks(y, n, order, ry);
	/* numpy's corrcoef of the ranks: the covariance divided by each
	 * standard deviation in turn */
	double mx = mean(rx, n), my = mean(ry, n), cxy = 0, cxx = 0, cyy = 0;
	for (size_t i = 0; i < n; i++) {
		double u = rx[i] - mx, v = ry[i] - my;
		cxy += u * v;
		cxx += u * u;
		cyy += v * v;
	}
	double d = (double)(n - 1);
	*rho = clip1(cxy / d / sqrt(cxx / d) / sqrt(cyy / d));
	free(order);
	free(rx);
	free(ry);
	return 0;
}

/* One more score, under HuggingFace's name for it. */
static void score_add(nys_glue_scores *out, const char *name, double value)
{
	out->v[out->n].name = name;
	out->v[out->n].value = value;
	out->n++;
}

int nys_metric_glue(nys_glue_metric m, unsigned nclasses, const int32_t *pred,
                    const int32_t *gold, const double *spred, const double *sgold, size_t n,
                    nys_glue_scores *out, nys_err *e)
{
	memset(out, 0, sizeof *out);
	switch (m) {
	case NYS_GLUE_ACC:
		score_add(out, "accuracy", nys_metric_accuracy(pred, gold, n));
		break;
	case NYS_GLUE_F1_ACC:
		score_add(out, "accuracy", nys_metric_accuracy(pred, gold, n));
		score_add(out, "f1", nys_metric_f1(pred, gold, n));
		break;
	case NYS_GLUE_MCC:
		score_add(out, "matthews_correlation", nys_metric_mcc(pred, gold, n, nclasses));
		break;
	case NYS_GLUE_CORR: {
		score_add(out, "pearson", nys_metric_pearson(spred, sgold, n));
		double rho;
		int rc = nys_metric_spearman(spred, sgold, n, &rho, e);
		score_add(out, "spearmanr", rho);
		if (rc)
			return -1;
		break;
	}
	}
	double s = 0;
	for (unsigned i = 0; i < out->n; i++)
		s += out->v[i].value;
	out->combined = s / out->n;
	return 0;
}
