# Setting up: the Debian packages (make deps, and first thing in make check
# and make demo), make install / uninstall, and make fresh-check (the README's
# commands in a fresh Debian 12 root).  Included from the GNUmakefile after
# DEB_PKGS.
#
#   make deps             install the missing packages of DEB_PKGS (pipeline/deps.sh)
#   make check DEPS=0     (any goal) leave the packages alone: for packagers and
#                         machines set up by other means
#   make install PREFIX=/usr/local DESTDIR=   programs and man pages; make uninstall
#   make fresh-check      pipeline/fresh-check.sh (root, debootstrap, network)

DEPS ?= 1
DEPS_SH = pipeline/deps.sh

# ---- the package step before check and demo --------------------------------
# It runs while make reads its makefiles, before any rule: the flags of the
# build (pkg-config) and what other fragments detect (nvcc, mpicc) are read
# at that time too, so when it installed something make reads everything
# again (the makefile $(DEPS_REREAD) is made, which makes make start over)
# and builds with the packages there.  Not for -n, -q or -t (they change
# nothing); once a make has done it, its sub-makes and the tests it runs get
# DEPS=0.  With everything installed it costs one dpkg-query.
# deps-auto is the goal with nothing but this step, for rules that want
# to name it as a prerequisite.
DEPS_GOALS  = check demo deps-auto
DEPS_REREAD = $(O)/.deps-reread.mk
.PHONY: deps-auto
deps-auto: ; @:
ifneq ($(DEPS),0)
ifneq ($(filter $(DEPS_GOALS),$(MAKECMDGOALS)),)
DEPS_DRY = $(foreach f,n q t,$(findstring $f,$(firstword -$(MAKEFLAGS))))
ifeq ($(strip $(DEPS_DRY)),)
ifeq ($(MAKE_RESTARTS),)
DEPS_RESULT := $(shell mkdir -p $(O) && rm -f $(DEPS_REREAD) && \
	DEPS_MARK=$(DEPS_REREAD).installed $(DEPS_SH) $(DEB_PKGS) >&2; echo $$?)
ifneq ($(DEPS_RESULT),0)
$(error the package step failed (above); DEPS=0 skips it)
endif
ifneq ($(wildcard $(DEPS_REREAD).installed),)
-include $(DEPS_REREAD)
$(DEPS_REREAD):
	@rm -f $@.installed
	@echo '# made when the package step installed something: make reads its makefiles again' > $@
endif
endif
export DEPS = 0
endif
endif
endif

# ---- make deps ---------------------------------------------------------------
.PHONY: deps fuzz-deps
deps:
	@$(DEPS_SH) $(DEB_PKGS)

fuzz-deps:
	@$(DEPS_SH) $(FUZZ_DEB_PKGS)

# ---- make fresh-check ----------------------------------------------------------
# The README's two commands in a fresh Debian 12 root (pipeline/fresh-check.sh:
# root, debootstrap and the network; FRESH_BUDGET seconds, 2100).  It tests
# HEAD as committed, with the shared data read-only beside the clone.
.PHONY: fresh-check
fresh-check:
	FRESH_SHARED=$(SHARED) FRESH_DEMO=$${FRESH_DEMO:-1} pipeline/fresh-check.sh

# ---- make install / uninstall --------------------------------------------------
# The programs (shard also as shard-512 and shard-4096, links to it: shard
# takes its sequence length from the name it runs under; their pages are
# links to shard.1) and the man pages,
# with install(1).  DESTDIR is for packagers (a staging root).  uninstall
# removes exactly what install put there and nothing else (no directories).
PREFIX ?= /usr/local
BINDIR ?= $(PREFIX)/bin
MANDIR ?= $(PREFIX)/share/man
INSTALL ?= install
INST_LINKS := $(filter shard-%,$(notdir $(PROGS)))
INST_PROGS := $(filter-out $(INST_LINKS),$(notdir $(PROGS)))
INST_MAN1  := $(notdir $(wildcard man/man1/*.1))
INST_MAN5  := $(notdir $(wildcard man/man5/*.5))
.PHONY: install uninstall
install: $(PROGS)
	$(INSTALL) -d '$(DESTDIR)$(BINDIR)' '$(DESTDIR)$(MANDIR)/man1' '$(DESTDIR)$(MANDIR)/man5'
	$(INSTALL) -m 755 $(INST_PROGS:%=$(BIN)/%) '$(DESTDIR)$(BINDIR)'
	$(foreach l,$(INST_LINKS),ln -sf shard '$(DESTDIR)$(BINDIR)/$l' &&) :
	$(INSTALL) -m 644 $(INST_MAN1:%=man/man1/%) '$(DESTDIR)$(MANDIR)/man1'
	$(INSTALL) -m 644 $(INST_MAN5:%=man/man5/%) '$(DESTDIR)$(MANDIR)/man5'
	$(foreach l,$(INST_LINKS),ln -sf shard.1 '$(DESTDIR)$(MANDIR)/man1/$l.1' &&) :

uninstall:
	rm -f $(foreach p,$(INST_PROGS) $(INST_LINKS),'$(DESTDIR)$(BINDIR)/$p') \
	      $(foreach m,$(INST_MAN1) $(INST_LINKS:%=%.1),'$(DESTDIR)$(MANDIR)/man1/$m') \
	      $(foreach m,$(INST_MAN5),'$(DESTDIR)$(MANDIR)/man5/$m')
