# `make demo`: the whole study on the sample shipped in pipeline/demo-data
# (a Wikipedia dump excerpt, a public-domain book, GLUE's WNLI), in a few
# minutes on a CPU: wikiextract, preprocess, tokenize train and encode,
# shard-128, pretraining of a small Nystrom model, masked-LM validation,
# GLUE fine-tuning, a summary and the training curve (gnuplot).  Each stage
# is a file target under DEMO_DIR (default demo/, ignored by git), written
# under a temporary name and renamed, so an interrupted demo resumes with
# the stages not done (pretraining from its last checkpoint), a second
# `make demo` reuses everything and `make -q demo` says whether it is up
# to date.  `make plot MODEL=DIR` draws a model folder's curves with the
# same script (pipeline/plot.sh).  Included by the GNUmakefile;
# pipeline/README.md documents the variables, tests/demo.t runs a short form.

DEMO_MK_DIR := $(dir $(lastword $(MAKEFILE_LIST)))

DEMO_DIR          ?= demo
# the sample and the model's config
DEMO_DATA         ?= $(DEMO_MK_DIR)demo-data
DEMO_CONFIG       ?= $(DEMO_MK_DIR)configs/demo-nystrom/config.json
DEMO_WIKI         ?= $(DEMO_DATA)/enwiki-2016-100pages.xml.bz2
DEMO_BOOK         ?= $(DEMO_DATA)/botchan.txt.bz2
DEMO_GLUE         ?= $(DEMO_DATA)/glue
# the sentencepiece vocabulary (the sample holds about 350,000 tokens)
DEMO_VOCAB        ?= 4000
# sequences a shard: small, so that the sample makes the 10 shards or more
# that give shard's dev list one (int(0.1 x shards))
DEMO_SHARD_SIZE   ?= 100
# fine-tuning: the task (a folder of DEMO_GLUE) and run_glue.py's flags
DEMO_TASK         ?= WNLI
DEMO_GLUE_LR      ?= 1e-4
DEMO_GLUE_BATCH   ?= 16
DEMO_GLUE_EPOCHS  ?= 3
# threads of nys-train and nys-eval (default: all cores)
DEMO_THREADS      ?=
# 0: no curve (a machine without gnuplot)
DEMO_PLOT         ?= 1
# the programs; by default this tree's bin/ (then built first)
ifeq ($(origin DEMO_BIN),undefined)
DEMO_BIN       := $(abspath $(BIN))
DEMO_PROG_DEPS := $(PROGS)
endif

DD        := $(DEMO_DIR)
DEMO_RUN  := $(DD)/nystrom
DEMO_THR   = $(if $(DEMO_THREADS),--threads $(DEMO_THREADS))
DEMO_OUTS := $(DD)/wiki.txt $(DD)/book.txt $(DD)/spm.model $(DD)/wiki.tok $(DD)/book.tok \
             $(DD)/shards.txt $(DEMO_RUN)/config.json $(DEMO_RUN)/pretrained \
             $(DD)/mlm.jsonl $(DD)/glue-$(DEMO_TASK).json $(if $(filter 1,$(DEMO_PLOT)),$(DD)/curve.png) \
             $(DD)/summary.txt
# neither -q nor -n runs the summary's cat (-n: there may be none yet)
DEMO_DRY   = $(findstring q,$(firstword -$(MAKEFLAGS)))$(findstring n,$(firstword -$(MAKEFLAGS)))

# The Debian packages come first, as for make check: pipeline/setup.mk runs
# the package step while make reads its makefiles when `demo` is a goal
# (DEPS=0 skips it).  Then a second make, which reads the GNUmakefile again
# once the libraries (and so pkg-config's flags) are surely there: it builds
# the programs and runs the stages.
.PHONY: demo demo-stages demo-clean plot plot-check-vars
demo:
	@+$(MAKE) --no-print-directory demo-stages && $(if $(DEMO_DRY),:,cat $(DD)/summary.txt)

demo-stages: $(DEMO_OUTS)

demo-clean:
	rm -rf $(DD)

# 1. the dump: articles (wikiextract) cleaned into documents (preprocess)
$(DD)/wiki.txt: $(DEMO_WIKI) $(DEMO_PROG_DEPS)
	@mkdir -p $(@D)
	@echo "demo: wikiextract | preprocess -f wiki: $< -> $@"
	@$(DEMO_BIN)/wikiextract $< | $(DEMO_BIN)/preprocess -f wiki > $@.tmp 2> $@.log \
		|| { cat $@.log >&2; rm -f $@.tmp; exit 1; }
	@sed 's/^/demo:   /' $@.log
	@mv -f $@.tmp $@

# 2. the book: one document of the unified text
$(DD)/book.txt: $(DEMO_BOOK) $(DEMO_PROG_DEPS)
	@mkdir -p $(@D)
	@echo "demo: preprocess -f text: $< -> $@"
	@$(DEMO_BIN)/preprocess -f text $< > $@.tmp 2> $@.log || { cat $@.log >&2; rm -f $@.tmp; exit 1; }
	@sed 's/^/demo:   /' $@.log
	@mv -f $@.tmp $@

# 3. a sentencepiece model of ALBERT's layout on both (spm.model and spm.vocab)
$(DD)/spm.model: $(DD)/wiki.txt $(DD)/book.txt $(DEMO_PROG_DEPS)
	@echo "demo: tokenize train --vocab-size $(DEMO_VOCAB): $(DD)/wiki.txt $(DD)/book.txt -> $@"
	@$(DEMO_BIN)/tokenize train -o $(DD)/spm --vocab-size $(DEMO_VOCAB) $(DD)/wiki.txt $(DD)/book.txt

# 4. token streams, one a corpus
$(DD)/%.tok: $(DD)/%.txt $(DD)/spm.model $(DEMO_PROG_DEPS)
	@echo "demo: tokenize encode: $< -> $@"
	@$(DEMO_BIN)/tokenize encode -m $(DD)/spm.model -o $@ $<
	@$(DEMO_BIN)/tokenize info $@ > $@.info
	@sed -n 's/^\(documents\|tokens\): /demo:   \1 /p' $@.info

# 5. 128-token sequences, both datasets in one folder with its train/dev
# lists; shards.txt (shard verify, then shard info) is the stage's record.
# New shards make the old checkpoints another vocabulary's: they go too.
$(DD)/shards.txt: $(DD)/wiki.tok $(DD)/book.tok $(DEMO_PROG_DEPS)
	@echo "demo: shard-128 -k $(DEMO_SHARD_SIZE): $(DD)/wiki.tok $(DD)/book.tok -> $(DD)/shards"
	@rm -rf $(DD)/shards $(DEMO_RUN)/model
	@$(DEMO_BIN)/shard-128 -q -o $(DD)/shards --name wiki -k $(DEMO_SHARD_SIZE) $(DD)/wiki.tok
	@$(DEMO_BIN)/shard-128 -q -o $(DD)/shards --name book -k $(DEMO_SHARD_SIZE) $(DD)/book.tok
	@{ $(DEMO_BIN)/shard verify $(DD)/shards | tail -n 1 && $(DEMO_BIN)/shard info $(DD)/shards; } > $@.tmp \
		|| { rm -f $@.tmp; exit 1; }
	@sed 's/^/demo:   /' $@.tmp
	@mv -f $@.tmp $@

# 6. the run's folder: the config beside its checkpoints (model/), its
# data_folder ../shards; another config starts the run again
$(DEMO_RUN)/config.json: $(DEMO_CONFIG)
	@mkdir -p $(@D)
	@rm -rf $(DEMO_RUN)/model
	@cp $< $@.tmp && mv -f $@.tmp $@

# 7. pretraining; nys-train resumes an interrupted run.  `pretrained` names
# the last epoch's checkpoint, written once it exists (nys-train also exits
# 0 when a signal stops it early).
$(DEMO_RUN)/pretrained: $(DEMO_RUN)/config.json $(DD)/shards.txt $(DEMO_PROG_DEPS)
	@echo "demo: nys-train $(DEMO_RUN)/config.json (a line an epoch)"
	@{ $(DEMO_BIN)/nys-train --config $(DEMO_RUN)/config.json $(DEMO_THR) 2>&1; echo $$? > $@.rc; } \
		| grep --line-buffered -v '^nys-train: checkpoint ' | sed -u 's/^nys-train: /demo:   /'; \
		rc=$$(cat $@.rc); rm -f $@.rc; [ "$$rc" = 0 ]
	@last=$$(ls $(DEMO_RUN)/model/cp-*.model 2> /dev/null | tail -n 1); \
	epochs=$$(perl -MJSON::PP -0777 -ne 'print decode_json($$_)->{pretraining_setting}{epoch}' $(DEMO_RUN)/config.json); \
	want=$(DEMO_RUN)/model/cp-$$(printf %04d $$((epochs - 1))).model; \
	[ "$$last" = "$$want" ] || { echo "demo: nys-train stopped before its last epoch ($$want); make demo resumes it" >&2; exit 1; }; \
	echo "$$last" > $@.tmp && mv -f $@.tmp $@

# 8. masked-LM validation of every epoch's checkpoint on the dev shards
$(DD)/mlm.jsonl: $(DEMO_RUN)/pretrained $(DEMO_PROG_DEPS)
	@echo "demo: nys-eval mlm --checkpoint all -> $@"
	@$(DEMO_BIN)/nys-eval mlm -q --config $(DEMO_RUN)/config.json --checkpoint all -o $@
	@perl -MJSON::PP -ne '$$r = decode_json($$_); printf "demo:   epoch %d: loss %.4f, accuracy %.4f\n", $$r->{epoch}, $$r->{valid_loss}, $$r->{valid_mlm_accu}' $@

# 9. GLUE: fine-tune the last checkpoint on the task and score its dev split;
# the file is nys-eval glue's summary line (its log is beside the checkpoint)
$(DD)/glue-$(DEMO_TASK).json: $(DEMO_RUN)/pretrained $(DD)/spm.model $(DEMO_PROG_DEPS)
	@echo "demo: nys-eval glue --task $(DEMO_TASK) --lr $(DEMO_GLUE_LR) --batch_size $(DEMO_GLUE_BATCH) --epoch $(DEMO_GLUE_EPOCHS) -> $@"
	@$(DEMO_BIN)/nys-eval glue -q --config $(DEMO_RUN)/config.json --glue $(DEMO_GLUE) --task $(DEMO_TASK) \
		--lr $(DEMO_GLUE_LR) --batch_size $(DEMO_GLUE_BATCH) --epoch $(DEMO_GLUE_EPOCHS) --pad longest \
		--checkpoint $$(cat $(DEMO_RUN)/pretrained) -m $(DD)/spm.model $(DEMO_THR) > $@.out \
		|| { rm -f $@.out; exit 1; }
	@tail -n 1 $@.out | grep -q '^{' || { echo "demo: nys-eval glue wrote no summary line" >&2; rm -f $@.out; exit 1; }
	@tail -n 1 $@.out > $@.tmp && rm -f $@.out && mv -f $@.tmp $@

# 10. the training curve
$(DD)/curve.png: $(DEMO_RUN)/pretrained $(DEMO_MK_DIR)plot.sh
	@echo "demo: plot.sh (gnuplot) -> $@"
	@sh $(DEMO_MK_DIR)plot.sh $(DEMO_RUN)/model/pretrain_output.log $@ "nys demo: $(notdir $(DEMO_CONFIG:/config.json=)) on the embedded sample"

# 11. what each stage made, in one table
$(DD)/summary.txt: $(filter-out $(DD)/summary.txt,$(DEMO_OUTS)) $(DEMO_MK_DIR)demo-summary.pl
	@perl $(DEMO_MK_DIR)demo-summary.pl $(DD) $(DEMO_TASK) > $@.tmp || { rm -f $@.tmp; exit 1; }
	@mv -f $@.tmp $@

# `make plot MODEL=DIR`: DIR's training and validation curves (its
# checkpoint folder's pretrain_output.log, by default DIR/model/, where the
# shipped configs put it) to DIR/curves.png
PLOT_LOG ?= $(MODEL)/model/pretrain_output.log
PLOT_PNG ?= $(MODEL)/curves.png
plot-check-vars:
	@[ -n "$(MODEL)" ] || { echo "plot: give MODEL=DIR (a model folder, its log in DIR/model/)" >&2; exit 2; }
plot: plot-check-vars $(if $(MODEL),$(PLOT_PNG))
ifneq ($(MODEL),)
$(PLOT_PNG): $(PLOT_LOG) $(DEMO_MK_DIR)plot.sh
	@echo "plot: $(PLOT_LOG) -> $@"
	@sh $(DEMO_MK_DIR)plot.sh $(PLOT_LOG) $@ "$(notdir $(abspath $(MODEL)))"
# no log yet: say so rather than make's "no rule"
ifeq ($(wildcard $(PLOT_LOG)),)
$(PLOT_LOG):
	@echo "plot: $@: no training log (train the model first)" >&2; exit 1
endif
endif
