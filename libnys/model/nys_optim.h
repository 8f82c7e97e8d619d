/* The optimizer of pretraining: PyTorch's AdamW driven by its OneCycleLR
 * schedule, as the authors' run_pretrain.py sets them up:
 *
 *   optimizer = torch.optim.AdamW(model.parameters(), lr=learning_rate,
 *                                 betas=(0.9, 0.999), eps=1e-6, weight_decay=0.01)
 *   lr_scheduler = torch.optim.lr_scheduler.OneCycleLR(optimizer,
 *       max_lr=learning_rate, pct_start=warmup, anneal_strategy="linear",
 *       epochs=epoch, steps_per_epoch=batches_per_epoch)
 *   for each batch: ... optimizer.step(); lr_scheduler.step()
 *
 * so optimizer step t (1, 2, ...) runs with the schedule's values at step
 * t - 1.  The two counts are kept apart (the schedule's step is an argument,
 * AdamW's in nys_adamw.step) because they can drift: with mixed precision
 * the authors' GradScaler skips optimizer.step() on non-finite gradients
 * but still calls lr_scheduler.step().
 *
 * Both are matched bit for bit against PyTorch 1.13 (Debian's python3-torch;
 * tests/gen/optim_ref.py writes the references that tests/unit/optim.c
 * checks): the schedule in double, AdamW on float32 tensors element by
 * element.
 *
 * AdamW and the gradient checks below are the CPU backend's versions of
 * its adamw_step, grad_norm and nonfinite ops (backend_ops.def): a model
 * runs them on its own buffers through nys_model_adamw_step and friends.
 */
#ifndef NYS_OPTIM_H
#define NYS_OPTIM_H

#include "nys.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* ---- OneCycleLR --------------------------------------------------------- */

/* The schedule's parameters: those of OneCycleLR with anneal_strategy
 * "linear", three_phase false and cycle_momentum true (which, on Adam-type
 * optimizers, cycles betas[0]).  total_steps is epochs * steps_per_epoch. */
typedef struct nys_onecycle {
	double max_lr;
	uint64_t total_steps;    /* 1 .. 2^53 */
	double pct_start;        /* the warmup fraction, in [0, 1] */
	double div_factor;       /* initial lr = max_lr / div_factor (25) */
	double final_div_factor; /* min lr = initial lr / final_div_factor (1e4) */
	double base_momentum;    /* beta1 at the peak of lr (0.85) */
	double max_momentum;     /* beta1 at both ends (0.95) */
} nys_onecycle;

/* max_lr, total_steps and pct_start given, torch's defaults for the rest. */
void nys_onecycle_init(nys_onecycle *s, double max_lr, uint64_t total_steps,
                       double pct_start);

/* 0, or -1 when torch's constructor would refuse the parameters: total_steps
 * 0, pct_start outside [0, 1], or pct_start * total_steps == 1 (its first
 * phase then ends at step 0 and it divides 0 by 0 while constructing).
 * Beyond torch, also refused: values that are not finite, max_lr,
 * div_factor or final_div_factor <= 0, momenta outside [0, 1], and
 * total_steps over 2^53 (steps must be exact in double). */
int nys_onecycle_check(const nys_onecycle *s, nys_err *e);

/* The learning rate and beta1 after `step` calls of scheduler.step()
 * (step 0: right after construction, the values of the first optimizer
 * step), as torch computes them in double:
 *
 *   initial = max_lr / div_factor,  min = initial / final_div_factor
 *   end1 = float(pct_start * total_steps) - 1,  end2 = total_steps - 1
 *   step <= end1:  pct = step / end1
 *                  lr = (max_lr - initial) * pct + initial
 *                  beta1 = (base_momentum - max_momentum) * pct + max_momentum
 *   otherwise:     pct = (step - end1) / (end2 - end1)
 *                  lr = (min - max_lr) * pct + max_lr
 *                  beta1 = (max_momentum - base_momentum) * pct + base_momentum
 *
 * Steps 0 .. total_steps are valid, as in torch; the last of them (the
 * scheduler.step() after the last optimizer step) lies one step past the
 * end of the cycle, extrapolated as torch does (lr below min, even
 * negative), and no optimizer step uses it.  Returns 0, or -1 with e set
 * where torch raises: step > total_steps (ValueError; we refuse rather
 * than clamp, since a step past the schedule means the caller's counting
 * is wrong, a resume with another total_steps for instance), a division
 * by zero at that step (ZeroDivisionError: step total_steps with
 * pct_start 1), or parameters nys_onecycle_check refuses.  lr and beta1
 * are left alone on error. */
int nys_onecycle_eval(const nys_onecycle *s, uint64_t step, double *lr,
                      double *beta1, nys_err *e);

/* ---- AdamW -------------------------------------------------------------- */

/* One parameter group of torch.optim.AdamW (amsgrad off, maximize off),
 * and its step count.  lr and beta1 are the group's current values: set
 * them from nys_onecycle_eval before every step, as OneCycleLR rewrites the
 * group's lr and betas[0]. */
typedef struct nys_adamw {
	double lr;
	double beta1, beta2;
	double eps;
	double weight_decay; /* decoupled, applied to every parameter */
	uint64_t step;       /* steps taken: torch's state["step"] */
} nys_adamw;

/* The authors' pretraining settings: betas (0.9, 0.999), eps 1e-6 (torch's
 * default is 1e-8), weight_decay 0.01 (on all parameters: they pass
 * model.parameters() with no groups), step 0.  lr is set to max_lr, which
 * the schedule overrides. */
void nys_adamw_init(nys_adamw *o, double max_lr);

/* One optimizer step on n float32 parameters p, with gradients g and the
 * state m (exp_avg) and v (exp_avg_sq), each one contiguous buffer; m and
 * v start as zeros.  o->step is incremented first, t = o->step, then in
 * double, with beta1 the current one (torch reads the group's betas each
 * step):
 *
 *   bc1 = 1 - beta1^t,  bc2 = 1 - beta2^t,  step_size = lr / bc1
 *
 * and for each element, in float32 with the scalars rounded to float, as
 * torch 1.13's CPU kernels (AVX2, fused multiply-adds) do it:
 *
 *   p = p * (float)(1 - lr * weight_decay)
 *   m = fmaf(g, (float)(1 - beta1), m * (float)beta1)     mul_, add_
 *   v = fmaf((float)(1 - beta2) * g, g, v * (float)beta2) mul_, addcmul_
 *   d = sqrtf(v) / (float)sqrt(bc2) + (float)eps
 *   p = p + ((float)-step_size * m) / d                   addcdiv_
 *
 * (torch >= 2.0 writes m as exp_avg.lerp_(g, 1 - beta1), which rounds
 * differently.)  Elements are independent, so the result does not depend
 * on the number of OpenMP threads.  Returns 0, or -1 (nothing changed)
 * when a hyper-parameter is one torch refuses: lr, eps or weight_decay
 * negative or not finite, a beta outside [0, 1). */
int nys_adamw_step(nys_adamw *o, float *restrict p, const float *restrict g,
                   float *restrict m, float *restrict v, size_t n, nys_err *e);

/* The scalar part of nys_adamw_step, for a backend that does the element
 * update itself (the CUDA one): the checks, o->step incremented, and the
 * element update's constants as floats, k = {1 - lr * weight_decay, beta1,
 * 1 - beta1, beta2, 1 - beta2, sqrt(bc2), eps, -step_size}.  0, or -1 with
 * nothing changed, as nys_adamw_step. */
int nys_adamw_prepare(nys_adamw *o, float k[8], nys_err *e);

/* ---- gradients ---------------------------------------------------------- */

/* The global L2 norm of x[0..n), sqrt(sum x^2) accumulated in double in a
 * fixed order (fixed chunks, summed in order), so that it is the same to
 * the bit for any number of threads.  NaN or Inf in x give NaN or Inf. */
double nys_grad_norm(const float *x, size_t n);

/* Whether any of x[0..n) is NaN or infinite. */
bool nys_grad_nonfinite(const float *x, size_t n);

#endif
