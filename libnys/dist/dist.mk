# libnys/dist: data-parallel runs over MPI (nys_dist.h), included by the
# GNUmakefile right after LAYERS (which names the layer).  The build uses MPI whenever mpicc is
# found (`make deps` installs Open MPI); `make MPI=0` leaves it out, and
# dist.c then builds as a world of one that refuses to run under mpirun.
# Only dist.o sees MPI's headers, and only the programs that join a world
# (and the unit test of this layer) link MPI's library.
MPICC ?= mpicc
MPI   ?= $(if $(shell command -v $(MPICC) 2>/dev/null),1,0)
ifeq ($(MPI),1)
# Open MPI's wrapper answers -showme:*, MPICH's -compile_info/-link_info;
# pkg-config last.  Its headers are system headers to -Werror.
MPI_CFLAGS := $(shell $(MPICC) -showme:compile 2>/dev/null || \
                pkg-config --cflags ompi 2>/dev/null || pkg-config --cflags mpich 2>/dev/null)
MPI_LIBS   := $(shell $(MPICC) -showme:link 2>/dev/null || \
                pkg-config --libs ompi 2>/dev/null || pkg-config --libs mpich 2>/dev/null)
MPI_CFLAGS := $(patsubst -I%,-isystem %,$(MPI_CFLAGS)) -DNYS_MPI=1
else
MPI_CFLAGS := -DNYS_MPI=0
MPI_LIBS   :=
endif

$(O)/libnys/dist/dist.o: CPPFLAGS += $(MPI_CFLAGS)
$(BIN)/nys-train $(BIN)/nys-eval $(O)/tests/dist: LDLIBS += $(MPI_LIBS)
