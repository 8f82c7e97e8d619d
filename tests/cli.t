#!/bin/sh
# The C unit test cli (nys_cli's option tables: --help lines and getopt), run by prove.
exec "${NYS_TESTBIN:?}/cli"
