#!/usr/bin/env python3
"""Write a compilation database (compile_commands.json) for the tree
without building or cleaning anything.

    scripts/compile_commands.py [--hosted] [MAKEVAR=VALUE...] > FILE

make prints every command a full build of `all fuzz` would run
(make -n -B V=1, from the repository root, MAKEVARs passed on, e.g.
BUILD=... CC=...); each compiler line that takes a .c file becomes one
entry per .c file. Lines that compile and link at once (the unit tests,
the bench programs) keep their compile flags and lose the link inputs and
options. A C file git tracks that no make rule compiles (the programs
scripts/linux-ref/ and tests/nested/ build with plain gcc) gets a plain
hosted command, so the database covers every tracked .c file.

A file make compiles several times (core/ for the guest, the sanitized
tests, the benchmarks and the fuzzers) has one entry per command.
--hosted keeps one hosted entry per file, for tools that should look at
each file once with a hosted libc: no -ffreestanding command, and among
the rest the one with PH_DEBUG=1 (the debug checks compiled in), else
make's first.
"""
import json
import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
COMPILER = re.compile(r'^(.*-)?(cc|gcc|clang)(-[0-9.]+)?$')
# Inputs and options that matter only to the link step.
LINK_INPUT = re.compile(r'\.(o|a|so)$')
LINK_ONLY = re.compile(r'^(-l.*|-L.*|-Wl,.*|-static|-shared|-no-pie|-pie|-rdynamic)$')
PLAIN_CMD = ['cc', '-pthread']


def make_lines(makevars):
    """The commands of a full build, backslash-continued lines joined."""
    out = subprocess.run(['make', '-s', '--no-print-directory', '-n', '-B', 'V=1']
                         + makevars + ['all', 'fuzz'],
                         cwd=ROOT, check=True, stdout=subprocess.PIPE,
                         universal_newlines=True).stdout
    return out.replace('\\\n', ' ').splitlines()


def entries_of(line):
    """The entries one compiler command line yields (none for others)."""
    try:
        argv = shlex.split(line)
    except ValueError:
        return []
    if not argv or not COMPILER.match(os.path.basename(argv[0])):
        return []
    flags, sources, output, compile_only = [], [], None, False
    it = iter(argv[1:])
    for a in it:
        if a == '-o':
            output = next(it, None)
        elif a == '-c':
            compile_only = True
        elif a.endswith('.c'):
            sources.append(a)
        elif a.endswith(('.S', '.s')) or LINK_INPUT.search(a) or LINK_ONLY.match(a):
            pass
        else:
            flags.append(a)
    result = []
    for src in sources:
        args = [argv[0]] + flags + ['-c', src]
        entry = {'directory': ROOT, 'file': src, 'arguments': args}
        # A compile-and-link line's -o names the program, not an object.
        if compile_only and output:
            args += ['-o', output]
            entry['output'] = output
        result.append(entry)
    return result


def tracked_c_files():
    try:
        out = subprocess.run(['git', 'ls-files', '*.c'], cwd=ROOT, check=True,
                             stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                             universal_newlines=True).stdout
    except (OSError, subprocess.CalledProcessError):
        return []
    return out.split()


def hosted_pick(entries):
    """One hosted entry per file, in make's order of first appearance."""
    best = {}
    for e in entries:
        if '-ffreestanding' in e['arguments']:
            continue
        cur = best.get(e['file'])
        if cur is None or ('-DPH_DEBUG=1' in e['arguments']
                           and '-DPH_DEBUG=1' not in cur['arguments']):
            best[e['file']] = e
    return [best[f] for f in dict.fromkeys(e['file'] for e in entries) if f in best]


def main(argv):
    hosted = '--hosted' in argv
    makevars = [a for a in argv if a != '--hosted']
    bad = [a for a in makevars if '=' not in a]
    if bad:
        sys.exit('compile_commands.py: expected --hosted or MAKEVAR=VALUE, got %s' % bad[0])
    # Sources from outside the tree (llhttp's C, which Debian ships and
    # mk/vmm.mk compiles as it is) are not ours to lint.
    entries = [e for line in make_lines(makevars) for e in entries_of(line)
               if not os.path.isabs(e['file']) or e['file'].startswith(ROOT + os.sep)]
    seen = {e['file'] for e in entries}
    for f in tracked_c_files():
        if f not in seen:
            entries.append({'directory': ROOT, 'file': f, 'arguments': PLAIN_CMD + ['-c', f]})
    if hosted:
        entries = hosted_pick(entries)
    json.dump(entries, sys.stdout, indent=1)
    sys.stdout.write('\n')


if __name__ == '__main__':
    main(sys.argv[1:])
