#!/usr/bin/perl
# The layer rule of libnys (libnys/README.md), checked on every
# #include "..." so that it stays true: each include is resolved the way the
# build resolves it (the including file's folder, then -Ilibnys/LAYER in
# turn) and its edge, from the includer's layer to the included file's, must
# be one the rule allows.  A failure names the file, the line and the edge.
# The same checks are also run on a small made-up tree holding one fault of
# each kind, to show that each of them is caught.
use strict;
use warnings;
use File::Basename qw(dirname);
use File::Path qw(make_path);
use File::Temp qw(tempdir);
use Test::More;

# ---- the rule ---------------------------------------------------------------

# Which layers each layer may use besides itself.
my %USES = (
	common => [],
	corpus => [qw(common)],
	model  => [qw(common corpus)],
	cpu    => [qw(common)],
	dist   => [qw(common corpus model)],
);
# Layers outside libnys/, by the folder that holds them: the CUDA backend
# (kernels/), a second backend beside libnys/cpu, with the same kind of seam.
my %OUTER = (kernels => 'kernels');
my %OUTER_USES = (kernels => [qw(common)]);
# The seam between the model and its CPU backend, the only edges the rule
# allows across it, by the name of the file included: the model reaches the
# backend through its public header (nys_cpu.h), the backend the model
# through the backend interface (nys_backend.h) and the op list it expands
# (backend_ops.def).  A file named here may cross even if it is internal; a
# name no file holds allows nothing.
my %SEAM = (
	'model -> cpu' => [qw(nys_cpu.h)],
	'cpu -> model' => [qw(nys_backend.h backend_ops.def)],
	'model -> kernels' => [qw(nys_cuda.h)],
	'kernels -> model' => [qw(nys_backend.h backend_ops.def)],
	'dist -> kernels' => [qw(nys_nccl.h)],
);
# A layer's internals: included only inside their layer, never by tools/ or
# tests/.
sub internal { my ($name) = @_; return $name =~ /(_impl\.h|_internal\.h|\.inc|\.def)$/ }

# ---- the checks -------------------------------------------------------------

my $SRC = qr/\.(c|cc|h|inc|def|cu|cuh)$/;

sub files_in {
	my ($dir) = @_;
	opendir(my $d, $dir) or return ();
	my @f = sort grep { !/^\./ && -f "$dir/$_" && /$SRC/ } readdir $d;
	closedir $d;
	return @f;
}

sub layers_of {
	my ($top) = @_;
	opendir(my $d, "$top/libnys") or die "$top/libnys: $!";
	my @l = sort grep { !/^\./ && -d "$top/libnys/$_" } readdir $d;
	closedir $d;
	return @l;
}

# (line number, name) of each #include "name" of a file.
sub includes {
	my ($path) = @_;
	open(my $f, '<', $path) or die "$path: $!";
	my @inc;
	while (my $line = <$f>) {
		push @inc, [$., $1] if $line =~ /^\s*#\s*include\s*"([^"]+)"/;
	}
	close $f;
	return @inc;
}

# Every fault of the tree at $top, as "file:line: what" strings (a header
# in two layers: "name: where"), grouped by the kind of check.
sub check_tree {
	my ($top) = @_;
	my %p = map { $_ => [] } qw(layers unresolved edges internals twice outside);
	my @layers = layers_of($top);
	my %dir = map { $_ => "libnys/$_" } @layers;    # layer -> its folder
	-d "$top/$OUTER{$_}" and $dir{$_} = $OUTER{$_} for keys %OUTER;
	my %layer_at = reverse %dir;
	my %uses = (%USES, %OUTER_USES);
	my @all = sort keys %dir;
	my %where;    # header name -> layers that hold it
	for my $l (@all) {
		push @{ $where{$_} }, $l for grep { /\.(h|cuh|inc|def)$/ } files_in("$top/$dir{$l}");
	}
	for my $l (@layers) {
		push @{ $p{layers} }, "libnys/$l: a layer the rule does not know (tests/layers.t, libnys/README.md)"
			unless $USES{$l};
	}
	for my $name (sort keys %where) {
		my @in = @{ $where{$name} };
		push @{ $p{twice} }, "$name: in " . join(' and ', map { $dir{$_} } @in)
			if @in > 1;
	}
	# one include: the layer of the file it names, or undef with a fault
	my $resolve = sub {
		my ($file, $line, $name, $dir) = @_;
		if ($name =~ m{/}) {
			push @{ $p{unresolved} }, "$file:$line: \"$name\": include by name, not by path";
			return;
		}
		# the includer's own folder first, as the compiler looks
		return ($layer_at{$dir} // '', $name) if -f "$top/$dir/$name";
		my @in = @{ $where{$name} || [] };
		if (!@in) {
			push @{ $p{unresolved} }, "$file:$line: \"$name\" is in no libnys layer";
			return;
		}
		# found in two layers: reported once under "twice"
		return if @in > 1;
		return ($in[0], $name);
	};
	for my $l (@all) {
		for my $f (files_in("$top/$dir{$l}")) {
			my $file = "$dir{$l}/$f";
			for my $inc (includes("$top/$file")) {
				my ($line, $name) = @$inc;
				my ($to) = $resolve->($file, $line, $name, $dir{$l});
				next unless defined $to;
				next if $to eq $l;
				my $edge = "$l -> $to";
				next if grep { $_ eq $name } @{ $SEAM{$edge} || [] };
				if (internal($name)) {
					push @{ $p{internals} }, "$file:$line: \"$name\": $edge reaches into ${to}'s internals";
				} elsif (!grep { $_ eq $to } @{ $uses{$l} || [] }) {
					push @{ $p{edges} }, "$file:$line: \"$name\": $edge is not allowed";
				}
			}
		}
	}
	for my $dir (qw(tools tests tests/unit tests/fuzz tests/bench)) {
		for my $f (files_in("$top/$dir")) {
			my $file = "$dir/$f";
			for my $inc (includes("$top/$file")) {
				my ($line, $name) = @$inc;
				my ($to) = $resolve->($file, $line, $name, $dir);
				push @{ $p{outside} }, "$file:$line: \"$name\" is internal to $dir{$to}"
					if defined $to && $to ne '' && internal($name);
			}
		}
	}
	return \%p;
}

sub report {
	my ($p, $what, $desc) = @_;
	ok(!@{ $p->{$what} }, $desc) or diag(join("\n", @{ $p->{$what} }));
}

# ---- the tree -----------------------------------------------------------------

my $TOP = $ENV{NYS_TOP} || dirname(dirname(__FILE__));
my $real = check_tree($TOP);
my @layers = layers_of($TOP);
is(join(' ', @layers), join(' ', sort keys %USES), 'libnys holds the layers the rule names');
report($real, 'layers', 'every folder of libnys is a layer of the rule');
report($real, 'unresolved', 'every include "..." names a file the build finds');
report($real, 'twice', 'no header name is in two layers');
report($real, 'edges', 'every include follows the layer rule');
report($real, 'internals', 'no layer includes the internals of another');
report($real, 'outside', 'tools/ and tests/ include no libnys internals');

my $readme = do { local (@ARGV, $/) = ("$TOP/libnys/README.md"); <> } // '';
for my $l (@layers) {
	like($readme, qr/`libnys\/$l\/?`/, "libnys/README.md describes libnys/$l");
}
my $make = do { local (@ARGV, $/) = ("$TOP/GNUmakefile"); <> } // '';
my ($mk) = $make =~ /^LAYERS\s*=\s*(.*?)\s*$/m;
is(join(' ', sort split ' ', $mk // ''), join(' ', @layers), 'GNUmakefile builds every layer (LAYERS)');

# ---- the checks catch what they should ----------------------------------------

# write_tree(DIR, {path => text}): a made-up tree
sub write_tree {
	my ($dir, $files) = @_;
	for my $f (sort keys %$files) {
		make_path(dirname("$dir/$f"));
		open(my $o, '>', "$dir/$f") or die "$dir/$f: $!";
		print $o $files->{$f};
		close $o;
	}
}

my $tmp = tempdir(CLEANUP => 1);
my %fake = (
	'libnys/common/nys.h'          => '',
	'libnys/common/common.c'       => qq(#include "nys.h"\n#include "nys_shard.h"\n),
	'libnys/common/bz2_impl.h'     => '',
	'libnys/corpus/nys_shard.h'    => qq(#include "nys.h"\n),
	'libnys/corpus/shard.c'        => qq(#include "nys_shard.h"\n#include "bz2_impl.h"\n#include "nys_model.h"\n),
	'libnys/corpus/nys_ops.h'      => '',
	'libnys/model/nys_model.h'     => qq(#include "nys_shard.h"\n#include "nys_blas.h"\n),
	'libnys/model/nys_backend.h'   => qq(#include "../common/nys.h"\n#include "nys_gone.h"\n),
	'libnys/cpu/nys_blas.h'        => '',
	'libnys/cpu/nys_ops.h'         => '',
	'libnys/cpu/backend_cpu.c'     => qq(#include "nys_backend.h"\n#include "nys_model.h"\n#include "nys_ops.h"\n),
	'libnys/cuda/kernels.h'        => '',
	'tools/prog.c'                 => qq(#include "nys_shard.h"\n#include "bz2_impl.h"\n),
	'tests/unit/tap.h'             => '',
	'tests/unit/t.c'               => qq(#include "tap.h"\n#include "nys_model.h"\n),
);
write_tree($tmp, \%fake);
my $bad = check_tree($tmp);
is_deeply($bad->{layers}, ['libnys/cuda: a layer the rule does not know (tests/layers.t, libnys/README.md)'],
          'caught: a folder the rule does not know');
is_deeply($bad->{edges}, [
	'libnys/common/common.c:2: "nys_shard.h": common -> corpus is not allowed',
	'libnys/corpus/shard.c:3: "nys_model.h": corpus -> model is not allowed',
	'libnys/cpu/backend_cpu.c:2: "nys_model.h": cpu -> model is not allowed',
	'libnys/model/nys_model.h:2: "nys_blas.h": model -> cpu is not allowed',
], 'caught: edges against the rule, each with its file and line; the seam allowed')
	or diag(explain($bad->{edges}));
is_deeply($bad->{internals}, ['libnys/corpus/shard.c:2: "bz2_impl.h": corpus -> common reaches into common\'s internals'],
          'caught: an include of another layer\'s internals') or diag(explain($bad->{internals}));
is_deeply($bad->{twice}, ['nys_ops.h: in libnys/corpus and libnys/cpu'], 'caught: a header name in two layers')
	or diag(explain($bad->{twice}));
is_deeply($bad->{unresolved}, [
	'libnys/model/nys_backend.h:1: "../common/nys.h": include by name, not by path',
	'libnys/model/nys_backend.h:2: "nys_gone.h" is in no libnys layer',
], 'caught: an include by path and one of no file') or diag(explain($bad->{unresolved}));
is_deeply($bad->{outside}, ['tools/prog.c:2: "bz2_impl.h" is internal to libnys/common'],
          'caught: tools/ including a libnys internal') or diag(explain($bad->{outside}));

# ---- the CUDA seam: kernels/ next to libnys ---------------------------------------

my $tmp2 = tempdir(CLEANUP => 1);
my %fake2 = (
	'libnys/common/nys.h'        => '',
	'libnys/corpus/nys_shard.h'  => '',
	'libnys/model/nys_backend.h' => qq(#include "nys.h"\n),
	'libnys/model/nys_model.h'   => '',
	'libnys/model/backend.c'     => qq(#include "nys_cuda.h"\n#include "cuda_internal.h"\n#include "cuda_ops.h"\n),
	'libnys/cpu/nys_cpu.h'       => '',
	'kernels/nys_cuda.h'         => qq(#include "nys_backend.h"\n),
	'kernels/cuda_internal.h'    => qq(#include "nys_backend.h"\n#include "nys.h"\n),
	'kernels/cuda_ops.h'         => qq(#include "cuda_internal.h"\n),
	'kernels/dense.cu'           => qq(#include "cuda_ops.h"\n#include "nys_model.h"\n#include "nys_shard.h"\n),
	'tests/unit/g.c'             => qq(#include "nys_cuda.h"\n#include "cuda_internal.h"\n),
);
write_tree($tmp2, \%fake2);
my $k = check_tree($tmp2);
is_deeply($k->{edges}, [
	'kernels/dense.cu:2: "nys_model.h": kernels -> model is not allowed',
	'kernels/dense.cu:3: "nys_shard.h": kernels -> corpus is not allowed',
	'libnys/model/backend.c:3: "cuda_ops.h": model -> kernels is not allowed',
], 'caught: kernels/ reaching the model but through nys_backend.h, the model kernels/ but through nys_cuda.h')
	or diag(explain($k->{edges}));
is_deeply($k->{internals}, ['libnys/model/backend.c:2: "cuda_internal.h": model -> kernels reaches into kernels\'s internals'],
          'caught: the model including the CUDA backend\'s internals') or diag(explain($k->{internals}));
is_deeply($k->{outside}, ['tests/unit/g.c:2: "cuda_internal.h" is internal to kernels'],
          'caught: a test including the CUDA backend\'s internals') or diag(explain($k->{outside}));
is_deeply([ @{ $k->{unresolved} }, @{ $k->{twice} }, @{ $k->{layers} } ], [],
          'kernels/ is a layer: its headers resolve by name') or diag(explain($k));

done_testing();
