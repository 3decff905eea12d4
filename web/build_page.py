#!/usr/bin/env python3
"""Assembles the web page in the build directory.

    build_page.py SRC_DIR OUT_DIR STAMP FILE...
    build_page.py --install SRC_DIR REL_DIR FILE...   (meson install script)

Copies each FILE (relative to SRC_DIR) to OUT_DIR, after checking every
vendored file against vendor/SHA256SUMS: a file that does not match fails the
build, so what the browser runs is exactly the pinned libsodium.js release.
The wrappers' bare import of "libsodium" becomes "./libsodium.mjs" in the copy
(see vendor/README.md).  Text files get a gzip twin (FILE.gz) that noaber-web
serves to browsers that accept gzip.
"""
import gzip
import hashlib
import os
import sys

COMPRESSED = ('.html', '.js', '.mjs', '.css', '.svg', '.json', '.webmanifest', '.txt')
BARE = b'from"libsodium"'


def main():
    if sys.argv[1] == '--install':
        # Installs into $DESTDIR$prefix/REL_DIR, the same way as the build.
        src, rel, files = sys.argv[2], sys.argv[3], sys.argv[4:]
        out = os.path.join(os.environ['MESON_INSTALL_DESTDIR_PREFIX'], rel)
        stamp = None
    else:
        src, out, stamp, files = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    sums = {}
    with open(os.path.join(src, 'vendor', 'SHA256SUMS')) as f:
        for line in f:
            digest, name = line.split()
            sums['vendor/' + name] = digest
    for name, digest in sums.items():
        with open(os.path.join(src, name), 'rb') as f:
            got = hashlib.sha256(f.read()).hexdigest()
        if got != digest:
            sys.exit('build_page.py: %s has SHA-256 %s, vendor/SHA256SUMS says %s: '
                     'the vendored file was changed' % (name, got, digest))
    for name in files:
        if name.startswith('vendor/') and name not in sums and not name.endswith(
                ('SHA256SUMS', 'README.md')):
            sys.exit('build_page.py: %s is not listed in vendor/SHA256SUMS' % name)
        with open(os.path.join(src, name), 'rb') as f:
            data = f.read()
        if name == 'vendor/libsodium-wrappers.mjs':
            if data.count(BARE) != 1:
                sys.exit('build_page.py: the wrappers no longer import "libsodium" once')
            data = data.replace(BARE, b'from"./libsodium.mjs"')
        dest = os.path.join(out, name)
        os.makedirs(os.path.dirname(dest), exist_ok=True)
        with open(dest + '.tmp', 'wb') as f:
            f.write(data)
        os.replace(dest + '.tmp', dest)
        if name.endswith(COMPRESSED):
            # mtime=0 keeps the build reproducible.
            with open(dest + '.gz.tmp', 'wb') as raw:
                with gzip.GzipFile(fileobj=raw, mode='wb', compresslevel=9, mtime=0) as z:
                    z.write(data)
            os.replace(dest + '.gz.tmp', dest + '.gz')
    if stamp is not None:
        with open(stamp, 'w') as f:
            f.write('\n'.join(files) + '\n')


if __name__ == '__main__':
    main()
