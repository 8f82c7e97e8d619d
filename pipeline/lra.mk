# The Long Range Arena study through make (nys-lra(1)).  `make lra
# TASK=listops ATTN=nystrom-64` trains and scores one run: the file target
# $(LRA_RUNS)/TASK-ATTN/result.json, which nys-lra train writes last (under
# a temporary name, renamed), so a finished run is not run again and an
# interrupted one resumes from its checkpoints.  The prepared task comes
# first: ListOps is generated (nys-lra gen listops, LRA's generator) and
# prepared; the other tasks are prepared from LRA_SRC_TASK, the published
# files (LRA_SRC_text=aclImdb/, ...).  `make lra-table` prints every run of
# LRA_RUNS as one markdown table like the authors', "—" where a run is
# missing (pipeline/lra-table.pl).  Included by the GNUmakefile;
# pipeline/README.md documents the variables.

LRA_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

LRA_DATA    ?= data/lra
LRA_RUNS    ?= runs/lra
LRA_CONFIGS ?= $(LRA_MK_DIR)configs/lra
# more flags for every run (--threads, --seed, --steps, ...)
LRA_FLAGS   ?=
# nys-lra gen listops's flags (LRA's: 96000/2000/2000 trees of 500..2000)
LRA_GEN_FLAGS ?= --seed 0
TASK ?=
ATTN ?=
ifeq ($(origin NYS_LRA),undefined)
NYS_LRA     := $(abspath $(BIN)/nys-lra)
LRA_DEP     := $(BIN)/nys-lra
endif

.PHONY: lra lra-table lra-check-vars
lra-check-vars:
	@[ -n "$(TASK)" ] || { echo "lra: give TASK=listops|text|retrieval|image|pathfinder" >&2; exit 2; }
	@[ -n "$(ATTN)" ] || { echo "lra: give ATTN=softmax|nystrom-M|linformer-K|performer-F|linear|none|reformer-H" >&2; exit 2; }

lra: lra-check-vars $(if $(TASK),$(if $(ATTN),$(LRA_RUNS)/$(TASK)-$(ATTN)/result.json))

$(LRA_RUNS)/%/result.json: | $(LRA_DEP)
	@task=$$(echo '$*' | sed 's/-.*//'); attn=$$(echo '$*' | sed 's/^[a-z]*-//'); \
	 $(MAKE) --no-print-directory $(LRA_DATA)/$$task/manifest.json && \
	 $(NYS_LRA) train $$task --attn $$attn --data $(LRA_DATA)/$$task \
		--config $(LRA_CONFIGS)/$$task.json -o $(@D) $(LRA_FLAGS)

$(LRA_DATA)/listops/manifest.json: | $(LRA_DEP)
	$(NYS_LRA) gen listops $(LRA_GEN_FLAGS) -o $(LRA_DATA)/listops-src
	$(NYS_LRA) prepare listops $(LRA_DATA)/listops-src -o $(LRA_DATA)/listops

$(LRA_DATA)/%/manifest.json: | $(LRA_DEP)
	@[ -n "$(LRA_SRC_$*)" ] || { echo "lra: give LRA_SRC_$*=PATH (the task's published files)" >&2; exit 2; }
	$(NYS_LRA) prepare $* $(LRA_SRC_$*) -o $(LRA_DATA)/$*

lra-table:
	@perl $(LRA_MK_DIR)lra-table.pl $(LRA_RUNS)
