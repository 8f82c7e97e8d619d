#!/bin/bash
# nys-lra's data side: each task's reader on fixtures in the published
# layouts (tests/data/lra) and on the shared real files, its records
# checked against a Perl reading of the same files written here from the
# layouts' descriptions; malformed inputs named by file and line; prepared
# folders put in place whole; `gen listops` deterministic, in its bounds,
# its labels those of an independent evaluator, its draws those of
# CPython's random module.
. "$(dirname "$0")/lib.sh"

TOP=${NYS_TOP:-$(dirname "$0")/..}
D=$TOP/tests/data/lra
L=$BIN/nys-lra

# ---- the independent reading -----------------------------------------------
# ref.pl TASK ARGS...: the records a task's files hold, as `nys-lra cat`
# prints them (label, a tab, the ids).
cat > "$T/ref.pl" <<'PERL'
use strict; use warnings;
use Compress::Zlib;
binmode STDOUT;
my $task = shift;
sub f32 { unpack("f", pack("f", $_[0])) }
my ($s, $w0, $w1, $w2, $k) = (f32(1 / 255), f32(0.2989), f32(0.5870), f32(0.1140), f32(255.5));
sub grey {
	my ($r, $g, $b) = @_;
	my $v = f32(f32(f32(f32($r) * $s) * $w0) + f32(f32(f32($g) * $s) * $w1));
	$v = f32($v + f32(f32(f32($b) * $s) * $w2));
	my $o = int(f32($v * $k));
	return $o > 255 ? 255 : $o;
}
my %lo = (map({ ("$_" => $_ + 1) } 0 .. 9), '[MIN' => 11, '[MAX' => 12, '[MED' => 13,
          '[SM' => 14, 'X' => 15);
sub bytes_ids { my ($t, $max) = @_; $t = substr($t, 0, $max); join ' ', map { ord($_) + 1 } split //, $t }
sub slurp { local $/; open my $f, '<:raw', $_[0] or die "$_[0]: $!"; my $x = <$f>; $x }
if ($task eq 'listops') {
	for my $file (@ARGV) {
		open my $f, '<:raw', $file or die;
		my $n = 0;
		while (my $l = <$f>) {
			$l =~ s/\r?\n$//;
			next if ++$n == 1 && $l eq "Source\tTarget";
			my ($a, $b) = split /\t/, $l;
			my ($seq, $lab) = $a =~ /^\d+$/ ? ($b, $a) : ($a, $b);
			$seq =~ s/\]/X/g; $seq =~ s/[()]//g;
			my @t = map { $lo{$_} // die "token $_" } split ' ', $seq;
			@t = @t[0 .. 1999] if @t > 2000;
			print "$lab\t@t\n";
		}
	}
} elsif ($task eq 'imdb') {
	my $dir = shift;
	for my $lab (0, 1) {
		my $sub = "$dir/" . ($lab ? 'pos' : 'neg');
		opendir my $d, $sub or die;
		for my $n (sort grep { /\.txt$/ } readdir $d) {
			print "$lab\t", bytes_ids(slurp("$sub/$n"), 4000), "\n";
		}
	}
} elsif ($task eq 'aan') {
	open my $f, '<:raw', $ARGV[0] or die;
	while (my $l = <$f>) {
		chomp $l;
		my @x = split /\t/, $l, -1;
		print int($x[0]), "\t", bytes_ids($x[3], 4000), "\t", bytes_ids($x[4], 4000), "\n";
	}
} elsif ($task eq 'cifar') {
	for my $file (@ARGV) {
		my $b = slurp($file);
		for (my $o = 0; $o < length $b; $o += 3073) {
			my @p = unpack('C*', substr($b, $o, 3073));
			my $lab = shift @p;
			print "$lab\t", join(' ', map { grey($p[$_], $p[1024 + $_], $p[2048 + $_]) } 0 .. 1023), "\n";
		}
	}
} elsif ($task eq 'pathfinder') {
	my $dir = shift;
	opendir my $d, "$dir/metadata" or die;
	for my $m (sort { $a <=> $b } map { /^(\d+)\.npy$/ ? $1 : () } readdir $d) {
		open my $f, '<', "$dir/metadata/$m.npy" or die;
		while (my $l = <$f>) {
			chomp $l;
			my @x = split / /, $l;
			my $png = slurp("$dir/$x[0]/$x[1]");
			my ($pos, $idat, $w, $h, $ct) = (8, '');
			while ($pos < length $png) {
				my ($len, $type) = unpack('N a4', substr($png, $pos, 8));
				my $data = substr($png, $pos + 8, $len);
				($w, $h, undef, $ct) = unpack('N N C C', $data) if $type eq 'IHDR';
				$idat .= $data if $type eq 'IDAT';
				$pos += 12 + $len;
			}
			my $raw = uncompress($idat);
			my $ch = $ct == 2 ? 3 : 1;
			my @px;
			for my $y (0 .. $h - 1) {
				my @row = unpack('C*', substr($raw, $y * ($w * $ch + 1), $w * $ch + 1));
				die "filter $row[0]" if shift @row;
				push @px, $ch == 1 ? @row : map { grey(@row[3 * $_ .. 3 * $_ + 2]) } 0 .. $w - 1;
			}
			print "$x[3]\t@px\n";
		}
	}
}
PERL
ref() { perl "$T/ref.pl" "$@"; }

# same DESC FILE-A FILE-B: two files equal (line count and a first difference
# shown when not)
same() {
	if cmp -s "$2" "$3"; then
		ok 0 "$1"
	else
		ok 1 "$1"
		echo "#   $(wc -l < "$2") vs $(wc -l < "$3") lines; first difference:"
		diff "$2" "$3" | head -4 | cut -c1-200 | sed 's/^/#   /'
	fi
}

# ---- ListOps ------------------------------------------------------------------
run_cmd "$L" prepare listops "$D/listops" -o "$T/lo" -q
is "$rc $(cat "$T/err")" "0 " "listops: LRA's layout (Source/Target header, CRLF) prepared"
for s in train dev test; do
	"$L" cat --split $s "$T/lo" > "$T/got.$s"
done
ref listops "$D/listops/basic_train.tsv" > "$T/want.train"
ref listops "$D/listops/basic_val.tsv" > "$T/want.dev"
ref listops "$D/listops/basic_test.tsv" > "$T/want.test"
for s in train dev test; do
	same "listops fixture $s: labels and ids as LRA's tokens (']' X, no parentheses)" \
		"$T/got.$s" "$T/want.$s"
done
is "$(head -1 "$T/got.train")" "0	14 7 6 10 1 15" \
	"listops: '( ( ( ( ( [SM 6 ) 5 ) 9 ) 0 ) ] )' is [SM 6 5 9 0 X"
m=$T/lo/manifest.json
is "$(perl -MJSON::PP -e 'local $/; my $j = decode_json(<STDIN>); print join " ", map { $j->{$_} } qw(task vocab vocab_size classes docs max_len)' < "$m" 2>/dev/null || grep -c task "$m")" \
	"listops listops 17 10 1 2000" "listops: the manifest's kind"

if have_shared && [ -f "$SHARED/listops/listops-test_d20s.tsv" ]; then
	f=$SHARED/listops/listops-test_d20s.tsv
	run_cmd "$L" prepare listops --test "$f" -o "$T/lo2"
	is "$rc $(cat "$T/err")" "0 nys-lra: listops: train 0, dev 0, test 10000 records (dev: none) in $T/lo2" \
		"listops: the original layout (label first, no header), real file: 10000 records"
	"$L" cat --split test "$T/lo2" > "$T/got"
	ref listops "$f" > "$T/want"
	same "listops real file: all 10000 records as the Perl reading" "$T/got" "$T/want"
	is "$(cut -f1 "$T/got" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
		"$(cut -f1 "$f" | sort | uniq -c | awk '{printf "%s:%s ", $2, $1}')" \
		"listops real file: the label counts of the file"
	is "$(head -1 "$T/got")" "0	14 7 6 10 1 15" "listops real file: the first record"
else
	for i in 1 2 3 4; do skip "no shared listops data"; done
fi

# ---- Text (aclImdb) ---------------------------------------------------------
if have_shared && [ -d "$SHARED/lra/aclImdb-sample" ]; then
	a=$SHARED/lra/aclImdb-sample
	run_cmd "$L" prepare text "$a" -o "$T/tx"
	is "$rc $(cat "$T/err")" "0 nys-lra: text: train 8, dev 8, test 8 records (dev: test) in $T/tx" \
		"text: the aclImdb sample, 8 train, 8 test, dev the test split as in LRA"
	"$L" cat "$T/tx" > "$T/got"
	ref imdb "$a/train" > "$T/want"
	same "text train: neg then pos, each review's bytes + 1" "$T/got" "$T/want"
	"$L" cat --split test "$T/tx" > "$T/got"
	ref imdb "$a/test" > "$T/want"
	same "text test: as the Perl reading" "$T/got" "$T/want"
	"$L" cat --split dev "$T/tx" > "$T/got.dev"
	same "text dev: the test records" "$T/got.dev" "$T/want"
	run_cmd "$L" prepare text "$a" --max-len 50 -o "$T/tx50" -q
	is "$("$L" cat "$T/tx50" | awk -F'\t' '{print split($2, x, " ")}' | sort -u)" "50" \
		"text: --max-len 50 cuts every review to 50 bytes"
	# a malformed review: an empty file
	mkdir -p "$T/imdb/train/neg" "$T/imdb/train/pos" "$T/imdb/test/neg" "$T/imdb/test/pos"
	for d in train/neg train/pos test/neg test/pos; do echo "fine" > "$T/imdb/$d/1_1.txt"; done
	: > "$T/imdb/train/pos/2_9.txt"
	run_cmd "$L" prepare text "$T/imdb" -o "$T/txbad"
	is "$rc $(cat "$T/err")" "1 nys-lra: $T/imdb/train/pos/2_9.txt: an empty review" \
		"text: an empty review is an error naming the file"
else
	for i in 1 2 3 4 5 6; do skip "no shared aclImdb sample"; done
fi

# ---- Retrieval (AAN) --------------------------------------------------------
run_cmd "$L" prepare retrieval "$D/aan" -o "$T/aan" -q
is "$rc" 0 "retrieval: the AAN pair TSVs prepared"
"$L" cat "$T/aan" > "$T/got"
ref aan "$D/aan/new_aan_pairs.train.tsv" > "$T/want"
same "retrieval train: label, text1's bytes + 1, text2's (labels 1, 0, 1.0)" "$T/got" "$T/want"
"$L" cat --split dev "$T/aan" > "$T/got"
ref aan "$D/aan/new_aan_pairs.eval.tsv" > "$T/want"
same "retrieval dev is the eval file" "$T/got" "$T/want"

# ---- Image (CIFAR-10) -------------------------------------------------------
c=$D/cifar-10-batches-bin
run_cmd "$L" prepare image "$c" -o "$T/im"
is "$rc $(cat "$T/err")" "0 nys-lra: image: train 14, dev 1, test 4 records (dev: train-tail) in $T/im" \
	"image: 5 batches of 3 and a test batch of 4; dev the last 10% of train as LRA's train[90%:]"
ref cifar "$c"/data_batch_{1,2,3,4,5}.bin > "$T/want.all"
"$L" cat "$T/im" > "$T/got"
head -14 "$T/want.all" > "$T/want"
same "image train: greyscale by tf.image.rgb_to_grayscale's float32 steps" "$T/got" "$T/want"
"$L" cat --split dev "$T/im" > "$T/got"
tail -1 "$T/want.all" > "$T/want"
same "image dev: the last training record" "$T/got" "$T/want"
"$L" cat --split test "$T/im" > "$T/got"
ref cifar "$c/test_batch.bin" > "$T/want"
same "image test: the test batch" "$T/got" "$T/want"
is "$(head -1 "$T/got" | cut -f2 | cut -d' ' -f1) $(awk -F'\t' '{print split($2, x, " ")}' "$T/got" | sort -u)" \
	"0 1024" "image: a black pixel is id 0 and still a token: every record 1024 long"

# ---- Pathfinder ---------------------------------------------------------------
p=$D/pathfinder32
run_cmd "$L" prepare pathfinder "$p" -o "$T/pf"
is "$rc $(cat "$T/err")" "0 nys-lra: pathfinder: train 8, dev 1, test 1 records (dev: 80/10/10) in $T/pf" \
	"pathfinder: 10 images in metadata order, 80/10/10 as LRA"
ref pathfinder "$p/curv_contour_length_14" > "$T/want.all"
for s in train dev test; do "$L" cat --split $s "$T/pf"; done > "$T/got"
same "pathfinder: every PNG's pixels (an RGB one to grey) and the metadata's label" \
	"$T/got" "$T/want.all"
run_cmd "$L" prepare pathfinder "$p" --difficulty curv_baseline -o "$T/pf2"
is "$rc $(grep -c 'curv_baseline/metadata' "$T/err")" "1 1" \
	"pathfinder: a missing difficulty folder is an error naming it"

# ---- malformed inputs: file and line -----------------------------------------
bad() { # DESC TASK WANT-MESSAGE ARGS...
	local desc=$1 task=$2 want=$3
	shift 3
	run_cmd "$L" prepare "$task" "$@" -o "$T/bad"
	is "$rc $(head -1 "$T/err")" "1 nys-lra: $want" "$desc"
}
printf 'Source\tTarget\r\n( [MIN 1 2 ] )\t1\r\n( [MAX 3 4 ] )\t12\r\n' > "$T/l1.tsv"
bad "listops: a label past 9, with its line" listops "$T/l1.tsv:3: bad label '12' (0 to 9)" --train "$T/l1.tsv"
printf '1\t( [MIN 1 2 ] )\n1\t( [FIRST 1 2 ] )\n' > "$T/l2.tsv"
bad "listops: an unknown token, with its line" listops "$T/l2.tsv:2: unknown ListOps token '[FIRST'" --test "$T/l2.tsv"
printf '1 ( [MIN 1 2 ] )\n' > "$T/l3.tsv"
bad "listops: no tab" listops "$T/l3.tsv:1: not two tab-separated fields (label, sequence)" --test "$T/l3.tsv"
printf '1\tA\tB\tsome text\n' > "$T/a1.tsv"
bad "retrieval: four fields, with the line" retrieval "$T/a1.tsv:1: 4 tab-separated fields, not 5 (label, id1, id2, text1, text2)" --train "$T/a1.tsv"
printf '1\tA\tB\tx\ty\n2\tA\tB\tx\ty\n' > "$T/a2.tsv"
bad "retrieval: a label that is not 0 or 1" retrieval "$T/a2.tsv:2: bad label '2' (0 or 1)" --train "$T/a2.tsv"
mkdir -p "$T/cif"
cp "$c"/*.bin "$T/cif/"
head -c 5000 "$c/data_batch_3.bin" > "$T/cif/data_batch_3.bin"
bad "image: a batch cut short, with the byte and record" image \
	"$T/cif/data_batch_3.bin: byte 3073: record 1 cut short (records are 3073 bytes: a label and 32x32 R, G, B)" "$T/cif"
cp "$c/data_batch_3.bin" "$T/cif/"
printf '\014' | dd of="$T/cif/data_batch_2.bin" bs=1 seek=3073 conv=notrunc 2>/dev/null
bad "image: a label byte past 9" image "$T/cif/data_batch_2.bin: byte 3073: record 1: label 12 (0 to 9)" "$T/cif"
mkdir -p "$T/pfb/hard/metadata" "$T/pfb/hard/imgs/0"
cp "$p/curv_contour_length_14/imgs/0/sample_0.png" "$T/pfb/hard/imgs/0/"
printf 'imgs/0 sample_0.png 0 1 14\nimgs/0 sample_0.png 0\n' > "$T/pfb/hard/metadata/0.npy"
bad "pathfinder: a metadata line of too few fields" pathfinder \
	"$T/pfb/hard/metadata/0.npy:2: 3 space-separated fields, not at least 4 (folder, file, _, label)" "$T/pfb" --difficulty hard
printf 'imgs/0 sample_0.png 0 1 14\nimgs/0 sample_9.png 0 0 14\n' > "$T/pfb/hard/metadata/0.npy"
run_cmd "$L" prepare pathfinder "$T/pfb" --difficulty hard -o "$T/bad"
is "$rc $(grep -c "^nys-lra: $T/pfb/hard/metadata/0.npy:2: $T/pfb/hard/imgs/0/sample_9.png: not a readable PNG" "$T/err")" "1 1" \
	"pathfinder: a missing image, with the metadata line"
head -c 60 "$p/curv_contour_length_14/imgs/0/sample_1.png" > "$T/pfb/hard/imgs/0/sample_9.png"
run_cmd "$L" prepare pathfinder "$T/pfb" --difficulty hard -o "$T/bad"
is "$rc $(grep -c "^nys-lra: $T/pfb/hard/metadata/0.npy:2: $T/pfb/hard/imgs/0/sample_9.png: a damaged PNG" "$T/err")" "1 1" \
	"pathfinder: a cut PNG, with the metadata line"
[ ! -e "$T/bad" ] || [ -z "$(ls -A "$T/bad")" ]
ok $? "failed runs leave no task folder behind"

# ---- usage -----------------------------------------------------------------------
run_cmd "$L" prepare listops "$D/listops"
is "$rc $(head -1 "$T/err")" "2 nys-lra: a task folder needs -o DIR" "prepare without -o: usage error"
run_cmd "$L" prepare sudoku "$D/listops" -o "$T/x"
is "$rc $(head -1 "$T/err")" "2 nys-lra: unknown task 'sudoku' (listops, text, retrieval, image, pathfinder)" \
	"prepare: an unknown task is a usage error"
run_cmd "$L" prepare image --train "$c/data_batch_1.bin" -o "$T/x"
is "$rc" 2 "prepare image --train: a usage error (image reads its folder)"

# ---- prepared folders: in place whole, stale shards gone, dev held out -----
"$L" gen listops --train 300 --dev 30 --test 30 --min-len 10 --max-len 60 --max-depth 5 -o "$T/g"
run_cmd "$L" prepare listops "$T/g" --records 64 -o "$T/gp" -q
is "$rc $(cd "$T/gp" && ls | tr '\n' ' ')" \
	"0 dev-00000.lra manifest.json test-00000.lra train-00000.lra train-00001.lra train-00002.lra train-00003.lra train-00004.lra " \
	"--records 64: 300 train records in 5 shards, the manifest beside them"
"$L" cat "$T/gp" > "$T/got"
ref listops "$T/g/basic_train.tsv" > "$T/want"
same "shards of 64 read back in order as one set" "$T/got" "$T/want"
run_cmd "$L" prepare listops "$T/g" -o "$T/gp" -q
is "$rc $(cd "$T/gp" && ls | tr '\n' ' ')" "0 dev-00000.lra manifest.json test-00000.lra train-00000.lra " \
	"a second prepare into the folder removes the shards it no longer writes"
cp "$T/gp/manifest.json" "$T/manifest.before"
printf 'Source\tTarget\n( [MIN 1 2 ] )\tx\n' > "$T/g/basic_test.tsv.bad"
run_cmd "$L" prepare listops --train "$T/g/basic_train.tsv" --test "$T/g/basic_test.tsv.bad" -o "$T/gp" -q
cmp -s "$T/gp/manifest.json" "$T/manifest.before" && [ "$(ls "$T/gp" | wc -l)" = 4 ] && [ "$rc" = 1 ]
ok $? "a prepare that fails leaves the earlier folder as it was"
run_cmd "$L" prepare listops --train "$T/g/basic_train.tsv" --dev-count 40 --seed 3 -o "$T/hd" -q
"$L" cat "$T/hd" > "$T/a"; "$L" cat --split dev "$T/hd" > "$T/b"
is "$rc $(wc -l < "$T/a") $(wc -l < "$T/b") $(sort "$T/a" "$T/b" | md5sum | cut -c1-32)" \
	"0 260 40 $(sort "$T/want" | md5sum | cut -c1-32)" \
	"--dev-count 40: 40 train records held out, none lost or doubled"
"$L" prepare listops --train "$T/g/basic_train.tsv" --dev-count 40 --seed 3 -o "$T/hd2" -q
"$L" prepare listops --train "$T/g/basic_train.tsv" --dev-count 40 --seed 4 -o "$T/hd3" -q
cmp -s "$T/hd/dev-00000.lra" "$T/hd2/dev-00000.lra" && ! cmp -s "$T/hd/dev-00000.lra" "$T/hd3/dev-00000.lra"
ok $? "--dev-count: the same seed holds out the same records, another seed others"
run_cmd "$L" prepare listops "$T/g" --dev-count 5 -o "$T/x" -q
is "$rc $(cat "$T/err")" "1 nys-lra: a dev split is given: no --dev-count with it" \
	"--dev-count with a dev file: an error"

# ---- damaged shards through the program --------------------------------------
zstd -qdc "$T/gp/test-00000.lra" > "$T/plain.lra"
printf '\377' | dd of="$T/plain.lra" bs=1 seek=72 conv=notrunc 2>/dev/null
run_cmd "$L" cat "$T/plain.lra"
is "$rc $(sed 's/record 0: id [0-9]*/record 0: id N/' "$T/err")" \
	"1 nys-lra: $T/plain.lra: byte 72: record 0: id N outside the vocabulary (17)" \
	"cat: an id past the vocabulary, with its byte"
head -c 120 "$T/gp/test-00000.lra" > "$T/cut.lra"
run_cmd "$L" cat "$T/cut.lra"
is "$rc $(grep -c "$T/cut.lra" "$T/err")" "1 1" "cat: a cut shard is an error naming it"

# ---- gen listops ------------------------------------------------------------------
g() { "$L" gen listops --train 40 --dev 5 --test 5 --min-len 20 --max-len 120 "$@"; }
g --seed 7 -o "$T/g1" && g --seed 7 -o "$T/g2" && g --seed 8 -o "$T/g3"
cat "$T"/g1/*.tsv | md5sum > "$T/m1"; cat "$T"/g2/*.tsv | md5sum > "$T/m2"; cat "$T"/g3/*.tsv | md5sum > "$T/m3"
cmp -s "$T/m1" "$T/m2" && ! cmp -s "$T/m1" "$T/m3"
ok $? "gen: the same seed gives the same bytes, another seed others"
is "$(wc -l < "$T/g1/basic_train.tsv") $(wc -l < "$T/g1/basic_val.tsv") $(wc -l < "$T/g1/basic_test.tsv") $(head -1 "$T/g1/basic_train.tsv" | od -An -c | tr -s ' ')" \
	"41 6 6  S o u r c e \t T a r g e t \r \n" "gen: header and counts, CRLF as Python's csv writer"
cat > "$T/eval.pl" <<'PERL'
# evaluate each ListOps tree with a stack, independently of the generator;
# print "ok" or the first bad line; also check the lengths' bounds
use strict; use warnings;
my ($min, $max) = @ARGV[0, 1];
my ($n, $bad) = (0, '');
while (my $l = <STDIN>) {
	$l =~ s/\r?\n$//;
	next if $l eq "Source\tTarget";
	$n++;
	my ($seq, $want) = split /\t/, $l;
	my @toks = grep { $_ ne '(' && $_ ne ')' } split ' ', $seq;
	my $len = @toks;
	my @st;
	for my $t (@toks) {
		if ($t =~ /^\[/) { push @st, [$t] }
		elsif ($t eq ']') {
			my ($op, @a) = @{ pop @st };
			my $v;
			my @s = sort { $a <=> $b } @a;
			if ($op eq '[MIN') { $v = $s[0] }
			elsif ($op eq '[MAX') { $v = $s[-1] }
			elsif ($op eq '[SM') { my $x = 0; $x += $_ for @a; $v = $x % 10 }
			else { $v = @s % 2 ? $s[$#s / 2] : int(($s[@s / 2 - 1] + $s[@s / 2]) / 2) }
			if (@st) { push @{ $st[-1] }, $v } else { push @st, $v }
		} else { push @{ $st[-1] }, $t }
	}
	my $got = $st[0];
	$bad ||= "line $n: value $got, file says $want" if $got != $want;
	$bad ||= "line $n: length $len" unless $len > $min && $len < $max;
	$bad ||= "line $n: not one tree" unless @st == 1 && !ref $got;
}
print $bad || "ok $n", "\n";
PERL
is "$(cat "$T"/g1/*.tsv | perl "$T/eval.pl" 20 120)" "ok 50" \
	"gen: every label is the tree's value by an independent evaluator; lengths strictly inside the bounds"
is "$(cat "$T"/g1/*.tsv | cut -f1 | sort | uniq -d | grep -vc Source)" "0" "gen: no tree twice"
"$L" gen listops --train 200 --dev 0 --test 0 --seed 1 -o "$T/g4"
is "$(perl "$T/eval.pl" 500 2000 < "$T/g4/basic_train.tsv")" "ok 200" \
	"gen: LRA's defaults (depth 10, 10 arguments, lengths 500 to 2000): 200 trees, values right"
if command -v python3 > /dev/null; then
	# the generator described once more, over CPython's own random module
	python3 - 7 40 5 5 20 120 > "$T/py.tsv" <<'PY'
import random, sys
seed, ntr, ndev, nte, lo, hi = map(int, sys.argv[1:])
random.seed(seed)
OPS = ["[MIN", "[MAX", "[MED", "[SM"]
def tree(depth):
    r = random.random() if depth < 10 else 1
    if r > 0.25:
        return str(random.choice(range(10))), 1
    k = random.randint(2, 10)
    kids = [tree(depth + 1) for _ in range(k)]
    op = random.choice(OPS)
    s = "( " * (k + 1) + op + " " + kids[0][0] + " )"
    for c in kids[1:]:
        s += " " + c[0] + " )"
    return s + " ] )", 2 + sum(c[1] for c in kids)
seen, out = set(), []
while len(out) < ntr + ndev + nte:
    s, n = tree(1)
    if lo < n < hi and s not in seen:
        seen.add(s)
        out.append(s)
print("\n".join(out))
PY
	cat "$T"/g1/basic_{train,val,test}.tsv | tr -d '\r' | grep -v '^Source' | cut -f1 > "$T/c.tsv"
	same "gen --seed 7: the trees CPython's random module draws after random.seed(7)" "$T/c.tsv" "$T/py.tsv"
else
	skip "no python3"
fi
run_cmd "$L" gen listops --train 5 --dev 0 --test 0 --max-depth 1 --min-len 10 -o "$T/g5"
is "$rc $(sed 's/ after .*//' "$T/err")" "1 nys-lra: gen: only 0 of 5 trees of lengths 11 to 1999" \
	"gen: bounds no tree can meet end in an error, not a loop"
run_cmd "$L" gen listops --min-len 100 --max-len 100 -o "$T/g6"
is "$rc" 2 "gen: empty length bounds are a usage error"
run_cmd "$L" gen sudoku -o "$T/g6"
is "$rc $(head -1 "$T/err")" "2 nys-lra: gen makes listops, not 'sudoku'" "gen: only listops"

# ---- man pages ------------------------------------------------------------------
for sub in prepare gen cat; do
	missing=
	for opt in $("$L" $sub --help | grep -oE -- '--[a-z][a-z0-9-]*' | sort -u); do
		grep -qF -- "${opt//-/\\-}" "$TOP/man/man1/nys-lra.1" || grep -qF -- "$opt" "$TOP/man/man1/nys-lra.1" ||
			missing="$missing $opt"
	done
	is "$missing" "" "nys-lra $sub: every option in --help is in nys-lra.1"
done
[ -f "$TOP/man/man5/nys-lra.5" ] && grep -q 'NYSLRA' "$TOP/man/man5/nys-lra.5"
ok $? "nys-lra(5) describes the format"

done_testing
