# GLUE sweeps through make, as the authors' glue_search.sh ran them on 8
# GPUs: `make -j glue-search MODEL=DIR TASK=MRPC` fine-tunes the checkpoint
# of the model folder DIR (its config.json; nys-eval glue runs there) once
# for every learning rate x batch size of the grid, in parallel under -j.
# Each run is a file target, its final JSON summary line (nys-eval glue's
# stdout) in GLUE_RESULTS, written under a temporary name and renamed when
# the run ends well: an interrupted sweep resumes with the runs not done,
# and a second sweep does nothing.  `make glue-summary MODEL=DIR` prints
# one table, the best run of each task (pipeline/glue-summary.pl).
# Included by the GNUmakefile; pipeline/README.md documents the variables.

GLUE_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

# The grid: the authors' glue_search.sh (lr 2e-5..5e-5 x batch 32, 16, 5 epochs).
GLUE_LRS        ?= 2e-5 3e-5 4e-5 5e-5
GLUE_BATCHES    ?= 32 16
GLUE_EPOCHS     ?= 5
# the pretraining checkpoint: an epoch number (cp-EEEE.model) or a path
GLUE_CHECKPOINT ?= 99
# more flags for every run (--seed, --pad longest, -m spm.model, ...)
GLUE_FLAGS      ?=
TASK            ?=
MODEL           ?=
GLUE_RESULTS    ?= $(MODEL)/glue-results
# the program; by default the one this tree builds (then built first)
ifeq ($(origin NYS_EVAL),undefined)
NYS_EVAL       := $(abspath $(BIN)/nys-eval)
GLUE_EVAL_DEP  := $(BIN)/nys-eval
endif

# one file a run: glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.json, as the log's name
glue_name = glue-$(1)-$(notdir $(basename $(GLUE_CHECKPOINT)))-$(2)-$(3)-$(GLUE_EPOCHS).json
GLUE_RUNS := $(foreach t,$(TASK),$(foreach l,$(GLUE_LRS),$(foreach b,$(GLUE_BATCHES),\
             $(GLUE_RESULTS)/$(call glue_name,$(t),$(l),$(b)))))

.PHONY: glue-search glue-summary glue-check-vars
glue-check-vars:
	@[ -n "$(MODEL)" ] || { echo "glue-search: give MODEL=DIR (a model folder with config.json)" >&2; exit 2; }
	@[ -n "$(TASK)" ] || [ "$(MAKECMDGOALS)" = glue-summary ] || \
		{ echo "glue-search: give TASK=NAME (CoLA, SST-2, MRPC, STS-B, QQP, MNLI, QNLI, RTE, WNLI)" >&2; exit 2; }

glue-search: glue-check-vars $(GLUE_RUNS)

# $(1) task, $(2) lr, $(3) batch size: one run's rule
define glue_run
$(GLUE_RESULTS)/$(call glue_name,$(1),$(2),$(3)): | glue-check-vars $(GLUE_EVAL_DEP)
	@mkdir -p $$(@D)
	@echo "glue: $(1) lr $(2) batch $(3), $(GLUE_EPOCHS) epochs, checkpoint $(GLUE_CHECKPOINT)"
	@cd $(MODEL) && $(NYS_EVAL) glue --task $(1) --lr $(2) --batch_size $(3) \
		--epoch $(GLUE_EPOCHS) --checkpoint $(GLUE_CHECKPOINT) $(GLUE_FLAGS) \
		> $$(abspath $$@).tmp || { rm -f $$(abspath $$@).tmp; exit 1; }
	@tail -n 1 $$@.tmp | grep -q '^{' || { echo "glue: $(1) lr $(2) batch $(3): no JSON summary on stdout" >&2; rm -f $$@.tmp; exit 1; }
	@tail -n 1 $$@.tmp > $$@.line && rm -f $$@.tmp && mv $$@.line $$@
endef
$(foreach t,$(TASK),$(foreach l,$(GLUE_LRS),$(foreach b,$(GLUE_BATCHES),\
	$(eval $(call glue_run,$(t),$(l),$(b))))))

glue-summary: glue-check-vars
	@perl $(GLUE_MK_DIR)glue-summary.pl $(GLUE_RESULTS)
