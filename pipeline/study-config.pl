#!/usr/bin/perl
# What pipeline/study.mk needs to know of a training config.json, on one
# line: max_seq_len, the last epoch's number (epoch - 1, from 0) as
# cp-NNNN.model names it and as a plain number, model_checkpoints (default model_checkpoints,
# as nys-train's) and from_cp ("-" when none).  make reads it with $(shell)
# when it is asked for a study target.  The configs are the authors' plain
# JSON, each key once, so a pattern a key does; this needs only perl-base
# (no JSON module), which every Debian has before `make deps` has run.
use strict;
use warnings;

die "usage: study-config.pl CONFIG.json\n" unless @ARGV == 1;
my $file = $ARGV[0];
open my $fh, '<', $file or die "study-config.pl: $file: $!\n";
my $text = do { local $/; <$fh> };
close $fh;

sub num {
	my ($key) = @_;
	return $text =~ /"\Q$key\E"\s*:\s*(\d+)/ ? $1 : undef;
}
sub str {
	my ($key, $default) = @_;
	return $text =~ /"\Q$key\E"\s*:\s*"([^"]*)"/ ? $1 : $default;
}

my $len = num('max_seq_len');
my $epochs = num('epoch');
die "study-config.pl: $file: no max_seq_len\n" unless defined $len;
die "study-config.pl: $file: no pretraining_setting.epoch\n" unless defined $epochs && $epochs > 0;
my $ck = str('model_checkpoints', 'model_checkpoints');
my $from = str('from_cp', '-');
for ($ck, $from) {
	die "study-config.pl: $file: a path with a space or a make character: $_\n" if /[\s\$#%:]/;
}
printf "%d %04d %d %s %s\n", $len, $epochs - 1, $epochs - 1, $ck, $from eq '' ? '-' : $from;
