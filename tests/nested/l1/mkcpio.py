# initramfs (newc cpio) for tests/nested/l1/: mkcpio.py OUT SRC=DST... (every
# file mode 0755; the parent directories of DST are made).
import os, sys
def entry(out, name, mode, data=b''):
    hdr = '070701' + ''.join('%08x' % v for v in [0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0])
    b = hdr.encode() + name.encode() + b'\0'
    b += b'\0' * ((4 - len(b) % 4) % 4)
    b += data + b'\0' * ((4 - len(data) % 4) % 4)
    out.write(b)
out = open(sys.argv[1], 'wb')
dirs = ['dev', 'proc', 'sys', 'modules', 'tmp']
for d in dirs:
    entry(out, d, 0o040755)
for spec in sys.argv[2:]:
    src, dst = spec.split('=')
    # the kernel's unpacker makes no parent directories (usr/libexec/valgrind/...)
    parts = dst.split('/')[:-1]
    for i in range(1, len(parts) + 1):
        d = '/'.join(parts[:i])
        if d not in dirs:
            dirs.append(d)
            entry(out, d, 0o040755)
    entry(out, dst, 0o100755, open(src, 'rb').read())
entry(out, 'TRAILER!!!', 0)
