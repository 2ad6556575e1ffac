import os, sys
def entry(out, name, mode, data=b''):
    hdr = '070701' + ''.join('%08x' % v for v in [0, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(name) + 1, 0])
    b = hdr.encode() + name.encode() + b'\0'
    b += b'\0' * ((4 - len(b) % 4) % 4)
    b += data + b'\0' * ((4 - len(data) % 4) % 4)
    out.write(b)
out = open(sys.argv[1], 'wb')
for d in ['dev', 'proc', 'sys', 'modules']:
    entry(out, d, 0o040755)
for spec in sys.argv[2:]:
    src, dst = spec.split('=')
    entry(out, dst, 0o100755, open(src, 'rb').read())
entry(out, 'TRAILER!!!', 0)
