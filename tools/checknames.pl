#!/usr/bin/perl
# Fails when a package manager's name appears outside its folder and the manager table:
# in a string literal, or in an identifier (ec_<mgr>_…, <MGR>_…), in cache/, tools/ and
# fetchers/' shared files. The names come from the table itself (fetchers/managers.c).
# Usage: checknames.pl FILE...   (prints offending lines; exits 1 when there are any)
use strict;
use warnings;

open(my $t, '<', 'fetchers/managers.c') or die "checknames: fetchers/managers.c: $!\n";
my @names = map { /&ec_(\w+)_manager/ ? $1 : () } <$t>;
close $t;
die "checknames: no managers in fetchers/managers.c\n" unless @names;
my $alt = join '|', @names;
# "go" is an English word too: in text it counts only next to a path or spec character.
my $strict = join '|', grep { $_ ne 'go' } @names;
my $in_text = qr{(?<![\w.-])(?:$strict)(?![\w-])|(?:^|[/:@._=])go(?:$|[/:@._=])|^go$}i;
my $bad = 0;
for my $f (@ARGV) {
    open(my $in, '<', $f) or die "checknames: $f: $!\n";
    my $comment = 0;
    while (my $line = <$in>) {
        my $code = $line;
        if ($comment) { # inside a block comment: skip to its end
            next unless $code =~ s{^.*?\*/}{};
            $comment = 0;
        }
        $code =~ s{/\*.*?\*/}{}g;
        $comment = 1 if $code =~ s{/\*.*$}{};
        $code =~ s{//.*$}{};
        my @hits;
        while ($code =~ /"((?:[^"\\]|\\.)*)"/g) {
            my $s = $1;
            push @hits, "\"$s\"" if $s =~ $in_text;
        }
        push @hits, $1 if $code =~ /\b((?:ec_|EC_)?(?:$alt)_\w+)/i;
        for my $h (@hits) {
            print "checksrc: $f:$.: names a package manager ($h); put it in the manager's " .
                  "folder or its table entry (fetchers/manager.h)\n";
            $bad = 1;
        }
    }
    close $in;
}
exit $bad;
