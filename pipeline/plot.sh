#!/bin/sh
# Training and validation curves of a pretraining run, drawn to a PNG with
# gnuplot: `make plot MODEL=DIR` and `make demo` (demo/curve.png) call it.
#
#   pipeline/plot.sh LOG PNG [TITLE]
#
# LOG is nys-train's pretrain_output.log (one JSON object a line, see
# nys-train(1)): a line a step (idx, loss, mlm_accu) and after each epoch
# one with valid_loss and valid_mlm_accu, at the idx of the epoch's end.
# The PNG has two panels, the masked-LM loss and accuracy against the step:
# each step's training value (thin), its running mean over 10 steps, and the validation after each epoch (points).  perl turns the log
# into gnuplot's columns (JSON::PP, which every perl has); the PNG is
# written under a temporary name and renamed, so a file of that name is a
# whole picture.  Exit status 1 on a log without steps or a failed plot,
# 2 on a usage error.
set -u
if [ $# -lt 2 ] || [ $# -gt 3 ]; then
	echo "usage: plot.sh LOG PNG [TITLE]" >&2
	exit 2
fi
log=$1
png=$2
title=${3:-$log}
command -v gnuplot > /dev/null 2>&1 || {
	echo "plot.sh: gnuplot is not installed (Debian: apt-get install gnuplot-nox)" >&2
	exit 1
}
[ -r "$log" ] || { echo "plot.sh: $log: cannot read" >&2; exit 1; }
tmp=$(mktemp -d "${TMPDIR:-/tmp}/nys-plot.XXXXXX") || exit 1
trap 'rm -rf "$tmp"' EXIT
trap 'exit 1' HUP INT TERM

# steps.dat: idx loss accuracy mean-loss mean-accuracy (the running means
# over the last 10 steps); valid.dat: idx valid_loss valid_accuracy.
perl -MJSON::PP -e '
	my ($log, $dir) = @ARGV;
	open my $in, "<", $log or die "plot.sh: $log: $!\n";
	open my $st, ">", "$dir/steps.dat" or die "plot.sh: $dir: $!\n";
	open my $va, ">", "$dir/valid.dat" or die "plot.sh: $dir: $!\n";
	my (@l, @a, $steps, $valid);
	my $w = 10;
	while (my $line = <$in>) {
		next unless $line =~ /\S/;
		my $r = eval { decode_json($line) };
		die "plot.sh: $log:$.: not a JSON object\n" unless ref $r eq "HASH";
		if (defined $r->{valid_loss}) {
			printf $va "%d %.6g %.6g\n", $r->{idx}, $r->{valid_loss}, $r->{valid_mlm_accu} // 0;
			$valid++;
		} elsif (defined $r->{loss}) {
			push @l, $r->{loss};
			push @a, $r->{mlm_accu} // 0;
			if (@l > $w) { shift @l; shift @a; }
			my ($sl, $sa) = (0, 0);
			$sl += $_ for @l;
			$sa += $_ for @a;
			printf $st "%d %.6g %.6g %.6g %.6g\n", $r->{idx}, $r->{loss}, $r->{mlm_accu} // 0,
			       $sl / @l, $sa / @a;
			$steps++;
		}
	}
	die "plot.sh: $log: no training steps in the log\n" unless $steps;
	# gnuplot draws nothing from an empty file but warns: give it a point
	# outside the range instead
	print $va "-1 NaN NaN\n" unless $valid;
' "$log" "$tmp" || exit 1

# gnuplot reads the title from a file of its own, so no quote in it can
# end the string
printf '%s\n' "$title" > "$tmp/title"
cat > "$tmp/plot.gp" <<EOF
set terminal pngcairo size 900,760 font "sans,10"
set output "$tmp/out.png"
title = system("cat '$tmp/title'")
set multiplot layout 2,1 title title
set grid
set key top right
set xlabel "step"
set ylabel "masked-LM loss"
plot "$tmp/steps.dat" using 1:2 with lines lw 0.5 lc rgb "#b0c4de" title "training (each step)", \
     "" using 1:4 with lines lw 2 lc rgb "#1f4e9a" title "training (running mean)", \
     "$tmp/valid.dat" using 1:2 with linespoints pt 7 ps 1.2 lw 2 lc rgb "#c0392b" title "validation (each epoch)"
set key bottom right
set ylabel "masked-LM accuracy"
plot "$tmp/steps.dat" using 1:3 with lines lw 0.5 lc rgb "#b0c4de" title "training (each step)", \
     "" using 1:5 with lines lw 2 lc rgb "#1f4e9a" title "training (running mean)", \
     "$tmp/valid.dat" using 1:3 with linespoints pt 7 ps 1.2 lw 2 lc rgb "#c0392b" title "validation (each epoch)"
unset multiplot
EOF
gnuplot "$tmp/plot.gp" 2> "$tmp/err" || { sed 's/^/plot.sh: gnuplot: /' "$tmp/err" >&2; exit 1; }
[ -s "$tmp/out.png" ] || { echo "plot.sh: gnuplot wrote no picture" >&2; exit 1; }
mkdir -p "$(dirname "$png")" || exit 1
cp "$tmp/out.png" "$png.tmp.$$" && mv -f "$png.tmp.$$" "$png" || { rm -f "$png.tmp.$$"; exit 1; }
