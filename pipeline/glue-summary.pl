#!/usr/bin/perl
# The table of a GLUE sweep (make glue-summary, pipeline/glue.mk): reads the
# run files glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.json of a results folder
# (each nys-eval glue's final JSON summary line) and prints, for every task,
# its best run by the best epoch's score, tasks in name order:
#
#   task   score   lr     batch  epochs  checkpoint  best_epoch  last   runs
#
# The score of a run is the summary's "best_score" when it has one, else
# the mean of the numbers of its "best" object (the task's metrics at the
# best epoch; transformers' combined_score for tasks of two), else its
# "score"; "last" likewise from "last_score" or "last".  With --all every
# run is printed, best first within each task.  Exit 1 when the folder
# holds no runs or a file is not a summary.
use strict;
use warnings;
use JSON::PP;

my $all = @ARGV && $ARGV[0] eq '--all' ? shift @ARGV : 0;
my $dir = shift @ARGV // die "usage: glue-summary.pl [--all] RESULTS-DIR\n";

# The run's score from a key holding a number, an object of metrics, or an
# object of splits each holding its metrics.
sub score_of {
	my ($s, $num, $obj) = @_;
	return $s->{$num} + 0 if defined $s->{$num} && !ref $s->{$num};
	my $o = $s->{$obj};
	return undef unless defined $o;
	return $o + 0 unless ref $o;
	return undef unless ref $o eq 'HASH';
	return $o->{combined_score} + 0 if defined $o->{combined_score};
	# nys-eval glue gives the scores by split ({"dev": {...}, "epoch": N};
	# MNLI: dev_matched and dev_mismatched): the first split counts, as the
	# best epoch is chosen by it
	my ($split) = grep { ref $o->{$_} eq 'HASH' } sort keys %$o;
	$o = $o->{$split} if defined $split;
	my @v = grep { defined && !ref && /^-?[\d.]+(?:[eE][-+]?\d+)?$/ }
	        map { $o->{$_} } grep { $_ ne 'epoch' } sort keys %$o;
	return undef unless @v;
	my $sum = 0;
	$sum += $_ for @v;
	return $sum / @v;
}

opendir(my $dh, $dir) or die "glue-summary: $dir: $!\n";
my @files = sort grep { /^glue-.+\.json$/ } readdir $dh;
closedir $dh;
die "glue-summary: $dir: no runs (glue-*.json)\n" unless @files;

my %runs;
for my $f (@files) {
	# glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.json; TASK may hold '-' (SST-2),
	# LR too (2e-5): the summary's own task wins
	my ($task, $ck, $lr, $bs, $ep) = $f =~ /^glue-(.+?)-([^-]+)-(\d[\d.]*(?:[eE][-+]?\d+)?)-(\d+)-(\d+)\.json$/
		or die "glue-summary: $dir/$f: not named glue-TASK-CHECKPOINT-LR-BATCH-EPOCH.json\n";
	open(my $fh, '<', "$dir/$f") or die "glue-summary: $dir/$f: $!\n";
	local $/;
	my $text = <$fh>;
	close $fh;
	my $s = eval { decode_json($text) };
	die "glue-summary: $dir/$f: not a JSON summary line\n" unless ref $s eq 'HASH';
	my $score = score_of($s, 'best_score', 'best') // score_of($s, 'score', 'score');
	die "glue-summary: $dir/$f: no score (best_score, best or score)\n" unless defined $score;
	my $last = score_of($s, 'last_score', 'last');
	$task = $s->{task} if defined $s->{task} && !ref $s->{task};
	push @{$runs{$task}}, {
		score => $score, lr => $lr, batch => $bs, epochs => $ep, checkpoint => $ck,
		best_epoch => $s->{best_epoch} // (ref $s->{best} eq 'HASH' ? $s->{best}{epoch} : undef),
		last => $last,
	};
}

printf "%-8s %8s %8s %6s %7s %-12s %10s %8s %5s\n",
	qw(task score lr batch epochs checkpoint best_epoch last runs);
for my $task (sort keys %runs) {
	# best score first; ties: smaller lr, then smaller batch, for a stable table
	my @r = sort { $b->{score} <=> $a->{score} || $a->{lr} <=> $b->{lr} ||
	               $a->{batch} <=> $b->{batch} } @{$runs{$task}};
	for my $r ($all ? @r : $r[0]) {
		printf "%-8s %8.4f %8s %6d %7d %-12s %10s %8s %5d\n", $task, $r->{score}, $r->{lr},
			$r->{batch}, $r->{epochs}, $r->{checkpoint}, $r->{best_epoch} // '-',
			defined $r->{last} ? sprintf('%.4f', $r->{last}) : '-', scalar @r;
	}
}
