#!/usr/bin/perl
# lra-table.pl RUNS: every LRA run of the folder RUNS (RUNS/TASK-ATTN/
# result.json, as nys-lra train writes them) as one markdown table in the
# layout of the authors' LRA table: a row per attention, test accuracy in
# percent per task, their average over the five tasks when all five are
# there, and "—" for a run that is missing.  The authors' five attentions
# always have a row; any other attention run gets one after them.
use strict;
use warnings;
use utf8;
use JSON::PP;
use open qw(:std :encoding(UTF-8));

my $dir = shift // 'runs/lra';
my @tasks = qw(listops text retrieval image pathfinder);
my %title = (listops => 'ListOps', text => 'Text', retrieval => 'Retrieval',
             image => 'Image', pathfinder => 'Pathfinder');
my @rows = qw(softmax nystrom-64 linformer-256 performer-256 reformer-2);
my %name = ('softmax' => 'standard (softmax)', 'nystrom-64' => 'Nyströmformer (64)',
            'linformer-256' => 'Linformer (256)', 'performer-256' => 'Performer (256)',
            'reformer-2' => 'Reformer (2 hashes)');
my (%acc, %seen);
for my $f (sort glob("$dir/*/result.json")) {
	open my $fh, '<:raw', $f or die "lra-table: $f: $!\n";
	local $/;
	my $text = <$fh>;
	my $r = eval { decode_json($text) };
	die "lra-table: $f: not a result: $@" unless $r && ref $r eq 'HASH';
	my ($t, $a, $v) = @$r{qw(task attn test_accuracy)};
	die "lra-table: $f: no task, attn or test_accuracy\n" unless defined $t && defined $a && defined $v;
	$acc{$a}{$t} = 100 * $v;
	push @rows, $a unless $seen{$a}++ || grep { $_ eq $a } @rows;
}
print '| model | ', join(' | ', map { $title{$_} } @tasks), " | avg |\n";
print '|---' x (@tasks + 2), "|\n";
for my $a (@rows) {
	my @v = map { $acc{$a}{$_} } @tasks;
	my $all = !grep { !defined } @v;
	my $avg = $all ? sprintf('%.2f', eval { my $s = 0; $s += $_ for @v; $s / @v }) : '—';
	print '| ', $name{$a} // $a, ' | ', join(' | ', map { defined $_ ? sprintf('%.2f', $_) : '—' } @v),
	      " | $avg |\n";
}
