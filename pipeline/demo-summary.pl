#!/usr/bin/perl
# The table that ends `make demo`: what each stage of the demo wrote, read
# back from its files in the demo folder (pipeline/demo.mk names them), so
# the numbers are those of the files, not of a run's messages.
#
#   perl pipeline/demo-summary.pl DEMO_DIR TASK
#
# Each line is "stage: numbers"; tests/demo.t reads them.  A missing or
# malformed file is an error naming it (exit 1).
use strict;
use warnings;
use JSON::PP;

@ARGV == 2 or die "usage: demo-summary.pl DEMO_DIR TASK\n";
my ($dir, $task) = @ARGV;

sub slurp {
	my ($path) = @_;
	open my $f, "<", $path or die "demo-summary.pl: $path: $!\n";
	local $/;
	my $s = <$f>;
	return $s;
}

sub json_lines {
	my ($path) = @_;
	my @rows;
	my $n = 0;
	for my $line (split /\n/, slurp($path)) {
		$n++;
		next unless $line =~ /\S/;
		my $r = eval { decode_json($line) };
		die "demo-summary.pl: $path:$n: not a JSON object\n" unless ref $r eq "HASH";
		push @rows, $r;
	}
	return @rows;
}

# preprocess's report: "preprocess: R documents read, K kept, ..."
sub documents {
	my ($path) = @_;
	my ($read, $kept) = slurp($path) =~ /(\d+) documents read, (\d+) kept/
		or die "demo-summary.pl: $path: no preprocess report\n";
	return ($read, $kept);
}

# tokenize info: "documents: D", "tokens: T"
sub tokens {
	my ($path) = @_;
	my $s = slurp($path);
	my ($docs) = $s =~ /^documents: (\d+)$/m;
	my ($toks) = $s =~ /^tokens: (\d+)$/m;
	defined $toks or die "demo-summary.pl: $path: no tokens line\n";
	return ($docs, $toks);
}

my @out;
my ($wr, $wk) = documents("$dir/wiki.txt.log");
my ($br, $bk) = documents("$dir/book.txt.log");
push @out, "wiki documents: $wk kept of $wr articles";
push @out, "book documents: $bk kept of $br";
my ($wd, $wt) = tokens("$dir/wiki.tok.info");
my ($bd, $bt) = tokens("$dir/book.tok.info");
push @out, "tokens: " . ($wt + $bt) . " (wiki $wt, book $bt)";

# shard verify's last line: "DIR: ok, S shards, K sequences, train.json A, dev.json B"
my ($shards, $seqs, $train, $dev) = slurp("$dir/shards.txt")
	=~ /: ok, (\d+) shards, (\d+) sequences, train\.json (\d+), dev\.json (\d+)/
	or die "demo-summary.pl: $dir/shards.txt: no shard verify line\n";
push @out, "shards: $shards of 128 tokens, $seqs sequences; train.json $train, dev.json $dev";

# pretraining: the first step's loss, the mean of the last epoch's steps
my @log = json_lines("$dir/nystrom/model/pretrain_output.log");
my @steps = grep { defined $_->{loss} } @log;
@steps or die "demo-summary.pl: $dir/nystrom/model/pretrain_output.log: no steps\n";
my $last_epoch = $steps[-1]{epoch};
my @tail = grep { $_->{epoch} == $last_epoch } @steps;
my ($tl, $ta) = (0, 0);
$tl += $_->{loss} for @tail;
$ta += $_->{mlm_accu} for @tail;
push @out, sprintf "pretraining: %d steps, %d epochs, %.0f s; loss %.4f at the first step, %.4f over the last epoch (accuracy %.4f)",
	scalar @steps, $last_epoch + 1, $steps[-1]{time_since_start}, $steps[0]{loss}, $tl / @tail, $ta / @tail;

# masked-LM validation of every epoch (nys-eval mlm)
my @mlm = json_lines("$dir/mlm.jsonl");
@mlm or die "demo-summary.pl: $dir/mlm.jsonl: no checkpoint scored\n";
push @out, sprintf "mlm: epoch %d loss %.4f accuracy %.4f; epoch %d loss %.4f accuracy %.4f (%d masked tokens)",
	$mlm[0]{epoch}, $mlm[0]{valid_loss}, $mlm[0]{valid_mlm_accu},
	$mlm[-1]{epoch}, $mlm[-1]{valid_loss}, $mlm[-1]{valid_mlm_accu}, $mlm[-1]{valid_count};

# GLUE: nys-eval glue's summary line, the best and the last epoch's dev scores
my ($g) = json_lines("$dir/glue-$task.json");
defined $g && ref $g->{best} eq "HASH" or die "demo-summary.pl: $dir/glue-$task.json: no summary\n";
sub scores {
	my ($e) = @_;
	my $d = $e->{dev} // {};
	return join ", ", map { sprintf "%s %.4f", $_, $d->{$_} } sort keys %$d;
}
push @out, sprintf "glue %s: best epoch %d: %s; last epoch %d: %s",
	$task, $g->{best}{epoch}, scores($g->{best}), $g->{last}{epoch}, scores($g->{last});

push @out, "curve: $dir/curve.png" if -e "$dir/curve.png";

print "==== nys demo: summary ($dir/summary.txt) ====\n";
print "$_\n" for @out;
