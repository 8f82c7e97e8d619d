# The authors' study as make file targets, so that make resumes a half-done
# reproduction, `make -n` prints the whole of it and `make -j` runs the
# stages that do not depend on one another (the datasets, the two sequence
# lengths, the GLUE runs) at once:
#
#   make corpus        Wikipedia dump, BookCorpus, RealNews, Stories -> unified
#                      text partitions (each source optional: a missing one is
#                      skipped, saying so)
#   make shards-512    a sentencepiece model, token streams, and shards of 512
#   make shards-4096   (and 4096) tokens at the authors' sampling rates:
#                      Wikipedia and BookCorpus all, RealNews and Stories 1/3
#   make pretrain MODEL=nystrom-512   (softmax-512, nystrom-4096: warm-started
#                      from nystrom-512's last checkpoint by its from_cp)
#   make validate MODEL=...           masked-LM validation of every checkpoint
#   make glue MODEL=... TASK=... [CHECKPOINT=N]   one GLUE run, the authors'
#                      README settings (lr 3e-5, batch 32, 5 epochs)
#   make glue-all MODEL=...           every GLUE task so
#   make study         all of it for the three published models
#
# The layout is the authors': a study folder holding the data, the glue
# folder and one folder a model with its config.json (copied from
# pipeline/configs/), whose relative paths (../data/shards-512, ../glue,
# from_cp ../nystrom-512/model/cp-0099.model) then hold as published.  The
# GLUE runs are pipeline/glue.mk's (run by a second make).  Included by the
# GNUmakefile; pipeline/README.md documents the targets and variables.

STUDY_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

# where things are (the authors' layout under STUDY)
STUDY      ?= study
RAW        ?= $(STUDY)/data-preprocessing
WIKI_DUMP  ?= $(RAW)/wiki/enwiki-latest-pages-articles.xml.bz2
BOOKCORPUS ?= $(RAW)/bookcorpus/bookcorpus
REALNEWS   ?= $(RAW)/realnews/realnews.jsonl
STORIES    ?= $(RAW)/stories/stories
DATA       ?= $(STUDY)/data
CORPUS     ?= $(DATA)/corpus
TOKENS     ?= $(DATA)/tokens
GLUE_DATA  ?= $(STUDY)/glue

# how (defaults: the authors' settings, ALBERT's tokenizer)
BOOKCORPUS_FORMAT ?= bookcorpus
WIKI_FLAGS        ?=
BOOKCORPUS_FLAGS  ?=
REALNEWS_FLAGS    ?=
STORIES_FLAGS     ?=
SPM_VOCAB  ?= 30000
SPM        ?= $(DATA)/spm-$(SPM_VOCAB)
LOWER      ?=
SHARD_SEED ?= 0
SHARD_FLAGS ?=
TRAIN_FLAGS ?=
GLUE_LR    ?= 3e-5
GLUE_BATCH ?= 32
GLUE_TASKS ?= CoLA SST-2 MRPC STS-B QQP MNLI QNLI RTE WNLI
STUDY_MAIN_MODELS ?= nystrom-512 softmax-512 nystrom-4096
CHECKPOINT ?=

STUDY_BIN   := $(abspath $(BIN))
STUDY_PROGS := $(addprefix $(BIN)/,wikiextract preprocess tokenize shard nys-train nys-eval)
STUDY_LOWER := $(if $(filter 1 yes true,$(LOWER)),--lower)

# The datasets, by the names the authors gave their partitions and shards,
# each with its source, its command to unified text and its sampling rate
# (the authors' 1/3 is Python's 1 / 3, whose shortest repr is this).
STUDY_SETS_ALL := english_wiki bookcorpus realnews stories
study_src_english_wiki := $(WIKI_DUMP)
study_src_bookcorpus   := $(BOOKCORPUS)
study_src_realnews     := $(REALNEWS)
study_src_stories      := $(STORIES)
study_var_english_wiki := WIKI_DUMP
study_var_bookcorpus   := BOOKCORPUS
study_var_realnews     := REALNEWS
study_var_stories      := STORIES
study_keep_english_wiki := 1
study_keep_bookcorpus   := 1
study_keep_realnews     := 0.3333333333333333
study_keep_stories      := 0.3333333333333333
study_cmd_english_wiki = $(BIN)/wikiextract $(WIKI_DUMP) | \
	$(BIN)/preprocess -f wiki $(WIKI_FLAGS) -o $(CORPUS) --name english_wiki
study_cmd_bookcorpus = $(BIN)/preprocess -f $(BOOKCORPUS_FORMAT) $(BOOKCORPUS_FLAGS) \
	-o $(CORPUS) --name bookcorpus $(BOOKCORPUS)
study_cmd_realnews = $(BIN)/preprocess -f realnews $(REALNEWS_FLAGS) -o $(CORPUS) --name realnews $(REALNEWS)
study_cmd_stories  = $(BIN)/preprocess -f stories $(STORIES_FLAGS) -o $(CORPUS) --name stories $(STORIES)

# the datasets whose source is there, in this order (which shard runs into
# one directory keep, as each rewrites the lists of all)
STUDY_SETS    := $(strip $(foreach s,$(STUDY_SETS_ALL),$(if $(wildcard $(study_src_$(s))),$(s))))
STUDY_MISSING := $(filter-out $(STUDY_SETS),$(STUDY_SETS_ALL))
STUDY_PARTS   := $(STUDY_SETS:%=$(CORPUS)/%.parts)

# The models: the shipped configs, and MODEL when it names a folder of the
# study with a config.json of its own.
STUDY_CONFIGS := $(patsubst $(STUDY_MK_DIR)configs/%/config.json,%,$(wildcard $(STUDY_MK_DIR)configs/*/config.json))
STUDY_MODELS  := $(STUDY_CONFIGS) $(if $(and $(MODEL),$(if $(findstring /,$(MODEL)),,1),$(wildcard $(STUDY)/$(MODEL)/config.json)),$(filter-out $(STUDY_CONFIGS),$(MODEL)))
study_cfg = $(if $(filter $(1),$(STUDY_CONFIGS)),$(STUDY_MK_DIR)configs/$(1)/config.json,$(STUDY)/$(1)/config.json)
# from_cp as a target: relative paths are from the model's folder
study_from = $(if $(filter -,$(2)),,$(if $(filter /%,$(2)),$(2),$(if $(filter ../%,$(2)),$(STUDY)/$(patsubst ../%,%,$(2)),$(STUDY)/$(1)/$(2))))

# $(1) model: its facts from its config (study-config.pl), into variables
define study_model_vars
study_info_$(1)  := $$(shell perl $(STUDY_MK_DIR)study-config.pl $(call study_cfg,$(1)))
study_len_$(1)   := $$(word 1,$$(study_info_$(1)))
study_last_$(1)  := $$(word 3,$$(study_info_$(1)))
study_final_$(1) := $(STUDY)/$(1)/$$(word 4,$$(study_info_$(1)))/cp-$$(word 2,$$(study_info_$(1))).model
study_from_$(1)  := $$(call study_from,$(1),$$(word 5,$$(study_info_$(1))))
endef
$(foreach m,$(STUDY_MODELS),$(eval $(call study_model_vars,$(m))))

# the shard lengths: 512, 4096, the models', and any shards-N asked for
STUDY_LENGTHS := $(sort 512 4096 $(foreach m,$(STUDY_MODELS),$(study_len_$(m))) \
                 $(patsubst shards-%,%,$(filter shards-%,$(MAKECMDGOALS))))

.PHONY: corpus tokenizer tokens pretrain validate glue glue-all study study-sources \
        study-need-model study-need-task $(STUDY_LENGTHS:%=shards-%)

# ---- corpus: unified text, the partitions of each dataset listed in NAME.parts
study-sources:
	@$(foreach s,$(STUDY_MISSING),echo "corpus: no $(s) at $(study_src_$(s)) (set $(study_var_$(s))=...): skipped";)
	@[ -n "$(STUDY_SETS)" ] || { echo "corpus: none of the sources is there: $(foreach s,$(STUDY_SETS_ALL),$(study_var_$(s))=$(study_src_$(s)))" >&2; exit 1; }

corpus: study-sources $(STUDY_PARTS)

# $(1) dataset.  preprocess's count goes to the terminal (and NAME.parts.log):
# a dataset of which it kept nothing is listed empty and left out after.
define study_corpus
$(CORPUS)/$(1).parts: SHELL := /bin/bash
$(CORPUS)/$(1).parts: $(study_src_$(1)) | $(STUDY_PROGS)
	@mkdir -p $(CORPUS)
	set -o pipefail; $(study_cmd_$(1)) 2> $$@.log || { cat $$@.log >&2; exit 1; }
	@cat $$@.log >&2; \
	if grep -q ', 0 kept' $$@.log; then echo "corpus: $(1): no document kept, left out" >&2; : > $$@.tmp; \
	else ls $(CORPUS)/$(1)-partition-*.txt.zst > $$@.tmp; fi && mv $$@.tmp $$@
endef
$(foreach s,$(STUDY_SETS),$(eval $(call study_corpus,$(s))))

# ---- the sentencepiece model (ALBERT's layout), on all of the corpus
tokenizer: study-sources $(SPM).model
$(SPM).model: $(STUDY_PARTS) | $(STUDY_PROGS)
	@files=$$(cat $(STUDY_PARTS)); [ -n "$$files" ] || { echo "tokenizer: the corpus holds no text" >&2; exit 1; }; \
	echo "$(BIN)/tokenize train -o $(SPM) --vocab-size $(SPM_VOCAB) $(STUDY_LOWER) (the partitions of $(STUDY_SETS))"; \
	$(BIN)/tokenize train -o $(SPM) --vocab-size $(SPM_VOCAB) $(STUDY_LOWER) $$files

# ---- a token stream a dataset (empty when the dataset kept nothing)
tokens: $(STUDY_SETS:%=$(TOKENS)/%.tok)
$(TOKENS)/%.tok: $(CORPUS)/%.parts $(SPM).model | $(STUDY_PROGS)
	@mkdir -p $(@D)
	@if [ -s $< ]; then \
		echo "$(BIN)/tokenize encode -m $(SPM).model $(STUDY_LOWER) -o $@ (the partitions of $*)"; \
		$(BIN)/tokenize encode -m $(SPM).model $(STUDY_LOWER) -o $@ $$(cat $<); \
	else echo "tokens: $*: no text" >&2; : > $@; fi

# ---- shards of each length: each dataset at its rate into one directory,
# in turn (order-only on the one before, as each run rewrites the lists of
# all), then verified with the lists
# $(1) length, $(2) dataset, $(3) the dataset before it
define study_shard
$(DATA)/shards-$(1)-$(2).info: $(TOKENS)/$(2).tok | $(STUDY_PROGS) $(if $(3),$(DATA)/shards-$(1)-$(3).info)
	@if [ -s $$< ]; then \
		echo "$(BIN)/shard -n $(1) -o $(DATA)/shards-$(1) --name $(2) --keep $(study_keep_$(2)) --seed $(SHARD_SEED) $(SHARD_FLAGS) $$<"; \
		$(BIN)/shard -n $(1) -o $(DATA)/shards-$(1) --name $(2) --keep $(study_keep_$(2)) --seed $(SHARD_SEED) $(SHARD_FLAGS) $$< && \
		$(BIN)/shard info $(DATA)/shards-$(1) > $$@.tmp && mv $$@.tmp $$@; \
	else echo "shards-$(1): $(2): no tokens" > $$@; fi
endef
study_prev :=
$(foreach s,$(STUDY_SETS),$(foreach l,$(STUDY_LENGTHS),$(eval $(call study_shard,$(l),$(s),$(study_prev))))$(eval study_prev := $(s)))

define study_verify
shards-$(1): study-sources $(DATA)/shards-$(1).verify
$(DATA)/shards-$(1).verify: $(STUDY_SETS:%=$(DATA)/shards-$(1)-%.info) | $(STUDY_PROGS)
	$(BIN)/shard verify $(DATA)/shards-$(1) > $$@.tmp && mv $$@.tmp $$@
	@tail -n 1 $$@
endef
$(foreach l,$(STUDY_LENGTHS),$(eval $(call study_verify,$(l))))

# ---- pretraining: nys-train in the model's folder, on the shards of its
# length; the last epoch's checkpoint is the target.  Its prerequisites are
# order-only: a run in progress owns its folder (nys-train resumes it), and
# a newer shard list does not restart it (remove the folder for that).
# $(1) model
define study_model
$(study_final_$(1)): | $(STUDY)/$(1)/config.json $(DATA)/shards-$(study_len_$(1)).verify $(study_from_$(1)) $(STUDY_PROGS)
	cd $(STUDY)/$(1) && $(STUDY_BIN)/nys-train --data $(abspath $(DATA))/shards-$(study_len_$(1)) $(TRAIN_FLAGS)
	@test -e $$@ || { echo "pretrain: $(1) stopped before its last epoch ($$@); make resumes it" >&2; exit 1; }

$(STUDY)/$(1)/valid.jsonl: $(study_final_$(1)) | $(STUDY_PROGS)
	cd $(STUDY)/$(1) && $(STUDY_BIN)/nys-eval mlm --checkpoint all --data $(abspath $(DATA))/shards-$(study_len_$(1)) -o valid.jsonl
endef
define study_config
$(STUDY)/$(1)/config.json: $(call study_cfg,$(1))
	@mkdir -p $$(@D)
	cp $$< $$@
endef

# GLUE: glue.mk's runs in a second make, in the model's folder, after the
# pretraining, with the tokenizer and the GLUE folder of the study; the
# tasks of $(2) (TASK, or GLUE_TASKS) that GLUE_DATA has.  $(1) model
define study_glue
study-glue-$(1)-$(2): $(study_final_$(1)) $(SPM).model | $(STUDY_PROGS)
	@for t in $$(STUDY_TASKS_$(2)); do [ -e $(GLUE_DATA)/$$$$t/train.tsv ] || \
		echo "glue: no $$$$t in $(GLUE_DATA) (set GLUE_DATA=...): skipped" >&2; done
	@[ -n "$$(strip $$(STUDY_HAVE_$(2)))" ] || { echo "glue: none of the tasks ($$(STUDY_TASKS_$(2))) is in $(GLUE_DATA)" >&2; exit 1; }
	$$(MAKE) --no-print-directory glue-search MODEL=$(STUDY)/$(1) TASK="$$(strip $$(STUDY_HAVE_$(2)))" \
		GLUE_LRS=$(GLUE_LR) GLUE_BATCHES=$(GLUE_BATCH) GLUE_CHECKPOINT=$(or $(CHECKPOINT),$(study_last_$(1))) \
		GLUE_FLAGS="-m $(abspath $(SPM).model) --glue $(abspath $(GLUE_DATA)) $(STUDY_LOWER) $(GLUE_FLAGS)"
endef
$(foreach m,$(STUDY_MODELS),$(eval $(call study_model,$(m)))$(foreach k,one all,$(eval $(call study_glue,$(m),$(k)))))
$(foreach m,$(STUDY_CONFIGS),$(eval $(call study_config,$(m))))
STUDY_TASKS_one := $(TASK)
STUDY_TASKS_all := $(GLUE_TASKS)
STUDY_HAVE_one   = $(strip $(foreach t,$(STUDY_TASKS_one),$(if $(wildcard $(GLUE_DATA)/$(t)/train.tsv),$(t))))
STUDY_HAVE_all   = $(strip $(foreach t,$(STUDY_TASKS_all),$(if $(wildcard $(GLUE_DATA)/$(t)/train.tsv),$(t))))
.PHONY: $(foreach m,$(STUDY_MODELS),study-glue-$(m)-one study-glue-$(m)-all)

study-need-model:
	@[ -n "$(MODEL)" ] && [ -n "$(filter $(MODEL),$(STUDY_MODELS))" ] || \
		{ echo "study: give MODEL=NAME, one of $(STUDY_MODELS) (or a folder $(STUDY)/NAME with a config.json)" >&2; exit 2; }
study-need-task:
	@[ -n "$(TASK)" ] || { echo "glue: give TASK=NAME (one of $(GLUE_TASKS))" >&2; exit 2; }

# MODEL's targets, when it names a model of the study (else only the error)
STUDY_M := $(filter $(MODEL),$(STUDY_MODELS))
pretrain: study-need-model $(if $(STUDY_M),$(study_final_$(STUDY_M)))
validate: study-need-model $(if $(STUDY_M),$(STUDY)/$(STUDY_M)/valid.jsonl)
glue: study-need-model study-need-task $(if $(STUDY_M),study-glue-$(STUDY_M)-one)
glue-all: study-need-model $(if $(STUDY_M),study-glue-$(STUDY_M)-all)
study: $(if $(MODEL),study-need-model $(if $(STUDY_M),$(STUDY)/$(STUDY_M)/valid.jsonl study-glue-$(STUDY_M)-all),\
       $(foreach m,$(STUDY_MAIN_MODELS),$(STUDY)/$(m)/valid.jsonl study-glue-$(m)-all))

# glue-search and glue-summary (glue.mk), and plot, take a study model by
# its name too
ifneq ($(filter glue-search glue-summary plot,$(MAKECMDGOALS)),)
ifneq ($(and $(MODEL),$(if $(findstring /,$(MODEL)),,1),$(filter $(MODEL),$(STUDY_MODELS))),)
override MODEL := $(STUDY)/$(MODEL)
override GLUE_FLAGS += -m $(abspath $(SPM).model) --glue $(abspath $(GLUE_DATA)) $(STUDY_LOWER)
endif
endif
